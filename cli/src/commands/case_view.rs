//! Reading cases: the caseload list, a whole case file, its history.

use std::fmt::Write as _;

use holdfast_core::model::case_file::{
    CaseFile, CaseStatus, ConcernStatus, Patient, ReferralDecision, ReferralSource,
};
use holdfast_core::model::doc::{Claim, Contested, HistoryEntry};
use holdfast_core::model::ids::{DeviceId, DocumentId};
use holdfast_core::model::measures::{Instrument, SWEMWBS_NOTICE};
use holdfast_core::store::{CaseloadEntry, CaseloadFilter};
use serde::Serialize;

use super::Ctx;
use super::case::open_case;
use super::measure::{Progress, describe_measure};
use crate::args::CaseloadArgs;
use crate::clock::{Clock, format_date};
use crate::error::Result;
use crate::output::{Output, clip, count, indent, short, table, words};

pub(super) fn caseload(ctx: &Ctx, a: CaseloadArgs) -> Result<Output> {
    let store = ctx.device.open()?;
    let team = match a.team.as_deref() {
        Some(t) => Some(crate::net::select_team(&store, Some(t))?.team),
        None => None,
    };
    let filter = CaseloadFilter {
        team,
        status: a.status,
        practice: a.practice,
        follow_up_by: a.due_by,
        safeguarding_only: a.safeguarding,
    };
    let entries = store.caseload(&filter)?;
    let text = caseload_text(&ctx.clock, &entries, filter != CaseloadFilter::default());
    Output::new(&entries, text)
}

fn caseload_text(clock: &Clock, entries: &[CaseloadEntry], filtered: bool) -> String {
    if entries.is_empty() {
        return if filtered {
            "No cases match.".to_owned()
        } else {
            "No cases yet: add one with `holdfast patient add --name \"...\"`.".to_owned()
        };
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                clip(&e.patient_name, 32),
                format!(
                    "{}{}",
                    words(e.status.as_str()),
                    if e.status_conflicted { " !" } else { "" }
                ),
                e.last_contact
                    .map(|ms| clock.day(ms))
                    .unwrap_or_else(|| "-".into()),
                e.next_follow_up
                    .map(format_date)
                    .unwrap_or_else(|| "-".into()),
                if e.open_safeguarding > 0 {
                    e.open_safeguarding.to_string()
                } else {
                    "-".into()
                },
                short(&e.case_id),
            ]
        })
        .collect();
    let mut text = table(
        &[
            "NAME",
            "STATUS",
            "LAST CONTACT",
            "FOLLOW UP",
            "SAFEGUARDING",
            "CASE",
        ],
        &rows,
    );
    let _ = write!(text, "\n{}.", count(entries.len(), "case", "cases"));
    if entries.iter().any(|e| e.status_conflicted) {
        text.push_str(
            "\n! devices disagree on the status: `holdfast case show CASE` shows who set what.",
        );
    }
    text
}

/// One device holding the case (two or more when assigned on two devices at once).
#[derive(Serialize)]
struct HeldBy {
    device: DeviceId,
    /// Their name, as this device knows it.
    name: Option<String>,
}

#[derive(Serialize)]
struct CaseView<'a> {
    case_id: DocumentId,
    case_file: &'a CaseFile,
    /// Who holds the case: one device, several when contested, none when nobody does.
    held_by: Vec<HeldBy>,
    measure_changes: Vec<Progress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notice: Option<&'static str>,
}

pub(super) fn show(ctx: &Ctx, case: &str) -> Result<Output> {
    let (mut store, case_id) = open_case(ctx, case)?;
    let file = store.case_file(case_id)?;
    let measure_changes: Vec<Progress> = Instrument::ALL
        .iter()
        .filter_map(|i| Progress::of(&file, *i))
        .collect();
    let notice = file
        .measures
        .iter()
        .any(|m| m.instrument == Instrument::Swemwbs)
        .then_some(SWEMWBS_NOTICE);
    let mut held_by: Vec<HeldBy> = Vec::new();
    for device in file.oversight.assigned.iter().flat_map(|a| a.values()) {
        if held_by.iter().any(|h| h.device == *device) {
            continue;
        }
        let name = match file.oversight.name_of(*device) {
            Some(n) => Some(n.to_owned()),
            None => store.member_name(*device)?,
        };
        held_by.push(HeldBy {
            device: *device,
            name,
        });
    }
    let text = case_text(&ctx.clock, case_id, &file, &measure_changes, notice);
    let view = CaseView {
        case_id,
        case_file: &file,
        held_by,
        measure_changes,
        notice,
    };
    Output::new(&view, text)
}

fn source(s: ReferralSource) -> &'static str {
    match s {
        ReferralSource::Gp => "GP",
        ReferralSource::Nurse => "nurse",
        ReferralSource::OtherClinician => "other clinician",
        ReferralSource::SelfReferral => "self-referral",
        ReferralSource::Vcse => "VCSE organisation",
        ReferralSource::Other => "other",
    }
}

fn claim_line<T>(clock: &Clock, c: &Claim<T>, value: &str) -> String {
    let mut line = value.to_owned();
    if let Some(by) = &c.by {
        let _ = write!(line, " — set by {by}");
    }
    if let Some(device) = &c.device {
        let _ = write!(line, " on device {}", short(device));
    }
    if let Some(at) = c.at {
        let _ = write!(line, " at {}", clock.day_time(at));
    }
    line
}

fn conflict_lines<T>(
    clock: &Clock,
    pad: usize,
    contested: &Contested<T>,
    name: impl Fn(&T) -> String,
) -> String {
    let pad = " ".repeat(pad);
    contested
        .claims
        .iter()
        .map(|c| format!("{pad}- {}\n", claim_line(clock, c, &name(&c.value))))
        .collect()
}

/// A device as the case names it (by the latest handover to it), or by its short id.
fn device_in_case(file: &CaseFile, device: DeviceId) -> String {
    match file.oversight.name_of(device) {
        Some(name) => format!("{name} (device {})", short(&device)),
        None => format!("device {}", short(&device)),
    }
}

/// Who holds the case and every handover.
fn holder_text(clock: &Clock, c: &str, file: &CaseFile) -> String {
    let mut t = String::new();
    match &file.oversight.assigned {
        None => t.push_str("Held by: nobody.\n"),
        Some(a) => match a.agreed() {
            Some(d) => {
                let _ = writeln!(t, "Held by: {}", device_in_case(file, *d));
            }
            None => {
                let _ = writeln!(
                    t,
                    "Held by: IN CONFLICT — assigned on two devices at once. Settle it with\n  \
                     holdfast case assign {c} WORKER"
                );
                t.push_str(&conflict_lines(clock, 2, a, |d: &DeviceId| {
                    device_in_case(file, *d)
                }));
            }
        },
    }
    for h in &file.oversight.handovers {
        let from = match h.from {
            Some(f) => format!("{} → ", device_in_case(file, f)),
            None => "assigned to ".to_owned(),
        };
        let why = h
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        let _ = writeln!(
            t,
            "  {}  {from}{} (device {}), by {}{why}",
            clock.day_time(h.at),
            h.to_name,
            short(&h.to),
            h.by
        );
    }
    t
}

fn patient_text(p: &Patient) -> String {
    let mut rows: Vec<(&str, String)> = Vec::new();
    if let Some(n) = &p.nhs_number {
        rows.push(("NHS number", n.to_string()));
    }
    if let Some(d) = p.date_of_birth {
        rows.push(("Born", format_date(d)));
    }
    let address = match (&p.address, &p.postcode) {
        (Some(a), Some(pc)) => Some(format!("{a}, {pc}")),
        (Some(a), None) => Some(a.clone()),
        (None, Some(pc)) => Some(pc.to_string()),
        (None, None) => None,
    };
    if let Some(a) = address {
        rows.push(("Address", a));
    }
    if let Some(v) = &p.phone {
        rows.push(("Phone", v.clone()));
    }
    if let Some(c) = p.preferred_contact {
        rows.push(("Contact by", words(c.as_str())));
    }
    if let Some(v) = &p.language {
        rows.push(("Language", v.clone()));
    }
    if let Some(v) = &p.accessibility_needs {
        rows.push(("Access needs", v.clone()));
    }
    if let Some(v) = &p.practice {
        rows.push(("GP practice", v.clone()));
    }
    rows.iter()
        .map(|(k, v)| format!("  {k:<13}{v}\n"))
        .collect()
}

fn case_text(
    clock: &Clock,
    case_id: DocumentId,
    file: &CaseFile,
    progress: &[Progress],
    notice: Option<&str>,
) -> String {
    let c = short(&case_id);
    let mut t = String::new();
    let _ = writeln!(t, "{}", file.patient.name);
    t.push_str(&patient_text(&file.patient));
    let _ = writeln!(t, "  {:<13}{case_id}", "Case id");
    if let Some(plan) = file.action_plan {
        let _ = writeln!(t, "  {:<13}{plan}  (holdfast plan show {c})", "Plan id");
    }

    // Status, and any disagreement between devices.
    t.push('\n');
    match file.status.agreed() {
        Some(s) => {
            let _ = writeln!(t, "Status: {}", words(s.as_str()));
        }
        None => {
            let _ = writeln!(
                t,
                "Status: IN CONFLICT — devices set different statuses. Choose one with\n  \
                 holdfast status resolve {c} STATUS"
            );
            t.push_str(&conflict_lines(clock, 2, &file.status, |s: &CaseStatus| {
                words(s.as_str())
            }));
        }
    }
    for change in &file.status_log {
        let moved = match change.from {
            Some(from) => format!("{} → {}", words(from.as_str()), words(change.to.as_str())),
            None => words(change.to.as_str()),
        };
        let why = change
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        let _ = writeln!(
            t,
            "  {}  {moved}, by {}{why}",
            clock.day_time(change.at),
            change.by
        );
    }

    // Who holds the case.
    t.push('\n');
    t.push_str(&holder_text(clock, &c, file));

    // Referrals.
    t.push('\n');
    if file.referrals.is_empty() {
        t.push_str("Referrals: none yet.\n");
    } else {
        t.push_str("Referrals\n");
    }
    for r in &file.referrals {
        let who = r
            .referrer
            .as_deref()
            .map(|w| format!(" ({w})"))
            .unwrap_or_default();
        let again = if r.re_referral { ", re-referral" } else { "" };
        let _ = writeln!(
            t,
            "  {}  from {}{who}{again}  [{}]",
            format_date(r.received),
            source(r.source),
            short(&r.id)
        );
        let _ = writeln!(t, "{}", indent(&r.reason, 4));
        if !r.needs.is_empty() {
            let needs: Vec<String> = r.needs.iter().map(|n| words(n.as_str())).collect();
            let _ = writeln!(t, "    needs: {}", needs.join(", "));
        }
        let decided = match (&r.decision, &r.decided_by, r.decided_at) {
            (None, _, _) => "not decided yet".to_owned(),
            (Some(d), by, at) => {
                let what = match d {
                    ReferralDecision::Accepted => "accepted".to_owned(),
                    ReferralDecision::Declined { reason } => format!("declined ({reason})"),
                };
                let by = by
                    .as_deref()
                    .map(|b| format!(" by {b}"))
                    .unwrap_or_default();
                let at = at
                    .map(|a| format!(" on {}", clock.day(a)))
                    .unwrap_or_default();
                format!("{what}{by}{at}")
            }
        };
        let _ = writeln!(t, "    {decided}");
    }

    // Sessions.
    t.push('\n');
    if file.sessions.is_empty() {
        t.push_str("Sessions: none yet.\n");
    } else {
        let _ = writeln!(t, "Sessions ({})", file.sessions.len());
    }
    for s in &file.sessions {
        let attended = if s.attended {
            "attended"
        } else {
            "DID NOT ATTEND"
        };
        let _ = writeln!(
            t,
            "  {}  {}, {} min, {attended}, by {}  [{}]",
            clock.day_time(s.start),
            words(s.mode.as_str()),
            s.duration_minutes,
            s.recorded_by,
            short(&s.id)
        );
        match s.note.agreed() {
            Some(note) if note.is_empty() => {}
            Some(note) => {
                let _ = writeln!(t, "{}", indent(note, 4));
            }
            None => {
                let _ = writeln!(
                    t,
                    "    NOTE IN CONFLICT — amended on two devices at once. Settle it with\n    \
                     holdfast session amend-note {c} {} --note \"...\"",
                    short(&s.id)
                );
                for claim in &s.note.claims {
                    let _ = writeln!(t, "    - {}", claim_line(clock, claim, "version"));
                    let _ = writeln!(t, "{}", indent(&claim.value, 8));
                }
            }
        }
        if !s.holding_functions.is_empty() {
            let f: Vec<String> = s
                .holding_functions
                .iter()
                .map(|f| words(f.as_str()))
                .collect();
            let _ = writeln!(t, "    holding: {}", f.join(", "));
        }
        if let Some(f) = s.follow_up {
            let _ = writeln!(t, "    follow up by {}", format_date(f));
        }
    }

    // Ring-backs.
    t.push('\n');
    let rings = &file.oversight.ring_backs;
    if rings.is_empty() {
        t.push_str("Ring-backs: none.\n");
    } else {
        let to_make = rings.iter().filter(|r| r.done_at.is_none()).count();
        let _ = writeln!(t, "Ring-backs ({to_make} to make)");
    }
    for r in rings {
        let state = match r.done_at {
            Some(at) => format!("made {}", clock.day_time(at)),
            None => "to make".to_owned(),
        };
        let _ = writeln!(
            t,
            "  due {}  {state}, added by {}  [{}]",
            format_date(r.due),
            r.by,
            short(&r.id)
        );
        let _ = writeln!(t, "{}", indent(&r.note, 4));
    }

    // Outcome measures.
    t.push('\n');
    if file.measures.is_empty() {
        t.push_str("Outcome measures: none yet.\n");
    } else {
        t.push_str("Outcome measures\n");
    }
    for m in &file.measures {
        let _ = writeln!(t, "  {}", describe_measure(m));
    }
    for m in &file.measures_not_completed {
        let _ = writeln!(
            t,
            "  {} {:<7} not completed: {}  (by {})",
            format_date(m.offered_on),
            m.instrument.as_str().to_uppercase(),
            m.reason.as_str().replace('_', " "),
            m.recorded_by
        );
    }
    for p in progress {
        let _ = writeln!(t, "  {}", p.describe());
    }
    if let Some(n) = notice {
        let _ = writeln!(t, "  {n}");
    }

    // Safeguarding.
    t.push('\n');
    if file.safeguarding.is_empty() {
        t.push_str("Safeguarding: no concerns raised.\n");
    } else {
        let _ = writeln!(t, "Safeguarding ({} open)", file.open_safeguarding());
    }
    for s in &file.safeguarding {
        let status = match s.status.agreed() {
            Some(ConcernStatus::Escalated) => match s.escalated_to {
                Some(to) => format!("escalated to {}", words(to.as_str())),
                None => "escalated".to_owned(),
            },
            Some(st) => words(st.as_str()),
            None => "IN CONFLICT".to_owned(),
        };
        let _ = writeln!(
            t,
            "  {}  raised by {}: {status}  [{}]",
            clock.day_time(s.raised_at),
            s.raised_by,
            short(&s.id)
        );
        let _ = writeln!(t, "{}", indent(&s.description, 4));
        if s.status.is_conflicted() {
            let _ = writeln!(
                t,
                "    Devices recorded different statuses. Choose one with\n    \
                 holdfast safeguarding resolve {c} {} STATUS",
                short(&s.id)
            );
            t.push_str(&conflict_lines(clock, 4, &s.status, |v: &ConcernStatus| {
                words(v.as_str())
            }));
        }
    }

    // Supervision.
    t.push('\n');
    if file.supervision.is_empty() {
        t.push_str("Supervision: no comments.\n");
    } else {
        t.push_str("Supervision\n");
    }
    for s in &file.supervision {
        let _ = writeln!(
            t,
            "  {}  {}:  [{}]",
            clock.day_time(s.at),
            s.by,
            short(&s.id)
        );
        let _ = writeln!(t, "{}", indent(&s.text, 4));
        match file.oversight.ack_of(s.id) {
            Some(a) => {
                let _ = writeln!(
                    t,
                    "    acknowledged by {} at {}",
                    a.by,
                    clock.day_time(a.at)
                );
            }
            None => t.push_str("    not acknowledged yet\n"),
        }
    }
    for r in &file.oversight.reviews {
        let _ = writeln!(
            t,
            "  Reviewed by {} (device {}) at {}",
            r.by,
            short(&r.reviewer),
            clock.day_time(r.at)
        );
    }
    t
}

#[derive(Serialize)]
struct History {
    case_id: DocumentId,
    history: Vec<HistoryEntry>,
}

pub(super) fn history(ctx: &Ctx, case: &str) -> Result<Output> {
    let (mut store, case_id) = open_case(ctx, case)?;
    let history = store.history(case_id)?;
    let rows: Vec<Vec<String>> = history
        .iter()
        .map(|h| {
            vec![
                ctx.clock.day_time(h.at),
                h.by.clone().unwrap_or_else(|| "?".into()),
                h.device.map(|d| short(&d)).unwrap_or_else(|| "?".into()),
                h.what.clone(),
            ]
        })
        .collect();
    let text = table(&["WHEN", "WHO", "DEVICE", "WHAT"], &rows);
    Output::new(&History { case_id, history }, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::UtcOffset;

    fn claim<T>(value: T, by: &str, device: u8, at: i64) -> Claim<T> {
        Claim {
            value,
            device: Some(DeviceId([device; 16])),
            by: Some(by.to_owned()),
            at: Some(at),
        }
    }

    #[test]
    fn a_status_conflict_shows_who_set_what_and_how_to_settle_it() {
        let case_id = DocumentId([0xab; 16]);
        let file = CaseFile {
            patient: Patient::named("Ada Lovelace"),
            action_plan: None,
            referrals: vec![],
            status: Contested {
                claims: vec![
                    claim(CaseStatus::Holding, "Sam Okafor", 0x11, 1_780_304_400_000),
                    claim(CaseStatus::Tapering, "Lee Quinn", 0x22, 1_780_308_000_000),
                ],
            },
            status_log: vec![],
            sessions: vec![],
            measures: vec![],
            measures_not_completed: vec![],
            safeguarding: vec![],
            supervision: vec![],
            oversight: Default::default(),
            feedback_sent: Vec::new(),
        };
        let clock = Clock::at_offset(UtcOffset::UTC);
        let text = case_text(&clock, case_id, &file, &[], None);
        assert!(text.contains("Status: IN CONFLICT"), "{text}");
        assert!(
            text.contains("holdfast status resolve abababab STATUS"),
            "{text}"
        );
        assert!(
            text.contains("holding — set by Sam Okafor on device 11111111 at 2026-06-01 09:00"),
            "{text}"
        );
        assert!(
            text.contains("tapering — set by Lee Quinn on device 22222222 at 2026-06-01 10:00"),
            "{text}"
        );

        // Assigned on two devices at once: both claims, and how to settle it.
        let mut contested = file.clone();
        contested.oversight.assigned = Some(Contested {
            claims: vec![
                claim(DeviceId([0x33; 16]), "Sam Okafor", 0x11, 1_780_304_400_000),
                claim(DeviceId([0x44; 16]), "Lee Quinn", 0x22, 1_780_308_000_000),
            ],
        });
        let text = case_text(&clock, case_id, &contested, &[], None);
        assert!(
            text.contains("Held by: IN CONFLICT") && text.contains("holdfast case assign abababab"),
            "{text}"
        );
        assert!(
            text.contains("device 33333333 — set by Sam Okafor on device 11111111"),
            "{text}"
        );
        assert!(
            text.contains("device 44444444 — set by Lee Quinn"),
            "{text}"
        );
        let nobody = case_text(&clock, case_id, &file, &[], None);
        assert!(nobody.contains("Held by: nobody."), "{nobody}");

        let entry = CaseloadEntry {
            case_id,
            plan_id: None,
            patient_name: "Ada Lovelace".into(),
            nhs_number: None,
            practice: None,
            status: CaseStatus::Tapering,
            status_conflicted: true,
            last_contact: Some(1_780_304_400_000),
            next_follow_up: None,
            open_safeguarding: 2,
            session_count: 1,
        };
        let table = caseload_text(&clock, &[entry], false);
        assert!(table.contains("tapering !"), "{table}");
        assert!(table.contains("2026-06-01"), "{table}");
        assert!(table.contains("devices disagree"), "{table}");
        assert!(table.contains("1 case."), "{table}");
    }
}
