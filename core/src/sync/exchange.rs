//! The sync client's request seam: every HTTP request the client makes to a relay (login,
//! push, pull, membership, keys, snapshots, private notes) goes through one function,
//! [`SyncClient`](super::SyncClient)'s `attempt`. By default that sends it with `reqwest`
//! over the TLS set up in `tls.rs`. A client made with `SyncClient::with_exchange` (the
//! `simulation` feature) hands each request to an [`Exchange`] instead: a test harness that
//! runs the relay's router in-process and decides, request by request, whether it arrives,
//! arrives late, arrives twice, or arrives and its answer is lost.
//!
//! Everything after the request is the same code either way: retries and their backoff,
//! re-login on `401`, answer size limits, the `holdfast-check` header, error mapping. The
//! live socket (`live.rs`) and [`SyncClient::check_relay`](super::SyncClient::check_relay)
//! are not routed through an exchange: a simulation syncs with explicit calls.

// Without the `simulation` feature nothing outside this crate can make an exchange, so the
// request's fields are only ever written.
#![cfg_attr(not(feature = "simulation"), allow(dead_code))]

use futures_util::future::BoxFuture;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

/// One request, as the client would send it.
#[derive(Debug, Clone)]
pub struct ExchangeRequest {
    /// The method.
    pub method: Method,
    /// The path and query, from `/` (`/v1/teams/…/envelopes?after=0`).
    pub path: String,
    /// Headers: `authorization` and `content-type` when the request has them.
    pub headers: HeaderMap,
    /// The body (empty when there is none).
    pub body: Vec<u8>,
}

/// An answer.
#[derive(Debug, Clone)]
pub struct ExchangeResponse {
    /// Its status.
    pub status: StatusCode,
    /// Its headers (`retry-after`, `holdfast-check` are read).
    pub headers: HeaderMap,
    /// Its body.
    pub body: Vec<u8>,
}

/// What carries the client's requests instead of HTTP. `Err` is a request that got no
/// answer (the network failed, before or after the relay saw it): the client treats it as
/// it treats a dropped connection, and retries.
pub trait Exchange: Send + Sync {
    /// Carries `request` to the relay at `base` (the team's relay URL) and back.
    fn exchange<'a>(
        &'a self,
        base: &'a str,
        request: ExchangeRequest,
    ) -> BoxFuture<'a, Result<ExchangeResponse, String>>;
}
