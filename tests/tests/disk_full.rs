//! A device whose disk fills (issue 15, part 3): during edits, while a pulled page is
//! applied, and during the compaction that follows an edit.
//!
//! Each test mounts a tmpfs of its own with a size (`mount -t tmpfs -o size=…`; the tests
//! run as root) on a temporary folder, puts the device's store in it, and fills it with a
//! filler file; deleting the filler gives the space back. The relay, when there is one,
//! stays on the ordinary disk. What is checked every time:
//!
//! - the operation the full disk stops fails with [`Error::StorageFull`] (the FFI's
//!   `HoldfastError::StorageFull`, a message a person can act on), never with a panic or
//!   a generic database error;
//! - the failed operation changes nothing, and nothing acknowledged before it is lost
//!   (read back at once, and from the file after a reopen);
//! - once there is space the same operation succeeds, sync completes and the store opens
//!   again, with no repair step.
//!
//! A store made on a full disk is refused the same way and leaves nothing half-made: it
//! used to leave a database file behind, and the next attempt was refused as
//! `StoreExists` (fixed in `Store::create`).

use std::io::Write;
use std::sync::{Arc, Mutex};

use holdfast_core::model::case_file::{NewPatient, NewSession, SessionMode};
use holdfast_core::model::ids::DocumentId;
use holdfast_core::store::CaseloadFilter;
use holdfast_core::sync::Role;
use holdfast_core::{Error, Store, TeamId};
use holdfast_relay::testing::{SmallDisk, TestRelay};
use holdfast_tests::Device;

// ---------------------------------------------------------------------------------------
// What the tests write.

/// A note of `len` bytes of words that do not repeat (Automerge compresses repeated text,
/// and a filler of a note would take no room).
fn note(seed: u64, len: usize) -> String {
    const WORDS: [&str; 16] = [
        "allotment",
        "bus",
        "choir",
        "damp",
        "daughter",
        "garden",
        "housing",
        "library",
        "lunch",
        "neighbour",
        "pension",
        "phone",
        "walk",
        "warm",
        "winter",
        "group",
    ];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = String::with_capacity(len + 16);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push_str(WORDS[(x % 16) as usize]);
        out.push_str(&format!("{} ", x % 1000));
    }
    out.truncate(len);
    // Notes are stored trimmed.
    out.trim_end().to_owned()
}

fn session(seed: u64, note_len: usize) -> NewSession {
    NewSession {
        start: 1_780_000_000_000 + i64::try_from(seed).expect("a small seed") * 60_000,
        duration_minutes: 30,
        mode: SessionMode::Phone,
        attended: true,
        note: note(seed, note_len),
        holding_functions: vec![],
        follow_up: None,
    }
}

fn new_case(device: &Device, name: &str) -> DocumentId {
    device
        .s()
        .create_case_file(NewPatient::named(name))
        .expect("a new case")
        .case_id
}

/// The notes of a case's sessions, in order.
fn notes(device: &Device, case: DocumentId) -> Vec<String> {
    device
        .s()
        .case_file(case)
        .expect("the case file")
        .sessions
        .into_iter()
        .map(|s| s.note.agreed().expect("one note, not contested").clone())
        .collect()
}

/// Fails the test, saying where, unless `got` and `want` are the same notes (without
/// printing them whole: they are long).
#[track_caller]
fn same_notes(got: &[String], want: &[String], what: &str) {
    if let Some(i) = (0..got.len().max(want.len())).find(|&i| got.get(i) != want.get(i)) {
        panic!(
            "{what}: {} notes, {} expected; the first difference at {i}: {:?} instead of {:?}",
            got.len(),
            want.len(),
            got.get(i).map(|n| &n[..n.len().min(40)]),
            want.get(i).map(|n| &n[..n.len().min(40)]),
        );
    }
}

/// Records sessions (notes of `note_len` bytes, seeds from `first`) until the disk
/// refuses one; returns the notes acknowledged and the error of the one refused. Fails
/// the test if the disk never fills.
fn edit_until_full(
    device: &Device,
    case: DocumentId,
    first: u64,
    note_len: usize,
) -> (Vec<String>, Error) {
    let mut acked = Vec::new();
    for seed in first..first + 2_000 {
        let s = session(seed, note_len);
        match device.s().record_session(case, &s) {
            Ok(_) => acked.push(s.note),
            Err(e) => return (acked, e),
        }
    }
    panic!("2,000 sessions fitted on the small disk: it never filled");
}

/// The tracing events of the current thread while `f` runs, as text.
fn logs_of<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .expect("the log buffer")
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text =
        String::from_utf8(buf.0.lock().expect("the log buffer").clone()).expect("logs are text");
    (out, text)
}

// ---------------------------------------------------------------------------------------
// Edits.

/// The disk fills while a link worker records sessions. The session that does not fit is
/// refused with `StorageFull` and leaves no trace (not in the case, not in the outbox), as
/// does a new case; a sync fails with `StorageFull` too, the outbox kept; every session
/// before is kept, across a reopen on the still-full disk too. Once the filler is deleted,
/// the same session is recorded, everything reaches a colleague through the relay, and
/// the store opens again.
#[tokio::test]
async fn an_edit_that_does_not_fit_is_refused_whole_and_succeeds_once_there_is_room() {
    let relay = TestRelay::start().await;
    let mut disk = SmallDisk::mount("8m");
    let sam = Device::in_dir("Sam Okafor", disk.path());
    let priya = Device::new("Priya Natarajan");
    let team: TeamId = sam.create_team(&relay.url()).await;
    sam.enrol(team, &priya, Role::LinkWorker).await;
    let case = new_case(&sam, "Ada Lovelace");
    sam.sync(team).await;

    disk.fill();
    let outbox_before = sam.s().outbox_len().expect("the outbox");
    let (acked, error) = edit_until_full(&sam, case, 0, 2_000);
    assert!(
        matches!(error, Error::StorageFull),
        "a full disk is StorageFull: {error:?}"
    );
    let shown = error.to_string();
    assert!(shown.contains("storage is full"), "{shown}");
    let refused = session(acked.len() as u64, 2_000);

    // Nothing of the refused session, everything before it.
    same_notes(
        &notes(&sam, case),
        &acked,
        "exactly the acknowledged sessions",
    );
    assert_eq!(
        sam.s().outbox_len().expect("the outbox"),
        outbox_before + acked.len() as u64,
        "the refused session queued nothing"
    );
    // A new case does not fit either, and leaves nothing behind.
    let caseload = |d: &Device| {
        d.s()
            .caseload(&CaseloadFilter::default())
            .expect("the caseload")
    };
    let before = caseload(&sam);
    let made = sam.s().create_case_file(NewPatient::named("Grace Hopper"));
    assert!(
        matches!(made, Err(Error::StorageFull)),
        "{:?}",
        made.map(|_| ())
    );
    assert_eq!(caseload(&sam), before, "no half-made case");
    // The store opens again on the full disk, and holds the same.
    let sam = sam.reopen();
    same_notes(&notes(&sam, case), &acked, "kept in the file");
    // A sync has nowhere to seal the outbox into envelopes: StorageFull, nothing lost.
    let synced = sam.client.sync(team).await;
    assert!(
        matches!(synced, Err(Error::StorageFull)),
        "{:?}",
        synced.map(|_| ())
    );
    assert_eq!(
        sam.s().outbox_len().expect("the outbox"),
        outbox_before + acked.len() as u64,
        "still queued"
    );
    // Still full: the same session is refused again, and still changes nothing.
    let again = sam.s().record_session(case, &refused);
    assert!(matches!(again, Err(Error::StorageFull)), "{again:?}");
    same_notes(&notes(&sam, case), &acked, "the notes");

    disk.make_room();
    sam.s()
        .record_session(case, &refused)
        .expect("the same session, once there is room");
    let mut expected = acked;
    expected.push(refused.note.clone());
    same_notes(&notes(&sam, case), &expected, "the notes");

    sam.sync(team).await;
    assert_eq!(sam.s().outbox_len().expect("the outbox"), 0, "all pushed");
    priya.sync(team).await;
    same_notes(
        &notes(&priya, case),
        &expected,
        "the colleague has every one",
    );
    let sam = sam.reopen();
    same_notes(&notes(&sam, case), &expected, "and so does the file");
    assert_eq!(
        sam.s().heads(case).expect("heads"),
        priya.s().heads(case).expect("heads")
    );
}

// ---------------------------------------------------------------------------------------
// Pulls.

/// A colleague's week of sessions arrives at a device whose disk has room for the
/// membership and key checks of a sync but not for the page. The sync fails with
/// `StorageFull`, the page is applied not at all (the cursor stays, the case is not
/// there), and what the device held is intact. Once there is room the next sync applies
/// it, and the device holds exactly what the colleague wrote.
#[tokio::test]
async fn a_page_that_does_not_fit_is_not_applied_and_the_next_sync_brings_it() {
    let relay = TestRelay::start().await;
    let mut disk = SmallDisk::mount("8m");
    let sam = Device::new("Sam Okafor");
    let priya = Device::in_dir("Priya Natarajan", disk.path());
    let team = sam.create_team(&relay.url()).await;
    sam.enrol(team, &priya, Role::LinkWorker).await;
    // Something of Priya's own, synced, to check it survives.
    let own = new_case(&priya, "Grace Hopper");
    priya
        .s()
        .record_session(own, &session(10_000, 500))
        .expect("a session");
    priya.sync(team).await;
    let own_notes = notes(&priya, own);

    // ~600 KiB of sessions from Sam: more than the room left on Priya's disk.
    let case = new_case(&sam, "Ada Lovelace");
    for seed in 0..150 {
        sam.s()
            .record_session(case, &session(seed, 4_000))
            .expect("a session on Sam's disk");
    }
    sam.sync(team).await;

    disk.fill_leaving(128 << 10);
    let cursor = priya.s().team(team).expect("the team").cursor;
    let error = priya
        .client
        .sync(team)
        .await
        .expect_err("the page does not fit");
    assert!(
        matches!(error, Error::StorageFull),
        "a full disk is StorageFull: {error:?}"
    );
    assert_eq!(
        priya.s().team(team).expect("the team").cursor,
        cursor,
        "the cursor stays"
    );
    assert!(
        matches!(priya.s().case_file(case), Err(Error::NotFound { .. })),
        "nothing of the page was applied"
    );
    same_notes(&notes(&priya, own), &own_notes, "what was there is intact");

    disk.make_room();
    let report = priya.sync(team).await;
    assert!(report.pull.new_documents >= 1, "{report:?}");
    same_notes(
        &notes(&priya, case),
        &notes(&sam, case),
        "the colleague's sessions",
    );
    let priya = priya.reopen();
    assert_eq!(
        priya.s().heads(case).expect("heads"),
        sam.s().heads(case).expect("heads")
    );
    same_notes(&notes(&priya, own), &own_notes, "the notes");
}

// ---------------------------------------------------------------------------------------
// Compaction.

/// Compaction after every edit (`compact_after = 1`) on a case whose snapshot is large,
/// while the disk fills: a compaction that does not fit is logged and the edit it follows
/// is still acknowledged (issue 9: a host told "failed" would record it twice); the
/// changes stay as they are. A compaction asked for directly on the full disk fails with
/// `StorageFull` and changes nothing. Once there is room, compaction runs again.
#[test]
fn a_compaction_that_does_not_fit_never_fails_the_edit_before_it() {
    let mut disk = SmallDisk::mount("8m");
    let sam = Device::in_dir("Sam Okafor", disk.path());
    let case = new_case(&sam, "Ada Lovelace");
    // A snapshot of ~400 KiB: compacting writes all of it again.
    for seed in 0..100 {
        sam.s()
            .record_session(case, &session(seed, 4_000))
            .expect("a session");
    }
    let sam = sam.reopen_with(|config| config.compact_after = 1);
    let mut expected = notes(&sam, case);

    disk.fill_leaving(1 << 20);
    let ((acked, error), logs) = logs_of(|| edit_until_full(&sam, case, 100, 200));
    assert!(
        matches!(error, Error::StorageFull),
        "a full disk is StorageFull: {error:?}"
    );
    let failed_compactions = logs.matches("compaction failed").count();
    assert!(
        failed_compactions > 0,
        "no compaction failed on the filling disk, so this test tested nothing: {logs}"
    );
    assert!(
        !acked.is_empty(),
        "no edit fitted beside the failing compactions"
    );
    expected.extend(acked);
    same_notes(&notes(&sam, case), &expected, "every acknowledged edit");

    // Asked for directly, a compaction that does not fit is StorageFull and changes
    // nothing.
    let heads = sam.s().heads(case).expect("heads");
    let compacted = sam.s().compact(case);
    assert!(
        matches!(compacted, Err(Error::StorageFull)),
        "{compacted:?}"
    );
    assert_eq!(sam.s().heads(case).expect("heads"), heads);
    sam.s().unload_documents();
    same_notes(&notes(&sam, case), &expected, "read again from the file");

    disk.make_room();
    let (recorded, logs) = logs_of(|| sam.s().record_session(case, &session(5_000, 200)));
    recorded.expect("an edit once there is room");
    assert!(
        !logs.contains("compaction failed"),
        "compaction runs again once there is room: {logs}"
    );
    expected.push(session(5_000, 200).note);
    let sam = sam.reopen();
    same_notes(&notes(&sam, case), &expected, "the notes");
    assert_eq!(sam.s().heads(case).expect("heads").len(), heads.len());
}

/// A new store (an app's first start) on a disk with no byte free is refused with
/// `StorageFull`, and leaves nothing half-made: once there is room, the same call makes
/// it (it used to find the half-made database and refuse with `StoreExists`).
#[test]
fn a_new_store_on_a_full_disk_is_storage_full_and_made_once_there_is_room() {
    let mut disk = SmallDisk::mount("1m");
    disk.fill();
    let keys = holdfast_core::MemoryKeyStore::default();
    let dir = disk.path().join("device");
    let config = holdfast_core::StoreConfig::new(&dir, "Sam Okafor");
    let made = Store::create(&config, &keys);
    assert!(
        matches!(made, Err(Error::StorageFull)),
        "{:?}",
        made.map(|_| ())
    );
    disk.make_room();
    let mut store = Store::create(&config, &keys).expect("a store once there is room");
    let case = store
        .create_case_file(NewPatient::named("Ada Lovelace"))
        .expect("a case")
        .case_id;
    drop(store);
    let mut store = Store::open(&config, &keys).expect("it opens");
    store.case_file(case).expect("the case");
}
