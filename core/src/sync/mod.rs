//! Sync with the relay: push the outbox, pull after the team cursor, follow the team live,
//! upload snapshots, and say how far it got.
//!
//! - [`SharedStore`]: how the async client and the app share one [`Store`](crate::Store).
//!   SQLite and Automerge work runs on tokio's blocking pool under a mutex; no database
//!   call ever runs on an async worker thread.
//! - Pulled pages are checked and opened by [`crate::access::open_page`] (signatures, team,
//!   authors, document keys), outside the store lock; the store applies the result in one
//!   transaction.
//! - [`SyncClient`] (`client.rs`): the HTTP and WebSocket side, with retries ([`RetryPolicy`]).
//! - `exchange.rs`: the one seam every relay request passes through; with the `simulation`
//!   feature a client can be given an `Exchange` (an in-process relay behind a network a
//!   test controls) instead of HTTP.
//! - [`SyncStatus`]: what the app shows, including a relay-confirmed "everything uploaded".
//!
//! The client speaks the relay API described in `docs/PROTOCOL.md` ("HTTP and WebSocket
//! API (v1)") over HTTPS and WSS (`tls.rs`: rustls with the ring provider; the platform's
//! roots, or the CA pinned for a self-hosted relay), or plain HTTP to a relay on this
//! computer (to any host only with `SyncConfig::insecure_http_to_any_host`).

mod access;
mod again;
mod api;
mod backoff;
mod client;
mod exchange;
mod live;
mod pages;
mod private_notes;
mod shared;
mod tls;

pub use crate::store::{PlainHttp, SyncStatus};
pub use access::{DEFAULT_INVITE_TTL_MS, Enrolled, Joined};
pub use backoff::RetryPolicy;
pub use client::{CreationToken, PullReport, PushReport, SyncClient, SyncConfig, SyncReport};
#[cfg(feature = "simulation")]
pub use exchange::{Exchange, ExchangeRequest, ExchangeResponse};
pub use holdfast_protocol::{RelayPin, Role};
pub use live::LiveHandle;
pub use shared::SharedStore;
