//! The relay's router driven in-process (`tower::ServiceExt::oneshot` on
//! `holdfast_relay::app`) with sequences of requests to every route. Included by path (it
//! needs the relay, which the protocol's corpus replay does not link) by the `relay_router`
//! target and by `sync-server/tests/fuzz_corpus.rs`.
//!
//! One relay per process, on SQLite in a temporary folder (in `/dev/shm` where there is
//! one), on a `ManualClock`: a team is created and its admin logged in (challenge, answer,
//! token) before the first input, so inputs reach the routes behind the bearer token. Each
//! request chooses who it is from: no token, the admin's token, a token for one of eight
//! other devices (members once an input has invited and enrolled them), a stranger's, an
//! expired one, or text that is no token. Bodies are structured where the relay would
//! otherwise refuse them at the first check: push batches sealed and signed with the
//! device's real key, membership entries signed by the admin, redeems signed with the
//! invite's key, key bundles sealed to members' HPKE keys, and JSON objects with the
//! relay's field names and fuzzed values; and raw bytes to any path.
//!
//! Checks, after every request and every input:
//! - the router never panics, and never answers a 5xx other than `503` (load shedding, a
//!   timeout, storage down: documented); a `500` is a finding;
//! - the relay stays usable: `GET /healthz` is `200`, and the admin's `GET /v1/teams/{team}`
//!   and a pull still succeed;
//! - what it accepted stays as acknowledged: every envelope a push answered is served by a
//!   pull at exactly its sequence number with exactly the pushed bytes, heads never go
//!   back, and an appended membership entry is in the log at its number.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use arbitrary::Arbitrary;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use holdfast_protocol::{
    BundleHeader, DeviceId, DeviceSigningKey, DocumentId, DocumentKey, Entry, EnvelopeId, EpochKey,
    Header, HpkeKeyPair, InviteId, KeyBundle, Kind, ManualClock, Op, PUSH_CONTEXT, PUSH_MAGIC,
    PullPage, PushBatch, Role, TeamId, WrappedKey, epoch_key_commitment, keys_ack_message,
    redeem_proof_message, seal, sign_auth,
};
use holdfast_relay::{AppState, Limits, SqliteStorage, Storage, TeamCreationPolicy, TokenKey};
use serde_json::{Value, json};
use tower::ServiceExt;

/// 2026-01-01T00:00:00Z: where the relay's clock starts.
const START_MS: u64 = 1_767_225_600_000;
/// The origin the relay signs logins for.
const ORIGIN: &str = "https://relay.fuzz.invalid";
/// The most requests one input makes (each input's clock step refills the rate limits
/// for this many).
const MAX_CALLS: usize = 8;
/// The most envelopes in one fuzzed push, and the most bytes of plaintext in one.
const MAX_ENVELOPES: usize = 12;
const MAX_PLAINTEXT: usize = 512;
/// The most bytes of a fuzzed body or string used.
const MAX_RAW: usize = 4096;
/// How long a logged-in token is used before logging in again (tokens live an hour).
const RELOGIN_AFTER_MS: u64 = 30 * 60 * 1000;
/// The admin: the device that created the team.
const ADMIN: DeviceId = DeviceId([0x01; 16]);
/// The seed of the admin's keys.
const ADMIN_SEED: u8 = 0x01;
/// A device no team has.
const STRANGER: DeviceId = DeviceId([0xEE; 16]);
/// The relay's token key (fixed, so a test can issue tokens the relay accepts).
const TOKEN_KEY: [u8; TokenKey::LEN] = [0x5A; TokenKey::LEN];

/// Who a request is from.
#[derive(Arbitrary, Debug, Clone)]
pub enum Who {
    /// No `Authorization` header.
    Nobody,
    /// The admin's token (from a real login).
    Admin,
    /// A token for device `n % 8`, member or not.
    Device(u8),
    /// A valid token for a device in no team.
    Stranger,
    /// The admin's token, expired.
    Expired,
    /// Whatever this is, after `Bearer `.
    Garbage(String),
    /// A whole `Authorization` header value.
    Header(String),
}

/// The team a request names.
#[derive(Arbitrary, Debug, Clone)]
pub enum TeamRef {
    /// The team the admin created.
    Ours,
    /// Another team id (usually none).
    Other([u8; 16]),
    /// Text where the id goes.
    Text(String),
}

/// A query string.
#[derive(Arbitrary, Debug, Clone)]
pub enum Query {
    /// Known names with chosen values.
    Fields {
        after: Option<u64>,
        from: Option<u64>,
        limit: Option<u64>,
        compact: Option<u8>,
        doc: Option<u8>,
        check: Option<u64>,
        at: Option<Vec<u64>>,
    },
    /// Anything (used when it makes a valid URI).
    Raw(String),
}

/// A JSON value with the relay's field names more likely than any others.
#[derive(Arbitrary, Debug, Clone)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Big(u64),
    Float(f64),
    Text(String),
    Hex(Vec<u8>),
    /// Hex of the admin's or a device's id, or of a known invite.
    Id(u8),
    Array(Vec<Json>),
    Object(Vec<(Key, Json)>),
}

/// A JSON object key.
#[derive(Arbitrary, Debug, Clone)]
pub enum Key {
    Known(u8),
    Other(String),
}

const KNOWN_KEYS: [&str; 14] = [
    "device",
    "challenge",
    "signature",
    "genesis",
    "creation_token",
    "entry",
    "bundles",
    "expected_len",
    "key_commitment",
    "up_to",
    "bundle",
    "seq",
    "team",
    "invite",
];

/// A membership entry to append, signed by the admin at the relay's time plus `skew_s`.
#[derive(Arbitrary, Debug, Clone)]
pub enum EntrySpec {
    Invite {
        invite: u8,
        role: u8,
        plan: u8,
        lifetime_s: u32,
        skew_s: i16,
    },
    ChangeRole {
        device: u8,
        role: u8,
        skew_s: i16,
    },
    Revoke {
        device: u8,
        epoch_ahead: u8,
        skew_s: i16,
    },
    Cancel {
        invite: u8,
        skew_s: i16,
    },
    /// A genesis for this team (it has one).
    Genesis {
        skew_s: i16,
    },
    Raw(Vec<u8>),
}

/// A key bundle: sealed by the admin to a member's HPKE key, or bytes.
#[derive(Arbitrary, Debug, Clone)]
pub enum BundleSpec {
    /// To device `n % 8` (`255`: the admin), carrying the key of the team's epoch plus
    /// `epoch_ahead % 3`.
    Sealed {
        to: u8,
        epoch_ahead: u8,
    },
    Raw(Vec<u8>),
}

/// One envelope of a push: sealed as the pusher would, unless `twist` says otherwise.
#[derive(Arbitrary, Debug, Clone)]
pub struct EnvelopeSpec {
    doc: u8,
    kind: u8,
    covers: u32,
    salt: u16,
    plaintext: Vec<u8>,
    /// The previous envelope again instead of this one.
    repeat: bool,
    twist: Option<EnvelopeTwist>,
}

/// One way an envelope differs from what an honest pusher sends.
#[derive(Arbitrary, Debug, Clone)]
pub enum EnvelopeTwist {
    /// Authored (and signed) by device `n % 8`, or the admin for `255`.
    Author(u8),
    /// Sealed for another team.
    OtherTeam,
    /// At the team's epoch plus this.
    Epoch(i8),
}

/// A push batch: framed by the encoder and signed by the requester, unless `twist` says
/// otherwise.
#[derive(Arbitrary, Debug, Clone)]
pub struct BatchSpec {
    /// At least one envelope (an empty batch is still reachable, by `Truncate`).
    first: EnvelopeSpec,
    envelopes: Vec<EnvelopeSpec>,
    check: Option<u64>,
    twist: Option<BatchTwist>,
}

/// One way a push batch differs from what an honest pusher sends.
#[derive(Arbitrary, Debug, Clone)]
pub enum BatchTwist {
    /// Signed by another key.
    WrongSigner,
    /// Claims device `n % 8` pushed it.
    Claim(u8),
    /// Its timestamp this far from the relay's clock.
    Skew(i16),
    /// Framed and signed by hand, without the encoder's checks (duplicates pass).
    Hand,
    /// Cut short.
    Truncate(u16),
    /// One byte changed.
    Flip { at: u16, xor: u8 },
}

/// One request.
#[derive(Arbitrary, Debug, Clone)]
pub enum Call {
    /// The relay's clock moves on.
    Wait {
        seconds: u16,
    },
    Health,
    Metrics,
    Challenge {
        device: u8,
    },
    /// A whole login (challenge, then the answer), honest or not.
    Login {
        device: u8,
        honest: bool,
    },
    Token {
        device: u8,
        challenge: [u8; 32],
        signature: Vec<u8>,
    },
    CreateTeam {
        team: [u8; 16],
        founder: u8,
        skew_s: i16,
        creation_token: Option<String>,
    },
    Show(TeamRef),
    Devices(TeamRef),
    Log(TeamRef, Query),
    Append {
        team: TeamRef,
        entry: EntrySpec,
        bundles: Vec<BundleSpec>,
        /// `None`: the log's length as last seen.
        expected_len: Option<u64>,
    },
    ShowInvite(TeamRef, u8),
    Redeem {
        team: TeamRef,
        invite: u8,
        device: u8,
        forged: bool,
        skew_s: i16,
    },
    Keys(TeamRef, Query),
    Stage {
        team: TeamRef,
        commitment: Option<[u8; 32]>,
        bundles: Vec<BundleSpec>,
    },
    Ack {
        team: TeamRef,
        up_to: u64,
        honest: bool,
    },
    NotesKeys {
        team: TeamRef,
        bundles: Vec<BundleSpec>,
    },
    Push {
        team: TeamRef,
        batch: BatchSpec,
    },
    Pull(TeamRef, Query),
    Ids(TeamRef, Query),
    Live(TeamRef),
    /// A JSON body to one of the JSON routes.
    Json {
        route: u8,
        team: TeamRef,
        body: Json,
    },
    /// Anything to any path.
    Raw {
        method: u8,
        path: String,
        content_type: u8,
        body: Vec<u8>,
    },
}

/// One request and who it is from.
#[derive(Arbitrary, Debug, Clone)]
pub struct Step {
    who: Who,
    call: Call,
}

/// The relay of this process and what the checks remember about it.
struct Relay {
    rt: tokio::runtime::Runtime,
    router: Router,
    clock: ManualClock,
    tokens: TokenKey,
    team: TeamId,
    known: Mutex<Known>,
    _dir: tempfile::TempDir,
}

/// What the checks know of the team so far.
struct Known {
    /// The admin's token and when it was issued (relay time).
    token: String,
    token_at: u64,
    /// The highest head a push answered.
    head: u64,
    /// From the last `GET /v1/teams/{team}`.
    membership_len: u64,
    epoch: u32,
}

fn device_id(n: u8) -> DeviceId {
    DeviceId([0x40 + n % 8; 16])
}

fn device_seed(n: u8) -> u8 {
    0x40 + n % 8
}

fn invite_id(n: u8) -> InviteId {
    InviteId([0x80 + n % 8; 16])
}

fn invite_seed(n: u8) -> u8 {
    0x80 + n % 8
}

fn signing_key(seed: u8) -> DeviceSigningKey {
    DeviceSigningKey::from_seed([seed; 32]).expect("a 32-byte seed is a valid Ed25519 seed")
}

/// The HPKE key pairs of the admin, the eight devices and the eight invites, made once.
fn hpke_key(seed: u8) -> &'static HpkeKeyPair {
    static KEYS: OnceLock<HashMap<u8, HpkeKeyPair>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        std::iter::once(ADMIN_SEED)
            .chain(0x40..0x48)
            .chain(0x80..0x88)
            .map(|s| (s, HpkeKeyPair::from_seed([s; 32]).expect("a 32-byte seed")))
            .collect()
    });
    &keys[&seed]
}

fn role(n: u8) -> Role {
    match n % 4 {
        0 => Role::Admin,
        1 => Role::Supervisor,
        2 => Role::LinkWorker,
        _ => Role::Patient,
    }
}

fn plan(n: u8) -> DocumentId {
    DocumentId([0xC0 + n % 4; 16])
}

fn document(n: u8) -> DocumentId {
    // Mostly the four plans and four other documents; sometimes anything.
    match n % 16 {
        0..8 => DocumentId([0xC0 + n % 8; 16]),
        _ => DocumentId([n; 16]),
    }
}

fn epoch_key(epoch: u32) -> EpochKey {
    EpochKey::from_bytes([epoch.to_be_bytes()[3] ^ 0x33; 32])
}

fn clip(bytes: &[u8], max: usize) -> &[u8] {
    &bytes[..bytes.len().min(max)]
}

fn clip_str(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A time `skew_s % 900` seconds from `now` (ms): two in three within the relay's allowed
/// skew (600 s), the rest outside it.
fn at(now: u64, skew_s: i16) -> u64 {
    now.saturating_add_signed(i64::from(skew_s % 900) * 1000)
}

/// `HOLDFAST_FUZZ_TRACE=1`: every request's route and status on stderr (to see how deep a
/// corpus reaches: `relay_router corpus/relay_router -runs=0`, or the replay test).
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("HOLDFAST_FUZZ_TRACE").is_some())
}

/// The relay of this process: made on first use.
fn relay() -> &'static Relay {
    static RELAY: OnceLock<Relay> = OnceLock::new();
    RELAY.get_or_init(start)
}

fn start() -> Relay {
    let dir = match std::fs::metadata("/dev/shm") {
        Ok(m) if m.is_dir() => tempfile::Builder::new()
            .prefix("holdfast-fuzz-relay")
            .tempdir_in("/dev/shm"),
        _ => tempfile::Builder::new()
            .prefix("holdfast-fuzz-relay")
            .tempdir(),
    }
    .expect("a temporary folder for the relay's database");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let clock = ManualClock::at(START_MS);
    let limits = Limits {
        // Every input's own clock step refills these; the checks' own logins must never
        // be the ones refused.
        max_challenges_per_address: 100_000,
        ..Limits::default()
    };
    let path = dir.path().join("relay.db");
    let storage = rt
        .block_on(async { SqliteStorage::open(path) })
        .expect("the relay's SQLite database opens");
    storage.set_team_quota(limits.team_quota());
    let state = AppState::new(
        storage,
        limits,
        ORIGIN,
        TokenKey::from_bytes(&TOKEN_KEY),
        Arc::new(clock.clone()),
        TeamCreationPolicy::Open,
    );
    let router = holdfast_relay::app(state);
    let team = TeamId([0x10; 16]);
    let mut relay = Relay {
        rt,
        router,
        clock,
        tokens: TokenKey::from_bytes(&TOKEN_KEY),
        team,
        known: Mutex::new(Known {
            token: String::new(),
            token_at: 0,
            head: 0,
            membership_len: 1,
            epoch: 1,
        }),
        _dir: dir,
    };
    let genesis = genesis(team, ADMIN_SEED, START_MS);
    let (status, body) = relay.send(
        Method::POST,
        "/v1/teams",
        None,
        json_body(&json!({ "genesis": hex::encode(genesis.as_bytes()) })),
    );
    assert_eq!(status, StatusCode::CREATED, "the team is created: {body:?}");
    let token = relay.login(ADMIN, ADMIN_SEED).expect("the admin logs in");
    let known = relay.known.get_mut().expect("not poisoned");
    known.token = token;
    known.token_at = START_MS;
    relay
}

fn genesis(team: TeamId, seed: u8, at_ms: u64) -> Entry {
    let device = if seed == ADMIN_SEED {
        ADMIN
    } else {
        DeviceId([seed; 16])
    };
    let op = Op::Genesis {
        device,
        sign_key: signing_key(seed).public_key(),
        hpke_key: hpke_key(seed).public_key().clone(),
        key_commitment: epoch_key_commitment(&team, 1, &epoch_key(1)),
    };
    Entry::sign(team, at_ms, device.0, op, &signing_key(seed)).expect("a genesis entry signs")
}

fn json_body(value: &Value) -> (Vec<u8>, &'static str) {
    (
        serde_json::to_vec(value).expect("JSON encodes"),
        "application/json",
    )
}

impl Json {
    fn to_value(&self, depth: usize) -> Value {
        if depth > 8 {
            return Value::Null;
        }
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Int(n) => json!(n),
            Json::Big(n) => json!(n),
            Json::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Json::Text(s) => Value::String(clip_str(s, MAX_RAW).to_owned()),
            Json::Hex(b) => Value::String(hex::encode(clip(b, MAX_RAW))),
            Json::Id(n) => Value::String(match n % 3 {
                0 => ADMIN.to_string(),
                1 => device_id(*n).to_string(),
                _ => invite_id(*n).to_string(),
            }),
            Json::Array(items) => Value::Array(
                items
                    .iter()
                    .take(64)
                    .map(|j| j.to_value(depth + 1))
                    .collect(),
            ),
            Json::Object(fields) => Value::Object(
                fields
                    .iter()
                    .take(16)
                    .map(|(k, v)| {
                        let key = match k {
                            Key::Known(n) => KNOWN_KEYS[usize::from(*n) % KNOWN_KEYS.len()].into(),
                            Key::Other(s) => clip_str(s, 64).to_owned(),
                        };
                        (key, v.to_value(depth + 1))
                    })
                    .collect(),
            ),
        }
    }
}

impl Query {
    fn to_query(&self) -> String {
        match self {
            Query::Fields {
                after,
                from,
                limit,
                compact,
                doc,
                check,
                at,
            } => {
                let mut parts = Vec::new();
                if let Some(n) = after {
                    parts.push(format!("after={n}"));
                }
                if let Some(n) = from {
                    parts.push(format!("from={n}"));
                }
                if let Some(n) = limit {
                    parts.push(format!("limit={n}"));
                }
                if let Some(c) = compact {
                    parts.push(
                        match c % 4 {
                            0 => "compact=true",
                            1 => "compact=1",
                            2 => "compact=false",
                            _ => "compact=yes",
                        }
                        .to_owned(),
                    );
                }
                if let Some(d) = doc {
                    parts.push(format!("doc={}", document(*d)));
                }
                if let Some(n) = check {
                    parts.push(format!("check={n}"));
                }
                if let Some(list) = at {
                    let list: Vec<String> = list.iter().take(300).map(u64::to_string).collect();
                    parts.push(format!("at={}", list.join(",")));
                }
                parts.join("&")
            }
            Query::Raw(s) => clip_str(s, MAX_RAW).to_owned(),
        }
    }
}

impl Relay {
    fn now(&self) -> u64 {
        use holdfast_protocol::Clock;
        self.clock.now_ms()
    }

    fn team_path(&self, team: &TeamRef) -> String {
        match team {
            TeamRef::Ours => format!("/v1/teams/{}", self.team),
            TeamRef::Other(id) => format!("/v1/teams/{}", TeamId(*id)),
            TeamRef::Text(s) => format!("/v1/teams/{}", clip_str(s, 256)),
        }
    }

    /// One request through the router; `None` when the request cannot even be built (a
    /// fuzzed path or header that is not valid HTTP).
    fn try_send(
        &self,
        method: Method,
        uri: &str,
        authorization: Option<&str>,
        (body, content_type): (Vec<u8>, &str),
    ) -> Option<(StatusCode, Vec<u8>)> {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        if !content_type.is_empty() {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let request = request.body(Body::from(body)).ok()?;
        let route = format!("{} {}", request.method(), request.uri().path());
        let router = self.router.clone();
        let (status, bytes) = self.rt.block_on(async move {
            let response = router.oneshot(request).await.unwrap_or_else(|e| match e {});
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("the relay's answer is readable");
            (status, bytes)
        });
        let bytes = bytes.to_vec();
        if trace() {
            let body = String::from_utf8_lossy(clip(&bytes, 160));
            eprintln!("[relay_router] {route} -> {} {body}", status.as_u16());
        }
        assert!(
            !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
            "{status} from the relay: {}",
            String::from_utf8_lossy(&bytes)
        );
        Some((status, bytes))
    }

    /// A request the checks build themselves (always valid HTTP).
    fn send(
        &self,
        method: Method,
        uri: &str,
        authorization: Option<&str>,
        body: (Vec<u8>, &str),
    ) -> (StatusCode, Value) {
        let (status, bytes) = self
            .try_send(method, uri, authorization, body)
            .expect("the checks' own requests are valid HTTP");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// A real login: challenge, signed answer, token.
    fn login(&self, device: DeviceId, seed: u8) -> Option<String> {
        let (status, body) = self.send(
            Method::POST,
            "/v1/auth/challenge",
            None,
            json_body(&json!({ "device": device.to_string() })),
        );
        if status != StatusCode::OK {
            return None;
        }
        let mut challenge = [0u8; 32];
        hex::decode_to_slice(body["challenge"].as_str()?, &mut challenge).ok()?;
        let signature = sign_auth(&signing_key(seed), ORIGIN, &device, &challenge).ok()?;
        let (status, body) = self.send(
            Method::POST,
            "/v1/auth/token",
            None,
            json_body(&json!({
                "device": device.to_string(),
                "challenge": hex::encode(challenge),
                "signature": hex::encode(signature),
            })),
        );
        (status == StatusCode::OK).then(|| body["token"].as_str().map(str::to_owned))?
    }

    fn admin_token(&self) -> String {
        let mut known = self.known.lock().expect("not poisoned");
        let now = self.now();
        if now.saturating_sub(known.token_at) > RELOGIN_AFTER_MS {
            // Fuzzed logins share the admin's address budget: if they spent it, the admin
            // logs in once it has refilled, as a real device would after its `Retry-After`.
            let token = self.login(ADMIN, ADMIN_SEED).or_else(|| {
                self.clock.advance(Duration::from_secs(600));
                self.login(ADMIN, ADMIN_SEED)
            });
            known.token = token.expect("the admin can always log in again");
            known.token_at = self.now();
        }
        format!("Bearer {}", known.token)
    }

    fn authorization(&self, who: &Who) -> Option<String> {
        let hour = self.now() + 3_600_000;
        match who {
            Who::Nobody => None,
            Who::Admin => Some(self.admin_token()),
            Who::Device(n) => Some(format!("Bearer {}", self.tokens.issue(device_id(*n), hour))),
            Who::Stranger => Some(format!("Bearer {}", self.tokens.issue(STRANGER, hour))),
            Who::Expired => Some(format!(
                "Bearer {}",
                self.tokens.issue(ADMIN, self.now().saturating_sub(1))
            )),
            Who::Garbage(s) => Some(format!("Bearer {}", clip_str(s, MAX_RAW))),
            Who::Header(s) => Some(clip_str(s, MAX_RAW).to_owned()),
        }
    }

    /// The device a request is from, and the seed of its keys.
    fn requester(who: &Who) -> (DeviceId, u8) {
        match who {
            Who::Device(n) => (device_id(*n), device_seed(*n)),
            _ => (ADMIN, ADMIN_SEED),
        }
    }

    fn entry(&self, spec: &EntrySpec) -> Vec<u8> {
        let now = self.now();
        let epoch = self.known.lock().expect("not poisoned").epoch;
        let sign = |skew_s: i16, op: Op| {
            Entry::sign(
                self.team,
                at(now, skew_s),
                ADMIN.0,
                op,
                &signing_key(ADMIN_SEED),
            )
            .map(|e| e.as_bytes().to_vec())
            .unwrap_or_default()
        };
        match spec {
            EntrySpec::Invite {
                invite,
                role: r,
                plan: p,
                lifetime_s,
                skew_s,
            } => {
                let role = role(*r);
                sign(
                    *skew_s,
                    Op::Invite {
                        invite: invite_id(*invite),
                        sign_key: signing_key(invite_seed(*invite)).public_key(),
                        hpke_key: hpke_key(invite_seed(*invite)).public_key().clone(),
                        role,
                        plan: (role == Role::Patient).then(|| plan(*p)),
                        expires_at_ms: at(now, 0)
                            .saturating_add(u64::from(*lifetime_s % 700_000) * 1000),
                    },
                )
            }
            EntrySpec::ChangeRole {
                device,
                role: r,
                skew_s,
            } => sign(
                *skew_s,
                Op::ChangeRole {
                    device: device_id(*device),
                    role: role(*r),
                },
            ),
            EntrySpec::Revoke {
                device,
                epoch_ahead,
                skew_s,
            } => {
                let epoch = epoch.saturating_add(u32::from(*epoch_ahead % 3));
                sign(
                    *skew_s,
                    Op::Revoke {
                        device: device_id(*device),
                        epoch,
                        key_commitment: epoch_key_commitment(&self.team, epoch, &epoch_key(epoch)),
                    },
                )
            }
            EntrySpec::Cancel { invite, skew_s } => sign(
                *skew_s,
                Op::Cancel {
                    invite: invite_id(*invite),
                },
            ),
            EntrySpec::Genesis { skew_s } => genesis(self.team, ADMIN_SEED, at(now, *skew_s))
                .as_bytes()
                .to_vec(),
            EntrySpec::Raw(bytes) => clip(bytes, MAX_RAW).to_vec(),
        }
    }

    fn bundles(&self, specs: &[BundleSpec]) -> Vec<String> {
        let now = self.now();
        let epoch = self.known.lock().expect("not poisoned").epoch;
        specs
            .iter()
            .take(12)
            .map(|spec| match spec {
                BundleSpec::Sealed { to, epoch_ahead } => {
                    let (recipient, seed) = if *to == 255 {
                        (ADMIN, ADMIN_SEED)
                    } else {
                        (device_id(*to), device_seed(*to))
                    };
                    let epoch = epoch.saturating_add(u32::from(epoch_ahead % 3));
                    let header = BundleHeader {
                        team: self.team,
                        recipient: recipient.0,
                        sender: ADMIN,
                        at_ms: now,
                    };
                    let bytes = KeyBundle::seal(
                        header,
                        hpke_key(seed).public_key(),
                        &[WrappedKey::Epoch {
                            epoch,
                            key: epoch_key(epoch),
                        }],
                        &signing_key(ADMIN_SEED),
                    )
                    .unwrap_or_default();
                    hex::encode(bytes)
                }
                BundleSpec::Raw(bytes) => hex::encode(clip(bytes, MAX_RAW)),
            })
            .collect()
    }

    /// A push batch, and every envelope in it by id.
    fn batch(&self, who: &Who, spec: &BatchSpec) -> (Vec<u8>, HashMap<EnvelopeId, Vec<u8>>) {
        let (requester, seed) = Self::requester(who);
        let twist = spec.twist.as_ref();
        let pusher = match twist {
            Some(BatchTwist::Claim(n)) => device_id(*n),
            _ => requester,
        };
        let signer = match twist {
            Some(BatchTwist::WrongSigner) => signing_key(seed ^ 0x01),
            _ => signing_key(seed),
        };
        let epoch = self.known.lock().expect("not poisoned").epoch;
        let mut envelopes: Vec<Vec<u8>> = Vec::new();
        let specs = std::iter::once(&spec.first).chain(&spec.envelopes);
        for e in specs.take(MAX_ENVELOPES) {
            if e.repeat
                && let Some(last) = envelopes.last()
            {
                envelopes.push(last.clone());
                continue;
            }
            let (author, author_seed) = match e.twist {
                Some(EnvelopeTwist::Author(255)) => (ADMIN, ADMIN_SEED),
                Some(EnvelopeTwist::Author(n)) => (device_id(n), device_seed(n)),
                _ => (pusher, seed),
            };
            let kind = match e.kind % 3 {
                0 => Kind::ChangeBatch,
                1 => Kind::Snapshot,
                _ => Kind::KeyMaterial,
            };
            let mut nonce = [0u8; 12];
            nonce[10..].copy_from_slice(&e.salt.to_be_bytes());
            let header = Header {
                kind,
                team: match e.twist {
                    Some(EnvelopeTwist::OtherTeam) => TeamId([0x11; 16]),
                    _ => self.team,
                },
                document: document(e.doc),
                epoch: match e.twist {
                    Some(EnvelopeTwist::Epoch(n)) => epoch.saturating_add_signed(i32::from(n)),
                    _ => epoch,
                },
                author,
                covers: u64::from(e.covers),
                nonce,
            };
            let key = DocumentKey::from_bytes([e.doc; 32]);
            if let Ok(sealed) = seal(
                &header,
                &key,
                clip(&e.plaintext, MAX_PLAINTEXT),
                &signing_key(author_seed),
            ) {
                envelopes.push(sealed);
            }
        }
        let ts = match twist {
            Some(BatchTwist::Skew(s)) => at(self.now(), *s),
            _ => self.now(),
        };
        let by_id = envelopes
            .iter()
            .map(|e| (EnvelopeId::of(e), e.clone()))
            .collect();
        let refs: Vec<&[u8]> = envelopes.iter().map(Vec::as_slice).collect();
        let mut bytes = match twist {
            Some(BatchTwist::Hand) => hand_batch(self.team, pusher, &signer, ts, &envelopes),
            _ => PushBatch::encode(&self.team, &pusher, &signer, ts, &refs)
                .unwrap_or_else(|_| hand_batch(self.team, pusher, &signer, ts, &envelopes)),
        };
        match twist {
            Some(BatchTwist::Truncate(n)) => bytes.truncate(usize::from(*n) % (bytes.len() + 1)),
            Some(BatchTwist::Flip { at, xor }) => {
                let len = bytes.len();
                if len > 0 {
                    bytes[usize::from(*at) % len] ^= xor;
                }
            }
            _ => {}
        }
        (bytes, by_id)
    }

    /// Runs one request and the checks its answer calls for.
    fn step(&self, step: &Step) {
        let auth = self.authorization(&step.who);
        let auth = auth.as_deref();
        let now = self.now();
        let none = || (Vec::new(), "");
        match &step.call {
            Call::Wait { seconds } => {
                self.clock.advance(Duration::from_secs(u64::from(*seconds)));
            }
            Call::Health => {
                self.try_send(Method::GET, "/healthz", auth, none());
            }
            Call::Metrics => {
                self.try_send(Method::GET, "/metrics", auth, none());
            }
            Call::Challenge { device } => {
                let device = if *device == 255 {
                    ADMIN
                } else {
                    device_id(*device)
                };
                self.try_send(
                    Method::POST,
                    "/v1/auth/challenge",
                    auth,
                    json_body(&json!({ "device": device.to_string() })),
                );
            }
            Call::Login { device, honest } => {
                let (id, seed) = if *device == 255 {
                    (ADMIN, ADMIN_SEED)
                } else {
                    (device_id(*device), device_seed(*device))
                };
                let seed = if *honest { seed } else { seed ^ 0x02 };
                let token = self.login(id, seed);
                if let Some(token) = token {
                    assert!(*honest, "a login answered with the wrong key got a token");
                    // The token it got works, for what that device may do.
                    let (status, _) = self.send(
                        Method::GET,
                        &format!("/v1/teams/{}", self.team),
                        Some(&format!("Bearer {token}")),
                        none(),
                    );
                    if id == ADMIN {
                        assert_eq!(status, StatusCode::OK, "a fresh admin token works");
                    }
                }
            }
            Call::Token {
                device,
                challenge,
                signature,
            } => {
                let device = if *device == 255 {
                    ADMIN
                } else {
                    device_id(*device)
                };
                self.try_send(
                    Method::POST,
                    "/v1/auth/token",
                    auth,
                    json_body(&json!({
                        "device": device.to_string(),
                        "challenge": hex::encode(challenge),
                        "signature": hex::encode(clip(signature, 256)),
                    })),
                );
            }
            Call::CreateTeam {
                team,
                founder,
                skew_s,
                creation_token,
            } => {
                let seed = if *founder == 255 {
                    ADMIN_SEED
                } else {
                    device_seed(*founder)
                };
                let genesis = genesis(TeamId(*team), seed, at(now, *skew_s));
                let mut body = json!({ "genesis": hex::encode(genesis.as_bytes()) });
                if let Some(t) = creation_token {
                    body["creation_token"] = Value::String(clip_str(t, 256).to_owned());
                }
                self.try_send(Method::POST, "/v1/teams", auth, json_body(&body));
            }
            Call::Show(team) => {
                self.try_send(Method::GET, &self.team_path(team), auth, none());
            }
            Call::Devices(team) => {
                let path = format!("{}/devices", self.team_path(team));
                self.try_send(Method::GET, &path, auth, none());
            }
            Call::Log(team, query) => {
                let path = format!("{}/membership?{}", self.team_path(team), query.to_query());
                self.try_send(Method::GET, &path, auth, none());
            }
            Call::Append {
                team,
                entry,
                bundles,
                expected_len,
            } => {
                let entry = self.entry(entry);
                let expected =
                    expected_len.unwrap_or(self.known.lock().expect("not poisoned").membership_len);
                let body = json!({
                    "entry": hex::encode(&entry),
                    "bundles": self.bundles(bundles),
                    "expected_len": expected,
                });
                let path = format!("{}/membership", self.team_path(team));
                if let Some((status, answer)) =
                    self.try_send(Method::POST, &path, auth, json_body(&body))
                    && status == StatusCode::CREATED
                {
                    let answer: Value =
                        serde_json::from_slice(&answer).expect("a 201 answer is JSON");
                    let seq = answer["seq"].as_u64().expect("an appended entry's seq");
                    self.check_logged(team, seq, &entry);
                }
            }
            Call::ShowInvite(team, invite) => {
                let path = format!("{}/invites/{}", self.team_path(team), invite_id(*invite));
                self.try_send(Method::GET, &path, auth, none());
            }
            Call::Redeem {
                team,
                invite,
                device,
                forged,
                skew_s,
            } => {
                let invite_key = signing_key(invite_seed(*invite));
                let id = device_id(*device);
                let key = signing_key(device_seed(*device));
                let hpke = hpke_key(device_seed(*device)).public_key().clone();
                let proof = redeem_proof_message(
                    &self.team,
                    &invite_id(*invite),
                    &id,
                    &key.public_key(),
                    &hpke,
                );
                let prover = if *forged {
                    signing_key(device_seed(device.wrapping_add(1)))
                } else {
                    signing_key(device_seed(*device))
                };
                let op = Op::Redeem {
                    invite: invite_id(*invite),
                    device: id,
                    sign_key: key.public_key(),
                    hpke_key: hpke,
                    device_signature: prover.sign(&proof),
                };
                let entry = Entry::sign(
                    self.team,
                    at(now, *skew_s),
                    invite_id(*invite).0,
                    op,
                    &invite_key,
                )
                .map(|e| e.as_bytes().to_vec())
                .unwrap_or_default();
                let path = format!(
                    "{}/invites/{}/redeem",
                    self.team_path(team),
                    invite_id(*invite)
                );
                let body = json_body(&json!({ "entry": hex::encode(&entry) }));
                if let Some((status, answer)) = self.try_send(Method::POST, &path, auth, body)
                    && status == StatusCode::CREATED
                {
                    assert!(!forged, "a redeem with a forged device proof was accepted");
                    let answer: Value =
                        serde_json::from_slice(&answer).expect("a 201 answer is JSON");
                    let seq = answer["seq"].as_u64().expect("a redeem's seq");
                    self.check_logged(team, seq, &entry);
                }
            }
            Call::Keys(team, query) => {
                let path = format!("{}/keys?{}", self.team_path(team), query.to_query());
                self.try_send(Method::GET, &path, auth, none());
            }
            Call::Stage {
                team,
                commitment,
                bundles,
            } => {
                let epoch = self.known.lock().expect("not poisoned").epoch + 1;
                let commitment = commitment
                    .unwrap_or_else(|| epoch_key_commitment(&self.team, epoch, &epoch_key(epoch)));
                let body = json!({
                    "key_commitment": hex::encode(commitment),
                    "bundles": self.bundles(bundles),
                });
                let path = format!("{}/keys/staged", self.team_path(team));
                self.try_send(Method::POST, &path, auth, json_body(&body));
            }
            Call::Ack {
                team,
                up_to,
                honest,
            } => {
                let (device, seed) = Self::requester(&step.who);
                let seed = if *honest { seed } else { seed ^ 0x04 };
                let signature =
                    signing_key(seed).sign(&keys_ack_message(&self.team, &device, *up_to));
                let body = json!({ "up_to": up_to, "signature": hex::encode(signature) });
                let path = format!("{}/keys/ack", self.team_path(team));
                self.try_send(Method::POST, &path, auth, json_body(&body));
            }
            Call::NotesKeys { team, bundles } => {
                let body = json!({ "bundles": self.bundles(bundles) });
                let path = format!("{}/keys/private-notes", self.team_path(team));
                self.try_send(Method::POST, &path, auth, json_body(&body));
            }
            Call::Push { team, batch } => {
                let (bytes, sent) = self.batch(&step.who, batch);
                let mut path = format!("{}/envelopes", self.team_path(team));
                if let Some(n) = batch.check {
                    path.push_str(&format!("?check={n}"));
                }
                if let Some((status, answer)) = self.try_send(
                    Method::POST,
                    &path,
                    auth,
                    (bytes, "application/octet-stream"),
                ) && status == StatusCode::OK
                {
                    self.check_pushed(&answer, &sent);
                }
            }
            Call::Pull(team, query) => {
                let path = format!("{}/envelopes?{}", self.team_path(team), query.to_query());
                if let Some((status, bytes)) = self.try_send(Method::GET, &path, auth, none())
                    && status == StatusCode::OK
                {
                    let page = PullPage::decode(&bytes).expect("a 200 pull is a pull page");
                    let mut last = 0;
                    for (seq, envelope) in &page.items {
                        assert!(*seq > last, "a page's numbers rise");
                        last = *seq;
                        let envelope = holdfast_protocol::EnvelopeRef::decode(envelope)
                            .expect("a served envelope decodes");
                        if matches!(team, TeamRef::Ours) {
                            assert_eq!(envelope.header.team, self.team, "only this team's");
                        }
                    }
                }
            }
            Call::Ids(team, query) => {
                let path = format!(
                    "{}/envelopes/ids?{}",
                    self.team_path(team),
                    query.to_query()
                );
                self.try_send(Method::GET, &path, auth, none());
            }
            Call::Live(team) => {
                let path = format!("{}/live", self.team_path(team));
                self.try_send(Method::GET, &path, auth, none());
            }
            Call::Json { route, team, body } => {
                let team = self.team_path(team);
                let path = match route % 9 {
                    0 => "/v1/auth/challenge".to_owned(),
                    1 => "/v1/auth/token".to_owned(),
                    2 => "/v1/teams".to_owned(),
                    3 => format!("{team}/membership"),
                    4 => format!("{team}/invites/{}/redeem", invite_id(*route)),
                    5 => format!("{team}/keys/staged"),
                    6 => format!("{team}/keys/ack"),
                    7 => format!("{team}/keys/private-notes"),
                    _ => format!("{team}/envelopes"),
                };
                let body = json_body(&body.to_value(0));
                self.try_send(Method::POST, &path, auth, body);
            }
            Call::Raw {
                method,
                path,
                content_type,
                body,
            } => {
                let method = match method % 6 {
                    0 => Method::GET,
                    1 => Method::POST,
                    2 => Method::PUT,
                    3 => Method::DELETE,
                    4 => Method::HEAD,
                    _ => Method::OPTIONS,
                };
                let content_type = match content_type % 4 {
                    0 => "",
                    1 => "application/json",
                    2 => "application/octet-stream",
                    _ => "text/plain",
                };
                let path = if path.starts_with('/') {
                    clip_str(path, MAX_RAW).to_owned()
                } else {
                    format!("/{}", clip_str(path, MAX_RAW))
                };
                self.try_send(
                    method,
                    &path,
                    auth,
                    (clip(body, MAX_RAW).to_vec(), content_type),
                );
            }
        }
    }

    /// An appended entry is in the log at `seq`, as sent.
    fn check_logged(&self, team: &TeamRef, seq: u64, entry: &[u8]) {
        let path = format!("{}/membership?from={seq}&limit=1", self.team_path(team));
        let (status, log) = self.send(
            Method::GET,
            &path,
            Some(&self.admin_token()),
            (Vec::new(), ""),
        );
        assert_eq!(status, StatusCode::OK, "the log after an append: {log}");
        let logged = log["entries"][0]["entry"]
            .as_str()
            .expect("the appended entry");
        assert_eq!(
            logged,
            hex::encode(entry),
            "the log holds the entry at {seq}"
        );
        assert_eq!(log["entries"][0]["seq"].as_u64(), Some(seq));
    }

    /// Every envelope a push answered is served at its number, as pushed.
    fn check_pushed(&self, answer: &[u8], sent: &HashMap<EnvelopeId, Vec<u8>>) {
        let answer: Value = serde_json::from_slice(answer).expect("a 200 push answer is JSON");
        let head = answer["head"].as_u64().expect("a push answer's head");
        {
            let mut known = self.known.lock().expect("not poisoned");
            assert!(
                head >= known.head,
                "the head went back: {} then {head}",
                known.head
            );
            known.head = head;
        }
        let results = answer["results"]
            .as_array()
            .expect("a push answer's results");
        for result in results {
            let seq = result["seq"].as_u64().expect("a result's seq");
            let id: EnvelopeId = result["id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("a result's id");
            let bytes = sent
                .get(&id)
                .expect("the relay answers only for envelopes it was sent");
            assert!((1..=head).contains(&seq), "{seq} is within the head {head}");
            let path = format!(
                "/v1/teams/{}/envelopes?after={}&limit=1",
                self.team,
                seq - 1
            );
            let (status, page) = self
                .try_send(
                    Method::GET,
                    &path,
                    Some(&self.admin_token()),
                    (Vec::new(), ""),
                )
                .expect("a valid request");
            assert_eq!(status, StatusCode::OK, "the admin pulls what was pushed");
            let page = PullPage::decode(&page).expect("a pull page");
            assert_eq!(
                page.items.first(),
                Some(&(seq, bytes.clone())),
                "the envelope acknowledged at {seq} is served there, as pushed"
            );
        }
    }

    /// The relay still answers as it should for its own team's admin; remembers the team's
    /// epoch and log length for the next input.
    fn check_usable(&self) {
        let (status, body) = self.send(Method::GET, "/healthz", None, (Vec::new(), ""));
        assert_eq!(status, StatusCode::OK, "healthz: {body}");
        let token = self.admin_token();
        let (status, body) = self.send(
            Method::GET,
            &format!("/v1/teams/{}", self.team),
            Some(&token),
            (Vec::new(), ""),
        );
        assert_eq!(status, StatusCode::OK, "the admin sees the team: {body}");
        let path = format!("/v1/teams/{}/envelopes?after=0&limit=1", self.team);
        let (status, _) = self
            .try_send(Method::GET, &path, Some(&token), (Vec::new(), ""))
            .expect("a valid request");
        assert_eq!(status, StatusCode::OK, "the admin pulls");
        let mut known = self.known.lock().expect("not poisoned");
        if let Some(len) = body["membership_len"].as_u64() {
            known.membership_len = len;
        }
        if let Some(epoch) = body["epoch"].as_u64().and_then(|e| u32::try_from(e).ok()) {
            known.epoch = epoch;
        }
        let head = body["head"].as_u64().expect("the team's head");
        assert!(head >= known.head, "the head went back");
        known.head = head;
    }
}

/// A push batch framed and signed by hand, without the encoder's checks (duplicates, a
/// count that does not fit), as a broken or hostile client would send it.
fn hand_batch(
    team: TeamId,
    pusher: DeviceId,
    signer: &DeviceSigningKey,
    timestamp_ms: u64,
    envelopes: &[Vec<u8>],
) -> Vec<u8> {
    let mut message = PUSH_CONTEXT.to_vec();
    message.extend_from_slice(&team.0);
    message.extend_from_slice(&pusher.0);
    message.extend_from_slice(&timestamp_ms.to_be_bytes());
    let mut out = PUSH_MAGIC.to_vec();
    out.extend_from_slice(&team.0);
    out.extend_from_slice(&pusher.0);
    out.extend_from_slice(&timestamp_ms.to_be_bytes());
    let count = u16::try_from(envelopes.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&count.to_be_bytes());
    for envelope in envelopes {
        message.extend_from_slice(&EnvelopeId::of(envelope).0);
        let len = u32::try_from(envelope.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(envelope);
    }
    out.extend_from_slice(&signer.sign(&message));
    out
}

/// Runs one input: up to [`MAX_CALLS`] requests, each checked as it is answered, then the
/// relay's usability. The relay's clock moves a second per input, so rate limits refill as
/// they would between a real client's requests.
pub fn check_relay(steps: &[Step]) {
    let relay = relay();
    relay.clock.advance(Duration::from_secs(1));
    for step in steps.iter().take(MAX_CALLS) {
        relay.step(step);
    }
    relay.check_usable();
}
