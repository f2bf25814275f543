//! Bad input gets a typed error and changes nothing; the file at rest reveals nothing; a
//! damaged file or a wrong key is reported as such and left as it was.

use std::path::Path;

use holdfast_core::model::case_file::{
    CaseStatus, NewPatient, NewSession, NotCompletedReason, SessionMode,
};
use holdfast_core::model::directory::AssetInput;
use holdfast_core::model::measures::{Instrument, MeasureError};
use holdfast_core::model::nhs_number::NhsNumber;
use holdfast_core::store::NewCase;
use holdfast_core::{Error, KeyStore, MemoryKeyStore, Store, StoreConfig};
use time::macros::date;

const NAME: &str = "Zebedee Quartermaine";
const NOTE: &str = "marmalade xylophone counterpane worries about the gas bill";
const ASSET: &str = "Quillwort Befriending Circle";

fn session(note: &str) -> NewSession {
    NewSession {
        start: 1_760_000_000_000,
        duration_minutes: 40,
        mode: SessionMode::HomeVisit,
        attended: true,
        note: note.into(),
        holding_functions: vec![],
        follow_up: None,
    }
}

fn setup(dir: &Path, keys: &MemoryKeyStore) -> (Store, NewCase) {
    let mut store = Store::create(&StoreConfig::new(dir, "Sam Okafor"), keys).unwrap();
    let mut patient = NewPatient::named(NAME);
    patient.nhs_number = Some(NhsNumber::parse("943 476 5919").unwrap());
    let case = store.create_case_file(patient).unwrap();
    store
        .set_status(case.case_id, CaseStatus::Active, None)
        .unwrap();
    store.record_session(case.case_id, &session(NOTE)).unwrap();
    (store, case)
}

/// Everything a user could see of a case, to compare before and after a refused edit.
fn snapshot(store: &mut Store, case: &NewCase) -> String {
    let file = store.case_file(case.case_id).unwrap();
    let plan = store.action_plan(case.plan_id).unwrap();
    let caseload = store.caseload(&Default::default()).unwrap();
    format!(
        "{}|{}|{}|{:?}|{:?}",
        serde_json::to_string(&file).unwrap(),
        serde_json::to_string(&plan).unwrap(),
        serde_json::to_string(&caseload).unwrap(),
        store.heads(case.case_id).unwrap(),
        store.outbox_len().unwrap()
    )
}

fn file_digest(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    ring::digest::digest(&ring::digest::SHA256, &bytes)
        .as_ref()
        .to_vec()
}

#[test]
fn invalid_nhs_number_is_refused_and_changes_nothing() {
    assert!(matches!(
        NhsNumber::parse("943 476 5918"),
        Err(holdfast_core::model::nhs_number::NhsNumberError::CheckDigitMismatch)
    ));
    // Deserialising a patient from JSON (the CLI, the FFI) validates too.
    let bad: Result<NewPatient, _> =
        serde_json::from_str(r#"{"name":"A","nhs_number":"1234567890"}"#);
    assert!(bad.is_err());
    let msg = NhsNumber::parse("9434765918").unwrap_err().to_string();
    assert!(
        !msg.contains("9434765918"),
        "errors never echo patient identifiers"
    );
}

#[test]
fn bad_measure_answers_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let (mut store, case) = setup(dir.path(), &keys);
    let before = snapshot(&mut store, &case);
    let on = date!(2026 - 11 - 02);
    let out_of_range = store.record_measure(
        case.case_id,
        Instrument::Ons4,
        on,
        &[Some(7), Some(11), Some(3), Some(2)],
    );
    assert!(
        matches!(
            out_of_range,
            Err(Error::Measure(MeasureError::OutOfRange { item: 2, .. }))
        ),
        "{out_of_range:?}"
    );
    let missing = store.record_measure(
        case.case_id,
        Instrument::Gse,
        on,
        &[Some(3); 9]
            .iter()
            .copied()
            .chain([None])
            .collect::<Vec<_>>(),
    );
    assert!(
        matches!(
            missing,
            Err(Error::Measure(MeasureError::MissingAnswer { item: 10 }))
        ),
        "{missing:?}"
    );
    let wrong_count = store.record_measure(case.case_id, Instrument::Swemwbs, on, &[Some(3); 6]);
    assert!(matches!(
        wrong_count,
        Err(Error::Measure(MeasureError::WrongItemCount { .. }))
    ));
    assert_eq!(snapshot(&mut store, &case), before);
    // And a valid one still works afterwards: the refused edits left no half-state behind.
    store
        .record_measure(case.case_id, Instrument::Swemwbs, on, &[Some(3); 7])
        .unwrap();
}

#[test]
fn a_measure_not_completed_is_recorded_with_its_reason_and_scores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let (mut store, case) = setup(dir.path(), &keys);
    let on = date!(2026 - 11 - 02);
    // A partial ONS4 is still refused: a measure is answered whole or not at all.
    let partial = store.record_measure(
        case.case_id,
        Instrument::Ons4,
        on,
        &[Some(7), None, None, None],
    );
    assert!(matches!(partial, Err(Error::Measure(_))), "{partial:?}");
    let id = store
        .record_measure_not_completed(
            case.case_id,
            Instrument::Ons4,
            on,
            NotCompletedReason::Distressing,
        )
        .unwrap();
    store
        .record_measure_not_completed(
            case.case_id,
            Instrument::Swemwbs,
            date!(2026 - 11 - 09),
            NotCompletedReason::Declined,
        )
        .unwrap();
    let file = store.case_file(case.case_id).unwrap();
    assert!(file.measures.is_empty(), "nothing scored");
    let recorded: Vec<_> = file
        .measures_not_completed
        .iter()
        .map(|m| (m.instrument, m.offered_on, m.reason, m.recorded_by.as_str()))
        .collect();
    assert_eq!(
        recorded,
        [
            (
                Instrument::Ons4,
                on,
                NotCompletedReason::Distressing,
                "Sam Okafor"
            ),
            (
                Instrument::Swemwbs,
                date!(2026 - 11 - 09),
                NotCompletedReason::Declined,
                "Sam Okafor"
            ),
        ]
    );
    assert_eq!(file.measures_not_completed[0].id, id);
    assert_eq!(
        "not_appropriate_today"
            .parse::<NotCompletedReason>()
            .unwrap(),
        NotCompletedReason::NotAppropriateToday
    );
    assert!("bored".parse::<NotCompletedReason>().is_err());
}

#[test]
fn illegal_status_transition_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let (mut store, case) = setup(dir.path(), &keys);
    store
        .set_status(case.case_id, CaseStatus::Closed, Some("moved away"))
        .unwrap();
    let before = snapshot(&mut store, &case);
    for to in [
        CaseStatus::Active,
        CaseStatus::Holding,
        CaseStatus::Tapering,
        CaseStatus::Referred,
    ] {
        let err = store.set_status(case.case_id, to, None).unwrap_err();
        assert!(
            matches!(err, Error::IllegalTransition { .. }),
            "closed → {to}: {err}"
        );
    }
    assert!(matches!(
        store.record_session(case.case_id, &session("x")),
        Err(Error::NotAllowed(_))
    ));
    assert_eq!(snapshot(&mut store, &case), before);
    // A re-referral is the way back in.
    store
        .add_referral(
            case.case_id,
            &holdfast_core::model::case_file::NewReferral {
                received: date!(2026 - 11 - 20),
                source: holdfast_core::model::case_file::ReferralSource::Gp,
                referrer: None,
                reason: "back in touch after a fall".into(),
                needs: vec![],
            },
        )
        .unwrap();
    let file = store.case_file(case.case_id).unwrap();
    assert_eq!(file.status.agreed(), Some(&CaseStatus::Referred));
    assert!(file.referrals.iter().any(|r| r.re_referral));
    assert!(CaseStatus::Referred.can_move_to(CaseStatus::Active));
    assert!(!CaseStatus::Referred.can_move_to(CaseStatus::Holding));
}

#[test]
fn invalid_asset_refuses_the_whole_import() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let (mut store, _) = setup(dir.path(), &keys);
    let d = store.create_directory("Leeds North").unwrap();
    let good = AssetInput {
        name: "Walking group".into(),
        ..Default::default()
    };
    let bad = AssetInput {
        name: "Chess club".into(),
        min_age: Some(60),
        max_age: Some(18),
        ..Default::default()
    };
    let err = store.import_assets(d, &[good.clone(), bad]).unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidInput {
            field: "age range",
            ..
        }
    ));
    assert!(
        store
            .search_directory(&Default::default())
            .unwrap()
            .is_empty()
    );
    store.import_assets(d, &[good]).unwrap();
    assert_eq!(
        store.search_directory(&Default::default()).unwrap().len(),
        1
    );
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn nothing_readable_at_rest_in_the_database_or_its_wal() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let (mut store, case) = setup(dir.path(), &keys);
    let d = store.create_directory("Leeds North").unwrap();
    store
        .upsert_asset(
            d,
            None,
            &AssetInput {
                name: ASSET.into(),
                description: "tea and chat".into(),
                ..Default::default()
            },
        )
        .unwrap();
    store
        .add_goal(case.plan_id, "walk to the marmalade shop")
        .unwrap();
    // The strings are really there, through the API and the full-text index.
    assert_eq!(store.case_file(case.case_id).unwrap().patient.name, NAME);
    assert_eq!(
        store
            .search_directory(&holdfast_core::store::DirectoryQuery {
                text: Some("quillwort".into()),
                ..Default::default()
            })
            .unwrap()
            .len(),
        1
    );

    let db = dir.path().join("holdfast.db");
    let wal = dir.path().join("holdfast.db-wal");
    let check = |when: &str| {
        let mut files = vec![std::fs::read(&db).unwrap()];
        if let Ok(w) = std::fs::read(&wal) {
            files.push(w);
        }
        assert!(
            files.iter().map(Vec::len).sum::<usize>() > 8192,
            "{when}: there is data to look at"
        );
        for bytes in &files {
            for needle in [
                NAME,
                "Zebedee",
                "Quartermaine",
                "marmalade",
                "xylophone",
                "Quillwort",
                "9434765919",
                "CREATE TABLE",
                "SQLite format 3",
            ] {
                assert!(
                    !contains(bytes, needle),
                    "{when}: {needle:?} readable at rest"
                );
            }
        }
    };
    assert!(
        std::fs::metadata(&wal)
            .map(|m| m.len() > 0)
            .unwrap_or(false),
        "the WAL holds recent writes"
    );
    check("while open (WAL live)");
    drop(store);
    check("after close");
}

#[test]
fn wrong_store_key_is_a_typed_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let (store, case) = setup(dir.path(), &keys);
    drop(store);
    let db = dir.path().join("holdfast.db");
    let digest = file_digest(&db);
    let config = StoreConfig::new(dir.path(), "ignored");

    let other = MemoryKeyStore::default();
    other
        .put(holdfast_core::store::STORE_KEY_NAME, &[0x42; 32])
        .unwrap();
    assert!(matches!(
        Store::open(&config, &other),
        Err(Error::WrongStoreKey)
    ));
    // Without the key-check file, SQLCipher's own refusal is mapped the same way.
    std::fs::rename(
        dir.path().join("holdfast.db.keycheck"),
        dir.path().join("keycheck.bak"),
    )
    .unwrap();
    assert!(matches!(
        Store::open(&config, &other),
        Err(Error::WrongStoreKey)
    ));
    assert!(
        matches!(
            Store::open(&config, &MemoryKeyStore::default()),
            Err(Error::WrongStoreKey)
        ),
        "no key at all"
    );
    std::fs::rename(
        dir.path().join("keycheck.bak"),
        dir.path().join("holdfast.db.keycheck"),
    )
    .unwrap();
    assert_eq!(
        file_digest(&db),
        digest,
        "a refused open leaves the file untouched"
    );

    let mut store = Store::open(&config, &keys).unwrap();
    assert_eq!(store.case_file(case.case_id).unwrap().patient.name, NAME);
}

#[test]
fn corrupted_database_is_a_typed_error_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let (mut store, _) = setup(dir.path(), &keys);
    for i in 0..40 {
        let c = store
            .create_case_file(NewPatient::named(&format!("Patient {i}")))
            .unwrap();
        store
            .set_status(c.case_id, CaseStatus::Active, None)
            .unwrap();
    }
    drop(store);
    let db = dir.path().join("holdfast.db");
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 5 * 4096);
    // Flip bits in a page in the middle of the file: page 1 (the key check) stays intact,
    // so the damage is found where that page is read: at open, or at the first read of it.
    let page = bytes.len() / 4096 / 2;
    for b in &mut bytes[page * 4096 + 100..page * 4096 + 140] {
        *b ^= 0xA5;
    }
    std::fs::write(&db, &bytes).unwrap();
    let digest = file_digest(&db);
    match Store::open(&StoreConfig::new(dir.path(), "x"), &keys) {
        Err(err) => assert!(matches!(err, Error::StoreCorrupt(_)), "{err:?}"),
        Ok(mut store) => {
            let verify = store.verify().unwrap_err();
            assert!(matches!(verify, Error::StoreCorrupt(_)), "{verify:?}");
            // Reading everything either meets the damage as StoreCorrupt, or the damaged page
            // holds no live data (free or outbox space) and everything reads back whole.
            let results = [
                store
                    .caseload(&Default::default())
                    .map(|c| assert_eq!(c.len(), 41)),
                store.export().map(|e| assert_eq!(e.case_files.len(), 41)),
                store.outbox_len().map(|_| ()),
                store.search_directory(&Default::default()).map(|_| ()),
            ];
            for r in results {
                if let Err(err) = r {
                    assert!(matches!(err, Error::StoreCorrupt(_)), "{err:?}");
                }
            }
        }
    }
    assert_eq!(
        file_digest(&db),
        digest,
        "nothing was written to the damaged file"
    );
}

#[test]
fn truncated_database_is_a_typed_error_and_is_left_alone() {
    for cut in [4096 * 3, 4096 * 3 + 1000] {
        let dir = tempfile::tempdir().unwrap();
        let keys = MemoryKeyStore::default();
        let (mut store, _) = setup(dir.path(), &keys);
        for i in 0..40 {
            store
                .create_case_file(NewPatient::named(&format!("Patient {i}")))
                .unwrap();
        }
        drop(store);
        let db = dir.path().join("holdfast.db");
        let len = std::fs::metadata(&db).unwrap().len();
        assert!(len > cut as u64);
        let f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
        f.set_len(cut as u64).unwrap();
        drop(f);
        let digest = file_digest(&db);
        let err = Store::open(&StoreConfig::new(dir.path(), "x"), &keys).unwrap_err();
        assert!(
            matches!(err, Error::StoreCorrupt(_)),
            "cut at {cut}: {err:?}"
        );
        assert_eq!(file_digest(&db), digest);
    }
}

#[test]
fn opening_a_store_that_does_not_exist_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open(
        &StoreConfig::new(dir.path().join("nope"), "x"),
        &MemoryKeyStore::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::NoStore(_)));
    assert!(!dir.path().join("nope").exists());
    // And creating over an existing store is refused.
    let keys = MemoryKeyStore::default();
    let (store, _) = setup(dir.path(), &keys);
    drop(store);
    assert!(matches!(
        Store::create(&StoreConfig::new(dir.path(), "x"), &keys),
        Err(Error::StoreExists(_))
    ));
}

/// A create killed after claiming its file (the app killed on its first start) leaves an
/// empty database file: opening it finds no store and writes nothing; the next create takes
/// it over. A file that is a store, or part of one, is never taken over or removed.
#[test]
fn an_interrupted_create_is_taken_over_and_a_real_store_never_is() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let config = StoreConfig::new(dir.path(), "x");
    let db = config.db_path();
    std::fs::create_dir_all(dir.path()).unwrap();
    std::fs::write(&db, b"").unwrap();
    assert!(matches!(
        Store::open(&config, &keys),
        Err(Error::NoStore(_))
    ));
    assert_eq!(
        std::fs::metadata(&db).unwrap().len(),
        0,
        "open wrote nothing"
    );
    let store = Store::create(&config, &keys).expect("the interrupted create is taken over");
    drop(store);
    Store::open(&config, &keys).expect("and the store opens");
    // Now a real store: a create is refused and removes nothing.
    let before = std::fs::read(&db).unwrap();
    assert!(matches!(
        Store::create(&config, &keys),
        Err(Error::StoreExists(_))
    ));
    assert_eq!(std::fs::read(&db).unwrap(), before);
    Store::open(&config, &keys).expect("the store still opens");
}

/// The store's folder and files are its owner's alone, from creation, and a store made
/// before that gets so when it is next opened.
#[cfg(unix)]
#[test]
fn the_store_folder_and_files_are_owner_only() {
    use holdfast_core::model::case_file::NewPatient;
    use holdfast_core::{MemoryKeyStore, Store, StoreConfig};
    use std::os::unix::fs::PermissionsExt;

    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("store");
    let keys = MemoryKeyStore::default();
    let config = StoreConfig::new(&home, "Sam Okafor");
    let mut store = Store::create(&config, &keys).unwrap();
    store
        .create_case_file(NewPatient::named("Ada Lovelace"))
        .unwrap();
    let files: Vec<_> = std::fs::read_dir(&home)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        files.iter().any(|f| f.to_string_lossy().ends_with("-wal")),
        "{files:?}"
    );
    assert_eq!(mode(&home), 0o700);
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    drop(store);
    // As an older build left them.
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
    for f in &files {
        if f.exists() {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let _store = Store::open(&config, &keys).unwrap();
    assert_eq!(mode(&home), 0o700);
    for f in std::fs::read_dir(&home).unwrap().map(|e| e.unwrap().path()) {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
}

/// The store's files as they are on disk at one moment: the database and its write-ahead
/// log (the shared-memory index is rebuilt from the log when it is missing).
struct Image {
    db: Vec<u8>,
    wal: Vec<u8>,
}

fn image(dir: &Path) -> Image {
    Image {
        db: std::fs::read(dir.join("holdfast.db")).unwrap(),
        wal: std::fs::read(dir.join("holdfast.db-wal")).unwrap(),
    }
}

/// Session notes of the case, sorted (sessions of one start time come in id order).
fn notes(store: &mut Store, case: &NewCase) -> Vec<String> {
    let file = store.case_file(case.case_id).unwrap();
    let mut notes: Vec<String> = file
        .sessions
        .into_iter()
        .map(|s| s.note.agreed().cloned().unwrap())
        .collect();
    notes.sort();
    notes
}

/// A power cut in the middle of a write leaves the tail of the write-ahead log torn: the
/// write's last frames cut short, or holding whatever the disk had there (garbage). The
/// store opens as it is, with no repair step and no error, holding every edit committed
/// before that write and nothing of it, and goes on working. Each write of a session was
/// acknowledged only after its commit reached the disk (`synchronous = FULL`), so a tear
/// can only reach a write that was never acknowledged.
#[test]
fn a_torn_log_loses_only_the_write_it_tore() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let (mut store, case) = setup(dir.path(), &keys);
    // The images after each acknowledged session: the log only grows (no checkpoint runs
    // this early), and the database file stays as it was.
    let mut images = vec![image(dir.path())];
    const SESSIONS: usize = 24;
    for n in 1..=SESSIONS {
        store
            .record_session(case.case_id, &session(&format!("session {n}")))
            .unwrap();
        images.push(image(dir.path()));
    }
    let last = images.last().unwrap();
    for (n, i) in images.iter().enumerate() {
        assert_eq!(i.db, last.db, "image {n}: the database file did not change");
        assert!(last.wal.starts_with(&i.wal), "image {n}: the log only grew");
    }
    let mut rng = 0x9E37_79B9_7F4A_7C15_u64;
    let mut random_byte = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng >> 24) as u8
    };
    let mut tears = 0;
    for k in (0..SESSIONS).step_by(5) {
        // The write of session k + 1 tears: the log holds what it held after session k,
        // then part of that write.
        let (before, after) = (images[k].wal.len(), images[k + 1].wal.len());
        assert!(after > before + 1, "session {} wrote to the log", k + 1);
        let cut_short = [before + 1, before + (after - before) / 2, after - 1];
        let mut torn: Vec<Vec<u8>> = cut_short
            .iter()
            .map(|&end| images[k + 1].wal[..end].to_vec())
            .collect();
        // The whole write's length, its second half garbage.
        let mut garbage = images[k + 1].wal.clone();
        for b in &mut garbage[before + (after - before) / 2..] {
            *b = random_byte();
        }
        torn.push(garbage);
        for wal in torn {
            tears += 1;
            let place = tempfile::tempdir().unwrap();
            std::fs::write(place.path().join("holdfast.db"), &last.db).unwrap();
            std::fs::write(place.path().join("holdfast.db-wal"), &wal).unwrap();
            let config = StoreConfig::new(place.path(), "Sam Okafor");
            let mut reopened = Store::open(&config, &keys)
                .unwrap_or_else(|e| panic!("torn in session {}: {e:?}", k + 1));
            reopened.verify().unwrap();
            let mut want = vec![NOTE.to_owned()];
            want.extend((1..=k).map(|n| format!("session {n}")));
            want.sort();
            assert_eq!(
                notes(&mut reopened, &case),
                want,
                "torn in session {}: every earlier session, and not that one",
                k + 1
            );
            // It goes on working: the lost session recorded again, and kept.
            reopened
                .record_session(case.case_id, &session("recorded again"))
                .unwrap();
            drop(reopened);
            let mut again = Store::open(&config, &keys).unwrap();
            want.push("recorded again".into());
            want.sort();
            assert_eq!(notes(&mut again, &case), want);
        }
    }
    assert_eq!(tears, 20);
}
