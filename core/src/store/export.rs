//! Everything on the device as typed views, for export.

use serde::{Deserialize, Serialize};

use super::Store;
use crate::Result;
use crate::model::action_plan::ActionPlan;
use crate::model::case_file::CaseFile;
use crate::model::directory::{self, Asset};
use crate::model::doc::DocKind;
use crate::model::ids::{DeviceId, DocumentId};

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

impl Store {
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
