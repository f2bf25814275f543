//! Relay ingest load generator: 64 devices, each in its own team, push pre-sealed batches
//! of 100 × 1 KiB envelopes over loopback HTTP as fast as the relay acknowledges them, then
//! the same rows go into a plain SQLite file (WAL, `synchronous=FULL`) for comparison.
//!
//! The same run then measures the PostgreSQL backend (issue 11), durable (the server's
//! default `synchronous_commit = on`), each phase on a fresh schema of the tests' server
//! (`HOLDFAST_TEST_POSTGRES`, or one started for this run; see
//! `holdfast_relay::testing::postgres`): one relay; two relays on one schema with the
//! clients split between them; and a plain batched insert of the same rows into the relay's
//! own `envelopes` table (one 100-row `INSERT … VALUES` and one transaction per batch, from
//! as many connections as a relay's pool holds), for the ratio relay/plain.
//!
//! `cargo bench -p holdfast-relay --bench ingest` runs each relay phase for 20 s; without
//! `--bench` (as under `cargo test --all-targets`) it is a quick smoke run of 64 clients × 2
//! batches per phase. Envelopes are sealed and batches signed once, before timing starts,
//! and pushed to every relay measured (each phase's storage is new, so every team is new to
//! it): the numbers measure the relay's ingest, not device crypto. `RUST_LOG=warn` shows the
//! relays' own log.
//!
//! The relays run in a tokio runtime of their own (threads named `relay`, besides the SQLite
//! writer thread `relay-writer`), the load generator in another (`loadgen`), so that a
//! profile (`perf record -g -p PID`, `perf report --sort comm`) tells the relay's CPU from
//! the generator's. Both share the machine.
//!
//! Arguments after `--` choose the phases: `sqlite` runs only the SQLite relay (and the
//! plain SQLite inserts); `grow` runs only the growth run below. None: every phase but the
//! growth run. Without `--bench` every phase, the growth run included, is a quick pass.
//!
//! **Growth run** (`cargo bench -p holdfast-relay --bench ingest -- grow`): one SQLite relay
//! (its data directory under `TMPDIR`, deleted at the end) is grown to
//! `HOLDFAST_INGEST_GROW_MILLIONS` (default 10) million envelopes, a million at a time, by
//! the same 64 clients pushing durable batches of 100 × 1 KiB; each million is sealed
//! before its clock starts (~15 s each: the sealing is the generator's work, not the
//! relay's) and its ingest rate printed. It stops after the million under way once
//! `HOLDFAST_INGEST_GROW_MINUTES` (default 60) have passed. Quick pass: two steps of 12,800.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use holdfast_protocol::{
    DeviceId, DeviceSigningKey, DocumentId, DocumentKey, Entry, Header, HpkeKeyPair, Kind, Op,
    PushBatch, SystemRandom, TeamId, seal,
};
use holdfast_relay::testing::postgres::TestSchema;
use holdfast_relay::{Config, Limits, LogFormat, RunningRelay};
use rusqlite::{Connection, params};
use serde_json::json;
use tokio::runtime::Handle;
use tokio_postgres::types::ToSql;

const CLIENTS: usize = 64;
const BATCH: usize = 100;
const PLAINTEXT: usize = 1024;
/// Sealed size: the plaintext plus the envelope overhead.
const ENVELOPE_BYTES: usize = PLAINTEXT + holdfast_protocol::ENVELOPE_OVERHEAD;
/// How long each relay phase (SQLite, PostgreSQL with one relay, with two) pushes.
const FULL_RUN: Duration = Duration::from_secs(20);
/// Batches each client seals ahead in a full run (~260 × 100 × 1.2 KiB = 30 MiB a client,
/// 1.9 GiB in all; ~25 s of sealing), pushed to every relay measured: enough for ~80 000
/// envelopes/s for 20 s (at 180 the SQLite relay and two PostgreSQL relays ran out). A
/// client that runs out stops early; the rate is over the time actually spent.
const FULL_BATCHES_PER_CLIENT: usize = 260;
const QUICK_BATCHES_PER_CLIENT: usize = 2;
/// Envelopes per step of the growth run (full run).
const GROW_STEP: usize = 1_000_000;
/// Steps of the growth run in its quick pass, of [`QUICK_BATCHES_PER_CLIENT`] batches a
/// client each.
const QUICK_GROW_STEPS: usize = 2;
const SQLITE_CAP: Duration = Duration::from_secs(10);
const GROUP_COMMIT_ROWS: usize = 6_400;
/// The plain PostgreSQL insert stops here if it has not yet inserted as many rows as the
/// one-relay phase stored.
const POSTGRES_PLAIN_CAP: Duration = Duration::from_secs(20);
/// Connections of the plain PostgreSQL insert: as many as one relay's pool.
const POSTGRES_CONNECTIONS: usize = holdfast_relay::storage::postgres::DEFAULT_POOL_SIZE;
const DOC_KEY: [u8; 32] = [0x42; 32];

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A device, its team's genesis and its sealed batches: made once, registered with and
/// pushed to every relay measured.
struct Device {
    device: DeviceId,
    key: DeviceSigningKey,
    team: TeamId,
    /// The signed genesis entry, hex.
    genesis: String,
    batches: Vec<Bytes>,
}

/// The push answer, as far as the generator reads it: each envelope's `duplicate` (a typed
/// decode, cheaper for the generator than a `serde_json::Value`).
#[derive(serde::Deserialize)]
struct Answer {
    results: Vec<Acknowledged>,
}

#[derive(serde::Deserialize)]
struct Acknowledged {
    duplicate: bool,
}

struct Outcome {
    acknowledged: u64,
    failures: u64,
    first_failure: Option<String>,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

/// One relay phase's figures.
struct Measured {
    total: u64,
    failures: u64,
    first_failure: Option<String>,
    /// Sorted.
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.total as f64 / self.elapsed.as_secs_f64()
    }

    fn p50(&self) -> f64 {
        millis(percentile(&self.latencies, 0.50))
    }

    fn p99(&self) -> f64 {
        millis(percentile(&self.latencies, 0.99))
    }
}

/// Makes a device with a team of its own and seals its batches (CPU work: off the async
/// workers).
async fn seal_device(client: usize, batches: usize) -> Device {
    tokio::task::spawn_blocking(move || {
        let rng = SystemRandom::new();
        let device = DeviceId::random_with(&rng).expect("device id");
        let key = DeviceSigningKey::generate(&rng).expect("device key");
        let team = TeamId::random_with(&rng).expect("team id");

        let hpke = HpkeKeyPair::generate(&rng).expect("HPKE key");
        let genesis = Entry::sign(
            team,
            now_ms(),
            device.0,
            Op::Genesis {
                device,
                sign_key: key.public_key(),
                hpke_key: hpke.public_key().clone(),
                key_commitment: [0; 32],
            },
            &key,
        )
        .expect("sign the genesis entry");
        let mut made = Device {
            device,
            key,
            team,
            genesis: hex::encode(genesis.as_bytes()),
            batches: Vec::new(),
        };
        made.batches = seal_batches(&made, client, 0, batches);
        made
    })
    .await
    .expect("sealing task")
}

/// Seals `batches` batches of `device` (client number `client`), its envelopes numbered
/// from `first` (each envelope's nonce and plaintext differ, so each has an id of its own).
fn seal_batches(device: &Device, client: usize, first: usize, batches: usize) -> Vec<Bytes> {
    let doc_key = DocumentKey::from_bytes(DOC_KEY);
    let document = DocumentId([u8::try_from(client % 256).unwrap_or(0); 16]);
    (0..batches)
        .map(|b| {
            let envelopes: Vec<Vec<u8>> = (0..BATCH)
                .map(|i| {
                    let salt = u64::try_from(first + b * BATCH + i).unwrap_or(u64::MAX);
                    let mut nonce = [0u8; 12];
                    nonce[4..].copy_from_slice(&salt.to_be_bytes());
                    let header = Header {
                        kind: Kind::ChangeBatch,
                        team: device.team,
                        document,
                        epoch: 1,
                        author: device.device,
                        covers: 0,
                        nonce,
                    };
                    let mut plaintext = format!("client {client} envelope {salt} ").into_bytes();
                    plaintext.resize(PLAINTEXT, b'.');
                    seal(&header, &doc_key, &plaintext, &device.key).expect("seal")
                })
                .collect();
            let refs: Vec<&[u8]> = envelopes.iter().map(Vec::as_slice).collect();
            Bytes::from(
                PushBatch::encode(&device.team, &device.device, &device.key, now_ms(), &refs)
                    .expect("encode batch"),
            )
        })
        .collect()
}

/// Creates `device`'s team at the relay at `url` and logs it in: its bearer token.
async fn register(http: &reqwest::Client, url: &str, device: &Device) -> String {
    let response = http
        .post(format!("{url}/v1/teams"))
        .json(&json!({"genesis": device.genesis}))
        .send()
        .await
        .expect("create team");
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    holdfast_relay::testing::login(url, device.device, &device.key)
        .await
        .expect("log in")
}

/// Pushes `batches` to `endpoint` one after another until they run out or `deadline`
/// passes.
async fn push_all(
    endpoint: String,
    token: String,
    batches: Vec<Bytes>,
    deadline: Option<Instant>,
) -> Outcome {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client");
    let mut outcome = Outcome {
        acknowledged: 0,
        failures: 0,
        first_failure: None,
        latencies: Vec::with_capacity(batches.len()),
        elapsed: Duration::ZERO,
    };
    let start = Instant::now();
    for batch in batches {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let sent = Instant::now();
        let response = http
            .post(&endpoint)
            .bearer_auth(&token)
            .header("content-type", "application/octet-stream")
            .body(batch)
            .send()
            .await;
        let failure = match response {
            Ok(response) if response.status().is_success() => {
                match response.json::<Answer>().await {
                    Ok(answer) => {
                        let stored = answer.results.iter().filter(|r| !r.duplicate).count();
                        outcome.acknowledged += u64::try_from(stored).unwrap_or(0);
                        None
                    }
                    Err(e) => Some(format!("unreadable answer: {e}")),
                }
            }
            Ok(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                Some(format!(
                    "{status}: {}",
                    body.chars().take(300).collect::<String>()
                ))
            }
            Err(e) => Some(format!("request failed: {e}")),
        };
        match failure {
            None => outcome.latencies.push(sent.elapsed()),
            Some(why) => {
                outcome.failures += 1;
                outcome.first_failure.get_or_insert(why);
            }
        }
    }
    outcome.elapsed = start.elapsed();
    outcome
}

/// Registers every device with one of the relays at `urls` (round-robin), then has each
/// push its batches to that relay, all at once, for [`FULL_RUN`] (or until they run out).
async fn measure(label: &str, devices: &Arc<Vec<Device>>, urls: &[String], full: bool) -> Measured {
    let tokens = register_all(label, devices, urls).await;
    let batches = devices.iter().map(|d| d.batches.clone()).collect();
    push_phase(
        label,
        devices,
        urls,
        &tokens,
        batches,
        full.then_some(FULL_RUN),
    )
    .await
}

/// Creates every device's team at one of the relays at `urls` (round-robin) and logs it
/// in: their bearer tokens, in the devices' order.
async fn register_all(label: &str, devices: &Arc<Vec<Device>>, urls: &[String]) -> Vec<String> {
    let setup = Instant::now();
    let http = reqwest::Client::new();
    let registering: Vec<_> = (0..devices.len())
        .map(|c| {
            let http = http.clone();
            let url = urls[c % urls.len()].clone();
            let devices = Arc::clone(devices);
            tokio::spawn(async move { register(&http, &url, &devices[c]).await })
        })
        .collect();
    let mut tokens = Vec::with_capacity(devices.len());
    for task in registering {
        tokens.push(task.await.expect("register task"));
    }
    eprintln!(
        "ingest ({label}): {} teams created and logged in in {:.1} s",
        devices.len(),
        setup.elapsed().as_secs_f64()
    );
    tokens
}

/// Has each device push `batches[c]` to its relay (round-robin over `urls`), all at once,
/// until they run out or `limit` passes.
async fn push_phase(
    label: &str,
    devices: &Arc<Vec<Device>>,
    urls: &[String],
    tokens: &[String],
    batches: Vec<Vec<Bytes>>,
    limit: Option<Duration>,
) -> Measured {
    let deadline = limit.map(|limit| Instant::now() + limit);
    let start = Instant::now();
    let tasks: Vec<_> = devices
        .iter()
        .zip(tokens)
        .zip(batches)
        .enumerate()
        .map(|(c, ((device, token), batches))| {
            let endpoint = format!(
                "{}/v1/teams/{}/envelopes",
                urls[c % urls.len()],
                device.team
            );
            tokio::spawn(push_all(endpoint, token.clone(), batches, deadline))
        })
        .collect();
    let mut measured = Measured {
        total: 0,
        failures: 0,
        first_failure: None,
        latencies: Vec::new(),
        elapsed: Duration::ZERO,
    };
    let mut exhausted_early = false;
    for task in tasks {
        let outcome = task.await.expect("push task");
        measured.total += outcome.acknowledged;
        measured.failures += outcome.failures;
        if measured.first_failure.is_none() {
            measured.first_failure = outcome.first_failure;
        }
        measured.latencies.extend(outcome.latencies);
        if limit.is_some_and(|limit| outcome.elapsed + Duration::from_millis(500) < limit) {
            exhausted_early = true;
        }
    }
    measured.elapsed = start.elapsed();
    measured.latencies.sort_unstable();
    if exhausted_early {
        eprintln!(
            "ingest ({label}): some clients ran out of pre-sealed batches before {} s",
            limit.unwrap_or_default().as_secs()
        );
    }
    if measured.failures > 0 {
        eprintln!(
            "ingest ({label}): {} pushes failed; the first: {}",
            measured.failures,
            measured.first_failure.as_deref().unwrap_or("?")
        );
    }
    measured
}

/// Starts a relay in the relays' runtime (`relays`), from the generator's.
async fn start_relay(relays: &Handle, config: Config) -> RunningRelay {
    relays
        .spawn(holdfast_relay::serve(config))
        .await
        .expect("relay start task")
        .expect("start relay")
}

/// Shuts a relay down in the relays' runtime.
async fn stop_relay(relays: &Handle, relay: RunningRelay) {
    relays
        .spawn(relay.shutdown())
        .await
        .expect("relay shutdown task")
        .expect("relay shutdown");
}

/// A relay on a port of its own with its data in `data_dir` and, given a URL, its storage
/// in PostgreSQL.
fn relay_config(data_dir: std::path::PathBuf, database: Option<&str>) -> Config {
    let mut config = Config::new(data_dir);
    // Every client comes from one address and makes its own team: only the writer
    // is measured here, not the per-address limits.
    config.limits = Limits {
        rate_limit_per_second: 0.0,
        address_rate_per_second: 0.0,
        team_creations_per_hour: 0,
        ..Limits::default()
    };
    config.database = database.map(|url| url.parse().expect("a --database URL"));
    config
}

/// `relays` relays (in this process, each with its own data directory) on one fresh
/// PostgreSQL schema, the clients split between them.
async fn postgres_relays(
    relays_rt: &Handle,
    label: &str,
    devices: &Arc<Vec<Device>>,
    relays: usize,
    full: bool,
) -> Measured {
    let schema = TestSchema::new();
    let database = schema.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut running = Vec::with_capacity(relays);
    for r in 0..relays {
        let config = relay_config(dir.path().join(format!("relay-{r}")), Some(&database));
        running.push(start_relay(relays_rt, config).await);
    }
    let urls: Vec<String> = running.iter().map(|relay| relay.url()).collect();
    let measured = measure(label, devices, &urls, full).await;
    for relay in running {
        stop_relay(relays_rt, relay).await;
    }
    // Dropping the schema with the rows in it, off the clock.
    drop(schema);
    measured
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The plain inserts' teams: 64 made-up ids, as many as the clients' teams.
fn plain_teams() -> Vec<[u8; 16]> {
    (0..CLIENTS)
        .map(|c| {
            let mut team = [0u8; 16];
            team[..8].copy_from_slice(&(c as u64).to_be_bytes());
            team[8] = 0xAB;
            team
        })
        .collect()
}

/// Inserts `rows` envelope-shaped rows into a fresh file, `per_tx` rows per transaction,
/// stopping at `cap`. Returns (rows inserted, time taken).
fn plain_sqlite(rows: u64, per_tx: usize, cap: Duration) -> (u64, Duration) {
    let dir = tempfile::tempdir().expect("temp dir");
    let conn = Connection::open(dir.path().join("plain.sqlite3")).expect("open sqlite");
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .expect("wal");
    assert_eq!(mode, "wal");
    conn.pragma_update(None, "synchronous", "FULL")
        .expect("synchronous");
    conn.execute_batch(
        "CREATE TABLE envelopes (
            team BLOB NOT NULL, seq INTEGER NOT NULL, id BLOB NOT NULL,
            document BLOB NOT NULL, kind INTEGER NOT NULL, covers INTEGER NOT NULL,
            author BLOB NOT NULL, received_at INTEGER NOT NULL, bytes BLOB NOT NULL,
            PRIMARY KEY (team, seq));
         CREATE INDEX envelopes_by_id ON envelopes(substr(id, 1, 8));",
    )
    .expect("schema");

    let teams = plain_teams();
    let mut seqs = vec![0i64; CLIENTS];
    let mut bytes = vec![0x5Au8; ENVELOPE_BYTES];
    let start = Instant::now();
    let mut inserted = 0u64;
    while inserted < rows && start.elapsed() < cap {
        let tx = conn.unchecked_transaction().expect("begin");
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO envelopes (team, seq, id, document, kind, covers, author,
                     received_at, bytes) VALUES (?1, ?2, ?3, ?4, 1, 0, ?5, ?6, ?7)",
                )
                .expect("prepare");
            for _ in 0..per_tx {
                if inserted >= rows {
                    break;
                }
                // Round-robin over the teams, a batch of 100 at a time, as the clients push.
                let team = usize::try_from(inserted / BATCH as u64).unwrap_or(0) % CLIENTS;
                seqs[team] += 1;
                bytes[..8].copy_from_slice(&inserted.to_be_bytes());
                let id = ring::digest::digest(&ring::digest::SHA256, &bytes);
                insert
                    .execute(params![
                        &teams[team][..],
                        seqs[team],
                        id.as_ref(),
                        &[7u8; 16][..],
                        &teams[team][..],
                        i64::try_from(now_ms()).unwrap_or(i64::MAX),
                        &bytes[..],
                    ])
                    .expect("insert");
                inserted += 1;
            }
        }
        tx.commit().expect("commit");
    }
    (inserted, start.elapsed())
}

/// What the plain PostgreSQL insert did.
struct PlainPostgres {
    rows: u64,
    elapsed: Duration,
    /// The server's `synchronous_commit` and `fsync`, as the connections saw them.
    settings: String,
}

impl PlainPostgres {
    fn rate(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64()
    }
}

async fn connect(config: &tokio_postgres::Config) -> tokio_postgres::Client {
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("ingest (plain postgres): connection failed: {e}");
        }
    });
    client
}

/// Inserts at least `rows` envelope-shaped rows (whole batches of [`BATCH`]) into the
/// relay's own `envelopes` table on a fresh schema: one multi-row `INSERT … VALUES` and one
/// transaction per batch, from `connections` connections at once, round-robin over 64
/// teams; stopping at `cap`.
async fn plain_postgres(rows: u64, connections: usize, cap: Duration) -> PlainPostgres {
    let schema = TestSchema::new();
    let config = schema.config();
    // The relay's migration makes the table: the same columns, indexes and storage.
    let mut client = connect(&config).await;
    holdfast_relay::storage::postgres::schema::migrate(&mut client)
        .await
        .expect("create the relay's tables");
    let row = client
        .query_one(
            "SELECT current_setting('synchronous_commit'), current_setting('fsync')",
            &[],
        )
        .await
        .expect("read the server's settings");
    let settings = format!(
        "synchronous_commit={}, fsync={}",
        row.get::<_, String>(0),
        row.get::<_, String>(1)
    );
    drop(client);

    let values: Vec<String> = (0..BATCH)
        .map(|r| {
            let p: Vec<String> = (1..=9).map(|c| format!("${}", r * 9 + c)).collect();
            format!("({})", p.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO envelopes (team, seq, id, document, kind, covers, author, received_at, \
         bytes) VALUES {}",
        values.join(", ")
    );
    let mut clients = Vec::with_capacity(connections);
    for _ in 0..connections {
        let client = connect(&config).await;
        let insert = client.prepare(&sql).await.expect("prepare the insert");
        clients.push((client, insert));
    }

    let teams = Arc::new(plain_teams());
    let batches = rows.div_ceil(BATCH as u64);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let stop = start + cap;
    let workers: Vec<_> = clients
        .into_iter()
        .map(|(mut client, insert)| {
            let teams = Arc::clone(&teams);
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                let mut inserted = 0u64;
                let document = vec![7u8; 16];
                let (kind, covers) = (1i16, 0i64);
                let mut body = vec![0x5Au8; ENVELOPE_BYTES];
                while Instant::now() < stop {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    if b >= batches {
                        break;
                    }
                    // Batch b is the (b / 64)th of team b % 64: no two batches share a row.
                    let team = teams[usize::try_from(b).unwrap_or(0) % CLIENTS].to_vec();
                    let first_seq =
                        i64::try_from(b / CLIENTS as u64 * BATCH as u64 + 1).unwrap_or(i64::MAX);
                    let received = i64::try_from(now_ms()).unwrap_or(i64::MAX);
                    let mut seqs = Vec::with_capacity(BATCH);
                    let mut ids = Vec::with_capacity(BATCH);
                    let mut bodies = Vec::with_capacity(BATCH);
                    for i in 0..BATCH {
                        let n = b * BATCH as u64 + i as u64;
                        seqs.push(first_seq + i64::try_from(i).unwrap_or(0));
                        // Unique as the relay's SHA-256 ids are; the hash of the counter alone
                        // keeps the generator's CPU out of the figure.
                        let id = ring::digest::digest(&ring::digest::SHA256, &n.to_be_bytes());
                        ids.push(id.as_ref().to_vec());
                        body[..8].copy_from_slice(&n.to_be_bytes());
                        bodies.push(body.clone());
                    }
                    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(BATCH * 9);
                    for ((seq, id), bytes) in seqs.iter().zip(&ids).zip(&bodies) {
                        params.extend([
                            &team as &(dyn ToSql + Sync),
                            seq,
                            id,
                            &document,
                            &kind,
                            &covers,
                            &team,
                            &received,
                            bytes,
                        ]);
                    }
                    let tx = client.transaction().await.expect("begin");
                    tx.execute(&insert, &params).await.expect("insert a batch");
                    tx.commit().await.expect("commit");
                    inserted += BATCH as u64;
                }
                inserted
            })
        })
        .collect();
    let mut inserted = 0;
    for worker in workers {
        inserted += worker.await.expect("insert task");
    }
    let elapsed = start.elapsed();
    drop(schema);
    PlainPostgres {
        rows: inserted,
        elapsed,
        settings,
    }
}

/// The growth run: one SQLite relay grown `steps` times by `step` envelopes (whole batches,
/// spread over the clients), each step sealed before its clock starts. Prints each step's
/// rate as it ends; stops early once `cap` has passed. Returns each step's figures.
async fn grow(
    relays_rt: &Handle,
    devices: &Arc<Vec<Device>>,
    steps: usize,
    step: usize,
    cap: Duration,
) -> Vec<Measured> {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let relay = start_relay(relays_rt, relay_config(data.clone(), None)).await;
    let urls = [relay.url()];
    let tokens = register_all("grow", devices, &urls).await;
    let batches_per_step = step / BATCH;
    let mut sent = vec![0usize; devices.len()];
    let mut stored = 0u64;
    let mut figures = Vec::with_capacity(steps);
    for n in 1..=steps {
        if started.elapsed() > cap {
            eprintln!(
                "ingest (grow): stopping after {} steps: {} min passed",
                n - 1,
                cap.as_secs() / 60
            );
            break;
        }
        // Off the clock: seal this step's batches, client c taking every 64th.
        let sealing = Instant::now();
        let tasks: Vec<_> = (0..devices.len())
            .map(|c| {
                let count = batches_per_step / devices.len()
                    + usize::from(c < batches_per_step % devices.len());
                let first = sent[c] * BATCH;
                sent[c] += count;
                let devices = Arc::clone(devices);
                tokio::task::spawn_blocking(move || seal_batches(&devices[c], c, first, count))
            })
            .collect();
        let mut batches = Vec::with_capacity(devices.len());
        for task in tasks {
            batches.push(task.await.expect("sealing task"));
        }
        let sealed = sealing.elapsed();
        let measured = push_phase("grow", devices, &urls, &tokens, batches, None).await;
        assert_eq!(
            measured.failures, 0,
            "ingest (grow): pushes failed: {:?}",
            measured.first_failure
        );
        assert_eq!(
            measured.total,
            (batches_per_step * BATCH) as u64,
            "every envelope of the step is stored, none a duplicate"
        );
        stored += measured.total;
        println!(
            "grow step {n}: {:.0} envelopes/s durable ({} envelopes in {:.1} s, {} stored \
             after it), p50 {:.1} ms, p99 {:.1} ms; database {:.2} GB; sealed off the clock \
             in {:.1} s",
            measured.rate(),
            measured.total,
            measured.elapsed.as_secs_f64(),
            stored,
            measured.p50(),
            measured.p99(),
            directory_bytes(&data) as f64 / 1e9,
            sealed.as_secs_f64(),
        );
        figures.push(measured);
    }
    stop_relay(relays_rt, relay).await;
    // The relay's files go with `dir`, off the clock.
    figures
}

/// The bytes of the files in `dir` (the relay's database, its WAL and shared memory).
fn directory_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .sum()
    })
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // reqwest's rustls has no provider of its own in this workspace.
    holdfast_relay::testing::install_crypto_provider();
    if std::env::var_os("RUST_LOG").is_some() {
        holdfast_relay::init_tracing(LogFormat::Text);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let only = |phase: &str| args.iter().any(|a| a == phase);
    // (the SQLite relay and plain inserts, PostgreSQL, the growth run)
    let (standard, postgres, growth) = if only("grow") {
        (false, false, true)
    } else if only("sqlite") {
        (true, false, false)
    } else {
        // The growth run takes many minutes: a full run makes it only when asked.
        (true, true, !full)
    };
    let batches_per_client = match (standard, full) {
        (false, _) => 0,
        (true, true) => FULL_BATCHES_PER_CLIENT,
        (true, false) => QUICK_BATCHES_PER_CLIENT,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("loadgen")
        .enable_all()
        .build()
        .expect("tokio runtime");
    let relays = tokio::runtime::Builder::new_multi_thread()
        .thread_name("relay")
        .enable_all()
        .build()
        .expect("the relays' tokio runtime");
    let relays_rt = relays.handle().clone();

    let (sqlite, pg, grown) = runtime.block_on(async {
        let setup = Instant::now();
        let sealing: Vec<_> = (0..CLIENTS)
            .map(|c| tokio::spawn(seal_device(c, batches_per_client)))
            .collect();
        let mut devices = Vec::with_capacity(CLIENTS);
        for task in sealing {
            devices.push(task.await.expect("sealing task"));
        }
        let devices = Arc::new(devices);
        eprintln!(
            "ingest: {CLIENTS} devices made and {} envelopes sealed in {:.1} s",
            CLIENTS * batches_per_client * BATCH,
            setup.elapsed().as_secs_f64()
        );

        let sqlite = if standard {
            let dir = tempfile::tempdir().expect("temp dir");
            let relay = start_relay(&relays_rt, relay_config(dir.path().join("data"), None)).await;
            let measured = measure("sqlite", &devices, &[relay.url()], full).await;
            stop_relay(&relays_rt, relay).await;
            Some(measured)
        } else {
            None
        };
        let pg = if postgres {
            let pg_one = postgres_relays(&relays_rt, "postgres, 1 relay", &devices, 1, full).await;
            let pg_two = postgres_relays(&relays_rt, "postgres, 2 relays", &devices, 2, full).await;
            let pg_plain = plain_postgres(
                pg_one.total.max(1),
                POSTGRES_CONNECTIONS,
                POSTGRES_PLAIN_CAP,
            )
            .await;
            Some((pg_one, pg_two, pg_plain))
        } else {
            None
        };
        let grown = if growth {
            let (steps, step) = if full {
                (env_number("HOLDFAST_INGEST_GROW_MILLIONS", 10), GROW_STEP)
            } else {
                (QUICK_GROW_STEPS, CLIENTS * QUICK_BATCHES_PER_CLIENT * BATCH)
            };
            let cap = Duration::from_secs(
                u64::try_from(env_number("HOLDFAST_INGEST_GROW_MINUTES", 60)).unwrap_or(60) * 60,
            );
            Some(grow(&relays_rt, &devices, steps, step, cap).await)
        } else {
            None
        };
        (sqlite, pg, grown)
    });
    drop(relays);

    if let Some(sqlite) = &sqlite {
        let relay_rate = sqlite.rate();
        let rows = sqlite.total.max(1);
        let (rows_100, time_100) = plain_sqlite(rows, BATCH, SQLITE_CAP);
        let rate_100 = rows_100 as f64 / time_100.as_secs_f64();
        let (rows_6400, time_6400) = plain_sqlite(rows, GROUP_COMMIT_ROWS, SQLITE_CAP);
        let rate_6400 = rows_6400 as f64 / time_6400.as_secs_f64();

        println!(
            "relay ingest: {relay_rate:.0} envelopes/s durable ({CLIENTS} clients, batches of {BATCH} x 1 KiB, \
             {} envelopes in {:.1} s), p50 {:.1} ms, p99 {:.1} ms; plain SQLite batched insert: \
             {rate_100:.0} rows/s (100/tx), {rate_6400:.0} rows/s (6400/tx); \
             ratio relay/plain = {:.2} (100/tx), {:.2} (6400/tx)",
            sqlite.total,
            sqlite.elapsed.as_secs_f64(),
            sqlite.p50(),
            sqlite.p99(),
            relay_rate / rate_100,
            relay_rate / rate_6400,
        );
    }
    if let (Some((pg_one, pg_two, pg_plain)), Some(sqlite)) = (&pg, &sqlite) {
        let relay_rate = sqlite.rate();
        for (label, measured, clients) in [
            ("postgres, 1 relay", &pg_one, format!("{CLIENTS} clients")),
            (
                "postgres, 2 relays",
                &pg_two,
                format!("{CLIENTS} clients, {} per relay", CLIENTS / 2),
            ),
        ] {
            println!(
                "{label}: {:.0} envelopes/s durable ({clients}, batches of {BATCH} x 1 KiB, \
                 {} envelopes in {:.1} s, {} failed pushes), p50 {:.1} ms, p99 {:.1} ms",
                measured.rate(),
                measured.total,
                measured.elapsed.as_secs_f64(),
                measured.failures,
                measured.p50(),
                measured.p99(),
            );
        }
        println!(
            "plain postgres insert: {:.0} rows/s ({BATCH} rows per INSERT, 1 tx per batch, \
             {POSTGRES_CONNECTIONS} connections, {} rows in {:.1} s, {})",
            pg_plain.rate(),
            pg_plain.rows,
            pg_plain.elapsed.as_secs_f64(),
            pg_plain.settings,
        );
        println!(
            "relay/plain ratio: {:.2} (postgres, 1 relay), {:.2} (postgres, 2 relays); \
             2 relays / 1 relay = {:.2}; postgres 1 relay / SQLite relay = {:.2}",
            pg_one.rate() / pg_plain.rate(),
            pg_two.rate() / pg_plain.rate(),
            pg_two.rate() / pg_one.rate(),
            pg_one.rate() / relay_rate,
        );
    }
    if let Some(grown) = &grown
        && let Some(first) = grown.first()
    {
        let rates: Vec<String> = grown.iter().map(|m| format!("{:.0}", m.rate())).collect();
        let slowest = grown
            .iter()
            .map(Measured::rate)
            .fold(f64::INFINITY, f64::min);
        println!(
            "grow: envelopes/s per step of {} ({} steps): {}; slowest / first = {:.2}",
            first.total,
            grown.len(),
            rates.join(", "),
            slowest / first.rate(),
        );
    }
}
