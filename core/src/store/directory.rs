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
        self.docs
            .insert(id, (DocKind::Directory, doc), self.config.cache_docs);
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

    /// Each shape of search (words alone, a category alone, words with a category or a
    /// district) is answered by its own query: each finds what a scan of every asset finds,
    /// a category in name order, and keeps to its limit. A renamed asset moves in its
    /// category's order.
    /// `n` assets made from a few names, words and categories, so words and categories
    /// overlap as a real directory's do.
    fn assorted(n: usize) -> Vec<AssetInput> {
        use crate::model::directory::Capacity;
        let places = [
            "Headingley",
            "Armley",
            "Chapel Allerton",
            "Beeston",
            "Otley",
            "Morley",
        ];
        let kinds = [
            (
                "Walking Group",
                "A gentle walk with a cuppa after",
                &["physical activity", "loneliness"][..],
            ),
            (
                "Debt Advice Drop-in",
                "Free advice on debt, benefits and bills",
                &["money"][..],
            ),
            (
                "Men's Shed",
                "Make, mend and chat; new members welcome",
                &["loneliness", "mental wellbeing"][..],
            ),
            (
                "Community Choir",
                "Sing together, no auditions",
                &["arts", "loneliness"][..],
            ),
            (
                "Housing Advice",
                "Help with tenancy, repairs and advice on moving",
                &["housing", "money"][..],
            ),
            (
                "Carers Cafe",
                "Time out for unpaid carers",
                &["carer support", "mental wellbeing"][..],
            ),
        ];
        (0..n)
            .map(|i| {
                let (kind, description, categories) = kinds[i % kinds.len()];
                AssetInput {
                    name: format!(
                        "{} {kind} {}",
                        places[(i / kinds.len()) % places.len()],
                        i / 36
                    ),
                    description: description.to_owned(),
                    categories: categories.iter().map(|c| (*c).to_owned()).collect(),
                    capacity: if i % 3 == 0 {
                        Capacity::WaitingList
                    } else {
                        Capacity::Open
                    },
                    ..AssetInput::default()
                }
            })
            .collect()
    }

    #[test]
    fn every_shape_of_search_finds_what_a_scan_finds() {
        use crate::model::directory::Capacity;
        use crate::store::DirectoryQuery;

        let dir = tempfile::tempdir().unwrap();
        let mut store = open(&dir);
        let leeds = store.create_directory("Leeds").unwrap();
        let ids = store.import_assets(leeds, &assorted(400)).unwrap();
        let assets = store.directory_assets(leeds).unwrap();
        let in_category = |a: &crate::model::directory::Asset, c: &str| {
            a.fields
                .categories
                .iter()
                .any(|x| x.trim().to_lowercase() == c)
        };
        let has_word = |a: &crate::model::directory::Asset, w: &str| {
            let f = &a.fields;
            [&f.name, &f.description, &f.categories.join(" ")]
                .iter()
                .flat_map(|t| t.split(|c: char| !c.is_alphanumeric()))
                .any(|t| t.to_lowercase().starts_with(w))
        };
        let names = |hits: &[crate::store::AssetHit]| {
            let mut n: Vec<String> = hits.iter().map(|h| h.name.clone()).collect();
            n.sort();
            n
        };
        // A category alone, with and without capacity: name order, the first `limit`.
        for (category, capacity) in [("money", None), ("loneliness", Some(Capacity::Open))] {
            let mut expected: Vec<String> = assets
                .iter()
                .filter(|a| in_category(a, category))
                .filter(|a| capacity.is_none_or(|c| a.fields.capacity == c))
                .map(|a| a.fields.name.clone())
                .collect();
            expected.sort();
            expected.truncate(10);
            assert!(!expected.is_empty(), "{category}");
            let hits = store
                .search_directory(&DirectoryQuery {
                    category: Some(category.to_uppercase()),
                    capacity,
                    limit: 10,
                    ..Default::default()
                })
                .unwrap();
            let found: Vec<String> = hits.iter().map(|h| h.name.clone()).collect();
            assert_eq!(found, expected, "{category} {capacity:?}");
        }
        // Words alone, and with a category: every match when the limit allows.
        for (word, category) in [
            ("walk", None),
            ("advice", Some("money")),
            ("advice", Some("housing")),
            ("men", Some("loneliness")),
        ] {
            let expected: Vec<String> = {
                let mut e: Vec<String> = assets
                    .iter()
                    .filter(|a| has_word(a, word))
                    .filter(|a| category.is_none_or(|c| in_category(a, c)))
                    .map(|a| a.fields.name.clone())
                    .collect();
                e.sort();
                e
            };
            assert!(!expected.is_empty(), "{word}");
            let all = store
                .search_directory(&DirectoryQuery {
                    text: Some(word.into()),
                    category: category.map(Into::into),
                    limit: 1000,
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(names(&all), expected, "{word} {category:?}");
            let few = store
                .search_directory(&DirectoryQuery {
                    text: Some(word.into()),
                    category: category.map(Into::into),
                    limit: 3,
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(few.len(), expected.len().min(3));
            assert_eq!(
                few[..],
                all[..few.len()],
                "the best first, whatever the limit"
            );
        }
        // Renamed: the category's order follows the new name.
        let first = store
            .search_directory(&DirectoryQuery {
                category: Some("money".into()),
                limit: 1,
                ..Default::default()
            })
            .unwrap()
            .remove(0);
        let mut renamed = store.asset(leeds, first.asset_id).unwrap().fields;
        renamed.name = "Zzz Money Matters".into();
        store
            .upsert_asset(leeds, Some(first.asset_id), &renamed)
            .unwrap();
        let money = store
            .search_directory(&DirectoryQuery {
                category: Some("money".into()),
                limit: 1000,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(money.last().map(|h| h.asset_id), Some(first.asset_id));
        assert_eq!(ids.len(), 400);
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
