//! A TCP proxy on loopback in front of the relay: it passes every byte unchanged, counts
//! what passes (following the HTTP/1.1 exchanges to count response bodies, pulls apart), and
//! can drop the relay's answers, as a signal lost on the way back would.
//!
//! Give the relay the proxy's URL as its public URL (devices sign it into their logins):
//! bind the proxy first, start the relay, then forward to it.
//!
//! ```no_run
//! # async fn run() {
//! use holdfast_relay::testing::TestRelay;
//! use holdfast_tests::Proxy;
//!
//! let listener = Proxy::bind().await;
//! let public = format!("http://{}", listener.local_addr().unwrap());
//! let relay = TestRelay::builder().public_url(public).start().await;
//! let proxy = Proxy::start(listener, relay.addr());
//! // … devices use proxy.url() …
//! # }
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;

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

/// A loopback TCP proxy in front of the relay. The client speaks HTTP/1.1 without
/// pipelining, which is what lets it pair answers with requests.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    /// What passed since the last [`Counters::reset`].
    pub counters: Arc<Counters>,
    /// While set, the relay's answers are dropped and the device hung up on (requests still
    /// arrive), also on a kept-alive connection opened before it was set.
    pub swallow: Arc<AtomicBool>,
    /// Answers to requests whose bytes contain this (say `/redeem HTTP`) are dropped and the
    /// device hung up on; other answers pass.
    pub swallow_for: Arc<Mutex<Option<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// A listener for the proxy on loopback: its address is the relay's public origin.
    pub async fn bind() -> TcpListener {
        TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port for the proxy")
    }

    /// Forwards connections from `listener` to `upstream`, on the current runtime.
    pub fn start(listener: TcpListener, upstream: SocketAddr) -> Proxy {
        Self::start_on(&Handle::current(), listener, upstream)
    }

    /// Forwards connections from `listener` to `upstream`, on `rt` (the relay's runtime,
    /// so that a bench's devices and the proxy do not compete for threads).
    pub fn start_on(rt: &Handle, listener: TcpListener, upstream: SocketAddr) -> Proxy {
        let addr = listener.local_addr().expect("the proxy's address");
        let faults = Faults {
            swallow: Arc::new(AtomicBool::new(false)),
            swallow_for: Arc::new(Mutex::new(None)),
        };
        let counters = Arc::new(Counters::default());
        let (c, f) = (counters.clone(), faults.clone());
        let task = rt.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let _ = client.set_nodelay(true);
                c.connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(forward(client, upstream, c.clone(), f.clone()));
            }
        });
        Proxy {
            addr,
            counters,
            swallow: faults.swallow,
            swallow_for: faults.swallow_for,
            task,
        }
    }

    /// The proxy's URL: what devices are given as the relay's.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The answers to drop (see [`Proxy::swallow`] and [`Proxy::swallow_for`]).
#[derive(Clone)]
struct Faults {
    swallow: Arc<AtomicBool>,
    swallow_for: Arc<Mutex<Option<String>>>,
}

/// One connection: device → relay, and back unless the answer is to be dropped.
async fn forward(mut client: TcpStream, upstream: SocketAddr, c: Arc<Counters>, f: Faults) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = server.set_nodelay(true);
    // Whether each request sent and not yet answered is a pull, oldest first.
    let pending: Arc<Mutex<VecDeque<bool>>> = Arc::default();
    // Set once a request on this connection matched `swallow_for`.
    let hit = AtomicBool::new(false);
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
            let wanted = f.swallow_for.lock().expect("the proxy's pattern").clone();
            if let Some(p) = wanted
                && buf[..n].windows(p.len()).any(|w| w == p.as_bytes())
            {
                hit.store(true, Ordering::SeqCst);
            }
            // Parsed before it is forwarded: the request is queued before its answer can come.
            parser.feed(&buf[..n], &mut events, |_| false);
            for e in events.drain(..) {
                if let Event::Head(first) = e {
                    let pull = first.starts_with("GET ") && first.contains("/envelopes?");
                    pending.lock().expect("the proxy's queue").push_back(pull);
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
            // An answer to drop: the device is hung up on instead.
            if f.swallow.load(Ordering::SeqCst) || hit.load(Ordering::SeqCst) {
                break;
            }
            c.wire_down.fetch_add(n as u64, Ordering::Relaxed);
            parser.feed(&buf[..n], &mut events, |_| true);
            for e in events.drain(..) {
                match e {
                    Event::Head(_) => {
                        c.responses.fetch_add(1, Ordering::Relaxed);
                        pull = pending
                            .lock()
                            .expect("the proxy's queue")
                            .pop_front()
                            .unwrap_or(false);
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
