//! The message back to the GP and referrer, at acceptance, decline or closure: readable text
//! and a FHIR R4 document Bundle (JSON) for the practice's system, made on the device from
//! the case (never its session or holding notes, safeguarding or supervision). Sending it
//! is the host's: the app shares the file (MESH and GP Connect need NHS onboarding).

use holdfast_core::feedback::FeedbackKind as CoreKind;
use holdfast_core::model::case_file::{ClosureReason as CoreClosure, DeclineReason as CoreDecline};
use holdfast_core::model::ids::DocumentId;
use holdfast_core::model::ids::ReferralId;

use crate::device::{HoldfastDevice, parse_id, parse_item_id};
use crate::error::Result;

/// When in the referral's life the message is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FeedbackKind {
    /// The referral was accepted.
    Accepted,
    /// The referral was declined.
    Declined,
    /// The case closed.
    Closed,
}

impl From<FeedbackKind> for CoreKind {
    fn from(k: FeedbackKind) -> Self {
        match k {
            FeedbackKind::Accepted => CoreKind::Accepted,
            FeedbackKind::Declined => CoreKind::Declined,
            FeedbackKind::Closed => CoreKind::Closed,
        }
    }
}

impl From<CoreKind> for FeedbackKind {
    fn from(k: CoreKind) -> Self {
        match k {
            CoreKind::Accepted => FeedbackKind::Accepted,
            CoreKind::Declined => FeedbackKind::Declined,
            CoreKind::Closed => FeedbackKind::Closed,
        }
    }
}

/// Why a referral was not taken on, coded for the message back (docs/CODES.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DeclineReason {
    /// The person did not want social prescribing (SNOMED CT 871711000000103).
    PersonDeclined,
    /// Outside what the service takes on.
    NotEligible,
    /// Another service meets the need better.
    ReferredElsewhere,
    /// Could not be reached.
    UnableToContact,
    /// Anything else.
    Other,
}

impl From<DeclineReason> for CoreDecline {
    fn from(d: DeclineReason) -> Self {
        match d {
            DeclineReason::PersonDeclined => CoreDecline::PersonDeclined,
            DeclineReason::NotEligible => CoreDecline::NotEligible,
            DeclineReason::ReferredElsewhere => CoreDecline::ReferredElsewhere,
            DeclineReason::UnableToContact => CoreDecline::UnableToContact,
            DeclineReason::Other => CoreDecline::Other,
        }
    }
}

/// Why a case closed, coded for the message back (docs/CODES.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ClosureReason {
    /// What the person wanted to do is done.
    GoalsMet,
    /// The person stopped coming (SNOMED CT 281399006).
    DidNotAttend,
    /// The person wanted no more support (SNOMED CT 871711000000103).
    DeclinedFurtherSupport,
    /// Could not be reached.
    UnableToContact,
    /// Moved out of the area.
    MovedAway,
    /// Died.
    Died,
    /// Referred to another service.
    ReferredElsewhere,
    /// Anything else.
    Other,
}

impl From<ClosureReason> for CoreClosure {
    fn from(c: ClosureReason) -> Self {
        match c {
            ClosureReason::GoalsMet => CoreClosure::GoalsMet,
            ClosureReason::DidNotAttend => CoreClosure::DidNotAttend,
            ClosureReason::DeclinedFurtherSupport => CoreClosure::DeclinedFurtherSupport,
            ClosureReason::UnableToContact => CoreClosure::UnableToContact,
            ClosureReason::MovedAway => CoreClosure::MovedAway,
            ClosureReason::Died => CoreClosure::Died,
            ClosureReason::ReferredElsewhere => CoreClosure::ReferredElsewhere,
            ClosureReason::Other => CoreClosure::Other,
        }
    }
}

/// The message back.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct GpFeedbackView {
    /// Which message.
    pub kind: FeedbackKind,
    /// The readable text, heading by heading.
    pub text: String,
    /// The FHIR R4 document Bundle, as JSON (save it as a `.json` file for the practice).
    pub bundle_json: String,
}

#[uniffi::export]
impl HoldfastDevice {
    /// The message back to the GP and referrer for `case_id` at `kind`; `addition` is text
    /// the link worker chooses to add (the only free text that goes in). `InvalidInput`
    /// when the case is not at that point (not accepted, not declined, not closed).
    #[uniffi::method(default(addition = None))]
    pub fn gp_feedback(
        &self,
        case_id: String,
        kind: FeedbackKind,
        addition: Option<String>,
    ) -> Result<GpFeedbackView> {
        let case: DocumentId = parse_id("case", &case_id)?;
        let f = self
            .store()?
            .gp_feedback(case, kind.into(), addition.as_deref())?;
        Ok(GpFeedbackView {
            kind: f.kind.into(),
            text: f.text.clone(),
            bundle_json: f.bundle_json(),
        })
    }

    /// Declines a referral with a coded reason and, if given, your own words (kept in the
    /// case file, never sent to the GP). Declining the only referral closes the case.
    #[uniffi::method(default(note = None))]
    pub fn decline_referral(
        &self,
        case_id: String,
        referral_id: String,
        code: DeclineReason,
        note: Option<String>,
    ) -> Result<()> {
        let case: DocumentId = parse_id("case", &case_id)?;
        let referral: ReferralId = parse_item_id("referral", &referral_id)?;
        Ok(self
            .store()?
            .decline_referral(case, referral, code.into(), note.as_deref())?)
    }

    /// Closes the case with a coded reason and, if given, your own words (kept in the case
    /// file, never sent to the GP). `NotAllowed` where closing is not allowed (already closed).
    #[uniffi::method(default(note = None))]
    pub fn close_case(
        &self,
        case_id: String,
        code: ClosureReason,
        note: Option<String>,
    ) -> Result<()> {
        let case: DocumentId = parse_id("case", &case_id)?;
        Ok(self
            .store()?
            .close_case(case, code.into(), note.as_deref())?)
    }

    /// Records that the message back (`kind`) was sent to `to` on `on` (YYYY-MM-DD; today
    /// when null; never later): the worklist stops listing it. Returns the record's id.
    #[uniffi::method(default(on = None))]
    pub fn record_feedback_sent(
        &self,
        case_id: String,
        kind: FeedbackKind,
        to: String,
        on: Option<String>,
    ) -> Result<String> {
        let case: DocumentId = parse_id("case", &case_id)?;
        let on = crate::cases::date_arg(on)?;
        Ok(self
            .store()?
            .record_feedback_sent(case, kind.into(), &to, on)?
            .to_string())
    }
}
