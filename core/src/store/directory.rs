//! The directory facade: community assets, their import, and search from the index.

use super::documents::Reindex;
use super::{AssetHit, DirectoryQuery, Store, StoreEvent, index};
use crate::model::directory::{self, Asset, AssetInput};
use crate::model::doc::{self, DocKind};
use crate::model::ids::{AssetId, DocumentId};
use crate::{Error, Result};

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

    /// Every asset of one directory, in asset-id order: what an export writes (for Open
    /// Referral UK, `import::open_referral::export_services`, which the store leaves to its
    /// caller as it leaves the import's parsing). An id not on this device is `NotFound`;
    /// another kind of document is `WrongDocumentKind`.
    pub fn directory_assets(&mut self, directory: DocumentId) -> Result<Vec<Asset>> {
        let (kind, doc) = self.load(directory)?;
        if *kind != DocKind::Directory {
            return Err(Error::WrongDocumentKind {
                expected: DocKind::Directory.as_str(),
                found: kind.as_str().to_owned(),
            });
        }
        directory::read_all(doc)
    }

    /// Searches every directory on the device, from the index.
    pub fn search_directory(&self, query: &DirectoryQuery) -> Result<Vec<AssetHit>> {
        index::search(&self.conn, query)
    }
}

#[cfg(test)]
mod tests {
    use crate::Error;
    use crate::keystore::MemoryKeyStore;
    use crate::model::case_file::NewPatient;
    use crate::model::directory::AssetInput;
    use crate::model::ids::DocumentId;
    use crate::store::{Store, StoreConfig};

    fn open(dir: &tempfile::TempDir) -> Store {
        let keys = MemoryKeyStore::default();
        Store::create(&StoreConfig::new(dir.path(), "Sam"), &keys).unwrap()
    }

    fn named(name: &str) -> AssetInput {
        AssetInput {
            name: name.to_owned(),
            ..AssetInput::default()
        }
    }

    #[test]
    fn a_directorys_assets_are_read_whole_in_id_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(&dir);
        let leeds = store.create_directory("Leeds North").unwrap();
        assert_eq!(store.directory_assets(leeds).unwrap(), Vec::new());
        let other = store.create_directory("Leeds South").unwrap();
        store
            .upsert_asset(other, None, &named("Elsewhere"))
            .unwrap();
        let ids = store
            .import_assets(
                leeds,
                &[
                    named("Tuesday Walking Group"),
                    named("Money Advice Drop-in"),
                ],
            )
            .unwrap();
        let assets = store.directory_assets(leeds).unwrap();
        let mut sorted = ids.clone();
        sorted.sort_by_key(ToString::to_string);
        assert_eq!(assets.iter().map(|a| a.id).collect::<Vec<_>>(), sorted);
        for asset in &assets {
            assert_eq!(store.asset(leeds, asset.id).unwrap(), *asset);
        }
    }

    #[test]
    fn a_missing_or_other_document_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(&dir);
        assert!(matches!(
            store.directory_assets(DocumentId::random()),
            Err(Error::NotFound { .. })
        ));
        let case = store
            .create_case_file(NewPatient::named("Ada"))
            .unwrap()
            .case_id;
        match store.directory_assets(case) {
            Err(Error::WrongDocumentKind { expected, found }) => {
                assert_eq!((expected, found.as_str()), ("directory", "case_file"));
            }
            other => panic!("expected WrongDocumentKind, got {other:?}"),
        }
    }
}
