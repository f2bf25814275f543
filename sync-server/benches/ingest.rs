//! Relay ingest load generator: 64 devices, each in its own team, push pre-sealed batches
//! of 100 × 1 KiB envelopes over loopback HTTP as fast as the relay acknowledges them, then
//! the same rows go into a plain SQLite file (WAL, `synchronous=FULL`) for comparison.
//!
//! `cargo bench -p holdfast-relay --bench ingest` runs for 20 s; without `--bench` (as
//! under `cargo test --all-targets`) it is a quick smoke run of 64 clients × 2 batches.
//! Envelopes are sealed and batches signed before timing starts, so the numbers measure
//! the relay's ingest, not device crypto.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use holdfast_protocol::{
    DeviceId, DeviceSigningKey, DocumentId, DocumentKey, Entry, Header, HpkeKeyPair, Kind, Op,
    PushBatch, SystemRandom, TeamId, seal,
};
use holdfast_relay::{Config, Limits};
use rusqlite::{Connection, params};
use serde_json::{Value, json};

const CLIENTS: usize = 64;
const BATCH: usize = 100;
const PLAINTEXT: usize = 1024;
/// Sealed size: the plaintext plus the envelope overhead.
const ENVELOPE_BYTES: usize = PLAINTEXT + holdfast_protocol::ENVELOPE_OVERHEAD;
const FULL_RUN: Duration = Duration::from_secs(20);
/// Batches each client seals ahead in a full run (~180 × 100 × 1.2 KiB = 21 MiB a client).
/// A client that runs out stops early; the rate is over the time actually spent.
const FULL_BATCHES_PER_CLIENT: usize = 180;
const QUICK_BATCHES_PER_CLIENT: usize = 2;
const SQLITE_CAP: Duration = Duration::from_secs(10);
const GROUP_COMMIT_ROWS: usize = 6_400;
const DOC_KEY: [u8; 32] = [0x42; 32];

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

struct Client {
    team: TeamId,
    token: String,
    batches: Vec<Vec<u8>>,
}

struct Outcome {
    acknowledged: u64,
    failures: u64,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

/// Creates a team for a new device, logs it in and seals its batches.
async fn prepare(http: &reqwest::Client, url: &str, client: usize, batches: usize) -> Client {
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
    let response = http
        .post(format!("{url}/v1/teams"))
        .json(&json!({"genesis": hex::encode(genesis.as_bytes())}))
        .send()
        .await
        .expect("create team");
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);

    let token = holdfast_relay::testing::login(url, device, &key)
        .await
        .expect("log in");

    // Sealing is CPU work: off the async workers.
    let batches = tokio::task::spawn_blocking(move || {
        let doc_key = DocumentKey::from_bytes(DOC_KEY);
        let document = DocumentId([u8::try_from(client % 256).unwrap_or(0); 16]);
        (0..batches)
            .map(|b| {
                let envelopes: Vec<Vec<u8>> = (0..BATCH)
                    .map(|i| {
                        let salt = u64::try_from(b * BATCH + i).unwrap_or(u64::MAX);
                        let mut nonce = [0u8; 12];
                        nonce[4..].copy_from_slice(&salt.to_be_bytes());
                        let header = Header {
                            kind: Kind::ChangeBatch,
                            team,
                            document,
                            epoch: 1,
                            author: device,
                            covers: 0,
                            nonce,
                        };
                        let mut plaintext =
                            format!("client {client} envelope {salt} ").into_bytes();
                        plaintext.resize(PLAINTEXT, b'.');
                        seal(&header, &doc_key, &plaintext, &key).expect("seal")
                    })
                    .collect();
                let refs: Vec<&[u8]> = envelopes.iter().map(Vec::as_slice).collect();
                PushBatch::encode(&team, &device, &key, now_ms(), &refs).expect("encode batch")
            })
            .collect()
    })
    .await
    .expect("sealing task");

    Client {
        team,
        token,
        batches,
    }
}

/// Pushes `client`'s batches one after another until they run out or `deadline` passes.
async fn push_all(url: String, client: Client, deadline: Option<Instant>) -> Outcome {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client");
    let endpoint = format!("{url}/v1/teams/{}/envelopes", client.team);
    let mut outcome = Outcome {
        acknowledged: 0,
        failures: 0,
        latencies: Vec::with_capacity(client.batches.len()),
        elapsed: Duration::ZERO,
    };
    let start = Instant::now();
    for batch in client.batches {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let sent = Instant::now();
        let response = http
            .post(&endpoint)
            .bearer_auth(&client.token)
            .header("content-type", "application/octet-stream")
            .body(batch)
            .send()
            .await;
        let ok = match response {
            Ok(response) if response.status().is_success() => {
                match response.json::<Value>().await {
                    Ok(body) => {
                        let stored = body["results"].as_array().map_or(0, |results| {
                            results
                                .iter()
                                .filter(|r| r["duplicate"] == Value::Bool(false))
                                .count()
                        });
                        outcome.acknowledged += u64::try_from(stored).unwrap_or(0);
                        true
                    }
                    Err(_) => false,
                }
            }
            _ => false,
        };
        if ok {
            outcome.latencies.push(sent.elapsed());
        } else {
            outcome.failures += 1;
        }
    }
    outcome.elapsed = start.elapsed();
    outcome
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

    let teams: Vec<[u8; 16]> = (0..CLIENTS)
        .map(|c| {
            let mut team = [0u8; 16];
            team[..8].copy_from_slice(&(c as u64).to_be_bytes());
            team[8] = 0xAB;
            team
        })
        .collect();
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

fn main() {
    // reqwest's rustls has no provider of its own in this workspace.
    holdfast_relay::testing::install_crypto_provider();
    let full = std::env::args().any(|a| a == "--bench");
    let batches_per_client = if full {
        FULL_BATCHES_PER_CLIENT
    } else {
        QUICK_BATCHES_PER_CLIENT
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    let (total, elapsed, latencies, failures) = runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::new(dir.path().join("data"));
        // Every client comes from one address and makes its own team: only the writer
        // is measured here, not the per-address limits.
        config.limits = Limits {
            rate_limit_per_second: 0.0,
            address_rate_per_second: 0.0,
            team_creations_per_hour: 0,
            ..Limits::default()
        };
        let relay = holdfast_relay::serve(config).await.expect("start relay");
        let url = relay.url();

        let setup = Instant::now();
        let http = reqwest::Client::new();
        let prepared: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let http = http.clone();
                let url = url.clone();
                tokio::spawn(async move { prepare(&http, &url, c, batches_per_client).await })
            })
            .collect();
        let mut clients = Vec::with_capacity(CLIENTS);
        for task in prepared {
            clients.push(task.await.expect("prepare task"));
        }
        eprintln!(
            "ingest: {CLIENTS} teams created, logged in and {} envelopes sealed in {:.1} s",
            CLIENTS * batches_per_client * BATCH,
            setup.elapsed().as_secs_f64()
        );

        let deadline = full.then(|| Instant::now() + FULL_RUN);
        let start = Instant::now();
        let tasks: Vec<_> = clients
            .into_iter()
            .map(|client| tokio::spawn(push_all(url.clone(), client, deadline)))
            .collect();
        let mut total = 0u64;
        let mut failures = 0u64;
        let mut latencies = Vec::new();
        let mut exhausted_early = false;
        for task in tasks {
            let outcome = task.await.expect("push task");
            total += outcome.acknowledged;
            failures += outcome.failures;
            latencies.extend(outcome.latencies);
            if full && outcome.elapsed + Duration::from_millis(500) < FULL_RUN {
                exhausted_early = true;
            }
        }
        let elapsed = start.elapsed();
        if exhausted_early {
            eprintln!(
                "ingest: some clients ran out of pre-sealed batches before {} s",
                FULL_RUN.as_secs()
            );
        }
        relay.shutdown().await.expect("relay shutdown");
        (total, elapsed, latencies, failures)
    });

    let mut latencies = latencies;
    latencies.sort_unstable();
    let relay_rate = total as f64 / elapsed.as_secs_f64();
    let rows = total.max(1);

    let (rows_100, time_100) = plain_sqlite(rows, BATCH, SQLITE_CAP);
    let rate_100 = rows_100 as f64 / time_100.as_secs_f64();
    let (rows_6400, time_6400) = plain_sqlite(rows, GROUP_COMMIT_ROWS, SQLITE_CAP);
    let rate_6400 = rows_6400 as f64 / time_6400.as_secs_f64();

    if failures > 0 {
        eprintln!("ingest: {failures} pushes failed");
    }
    println!(
        "relay ingest: {relay_rate:.0} envelopes/s durable ({CLIENTS} clients, batches of {BATCH} x 1 KiB, \
         {total} envelopes in {:.1} s), p50 {:.1} ms, p99 {:.1} ms; plain SQLite batched insert: \
         {rate_100:.0} rows/s (100/tx), {rate_6400:.0} rows/s (6400/tx); \
         ratio relay/plain = {:.2} (100/tx), {:.2} (6400/tx)",
        elapsed.as_secs_f64(),
        millis(percentile(&latencies, 0.50)),
        millis(percentile(&latencies, 0.99)),
        relay_rate / rate_100,
        relay_rate / rate_6400,
    );
}
