//! Edit-to-peer latency: how long from a link worker's edit being committed on device A to
//! that edit being applied on device B of the same team.
//!
//! ```sh
//! cargo bench -p holdfast-tests --bench latency            # full: 1,000 spaced edits + bursts
//! cargo bench -p holdfast-tests --bench latency -- --json  # + one JSON line per variant
//! ```
//!
//! Without `--bench` (`cargo test --all-targets`) it runs the same steps briefly.
//!
//! Setup: an in-process relay (loopback, temp dir, its own runtime). Device A seeds the
//! caseload (full run: `SeedConfig::default()`, 501 documents; quick run: a small one),
//! creates the team and enrols B; both follow the team live (`SyncClient::live`: a WebSocket
//! on which the relay announces its head; a head beyond the cursor triggers a pull, and
//! `notify_local_change` a push, at most one push per 10 ms; a full sync every 30 s). A then records sessions in 100 case files,
//! round robin, as the app would: commit through the store, then `notify_local_change()`.
//!
//! The clock of an edit starts when A's `record_session` returns (committed to A's
//! SQLCipher store, fsync included) and stops when B's store shows the change: an observer
//! thread reads the session counts of the edited cases from B's caseload index (one SQL
//! query through the store's lock, as the app's caseload screen would; no document load),
//! which `apply_page` updates in the same transaction as the change itself, so B's disk
//! write is included. The client has no "applied" notification; the observer is woken by
//! a `tracing` layer on the client's debug events (its "page applied" line comes right
//! after the commit), and reads every 5 ms in any case. After each run, B's Automerge heads
//! of every edited case equal A's.
//!
//! (A first version read B's Automerge heads of the ten cases instead, every 100 µs. Those
//! reads kept missing B's document cache (64 documents, full after the bootstrap; it evicts
//! an arbitrary entry, `keys().next()`, not the least recently used one), each miss loaded a
//! whole case file under B's store lock, and the observer became the bottleneck: a profile
//! put 42% of the process's samples in its `AutoCommit::load`. The breakdown prints what
//! such a load costs.)
//!
//! Variants: 1,000 edits spaced 5 ms apart (each edit usually its own sync round); bursts of
//! 100 edits back to back (they coalesce: a change made while a sync runs is pushed by the
//! next one); 1,000 spaced edits on ten case files only (documents that grow fast). A serial
//! breakdown then times the steps one by one with the live subscriptions stopped: A's
//! commit, A's push, B's pull, idle syncs, and B reading the most edited case file.
//!
//! The relay's per-device rate limit is turned off in the main variants; the same spaced
//! edits run against the relay's defaults too (variant `relay-default-rate-limit`: 200
//! requests/s, bursts of 400; 1,000 edits, long enough to spend the burst if a device's
//! steady rate were over the limit, where each 429 would cost a whole second). Before issue
//! 14 every edit cost A a full sync (four or five requests) and that variant's p99 was ~1 s.
//!
//! Variant `across-relays` (issue 11): the spaced edits (500; quick run: 10) with A and B on
//! two relay processes that share one PostgreSQL database (a schema of the bench's own, from
//! `holdfast_relay::testing::postgres::TestSchema`: the server `HOLDFAST_TEST_POSTGRES`
//! names, or one the fixture starts), behind a TCP load balancer (`holdfast_tests::Balancer`)
//! whose address is both relays' public URL, as an operator would run them. The same setup
//! otherwise (the same seed, no rate limit). An edit's trip: A pushes to relay 0, which
//! stores it in PostgreSQL and notifies (`pg_notify` at commit); relay 1, listening,
//! announces the new head on B's live socket; B pulls, from relay 1. The balancer is pinned
//! while each device connects: relay 0 while A creates the team, uploads, and opens its
//! live socket; relay 1 while B redeems its invite, bootstraps and opens its live socket;
//! then relay 0 again for the run. A live socket stays on the relay it reached, and so does
//! a pooled HTTP connection until it closes (the relay closes one idle for 10 s); a
//! connection re-opened during the run goes to relay 0 (for A, its relay; for B's pulls,
//! the other one, which serves the same database). So that the figure is what it claims,
//! the bench then reads both relays' `/metrics` and the balancer's counts, prints them, and
//! fails unless every envelope stored in the run came through relay 0, relay 1 sent live
//! messages, each relay holds one live socket (A's on relay 0, B's on relay 1, checked as
//! each opened) and relay 1 accepted no connection during the run (so its socket is still
//! the one B opened). It runs first, before the single relay's variants; compare its
//! percentiles with `spaced-5ms` (one relay, SQLite, 1,000 edits).

mod common;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{Mode, dir_bytes, ms, percentile, round};
use holdfast_core::model::case_file::{NewPatient, NewSession, SessionMode};
use holdfast_core::model::ids::DocumentId;
use holdfast_core::seed::{self, SeedConfig};
use holdfast_core::store::{CaseloadFilter, StoreEvent};
use holdfast_core::sync::{LiveHandle, Role};
use holdfast_core::{SharedStore, SyncClient, SyncConfig, TeamId};
use holdfast_relay::Limits;
use holdfast_relay::testing::TestRelay;
use holdfast_relay::testing::postgres::TestSchema;
use holdfast_tests::{Balancer, Device};
use tokio::sync::broadcast::error::RecvError;

/// Case files the edits go to, round robin (the stress variant uses the first ten).
const CASES: usize = 100;
const FEW_CASES: usize = 10;
/// The observer reads B's caseload after every page B applies, and at least this often.
const FALLBACK_POLL: Duration = Duration::from_millis(5);
/// The practice of the edited cases (the observer lists only them).
const PRACTICE: &str = "Latency Bench Surgery";
/// An edit not seen on B after this long fails the bench.
const GIVE_UP: Duration = Duration::from_secs(120);
/// Variant `across-relays`.
const ACROSS: &str = "across-relays";

fn main() {
    install_hook();
    let mode = Mode::from_args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(mode));
    Trace::write();
}

struct Pair {
    a: Device,
    b: Device,
    team: TeamId,
    cases: Vec<DocumentId>,
    /// In front of the two relays (`across-relays`); none in front of one.
    balancer: Option<Balancer>,
    /// One relay, or two on one PostgreSQL schema behind `balancer`: A's (0) and B's (1).
    relays: Vec<TestRelay>,
    /// The two relays' database. Last: dropped after them.
    _schema: Option<TestSchema>,
}

impl Pair {
    /// Sends the balancer's new connections to relay `relay` (nothing with one relay).
    fn pin(&self, relay: usize) {
        pin(self.balancer.as_ref(), relay);
    }
}

fn pin(balancer: Option<&Balancer>, relay: usize) {
    if let Some(balancer) = balancer {
        balancer.pin(Some(relay));
    }
}

/// A relay (or, `across`, two relays on one PostgreSQL schema behind a balancer), device A
/// with `seed` (if any) and a hundred fresh case files, device B bootstrapped. Across
/// relays, A's connections go to relay 0 and B's to relay 1.
async fn pair(mode: Mode, seed: Option<SeedConfig>, rate_limit: bool, across: bool) -> Pair {
    let mut limits = Limits::default();
    if !rate_limit {
        limits.rate_limit_per_second = 0.0;
    }
    let (relays, balancer, schema, url) = if across {
        let schema = TestSchema::new();
        let listener = Balancer::bind().await;
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let mut relays = Vec::new();
        for _ in 0..2 {
            relays.push(
                TestRelay::builder()
                    .database(&schema.url())
                    .public_url(origin.clone())
                    .limits(limits.clone())
                    .start()
                    .await,
            );
        }
        let balancer = Balancer::start(listener, relays.iter().map(TestRelay::addr).collect());
        let url = balancer.url();
        assert_eq!(url, origin);
        (relays, Some(balancer), Some(schema), url)
    } else {
        let relay = TestRelay::builder().limits(limits).start().await;
        let url = relay.url();
        (vec![relay], None, None, url)
    };
    let a = Device::with_config("Sam Okafor", SyncConfig::default());
    let b = Device::with_config("Jo Whitfield", SyncConfig::default());
    if let Some(config) = seed {
        seed::populate(&mut a.s(), &config).unwrap();
    }
    let cases: Vec<DocumentId> = (0..CASES)
        .map(|i| {
            let patient = NewPatient {
                practice: Some(PRACTICE.into()),
                ..NewPatient::named(&format!("Latency Patient {i}"))
            };
            a.s().create_case_file(patient).unwrap().case_id
        })
        .collect();
    // Device::enrol, with A's requests to relay 0 and B's to relay 1 (pinned before each
    // device's turn: a pooled connection closed since is re-opened to the pinned relay).
    let balancer_ref = balancer.as_ref();
    pin(balancer_ref, 0);
    let team = a.create_team(&url).await;
    let code = a
        .client
        .create_invite(team, Role::LinkWorker, None, 60_000)
        .await
        .expect("an invite");
    pin(balancer_ref, 1);
    let enrolled = b
        .client
        .redeem_invite(&b.keys, &code)
        .await
        .expect("the invite redeemed");
    assert_eq!((enrolled.team, enrolled.role), (team, Role::LinkWorker));
    pin(balancer_ref, 0);
    let t = Instant::now();
    a.client.sync(team).await.unwrap();
    let up = t.elapsed();
    pin(balancer_ref, 1);
    let t = Instant::now();
    b.client.sync(team).await.unwrap();
    let down = t.elapsed();
    let expected = a.s().caseload(&Default::default()).unwrap();
    assert_eq!(b.s().caseload(&Default::default()).unwrap(), expected);
    say(
        mode,
        &format!(
            "setup: A holds {} cases (uploaded in {:.0} ms), B bootstrapped in {:.0} ms; relay \
             rate limit {}{}",
            expected.len(),
            ms(up),
            ms(down),
            if rate_limit {
                let l = Limits::default();
                format!(
                    "default ({}/s, burst {})",
                    l.rate_limit_per_second, l.rate_limit_burst
                )
            } else {
                "off".to_owned()
            },
            if across {
                "; two relays on one PostgreSQL schema behind a balancer, A through relay 0, \
                 B through relay 1"
            } else {
                ""
            }
        ),
    );
    Pair {
        a,
        b,
        team,
        cases,
        balancer,
        relays,
        _schema: schema,
    }
}

async fn run(mode: Mode) {
    // Edits: spaced run, burst size, bursts, breakdown, run against the default rate limit,
    // run across two relays.
    let (spaced_n, burst_n, bursts, breakdown_n, limited_n, across_n) = if mode.full {
        (1000, 100, 5, 50, 1000, 500)
    } else {
        (40, 10, 2, 5, 20, 10)
    };
    say(
        mode,
        &format!(
            "edit-to-peer latency bench ({})",
            if mode.full {
                "full"
            } else {
                "quick smoke run; `cargo bench` for the full one"
            }
        ),
    );
    say(
        mode,
        &format!("fsync on the temp dir's disk: {}", fsync_cost()),
    );

    let seed = if mode.full {
        SeedConfig::default()
    } else {
        SeedConfig {
            seed: 42,
            patients: 6,
            assets: 30,
        }
    };
    // The spaced edits with A and B on two relays of one PostgreSQL database; first, on
    // their own in the process.
    across_relays(mode, seed, across_n).await;

    let p = pair(mode, Some(seed), false, false).await;
    let (a_live, b_live) = follow_live(&p).await;

    let warm = edits(&p, &p.cases, 20, Duration::from_millis(5)).await;
    say(
        mode,
        &format!(
            "warm-up: 20 edits, p50 {:.1} ms (not counted)",
            warm.p(50.0)
        ),
    );
    let spaced = edits(&p, &p.cases, spaced_n, Duration::from_millis(5)).await;
    report(mode, "spaced-5ms", &spaced);

    let mut burst = Run::default();
    for _ in 0..bursts {
        tokio::time::sleep(Duration::from_millis(300)).await;
        burst.merge(edits(&p, &p.cases, burst_n, Duration::ZERO).await);
    }
    report(mode, &format!("burst-{bursts}x{burst_n}"), &burst);

    // Stress: the same spaced edits on ten case files only, which grow by a session every
    // 50 ms each (B's apply used to re-read a whole case file per remote change).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let few = edits(
        &p,
        &p.cases[..FEW_CASES],
        spaced_n,
        Duration::from_millis(5),
    )
    .await;
    report(mode, &format!("spaced-5ms-{FEW_CASES}-cases"), &few);
    drop(a_live);
    drop(b_live);
    tokio::time::sleep(Duration::from_millis(200)).await;

    breakdown(mode, &p, breakdown_n).await;
    drop(p);

    // The same spaced edits against a relay with its default per-device rate limit.
    let p = pair(mode, None, true, false).await;
    let (a_live, b_live) = follow_live(&p).await;
    let limited = edits(&p, &p.cases, limited_n, Duration::from_millis(5)).await;
    report(mode, "spaced-5ms-relay-default-rate-limit", &limited);
    drop(a_live);
    drop(b_live);
}

/// Variant `across-relays`: A's edits pushed to relay 0, announced to B by relay 1 (see
/// the module docs); checks from the relays' counters that they went that way.
async fn across_relays(mode: Mode, seed: SeedConfig, n: usize) {
    let p = pair(mode, Some(seed), false, true).await;
    let (a_live, b_live) = follow_live(&p).await;
    let before = relay_counts(&p).await;
    let warm = edits(&p, &p.cases, 20, Duration::from_millis(5)).await;
    say(
        mode,
        &format!(
            "warm-up ({ACROSS}): 20 edits, p50 {:.1} ms (not counted)",
            warm.p(50.0)
        ),
    );
    let run = edits(&p, &p.cases, n, Duration::from_millis(5)).await;
    let after = relay_counts(&p).await;
    let [r0, r1] = [0, 1].map(|i| after[i].0.since(&before[i].0));
    report_with(
        mode,
        ACROSS,
        &run,
        Some(serde_json::json!({ "relay0": r0.json(), "relay1": r1.json() })),
    );
    say(
        mode,
        &format!(
            "    during warm-up and run: relay 0 (A's): {r0}\n    relay 1 (B's): {r1}; B's \
             pulls went through relay 1 unless a pooled connection was re-opened"
        ),
    );
    let mut wrong = Vec::new();
    if r0.stored == 0 || r1.stored != 0 {
        wrong.push("A's edits were not all stored through relay 0");
    }
    if r1.live_messages == 0 {
        wrong.push("relay 1 sent no live messages");
    }
    if (r0.live_sockets, r1.live_sockets) != (1, 1) {
        wrong.push("the relays do not hold one live socket each");
    }
    if r1.accepted != 0 {
        wrong.push("relay 1 accepted a connection during the run (B's live socket may have moved)");
    }
    assert!(
        wrong.is_empty(),
        "{ACROSS}: the edits did not go from relay 0 to relay 1: {}.\nrelay 0's /metrics:\n{}\nrelay \
         1's /metrics:\n{}",
        wrong.join("; "),
        after[0].1,
        after[1].1
    );
    drop(a_live);
    drop(b_live);
}

/// Starts both devices' live subscriptions and returns once each has connected and run its
/// first sync (the store says so: `SyncEnded`, without an error), so that no measured edit
/// waits for a connection. Across relays, one after the other: A's through relay 0, then
/// B's through relay 1 (each checked on the relays' gauges); new connections then go to
/// relay 0.
async fn follow_live(p: &Pair) -> (LiveHandle, LiveHandle) {
    if p.balancer.is_none() {
        let [mut a_events, mut b_events] = [p.a.s().subscribe(), p.b.s().subscribe()];
        let handles = (p.a.client.live(p.team), p.b.client.live(p.team));
        live_synced(p, &p.a, &mut a_events).await;
        live_synced(p, &p.b, &mut b_events).await;
        return handles;
    }
    let mut handles = Vec::new();
    for (relay, device) in [&p.a, &p.b].into_iter().enumerate() {
        p.pin(relay);
        let mut events = device.s().subscribe();
        handles.push(device.client.live(p.team));
        live_synced(p, device, &mut events).await;
        let sockets: Vec<u64> = relay_counts(p)
            .await
            .iter()
            .map(|(c, _)| c.live_sockets)
            .collect();
        assert_eq!(
            sockets,
            [1, relay as u64],
            "live sockets on relays 0 and 1 once {} followed live",
            ["A", "B"][relay]
        );
    }
    p.pin(0);
    let b = handles.pop().unwrap();
    (handles.pop().unwrap(), b)
}

/// Waits until `device`'s live subscription has run a sync without an error.
async fn live_synced(
    p: &Pair,
    device: &Device,
    events: &mut tokio::sync::broadcast::Receiver<StoreEvent>,
) {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match events.recv().await {
                Ok(StoreEvent::SyncEnded { team })
                    if team == p.team
                        && device
                            .client
                            .status(team)
                            .await
                            .unwrap()
                            .last_error
                            .is_none() =>
                {
                    return;
                }
                Err(RecvError::Closed) => panic!("the store closed"),
                _ => {}
            }
        }
    })
    .await
    .expect("the live subscription connects");
}

/// What one relay counted (its `/metrics`), and the connections the balancer gave it.
#[derive(Debug, Clone, Copy)]
struct RelayCounts {
    pushes: u64,
    stored: u64,
    pulls: u64,
    served: u64,
    live_messages: u64,
    /// Open now (a gauge; [`RelayCounts::since`] keeps it).
    live_sockets: u64,
    accepted: u64,
}

impl RelayCounts {
    /// The counts since `before`.
    fn since(&self, before: &RelayCounts) -> RelayCounts {
        RelayCounts {
            pushes: self.pushes - before.pushes,
            stored: self.stored - before.stored,
            pulls: self.pulls - before.pulls,
            served: self.served - before.served,
            live_messages: self.live_messages - before.live_messages,
            live_sockets: self.live_sockets,
            accepted: self.accepted - before.accepted,
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "push_requests": self.pushes,
            "envelopes_stored": self.stored,
            "pull_requests": self.pulls,
            "envelopes_served": self.served,
            "live_messages": self.live_messages,
            "live_sockets": self.live_sockets,
            "connections_accepted": self.accepted,
        })
    }
}

impl std::fmt::Display for RelayCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} pushes ({} envelopes stored), {} pulls ({} envelopes served), {} live messages \
             sent, {} live sockets open, {} connections accepted",
            self.pushes,
            self.stored,
            self.pulls,
            self.served,
            self.live_messages,
            self.live_sockets,
            self.accepted
        )
    }
}

/// Each relay's counts and `/metrics` text (asked directly, not through the balancer).
async fn relay_counts(p: &Pair) -> Vec<(RelayCounts, String)> {
    let http = reqwest::Client::new();
    let mut all = Vec::new();
    for (i, relay) in p.relays.iter().enumerate() {
        let text = http
            .get(format!("{}/metrics", relay.url()))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("the relay's /metrics")
            .text()
            .await
            .expect("the relay's /metrics text");
        let get = |name: &str| -> u64 {
            text.lines()
                .filter_map(|l| l.split_once(' '))
                .find(|(n, _)| *n == name)
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("{name} in the relay's /metrics:\n{text}"))
        };
        let counts = RelayCounts {
            pushes: get("holdfast_relay_push_requests_total"),
            stored: get("holdfast_relay_envelopes_stored_total"),
            pulls: get("holdfast_relay_pull_requests_total"),
            served: get("holdfast_relay_envelopes_served_total"),
            live_messages: get("holdfast_relay_live_messages_total"),
            live_sockets: get("holdfast_relay_live_connections"),
            accepted: p.balancer.as_ref().map_or(0, |b| b.served(i)),
        };
        all.push((counts, text));
    }
    all
}

/// Latencies of one run, and how many distinct states of B the poller saw.
#[derive(Default)]
struct Run {
    latencies: Vec<Duration>,
    /// When each edit committed.
    started: Vec<Instant>,
    /// How long the editor took to make its edits (a burst's commits queue on A's lock).
    editing: Duration,
    elapsed: Duration,
    /// Process CPU time over wall time during the run (all threads: relay, devices, poller).
    cpu_cores: f64,
    /// Observer queries in which B had moved forward (about the number of B's applies).
    applies: usize,
    /// Observer queries, and the time they took (the observer's own cost).
    polls: usize,
    poll_time: Duration,
}

impl Run {
    fn sorted_ms(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self
            .latencies
            .iter()
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect();
        v.sort_by(f64::total_cmp);
        v
    }

    fn p(&self, pct: f64) -> f64 {
        percentile(&self.sorted_ms(), pct)
    }

    fn merge(&mut self, other: Run) {
        self.latencies.extend(other.latencies);
        self.started.extend(other.started);
        self.editing += other.editing;
        let cpu = self.cpu_cores * self.elapsed.as_secs_f64()
            + other.cpu_cores * other.elapsed.as_secs_f64();
        self.elapsed += other.elapsed;
        self.cpu_cores = cpu / self.elapsed.as_secs_f64().max(1e-9);
        self.applies += other.applies;
        self.polls += other.polls;
        self.poll_time += other.poll_time;
    }
}

/// Wakes the observer whenever the sync client logs that it applied a page with something
/// in it: a `tracing` layer on the client's debug events. The client has no notification of
/// its own for "applied"; its log line comes right after `apply_page` commits.
#[derive(Default)]
struct Hook {
    events: Mutex<u64>,
    cv: Condvar,
}

impl Hook {
    fn current(&self) -> u64 {
        *self.events.lock().unwrap()
    }

    /// Waits until an event after `seen`, or `timeout`.
    fn wait(&self, seen: u64, timeout: Duration) {
        let g = self.events.lock().unwrap();
        let _ = self
            .cv
            .wait_timeout_while(g, timeout, |n| *n == seen)
            .unwrap();
    }
}

struct HookLayer(Arc<Hook>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for HookLayer {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut seen = PageApplied::default();
        event.record(&mut seen);
        if let Some(trace) = TRACE.get() {
            trace.note(format!(
                "event,{:.3},{},{}",
                trace.t(Instant::now()),
                event.metadata().target(),
                seen.fields
            ));
        }
        if seen.message && seen.applied > 0 {
            *self.0.events.lock().unwrap() += 1;
            self.0.cv.notify_all();
        }
    }
}

/// Whether an event is the client's "page applied" line, and how many envelopes it applied
/// (a device's pull of its own envelopes applies none).
#[derive(Default)]
struct PageApplied {
    message: bool,
    applied: u64,
    /// The message and numeric fields, when tracing (`HOLDFAST_LATENCY_TRACE`).
    fields: String,
}

impl tracing::field::Visit for PageApplied {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let text = format!("{value:?}");
            self.message = text == "page applied";
            if TRACE.get().is_some() {
                self.fields = format!("{text};{}", self.fields);
            }
        }
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        if field.name() == "applied" {
            self.applied = value;
        }
        if TRACE.get().is_some() {
            self.fields.push_str(&format!("{}={value} ", field.name()));
        }
    }
}

/// With `HOLDFAST_LATENCY_TRACE=FILE`: a timeline for diagnosis, written at the end as CSV
/// lines (`edit,VARIANT,COMMIT_MS,LATENCY_MS`; `event,MS,TARGET,MESSAGE;FIELDS` for the
/// client's and store's debug events; `fsync,MS,DURATION_MS` from a thread that times a
/// 4 KiB write + fdatasync in the temp dir every 20 ms), times from the start of the process.
struct Trace {
    t0: Instant,
    lines: Mutex<Vec<String>>,
    path: std::path::PathBuf,
}

static TRACE: OnceLock<Trace> = OnceLock::new();

impl Trace {
    fn t(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.t0).as_secs_f64() * 1000.0
    }

    fn note(&self, line: String) {
        self.lines.lock().unwrap().push(line);
    }

    fn start() {
        let Some(path) = std::env::var_os("HOLDFAST_LATENCY_TRACE") else {
            return;
        };
        let _ = TRACE.set(Trace {
            t0: Instant::now(),
            lines: Mutex::default(),
            path: path.into(),
        });
        std::thread::Builder::new()
            .name("disk-probe".into())
            .spawn(|| {
                use std::io::Write;
                let trace = TRACE.get().unwrap();
                let dir = tempfile::tempdir().unwrap();
                let mut f = std::fs::File::create(dir.path().join("probe")).unwrap();
                loop {
                    f.write_all(&[0u8; 4096]).unwrap();
                    let t = Instant::now();
                    f.sync_data().unwrap();
                    let d = t.elapsed();
                    trace.note(format!("fsync,{:.3},{:.3}", trace.t(t), ms_f(d)));
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
            .unwrap();
    }

    fn write() {
        if let Some(trace) = TRACE.get() {
            let lines = trace.lines.lock().unwrap();
            std::fs::write(&trace.path, lines.join("\n") + "\n").unwrap();
            eprintln!("trace: {} lines in {}", lines.len(), trace.path.display());
        }
    }
}

fn ms_f(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

static HOOK: OnceLock<Arc<Hook>> = OnceLock::new();

/// Installs the hook (and `RUST_LOG` logging to stderr, if asked for).
fn install_hook() {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let hook = HOOK.get_or_init(Arc::default).clone();
    let log = std::env::var_os("RUST_LOG").is_some().then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(tracing_subscriber::EnvFilter::from_default_env())
    });
    Trace::start();
    let target = if TRACE.get().is_some() {
        "holdfast_core"
    } else {
        "holdfast_core::sync::client"
    };
    let wake = HookLayer(hook).with_filter(
        tracing_subscriber::filter::Targets::new().with_target(target, tracing::Level::DEBUG),
    );
    let _ = tracing_subscriber::registry()
        .with(log)
        .with(wake)
        .try_init();
}

/// Edit bookkeeping shared by the editor and the observer.
struct Tracker {
    started: Vec<Instant>,
    applied: Vec<Option<Instant>>,
    /// Per case: edits not yet seen on B, oldest first, with the session count the case
    /// has once that edit is applied.
    outstanding: Vec<VecDeque<(usize, u32)>>,
    applies: usize,
    /// Caseload queries the observer made, and the time they took.
    polls: usize,
    poll_time: Duration,
    /// How long the editor took.
    editing: Duration,
}

/// A records `n` sessions (one every `spacing`, or back to back) and notifies its live
/// subscription after each; returns each edit's latency until B shows it.
async fn edits(p: &Pair, cases: &[DocumentId], n: usize, spacing: Duration) -> Run {
    let cases = cases.to_vec();
    let base = session_counts(&p.a.store, &cases);
    let tracker = Arc::new(Mutex::new(Tracker {
        started: Vec::with_capacity(n),
        applied: Vec::with_capacity(n),
        outstanding: vec![VecDeque::new(); cases.len()],
        applies: 0,
        polls: 0,
        poll_time: Duration::ZERO,
        editing: Duration::ZERO,
    }));
    let editing = Arc::new(AtomicBool::new(true));

    // The app: edits on a thread of its own (not on the async runtime).
    let editor = {
        let (store, client, cases) = (p.a.store.clone(), p.a.client.clone(), cases.clone());
        let (tracker, editing) = (tracker.clone(), editing.clone());
        std::thread::Builder::new()
            .name("editor".into())
            .spawn(move || {
                edit_loop(&store, &client, &cases, base, &tracker, n, spacing);
                editing.store(false, Ordering::SeqCst);
            })
            .unwrap()
    };
    // The observer: B's caseload index (committed with the change it reflects).
    let poller = {
        let (store, cases) = (p.b.store.clone(), cases.clone());
        let (tracker, editing) = (tracker.clone(), editing.clone());
        std::thread::Builder::new()
            .name("observer".into())
            .spawn(move || poll_loop(&store, &cases, &tracker, &editing))
            .unwrap()
    };
    let start = Instant::now();
    let cpu_start = cpu_time();
    tokio::task::spawn_blocking(move || {
        editor.join().unwrap();
        poller.join().unwrap();
    })
    .await
    .unwrap();
    let elapsed = start.elapsed();
    let cpu_cores = (cpu_time() - cpu_start).as_secs_f64() / elapsed.as_secs_f64();

    // B converged: same Automerge heads as A for every edited case.
    for case in &cases {
        let a = p.a.s().heads(*case).unwrap();
        assert_eq!(p.b.s().heads(*case).unwrap(), a, "B converged on {case}");
    }
    let t = tracker.lock().unwrap();
    let latencies = t
        .started
        .iter()
        .zip(&t.applied)
        .map(|(s, a)| a.expect("every edit applied") - *s)
        .collect();
    Run {
        latencies,
        started: t.started.clone(),
        editing: t.editing,
        elapsed,
        cpu_cores,
        applies: t.applies,
        polls: t.polls,
        poll_time: t.poll_time,
    }
}

/// The session count of each of `cases`, from the store's caseload index (no document load).
fn session_counts(store: &SharedStore, cases: &[DocumentId]) -> Vec<u32> {
    let filter = CaseloadFilter {
        practice: Some(PRACTICE.into()),
        ..CaseloadFilter::default()
    };
    let rows = store.lock().unwrap().caseload(&filter).unwrap();
    cases
        .iter()
        .map(|c| {
            rows.iter()
                .find(|r| r.case_id == *c)
                .map_or(0, |r| r.session_count)
        })
        .collect()
}

fn edit_loop(
    store: &SharedStore,
    client: &SyncClient,
    cases: &[DocumentId],
    mut counts: Vec<u32>,
    tracker: &Mutex<Tracker>,
    n: usize,
    spacing: Duration,
) {
    let start = Instant::now();
    for i in 0..n {
        if !spacing.is_zero() {
            let due = start + spacing * i as u32;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let c = i % cases.len();
        let session = NewSession {
            start: 1_760_000_000_000 + i as i64 * 60_000,
            duration_minutes: 45,
            mode: SessionMode::HomeVisit,
            attended: true,
            note: format!("visit {i}: talked through the week, the allotment and the bus pass"),
            holding_functions: vec![],
            follow_up: None,
        };
        {
            let mut s = store.lock().unwrap();
            s.record_session(cases[c], &session).unwrap();
            let committed = Instant::now();
            counts[c] += 1;
            // Registered before A's lock is released: no sync can seal the change before.
            let mut t = tracker.lock().unwrap();
            let idx = t.started.len();
            t.started.push(committed);
            t.applied.push(None);
            t.outstanding[c].push_back((idx, counts[c]));
        }
        client.notify_local_change();
    }
    tracker.lock().unwrap().editing = start.elapsed();
}

/// Reads B's session counts after every page a device applies, and every few milliseconds
/// anyway, until every edit has been seen.
fn poll_loop(
    store: &SharedStore,
    cases: &[DocumentId],
    tracker: &Mutex<Tracker>,
    editing: &AtomicBool,
) {
    let hook = HOOK.get().expect("hook installed").clone();
    let deadline = Instant::now() + GIVE_UP;
    loop {
        let still_editing = editing.load(Ordering::SeqCst);
        if !still_editing
            && tracker
                .lock()
                .unwrap()
                .outstanding
                .iter()
                .all(VecDeque::is_empty)
        {
            return;
        }
        let seq = hook.current();
        let asked = Instant::now();
        let counts = session_counts(store, cases);
        let seen = Instant::now();
        let mut t = tracker.lock().unwrap();
        t.polls += 1;
        t.poll_time += seen - asked;
        let mut moved = false;
        for (c, count) in counts.into_iter().enumerate() {
            while let Some(&(e, expected)) = t.outstanding[c].front() {
                if expected > count {
                    break;
                }
                t.outstanding[c].pop_front();
                t.applied[e] = Some(seen);
                moved = true;
            }
        }
        if moved {
            t.applies += 1;
        }
        drop(t);
        assert!(
            Instant::now() < deadline,
            "edits not seen on B after {GIVE_UP:?}"
        );
        hook.wait(seq, FALLBACK_POLL);
    }
}

fn report(mode: Mode, variant: &str, run: &Run) {
    report_with(mode, variant, run, None);
}

/// [`report`], with `extra` fields in the JSON line.
fn report_with(mode: Mode, variant: &str, run: &Run, extra: Option<serde_json::Value>) {
    if let Some(trace) = TRACE.get() {
        for (s, l) in run.started.iter().zip(&run.latencies) {
            trace.note(format!("edit,{variant},{:.3},{:.3}", trace.t(*s), ms_f(*l)));
        }
    }
    let v = run.sorted_ms();
    let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
    let (p50, p90, p99, max) = (
        percentile(&v, 50.0),
        percentile(&v, 90.0),
        percentile(&v, 99.0),
        percentile(&v, 100.0),
    );
    say(
        mode,
        &format!(
            "{variant}: {} edits in {:.0} ms (A committed them in {:.0} ms): p50 {p50:.1} ms, p90 {p90:.1} ms, p99 {p99:.1} ms, \
             max {max:.1} ms (min {:.1}, mean {mean:.1}); B moved forward {} times{}",
            v.len(),
            ms(run.elapsed),
            ms(run.editing),
            percentile(&v, 0.0),
            run.applies,
            if p99 < 50.0 {
                ""
            } else {
                "; p99 over the 50 ms target"
            }
        ),
    );
    // Drift over the run: p50 of each tenth of the edits, in edit order.
    let tenth = run.latencies.len().div_ceil(10).max(1);
    let deciles: Vec<f64> = run
        .latencies
        .chunks(tenth)
        .map(|c| {
            let mut v: Vec<f64> = c.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
            v.sort_by(f64::total_cmp);
            round(percentile(&v, 50.0), 1)
        })
        .collect();
    say(
        mode,
        &format!(
            "    p50 by tenth of the run: {deciles:?} ms; CPU used by the process: {:.2} cores \
             on average; observer: {} caseload queries of {:.0} µs on average",
            run.cpu_cores,
            run.polls,
            run.poll_time.as_secs_f64() * 1e6 / run.polls.max(1) as f64
        ),
    );
    if mode.json {
        let mut line = serde_json::json!({
            "system": "holdfast",
            "bench": "edit_to_peer_latency",
            "p50_ms_by_tenth": deciles,
            "cpu_cores": round(run.cpu_cores, 2),
            "variant": variant,
            "edits": v.len(),
            "p50_ms": round(p50, 2),
            "p90_ms": round(p90, 2),
            "p99_ms": round(p99, 2),
            "max_ms": round(max, 2),
            "min_ms": round(percentile(&v, 0.0), 2),
            "mean_ms": round(mean, 2),
            "b_advances": run.applies,
            "elapsed_ms": ms(run.elapsed),
            "commit_phase_ms": ms(run.editing),
            "full": mode.full,
        });
        if let (Some(line), Some(serde_json::Value::Object(extra))) = (line.as_object_mut(), extra)
        {
            line.extend(extra);
        }
        println!("{line}");
    }
}

/// The steps of one edit's trip, one at a time (no live subscriptions running).
async fn breakdown(mode: Mode, p: &Pair, n: usize) {
    let mut commit = Vec::new();
    let mut push = Vec::new();
    let mut pull = Vec::new();
    for i in 0..n {
        let (store, case) = (p.a.store.clone(), p.cases[i % p.cases.len()]);
        let t = Instant::now();
        tokio::task::spawn_blocking(move || {
            let session = NewSession {
                start: 1_770_000_000_000 + i as i64 * 60_000,
                duration_minutes: 30,
                mode: SessionMode::Phone,
                attended: true,
                note: format!("breakdown call {i}"),
                holding_functions: vec![],
                follow_up: None,
            };
            store
                .lock()
                .unwrap()
                .record_session(case, &session)
                .unwrap();
        })
        .await
        .unwrap();
        commit.push(t.elapsed());
        let t = Instant::now();
        let r = p.a.client.push(p.team).await.unwrap();
        assert_eq!(r.acknowledged, 1);
        push.push(t.elapsed());
        let t = Instant::now();
        let r = p.b.client.pull(p.team).await.unwrap();
        assert_eq!(r.applied, 1);
        pull.push(t.elapsed());
    }
    // What B's apply costs grow with: each remote change re-reads the whole case file to
    // rebuild its caseload row; a document not in the store's cache is loaded whole.
    let case = p.cases[0];
    let sessions = session_counts(&p.b.store, &[case])[0];
    let mut read = Vec::new();
    let mut cold = Vec::new();
    for _ in 0..n.min(20) {
        let mut s = p.b.s();
        let t = Instant::now();
        s.case_file(case).unwrap();
        read.push(t.elapsed());
        s.unload_documents();
        let t = Instant::now();
        s.heads(case).unwrap();
        cold.push(t.elapsed());
    }
    let mut idle_a = Vec::new();
    let mut idle_b = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        p.a.client.sync(p.team).await.unwrap();
        idle_a.push(t.elapsed());
        let t = Instant::now();
        p.b.client.sync(p.team).await.unwrap();
        idle_b.push(t.elapsed());
    }
    let line = |name: &str, d: &[Duration]| {
        let mut v: Vec<f64> = d.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        v.sort_by(f64::total_cmp);
        format!(
            "{name} p50 {:.2} / p90 {:.2} / max {:.2} ms",
            percentile(&v, 50.0),
            percentile(&v, 90.0),
            percentile(&v, 100.0)
        )
    };
    say(
        mode,
        &format!(
            "breakdown ({n} edits, one step at a time, no live subscription):\n    {}\n    {}\n    \
             {}\n    {}\n    {}\n    {}\n    {}",
            line("A commit (record_session)", &commit),
            line("A push (seal + POST + ack)", &push),
            line("B pull (GET + verify/decrypt + apply)", &pull),
            line("A idle sync", &idle_a),
            line("B idle sync", &idle_b),
            line(
                &format!("B reads a cached case file of {sessions} sessions"),
                &read
            ),
            line("B loads that case file from disk (cache miss)", &cold),
        ),
    );
    if mode.json {
        let stat = |d: &[Duration]| {
            let mut v: Vec<f64> = d.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
            v.sort_by(f64::total_cmp);
            serde_json::json!({"p50_ms": round(percentile(&v, 50.0), 2), "max_ms": round(percentile(&v, 100.0), 2)})
        };
        println!(
            "{}",
            serde_json::json!({
                "system": "holdfast",
                "bench": "edit_to_peer_breakdown",
                "edits": n,
                "a_commit": stat(&commit),
                "a_push": stat(&push),
                "b_pull": stat(&pull),
                "a_idle_sync": stat(&idle_a),
                "b_idle_sync": stat(&idle_b),
                "case_sessions": sessions,
                "b_case_file_read": stat(&read),
                "b_case_file_cold_load": stat(&cold),
                "relay_disk_bytes": dir_bytes(p.relays[0].data_dir()),
            })
        );
    }
}

/// CPU time of this process so far (user + system, all threads), from `/proc/self/stat`
/// (zero where there is none).
fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the command name (which may hold spaces) start at the state, field 3;
    // utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    Duration::from_millis(f.iter().sum::<u64>() * 10)
}

/// What an fsync of a small write costs on the disk the stores live on (context).
fn fsync_cost() -> String {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut f = std::fs::File::create(dir.path().join("probe")).unwrap();
    let mut v = Vec::new();
    for _ in 0..30 {
        f.write_all(&[0u8; 4096]).unwrap();
        let t = Instant::now();
        f.sync_data().unwrap();
        v.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    v.sort_by(f64::total_cmp);
    format!(
        "p50 {:.2} ms, max {:.2} ms (4 KiB write + fdatasync, 30 times)",
        percentile(&v, 50.0),
        percentile(&v, 100.0)
    )
}

/// Human lines: stdout, or stderr when stdout carries JSON lines.
fn say(mode: Mode, line: &str) {
    if mode.json {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}
