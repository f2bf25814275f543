//! TLS to the relay: which certificates the sync client trusts for which relay, and the
//! HTTP clients and WebSocket connectors built on that trust.
//!
//! - **rustls with the ring provider**, and nothing else: no OpenSSL to ship on phones, no
//!   aws-lc-rs (a C and assembly build that the phones' toolchains would have to carry).
//!   Every client is handed a ready-made `rustls::ClientConfig`; nothing relies on a
//!   process-wide default provider.
//! - **Which relay is trusted how** ([`Trust`]): `http://` (a relay on this computer, or any
//!   host when a developer turned on `SyncConfig::insecure_http_to_any_host`) has no TLS;
//!   `https://` to a relay whose team carries a [`RelayPin`] accepts exactly the chains that
//!   lead to that CA; any other `https://` relay is checked against the platform's roots.
//! - **The platform's roots**: `rustls-platform-verifier` (Keychain and Security.framework on
//!   iOS and macOS, the system store on Windows, `/etc/ssl` on Linux), except on Android,
//!   where it needs the app to hand it a JVM handle and ship a Kotlin component; there the
//!   client uses Mozilla's roots compiled in (`webpki-roots`), which is what an Android app
//!   trusts by default anyway (apps targeting API 24 and later ignore user-added CAs).
//! - **A pin**: the relay must present the pinned CA's certificate in its chain (the pin is
//!   its SHA-256); that certificate becomes the only root, and the leaf is checked against
//!   it as usual: signatures, validity dates, host name. Presenting the pinned CA's
//!   certificate proves nothing by itself (it is public): the leaf must be signed by it.
//! - **A refused certificate is final**: the request fails with [`Error::Tls`] and is not
//!   retried. Nothing was sent: rustls verifies the certificate before the handshake ends,
//!   and no request goes before it ends (no 0-RTT).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use holdfast_protocol::RelayPin;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_tungstenite::Connector;

use super::client::{SyncClient, SyncConfig};
use crate::store::{PlainHttp, check_relay_url};
use crate::{Error, Result};

/// How the certificate of one relay is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Trust {
    /// `http://`: no TLS.
    Plain,
    /// `https://`, the platform's roots.
    Platform,
    /// `https://`, exactly the CA with this pin.
    Pinned(RelayPin),
}

/// What one trust gives: an HTTP client and the rustls config for the live socket.
#[derive(Clone)]
struct Tls {
    http: reqwest::Client,
    config: Arc<rustls::ClientConfig>,
}

/// The client's transport: its trusts and the clients made for them.
pub(super) struct Transport {
    provider: Arc<CryptoProvider>,
    plain_http: PlainHttp,
    request_timeout: Duration,
    /// One HTTP client (one connection pool) per trust, made when first needed: the
    /// platform's roots are not read until an `https://` relay without a pin is reached.
    made: Mutex<HashMap<Trust, Tls>>,
    /// The pin (or none) of each `https://` relay this client has been told of: by a team of
    /// the store, or by an invite code being redeemed.
    pins: Mutex<HashMap<String, Option<RelayPin>>>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("plain_http", &self.plain_http)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub(super) fn new(config: &SyncConfig) -> Self {
        let plain_http = if config.insecure_http_to_any_host {
            tracing::warn!(
                "INSECURE: insecure_http_to_any_host is on: this device will talk plain http:// \
                 to a relay on any host, and anyone on the network can read its bearer tokens \
                 and metadata. For development networks only."
            );
            PlainHttp::AnyHost
        } else {
            PlainHttp::LoopbackOnly
        };
        Transport {
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            plain_http,
            request_timeout: config.request_timeout,
            made: Mutex::new(HashMap::new()),
            pins: Mutex::new(HashMap::new()),
        }
    }

    /// The client and config for `trust`, made on first use.
    fn tls(&self, trust: Trust) -> Result<Tls> {
        let mut made = self
            .made
            .lock()
            .map_err(|_| Error::Internal("transport lock poisoned".into()))?;
        if let Some(tls) = made.get(&trust) {
            return Ok(tls.clone());
        }
        let config = Arc::new(client_config(&self.provider, trust)?);
        let mut http = reqwest::Client::builder()
            .timeout(self.request_timeout)
            .connect_timeout(self.request_timeout.min(Duration::from_secs(10)))
            // The relay never redirects; a redirect is not followed (to another host, or
            // from https down to http).
            .redirect(reqwest::redirect::Policy::none())
            .tls_backend_preconfigured(rustls::ClientConfig::clone(&config));
        if trust != Trust::Plain {
            http = http.https_only(true);
        }
        let http = http.build().map_err(|e| Error::Network(e.to_string()))?;
        let tls = Tls { http, config };
        made.insert(trust, tls.clone());
        Ok(tls)
    }

    /// The pin recorded for `base`, if this client was told of it.
    fn known_pin(&self, base: &str) -> Result<Option<Option<RelayPin>>> {
        let pins = self
            .pins
            .lock()
            .map_err(|_| Error::Internal("transport lock poisoned".into()))?;
        Ok(pins.get(base).copied())
    }

    /// Records the pin of `base`; refused when it differs from one recorded before.
    fn record_pin(&self, base: &str, pin: Option<RelayPin>) -> Result<()> {
        let mut pins = self
            .pins
            .lock()
            .map_err(|_| Error::Internal("transport lock poisoned".into()))?;
        match pins.get(base) {
            Some(known) if *known != pin => Err(another_pin(base)),
            Some(_) => Ok(()),
            None => {
                pins.insert(base.to_owned(), pin);
                Ok(())
            }
        }
    }
}

fn another_pin(base: &str) -> Error {
    Error::NotAllowed(format!(
        "this device already reaches the relay at {base} trusting another certificate \
         authority: a code for it with a different certificate pin is refused"
    ))
}

/// A rustls client config checking certificates as `trust` says.
fn client_config(provider: &Arc<CryptoProvider>, trust: Trust) -> Result<rustls::ClientConfig> {
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(format!("cannot set up TLS: {e}")))?;
    let mut config = match trust {
        // Never used for TLS (the URL is http://); reqwest needs a config all the same.
        Trust::Plain => builder
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth(),
        Trust::Platform => builder
            .dangerous()
            .with_custom_certificate_verifier(platform_verifier(provider)?)
            .with_no_client_auth(),
        Trust::Pinned(pin) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedCa {
                pin,
                provider: provider.clone(),
            }))
            .with_no_client_auth(),
    };
    // HTTP/1.1 only: the relay's API and its WebSocket upgrade.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The platform's roots (see the module's documentation for Android).
fn platform_verifier(provider: &Arc<CryptoProvider>) -> Result<Arc<dyn ServerCertVerifier>> {
    #[cfg(not(target_os = "android"))]
    {
        let verifier = rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| {
            Error::Tls(format!(
                "cannot read this system's trusted certificate authorities: {e}"
            ))
        })?;
        Ok(Arc::new(verifier))
    }
    #[cfg(target_os = "android")]
    {
        mozilla_roots_verifier(provider)
    }
}

/// Mozilla's roots, compiled in: the platform's roots on Android.
#[cfg_attr(not(target_os = "android"), allow(dead_code))]
fn mozilla_roots_verifier(provider: &Arc<CryptoProvider>) -> Result<Arc<dyn ServerCertVerifier>> {
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| Error::Tls(format!("cannot set up the certificate checks: {e}")))?;
    Ok(verifier)
}

/// Accepts exactly the certificate chains that lead to the pinned CA.
#[derive(Debug)]
struct PinnedCa {
    pin: RelayPin,
    provider: Arc<CryptoProvider>,
}

/// The relay's chain does not hold the pinned CA's certificate.
#[derive(Debug)]
struct PinnedCaMissing;

impl std::fmt::Display for PinnedCaMissing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "the relay did not present the certificate authority pinned for it (its \
             certificate comes from another one, or it does not send its CA certificate \
             in its chain)",
        )
    }
}

impl std::error::Error for PinnedCaMissing {}

impl ServerCertVerifier for PinnedCa {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let Some(ca) = intermediates.iter().find(|c| self.pin.matches(c)) else {
            return Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                rustls::OtherError(Arc::new(PinnedCaMissing)),
            )));
        };
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone().into_owned())?;
        let others: Vec<CertificateDer<'_>> = intermediates
            .iter()
            .filter(|c| !self.pin.matches(c))
            .cloned()
            .collect();
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?
            .verify_server_cert(end_entity, &others, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// If `e` (or one of its causes) is rustls refusing the connection, why, in words a person
/// can act on. `None` for anything else (the network).
pub(super) fn refusal(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(cause) = next {
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return Some(describe(tls));
        }
        // An io::Error hides the error it wraps from `source()`: look inside.
        if let Some(inner) = cause
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            next = Some(inner);
            continue;
        }
        next = cause.source();
    }
    None
}

/// A rustls refusal, said plainly.
fn describe(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
            format!("the relay's certificate was refused: {other}")
        }
        rustls::Error::InvalidCertificate(c) => {
            let what = match c {
                CertificateError::UnknownIssuer => {
                    "it is not issued by a certificate authority this device trusts for the relay"
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "it has expired"
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "it is not valid yet (check this device's date and time)"
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    "it is for another host name than the relay address"
                }
                CertificateError::Revoked => "it has been revoked",
                _ => "it does not check out",
            };
            format!("the relay's certificate was refused: {what} ({c})")
        }
        other => format!("the secure connection to the relay failed: {other}"),
    }
}

impl SyncClient {
    /// Whether this client talks plain `http://` to a relay on another host (only with
    /// `SyncConfig::insecure_http_to_any_host`): what to pass to
    /// [`Store::create_team_with`](crate::Store::create_team_with).
    pub fn plain_http(&self) -> PlainHttp {
        self.transport().plain_http
    }

    /// Checks a relay URL as this client will reach it: `https://`, or `http://` to this
    /// computer (any host only with `insecure_http_to_any_host`). Returns it without a
    /// trailing slash. Nothing is sent.
    pub fn check_relay_url(&self, url: &str) -> Result<String> {
        check_relay_url(url, self.plain_http())
    }

    /// Asks the relay at `url` whether it is up (`GET /healthz`), trusting its certificate
    /// as a team there would: through `pin` if given, else the platform's roots. For an app
    /// or the CLI to check an address before a team is made there. Refused without a
    /// request when this device already has a team at `url` under another trust. Returns
    /// the URL without a trailing slash.
    pub async fn check_relay(&self, url: &str, pin: Option<RelayPin>) -> Result<String> {
        let base = self.check_relay_url(url)?;
        let known = match self.transport().known_pin(&base)? {
            Some(known) => Some(known),
            None => {
                let b = base.clone();
                self.store().run(move |s| s.relay_pin_for(&b)).await?
            }
        };
        if known.is_some_and(|known| known != pin) {
            return Err(another_pin(&base));
        }
        let http = self.transport().tls(trust_of(&base, pin))?.http;
        // Retried as any request is when the network fails; a refused certificate is final.
        let retry = self.config().retry;
        let mut attempt = 0u32;
        let answer = loop {
            match http.get(format!("{base}/healthz")).send().await {
                Ok(answer) => break answer,
                Err(e) => {
                    if let Some(why) = refusal(&e) {
                        return Err(Error::Tls(why));
                    }
                    attempt += 1;
                    if attempt >= retry.attempts.max(1) {
                        return Err(super::client::network(e));
                    }
                    tokio::time::sleep(retry.delay(attempt - 1)).await;
                }
            }
        };
        if !answer.status().is_success() {
            return Err(Error::Relay {
                status: answer.status().as_u16(),
                code: format!("http_{}", answer.status().as_u16()),
                message: "the health check failed".into(),
            });
        }
        Ok(base)
    }

    /// Trusts `pin` (or the platform's roots) for the relay at `base` from now on, for an
    /// invite being redeemed there. Refused when the store or this client already trusts
    /// the relay otherwise.
    pub(super) async fn trust_relay(&self, base: &str, pin: Option<RelayPin>) -> Result<()> {
        let b = base.to_owned();
        if let Some(known) = self.store().run(move |s| s.relay_pin_for(&b)).await?
            && known != pin
        {
            return Err(another_pin(base));
        }
        self.transport().record_pin(base, pin)
    }

    /// The trust of the relay at `base`: refused without a request when the URL breaks the
    /// rule for plain http; else the pin recorded for it, or the one of the store's team
    /// there, or the platform's roots.
    async fn trust_for(&self, base: &str) -> Result<Trust> {
        check_relay_url(base, self.plain_http())?;
        if base.starts_with("http://") {
            return Ok(Trust::Plain);
        }
        if let Some(pin) = self.transport().known_pin(base)? {
            return Ok(trust_of(base, pin));
        }
        let b = base.to_owned();
        match self.store().run(move |s| s.relay_pin_for(&b)).await? {
            Some(pin) => {
                self.transport().record_pin(base, pin)?;
                Ok(trust_of(base, pin))
            }
            None => Ok(Trust::Platform),
        }
    }

    /// The HTTP client for the relay at `base`.
    pub(super) async fn http_for(&self, base: &str) -> Result<reqwest::Client> {
        let trust = self.trust_for(base).await?;
        Ok(self.transport().tls(trust)?.http)
    }

    /// The connector for the live socket to the relay at `base`.
    pub(super) async fn ws_connector_for(&self, base: &str) -> Result<Connector> {
        match self.trust_for(base).await? {
            Trust::Plain => Ok(Connector::Plain),
            trust => Ok(Connector::Rustls(self.transport().tls(trust)?.config)),
        }
    }
}

/// How a relay URL with `pin` is trusted.
fn trust_of(base: &str, pin: Option<RelayPin>) -> Trust {
    match pin {
        _ if base.starts_with("http://") => Trust::Plain,
        Some(pin) => Trust::Pinned(pin),
        None => Trust::Platform,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mozilla_roots_build_on_every_platform() {
        // Android's default trust, checked here too (the code is not built for Android in CI).
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        mozilla_roots_verifier(&provider).unwrap();
        client_config(&provider, Trust::Platform).unwrap();
    }

    #[test]
    fn a_refusal_is_found_inside_io_errors() {
        let tls = rustls::Error::InvalidCertificate(CertificateError::Expired);
        let io = std::io::Error::other(tls);
        let why = refusal(&io).unwrap();
        assert!(why.contains("expired"), "{why}");
        assert!(refusal(&std::io::Error::other("connection reset")).is_none());
        // Nested, as a connector wraps it.
        let nested = std::io::Error::other(std::io::Error::other(
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        ));
        assert!(refusal(&nested).unwrap().contains("not issued by"));
    }
}
