//! A migration test for every schema version: a database as that version's build left it
//! (made with that version's schema, holding the rows that version wrote) opens with this
//! build, migrates to the current version and keeps every record. And a database from a
//! newer build is refused untouched.

use std::path::Path;

use automerge::AutoCommit;
use holdfast_protocol::{InviteCode, Role};
use rusqlite::{Connection, params};

use super::{VERSION, migrate_to, version};
use crate::access::{Identity, invites, team::found_team};
use crate::crypto::keys::{DEVICE_KEY_NAME, device_hpke_key, device_signing_key};
use crate::keystore::{KeyStore, MemoryKeyStore};
use crate::model::case_file::{self, CaseStatus, NewPatient};
use crate::model::doc::{self, Author};
use crate::model::ids::{DeviceId, DocumentId, TeamId};
use crate::model::nhs_number::NhsNumber;
use crate::store::open::{apply_key, configure, key_check, keycheck_path};
use crate::store::{
    CaseloadFilter, DB_FILE, Durability, STORE_KEY_NAME, Store, StoreConfig, index,
};

const KEY: [u8; 32] = [3; 32];
const AT: i64 = 1_780_000_000_000;
const NHS: &str = "9434765919";

/// A database at `version` of the schema, with the device's identity rows every version
/// has, keyed as that build would have keyed it.
fn database_at(dir: &Path, keys: &MemoryKeyStore, version: i64, device: DeviceId) -> Connection {
    keys.put(STORE_KEY_NAME, &KEY).unwrap();
    let db = dir.join(DB_FILE);
    let mut conn = Connection::open(&db).unwrap();
    apply_key(&conn, &KEY).unwrap();
    configure(&conn, Durability::Full).unwrap();
    assert_eq!(migrate_to(&mut conn, version).unwrap(), 0);
    assert_eq!(super::version(&conn).unwrap(), version);
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('device_id', ?1)",
        [device.as_bytes().as_slice()],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('person', ?1)",
        [b"Sam".as_slice()],
    )
    .unwrap();
    std::fs::write(keycheck_path(&db), key_check(&KEY)).unwrap();
    conn
}

/// An active case file for a patient with an NHS number, written by `author`.
fn case_doc(author: &Author) -> AutoCommit {
    let mut patient = NewPatient::named("Ada Lovelace");
    patient.nhs_number = Some(NHS.parse::<NhsNumber>().unwrap());
    let mut case = case_file::create(author, &patient, DocumentId([2; 16]), AT).unwrap();
    case_file::set_status(&mut case, author, CaseStatus::Active, None, AT).unwrap();
    doc::commit(&mut case, author, "created", AT);
    case
}

/// The case as the version-1 columns hold it: a snapshot, and every change in the outbox.
fn insert_v1_case(conn: &Connection, case: &mut AutoCommit) -> DocumentId {
    let id = DocumentId::random();
    conn.execute(
        "INSERT INTO documents (id, kind, snapshot, change_count, updated_at) VALUES (?1, ?2, ?3, 0, ?4)",
        params![id.as_bytes().as_slice(), "case_file", case.save(), AT],
    )
    .unwrap();
    for change in case.get_changes(&[]) {
        conn.execute(
            "INSERT INTO outbox (doc_id, hash, bytes, created_at) VALUES (?1, ?2, ?3, 0)",
            params![
                id.as_bytes().as_slice(),
                change.hash().0.as_slice(),
                change.raw_bytes()
            ],
        )
        .unwrap();
    }
    id
}

/// The caseload row a version-2-or-later build wrote with the case.
fn index_case(conn: &mut Connection, id: DocumentId, case: &mut AutoCommit) {
    let tx = conn.transaction().unwrap();
    index::update_case(&tx, id, &case_file::read(case).unwrap(), AT).unwrap();
    tx.commit().unwrap();
}

fn sam(device: DeviceId) -> Author {
    Author {
        device,
        person: "Sam".into(),
    }
}

fn open(dir: &Path, keys: &MemoryKeyStore) -> Store {
    let store = Store::open(&StoreConfig::new(dir, "Sam"), keys).unwrap();
    assert_eq!(version(&store.conn).unwrap(), VERSION);
    store
}

/// What every upgraded store must still say about the case it held.
fn assert_case_intact(store: &mut Store, id: DocumentId) {
    let case = store.case_file(id).unwrap();
    assert_eq!(case.patient.name, "Ada Lovelace");
    assert_eq!(case.status.agreed(), Some(&CaseStatus::Active));
    let caseload = store.caseload(&CaseloadFilter::default()).unwrap();
    assert_eq!(caseload.len(), 1);
    assert_eq!(caseload[0].case_id, id);
    assert_eq!(caseload[0].status, CaseStatus::Active);
    assert_eq!(caseload[0].nhs_number.as_deref(), Some(NHS));
}

#[test]
fn version_1_store_upgrades_and_rebuilds_its_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let device = DeviceId([1; 16]);
    let id = {
        let conn = database_at(dir.path(), &keys, 1, device);
        insert_v1_case(&conn, &mut case_doc(&sam(device)))
    };
    let mut store = open(dir.path(), &keys);
    assert_case_intact(&mut store, id);
    assert_eq!(store.author().device, device);
    // The version-6 index exists and finds the patient; the outbox kept every change.
    let indexed: i64 = store
        .conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'caseload_by_nhs_number'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexed, 1);
    let plan: String = store
        .conn
        .query_row(
            "EXPLAIN QUERY PLAN SELECT case_id FROM caseload WHERE nhs_number = '9434765919'",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(plan.contains("caseload_by_nhs_number"), "{plan}");
    assert_eq!(
        store
            .find_case_by_nhs_number(&NHS.parse().unwrap())
            .unwrap(),
        Some(id)
    );
    assert!(store.outbox_len().unwrap() > 0);
    // And it keeps working as a current store.
    store.set_status(id, CaseStatus::Holding, None).unwrap();
    assert_eq!(
        store.caseload(&CaseloadFilter::default()).unwrap()[0].status,
        CaseStatus::Holding
    );
}

#[test]
fn version_2_store_upgrades_to_teams_and_keeps_its_outbox_for_the_first_team() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let device = DeviceId([1; 16]);
    let id = {
        let mut conn = database_at(dir.path(), &keys, 2, device);
        let mut case = case_doc(&sam(device));
        let id = insert_v1_case(&conn, &mut case);
        index_case(&mut conn, id, &mut case);
        id
    };
    assert!(keys.get(DEVICE_KEY_NAME).unwrap().is_none());
    let mut store = open(dir.path(), &keys);
    assert_case_intact(&mut store, id);
    // A store from before sync gets its device key on first open.
    assert!(keys.get(DEVICE_KEY_NAME).unwrap().is_some());
    assert!(store.teams().unwrap().is_empty());
    assert_eq!(store.document_team(id).unwrap(), None);
    let outbox = store.outbox_len().unwrap();
    assert!(outbox > 0);

    let team = store.create_team("http://127.0.0.1:9/").unwrap();
    assert_eq!(store.current_team(), Some(team));
    assert_eq!(
        store.document_team(id).unwrap(),
        Some(team),
        "old documents join the first team"
    );
    let info = store.team(team).unwrap();
    assert_eq!(info.relay_url, "http://127.0.0.1:9");
    assert!(info.created_here && !info.registered);
    assert_eq!(info.cursor, 0);
    let status = store.sync_status(team).unwrap();
    assert_eq!(status.pending_outbox, outbox);
    assert!(!status.everything_uploaded);
    // Sealing covers the changes written before the upgrade.
    assert_eq!(store.seal_outbox(team).unwrap(), 1);
    assert_eq!(
        store
            .pending_envelopes(team, 100, usize::MAX)
            .unwrap()
            .len(),
        1
    );
    // The team's keys and membership read back after a reopen; a second team leaves
    // documents alone.
    let before = store.keys_held(team).unwrap().key_for(id, 1).unwrap();
    drop(store);
    let mut store = open(dir.path(), &keys);
    assert_eq!(
        store
            .keys_held(team)
            .unwrap()
            .key_for(id, 1)
            .unwrap()
            .as_bytes(),
        before.as_bytes()
    );
    assert_eq!(store.role(team).unwrap(), Some(Role::Admin));
    assert_eq!(store.membership_log(team).unwrap().len(), 1);
    let other = store.create_team("http://127.0.0.1:9").unwrap();
    assert_eq!(store.current_team(), Some(team));
    assert_eq!(store.document_team(id).unwrap(), Some(team));
    assert_ne!(other, team);
    assert_case_intact(&mut store, id);
}

#[test]
fn version_3_store_keeps_its_records_and_sync_state_and_retires_its_secret_keyed_team() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let device = DeviceId([1; 16]);
    let team = TeamId([7; 16]);
    let (id, sealed_id, refused_id) = {
        let mut conn = database_at(dir.path(), &keys, 3, device);
        // Version 3 had device keys (sync) but no HPKE key yet.
        device_signing_key(&keys, true).unwrap();
        let mut case = case_doc(&sam(device));
        let id = insert_v1_case(&conn, &mut case);
        index_case(&mut conn, id, &mut case);
        conn.execute(
            "INSERT INTO teams (id, relay_url, created_here, registered, cursor, head_seen,
                 last_push_at, joined_at)
             VALUES (?1, 'http://127.0.0.1:9', 1, 1, 41, 45, ?2, ?2)",
            params![team.as_bytes().as_slice(), AT],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('current_team', ?1)",
            [team.as_bytes().as_slice()],
        )
        .unwrap();
        conn.execute(
            "UPDATE documents SET team_id = ?1, changes_since_snapshot = 3",
            [team.as_bytes().as_slice()],
        )
        .unwrap();
        // An envelope sealed under the old shared secret, waiting for the relay, and one
        // refused on receipt.
        let sealed_id = [5u8; 32];
        conn.execute(
            "INSERT INTO sealed (id, team_id, doc_id, kind, bytes, sealed_at)
             VALUES (?1, ?2, ?3, 1, x'00', ?4)",
            params![
                sealed_id.as_slice(),
                team.as_bytes().as_slice(),
                id.as_bytes().as_slice(),
                AT
            ],
        )
        .unwrap();
        conn.execute("UPDATE outbox SET envelope_id = ?1", [sealed_id.as_slice()])
            .unwrap();
        let refused_id = [6u8; 32];
        conn.execute(
            "INSERT INTO refused (id, team_id, seq, doc_id, author, reason, refused_at)
             VALUES (?1, ?2, 12, ?3, ?4, 'signature does not verify', ?5)",
            params![
                refused_id.as_slice(),
                team.as_bytes().as_slice(),
                id.as_bytes().as_slice(),
                [9u8; 16].as_slice(),
                AT
            ],
        )
        .unwrap();
        (id, sealed_id, refused_id)
    };
    let outbox_before = {
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        apply_key(&conn, &KEY).unwrap();
        conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    let mut store = open(dir.path(), &keys);
    assert_case_intact(&mut store, id);
    // The team and its sync state are kept, marked legacy: no signed membership, no sync.
    let info = store.team(team).unwrap();
    assert_eq!((info.cursor, info.head_seen), (41, 45));
    let legacy: bool = store
        .conn
        .query_row(
            "SELECT legacy FROM teams WHERE id = ?1",
            [team.as_bytes().as_slice()],
            |r| r.get(0),
        )
        .unwrap();
    assert!(legacy);
    assert!(
        store.access(team).is_err(),
        "a legacy team has no access state"
    );
    assert_eq!(store.document_team(id).unwrap(), Some(team));
    // Nothing written here was dropped: the outbox, the sealed envelope, the refusal.
    assert_eq!(store.outbox_len().unwrap(), outbox_before as u64);
    let status = store.sync_status(team).unwrap();
    assert_eq!(status.unacknowledged_envelopes, 1);
    assert!(!status.everything_uploaded);
    let refused = store.refused_envelopes(team).unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].id.0, refused_id);
    let kept: Vec<u8> = store
        .conn
        .query_row("SELECT id FROM sealed", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, sealed_id);
    // The device gets its HPKE key now; its signing key is the one it had.
    assert!(store.device_hpke_public_key().as_bytes().len() > 32);
}

/// The device's identity, made and kept in `keys` as every build since version 4 does.
fn identity_in(keys: &MemoryKeyStore, device: DeviceId) -> Identity {
    Identity {
        device,
        signer: std::sync::Arc::new(device_signing_key(keys, true).unwrap()),
        hpke: std::sync::Arc::new(device_hpke_key(keys, true).unwrap()),
    }
}

#[test]
fn version_4_store_keeps_its_team_membership_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let device = DeviceId([1; 16]);
    let me = identity_in(&keys, device);
    let founded = found_team(&me, AT as u64).unwrap();
    let team = founded.team;
    let id = {
        let mut conn = database_at(dir.path(), &keys, 4, device);
        let mut case = case_doc(&sam(device));
        let id = insert_v1_case(&conn, &mut case);
        index_case(&mut conn, id, &mut case);
        conn.execute(
            "INSERT INTO teams (id, relay_url, created_here, registered, joined_at, role,
                 membership_len, keys_cursor)
             VALUES (?1, 'http://127.0.0.1:9', 1, 1, ?2, 'admin', 1, 0)",
            params![team.as_bytes().as_slice(), AT],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO membership (team_id, seq, bytes) VALUES (?1, 0, ?2)",
            params![team.as_bytes().as_slice(), founded.genesis.as_bytes()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO team_keys (team_id, epoch, doc_id, key) VALUES (?1, 1, x'', ?2)",
            params![
                team.as_bytes().as_slice(),
                founded.key.as_bytes().as_slice()
            ],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('current_team', ?1)",
            [team.as_bytes().as_slice()],
        )
        .unwrap();
        conn.execute(
            "UPDATE documents SET team_id = ?1",
            [team.as_bytes().as_slice()],
        )
        .unwrap();
        id
    };
    let mut store = open(dir.path(), &keys);
    assert_case_intact(&mut store, id);
    assert_eq!(store.current_team(), Some(team));
    assert_eq!(store.role(team).unwrap(), Some(Role::Admin));
    assert_eq!(store.epoch(team).unwrap(), 1);
    assert_eq!(store.membership_log(team).unwrap().len(), 1);
    assert_eq!(store.devices(team).unwrap().len(), 1);
    assert_eq!(
        store
            .keys_held(team)
            .unwrap()
            .key_for(id, 1)
            .unwrap()
            .as_bytes(),
        {
            let mut expected = crate::crypto::TeamKeys::new(team);
            expected.insert_epoch(1, founded.key.clone());
            expected.key_for(id, 1).unwrap().as_bytes().to_owned()
        }
        .as_slice()
    );
    // The kept key seals the kept outbox.
    assert_eq!(store.seal_outbox(team).unwrap(), 1);
    assert_eq!(store.author().device, device);
}

#[test]
fn version_5_store_keeps_a_redeem_in_flight() {
    // An admin's invite, and this device's Redeem for it, sent and not yet answered.
    let admin = Identity {
        device: DeviceId::random(),
        signer: std::sync::Arc::new(
            holdfast_protocol::DeviceSigningKey::generate(&holdfast_protocol::SystemRandom::new())
                .unwrap(),
        ),
        hpke: std::sync::Arc::new(
            holdfast_protocol::HpkeKeyPair::generate(&holdfast_protocol::SystemRandom::new())
                .unwrap(),
        ),
    };
    let founded = found_team(&admin, AT as u64).unwrap();
    let mut team_keys = crate::crypto::TeamKeys::new(founded.team);
    team_keys.insert_epoch(1, founded.key.clone());
    let invite = invites::prepare_invite(
        &founded.access,
        &team_keys,
        &admin,
        &invites::InviteTarget {
            relay_url: "http://127.0.0.1:9",
            relay_pin: None,
            genesis: founded.genesis.as_bytes(),
            role: Role::LinkWorker,
            plan: None,
            plan_kind: None,
        },
        60_000,
        AT as u64,
    )
    .unwrap();
    let code: InviteCode = invite.code.clone();

    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let device = DeviceId([1; 16]);
    let me = identity_in(&keys, device);
    let redeem = invites::prepare_redeem(
        &code,
        &invite.entry,
        founded.genesis.as_bytes(),
        &me,
        AT as u64 + 1,
    )
    .unwrap();
    let id = {
        let mut conn = database_at(dir.path(), &keys, 5, device);
        let mut case = case_doc(&sam(device));
        let id = insert_v1_case(&conn, &mut case);
        index_case(&mut conn, id, &mut case);
        conn.execute(
            "INSERT INTO pending_redeems
                 (invite_id, team_id, entry, role, plan_id, genesis, created_at, relay_url)
             VALUES (?1, ?2, ?3, 'link_worker', NULL, ?4, ?5, 'http://127.0.0.1:9')",
            params![
                code.id().0.as_slice(),
                code.team.0.as_slice(),
                redeem.entry,
                founded.genesis.as_bytes(),
                AT
            ],
        )
        .unwrap();
        id
    };
    let mut store = open(dir.path(), &keys);
    assert_case_intact(&mut store, id);
    let held = store
        .held_redeem(&code)
        .unwrap()
        .expect("the redeem is still held");
    assert_eq!(held.entry, redeem.entry, "the same bytes go again");
    assert_eq!((held.role, held.plan), (Role::LinkWorker, None));
    // Joining uses it up.
    let team = store.join_team(&keys, &code, &held).unwrap();
    assert_eq!(team, code.team);
    assert!(store.held_redeem(&code).unwrap().is_none());
}

#[test]
fn version_6_store_keeps_its_teams_and_trusts_their_relays_through_the_platform() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let device = DeviceId([1; 16]);
    let me = identity_in(&keys, device);
    let founded = found_team(&me, AT as u64).unwrap();
    let team = founded.team;
    let url = "https://relay.example.org";
    let id = {
        let mut conn = database_at(dir.path(), &keys, 6, device);
        let mut case = case_doc(&sam(device));
        let id = insert_v1_case(&conn, &mut case);
        index_case(&mut conn, id, &mut case);
        conn.execute(
            "INSERT INTO teams (id, relay_url, created_here, registered, joined_at, role,
                 membership_len, keys_cursor, cursor, head_seen, last_error)
             VALUES (?1, ?2, 1, 1, ?3, 'admin', 1, 0, 17, 20, 'network: timed out')",
            params![team.as_bytes().as_slice(), url, AT],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO membership (team_id, seq, bytes) VALUES (?1, 0, ?2)",
            params![team.as_bytes().as_slice(), founded.genesis.as_bytes()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO team_keys (team_id, epoch, doc_id, key) VALUES (?1, 1, x'', ?2)",
            params![
                team.as_bytes().as_slice(),
                founded.key.as_bytes().as_slice()
            ],
        )
        .unwrap();
        conn.execute(
            "UPDATE documents SET team_id = ?1",
            [team.as_bytes().as_slice()],
        )
        .unwrap();
        id
    };
    let mut store = open(dir.path(), &keys);
    assert_case_intact(&mut store, id);
    let info = store.team(team).unwrap();
    assert_eq!(info.relay_url, url);
    assert_eq!((info.cursor, info.head_seen), (17, 20));
    assert_eq!(info.last_error.as_deref(), Some("network: timed out"));
    // No pin: the relay is trusted through the platform's roots, as before.
    assert_eq!(info.relay_pin, None);
    assert_eq!(store.relay_pin_for(url).unwrap(), Some(None));
    assert_eq!(store.epoch(team).unwrap(), 1);
    // Another team at that relay must trust it the same way.
    let pinned = store.create_team_with(
        url,
        Some(holdfast_protocol::RelayPin([5; 32])),
        crate::store::PlainHttp::LoopbackOnly,
    );
    assert!(pinned.is_err());
    store.create_team(url).unwrap();
}

/// A store from version 7 whose team revoked a device: opened, it counts the revocation as
/// folded at its cursor now (the revoked device's envelopes beyond it are refused), keeps
/// that across opens, and its team and keys are intact.
#[test]
fn version_7_store_keeps_the_epoch_rule_for_earlier_revocations_and_snapshots_every_document() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let device = DeviceId([1; 16]);
    let me = identity_in(&keys, device);
    let founded = found_team(&me, AT as u64).unwrap();
    let team = founded.team;
    let url = "https://relay.example.org";
    let mut access = founded.access.clone();
    let mut held = crate::crypto::TeamKeys::new(team);
    held.insert_epoch(1, founded.key.clone());
    let target = invites::InviteTarget {
        relay_url: url,
        relay_pin: None,
        genesis: founded.genesis.as_bytes(),
        role: Role::LinkWorker,
        plan: None,
        plan_kind: None,
    };
    let invite =
        invites::prepare_invite(&access, &held, &me, &target, 60_000, AT as u64 + 1).unwrap();
    let worker = identity_in(&MemoryKeyStore::default(), DeviceId([2; 16]));
    let redeem = invites::prepare_redeem(
        &invite.code,
        &invite.entry,
        founded.genesis.as_bytes(),
        &worker,
        AT as u64 + 2,
    )
    .unwrap();
    access.fold(&invite.entry).unwrap();
    access.fold(&redeem.entry).unwrap();
    access.relay_len = 3;
    let revocation = crate::access::revocation::prepare_revocation(
        &access,
        &held,
        &me,
        worker.device,
        AT as u64 + 3,
    )
    .unwrap();
    let log = [
        founded.genesis.as_bytes().to_vec(),
        invite.entry.clone(),
        redeem.entry.clone(),
        revocation.entry.clone(),
    ];
    {
        let conn = database_at(dir.path(), &keys, 7, device);
        conn.execute(
            "INSERT INTO teams (id, relay_url, created_here, registered, joined_at, role,
                 membership_len, keys_cursor, cursor, head_seen)
             VALUES (?1, ?2, 1, 1, ?3, 'admin', 4, 0, 17, 20)",
            params![team.as_bytes().as_slice(), url, AT],
        )
        .unwrap();
        for (seq, bytes) in log.iter().enumerate() {
            conn.execute(
                "INSERT INTO membership (team_id, seq, bytes) VALUES (?1, ?2, ?3)",
                params![team.as_bytes().as_slice(), seq as i64, bytes],
            )
            .unwrap();
        }
        for (epoch, key) in [(1, founded.key.as_bytes()), (2, revocation.key.as_bytes())] {
            conn.execute(
                "INSERT INTO team_keys (team_id, epoch, doc_id, key) VALUES (?1, ?2, x'', ?3)",
                params![team.as_bytes().as_slice(), epoch, key.as_slice()],
            )
            .unwrap();
        }
    }
    let store = open(dir.path(), &keys);
    assert_eq!(store.epoch(team).unwrap(), 2);
    assert!(store.access(team).unwrap().is_revoked(worker.device));
    // Folded before anything recorded where: the worker's envelopes are judged by epoch
    // only (its earlier work may still be on its way, and no snapshot of it was made).
    assert!(store.access(team).unwrap().refused_after.is_empty());
    drop(store);
    let store = open(dir.path(), &keys);
    assert!(store.access(team).unwrap().refused_after.is_empty());
    let authors: i64 = store
        .conn
        .query_row("SELECT count(*) FROM document_authors", [], |r| r.get(0))
        .unwrap();
    assert_eq!(authors, 0);
    // Who wrote what it held is unknown: a device this one revokes from now on gets a
    // snapshot of every document of the team.
    let incomplete: bool = store
        .conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'authors_incomplete')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(incomplete);
}

/// A database at schema `version` holding one team its device founded (genesis, epoch 1's
/// key, envelope cursor 17, head seen 20): its folder, key store and team.
fn founded_team_at(version: i64) -> (tempfile::TempDir, MemoryKeyStore, TeamId) {
    founded_team_with(version, |_, _| {})
}

/// [`founded_team_at`], then `more` writes what else the test needs at that version.
fn founded_team_with(
    version: i64,
    more: impl FnOnce(&Connection, TeamId),
) -> (tempfile::TempDir, MemoryKeyStore, TeamId) {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let device = DeviceId([1; 16]);
    let me = identity_in(&keys, device);
    let founded = found_team(&me, AT as u64).unwrap();
    let team = founded.team;
    {
        let conn = database_at(dir.path(), &keys, version, device);
        conn.execute(
            "INSERT INTO teams (id, relay_url, created_here, registered, joined_at, role,
                 membership_len, keys_cursor, cursor, head_seen)
             VALUES (?1, 'https://relay.example.org', 1, 1, ?2, 'admin', 1, 0, 17, 20)",
            params![team.as_bytes().as_slice(), AT],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO membership (team_id, seq, bytes) VALUES (?1, 0, ?2)",
            params![team.as_bytes().as_slice(), founded.genesis.as_bytes()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO team_keys (team_id, epoch, doc_id, key) VALUES (?1, 1, x'', ?2)",
            params![
                team.as_bytes().as_slice(),
                founded.key.as_bytes().as_slice()
            ],
        )
        .unwrap();
        more(&conn, team);
    }
    (dir, keys, team)
}

#[test]
fn version_8_store_upgrades_with_every_author_known_and_nothing_to_snapshot() {
    let (dir, keys, team) = founded_team_at(8);
    let mut store = open(dir.path(), &keys);
    assert_eq!(store.team(team).unwrap().cursor, 17);
    // A store made at version 8 recorded who wrote what from the start.
    let incomplete: bool = store
        .conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'authors_incomplete')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!incomplete);
    // Nothing is waiting to be snapshotted.
    assert_eq!(store.queue_pending_author_snapshots(team).unwrap(), 0);
}

#[test]
fn version_9_store_starts_with_no_checkpoints_and_can_restart_after_a_restore() {
    let (dir, keys, team) = founded_team_at(9);
    let mut store = open(dir.path(), &keys);
    // Nothing recorded yet: the first page pulled or push acknowledged makes a checkpoint.
    assert!(store.relay_checkpoints(team).unwrap().is_empty());
    let restarted = store.restart_after_restore(team, 5).unwrap();
    assert_eq!((restarted.agreed, restarted.documents), (5, 0));
    let info = store.team(team).unwrap();
    assert_eq!((info.cursor, info.head_seen), (5, 5));
}

#[test]
fn version_10_store_keeps_its_pending_reuploads_and_still_owes_them() {
    // A restart marked a document at version 10 and the app stopped before queueing it.
    let (dir, keys, _) = founded_team_with(10, |conn, team| {
        conn.execute(
            "INSERT INTO pending_reuploads (team_id, doc_id) VALUES (?1, ?2)",
            params![team.as_bytes().as_slice(), [7u8; 16].as_slice()],
        )
        .unwrap();
    });
    let store = open(dir.path(), &keys);
    let held: bool = store
        .conn
        .query_row("SELECT held FROM pending_reuploads", [], |r| r.get(0))
        .unwrap();
    assert!(
        !held,
        "owed until a pulled snapshot says the relay holds it"
    );
}

#[test]
fn version_11_store_gains_oversight_from_its_documents() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let device = DeviceId::random();
    let mut conn = database_at(dir.path(), &keys, 11, device);
    // A case as a version-11 build wrote it: nobody holds it.
    let mut case = case_doc(&sam(device));
    automerge::transaction::Transactable::delete(&mut case, automerge::ROOT, "assigned").unwrap();
    automerge::transaction::Transactable::delete(&mut case, automerge::ROOT, "handovers").unwrap();
    doc::commit(&mut case, &sam(device), "as version 11 wrote it", AT);
    let id = insert_v1_case(&conn, &mut case);
    index_case(&mut conn, id, &mut case);
    drop(conn);

    let mut store = open(dir.path(), &keys);
    assert_case_intact(&mut store, id);
    let (holder, since, moves): (Option<Vec<u8>>, Option<i64>, i64) = store
        .conn
        .query_row(
            "SELECT assigned_to, status_since, status_moves FROM caseload",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (holder, since, moves),
        (Some(device.as_bytes().to_vec()), Some(AT), 2),
        "rebuilt from the document: held by the device that created it"
    );
    let pending: bool = store
        .conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'rebuild_indexes')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!pending, "the rebuild finished and said so");
    // Never reviewed: in the queue; reviewed: out of it.
    assert_eq!(store.review_queue(50).unwrap().len(), 1);
    store.mark_reviewed(id).unwrap();
    assert!(store.review_queue(50).unwrap().is_empty());
    assert_eq!(
        store.caseload_load(&Default::default()).unwrap()[0].active,
        1
    );
}

/// A rebuild cut short runs again at the next open, and a document the index cannot read
/// does not stop the others being indexed.
#[test]
fn an_unfinished_rebuild_runs_again_and_skips_what_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let device = DeviceId::random();
    let mut conn = database_at(dir.path(), &keys, 11, device);
    // A pulled document this device kept but could never read, listed first.
    conn.execute(
        "INSERT INTO documents (id, kind, snapshot, change_count, updated_at) VALUES (?1, 'case_file', x'00', 0, 0)",
        [[0u8; 16].as_slice()],
    )
    .unwrap();
    let mut case = case_doc(&sam(device));
    let id = insert_v1_case(&conn, &mut case);
    index_case(&mut conn, id, &mut case);
    drop(conn);
    let store = open(dir.path(), &keys);
    let row = |store: &Store| -> (Option<Vec<u8>>, i64) {
        store
            .conn
            .query_row(
                "SELECT assigned_to, status_moves FROM caseload WHERE case_id = ?1",
                [id.as_bytes().as_slice()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };
    assert_eq!(row(&store), (Some(device.as_bytes().to_vec()), 2));
    // Killed mid-rebuild: the mark is still there, so the next open finishes it.
    store
        .conn
        .execute_batch(
            "INSERT INTO meta (key, value) VALUES ('rebuild_indexes', x'01');
             UPDATE caseload SET status_moves = 0;",
        )
        .unwrap();
    drop(store);
    let store = open(dir.path(), &keys);
    assert_eq!(row(&store).1, 2);
}

/// A plan step linked to a community asset before connections were recorded reads as
/// suggested on the day it was added, and the upgrade indexes it for the asset's demand.
#[test]
fn version_12_store_counts_its_linked_steps_as_suggested_connections() {
    use crate::model::action_plan::{self, AssetRef, ConnectionStatus, NewStep, StepOwner};
    use crate::model::ids::AssetId;

    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let device = DeviceId::random();
    let conn = database_at(dir.path(), &keys, 12, device);
    let author = sam(device);
    let mut plan = action_plan::create(&author).unwrap();
    let asset = AssetRef {
        directory: DocumentId::random(),
        asset: AssetId::random(),
    };
    let step = action_plan::add_step(
        &mut plan,
        &author,
        &NewStep {
            goal: None,
            text: "Try the walking group".into(),
            owner: StepOwner::Patient,
            due: None,
            asset: Some(asset),
        },
        time::macros::date!(2026 - 01 - 01),
        AT,
    )
    .unwrap();
    // As a version-12 build wrote it: no connection recorded.
    let steps = doc::require_obj(&plan, &automerge::ROOT, "steps").unwrap();
    let s = doc::get_obj(&plan, &steps, &step.to_string())
        .unwrap()
        .unwrap();
    automerge::transaction::Transactable::delete(&mut plan, &s, "connection").unwrap();
    doc::commit(&mut plan, &author, "as version 12 wrote it", AT);
    let id = DocumentId::random();
    conn.execute(
        "INSERT INTO documents (id, kind, snapshot, change_count, updated_at) VALUES (?1, 'action_plan', ?2, 0, ?3)",
        params![id.as_bytes().as_slice(), plan.save(), AT],
    )
    .unwrap();
    // A case closed before the upgrade: its message back is not owed now (years of
    // history must not flood the worklist).
    let mut case = case_doc(&author);
    case_file::set_status(&mut case, &author, CaseStatus::Tapering, None, AT).unwrap();
    case_file::set_status(&mut case, &author, CaseStatus::Closed, None, AT).unwrap();
    doc::commit(&mut case, &author, "closed long ago", AT);
    let closed = insert_v1_case(&conn, &mut case);
    let mut conn = conn;
    index_case(&mut conn, closed, &mut case);
    drop(conn);

    let mut store = open(dir.path(), &keys);
    let due: Option<String> = store
        .conn
        .query_row(
            "SELECT feedback_due FROM caseload WHERE case_id = ?1",
            [closed.as_bytes().as_slice()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        due.as_deref(),
        Some("closed"),
        "the index knows it was never sent"
    );
    let today = store.today();
    assert!(
        store
            .worklist(today, &Default::default())
            .unwrap()
            .is_empty(),
        "but it is from before the upgrade: not on the worklist"
    );
    let (pending, from): (bool, bool) = store
        .conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'feedback_owed_pending'),
                    EXISTS (SELECT 1 FROM meta WHERE key = 'feedback_owed_from')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (pending, from),
        (false, true),
        "the cutoff recorded once, its mark gone"
    );
    let read = store.action_plan(id).unwrap();
    let latest = read.steps[0].connection_status().unwrap();
    assert_eq!(latest.status, ConnectionStatus::Suggested);
    assert_eq!(latest.by_device, Some(device));
    let demand = store.asset_demand(None).unwrap();
    assert_eq!(demand.len(), 1);
    assert_eq!(
        (demand[0].asset, demand[0].people, demand[0].suggested),
        (asset.asset, 1, 1)
    );
}

/// A version-14 store keeps its index rows and gains the version-15 indexes without a
/// rebuild: the caseload lists in the same order and pages from its list-order index, a
/// category lists its assets in name order from the copied category rows, and the indexes
/// the plan check at open reads through exist.
#[test]
fn version_14_store_pages_its_caseload_and_lists_a_category_by_name() {
    use crate::model::ids::AssetId;
    use crate::store::DirectoryQuery;

    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let conn = database_at(dir.path(), &keys, 14, DeviceId::random());
    // As a version-14 store whose indexes were built long ago: nothing to rebuild.
    conn.execute(
        "DELETE FROM meta WHERE key IN ('rebuild_indexes', 'feedback_owed_pending')",
        [],
    )
    .unwrap();
    let row = |name: &str, follow_up: Option<&str>, status: &str| {
        let id = DocumentId::random();
        conn.execute(
            "INSERT INTO caseload (case_id, plan_id, patient_name, status, status_conflicted,
                 next_follow_up, open_safeguarding, session_count, updated_at)
             VALUES (?1, ?2, ?3, ?4, 0, ?5, 0, 0, ?6)",
            params![
                id.as_bytes().as_slice(),
                DocumentId::random().as_bytes().as_slice(),
                name,
                status,
                follow_up,
                AT
            ],
        )
        .unwrap();
        id
    };
    let later = row("Ada", Some("2026-12-01"), "active");
    let none = row("Bea", None, "closed");
    let sooner = row("Cal", Some("2026-11-02"), "active");
    let sooner_by_name = row("Ann", Some("2026-11-02"), "active");
    // Two assets of one category, in the version-14 shape (no name beside the category),
    // the later name first.
    let asset = |name: &str| {
        conn.execute(
            "INSERT INTO assets (directory_id, asset_id, name, capacity, status)
             VALUES (?1, ?2, ?3, 'open', 'active')",
            params![
                [9u8; 16].as_slice(),
                AssetId::random().as_bytes().as_slice(),
                name
            ],
        )
        .unwrap();
        let rowid = conn.last_insert_rowid();
        conn.execute(
            "INSERT INTO asset_categories (asset_rowid, category) VALUES (?1, 'money')",
            [rowid],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO assets_fts (rowid, name, description, categories) VALUES (?1, ?2, '', 'money')",
            params![rowid, name],
        )
        .unwrap();
    };
    asset("Welfare Rights Drop-in");
    asset("Debt Advice Line");
    drop(conn);

    let store = open(dir.path(), &keys);
    let all = store.caseload(&CaseloadFilter::default()).unwrap();
    assert_eq!(
        all.iter().map(|e| e.case_id).collect::<Vec<_>>(),
        [sooner_by_name, sooner, later, none],
        "follow-ups due first, by name within a day, no follow-up last"
    );
    let filter = CaseloadFilter::default();
    let first = store.caseload_page(&filter, 2, None).unwrap();
    assert_eq!(first, all[..2]);
    let rest = store.caseload_page(&filter, 2, first.last()).unwrap();
    assert_eq!(rest, all[2..]);
    assert!(
        store
            .caseload_page(&filter, 2, rest.last())
            .unwrap()
            .is_empty()
    );
    let plan: String = store
        .conn
        .query_row(
            "EXPLAIN QUERY PLAN SELECT case_id FROM caseload
             ORDER BY coalesce(next_follow_up, '~'), patient_name, case_id LIMIT 50",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(plan.contains("caseload_in_list_order"), "{plan}");
    let money = store
        .search_directory(&DirectoryQuery {
            category: Some("Money".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        money.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(),
        ["Debt Advice Line", "Welfare Rights Drop-in"]
    );
    for index in [
        "caseload_by_plan",
        "caseload_closed_by_change",
        "documents_by_change",
        "asset_categories_by_category",
    ] {
        let found: i64 = store
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?1",
                [index],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(found, 1, "{index}");
    }
}

/// A store from version 13 whose team enrolled a worker and revoked it: its first open folds
/// (and verifies) the whole log and keeps the fold; the next takes the kept fold and verifies
/// nothing, and comes to the same team.
#[test]
fn version_13_store_folds_its_membership_once_and_keeps_the_fold() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let device = DeviceId([1; 16]);
    let me = identity_in(&keys, device);
    let founded = found_team(&me, AT as u64).unwrap();
    let team = founded.team;
    let url = "https://relay.example.org";
    let mut access = founded.access.clone();
    let mut held = crate::crypto::TeamKeys::new(team);
    held.insert_epoch(1, founded.key.clone());
    let target = invites::InviteTarget {
        relay_url: url,
        relay_pin: None,
        genesis: founded.genesis.as_bytes(),
        role: Role::LinkWorker,
        plan: None,
        plan_kind: None,
    };
    let invite =
        invites::prepare_invite(&access, &held, &me, &target, 60_000, AT as u64 + 1).unwrap();
    let worker = identity_in(&MemoryKeyStore::default(), DeviceId([2; 16]));
    let redeem = invites::prepare_redeem(
        &invite.code,
        &invite.entry,
        founded.genesis.as_bytes(),
        &worker,
        AT as u64 + 2,
    )
    .unwrap();
    access.fold(&invite.entry).unwrap();
    access.fold(&redeem.entry).unwrap();
    let revocation = crate::access::revocation::prepare_revocation(
        &access,
        &held,
        &me,
        worker.device,
        AT as u64 + 3,
    )
    .unwrap();
    let log = [
        founded.genesis.as_bytes().to_vec(),
        invite.entry.clone(),
        redeem.entry.clone(),
        revocation.entry.clone(),
    ];
    {
        let conn = database_at(dir.path(), &keys, 13, device);
        conn.execute(
            "INSERT INTO teams (id, relay_url, created_here, registered, joined_at, role,
                 membership_len, keys_cursor, cursor, head_seen)
             VALUES (?1, ?2, 1, 1, ?3, 'admin', 4, 0, 17, 20)",
            params![team.as_bytes().as_slice(), url, AT],
        )
        .unwrap();
        for (seq, bytes) in log.iter().enumerate() {
            conn.execute(
                "INSERT INTO membership (team_id, seq, bytes) VALUES (?1, ?2, ?3)",
                params![team.as_bytes().as_slice(), seq as i64, bytes],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO revocations_folded (team_id, device, cursor) VALUES (?1, ?2, 17)",
            params![
                team.as_bytes().as_slice(),
                worker.device.as_bytes().as_slice()
            ],
        )
        .unwrap();
        for (epoch, key) in [(1, founded.key.as_bytes()), (2, revocation.key.as_bytes())] {
            conn.execute(
                "INSERT INTO team_keys (team_id, epoch, doc_id, key) VALUES (?1, ?2, x'', ?3)",
                params![team.as_bytes().as_slice(), epoch, key.as_slice()],
            )
            .unwrap();
        }
    }
    let store = open(dir.path(), &keys);
    let first = store.access(team).unwrap().clone();
    assert_eq!(
        first.folded_at_open().kept,
        0,
        "nothing kept before version 14"
    );
    assert_eq!(first.folded_at_open().verified, 4);
    assert_eq!(store.epoch(team).unwrap(), 2);
    assert!(first.is_revoked(worker.device));
    assert_eq!(first.revoked_in.get(&worker.device), Some(&2));
    assert_eq!(first.refused_after.get(&worker.device), Some(&17));
    assert_eq!(store.devices(team).unwrap().len(), 2);
    assert_eq!(store.role(team).unwrap(), Some(Role::Admin));
    drop(store);
    let store = open(dir.path(), &keys);
    let again = store.access(team).unwrap();
    assert_eq!(again.folded_at_open().kept, 4, "the kept fold");
    assert_eq!(again.folded_at_open().verified, 0, "nothing verified again");
    assert_eq!(again.membership, first.membership);
    assert_eq!(again.revoked_in, first.revoked_in);
    assert_eq!(again.refused_after, first.refused_after);
    assert_eq!(store.membership_log(team).unwrap().len(), 4);
    assert_eq!(store.keys_held(team).unwrap().epochs().count(), 2);
}

#[test]
fn every_version_has_a_test_here() {
    // A tripwire: a new schema version needs a test above for the version before it, and
    // this fails until the number here is moved with it.
    assert_eq!(
        VERSION, 15,
        "schema version {VERSION}: add a migration test for the version before it"
    );
}

#[test]
fn a_store_from_a_newer_build_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let config = StoreConfig::new(dir.path(), "Sam");
    let store = Store::create(&config, &keys).unwrap();
    store.conn.pragma_update(None, "user_version", 99).unwrap();
    drop(store);
    let db = dir.path().join(DB_FILE);
    let before = std::fs::read(&db).unwrap();
    let err = Store::open(&config, &keys).unwrap_err();
    assert!(
        matches!(
            err,
            crate::Error::SchemaTooNew {
                found: 99,
                supported: VERSION
            }
        ),
        "{err:?}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before, "nothing written");
}
