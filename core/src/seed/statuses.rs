//! Case statuses: the caseload's mix of final statuses, and each case's path to its own
//! through holding, tapering and closing, with the reasons recorded at each change.

use rand::Rng;
use rand::seq::SliceRandom;

use super::{SeedRng, phrase, pick};
use crate::model::case_file::CaseStatus;

/// The caseload's final statuses: most active, some holding, tapering and closed, a few
/// only referred. Every kind appears once there are at least five patients.
pub(super) fn status_mix(rng: &mut SeedRng, n: usize) -> Vec<CaseStatus> {
    let share = |percent: usize| {
        let k = (n * percent + 50) / 100;
        if n >= 5 { k.max(1) } else { k }
    };
    let mut out = Vec::with_capacity(n);
    for (status, percent) in [
        (CaseStatus::Holding, 15),
        (CaseStatus::Tapering, 12),
        (CaseStatus::Closed, 13),
        (CaseStatus::Referred, 5),
    ] {
        let k = share(percent).min(n - out.len());
        out.extend(std::iter::repeat_n(status, k));
    }
    out.resize(n, CaseStatus::Active);
    out.shuffle(rng);
    out
}

const HOLD_REASONS: &[&str] = &[
    "Waiting for a place at the befriending service",
    "In hospital for a planned operation",
    "Not ready to try groups yet; keeping in touch",
    "Waiting for the housing assessment",
    "Family crisis: agreed to pause the plan and keep in touch",
    "On the waiting list for Talking Therapies",
];
const RESUME_REASONS: &[&str] = &[
    "A place came up; back to regular sessions",
    "Home from hospital and keen to restart",
    "Feels ready to pick the plan up again",
];
const TAPER_REASONS: &[&str] = &[
    "Goals mostly met; reducing contact",
    "Settled into the group; moving to monthly check-ins",
    "Agreed to space out sessions before closing",
];
const CLOSE_REASONS: &[&str] = &[
    "Goals met; agreed to close",
    "Doing well and connected to local groups; knows how to re-refer",
    "Plan completed; closed with consent",
];
const CLOSE_EARLY_REASONS: &[&str] = &[
    "Moved out of the area",
    "Asked to stop for now; knows how to re-refer",
    "Now supported by the community mental health team",
];
const CLOSE_NO_CONTACT: &str = "No response after three attempts to make contact";

/// A status change made just before session `at` (`at == n`: after the last session).
pub(super) struct Transition {
    pub(super) at: usize,
    pub(super) to: CaseStatus,
    pub(super) reason: &'static str,
}

pub(super) struct Path {
    pub(super) transitions: Vec<Transition>,
    /// Closed after a final review session.
    pub(super) tapered_close: bool,
    /// Closed after the last two contacts were missed.
    pub(super) no_contact_close: bool,
}

/// Legal steps from active (after the referral is accepted) to `goal`, placed among `n`
/// sessions (`n >= 6`).
pub(super) fn status_path(rng: &mut SeedRng, goal: CaseStatus, n: usize) -> Path {
    let mut t = Vec::new();
    let mut tapered_close = false;
    let mut no_contact_close = false;
    let hold = |rng: &mut SeedRng, t: &mut Vec<Transition>, at: usize| {
        t.push(Transition {
            at,
            to: CaseStatus::Holding,
            reason: phrase(rng, HOLD_REASONS),
        });
    };
    match goal {
        CaseStatus::Active if n >= 7 && rng.random_bool(0.2) => {
            let start = rng.random_range(2..=n - 4);
            hold(rng, &mut t, start);
            t.push(Transition {
                at: rng.random_range(start + 1..=n - 2),
                to: CaseStatus::Active,
                reason: phrase(rng, RESUME_REASONS),
            });
        }
        CaseStatus::Holding => {
            let start = n - rng.random_range(1..=3);
            hold(rng, &mut t, start);
        }
        CaseStatus::Tapering => {
            if rng.random_bool(0.25) {
                let start = rng.random_range(2..=n - 3);
                hold(rng, &mut t, start);
            }
            t.push(Transition {
                at: n - rng.random_range(1..=2),
                to: CaseStatus::Tapering,
                reason: phrase(rng, TAPER_REASONS),
            });
        }
        CaseStatus::Closed => {
            let reason = if rng.random_bool(0.7) {
                tapered_close = true;
                t.push(Transition {
                    at: n - rng.random_range(1..=2),
                    to: CaseStatus::Tapering,
                    reason: phrase(rng, TAPER_REASONS),
                });
                *pick(rng, CLOSE_REASONS)
            } else if rng.random_bool(0.4) {
                no_contact_close = true;
                CLOSE_NO_CONTACT
            } else {
                *pick(rng, CLOSE_EARLY_REASONS)
            };
            t.push(Transition {
                at: n,
                to: CaseStatus::Closed,
                reason,
            });
        }
        _ => {}
    }
    Path {
        transitions: t,
        tapered_close,
        no_contact_close,
    }
}
