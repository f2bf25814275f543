//! The subject access export as readable text: plain headings, one entry per line or
//! paragraph, dates in UK form ("2 November 2026") and times in UK time (GMT or BST, by
//! the UK's own rule, so the text is the same on every device).

use std::fmt::Write as _;

use time::OffsetDateTime;

use super::SubjectAccess;
use crate::model::action_plan::{ActionPlan, Goal};
use crate::model::case_file::{CaseFile, Patient, ReferralDecision};
use crate::model::doc::{Claim, Contested, DocKind};
use crate::model::measures::Score;
use crate::model::oversight::Oversight;
pub(crate) use crate::model::uk_time::uk_date;
use crate::model::uk_time::uk_offset_seconds;

const FOR_REVIEW: &str = "[REVIEW BEFORE DISCLOSURE]";

/// The whole export as text.
pub(super) fn text(sar: &SubjectAccess) -> String {
    let mut out = String::new();
    heading(&mut out, "SUBJECT ACCESS EXPORT");
    line(&mut out, &wrap(&sar.notice, 88));
    out.push('\n');
    line(
        &mut out,
        &format!(
            "Made {} by {} (device {}).",
            uk_time(sar.generated_at),
            sar.generated_by,
            sar.device
        ),
    );
    line(&mut out, &format!("Case file: {}", sar.case_id));
    if let Some(plan) = sar.plan_id {
        line(&mut out, &format!("Action plan: {plan}"));
    }
    heading(&mut out, "FOR REVIEW BEFORE DISCLOSURE");
    for r in &sar.review {
        let flag = format!(
            "- {} ({} {}): {}",
            capital(&r.section),
            r.entries,
            if r.entries == 1 { "entry" } else { "entries" },
            r.reason
        );
        line(&mut out, &wrap(&flag, 88).replace('\n', "\n  "));
    }
    patient(&mut out, &sar.case_file.patient);
    case(&mut out, sar);
    match &sar.action_plan {
        Some(p) => plan(&mut out, p, sar),
        None => {
            heading(&mut out, "ACTION PLAN");
            line(&mut out, "Not on this device.");
        }
    }
    heading(&mut out, "HISTORY OF CHANGES");
    if sar.history.is_empty() {
        line(&mut out, "None.");
    }
    for c in &sar.history {
        let doc = match c.document {
            DocKind::ActionPlan => "action plan",
            _ => "case file",
        };
        let what = if c.what.is_empty() {
            "a change".to_owned()
        } else {
            c.what.clone()
        };
        let device = c
            .device
            .map(|d| format!(", device {d}"))
            .unwrap_or_default();
        line(
            &mut out,
            &format!(
                "- {}: {what} ({doc}), by {}{device}",
                uk_time(c.at),
                c.by.as_deref().unwrap_or("unknown")
            ),
        );
    }
    out
}

fn heading(out: &mut String, title: &str) {
    if !out.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "{title}");
    let _ = writeln!(out, "{}", "=".repeat(title.chars().count()));
}

fn line(out: &mut String, text: &str) {
    let _ = writeln!(out, "{text}");
}

fn field(out: &mut String, label: &str, value: Option<String>) {
    let _ = writeln!(
        out,
        "{label}: {}",
        value.unwrap_or_else(|| "not recorded".into())
    );
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A stored name ("home_visit") as words ("home visit").
fn words(name: &str) -> String {
    name.replace('_', " ")
}

/// Wraps text at spaces to lines of at most `width` characters (longer words stay whole).
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut len = 0;
    for word in text.split_whitespace() {
        let n = word.chars().count();
        if len > 0 && len + 1 + n > width {
            out.push('\n');
            len = 0;
        } else if len > 0 {
            out.push(' ');
            len += 1;
        }
        out.push_str(word);
        len += n;
    }
    out
}

/// Indents every line of `text` by `by` spaces.
fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// An instant (ms since the epoch) in UK time: "2 November 2026, 09:30 GMT" or "… BST".
pub(crate) fn uk_time(ms: i64) -> String {
    let utc = ms.div_euclid(1000);
    let offset = uk_offset_seconds(utc);
    let Ok(local) = OffsetDateTime::from_unix_timestamp(utc + offset) else {
        return format!("{ms} ms since 1970");
    };
    let zone = if offset == 0 { "GMT" } else { "BST" };
    format!(
        "{}, {:02}:{:02} {zone}",
        uk_date(local.date()),
        local.hour(),
        local.minute()
    )
}

fn contested<T>(c: &Contested<T>, show: impl Fn(&T) -> String) -> String {
    match c.agreed() {
        Some(v) => show(v),
        None => {
            let claims: Vec<String> = c.claims.iter().map(|k| claim(k, &show)).collect();
            format!(
                "contested between devices, not yet settled: {}",
                claims.join("; ")
            )
        }
    }
}

fn claim<T>(c: &Claim<T>, show: &impl Fn(&T) -> String) -> String {
    let mut s = show(&c.value);
    if let Some(by) = &c.by {
        let _ = write!(s, " (by {by}");
        if let Some(at) = c.at {
            let _ = write!(s, ", {}", uk_time(at));
        }
        s.push(')');
    }
    s
}

fn patient(out: &mut String, p: &Patient) {
    heading(out, "PATIENT");
    field(out, "Name", Some(p.name.clone()));
    field(
        out,
        "NHS number",
        p.nhs_number.as_ref().map(|n| n.as_str().to_owned()),
    );
    field(out, "Date of birth", p.date_of_birth.map(uk_date));
    field(out, "Address", p.address.clone());
    field(out, "Postcode", p.postcode.as_ref().map(|c| c.to_string()));
    field(out, "Phone", p.phone.clone());
    field(
        out,
        "Preferred contact",
        p.preferred_contact.map(|c| words(c.as_str())),
    );
    field(out, "Language", p.language.clone());
    field(out, "Accessibility needs", p.accessibility_needs.clone());
    field(out, "GP practice", p.practice.clone());
}

fn case(out: &mut String, sar: &SubjectAccess) {
    let file: &CaseFile = &sar.case_file;
    heading(out, "STATUS");
    field(
        out,
        "Current status",
        Some(contested(&file.status, |s| words(s.as_str()))),
    );
    heading(out, "STATUS HISTORY");
    if file.status_log.is_empty() {
        line(out, "None.");
    }
    for c in &file.status_log {
        let from = c
            .from
            .map(|f| format!("{} to ", words(f.as_str())))
            .unwrap_or_default();
        let mut s = format!(
            "- {}: {from}{}, by {}",
            uk_time(c.at),
            words(c.to.as_str()),
            c.by
        );
        if let Some(code) = c.closure {
            let _ = write!(s, ". Closure reason: {}", words(code.as_str()));
        }
        if let Some(r) = &c.reason {
            let _ = write!(s, ". Reason: {r}");
        }
        line(out, &s);
    }
    heading(out, "REFERRALS");
    if file.referrals.is_empty() {
        line(out, "None.");
    }
    for r in &file.referrals {
        let by = r
            .referrer
            .as_ref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        line(
            out,
            &format!(
                "- Received {} from {}{by}{}",
                uk_date(r.received),
                words(r.source.as_str()),
                if r.re_referral { ", a re-referral" } else { "" }
            ),
        );
        line(out, &indent(&wrap(&format!("Reason: {}", r.reason), 84), 2));
        if !r.needs.is_empty() {
            let needs: Vec<String> = r.needs.iter().map(|n| words(n.as_str())).collect();
            line(out, &format!("  Needs: {}", needs.join(", ")));
        }
        let decision = match &r.decision {
            None => "not yet decided".to_owned(),
            Some(ReferralDecision::Accepted) => "accepted".to_owned(),
            Some(ReferralDecision::Declined { reason }) => format!("declined ({reason})"),
        };
        let mut d = format!("  Decision: {decision}");
        if let Some(by) = &r.decided_by {
            let _ = write!(d, ", by {by}");
        }
        if let Some(at) = r.decided_at {
            let _ = write!(d, ", {}", uk_time(at));
        }
        if let Some(code) = r.decline_code {
            let _ = write!(d, ". Coded: {}", words(code.as_str()));
        }
        line(out, &d);
    }
    heading(out, "SESSIONS AND HOLDING NOTES");
    if file.sessions.is_empty() {
        line(out, "None.");
    }
    for s in &file.sessions {
        line(
            out,
            &format!(
                "- {}: {}, {} minutes, {}. Recorded by {}.",
                uk_time(s.start),
                words(s.mode.as_str()),
                s.duration_minutes,
                if s.attended {
                    "attended"
                } else {
                    "did not attend"
                },
                s.recorded_by
            ),
        );
        if !s.holding_functions.is_empty() {
            let h: Vec<String> = s
                .holding_functions
                .iter()
                .map(|f| words(f.as_str()))
                .collect();
            line(out, &format!("  Holding: {}", h.join(", ")));
        }
        if let Some(f) = s.follow_up {
            line(out, &format!("  Follow-up: {}", uk_date(f)));
        }
        let note = contested(&s.note, |n| n.clone());
        line(out, &indent(&wrap(&format!("Note: {note}"), 84), 2));
        for a in sar.note_amendments.iter().filter(|a| a.session == s.id) {
            line(
                out,
                &format!(
                    "  Amended {} by {}:",
                    uk_time(a.at),
                    a.by.as_deref().unwrap_or("unknown")
                ),
            );
            line(
                out,
                &indent(&wrap(&format!("Before: {}", a.before.join(" / ")), 82), 4),
            );
            line(
                out,
                &indent(&wrap(&format!("After: {}", a.after.join(" / ")), 82), 4),
            );
        }
    }
    heading(out, "OUTCOME MEASURES");
    if file.measures.is_empty() && file.measures_not_completed.is_empty() {
        line(out, "None.");
    }
    for m in &file.measures {
        let answers: Vec<String> = m.items.iter().map(u8::to_string).collect();
        line(
            out,
            &format!(
                "- {}: {}. Answers: {}. {}. Recorded by {}.",
                uk_date(m.taken_on),
                m.instrument.title(),
                answers.join(", "),
                score(&m.score),
                m.recorded_by
            ),
        );
    }
    for m in &file.measures_not_completed {
        line(
            out,
            &format!(
                "- {}: {} offered, not completed ({}). Recorded by {}.",
                uk_date(m.offered_on),
                m.instrument.title(),
                words(m.reason.as_str()),
                m.recorded_by
            ),
        );
    }
    heading(out, &format!("SAFEGUARDING CONCERNS {FOR_REVIEW}"));
    if file.safeguarding.is_empty() {
        line(out, "None.");
    }
    for c in &file.safeguarding {
        let to = c
            .escalated_to
            .map(|t| format!(", escalated to {}", words(t.as_str())))
            .unwrap_or_default();
        line(
            out,
            &format!(
                "- Raised {} by {}{to}. Status: {}.",
                uk_time(c.raised_at),
                c.raised_by,
                contested(&c.status, |s| words(s.as_str()))
            ),
        );
        line(out, &indent(&wrap(&c.description, 84), 2));
    }
    heading(out, &format!("SUPERVISION COMMENTS {FOR_REVIEW}"));
    if file.supervision.is_empty() {
        line(out, "None.");
    }
    for c in &file.supervision {
        line(out, &format!("- {}, by {}:", uk_time(c.at), c.by));
        line(out, &indent(&wrap(&c.text, 84), 2));
    }
    oversight(out, &file.oversight);
    heading(out, "MESSAGES BACK TO THE GP AND REFERRER");
    if file.feedback_sent.is_empty() {
        line(out, "None recorded as sent.");
    }
    for f in &file.feedback_sent {
        line(
            out,
            &format!(
                "- The {} message, sent to {} on {}. Recorded by {}.",
                f.kind.as_str(),
                f.to,
                uk_date(f.on),
                f.by
            ),
        );
    }
}

fn score(s: &Score) -> String {
    match s {
        Score::Ons4(o) => format!(
            "Life satisfaction {}, worthwhile {}, happiness {}, anxiety {}",
            o.life_satisfaction.value, o.worthwhile.value, o.happiness.value, o.anxiety.value
        ),
        Score::Gse(g) => format!("Total {}", g.total),
        Score::Swemwbs(w) => format!("Metric score {} (raw {})", w.metric, w.raw),
    }
}

fn oversight(out: &mut String, o: &Oversight) {
    heading(out, "WHO HOLDS THE CASE");
    match &o.assigned {
        Some(a) => field(
            out,
            "Held by",
            Some(contested(a, |d| match o.name_of(*d) {
                Some(name) => format!("{name} (device {d})"),
                None => format!("device {d}"),
            })),
        ),
        None => field(out, "Held by", None),
    }
    for h in &o.handovers {
        let reason = h
            .reason
            .as_ref()
            .map(|r| format!(". Reason: {r}"))
            .unwrap_or_default();
        line(
            out,
            &format!(
                "- {}: handed to {}, by {}{reason}",
                uk_time(h.at),
                h.to_name,
                h.by
            ),
        );
    }
    for r in &o.reviews {
        line(
            out,
            &format!("- {}: reviewed in supervision by {}", uk_time(r.at), r.by),
        );
    }
    heading(out, "RING-BACKS");
    if o.ring_backs.is_empty() {
        line(out, "None.");
    }
    for r in &o.ring_backs {
        let done = match r.done_at {
            Some(at) => format!("made {}", uk_time(at)),
            None => "not yet made".to_owned(),
        };
        line(
            out,
            &format!(
                "- Due {}: {} (added by {}; {done})",
                uk_date(r.due),
                r.note,
                r.by
            ),
        );
    }
}

fn plan(out: &mut String, p: &ActionPlan, sar: &SubjectAccess) {
    heading(out, "ACTION PLAN");
    line(out, "What matters to me:");
    line(out, &indent(&wrap(or_none(&p.what_matters), 84), 2));
    line(out, "How to get back in touch:");
    line(out, &indent(&wrap(or_none(&p.get_back_in_touch), 84), 2));
    heading(out, "GOALS");
    if p.goals.is_empty() {
        line(out, "None.");
    }
    for g in &p.goals {
        line(
            out,
            &format!(
                "- {} ({}, added {})",
                g.text,
                words(g.status.as_str()),
                uk_date_of(g.created_at)
            ),
        );
    }
    heading(out, "STEPS");
    if p.steps.is_empty() {
        line(out, "None.");
    }
    for s in &p.steps {
        let due = s
            .due
            .map(|d| format!(", due {}", uk_date(d)))
            .unwrap_or_default();
        line(
            out,
            &format!(
                "- [{}] {} ({}{due})",
                if s.done { "x" } else { " " },
                s.text,
                words(s.owner.as_str())
            ),
        );
        if let Some(goal) = s.goal.and_then(|g| p.goals.iter().find(|x| x.id == g)) {
            let Goal { text, .. } = goal;
            line(out, &format!("  Towards the goal: {text}"));
        }
        if let Some(r) = s.asset {
            let name = sar
                .assets
                .iter()
                .find(|a| a.directory == r.directory && a.asset == r.asset)
                .and_then(|a| a.name.clone())
                .unwrap_or_else(|| {
                    format!("asset {} (its directory is not on this device)", r.asset)
                });
            line(out, &format!("  Community asset: {name}"));
            for e in &s.connection {
                line(
                    out,
                    &format!(
                        "    {}: {} (recorded by {})",
                        uk_date(e.on),
                        words(e.status.as_str()),
                        e.by
                    ),
                );
            }
        }
    }
    heading(out, "COMMENTS ON THE PLAN");
    if p.comments.is_empty() {
        line(out, "None.");
    }
    for c in &p.comments {
        line(out, &format!("- {}, by {}:", uk_time(c.at), c.by));
        line(out, &indent(&wrap(&c.text, 84), 2));
    }
}

fn or_none(s: &str) -> &str {
    if s.trim().is_empty() { "(empty)" } else { s }
}

fn uk_date_of(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .map(|t| uk_date(t.date()))
        .unwrap_or_else(|_| format!("{ms} ms since 1970"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn ms(t: OffsetDateTime) -> i64 {
        i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap()
    }

    #[test]
    fn dates_are_in_uk_form_and_times_in_uk_time() {
        assert_eq!(uk_date(date!(2026 - 11 - 02)), "2 November 2026");
        assert_eq!(
            uk_time(ms(datetime!(2026-01-15 09:30 UTC))),
            "15 January 2026, 09:30 GMT"
        );
        assert_eq!(
            uk_time(ms(datetime!(2026-07-01 09:30 UTC))),
            "1 July 2026, 10:30 BST"
        );
        // 2026: BST from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(
            uk_time(ms(datetime!(2026-03-29 00:59 UTC))),
            "29 March 2026, 00:59 GMT"
        );
        assert_eq!(
            uk_time(ms(datetime!(2026-03-29 01:00 UTC))),
            "29 March 2026, 02:00 BST"
        );
        assert_eq!(
            uk_time(ms(datetime!(2026-10-25 00:59 UTC))),
            "25 October 2026, 01:59 BST"
        );
        assert_eq!(
            uk_time(ms(datetime!(2026-10-25 01:00 UTC))),
            "25 October 2026, 01:00 GMT"
        );
    }

    #[test]
    fn long_text_wraps_at_spaces() {
        assert_eq!(wrap("one two three", 7), "one two\nthree");
        assert_eq!(indent("a\nb", 2), "  a\n  b");
    }
}
