//! Referrals: who referred the patient, why, and the link worker's decision. A referral on
//! a closed case is a re-referral and reopens it.

use holdfast_core::model::case_file::{
    Need as CoreNeed, NewReferral, Referral, ReferralDecision as CoreDecision,
    ReferralSource as CoreSource,
};
use holdfast_core::model::doc::{format_date, parse_date};
use holdfast_core::model::ids::{DocumentId, ReferralId};

use crate::device::{HoldfastDevice, parse_id, parse_item_id};
use crate::error::Result;

/// Who referred the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ReferralSource {
    /// A GP.
    Gp,
    /// A practice or community nurse.
    Nurse,
    /// Another clinician (pharmacist, physio, mental health practitioner).
    OtherClinician,
    /// The patient themselves.
    SelfReferral,
    /// A voluntary, community or social enterprise organisation.
    Vcse,
    /// Anyone else.
    Other,
}

impl From<ReferralSource> for CoreSource {
    fn from(s: ReferralSource) -> Self {
        match s {
            ReferralSource::Gp => CoreSource::Gp,
            ReferralSource::Nurse => CoreSource::Nurse,
            ReferralSource::OtherClinician => CoreSource::OtherClinician,
            ReferralSource::SelfReferral => CoreSource::SelfReferral,
            ReferralSource::Vcse => CoreSource::Vcse,
            ReferralSource::Other => CoreSource::Other,
        }
    }
}

impl From<CoreSource> for ReferralSource {
    fn from(s: CoreSource) -> Self {
        match s {
            CoreSource::Gp => ReferralSource::Gp,
            CoreSource::Nurse => ReferralSource::Nurse,
            CoreSource::OtherClinician => ReferralSource::OtherClinician,
            CoreSource::SelfReferral => ReferralSource::SelfReferral,
            CoreSource::Vcse => ReferralSource::Vcse,
            CoreSource::Other => ReferralSource::Other,
        }
    }
}

/// An area of need named in a referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Need {
    /// Loneliness or social isolation.
    Loneliness,
    /// Money, debt, benefits.
    Money,
    /// Housing.
    Housing,
    /// Employment, training, volunteering.
    Employment,
    /// Mental wellbeing.
    MentalWellbeing,
    /// Physical activity.
    PhysicalActivity,
    /// Support for a carer.
    CarerSupport,
    /// Anything else, described in the reason.
    Other,
}

impl From<Need> for CoreNeed {
    fn from(n: Need) -> Self {
        match n {
            Need::Loneliness => CoreNeed::Loneliness,
            Need::Money => CoreNeed::Money,
            Need::Housing => CoreNeed::Housing,
            Need::Employment => CoreNeed::Employment,
            Need::MentalWellbeing => CoreNeed::MentalWellbeing,
            Need::PhysicalActivity => CoreNeed::PhysicalActivity,
            Need::CarerSupport => CoreNeed::CarerSupport,
            Need::Other => CoreNeed::Other,
        }
    }
}

impl From<CoreNeed> for Need {
    fn from(n: CoreNeed) -> Self {
        match n {
            CoreNeed::Loneliness => Need::Loneliness,
            CoreNeed::Money => Need::Money,
            CoreNeed::Housing => Need::Housing,
            CoreNeed::Employment => Need::Employment,
            CoreNeed::MentalWellbeing => Need::MentalWellbeing,
            CoreNeed::PhysicalActivity => Need::PhysicalActivity,
            CoreNeed::CarerSupport => Need::CarerSupport,
            CoreNeed::Other => Need::Other,
        }
    }
}

/// A referral as received.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReferralInput {
    /// When it was received (YYYY-MM-DD).
    pub received: String,
    /// Who referred.
    pub source: ReferralSource,
    /// The referrer's name or role ("Dr Patel", "practice nurse").
    #[uniffi(default)]
    pub referrer: Option<String>,
    /// Why, in the referrer's words (required).
    pub reason: String,
    /// Areas of need.
    #[uniffi(default)]
    pub needs: Vec<Need>,
}

/// The decision on a referral.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ReferralDecision {
    /// Taken on: a referred case becomes active.
    Accepted,
    /// Not taken on: a referred case closes unless another referral is still open.
    Declined {
        /// Why (not eligible, declined by patient, unable to contact).
        reason: String,
    },
}

impl From<ReferralDecision> for CoreDecision {
    fn from(d: ReferralDecision) -> Self {
        match d {
            ReferralDecision::Accepted => CoreDecision::Accepted,
            ReferralDecision::Declined { reason } => CoreDecision::Declined { reason },
        }
    }
}

impl From<CoreDecision> for ReferralDecision {
    fn from(d: CoreDecision) -> Self {
        match d {
            CoreDecision::Accepted => ReferralDecision::Accepted,
            CoreDecision::Declined { reason } => ReferralDecision::Declined { reason },
        }
    }
}

/// A referral in a case file.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReferralView {
    /// Its id.
    pub referral_id: String,
    /// When it was received (YYYY-MM-DD).
    pub received: String,
    /// Who referred.
    pub source: ReferralSource,
    /// The referrer's name or role.
    pub referrer: Option<String>,
    /// Why.
    pub reason: String,
    /// Areas of need.
    pub needs: Vec<Need>,
    /// It reopened a closed case.
    pub re_referral: bool,
    /// The decision, once made.
    pub decision: Option<ReferralDecision>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When (ms since the Unix epoch).
    pub decided_at_ms: Option<i64>,
}

pub(crate) fn referral_view(r: &Referral) -> ReferralView {
    ReferralView {
        referral_id: r.id.to_string(),
        received: format_date(r.received),
        source: r.source.into(),
        referrer: r.referrer.clone(),
        reason: r.reason.clone(),
        needs: r.needs.iter().map(|n| (*n).into()).collect(),
        re_referral: r.re_referral,
        decision: r.decision.clone().map(Into::into),
        decided_by: r.decided_by.clone(),
        decided_at_ms: r.decided_at,
    }
}

#[uniffi::export]
impl HoldfastDevice {
    /// Adds a referral to the case (returns its id). On a closed case it is a re-referral
    /// and reopens the case as referred.
    pub fn add_referral(&self, case_id: String, referral: ReferralInput) -> Result<String> {
        let id: DocumentId = parse_id("case", &case_id)?;
        let new = NewReferral {
            received: parse_date(&referral.received)?,
            source: referral.source.into(),
            referrer: referral.referrer,
            reason: referral.reason,
            needs: referral.needs.into_iter().map(Into::into).collect(),
        };
        Ok(self.store()?.add_referral(id, &new)?.to_string())
    }

    /// Accepts or declines a referral (once: a decided referral is `NotAllowed`).
    pub fn decide_referral(
        &self,
        case_id: String,
        referral_id: String,
        decision: ReferralDecision,
    ) -> Result<()> {
        let id: DocumentId = parse_id("case", &case_id)?;
        let referral: ReferralId = parse_item_id("referral", &referral_id)?;
        Ok(self
            .store()?
            .decide_referral(id, referral, &decision.into())?)
    }
}
