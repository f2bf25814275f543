//! Sync without a network: a pretend relay (a vector of envelopes) between stores, driving
//! the sans-I/O halves of sync: sealing, acknowledging, opening and applying pages.

use std::path::Path;

use holdfast_core::access::{Roster, open_page};
use holdfast_core::crypto::TeamKeys;
use holdfast_core::model::case_file::{CaseStatus, NewPatient};
use holdfast_core::model::ids::{DeviceId, DocumentId};
use holdfast_core::{KeyStore, MemoryKeyStore, Store, StoreConfig, TeamId};
use holdfast_protocol::{
    DeviceSigningKey, EnvelopeId, EnvelopeRef, Header, Kind, PullPage, Role, SystemRandom, seal,
};

const NAME: &str = "Philomena Brackenridge";

struct Device {
    store: Store,
    keys: MemoryKeyStore,
    _dir: tempfile::TempDir,
}

fn device(person: &str) -> Device {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let store = Store::create(&StoreConfig::new(dir.path(), person), &keys).unwrap();
    Device {
        store,
        keys,
        _dir: dir,
    }
}

/// The relay's log of one team: (seq, envelope).
#[derive(Default)]
struct Log {
    items: Vec<(u64, Vec<u8>)>,
}

impl Log {
    fn append(&mut self, bytes: Vec<u8>) {
        let id = EnvelopeId::of(&bytes);
        if self.items.iter().any(|(_, b)| EnvelopeId::of(b) == id) {
            return;
        }
        let seq = self.items.len() as u64 + 1;
        self.items.push((seq, bytes));
    }

    /// Seals and "pushes" everything pending; acknowledges it all.
    fn push(&mut self, d: &mut Device, team: TeamId) -> usize {
        d.store.seal_outbox(team).unwrap();
        let pending = d.store.pending_envelopes(team, 1000, usize::MAX).unwrap();
        let mut acked = Vec::new();
        for p in pending {
            self.append(p.bytes);
            let seq = self
                .items
                .iter()
                .find(|(_, b)| EnvelopeId::of(b) == p.id)
                .map(|(s, _)| *s)
                .unwrap();
            acked.push((p.id, seq));
        }
        d.store.acknowledge(team, &acked).unwrap()
    }

    fn page(&self, after: u64) -> PullPage {
        let items: Vec<_> = self
            .items
            .iter()
            .filter(|(s, _)| *s > after)
            .cloned()
            .collect();
        PullPage {
            next: items.last().map(|(s, _)| *s).unwrap_or(after),
            items,
            more: false,
        }
    }

    fn pull(&self, d: &mut Device, team: TeamId, bootstrap: bool) -> usize {
        let cursor = d.store.team(team).unwrap().cursor;
        let page = self.page(cursor);
        let opened = open(d, team, cursor, &page);
        d.store.apply_page(team, opened, bootstrap).unwrap().applied
    }
}

/// The device's signing key, as its key store holds it (to forge what it could sign).
fn signer_of(d: &Device) -> DeviceSigningKey {
    let seed = d
        .keys
        .get(holdfast_core::crypto::DEVICE_KEY_NAME)
        .unwrap()
        .unwrap();
    DeviceSigningKey::from_seed(seed.as_slice().try_into().unwrap()).unwrap()
}

/// Opens a page with the device's own keys and its verified view of the membership.
fn open(
    d: &Device,
    team: TeamId,
    cursor: u64,
    page: &PullPage,
) -> holdfast_core::access::OpenedPage {
    let keys = d.store.keys_held(team).unwrap();
    let roster = Roster::from_access(d.store.access(team).unwrap());
    open_page(team, &keys, &roster, d.store.author().device, cursor, page).unwrap()
}

/// Copies the relay's view of the membership (the admin's full log) to `to`.
fn share_log(from: &Device, to: &mut Device, team: TeamId) {
    let log = from.store.membership_log(team).unwrap();
    let len = log.last().map(|(s, _)| s + 1).unwrap_or(0);
    to.store.apply_membership(team, &log, len).unwrap();
}

/// Enrols `new` in `team` through an invite made by `by`, as the relay would: the invite
/// and redeem entries are appended to the log, and the invite's key bundle is delivered.
pub(crate) fn enrol(
    by: &mut Device,
    new: &mut Device,
    team: TeamId,
    role: Role,
    plan: Option<DocumentId>,
) {
    let invite = by.store.prepare_invite(team, role, plan, 60_000).unwrap();
    let log = by.store.membership_log(team).unwrap();
    let genesis = log[0].1.clone();
    let prepared = new
        .store
        .prepare_redeem(&invite.code, &invite.entry, &genesis)
        .unwrap();
    new.store
        .join_team(&new.keys, &invite.code, &prepared)
        .unwrap();
    let seq = invite.expected_len;
    by.store
        .apply_membership(
            team,
            &[
                (seq, invite.entry.clone()),
                (seq + 1, prepared.entry.clone()),
            ],
            seq + 2,
        )
        .unwrap();
    share_log(by, new, team);
    let added = new
        .store
        .apply_key_bundles(team, &[(1, invite.bundle)], 1)
        .unwrap();
    assert!(added > 0);
}

fn team_of_two() -> (Device, Device, TeamId) {
    let mut a = device("Sam Okafor");
    let mut b = device("Priya Natarajan");
    let team = a.store.create_team("https://relay.invalid").unwrap();
    enrol(&mut a, &mut b, team, Role::LinkWorker, None);
    (a, b, team)
}

#[test]
fn the_outbox_is_sealed_once_and_retries_resend_identical_envelopes() {
    let (mut a, _b, team) = team_of_two();
    let case = a.store.create_case_file(NewPatient::named(NAME)).unwrap();
    a.store
        .set_status(case.case_id, CaseStatus::Active, None)
        .unwrap();
    let outbox = a.store.outbox_len().unwrap();
    assert_eq!(outbox, 3);

    // Two documents: two envelopes (the case's two changes share one).
    assert_eq!(a.store.seal_outbox(team).unwrap(), 2);
    assert_eq!(a.store.seal_outbox(team).unwrap(), 0, "sealed exactly once");
    let first = a.store.pending_envelopes(team, 100, usize::MAX).unwrap();
    assert_eq!(first.len(), 2);
    for p in &first {
        assert_eq!(EnvelopeId::of(&p.bytes), p.id);
        let e = EnvelopeRef::decode(&p.bytes).unwrap();
        assert_eq!(e.header.kind, Kind::ChangeBatch);
        assert_eq!(e.header.author, a.store.author().device);
        assert_eq!(e.header.epoch, 1);
    }
    // A "retry" after a crash: reopen and read the same bytes again.
    let dir = a.store.config().dir.clone();
    drop(a.store);
    a.store = Store::open(&StoreConfig::new(&dir, "Sam Okafor"), &a.keys).unwrap();
    let again = a.store.pending_envelopes(team, 100, usize::MAX).unwrap();
    assert_eq!(first, again, "byte-identical envelopes, same ids");
    assert_eq!(
        a.store.outbox_len().unwrap(),
        outbox,
        "nothing removed before an ack"
    );

    // Batches respect the count limit, oldest first.
    assert_eq!(
        a.store.pending_envelopes(team, 1, usize::MAX).unwrap(),
        first[..1]
    );
    // Unknown ids are ignored; acknowledged ones go with their outbox rows.
    assert_eq!(
        a.store
            .acknowledge(team, &[(EnvelopeId([9; 32]), 1)])
            .unwrap(),
        0
    );
    assert_eq!(a.store.acknowledge(team, &[(first[0].id, 1)]).unwrap(), 1);
    let status = a.store.sync_status(team).unwrap();
    assert!(status.pending_outbox > 0 && !status.everything_uploaded);
    assert_eq!(a.store.acknowledge(team, &[(first[1].id, 2)]).unwrap(), 1);
    let status = a.store.sync_status(team).unwrap();
    assert_eq!(status.pending_outbox, 0);
    assert!(status.everything_uploaded);
    assert!(status.last_push_at.is_some());
}

#[test]
fn pages_apply_in_one_go_and_concurrent_edits_converge_with_the_conflict_visible() {
    let (mut a, mut b, team) = team_of_two();
    let mut log = Log::default();
    let case = a.store.create_case_file(NewPatient::named(NAME)).unwrap();
    a.store
        .set_status(case.case_id, CaseStatus::Active, None)
        .unwrap();
    log.push(&mut a, team);
    assert_eq!(log.pull(&mut b, team, false), 2);
    // B now lists the case from its own index.
    let caseload = b.store.caseload(&Default::default()).unwrap();
    assert_eq!(caseload.len(), 1);
    assert_eq!(caseload[0].patient_name, NAME);
    assert_eq!(b.store.document_team(case.case_id).unwrap(), Some(team));

    // Both move the case concurrently, offline.
    a.store
        .set_status(case.case_id, CaseStatus::Holding, Some("waiting"))
        .unwrap();
    b.store
        .set_status(case.case_id, CaseStatus::Tapering, None)
        .unwrap();
    log.push(&mut a, team);
    log.push(&mut b, team);
    log.pull(&mut a, team, false);
    log.pull(&mut b, team, false);
    assert_eq!(
        a.store.heads(case.case_id).unwrap(),
        b.store.heads(case.case_id).unwrap()
    );
    for d in [&mut a, &mut b] {
        let file = d.store.case_file(case.case_id).unwrap();
        assert!(file.status.is_conflicted(), "the conflict stays visible");
        assert!(d.store.caseload(&Default::default()).unwrap()[0].status_conflicted);
        // The cursor passed own envelopes too.
        assert_eq!(d.store.team(team).unwrap().cursor, log.items.len() as u64);
    }
    // While it stays contested, a visit is still recorded (found by the simulation: a
    // session was refused with Conflict), and the status stays contested.
    let session = holdfast_core::model::case_file::NewSession {
        start: 1_767_603_600_000,
        duration_minutes: 30,
        mode: holdfast_core::model::case_file::SessionMode::Phone,
        attended: true,
        note: "Talked about the lunch club.".into(),
        holding_functions: vec![],
        follow_up: None,
    };
    a.store.record_session(case.case_id, &session).unwrap();
    assert!(
        a.store
            .case_file(case.case_id)
            .unwrap()
            .status
            .is_conflicted()
    );
    // Pulling the same page again changes nothing.
    let before = a.store.heads(case.case_id).unwrap();
    let opened = open(&a, team, 0, &log.page(0));
    let outcome = a.store.apply_page(team, opened, false).unwrap();
    assert_eq!(outcome.applied, 0);
    assert_eq!(a.store.heads(case.case_id).unwrap(), before);
}

fn forged(
    team: TeamId,
    doc: holdfast_core::model::ids::DocumentId,
    author: DeviceId,
    signer: &DeviceSigningKey,
    keys: &TeamKeys,
    plaintext: &[u8],
) -> Vec<u8> {
    forged_as(
        Kind::ChangeBatch,
        team,
        doc,
        author,
        signer,
        keys,
        plaintext,
    )
}

/// [`forged`], of any kind.
fn forged_as(
    kind: Kind,
    team: TeamId,
    doc: holdfast_core::model::ids::DocumentId,
    author: DeviceId,
    signer: &DeviceSigningKey,
    keys: &TeamKeys,
    plaintext: &[u8],
) -> Vec<u8> {
    let header = Header {
        kind,
        team,
        document: doc,
        epoch: 1,
        author,
        covers: 0,
        nonce: Header::random_nonce(&SystemRandom::new()).unwrap(),
    };
    let key = keys.key_for(doc, 1).unwrap();
    seal(&header, &key, plaintext, signer).unwrap()
}

#[test]
fn bad_envelopes_are_refused_recorded_and_skipped_without_stopping_the_page() {
    let (mut a, mut b, team) = team_of_two();
    let mut log = Log::default();
    let case = a.store.create_case_file(NewPatient::named(NAME)).unwrap();
    a.store.seal_outbox(team).unwrap();
    let good = a.store.pending_envelopes(team, 100, usize::MAX).unwrap();
    let secret = a.store.keys_held(team).unwrap();
    let rng = SystemRandom::new();
    let stranger = DeviceSigningKey::generate(&rng).unwrap();

    // 1. A flipped bit in the ciphertext.
    let mut flipped = good[0].bytes.clone();
    flipped[100] ^= 1;
    log.append(flipped);
    // 2. Signed by a stranger in A's name.
    log.append(forged(
        team,
        case.case_id,
        a.store.author().device,
        &stranger,
        &secret,
        b"x",
    ));
    // 4. From another team (replayed across teams).
    let other_team = TeamId::random();
    let mut other = TeamKeys::new(other_team);
    other.insert_epoch(1, holdfast_protocol::EpochKey::from_bytes([4; 32]));
    let other_env = {
        let header = Header {
            kind: Kind::ChangeBatch,
            team: other_team,
            document: case.case_id,
            epoch: 1,
            author: a.store.author().device,
            covers: 0,
            nonce: Header::random_nonce(&rng).unwrap(),
        };
        let key = other.key_for(case.case_id, 1).unwrap();
        // Signed by A's real key is not possible from here; a stranger's is enough: the
        // team check comes first.
        seal(&header, &key, b"x", &stranger).unwrap()
    };
    // A page holding it is not this team's page at all: refused whole, nothing applied.
    {
        let mut replayed = Log::default();
        replayed.append(other_env);
        let keys = b.store.keys_held(team).unwrap();
        let roster = Roster::from_access(b.store.access(team).unwrap());
        let err = open_page(
            team,
            &keys,
            &roster,
            b.store.author().device,
            0,
            &replayed.page(0),
        )
        .unwrap_err();
        assert!(
            matches!(&err, holdfast_core::Error::Unverified { reason, .. } if reason.contains("team")),
            "{err:?}"
        );
    }
    // 5. Then the genuine envelopes: they apply.
    for p in &good {
        log.append(p.bytes.clone());
    }
    // 6. An author this device has not seen enrolled (yet): the page stops before it, and
    //    it is neither applied nor refused: the next pull, after membership, meets it again.
    log.append(forged(
        team,
        case.case_id,
        DeviceId([5; 16]),
        &stranger,
        &secret,
        b"x",
    ));
    assert_eq!(log.pull(&mut b, team, false), good.len());
    let refused = b.store.refused_envelopes(team).unwrap();
    let reasons: Vec<&str> = refused.iter().map(|x| x.reason.as_str()).collect();
    assert_eq!(refused.len(), 2, "{reasons:?}");
    assert!(reasons[0].contains("signature"), "{reasons:?}");
    assert!(reasons[1].contains("signature"), "{reasons:?}");
    assert!(reasons.iter().all(|r| !r.contains(NAME)));
    assert_eq!(b.store.case_file(case.case_id).unwrap().patient.name, NAME);
    let last = log.items.len() as u64;
    let cursor = b.store.team(team).unwrap().cursor;
    assert_eq!(
        cursor,
        last - 1,
        "the cursor stops before the unknown author's envelope"
    );
    assert_eq!(
        open(&b, team, cursor, &log.page(cursor)).blocked,
        Some(last)
    );
    assert_eq!(b.store.sync_status(team).unwrap().refused_envelopes, 2);
    let err = refused[0].clone();
    assert!(
        holdfast_core::Error::BadEnvelope {
            id: err.id.to_string(),
            reason: err.reason
        }
        .to_string()
        .contains("refused")
    );
}

/// SECURITY.md G10: a snapshot stands in for history on new devices, so it must not claim
/// to cover an envelope its author refused: the new device would never see it.
#[test]
fn a_snapshot_covers_only_up_to_the_first_envelope_its_author_refused() {
    let (mut a, mut b, team) = team_of_two();
    let mut log = Log::default();
    let case = a.store.create_case_file(NewPatient::named(NAME)).unwrap();
    log.push(&mut a, team);
    let keys = a.store.keys_held(team).unwrap();
    let stranger = DeviceSigningKey::generate(&SystemRandom::new()).unwrap();
    let author = a.store.author().device;
    log.append(forged(team, case.case_id, author, &stranger, &keys, b"x"));
    let refused_at = log.items.len() as u64;
    for to in [CaseStatus::Active, CaseStatus::Holding, CaseStatus::Active] {
        a.store.set_status(case.case_id, to, None).unwrap();
        log.push(&mut a, team);
    }
    log.pull(&mut b, team, false);
    let cursor = b.store.team(team).unwrap().cursor;
    assert_eq!(cursor, log.items.len() as u64, "B applied the rest");
    let refused = b.store.refused_envelopes(team).unwrap();
    assert_eq!(
        refused.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [refused_at]
    );

    // B works on the case (so it is due a snapshot) and on a case of its own.
    b.store
        .set_status(case.case_id, CaseStatus::Holding, None)
        .unwrap();
    let own = b
        .store
        .create_case_file(NewPatient::named("Jo Whitfield"))
        .unwrap();
    assert!(b.store.queue_snapshots(team, 1).unwrap() >= 2);
    let covers: std::collections::HashMap<DocumentId, u64> = b
        .store
        .pending_envelopes(team, 100, usize::MAX)
        .unwrap()
        .iter()
        .filter_map(|p| {
            let e = EnvelopeRef::decode(&p.bytes).unwrap();
            (e.header.kind == Kind::Snapshot).then_some((e.header.document, e.header.covers))
        })
        .collect();
    assert_eq!(
        covers[&case.case_id],
        refused_at - 1,
        "the case file's snapshot stops before the refused envelope"
    );
    assert_eq!(
        covers[&own.case_id], cursor,
        "a document with nothing refused is covered to the cursor"
    );
}

fn reopen(d: &mut Device, dir: &Path) {
    let person = d.store.author().person.clone();
    d.store = Store::open(&StoreConfig::new(dir, &person), &d.keys).unwrap();
}

#[test]
fn a_new_device_bootstraps_from_a_snapshot_and_later_changes() {
    let (mut a, _b, team) = team_of_two();
    let mut log = Log::default();
    let case = a.store.create_case_file(NewPatient::named(NAME)).unwrap();
    for i in 0..12 {
        let to = if i % 2 == 0 {
            CaseStatus::Active
        } else {
            CaseStatus::Holding
        };
        a.store.set_status(case.case_id, to, None).unwrap();
    }
    log.push(&mut a, team);
    // A pulls its own envelopes (cursor moves), then snapshots what grew past 10 changes.
    log.pull(&mut a, team, false);
    assert_eq!(a.store.queue_snapshots(team, 10).unwrap(), 1);
    assert_eq!(
        a.store.queue_snapshots(team, 10).unwrap(),
        0,
        "counter reset"
    );
    log.push(&mut a, team);
    a.store
        .set_status(case.case_id, CaseStatus::Active, None)
        .unwrap();
    log.push(&mut a, team);

    let snapshot = log
        .items
        .iter()
        .find_map(|(_, b)| {
            let e = EnvelopeRef::decode(b).unwrap();
            (e.header.kind == Kind::Snapshot).then_some(e.header.covers)
        })
        .unwrap();
    assert_eq!(
        snapshot, 2,
        "covers the cursor at the time: two change batches"
    );

    // C joins and receives what a relay's compact=1 would send: the snapshot and the last
    // change only.
    let mut c = device("Jo Whitfield");
    enrol(&mut a, &mut c, team, Role::LinkWorker, None);
    let compact: Vec<(u64, Vec<u8>)> = log.items[2..].to_vec();
    let page = PullPage {
        next: compact.last().unwrap().0,
        items: compact,
        more: false,
    };
    let opened = open(&c, team, 0, &page);
    let outcome = c.store.apply_page(team, opened, true).unwrap();
    assert_eq!(
        outcome.new_documents, 1,
        "the plan is in another snapshot-less batch"
    );
    assert_eq!(
        c.store.heads(case.case_id).unwrap(),
        a.store.heads(case.case_id).unwrap()
    );
    let dir = c.store.config().dir.clone();
    reopen(&mut c, &dir);
    assert_eq!(
        c.store.case_file(case.case_id).unwrap(),
        a.store.case_file(case.case_id).unwrap()
    );
    assert_eq!(c.store.caseload(&Default::default()).unwrap().len(), 1);
}

/// A new document that arrives as one snapshot is stored as it came (not saved again); one
/// whose bytes load only leniently (a snapshot with junk after it) is saved as this device
/// loaded it. Either way the store opens again with the document whole.
#[test]
fn a_document_that_arrives_as_one_snapshot_is_stored_as_it_came_and_reopens() {
    let (mut a, _b, team) = team_of_two();
    let mut log = Log::default();
    let case = a.store.create_case_file(NewPatient::named(NAME)).unwrap();
    a.store
        .set_status(case.case_id, CaseStatus::Active, None)
        .unwrap();
    log.push(&mut a, team);
    log.pull(&mut a, team, false);
    assert_eq!(a.store.queue_snapshots(team, 1).unwrap(), 2);
    log.push(&mut a, team);
    // The snapshots alone, as a compact pull serves them.
    let snapshots: Vec<(u64, Vec<u8>)> = log
        .items
        .iter()
        .filter(|(_, b)| EnvelopeRef::decode(b).unwrap().header.kind == Kind::Snapshot)
        .cloned()
        .collect();
    assert_eq!(snapshots.len(), 2);
    let page = PullPage {
        next: snapshots.last().unwrap().0,
        items: snapshots.clone(),
        more: false,
    };
    let mut c = device("Jo Whitfield");
    enrol(&mut a, &mut c, team, Role::LinkWorker, None);
    let opened = open(&c, team, 0, &page);
    assert_eq!(opened.items[0].kind, Kind::Snapshot);
    let outcome = c.store.apply_page(team, opened, true).unwrap();
    assert_eq!(outcome.new_documents, 2);
    let dir = c.store.config().dir.clone();
    reopen(&mut c, &dir);
    assert_eq!(
        c.store.case_file(case.case_id).unwrap(),
        a.store.case_file(case.case_id).unwrap()
    );
    assert_eq!(
        c.store.heads(case.case_id).unwrap(),
        a.store.heads(case.case_id).unwrap()
    );

    // The same document with junk after it, in a snapshot A signs: Automerge loads it
    // leniently but not strictly, so it is saved again as loaded, and reopens whole.
    let mut junk = a.store.export_document(case.case_id).unwrap().bytes;
    junk.extend_from_slice(&[0x85, 0x6f, 0x4a, 0x83, 0xff, 0x00]);
    assert!(
        automerge::AutoCommit::load(&junk).is_err(),
        "strictly, junk"
    );
    assert!(automerge::AutoCommit::new().load_incremental(&junk).is_ok());
    let envelope = forged_as(
        Kind::Snapshot,
        team,
        case.case_id,
        a.store.author().device,
        &signer_of(&a),
        &a.store.keys_held(team).unwrap(),
        &junk,
    );
    let mut d = device("Ravi Menon");
    enrol(&mut a, &mut d, team, Role::LinkWorker, None);
    let page = PullPage {
        next: 1,
        items: vec![(1, envelope)],
        more: false,
    };
    let opened = open(&d, team, 0, &page);
    assert_eq!(
        d.store
            .apply_page(team, opened, true)
            .unwrap()
            .new_documents,
        1
    );
    let dir = d.store.config().dir.clone();
    reopen(&mut d, &dir);
    assert_eq!(
        d.store.heads(case.case_id).unwrap(),
        a.store.heads(case.case_id).unwrap()
    );
}

/// Delivers a revocation as the relay would: appends the entry, hands each remaining
/// device its bundle.
fn revoke(admin: &mut Device, others: &mut [&mut Device], team: TeamId, device: DeviceId) -> u32 {
    let r = admin.store.prepare_revocation(team, device).unwrap();
    let seq = r.expected_len;
    admin.store.revocation_accepted(team, &r).unwrap();
    admin
        .store
        .apply_membership(team, &[(seq, r.entry.clone())], seq + 1)
        .unwrap();
    for d in others.iter_mut() {
        share_log(admin, d, team);
        let me = d.store.author().device;
        let mine: Vec<(u64, Vec<u8>)> = r
            .bundles
            .iter()
            .filter(|b| {
                holdfast_protocol::KeyBundle::decode(b)
                    .unwrap()
                    .header
                    .recipient
                    == me.0
            })
            .map(|b| (100, b.clone()))
            .collect();
        assert_eq!(mine.len(), 1, "one bundle for each remaining device");
        d.store.apply_key_bundles(team, &mine, 100).unwrap();
    }
    assert!(
        r.bundles.iter().all(|b| {
            holdfast_protocol::KeyBundle::decode(b)
                .unwrap()
                .header
                .recipient
                != device.0
        }),
        "no bundle for the revoked device"
    );
    r.epoch
}

#[test]
fn a_patient_holds_only_its_plans_keys_and_refuses_everything_else() {
    let (mut a, _b, team) = team_of_two();
    let case = a.store.create_case_file(NewPatient::named(NAME)).unwrap();
    let other = a
        .store
        .create_case_file(NewPatient::named("Other Person"))
        .unwrap();
    let mut p = device("Patient phone");
    enrol(&mut a, &mut p, team, Role::Patient, Some(case.plan_id));
    assert_eq!(p.store.role(team).unwrap(), Some(Role::Patient));
    let held = p.store.keys_held(team).unwrap();
    assert!(held.key_for(case.plan_id, 1).is_ok());
    for doc in [case.case_id, other.plan_id, other.case_id] {
        assert!(held.key_for(doc, 1).is_err(), "no key for {doc}");
    }
    // Handed every envelope of the team, it applies only its plan.
    let mut log = Log::default();
    log.push(&mut a, team);
    let applied = log.pull(&mut p, team, true);
    assert!(applied >= 1);
    assert!(p.store.action_plan(case.plan_id).is_ok());
    assert!(p.store.case_file(case.case_id).is_err());
    assert!(p.store.action_plan(other.plan_id).is_err());
    assert!(p.store.caseload(&Default::default()).unwrap().is_empty());
    let refused = p.store.refused_envelopes(team).unwrap();
    assert!(
        refused.iter().all(|r| r.reason.contains("not granted")),
        "{refused:?}"
    );
    // A patient cannot invite or revoke.
    assert!(
        p.store
            .prepare_invite(team, Role::Patient, Some(case.plan_id), 1000)
            .is_err()
    );
    assert!(
        p.store
            .prepare_revocation(team, a.store.author().device)
            .is_err()
    );
    // A link worker cannot invite an admin or a supervisor: refused before any request.
    let mut lw = device("Second link worker");
    enrol(&mut a, &mut lw, team, Role::LinkWorker, None);
    for role in [Role::Admin, Role::Supervisor] {
        let err = lw.store.prepare_invite(team, role, None, 1000).unwrap_err();
        assert!(err.to_string().contains("not allowed"), "{err}");
        // A refusal the person can act on, not a wire-format error or a bug.
        assert!(
            matches!(err, holdfast_core::Error::NotAllowed(_)),
            "{err:?}"
        );
    }
    // Nor revoke the team's only admin (nobody may).
    let err = lw
        .store
        .prepare_revocation(team, a.store.author().device)
        .unwrap_err();
    assert!(
        matches!(err, holdfast_core::Error::NotAllowed(_)),
        "{err:?}"
    );
    let err = a
        .store
        .prepare_revocation(team, a.store.author().device)
        .unwrap_err();
    assert!(
        matches!(err, holdfast_core::Error::NotAllowed(_)),
        "{err:?}"
    );
}

#[test]
fn after_revocation_new_content_is_sealed_under_keys_the_revoked_device_never_had() {
    let (mut a, mut b, team) = team_of_two();
    let mut c = device("Jo Whitfield");
    enrol(&mut a, &mut c, team, Role::LinkWorker, None);
    share_log(&a, &mut b, team);
    let case = a.store.create_case_file(NewPatient::named(NAME)).unwrap();
    let mut log = Log::default();
    log.push(&mut a, team);
    log.pull(&mut b, team, false);
    log.pull(&mut c, team, false);
    let stolen = b.store.keys_held(team).unwrap();
    // c edits offline and seals, but has not pushed when the revocation happens.
    c.store
        .set_status(case.case_id, CaseStatus::Active, None)
        .unwrap();
    assert_eq!(c.store.seal_outbox(team).unwrap(), 1);

    // b's phone is lost: the admin revokes it.
    let epoch = revoke(&mut a, &mut [&mut c], team, b.store.author().device);
    assert_eq!(epoch, 2);
    assert_eq!(a.store.epoch(team).unwrap(), 2);
    a.store
        .set_status(
            case.case_id,
            CaseStatus::Active,
            Some("after the revocation"),
        )
        .unwrap();
    let before = log.items.len();
    log.push(&mut a, team);
    let fresh: Vec<Vec<u8>> = log.items[before..].iter().map(|(_, b)| b.clone()).collect();
    assert!(!fresh.is_empty());
    for bytes in &fresh {
        let e = EnvelopeRef::decode(bytes).unwrap();
        assert_eq!(e.header.epoch, 2);
        let doc = e.header.document;
        // Every key the revoked device ever held, at every epoch it knew, fails.
        assert!(stolen.key_for(doc, 2).is_err());
        for (held_epoch, _) in stolen.epochs() {
            let k = stolen.key_for(doc, held_epoch).unwrap();
            assert!(e.open(&a.store.device_public_key(), &k).is_err());
        }
    }
    // c, still in the team, reads it; old content stays readable.
    log.pull(&mut c, team, false);
    let c_heads = c.store.heads(case.case_id).unwrap();
    for h in a.store.heads(case.case_id).unwrap() {
        assert!(c_heads.contains(&h), "c has everything a wrote");
    }
    // Anything the revoked device seals at the new epoch is refused by the others.
    let forged_env = {
        let header = Header {
            kind: Kind::ChangeBatch,
            team,
            document: case.case_id,
            epoch: 2,
            author: b.store.author().device,
            covers: 0,
            nonce: Header::random_nonce(&SystemRandom::new()).unwrap(),
        };
        // Even with the right key (it cannot have it), its authorship is refused.
        let key = a
            .store
            .keys_held(team)
            .unwrap()
            .key_for(case.case_id, 2)
            .unwrap();
        let signer = DeviceSigningKey::generate(&SystemRandom::new()).unwrap();
        seal(&header, &key, b"x", &signer).unwrap()
    };
    log.append(forged_env);
    log.pull(&mut c, team, false);
    let reasons: Vec<String> = c
        .store
        .refused_envelopes(team)
        .unwrap()
        .into_iter()
        .map(|r| r.reason)
        .collect();
    assert!(reasons.iter().any(|r| r.contains("revoked")), "{reasons:?}");
    // c's envelope sealed before the revocation is resealed at epoch 2 (its change stays
    // in the outbox throughout).
    assert_eq!(c.store.reseal_stale(team).unwrap(), 1);
    assert_eq!(c.store.seal_outbox(team).unwrap(), 1);
    let pending = c.store.pending_envelopes(team, 10, usize::MAX).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        EnvelopeRef::decode(&pending[0].bytes).unwrap().header.epoch,
        2
    );
}

#[test]
fn a_forged_membership_entry_or_altered_invite_changes_nothing() {
    let (mut a, mut b, team) = team_of_two();
    // The relay invents an entry: an admin invite signed by a key that is not an admin's.
    let stranger = DeviceSigningKey::generate(&SystemRandom::new()).unwrap();
    let invite = holdfast_protocol::InviteCode::generate(
        &SystemRandom::new(),
        "https://relay.invalid",
        team,
        [0; 16],
        Role::Admin,
        None,
        u64::MAX,
    )
    .unwrap();
    let entry = holdfast_protocol::Entry::sign(
        team,
        1,
        DeviceId::random().0,
        holdfast_protocol::Op::Invite {
            invite: invite.id(),
            sign_key: invite.signing_key().unwrap().public_key(),
            hpke_key: invite.hpke_key().unwrap().public_key().clone(),
            role: Role::Admin,
            plan: None,
            expires_at_ms: u64::MAX,
        },
        &stranger,
    )
    .unwrap();
    let before = b.store.membership_log(team).unwrap();
    let len = before.len() as u64;
    let err = b
        .store
        .apply_membership(team, &[(len, entry.as_bytes().to_vec())], len + 1)
        .unwrap_err();
    // The relay served it: reported as the relay's, not as a refusal of this device.
    assert!(
        matches!(&err, holdfast_core::Error::Unverified { what, .. } if what.contains("membership entry")),
        "{err:?}"
    );
    assert_eq!(b.store.membership_log(team).unwrap(), before);

    // An invite code altered to claim a higher role is refused before anything is sent.
    let real = a
        .store
        .prepare_invite(team, Role::LinkWorker, None, 60_000)
        .unwrap();
    let genesis = a.store.membership_log(team).unwrap()[0].1.clone();
    let text = real.code.encode();
    let mut altered = holdfast_protocol::InviteCode::decode(&text).unwrap();
    altered.role = Role::Admin;
    let newcomer = device("Newcomer");
    let err = newcomer
        .store
        .prepare_redeem(&altered, &real.entry, &genesis)
        .unwrap_err();
    assert!(
        matches!(err, holdfast_core::Error::InviteRefused(_)),
        "{err}"
    );
    // And a code for a look-alike team (another genesis) too.
    let mut elsewhere = device("Elsewhere");
    let fake_team = elsewhere
        .store
        .create_team("https://relay.invalid")
        .unwrap();
    let fake_genesis = elsewhere.store.membership_log(fake_team).unwrap()[0]
        .1
        .clone();
    assert!(
        newcomer
            .store
            .prepare_redeem(&real.code, &real.entry, &fake_genesis)
            .is_err()
    );
    assert!(newcomer.store.teams().unwrap().is_empty());
    let _ = &mut a;
}

#[test]
fn a_link_worker_in_two_teams_keeps_them_apart_and_bridges_a_shared_directory() {
    let mut a = device("Admin of A");
    let mut b = device("Admin of B");
    let mut lw = device("Link worker in both");
    let team_a = a.store.create_team("https://relay-a.invalid").unwrap();
    let team_b = b.store.create_team("https://relay-b.invalid").unwrap();
    enrol(&mut a, &mut lw, team_a, Role::LinkWorker, None);
    enrol(&mut b, &mut lw, team_b, Role::LinkWorker, None);
    let (mut log_a, mut log_b) = (Log::default(), Log::default());

    // Separate keys.
    let (ka, kb) = (
        lw.store.keys_held(team_a).unwrap(),
        lw.store.keys_held(team_b).unwrap(),
    );
    let probe = DocumentId::random();
    assert_ne!(
        ka.key_for(probe, 1).unwrap().as_bytes(),
        kb.key_for(probe, 1).unwrap().as_bytes()
    );

    // Separate caseloads and cursors.
    let case_a = a
        .store
        .create_case_file(NewPatient::named("Patient of A"))
        .unwrap();
    let case_b = b
        .store
        .create_case_file(NewPatient::named("Patient of B"))
        .unwrap();
    log_a.push(&mut a, team_a);
    log_b.push(&mut b, team_b);
    log_a.pull(&mut lw, team_a, false);
    log_b.pull(&mut lw, team_b, false);
    let only = |team| holdfast_core::store::CaseloadFilter {
        team: Some(team),
        ..Default::default()
    };
    let in_a = lw.store.caseload(&only(team_a)).unwrap();
    let in_b = lw.store.caseload(&only(team_b)).unwrap();
    assert_eq!((in_a.len(), in_b.len()), (1, 1));
    assert_eq!(in_a[0].case_id, case_a.case_id);
    assert_eq!(in_b[0].case_id, case_b.case_id);
    assert_eq!(lw.store.caseload(&Default::default()).unwrap().len(), 2);
    assert_eq!(lw.store.team(team_a).unwrap().cursor, 2);
    assert_eq!(lw.store.team(team_b).unwrap().cursor, 2);
    // A case file is never shared into another team.
    assert!(lw.store.share_document(case_a.case_id, team_b).is_err());

    // One directory, shared by both teams: the link worker bridges it.
    let dir = lw.store.create_directory("Leeds").unwrap();
    let asset = |name: &str| holdfast_core::model::directory::AssetInput {
        name: name.into(),
        ..Default::default()
    };
    lw.store
        .upsert_asset(dir, None, &asset("Walking group"))
        .unwrap();
    assert!(lw.store.share_document(dir, team_b).unwrap() > 0);
    assert_eq!(lw.store.document_teams(dir).unwrap(), vec![team_a, team_b]);
    log_a.push(&mut lw, team_a);
    log_b.push(&mut lw, team_b);
    log_a.pull(&mut a, team_a, false);
    log_b.pull(&mut b, team_b, false);
    // B's admin adds an asset; it reaches A through the link worker's device.
    b.store
        .upsert_asset(dir, None, &asset("Men's shed"))
        .unwrap();
    log_b.push(&mut b, team_b);
    log_b.pull(&mut lw, team_b, false);
    log_a.push(&mut lw, team_a);
    log_a.pull(&mut a, team_a, false);
    // And A's edits reach B the same way.
    a.store.upsert_asset(dir, None, &asset("Choir")).unwrap();
    log_a.push(&mut a, team_a);
    log_a.pull(&mut lw, team_a, false);
    log_b.push(&mut lw, team_b);
    log_b.pull(&mut b, team_b, false);
    let heads = lw.store.heads(dir).unwrap();
    assert_eq!(a.store.heads(dir).unwrap(), heads);
    assert_eq!(b.store.heads(dir).unwrap(), heads);
    let names = |d: &mut Device| {
        let mut n: Vec<String> = d
            .store
            .export()
            .unwrap()
            .directories
            .into_iter()
            .flat_map(|(_, _, assets)| assets.into_iter().map(|x| x.fields.name))
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&mut a), ["Choir", "Men's shed", "Walking group"]);
    assert_eq!(names(&mut b), names(&mut a));
    // Neither admin learnt anything of the other team's caseload.
    assert!(a.store.case_file(case_b.case_id).is_err());
    assert!(b.store.case_file(case_a.case_id).is_err());
    // Everything the link worker owed either team has gone up.
    assert!(lw.store.sync_status(team_a).unwrap().everything_uploaded);
    assert!(lw.store.sync_status(team_b).unwrap().everything_uploaded);
}

/// The membership log as the relay shows it to patient device `p`: without the entries
/// about other patients.
fn share_filtered_log(admin: &Device, p: &mut Device, team: TeamId) {
    let log = admin.store.membership_log(team).unwrap();
    let len = log.last().map(|(s, _)| s + 1).unwrap_or(0);
    let own_invite = p.store.access(team).unwrap().invite;
    let mut fold = holdfast_protocol::Membership::new(team);
    let mut shown = Vec::new();
    for (seq, bytes) in log {
        let entry = holdfast_protocol::Entry::decode(&bytes).unwrap();
        let subject = entry.patient_subject(&fold);
        fold.apply(&entry).unwrap();
        if subject.is_none() || subject == own_invite {
            shown.push((seq, bytes));
        }
    }
    p.store.apply_membership(team, &shown, len).unwrap();
}

#[test]
fn un_sharing_one_plan_moves_every_patient_to_the_new_epoch_and_planted_keys_are_refused() {
    let (mut a, mut b, team) = team_of_two();
    let first = a
        .store
        .create_case_file(NewPatient::named("First Patient"))
        .unwrap();
    let second = a
        .store
        .create_case_file(NewPatient::named("Second Patient"))
        .unwrap();
    let mut p1 = device("First patient's phone");
    let mut p2 = device("Second patient's phone");
    enrol(&mut a, &mut p1, team, Role::Patient, Some(first.plan_id));
    enrol(&mut a, &mut p2, team, Role::Patient, Some(second.plan_id));

    // Before being revoked, b plants its own key for the next epoch with a colleague.
    let c_hpke = a.store.device_hpke_public_key();
    let planted = holdfast_protocol::KeyBundle::seal(
        holdfast_protocol::BundleHeader {
            team,
            recipient: a.store.author().device.0,
            sender: b.store.author().device,
            at_ms: 1,
        },
        &c_hpke,
        &[holdfast_protocol::WrappedKey::Epoch {
            epoch: 2,
            key: holdfast_protocol::EpochKey::from_bytes([0xbb; 32]),
        }],
        &signer_of(&b),
    )
    .unwrap();

    // The link worker un-shares the first plan: p1 is revoked, the team moves to epoch 2.
    let r = a
        .store
        .prepare_revocation(team, p1.store.author().device)
        .unwrap();
    let seq = r.expected_len;
    a.store.revocation_accepted(team, &r).unwrap();
    a.store
        .apply_membership(team, &[(seq, r.entry.clone())], seq + 1)
        .unwrap();
    // p2's view of the log does not show p1's revocation...
    share_filtered_log(&a, &mut p2, team);
    assert_eq!(p2.store.access(team).unwrap().membership.epoch, 1);
    // ...but its bundle of the new epoch's plan key moves it on: it seals at epoch 2.
    let me = p2.store.author().device;
    let mine: Vec<(u64, Vec<u8>)> = r
        .bundles
        .iter()
        .filter(|x| {
            holdfast_protocol::KeyBundle::decode(x)
                .unwrap()
                .header
                .recipient
                == me.0
        })
        .map(|x| (7, x.clone()))
        .collect();
    assert_eq!(p2.store.apply_key_bundles(team, &mine, 7).unwrap(), 1);
    assert_eq!(p2.store.epoch(team).unwrap(), 2);
    // The plan (sealed by a at epoch 2, since it went up after the revocation) reaches p2.
    let mut log = Log::default();
    log.push(&mut a, team);
    log.pull(&mut p2, team, true);
    p2.store
        .add_plan_comment(second.plan_id, "walked to the allotment")
        .unwrap();
    assert_eq!(p2.store.seal_outbox(team).unwrap(), 1);
    let pending = p2.store.pending_envelopes(team, 10, usize::MAX).unwrap();
    assert_eq!(
        EnvelopeRef::decode(&pending[0].bytes).unwrap().header.epoch,
        2
    );

    // The key b planted does not match the log's commitment: a colleague skips it (and the
    // sync goes on); the real one, from the revocation, is what seals new content.
    share_log(&a, &mut b, team);
    let real = a
        .store
        .keys_held(team)
        .unwrap()
        .key_for(first.case_id, 2)
        .unwrap();
    assert_eq!(
        a.store
            .apply_key_bundles(team, &[(9, planted.clone())], 9)
            .unwrap(),
        0
    );
    assert_eq!(
        a.store
            .keys_held(team)
            .unwrap()
            .key_for(first.case_id, 2)
            .unwrap()
            .as_bytes(),
        real.as_bytes()
    );
    // A fresh colleague who gets the planted bundle first still refuses it.
    let mut c = device("New colleague");
    enrol(&mut a, &mut c, team, Role::LinkWorker, None);
    assert!(
        c.store
            .keys_held(team)
            .unwrap()
            .key_for(first.case_id, 2)
            .is_ok()
    );
    assert_eq!(
        c.store
            .keys_held(team)
            .unwrap()
            .key_for(first.case_id, 2)
            .unwrap()
            .as_bytes(),
        real.as_bytes()
    );
    let _ = p1;
}

#[test]
fn after_joining_a_relay_cannot_swap_in_a_team_of_its_own() {
    let mut a = device("Admin");
    let team = a.store.create_team("https://relay.invalid").unwrap();
    let invite = a
        .store
        .prepare_invite(team, Role::LinkWorker, None, 60_000)
        .unwrap();
    let genesis = a.store.membership_log(team).unwrap()[0].1.clone();
    let mut newcomer = device("Newcomer");
    let redeem = newcomer
        .store
        .prepare_redeem(&invite.code, &invite.entry, &genesis)
        .unwrap();
    newcomer
        .store
        .join_team(&newcomer.keys, &invite.code, &redeem)
        .unwrap();
    // The checked genesis is already the first entry of the newcomer's log.
    assert_eq!(
        newcomer.store.membership_log(team).unwrap(),
        vec![(0, genesis)]
    );

    // The relay now serves a log of its own: its genesis (same team id, its key), an
    // Invite for the same invite id signed by that fake admin, the genuine Redeem.
    let fake_team_genesis = {
        let key = holdfast_protocol::EpochKey::from_bytes([6; 32]);
        let signer = DeviceSigningKey::from_seed([9; 32]).unwrap();
        let hpke = holdfast_protocol::HpkeKeyPair::from_seed([9; 32]).unwrap();
        let id = holdfast_protocol::DeviceId([9; 16]);
        let genesis = holdfast_protocol::Entry::sign(
            team,
            1,
            id.0,
            holdfast_protocol::Op::Genesis {
                device: id,
                sign_key: signer.public_key(),
                hpke_key: hpke.public_key().clone(),
                key_commitment: holdfast_protocol::epoch_key_commitment(&team, 1, &key),
            },
            &signer,
        )
        .unwrap();
        let invite_entry = holdfast_protocol::Entry::sign(
            team,
            2,
            id.0,
            holdfast_protocol::Op::Invite {
                invite: invite.code.id(),
                sign_key: invite.code.signing_key().unwrap().public_key(),
                hpke_key: invite.code.hpke_key().unwrap().public_key().clone(),
                role: Role::LinkWorker,
                plan: None,
                expires_at_ms: invite.code.expires_at_ms,
            },
            &signer,
        )
        .unwrap();
        vec![
            (0, genesis.as_bytes().to_vec()),
            (1, invite_entry.as_bytes().to_vec()),
            (2, redeem.entry.clone()),
        ]
    };
    let before = newcomer.store.membership_log(team).unwrap();
    assert!(
        newcomer
            .store
            .apply_membership(team, &fake_team_genesis, 3)
            .is_err(),
        "the fake admin is not in the team the code vouched for"
    );
    assert_eq!(newcomer.store.membership_log(team).unwrap(), before);
    assert!(
        newcomer
            .store
            .keys_held(team)
            .unwrap()
            .epochs()
            .next()
            .is_none()
    );
}

#[test]
fn a_key_bundle_that_arrives_before_its_revocation_entry_waits_for_it() {
    let (mut a, b, team) = team_of_two();
    let mut c = device("Jo Whitfield");
    enrol(&mut a, &mut c, team, Role::LinkWorker, None);
    let r = a
        .store
        .prepare_revocation(team, b.store.author().device)
        .unwrap();
    let seq = r.expected_len;
    a.store.revocation_accepted(team, &r).unwrap();
    a.store
        .apply_membership(team, &[(seq, r.entry.clone())], seq + 1)
        .unwrap();
    let me = c.store.author().device;
    let mine: Vec<(u64, Vec<u8>)> = r
        .bundles
        .iter()
        .filter(|x| {
            holdfast_protocol::KeyBundle::decode(x)
                .unwrap()
                .header
                .recipient
                == me.0
        })
        .map(|x| (50, x.clone()))
        .collect();
    // The bundle first (the Revoke committed between c's two requests): kept, not lost.
    let before = c.store.keys_held(team).unwrap().epochs().count();
    assert_eq!(c.store.apply_key_bundles(team, &mine, 50).unwrap(), 0);
    assert_eq!(c.store.keys_held(team).unwrap().epochs().count(), before);
    // Then the entry, and the same bundle again: the epoch-2 key is taken.
    share_log(&a, &mut c, team);
    assert_eq!(c.store.apply_key_bundles(team, &mine, 50).unwrap(), 1);
    assert!(
        c.store
            .keys_held(team)
            .unwrap()
            .key_for(DocumentId::random(), 2)
            .is_ok()
    );
}

#[test]
fn a_far_future_plan_key_cannot_stall_a_patient_once_the_relay_says_where_the_team_is() {
    let (mut a, _b, team) = team_of_two();
    let case = a
        .store
        .create_case_file(NewPatient::named("Patient"))
        .unwrap();
    let mut p = device("Patient's phone");
    enrol(&mut a, &mut p, team, Role::Patient, Some(case.plan_id));
    // A staff device sends the patient its plan's key "for epoch 1000".
    let bogus = holdfast_protocol::KeyBundle::seal(
        holdfast_protocol::BundleHeader {
            team,
            recipient: p.store.author().device.0,
            sender: a.store.author().device,
            at_ms: 1,
        },
        &p.store.device_hpke_public_key(),
        &[holdfast_protocol::WrappedKey::Document {
            document: case.plan_id,
            epoch: 1000,
            key: holdfast_protocol::DocumentKey::from_bytes([3; 32]),
        }],
        &signer_of(&a),
    )
    .unwrap();
    assert_eq!(
        p.store.apply_key_bundles(team, &[(40, bogus)], 40).unwrap(),
        1
    );
    let mut log = Log::default();
    log.push(&mut a, team);
    log.pull(&mut p, team, true);
    p.store.add_plan_comment(case.plan_id, "hello").unwrap();
    // Before the relay has said anything, the patient would seal at 1000...
    assert_eq!(p.store.epoch(team).unwrap(), 1000);
    assert_eq!(p.store.seal_outbox(team).unwrap(), 1);
    // ...once it has (epoch 1), it seals there again, and nothing was lost.
    p.store.note_relay_epoch(team, 1).unwrap();
    assert_eq!(p.store.epoch(team).unwrap(), 1);
    assert_eq!(p.store.reseal_stale(team).unwrap(), 1);
    assert_eq!(p.store.seal_outbox(team).unwrap(), 1);
    let pending = p.store.pending_envelopes(team, 10, usize::MAX).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        EnvelopeRef::decode(&pending[0].bytes).unwrap().header.epoch,
        1
    );
}

/// The team's settings live at the id derived from the team and only there: a document of
/// another kind squatting on that id, and settings passed off under another id, are refused
/// whole, and the team's limits stay the defaults.
#[test]
fn team_settings_are_refused_anywhere_but_the_teams_own_id() {
    use holdfast_core::model::doc::Author;
    use holdfast_core::model::team_settings::{self, LoadLimits, team_settings_id};

    let (a, mut b, team) = team_of_two();
    let keys = a.store.keys_held(team).unwrap();
    let signer = signer_of(&a);
    let author = Author {
        device: a.store.author().device,
        person: "A".into(),
    };
    let mut squat = automerge::AutoCommit::new().with_actor(author.actor());
    automerge::transaction::Transactable::put(&mut squat, automerge::ROOT, "kind", "case_file")
        .unwrap();
    let mut settings = team_settings::create(&author).unwrap();
    let lax = LoadLimits {
        accepted_per_year: 9_000,
        ..LoadLimits::default()
    };
    let now = a.store.clock().now_ms() as i64;
    team_settings::set_limits(&mut settings, &author, &team, &lax, None, now, |b| {
        signer.sign(b).to_vec()
    })
    .unwrap();
    let mut log = Log::default();
    let at_settings = team_settings_id(&team);
    log.append(forged(
        team,
        at_settings,
        author.device,
        &signer,
        &keys,
        &squat.save(),
    ));
    log.append(forged(
        team,
        DocumentId::random(),
        author.device,
        &signer,
        &keys,
        &settings.save(),
    ));
    assert_eq!(log.pull(&mut b, team, false), 0);
    let refused = b.store.refused_envelopes(team).unwrap();
    assert_eq!(refused.len(), 2);
    assert!(
        refused.iter().all(|r| r.reason.contains("team settings")),
        "{refused:?}"
    );
    assert!(b.store.kind_of(at_settings).is_err());
    assert_eq!(b.store.team_limits().unwrap().limits, LoadLimits::default());

    // The genuine document at the genuine id applies, and the admin's setting stands.
    log.append(forged(
        team,
        at_settings,
        author.device,
        &signer,
        &keys,
        &settings.save(),
    ));
    assert_eq!(log.pull(&mut b, team, false), 1);
    assert_eq!(b.store.team_limits().unwrap().limits, lax);

    // B, a link worker bypassing the app, writes settings that must not count: its own
    // (signed, but a link worker's), one under A's device id with a far-future date and
    // B's signature, and one signed by A's key but dated two days ahead.
    let b_author = Author {
        device: b.store.author().device,
        person: "B".into(),
    };
    let b_signer = signer_of(&b);
    // A history of its own (made offline), so A's setting stays beside what B writes: one
    // written over A's (sequentially) would hide it, a gap SECURITY.md 2.12 states.
    let mut theirs = team_settings::create(&b_author)
        .unwrap()
        .with_actor(b_author.actor());
    let tight = LoadLimits {
        accepted_per_year: 1,
        ..LoadLimits::default()
    };
    team_settings::set_limits(&mut theirs, &b_author, &team, &tight, None, now, |m| {
        b_signer.sign(m).to_vec()
    })
    .unwrap();
    // Filed under A's device id (the actor does not matter: only the signature does).
    let mut forged_a = theirs.fork().with_actor(b_author.actor());
    team_settings::set_limits(&mut forged_a, &author, &team, &tight, None, i64::MAX, |m| {
        b_signer.sign(m).to_vec()
    })
    .unwrap();
    let ahead = now + 2 * 86_400_000;
    team_settings::set_limits(&mut forged_a, &author, &team, &tight, None, ahead, |m| {
        signer.sign(m).to_vec()
    })
    .unwrap();
    let mut junk = settings.fork().with_actor(b_author.actor());
    junk.merge(&mut forged_a.clone()).unwrap();
    automerge::transaction::Transactable::put(&mut junk, automerge::ROOT, "limits", 7_i64).unwrap();
    let mut written = theirs.save();
    written.extend(forged_a.save_after(&theirs.get_heads()));
    log.append(forged(
        team,
        at_settings,
        b_author.device,
        &b_signer,
        &b.store.keys_held(team).unwrap(),
        &written,
    ));
    // A (the admin) sets the limits through its store; then pulls what B wrote.
    let mut a = a;
    a.store.set_team_limits(&lax, None).unwrap();
    assert_eq!(log.pull(&mut a, team, false), 1);
    let limits = a.store.team_limits().unwrap();
    assert_eq!(limits.limits, lax, "{limits:?}");
    assert_eq!(limits.history.len(), 1);
    // Junk over every limits map B has seen: never an error, and A's own setting (in a
    // map B never saw) stands; A sets them again.
    log.append(forged(
        team,
        at_settings,
        b_author.device,
        &b_signer,
        &b.store.keys_held(team).unwrap(),
        &junk.save_after(&settings.get_heads()),
    ));
    assert_eq!(log.pull(&mut a, team, false), 1);
    assert_eq!(a.store.team_limits().unwrap().limits, lax);
    a.store.set_team_limits(&lax, Some("again")).unwrap();
    let again = a.store.team_limits().unwrap();
    assert_eq!(again.limits, lax);
    assert_eq!(again.set.unwrap().reason.as_deref(), Some("again"));
}

/// A member of another team cannot take this team's settings or private-notes id on a
/// device in both: a document of team B at team A's settings id, or at the id of a member of
/// A's private notes, is refused, and A's settings still arrive.
#[test]
fn another_team_cannot_squat_on_this_teams_settings_or_notes_ids() {
    use holdfast_core::model::team_settings::{LoadLimits, team_settings_id};

    let mut a = device("Admin of A");
    let mut b = device("Admin of B");
    let mut lw = device("Link worker in both");
    let team_a = a.store.create_team("https://relay-a.invalid").unwrap();
    let team_b = b.store.create_team("https://relay-b.invalid").unwrap();
    enrol(&mut a, &mut lw, team_a, Role::LinkWorker, None);
    enrol(&mut b, &mut lw, team_b, Role::LinkWorker, None);
    let b_keys = b.store.keys_held(team_b).unwrap();
    let b_signer = signer_of(&b);
    let mut case = automerge::AutoCommit::new();
    automerge::transaction::Transactable::put(&mut case, automerge::ROOT, "kind", "case_file")
        .unwrap();
    let notes_of_a = holdfast_protocol::private_notes_id(&team_a, &a.store.author().device);
    let mut log_b = Log::default();
    for id in [team_settings_id(&team_a), notes_of_a] {
        log_b.append(forged(
            team_b,
            id,
            b.store.author().device,
            &b_signer,
            &b_keys,
            &case.save(),
        ));
    }
    assert_eq!(log_b.pull(&mut lw, team_b, false), 0);
    let refused = lw.store.refused_envelopes(team_b).unwrap();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused.iter().all(|r| r.reason.contains("another team")),
        "{refused:?}"
    );

    // Team A's settings still reach the link worker.
    let strict = LoadLimits {
        sessions: 8,
        ..LoadLimits::default()
    };
    a.store.set_team_limits(&strict, None).unwrap();
    let mut log_a = Log::default();
    log_a.push(&mut a, team_a);
    log_a.pull(&mut lw, team_a, false);
    lw.store.set_current_team(team_a).unwrap();
    assert_eq!(lw.store.team_limits().unwrap().limits, strict);
}

/// A remote change updates B's caseload row by what it touched: a session recorded on A is
/// folded in without reading the case whole, a header change rewrites the header, a note
/// amended writes nothing. After each pull, the row B kept equals the row a rebuild from the
/// documents gives, through sessions recorded out of order, a missed appointment, follow-ups
/// on a shared start, several sessions in one page, a note amended, a status change, and
/// sessions recorded concurrently on both devices.
#[test]
fn remote_changes_keep_the_caseload_row_as_a_rebuild_would() {
    use holdfast_core::model::case_file::{NewSession, SessionMode};
    let (mut a, mut b, team) = team_of_two();
    let mut log = Log::default();
    let case = a
        .store
        .create_case_file(NewPatient::named(NAME))
        .unwrap()
        .case_id;
    a.store.set_status(case, CaseStatus::Active, None).unwrap();
    log.push(&mut a, team);
    log.pull(&mut b, team, false);
    let session = |minute: i64, attended: bool, follow_up: Option<u8>| NewSession {
        start: 1_770_000_000_000 + minute * 60_000,
        duration_minutes: 30,
        mode: SessionMode::Phone,
        attended,
        note: format!("call at minute {minute}"),
        holding_functions: vec![],
        follow_up: follow_up
            .map(|d| time::Date::from_calendar_date(2026, time::Month::March, d).unwrap()),
    };
    // After each pull: B's row as kept (never rebuilt on the way, so drift would add up)
    // against A's, kept by A's own edits, and against the row read from B's document.
    let settled = |a: &mut Device, b: &mut Device, log: &mut Log, what: &str| {
        log.push(a, team);
        log.pull(b, team, false);
        log.pull(a, team, false);
        let kept = b.store.caseload(&Default::default()).unwrap();
        assert_eq!(
            kept,
            a.store.caseload(&Default::default()).unwrap(),
            "{what}: B's row vs A's"
        );
        let file = b.store.case_file(case).unwrap();
        assert_eq!(
            kept[0].session_count as usize,
            file.sessions.len(),
            "{what}"
        );
        assert_eq!(kept[0].last_contact, file.last_contact(), "{what}");
        assert_eq!(kept[0].next_follow_up, file.next_follow_up(), "{what}");
        kept[0].clone()
    };

    a.store
        .record_session(case, &session(100, true, Some(9)))
        .unwrap();
    let row = settled(&mut a, &mut b, &mut log, "one session");
    assert_eq!(row.session_count, 1);

    // Earlier than the last, then a missed appointment later on, in one page.
    a.store
        .record_session(case, &session(50, true, Some(20)))
        .unwrap();
    a.store
        .record_session(case, &session(200, false, Some(5)))
        .unwrap();
    let row = settled(&mut a, &mut b, &mut log, "out of order, missed");
    assert_eq!(row.session_count, 3);
    assert_eq!(row.last_contact, Some(1_770_000_000_000 + 100 * 60_000));

    // Two sessions with the same start: the later follow-up wins.
    a.store
        .record_session(case, &session(200, true, Some(12)))
        .unwrap();
    settled(&mut a, &mut b, &mut log, "shared start");

    // A note amended: nothing indexed changes.
    let first = a.store.case_file(case).unwrap().sessions[0].id;
    a.store.amend_session_note(case, first, "amended").unwrap();
    settled(&mut a, &mut b, &mut log, "note amended");

    // The status moves, and a session in the same page.
    a.store
        .set_status(case, CaseStatus::Holding, Some("waiting"))
        .unwrap();
    a.store
        .record_session(case, &session(300, true, None))
        .unwrap();
    let row = settled(&mut a, &mut b, &mut log, "status and session");
    assert_eq!(row.status, CaseStatus::Holding);

    // Both record a session offline; each pulls the other's.
    a.store
        .record_session(case, &session(400, true, Some(1)))
        .unwrap();
    b.store
        .record_session(case, &session(401, true, Some(2)))
        .unwrap();
    log.push(&mut b, team);
    let row = settled(&mut a, &mut b, &mut log, "concurrent sessions");
    assert_eq!(row.session_count, 7);
    // And what both kept all along is what a rebuild from the documents gives.
    for d in [&mut a, &mut b] {
        let kept = d.store.caseload(&Default::default()).unwrap();
        d.store.rebuild_indexes().unwrap();
        assert_eq!(kept, d.store.caseload(&Default::default()).unwrap());
    }
}

/// A push whose acknowledgements are exactly the numbers after the cursor up to the head
/// moves the cursor (the device need not pull its own envelopes back); one with another
/// device's envelope in between, or a head past what it pushed, leaves the cursor for the
/// pull, which then brings that envelope.
#[test]
fn a_push_moves_the_cursor_only_over_the_devices_own_envelopes() {
    let (mut a, mut b, team) = team_of_two();
    let mut log = Log::default();
    let push = |d: &mut Device, log: &mut Log| {
        d.store.seal_outbox(team).unwrap();
        let pending = d.store.pending_envelopes(team, 1000, usize::MAX).unwrap();
        let mut acked = Vec::new();
        for p in pending {
            log.append(p.bytes);
            acked.push((p.id, log.items.len() as u64));
        }
        let head = log.items.len() as u64;
        d.store.acknowledge_push(team, &acked, head).unwrap();
    };
    a.store.create_case_file(NewPatient::named(NAME)).unwrap();
    push(&mut a, &mut log);
    assert_eq!(log.items.len(), 2);
    assert_eq!(
        a.store.team(team).unwrap().cursor,
        2,
        "only A's envelopes: moved"
    );

    // B pushes in between: A's next push leaves a gap it did not write.
    b.store
        .create_case_file(NewPatient::named("Ada Lovelace"))
        .unwrap();
    push(&mut b, &mut log);
    assert_eq!(
        b.store.team(team).unwrap().cursor,
        0,
        "A's envelopes came first"
    );
    a.store
        .create_case_file(NewPatient::named("Grace Hopper"))
        .unwrap();
    push(&mut a, &mut log);
    assert_eq!(
        a.store.team(team).unwrap().cursor,
        2,
        "B's envelopes between: not moved"
    );
    // The pull brings B's case.
    log.pull(&mut a, team, false);
    assert_eq!(a.store.caseload(&Default::default()).unwrap().len(), 3);
    assert_eq!(a.store.team(team).unwrap().cursor, log.items.len() as u64);

    // A head past what the push acknowledged (someone else's envelope after it): not moved.
    a.store
        .create_case_file(NewPatient::named("Mary Somerville"))
        .unwrap();
    a.store.seal_outbox(team).unwrap();
    let pending = a.store.pending_envelopes(team, 1000, usize::MAX).unwrap();
    let cursor = a.store.team(team).unwrap().cursor;
    let acked: Vec<_> = pending
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id, cursor + 1 + i as u64))
        .collect();
    let head = cursor + acked.len() as u64 + 1;
    a.store.acknowledge_push(team, &acked, head).unwrap();
    assert_eq!(a.store.team(team).unwrap().cursor, cursor);
}

/// 1,500 assets with a long description each: as one import, one change of about 5 MB, over
/// the 4 MiB an envelope carries (in ordinary words, so a snapshot compresses it).
fn a_big_import() -> Vec<holdfast_core::model::directory::AssetInput> {
    let description = "A friendly walking group for anyone who wants company and fresh air; \
                       we meet by the library, walk for an hour at an easy pace and stop for \
                       tea afterwards. "
        .repeat(18);
    (0..1_500)
        .map(|i| holdfast_core::model::directory::AssetInput {
            name: format!("Walking group {i}"),
            description: description.clone(),
            ..Default::default()
        })
        .collect()
}

fn one_more_asset(d: &mut Device, dir: DocumentId) {
    let input = holdfast_core::model::directory::AssetInput {
        name: "Men's shed".into(),
        ..Default::default()
    };
    d.store.upsert_asset(dir, None, &input).unwrap();
}

/// A change too large for one envelope (an import of thousands of assets at once) travels in
/// a snapshot of its document, with the change after it: the other device, which already
/// held the directory, gets every asset and the later edit, and the outbox empties. It used
/// to stay in the outbox for ever, and the document's later changes reached other devices
/// without the change they depend on.
#[test]
fn a_change_too_large_for_an_envelope_travels_in_a_snapshot() {
    use holdfast_protocol::MAX_PLAINTEXT;

    let (mut a, mut b, team) = team_of_two();
    let mut log = Log::default();
    let dir = a.store.create_directory("Leeds").unwrap();
    log.push(&mut a, team);
    log.pull(&mut b, team, false);
    a.store.import_assets(dir, &a_big_import()).unwrap();
    one_more_asset(&mut a, dir);

    a.store.seal_outbox(team).unwrap();
    let pending = a.store.pending_envelopes(team, 1000, usize::MAX).unwrap();
    assert_eq!(pending.len(), 1, "one snapshot carries both changes");
    let envelope = EnvelopeRef::decode(&pending[0].bytes).unwrap();
    assert_eq!(envelope.header.kind, Kind::Snapshot);
    assert!(
        pending[0].bytes.len() < MAX_PLAINTEXT,
        "the snapshot fits where the change did not"
    );
    log.push(&mut a, team);
    assert_eq!(a.store.outbox_len().unwrap(), 0, "everything acknowledged");

    log.pull(&mut b, team, false);
    assert_eq!(b.store.heads(dir).unwrap(), a.store.heads(dir).unwrap());
    assert_eq!(b.store.directory_assets(dir).unwrap().len(), 1_501);
}

/// The same for a directory shared into a second team: each team's changes travel in a
/// snapshot of their own, and both teams get every asset (one team's snapshot must not
/// carry off the other team's outbox rows).
#[test]
fn a_change_too_large_for_an_envelope_reaches_every_team_of_a_shared_directory() {
    let mut a = device("Sam Okafor");
    let mut b = device("Priya Natarajan");
    let mut lw = device("Jo Whitfield");
    let team_a = a.store.create_team("https://relay-a.invalid").unwrap();
    let team_b = b.store.create_team("https://relay-b.invalid").unwrap();
    enrol(&mut a, &mut lw, team_a, Role::LinkWorker, None);
    enrol(&mut b, &mut lw, team_b, Role::LinkWorker, None);
    let (mut log_a, mut log_b) = (Log::default(), Log::default());
    let dir = lw.store.create_directory("Leeds").unwrap();
    let home = lw.store.document_teams(dir).unwrap()[0];
    let other = if home == team_a { team_b } else { team_a };
    assert!(lw.store.share_document(dir, other).unwrap() > 0);

    lw.store.import_assets(dir, &a_big_import()).unwrap();
    one_more_asset(&mut lw, dir);
    log_a.push(&mut lw, team_a);
    log_b.push(&mut lw, team_b);
    assert_eq!(
        lw.store.outbox_len().unwrap(),
        0,
        "both teams' rows acknowledged"
    );
    for (log, d, team) in [(&log_a, &mut a, team_a), (&log_b, &mut b, team_b)] {
        log.pull(d, team, false);
        assert_eq!(d.store.heads(dir).unwrap(), lw.store.heads(dir).unwrap());
        assert_eq!(d.store.directory_assets(dir).unwrap().len(), 1_501);
    }
}
