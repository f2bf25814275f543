//! The message back to the GP and referrer (`crate::feedback`), built from what this
//! device holds: the case file, the person's plan when it is here, and the names of the
//! community assets its steps link from the directory index.

use rusqlite::OptionalExtension;

use super::Store;
use crate::feedback::{self, FeedbackKind, FeedbackRequest, GpFeedback};
use crate::model::case_file::{CaseStatus, ReferralDecision};
use crate::model::ids::{AssetId, DocumentId};
use crate::{Error, Result};

impl Store {
    /// The message back for `case` at acceptance, decline or closure, as readable text and
    /// a FHIR R4 document Bundle. `addition` is text the link worker chooses to add: the
    /// only free text that goes in (no session or holding notes, status reasons,
    /// safeguarding or supervision). Refused (`InvalidInput`) when the case is not at that
    /// point: no accepted referral, no declined one, or not closed.
    pub fn gp_feedback(
        &mut self,
        case: DocumentId,
        kind: FeedbackKind,
        addition: Option<&str>,
    ) -> Result<GpFeedback> {
        let file = self.case_file(case)?;
        let last = crate::model::case_file::latest_decided(&file.referrals)
            .and_then(|r| r.decision.as_ref());
        let owed =
            crate::model::case_file::feedback_owed(&file.status, &file.status_log, &file.referrals);
        let ready = match kind {
            FeedbackKind::Accepted => matches!(last, Some(ReferralDecision::Accepted)),
            FeedbackKind::Declined => matches!(last, Some(ReferralDecision::Declined { .. })),
            // Not a closure a decline made: that one calls for the declined message.
            FeedbackKind::Closed => {
                file.status.agreed() == Some(&CaseStatus::Closed)
                    && matches!(owed, Some((FeedbackKind::Closed, _)))
            }
        };
        if !ready {
            return Err(Error::InvalidInput {
                field: "feedback",
                reason: match kind {
                    FeedbackKind::Accepted => "the latest referral has not been accepted",
                    FeedbackKind::Declined => "the latest referral has not been declined",
                    FeedbackKind::Closed => {
                        "the case is not closed (or a declined referral closed it: write the \
                         declined message)"
                    }
                }
                .into(),
            });
        }
        if let Some(a) = addition
            && a.len() > 16 * 1024
        {
            return Err(Error::InvalidInput {
                field: "addition",
                reason: "longer than 16384 bytes".into(),
            });
        }
        // A plan this device cannot read (not here, or damaged) leaves its sections out
        // rather than the whole message.
        let plan = match file.action_plan {
            Some(p) => match self.action_plan(p) {
                Ok(plan) => Some(plan),
                Err(e @ (Error::Sqlite(_) | Error::StorageFull | Error::Io(_))) => return Err(e),
                Err(e) => {
                    tracing::warn!(case = %case, error = %e, "plan left out of the message back");
                    None
                }
            },
            None => None,
        };
        let conn = &self.conn;
        let name = |dir: DocumentId, asset: AssetId| -> Option<String> {
            conn.query_row(
                "SELECT name FROM assets WHERE directory_id = ?1 AND asset_id = ?2",
                [dir.as_bytes().as_slice(), asset.as_bytes().as_slice()],
                |r| r.get(0),
            )
            .optional()
            .ok()
            .flatten()
        };
        Ok(feedback::build(
            case,
            &file,
            plan.as_ref(),
            &name,
            &FeedbackRequest {
                kind,
                addition: addition.map(str::to_owned),
                author: self.author.person.clone(),
                now: self.now_millis(),
            },
        ))
    }
}

impl Store {
    /// Records that the message back (`kind`) was sent to `to` on `on` (today when `None`;
    /// never later). The worklist stops listing it; a later decision or closure owes a new
    /// one.
    pub fn record_feedback_sent(
        &mut self,
        case: DocumentId,
        kind: FeedbackKind,
        to: &str,
        on: Option<time::Date>,
    ) -> Result<crate::model::ids::FeedbackSentId> {
        let today = self.today();
        let what = format!("feedback sent ({})", kind.as_str());
        self.edit(
            case,
            crate::model::doc::DocKind::CaseFile,
            &what,
            |d, a, at| {
                crate::model::case_file::record_feedback_sent(
                    d,
                    a,
                    kind,
                    to,
                    on.unwrap_or(today),
                    today,
                    at,
                )
            },
            |_| super::documents::Reindex::CaseHeader,
        )
    }
}
