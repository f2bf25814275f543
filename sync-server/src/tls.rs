//! TLS termination: with `--tls-cert` and `--tls-key` the relay serves HTTPS and WSS itself
//! (rustls with the ring provider, like the devices: no OpenSSL, no aws-lc-rs). Without them
//! it serves plain HTTP, for a relay on loopback or behind a TLS proxy (README: "Running a
//! relay").
//!
//! - **The files**: PEM. The certificate file holds the chain, leaf first. A relay with its
//!   own CA (devices pin it through the invite code) must end the chain with the CA's own
//!   certificate: a device checks its pin against the certificates the relay presents. The
//!   key file holds the leaf's private key (PKCS#8, PKCS#1 or SEC1); it must match the leaf.
//! - **Reload**: on SIGHUP (`main.rs`; `systemctl reload`, a certbot deploy hook) or
//!   [`RunningRelay::reload_tls`](crate::RunningRelay::reload_tls), the two files are read
//!   again and checked, and new connections get the new pair; connections already open keep
//!   theirs. A pair that does not load (a half-written file, a key that does not fit) is
//!   refused and logged, and the relay goes on serving the old one. A signal rather than
//!   watching the files: the operator says when both files are in place, so the relay never
//!   reads a new certificate next to the old key.
//! - **Handshakes** run in each connection's own task (after the connection has taken its
//!   place under the relay's connection caps), at most [`MAX_HANDSHAKES`] at once and each
//!   within [`HANDSHAKE_TIMEOUT`], so a client that connects and stays silent holds up
//!   nobody. Counted in `/metrics` (`holdfast_relay_tls_handshakes_total`, `…_failures_total`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::error::{Error, Result};

/// How long a client has to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// TLS handshakes in progress at once; further connections wait to be accepted.
pub const MAX_HANDSHAKES: usize = 256;

/// The certificate chain and key files (PEM) the relay serves TLS with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The chain, leaf first (ending with the CA's own certificate for a pinned CA).
    pub cert: PathBuf,
    /// The leaf's private key.
    pub key: PathBuf,
}

/// TLS handshakes, for `/metrics` and tests.
#[derive(Debug, Default)]
pub struct TlsCounters {
    handshakes: AtomicU64,
    failures: AtomicU64,
}

impl TlsCounters {
    /// Handshakes completed (each a connection that may then carry requests).
    pub fn handshakes(&self) -> u64 {
        self.handshakes.load(Ordering::Relaxed)
    }

    /// Handshakes that failed or timed out (a client that refused the certificate, or
    /// spoke no TLS): no request was read from any of them.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}

/// The pair being served, swapped on reload.
#[derive(Debug)]
pub(crate) struct Certificates {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl Certificates {
    /// Loads the pair, or says what is wrong with it.
    pub(crate) fn load(files: TlsFiles) -> Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let current = read_pair(&files, &provider)?;
        Ok(Certificates {
            files,
            provider,
            current: RwLock::new(current),
        })
    }

    /// Reads the files again and serves the new pair from the next handshake on. On an
    /// error the pair being served stays.
    pub(crate) fn reload(&self) -> Result<()> {
        let pair = read_pair(&self.files, &self.provider)?;
        let mut current = self
            .current
            .write()
            .map_err(|_| Error::Server("TLS certificate lock poisoned".into()))?;
        *current = pair;
        Ok(())
    }

    /// The rustls server config: this pair (as reloaded), TLS 1.2 and 1.3, HTTP/1.1.
    fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        // The API and its WebSocket upgrade are HTTP/1.1.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|pair| pair.clone())
    }
}

/// Reads and checks a certificate chain and its key.
fn read_pair(files: &TlsFiles, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>> {
    let read = |path: &Path, flag: &str| {
        std::fs::read(path).map_err(|e| Error::Tls(format!("{flag} {}: {e}", path.display())))
    };
    let cert_pem = read(&files.cert, "--tls-cert")?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Tls(format!("--tls-cert {}: {e}", files.cert.display())))?;
    if chain.is_empty() {
        return Err(Error::Tls(format!(
            "--tls-cert {}: no PEM certificate in it",
            files.cert.display()
        )));
    }
    let key_pem = read(&files.key, "--tls-key")?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        Error::Tls(format!(
            "--tls-key {}: no PEM private key in it ({e})",
            files.key.display()
        ))
    })?;
    let pair = CertifiedKey::from_der(chain, key, provider).map_err(|e| {
        Error::Tls(format!(
            "--tls-key {} does not fit the certificate in --tls-cert {}: {e}",
            files.key.display(),
            files.cert.display()
        ))
    })?;
    Ok(Arc::new(pair))
}

/// The TLS side of the accept loop ([`crate::connections`]): each accepted connection
/// that holds its place among the open ones runs its handshake in its own task, at most
/// [`MAX_HANDSHAKES`] at once and each within [`HANDSHAKE_TIMEOUT`].
#[derive(Clone)]
pub(crate) struct Handshakes {
    acceptor: TlsAcceptor,
    slots: Arc<Semaphore>,
    counters: Arc<TlsCounters>,
}

impl std::fmt::Debug for Handshakes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshakes").finish_non_exhaustive()
    }
}

impl Handshakes {
    /// Handshakes with `certificates` (as reloaded), counted in `counters`.
    pub(crate) fn new(
        certificates: &Arc<Certificates>,
        counters: Arc<TlsCounters>,
    ) -> Result<Self> {
        Ok(Handshakes {
            acceptor: TlsAcceptor::from(certificates.server_config()?),
            slots: Arc::new(Semaphore::new(MAX_HANDSHAKES)),
            counters,
        })
    }

    /// `stream` after a finished handshake; `None` (counted, logged without the peer) when
    /// the client fails it or takes too long.
    pub(crate) async fn accept(&self, stream: TcpStream) -> Option<TlsStream<TcpStream>> {
        let _slot = self.slots.acquire().await.ok()?;
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(stream)).await {
            Ok(Ok(tls)) => {
                self.counters.handshakes.fetch_add(1, Ordering::Relaxed);
                Some(tls)
            }
            // The client's own refusal of our certificate shows here as an alert. No peer
            // address in the log: ids, counts and codes only.
            Ok(Err(e)) => {
                self.counters.failures.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(error = %e, "TLS handshake failed");
                None
            }
            Err(_) => {
                self.counters.failures.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("TLS handshake timed out");
                None
            }
        }
    }
}

/// Warns when the relay serves plain HTTP where other machines can reach it: without TLS
/// there (its own, or a proxy's on the same machine), bearer tokens cross the network in
/// clear text.
pub(crate) fn warn_if_plain_on_the_network(listen: SocketAddr, tls: bool, origin: &str) {
    if !tls && !listen.ip().is_loopback() && !origin.starts_with("https://") {
        tracing::warn!(
            address = %listen,
            "serving plain HTTP on a network address: give the relay --tls-cert and --tls-key, \
             or put a TLS proxy in front of it and set --public-url https://…"
        );
    }
}
