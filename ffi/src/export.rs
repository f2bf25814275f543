//! Data portability: one patient's record for a subject access request (JSON and text), and
//! any document as its raw Automerge bytes with its heads. Both are plaintext patient
//! records once they leave the device: the host shares or saves them, with care.

use holdfast_core::model::ids::DocumentId;

use crate::device::{HoldfastDevice, parse_id};
use crate::error::Result;

/// One patient's record for a subject access request. The data controller reviews it before
/// disclosure (safeguarding and supervision are flagged for review).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SubjectAccessExport {
    /// Pretty JSON: the same record gives the same text.
    pub json: String,
    /// Readable text with plain headings, dates in UK form.
    pub text: String,
}

/// A document as a plain Automerge document: any Automerge library loads `bytes`
/// (`Automerge.load` in JavaScript) and finds the same heads.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RawDocumentExport {
    /// The kind: `case_file`, `action_plan`, `directory`, `private_notes` or `team_settings`.
    pub kind: String,
    /// The document in Automerge's `save()` format.
    pub bytes: Vec<u8>,
    /// Its heads: hex change hashes, sorted as Automerge gives them.
    pub heads: Vec<String>,
}

#[uniffi::export]
impl HoldfastDevice {
    /// The subject access export of `case_id`: its case file, action plan and the history of
    /// both, nothing of anyone else. `NotFound` for an unknown id, `NotAllowed` for a
    /// document that is not a case file.
    pub fn subject_access_export(&self, case_id: String) -> Result<SubjectAccessExport> {
        let case: DocumentId = parse_id("case", &case_id)?;
        let sar = self.store()?.subject_access(case)?;
        Ok(SubjectAccessExport {
            json: sar.to_json()?,
            text: sar.render_text(),
        })
    }

    /// The document `doc_id` (any kind) as Automerge bytes with its heads. `NotFound` for
    /// an id not on this device.
    pub fn export_document(&self, doc_id: String) -> Result<RawDocumentExport> {
        let id: DocumentId = parse_id("document", &doc_id)?;
        let raw = self.store()?.export_document(id)?;
        Ok(RawDocumentExport {
            kind: raw.kind.as_str().to_owned(),
            bytes: raw.bytes,
            heads: raw.heads,
        })
    }
}
