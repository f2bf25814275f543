//! Everything on the device as typed views, for export; and any one document as its raw
//! Automerge bytes with its heads, so the data can leave Holdfast in a standard format.

use serde::{Deserialize, Serialize};

use super::Store;
use crate::model::action_plan::ActionPlan;
use crate::model::case_file::CaseFile;
use crate::model::directory::{self, Asset};
use crate::model::doc::DocKind;
use crate::model::ids::{DeviceId, DocumentId};
use crate::{Error, Result};

/// Everything on the device, for export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Export {
    /// The device that exported.
    pub device: DeviceId,
    /// Case files with their ids.
    pub case_files: Vec<(DocumentId, CaseFile)>,
    /// Action plans with their ids.
    pub action_plans: Vec<(DocumentId, ActionPlan)>,
    /// Directories: id, area, assets.
    pub directories: Vec<(DocumentId, String, Vec<Asset>)>,
}

/// One document as a plain Automerge document: any Automerge implementation loads the bytes
/// (`Automerge.load` in JavaScript) and finds the same heads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawDocument {
    /// What kind of Holdfast document it is.
    pub kind: DocKind,
    /// The document in Automerge's `save()` format (not Holdfast's sealed envelope).
    pub bytes: Vec<u8>,
    /// Its heads: hex change hashes, sorted as Automerge gives them.
    pub heads: Vec<String>,
}

impl Store {
    /// One stored document as its Automerge bytes and heads, as this device holds it.
    /// `NotFound` for an id not on the device.
    pub fn export_document(&mut self, id: DocumentId) -> Result<RawDocument> {
        let (kind, doc) = self.load(id)?;
        let kind = *kind;
        // Saved from the loaded document, then checked: what leaves must load back whole.
        let bytes = doc.save();
        let heads: Vec<String> = doc.get_heads().iter().map(|h| h.to_string()).collect();
        let check: Vec<String> = automerge::AutoCommit::load(&bytes)?
            .get_heads()
            .iter()
            .map(|h| h.to_string())
            .collect();
        if check != heads {
            return Err(Error::Malformed(format!(
                "document {id} does not save with the heads it has"
            )));
        }
        Ok(RawDocument { kind, bytes, heads })
    }

    /// Exports everything on the device as typed views.
    pub fn export(&mut self) -> Result<Export> {
        let mut out = Export {
            device: self.author.device,
            case_files: Vec::new(),
            action_plans: Vec::new(),
            directories: Vec::new(),
        };
        for id in self.document_ids(DocKind::CaseFile)? {
            out.case_files.push((id, self.case_file(id)?));
        }
        for id in self.document_ids(DocKind::ActionPlan)? {
            out.action_plans.push((id, self.action_plan(id)?));
        }
        for id in self.document_ids(DocKind::Directory)? {
            let (_, doc) = self.load(id)?;
            out.directories
                .push((id, directory::area(doc)?, directory::read_all(doc)?));
        }
        Ok(out)
    }
}
