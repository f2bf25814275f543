//! The message back to the GP and referrer, at acceptance, decline or closure: readable text
//! and a FHIR R4 document Bundle (JSON) for the practice's system, made on the device from
//! the case (never its session or holding notes, safeguarding or supervision). Sending it
//! is the host's: the app shares the file (MESH and GP Connect need NHS onboarding).

use holdfast_core::feedback::FeedbackKind as CoreKind;
use holdfast_core::model::ids::DocumentId;

use crate::device::{HoldfastDevice, parse_id};
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
