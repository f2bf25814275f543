//! A seeded directory through the Open Referral UK export: the store's assets written by
//! `export_services` give the same bytes every time, and the import reads them back as the
//! same assets with no warnings, into a fresh store too.

use holdfast_core::import::open_referral::{export_services, parse_services};
use holdfast_core::model::directory::AssetInput;
use holdfast_core::model::ids::DocumentId;
use holdfast_core::seed::{self, SeedConfig};
use holdfast_core::{Error, MemoryKeyStore, Store, StoreConfig};

fn open(dir: &tempfile::TempDir) -> Store {
    Store::create(
        &StoreConfig::new(dir.path(), "Sam"),
        &MemoryKeyStore::default(),
    )
    .unwrap()
}

fn export(store: &mut Store, directory: DocumentId) -> String {
    export_services(&store.directory_assets(directory).unwrap()).unwrap()
}

/// A directory's assets without their external ids, in an order that does not depend on
/// their asset ids.
fn fields(store: &mut Store, directory: DocumentId) -> Vec<AssetInput> {
    let mut all: Vec<AssetInput> = store
        .directory_assets(directory)
        .unwrap()
        .into_iter()
        .map(|asset| AssetInput {
            external_id: None,
            ..asset.fields
        })
        .collect();
    // Seeded names repeat (two "Wakefield Care and Repair"s): the whole asset orders them.
    all.sort_by_cached_key(|a| format!("{a:?}"));
    all
}

#[test]
fn a_seeded_directory_exports_the_same_bytes_and_imports_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir);
    let seeded = seed::populate(
        &mut store,
        &SeedConfig {
            seed: 7,
            patients: 0,
            assets: 200,
        },
    )
    .unwrap();
    let first = export(&mut store, seeded.directory);
    assert_eq!(export(&mut store, seeded.directory), first);

    let report = parse_services(first.as_bytes()).unwrap();
    assert_eq!(report.warnings, Vec::new());
    assert_eq!(report.assets.len(), 200);
    // Seeded assets have no external id: each is read back with the id it went out under,
    // one per asset.
    let mut ids: Vec<String> = report
        .assets
        .iter()
        .map(|a| a.external_id.clone().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 200);

    let other_dir = tempfile::tempdir().unwrap();
    let mut other = open(&other_dir);
    let copy = other.create_directory("Copy").unwrap();
    other.import_assets(copy, &report.assets).unwrap();
    assert_eq!(
        fields(&mut other, copy),
        fields(&mut store, seeded.directory)
    );

    // Exported again from the copy, every service keeps its id; a second import into the
    // copy updates the same assets rather than adding them again.
    let again = parse_services(export(&mut other, copy).as_bytes()).unwrap();
    let mut again_ids: Vec<String> = again
        .assets
        .iter()
        .map(|a| a.external_id.clone().unwrap())
        .collect();
    again_ids.sort();
    assert_eq!(again_ids, ids);
    other.import_assets(copy, &again.assets).unwrap();
    assert_eq!(other.directory_assets(copy).unwrap().len(), 200);
}

#[test]
fn only_a_directory_on_this_device_exports() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir);
    assert!(matches!(
        store.directory_assets(DocumentId::random()),
        Err(Error::NotFound { .. })
    ));
    let seeded = seed::populate(
        &mut store,
        &SeedConfig {
            seed: 1,
            patients: 1,
            assets: 3,
        },
    )
    .unwrap();
    let case = seeded.cases[0].case_id;
    assert!(matches!(
        store.directory_assets(case),
        Err(Error::WrongDocumentKind { .. })
    ));
    let empty = store.create_directory("Leeds South").unwrap();
    let json = export(&mut store, empty);
    assert_eq!(parse_services(json.as_bytes()).unwrap().assets, Vec::new());
}
