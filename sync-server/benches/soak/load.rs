//! The soak's load: teams of devices that push, pull, read their roster and keys, hold live
//! sockets open and drop them, enrol new devices and revoke old ones, through the relay's
//! HTTP and WebSocket API as devices do (keys, entries, key bundles and envelopes are real,
//! made with holdfast-protocol; see docs/PROTOCOL.md).
//!
//! Each team works from an address of its own on loopback (`127.0.0.10` for the first,
//! `127.0.0.11` for the next, …), as each team's office would, so the relay runs with its
//! default per-address limits. Within a team, each device does one thing at a time.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use holdfast_protocol::{
    BundleHeader, DeviceId, DeviceSigningKey, DocumentId, DocumentKey, Entry, EpochKey, Header,
    HpkeKeyPair, HpkePublicKey, InviteCode, KeyBundle, Kind, Op, PullPage, PushBatch, Role,
    SystemRandom, TeamId, WrappedKey, epoch_key_commitment, keys_ack_message, redeem_proof_message,
    seal, sign_auth,
};
use rand::Rng;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::{Error as WsError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::samples::{Recorder, Timed};

/// The key every envelope is sealed with (the relay never opens them).
const DOC_KEY: [u8; 32] = [0x42; 32];
/// Documents per team that envelopes are spread over.
const DOCUMENTS: u8 = 32;
/// Envelopes in one push: 1 to this many.
const MAX_BATCH: usize = 6;
/// An envelope's plaintext: this many bytes, up to [`MAX_PLAINTEXT`].
const MIN_PLAINTEXT: usize = 64;
const MAX_PLAINTEXT: usize = 512;
/// A pull asks for this many envelopes a page, and follows `more` for at most
/// [`PULL_PAGES`] pages.
const PULL_LIMIT: u32 = 500;
const PULL_PAGES: usize = 4;
/// A joining device starts pulling this many envelopes behind the team's head: a full
/// first sync grows with the team's history, and would measure the history's size, not
/// the relay's health over time.
const JOIN_BACKLOG: u64 = 1000;
/// A device logs in again once its token is this old (the relay's tokens last an hour).
const TOKEN_REFRESH: Duration = Duration::from_secs(45 * 60);
/// Live sockets per device at most (the relay allows 8).
const SOCKETS_PER_DEVICE: usize = 4;
/// Time for a socket's upgrade and the relay's first `{"seq"}`.
const LIVE_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for the relay to answer a close.
const LIVE_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Operations of one kind in flight at once; past it a tick is skipped and counted.
const IN_FLIGHT: usize = 64;
/// Errors printed in full; after these, every hundredth.
const ERRORS_PRINTED: u64 = 20;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// How much load, and of what.
#[derive(Debug, Clone)]
pub struct Shape {
    pub teams: usize,
    /// Working devices per team, its admin included.
    pub devices_per_team: usize,
    /// Push batches per second, over every team.
    pub pushes_per_sec: f64,
    /// Pulls per second (each following `more` for up to 4 pages).
    pub pulls_per_sec: f64,
    /// Roster reads per second: the team's state, new membership entries, new key bundles.
    pub rosters_per_sec: f64,
    /// Live sockets held open.
    pub sockets: usize,
    /// A socket's life: uniform between these.
    pub socket_life: (Duration, Duration),
    /// One enrolment (invite, redeem, first login, keys) this often, over every team.
    pub enrol_every: Duration,
    /// One revocation (and a new key epoch) this often, over every team.
    pub revoke_every: Duration,
}

/// Counts of what the load did, read by the sampler.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub pushes: AtomicU64,
    pub envelopes: AtomicU64,
    pub pulls: AtomicU64,
    pub rosters: AtomicU64,
    pub logins: AtomicU64,
    /// Live sockets open now (upgraded and heard from).
    pub sockets_open: AtomicU64,
    /// Live socket tasks running now (connecting, open or closing).
    sockets_held: AtomicUsize,
    pub socket_opens: AtomicU64,
    /// Sockets the relay closed with 1008 `device revoked`, to the device just revoked.
    pub revoked_closes: AtomicU64,
    /// Sockets the load closed whose close the relay answered with its own close frame,
    /// and those where it ended the connection without one.
    pub closes_answered: AtomicU64,
    pub closes_unanswered: AtomicU64,
    pub enrolments: AtomicU64,
    pub revocations: AtomicU64,
    /// `stale_epoch` after a revocation, `revoked` to the device just revoked.
    pub expected_refusals: AtomicU64,
    pub errors: AtomicU64,
    pub skipped: AtomicU64,
}

impl Counters {
    /// Zeroes the counts (not the gauges): what the set-up did is not the run's.
    fn reset(&self) {
        for counter in [
            &self.requests,
            &self.pushes,
            &self.envelopes,
            &self.pulls,
            &self.rosters,
            &self.logins,
            &self.socket_opens,
            &self.revoked_closes,
            &self.closes_answered,
            &self.closes_unanswered,
            &self.enrolments,
            &self.revocations,
            &self.expected_refusals,
            &self.errors,
            &self.skipped,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// A device's login and where its sync stands.
#[derive(Debug)]
struct Session {
    token: String,
    logged_in: Instant,
    /// Envelopes pulled up to here.
    cursor: u64,
    /// Membership entries read up to here.
    membership_len: u64,
    /// Key bundles read up to here.
    keys_after: u64,
    /// The newest key epoch it holds the key of.
    epoch: u32,
}

/// A device of a team.
pub struct Device {
    id: DeviceId,
    key: DeviceSigningKey,
    hpke: HpkeKeyPair,
    /// Its live sockets running now.
    sockets: AtomicUsize,
    /// Set as its revocation is sent: refusals it meets from then on are expected.
    revoked: AtomicBool,
    session: tokio::sync::Mutex<Session>,
}

impl Device {
    fn new() -> Result<Device, String> {
        let rng = SystemRandom::new();
        Ok(Device {
            id: DeviceId::random_with(&rng).map_err(|e| e.to_string())?,
            key: DeviceSigningKey::generate(&rng).map_err(|e| e.to_string())?,
            hpke: HpkeKeyPair::generate(&rng).map_err(|e| e.to_string())?,
            sockets: AtomicUsize::new(0),
            revoked: AtomicBool::new(false),
            session: tokio::sync::Mutex::new(Session {
                token: String::new(),
                logged_in: Instant::now(),
                cursor: 0,
                membership_len: 0,
                keys_after: 0,
                epoch: 0,
            }),
        })
    }

    /// A push batch of 1 to [`MAX_BATCH`] envelopes at key epoch `epoch`, nonces from
    /// `salts` (unique across the run); and how many envelopes it holds.
    fn batch(&self, team: &Team, epoch: u32, salts: &AtomicU64) -> Result<(Vec<u8>, u64), String> {
        let mut rng = rand::rng();
        let count = rng.random_range(1..=MAX_BATCH);
        let doc_key = DocumentKey::from_bytes(DOC_KEY);
        let mut envelopes = Vec::with_capacity(count);
        for _ in 0..count {
            let salt = salts.fetch_add(1, Ordering::Relaxed);
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&salt.to_be_bytes());
            let header = Header {
                kind: Kind::ChangeBatch,
                team: team.id,
                document: team.document(rng.random_range(0..DOCUMENTS)),
                epoch,
                author: self.id,
                covers: 0,
                nonce,
            };
            let mut plaintext = format!("soak envelope {salt} ").into_bytes();
            plaintext.resize(rng.random_range(MIN_PLAINTEXT..=MAX_PLAINTEXT), b'.');
            envelopes
                .push(seal(&header, &doc_key, &plaintext, &self.key).map_err(|e| e.to_string())?);
        }
        let refs: Vec<&[u8]> = envelopes.iter().map(Vec::as_slice).collect();
        let batch = PushBatch::encode(&team.id, &self.id, &self.key, now_ms(), &refs)
            .map_err(|e| e.to_string())?;
        Ok((batch, count as u64))
    }
}

/// A team: its admin, its working devices, every member a revocation must bring keys to,
/// and its key epochs.
pub struct Team {
    index: usize,
    id: TeamId,
    anchor: [u8; 16],
    genesis_hex: String,
    address: Ipv4Addr,
    http: reqwest::Client,
    admin: Arc<Device>,
    /// The devices that work (push, pull, hold sockets), the admin first; a device enrolled
    /// past [`Shape::devices_per_team`] retires the oldest (it stays a member, idle).
    active: Mutex<Vec<Arc<Device>>>,
    /// Every member not revoked, retired ones included. Held across a membership change,
    /// so enrolments and revocations of one team go one at a time.
    members: tokio::sync::Mutex<Vec<Arc<Device>>>,
    /// The key of each epoch, from epoch 1.
    epoch_keys: RwLock<Vec<EpochKey>>,
    /// The newest epoch its devices know.
    epoch: AtomicU32,
}

impl Team {
    fn document(&self, n: u8) -> DocumentId {
        let mut id = [0u8; 16];
        id[0] = u8::try_from(self.index % 256).unwrap_or(0);
        id[15] = n;
        DocumentId(id)
    }

    fn epoch_key(&self, epoch: u32) -> Option<[u8; 32]> {
        let keys = self
            .epoch_keys
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let index = usize::try_from(epoch).ok()?.checked_sub(1)?;
        keys.get(index).map(|k| *k.as_bytes())
    }

    fn active(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Device>>> {
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A request's answer, and how long it took.
struct Answer {
    status: StatusCode,
    body: axum::body::Bytes,
    took: Duration,
}

impl Answer {
    fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("{}: not JSON: {e}", self.status))
    }

    /// The refusal's stable code, if the body is the relay's error JSON.
    fn code(&self) -> String {
        self.json()
            .ok()
            .and_then(|v| v["code"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    fn describe(&self) -> String {
        format!(
            "{}: {}",
            self.status,
            String::from_utf8_lossy(&self.body)
                .chars()
                .take(300)
                .collect::<String>()
        )
    }
}

/// The whole load: the relay's address, the teams, what they did.
pub struct Load {
    url: String,
    relay: SocketAddr,
    shape: Shape,
    teams: Vec<Arc<Team>>,
    pub counters: Counters,
    pub recorder: Recorder,
    salts: AtomicU64,
    stop: watch::Sender<bool>,
}

/// The error of a step, with what it was.
fn context<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + use<E> {
    let what = what.to_owned();
    move |e| format!("{what}: {e}")
}

impl Load {
    /// Creates `shape.teams` teams at the relay at `url` and enrols their devices.
    pub async fn set_up(url: &str, shape: Shape, recorder: Recorder) -> Result<Arc<Load>, String> {
        let relay: SocketAddr = url
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| format!("not an http://ADDRESS:PORT relay URL: {url}"))?;
        let mut teams = Vec::with_capacity(shape.teams);
        for index in 0..shape.teams {
            teams.push(Arc::new(create_team(url, index).await?));
        }
        let load = Arc::new(Load {
            url: url.to_owned(),
            relay,
            shape,
            teams,
            counters: Counters::default(),
            recorder,
            salts: AtomicU64::new(0),
            stop: watch::channel(false).0,
        });
        // Each team logs its admin in, then enrols its devices, one at a time; teams at once.
        let mut enrolling = JoinSet::new();
        for team in &load.teams {
            let (load, team) = (Arc::clone(&load), Arc::clone(team));
            enrolling.spawn(async move {
                {
                    let mut session = team.admin.session.lock().await;
                    load.ensure_token(&team, &team.admin, &mut session).await?;
                    session.epoch = 1;
                    session.membership_len = 1;
                }
                for _ in 1..load.shape.devices_per_team {
                    load.enrol(&team).await?;
                }
                Ok::<(), String>(())
            });
        }
        while let Some(done) = enrolling.join_next().await {
            done.map_err(|e| format!("an enrolling task: {e}"))??;
        }
        Ok(load)
    }

    /// Devices working now, over every team.
    pub fn active_devices(&self) -> usize {
        self.teams.iter().map(|t| t.active().len()).sum()
    }

    /// Tells every task of the load to stop.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Waits until [`Load::stop`].
    async fn stopped(&self) {
        let mut stop = self.stop.subscribe();
        let _ = stop.wait_for(|&s| s).await;
    }

    /// Starts every kind of load, with the counts and the recorder's clock started anew;
    /// they run until [`Load::stop`].
    pub fn start(self: &Arc<Self>) -> JoinSet<()> {
        self.counters.reset();
        self.recorder.begin();
        let mut tasks = JoinSet::new();
        let shape = &self.shape;
        tasks.spawn(pace(
            Arc::clone(self),
            shape.pushes_per_sec,
            |load| async move {
                load.push().await;
            },
        ));
        tasks.spawn(pace(
            Arc::clone(self),
            shape.pulls_per_sec,
            |load| async move {
                load.pull().await;
            },
        ));
        tasks.spawn(pace(
            Arc::clone(self),
            shape.rosters_per_sec,
            |load| async move {
                load.roster().await;
            },
        ));
        tasks.spawn(Arc::clone(self).keep_sockets());
        tasks.spawn(Arc::clone(self).membership_changes());
        tasks
    }

    /// Counts an error and prints the first few, then every hundredth.
    pub fn error(&self, what: &str, detail: impl std::fmt::Display) {
        let n = self.counters.errors.fetch_add(1, Ordering::Relaxed) + 1;
        if n <= ERRORS_PRINTED || n.is_multiple_of(100) {
            eprintln!(
                "soak: error {n} at {:.1} s: {what}: {detail}",
                self.recorder.elapsed().as_secs_f64()
            );
        }
    }

    /// A refused request: expected if `device` was just revoked and is told so, an error
    /// otherwise.
    fn refused(&self, what: &str, device: &Device, answer: &Answer) {
        if device.revoked.load(Ordering::Acquire)
            && answer.status == StatusCode::FORBIDDEN
            && answer.code() == "revoked"
        {
            add(&self.counters.expected_refusals, 1);
        } else {
            self.error(what, answer.describe());
        }
    }

    /// Sends `request` and reads the whole answer.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Answer, String> {
        let started = Instant::now();
        let response = request.send().await.map_err(|e| error_chain(&e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| error_chain(&e))?;
        add(&self.counters.requests, 1);
        Ok(Answer {
            status,
            body,
            took: started.elapsed(),
        })
    }

    /// A random working device of a random team.
    fn pick(&self) -> Option<(Arc<Team>, Arc<Device>)> {
        let mut rng = rand::rng();
        let team = &self.teams[rng.random_range(0..self.teams.len())];
        let device = {
            let active = team.active();
            if active.is_empty() {
                return None;
            }
            Arc::clone(&active[rng.random_range(0..active.len())])
        };
        Some((Arc::clone(team), device))
    }

    /// Logs `device` in (again) unless its token is fresh.
    async fn ensure_token(
        &self,
        team: &Team,
        device: &Device,
        session: &mut Session,
    ) -> Result<(), String> {
        if !session.token.is_empty() && session.logged_in.elapsed() < TOKEN_REFRESH {
            return Ok(());
        }
        let asked = self
            .send(
                team.http
                    .post(format!("{}/v1/auth/challenge", self.url))
                    .json(&json!({"device": device.id.to_string()})),
            )
            .await
            .map_err(context("login challenge"))?;
        if asked.status != StatusCode::OK {
            return Err(format!("login challenge: {}", asked.describe()));
        }
        let mut challenge = [0u8; 32];
        hex::decode_to_slice(
            asked.json()?["challenge"].as_str().unwrap_or_default(),
            &mut challenge,
        )
        .map_err(context("login challenge"))?;
        let signature = sign_auth(&device.key, &self.url, &device.id, &challenge)
            .map_err(context("sign the login"))?;
        let answered = self
            .send(
                team.http
                    .post(format!("{}/v1/auth/token", self.url))
                    .json(&json!({
                        "device": device.id.to_string(),
                        "challenge": hex::encode(challenge),
                        "signature": hex::encode(signature),
                    })),
            )
            .await
            .map_err(context("login"))?;
        if answered.status != StatusCode::OK {
            return Err(format!("login: {}", answered.describe()));
        }
        let token = answered.json()?["token"]
            .as_str()
            .ok_or("login: no token")?
            .to_owned();
        session.token = token;
        session.logged_in = Instant::now();
        add(&self.counters.logins, 1);
        Ok(())
    }

    /// `GET /v1/teams/{team}` as `token`: the team's state.
    async fn team_state(&self, team: &Team, token: &str) -> Result<Answer, String> {
        self.send(
            team.http
                .get(format!("{}/v1/teams/{}", self.url, team.id))
                .bearer_auth(token),
        )
        .await
    }

    /// One push of a random device: a batch sealed now at the team's epoch; on
    /// `stale_epoch` (a revocation landed), the device reads the team's epoch and seals
    /// again, once.
    async fn push(&self) {
        let Some((team, device)) = self.pick() else {
            return;
        };
        let mut session = device.session.lock().await;
        if let Err(e) = self.ensure_token(&team, &device, &mut session).await {
            return self.error("push: log in", e);
        }
        for _ in 0..2 {
            let epoch = team.epoch.load(Ordering::Acquire);
            let (batch, count) = match device.batch(&team, epoch, &self.salts) {
                Ok(made) => made,
                Err(e) => return self.error("seal a batch", e),
            };
            let answer = self
                .send(
                    team.http
                        .post(format!("{}/v1/teams/{}/envelopes", self.url, team.id))
                        .bearer_auth(&session.token)
                        .header("content-type", "application/octet-stream")
                        .body(batch),
                )
                .await;
            let answer = match answer {
                Ok(answer) => answer,
                Err(e) => return self.error("push", e),
            };
            if answer.status == StatusCode::OK {
                let results = answer
                    .json()
                    .ok()
                    .and_then(|v| v["results"].as_array().map(Vec::len));
                if results != Some(count as usize) {
                    return self.error("push", format!("{count} envelopes, answer {results:?}"));
                }
                self.recorder.record(Timed::Push, answer.took);
                add(&self.counters.pushes, 1);
                add(&self.counters.envelopes, count);
                return;
            }
            if answer.status == StatusCode::CONFLICT && answer.code() == "stale_epoch" {
                add(&self.counters.expected_refusals, 1);
                match self.team_state(&team, &session.token).await {
                    Ok(state) if state.status == StatusCode::OK => {
                        let epoch = state.json().ok().and_then(|v| v["epoch"].as_u64());
                        let epoch = epoch.and_then(|e| u32::try_from(e).ok()).unwrap_or(0);
                        team.epoch.fetch_max(epoch, Ordering::AcqRel);
                        continue;
                    }
                    Ok(state) => return self.refused("push: read the epoch", &device, &state),
                    Err(e) => return self.error("push: read the epoch", e),
                }
            }
            return self.refused("push", &device, &answer);
        }
        self.error("push", "still a stale epoch after reading the team's");
    }

    /// One pull of a random device: pages after its cursor until none more follow, at most
    /// [`PULL_PAGES`].
    async fn pull(&self) {
        let Some((team, device)) = self.pick() else {
            return;
        };
        let mut session = device.session.lock().await;
        if let Err(e) = self.ensure_token(&team, &device, &mut session).await {
            return self.error("pull: log in", e);
        }
        for _ in 0..PULL_PAGES {
            let after = session.cursor;
            let answer = self
                .send(
                    team.http
                        .get(format!(
                            "{}/v1/teams/{}/envelopes?after={after}&limit={PULL_LIMIT}",
                            self.url, team.id
                        ))
                        .bearer_auth(&session.token),
                )
                .await;
            let answer = match answer {
                Ok(answer) => answer,
                Err(e) => return self.error("pull", e),
            };
            if answer.status != StatusCode::OK {
                return self.refused("pull", &device, &answer);
            }
            let page = match PullPage::decode(&answer.body) {
                Ok(page) => page,
                Err(e) => return self.error("pull: the page", e),
            };
            if page.next < after || page.items.first().is_some_and(|(seq, _)| *seq <= after) {
                return self.error(
                    "pull",
                    format!("a page after {after} went back (next {})", page.next),
                );
            }
            self.recorder.record(Timed::Pull, answer.took);
            add(&self.counters.pulls, 1);
            session.cursor = page.next;
            if !page.more {
                break;
            }
        }
    }

    /// One roster read of a random device, as a device's sync round starts: the team's
    /// state; the membership entries it has not read; and, when the epoch moved, its new
    /// key bundles, opened and checked, then acknowledged.
    async fn roster(&self) {
        let Some((team, device)) = self.pick() else {
            return;
        };
        let mut session = device.session.lock().await;
        if let Err(e) = self.ensure_token(&team, &device, &mut session).await {
            return self.error("roster: log in", e);
        }
        add(&self.counters.rosters, 1);
        let state = match self.team_state(&team, &session.token).await {
            Ok(state) if state.status == StatusCode::OK => state,
            Ok(state) => return self.refused("roster: the team", &device, &state),
            Err(e) => return self.error("roster: the team", e),
        };
        let Ok(state) = state.json() else {
            return self.error("roster: the team", "not JSON");
        };
        let len = state["membership_len"].as_u64().unwrap_or(0);
        let epoch = state["epoch"]
            .as_u64()
            .and_then(|e| u32::try_from(e).ok())
            .unwrap_or(0);
        if len > session.membership_len {
            match self
                .read_membership(&team, &session.token, session.membership_len)
                .await
            {
                Ok(read) => session.membership_len = read,
                Err(e) => return self.error("roster: membership", e),
            }
        }
        if epoch > session.epoch {
            let after = session.keys_after;
            match self
                .take_keys(&team, &device, &session.token, after, &device.hpke)
                .await
            {
                Ok(Some((next, newest))) if newest >= epoch => {
                    session.keys_after = next;
                    session.epoch = newest;
                }
                Ok(got) => {
                    if !device.revoked.load(Ordering::Acquire) {
                        self.error(
                            "roster: keys",
                            format!("epoch {epoch}, but the key bundles after {after}: {got:?}"),
                        );
                    }
                }
                Err(e) => self.error("roster: keys", e),
            }
        }
    }

    /// Reads the membership log from `from` to its end (pages of 500); returns its length.
    async fn read_membership(&self, team: &Team, token: &str, from: u64) -> Result<u64, String> {
        let mut from = from;
        loop {
            let answer = self
                .send(
                    team.http
                        .get(format!(
                            "{}/v1/teams/{}/membership?from={from}&limit=500",
                            self.url, team.id
                        ))
                        .bearer_auth(token),
                )
                .await?;
            if answer.status != StatusCode::OK {
                return Err(answer.describe());
            }
            let page = answer.json()?;
            let last = page["entries"]
                .as_array()
                .and_then(|e| e.last())
                .and_then(|e| e["seq"].as_u64());
            let len = page["len"].as_u64().ok_or("no len")?;
            match (page["more"].as_bool(), last) {
                (Some(true), Some(last)) => from = last + 1,
                _ => return Ok(len),
            }
        }
    }

    /// Reads the key bundles after `after` addressed to `device` (or the invite it
    /// redeemed), opens each with `opener`, checks every epoch key against the team's,
    /// and acknowledges them. Returns the last bundle's number and the newest epoch held,
    /// or `None` when there were none.
    async fn take_keys(
        &self,
        team: &Team,
        device: &Device,
        token: &str,
        after: u64,
        opener: &HpkeKeyPair,
    ) -> Result<Option<(u64, u32)>, String> {
        let answer = self
            .send(
                team.http
                    .get(format!(
                        "{}/v1/teams/{}/keys?after={after}&limit=100",
                        self.url, team.id
                    ))
                    .bearer_auth(token),
            )
            .await?;
        if answer.status != StatusCode::OK {
            return Err(answer.describe());
        }
        let page = answer.json()?;
        let bundles = page["bundles"].as_array().cloned().unwrap_or_default();
        let next = page["next"].as_u64().ok_or("no next")?;
        if bundles.is_empty() {
            return Ok(None);
        }
        let admin_key = team.admin.key.public_key();
        let mut newest = 0;
        for bundle in &bundles {
            let bytes = hex::decode(bundle["bundle"].as_str().unwrap_or_default())
                .map_err(context("a key bundle"))?;
            let keys = KeyBundle::decode(&bytes)
                .and_then(|b| b.open(&admin_key, opener))
                .map_err(context("open a key bundle"))?;
            for key in keys {
                if let WrappedKey::Epoch { epoch, key } = key {
                    if team.epoch_key(epoch) != Some(*key.as_bytes()) {
                        return Err(format!("the key of epoch {epoch} is not the team's"));
                    }
                    newest = newest.max(epoch);
                }
            }
        }
        let signature = device
            .key
            .sign(&keys_ack_message(&team.id, &device.id, next));
        let acked = self
            .send(
                team.http
                    .post(format!("{}/v1/teams/{}/keys/ack", self.url, team.id))
                    .bearer_auth(token)
                    .json(&json!({"up_to": next, "signature": hex::encode(signature)})),
            )
            .await?;
        if acked.status != StatusCode::OK {
            return Err(format!("ack: {}", acked.describe()));
        }
        Ok(Some((next, newest)))
    }

    /// Enrols a new link worker's device into `team`: the admin appends an Invite with a key
    /// bundle of every epoch's key for it; the device reads the invite, redeems it, logs in,
    /// reads the membership log and its keys, and starts working (retiring the team's
    /// oldest working device beyond [`Shape::devices_per_team`]).
    async fn enrol(&self, team: &Team) -> Result<(), String> {
        let mut members = team.members.lock().await;
        let rng = SystemRandom::new();
        let device = Arc::new(Device::new()?);
        let code = InviteCode::generate(
            &rng,
            &self.url,
            team.id,
            team.anchor,
            Role::LinkWorker,
            None,
            now_ms() + 3_600_000,
        )
        .map_err(context("an invite code"))?;
        let invite = code.id();
        let invite_hpke = code.hpke_key().map_err(context("invite key"))?;
        let invite_signer = code.signing_key().map_err(context("invite key"))?;
        {
            let admin = &team.admin;
            let mut session = admin.session.lock().await;
            self.ensure_token(team, admin, &mut session).await?;
            let entry = Entry::sign(
                team.id,
                now_ms(),
                admin.id.0,
                Op::Invite {
                    invite,
                    sign_key: invite_signer.public_key(),
                    hpke_key: invite_hpke.public_key().clone(),
                    role: Role::LinkWorker,
                    plan: None,
                    expires_at_ms: code.expires_at_ms,
                },
                &admin.key,
            )
            .map_err(context("sign the invite"))?;
            let keys: Vec<WrappedKey> = team
                .epoch_keys
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .zip(1u32..)
                .map(|(key, epoch)| WrappedKey::Epoch {
                    epoch,
                    key: key.clone(),
                })
                .collect();
            let bundle = seal_bundle(team, admin, invite.0, invite_hpke.public_key(), &keys)?;
            let len = self.membership_len(team, &session.token).await?;
            let appended = self
                .append(team, &session.token, &entry, &[bundle], len)
                .await?;
            if appended.status != StatusCode::CREATED {
                return Err(format!("append the invite: {}", appended.describe()));
            }
        }

        // The new device, from the code alone.
        let shown = self
            .send(team.http.get(format!(
                "{}/v1/teams/{}/invites/{invite}",
                self.url, team.id
            )))
            .await?;
        if shown.status != StatusCode::OK {
            return Err(format!("read the invite: {}", shown.describe()));
        }
        if shown.json()?["genesis"].as_str() != Some(team.genesis_hex.as_str()) {
            return Err("the invite came with another genesis".into());
        }
        let hpke_key = device.hpke.public_key().clone();
        let proof = redeem_proof_message(
            &team.id,
            &invite,
            &device.id,
            &device.key.public_key(),
            &hpke_key,
        );
        let redeem = Entry::sign(
            team.id,
            now_ms(),
            invite.0,
            Op::Redeem {
                invite,
                device: device.id,
                sign_key: device.key.public_key(),
                hpke_key,
                device_signature: device.key.sign(&proof),
            },
            &invite_signer,
        )
        .map_err(context("sign the redeem"))?;
        let redeemed = self
            .send(
                team.http
                    .post(format!(
                        "{}/v1/teams/{}/invites/{invite}/redeem",
                        self.url, team.id
                    ))
                    .json(&json!({"entry": hex::encode(redeem.as_bytes())})),
            )
            .await?;
        if redeemed.status != StatusCode::CREATED {
            return Err(format!("redeem: {}", redeemed.describe()));
        }
        {
            let mut session = device.session.lock().await;
            self.ensure_token(team, &device, &mut session).await?;
            let token = session.token.clone();
            session.membership_len = self.read_membership(team, &token, 1).await?;
            let (next, epoch) = self
                .take_keys(team, &device, &token, 0, &invite_hpke)
                .await?
                .ok_or("no key bundle for the invite")?;
            session.keys_after = next;
            session.epoch = epoch;
            let state = self.team_state(team, &token).await?;
            let head = state.json()?["head"].as_u64().ok_or("no head")?;
            session.cursor = head.saturating_sub(JOIN_BACKLOG);
        }
        members.push(Arc::clone(&device));
        {
            let mut active = team.active();
            active.push(device);
            if active.len() > self.shape.devices_per_team && active.len() > 1 {
                // The oldest but the admin retires: a member still, idle.
                active.remove(1);
            }
        }
        add(&self.counters.enrolments, 1);
        Ok(())
    }

    /// Revokes one of `team`'s working devices (the one with the most live sockets), with a
    /// new epoch key in a bundle for every other member. Its sockets are closed by the relay,
    /// and its requests refused, from then on.
    async fn revoke(&self, team: &Team) -> Result<(), String> {
        let mut members = team.members.lock().await;
        let victim = {
            let mut active = team.active();
            let Some(at) =
                (1..active.len()).max_by_key(|&i| active[i].sockets.load(Ordering::Relaxed))
            else {
                return Ok(());
            };
            active.remove(at)
        };
        victim.revoked.store(true, Ordering::Release);
        let admin = Arc::clone(&team.admin);
        let mut session = admin.session.lock().await;
        self.ensure_token(team, &admin, &mut session).await?;
        let state = self.team_state(team, &session.token).await?;
        if state.status != StatusCode::OK {
            return Err(format!("read the team: {}", state.describe()));
        }
        let state = state.json()?;
        let len = state["membership_len"]
            .as_u64()
            .ok_or("no membership_len")?;
        let epoch = state["epoch"]
            .as_u64()
            .and_then(|e| u32::try_from(e).ok())
            .ok_or("no epoch")?
            + 1;
        let key = EpochKey::generate(&SystemRandom::new()).map_err(|e| e.to_string())?;
        let entry = Entry::sign(
            team.id,
            now_ms(),
            admin.id.0,
            Op::Revoke {
                device: victim.id,
                epoch,
                key_commitment: epoch_key_commitment(&team.id, epoch, &key),
            },
            &admin.key,
        )
        .map_err(context("sign the revocation"))?;
        let recipients: Vec<(DeviceId, HpkePublicKey)> = members
            .iter()
            .filter(|m| m.id != victim.id)
            .map(|m| (m.id, m.hpke.public_key().clone()))
            .collect();
        // X-Wing encapsulations, one per member: off the async workers.
        let bundles = {
            let (admin, key) = (Arc::clone(&admin), key.clone());
            let team_id = team.id;
            tokio::task::spawn_blocking(move || {
                recipients
                    .iter()
                    .map(|(id, hpke)| {
                        let header = BundleHeader {
                            team: team_id,
                            recipient: id.0,
                            sender: admin.id,
                            at_ms: now_ms(),
                        };
                        let keys = [WrappedKey::Epoch {
                            epoch,
                            key: key.clone(),
                        }];
                        KeyBundle::seal(header, hpke, &keys, &admin.key).map_err(|e| e.to_string())
                    })
                    .collect::<Result<Vec<_>, String>>()
            })
            .await
            .map_err(|e| format!("sealing task: {e}"))??
        };
        let appended = self
            .append(team, &session.token, &entry, &bundles, len)
            .await?;
        if appended.status != StatusCode::CREATED {
            return Err(format!("append the revocation: {}", appended.describe()));
        }
        team.epoch_keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(key);
        team.epoch.fetch_max(epoch, Ordering::AcqRel);
        members.retain(|m| m.id != victim.id);
        add(&self.counters.revocations, 1);
        Ok(())
    }

    async fn membership_len(&self, team: &Team, token: &str) -> Result<u64, String> {
        let state = self.team_state(team, token).await?;
        if state.status != StatusCode::OK {
            return Err(format!("read the team: {}", state.describe()));
        }
        state.json()?["membership_len"]
            .as_u64()
            .ok_or_else(|| "no membership_len".to_owned())
    }

    /// `POST /v1/teams/{team}/membership`.
    async fn append(
        &self,
        team: &Team,
        token: &str,
        entry: &Entry,
        bundles: &[Vec<u8>],
        expected_len: u64,
    ) -> Result<Answer, String> {
        let bundles: Vec<String> = bundles.iter().map(hex::encode).collect();
        self.send(
            team.http
                .post(format!("{}/v1/teams/{}/membership", self.url, team.id))
                .bearer_auth(token)
                .json(&json!({
                    "entry": hex::encode(entry.as_bytes()),
                    "bundles": bundles,
                    "expected_len": expected_len,
                })),
        )
        .await
    }

    /// Enrolments and revocations on their schedules, the teams taking turns.
    async fn membership_changes(self: Arc<Self>) {
        let started = tokio::time::Instant::now();
        let mut next_enrol = started + self.shape.enrol_every;
        // The first revocation half-way through the first period: a short run has one too.
        let mut next_revoke = started + self.shape.revoke_every / 2;
        let (mut enrolled, mut revoked) = (0usize, 0usize);
        loop {
            let next = next_enrol.min(next_revoke);
            tokio::select! {
                () = self.stopped() => return,
                () = tokio::time::sleep_until(next) => {}
            }
            if next_revoke <= next_enrol {
                let team = Arc::clone(&self.teams[revoked % self.teams.len()]);
                revoked += 1;
                next_revoke += self.shape.revoke_every;
                if let Err(e) = self.revoke(&team).await {
                    self.error("revoke", e);
                }
            } else {
                let team = Arc::clone(&self.teams[enrolled % self.teams.len()]);
                enrolled += 1;
                next_enrol += self.shape.enrol_every;
                if let Err(e) = self.enrol(&team).await {
                    self.error("enrol", e);
                }
            }
        }
    }

    /// Keeps [`Shape::sockets`] live sockets open, each for a random life, on random working
    /// devices (at most [`SOCKETS_PER_DEVICE`] each).
    async fn keep_sockets(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let per_tick = self.shape.sockets.div_ceil(20).max(1);
        let mut sockets = JoinSet::new();
        loop {
            tokio::select! {
                () = self.stopped() => break,
                _ = tick.tick() => {}
            }
            while sockets.try_join_next().is_some() {}
            for _ in 0..per_tick {
                if self.counters.sockets_held.load(Ordering::Acquire) >= self.shape.sockets {
                    break;
                }
                let Some((team, device)) = self.pick() else {
                    break;
                };
                // One more socket of this device, unless it holds its share already.
                if device
                    .sockets
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                        (n < SOCKETS_PER_DEVICE).then_some(n + 1)
                    })
                    .is_err()
                {
                    continue;
                }
                self.counters.sockets_held.fetch_add(1, Ordering::AcqRel);
                let (min, max) = self.shape.socket_life;
                let life = rand::rng().random_range(min..=max);
                let graceful = rand::rng().random_bool(0.5);
                let load = Arc::clone(&self);
                sockets.spawn(async move {
                    load.live_socket(&team, &device, life, graceful).await;
                    device.sockets.fetch_sub(1, Ordering::AcqRel);
                    load.counters.sockets_held.fetch_sub(1, Ordering::AcqRel);
                });
            }
        }
        while sockets.join_next().await.is_some() {}
    }

    /// One live socket of `device`: opened from its team's address, held for `life`
    /// hearing heads, then closed (`graceful`) or dropped.
    async fn live_socket(&self, team: &Team, device: &Device, life: Duration, graceful: bool) {
        let token = {
            let mut session = device.session.lock().await;
            if let Err(e) = self.ensure_token(team, device, &mut session).await {
                return self.error("live: log in", e);
            }
            session.token.clone()
        };
        let started = Instant::now();
        let connected =
            tokio::time::timeout(LIVE_CONNECT_TIMEOUT, self.open_socket(team, device, &token))
                .await;
        let mut socket = match connected {
            Ok(Ok(Some(socket))) => socket,
            Ok(Ok(None)) => return,
            Ok(Err(e)) => return self.error("live: open", e),
            Err(_) => {
                return self.error(
                    "live: open",
                    format!("no head within {} s", LIVE_CONNECT_TIMEOUT.as_secs()),
                );
            }
        };
        self.recorder.record(Timed::LiveConnect, started.elapsed());
        add(&self.counters.socket_opens, 1);
        self.counters.sockets_open.fetch_add(1, Ordering::AcqRel);
        let until = tokio::time::Instant::now() + life;
        let ended_by_relay = loop {
            let message = tokio::select! {
                () = self.stopped() => break false,
                () = tokio::time::sleep_until(until) => break false,
                message = socket.next() => message,
            };
            match message {
                Some(Ok(Message::Text(text))) => {
                    if serde_json::from_str::<Value>(text.as_str())
                        .ok()
                        .and_then(|v| v["seq"].as_u64())
                        .is_none()
                    {
                        self.error("live", format!("heard {}", text.as_str()));
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    let revoked = frame.as_ref().is_some_and(|f| {
                        f.code == CloseCode::Policy && f.reason.as_str() == "device revoked"
                    });
                    if revoked && device.revoked.load(Ordering::Acquire) {
                        add(&self.counters.revoked_closes, 1);
                    } else {
                        self.error("live: closed by the relay", format!("{frame:?}"));
                    }
                    break true;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    self.error("live", e);
                    break true;
                }
                None => {
                    self.error("live", "ended without a close");
                    break true;
                }
            }
        };
        self.counters.sockets_open.fetch_sub(1, Ordering::AcqRel);
        if !ended_by_relay && graceful {
            let closed = tokio::time::timeout(LIVE_CLOSE_TIMEOUT, async {
                socket.close(None).await?;
                // Until the relay's close answers ours.
                while let Some(message) = socket.next().await {
                    message?;
                }
                Ok::<(), WsError>(())
            })
            .await;
            match closed {
                Ok(Ok(())) => add(&self.counters.closes_answered, 1),
                // The relay ended the connection without the close frame RFC 6455 (5.5.1)
                // asks of it: counted apart, not as an error.
                Ok(Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake))) => {
                    add(&self.counters.closes_unanswered, 1);
                }
                Ok(Err(e)) => self.error("live: close", e),
                Err(_) => self.error("live: close", "no answer to the close"),
            }
        }
        // Otherwise dropped: the connection just ends, as when a phone loses its network.
    }

    /// Opens a live socket and waits for the relay's first `{"seq"}`; `None` when the relay
    /// refused because the device was just revoked.
    async fn open_socket(
        &self,
        team: &Team,
        device: &Device,
        token: &str,
    ) -> Result<Option<LiveSocket>, String> {
        let tcp = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
        tcp.bind(SocketAddr::new(IpAddr::V4(team.address), 0))
            .map_err(|e| format!("bind {}: {e}", team.address))?;
        let stream = tcp.connect(self.relay).await.map_err(|e| e.to_string())?;
        let mut request = format!("ws://{}/v1/teams/{}/live", self.relay, team.id)
            .into_client_request()
            .map_err(|e| e.to_string())?;
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {token}")
                .parse()
                .map_err(|e| format!("authorization header: {e}"))?,
        );
        let mut socket = match tokio_tungstenite::client_async_with_config(
            request,
            stream,
            Some(client_config()),
        )
        .await
        {
            Ok((socket, _)) => socket,
            Err(tokio_tungstenite::tungstenite::Error::Http(response))
                if device.revoked.load(Ordering::Acquire)
                    && response.status() == StatusCode::FORBIDDEN =>
            {
                add(&self.counters.expected_refusals, 1);
                return Ok(None);
            }
            Err(e) => return Err(e.to_string()),
        };
        match socket.next().await {
            Some(Ok(Message::Text(text)))
                if serde_json::from_str::<Value>(text.as_str())
                    .ok()
                    .and_then(|v| v["seq"].as_u64())
                    .is_some() =>
            {
                Ok(Some(socket))
            }
            Some(Ok(Message::Close(_))) if device.revoked.load(Ordering::Acquire) => {
                add(&self.counters.revoked_closes, 1);
                Ok(None)
            }
            other => Err(format!("first message: {other:?}")),
        }
    }
}

type LiveSocket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// The clients' socket buffers: the live protocol's messages are tens of bytes.
fn client_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(0)
        .max_message_size(Some(4096))
        .max_frame_size(Some(4096))
}

/// An error and its causes, on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A key bundle from `sender` to `recipient` carrying `keys`.
fn seal_bundle(
    team: &Team,
    sender: &Device,
    recipient: [u8; 16],
    to: &HpkePublicKey,
    keys: &[WrappedKey],
) -> Result<Vec<u8>, String> {
    let header = BundleHeader {
        team: team.id,
        recipient,
        sender: sender.id,
        at_ms: now_ms(),
    };
    KeyBundle::seal(header, to, keys, &sender.key).map_err(context("seal a key bundle"))
}

/// Team number `index`: its admin creates it from its own address (`127.0.0.10 + index`).
async fn create_team(url: &str, index: usize) -> Result<Team, String> {
    let address = Ipv4Addr::new(
        127,
        0,
        0,
        u8::try_from(10 + index).map_err(|_| "too many teams")?,
    );
    let http = reqwest::Client::builder()
        .local_address(IpAddr::V4(address))
        // Below the relay's 10 s keep-alive, so the pool never sends on a connection the
        // relay is closing.
        .pool_idle_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(context("an HTTP client"))?;
    let rng = SystemRandom::new();
    let admin = Arc::new(Device::new()?);
    let id = TeamId::random_with(&rng).map_err(|e| e.to_string())?;
    let key = EpochKey::generate(&rng).map_err(|e| e.to_string())?;
    let genesis = Entry::sign(
        id,
        now_ms(),
        admin.id.0,
        Op::Genesis {
            device: admin.id,
            sign_key: admin.key.public_key(),
            hpke_key: admin.hpke.public_key().clone(),
            key_commitment: epoch_key_commitment(&id, 1, &key),
        },
        &admin.key,
    )
    .map_err(context("sign the genesis"))?;
    let genesis_hex = hex::encode(genesis.as_bytes());
    let created = http
        .post(format!("{url}/v1/teams"))
        .json(&json!({"genesis": genesis_hex}))
        .send()
        .await
        .map_err(|e| format!("create team {index}: {}", error_chain(&e)))?;
    if created.status() != StatusCode::CREATED {
        return Err(format!(
            "create team {index}: {}: {}",
            created.status(),
            created.text().await.unwrap_or_default()
        ));
    }
    Ok(Team {
        index,
        id,
        anchor: genesis.anchor(),
        genesis_hex,
        address,
        http,
        admin: Arc::clone(&admin),
        active: Mutex::new(vec![Arc::clone(&admin)]),
        members: tokio::sync::Mutex::new(vec![admin]),
        epoch_keys: RwLock::new(vec![key]),
        epoch: AtomicU32::new(1),
    })
}

/// Runs `op` `per_sec` times a second, each in a task of its own (open loop: a slow
/// answer does not slow the offered load), until the load stops; a tick that finds
/// [`IN_FLIGHT`] operations still running is skipped and counted.
async fn pace<F, Fut>(load: Arc<Load>, per_sec: f64, op: F)
where
    F: Fn(Arc<Load>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    if per_sec <= 0.0 {
        return;
    }
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_sec));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    loop {
        tokio::select! {
            () = load.stopped() => break,
            _ = tick.tick() => {}
        }
        match Arc::clone(&in_flight).try_acquire_owned() {
            Ok(permit) => {
                let running = op(Arc::clone(&load));
                tokio::spawn(async move {
                    running.await;
                    drop(permit);
                });
            }
            Err(_) => add(&load.counters.skipped, 1),
        }
    }
    // Until what is in flight has finished.
    let _ = in_flight.acquire_many(IN_FLIGHT as u32).await;
}
