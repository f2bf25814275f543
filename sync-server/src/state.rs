//! [`AppState`]: what every request handler shares (storage, limits, the clock, the token
//! key, outstanding challenges, the membership cache, rate limits, metrics, the shutdown
//! signal).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use holdfast_protocol::{DeviceId, SharedClock, SystemRandom};
use tokio::sync::{Notify, watch};

use crate::address::AddressKey;
use crate::address::ClientAddress;
use crate::auth::{Challenges, TokenKey};
use crate::config::Limits;
use crate::error::ApiError;
use crate::limits::{RateLimiter, address_limited, rate_limited};
use crate::membership::MembershipCache;
use crate::metrics::Metrics;
use crate::storage::Storage;
use crate::team_creation::TeamCreationPolicy;

/// The relay's shared state, generic over the storage backend. Cheap to clone.
pub struct AppState<S> {
    inner: Arc<Shared<S>>,
}

struct Shared<S> {
    storage: S,
    limits: Limits,
    origin: String,
    clock: SharedClock,
    tokens: TokenKey,
    team_creation: TeamCreationPolicy,
    challenges: Challenges,
    members: MembershipCache,
    rate: RateLimiter,
    /// Per client address, for the routes that need no token.
    address_rate: RateLimiter<AddressKey>,
    /// Team creations per client address.
    creation_rate: RateLimiter<AddressKey>,
    metrics: Metrics,
    rng: SystemRandom,
    shutdown: watch::Sender<bool>,
    live: LiveSessions,
}

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S> std::fmt::Debug for AppState<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("origin", &self.inner.origin)
            .finish_non_exhaustive()
    }
}

impl<S: Storage> AppState<S> {
    /// State for a relay reached at `origin` (what devices sign into login answers, e.g.
    /// `http://127.0.0.1:7878`), storing into `storage`, signing tokens with `tokens`,
    /// reading the time from `clock` (`Config::clock`: the system clock outside tests),
    /// letting create teams whom `team_creation` allows.
    pub fn new(
        storage: S,
        limits: Limits,
        origin: impl Into<String>,
        tokens: TokenKey,
        clock: SharedClock,
        team_creation: TeamCreationPolicy,
    ) -> Self {
        let (shutdown, _) = watch::channel(false);
        AppState {
            inner: Arc::new(Shared {
                challenges: Challenges::new(
                    limits.challenge_ttl(),
                    limits.max_challenges,
                    limits.max_challenges_per_address,
                    Arc::clone(&clock),
                ),
                rate: RateLimiter::new(
                    limits.rate_limit_per_second,
                    limits.rate_limit_burst,
                    Arc::clone(&clock),
                ),
                address_rate: RateLimiter::new(
                    limits.address_rate_per_second,
                    limits.address_rate_burst,
                    Arc::clone(&clock),
                ),
                creation_rate: RateLimiter::new(
                    f64::from(limits.team_creations_per_hour) / 3600.0,
                    limits.team_creations_per_hour,
                    Arc::clone(&clock),
                ),
                members: MembershipCache::new(Arc::clone(&clock)),
                storage,
                limits,
                origin: origin.into(),
                clock,
                tokens,
                team_creation,
                metrics: Metrics::default(),
                rng: SystemRandom::new(),
                shutdown,
                live: LiveSessions::default(),
            }),
        }
    }

    /// The storage backend.
    pub fn storage(&self) -> &S {
        &self.inner.storage
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The relay's origin as devices sign it.
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// The relay's clock.
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// Milliseconds since the Unix epoch, by the relay's clock: the only "now" the relay
    /// reads (durations measured for metrics and logs aside).
    pub fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The token key.
    pub fn tokens(&self) -> &TokenKey {
        &self.inner.tokens
    }

    /// Who may create teams.
    pub fn team_creation(&self) -> &TeamCreationPolicy {
        &self.inner.team_creation
    }

    pub(crate) fn challenges(&self) -> &Challenges {
        &self.inner.challenges
    }

    pub(crate) fn members(&self) -> &MembershipCache {
        &self.inner.members
    }

    pub(crate) fn rng(&self) -> &SystemRandom {
        &self.inner.rng
    }

    /// Takes a request from `device`'s rate budget (`429` when it has none left).
    pub(crate) fn rate_limit(&self, device: DeviceId) -> Result<(), ApiError> {
        self.inner
            .rate
            .check(device)
            .map_err(|retry| rate_limited(device, retry))
    }

    /// Takes a request from the budget of the client address `from` for the routes that
    /// need no token (`429` when it has none left); `what` names the requests for the
    /// message ("login challenges").
    pub(crate) fn limit_address(&self, from: ClientAddress, what: &str) -> Result<(), ApiError> {
        let key = from.key();
        self.inner.address_rate.check(key).map_err(|retry| {
            self.inner.metrics.address_limited.inc();
            address_limited(what, key, retry)
        })
    }

    /// Takes a team creation from the client address's hourly budget (after
    /// [`limit_address`](Self::limit_address)).
    pub(crate) fn limit_team_creation(&self, from: ClientAddress) -> Result<(), ApiError> {
        let key = from.key();
        self.inner.creation_rate.check(key).map_err(|retry| {
            self.inner.metrics.address_limited.inc();
            address_limited("team creations", key, retry)
        })
    }

    /// Asks the relay to shut down: stop accepting, drain requests, close WebSockets.
    pub fn request_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Resolves once [`request_shutdown`](Self::request_shutdown) has been called.
    pub fn shutdown_requested(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut watch = self.inner.shutdown.subscribe();
        async move {
            // An error means the state is gone, which is a shutdown too.
            let _ = watch.wait_for(|stop| *stop).await;
        }
    }

    /// Whether a shutdown has been requested.
    pub fn is_shutting_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    /// Registers an open WebSocket of `device` until the guard is dropped; `None` if the
    /// device already holds its share (`Limits::max_live_sockets_per_device`).
    pub(crate) fn live_session(&self, device: DeviceId) -> Option<LiveSession<S>> {
        {
            let mut per_device = self
                .inner
                .live
                .per_device
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let open = per_device.entry(device).or_default();
            if *open >= self.inner.limits.max_live_sockets_per_device {
                return None;
            }
            *open += 1;
        }
        self.inner.live.open.fetch_add(1, Ordering::AcqRel);
        self.inner.metrics.live_connections.inc();
        Some(LiveSession {
            state: self.clone(),
            device,
        })
    }

    /// Waits until every WebSocket has closed.
    pub async fn live_sessions_closed(&self) {
        loop {
            let closed = self.inner.live.closed.notified();
            if self.inner.live.open.load(Ordering::Acquire) == 0 {
                return;
            }
            closed.await;
        }
    }
}

#[derive(Default)]
struct LiveSessions {
    open: AtomicUsize,
    /// Open sockets per device.
    per_device: Mutex<HashMap<DeviceId, usize>>,
    closed: Notify,
}

/// An open WebSocket, counted until dropped.
pub(crate) struct LiveSession<S> {
    state: AppState<S>,
    device: DeviceId,
}

impl<S> Drop for LiveSession<S> {
    fn drop(&mut self) {
        let shared = &self.state.inner;
        {
            let mut per_device = shared
                .live
                .per_device
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(open) = per_device.get_mut(&self.device) {
                *open = open.saturating_sub(1);
                if *open == 0 {
                    per_device.remove(&self.device);
                }
            }
        }
        shared.metrics.live_connections.dec();
        if shared.live.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            shared.live.closed.notify_waiters();
        }
    }
}
