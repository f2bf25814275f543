//! Oversight: handing a case to a link worker, the supervisor's review queue and reviews,
//! each link worker's caseload and holding load, and the supervision comments a link worker
//! has yet to acknowledge.

use std::fmt::Write as _;

use holdfast_core::Store;
use holdfast_core::model::ids::{CommentId, DeviceId, DocumentId};
use holdfast_core::model::oversight::{CaseCounters, Handover};
use holdfast_core::store::{LoadLimits, Member, NewComment, QueueEntry, WorkerLoad, days_between};
use holdfast_core::sync::Role;
use serde::Serialize;

use super::Ctx;
use super::case::{given, open_case};
use super::team::role_words;
use crate::args::{LimitsArgs, LoadArgs};
use crate::error::{CliError, Result};
use crate::lookup::{self, MIN_PREFIX};
use crate::output::{Output, clip, count, indent, short, table, words};

/// How a team member reads in a list: "Priya Natarajan (device 1a2b3c4d, link worker)",
/// "device 1a2b3c4d (supervisor, no name known yet)".
fn member_words(m: &Member) -> String {
    let role = m.role.map(role_words);
    match &m.name {
        Some(name) => {
            let mut about = vec![format!("device {}", short(&m.device))];
            about.extend(role);
            format!("{name} ({})", about.join(", "))
        }
        None => {
            let mut about: Vec<String> = role.into_iter().collect();
            about.push("no name known yet".to_owned());
            format!("device {} ({})", short(&m.device), about.join(", "))
        }
    }
}

fn members_words<'a>(members: impl IntoIterator<Item = &'a Member>) -> String {
    let all: Vec<String> = members.into_iter().map(member_words).collect();
    if all.is_empty() {
        "nobody".to_owned()
    } else {
        all.join("; ")
    }
}

/// The device a WORKER argument names among the staff who can hold `case`: `me`, a member's
/// name (any case), or a device id or its first 6+ characters. Unknown or ambiguous: an
/// error listing who it could be.
fn resolve_worker(store: &Store, case: DocumentId, typed: &str) -> Result<DeviceId> {
    let me = store.this_member();
    let wanted = typed.trim().to_lowercase();
    if wanted == "me" {
        return Ok(me);
    }
    let team = store.document_team(case)?;
    let members = match team {
        Some(team) => store.team_members(team)?,
        None => vec![Member {
            device: me,
            name: store.member_name(me)?,
            role: None,
        }],
    };
    let hex = !wanted.is_empty() && wanted.chars().all(|c| c.is_ascii_hexdigit());
    let id_like = hex && wanted.len() >= MIN_PREFIX;
    let mut found: Vec<&Member> = members
        .iter()
        .filter(|m| {
            m.name
                .as_deref()
                .is_some_and(|n| n.trim().to_lowercase() == wanted)
        })
        .collect();
    if id_like {
        for m in &members {
            if m.device.to_string().starts_with(&wanted) && !found.iter().any(|f| f == &m) {
                found.push(m);
            }
        }
    }
    match found.as_slice() {
        [one] => Ok(one.device),
        [] => {
            // A device of the team that cannot hold a case (revoked, a patient's): the core
            // says why.
            if let Some(team) = team
                && id_like
            {
                let devices = store.devices(team)?;
                let other: Vec<DeviceId> = devices
                    .iter()
                    .map(|d| d.device)
                    .filter(|d| d.to_string().starts_with(&wanted))
                    .collect();
                if let [one] = other.as_slice() {
                    return Ok(*one);
                }
            }
            let hint = if hex && !id_like {
                format!(" (a device id needs at least {MIN_PREFIX} characters)")
            } else {
                String::new()
            };
            let (who, joined) = if team.is_some() {
                (
                    "the staff of the case's team are",
                    " (a colleague who joined since this device last synced appears after \
                     `holdfast sync`)",
                )
            } else {
                (
                    "the case is in no team, so only this device can hold it:",
                    "",
                )
            };
            Err(CliError::input(format!(
                "no team member is {typed:?}{hint}; {who} {}. Give `me`, a name, or a device id \
                 (or its first {MIN_PREFIX}+ characters){joined}",
                members_words(&members)
            )))
        }
        many => Err(CliError::input(format!(
            "{typed:?} could be {} team members: {}. Give the device id (or its first \
             {MIN_PREFIX}+ characters) instead",
            many.len(),
            members_words(many.iter().copied())
        ))),
    }
}

/// A device as people read it: its name, or its short id.
fn device_words(store: &Store, names_in_case: Option<&str>, device: DeviceId) -> Result<String> {
    Ok(
        match names_in_case
            .map(str::to_owned)
            .or(store.member_name(device)?)
        {
            Some(name) => format!("{name} (device {})", short(&device)),
            None => format!("device {}", short(&device)),
        },
    )
}

#[derive(Serialize)]
struct Assigned {
    case_id: DocumentId,
    handover: Handover,
}

pub(super) fn assign(
    ctx: &Ctx,
    case: &str,
    worker: &str,
    name: Option<String>,
    reason: Option<String>,
) -> Result<Output> {
    let (mut store, case_id) = open_case(ctx, case)?;
    let to = resolve_worker(&store, case_id, worker)?;
    let name = given(name);
    if name.is_none() && store.member_name(to)?.is_none() {
        return Err(CliError::input(format!(
            "no name is known yet for device {}: give it with --name \"...\"",
            short(&to)
        )));
    }
    store.assign_case(case_id, to, name.as_deref(), given(reason).as_deref())?;
    let file = store.case_file(case_id)?;
    let me = store.this_member();
    let handover = file
        .oversight
        .handovers
        .iter()
        .rev()
        .find(|h| h.to == to && h.by_device == me)
        .cloned()
        .ok_or_else(|| CliError::input("the handover was not found after it was made"))?;
    let mut text = format!(
        "{} is now held by {} (device {}).\n",
        file.patient.name,
        handover.to_name,
        short(&handover.to)
    );
    if let Some(from) = handover.from {
        let _ = writeln!(
            text,
            "  handed over from  {}",
            device_words(&store, file.oversight.name_of(from), from)?
        );
    }
    let _ = writeln!(
        text,
        "  by                {} at {}",
        handover.by,
        ctx.clock.day_time(handover.at)
    );
    if let Some(r) = &handover.reason {
        let _ = writeln!(text, "  reason            {r}");
    }
    Output::new(&Assigned { case_id, handover }, text)
}

/// What grew since a review, in words: "2 new sessions, 1 status move, safeguarding
/// changed, 1 comment"; "nothing new" when nothing did.
pub(crate) fn changes_words(c: &CaseCounters) -> String {
    let n = |v: u32| usize::try_from(v).unwrap_or(usize::MAX);
    let mut parts = Vec::new();
    if c.sessions > 0 {
        parts.push(count(n(c.sessions), "new session", "new sessions"));
    }
    if c.status_moves > 0 {
        parts.push(count(n(c.status_moves), "status move", "status moves"));
    }
    if c.measures > 0 {
        parts.push(count(n(c.measures), "new measure", "new measures"));
    }
    if c.safeguarding > 0 {
        parts.push("safeguarding changed".to_owned());
    }
    if c.comments > 0 {
        parts.push(count(n(c.comments), "comment", "comments"));
    }
    if c.handovers > 0 {
        parts.push(count(n(c.handovers), "handover", "handovers"));
    }
    if parts.is_empty() {
        "nothing new".to_owned()
    } else {
        parts.join(", ")
    }
}

fn counters_words(c: &CaseCounters) -> String {
    let n = |v: u32| usize::try_from(v).unwrap_or(usize::MAX);
    [
        count(n(c.sessions), "session", "sessions"),
        count(n(c.status_moves), "status move", "status moves"),
        count(n(c.measures), "measure", "measures"),
        count(
            n(c.safeguarding),
            "safeguarding event",
            "safeguarding events",
        ),
        count(n(c.comments), "comment", "comments"),
        count(n(c.handovers), "handover", "handovers"),
    ]
    .join(", ")
}

/// What changed on a queued case since this supervisor's review, or "never reviewed".
pub(crate) fn entry_changes(e: &QueueEntry) -> String {
    match e.reviewed_at {
        None => "never reviewed".to_owned(),
        Some(_) => changes_words(&e.changed),
    }
}

/// Who holds a case, as the queue and the load show it.
pub(crate) fn holder_words(m: Option<&Member>) -> String {
    match m {
        Some(Member {
            name: Some(name), ..
        }) => name.clone(),
        Some(m) => short(&m.device),
        None => "unassigned".to_owned(),
    }
}

#[derive(Serialize)]
struct QueueRow {
    #[serde(flatten)]
    entry: QueueEntry,
    /// Whole days in the current status, by this device's clock.
    days_in_status: Option<i64>,
    /// `changed` in words, or "never reviewed".
    changes: String,
}

pub(super) fn queue(ctx: &Ctx, limit: u32) -> Result<Output> {
    let store = ctx.device.open()?;
    let now = ctx.clock.now_millis();
    let rows: Vec<QueueRow> = store
        .review_queue(limit)?
        .into_iter()
        .map(|entry| QueueRow {
            days_in_status: entry.status_since.map(|s| days_between(s, now)),
            changes: entry_changes(&entry),
            entry,
        })
        .collect();
    if rows.is_empty() {
        return Output::new(
            &rows,
            "Nothing to review: every case is as you last reviewed it.",
        );
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let e = &r.entry;
            let mut flags = Vec::new();
            if e.open_safeguarding > 0 {
                flags.push(format!("{} open safeguarding", e.open_safeguarding));
            }
            if e.status_contested {
                flags.push("status contested".to_owned());
            }
            if e.holder_contested {
                flags.push("holder contested".to_owned());
            }
            let status = match r.days_in_status {
                Some(d) => format!(
                    "{} ({})",
                    words(e.status.as_str()),
                    count(usize::try_from(d).unwrap_or(0), "day", "days")
                ),
                None => words(e.status.as_str()),
            };
            vec![
                clip(&e.patient_name, 32),
                status,
                clip(&holder_words(e.holder.as_ref()), 24),
                r.changes.clone(),
                if flags.is_empty() {
                    "-".into()
                } else {
                    flags.join(", ")
                },
                short(&e.case_id),
            ]
        })
        .collect();
    let mut text = table(
        &[
            "NAME",
            "STATUS (FOR)",
            "HELD BY",
            "SINCE YOUR REVIEW",
            "FLAGS",
            "CASE",
        ],
        &cells,
    );
    let _ = write!(
        text,
        "\n{} to review. Review one with: holdfast supervision review CASE [--comment \"...\"]",
        count(rows.len(), "case", "cases")
    );
    if rows.len() == usize::try_from(limit).unwrap_or(usize::MAX) {
        let _ = write!(text, "\n(The first {limit}: see more with --limit.)");
    }
    Output::new(&rows, text)
}

#[derive(Serialize)]
struct Reviewed {
    case_id: DocumentId,
    /// When this device last reviewed the case before now (`None`: never).
    previously_reviewed_at: Option<i64>,
    /// What grew since then (everything, when never reviewed).
    changed: CaseCounters,
    /// `changed` in words, or "never reviewed".
    changes: String,
    /// The supervision comment added with the review.
    comment_id: Option<CommentId>,
    /// The counters recorded by this review.
    seen: CaseCounters,
    /// When this review was recorded.
    reviewed_at: i64,
}

pub(super) fn review(ctx: &Ctx, case: &str, comment: Option<String>) -> Result<Output> {
    let (mut store, case_id) = open_case(ctx, case)?;
    // Refused before the comment is written, so a refusal changes nothing.
    if let Some(team) = store.document_team(case_id)?
        && !matches!(store.role(team)?, Some(Role::Supervisor | Role::Admin))
    {
        return Err(CliError::input(
            "only supervisors and admins review cases; nothing was changed",
        ));
    }
    let me = store.this_member();
    let before = store.case_file(case_id)?;
    let previous = before.oversight.reviews.iter().find(|r| r.reviewer == me);
    let previously_reviewed_at = previous.map(|r| r.at);
    let entry = store.review_entry(case_id)?;
    let (changed, changes) = (entry.changed, entry_changes(&entry));
    let comment_id = match given(comment) {
        Some(text) => Some(store.add_supervision_comment(case_id, &text)?),
        None => None,
    };
    // What was shown, and the comment added with it: a change synced in between (a
    // background sync) still brings the case back.
    let mut shown = entry.holds;
    if comment_id.is_some() {
        shown.comments = shown.comments.saturating_add(1);
    }
    let seen = store.mark_reviewed_upto(case_id, &shown)?;
    let file = store.case_file(case_id)?;
    let reviewed_at = file
        .oversight
        .reviews
        .iter()
        .find(|r| r.reviewer == me)
        .map(|r| r.at)
        .unwrap_or_else(|| ctx.clock.now_millis());

    let mut text = format!("{} [{}]\n", file.patient.name, short(&case_id));
    match previously_reviewed_at {
        Some(at) => {
            let _ = writeln!(
                text,
                "  Since your last review ({}): {changes}.",
                ctx.clock.day_time(at)
            );
        }
        None => text.push_str("  Never reviewed by you before.\n"),
    }
    if entry.open_safeguarding > 0 {
        let _ = writeln!(
            text,
            "  {} open: it stays at the head of your queue until closed.",
            count(
                usize::try_from(entry.open_safeguarding).unwrap_or(usize::MAX),
                "safeguarding concern",
                "safeguarding concerns"
            )
        );
    }
    if let Some(id) = comment_id {
        let _ = writeln!(text, "Supervision comment added [{}].", short(&id));
    }
    let _ = write!(
        text,
        "Marked reviewed as it stands: {}.",
        counters_words(&seen)
    );
    let out = Reviewed {
        case_id,
        previously_reviewed_at,
        changed,
        changes,
        comment_id,
        seen,
        reviewed_at,
    };
    Output::new(&out, text)
}

#[derive(Serialize)]
struct Load {
    limits: LoadLimits,
    workers: Vec<WorkerLoad>,
}

pub(super) fn load(ctx: &Ctx, a: LoadArgs) -> Result<Output> {
    let mut store = ctx.device.open()?;
    let limits = a.over(store.team_limits()?.limits);
    let workers = store.caseload_load(&limits)?;
    let out = Load { limits, workers };
    if out.workers.is_empty() {
        return Output::new(&out, "No cases yet.");
    }
    let cells: Vec<Vec<String>> = out
        .workers
        .iter()
        .map(|w| {
            let n = |v: u32| v.to_string();
            vec![
                clip(&holder_words(w.worker.as_ref()), 24),
                n(w.referred),
                n(w.active),
                n(w.holding),
                n(w.tapering),
                format!(
                    "{} / {}{}",
                    w.accepted_last_year,
                    limits.accepted_per_year,
                    if w.over_accepted_limit { " OVER" } else { "" }
                ),
                n(w.held_too_long),
                n(w.many_sessions),
                n(w.open_too_long),
                n(w.open_safeguarding),
            ]
        })
        .collect();
    let held = format!("HELD >{}D", limits.held_days);
    let sessions = format!(">{} SESSIONS", limits.sessions);
    let open = format!("OPEN >{}D", limits.open_days);
    let mut text = table(
        &[
            "LINK WORKER",
            "REFERRED",
            "ACTIVE",
            "HOLDING",
            "TAPERING",
            "ACCEPTED 12M",
            &held,
            &sessions,
            &open,
            "SAFEGUARDING",
        ],
        &cells,
    );
    let over: Vec<String> = out
        .workers
        .iter()
        .filter(|w| w.over_accepted_limit)
        .map(|w| holder_words(w.worker.as_ref()))
        .collect();
    if !over.is_empty() {
        let _ = write!(
            text,
            "\nOVER: more than {} people accepted in the last 12 months: {}.",
            limits.accepted_per_year,
            over.join(", ")
        );
    }
    Output::new(&out, text)
}

/// `holdfast supervision limits`: shows the team's limits, or sets the ones given.
pub(super) fn limits(ctx: &Ctx, a: LimitsArgs) -> Result<Output> {
    let mut store = ctx.device.open()?;
    let setting = a.load.any() || a.first_contact_days.is_some();
    if setting {
        let current = store.team_limits()?.limits;
        let new = LoadLimits {
            first_contact_working_days: a
                .first_contact_days
                .unwrap_or(current.first_contact_working_days),
            ..a.load.over(current)
        };
        store.set_team_limits(&new, given(a.reason).as_deref())?;
    } else if a.reason.is_some() {
        return Err(CliError::input(
            "--reason goes with a limit to set; nothing was changed",
        ));
    }
    let team = store.team_limits()?;
    let l = &team.limits;
    let mut text = String::from(if setting {
        "The team's limits are now:\n"
    } else {
        "The team's limits:\n"
    });
    for (what, value) in [
        ("People accepted in 12 months", l.accepted_per_year),
        ("Days in holding", l.held_days),
        ("Sessions on an open case", l.sessions),
        ("Days open", l.open_days),
        (
            "Working days to first contact",
            l.first_contact_working_days,
        ),
    ] {
        let _ = writeln!(text, "  {what:<30} {value}");
    }
    match &team.set {
        Some(s) => {
            let _ = write!(
                text,
                "Set by {} (device {}) on {}",
                s.by,
                short(&s.by_device),
                ctx.clock.day_time(s.at)
            );
            match &s.reason {
                Some(r) => {
                    let _ = write!(text, ": {r}");
                }
                None => text.push('.'),
            }
        }
        None => text.push_str(
            "Nobody in the team has set them: these are the defaults. A supervisor or admin \
             sets them with: holdfast supervision limits --accepted-per-year N …",
        ),
    }
    Output::new(&team, text)
}

pub(super) fn comments(ctx: &Ctx) -> Result<Output> {
    let store = ctx.device.open()?;
    let new: Vec<NewComment> = store.new_supervision_comments()?;
    if new.is_empty() {
        return Output::new(
            &new,
            "No supervision comments waiting: you have acknowledged every one on the cases \
             you hold.",
        );
    }
    let mut text = format!(
        "{} to acknowledge on the cases you hold\n",
        count(new.len(), "supervision comment", "supervision comments")
    );
    for c in &new {
        let _ = writeln!(
            text,
            "  {}  {} on {} [case {}]  comment {}",
            ctx.clock.day_time(c.comment.at),
            c.comment.by,
            c.patient_name,
            short(&c.case_id),
            short(&c.comment.id)
        );
        let _ = writeln!(text, "{}", indent(&c.comment.text, 4));
    }
    text.push_str("Acknowledge one with: holdfast supervision ack CASE COMMENT");
    Output::new(&new, text)
}

#[derive(Serialize)]
struct Acknowledged {
    case_id: DocumentId,
    comment_id: CommentId,
    acknowledged_at: i64,
    /// It had been acknowledged before (nothing was written now).
    already: bool,
}

pub(super) fn ack(ctx: &Ctx, case: &str, comment: &str) -> Result<Output> {
    let (mut store, case_id) = open_case(ctx, case)?;
    let file = store.case_file(case_id)?;
    let comment_id = lookup::pick(
        "supervision comment",
        comment,
        file.supervision.iter().map(|c| c.id),
    )?;
    if let Some(a) = file.oversight.ack_of(comment_id) {
        let text = format!(
            "That comment was already acknowledged, by {} at {}.",
            a.by,
            ctx.clock.day_time(a.at)
        );
        let out = Acknowledged {
            case_id,
            comment_id,
            acknowledged_at: a.at,
            already: true,
        };
        return Output::new(&out, text);
    }
    store.acknowledge_comment(case_id, comment_id)?;
    let at = store
        .case_file(case_id)?
        .oversight
        .ack_of(comment_id)
        .map(|a| a.at)
        .unwrap_or_else(|| ctx.clock.now_millis());
    Output::new(
        &Acknowledged {
            case_id,
            comment_id,
            acknowledged_at: at,
            already: false,
        },
        "Supervision comment acknowledged.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_as_words() {
        assert_eq!(changes_words(&CaseCounters::default()), "nothing new");
        let c = CaseCounters {
            sessions: 2,
            status_moves: 1,
            measures: 0,
            safeguarding: 3,
            comments: 1,
            handovers: 0,
        };
        assert_eq!(
            changes_words(&c),
            "2 new sessions, 1 status move, safeguarding changed, 1 comment"
        );
        assert!(counters_words(&c).starts_with("2 sessions, 1 status move, 0 measures"));
    }

    #[test]
    fn members_read_with_their_name_or_their_device() {
        let named = Member {
            device: DeviceId([0x1a; 16]),
            name: Some("Priya Natarajan".into()),
            role: Some(Role::LinkWorker),
        };
        assert_eq!(
            member_words(&named),
            "Priya Natarajan (device 1a1a1a1a, link worker)"
        );
        let nameless = Member {
            device: DeviceId([0x2b; 16]),
            name: None,
            role: Some(Role::Supervisor),
        };
        assert_eq!(
            member_words(&nameless),
            "device 2b2b2b2b (supervisor, no name known yet)"
        );
        let outside = Member {
            role: None,
            ..nameless
        };
        assert_eq!(
            member_words(&outside),
            "device 2b2b2b2b (no name known yet)"
        );
    }
}
