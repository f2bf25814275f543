//! The action plan as the patient reads it away from the app: large print for printing,
//! plain text for an SMS to someone without a smartphone. Deterministic (the same plan and
//! day give the same words), in plain English, and free of ids: a patient never sees one.
//!
//! Also [`comment_notice`]: what a patient is told when they comment outside their link
//! worker's working hours, in UK local time ([`uk_offset_seconds`]: GMT, or BST from 01:00
//! UTC on the last Sunday of March to 01:00 UTC on the last Sunday of October). Bank
//! holidays are not known: a bank holiday Monday counts as a working day.

use std::fmt::Write as _;

use time::{Date, OffsetDateTime, Weekday};

use super::action_plan::{
    ActionPlan, GoalStatus, PlanEnded, Step, StepOwner, WorkingHours, clock_words,
};
use super::team_settings::DEFAULT_OUT_OF_HOURS;
use super::uk_time::month_name;
pub use super::uk_time::{long_date, uk_offset_seconds};

/// How a plan is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RenderStyle {
    /// For printing: short lines, headings in capitals, blank lines between sections.
    LargePrint,
    /// For an SMS: compact, no markup. Its own words use ASCII punctuation; the plan's
    /// text (what the link worker and patient wrote, the copies) passes through unchanged.
    PlainText,
}

impl std::str::FromStr for RenderStyle {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['_', ' '], "-")
            .as_str()
        {
            "large-print" => Ok(RenderStyle::LargePrint),
            "plain-text" => Ok(RenderStyle::PlainText),
            _ => Err(crate::Error::InvalidInput {
                field: "render style",
                reason: "expected large-print or plain-text".into(),
            }),
        }
    }
}

/// Large-print lines wrap at this many characters.
pub const LARGE_PRINT_WIDTH: usize = 40;

/// The plan in `style`, as it stands on `today`.
pub fn render_plan(plan: &ActionPlan, style: RenderStyle, today: Date) -> String {
    let sections = sections(plan, style, today);
    match style {
        RenderStyle::LargePrint => {
            let mut out = String::new();
            for (i, (heading, lines)) in sections.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                for l in wrap(&heading.to_uppercase(), LARGE_PRINT_WIDTH) {
                    out.push_str(&l);
                    out.push('\n');
                }
                for line in lines {
                    for l in wrap(line, LARGE_PRINT_WIDTH) {
                        out.push_str(&l);
                        out.push('\n');
                    }
                }
            }
            out
        }
        RenderStyle::PlainText => {
            let mut out = String::new();
            for (heading, lines) in &sections {
                let _ = writeln!(out, "{heading}:");
                for line in lines {
                    let _ = writeln!(out, "{line}");
                }
            }
            out
        }
    }
}

type Section = (String, Vec<String>);

fn sections(plan: &ActionPlan, style: RenderStyle, today: Date) -> Vec<Section> {
    let large = style == RenderStyle::LargePrint;
    let day = |d: Date| {
        if large { long_date(d) } else { short_date(d) }
    };
    let mut out: Vec<Section> = Vec::new();
    out.push((
        "My action plan".into(),
        vec![format!("As it stood on {}.", day(today))],
    ));
    if let Some(PlanEnded {
        on,
        how_to_come_back,
    }) = &plan.ended
    {
        let dash = if large { "—" } else { "-" };
        out.push((
            format!("This plan has ended {dash} how to come back"),
            vec![
                format!("This plan ended on {}.", day(*on)),
                how_to_come_back.trim().to_owned(),
            ],
        ));
    }
    if !plan.what_matters.trim().is_empty() {
        out.push(("What matters to me".into(), paragraphs(&plan.what_matters)));
    }
    if !plan.goals.is_empty() {
        out.push((
            "My goals".into(),
            plan.goals
                .iter()
                .map(|g| format!("- {} ({})", one_line(&g.text), goal_words(g.status)))
                .collect(),
        ));
    }
    if !plan.steps.is_empty() {
        let mut lines = Vec::new();
        for s in &plan.steps {
            lines.extend(step_lines(s, large, &day));
        }
        out.push(("My steps".into(), lines));
    }
    if !plan.about_link_worker.trim().is_empty() {
        out.push((
            "About your link worker".into(),
            paragraphs(&plan.about_link_worker),
        ));
    }
    if let Some(hours) = &plan.working_hours {
        out.push((
            "When your link worker works".into(),
            vec![
                format!("{}.", hours.describe()),
                "Messages sent at other times are read on the next working day.".into(),
            ],
        ));
    }
    let crisis = if plan.out_of_hours.trim().is_empty() {
        DEFAULT_OUT_OF_HOURS
    } else {
        plan.out_of_hours.trim()
    };
    out.push(("If you need help now".into(), paragraphs(crisis)));
    if plan.ended.is_none() && !plan.get_back_in_touch.trim().is_empty() {
        out.push((
            "How to get in touch".into(),
            paragraphs(&plan.get_back_in_touch),
        ));
    }
    if !large {
        // SMS: no blank lines, no markup; a heading and its lines stay together.
        for (_, lines) in &mut out {
            lines.retain(|l| !l.is_empty());
        }
    }
    out
}

fn step_lines(s: &Step, large: bool, day: &dyn Fn(Date) -> String) -> Vec<String> {
    let who = match s.owner {
        StepOwner::Patient => "you",
        StepOwner::LinkWorker => "your link worker",
    };
    let mut facts = vec![format!("Who: {who}")];
    if let Some(due) = s.due {
        facts.push(format!("By: {}", day(due)));
    }
    facts.push(format!("Done: {}", if s.done { "yes" } else { "not yet" }));
    if let Some(a) = &s.asset_details {
        facts.push(format!("Where to go: {}", one_line(&a.name)));
        for (label, value) in [
            ("When", &a.when),
            ("Where", &a.place),
            ("Phone", &a.phone),
            ("Cost", &a.cost),
            ("Website", &a.url),
        ] {
            if let Some(v) = value {
                facts.push(format!("{label}: {}", one_line(v)));
            }
        }
        if let Some(checked) = a.checked {
            facts.push(format!("Listing checked on {}", day(checked)));
        }
    }
    if large {
        let mut lines = vec![format!("- {}", one_line(&s.text))];
        lines.extend(facts.into_iter().map(|f| format!("  {f}")));
        lines
    } else {
        vec![format!(
            "- {}. {}.",
            one_line(&s.text).trim_end_matches('.'),
            facts.join(". ")
        )]
    }
}

fn goal_words(s: GoalStatus) -> &'static str {
    match s {
        GoalStatus::NotStarted => "not started",
        GoalStatus::InProgress => "in progress",
        GoalStatus::Achieved => "achieved",
        GoalStatus::Paused => "paused",
        GoalStatus::NoLongerRelevant => "no longer wanted",
    }
}

/// Text as lines, one per paragraph (runs of whitespace inside a line folded).
fn paragraphs(text: &str) -> Vec<String> {
    text.lines()
        .map(one_line)
        .filter(|l| !l.is_empty())
        .collect()
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Wraps at `width` characters, keeping words whole when they fit on a line; a word longer
/// than a line (a web address, a long place name) is broken across lines on character
/// boundaries. Continuation lines keep the line's leading indent. Every line is at most
/// `width` characters unless the indent alone is wider.
fn wrap(line: &str, width: usize) -> Vec<String> {
    let indent: String = line.chars().take_while(|c| *c == ' ').collect();
    let hang = if line.trim_start().starts_with("- ") {
        format!("{indent}  ")
    } else {
        indent.clone()
    };
    let hang_len = hang.chars().count();
    let mut out = Vec::new();
    let mut current = indent.clone();
    let mut len = current.chars().count();
    let mut empty = true;
    for word in line.split_whitespace() {
        let word_len = word.chars().count();
        if !empty && len + 1 + word_len > width {
            out.push(std::mem::replace(&mut current, hang.clone()));
            len = hang_len;
            empty = true;
        }
        if !empty {
            current.push(' ');
            len += 1;
        }
        if len + word_len <= width {
            current.push_str(word);
            len += word_len;
        } else {
            // Longer than a whole line: as much as fits on each, at least one character.
            let mut rest = word.chars().peekable();
            while rest.peek().is_some() {
                if len >= width && len > hang_len {
                    out.push(std::mem::replace(&mut current, hang.clone()));
                    len = hang_len;
                }
                let room = width.saturating_sub(len).max(1);
                current.extend(rest.by_ref().take(room));
                len = current.chars().count();
            }
        }
        empty = false;
    }
    if !empty {
        out.push(current);
    }
    out
}

/// "7 Dec 2026".
fn short_date(d: Date) -> String {
    format!("{} {} {}", d.day(), &month_name(d.month())[..3], d.year())
}

/// What a patient is told when they comment at `at_ms` (ms since the epoch) outside their
/// link worker's working hours, in UK local time: when the team works and the day the
/// comment will be read, then the out-of-hours wording. `None` within working hours, and
/// for a plan that carries no working hours. Bank holidays are not known.
pub fn comment_notice(plan: &ActionPlan, at_ms: i64) -> Option<String> {
    let hours = plan.working_hours?;
    let utc = at_ms.div_euclid(1000);
    let local = OffsetDateTime::from_unix_timestamp(utc + uk_offset_seconds(utc)).ok()?;
    let minute = u16::from(local.hour()) * 60 + u16::from(local.minute());
    let today = local.date();
    if hours.works_on(today.weekday()) && (hours.start_minute..hours.end_minute).contains(&minute) {
        return None;
    }
    let when = if hours.works_on(today.weekday()) && minute < hours.start_minute {
        format!("today, from {}", clock_words(hours.start_minute))
    } else {
        let next = next_working_day(&hours, today)?;
        if Some(next) == today.next_day() {
            format!("tomorrow, {}", day_words(next))
        } else {
            format!("on {}", day_words(next))
        }
    };
    let mut notice = format!(
        "Your link worker works {}. They will read this {when}.",
        hours.describe()
    );
    let crisis = plan.out_of_hours.trim();
    let crisis = if crisis.is_empty() {
        DEFAULT_OUT_OF_HOURS
    } else {
        crisis
    };
    let _ = write!(notice, " {}", one_line(crisis));
    Some(notice)
}

fn next_working_day(hours: &WorkingHours, after: Date) -> Option<Date> {
    let mut d = after;
    for _ in 0..7 {
        d = d.next_day()?;
        if hours.works_on(d.weekday()) {
            return Some(d);
        }
    }
    None
}

/// "Monday 7 December".
fn day_words(d: Date) -> String {
    let weekday: Weekday = d.weekday();
    format!("{weekday} {} {}", d.day(), month_name(d.month()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::action_plan::{AssetDetails, AssetRef, Goal, PlanEnded};
    use crate::model::ids::{AssetId, DocumentId, GoalId, StepId};
    use time::macros::date;

    fn plan() -> ActionPlan {
        ActionPlan {
            what_matters: "Getting out of the house and seeing people again.".into(),
            goals: vec![Goal {
                id: GoalId([1; 8]),
                text: "Go walking once a week".into(),
                status: GoalStatus::InProgress,
                created_at: 1,
            }],
            steps: vec![
                Step {
                    id: StepId([2; 8]),
                    goal: Some(GoalId([1; 8])),
                    text: "Try the walking group".into(),
                    owner: StepOwner::Patient,
                    due: Some(date!(2026 - 12 - 08)),
                    done: false,
                    asset: Some(AssetRef {
                        directory: DocumentId([3; 16]),
                        asset: AssetId([4; 8]),
                    }),
                    asset_details: Some(AssetDetails {
                        name: "Tuesday Walking Group".into(),
                        when: Some("Tuesdays 10:00-12:00".into()),
                        place: Some("Meanwood Park gates, Green Road, LS6 4LE".into()),
                        phone: Some("0113 496 0000".into()),
                        cost: Some("Free".into()),
                        url: None,
                        checked: Some(date!(2026 - 11 - 02)),
                    }),
                    connection: vec![],
                    created_at: 2,
                },
                Step {
                    id: StepId([5; 8]),
                    goal: None,
                    text: "Ring the council about the bus pass".into(),
                    owner: StepOwner::LinkWorker,
                    due: None,
                    done: true,
                    asset: None,
                    asset_details: None,
                    connection: vec![],
                    created_at: 3,
                },
            ],
            comments: vec![],
            get_back_in_touch: "Call the surgery on 0113 496 0999 and ask for Sam.".into(),
            about_link_worker: "I am Sam Okafor, your social prescribing link worker at \
                                Meanwood Group Practice."
                .into(),
            out_of_hours: "If you are in crisis, call 111, or 999 in an emergency. \
                           Samaritans: 116 123."
                .into(),
            working_hours: Some(WorkingHours::default()),
            ended: None,
        }
    }

    const LARGE: &str = "\
MY ACTION PLAN
As it stood on Saturday 5 December 2026.

WHAT MATTERS TO ME
Getting out of the house and seeing
people again.

MY GOALS
- Go walking once a week (in progress)

MY STEPS
- Try the walking group
  Who: you
  By: Tuesday 8 December 2026
  Done: not yet
  Where to go: Tuesday Walking Group
  When: Tuesdays 10:00-12:00
  Where: Meanwood Park gates, Green
  Road, LS6 4LE
  Phone: 0113 496 0000
  Cost: Free
  Listing checked on Monday 2 November
  2026
- Ring the council about the bus pass
  Who: your link worker
  Done: yes

ABOUT YOUR LINK WORKER
I am Sam Okafor, your social prescribing
link worker at Meanwood Group Practice.

WHEN YOUR LINK WORKER WORKS
Monday to Friday, 9am to 5pm.
Messages sent at other times are read on
the next working day.

IF YOU NEED HELP NOW
If you are in crisis, call 111, or 999
in an emergency. Samaritans: 116 123.

HOW TO GET IN TOUCH
Call the surgery on 0113 496 0999 and
ask for Sam.
";

    const PLAIN: &str = "\
My action plan:
As it stood on 5 Dec 2026.
What matters to me:
Getting out of the house and seeing people again.
My goals:
- Go walking once a week (in progress)
My steps:
- Try the walking group. Who: you. By: 8 Dec 2026. Done: not yet. Where to go: Tuesday Walking Group. When: Tuesdays 10:00-12:00. Where: Meanwood Park gates, Green Road, LS6 4LE. Phone: 0113 496 0000. Cost: Free. Listing checked on 2 Nov 2026.
- Ring the council about the bus pass. Who: your link worker. Done: yes.
About your link worker:
I am Sam Okafor, your social prescribing link worker at Meanwood Group Practice.
When your link worker works:
Monday to Friday, 9am to 5pm.
Messages sent at other times are read on the next working day.
If you need help now:
If you are in crisis, call 111, or 999 in an emergency. Samaritans: 116 123.
How to get in touch:
Call the surgery on 0113 496 0999 and ask for Sam.
";

    #[test]
    fn large_print_golden() {
        let out = render_plan(&plan(), RenderStyle::LargePrint, date!(2026 - 12 - 05));
        assert_eq!(out, LARGE, "\n{out}");
        assert!(out.lines().all(|l| l.chars().count() <= LARGE_PRINT_WIDTH));
    }

    #[test]
    fn plain_text_golden() {
        let out = render_plan(&plan(), RenderStyle::PlainText, date!(2026 - 12 - 05));
        assert_eq!(out, PLAIN, "\n{out}");
        assert!(out.is_ascii(), "SMS-safe punctuation");
    }

    #[test]
    fn an_ended_plan_says_how_to_come_back_and_no_id_appears() {
        let mut p = plan();
        p.ended = Some(PlanEnded {
            on: date!(2026 - 12 - 04),
            how_to_come_back: "Ask your GP to refer you again.".into(),
        });
        let large = render_plan(&p, RenderStyle::LargePrint, date!(2026 - 12 - 05));
        assert!(large.contains(
            "THIS PLAN HAS ENDED — HOW TO COME BACK\nThis plan ended on Friday 4 December\n2026.\nAsk your GP to refer you again.\n"
        ), "{large}");
        assert!(!large.contains("HOW TO GET IN TOUCH"));
        let plain = render_plan(&p, RenderStyle::PlainText, date!(2026 - 12 - 05));
        assert!(plain.contains(
            "This plan has ended - how to come back:\nThis plan ended on 4 Dec 2026.\nAsk your GP to refer you again.\n"
        ), "{plain}");
        for out in [large, plain] {
            for id in [
                DocumentId([3; 16]).to_string(),
                AssetId([4; 8]).to_string(),
                StepId([2; 8]).to_string(),
                GoalId([1; 8]).to_string(),
            ] {
                assert!(!out.contains(&id), "{id} in {out}");
            }
        }
        // The same plan and day give the same words.
        assert_eq!(
            render_plan(&p, RenderStyle::PlainText, date!(2026 - 12 - 05)),
            render_plan(&p, RenderStyle::PlainText, date!(2026 - 12 - 05))
        );
    }

    /// A 63-character web address and a Welsh place name longer than a line.
    fn long_words() -> ActionPlan {
        let mut p = plan();
        p.steps.truncate(1);
        if let Some(a) = p.steps[0].asset_details.as_mut() {
            a.url = Some(URL.into());
            a.place = Some(format!("Neuadd Bentref, {WELSH}, Ynys Môn"));
        }
        p.about_link_worker = String::new();
        p
    }

    const URL: &str = "https://www.example.org.uk/community/walking-groups/meanwood-tu";
    const WELSH: &str = "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch";

    const LONG_WORDS: &str = "\
MY ACTION PLAN
As it stood on Saturday 5 December 2026.

WHAT MATTERS TO ME
Getting out of the house and seeing
people again.

MY GOALS
- Go walking once a week (in progress)

MY STEPS
- Try the walking group
  Who: you
  By: Tuesday 8 December 2026
  Done: not yet
  Where to go: Tuesday Walking Group
  When: Tuesdays 10:00-12:00
  Where: Neuadd Bentref,
  Llanfairpwllgwyngyllgogerychwyrndrobwl
  lllantysiliogogogoch, Ynys Môn
  Phone: 0113 496 0000
  Cost: Free
  Website:
  https://www.example.org.uk/community/w
  alking-groups/meanwood-tu
  Listing checked on Monday 2 November
  2026

WHEN YOUR LINK WORKER WORKS
Monday to Friday, 9am to 5pm.
Messages sent at other times are read on
the next working day.

IF YOU NEED HELP NOW
If you are in crisis, call 111, or 999
in an emergency. Samaritans: 116 123.

HOW TO GET IN TOUCH
Call the surgery on 0113 496 0999 and
ask for Sam.
";

    #[test]
    fn long_words_are_broken_to_fit_large_print() {
        assert_eq!(URL.chars().count(), 63);
        let out = render_plan(
            &long_words(),
            RenderStyle::LargePrint,
            date!(2026 - 12 - 05),
        );
        assert_eq!(out, LONG_WORDS, "\n{out}");
        assert!(
            out.lines().all(|l| l.chars().count() <= LARGE_PRINT_WIDTH),
            "{out}"
        );
        // Nothing lost: joined up again, the words are all there.
        let joined: String = out.split_whitespace().collect();
        assert!(joined.contains(URL) && joined.contains(WELSH), "{joined}");
        // Plain text keeps them whole, and the plan's own letters (ô) as written.
        let plain = render_plan(&long_words(), RenderStyle::PlainText, date!(2026 - 12 - 05));
        assert!(plain.contains(&format!("Website: {URL}.")), "{plain}");
        assert!(plain.contains(&format!("{WELSH}, Ynys Môn")), "{plain}");
    }

    #[test]
    fn wrap_breaks_multi_byte_words_on_character_boundaries() {
        for width in [1, 2, 5, 39, 40] {
            for line in [
                "ŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷ",
                "- Tŷ Gwyn ŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷŵŷ ok",
                "  Where: 🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂 x",
            ] {
                let lines = wrap(line, width);
                let indent = line.chars().take_while(|c| *c == ' ').count() + 2;
                for l in &lines {
                    assert!(l.chars().count() <= width.max(indent + 1), "{width}: {l:?}");
                }
                let joined: String = lines.concat().split_whitespace().collect();
                let want: String = line.split_whitespace().collect();
                assert_eq!(joined, want, "{width}");
            }
        }
    }

    #[test]
    fn a_plan_without_copies_still_gives_the_crisis_wording() {
        let mut p = plan();
        p.out_of_hours = String::new();
        p.working_hours = None;
        p.about_link_worker = String::new();
        let out = render_plan(&p, RenderStyle::PlainText, date!(2026 - 12 - 05));
        assert!(out.contains(DEFAULT_OUT_OF_HOURS), "{out}");
        assert!(!out.contains("When your link worker works"));
        assert!(!out.contains("About your link worker"));
    }

    fn utc(y: i32, m: u8, d: u8, h: u8, min: u8) -> i64 {
        let date = Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d).unwrap();
        date.with_hms(h, min, 0)
            .unwrap()
            .assume_utc()
            .unix_timestamp()
    }

    #[test]
    fn uk_time_follows_the_last_sundays_of_march_and_october() {
        // 2026: BST from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(uk_offset_seconds(utc(2026, 3, 29, 0, 59)), 0);
        assert_eq!(uk_offset_seconds(utc(2026, 3, 29, 1, 0)), 3_600);
        assert_eq!(uk_offset_seconds(utc(2026, 7, 1, 12, 0)), 3_600);
        assert_eq!(uk_offset_seconds(utc(2026, 10, 25, 0, 59)), 3_600);
        assert_eq!(uk_offset_seconds(utc(2026, 10, 25, 1, 0)), 0);
        assert_eq!(uk_offset_seconds(utc(2026, 12, 5, 23, 0)), 0);
        // 2027: 28 March and 31 October.
        assert_eq!(uk_offset_seconds(utc(2027, 3, 28, 1, 0)), 3_600);
        assert_eq!(uk_offset_seconds(utc(2027, 10, 31, 0, 30)), 3_600);
        assert_eq!(uk_offset_seconds(utc(2027, 10, 31, 1, 0)), 0);
    }

    #[test]
    fn a_comment_outside_working_hours_says_when_it_will_be_read() {
        let p = plan();
        let ms = |s: i64| s * 1000;
        let crisis =
            " If you are in crisis, call 111, or 999 in an emergency. Samaritans: 116 123.";
        // Friday 4 December 2026, 11pm: read on Monday.
        assert_eq!(
            comment_notice(&p, ms(utc(2026, 12, 4, 23, 0))).unwrap(),
            format!(
                "Your link worker works Monday to Friday, 9am to 5pm. They will read this on \
                 Monday 7 December.{crisis}"
            )
        );
        // Tuesday 11pm: tomorrow.
        assert_eq!(
            comment_notice(&p, ms(utc(2026, 12, 8, 23, 0))).unwrap(),
            format!(
                "Your link worker works Monday to Friday, 9am to 5pm. They will read this \
                 tomorrow, Wednesday 9 December.{crisis}"
            )
        );
        // Wednesday 7am: later today.
        assert!(
            comment_notice(&p, ms(utc(2026, 12, 9, 7, 0)))
                .unwrap()
                .contains("They will read this today, from 9am.")
        );
        // Within hours: nothing to say (10am GMT; and 4:30pm BST, which is 15:30 UTC).
        assert_eq!(comment_notice(&p, ms(utc(2026, 12, 9, 10, 0))), None);
        assert_eq!(comment_notice(&p, ms(utc(2026, 7, 1, 15, 30))), None);
        // 5:30pm BST on a Wednesday in July is 16:30 UTC: after hours.
        assert!(
            comment_notice(&p, ms(utc(2026, 7, 1, 16, 30)))
                .unwrap()
                .contains("tomorrow, Thursday 2 July")
        );
        // No working hours copied: no notice.
        let mut old = p.clone();
        old.working_hours = None;
        assert_eq!(comment_notice(&old, ms(utc(2026, 12, 4, 23, 0))), None);
    }

    #[test]
    fn working_hours_read_describe_and_refuse() {
        let h: WorkingHours = "Mon-Fri 09:00-17:00".parse().unwrap();
        assert_eq!(h, WorkingHours::default());
        assert_eq!(h.to_string(), "mon,tue,wed,thu,fri 09:00-17:00");
        assert_eq!(h.to_string().parse::<WorkingHours>().unwrap(), h);
        let odd: WorkingHours = "mon,wed, fri 9:30-16:30".parse().unwrap();
        assert_eq!(
            odd.describe(),
            "Monday, Wednesday and Friday, 9:30am to 4:30pm"
        );
        let two: WorkingHours = "Sat,Sun 12:00-13:00".parse().unwrap();
        assert_eq!(two.describe(), "Saturday and Sunday, 12pm to 1pm");
        for bad in [
            "",
            "Mon-Fri",
            "Fri-Mon 09:00-17:00",
            "Mon-Fri 17:00-09:00",
            "Funday 09:00-17:00",
            "Mon 09:60-10:00",
            "Mon 09:00-25:00",
        ] {
            assert!(bad.parse::<WorkingHours>().is_err(), "{bad}");
        }
    }
}
