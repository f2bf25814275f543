//! The directory facade: community assets, their import, and search from the index.

use super::documents::Reindex;
use super::{AssetHit, DirectoryQuery, Store, StoreEvent, index};
use crate::Result;
use crate::model::directory::{self, Asset, AssetInput};
use crate::model::doc::{self, DocKind};
use crate::model::ids::{AssetId, DocumentId};

impl Store {
    /// Creates an empty directory for an area.
    pub fn create_directory(&mut self, area: &str) -> Result<DocumentId> {
        let id = DocumentId::random();
        let mut doc = directory::create(&self.author, area)?;
        let now = self.now_millis();
        doc::commit(&mut doc, &self.author, "directory created", now);
        let tx = self.conn.transaction()?;
        Self::insert_new(
            &tx,
            self.current_team,
            id,
            DocKind::Directory,
            &mut doc,
            now,
        )?;
        tx.commit()?;
        self.docs.insert(id, (DocKind::Directory, doc));
        self.emit(id, DocKind::Directory);
        let _ = self.events.send(StoreEvent::LocalChange);
        Ok(id)
    }

    /// Adds or updates one asset.
    pub fn upsert_asset(
        &mut self,
        dir: DocumentId,
        asset: Option<AssetId>,
        input: &AssetInput,
    ) -> Result<AssetId> {
        let what = if asset.is_some() {
            "asset updated"
        } else {
            "asset added"
        };
        self.edit(
            dir,
            DocKind::Directory,
            what,
            |d, _, _| directory::upsert_asset(d, asset, input),
            |id| Reindex::Assets(vec![*id]),
        )
    }

    /// Imports many assets in one change (updating those whose external id is known).
    /// Everything is validated first: a bad asset refuses the whole import.
    pub fn import_assets(
        &mut self,
        dir: DocumentId,
        inputs: &[AssetInput],
    ) -> Result<Vec<AssetId>> {
        let what = format!("{} assets imported", inputs.len());
        self.edit(
            dir,
            DocKind::Directory,
            &what,
            |d, _, _| directory::import_assets(d, inputs),
            |ids| Reindex::Assets(ids.clone()),
        )
    }

    /// Reads one asset.
    pub fn asset(&mut self, dir: DocumentId, asset: AssetId) -> Result<Asset> {
        let (_, doc) = self.load(dir)?;
        directory::read_asset(doc, asset)
    }

    /// Searches every directory on the device, from the index.
    pub fn search_directory(&self, query: &DirectoryQuery) -> Result<Vec<AssetHit>> {
        index::search(&self.conn, query)
    }
}
