//! Safeguarding concerns: raised with what was seen, escalated, closed. Their status is
//! contested like the case status: two devices that disagree must be resolved by a person.

use holdfast_core::model::case_file::{
    ConcernStatus as CoreStatus, EscalationTarget as CoreTarget, NewConcern, SafeguardingConcern,
};
use holdfast_core::model::ids::{ConcernId, DocumentId};

use crate::cases::claim_author;
use crate::device::{HoldfastDevice, parse_id, parse_item_id};
use crate::error::Result;

/// Where a concern was escalated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum EscalationTarget {
    /// The patient's GP.
    Gp,
    /// The local authority safeguarding team.
    LocalAuthority,
    /// The police.
    Police,
    /// Someone else (named in the description).
    Other,
}

impl From<EscalationTarget> for CoreTarget {
    fn from(t: EscalationTarget) -> Self {
        match t {
            EscalationTarget::Gp => CoreTarget::Gp,
            EscalationTarget::LocalAuthority => CoreTarget::LocalAuthority,
            EscalationTarget::Police => CoreTarget::Police,
            EscalationTarget::Other => CoreTarget::Other,
        }
    }
}

impl From<CoreTarget> for EscalationTarget {
    fn from(t: CoreTarget) -> Self {
        match t {
            CoreTarget::Gp => EscalationTarget::Gp,
            CoreTarget::LocalAuthority => EscalationTarget::LocalAuthority,
            CoreTarget::Police => EscalationTarget::Police,
            CoreTarget::Other => EscalationTarget::Other,
        }
    }
}

/// Where a concern stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ConcernStatus {
    /// Raised, not yet escalated.
    Open,
    /// Passed on to someone who can act.
    Escalated,
    /// No further action needed.
    Closed,
}

impl From<ConcernStatus> for CoreStatus {
    fn from(s: ConcernStatus) -> Self {
        match s {
            ConcernStatus::Open => CoreStatus::Open,
            ConcernStatus::Escalated => CoreStatus::Escalated,
            ConcernStatus::Closed => CoreStatus::Closed,
        }
    }
}

impl From<CoreStatus> for ConcernStatus {
    fn from(s: CoreStatus) -> Self {
        match s {
            CoreStatus::Open => ConcernStatus::Open,
            CoreStatus::Escalated => ConcernStatus::Escalated,
            CoreStatus::Closed => ConcernStatus::Closed,
        }
    }
}

/// A concern to raise.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConcernInput {
    /// What was seen or heard (required).
    pub description: String,
    /// Escalated at once to (the concern starts escalated).
    #[uniffi(default)]
    pub escalated_to: Option<EscalationTarget>,
}

/// One of several statuses devices set concurrently for a concern, with who and when.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConcernStatusClaim {
    /// The status this device set.
    pub value: ConcernStatus,
    /// The device that set it.
    pub device_id: Option<String>,
    /// The person.
    pub by: Option<String>,
    /// When (ms since the Unix epoch, by the author's clock).
    pub at_ms: Option<i64>,
}

/// A safeguarding concern.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConcernView {
    /// Its id.
    pub concern_id: String,
    /// When raised (ms since the Unix epoch).
    pub raised_at_ms: i64,
    /// Who raised it.
    pub raised_by: String,
    /// What was seen or heard.
    pub description: String,
    /// Where it was escalated.
    pub escalated_to: Option<EscalationTarget>,
    /// Every status set concurrently, with who and when (one when agreed).
    pub status_claims: Vec<ConcernStatusClaim>,
    /// Devices disagree: `resolve_concern_status` with one of `status_claims`.
    pub status_conflicted: bool,
}

pub(crate) fn concern_view(c: &SafeguardingConcern) -> ConcernView {
    ConcernView {
        concern_id: c.id.to_string(),
        raised_at_ms: c.raised_at,
        raised_by: c.raised_by.clone(),
        description: c.description.clone(),
        escalated_to: c.escalated_to.map(Into::into),
        status_claims: c
            .status
            .claims
            .iter()
            .map(|claim| {
                let (device_id, by, at_ms) = claim_author(claim);
                ConcernStatusClaim {
                    value: claim.value.into(),
                    device_id,
                    by,
                    at_ms,
                }
            })
            .collect(),
        status_conflicted: c.status.is_conflicted(),
    }
}

#[uniffi::export]
impl HoldfastDevice {
    /// Raises a safeguarding concern on the case (returns its id).
    pub fn raise_concern(&self, case_id: String, concern: ConcernInput) -> Result<String> {
        let id: DocumentId = parse_id("case", &case_id)?;
        let new = NewConcern {
            description: concern.description,
            escalated_to: concern.escalated_to.map(Into::into),
        };
        Ok(self.store()?.raise_concern(id, &new)?.to_string())
    }

    /// Changes a concern's status; escalating says where to. Refused while devices
    /// disagree on the status (resolve it first).
    pub fn set_concern_status(
        &self,
        case_id: String,
        concern_id: String,
        status: ConcernStatus,
        escalated_to: Option<EscalationTarget>,
    ) -> Result<()> {
        let id: DocumentId = parse_id("case", &case_id)?;
        let concern: ConcernId = parse_item_id("safeguarding concern", &concern_id)?;
        Ok(self.store()?.set_concern_status(
            id,
            concern,
            status.into(),
            escalated_to.map(Into::into),
        )?)
    }

    /// Ends a conflict on a concern's status by choosing one of its `status_claims`.
    pub fn resolve_concern_status(
        &self,
        case_id: String,
        concern_id: String,
        chosen: ConcernStatus,
    ) -> Result<()> {
        let id: DocumentId = parse_id("case", &case_id)?;
        let concern: ConcernId = parse_item_id("safeguarding concern", &concern_id)?;
        Ok(self
            .store()?
            .resolve_concern_status(id, concern, chosen.into())?)
    }

    /// The case's safeguarding concerns, oldest first.
    pub fn safeguarding_concerns(&self, case_id: String) -> Result<Vec<ConcernView>> {
        let id: DocumentId = parse_id("case", &case_id)?;
        let file = self.store()?.case_file(id)?;
        Ok(file.safeguarding.iter().map(concern_view).collect())
    }
}
