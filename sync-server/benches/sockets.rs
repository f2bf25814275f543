//! Live sockets at scale (issue 14): the relay's resident memory with many idle live
//! WebSockets, and how long one push takes to reach all of them.
//!
//! The relay runs as its own process (the `holdfast-relay` binary, see `sockets/relay.rs`),
//! so `/proc/PID/status` gives its memory alone and the clients' sockets (here, in the
//! bench) do not count against its file descriptors. One device creates a team and opens
//! every socket of it: the relay is started with `--max-live-sockets-per-device`,
//! `--max-connections` and `--max-connections-per-address` above the largest count (every
//! client is 127.0.0.1) and `--rate-limit-per-second 0` (every upgrade is a request of that
//! one device). A socket costs the relay the same whichever device opens it, and one team
//! is what a push fans out to; enrolling 10,000 devices would measure enrolment instead.
//!
//! For each phase (a fresh relay, holding 0 or some thousands of stored envelopes): the
//! relay's RSS with no socket, then with each count of idle sockets open (every socket has
//! heard the team's head); at each count, pushes of one envelope, one at a time: from the
//! push's HTTP answer until each socket hears the new head. Per push the *last* socket's
//! time is kept (and the median socket's); over the pushes, p50 / p99 / max. The relay's
//! CPU (user + system from `/proc`) over the pushes, divided by the announcements sent, is
//! its CPU per announcement (the pushes themselves included). The clients' own scheduling
//! (two worker threads reading every socket) is inside the figures, as a device's would be.
//!
//! `cargo bench -p holdfast-relay --bench sockets` is the full run: 1,000, 5,000 and 10,000
//! sockets on an empty relay, then 1,000 and 10,000 on a relay holding 100,000 envelopes in
//! 10,000 documents; 30 pushes at each count. Without `--bench` (as under
//! `cargo test --all-targets`) it opens 200 sockets, checks that the relay's memory per
//! socket stays under [`QUICK_MAX_KIB_PER_SOCKET`] (the WebSocket library's default buffers
//! cost ~135 KiB a socket) and that every socket hears every one of 5 pushes.
//!
//! `HOLDFAST_SOCKETS_RELAY=/path/to/holdfast-relay` measures another relay binary (one built
//! from an older commit: a before and after in one sitting).
//!
//! Every run stops by itself: a watchdog kills the relay and exits after [`FULL_DEADLINE`]
//! (or [`QUICK_DEADLINE`]); SIGINT and SIGTERM kill it too, and so does a panic.

#[path = "sockets/relay.rs"]
mod relay;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use futures_util::StreamExt;
use holdfast_protocol::{
    DeviceId, DeviceSigningKey, DocumentId, DocumentKey, Entry, Header, HpkeKeyPair, Kind, Op,
    PushBatch, SystemRandom, TeamId, seal,
};
use relay::{Cpu, Memory, RelayProcess};
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The quick pass fails above this many KiB of relay RSS per idle socket. The library's
/// defaults (128 KiB read buffer, filled on the first read) cost ~135 KiB.
const QUICK_MAX_KIB_PER_SOCKET: f64 = 48.0;
const QUICK_DEADLINE: Duration = Duration::from_secs(90);
const FULL_DEADLINE: Duration = Duration::from_secs(1200);
/// Sockets being opened at once.
const OPENING_AT_ONCE: usize = 64;
/// Time for every socket of a count to open and hear the head.
const OPEN_TIMEOUT: Duration = Duration::from_secs(120);
/// Time for every socket to hear one push.
const FAN_OUT_TIMEOUT: Duration = Duration::from_secs(20);
/// Quiet time after opening sockets, before the relay's memory is read.
const SETTLE: Duration = Duration::from_secs(2);
/// Quiet time between pushes.
const BETWEEN_PUSHES: Duration = Duration::from_millis(100);
/// Stored envelopes are pushed in batches of this many.
const SEED_BATCH: usize = 1000;
/// ... spread over this many documents.
const SEED_DOCUMENTS: usize = 10_000;
const SEED_PLAINTEXT: usize = 1024;
const PUSH_PLAINTEXT: usize = 256;
const DOC_KEY: [u8; 32] = [0x42; 32];

/// One relay's run.
struct Phase {
    label: &'static str,
    /// Envelopes pushed before any socket opens.
    stored: usize,
    /// Socket counts, rising.
    counts: &'static [usize],
    /// Pushes timed at each count.
    pushes: usize,
}

const FULL: &[Phase] = &[
    Phase {
        label: "empty relay",
        stored: 0,
        counts: &[1000, 5000, 10_000],
        pushes: 30,
    },
    Phase {
        label: "100,000 envelopes stored",
        stored: 100_000,
        counts: &[1000, 10_000],
        pushes: 30,
    },
];

const QUICK: &[Phase] = &[Phase {
    label: "empty relay",
    stored: 0,
    counts: &[200],
    pushes: 5,
}];

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The device that creates the team, pushes, and opens every socket.
struct Device {
    device: DeviceId,
    key: DeviceSigningKey,
    team: TeamId,
    /// The signed genesis entry, hex.
    genesis: String,
}

impl Device {
    fn new() -> Device {
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
        Device {
            device,
            key,
            team,
            genesis: hex::encode(genesis.as_bytes()),
        }
    }

    /// A signed push batch of `count` envelopes of `plaintext` bytes, numbered from
    /// `first` (so no two are alike), in documents `number % documents`.
    fn batch(&self, first: usize, count: usize, plaintext: usize, documents: usize) -> Bytes {
        let doc_key = DocumentKey::from_bytes(DOC_KEY);
        let envelopes: Vec<Vec<u8>> = (first..first + count)
            .map(|n| {
                let mut nonce = [0u8; 12];
                nonce[4..].copy_from_slice(&(n as u64).to_be_bytes());
                let mut document = [0u8; 16];
                document[8..].copy_from_slice(&((n % documents) as u64).to_be_bytes());
                let header = Header {
                    kind: Kind::ChangeBatch,
                    team: self.team,
                    document: DocumentId(document),
                    epoch: 1,
                    author: self.device,
                    covers: 0,
                    nonce,
                };
                let mut text = format!("envelope {n} ").into_bytes();
                text.resize(plaintext, b'.');
                seal(&header, &doc_key, &text, &self.key).expect("seal")
            })
            .collect();
        let refs: Vec<&[u8]> = envelopes.iter().map(Vec::as_slice).collect();
        Bytes::from(
            PushBatch::encode(&self.team, &self.device, &self.key, now_ms(), &refs)
                .expect("encode batch"),
        )
    }
}

/// What the sockets have heard, written by their tasks and read by the bench.
struct Listeners {
    epoch: Instant,
    /// Per socket, 1 + the last sequence number it heard (0: nothing yet).
    latest: Vec<AtomicU64>,
    /// Per socket, when (ns after `epoch`) it first heard `target` or later.
    arrival: Vec<AtomicU64>,
    /// The head being waited for.
    target: AtomicU64,
    /// Sockets that have heard `target` since it was set.
    heard: AtomicUsize,
    /// How many of them the bench waits for.
    expected: AtomicUsize,
    all_heard: Notify,
    failures: AtomicUsize,
    first_failure: Mutex<Option<String>>,
}

impl Listeners {
    fn new(sockets: usize) -> Listeners {
        Listeners {
            epoch: Instant::now(),
            latest: (0..sockets).map(|_| AtomicU64::new(0)).collect(),
            arrival: (0..sockets).map(|_| AtomicU64::new(0)).collect(),
            target: AtomicU64::new(0),
            heard: AtomicUsize::new(0),
            expected: AtomicUsize::new(usize::MAX),
            all_heard: Notify::new(),
            failures: AtomicUsize::new(0),
            first_failure: Mutex::new(None),
        }
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Socket `i` heard `seq`.
    fn heard(&self, i: usize, seq: u64) {
        let now = Instant::now();
        let before = self.latest[i].fetch_max(seq + 1, Ordering::AcqRel);
        let target = self.target.load(Ordering::Acquire);
        // Counted once per target: the first message at or past it.
        if seq >= target && before <= target {
            self.arrival[i].store(self.nanos(now), Ordering::Release);
            let heard = self.heard.fetch_add(1, Ordering::AcqRel) + 1;
            if heard >= self.expected.load(Ordering::Acquire) {
                self.all_heard.notify_one();
            }
        }
    }

    fn fail(&self, why: String) {
        self.failures.fetch_add(1, Ordering::AcqRel);
        self.first_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(why);
        self.all_heard.notify_one();
    }

    /// Waits for `expected` sockets to hear `target`: set both before what they should
    /// hear is sent.
    fn expect(&self, target: u64, expected: usize) {
        self.heard.store(0, Ordering::Release);
        self.expected.store(expected, Ordering::Release);
        self.target.store(target, Ordering::Release);
    }

    async fn wait(&self, within: Duration, what: &str) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.all_heard.notified();
            if self.failures.load(Ordering::Acquire) > 0 {
                let first = self
                    .first_failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                return Err(format!(
                    "{what}: {} sockets failed; the first: {}",
                    self.failures.load(Ordering::Acquire),
                    first.unwrap_or_default()
                ));
            }
            let heard = self.heard.load(Ordering::Acquire);
            let expected = self.expected.load(Ordering::Acquire);
            if heard >= expected {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(format!(
                    "{what}: {heard} of {expected} sockets heard in {} s",
                    within.as_secs()
                ));
            }
        }
    }
}

/// The clients' socket buffers: the live protocol's messages are tens of bytes.
fn client_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(0)
        .max_message_size(Some(4096))
        .max_frame_size(Some(4096))
}

/// Opens socket `i` (at most [`OPENING_AT_ONCE`] at a time), says whether it opened, then
/// reads it until the bench aborts the task.
async fn socket(
    i: usize,
    url: String,
    token: Arc<str>,
    listeners: Arc<Listeners>,
    opening: Arc<Semaphore>,
    opened: oneshot::Sender<Result<(), String>>,
) {
    let connected = {
        let _permit = opening.acquire().await;
        let mut request = match url.into_client_request() {
            Ok(request) => request,
            Err(e) => {
                let _ = opened.send(Err(format!("socket request: {e}")));
                return;
            }
        };
        match format!("Bearer {token}").parse() {
            Ok(value) => {
                request.headers_mut().insert("authorization", value);
            }
            Err(e) => {
                let _ = opened.send(Err(format!("authorization header: {e}")));
                return;
            }
        }
        tokio::time::timeout(
            Duration::from_secs(30),
            tokio_tungstenite::connect_async_with_config(request, Some(client_config()), false),
        )
        .await
    };
    let mut socket = match connected {
        Ok(Ok((socket, _))) => {
            let _ = opened.send(Ok(()));
            socket
        }
        Ok(Err(e)) => {
            let _ = opened.send(Err(format!("socket {i} did not open: {e}")));
            return;
        }
        Err(_) => {
            let _ = opened.send(Err(format!("socket {i} did not open within 30 s")));
            return;
        }
    };
    while let Some(message) = socket.next().await {
        match message {
            Ok(Message::Text(text)) => {
                let seq = serde_json::from_str::<Value>(text.as_str())
                    .ok()
                    .and_then(|value| value["seq"].as_u64());
                match seq {
                    Some(seq) => listeners.heard(i, seq),
                    None => {
                        listeners.fail(format!("socket {i} heard {}", text.as_str()));
                        return;
                    }
                }
            }
            Ok(Message::Close(frame)) => {
                listeners.fail(format!("the relay closed socket {i}: {frame:?}"));
                return;
            }
            Ok(_) => {}
            Err(e) => {
                listeners.fail(format!("socket {i}: {e}"));
                return;
            }
        }
    }
    listeners.fail(format!("socket {i} ended"));
}

/// The relay's memory at one socket count.
struct MemoryAt {
    sockets: usize,
    idle: Memory,
    /// Just after the pushes at this count.
    after_pushes: Memory,
    open_secs: f64,
}

/// The pushes at one socket count.
struct FanOut {
    sockets: usize,
    /// Per push, ms from its answer until the last socket heard it (sorted).
    last: Vec<f64>,
    /// Per push, ms from its answer until half the sockets had heard it (sorted).
    median: Vec<f64>,
    /// Per push, the push's round trip in ms (sorted).
    round_trip: Vec<f64>,
    /// Relay CPU per announcement, µs (the push included).
    relay_cpu_us: Cpu,
    /// The bench's CPU per announcement, µs: the clients reading, and the push.
    bench_cpu_us: Cpu,
}

struct PhaseReport {
    label: &'static str,
    stored: usize,
    empty: Memory,
    counts: Vec<MemoryAt>,
    fan_outs: Vec<FanOut>,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Pushes `batch`; the team's head in the answer and when the answer arrived.
async fn push(
    http: &reqwest::Client,
    url: &str,
    device: &Device,
    token: &str,
    batch: Bytes,
) -> Result<(u64, Instant), String> {
    let response = http
        .post(format!("{url}/v1/teams/{}/envelopes", device.team))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(batch)
        .send()
        .await
        .map_err(|e| format!("push: {e}"))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| format!("push: {e}"))?;
    let answered = Instant::now();
    if !status.is_success() {
        return Err(format!("push refused, {status}: {body}"));
    }
    let value: Value = serde_json::from_str(&body).map_err(|e| format!("push answer: {e}"))?;
    let head = value["head"].as_u64().ok_or("no head in the push answer")?;
    Ok((head, answered))
}

async fn run_phase(phase: &Phase) -> Result<PhaseReport, String> {
    let largest = phase.counts.iter().copied().max().unwrap_or(0);
    let room = largest + 100;
    let flags: Vec<String> = [
        ("--max-connections", room),
        ("--max-connections-per-address", room),
        ("--max-live-sockets-per-device", largest),
        ("--rate-limit-per-second", 0),
    ]
    .iter()
    .flat_map(|(flag, value)| [(*flag).to_owned(), value.to_string()])
    .collect();
    let relay = RelayProcess::start(&flags)?;
    let url = relay.url().to_owned();
    let device = Arc::new(
        tokio::task::spawn_blocking(Device::new)
            .await
            .map_err(|e| e.to_string())?,
    );
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{url}/v1/teams"))
        .json(&json!({"genesis": device.genesis}))
        .send()
        .await
        .map_err(|e| format!("create the team: {e}"))?;
    if created.status() != reqwest::StatusCode::CREATED {
        return Err(format!("create the team: {}", created.status()));
    }
    let token: Arc<str> = holdfast_relay::testing::login(&url, device.device, &device.key)
        .await
        .map_err(|e| format!("log in: {e:?}"))?
        .into();

    // The stored envelopes, then the pushes to time: sealed before anything is measured.
    let pushes = phase.pushes * phase.counts.len();
    let sealer = Arc::clone(&device);
    let stored = phase.stored;
    let (seed, announcements) = tokio::task::spawn_blocking(move || {
        let seed: Vec<Bytes> = (0..stored)
            .step_by(SEED_BATCH)
            .map(|first| {
                let count = SEED_BATCH.min(stored - first);
                sealer.batch(first, count, SEED_PLAINTEXT, SEED_DOCUMENTS)
            })
            .collect();
        let announcements: Vec<Bytes> = (0..pushes)
            .map(|p| sealer.batch(stored + p, 1, PUSH_PLAINTEXT, SEED_DOCUMENTS))
            .collect();
        (seed, announcements)
    })
    .await
    .map_err(|e| e.to_string())?;
    let mut head = 0;
    for batch in seed {
        head = push(&http, &url, &device, &token, batch).await?.0;
    }
    if head != stored as u64 {
        return Err(format!("{stored} envelopes stored, but the head is {head}"));
    }
    tokio::time::sleep(SETTLE).await;
    let empty = relay.memory()?;
    eprintln!(
        "sockets ({}): relay RSS with no socket {:.1} MiB ({stored} envelopes stored)",
        phase.label,
        mib(empty.rss_kib)
    );

    let listeners = Arc::new(Listeners::new(largest));
    let opening = Arc::new(Semaphore::new(OPENING_AT_ONCE));
    let live_url = format!(
        "{}/v1/teams/{}/live",
        url.replace("http://", "ws://"),
        device.team
    );
    let mut tasks: Vec<JoinHandle<()>> = Vec::with_capacity(largest);
    let mut announcements = announcements.into_iter();
    let mut report = PhaseReport {
        label: phase.label,
        stored,
        empty,
        counts: Vec::new(),
        fan_outs: Vec::new(),
    };
    let outcome = async {
        for &count in phase.counts {
            // Open the sockets up to `count`; each new one hears the head first.
            let started = Instant::now();
            let open = tasks.len();
            listeners.expect(head, count - open);
            let mut opened = Vec::with_capacity(count - open);
            for i in open..count {
                let (tell, told) = oneshot::channel();
                opened.push(told);
                tasks.push(tokio::spawn(socket(
                    i,
                    live_url.clone(),
                    Arc::clone(&token),
                    Arc::clone(&listeners),
                    Arc::clone(&opening),
                    tell,
                )));
            }
            for told in opened {
                told.await.map_err(|_| "a socket task ended".to_owned())??;
            }
            listeners
                .wait(OPEN_TIMEOUT, &format!("{count} sockets opening"))
                .await?;
            let open_secs = started.elapsed().as_secs_f64();
            tokio::time::sleep(SETTLE).await;
            let idle = relay.memory()?;
            eprintln!(
                "sockets ({}): {count} idle sockets: relay RSS {:.1} MiB, {:.1} KiB per socket \
                 over none (opened in {open_secs:.1} s; bench RSS {:.1} MiB)",
                phase.label,
                mib(idle.rss_kib),
                idle.rss_kib.saturating_sub(empty.rss_kib) as f64 / count as f64,
                mib(relay::own_rss_kib().unwrap_or(0)),
            );

            // One push at a time; every socket must hear each.
            let mut last = Vec::with_capacity(phase.pushes);
            let mut median = Vec::with_capacity(phase.pushes);
            let mut round_trip = Vec::with_capacity(phase.pushes);
            let mut relay_cpu = Cpu::default();
            let mut bench_cpu = Cpu::default();
            for _ in 0..phase.pushes {
                let batch = announcements.next().ok_or("out of sealed pushes")?;
                for arrival in &listeners.arrival[..count] {
                    arrival.store(0, Ordering::Release);
                }
                listeners.expect(head + 1, count);
                let relay_before = relay.cpu()?;
                let bench_before = relay::own_cpu()?;
                let sent = Instant::now();
                let (new_head, answered) = push(&http, &url, &device, &token, batch).await?;
                listeners
                    .wait(FAN_OUT_TIMEOUT, &format!("push to {count} sockets"))
                    .await?;
                relay_cpu += relay.cpu()? - relay_before;
                bench_cpu += relay::own_cpu()? - bench_before;
                if new_head != head + 1 {
                    return Err(format!("pushed onto head {head}, got head {new_head}"));
                }
                head = new_head;
                let answered_ns = listeners.nanos(answered);
                let mut arrivals: Vec<u64> = listeners.arrival[..count]
                    .iter()
                    .map(|a| a.load(Ordering::Acquire).saturating_sub(answered_ns))
                    .collect();
                arrivals.sort_unstable();
                let ms = |ns: u64| ns as f64 / 1e6;
                last.push(ms(arrivals[count - 1]));
                median.push(ms(arrivals[count / 2]));
                round_trip.push(answered.duration_since(sent).as_secs_f64() * 1e3);
                tokio::time::sleep(BETWEEN_PUSHES).await;
            }
            let after_pushes = relay.memory()?;
            let announcements = (phase.pushes * count) as f64;
            let per_announcement = |cpu: Cpu| Cpu {
                user: cpu.user * 1e6 / announcements,
                system: cpu.system * 1e6 / announcements,
            };
            for v in [&mut last, &mut median, &mut round_trip] {
                v.sort_by(f64::total_cmp);
            }
            let fan_out = FanOut {
                sockets: count,
                last,
                median,
                round_trip,
                relay_cpu_us: per_announcement(relay_cpu),
                bench_cpu_us: per_announcement(bench_cpu),
            };
            eprintln!(
                "sockets ({}): {count} sockets, {} pushes: last socket p50 {:.1} ms, max {:.1} ms \
                 after the answer; relay RSS after {:.1} MiB",
                phase.label,
                phase.pushes,
                percentile(&fan_out.last, 0.5),
                percentile(&fan_out.last, 1.0),
                mib(after_pushes.rss_kib),
            );
            report.counts.push(MemoryAt {
                sockets: count,
                idle,
                after_pushes,
                open_secs,
            });
            report.fan_outs.push(fan_out);
        }
        Ok::<(), String>(())
    }
    .await;
    // Clients first, so the relay's sockets do not all close on it at once; then the relay.
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
    drop(relay);
    outcome.map(|()| report)
}

fn print(report: &PhaseReport) {
    println!(
        "relay memory ({}, {} envelopes stored): {:.1} MiB with no socket",
        report.label,
        report.stored,
        mib(report.empty.rss_kib)
    );
    for at in &report.counts {
        println!(
            "  {:>6} idle live sockets: RSS {:.1} MiB ({:.1} KiB per socket), peak {:.1} MiB; \
             {:.1} MiB after the pushes; opened in {:.1} s",
            at.sockets,
            mib(at.idle.rss_kib),
            at.idle.rss_kib.saturating_sub(report.empty.rss_kib) as f64 / at.sockets as f64,
            mib(at.idle.peak_kib),
            mib(at.after_pushes.rss_kib),
            at.open_secs,
        );
    }
    for f in &report.fan_outs {
        println!(
            "fan-out ({}, {} sockets, {} pushes): last socket after the push answer \
             p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; median socket p50 {:.1} ms; \
             push round trip p50 {:.1} ms; CPU per announcement: relay {:.1} µs \
             ({:.1} user + {:.1} system), clients {:.1} µs",
            report.label,
            f.sockets,
            f.last.len(),
            percentile(&f.last, 0.5),
            percentile(&f.last, 0.99),
            percentile(&f.last, 1.0),
            percentile(&f.median, 0.5),
            percentile(&f.round_trip, 0.5),
            f.relay_cpu_us.user + f.relay_cpu_us.system,
            f.relay_cpu_us.user,
            f.relay_cpu_us.system,
            f.bench_cpu_us.user + f.bench_cpu_us.system,
        );
    }
}

fn main() {
    // reqwest's rustls has no provider of its own in this workspace.
    holdfast_relay::testing::install_crypto_provider();
    let full = std::env::args().any(|a| a == "--bench");
    let (phases, deadline) = if full {
        (FULL, FULL_DEADLINE)
    } else {
        (QUICK, QUICK_DEADLINE)
    };
    let largest = phases
        .iter()
        .flat_map(|p| p.counts.iter().copied())
        .max()
        .unwrap_or(0);
    eprintln!(
        "sockets: relay binary {}",
        relay::binary().to_string_lossy()
    );
    if let Some(limit) = relay::open_files_limit() {
        assert!(
            limit >= largest as u64 + 200,
            "{largest} sockets need a file-descriptor limit above {}; this process has {limit} \
             (`ulimit -n`)",
            largest + 200
        );
    }
    // The deadline: whatever is stuck, the relay is killed and the bench exits.
    std::thread::spawn(move || {
        std::thread::sleep(deadline);
        eprintln!(
            "sockets: still running after {} s: killing the relay",
            deadline.as_secs()
        );
        relay::kill_all();
        std::process::exit(2);
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let reports = runtime.block_on(async {
        let run = async {
            let mut reports = Vec::new();
            for phase in phases {
                reports.push(run_phase(phase).await?);
            }
            Ok::<_, String>(reports)
        };
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("a SIGTERM handler");
        tokio::select! {
            reports = run => reports,
            _ = tokio::signal::ctrl_c() => Err("interrupted".to_owned()),
            _ = terminate.recv() => Err("terminated".to_owned()),
        }
    });
    relay::kill_all();
    let reports = match reports {
        Ok(reports) => reports,
        Err(e) => panic!("sockets: {e}"),
    };
    for report in &reports {
        print(report);
    }
    if !full {
        for report in &reports {
            for at in &report.counts {
                let per_socket =
                    at.idle.rss_kib.saturating_sub(report.empty.rss_kib) as f64 / at.sockets as f64;
                assert!(
                    per_socket < QUICK_MAX_KIB_PER_SOCKET,
                    "{per_socket:.1} KiB of relay memory per idle live socket (at most \
                     {QUICK_MAX_KIB_PER_SOCKET}): are the live route's WebSocket buffers back \
                     to the library's defaults?"
                );
            }
        }
    }
}
