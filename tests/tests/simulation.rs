//! A seeded simulation of weeks offline, over the real device code and the real relay code.
//!
//! Each seed builds a world: the relay's router (`holdfast_relay::app` on SQLite) run
//! in-process, and devices in two teams (an admin, link workers, a patient on their own
//! plan), each a real [`Store`] and [`SyncClient`] whose requests go through a network of the
//! simulation's own (`SyncClient::with_exchange`) instead of HTTP. A generator seeded with
//! the seed then runs a few hundred steps of work:
//!
//! - link workers create cases and record sessions, status moves, measures, safeguarding
//!   concerns and plan goals; admins add supervision comments; devices sync;
//! - time passes (minutes, hours, days), each device's clock skewed by up to 90 s from the
//!   relay's; a device goes offline for up to three weeks;
//! - the network loses a request before the relay sees it, loses the answer after the relay
//!   acted on it, delivers a request twice, or holds it and delivers it later, after other
//!   requests (the client, having timed out, has retried it meanwhile);
//! - the relay restarts cleanly, or crashes: it goes on from an image of its files as a
//!   `kill -9` leaves them (the write-ahead log copied first, then the database);
//! - a device is enrolled mid-run (invite and redeem, both through the faulty network), and
//!   a link worker's phone is revoked (a new key epoch).
//!
//! Then the network heals, everyone comes online and syncs until nothing moves, and the
//! checks run: every device syncs without error and has an empty outbox (none stuck); the
//! members of a team hold the same documents with identical Automerge heads, and a patient
//! its plan with the staff's heads; every edit is present on every device that may see it,
//! except a revoked device's edits the relay never acknowledged; no pulled envelope was
//! refused; and each kind of fault really happened across the seeds.
//!
//! A failing seed prints itself and the steps leading to the failure; run it again alone
//! with `HOLDFAST_SIM_SEED=N cargo test -p holdfast-tests --test simulation -- --nocapture`.
//! The schedule, the faults and every clock replay exactly; what differs between two runs of
//! a seed is what the operating system's random generator gives (keys, document and actor
//! ids), which changes no step the simulation takes. `HOLDFAST_SIM_SEEDS=A..B` runs a range
//! (the long campaign, docs/RELIABILITY.md); `HOLDFAST_SIM_STEPS` changes the steps per seed.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use holdfast_core::model::case_file::{
    CaseStatus, NewConcern, NewPatient, NewSession, SessionMode,
};
use holdfast_core::model::ids::DocumentId;
use holdfast_core::model::measures::Instrument;
use holdfast_core::sync::{
    Exchange, ExchangeRequest, ExchangeResponse, RetryPolicy, Role, SyncReport,
};
use holdfast_core::{
    Error, ManualClock, MemoryKeyStore, SharedStore, Store, StoreConfig, SyncClient, SyncConfig,
    TeamId,
};
use holdfast_relay::{AppState, Limits, SqliteStorage, Storage, TeamCreationPolicy, TokenKey};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tower::ServiceExt;

/// The relay's URL as the devices know it (loopback: plain http is allowed), and the
/// origin it signs logins for.
const BASE: &str = "http://127.0.0.1:9";
/// Monday 2026-01-05 09:00 UTC: where the world's clock starts.
const START_MS: u64 = 1_767_603_600_000;
const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
/// The seeds `./scripts/test` runs: the first eight, and those that found a fault (2966:
/// an admin revoking without pulling first, and edits that arrived before their document).
const FIXED_SEEDS: &[u64] = &[1, 2, 3, 4, 5, 6, 7, 8, 2966];
/// Steps of work per seed.
const STEPS: usize = 300;
/// Largest clock skew of a device from the relay (the relay accepts membership entries
/// within 600 s of its own time).
const MAX_SKEW_MS: i64 = 90_000;

// ---------------------------------------------------------------------------------------
// The relay

/// The relay: its router over SQLite in a folder, restarted and crashed by the simulation.
/// A clean restart closes the storage (`Storage::close`) and opens it again on the same
/// files; a crash goes on from a copy of the files in a new folder.
struct Relay {
    root: tempfile::TempDir,
    /// Which incarnation serves (each crash goes on from a copy in a new folder).
    life: u32,
    router: Option<Router>,
    /// The storage behind the router, to close it on a clean restart.
    storage: Option<SqliteStorage>,
    clock: ManualClock,
}

impl Relay {
    fn start(clock: ManualClock) -> Relay {
        let root = tempfile::tempdir().expect("a folder for the relay");
        let mut relay = Relay {
            root,
            life: 0,
            router: None,
            storage: None,
            clock,
        };
        std::fs::create_dir_all(relay.dir()).expect("the relay's first folder");
        relay.open();
        relay
    }

    fn dir(&self) -> PathBuf {
        self.root.path().join(format!("life-{}", self.life))
    }

    fn open(&mut self) {
        let limits = Limits {
            // One address for every device (there is no socket): the per-address and
            // per-device limits are not what this simulation is about.
            rate_limit_per_second: 1e6,
            rate_limit_burst: 1_000_000,
            address_rate_per_second: 1e6,
            address_rate_burst: 1_000_000,
            max_challenges_per_address: 100_000,
            ..Limits::default()
        };
        let storage =
            SqliteStorage::open(self.dir().join("relay.db")).expect("the relay's database opens");
        storage.set_team_quota(limits.team_quota());
        self.storage = Some(storage.clone());
        let state = AppState::new(
            storage,
            limits,
            BASE,
            TokenKey::from_bytes(&[0x5A; TokenKey::LEN]),
            Arc::new(self.clock.clone()),
            TeamCreationPolicy::Open,
        );
        self.router = Some(holdfast_relay::app(state));
    }

    /// Stops it for a clean restart: returns its storage, to close before [`Relay::open`].
    fn stop(&mut self) -> Option<SqliteStorage> {
        self.router = None;
        self.storage.take()
    }

    /// A crash: the files as a `kill -9` leaves them, copied while the relay is idle (the
    /// log first: a checkpoint finishing between the two copies then loses nothing), and a
    /// relay started on the copy. The old incarnation is dropped afterwards, its files left.
    fn crash(&mut self) {
        let from = self.dir();
        self.life += 1;
        let to = self.dir();
        copy_image(&from, &to);
        self.router = None;
        // Not closed: a crash closes nothing. (Its writer and checkpoint threads end when the
        // last request holding its state ends; they touch only the old folder.)
        self.storage = None;
        self.open();
    }
}

fn copy_image(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a folder for the image");
    for name in ["relay.db-wal", "relay.db"] {
        let src = from.join(name);
        if src.exists() {
            std::fs::copy(&src, to.join(name)).expect("the relay's file copies");
        }
    }
}

async fn deliver(router: Router, request: &ExchangeRequest) -> ExchangeResponse {
    let mut builder = Request::builder()
        .method(request.method.clone())
        .uri(&request.path);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let request = builder
        .body(Body::from(request.body.clone()))
        .expect("a request the client built is valid HTTP");
    let answer = router
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let (parts, body) = answer.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("the relay's answer reads");
    ExchangeResponse {
        status: parts.status,
        headers: parts.headers,
        body: body.to_vec(),
    }
}

// ---------------------------------------------------------------------------------------
// The network

/// What the network does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fate {
    Delivered,
    /// Lost before the relay saw it.
    Lost,
    /// The relay acted on it; its answer was lost.
    AnswerLost,
    /// Delivered twice; the client hears the second answer.
    Twice,
    /// Held, and delivered later by a step of its own; the client hears nothing.
    Late,
    /// The relay is killed while it handles the request, before its write is durable: it
    /// starts again from the files as they were before, and the client hears nothing.
    KilledBefore,
    /// The relay is killed after its write is durable, before it answers: it starts again
    /// with the write, and the client hears nothing.
    KilledAfter,
    /// The device is offline, or the relay is down.
    Unreachable,
}

struct Net {
    rng: StdRng,
    relay: Relay,
    /// Per device: offline until this time on the world's clock.
    offline_until: Vec<u64>,
    /// Whether faults are on (off while the world is set up and when it heals).
    faulty: bool,
    held: Vec<ExchangeRequest>,
    /// Fates a test sets for the next requests to these paths, before the seed's own.
    script: Vec<(Method, String, Fate)>,
    /// Devices whose token request the network delivered twice during this step: the
    /// second copy is refused (a challenge is good for one answer), and three in a row
    /// fail the login with 401, as they should.
    login_duplicated: BTreeSet<usize>,
    /// Every 5xx but a 503 the relay answered, heard by the client or not.
    server_errors: Vec<String>,
    /// Every request and its fate, when replaying one seed (`HOLDFAST_SIM_SEED`).
    tracing: bool,
    trace: Vec<String>,
    fates: BTreeMap<Fate, u64>,
    now: u64,
}

impl Net {
    fn heard(&mut self, request: &ExchangeRequest, answer: &ExchangeResponse) {
        if answer.status.is_server_error() && answer.status.as_u16() != 503 {
            self.server_errors.push(format!(
                "{} {} answered {}",
                request.method, request.path, answer.status
            ));
        }
        if self.tracing {
            self.trace.push(format!("    -> {}", answer.status));
        }
    }

    fn fate(&mut self, device: usize, request: &ExchangeRequest) -> (Fate, Option<Router>) {
        let router = self.relay.router.clone();
        let fate = if router.is_none() || self.offline_until[device] > self.now {
            Fate::Unreachable
        } else if !self.faulty {
            Fate::Delivered
        } else {
            match self.rng.random_range(0..100) {
                0..4 => Fate::Lost,
                4..8 => Fate::AnswerLost,
                8..11 => Fate::Twice,
                11..13 if self.held.len() < 16 => Fate::Late,
                13 if self.relay.router.is_some() && self.rng.random_bool(0.5) => {
                    Fate::KilledBefore
                }
                13 => Fate::KilledAfter,
                _ => Fate::Delivered,
            }
        };
        let scripted = self.script.iter().position(|(method, path, _)| {
            *method == request.method && request.path.starts_with(path.as_str())
        });
        let fate = match scripted {
            Some(i) if fate != Fate::Unreachable => self.script.remove(i).2,
            _ => fate,
        };
        *self.fates.entry(fate).or_default() += 1;
        if fate == Fate::Twice && request.path.starts_with("/v1/auth/token") {
            self.login_duplicated.insert(device);
        }
        if self.tracing {
            let path = request.path.split('?').next().unwrap_or_default();
            self.trace.push(format!(
                "device {device}: {} {path}: {fate:?}",
                request.method
            ));
        }
        (fate, router)
    }
}

type Shared = Arc<Mutex<Net>>;

/// One device's link to the relay.
struct Link {
    net: Shared,
    device: usize,
}

impl Link {
    /// Delivers `request`, keeping any 5xx but a 503 (shedding load) as a fault, whether
    /// or not the client hears it (a duplicate or a late copy answered 500 is a relay bug
    /// too).
    async fn delivered(&self, router: Router, request: &ExchangeRequest) -> ExchangeResponse {
        let answer = deliver(router, request).await;
        self.net
            .lock()
            .expect("the network")
            .heard(request, &answer);
        answer
    }
}

impl Exchange for Link {
    fn exchange<'a>(
        &'a self,
        _base: &'a str,
        request: ExchangeRequest,
    ) -> Pin<Box<dyn Future<Output = Result<ExchangeResponse, String>> + Send + 'a>> {
        Box::pin(async move {
            let (fate, router) = self
                .net
                .lock()
                .expect("the network")
                .fate(self.device, &request);
            let Some(router) = router else {
                return Err("the relay is down".into());
            };
            match fate {
                Fate::Unreachable => Err("no route to the relay".into()),
                Fate::Lost => Err("connection reset before the relay answered".into()),
                Fate::Late => {
                    self.net.lock().expect("the network").held.push(request);
                    Err("timed out".into())
                }
                Fate::AnswerLost => {
                    self.delivered(router, &request).await;
                    Err("connection reset after the request was sent".into())
                }
                Fate::Twice => {
                    self.delivered(router.clone(), &request).await;
                    Ok(self.delivered(router, &request).await)
                }
                Fate::KilledBefore => {
                    // The image is what the disk held before the request; the old relay
                    // handles it and is then dropped with its folder.
                    self.net.lock().expect("the network").relay.crash();
                    self.delivered(router, &request).await;
                    Err("connection reset: the relay went away".into())
                }
                Fate::KilledAfter => {
                    self.delivered(router, &request).await;
                    self.net.lock().expect("the network").relay.crash();
                    Err("connection reset: the relay went away".into())
                }
                Fate::Delivered => Ok(self.delivered(router, &request).await),
            }
        })
    }
}

// ---------------------------------------------------------------------------------------
// Devices

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Its invite was never made (the request failed): it takes no part.
    Never,
    /// Invited; its redeem has not gone through yet.
    Invited,
    Member,
    Revoked,
}

struct Dev {
    name: String,
    team: usize,
    role: Role,
    /// A patient's own plan.
    plan: Option<DocumentId>,
    keys: MemoryKeyStore,
    store: SharedStore,
    client: SyncClient,
    clock: ManualClock,
    skew: i64,
    standing: Standing,
    /// An invite code not yet redeemed.
    code: Option<String>,
    /// Heads after each of its edits, with the document.
    edits: Vec<(DocumentId, Vec<String>)>,
    /// Edits before this index were acknowledged (a sync that pushed them succeeded).
    acked: usize,
    _dir: tempfile::TempDir,
}

impl Dev {
    fn s(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().expect("the store's lock")
    }

    fn has(&self, doc: DocumentId) -> bool {
        self.s().kind_of(doc).is_ok()
    }
}

fn sim_config() -> SyncConfig {
    SyncConfig {
        retry: RetryPolicy {
            base: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            attempts: 4,
        },
        // Snapshots often, so that uploading them and compacting run too.
        snapshot_after: 12,
        push_batch: 20,
        pull_limit: 50,
        ..SyncConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// The world

/// A case file and its plan, and who made them (the plan is their edit number `edit`).
#[derive(Debug, Clone, Copy)]
struct Made {
    case: DocumentId,
    plan: DocumentId,
    by: usize,
    edit: usize,
}

/// The link worker of team 0 whose phone is revoked (when the seed revokes one).
const VICTIM: usize = 3;

struct World {
    seed: u64,
    rng: StdRng,
    net: Shared,
    devs: Vec<Dev>,
    teams: Vec<TeamId>,
    /// Case files and plans of each team, in the order they were made: (case, plan), with
    /// who made them and the index of that edit in their list.
    cases: Vec<Vec<Made>>,
    /// What happened, for a failing seed's report.
    log: Vec<String>,
    /// Unexpected errors, with the step.
    faults: Vec<String>,
    now: u64,
    revoked_once: bool,
    enrolled_once: bool,
    /// How often each kind of event happened (for the run's summary).
    events: BTreeMap<&'static str, u64>,
}

impl World {
    fn count(&mut self, event: &'static str) {
        *self.events.entry(event).or_default() += 1;
    }

    fn note(&mut self, what: String) {
        {
            let mut net = self.net.lock().expect("the network");
            if net.tracing {
                net.trace.push(format!("* {what}"));
            }
        }
        self.log.push(format!(
            "[{:>6} min] {what}",
            (self.now - START_MS) / MINUTE
        ));
    }

    fn device(&mut self, name: &str, team: usize, role: Role) -> usize {
        let index = self.devs.len();
        let dir = tempfile::tempdir().expect("a folder for the device");
        let keys = MemoryKeyStore::default();
        let skew = self.rng.random_range(-MAX_SKEW_MS..=MAX_SKEW_MS);
        let clock = ManualClock::at(self.now.saturating_add_signed(skew));
        let config = StoreConfig::new(dir.path(), name).with_clock(Arc::new(clock.clone()));
        let store = SharedStore::new(Store::create(&config, &keys).expect("a new store"));
        let link = Arc::new(Link {
            net: self.net.clone(),
            device: index,
        });
        let client =
            SyncClient::with_exchange(store.clone(), sim_config(), link).expect("a sync client");
        self.net.lock().expect("the network").offline_until.push(0);
        self.devs.push(Dev {
            name: name.to_owned(),
            team,
            role,
            plan: None,
            keys,
            store,
            client,
            clock,
            skew,
            standing: Standing::Invited,
            code: None,
            edits: Vec::new(),
            acked: 0,
            _dir: dir,
        });
        index
    }

    fn set_time(&mut self, now: u64) {
        self.now = now;
        self.net.lock().expect("the network").now = now;
        self.net.lock().expect("the network").relay.clock.set(now);
        for d in &self.devs {
            d.clock.set(now.saturating_add_signed(d.skew));
        }
    }

    fn faulty(&self, on: bool) {
        self.net.lock().expect("the network").faulty = on;
    }

    /// Two teams: team 0 with an admin, two link workers and a patient; team 1 with an
    /// admin and a link worker. Built without faults.
    async fn new(seed: u64) -> World {
        let mut rng = StdRng::seed_from_u64(seed);
        let clock = ManualClock::at(START_MS);
        let net = Arc::new(Mutex::new(Net {
            rng: StdRng::seed_from_u64(rng.random()),
            relay: Relay::start(clock),
            offline_until: Vec::new(),
            faulty: false,
            held: Vec::new(),
            script: Vec::new(),
            login_duplicated: BTreeSet::new(),
            server_errors: Vec::new(),
            tracing: std::env::var_os("HOLDFAST_SIM_SEED").is_some(),
            trace: Vec::new(),
            fates: BTreeMap::new(),
            now: START_MS,
        }));
        let mut w = World {
            seed,
            rng,
            net,
            devs: Vec::new(),
            teams: Vec::new(),
            cases: vec![Vec::new(), Vec::new()],
            log: Vec::new(),
            faults: Vec::new(),
            now: START_MS,
            revoked_once: false,
            enrolled_once: false,
            events: BTreeMap::new(),
        };
        for (team, admin) in [(0, "Sam Okafor (admin)"), (1, "Jo Whitfield (admin)")] {
            let a = w.device(admin, team, Role::Admin);
            let id = w.devs[a].s().create_team(BASE).expect("a team");
            w.devs[a]
                .client
                .register_team(id)
                .await
                .expect("the team registers");
            w.devs[a].standing = Standing::Member;
            w.teams.push(id);
        }
        for (team, name) in [
            (0, "Priya Natarajan"),
            (0, "Tom Ellery"),
            (1, "Aisha Rahman"),
        ] {
            let d = w.device(name, team, Role::LinkWorker);
            w.invite(d).await.expect("an invite");
            w.redeem(d).await.expect("the invite redeems");
        }
        // A patient of team 0, on a plan a link worker made for them.
        let worker = 2;
        let case = w.devs[worker]
            .s()
            .create_case_file(NewPatient::named("Mrs Ada Pembury"))
            .expect("a case");
        w.made(0, worker, case.case_id, case.plan_id);
        w.devs[worker].client.sync(w.teams[0]).await.expect("sync");
        w.devs[0].client.sync(w.teams[0]).await.expect("sync");
        let p = w.device("Ada Pembury (patient)", 0, Role::Patient);
        w.devs[p].plan = Some(case.plan_id);
        w.invite(p).await.expect("an invite");
        w.redeem(p).await.expect("the invite redeems");
        for d in 0..w.devs.len() {
            w.devs[d].acked = w.devs[d].edits.len();
        }
        w.note("world set up".into());
        w
    }

    /// The team's admin makes an invite for device `d` (through the network).
    async fn invite(&mut self, d: usize) -> Result<(), Error> {
        let team = self.devs[d].team;
        let admin = self.admin_of(team);
        let code = self.devs[admin]
            .client
            .create_invite(
                self.teams[team],
                self.devs[d].role,
                self.devs[d].plan,
                7 * DAY,
            )
            .await?;
        self.devs[d].code = Some(code);
        Ok(())
    }

    /// Device `d` redeems its invite (through the network), which runs its first sync.
    async fn redeem(&mut self, d: usize) -> Result<(), Error> {
        let code = self.devs[d].code.clone().expect("an invite to redeem");
        let dev = &self.devs[d];
        let enrolled = dev.client.redeem_invite(&dev.keys, &code).await?;
        self.devs[d].standing = Standing::Member;
        self.devs[d].code = None;
        match enrolled.first_sync {
            Ok(_) => self.devs[d].acked = self.devs[d].edits.len(),
            // Its later syncs are checked as everyone's; this one's error is only text here,
            // so only the relay's own failures are told apart.
            Err(e) if e.contains("(500 ") => {
                let name = self.devs[d].name.clone();
                self.unexpected(format!("{name}: first sync: {e}"));
            }
            Err(e) => self.note(format!("{}: first sync failed: {e}", self.devs[d].name)),
        }
        Ok(())
    }

    fn admin_of(&self, team: usize) -> usize {
        self.devs
            .iter()
            .position(|d| d.team == team && d.role == Role::Admin)
            .expect("every team has its admin")
    }

    /// Records a new case and plan of `team`, made by device `d`.
    fn made(&mut self, team: usize, d: usize, case: DocumentId, plan: DocumentId) {
        let edit = self.devs[d].edits.len();
        self.cases[team].push(Made {
            case,
            plan,
            by: d,
            edit,
        });
        self.record(d, plan);
        self.record(d, case);
    }

    /// Records device `d`'s edit of `doc`: the heads it left.
    fn record(&mut self, d: usize, doc: DocumentId) {
        let heads = self.devs[d]
            .s()
            .heads(doc)
            .expect("the edited document's heads");
        self.devs[d].edits.push((doc, heads));
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.rng.random_range(0..items.len())])
    }

    /// One step of work.
    async fn step(&mut self) {
        self.net
            .lock()
            .expect("the network")
            .login_duplicated
            .clear();
        match self.rng.random_range(0..100) {
            0..40 => self.edit().await,
            40..72 => {
                let all: Vec<usize> = (0..self.devs.len())
                    .filter(|&d| {
                        matches!(self.devs[d].standing, Standing::Member | Standing::Revoked)
                    })
                    .collect();
                if let Some(d) = self.pick(&all) {
                    self.sync(d).await;
                }
            }
            72..84 => {
                let by = if self.rng.random_range(0..5) == 0 {
                    self.rng.random_range(DAY..4 * DAY)
                } else {
                    self.rng.random_range(5 * MINUTE..12 * HOUR)
                };
                self.set_time(self.now + by);
            }
            84..87 => {
                let d = self.rng.random_range(0..self.devs.len());
                let until = self.now + self.rng.random_range(DAY..21 * DAY);
                self.net.lock().expect("the network").offline_until[d] = until;
                self.count("partitions");
                let name = self.devs[d].name.clone();
                self.note(format!(
                    "{name} goes offline for {} days",
                    (until - self.now) / DAY
                ));
            }
            87..93 => self.deliver_late().await,
            93..95 => {
                self.restart_relay().await;
                self.count("relay restarts");
                self.note("the relay restarts".into());
            }
            95..97 => {
                self.net.lock().expect("the network").relay.crash();
                self.count("relay crashes between requests");
                self.note("the relay crashes and starts again".into());
            }
            97..99 => self.membership().await,
            _ => self.finish_pending().await,
        }
    }

    /// A clean restart of the relay (no request is in flight between steps): its storage
    /// closed, then opened again on the same files.
    async fn restart_relay(&mut self) {
        let storage = self.net.lock().expect("the network").relay.stop();
        if let Some(storage) = storage {
            storage
                .close()
                .await
                .expect("the relay's storage closes cleanly");
        }
        self.net.lock().expect("the network").relay.open();
    }

    /// A request the network held, delivered now.
    async fn deliver_late(&mut self) {
        let (request, router) = {
            let mut net = self.net.lock().expect("the network");
            if net.held.is_empty() {
                return;
            }
            let n = net.held.len();
            let i = net.rng.random_range(0..n);
            (net.held.remove(i), net.relay.router.clone())
        };
        if let Some(router) = router {
            let answer = deliver(router, &request).await;
            self.net
                .lock()
                .expect("the network")
                .heard(&request, &answer);
            self.note(format!(
                "late: {} {} -> {}",
                request.method, request.path, answer.status
            ));
        }
    }

    /// A link worker's or an admin's edit on their own phone (online or not).
    async fn edit(&mut self) {
        let staff: Vec<usize> = (0..self.devs.len())
            .filter(|&d| matches!(self.devs[d].standing, Standing::Member | Standing::Revoked))
            .filter(|&d| matches!(self.devs[d].role, Role::LinkWorker | Role::Admin))
            .collect();
        let Some(d) = self.pick(&staff) else { return };
        let team = self.devs[d].team;
        let held: Vec<(DocumentId, DocumentId)> = self.cases[team]
            .clone()
            .into_iter()
            .filter(|m| self.devs[d].has(m.case))
            .map(|m| (m.case, m.plan))
            .collect();
        let what = self.rng.random_range(0..100);
        let name = self.devs[d].name.clone();
        if self.devs[d].role == Role::Admin {
            let Some((case, _)) = self.pick(&held) else {
                return;
            };
            let done = self.devs[d]
                .s()
                .add_supervision_comment(case, "Talk through the housing referral at supervision.");
            self.edited(d, case, done.map(drop), "supervision comment");
            return;
        }
        if held.is_empty() || (what < 8 && held.len() < 8) {
            let n = self.cases[team].len();
            let made = self.devs[d]
                .s()
                .create_case_file(NewPatient::named(&format!("Patient {team}-{n}")));
            match made {
                Ok(case) => {
                    self.made(team, d, case.case_id, case.plan_id);
                    self.note(format!("{name}: new case"));
                }
                Err(e) => self.unexpected(format!("{name}: new case: {e:?}")),
            }
            return;
        }
        let (case, plan) = held[self.rng.random_range(0..held.len())];
        let at = self.now.saturating_add_signed(self.devs[d].skew) as i64;
        let result = match what {
            8..50 => self.devs[d]
                .s()
                .record_session(
                    case,
                    &NewSession {
                        start: at,
                        duration_minutes: 40,
                        mode: SessionMode::HomeVisit,
                        attended: true,
                        note: format!(
                            "Visit at step {}: talked about the lunch club.",
                            self.log.len()
                        ),
                        holding_functions: vec![],
                        follow_up: None,
                    },
                )
                .map(drop),
            50..65 => {
                let to = [
                    CaseStatus::Active,
                    CaseStatus::Holding,
                    CaseStatus::Tapering,
                    CaseStatus::Active,
                ][self.rng.random_range(0..4)];
                let set = self.devs[d].s().set_status(case, to, None);
                match set {
                    // Contested (two devices moved it apart offline): a move waits until
                    // someone resolves it, as the link worker now does.
                    Err(Error::Conflict { .. }) => {
                        // One of the competing values: the one the seed draws.
                        let file = self.devs[d].s().case_file(case).expect("the case file");
                        let claims: Vec<CaseStatus> = file.status.values().copied().collect();
                        let chosen = claims[self.rng.random_range(0..claims.len())];
                        let resolved = self.devs[d].s().resolve_status(case, chosen);
                        self.count("contested statuses resolved");
                        resolved
                    }
                    other => other,
                }
            }
            65..78 => {
                let on = time::OffsetDateTime::from_unix_timestamp((at / 1000).max(0))
                    .expect("a date")
                    .date();
                let items: Vec<Option<u8>> = (0..4)
                    .map(|_| Some(self.rng.random_range(0..=10)))
                    .collect();
                self.devs[d]
                    .s()
                    .record_measure(case, Instrument::Ons4, on, &items)
                    .map(drop)
            }
            78..82 => self.devs[d]
                .s()
                .raise_concern(
                    case,
                    &NewConcern {
                        description: "Said the landlord has been turning the heating off.".into(),
                        escalated_to: None,
                    },
                )
                .map(drop),
            _ => {
                let done = self.devs[d]
                    .s()
                    .add_goal(plan, "Get to the lunch club on Thursday");
                self.edited(d, plan, done.map(drop), "goal");
                return;
            }
        };
        self.edited(d, case, result, "case edit");
    }

    fn edited(&mut self, d: usize, doc: DocumentId, result: Result<(), Error>, what: &str) {
        let name = self.devs[d].name.clone();
        match result {
            Ok(()) => {
                self.record(d, doc);
                self.note(format!("{name}: {what}"));
            }
            // A move the case's state does not allow (a status to itself): refused and
            // nothing changed.
            Err(Error::IllegalTransition { .. }) => {}
            Err(e) => self.unexpected(format!("{name}: {what}: {e:?}")),
        }
    }

    fn unexpected(&mut self, what: String) {
        self.note(format!("UNEXPECTED {what}"));
        self.faults.push(what);
    }

    async fn sync(&mut self, d: usize) {
        let team = self.teams[self.devs[d].team];
        let before = self.devs[d].edits.len();
        let result = self.devs[d].client.sync(team).await;
        let name = self.devs[d].name.clone();
        match result {
            Ok(report) => {
                self.devs[d].acked = before;
                self.note(format!("{name} syncs: {}", summary(&report)));
            }
            Err(e) => self.sync_failed(d, e),
        }
    }

    fn sync_failed(&mut self, d: usize, e: Error) {
        self.failed(d, "sync", e);
    }

    /// What device `d` meets when `what` fails: the network's failure, the relay busy
    /// (503, 429), or, for the device being revoked once its revocation was asked for, being
    /// told so (`403 revoked` on a team's route; `401` at login once its token has expired,
    /// as for an unknown device: docs/SECURITY.md). Anything else is unexpected.
    fn failed(&mut self, d: usize, what: &str, e: Error) {
        let name = self.devs[d].name.clone();
        match e {
            Error::Network(_) => self.note(format!("{name}: {what}: offline ({e})")),
            Error::Relay {
                status: 503 | 429, ..
            } => self.note(format!("{name}: {what}: relay busy ({e})")),
            Error::Revoked { .. } | Error::Relay { status: 401, .. }
                if self.revoked_once && d == VICTIM =>
            {
                self.note(format!("{name}: {what}: refused, revoked ({e})"))
            }
            Error::Relay { status: 401, .. }
                if self
                    .net
                    .lock()
                    .expect("the network")
                    .login_duplicated
                    .contains(&d) =>
            {
                self.count("logins refused after duplicated token requests");
                self.note(format!(
                    "{name}: {what}: login refused after the network duplicated it ({e})"
                ))
            }
            e => self.unexpected(format!("{name}: {what}: {e:?}")),
        }
    }

    /// Once per world, at most: a new supervisor is invited into team 1, or a link worker
    /// of team 0 is revoked. Either goes through the faulty network, so either may be left
    /// for a later step to finish.
    async fn membership(&mut self) {
        if !self.enrolled_once && self.rng.random_bool(0.5) {
            self.enrolled_once = true;
            let d = self.device("Rowan Hale (supervisor)", 1, Role::Supervisor);
            self.note("Rowan Hale is invited".into());
            if let Err(e) = self.invite(d).await {
                // Never made (or made and its answer lost: it expires unused).
                self.devs[d].standing = Standing::Never;
                let admin = self.admin_of(1);
                self.failed(admin, "invite", e);
            }
        } else if !self.revoked_once {
            self.revoked_once = true;
            self.note(format!("{} is to be revoked", self.devs[VICTIM].name));
            self.finish_pending().await;
        }
    }

    /// Retries what membership left unfinished: a redeem, a revocation.
    async fn finish_pending(&mut self) {
        for d in 0..self.devs.len() {
            if self.devs[d].standing == Standing::Invited && self.devs[d].code.is_none() {
                // Its invite expired unused: the admin makes another, as a person would.
                let team = self.devs[d].team;
                if let Err(e) = self.invite(d).await {
                    let admin = self.admin_of(team);
                    self.failed(admin, "invite again", e);
                }
            }
            if self.devs[d].code.is_some() {
                match self.redeem(d).await {
                    Ok(()) => {
                        self.count("enrolments");
                        self.note(format!("{} redeemed", self.devs[d].name));
                    }
                    Err(Error::InviteRefused(why)) if why.contains("expired") => {
                        self.count("invites expired unused");
                        self.note(format!("{}: the invite expired unused", self.devs[d].name));
                        self.devs[d].code = None;
                    }
                    Err(e) => self.failed(d, "redeem", e),
                }
            }
        }
        if self.revoked_once && !self.revocation_done() {
            let admin = self.admin_of(0);
            let victim = self.devs[VICTIM].s().author().device;
            match self.devs[admin]
                .client
                .revoke_device(self.teams[0], victim)
                .await
            {
                Ok(epoch) => {
                    self.count("revocations");
                    self.note(format!("revoked: epoch {epoch}"));
                }
                Err(e) => self.failed(admin, "revocation", e),
            }
        }
        if self.revoked_once && self.revocation_done() {
            self.devs[VICTIM].standing = Standing::Revoked;
        }
    }

    /// Whether the admin's store holds the revocation.
    fn revocation_done(&self) -> bool {
        let admin = self.admin_of(0);
        let victim = self.devs[VICTIM].s().author().device;
        let devices = self.devs[admin]
            .s()
            .devices(self.teams[0])
            .expect("the team's devices");
        devices
            .iter()
            .any(|m| m.device == victim && m.revoked_at.is_some())
    }

    /// The network heals, every device comes online, the relay restarts cleanly, what
    /// membership left unfinished finishes, and everyone syncs until nothing moves.
    async fn heal(&mut self) {
        self.faulty(false);
        {
            let mut net = self.net.lock().expect("the network");
            net.held.clear();
            for until in &mut net.offline_until {
                *until = 0;
            }
        }
        self.restart_relay().await;
        self.set_time(self.now + HOUR);
        self.note("the network heals".into());
        // Twice: an invite that turns out to have expired is made again, then redeemed.
        self.finish_pending().await;
        self.finish_pending().await;
        for round in 0..6 {
            let mut moved = false;
            for d in 0..self.devs.len() {
                if self.devs[d].standing != Standing::Member {
                    continue;
                }
                let team = self.teams[self.devs[d].team];
                let before = self.devs[d].edits.len();
                match self.devs[d].client.sync(team).await {
                    Ok(report) => {
                        self.devs[d].acked = before;
                        moved |= report.pull.applied > 0 || report.push.acknowledged > 0;
                        let name = self.devs[d].name.clone();
                        self.note(format!("{name} syncs (healed): {}", summary(&report)));
                    }
                    Err(e) => {
                        let name = self.devs[d].name.clone();
                        self.unexpected(format!(
                            "{name}: sync after healing (round {round}): {e:?}"
                        ));
                    }
                }
            }
            if !moved && round > 0 {
                break;
            }
        }
        // The revoked phone, back online, is told.
        if self.devs[VICTIM].standing == Standing::Revoked {
            let team = self.teams[0];
            match self.devs[VICTIM].client.sync(team).await {
                Err(Error::Revoked { .. } | Error::Relay { status: 401, .. }) => {}
                other => self.unexpected(format!(
                    "the revoked phone's sync after healing: {other:?}, not told it is revoked"
                )),
            }
        }
    }

    /// The checks (see the module's documentation). Returns what failed.
    fn check(&mut self) -> Vec<String> {
        let mut failed = std::mem::take(&mut self.faults);
        failed.extend(self.net.lock().expect("the network").server_errors.clone());
        for dev in &self.devs {
            if dev.standing == Standing::Invited {
                failed.push(format!("{} was invited and never got in", dev.name));
            }
        }
        if self.revoked_once && !self.revocation_done() {
            failed.push("the revocation never went through".into());
        }
        let victim = self.devs[VICTIM].s().author().device;
        let victim_revoked = self.devs[VICTIM].standing == Standing::Revoked;
        // A revoked author's envelopes that reach a device after it folded the revocation
        // are refused by design (a relay colluding with the revoked device could otherwise
        // deliver its new edits sealed at an old epoch); what the revoked device wrote before
        // reaches colleagues in the revoker's snapshots, and the edit checks below say so.
        // Any other refusal is a failure.
        for dev in &self.devs {
            let team = self.teams[dev.team];
            let refused = dev
                .s()
                .refused_envelopes(team)
                .expect("the refused envelopes");
            for r in refused {
                if victim_revoked
                    && r.author == victim
                    && r.reason.starts_with("author was revoked before")
                {
                    continue;
                }
                let author = self
                    .devs
                    .iter()
                    .find(|a| a.s().author().device == r.author)
                    .map_or("someone unknown".to_owned(), |a| a.name.clone());
                failed.push(format!(
                    "{} refused envelope {} (seq {}) of {author}: {}",
                    dev.name, r.id, r.seq, r.reason
                ));
            }
        }
        let members: Vec<usize> = (0..self.devs.len())
            .filter(|&d| self.devs[d].standing == Standing::Member)
            .collect();
        for &d in &members {
            let outbox = self.devs[d].s().outbox_len().expect("the outbox");
            if outbox > 0 {
                failed.push(format!(
                    "{} still has {outbox} changes to upload",
                    self.devs[d].name
                ));
            }
        }
        // Who may see a document: the team's staff; a patient, their plan.
        let viewers = |w: &World, team: usize, doc: DocumentId| -> Vec<usize> {
            members
                .iter()
                .copied()
                .filter(|&d| w.devs[d].team == team)
                .filter(|&d| w.devs[d].role != Role::Patient || w.devs[d].plan == Some(doc))
                .collect()
        };
        let mut histories: BTreeMap<(usize, DocumentId), BTreeSet<String>> = BTreeMap::new();
        for team in 0..self.cases.len() {
            for made in self.cases[team].clone() {
                for doc in [made.case, made.plan] {
                    let holders: Vec<usize> = viewers(self, team, doc)
                        .into_iter()
                        .filter(|&v| self.devs[v].has(doc))
                        .collect();
                    // Made by the revoked phone and never acknowledged: on no one else's.
                    let never_heard = self.devs[made.by].standing == Standing::Revoked
                        && made.edit >= self.devs[made.by].acked;
                    if holders.is_empty() && never_heard {
                        continue;
                    }
                    let mut seen: Option<(String, Vec<String>)> = None;
                    for v in viewers(self, team, doc) {
                        let name = self.devs[v].name.clone();
                        let mut s = self.devs[v].s();
                        let Ok(heads) = s.heads(doc) else {
                            failed.push(format!("{name} does not have {doc}"));
                            continue;
                        };
                        let hashes = s
                            .history(doc)
                            .expect("the history")
                            .into_iter()
                            .map(|h| h.hash)
                            .collect();
                        drop(s);
                        histories.insert((v, doc), hashes);
                        match &seen {
                            None => seen = Some((name, heads)),
                            Some((first, theirs)) if *theirs != heads => failed.push(format!(
                                "{doc}: {name} has heads {heads:?}, {first} {theirs:?}"
                            )),
                            Some(_) => {}
                        }
                    }
                }
            }
        }
        for (d, dev) in self.devs.iter().enumerate() {
            let counted = if dev.standing == Standing::Member {
                dev.edits.len()
            } else {
                dev.acked
            };
            for (doc, heads) in &dev.edits[..counted] {
                for v in viewers(self, dev.team, *doc) {
                    if v == d {
                        continue;
                    }
                    let Some(history) = histories.get(&(v, *doc)) else {
                        // Only a document the revoked phone made and never delivered is
                        // left out above; anything else missing has failed already.
                        continue;
                    };
                    for head in heads {
                        if !history.contains(head) {
                            failed.push(format!(
                                "an edit of {} ({head} on {doc}) is missing on {}",
                                dev.name, self.devs[v].name
                            ));
                        }
                    }
                }
            }
        }
        failed
    }
}

fn summary(r: &SyncReport) -> String {
    format!(
        "pushed {}, applied {}, refused {}, snapshots {}{}",
        r.push.acknowledged,
        r.pull.applied,
        r.pull.refused,
        r.snapshots,
        if r.pull.restarted.is_some() {
            ", relay restarted from a backup"
        } else {
            ""
        }
    )
}

/// Runs one seed; returns its fates, or panics with the seed, the failures and the steps.
/// What one seed did: requests by fate, and the world's events.
type Ran = (BTreeMap<Fate, u64>, BTreeMap<&'static str, u64>);

async fn run(seed: u64, steps: usize) -> Ran {
    let mut w = World::new(seed).await;
    w.faulty(true);
    for _ in 0..steps {
        w.step().await;
    }
    w.heal().await;
    let failed = w.check();
    let fates = w.net.lock().expect("the network").fates.clone();
    if !failed.is_empty() {
        let trace = w.net.lock().expect("the network").trace.clone();
        if !trace.is_empty() {
            eprintln!("requests, in order:\n  {}", trace.join("\n  "));
        }
        let tail = if std::env::var_os("HOLDFAST_SIM_SEED").is_some() {
            0
        } else {
            w.log.len().saturating_sub(60)
        };
        panic!(
            "simulation seed {} failed ({} steps; replay: HOLDFAST_SIM_SEED={} cargo test -p \
             holdfast-tests --test simulation -- --nocapture):\n  {}\nlast steps:\n  {}",
            w.seed,
            steps,
            w.seed,
            failed.join("\n  "),
            w.log[tail..].join("\n  ")
        );
    }
    (fates, w.events)
}

fn seeds() -> Vec<u64> {
    if let Ok(one) = std::env::var("HOLDFAST_SIM_SEED") {
        return vec![one.parse().expect("HOLDFAST_SIM_SEED is a number")];
    }
    if let Ok(range) = std::env::var("HOLDFAST_SIM_SEEDS") {
        let (a, b) = range.split_once("..").expect("HOLDFAST_SIM_SEEDS is A..B");
        return (a.parse().expect("a number")..b.parse().expect("a number")).collect();
    }
    FIXED_SEEDS.to_vec()
}

#[test]
fn weeks_offline_converge() {
    let steps = std::env::var("HOLDFAST_SIM_STEPS")
        .map(|s| s.parse().expect("HOLDFAST_SIM_STEPS is a number"))
        .unwrap_or(STEPS);
    // A long campaign goes on past a failing seed and lists them all at the end.
    let keep_going = std::env::var_os("HOLDFAST_SIM_KEEP_GOING").is_some();
    let mut total: BTreeMap<Fate, u64> = BTreeMap::new();
    let mut events: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut failing = Vec::new();
    let seeds = seeds();
    let started = std::time::Instant::now();
    for &seed in &seeds {
        // One runtime per seed, on one thread: the steps run one after another, each to its
        // end, so the schedule is the seed's alone.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let ran = if keep_going {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                rt.block_on(run(seed, steps))
            }))
        } else {
            Ok(rt.block_on(run(seed, steps)))
        };
        match ran {
            Ok((fates, happened)) => {
                for (fate, n) in fates {
                    *total.entry(fate).or_default() += n;
                }
                for (event, n) in happened {
                    *events.entry(event).or_default() += n;
                }
            }
            Err(_) => failing.push(seed),
        }
    }
    eprintln!(
        "{} seeds, {steps} steps each, in {:.0?}: requests by fate {total:?}; events \
         {events:?}; failing seeds: {failing:?}",
        seeds.len(),
        started.elapsed()
    );
    assert!(failing.is_empty(), "failing seeds: {failing:?}");
    if seeds.len() > 1 {
        for fate in [
            Fate::Delivered,
            Fate::Lost,
            Fate::AnswerLost,
            Fate::Twice,
            Fate::Late,
            Fate::KilledBefore,
            Fate::KilledAfter,
            Fate::Unreachable,
        ] {
            assert!(
                total.get(&fate).copied().unwrap_or(0) > 0,
                "no request met {fate:?}: the simulation did not exercise it"
            );
        }
        for event in [
            "revocations",
            "enrolments",
            "partitions",
            "relay restarts",
            "relay crashes between requests",
        ] {
            assert!(
                events.get(event).copied().unwrap_or(0) > 0,
                "no {event}: the simulation did not exercise them"
            );
        }
    }
}

/// A login whose token answer is lost (the relay spent the challenge) does not fail the
/// sync: the client logs in again from a fresh challenge. (Found by seed 2: the retry sent
/// the spent challenge again and the sync failed with 401.) And a push whose relay is
/// killed before its write is durable is sent again and lands once.
#[test]
fn a_lost_login_answer_and_a_killed_relay_do_not_fail_a_sync() {
    runtime().block_on(async {
        let mut w = World::new(0).await;
        let (worker, admin) = (2, 0);
        // Tokens are good for an hour: the next sync logs in again.
        w.set_time(w.now + 2 * HOUR);
        let case = w.devs[worker]
            .s()
            .create_case_file(NewPatient::named("Mr Len Dawes"))
            .expect("a case");
        w.made(0, worker, case.case_id, case.plan_id);
        {
            let mut net = w.net.lock().expect("the network");
            // Three times over, so that re-sending the spent challenge (refused) and then
            // logging in again (lost again) could never get through.
            let token = "/v1/auth/token".to_owned();
            for _ in 0..3 {
                net.script
                    .push((Method::POST, token.clone(), Fate::AnswerLost));
                net.script
                    .push((Method::POST, token.clone(), Fate::Delivered));
            }
        }
        let team = w.teams[0];
        let report = w.devs[worker]
            .client
            .sync(team)
            .await
            .expect("the sync succeeds");
        assert!(report.push.acknowledged >= 2, "{report:?}");
        // A push whose relay dies before its write is durable.
        w.devs[worker]
            .s()
            .add_goal(case.plan_id, "Ring the Citizens Advice debt line")
            .expect("a goal");
        w.record(worker, case.plan_id);
        let envelopes = format!("/v1/teams/{team}/envelopes");
        w.net.lock().expect("the network").script.push((
            Method::POST,
            envelopes,
            Fate::KilledBefore,
        ));
        // The first push is lost with the relay's write; the retry lands.
        w.devs[worker]
            .client
            .sync(team)
            .await
            .expect("the sync succeeds");
        let fates = w.net.lock().expect("the network").fates.clone();
        assert_eq!(fates.get(&Fate::KilledBefore), Some(&1), "{fates:?}");
        w.devs[admin]
            .client
            .sync(team)
            .await
            .expect("the admin syncs");
        w.heal().await;
        let failed = w.check();
        assert!(failed.is_empty(), "{failed:#?}\n{}", w.log.join("\n"));
    });
}

/// A runtime for a scripted test (one thread, as the seeds run).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

impl World {
    /// The phone to be revoked makes a case and pushes it.
    async fn victim_makes_a_case(&mut self, name: &str) -> holdfast_core::store::NewCase {
        let team = self.teams[0];
        let case = self.devs[VICTIM]
            .s()
            .create_case_file(NewPatient::named(name))
            .expect("a case");
        self.made(0, VICTIM, case.case_id, case.plan_id);
        self.devs[VICTIM]
            .client
            .sync(team)
            .await
            .expect("the phone pushes the case");
        self.devs[VICTIM].acked = self.devs[VICTIM].edits.len();
        case
    }

    /// Device `d` of team 0 syncs, which must succeed.
    async fn synced(&mut self, d: usize, what: &str) {
        let team = self.teams[0];
        self.devs[d].client.sync(team).await.expect(what);
        self.devs[d].acked = self.devs[d].edits.len();
    }

    /// Team 0's admin comments on `case` and pushes it.
    async fn admin_comments(&mut self, case: DocumentId, comment: &str) {
        let admin = self.admin_of(0);
        self.devs[admin]
            .s()
            .add_supervision_comment(case, comment)
            .expect("a comment");
        self.record(admin, case);
        self.synced(admin, "the admin pushes the comment").await;
    }

    /// Team 0's admin revokes the phone; the simulation's books follow.
    async fn revoke_the_victim(&mut self) {
        let admin = self.admin_of(0);
        let victim = self.devs[VICTIM].s().author().device;
        self.devs[admin]
            .client
            .revoke_device(self.teams[0], victim)
            .await
            .expect("the revocation goes through");
        self.devs[admin].acked = self.devs[admin].edits.len();
        self.revoked_once = true;
        self.devs[VICTIM].standing = Standing::Revoked;
    }

    /// Heals the world and fails the test on anything its checks find.
    async fn heal_and_check(&mut self) {
        self.heal().await;
        let failed = self.check();
        assert!(failed.is_empty(), "{failed:#?}\n{}", self.log.join("\n"));
    }
}

/// An admin who is behind revokes a link worker, and the pull it makes first is lost: the
/// revocation waits for a pull that lands. (Found by seed 2966: the admin revoked without
/// pulling, so it refused every envelope the revoked phone had pushed since its cursor, the
/// case that phone made among them, and then refused as "not a Holdfast document" a
/// colleague's later edits to that case; nobody else sends the revoked phone's work.) A
/// relay that stays silent stops the revocation with the network's error, appending
/// nothing.
#[test]
fn a_revoker_pulls_before_it_revokes_even_when_its_first_pull_is_lost() {
    runtime().block_on(async {
        let mut w = World::new(0).await;
        let (admin, worker) = (0, 2);
        let team = w.teams[0];
        // The phone to be revoked makes a case; a colleague pulls it and adds a goal. The
        // admin pulls neither.
        let case = w.victim_makes_a_case("Mr Ray Quill").await;
        w.synced(worker, "the colleague pulls the case").await;
        w.devs[worker]
            .s()
            .add_goal(case.plan_id, "Join the Tuesday walking group")
            .expect("a goal");
        w.record(worker, case.plan_id);
        w.synced(worker, "the colleague pushes the goal").await;
        let victim = w.devs[VICTIM].s().author().device;
        let pull = format!("/v1/teams/{team}/envelopes");
        let lose_pulls = |w: &mut World, n: usize| {
            let mut net = w.net.lock().expect("the network");
            for _ in 0..n {
                net.script.push((Method::GET, pull.clone(), Fate::Lost));
            }
        };
        // Every attempt of two pulls lost (the client tries each request four times
        // here): no revocation.
        lose_pulls(&mut w, 8);
        let refused = w.devs[admin].client.revoke_device(team, victim).await;
        assert!(matches!(refused, Err(Error::Network(_))), "{refused:?}");
        assert!(!w.revocation_done(), "nothing appended");
        // One pull lost: the second lands, then the revocation.
        lose_pulls(&mut w, 4);
        w.revoke_the_victim().await;
        assert!(w.net.lock().expect("the network").script.is_empty());
        assert!(w.revocation_done());
        w.heal_and_check().await;
        // The admin holds the case the revoked phone made, with the colleague's goal.
        let plan = w.devs[admin].s().heads(case.plan_id).expect("the plan");
        assert_eq!(
            plan,
            w.devs[worker].s().heads(case.plan_id).expect("the plan")
        );
    });
}

/// A colleague who is behind when a link worker is revoked pulls, after the revocation, an
/// admin's comment on a case the revoked phone made, before the admin's snapshot of that
/// case: the comment waits for the case (it builds on changes the colleague refuses from
/// the revoked phone) and is applied when the snapshot brings the case. Nothing is refused
/// but the revoked phone's own envelopes.
#[test]
fn an_edit_to_a_revoked_phones_case_waits_for_the_case() {
    runtime().block_on(async {
        let mut w = World::new(0).await;
        let (admin, worker) = (0, 2);
        w.synced(worker, "the colleague syncs, then goes quiet")
            .await;
        let case = w.victim_makes_a_case("Mrs Nell Farrow").await;
        w.synced(admin, "the admin pulls the case").await;
        w.admin_comments(case.case_id, "Check in about the rent arrears.")
            .await;
        // More than a page (50 envelopes here) between the comment and the snapshots the
        // revocation uploads, so that they reach the colleague in different pages.
        for n in 0..30 {
            let other = w.devs[admin]
                .s()
                .create_case_file(NewPatient::named(&format!("Patient {n}")))
                .expect("a case");
            w.made(0, admin, other.case_id, other.plan_id);
        }
        w.revoke_the_victim().await;
        w.heal_and_check().await;
        let comment = w.devs[admin].s().heads(case.case_id).expect("the case");
        assert_eq!(
            comment,
            w.devs[worker].s().heads(case.case_id).expect("the case")
        );
    });
}

/// The same, with the admin's snapshots held up a while: the colleague's set-aside comment
/// waits across syncs, its document not here yet, and is applied the sync after the
/// snapshot comes. And a device that recorded such an edit under the rule before this one
/// ("not a Holdfast document", for good) gets it too, once the document is here.
#[test]
fn an_edit_refused_before_its_document_came_is_pulled_again_once_it_has() {
    runtime().block_on(async {
        let mut w = World::new(0).await;
        let (admin, worker) = (0, 2);
        let team = w.teams[0];
        let case = w.victim_makes_a_case("Mr Idris Vale").await;
        w.synced(admin, "the admin pulls the case").await;
        w.admin_comments(case.case_id, "Ask about the food bank voucher.")
            .await;
        // The snapshots the revocation queues are lost on their way (every attempt of the
        // push after it): the revocation stands, they go at the admin's next sync.
        {
            let mut net = w.net.lock().expect("the network");
            for _ in 0..4 {
                net.script.push((
                    Method::POST,
                    format!("/v1/teams/{team}/envelopes"),
                    Fate::Lost,
                ));
            }
        }
        w.revoke_the_victim().await;
        // The colleague, behind: the case's first changes refused (its author revoked),
        // the comment set aside, twice over.
        for _ in 0..2 {
            w.synced(worker, "the colleague syncs").await;
        }
        assert!(!w.devs[worker].has(case.case_id), "the case has not come");
        let victim = w.devs[VICTIM].s().author().device;
        let set_aside: Vec<String> = w.devs[worker]
            .s()
            .refused_envelopes(team)
            .expect("the refusals")
            .into_iter()
            .filter(|r| r.doc == case.case_id && r.author != victim)
            .map(|r| r.reason)
            .collect();
        assert_eq!(set_aside, [holdfast_core::access::WAITING_FOR_ITS_DOCUMENT]);
        // As a device from before the rule would have recorded it.
        let rewritten = w.devs[worker]
            .s()
            .rewrite_refusal_reasons(
                team,
                holdfast_core::access::WAITING_FOR_ITS_DOCUMENT,
                "not a Holdfast document",
            )
            .expect("the records");
        assert_eq!(rewritten, 1);
        w.heal_and_check().await;
    });
}
