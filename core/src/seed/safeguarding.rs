//! Safeguarding: which cases get a concern, what the concerns say, how they are escalated,
//! and what supervision records about them.

use rand::Rng;
use rand::seq::SliceRandom;

use super::{SeedRng, pick, weighted};
use crate::Result;
use crate::model::case_file::{CaseStatus, ConcernStatus, EscalationTarget, NewConcern};
use crate::model::ids::DocumentId;
use crate::store::Store;

/// About 3% of cases (at least one, once there is a case with sessions) get a safeguarding
/// concern.
pub(super) fn safeguarding_mix(rng: &mut SeedRng, statuses: &[CaseStatus]) -> Vec<bool> {
    let mut candidates: Vec<usize> = (0..statuses.len())
        .filter(|i| statuses[*i] != CaseStatus::Referred)
        .collect();
    candidates.shuffle(rng);
    let k = (statuses.len() * 3).div_ceil(100).min(candidates.len());
    let mut out = vec![false; statuses.len()];
    for i in &candidates[..k] {
        out[*i] = true;
    }
    out
}

const CONCERNS: &[&str] = &[
    "Disclosed that a relative collects their pension each week and leaves little for food. Discussed with them; they agreed to a referral.",
    "Home visit: house very cold, little food, post piling up. Concerned about self-neglect.",
    "Disclosed being frightened of their partner's temper at home. Talked through options and safety planning.",
    "Mentioned having thoughts of not wanting to be here. No plan; agreed to contact the GP today.",
    "Neighbour reports a lodger taking money and not letting visitors in. Concerned about exploitation.",
    "Large amounts of belongings blocking the stairs and exits at home; fire risk.",
];

pub(super) const CONCERN_SUPERVISION: &[&str] = &[
    "Safeguarding discussed in supervision; the escalation was appropriate. Keep a close eye at each contact.",
    "Reviewed the safeguarding concern with the team lead; agreed next steps and recorded the rationale.",
];

pub(super) fn raise_concern(store: &mut Store, rng: &mut SeedRng, case: DocumentId) -> Result<()> {
    let escalated_to = if rng.random_bool(0.6) {
        Some(weighted(
            rng,
            &[
                (EscalationTarget::LocalAuthority, 50),
                (EscalationTarget::Gp, 35),
                (EscalationTarget::Police, 10),
                (EscalationTarget::Other, 5),
            ],
        ))
    } else {
        None
    };
    let concern = store.raise_concern(
        case,
        &NewConcern {
            description: (*pick(rng, CONCERNS)).to_owned(),
            escalated_to,
        },
    )?;
    match escalated_to {
        None if rng.random_bool(0.5) => store.set_concern_status(
            case,
            concern,
            ConcernStatus::Escalated,
            Some(EscalationTarget::Gp),
        ),
        Some(_) if rng.random_bool(0.4) => {
            store.set_concern_status(case, concern, ConcernStatus::Closed, None)
        }
        _ => Ok(()),
    }
}
