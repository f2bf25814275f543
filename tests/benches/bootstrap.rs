//! New-device bootstrap of the seeded caseload: how long until a fresh device that joined
//! the team holds everything, and how many bytes the relay sent it.
//!
//! ```sh
//! cargo bench -p holdfast-tests --bench bootstrap            # full: 250 patients, 2,000 assets
//! cargo bench -p holdfast-tests --bench bootstrap -- --json  # + one JSON line per run
//! ```
//!
//! Without `--bench` (`cargo test --all-targets`) it runs the same steps on a small caseload,
//! in seconds.
//!
//! 1. Device A seeds the caseload (`SeedConfig::default()`: seed 42, 250 case files, 250
//!    action plans, one directory of 2,000 assets = 501 documents), creates a team on an
//!    in-process relay (loopback, temp dir) and pushes every change (one change-batch
//!    envelope per document), with snapshots off (`snapshot_after: u32::MAX`).
//! 2. Run "without snapshots": fresh device F1 joins with the team secret and syncs; the
//!    compact pull finds no snapshot and serves every change envelope.
//! 3. A syncs once more through a client with `snapshot_after: 1`: every document has
//!    changes since its last snapshot (none yet), so A uploads 501 snapshot envelopes.
//! 4. Run "with snapshots": fresh device F2 joins and syncs; the compact pull serves the
//!    snapshots and leaves out the change batches they cover.
//!
//! The clock of a run starts just before F's first `SyncClient::sync` (store created, team
//! joined: enrolment is not bootstrap) and stops when the caseload lists every case and every
//! document has been read whole through the store (`Store::export`: each case file, action
//! plan and the directory loaded from the device's database and turned into typed views).
//! That matches automerge-repo's side (every document loaded and readable). It includes the
//! device's disk writes: a pulled page is committed to SQLCipher (fsync, `synchronous=FULL`)
//! before `sync` returns; automerge-repo's side leaves its disk write out (`flush_ms`).
//!
//! Bytes are counted by a loopback TCP proxy in front of the relay that follows the HTTP/1.1
//! exchanges: `bytes_received` is the body bytes of every response F got during the sync
//! (login, roster, pull pages), `pull_body_bytes` the pull pages alone, `bytes_received_wire`
//! every TCP byte relay → F (heads included). Every device talks to the relay through the
//! proxy (the relay's public URL, to which logins are bound, is the proxy's), and A is idle
//! while F bootstraps.
//!
//! After the clock, F's content is checked against A's: the caseload, the whole export
//! (every case file, action plan and asset) and the Automerge heads of every document.
//!
//! The data is generated again with seed 42 rather than read from `HOLDFAST_COMPARE_EXPORT`
//! (the export of `holdfast seed`, which `benches/compare/run.sh` sets): the store has no
//! import of an export, and an import would give every document a one-change history unlike
//! the seeded one. When the variable is set, the counts and patient names of that export are
//! compared with the seeded caseload and a mismatch is reported.
//!
//! The last JSON line is the run with snapshots (`run.sh` compares the last line).

mod common;

use std::time::{Duration, Instant};

use common::{Mode, dir_bytes, ms};
use holdfast_core::model::doc::DocKind;
use holdfast_core::seed::{self, SeedConfig};
use holdfast_core::store::Export;
use holdfast_core::{SyncConfig, TeamId};
use holdfast_relay::testing::TestRelay;
use holdfast_tests::{Counted, Device, Proxy};

const KINDS: [DocKind; 3] = [DocKind::CaseFile, DocKind::ActionPlan, DocKind::Directory];

fn main() {
    common::init_logging();
    let mode = Mode::from_args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(mode));
}

/// What one bootstrap measured.
struct Outcome {
    snapshots: bool,
    documents: usize,
    cases: usize,
    sync: Duration,
    read: Duration,
    total: Duration,
    bytes: Counted,
    pages: usize,
    applied: usize,
    relay_envelopes: u64,
    relay_disk: u64,
    device_disk: u64,
    /// Reading case files, action plans, everything (cold cache, after the clock).
    reads: [Duration; 3],
}

async fn run(mode: Mode) {
    let config = if mode.full {
        SeedConfig::default()
    } else {
        SeedConfig {
            seed: 42,
            patients: 12,
            assets: 60,
        }
    };
    say(
        mode,
        &format!(
            "bootstrap bench ({}): seed {}, {} patients, {} assets",
            if mode.full {
                "full"
            } else {
                "quick smoke run; `cargo bench` for the full one"
            },
            config.seed,
            config.patients,
            config.assets
        ),
    );

    // The relay behind a counting proxy: the proxy's URL is the relay's public URL.
    let listener = Proxy::bind().await;
    let public = format!("http://{}", listener.local_addr().unwrap());
    let relay = TestRelay::builder().public_url(public).start().await;
    let proxy = Proxy::start_on(&relay.handle(), listener, relay.addr());
    let url = proxy.url();

    // Device A: seeds, creates the team, uploads everything (no snapshots yet).
    let a = Device::with_config(
        "Sam Okafor",
        SyncConfig {
            snapshot_after: u32::MAX,
            ..SyncConfig::default()
        },
    );
    let t = Instant::now();
    seed::populate(&mut a.s(), &config).unwrap();
    let seed_time = t.elapsed();
    let team = a.create_team(&url).await;
    let t = Instant::now();
    let report = a.client.sync(team).await.unwrap();
    let upload = t.elapsed();
    assert!(a.s().sync_status(team).unwrap().everything_uploaded);
    assert_eq!(report.snapshots, 0);
    let documents: usize = KINDS
        .iter()
        .map(|k| a.s().document_ids(*k).unwrap().len())
        .sum();
    assert_eq!(documents, 2 * config.patients + 1);
    say(
        mode,
        &format!(
            "device A: seeded {documents} documents in {:.0} ms; uploaded them in {:.0} ms \
             ({} change envelopes, {} push requests)",
            ms(seed_time),
            ms(upload),
            report.push.acknowledged,
            report.push.requests
        ),
    );
    check_compare_export(mode, &a, config);

    // Without snapshots.
    let plain = bootstrap(&relay, &proxy, &a, team, &url, false).await;
    report_run(mode, &plain);

    // A uploads a snapshot of every document.
    let a_snap = holdfast_core::SyncClient::new(
        a.store.clone(),
        SyncConfig {
            snapshot_after: 1,
            ..SyncConfig::default()
        },
    )
    .unwrap();
    let t = Instant::now();
    let report = a_snap.sync(team).await.unwrap();
    assert_eq!(report.snapshots, documents, "a snapshot of every document");
    assert!(a.s().sync_status(team).unwrap().everything_uploaded);
    say(
        mode,
        &format!(
            "device A: sealed and uploaded {} snapshots in {:.0} ms",
            report.snapshots,
            ms(t.elapsed())
        ),
    );

    // With snapshots.
    let compact = bootstrap(&relay, &proxy, &a, team, &url, true).await;
    assert!(
        compact.applied <= documents,
        "the compact pull served one snapshot per document, no change batch: {}",
        compact.applied
    );
    report_run(mode, &compact);

    if mode.full && compact.total > Duration::from_secs(3) {
        say(
            mode,
            &format!(
                "NOTE: bootstrap with snapshots took {:.0} ms, over the 3 s target",
                ms(compact.total)
            ),
        );
    }
}

/// A fresh device joins `team` and bootstraps; checked against A afterwards.
async fn bootstrap(
    relay: &TestRelay,
    proxy: &Proxy,
    a: &Device,
    team: TeamId,
    url: &str,
    snapshots: bool,
) -> Outcome {
    let f = Device::with_config("Jo Whitfield", SyncConfig::default());
    // Joined through an invite, without the first sync: that sync is what is measured.
    let _ = url;
    let code = a
        .client
        .create_invite(team, holdfast_core::sync::Role::LinkWorker, None, 60_000)
        .await
        .unwrap();
    f.client.join_by_invite(&f.keys, &code).await.unwrap();
    let expected_cases = a.s().caseload(&Default::default()).unwrap().len();

    // Let the enrolment's disk writes settle before the clock starts.
    tokio::time::sleep(Duration::from_millis(200)).await;
    proxy.counters.reset();
    let start = Instant::now();
    let report = f.client.sync(team).await.unwrap();
    let synced = start.elapsed();
    let bytes = proxy.counters.get();
    let (cases, export) = {
        let store = f.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut s = store.lock().unwrap();
            let cases = s.caseload(&Default::default()).unwrap().len();
            (cases, s.export().unwrap())
        })
        .await
        .unwrap()
    };
    let total = start.elapsed();
    let read = total - synced;
    assert!(report.pull.bootstrap);
    assert_eq!(report.pull.refused, 0);
    assert_eq!(cases, expected_cases, "the caseload lists every case");

    // Verification (after the clock): F holds what A holds.
    let documents = verify(a, &f, &export);
    let reads = read_breakdown(&f);
    Outcome {
        snapshots,
        documents,
        cases,
        sync: synced,
        read,
        total,
        bytes,
        pages: report.pull.pages,
        applied: report.pull.applied,
        relay_envelopes: relay_envelope_count(relay),
        relay_disk: dir_bytes(relay.data_dir()),
        device_disk: dir_bytes(f.dir.path()),
        reads,
    }
}

/// After the clock, from a cold document cache: reading the 250 case files, the 250 action
/// plans, and the whole export (the directory's share is the difference).
fn read_breakdown(f: &Device) -> [Duration; 3] {
    let mut s = f.s();
    s.unload_documents();
    let t = Instant::now();
    for id in s.document_ids(DocKind::CaseFile).unwrap() {
        s.case_file(id).unwrap();
    }
    let cases = t.elapsed();
    s.unload_documents();
    let t = Instant::now();
    for id in s.document_ids(DocKind::ActionPlan).unwrap() {
        s.action_plan(id).unwrap();
    }
    let plans = t.elapsed();
    s.unload_documents();
    let t = Instant::now();
    s.export().unwrap();
    let export = t.elapsed();
    [cases, plans, export]
}

/// Everything the fresh device `f` holds equals A's: caseload, every document's content
/// (`export`, read inside the clock), every document's heads. Returns the document count.
fn verify(a: &Device, f: &Device, f_export: &Export) -> usize {
    let mut sa = a.s();
    let mut sf = f.s();
    assert_eq!(
        sf.caseload(&Default::default()).unwrap(),
        sa.caseload(&Default::default()).unwrap(),
        "caseload"
    );
    let a_export = sa.export().unwrap();
    assert_eq!(f_export.case_files.len(), a_export.case_files.len());
    assert_eq!(f_export.action_plans.len(), a_export.action_plans.len());
    assert_eq!(f_export.directories.len(), a_export.directories.len());
    assert!(
        serde_json::to_value(&f_export.case_files).unwrap()
            == serde_json::to_value(&a_export.case_files).unwrap(),
        "case files differ"
    );
    assert!(
        serde_json::to_value(&f_export.action_plans).unwrap()
            == serde_json::to_value(&a_export.action_plans).unwrap(),
        "action plans differ"
    );
    assert!(
        serde_json::to_value(&f_export.directories).unwrap()
            == serde_json::to_value(&a_export.directories).unwrap(),
        "directories differ"
    );
    let mut documents = 0;
    for kind in KINDS {
        let ids = sa.document_ids(kind).unwrap();
        assert_eq!(sf.document_ids(kind).unwrap(), ids, "{kind:?} ids");
        for id in ids {
            assert_eq!(
                sf.heads(id).unwrap(),
                sa.heads(id).unwrap(),
                "heads of {id}"
            );
            documents += 1;
        }
    }
    documents
}

fn relay_envelope_count(relay: &TestRelay) -> u64 {
    let conn = rusqlite::Connection::open_with_flags(
        relay.data_dir().join("relay.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row("SELECT count(*) FROM envelopes", [], |r| r.get::<_, i64>(0))
        .unwrap() as u64
}

fn report_run(mode: Mode, o: &Outcome) {
    let label = if o.snapshots {
        "with snapshots   "
    } else {
        "without snapshots"
    };
    say(
        mode,
        &format!(
            "bootstrap {label}: {:>7.1} ms  ({:.1} ms sync: login + roster + {} pull pages, \
             {} envelopes applied and committed to SQLCipher; {:.1} ms caseload + reading all \
             {} documents)",
            ms(o.total),
            ms(o.sync),
            o.pages,
            o.applied,
            ms(o.read),
            o.documents
        ),
    );
    say(
        mode,
        &format!(
            "    received {} B of response bodies ({} B of pull pages in {} pulls, {} \
             responses), {} B on the wire; sent {} B; {} connection(s)",
            o.bytes.body_down,
            o.bytes.pull_body,
            o.bytes.pulls,
            o.bytes.responses,
            o.bytes.wire_down,
            o.bytes.wire_up,
            o.bytes.connections
        ),
    );
    say(
        mode,
        &format!(
            "    verified: caseload of {} equal, all {} documents equal (content and heads); \
             device store {} B, relay {} envelopes / {} B on disk",
            o.cases, o.documents, o.device_disk, o.relay_envelopes, o.relay_disk
        ),
    );
    let [cases, plans, export] = o.reads;
    say(
        mode,
        &format!(
            "    reading again after the clock (cold cache): all {:.0} ms = case files {:.0} ms + \
             action plans {:.0} ms + the directory ~{:.0} ms",
            ms(export),
            ms(cases),
            ms(plans),
            ms(export.saturating_sub(cases + plans))
        ),
    );
    say(
        mode,
        "    the clock includes the device's disk writes (each page commits to SQLCipher, \
         fsync, before sync returns) and reading every document back",
    );
    if mode.json {
        let line = serde_json::json!({
            "system": "holdfast",
            "documents": o.documents,
            "bootstrap_ms": ms(o.total),
            "bytes_received": o.bytes.body_down,
            "snapshots": o.snapshots,
            "sync_ms": ms(o.sync),
            "read_ms": ms(o.read),
            "read_cold_case_files_ms": ms(cases),
            "read_cold_action_plans_ms": ms(plans),
            "read_cold_all_ms": ms(export),
            "pull_body_bytes": o.bytes.pull_body,
            "bytes_received_wire": o.bytes.wire_down,
            "bytes_sent_wire": o.bytes.wire_up,
            "requests": o.bytes.responses,
            "pull_pages": o.pages,
            "envelopes_applied": o.applied,
            "connections": o.bytes.connections,
            "cases_listed": o.cases,
            "disk_writes_included": true,
            "clock": "from the fresh device's first sync (login included) to every document \
                      committed to its encrypted store, the caseload listed and every document \
                      read back whole",
            "data": "seeded again with seed 42 (SeedConfig::default), not read from the export",
            "full": mode.full,
            "verified": true,
        });
        println!("{line}");
    }
}

/// Compares the export `run.sh` made (if any) with A's seeded caseload.
fn check_compare_export(mode: Mode, a: &Device, config: SeedConfig) {
    let Some(path) = std::env::var_os("HOLDFAST_COMPARE_EXPORT") else {
        return;
    };
    let theirs: serde_json::Value = match std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            say(mode, &format!("HOLDFAST_COMPARE_EXPORT unreadable: {e}"));
            return;
        }
    };
    let ours = serde_json::to_value(a.s().export().unwrap()).unwrap();
    let names = |v: &serde_json::Value| {
        let mut n: Vec<String> = v["case_files"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| c[1]["patient"]["name"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default();
        n.sort();
        n
    };
    let count = |v: &serde_json::Value, k: &str| v[k].as_array().map_or(0, Vec::len);
    let same = ["case_files", "action_plans", "directories"]
        .iter()
        .all(|k| count(&theirs, k) == count(&ours, k))
        && names(&theirs) == names(&ours);
    say(
        mode,
        &format!(
            "HOLDFAST_COMPARE_EXPORT ({}): {}",
            std::path::Path::new(&path).display(),
            if same {
                "same document counts and patient names as the caseload seeded here (seed 42)"
                    .to_owned()
            } else if !mode.full {
                format!(
                    "differs from this quick run's small caseload ({} patients), as expected",
                    config.patients
                )
            } else {
                "DIFFERS from the caseload seeded here".to_owned()
            }
        ),
    );
}

/// Human lines: stdout, or stderr when stdout carries JSON lines.
fn say(mode: Mode, line: &str) {
    if mode.json {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}
