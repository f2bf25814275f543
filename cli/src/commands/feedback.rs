//! The message back to the GP and referrer: readable text, and the FHIR R4 Bundle as a file
//! for the practice's system (sending it needs NHS onboarding: out of scope here).

use std::path::Path;

use holdfast_core::Store;
use holdfast_core::feedback::{FeedbackKind, GpFeedback};
use holdfast_core::model::case_file::feedback_owed;
use holdfast_core::model::ids::DocumentId;
use serde::Serialize;

use super::Ctx;
use super::case::open_case;
use crate::error::{CliError, Result};
use crate::output::Output;

#[derive(Serialize)]
struct Written<'a> {
    case_id: DocumentId,
    kind: FeedbackKind,
    text: &'a str,
    bundle: &'a serde_json::Value,
    /// Where the Bundle was saved.
    saved_to: Option<String>,
}

/// The message where the case stands: the one its latest decision or closure calls for.
fn stage(store: &mut Store, case: DocumentId) -> Result<FeedbackKind> {
    let file = store.case_file(case)?;
    match feedback_owed(&file.status, &file.status_log, &file.referrals) {
        Some((kind, _)) => Ok(kind),
        None => Err(CliError::input(
            "nothing to tell the GP yet: no decision or closure (or the status is contested: \
             settle it first), or say which with --at",
        )),
    }
}

/// `holdfast feedback write`.
pub(super) fn write(
    ctx: &Ctx,
    case: &str,
    at: Option<FeedbackKind>,
    add: Option<String>,
    out: Option<&Path>,
) -> Result<Output> {
    let (mut store, case_id) = open_case(ctx, case)?;
    let kind = match at {
        Some(k) => k,
        None => stage(&mut store, case_id)?,
    };
    let feedback: GpFeedback = store.gp_feedback(case_id, kind, add.as_deref())?;
    let mut text = feedback.text.clone();
    let saved_to = match out {
        Some(path) => {
            std::fs::write(path, feedback.bundle_json())
                .map_err(|e| CliError::input(format!("cannot write {}: {e}", path.display())))?;
            text.push_str(&format!(
                "\nThe FHIR R4 Bundle is in {} (send it to the practice; it holds no notes).",
                path.display()
            ));
            Some(path.display().to_string())
        }
        None => {
            text.push_str("\nSave the FHIR R4 Bundle for the practice's system with --out FILE.");
            None
        }
    };
    Output::new(
        &Written {
            case_id,
            kind,
            text: &feedback.text,
            bundle: &feedback.bundle,
            saved_to,
        },
        text,
    )
}

#[derive(Serialize)]
struct Sent {
    case_id: DocumentId,
    kind: FeedbackKind,
    to: String,
    on: time::Date,
    record_id: holdfast_core::model::ids::FeedbackSentId,
}

/// `holdfast feedback sent`.
pub(super) fn sent(
    ctx: &Ctx,
    case: &str,
    to: &str,
    at: Option<FeedbackKind>,
    on: Option<time::Date>,
) -> Result<Output> {
    let (mut store, case_id) = open_case(ctx, case)?;
    let kind = match at {
        Some(k) => k,
        None => stage(&mut store, case_id)?,
    };
    let record_id = store.record_feedback_sent(case_id, kind, to, on)?;
    let on = on.unwrap_or_else(|| store.today());
    let text = format!(
        "Recorded: the {} message went to {} on {}.",
        kind.as_str(),
        to.trim(),
        crate::clock::format_date(on)
    );
    Output::new(
        &Sent {
            case_id,
            kind,
            to: to.trim().to_owned(),
            on,
            record_id,
        },
        text,
    )
}
