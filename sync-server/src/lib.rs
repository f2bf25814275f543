//! # holdfast-relay
//!
//! The Holdfast relay stores and forwards end-to-end encrypted envelopes it cannot read.
//! Devices push envelopes in signed batches; the relay checks who pushed them (one
//! signature per batch), stores the ciphertext, gives each envelope a per-team sequence
//! number and serves "envelopes of team T after N" as pull pages, with a WebSocket that
//! announces new heads. It never links Automerge or `holdfast-core`: all it sees are the
//! clear envelope headers (team, document, kind, key epoch, author, size). Wire formats
//! come from `holdfast-protocol` (see docs/PROTOCOL.md).
//!
//! The relay is a library: [`app`] builds the router over an [`AppState`], [`serve`] runs
//! it on the backend the configuration names (the embedded SQLite database, or PostgreSQL
//! with `--database postgres://…`), [`serve_with`] on any [`Storage`]; `main.rs` only
//! parses flags, sets up logging and waits for SIGTERM/SIGINT.
//!
//! With `--tls-cert` and `--tls-key` ([`Config::tls_cert`]) the relay serves HTTPS and WSS
//! itself, reloading the pair on SIGHUP ([`RunningRelay::reload_tls`]); see [`tls`]. Without
//! them it serves plain HTTP, for loopback or behind a TLS proxy.
//!
//! Every "now" the relay reads (token, challenge and invite expiry, timestamp freshness,
//! rate limits, cache expiry, envelopes' arrival) comes from [`Config::clock`], the system
//! clock unless a test or simulation sets a `holdfast_protocol::ManualClock` and moves it.
//!
//! ```no_run
//! # async fn run() -> holdfast_relay::Result<()> {
//! let config = holdfast_relay::Config::new("/var/lib/holdfast-relay");
//! let relay = holdfast_relay::serve(config).await?;
//! println!("listening on {}", relay.url());
//! // … later, on SIGTERM:
//! relay.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! ## HTTP API (v1)
//!
//! JSON is UTF-8, ids and byte strings are lowercase hex, binary bodies are
//! `application/octet-stream`. Team routes need `Authorization: Bearer <token>` and an
//! active membership; a device that is not an active member gets `403` on every one of
//! them, whether the team exists or not. Membership entries (`HFM1`) and key bundles
//! (`HFK1`) are built with `holdfast_protocol`; the relay folds the log exactly as devices
//! do (`holdfast_protocol::Membership`), with its own clock for invite expiry.
//!
//! | method and path | who | request | response |
//! |---|---|---|---|
//! | `POST /v1/teams` | anyone the operator allows (see [`team_creation`]) | `{"genesis", "creation_token"?}` | `201 {"team", "head": 0, "device", "role": "admin", "epoch": 1, "membership_len": 1}` |
//! | `POST /v1/auth/challenge` | anyone | `{"device"}` | `{"challenge", "expires_in"}` |
//! | `POST /v1/auth/token` | anyone | `{"device", "challenge", "signature"}` | `{"token", "expires_in"}` |
//! | `GET /v1/teams/{team}` | member | — | `{"team", "head", "device", "role", "epoch", "membership_len"}` |
//! | `GET /v1/teams/{team}/membership?from=N&limit=M` | member | — | `{"entries": [{"seq", "entry"}], "len", "more"}` (patients: without other patients' entries) |
//! | `POST /v1/teams/{team}/membership` | member (the fold decides) | `{"entry", "bundles", "expected_len"}` | `201 {"seq", "epoch", "membership_len"}` |
//! | `GET /v1/teams/{team}/invites/{invite}` | anyone | — | `{"entry", "genesis"}` |
//! | `POST /v1/teams/{team}/invites/{invite}/redeem` | anyone | `{"entry"}` | `201 {"seq", "device", "role", "epoch", "membership_len"}` |
//! | `POST /v1/teams/{team}/keys/staged` | admin, link worker | `{"key_commitment", "bundles"}` | `201 {"staged"}` |
//! | `GET /v1/teams/{team}/keys?after=N&limit=M` | member | — | `{"bundles": [{"seq", "bundle"}], "next", "more"}` |
//! | `POST /v1/teams/{team}/keys/ack` | member | `{"up_to", "signature"}` | `{"deleted"}` |
//! | `POST /v1/teams/{team}/keys/private-notes` | staff | `{"bundles"}` (to active supervisors and admins) | `201 {"stored"}` |
//! | `GET /v1/teams/{team}/devices` | staff | — | `{"devices": [{"device", "public_key", "hpke_key", "role", "plan", "added_at", "added_by", "revoked_at"}]}` |
//! | `POST /v1/teams/{team}/envelopes` | member (patient: its plan) | a push batch (`HFP1`) | `{"results": [{"id", "seq", "duplicate"}], "head"}` |
//! | `GET /v1/teams/{team}/envelopes?after=N&limit=M&compact=true\|1&doc=D` | member (patient: its plan) | — | a pull page (`HFL1`) |
//! | `GET /v1/teams/{team}/envelopes/ids?at=S1,S2,…` | member | — | `{"ids": [hex \| null, …]}` (at most 256 numbers) |
//! | `GET /v1/teams/{team}/live` | member | WebSocket | text frames `{"seq": N}` |
//! | `GET /healthz` | anyone | — | `200 {"status": "ok"}` or `503` |
//! | `GET /metrics` | anyone | — | Prometheus text |
//!
//! Errors are `{"code", "message"}` with a stable [`ErrorCode`]: `bad_request`,
//! `unauthorized`, `forbidden`, `revoked` (to a device revoked from the team), `not_allowed`
//! (403), `not_found`, `no_such_invite` (404),
//! `method_not_allowed`, `team_exists`, `device_key_conflict`, `membership_conflict`,
//! `invite_used`, `stale_epoch` (409), `too_many_invites` (429), `team_creation_refused` (403), `invite_expired`,
//! `invite_cancelled` (410), `payload_too_large`,
//! `batch_too_large`, `envelope_too_large`, `team_quota_exceeded` (413), `bad_batch`, `bad_signature` (403 for a
//! membership entry), `wrong_author`, `wrong_team`, `stale_timestamp`,
//! `missing_key_bundles` (400), `rate_limited`, `too_many_sockets` (429, with `Retry-After`), `timeout`,
//! `unavailable` (503), `storage_full` (507, with `Retry-After`: the disk is full, nothing of
//! the request was stored) and `internal` (500, message always "internal error").

mod address;
mod auth;
pub mod config;
mod connections;
mod error;
mod limits;
mod membership;
pub mod metrics;
mod routes;
mod state;
pub mod storage;
pub mod team_creation;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use auth::{Authenticated, TOKEN_KEY_FILE, TeamMember, TokenError, TokenKey};
// Limits fixed in the routes (not flags): docs/PROTOCOL.md states them, and a test checks it.
pub use config::{Config, DatabaseUrl, Limits, LogFormat};
pub use error::{ApiError, Error, ErrorCode, INTERNAL_MESSAGE, Result};
pub use routes::MAX_JSON_BODY;
pub use routes::access::{
    DEFAULT_KEYS_LIMIT, DEFAULT_LOG_LIMIT, MAX_KEYS_LIMIT, MAX_LOG_LIMIT, MAX_PAGE_ITEM_BYTES,
};
pub use routes::live::PING_INTERVAL;
pub use state::AppState;
pub use storage::{PgStorage, SqliteStorage, Storage};
pub use team_creation::{CreationToken, TeamCreation, TeamCreationPolicy};

/// The relay's router over `state`: every route, with its middleware.
pub fn app<S: Storage>(state: AppState<S>) -> Router {
    routes::router(state)
}

/// Starts the relay on the backend `config.database` names: PostgreSQL for a `postgres://`
/// URL, otherwise the embedded SQLite database in `config.data_dir`.
pub async fn serve(config: Config) -> Result<RunningRelay> {
    config.validate()?;
    if let Some(url) = &config.database {
        let options = storage::postgres::PgOptions {
            pool_size: config.limits.database_pool_size,
        };
        tracing::info!(database = %url, "connecting to PostgreSQL");
        let storage = PgStorage::open_with(url.expose(), options).await?;
        return serve_with(config, storage).await;
    }
    prepare_data_dir(&config.data_dir)?;
    let path = storage::sqlite::database_path(&config.data_dir);
    let options = storage::sqlite::SqliteOptions {
        read_connections: config.limits.read_connections,
        ..Default::default()
    };
    let storage = tokio::task::spawn_blocking(move || SqliteStorage::open_with(path, options))
        .await
        .map_err(|e| Error::Server(format!("opening storage: {e}")))??;
    serve_with(config, storage).await
}

/// Starts the relay on `storage`: binds `config.listen`, loads (or creates) the token key
/// in `config.data_dir`, and serves until [`RunningRelay::shutdown`].
pub async fn serve_with<S: Storage>(config: Config, storage: S) -> Result<RunningRelay> {
    config.validate()?;
    prepare_data_dir(&config.data_dir)?;
    let rng = holdfast_protocol::SystemRandom::new();
    let tokens = token_key(&storage, &config.data_dir, &rng).await?;
    // Before binding: a certificate that does not load stops the start, with the reason.
    let certificates = config
        .tls_files()
        .map(|files| tls::Certificates::load(files).map(std::sync::Arc::new))
        .transpose()?;
    let listener = TcpListener::bind(config.listen).await?;
    let local_addr = listener.local_addr()?;
    let scheme = if certificates.is_some() {
        "https"
    } else {
        "http"
    };
    let origin = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{local_addr}"));
    tls::warn_if_plain_on_the_network(local_addr, certificates.is_some(), &origin);
    storage.set_team_quota(config.limits.team_quota());
    let team_creation = config.team_creation_policy()?;
    tracing::info!(team_creation = %team_creation.describe(), "who may create teams");
    let state = AppState::new(
        storage,
        config.limits.clone(),
        origin.clone(),
        tokens,
        config.clock.clone(),
        team_creation,
    );
    let drain = config.limits.shutdown_timeout();
    let tls_counters = state.metrics().tls.clone();
    let handshakes = certificates
        .as_ref()
        .map(|c| tls::Handshakes::new(c, tls_counters.clone()))
        .transpose()?;
    let task = tokio::spawn(run(listener, handshakes, state.clone(), drain));
    tracing::info!(address = %local_addr, origin = %origin, tls = certificates.is_some(), data_dir = %config.data_dir.display(), "relay listening");
    Ok(RunningRelay {
        local_addr,
        origin,
        scheme,
        certificates,
        tls_counters,
        shutdown: Box::new(move || state.request_shutdown()),
        task,
    })
}

/// Serves until a shutdown is requested, then drains: stop accepting, let in-flight
/// requests finish (up to `drain`), close WebSockets, let the writer finish its queue.
async fn run<S: Storage>(
    listener: TcpListener,
    handshakes: Option<tls::Handshakes>,
    state: AppState<S>,
    drain: Duration,
) -> Result<()> {
    let server = connections::serve(listener, handshakes, app(state.clone()), state.clone());
    let mut server = tokio::spawn(server);

    let served = tokio::select! {
        result = &mut server => result,
        () = state.shutdown_requested() => {
            tracing::info!(drain_secs = drain.as_secs(), "shutting down: draining requests");
            match tokio::time::timeout(drain, &mut server).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!("drain timeout: dropping the requests still in flight");
                    server.abort();
                    Ok(Ok(()))
                }
            }
        }
    };
    // WebSockets were told to close when the shutdown began; give them a moment.
    if tokio::time::timeout(Duration::from_secs(2), state.live_sessions_closed())
        .await
        .is_err()
    {
        tracing::warn!("some live sockets did not close in time");
    }
    // Whatever reached the writer is committed before the database closes.
    let closed = state.storage().close().await;
    tracing::info!("relay stopped");
    match served {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(Error::Io(e)),
        Err(e) => return Err(Error::Server(e.to_string())),
    }
    closed.map_err(Error::from)
}

/// The key bearer tokens are signed with: for a database several relays share, the one
/// stored in it (so a token from one relay is good at every other); otherwise the file
/// [`TOKEN_KEY_FILE`] in `data_dir`, created on first start.
async fn token_key<S: Storage>(
    storage: &S,
    data_dir: &Path,
    rng: &holdfast_protocol::SystemRandom,
) -> Result<TokenKey> {
    let mut generated = [0u8; TokenKey::LEN];
    holdfast_protocol::SecureRandom::fill(rng, &mut generated)
        .map_err(|_| Error::Server("random number generator failed".into()))?;
    match storage.shared_token_key(generated).await? {
        Some(shared) => Ok(TokenKey::from_bytes(&shared)),
        None => Ok(TokenKey::load_or_create(
            &data_dir.join(TOKEN_KEY_FILE),
            rng,
        )?),
    }
}

/// Creates the data directory (mode 0700: it holds the token key) if it does not exist.
fn prepare_data_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    data_dir = %dir.display(),
                    mode = format_args!("{:o}", mode & 0o777),
                    "the data directory is readable by other users; 0700 is advised"
                );
            }
        }
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    Ok(())
}

/// A relay serving in the background.
pub struct RunningRelay {
    local_addr: SocketAddr,
    origin: String,
    /// `https` when it terminates TLS itself.
    scheme: &'static str,
    certificates: Option<std::sync::Arc<tls::Certificates>>,
    tls_counters: std::sync::Arc<tls::TlsCounters>,
    shutdown: Box<dyn Fn() + Send + Sync>,
    task: JoinHandle<Result<()>>,
}

impl std::fmt::Debug for RunningRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningRelay")
            .field("local_addr", &self.local_addr)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl RunningRelay {
    /// The address it listens on (with the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://<address>`, or `https://<address>` when it terminates TLS itself.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.local_addr)
    }

    /// Reads the TLS certificate and key files again and serves the new pair to new
    /// connections (`main.rs` calls it on SIGHUP). On an error the old pair stays. An error
    /// too when the relay serves plain HTTP.
    pub fn reload_tls(&self) -> Result<()> {
        let certificates = self.certificates.as_ref().ok_or_else(|| {
            Error::Config("the relay serves plain HTTP: there is no certificate to reload".into())
        })?;
        certificates.reload()?;
        tracing::info!("TLS certificate reloaded");
        Ok(())
    }

    /// TLS handshakes so far (all zero for plain HTTP).
    pub fn tls_counters(&self) -> &tls::TlsCounters {
        &self.tls_counters
    }

    /// The origin devices must sign into login answers.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Shuts down gracefully and waits until it has: no new connections, in-flight
    /// requests drained (bounded by the shutdown timeout), WebSockets closed, storage
    /// closed after the writer finished its queue.
    pub async fn shutdown(self) -> Result<()> {
        (self.shutdown)();
        self.task
            .await
            .map_err(|e| Error::Server(format!("relay task failed: {e}")))?
    }
}

/// Sets up logging to stderr: `RUST_LOG` filters (default `info`), in `format`.
pub fn init_tracing(format: LogFormat) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().with_span_list(false).try_init(),
    };
    if let Err(e) = result {
        eprintln!("logging was already set up: {e}");
    }
}
