//! The relay's accept loop: HTTP/1.1 connections served by hyper, with the limits that
//! `axum::serve` does not have.
//!
//! - **A cap on connections** (`--max-connections`): each connection holds a permit from
//!   the moment it is accepted until it closes; a live WebSocket keeps its connection's
//!   permit. With none left the relay stops accepting: new connections wait in the
//!   kernel's backlog until one closes, rather than each costing a task and buffers.
//! - **A cap per client address** (`--max-connections-per-address`): one connection more
//!   from an address that holds its share is closed at once. Trusted proxies are exempt
//!   (their connections carry many clients).
//! - **A header-read timeout** (`--header-read-timeout-secs`): a client that has not sent a
//!   request's whole head within it is disconnected, and so is a kept-alive connection that
//!   stays idle that long between requests. A connection that trickles a header, or sends
//!   nothing, holds its permit for that long at most.
//!
//! Every request carries the peer's [`ConnectInfo`] (what [`crate::address`] reads) and the
//! connection's [`ConnectionSlot`], which the live route moves into its WebSocket.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

use crate::address::AddressKey;
use crate::state::AppState;
use crate::storage::Storage;
use crate::tls::Handshakes;

/// A connection's place among the open ones: its permit and its address's count, given
/// back when the last holder (the connection, or the WebSocket it became) drops it.
#[derive(Debug)]
pub struct ConnectionSlot {
    _permit: OwnedSemaphorePermit,
    address: Option<(AddressKey, Arc<AddressCounts>)>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Some((key, counts)) = &self.address {
            counts.release(*key);
        }
    }
}

/// Open connections per client address.
#[derive(Debug, Default)]
pub struct AddressCounts {
    open: Mutex<HashMap<AddressKey, usize>>,
}

impl AddressCounts {
    /// Counts one more connection from `key`, unless it already holds `max`.
    fn take(&self, key: AddressKey, max: usize) -> bool {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key).or_default();
        if *count >= max {
            return false;
        }
        *count += 1;
        true
    }

    fn release(&self, key: AddressKey) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&key);
            }
        }
    }
}

/// Accepts and serves connections on `listener` with `app` until a shutdown is requested,
/// then stops accepting, lets each connection finish its request in flight and waits for
/// them (the caller bounds the wait). Never fails: a failed accept is logged and retried.
pub(crate) async fn serve<S: Storage>(
    listener: TcpListener,
    handshakes: Option<Handshakes>,
    app: Router,
    state: AppState<S>,
) -> std::io::Result<()> {
    let limits = state.limits().clone();
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let counts = Arc::new(AddressCounts::default());
    // Every connection task holds a receiver: `closed()` resolves once all are gone.
    let (stop, stopped) = watch::channel(false);
    let shutdown = state.shutdown_requested();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was
                    // accepted: wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let address = if limits.trusted_proxies.contains(&peer.ip()) {
            None
        } else {
            let key = AddressKey::of(peer.ip());
            if !counts.take(key, limits.max_connections_per_address) {
                state.metrics().connections_refused.inc();
                tracing::debug!(address = %key, "connection refused: the address holds its share");
                drop(stream);
                continue;
            }
            Some((key, Arc::clone(&counts)))
        };
        let slot = Arc::new(ConnectionSlot {
            _permit: permit,
            address,
        });
        // Small JSON answers and live frames should not wait for Nagle.
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            handshakes.clone(),
            peer,
            slot,
            app.clone(),
            state.clone(),
            stopped.clone(),
        ));
    }
    drop(listener);
    stop.send_replace(true);
    drop(stopped);
    stop.closed().await;
    Ok(())
}

/// Serves one connection until it closes, or until shutdown and its request in flight is
/// answered.
async fn connection<S: Storage>(
    stream: TcpStream,
    handshakes: Option<Handshakes>,
    peer: SocketAddr,
    slot: Arc<ConnectionSlot>,
    app: Router,
    state: AppState<S>,
    stop: watch::Receiver<bool>,
) {
    let header_read_timeout = state.limits().header_read_timeout();
    let metrics = state.metrics();
    metrics.connections_open.inc();
    match handshakes {
        None => serve_io(stream, peer, slot, app, metrics, header_read_timeout, stop).await,
        Some(handshakes) => {
            // The handshake runs under the connection's permit: a silent client holds one
            // place, for the handshake's timeout at most.
            if let Some(tls) = handshakes.accept(stream).await {
                serve_io(tls, peer, slot, app, metrics, header_read_timeout, stop).await;
            }
        }
    }
    metrics.connections_open.dec();
}

/// Serves HTTP/1.1 over `io` (plain TCP, or TLS over it).
async fn serve_io<I>(
    io: I,
    peer: SocketAddr,
    slot: Arc<ConnectionSlot>,
    app: Router,
    metrics: &crate::metrics::Metrics,
    header_read_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(Arc::clone(&slot));
        app.clone().oneshot(request.map(axum::body::Body::new))
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut stopping = false;
    let result = loop {
        tokio::select! {
            result = conn.as_mut() => break result,
            changed = stop.wait_for(|stop| *stop), if !stopping => {
                let _ = changed;
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    };
    if let Err(e) = result {
        if e.is_timeout() {
            metrics.header_timeouts.inc();
        }
        tracing::debug!(peer = %peer.ip(), error = %e, "connection ended with an error");
    }
}
