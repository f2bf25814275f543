//! The sync client: talks to the relay over HTTP and keeps one store in step with it.
//!
//! For each team: authenticate (challenge → token, cached until shortly before expiry),
//! register the team if this device created it, fetch the roster (public keys to verify
//! envelopes), push the outbox in batches, pull after the team cursor page by page, upload
//! snapshots of documents that have grown. Every request is retried with exponential
//! backoff and jitter on network errors, 5xx and 429; every step is safe to repeat (sealed
//! envelopes are resent byte for byte, the relay deduplicates by id, a page is applied in
//! one transaction with the cursor).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use holdfast_protocol::{
    CHALLENGE_LEN, DeviceSigningKey, EnvelopeId, MAX_PAGE_BYTES, MAX_PUSH_BYTES, PUSH_HEADER_LEN,
    PullPage, PushBatch, SIGNATURE_LEN, sign_auth,
};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, watch};

use super::api::{
    self, ChallengeRequest, ChallengeResponse, ErrorBody, PushResponse, TeamHead, TokenRequest,
    TokenResponse,
};
use super::backoff::RetryPolicy;
use super::exchange::{Exchange, ExchangeRequest};
use super::pages;
use super::shared::SharedStore;
use crate::access::{Roster, open_page};
use crate::model::ids::{DeviceId, TeamId};
use crate::store::SyncStatus;
use crate::{Error, Result};

/// How the sync client behaves.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Upload a snapshot of a document after this many changes since its last one.
    pub snapshot_after: u32,
    /// Envelopes per push request (the protocol allows 1,000; smaller requests fail and
    /// retry more cheaply on a weak signal).
    pub push_batch: usize,
    /// Envelopes per pull page asked of the relay.
    pub pull_limit: u32,
    /// Retries for each request.
    pub retry: RetryPolicy,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// A team-creation token from the relay's operator, sent with the genesis entry when
    /// this device registers a team it created (a relay that does not let anyone create
    /// teams asks for one).
    pub creation_token: Option<CreationToken>,
    /// **Insecure, for development networks only.** Talk plain `http://` to a relay on any
    /// host, not only on this computer: anyone on the network then reads the bearer tokens
    /// (good for an hour: bulk export of ciphertext, a live socket) and the metadata, and
    /// can tamper with what is not signed. Off by default; a warning is logged when on.
    pub insecure_http_to_any_host: bool,
    /// Following a team live, local changes reported within this long of the last push go
    /// out together in the next one: a burst of edits costs a push per interval, not one
    /// per edit, and a device typing fast stays inside the relay's request rate. An edit
    /// waits this long at most after the last push began, plus whatever step is already
    /// running.
    pub live_push_interval: Duration,
    /// Following a team live, a local change is pushed, and a head announced past the
    /// cursor pulled, on their own ("light" syncs: one request each); every this long, and
    /// after any light step fails, the next one is a full sync instead (membership, keys,
    /// private-notes keys, push, pull, snapshots). A light step that meets what only a full
    /// sync brings (an envelope of a device not yet in the membership, a key not yet here,
    /// an epoch moved on) pulls membership and keys itself, or fails into a full sync.
    pub live_full_sync_every: Duration,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            snapshot_after: 500,
            push_batch: 100,
            pull_limit: 500,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
            creation_token: None,
            insecure_http_to_any_host: false,
            live_push_interval: Duration::from_millis(10),
            live_full_sync_every: Duration::from_secs(30),
        }
    }
}

/// A relay operator's team-creation token. Debug output never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct CreationToken(String);

impl CreationToken {
    /// The token as the operator gave it (surrounding whitespace dropped).
    pub fn new(token: &str) -> Self {
        CreationToken(token.trim().to_owned())
    }
}

impl std::fmt::Debug for CreationToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CreationToken(..)")
    }
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushReport {
    /// Envelopes sealed from the outbox for this push.
    pub sealed: usize,
    /// Envelopes the relay acknowledged.
    pub acknowledged: usize,
    /// Push requests sent.
    pub requests: usize,
    /// Envelopes of this device's withdrawn from its outbox undelivered: private notes it
    /// may no longer write (see [`crate::Store::withdraw_unwritable_notes`]).
    #[serde(default)]
    pub withdrawn: usize,
    /// The relay no longer held what it had acknowledged (see [`PullReport::restarted`]).
    pub restarted: Option<crate::store::Restarted>,
}

/// What a pull did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullReport {
    /// Pages fetched.
    pub pages: usize,
    /// Envelopes applied.
    pub applied: usize,
    /// Envelopes refused.
    pub refused: usize,
    /// Documents seen for the first time.
    pub new_documents: usize,
    /// The pull started from cursor 0 and asked the relay for snapshots (`compact=1`).
    pub bootstrap: bool,
    /// The team cursor afterwards.
    pub cursor: u64,
    /// The relay no longer held what it had acknowledged (its database was restored from
    /// a backup, or replaced): the pull started again after the last point where its
    /// history and this device's agree, and what it lost was queued for upload again.
    pub restarted: Option<crate::store::Restarted>,
}

/// What one full sync of a team did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// The push of local changes.
    pub push: PushReport,
    /// The pull.
    pub pull: PullReport,
    /// Snapshots queued (and pushed) after the pull.
    pub snapshots: usize,
}

type TokenSlot = Arc<Mutex<Option<Token>>>;

struct Token {
    value: String,
    /// When to log in again (ms since the epoch, by the store's clock).
    refresh_at: u64,
}

struct Inner {
    store: SharedStore,
    /// HTTP clients and live-socket connectors, by how each relay's certificate is trusted.
    transport: super::tls::Transport,
    config: SyncConfig,
    device: DeviceId,
    signer: Arc<DeviceSigningKey>,
    /// The store's clock (push timestamps are checked by the relay against its own).
    clock: holdfast_protocol::SharedClock,
    /// Bearer tokens by relay base URL (a token is per device, good for all its teams), each
    /// behind a lock of its own: one login per relay at a time, and a slow login to one relay
    /// never holds up another's.
    tokens: Mutex<HashMap<String, TokenSlot>>,
    /// One sync at a time per team: a live wake-up and a manual sync do not interleave.
    team_locks: Mutex<HashMap<TeamId, Arc<Mutex<()>>>>,
    /// Bumped on every local change; each live subscription watches it.
    wake: watch::Sender<u64>,
    /// What carries requests instead of HTTP (a simulation's network), if anything.
    exchange: Option<Arc<dyn Exchange>>,
}

/// The device side of sync. Cheap to clone (clones share tokens and the store).
#[derive(Clone)]
pub struct SyncClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncClient")
            .field("device", &self.inner.device)
            .finish_non_exhaustive()
    }
}

/// Whether `reply` says the relay no longer holds the envelope this device was given at the
/// checkpoint it asked about (`check=`): another id there, or none. No answer (a relay or a
/// proxy that does not give it) says nothing.
fn lost_since(reply: &Reply, (seq, id): (u64, EnvelopeId)) -> bool {
    let lost = reply
        .check
        .as_deref()
        .is_some_and(|c| c != hex::encode(id.0));
    if lost {
        tracing::warn!(seq, answer = ?reply.check, "the relay no longer holds what it acknowledged");
    }
    lost
}

/// A 2xx answer: its status, its body, and the `holdfast-check` header if it had one.
pub(super) struct Reply {
    status: StatusCode,
    body: Vec<u8>,
    check: Option<String>,
}

/// A request to build (again, for each retry).
struct Call<'a> {
    method: Method,
    path: String,
    body: Body<'a>,
    auth: bool,
    /// Largest body accepted in the answer.
    max_response: usize,
}

enum Body<'a> {
    None,
    Json(serde_json::Value),
    Bytes(&'a [u8]),
}

/// Which step of a login failed: the challenge (its request already retried), or the token
/// request (sent once: its challenge may be spent).
enum Login {
    Challenge(Error),
    /// With the wait the relay asked for (`Retry-After`), if any.
    Token(Error, Option<Duration>),
}

/// How a failed attempt ends: retry after a wait, or give up with this error.
enum Failure {
    Retry(Error, Option<Duration>),
    Reauth(Error),
    Fatal(Error),
}

/// JSON bodies are small; anything bigger is not an answer from our relay.
const MAX_JSON_RESPONSE: usize = 4 * 1024 * 1024;
/// The most pages one sync reads of a team's envelopes, membership or key bundles: far
/// more than a real team needs (10,000 pages of 500 envelopes are 5 million), few enough
/// that a relay answering `more` for ever cannot hold the sync.
pub(super) const MAX_PAGES_PER_PULL: usize = 10_000;
/// Refresh a token this long before the relay says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(30);

pub(super) fn network(e: reqwest::Error) -> Error {
    // Without the URL (short, the same for every request), with the causes (the useful part).
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    Error::Network(message)
}

/// A request that got no answer. A certificate the client refused is final (retrying
/// cannot help, and nothing was sent); anything else is the network, retried.
fn send_failure(e: reqwest::Error) -> Failure {
    match super::tls::refusal(&e) {
        Some(why) => Failure::Fatal(Error::Tls(why)),
        None => Failure::Retry(network(e), None),
    }
}

/// An answer's status, headers and body.
type Answer = (StatusCode, reqwest::header::HeaderMap, Vec<u8>);

/// Sends `call` over HTTP and reads the answer, refusing one past `call.max_response`
/// (past [`MAX_JSON_RESPONSE`] for an error) as it arrives.
async fn sent(
    http: &reqwest::Client,
    base: &str,
    call: &Call<'_>,
    token: Option<String>,
) -> std::result::Result<Answer, Failure> {
    let mut req = http.request(call.method.clone(), format!("{base}{}", call.path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req = match &call.body {
        Body::None => req,
        Body::Json(v) => req.json(v),
        Body::Bytes(b) => req
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(b.to_vec()),
    };
    let mut resp = req.send().await.map_err(send_failure)?;
    let status = resp.status();
    let limit = if status.is_success() {
        call.max_response
    } else {
        MAX_JSON_RESPONSE
    };
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(Failure::Fatal(api::oversized(limit)));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return Err(Failure::Retry(network(e), None)),
        }
    }
    Ok((status, resp.headers().clone(), body))
}

/// Hands `call` to `exchange` (a simulation's network) with the headers HTTP would carry.
async fn exchanged(
    exchange: &dyn Exchange,
    base: &str,
    call: &Call<'_>,
    token: Option<String>,
) -> std::result::Result<Answer, Failure> {
    use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        let value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| Failure::Fatal(api::bad_response("token")))?;
        headers.insert(AUTHORIZATION, value);
    }
    let body = match &call.body {
        Body::None => Vec::new(),
        Body::Json(v) => {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            serde_json::to_vec(v).map_err(|e| Failure::Fatal(Error::Internal(e.to_string())))?
        }
        Body::Bytes(b) => {
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            b.to_vec()
        }
    };
    let request = ExchangeRequest {
        method: call.method.clone(),
        path: call.path.clone(),
        headers,
        body,
    };
    match exchange.exchange(base, request).await {
        Ok(answer) => Ok((answer.status, answer.headers, answer.body)),
        Err(e) => Err(Failure::Retry(Error::Network(e), None)),
    }
}

/// The origin a relay URL's signatures are bound to (`http://host:port`).
fn origin_of(base: &str) -> Result<String> {
    Ok(reqwest::Url::parse(base)
        .map_err(|_| Error::InvalidInput {
            field: "relay URL",
            reason: "not a URL".into(),
        })?
        .origin()
        .ascii_serialization())
}

/// The team a request path names (`/v1/teams/{team}/…`), if it names one.
fn team_in_path(path: &str) -> Option<TeamId> {
    let rest = path.strip_prefix("/v1/teams/")?;
    rest.get(..32)?.parse().ok()
}

/// Whether the relay refused a push because it carries private notes this device may not
/// write (`403 private_notes`).
fn refused_private_notes(e: &Error) -> bool {
    matches!(e, Error::Relay { status: 403, code, .. } if code == "private_notes")
}

/// Whether an error means the relay could not be reached (the app shows "offline").
pub(super) fn is_offline(e: &Error) -> bool {
    matches!(e, Error::Network(_)) || matches!(e, Error::Relay { status, .. } if *status >= 500)
}

impl SyncClient {
    /// A client for the store's device. Call from inside a tokio runtime.
    pub fn new(store: SharedStore, config: SyncConfig) -> Result<Self> {
        Self::made(store, config, None)
    }

    /// A client whose requests go to `exchange` instead of over HTTP: for a simulation
    /// that runs the relay in-process and decides what the network does with each request
    /// (see [`Exchange`]). Live sockets are not carried.
    #[cfg(feature = "simulation")]
    pub fn with_exchange(
        store: SharedStore,
        config: SyncConfig,
        exchange: Arc<dyn Exchange>,
    ) -> Result<Self> {
        Self::made(store, config, Some(exchange))
    }

    fn made(
        store: SharedStore,
        config: SyncConfig,
        exchange: Option<Arc<dyn Exchange>>,
    ) -> Result<Self> {
        let (device, signer, clock) = {
            let s = store.lock()?;
            (s.author().device, s.signer(), s.clock().clone())
        };
        let transport = super::tls::Transport::new(&config);
        Ok(SyncClient {
            inner: Arc::new(Inner {
                store,
                transport,
                config,
                device,
                signer,
                clock,
                tokens: Mutex::new(HashMap::new()),
                team_locks: Mutex::new(HashMap::new()),
                wake: watch::Sender::new(0),
                exchange,
            }),
        })
    }

    /// This device.
    pub(super) fn device_id(&self) -> DeviceId {
        self.inner.device
    }

    /// Signs `message` with this device's key (it never leaves the process).
    pub(super) fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.inner.signer.sign(message)
    }

    /// The shared store this client syncs.
    pub fn store(&self) -> &SharedStore {
        &self.inner.store
    }

    /// The client's configuration.
    pub fn config(&self) -> &SyncConfig {
        &self.inner.config
    }

    pub(super) fn transport(&self) -> &super::tls::Transport {
        &self.inner.transport
    }

    /// What live subscriptions wait on for local changes.
    pub(super) fn wake(&self) -> watch::Receiver<u64> {
        self.inner.wake.subscribe()
    }

    /// Tells live subscriptions that there are local changes to push (a change made while
    /// a subscription is busy syncing is not missed: it syncs again afterwards).
    pub fn notify_local_change(&self) {
        self.inner.wake.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The team's sync status.
    pub async fn status(&self, team: TeamId) -> Result<SyncStatus> {
        self.inner.store.run(move |s| s.sync_status(team)).await
    }

    pub(super) async fn relay_url(&self, team: TeamId) -> Result<String> {
        self.inner
            .store
            .run(move |s| Ok(s.team(team)?.relay_url))
            .await
    }

    // ----------------------------------------------------------------------------------
    // Requests

    /// Sends `call` to the relay at `base`, retrying as the policy allows; returns the body
    /// of a 2xx answer (with its status).
    async fn send(&self, base: &str, call: &Call<'_>) -> Result<Reply> {
        let retry = self.inner.config.retry;
        let mut attempt = 0u32;
        let mut reauthed = false;
        loop {
            let failure = match self.attempt(base, call).await {
                Ok(answer) => return Ok(answer),
                Err(f) => f,
            };
            match failure {
                Failure::Fatal(e) => return Err(e),
                Failure::Reauth(e) => {
                    // A token the relay no longer accepts (expired, relay secret rotated):
                    // one fresh login, then give up.
                    *self.token_slot(base).await.lock().await = None;
                    if reauthed || !call.auth {
                        return Err(e);
                    }
                    reauthed = true;
                }
                Failure::Retry(e, after) => {
                    attempt += 1;
                    if attempt >= retry.attempts.max(1) {
                        return Err(e);
                    }
                    let wait = after
                        .map(|a| a.min(retry.max_delay))
                        .unwrap_or_else(|| retry.delay(attempt - 1));
                    tracing::debug!(path = %call.path, attempt, wait_ms = wait.as_millis() as u64, error = %e, "retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn attempt(&self, base: &str, call: &Call<'_>) -> std::result::Result<Reply, Failure> {
        // A URL the plain-http rule refuses, or a trust that cannot be set up: final, and
        // nothing is sent.
        let http = self.http_for(base).await.map_err(Failure::Fatal)?;
        let token = if call.auth {
            // Final either way: `token` has already spent the retry budget on its login.
            Some(self.token(base).await.map_err(Failure::Fatal)?)
        } else {
            None
        };
        let (status, headers, body) = match &self.inner.exchange {
            Some(exchange) => exchanged(exchange.as_ref(), base, call, token).await?,
            None => sent(&http, base, call, token).await?,
        };
        let limit = if status.is_success() {
            call.max_response
        } else {
            MAX_JSON_RESPONSE
        };
        if body.len() > limit {
            return Err(Failure::Fatal(api::oversized(limit)));
        }
        if status.is_success() {
            let check = headers
                .get(holdfast_protocol::CHECK_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            return Ok(Reply {
                status,
                body,
                check,
            });
        }
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let parsed: Option<ErrorBody> = serde_json::from_slice(&body).ok();
        let (code, message) = match parsed {
            Some(b) => (b.code, b.message),
            None => (
                format!("http_{}", status.as_u16()),
                status.canonical_reason().unwrap_or("error").to_owned(),
            ),
        };
        // `403 revoked`: the relay's log shows this device revoked from the team the path
        // names (it cannot pull the entry that says so: every route refuses it).
        if status == StatusCode::FORBIDDEN
            && code == "revoked"
            && let Some(team) = team_in_path(&call.path)
        {
            return Err(Failure::Fatal(Error::Revoked {
                team: team.to_string(),
            }));
        }
        let e = Error::Relay {
            status: status.as_u16(),
            code,
            message,
        };
        Err(match status {
            StatusCode::TOO_MANY_REQUESTS => Failure::Retry(e, retry_after),
            s if s.is_server_error() => Failure::Retry(e, retry_after),
            StatusCode::UNAUTHORIZED if call.auth => Failure::Reauth(e),
            _ => Failure::Fatal(e),
        })
    }

    pub(super) async fn json<T: for<'de> Deserialize<'de>>(
        &self,
        base: &str,
        method: Method,
        path: String,
        body: Option<serde_json::Value>,
        auth: bool,
    ) -> Result<(StatusCode, T)> {
        let call = Call {
            method,
            path,
            body: body.map(Body::Json).unwrap_or(Body::None),
            auth,
            max_response: MAX_JSON_RESPONSE,
        };
        let reply = Box::pin(self.send(base, &call)).await?;
        let value = serde_json::from_slice(&reply.body).map_err(|_| api::bad_response("JSON"))?;
        Ok((reply.status, value))
    }

    /// The token slot of the relay at `base`.
    async fn token_slot(&self, base: &str) -> TokenSlot {
        let mut tokens = self.inner.tokens.lock().await;
        tokens.entry(base.to_owned()).or_default().clone()
    }

    /// A bearer token for the relay at `base`: the cached one, or a fresh login.
    async fn token(&self, base: &str) -> Result<String> {
        let slot = self.token_slot(base).await;
        let mut cached = slot.lock().await;
        if let Some(t) = cached.as_ref()
            && self.inner.clock.now_ms() < t.refresh_at
        {
            return Ok(t.value.clone());
        }
        let origin = origin_of(base)?;
        // A challenge is good for one answer, so the token request is sent once: when it
        // gets no answer (the relay may have spent the challenge), or a 5xx or 429, the next
        // try is a new login from a fresh challenge, as many times as the retry policy
        // allows, after the wait the relay asked for or the policy's; still failing, it is
        // the network's failure. A refusal from a fresh challenge is tried twice more,
        // whatever the policy (the relay may have restarted between the challenge and the
        // answer, forgetting it; or the network delivered the token request twice, and the
        // second copy was refused), then reported: a device the relay truly refuses
        // (revoked, unknown) costs three logins. A failed challenge request was retried as
        // any request is, and is final.
        let retry = self.inner.config.retry;
        let (mut failed, mut refused) = (0u32, 0u32);
        let t = loop {
            let (e, after) = match self.login(base, &origin).await {
                Ok(t) => break t,
                Err(Login::Challenge(e)) => return Err(e),
                Err(Login::Token(e, after)) => (e, after),
            };
            let wait = if matches!(e, Error::Relay { status: 401, .. }) {
                refused += 1;
                if refused >= 3 {
                    return Err(e);
                }
                retry.delay(refused - 1)
            } else if is_offline(&e) || matches!(e, Error::Relay { status: 429, .. }) {
                failed += 1;
                if failed >= retry.attempts.max(1) {
                    return Err(e);
                }
                after
                    .map(|a| a.min(retry.max_delay))
                    .unwrap_or_else(|| retry.delay(failed - 1))
            } else {
                return Err(e);
            };
            tracing::debug!(device = %self.inner.device, error = %e, "login failed; again from a fresh challenge");
            tokio::time::sleep(wait).await;
        };
        let lifetime = Duration::from_secs(t.expires_in);
        let refresh_in = lifetime.saturating_sub(TOKEN_MARGIN.min(lifetime / 2));
        let refresh_at = self
            .inner
            .clock
            .now_ms()
            .saturating_add(u64::try_from(refresh_in.as_millis()).unwrap_or(u64::MAX));
        *cached = Some(Token {
            value: t.token.clone(),
            refresh_at,
        });
        tracing::debug!(device = %self.inner.device, "signed in to the relay");
        Ok(t.token)
    }

    /// One login at the relay at `base`: a challenge, signed, exchanged for a token.
    async fn login(&self, base: &str, origin: &str) -> std::result::Result<TokenResponse, Login> {
        let challenged = async {
            let ask = serde_json::to_value(ChallengeRequest {
                device: self.inner.device.to_string(),
            })
            .map_err(|_| api::bad_response("challenge request"))?;
            let (_, ch): (_, ChallengeResponse) = self
                .json(
                    base,
                    Method::POST,
                    "/v1/auth/challenge".into(),
                    Some(ask),
                    false,
                )
                .await?;
            let challenge = api::hex_array::<CHALLENGE_LEN>(&ch.challenge, "challenge")?;
            let device = self.inner.device;
            let signature: [u8; SIGNATURE_LEN] =
                sign_auth(&self.inner.signer, origin, &device, &challenge)?;
            serde_json::to_value(TokenRequest {
                device: device.to_string(),
                challenge: ch.challenge,
                signature: api::signature_hex(&signature),
            })
            .map_err(|_| api::bad_response("token request"))
        };
        let body = challenged.await.map_err(Login::Challenge)?;
        // Once: see `token`.
        let call = Call {
            method: Method::POST,
            path: "/v1/auth/token".into(),
            body: Body::Json(body),
            auth: false,
            max_response: MAX_JSON_RESPONSE,
        };
        let reply = match Box::pin(self.attempt(base, &call)).await {
            Ok(reply) => reply,
            Err(Failure::Retry(e, after)) => return Err(Login::Token(e, after)),
            Err(Failure::Reauth(e) | Failure::Fatal(e)) => return Err(Login::Token(e, None)),
        };
        serde_json::from_slice(&reply.body)
            .map_err(|_| Login::Token(api::bad_response("JSON"), None))
    }

    /// A bearer token for the relay of `team`, for the live subscription.
    pub(super) async fn token_for(&self, team: TeamId) -> Result<(String, String)> {
        let base = self.relay_url(team).await?;
        let token = self.token(&base).await?;
        Ok((base, token))
    }

    // ----------------------------------------------------------------------------------
    // Teams and devices

    /// Registers `team` with the relay if this device created it and the relay does not
    /// know it yet: its self-signed genesis entry (no device token; the team-creation token
    /// of [`SyncConfig::creation_token`], if the relay's operator gave one).
    pub async fn register_team(&self, team: TeamId) -> Result<()> {
        let (info, genesis) = self
            .inner
            .store
            .run(move |s| {
                let info = s.team(team)?;
                let genesis = if info.created_here && !info.registered {
                    Some(s.genesis(team)?)
                } else {
                    None
                };
                Ok((info, genesis))
            })
            .await?;
        let Some(genesis) = genesis else {
            return Ok(());
        };
        let mut body = serde_json::json!({ "genesis": hex::encode(genesis) });
        if let Some(CreationToken(token)) = &self.inner.config.creation_token {
            body["creation_token"] = token.clone().into();
        }
        let result: Result<(StatusCode, serde_json::Value)> = self
            .json(
                &info.relay_url,
                Method::POST,
                "/v1/teams".into(),
                Some(body),
                false,
            )
            .await;
        match result {
            Ok(_) => {}
            // Our own earlier attempt may have landed before its answer was lost; if the
            // team is somebody else's, the membership pull says so.
            Err(Error::Relay { code, .. }) if code == "team_exists" => {}
            Err(e) => return Err(e),
        }
        self.inner
            .store
            .run(move |s| s.mark_registered(team))
            .await?;
        tracing::info!(team = %team, "team registered with the relay");
        Ok(())
    }

    /// A pull page's bytes from `path` at the relay at `base` (checked by the caller).
    pub(super) async fn page_bytes(&self, base: &str, path: String) -> Result<Vec<u8>> {
        let call = Call {
            method: Method::GET,
            path,
            body: Body::None,
            auth: true,
            max_response: MAX_PAGE_BYTES,
        };
        Ok(self.send(base, &call).await?.body)
    }

    /// The team's highest sequence number at the relay.
    pub async fn head(&self, team: TeamId) -> Result<u64> {
        let base = self.relay_url(team).await?;
        let (_, h): (_, TeamHead) = self
            .json(&base, Method::GET, format!("/v1/teams/{team}"), None, true)
            .await?;
        self.inner
            .store
            .run(move |s| s.note_head(team, h.head).map(|_| ()))
            .await?;
        Ok(h.head)
    }

    // ----------------------------------------------------------------------------------
    // Push

    /// Seals the team's pending outbox changes (once) and pushes every unacknowledged
    /// envelope in batches. Outbox rows go only when the relay lists their envelope, or
    /// when their envelope is withdrawn undelivered: private notes this device may no
    /// longer write ([`crate::Store::withdraw_unwritable_notes`]).
    pub async fn push(&self, team: TeamId) -> Result<PushReport> {
        self.register_team(team).await?;
        let base = self.relay_url(team).await?;
        let (sealed, withdrawn) = self
            .inner
            .store
            .run(move |s| {
                s.reseal_stale(team)?;
                let sealed = s.seal_outbox(team)?;
                Ok((sealed, s.withdraw_unwritable_notes(team)?))
            })
            .await?;
        let mut report = PushReport {
            sealed,
            withdrawn,
            ..PushReport::default()
        };
        let max_count = self
            .inner
            .config
            .push_batch
            .clamp(1, holdfast_protocol::MAX_BATCH);
        // Room for the batch framing: header, signature, 4 bytes per envelope.
        let max_bytes = MAX_PUSH_BYTES - PUSH_HEADER_LEN - SIGNATURE_LEN - 4 * max_count;
        // Does the relay still hold what it last acknowledged or served? Asked with the
        // first batch, and settled before this push's acknowledgements become checkpoints
        // (else they would hide that it lost what came before them).
        let mut check = self.latest_checkpoint(team).await?;
        let mut relearned = false;
        loop {
            let pending = self
                .inner
                .store
                .run(move |s| s.pending_envelopes(team, max_count, max_bytes))
                .await?;
            if pending.is_empty() {
                break;
            }
            let refs: Vec<&[u8]> = pending.iter().map(|p| p.bytes.as_slice()).collect();
            let timestamp = self.inner.clock.now_ms();
            let batch = PushBatch::encode(
                &team,
                &self.inner.device,
                &self.inner.signer,
                timestamp,
                &refs,
            )?;
            let asked = check
                .map(|(seq, _)| format!("?check={seq}"))
                .unwrap_or_default();
            let call = Call {
                method: Method::POST,
                path: format!("/v1/teams/{team}/envelopes{asked}"),
                body: Body::Bytes(&batch),
                auth: true,
                max_response: MAX_JSON_RESPONSE,
            };
            let reply = match self.send(&base, &call).await {
                Ok(reply) => reply,
                // The relay's roster says this device may not write private notes the
                // batch carries, and this device's does not yet (a role change it has not
                // pulled: a push on its own, or a demotion landing since its membership
                // pull). Learn the membership, withdraw what it may no longer write, and
                // push the rest; once: a relay that still refuses gets its answer back.
                Err(e) if refused_private_notes(&e) && !relearned => {
                    relearned = true;
                    report.requests += 1;
                    tracing::info!(team = %team, "push refused for private notes: membership pulled again");
                    self.sync_access(team).await?;
                    let withdrawn = self
                        .inner
                        .store
                        .run(move |s| s.withdraw_unwritable_notes(team))
                        .await?;
                    if withdrawn == 0 {
                        return Err(e);
                    }
                    report.withdrawn += withdrawn;
                    continue;
                }
                Err(e) => return Err(e),
            };
            report.requests += 1;
            let answer: PushResponse = serde_json::from_slice(&reply.body)
                .map_err(|_| api::bad_response("push answer"))?;
            let ids: Vec<(EnvelopeId, u64)> = answer
                .results
                .iter()
                .map(|r| {
                    api::hex_array::<32>(&r.id, "envelope id").map(|id| (EnvelopeId(id), r.seq))
                })
                .collect::<Result<_>>()?;
            let sent: Vec<EnvelopeId> = pending.iter().map(|p| p.id).collect();
            if ids.iter().any(|(id, _)| !sent.contains(id)) {
                return Err(api::bad_response("acknowledgement of an envelope not sent"));
            }
            if ids.iter().any(|(_, seq)| *seq == 0 || *seq > answer.head) {
                return Err(api::bad_response(
                    "an acknowledgement numbered past the head it gave",
                ));
            }
            if let Some(checkpoint) = check.take()
                && lost_since(&reply, checkpoint)
            {
                report.restarted = Some(self.restart_after_restore(&base, team).await?);
            }
            let head = answer.head;
            let acked = self
                .inner
                .store
                .run(move |s| {
                    let n = s.acknowledge_push(team, &ids, head)?;
                    s.note_head(team, head)?;
                    Ok(n)
                })
                .await?;
            report.acknowledged += acked;
            tracing::debug!(team = %team, sent = sent.len(), acked, "pushed");
            if acked == 0 {
                // The relay confirmed none of what was sent: stop rather than loop.
                return Err(api::bad_response("push answer without acknowledgements"));
            }
        }
        Ok(report)
    }

    // ----------------------------------------------------------------------------------
    // Pull

    /// Pulls everything after the team cursor, page by page, applying each page in one
    /// transaction. From cursor 0 it asks for snapshots plus later changes (`compact=1`).
    pub async fn pull(&self, team: TeamId) -> Result<PullReport> {
        self.pull_from(team, true).await
    }

    /// [`Self::pull`]; with `may_restart`, a relay found to no longer hold what it
    /// acknowledged restarts the pull once (a relay that keeps saying so is not believed
    /// twice in one pull).
    async fn pull_from(&self, team: TeamId, may_restart: bool) -> Result<PullReport> {
        let base = self.relay_url(team).await?;
        let (start, mut keys, mut roster) = self
            .inner
            .store
            .run(move |s| {
                Ok((
                    s.team(team)?.cursor,
                    s.team_keys(team)?.clone(),
                    Roster::from_access(s.access(team)?),
                ))
            })
            .await?;
        // The relay still holds what it last said it held? Asked with the first page.
        let mut check = self.latest_checkpoint(team).await?;
        let bootstrap = start == 0;
        let mut report = PullReport {
            bootstrap,
            cursor: start,
            ..PullReport::default()
        };
        let mut cursor = start;
        let mut retried = false;
        let mut pages_left = MAX_PAGES_PER_PULL;
        loop {
            pages_left = pages::one_more(pages_left, "pull")?;
            let compact = if bootstrap { "&compact=true" } else { "" };
            let asked = check
                .map(|(seq, _)| format!("&check={seq}"))
                .unwrap_or_default();
            let call = Call {
                method: Method::GET,
                path: format!(
                    "/v1/teams/{team}/envelopes?after={cursor}&limit={}{compact}{asked}",
                    self.inner.config.pull_limit
                ),
                body: Body::None,
                auth: true,
                max_response: MAX_PAGE_BYTES,
            };
            let reply = self.send(&base, &call).await?;
            if let Some(checkpoint) = check.take()
                && may_restart
                && lost_since(&reply, checkpoint)
            {
                // The relay's history parted from this device's: its database was restored,
                // or replaced. Find where they agree, pull again from there, and upload again
                // what it lost; then pull as if from the start.
                report.restarted = Some(self.restart_after_restore(&base, team).await?);
                return Box::pin(self.pull_from(team, false))
                    .await
                    .map(|mut again| {
                        again.restarted = report.restarted;
                        again
                    });
            }
            let bytes = reply.body;
            let page = PullPage::decode(&bytes).map_err(|e| Error::Unverified {
                what: "a pull page".into(),
                reason: e.to_string(),
            })?;
            pages::after_page(
                "pull",
                cursor,
                page.items.iter().map(|(seq, _)| *seq),
                page.next,
                page.more,
            )?;
            let me = self.inner.device;
            let (keys_c, roster_c) = (keys.clone(), roster.clone());
            // Signature checks and decryption: CPU work, outside the store lock.
            let opened = tokio::task::spawn_blocking(move || {
                open_page(team, &keys_c, &roster_c, me, cursor, &page)
            })
            .await
            .map_err(|e| Error::Internal(format!("pull task failed: {e}")))??;
            let more = opened.more;
            let blocked = opened.blocked;
            let outcome = self
                .inner
                .store
                .run(move |s| s.apply_page(team, opened, bootstrap))
                .await?;
            report.pages += 1;
            report.applied += outcome.applied;
            report.refused += outcome.refused;
            report.new_documents += outcome.new_documents;
            report.cursor = outcome.cursor;
            cursor = outcome.cursor;
            tracing::debug!(team = %team, cursor, applied = outcome.applied, refused = outcome.refused, "page applied");
            if let Some(seq) = blocked {
                if retried {
                    // Still waiting after membership and keys were pulled again: the next
                    // sync pulls every key bundle from the start, so a key cursor a lying
                    // relay moved past a bundle cannot keep this device from it for good.
                    self.inner
                        .store
                        .run(move |s| s.restart_key_pull(team).map(|_| ()))
                        .await?;
                    return Err(Error::TryAgain(format!(
                        "the envelope at {seq} waits for keys or membership this device does \
                         not have yet; the next sync tries again"
                    )));
                }
                // Membership and keys again (a revocation or an enrolment landed since),
                // then carry on from just before it.
                retried = true;
                self.sync_access(team).await?;
                (keys, roster) = self
                    .inner
                    .store
                    .run(move |s| {
                        Ok((
                            s.team_keys(team)?.clone(),
                            Roster::from_access(s.access(team)?),
                        ))
                    })
                    .await?;
                continue;
            }
            if !more {
                break;
            }
        }
        Ok(report)
    }

    /// The newest checkpoint of `team`: what to ask the relay about (`check=`).
    async fn latest_checkpoint(&self, team: TeamId) -> Result<Option<(u64, EnvelopeId)>> {
        self.inner
            .store
            .run(move |s| Ok(s.relay_checkpoints(team)?.into_iter().next()))
            .await
    }

    /// Asks the relay for the ids at every checkpoint this device keeps, takes the last
    /// where they agree (0 if none does), and restarts the team's pull from there with what
    /// the relay lost queued for upload again.
    async fn restart_after_restore(
        &self,
        base: &str,
        team: TeamId,
    ) -> Result<crate::store::Restarted> {
        let held = self
            .inner
            .store
            .run(move |s| s.relay_checkpoints(team))
            .await?;
        let mut agreed = 0;
        for chunk in held.chunks(holdfast_protocol::MAX_IDS_PER_REQUEST) {
            let at: Vec<String> = chunk.iter().map(|(seq, _)| seq.to_string()).collect();
            let (_, answer): (_, api::IdsResponse) = self
                .json(
                    base,
                    Method::GET,
                    format!("/v1/teams/{team}/envelopes/ids?at={}", at.join(",")),
                    None,
                    true,
                )
                .await?;
            if answer.ids.len() != chunk.len() {
                return Err(api::bad_response("envelope ids: one per number asked"));
            }
            // Newest first: the first that agrees is the last point of agreement.
            if let Some((seq, _)) = chunk.iter().zip(&answer.ids).find_map(|((seq, id), got)| {
                (got.as_deref() == Some(hex::encode(id.0).as_str())).then_some((*seq, ()))
            }) {
                agreed = seq;
                break;
            }
        }
        let restarted = self
            .inner
            .store
            .run(move |s| s.restart_after_restore(team, agreed))
            .await?;
        Ok(restarted)
    }

    // ----------------------------------------------------------------------------------
    // Whole sync

    /// One full sync of `team`: register if needed, push, pull, queue and push snapshots.
    /// The outcome (error or success) is recorded for [`SyncStatus`].
    pub async fn sync(&self, team: TeamId) -> Result<SyncReport> {
        self.recorded(team, self.sync_steps(team)).await
    }

    /// Runs `steps` of a sync of `team` (one at a time per team) and records the outcome,
    /// error or success, for [`SyncStatus`].
    pub(super) async fn recorded<T>(
        &self,
        team: TeamId,
        steps: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let lock = {
            let mut locks = self.inner.team_locks.lock().await;
            locks.entry(team).or_default().clone()
        };
        let _guard = lock.lock().await;
        let result = steps.await;
        let record = match &result {
            Ok(_) => None,
            Err(e) => Some((e.to_string(), is_offline(e))),
        };
        self.inner
            .store
            .run(move |s| {
                s.record_sync_outcome(team, record.as_ref().map(|(m, o)| (m.as_str(), *o)))
            })
            .await?;
        if let Err(e) = &result {
            tracing::warn!(team = %team, error = %e, "sync failed");
        }
        result
    }

    /// The pull half of a sync, alone: membership and keys, then the team's envelopes and
    /// any document pulled again ([`SyncClient::revoke_device`] runs it first, so that what
    /// fails it can only be the pull).
    pub(super) async fn pull_steps(&self, team: TeamId) -> Result<()> {
        self.register_team(team).await?;
        self.sync_access(team).await?;
        self.pull(team).await?;
        self.pull_documents_again(team).await
    }

    async fn sync_steps(&self, team: TeamId) -> Result<SyncReport> {
        self.register_team(team).await?;
        self.sync_access(team).await?;
        // Private-notes keys before the notes: a supervisor who pulls them can open them.
        self.share_private_notes_keys(team).await?;
        let push = self.push(team).await?;
        let pull = self.pull(team).await?;
        // Envelopes set aside for a key or a document that has come since: that document
        // again.
        self.pull_documents_again(team).await?;
        let threshold = self.inner.config.snapshot_after;
        let snapshots = self
            .inner
            .store
            .run(move |s| {
                // What a device this one revoked wrote, for devices that had not pulled it;
                // what a restored relay lost, now that the pull holds what it holds again.
                let revoked = s.queue_pending_author_snapshots(team)?;
                let restored = s.queue_pending_reuploads(team)?;
                Ok(revoked + restored + s.queue_snapshots(team, threshold)?)
            })
            .await?;
        let mut report = SyncReport {
            push,
            pull,
            snapshots,
        };
        if snapshots > 0 {
            let more = self.push(team).await?;
            report.push.acknowledged += more.acknowledged;
            report.push.requests += more.requests;
            report.push.withdrawn += more.withdrawn;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_403_private_notes_is_a_refusal_for_private_notes() {
        let relay = |status, code: &str| Error::Relay {
            status,
            code: code.into(),
            message: String::new(),
        };
        assert!(refused_private_notes(&relay(403, "private_notes")));
        assert!(!refused_private_notes(&relay(403, "not_allowed")));
        assert!(!refused_private_notes(&relay(400, "private_notes")));
        assert!(!refused_private_notes(&Error::Network("down".into())));
    }

    #[test]
    fn the_team_a_request_names_is_read_from_its_path() {
        let team = TeamId([0xab; 16]);
        assert_eq!(
            team_in_path(&format!("/v1/teams/{team}/envelopes?after=3")),
            Some(team)
        );
        assert_eq!(team_in_path(&format!("/v1/teams/{team}")), Some(team));
        assert_eq!(team_in_path("/v1/auth/token"), None);
        assert_eq!(team_in_path("/v1/teams/abc/keys"), None);
        assert_eq!(
            team_in_path("/v1/teams/ééééééééééééééééé"),
            None,
            "not a char boundary"
        );
    }
}
