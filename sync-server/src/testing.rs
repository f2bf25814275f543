//! Fixtures for tests that drive a real relay (the `testing` feature): [`TestRelay`] and
//! [`login`]; and [`SmallDisk`], a small file system of a test's own for full-disk tests.
//!
//! A [`TestRelay`] serves on 127.0.0.1, port 0, with its data in a temporary folder (or one
//! the test gives), in a tokio runtime of its own. Its own runtime is what lets a test
//! [kill](TestRelay::kill) it mid-request as a crash would (every task dropped, nothing
//! drained), [restart](TestRelay::restart) it on the same address and data, and start it
//! from a plain `#[test]` as well as from a `#[tokio::test]`.
//!
//! With [`TestRelayBuilder::tls`] it terminates TLS itself with a certificate the test made
//! (its [`url`](TestRelay::url) is then `https://`), and the test can replace the files and
//! [reload](TestRelay::reload_tls) them.
//!
//! reqwest is built with rustls and no crypto provider of its own (the workspace's devices
//! bring theirs): starting a relay, [`login`] and [`install_crypto_provider`] make ring the
//! process's default, so that a test's plain `reqwest::Client::new()` works.
//!
//! ```no_run
//! # async fn run() {
//! use holdfast_relay::testing::TestRelay;
//!
//! let mut relay = TestRelay::builder().public_url("http://127.0.0.1:9999").start().await;
//! // … devices sync with the relay through a proxy on port 9999 …
//! relay.kill();
//! relay.restart().await;
//! # }
//! ```

mod backing;
pub mod postgres;
mod small_disk;

pub use backing::Backing;
pub use small_disk::SmallDisk;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use holdfast_protocol::{DeviceId, DeviceSigningKey, SharedClock, sign_auth};
use serde_json::{Value, json};
use tokio::runtime::{Handle, Runtime};

use crate::tls::{TlsCounters, TlsFiles};
use crate::{Config, Error, Limits, Result, RunningRelay, Storage};

/// Makes ring the process's default rustls provider, if none is yet, so that a
/// `reqwest::Client` built without a TLS config of its own works in a test.
pub fn install_crypto_provider() {
    // An error only says that a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// How long stopping or killing a relay waits for its runtime's threads to exit.
const WIND_DOWN: Duration = Duration::from_secs(10);

/// A relay for a test, in a runtime of its own. Dropping it drops the relay abruptly.
pub struct TestRelay {
    rt: Option<Runtime>,
    running: Option<RunningRelay>,
    addr: SocketAddr,
    origin: String,
    /// What it was started with; `listen` is the address it got, to restart on.
    config: Config,
    /// Whether [`TestRelay::restart`] can reopen its storage (SQLite in the data folder, or
    /// the PostgreSQL database it was given).
    restartable: bool,
    /// The TLS certificate and key files, when it terminates TLS.
    tls: Option<TlsFiles>,
    /// The temporary folder holding the data folder, unless the test gave one, and the TLS
    /// files. Last: removed after the relay's runtime was told to shut down.
    _temp: Option<tempfile::TempDir>,
    _tls_temp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for TestRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestRelay")
            .field("addr", &self.addr)
            .field("origin", &self.origin)
            .field("data_dir", &self.config.data_dir)
            .field("running", &self.running.is_some())
            .finish_non_exhaustive()
    }
}

/// How a [`TestRelay`] starts: limits, clock, public URL, data folder, storage, TLS.
#[derive(Debug, Clone)]
pub struct TestRelayBuilder {
    config: Config,
    data_dir: Option<PathBuf>,
    /// PEM: the certificate chain and the key.
    tls: Option<(String, String)>,
}

impl TestRelayBuilder {
    /// Limits other than the defaults (a rate limit off, small pages, …).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.config.limits = limits;
        self
    }

    /// The relay's clock: share a `holdfast_protocol::ManualClock` with the devices and
    /// move it instead of sleeping. Rate budgets refill only as it moves.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.config.clock = clock;
        self
    }

    /// Teams only with one of `tokens` (the relay's `--team-creation-token`). Panics on a
    /// token the relay would refuse (shorter than 32 characters).
    pub fn team_creation_tokens(mut self, tokens: &[&str]) -> Self {
        self.config.team_creation_tokens = tokens
            .iter()
            .map(|t| t.parse().expect("a team-creation token the relay accepts"))
            .collect();
        self
    }

    /// The origin devices reach the relay by (a proxy's URL), which they sign into logins.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.config.public_url = Some(url.into());
        self
    }

    /// Stores into the PostgreSQL database at `url` (as `--database` would), rather than
    /// SQLite in the data folder; [`postgres::TestSchema::url`] gives one of the test's own.
    /// Panics on a URL the relay would refuse.
    pub fn database(mut self, url: &str) -> Self {
        self.config.database = Some(
            url.parse()
                .unwrap_or_else(|e| panic!("a database URL the relay accepts: {e}")),
        );
        self
    }

    /// Keeps the data in `dir` (created if missing) rather than in a temporary folder.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Terminates TLS with this certificate chain (PEM, leaf first) and key (PEM), written
    /// to files in a temporary folder, as `--tls-cert` and `--tls-key` would name them.
    pub fn tls(mut self, chain_pem: impl Into<String>, key_pem: impl Into<String>) -> Self {
        self.tls = Some((chain_pem.into(), key_pem.into()));
        self
    }

    /// Starts the relay on SQLite in its data folder (or on the [database](Self::database)
    /// it was given). Call from inside a tokio runtime.
    pub async fn start(self) -> TestRelay {
        let (config, temp) = self.prepare();
        let (rt, running) = serve_in(crate::serve(config.clone())).await;
        TestRelay::new(rt, running, config, true, temp)
    }

    /// Starts the relay and returns its start-up error rather than panicking (a certificate
    /// that does not load, say).
    pub async fn try_start(self) -> Result<TestRelay> {
        let (config, temp) = self.prepare();
        let rt = runtime();
        match rt.spawn(crate::serve(config.clone())).await {
            Ok(Ok(running)) => Ok(TestRelay::new(rt, running, config, true, temp)),
            Ok(Err(e)) => {
                rt.shutdown_background();
                Err(e)
            }
            Err(e) => {
                rt.shutdown_background();
                Err(Error::Server(format!(
                    "the relay's start-up task failed: {e}"
                )))
            }
        }
    }

    /// Starts the relay on `storage`, a backend of the test's own. It cannot be
    /// restarted: its storage is gone with it.
    pub async fn start_on<S: Storage>(self, storage: S) -> TestRelay {
        let (config, temp) = self.prepare();
        let (rt, running) = serve_in(crate::serve_with(config.clone(), storage)).await;
        TestRelay::new(rt, running, config, false, temp)
    }

    /// Starts the relay on SQLite from code outside any runtime (a plain `#[test]`).
    pub fn blocking_start(self) -> TestRelay {
        let (config, temp) = self.prepare();
        let rt = runtime();
        let running = rt
            .block_on(crate::serve(config.clone()))
            .unwrap_or_else(|e| panic!("the relay did not start: {e}"));
        TestRelay::new(rt, running, config, true, temp)
    }

    /// The configuration with its data folder: the given one, or `data` in a new
    /// temporary folder (so the relay creates it, as in production); and its TLS files.
    fn prepare(self) -> (Config, Temporary) {
        install_crypto_provider();
        let mut config = self.config;
        let tls_temp = self.tls.map(|(chain, key)| {
            let dir = tempfile::tempdir().expect("a temporary folder for the TLS files");
            let (cert_path, key_path) = (dir.path().join("chain.pem"), dir.path().join("key.pem"));
            std::fs::write(&cert_path, chain).expect("the certificate file");
            std::fs::write(&key_path, key).expect("the key file");
            config.tls_cert = Some(cert_path);
            config.tls_key = Some(key_path);
            dir
        });
        let temp = match self.data_dir {
            Some(dir) => {
                config.data_dir = dir;
                None
            }
            None => {
                let temp = tempfile::tempdir().expect("a temporary folder for the relay");
                config.data_dir = temp.path().join("data");
                Some(temp)
            }
        };
        (
            config,
            Temporary {
                data: temp,
                tls: tls_temp,
            },
        )
    }
}

/// The temporary folders a [`TestRelay`] keeps until it is dropped.
#[derive(Debug, Default)]
struct Temporary {
    data: Option<tempfile::TempDir>,
    tls: Option<tempfile::TempDir>,
}

impl TestRelay {
    /// How it should start: [`TestRelayBuilder::start`] and the others.
    pub fn builder() -> TestRelayBuilder {
        TestRelayBuilder {
            config: Config::new(PathBuf::new()),
            data_dir: None,
            tls: None,
        }
    }

    /// A relay with the defaults. Call from inside a tokio runtime.
    pub async fn start() -> TestRelay {
        Self::builder().start().await
    }

    /// A relay with the defaults, from code outside any runtime (a plain `#[test]`).
    pub fn blocking_start() -> TestRelay {
        Self::builder().blocking_start()
    }

    fn new(
        rt: Runtime,
        running: RunningRelay,
        mut config: Config,
        restartable: bool,
        temp: Temporary,
    ) -> TestRelay {
        config.listen = running.local_addr();
        TestRelay {
            addr: running.local_addr(),
            origin: running.origin().to_owned(),
            rt: Some(rt),
            running: Some(running),
            tls: config.tls_files(),
            config,
            restartable,
            _temp: temp.data,
            _tls_temp: temp.tls,
        }
    }

    /// `http://<address>` (`https://` when it terminates TLS): where it listens (not its
    /// public URL, if it was given one).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The TLS certificate and key files it serves, when it terminates TLS: replace them
    /// and [`TestRelay::reload_tls`].
    pub fn tls_files(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    /// Reads the TLS files again, as SIGHUP makes the binary do.
    pub fn reload_tls(&self) -> Result<()> {
        self.running
            .as_ref()
            .ok_or_else(|| Error::Server("the relay is not running".into()))?
            .reload_tls()
    }

    /// TLS handshakes completed and failed since it (re)started. Panics when it is stopped.
    pub fn tls_counters(&self) -> &TlsCounters {
        self.running
            .as_ref()
            .expect("the relay is not running")
            .tls_counters()
    }

    /// The address it listens on, the same after a restart.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The origin devices sign into logins: the public URL, or [`TestRelay::url`].
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Its data folder (database, WAL, token key).
    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// The clock it reads.
    pub fn clock(&self) -> &SharedClock {
        &self.config.clock
    }

    /// Its runtime, to run something next to it (a proxy). Panics when it is stopped.
    pub fn handle(&self) -> Handle {
        self.rt
            .as_ref()
            .expect("the relay is not running")
            .handle()
            .clone()
    }

    /// Shuts it down gracefully (requests drained, WebSockets closed, storage closed) and
    /// waits until it has. Panics if the relay reports an error. Call from inside a tokio
    /// runtime.
    pub async fn stop(&mut self) {
        if let (Some(rt), Some(running)) = (self.rt.take(), self.running.take()) {
            let stopped = rt.spawn(running.shutdown()).await;
            wind_down(rt);
            stopped
                .expect("the relay's shutdown task")
                .unwrap_or_else(|e| panic!("the relay did not shut down cleanly: {e}"));
        }
    }

    /// [`TestRelay::stop`], from code outside any runtime.
    pub fn blocking_stop(&mut self) {
        if let (Some(rt), Some(running)) = (self.rt.take(), self.running.take()) {
            let stopped = rt.block_on(running.shutdown());
            wind_down(rt);
            stopped.unwrap_or_else(|e| panic!("the relay did not shut down cleanly: {e}"));
        }
    }

    /// Shuts it down gracefully and returns what the relay reports, for a test that
    /// watches the drain from another task (`tokio::spawn(relay.shutdown())`).
    pub async fn shutdown(mut self) -> Result<()> {
        let (Some(rt), Some(running)) = (self.rt.take(), self.running.take()) else {
            return Ok(());
        };
        let stopped = rt.spawn(running.shutdown()).await;
        wind_down(rt);
        stopped.map_err(|e| Error::Server(format!("the relay's shutdown task failed: {e}")))?
    }

    /// Drops it mid-whatever, as a crash would: no drain, no graceful close. Returns once
    /// every task it ran is dropped, with the listener and every connection.
    pub fn kill(&mut self) {
        self.running.take();
        if let Some(rt) = self.rt.take() {
            wind_down(rt);
        }
    }

    /// Starts it again on the same address and data, after [`TestRelay::stop`] or
    /// [`TestRelay::kill`]. Call from inside a tokio runtime.
    pub async fn restart(&mut self) {
        assert!(self.rt.is_none(), "stop or kill the relay first");
        assert!(
            self.restartable,
            "a relay on a storage of the test's own cannot be restarted"
        );
        let (rt, running) = serve_in(crate::serve(self.config.clone())).await;
        self.rt = Some(rt);
        self.running = Some(running);
    }
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        self.running.take();
        if let Some(rt) = self.rt.take() {
            // Without waiting: a test ends (or unwinds) here, and nothing reuses the address.
            rt.shutdown_background();
        }
    }
}

/// A relay's runtime: two workers, as a small server would have.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("relay")
        .enable_all()
        .build()
        .expect("a runtime for the relay")
}

/// Runs `serve` in a runtime of its own and returns both, or panics saying why the relay
/// did not start (dropping the runtime without blocking: the caller is in another one).
async fn serve_in<F>(serve: F) -> (Runtime, RunningRelay)
where
    F: Future<Output = Result<RunningRelay>> + Send + 'static,
{
    let rt = runtime();
    match rt.spawn(serve).await {
        Ok(Ok(running)) => (rt, running),
        Ok(Err(e)) => {
            rt.shutdown_background();
            panic!("the relay did not start: {e}")
        }
        Err(e) => {
            rt.shutdown_background();
            panic!("the relay's start-up task failed: {e}")
        }
    }
}

/// Shuts `rt` down and waits (up to [`WIND_DOWN`]) until its threads have exited: then
/// every task it ran has been dropped, and with them the listener and the connections, so
/// the address is free to serve on again. On a thread of its own: a runtime cannot be
/// waited for from inside another runtime's worker.
fn wind_down(rt: Runtime) {
    std::thread::spawn(move || rt.shutdown_timeout(WIND_DOWN))
        .join()
        .expect("the relay's runtime shut down");
}

/// The relay's answer to a request it refused: the HTTP status and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The HTTP status.
    pub status: u16,
    /// The body (`{"code", "message"}` JSON from the relay).
    pub body: String,
}

/// Logs `device` in by hand, for a test that talks HTTP to the relay at `url` directly:
/// asks a challenge, answers it signed by `signer` for `url` as the relay's origin, and
/// returns the bearer token, or the relay's refusal of either step.
pub async fn login(
    url: &str,
    device: DeviceId,
    signer: &DeviceSigningKey,
) -> std::result::Result<String, Refused> {
    login_at(url, url, device, signer).await
}

/// [`login`] to a relay whose origin (the URL its answers are signed for: its public URL
/// behind a proxy) is not the `url` the test reaches it at.
pub async fn login_at(
    url: &str,
    origin: &str,
    device: DeviceId,
    signer: &DeviceSigningKey,
) -> std::result::Result<String, Refused> {
    install_crypto_provider();
    let http = reqwest::Client::new();
    let asked = http
        .post(format!("{url}/v1/auth/challenge"))
        .json(&json!({ "device": device.to_string() }))
        .send()
        .await;
    let body = accepted(asked).await?;
    let mut challenge = [0u8; 32];
    hex::decode_to_slice(
        body["challenge"].as_str().expect("a challenge"),
        &mut challenge,
    )
    .expect("a 32-byte hex challenge");
    let signature = sign_auth(signer, origin, &device, &challenge).expect("a signed answer");
    let answered = http
        .post(format!("{url}/v1/auth/token"))
        .json(&json!({
            "device": device.to_string(),
            "challenge": hex::encode(challenge),
            "signature": hex::encode(signature),
        }))
        .send()
        .await;
    let body = accepted(answered).await?;
    Ok(body["token"].as_str().expect("a token").to_owned())
}

/// A successful answer's JSON body, or the refusal.
async fn accepted(
    response: reqwest::Result<reqwest::Response>,
) -> std::result::Result<Value, Refused> {
    let response = response.unwrap_or_else(|e| panic!("the relay did not answer: {e}"));
    let status = response.status();
    let body = response.text().await.expect("the relay's answer");
    if !status.is_success() {
        return Err(Refused {
            status: status.as_u16(),
            body,
        });
    }
    Ok(serde_json::from_str(&body).expect("a JSON answer"))
}
