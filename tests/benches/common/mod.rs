//! Shared by the sync benches: an in-process relay in a runtime of its own (as a separate
//! process would have), devices (encrypted store + sync client), a team, a loopback proxy
//! that counts what the relay sends, and small statistics helpers.
//!
//! Each bench uses a part of this module.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use holdfast_core::model::ids::DeviceId;
use holdfast_core::sync::Role;
use holdfast_core::{
    MemoryKeyStore, SharedStore, Store, StoreConfig, SyncClient, SyncConfig, TeamId,
};
use holdfast_relay::RunningRelay;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the bench was invoked.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    /// `cargo bench` passes `--bench`: the full measurement. Without it (`cargo test
    /// --all-targets`), a quick smoke run on small data.
    pub full: bool,
    /// `--json`: also print one JSON line per run.
    pub json: bool,
}

impl Mode {
    pub fn from_args() -> Mode {
        let args: Vec<String> = std::env::args().skip(1).collect();
        Mode {
            full: args.iter().any(|a| a == "--bench"),
            json: args.iter().any(|a| a == "--json"),
        }
    }
}

/// Logs to stderr only when `RUST_LOG` asks for it (logging costs time).
pub fn init_logging() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
}

// ---------------------------------------------------------------------------------------
// The relay

/// A relay serving from a temp dir, in a 2-worker runtime of its own.
pub struct Relay {
    rt: Option<tokio::runtime::Runtime>,
    running: Option<RunningRelay>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its data folder.
    pub dir: tempfile::TempDir,
}

impl Relay {
    /// Starts a relay; `configure` may change its configuration (public URL, limits).
    pub async fn start(configure: impl FnOnce(&mut holdfast_relay::Config)) -> Relay {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("relay")
            .enable_all()
            .build()
            .unwrap();
        let mut config = holdfast_relay::Config::new(dir.path());
        configure(&mut config);
        let running = rt
            .spawn(async move { holdfast_relay::serve(config).await })
            .await
            .unwrap()
            .unwrap();
        Relay {
            addr: running.local_addr(),
            rt: Some(rt),
            running: Some(running),
            dir,
        }
    }

    /// `http://<address>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The relay's runtime (to run a proxy next to it).
    pub fn handle(&self) -> tokio::runtime::Handle {
        self.rt.as_ref().unwrap().handle().clone()
    }

    /// Bytes of the relay's data folder (database, WAL).
    pub fn disk_bytes(&self) -> u64 {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok()?.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.running.take();
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Devices

/// A device: its own encrypted store in a temp dir, a key store, a sync client.
pub struct Device {
    pub dir: tempfile::TempDir,
    pub keys: MemoryKeyStore,
    pub store: SharedStore,
    pub client: SyncClient,
}

impl Device {
    /// A new device of `person` (a store created from nothing, as on a new phone).
    pub fn new(person: &str, config: SyncConfig) -> Device {
        let dir = tempfile::tempdir().unwrap();
        let keys = MemoryKeyStore::default();
        let store = Store::create(&StoreConfig::new(dir.path(), person), &keys).unwrap();
        let store = SharedStore::new(store);
        let client = SyncClient::new(store.clone(), config).unwrap();
        Device {
            dir,
            keys,
            store,
            client,
        }
    }

    /// The store, locked.
    pub fn s(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap()
    }

    pub fn id(&self) -> DeviceId {
        self.s().author().device
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.s().device_public_key()
    }

    /// Creates a team at `url` and registers it with the relay.
    pub async fn create_team(&self, url: &str) -> TeamId {
        let team = self.s().create_team(url).unwrap();
        self.client.register_team(team).await.unwrap();
        team
    }

    /// Enrols `member` in `team` as a link worker (this device is its admin): a one-time
    /// invite, redeemed by the member (which runs its first sync).
    pub async fn enrol(&self, team: TeamId, _url: &str, member: &Device) {
        self.enrol_as(team, member, Role::LinkWorker, None).await;
    }

    /// Enrols `member` with `role` (a patient with its `plan`).
    pub async fn enrol_as(
        &self,
        team: TeamId,
        member: &Device,
        role: Role,
        plan: Option<holdfast_core::model::ids::DocId>,
    ) {
        let code = self
            .client
            .create_invite(team, role, plan, 60_000)
            .await
            .unwrap();
        let enrolled = member
            .client
            .redeem_invite(&member.keys, &code)
            .await
            .unwrap();
        enrolled.first_sync.unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// A loopback proxy that counts what passes

/// What the proxy counted since the last reset.
#[derive(Debug, Default)]
pub struct Counters {
    /// Bytes relay → device on the TCP connections (HTTP heads, bodies, chunk framing).
    pub wire_down: AtomicU64,
    /// Bytes device → relay.
    pub wire_up: AtomicU64,
    /// HTTP response body bytes (decoded from chunked framing if any), every response.
    pub body_down: AtomicU64,
    /// HTTP response body bytes of pulls (`GET .../envelopes?...`) only.
    pub pull_body: AtomicU64,
    /// HTTP responses.
    pub responses: AtomicU64,
    /// Pull responses.
    pub pulls: AtomicU64,
    /// TCP connections opened.
    pub connections: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counted {
    pub wire_down: u64,
    pub wire_up: u64,
    pub body_down: u64,
    pub pull_body: u64,
    pub responses: u64,
    pub pulls: u64,
    pub connections: u64,
}

impl Counters {
    pub fn reset(&self) {
        for c in [
            &self.wire_down,
            &self.wire_up,
            &self.body_down,
            &self.pull_body,
            &self.responses,
            &self.pulls,
            &self.connections,
        ] {
            c.store(0, Ordering::SeqCst);
        }
    }

    pub fn get(&self) -> Counted {
        let g = |c: &AtomicU64| c.load(Ordering::SeqCst);
        Counted {
            wire_down: g(&self.wire_down),
            wire_up: g(&self.wire_up),
            body_down: g(&self.body_down),
            pull_body: g(&self.pull_body),
            responses: g(&self.responses),
            pulls: g(&self.pulls),
            connections: g(&self.connections),
        }
    }
}

/// A TCP proxy on loopback in front of the relay. It passes every byte unchanged and
/// follows the HTTP/1.1 exchanges (the client speaks HTTP/1.1 without pipelining) to count
/// response bodies, pulls apart.
pub struct Proxy {
    pub addr: SocketAddr,
    pub counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Binds a port (so the relay can be told its public URL before the proxy starts).
    pub async fn bind() -> TcpListener {
        TcpListener::bind("127.0.0.1:0").await.unwrap()
    }

    /// Starts forwarding `listener`'s connections to `upstream`, on `rt`.
    pub fn start(
        rt: &tokio::runtime::Handle,
        listener: TcpListener,
        upstream: SocketAddr,
    ) -> Proxy {
        let counters = Arc::new(Counters::default());
        let addr = listener.local_addr().unwrap();
        let c = counters.clone();
        let task = rt.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let _ = client.set_nodelay(true);
                c.connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(relay_connection(client, upstream, c.clone()));
            }
        });
        Proxy {
            addr,
            counters,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay_connection(mut client: TcpStream, upstream: SocketAddr, c: Arc<Counters>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = server.set_nodelay(true);
    // Whether each request sent and not yet answered is a pull, oldest first.
    let pending: Arc<Mutex<VecDeque<bool>>> = Arc::default();
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let up = async {
        let mut parser = Http::default();
        let mut buf = vec![0u8; 64 * 1024];
        let mut events = Vec::new();
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            c.wire_up.fetch_add(n as u64, Ordering::Relaxed);
            // Parsed before it is forwarded: the request is queued before its answer can come.
            parser.feed(&buf[..n], &mut events, |_| false);
            for e in events.drain(..) {
                if let Event::Head(first) = e {
                    let pull = first.starts_with("GET ") && first.contains("/envelopes?");
                    pending.lock().unwrap().push_back(pull);
                }
            }
            if sw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let down = async {
        let mut parser = Http::default();
        let mut buf = vec![0u8; 64 * 1024];
        let mut events = Vec::new();
        let mut pull = false;
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            c.wire_down.fetch_add(n as u64, Ordering::Relaxed);
            parser.feed(&buf[..n], &mut events, |_| true);
            for e in events.drain(..) {
                match e {
                    Event::Head(_) => {
                        c.responses.fetch_add(1, Ordering::Relaxed);
                        pull = pending.lock().unwrap().pop_front().unwrap_or(false);
                        if pull {
                            c.pulls.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Event::Body(len) => {
                        c.body_down.fetch_add(len as u64, Ordering::Relaxed);
                        if pull {
                            c.pull_body.fetch_add(len as u64, Ordering::Relaxed);
                        }
                    }
                }
            }
            if cw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        () = up => {}
        () = down => {}
    }
}

/// What the HTTP follower saw.
enum Event {
    /// A message head; its first line.
    Head(String),
    /// This many body bytes.
    Body(usize),
}

/// Follows HTTP/1.1 messages in one direction of a connection, incrementally.
#[derive(Default)]
struct Http {
    state: State,
}

#[derive(Default)]
enum State {
    /// Reading a head (bytes so far).
    #[default]
    Start,
    Head(Vec<u8>),
    /// A body of known length: bytes left.
    Body(u64),
    /// A chunk-size line (bytes so far).
    ChunkSize(Vec<u8>),
    /// Chunk data: bytes left, then the CRLF after it.
    ChunkData(u64),
    ChunkEnd(u8),
    /// Trailers after the last chunk (bytes of the current line).
    Trailers(Vec<u8>),
    /// No more HTTP (a body until close, or after `101 Switching Protocols`): `true` counts
    /// the bytes as body.
    Raw(bool),
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

impl Http {
    /// Feeds bytes; `is_response` tells how to read a head with no length (a response
    /// without length runs until close; a request without length has no body).
    fn feed(
        &mut self,
        mut data: &[u8],
        events: &mut Vec<Event>,
        is_response: impl Fn(&str) -> bool,
    ) {
        while !data.is_empty() {
            match std::mem::take(&mut self.state) {
                State::Start => self.state = State::Head(Vec::new()),
                State::Head(mut head) => {
                    // Take up to the end of the head (it may arrive in pieces).
                    let before = head.len();
                    head.extend_from_slice(data);
                    let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                        self.state = State::Head(head);
                        return;
                    };
                    let used = end + 4 - before;
                    data = &data[used..];
                    head.truncate(end);
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let mut lines = text.split("\r\n");
                    let first = lines.next().unwrap_or("").to_owned();
                    let mut length = None;
                    let mut chunked = false;
                    for line in lines {
                        let Some((k, v)) = line.split_once(':') else {
                            continue;
                        };
                        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
                        if k == "content-length" {
                            length = v.parse::<u64>().ok();
                        } else if k == "transfer-encoding"
                            && v.to_ascii_lowercase().contains("chunked")
                        {
                            chunked = true;
                        }
                    }
                    let response = is_response(&first);
                    let status: u16 = if response {
                        first
                            .split_whitespace()
                            .nth(1)
                            .and_then(|s| s.parse().ok())
                            .unwrap_or(0)
                    } else {
                        0
                    };
                    events.push(Event::Head(first));
                    self.state = if status == 101 {
                        State::Raw(false)
                    } else if response && (status / 100 == 1 || status == 204 || status == 304) {
                        State::Start
                    } else if chunked {
                        State::ChunkSize(Vec::new())
                    } else if let Some(n) = length {
                        if n == 0 { State::Start } else { State::Body(n) }
                    } else if response {
                        State::Raw(true)
                    } else {
                        State::Start
                    };
                }
                State::Body(left) => {
                    let n = (data.len() as u64).min(left);
                    events.push(Event::Body(n as usize));
                    data = &data[n as usize..];
                    self.state = if left == n {
                        State::Start
                    } else {
                        State::Body(left - n)
                    };
                }
                State::ChunkSize(mut line) => {
                    let before = line.len();
                    line.extend_from_slice(data);
                    let Some(end) = find_crlf(&line) else {
                        self.state = State::ChunkSize(line);
                        return;
                    };
                    data = &data[end + 2 - before..];
                    let text = String::from_utf8_lossy(&line[..end]).into_owned();
                    let hex = text.split(';').next().unwrap_or("").trim();
                    let size = u64::from_str_radix(hex, 16).unwrap_or(0);
                    self.state = if size == 0 {
                        State::Trailers(Vec::new())
                    } else {
                        State::ChunkData(size)
                    };
                }
                State::ChunkData(left) => {
                    let n = (data.len() as u64).min(left);
                    events.push(Event::Body(n as usize));
                    data = &data[n as usize..];
                    self.state = if left == n {
                        State::ChunkEnd(2)
                    } else {
                        State::ChunkData(left - n)
                    };
                }
                State::ChunkEnd(left) => {
                    let n = data.len().min(left as usize);
                    data = &data[n..];
                    self.state = if n == left as usize {
                        State::ChunkSize(Vec::new())
                    } else {
                        State::ChunkEnd(left - n as u8)
                    };
                }
                State::Trailers(mut line) => {
                    let before = line.len();
                    line.extend_from_slice(data);
                    let Some(end) = find_crlf(&line) else {
                        self.state = State::Trailers(line);
                        return;
                    };
                    data = &data[end + 2 - before..];
                    self.state = if end == 0 {
                        State::Start
                    } else {
                        State::Trailers(Vec::new())
                    };
                }
                State::Raw(body) => {
                    if body {
                        events.push(Event::Body(data.len()));
                    }
                    self.state = State::Raw(body);
                    return;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Statistics

/// The value at `p` (0..=100) of sorted `values`, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds with one decimal, for output.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// Rounds to `decimals`.
pub fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}
