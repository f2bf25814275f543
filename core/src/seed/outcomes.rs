//! What came of the plan and the referral: connections to community assets over time, and
//! the messages back to the GP and referrer recorded as sent.
//!
//! Drawn from a stream of their own, so adding them changed none of the caseload the other
//! streams generate.

use rand::Rng;
use time::Date;

use super::{ManualClock, SeedRng, day_ms, days, weighted};
use crate::Result;
use crate::model::action_plan::ConnectionStatus;
use crate::model::ids::DocumentId;
use crate::store::Store;

use ConnectionStatus::{
    Attended, Contacted, Declined, NotSuitable, ServiceClosed, StillGoing, WaitingList,
};

/// How a suggested connection went on, after the "suggested" that linking records. Half
/// the people go at least once; some wait, some decide against.
const PATHS: &[(&[ConnectionStatus], u32)] = &[
    (&[], 15),
    (&[Contacted], 10),
    (&[Contacted, Attended], 15),
    (&[Contacted, Attended, StillGoing], 25),
    (&[Attended, StillGoing], 8),
    (&[Contacted, WaitingList], 9),
    (&[Contacted, WaitingList, Attended], 4),
    (&[Declined], 6),
    (&[Contacted, NotSuitable], 6),
    (&[Contacted, ServiceClosed], 2),
];

/// Records how each step linked to an asset went, on days between the plan's first day and
/// `last` (the last session). Moves `clock`; the caller sets it again afterwards.
pub(super) fn seed_connections(
    store: &mut Store,
    rng: &mut SeedRng,
    clock: &ManualClock,
    plan: DocumentId,
    first: Date,
    last: Date,
) -> Result<()> {
    let linked: Vec<_> = store
        .action_plan(plan)?
        .steps
        .into_iter()
        .filter(|s| s.asset.is_some())
        .map(|s| s.id)
        .collect();
    let paths: Vec<(usize, u32)> = PATHS.iter().enumerate().map(|(i, p)| (i, p.1)).collect();
    for step in linked {
        let mut day = first;
        for status in PATHS[weighted(rng, &paths)].0 {
            let next = day + days(rng.random_range(2..=14));
            if next > last {
                break;
            }
            day = next;
            clock.set(day_ms(day, 12 * 60));
            store.record_connection(plan, step, *status, Some(day))?;
        }
    }
    Ok(())
}

/// Whether the message back for an event was recorded as sent: most are, and the worklist
/// lists the rest.
pub(super) fn feedback_sent(rng: &mut SeedRng) -> bool {
    rng.random_bool(0.9)
}
