//! Sync without a network: a pretend relay (a vector of envelopes) between stores, driving
//! the sans-I/O halves of sync: sealing, acknowledging, opening and applying pages.

use std::path::Path;

use holdfast_core::crypto::{CURRENT_EPOCH, DocumentKeys, TeamSecret};
use holdfast_core::model::case_file::{CaseStatus, NewPatient};
use holdfast_core::model::ids::DeviceId;
use holdfast_core::sync::incoming::{Roster, open_page};
use holdfast_core::{MemoryKeyStore, Store, StoreConfig, TeamId};
use holdfast_protocol::{
    DeviceSigningKey, EnvelopeId, EnvelopeRef, Header, Kind, PullPage, SystemRandom, seal,
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
        let ids: Vec<EnvelopeId> = pending.iter().map(|p| p.id).collect();
        for p in pending {
            self.append(p.bytes);
        }
        d.store.acknowledge(team, &ids).unwrap()
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

    fn pull(&self, d: &mut Device, team: TeamId, roster: &Roster, bootstrap: bool) -> usize {
        let cursor = d.store.team(team).unwrap().cursor;
        let page = self.page(cursor);
        let secret = d.store.team_secret(team).unwrap();
        let opened = open_page(
            team,
            &secret,
            roster,
            d.store.author().device,
            cursor,
            &page,
        );
        d.store.apply_page(team, opened, bootstrap).unwrap().applied
    }
}

fn roster(devices: &[&Device]) -> Roster {
    Roster::new(
        devices
            .iter()
            .map(|d| (d.store.author().device, d.store.device_public_key())),
    )
}

fn team_of_two() -> (Device, Device, TeamId) {
    let mut a = device("Sam Okafor");
    let mut b = device("Priya Natarajan");
    let team = a
        .store
        .create_team(&a.keys, "http://relay.invalid")
        .unwrap();
    let secret = a.store.team_secret(team).unwrap();
    b.store
        .join_team(&b.keys, "http://relay.invalid", &secret)
        .unwrap();
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
        assert_eq!(e.header.author, a.store.author().device.into());
        assert_eq!(e.header.epoch, CURRENT_EPOCH);
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
        a.store.acknowledge(team, &[EnvelopeId([9; 32])]).unwrap(),
        0
    );
    assert_eq!(a.store.acknowledge(team, &[first[0].id]).unwrap(), 1);
    let status = a.store.sync_status(team).unwrap();
    assert!(status.pending_outbox > 0 && !status.everything_uploaded);
    assert_eq!(a.store.acknowledge(team, &[first[1].id]).unwrap(), 1);
    let status = a.store.sync_status(team).unwrap();
    assert_eq!(status.pending_outbox, 0);
    assert!(status.everything_uploaded);
    assert!(status.last_push_at.is_some());
}

#[test]
fn pages_apply_in_one_go_and_concurrent_edits_converge_with_the_conflict_visible() {
    let (mut a, mut b, team) = team_of_two();
    let r = roster(&[&a, &b]);
    let mut log = Log::default();
    let case = a.store.create_case_file(NewPatient::named(NAME)).unwrap();
    a.store
        .set_status(case.case_id, CaseStatus::Active, None)
        .unwrap();
    log.push(&mut a, team);
    assert_eq!(log.pull(&mut b, team, &r, false), 2);
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
    log.pull(&mut a, team, &r, false);
    log.pull(&mut b, team, &r, false);
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
    // Pulling the same page again changes nothing.
    let before = a.store.heads(case.case_id).unwrap();
    let secret = a.store.team_secret(team).unwrap();
    let opened = open_page(team, &secret, &r, a.store.author().device, 0, &log.page(0));
    let outcome = a.store.apply_page(team, opened, false).unwrap();
    assert_eq!(outcome.applied, 0);
    assert_eq!(a.store.heads(case.case_id).unwrap(), before);
}

fn forged(
    team: TeamId,
    doc: holdfast_core::model::ids::DocId,
    author: DeviceId,
    signer: &DeviceSigningKey,
    secret: &TeamSecret,
    plaintext: &[u8],
) -> Vec<u8> {
    let header = Header {
        kind: Kind::ChangeBatch,
        team: team.into(),
        document: doc.into(),
        epoch: CURRENT_EPOCH,
        author: author.into(),
        covers: 0,
        nonce: Header::random_nonce(&SystemRandom::new()).unwrap(),
    };
    let key = DocumentKeys::key_for(secret, doc, CURRENT_EPOCH).unwrap();
    seal(&header, &key, plaintext, signer).unwrap()
}

#[test]
fn bad_envelopes_are_refused_recorded_and_skipped_without_stopping_the_page() {
    let (mut a, mut b, team) = team_of_two();
    let r = roster(&[&a, &b]);
    let mut log = Log::default();
    let case = a.store.create_case_file(NewPatient::named(NAME)).unwrap();
    a.store.seal_outbox(team).unwrap();
    let good = a.store.pending_envelopes(team, 100, usize::MAX).unwrap();
    let secret = a.store.team_secret(team).unwrap();
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
    // 3. An unregistered author.
    log.append(forged(
        team,
        case.case_id,
        DeviceId([5; 16]),
        &stranger,
        &secret,
        b"x",
    ));
    // 4. From another team (replayed across teams).
    let other = TeamSecret::generate(TeamId::random());
    let other_env = {
        let header = Header {
            kind: Kind::ChangeBatch,
            team: other.team().into(),
            document: case.case_id.into(),
            epoch: CURRENT_EPOCH,
            author: a.store.author().device.into(),
            covers: 0,
            nonce: Header::random_nonce(&rng).unwrap(),
        };
        let key = DocumentKeys::key_for(&other, case.case_id, CURRENT_EPOCH).unwrap();
        // Signed by A's real key is not possible from here; a stranger's is enough: the
        // team check comes first.
        seal(&header, &key, b"x", &stranger).unwrap()
    };
    log.append(other_env);
    // 5. Then the genuine envelopes: they apply.
    for p in &good {
        log.append(p.bytes.clone());
    }
    assert_eq!(log.pull(&mut b, team, &r, false), good.len());
    let refused = b.store.refused_envelopes(team).unwrap();
    let reasons: Vec<&str> = refused.iter().map(|x| x.reason.as_str()).collect();
    assert_eq!(refused.len(), 4, "{reasons:?}");
    assert!(reasons[0].contains("signature"), "{reasons:?}");
    assert!(reasons[1].contains("signature"), "{reasons:?}");
    assert!(
        reasons[2].contains("not a registered device"),
        "{reasons:?}"
    );
    assert!(reasons[3].contains("team"), "{reasons:?}");
    assert!(reasons.iter().all(|r| !r.contains(NAME)));
    assert_eq!(b.store.case_file(case.case_id).unwrap().patient.name, NAME);
    assert_eq!(b.store.team(team).unwrap().cursor, log.items.len() as u64);
    assert_eq!(b.store.sync_status(team).unwrap().refused_envelopes, 4);
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
    let ra = roster(&[&a]);
    log.pull(&mut a, team, &ra, false);
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
    let secret = a.store.team_secret(team).unwrap();
    c.store
        .join_team(&c.keys, "http://relay.invalid", &secret)
        .unwrap();
    let compact: Vec<(u64, Vec<u8>)> = log.items[2..].to_vec();
    let page = PullPage {
        next: compact.last().unwrap().0,
        items: compact,
        more: false,
    };
    let rc = roster(&[&a, &c]);
    let opened = open_page(team, &secret, &rc, c.store.author().device, 0, &page);
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
