//! New-device bootstrap of a supervisor's device after several years: 50,000 case files,
//! their 50,000 action plans and a directory of 10,000 assets (100,001 documents). How long
//! until a fresh device that joined the team holds all of it, and how many bytes the relay
//! sent it; the Holdfast side of `SCALE=100k benches/compare/run.sh`.
//!
//! ```sh
//! cargo bench -p holdfast-tests --bench bootstrap_large            # full: 50,000 patients
//! cargo bench -p holdfast-tests --bench bootstrap_large -- --json  # + the JSON line
//! cargo bench -p holdfast-tests --bench bootstrap_large -- --prepare  # only make the store
//! ```
//!
//! `HOLDFAST_LARGE_DEVICE_PATIENTS=N` (and `HOLDFAST_LARGE_DEVICE_ASSETS=N`, default 10,000)
//! for another size. Without `--bench` (`cargo test --all-targets`) it runs the same steps
//! on 20 patients and 100 assets, in seconds, and checks the bootstrap just as fully.
//!
//! The store is the one `cargo bench -p holdfast-core --bench large_device` measures: made
//! by the seeder (seed 42, through the store's own API, as `holdfast seed` makes it; about
//! 23 minutes for 50,000 patients on the 2-core machine), built once and kept in
//! `$HOLDFAST_BENCH_CACHE` (else the temp folder's `holdfast-bench-cache`) under
//! `large-device-seed42-p<patients>-a<assets>`, with `store/` (the SQLCipher database),
//! `keys/` (its key files) and `built-in-seconds`. This bench builds it the same way when it
//! is missing, and otherwise copies it: the cache is never opened in place, so it is never
//! changed. `--prepare` makes sure it exists and prints `{"cache": PATH, ...}`, for
//! `run.sh`, which exports a copy of it with the holdfast CLI for the automerge-repo side.
//!
//! 1. Device A opens the copy, creates a team on an in-process relay (default limits, the
//!    ones a deployment starts with; loopback; temp dir) and syncs once with
//!    `snapshot_after: 1`: it pushes every document's changes, then seals and pushes a
//!    snapshot of every document.
//! 2. Fresh device F joins by invite (enrolment is not bootstrap) and syncs: the compact
//!    pull serves the snapshots and leaves out the change batches they cover.
//!
//! The clock is the one of the `bootstrap` bench: it starts just before F's first
//! `SyncClient::sync` and stops when the caseload lists every case and every document has
//! been read whole through the store (`Store::export`). It includes F's disk writes (each
//! page is committed to SQLCipher before `sync` returns). Bytes are counted by the same
//! loopback proxy in front of the relay.
//!
//! After the clock, F is checked against A: the caseload, every document's ids and heads,
//! and every case file, action plan and directory equal to A's (one document at a time).
//!
//! What A's sync leaves in its outbox is reported, not failed on: the seeder imports the
//! 10,000 assets in one change of ~8.2 MB, larger than an envelope carries
//! (`MAX_PLAINTEXT`, 4 MiB), which `seal_outbox` leaves unsealed for ever; the directory
//! reaches F in its snapshot. The bench checks that nothing else stays behind.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Mode, dir_bytes, ms};
use holdfast_core::model::doc::DocKind;
use holdfast_core::seed::{self, SeedConfig};
use holdfast_core::store::Export;
use holdfast_core::sync::Role;
use holdfast_core::{
    FileKeyStore, SharedStore, Store, StoreConfig, SyncClient, SyncConfig, TeamId,
};
use holdfast_relay::testing::TestRelay;
use holdfast_tests::{Counted, Device, Proxy};

const KINDS: [DocKind; 3] = [DocKind::CaseFile, DocKind::ActionPlan, DocKind::Directory];
/// The person of the large store (as `large_device` names it).
const PERSON: &str = "Bench Supervisor";

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Res<()> {
    common::init_logging();
    let mode = Mode::from_args();
    let prepare = std::env::args().any(|a| a == "--prepare");
    let config = seed_config(mode)?;
    if prepare {
        let (dir, seconds) = cached(&config)?;
        println!(
            "{}",
            serde_json::json!({
                "cache": dir,
                "patients": config.patients,
                "assets": config.assets,
                "seed": config.seed,
                "built_in_seconds": seconds,
            })
        );
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(mode, config))
}

/// The store's size: 50,000 patients and 10,000 assets (`HOLDFAST_LARGE_DEVICE_PATIENTS`,
/// `HOLDFAST_LARGE_DEVICE_ASSETS`), or 20 and 100 for the quick pass.
fn seed_config(mode: Mode) -> Res<SeedConfig> {
    let number = |var: &str, full: usize, quick: usize| -> Res<usize> {
        match std::env::var(var) {
            Ok(n) => Ok(n.parse()?),
            Err(_) if mode.full => Ok(full),
            Err(_) => Ok(quick),
        }
    };
    Ok(SeedConfig {
        seed: 42,
        patients: number("HOLDFAST_LARGE_DEVICE_PATIENTS", 50_000, 20)?,
        assets: number("HOLDFAST_LARGE_DEVICE_ASSETS", 10_000, 100)?,
    })
}

fn store_config(root: &Path) -> StoreConfig {
    StoreConfig::new(root.join("store"), PERSON)
}

fn keys(root: &Path) -> FileKeyStore {
    FileKeyStore::new(root.join("keys"))
}

/// Seeds a store of `config` in `root` (as `large_device` does); returns the seconds it took.
fn build(root: &Path, config: &SeedConfig) -> Res<f64> {
    let t = Instant::now();
    let mut store = Store::create(&store_config(root), &keys(root))?;
    let seeded = seed::populate(&mut store, config)?;
    assert_eq!(seeded.cases.len(), config.patients);
    drop(store);
    Ok(t.elapsed().as_secs_f64())
}

/// The cached store of `config` (the folder and key of `large_device`), built first when
/// missing; and the seconds its build took.
fn cached(config: &SeedConfig) -> Res<(PathBuf, f64)> {
    let base = std::env::var_os("HOLDFAST_BENCH_CACHE").map_or_else(
        || std::env::temp_dir().join("holdfast-bench-cache"),
        PathBuf::from,
    );
    let dir = base.join(format!(
        "large-device-seed{}-p{}-a{}",
        config.seed, config.patients, config.assets
    ));
    let stamp = dir.join("built-in-seconds");
    if let Ok(text) = std::fs::read_to_string(&stamp) {
        return Ok((dir, text.trim().parse()?));
    }
    eprintln!(
        "seeding {} patients and {} assets into {} (once; later runs reuse it; about 23 \
         minutes for 50,000 patients)",
        config.patients,
        config.assets,
        dir.display()
    );
    let building = base.join(format!("building-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    std::fs::create_dir_all(&building)?;
    let seconds = build(&building, config)?;
    std::fs::write(building.join("built-in-seconds"), format!("{seconds:.1}\n"))?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&building, &dir)?;
    Ok((dir, seconds))
}

fn copy_dir(from: &Path, to: &Path) -> Res<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

fn say(mode: Mode, text: &str) {
    // With --json, stdout is for the JSON line only.
    if mode.json {
        eprintln!("{text}");
    } else {
        println!("{text}");
    }
}

/// Device A: the large store (a copy), its key files and a sync client that snapshots
/// every document it pushes.
struct Source {
    store: SharedStore,
    client: SyncClient,
}

impl Source {
    fn s(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().expect("the store's lock")
    }
}

/// What the bootstrap measured.
struct Outcome {
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
    verify: Duration,
}

async fn run(mode: Mode, config: SeedConfig) -> Res<()> {
    say(
        mode,
        &format!(
            "large bootstrap bench ({}): seed {}, {} patients, {} assets = {} documents",
            if mode.full {
                "full"
            } else {
                "quick pass; `cargo bench` for the full one"
            },
            config.seed,
            config.patients,
            config.assets,
            2 * config.patients + 1
        ),
    );
    let scratch = tempfile::tempdir()?;
    let (source, built) = if mode.full {
        cached(&config)?
    } else {
        let root = scratch.path().join("seeded");
        let seconds = build(&root, &config)?;
        (root, seconds)
    };
    let root = scratch.path().join("a");
    let t = Instant::now();
    copy_dir(&source, &root)?;
    let store_bytes = std::fs::metadata(store_config(&root).db_path())?.len();
    say(
        mode,
        &format!(
            "store {} (seeded in {built:.0} s): copied {:.0} MiB in {:.1} s",
            source.display(),
            store_bytes as f64 / (1024.0 * 1024.0),
            t.elapsed().as_secs_f64()
        ),
    );

    // The relay behind a counting proxy: the proxy's URL is the relay's public URL. Default
    // limits: what a deployment starts with.
    let listener = Proxy::bind().await;
    let public = format!("http://{}", listener.local_addr()?);
    let relay = TestRelay::builder().public_url(public).start().await;
    let proxy = Proxy::start_on(&relay.handle(), listener, relay.addr());
    let url = proxy.url();

    // Device A opens the copy (any schema upgrade happens here) and uploads everything,
    // changes and a snapshot of each document.
    let t = Instant::now();
    let opened = {
        let root = root.clone();
        tokio::task::spawn_blocking(move || Store::open(&store_config(&root), &keys(&root)))
            .await??
    };
    let store = SharedStore::new(opened);
    let a = Source {
        client: SyncClient::new(
            store.clone(),
            SyncConfig {
                snapshot_after: 1,
                ..SyncConfig::default()
            },
        )?,
        store,
    };
    let documents: usize = KINDS
        .iter()
        .map(|k| a.s().document_ids(*k).map(|ids| ids.len()))
        .sum::<Result<usize, _>>()?;
    assert_eq!(documents, 2 * config.patients + 1);
    say(
        mode,
        &format!(
            "device A: opened the copy in {:.0} ms ({documents} documents)",
            ms(t.elapsed())
        ),
    );
    let team = a.s().create_team(&url)?;
    a.client.register_team(team).await?;
    // One sync: it pushes every change, then seals and pushes a snapshot of every
    // document. What it leaves in the outbox is reported (see `stuck_outbox`): the
    // snapshots still carry those documents whole, so the bootstrap is not affected.
    let t = Instant::now();
    let report = a.client.sync(team).await?;
    let upload = t.elapsed();
    let status = a.s().sync_status(team)?;
    assert_eq!(
        status.unacknowledged_envelopes, 0,
        "every sealed envelope pushed"
    );
    assert_eq!(report.snapshots, documents, "a snapshot of every document");
    let stuck = stuck_outbox(&root)?;
    assert_eq!(
        status.pending_outbox,
        stuck.len() as u64,
        "only changes too large for an envelope stay in the outbox"
    );
    say(
        mode,
        &format!(
            "device A: uploaded {} envelopes ({} change batches, {} snapshots) in {} push \
             requests, {:.1} s",
            report.push.acknowledged,
            report.push.acknowledged.saturating_sub(report.snapshots),
            report.snapshots,
            report.push.requests,
            upload.as_secs_f64()
        ),
    );
    for (doc, kind, len) in &stuck {
        say(
            mode,
            &format!(
                "    FINDING: a change of {len} B ({kind} {doc}) is larger than one envelope \
                 carries ({} B): it stays in A's outbox, so A never reports everything \
                 uploaded; its content reaches other devices in the document's snapshot",
                holdfast_protocol::MAX_PLAINTEXT
            ),
        );
    }

    let o = bootstrap(&relay, &proxy, &a, team).await?;
    assert!(
        o.applied <= documents,
        "the compact pull served one snapshot per document, no change batch: {}",
        o.applied
    );
    report_run(mode, &config, &o, upload, &stuck);
    Ok(())
}

/// A fresh device joins `team` by invite and bootstraps; checked against A afterwards.
async fn bootstrap(relay: &TestRelay, proxy: &Proxy, a: &Source, team: TeamId) -> Res<Outcome> {
    let f = Device::with_config("Jo Whitfield", SyncConfig::default());
    // Joined through an invite, without the first sync: that sync is what is measured.
    let code = a
        .client
        .create_invite(team, Role::LinkWorker, None, 60_000)
        .await?;
    f.client.join_by_invite(&f.keys, &code).await?;
    let expected_cases = a.s().caseload(&Default::default())?.len();

    // Let the enrolment's disk writes settle before the clock starts.
    tokio::time::sleep(Duration::from_millis(200)).await;
    proxy.counters.reset();
    let start = Instant::now();
    let report = f.client.sync(team).await?;
    let synced = start.elapsed();
    let bytes = proxy.counters.get();
    let (cases, export) = {
        let store = f.store.clone();
        tokio::task::spawn_blocking(move || -> holdfast_core::Result<_> {
            let mut s = store.lock().expect("the store's lock");
            let cases = s.caseload(&Default::default())?.len();
            Ok((cases, s.export()?))
        })
        .await??
    };
    let total = start.elapsed();
    assert!(report.pull.bootstrap);
    assert_eq!(report.pull.refused, 0);
    assert_eq!(cases, expected_cases, "the caseload lists every case");

    // Verification (after the clock): F holds what A holds.
    let t = Instant::now();
    let documents = verify(a, &f, &export)?;
    let verify_time = t.elapsed();
    drop(export);
    Ok(Outcome {
        documents,
        cases,
        sync: synced,
        read: total - synced,
        total,
        bytes,
        pages: report.pull.pages,
        applied: report.pull.applied,
        relay_envelopes: relay_envelope_count(relay)?,
        relay_disk: dir_bytes(relay.data_dir()),
        device_disk: dir_bytes(f.dir.path()),
        verify: verify_time,
    })
}

/// Everything the fresh device `f` holds equals A's: the caseload, every document's ids and
/// heads, and every document's content (`f_export`, read inside the clock, against A's
/// documents read one at a time). Returns the document count.
fn verify(a: &Source, f: &Device, f_export: &Export) -> Res<usize> {
    let mut sa = a.s();
    let mut sf = f.s();
    assert_eq!(
        sf.caseload(&Default::default())?,
        sa.caseload(&Default::default())?,
        "caseload"
    );
    let mut documents = 0;
    for kind in KINDS {
        let ids = sa.document_ids(kind)?;
        assert_eq!(sf.document_ids(kind)?, ids, "{kind:?} ids");
        for id in ids {
            assert_eq!(sf.heads(id)?, sa.heads(id)?, "heads of {id}");
            documents += 1;
        }
    }
    assert_eq!(
        f_export.case_files.len(),
        sa.document_ids(DocKind::CaseFile)?.len()
    );
    for (id, case) in &f_export.case_files {
        assert!(*case == sa.case_file(*id)?, "case file {id} differs");
    }
    assert_eq!(
        f_export.action_plans.len(),
        sa.document_ids(DocKind::ActionPlan)?.len()
    );
    for (id, plan) in &f_export.action_plans {
        assert!(*plan == sa.action_plan(*id)?, "action plan {id} differs");
    }
    assert_eq!(
        f_export.directories.len(),
        sa.document_ids(DocKind::Directory)?.len()
    );
    // The area has no reader of its own: equal heads (above) make it equal too.
    for (id, _area, assets) in &f_export.directories {
        assert_eq!(
            *assets,
            sa.directory_assets(*id)?,
            "assets of directory {id}"
        );
    }
    Ok(documents)
}

/// The outbox rows of A's store that have no envelope after its sync, read straight from
/// its database: (document, kind, bytes of the change). The store's own status counts them
/// but does not say why they stay.
fn stuck_outbox(root: &Path) -> Res<Vec<(String, String, usize)>> {
    use holdfast_core::KeyStore;
    let key = keys(root)
        .get(holdfast_core::store::STORE_KEY_NAME)?
        .ok_or("no store key")?;
    let conn = rusqlite::Connection::open_with_flags(
        store_config(root).db_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", hex::encode(&key)))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mut stmt = conn.prepare(
        "SELECT hex(o.doc_id), d.kind, length(o.bytes) FROM outbox o
         JOIN documents d ON d.id = o.doc_id WHERE o.envelope_id IS NULL ORDER BY o.seq",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?.to_lowercase(),
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)? as usize,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn relay_envelope_count(relay: &TestRelay) -> Res<u64> {
    let conn = rusqlite::Connection::open_with_flags(
        relay.data_dir().join("relay.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn.query_row("SELECT count(*) FROM envelopes", [], |r| r.get::<_, i64>(0))? as u64)
}

fn report_run(
    mode: Mode,
    config: &SeedConfig,
    o: &Outcome,
    upload: Duration,
    stuck: &[(String, String, usize)],
) {
    say(
        mode,
        &format!(
            "bootstrap with snapshots: {:.1} ms  ({:.1} ms sync: login + roster + {} pull \
             pages, {} envelopes applied and committed to SQLCipher; {:.1} ms caseload + \
             reading all {} documents)",
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
            "    verified in {:.1} s: caseload of {} equal, all {} documents equal (content \
             and heads); device store {} B, relay {} envelopes / {} B on disk",
            o.verify.as_secs_f64(),
            o.cases,
            o.documents,
            o.device_disk,
            o.relay_envelopes,
            o.relay_disk
        ),
    );
    if mode.json {
        let line = serde_json::json!({
            "system": "holdfast",
            "documents": o.documents,
            "bootstrap_ms": ms(o.total),
            "bytes_received": o.bytes.body_down,
            "snapshots": true,
            "sync_ms": ms(o.sync),
            "read_ms": ms(o.read),
            "pull_body_bytes": o.bytes.pull_body,
            "bytes_received_wire": o.bytes.wire_down,
            "bytes_sent_wire": o.bytes.wire_up,
            "requests": o.bytes.responses,
            "pull_pages": o.pages,
            "envelopes_applied": o.applied,
            "connections": o.bytes.connections,
            "cases_listed": o.cases,
            "relay_envelopes": o.relay_envelopes,
            "relay_disk_bytes": o.relay_disk,
            "device_disk_bytes": o.device_disk,
            "upload_ms": ms(upload),
            "a_outbox_left": stuck
                .iter()
                .map(|(doc, kind, len)| serde_json::json!({"doc": doc, "kind": kind, "bytes": len}))
                .collect::<Vec<_>>(),
            "disk_writes_included": true,
            "clock": "from the fresh device's first sync (login included) to every document \
                      committed to its encrypted store, the caseload listed and every document \
                      read back whole",
            "data": format!(
                "the large_device store (seed {}, {} patients, {} assets), copied from its cache",
                config.seed, config.patients, config.assets
            ),
            "full": mode.full,
            "verified": true,
        });
        println!("{line}");
    }
}
