//! The link worker's day: the worklist (follow-ups, first contacts, ring-backs, outcome
//! measures on the cases this device holds) and ring-backs, the calls owed to a patient.

use holdfast_core::model::ids::{DocumentId, RingBackId};
use holdfast_core::model::oversight::WorkKind;
use holdfast_core::store::{LoadLimits, WorkItem};
use serde::Serialize;
use time::Date;

use super::Ctx;
use super::case::open_case;
use crate::args::WorklistArgs;
use crate::clock::format_date;
use crate::error::{CliError, Result};
use crate::lookup;
use crate::output::{Output, clip, count, short, table, words};

#[derive(Serialize)]
struct Worklist {
    /// The day listed.
    on: Date,
    /// How many items were due before it.
    overdue: usize,
    /// Oldest due first; undated items last.
    items: Vec<WorkItem>,
}

pub(super) fn worklist(ctx: &Ctx, a: WorklistArgs) -> Result<Output> {
    let mut store = ctx.device.open()?;
    let on = a.on.unwrap_or_else(|| ctx.clock.today());
    let limits = match a.first_contact_days {
        Some(days) => LoadLimits {
            first_contact_working_days: days,
            ..LoadLimits::default()
        },
        None => store.team_limits()?.limits,
    };
    let items = store.worklist(on, &limits)?;
    let out = Worklist {
        on,
        overdue: items.iter().filter(|i| i.overdue).count(),
        items,
    };
    let day = format_date(on);
    if out.items.is_empty() {
        return Output::new(&out, format!("Nothing due on {day} on the cases you hold."));
    }
    let cells: Vec<Vec<String>> = out
        .items
        .iter()
        .map(|i| {
            let note = match (&i.note, i.ring_back) {
                (Some(n), Some(r)) => format!("{}  [ring-back {}]", clip(n, 48), short(&r)),
                (Some(n), None) => clip(n, 48),
                (None, Some(r)) => format!("[ring-back {}]", short(&r)),
                (None, None) => String::new(),
            };
            vec![
                i.due.map(format_date).unwrap_or_else(|| "-".into()),
                if i.overdue { "OVERDUE" } else { "" }.into(),
                words(i.kind.as_str()),
                clip(&i.patient_name, 32),
                short(&i.case_id),
                note,
            ]
        })
        .collect();
    let mut text = format!(
        "Worklist for {day}: {}, {} overdue.\n\n",
        count(out.items.len(), "thing to do", "things to do"),
        out.overdue
    );
    text.push_str(&table(&["DUE", "", "WHAT", "NAME", "CASE", "NOTE"], &cells));
    if out.items.iter().any(|i| i.ring_back.is_some()) {
        text.push_str("\nOnce a call is made: holdfast ring-back done CASE RING_BACK");
    }
    if out.items.iter().any(|i| i.kind == WorkKind::Feedback) {
        text.push_str(
            "\nFeedback owed to the GP: holdfast feedback write CASE --out FILE; once sent, \
             holdfast feedback sent CASE --to WHOM",
        );
    }
    Output::new(&out, text)
}

#[derive(Serialize)]
struct RingBackAdded {
    case_id: DocumentId,
    ring_back_id: RingBackId,
    due: Date,
    note: String,
}

pub(super) fn add_ring_back(ctx: &Ctx, case: &str, due: Date, note: &str) -> Result<Output> {
    let (mut store, case_id) = open_case(ctx, case)?;
    let ring_back_id = store.add_ring_back(case_id, due, note)?;
    let today = ctx.clock.today();
    let when = if due < today {
        " (already overdue)"
    } else if due == today {
        " (today)"
    } else {
        ""
    };
    let text = format!(
        "Ring-back added, due {}{when}.\n\
         \x20 ring-back id  {ring_back_id}\n\
         Once the call is made:\n\
         \x20 holdfast ring-back done {} {}",
        format_date(due),
        short(&case_id),
        short(&ring_back_id)
    );
    let out = RingBackAdded {
        case_id,
        ring_back_id,
        due,
        note: note.trim().to_owned(),
    };
    Output::new(&out, text)
}

#[derive(Serialize)]
struct RingBackDone {
    case_id: DocumentId,
    ring_back_id: RingBackId,
    done_at: i64,
}

pub(super) fn ring_back_done(ctx: &Ctx, case: &str, ring_back: &str) -> Result<Output> {
    let (mut store, case_id) = open_case(ctx, case)?;
    let file = store.case_file(case_id)?;
    let ring_back_id = lookup::pick(
        "ring-back",
        ring_back,
        file.oversight.ring_backs.iter().map(|r| r.id),
    )?;
    if let Some(at) = file
        .oversight
        .ring_backs
        .iter()
        .find(|r| r.id == ring_back_id)
        .and_then(|r| r.done_at)
    {
        return Err(CliError::input(format!(
            "that call is already recorded as made, at {}",
            ctx.clock.day_time(at)
        )));
    }
    store.complete_ring_back(case_id, ring_back_id)?;
    let done_at = store
        .case_file(case_id)?
        .oversight
        .ring_backs
        .iter()
        .find(|r| r.id == ring_back_id)
        .and_then(|r| r.done_at)
        .unwrap_or_else(|| ctx.clock.now_millis());
    Output::new(
        &RingBackDone {
            case_id,
            ring_back_id,
            done_at,
        },
        format!(
            "Ring-back done: call recorded as made at {}.",
            ctx.clock.day_time(done_at)
        ),
    )
}
