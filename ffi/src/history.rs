//! A document's history: who changed it, on which device, when, and what they did. The
//! "what" is the core's short description ("session recorded"), never the content.

use holdfast_core::model::ids::DocumentId;

use crate::device::{HoldfastDevice, parse_id};
use crate::error::Result;

/// One change to a document.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HistoryEntry {
    /// The change's hash (hex).
    pub hash: String,
    /// The device that made it.
    pub device_id: Option<String>,
    /// The person, as recorded in the change.
    pub by: Option<String>,
    /// When (ms since the Unix epoch, by the author's clock).
    pub at_ms: i64,
    /// What was done ("session recorded", "status set to holding").
    pub what: String,
}

#[uniffi::export]
impl HoldfastDevice {
    /// Who changed the document `doc_id` (a case file, plan or directory), on which
    /// device, when and what, oldest first.
    pub fn history(&self, doc_id: String) -> Result<Vec<HistoryEntry>> {
        let id: DocumentId = parse_id("document", &doc_id)?;
        Ok(self
            .store()?
            .history(id)?
            .into_iter()
            .map(|h| HistoryEntry {
                hash: h.hash,
                device_id: h.device.map(|d| d.to_string()),
                by: h.by,
                at_ms: h.at,
                what: h.what,
            })
            .collect())
    }
}
