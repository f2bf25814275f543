//! The relay whose disk fills under load (issue 15, part 3), on SQLite, the default.
//!
//! Each test mounts a tmpfs of its own with a size (`mount -t tmpfs -o size=…`; the tests
//! run as root) on a temporary folder and keeps the relay's data folder in it (database,
//! WAL, shared-memory index, token key); a filler file takes the room, and deleting it
//! gives the room back. What is checked:
//!
//! - a push the disk cannot take is refused with `507 storage_full` (and `Retry-After`),
//!   never acknowledged, and stores nothing: a pull serves exactly the envelopes whose
//!   pushes were acknowledged, each with its bytes, while the disk is full and after;
//! - pulls are served while the disk is full;
//! - once there is room, the refused pushes succeed as they were, the background
//!   checkpoints copy the WAL into the database again, and a restart serves everything;
//! - a relay stopped on a full disk starts again on it, serves pulls and refuses pushes
//!   with 507 until there is room.
//!
//! And a power cut that tears the tail of the WAL mid-push (no tmpfs needed): the relay
//! starts on the torn files and serves exactly what it acknowledged before.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{Device, Relay};
use holdfast_protocol::{DocumentId, EnvelopeId, Kind, TeamId};
use holdfast_relay::testing::{SmallDisk, TestRelay};
use reqwest::StatusCode;
use serde_json::Value;

// ---------------------------------------------------------------------------------------
// Pushes and what came of them.

/// Envelopes of ~8 KiB of plaintext (random-looking ciphertext: nothing compresses), 8 to
/// a push.
const PLAINTEXT: usize = 8 * 1024;
const PER_BATCH: u64 = 8;

/// One push: its envelopes and the signed batch.
struct Push {
    envelopes: Vec<Vec<u8>>,
    batch: Vec<u8>,
}

/// `count` pushes of distinct envelopes (salts from `salt`).
fn pushes(device: &Device, team: TeamId, salt: u64, count: u64) -> Vec<Push> {
    (0..count)
        .map(|i| {
            let envelopes: Vec<Vec<u8>> = (0..PER_BATCH)
                .map(|j| {
                    let salt = salt + i * PER_BATCH + j;
                    let doc = DocumentId([(salt % 7) as u8 + 1; 16]);
                    device.envelope(team, doc, Kind::ChangeBatch, 0, salt, PLAINTEXT)
                })
                .collect();
            let batch = device.batch(team, &envelopes);
            Push { envelopes, batch }
        })
        .collect()
}

/// What a set of pushes came to.
#[derive(Default)]
struct Outcome {
    /// Acknowledged envelopes: id → (sequence number, bytes).
    acked: BTreeMap<EnvelopeId, (u64, Vec<u8>)>,
    /// Pushes refused with `507 storage_full`.
    refused: Vec<Push>,
}

/// Sends `pushes` one after another; a `200` is recorded as acknowledged, a `507` as
/// refused (its body and `Retry-After` checked); any other answer fails the test.
async fn send(relay: &Relay, token: &str, team: TeamId, pushes: Vec<Push>) -> Outcome {
    let mut outcome = Outcome::default();
    for push in pushes {
        let response = relay.push(token, team, push.batch.clone()).await;
        let status = response.status();
        let retry_after = response.headers().get("retry-after").cloned();
        let body: Value = response.json().await.expect("a JSON answer");
        match status {
            StatusCode::OK => {
                let results = body["results"].as_array().expect("results");
                assert_eq!(results.len(), push.envelopes.len(), "{body}");
                for (result, envelope) in results.iter().zip(&push.envelopes) {
                    let id = EnvelopeId::of(envelope);
                    assert_eq!(result["id"], id.to_string(), "{body}");
                    let seq = result["seq"].as_u64().expect("a sequence number");
                    outcome.acked.insert(id, (seq, envelope.clone()));
                }
            }
            StatusCode::INSUFFICIENT_STORAGE => {
                assert_eq!(body["code"], "storage_full", "{body}");
                let message = body["message"].as_str().expect("a message");
                assert!(
                    message.contains("nothing of this request was stored"),
                    "{body}"
                );
                assert!(!message.contains("sqlite"), "no cause sent: {body}");
                assert!(retry_after.is_some(), "507 without Retry-After");
                outcome.refused.push(push);
            }
            other => panic!("a push on a filling disk answered {other}: {body}"),
        }
    }
    outcome
}

/// Pushes from `pushers` concurrent senders, each its share of `pushes`.
async fn under_load(
    relay: &Relay,
    token: &str,
    team: TeamId,
    pushes: Vec<Push>,
    pushers: usize,
) -> Outcome {
    let mut shares: Vec<Vec<Push>> = (0..pushers).map(|_| Vec::new()).collect();
    for (i, push) in pushes.into_iter().enumerate() {
        shares[i % pushers].push(push);
    }
    let outcomes = futures_util::future::join_all(
        shares
            .into_iter()
            .map(|share| send(relay, token, team, share)),
    )
    .await;
    let mut all = Outcome::default();
    for outcome in outcomes {
        all.acked.extend(outcome.acked);
        all.refused.extend(outcome.refused);
    }
    all
}

/// Fails the test unless a pull serves exactly the `acked` envelopes, each at its sequence
/// number with its bytes (nothing refused was stored, nothing acknowledged is missing).
async fn pull_serves_exactly(
    relay: &Relay,
    token: &str,
    team: TeamId,
    acked: &BTreeMap<EnvelopeId, (u64, Vec<u8>)>,
) {
    let pulled: BTreeMap<u64, Vec<u8>> =
        relay.pull_all(token, team, "").await.into_iter().collect();
    for (id, (seq, bytes)) in acked {
        match pulled.get(seq) {
            Some(got) => assert!(got == bytes, "envelope {id} at {seq} has other bytes"),
            None => panic!("acknowledged envelope {id} at {seq} is missing"),
        }
    }
    assert_eq!(
        pulled.len(),
        acked.len(),
        "the relay serves envelopes it never acknowledged"
    );
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

// ---------------------------------------------------------------------------------------

/// Four pushers at once fill the relay's disk. Every push is either acknowledged or
/// refused with `507 storage_full`; the relay serves pulls of exactly what it acknowledged
/// meanwhile. Once there is room the refused pushes go through as they were, the WAL is
/// copied into the database again (the background checkpoints resumed), and after a
/// restart a pull still serves every acknowledged envelope with its bytes.
#[tokio::test]
async fn pushes_the_full_disk_cannot_take_are_refused_with_507_and_nothing_acknowledged_is_lost() {
    let mut disk = SmallDisk::mount("16m");
    let mut relay = Relay::serving(
        TestRelay::builder()
            .data_dir(disk.path().join("relay"))
            .start()
            .await,
    );
    let admin = relay.device();
    let team = relay.create_team(&admin).await;
    let token = relay.login(&admin).await;
    let db = relay
        .server
        .as_ref()
        .expect("the relay")
        .data_dir()
        .join(holdfast_relay::storage::sqlite::DATABASE_FILE);

    // 6 MiB of envelopes against 2 MiB of room.
    let load = pushes(&admin, team, 0, 96);
    disk.fill_leaving(2 << 20);
    let mut outcome = under_load(&relay, &token, team, load, 4).await;
    assert!(
        !outcome.refused.is_empty(),
        "every push fitted: the disk never filled"
    );
    assert!(
        !outcome.acked.is_empty(),
        "no push fitted before the disk filled"
    );
    // Still full: pulls are served, and hold exactly what was acknowledged.
    pull_serves_exactly(&relay, &token, team, &outcome.acked).await;
    let more = send(&relay, &token, team, pushes(&admin, team, 10_000, 1)).await;
    assert_eq!(more.refused.len(), 1, "a push on the full disk is refused");

    disk.make_room();
    let refused = std::mem::take(&mut outcome.refused);
    let retried = send(&relay, &token, team, refused).await;
    assert!(
        retried.refused.is_empty(),
        "refused again with room to spare"
    );
    outcome.acked.extend(retried.acked);
    pull_serves_exactly(&relay, &token, team, &outcome.acked).await;

    // The WAL is copied into the database file again: it grows to hold what was stored.
    let stored: u64 = outcome.acked.values().map(|(_, b)| b.len() as u64).sum();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while file_len(&db) < stored {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the database file holds {} bytes of {stored} stored: checkpoints did not resume",
            file_len(&db)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let server = relay.server.as_mut().expect("the relay");
    server.kill();
    server.restart().await;
    let token = relay.login(&admin).await;
    pull_serves_exactly(&relay, &token, team, &outcome.acked).await;
    let after = send(&relay, &token, team, pushes(&admin, team, 20_000, 2)).await;
    assert!(after.refused.is_empty());
    relay.shutdown().await;
}

/// A relay stopped while its disk is full starts again on it: it serves pulls of
/// everything it acknowledged and refuses pushes with `507` until there is room, then
/// takes them.
#[tokio::test]
async fn a_relay_restarted_on_a_full_disk_serves_pulls_and_takes_pushes_once_there_is_room() {
    let mut disk = SmallDisk::mount("16m");
    let mut relay = Relay::serving(
        TestRelay::builder()
            .data_dir(disk.path().join("relay"))
            .start()
            .await,
    );
    let admin = relay.device();
    let team = relay.create_team(&admin).await;
    let token = relay.login(&admin).await;
    let first = send(&relay, &token, team, pushes(&admin, team, 0, 4)).await;
    assert!(first.refused.is_empty());

    disk.fill();
    // What the WAL already holds room for (it starts over once checkpointed) may still
    // fit; 2.5 MiB does not.
    let full = send(&relay, &token, team, pushes(&admin, team, 1_000, 40)).await;
    assert!(!full.refused.is_empty(), "the full disk took everything");
    let mut acked = first.acked;
    acked.extend(full.acked);
    let server = relay.server.as_mut().expect("the relay");
    server.kill();
    server.restart().await;
    let token = relay.login(&admin).await;
    pull_serves_exactly(&relay, &token, team, &acked).await;
    let still = send(&relay, &token, team, pushes(&admin, team, 2_000, 1)).await;
    assert_eq!(still.refused.len(), 1, "still full");

    disk.make_room();
    let retried = send(&relay, &token, team, full.refused).await;
    assert!(retried.refused.is_empty());
    acked.extend(retried.acked);
    pull_serves_exactly(&relay, &token, team, &acked).await;
    relay.shutdown().await;
}

/// The end of a WAL image's frames that carry its header's salt, in order: what a recovery
/// may replay (stale frames of an earlier round of the log follow, under another salt).
fn wal_frames_end(wal: &[u8]) -> usize {
    const HEADER: usize = 32;
    if wal.len() < HEADER {
        return wal.len();
    }
    let page = u32::from_be_bytes(wal[8..12].try_into().expect("4 bytes")) as usize;
    let frame = 24 + page;
    let salt = &wal[16..24];
    let mut end = HEADER;
    while end + frame <= wal.len() && &wal[end + 8..end + 16] == salt {
        end += frame;
    }
    end
}

/// Copies every frame of the relay's WAL into its database file (as its background
/// checkpoints do after each commit), and waits until that is done.
async fn checkpointed(db: &Path) {
    let conn = rusqlite::Connection::open(db).expect("a connection");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        // (busy, frames in the log, frames copied): both -1 when another checkpoint (the
        // relay's own) held it off.
        let (busy, log, done): (i64, i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .expect("a checkpoint");
        if busy == 0 && log >= 0 && log == done {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no checkpoint completes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A power cut while the relay writes a push tears the tail of its write-ahead log: the
/// push's last frames cut short, or garbage where they were going. The relay starts on the
/// torn files as they are (no repair step), serves every push it acknowledged before that
/// one and nothing of it (it was never acknowledged: the answer waits for the commit to
/// reach the disk, `synchronous = FULL`), and takes pushes again.
///
/// After each acknowledged push the log is checkpointed whole (as the relay's background
/// checkpoints do) and the files imaged; the next push then writes its frames from the
/// start of the log, under a new salt, and each tear is that image's log cut inside them,
/// beside the database as it was when the push began.
#[tokio::test]
async fn a_torn_log_loses_only_the_push_it_tore() {
    let dir = tempfile::tempdir().expect("a folder");
    let mut relay = Relay::serving(
        TestRelay::builder()
            .data_dir(dir.path().join("relay"))
            .start()
            .await,
    );
    let admin = relay.device();
    let team = relay.create_team(&admin).await;
    let token = relay.login(&admin).await;
    let data = relay
        .server
        .as_ref()
        .expect("the relay")
        .data_dir()
        .to_owned();
    let file = holdfast_relay::storage::sqlite::DATABASE_FILE;
    let (db, wal) = (data.join(file), data.join(format!("{file}-wal")));
    let image = || {
        let log = std::fs::read(&wal).expect("the WAL");
        (std::fs::read(&db).expect("the database"), log)
    };
    const PUSHES: u64 = 12;
    checkpointed(&db).await;
    let mut images = vec![image()];
    let mut acked = vec![BTreeMap::new()];
    for n in 0..PUSHES {
        let outcome = send(&relay, &token, team, pushes(&admin, team, n * PER_BATCH, 1)).await;
        assert!(outcome.refused.is_empty());
        let mut so_far = acked.last().cloned().expect("the pushes before");
        so_far.extend(outcome.acked);
        acked.push(so_far);
        checkpointed(&db).await;
        images.push(image());
    }
    relay.shutdown().await;

    let mut tears = 0;
    for k in [0, 5, 11] {
        let (db_before, log_before) = &images[k];
        let (_, log) = &images[k + 1];
        assert_ne!(
            log.get(16..24),
            log_before.get(16..24),
            "push {} started the log over (a new salt)",
            k + 1
        );
        // The push's frames: from the start of the log, the previous round checkpointed.
        let (start, end) = (32, wal_frames_end(log));
        assert!(end > start + 1, "push {} wrote to the WAL", k + 1);
        let mid = start + (end - start) / 2;
        // Untorn, the same files hold push k + 1: the tears below cut into it.
        let mut whole = vec![log.clone()];
        let mut torn: Vec<Vec<u8>> = [start + 1, mid, end - 1]
            .iter()
            .map(|&cut| log[..cut].to_vec())
            .collect();
        let mut garbage = log.clone();
        for (i, b) in garbage[mid..end].iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(151).wrapping_add(7);
        }
        torn.push(garbage);
        whole.append(&mut torn);
        for (n, log) in whole.into_iter().enumerate() {
            let want = if n == 0 { &acked[k + 1] } else { &acked[k] };
            tears += usize::from(n > 0);
            let place = tempfile::tempdir().expect("a folder");
            std::fs::write(place.path().join(file), db_before).expect("the database copies");
            std::fs::write(place.path().join(format!("{file}-wal")), &log)
                .expect("the torn WAL copies");
            let mut restarted = Relay::serving(
                TestRelay::builder()
                    .data_dir(place.path())
                    .clock(std::sync::Arc::clone(&relay.clock))
                    .start()
                    .await,
            );
            let token = restarted.login(&admin).await;
            pull_serves_exactly(&restarted, &token, team, want).await;
            let again = send(
                &restarted,
                &token,
                team,
                pushes(&admin, team, 1_000 + k as u64 * PER_BATCH, 1),
            )
            .await;
            assert_eq!(again.acked.len() as u64, PER_BATCH, "a push after the tear");
            restarted.shutdown().await;
        }
    }
    assert_eq!(tears, 12);
}
