//! Counters for `/metrics`, in the Prometheus text format (hand-rolled atomics: a relaxed
//! increment per event, nothing on the hot path that locks).
//!
//! Counts, sizes and durations only; no ids (unbounded label values) and never contents.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::error::ErrorCode;
use crate::storage::WriteStats;

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes one away.
    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }

    /// Sets the value (for one read from elsewhere when metrics are rendered).
    pub fn set(&self, value: i64) {
        self.0.store(value, Ordering::Relaxed);
    }

    /// The value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Everything the relay counts.
#[derive(Debug)]
pub struct Metrics {
    /// Push requests received.
    pub push_requests: Counter,
    /// Envelopes stored for the first time.
    pub envelopes_stored: Counter,
    /// Envelopes pushed that the relay already held.
    pub duplicates: Counter,
    /// Bytes of envelopes stored for the first time.
    pub bytes_stored: Counter,
    /// Pull requests served.
    pub pull_requests: Counter,
    /// Envelopes served by pulls.
    pub envelopes_served: Counter,
    /// Bytes of pull pages served.
    pub bytes_served: Counter,
    /// Requests refused with `401`.
    pub auth_failures: Counter,
    /// Tokens issued.
    pub logins: Counter,
    /// Head updates sent over WebSockets.
    pub live_messages: Counter,
    /// Open WebSockets.
    pub live_connections: Gauge,
    /// WebSockets closed because their device was revoked.
    pub live_closed_revoked: Counter,
    /// WebSockets closed because their bearer token expired.
    pub live_closed_expired: Counter,
    /// Requests to the routes that need no token refused for their client address's rate.
    pub address_limited: Counter,
    /// HTTP connections open (a WebSocket, once upgraded, counts in `live_connections`).
    pub connections_open: Gauge,
    /// Connections closed at once: their address held its share.
    pub connections_refused: Counter,
    /// Connections closed for not sending a request's headers in time (or idling).
    pub header_timeouts: Counter,
    /// Login challenges replaced before they were answered (an address over its share, or
    /// a full table).
    pub challenges_replaced: Counter,
    /// Login challenges outstanding (set when metrics are rendered).
    pub challenges_outstanding: Gauge,
    /// Membership logs read from storage by the cache (set when metrics are rendered).
    pub membership_loads: Gauge,
    /// TLS handshakes, when the relay terminates TLS itself.
    pub tls: std::sync::Arc<crate::tls::TlsCounters>,
    errors: Vec<Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            push_requests: Counter::default(),
            envelopes_stored: Counter::default(),
            duplicates: Counter::default(),
            bytes_stored: Counter::default(),
            pull_requests: Counter::default(),
            envelopes_served: Counter::default(),
            bytes_served: Counter::default(),
            auth_failures: Counter::default(),
            logins: Counter::default(),
            live_messages: Counter::default(),
            live_connections: Gauge::default(),
            live_closed_revoked: Counter::default(),
            live_closed_expired: Counter::default(),
            address_limited: Counter::default(),
            connections_open: Gauge::default(),
            connections_refused: Counter::default(),
            header_timeouts: Counter::default(),
            challenges_replaced: Counter::default(),
            challenges_outstanding: Gauge::default(),
            membership_loads: Gauge::default(),
            tls: std::sync::Arc::default(),
            errors: ErrorCode::ALL.iter().map(|_| Counter::default()).collect(),
        }
    }
}

impl Metrics {
    /// Counts an error answer.
    pub fn error(&self, code: ErrorCode) {
        if let Some(counter) = self.errors.get(code.index()) {
            counter.inc();
        }
        if code == ErrorCode::Unauthorized {
            self.auth_failures.inc();
        }
    }

    /// Error answers so far with `code`.
    pub fn errors(&self, code: ErrorCode) -> u64 {
        self.errors.get(code.index()).map_or(0, Counter::get)
    }

    /// The Prometheus text exposition, with the storage backend's write counters.
    pub fn render(&self, writes: WriteStats) -> String {
        let mut out = String::with_capacity(4096);
        let counters: [(&str, &str, u64); 16] = [
            (
                "holdfast_relay_push_requests_total",
                "Push requests received.",
                self.push_requests.get(),
            ),
            (
                "holdfast_relay_envelopes_stored_total",
                "Envelopes stored for the first time.",
                self.envelopes_stored.get(),
            ),
            (
                "holdfast_relay_duplicate_envelopes_total",
                "Envelopes pushed that the relay already held.",
                self.duplicates.get(),
            ),
            (
                "holdfast_relay_bytes_stored_total",
                "Bytes of envelopes stored for the first time.",
                self.bytes_stored.get(),
            ),
            (
                "holdfast_relay_pull_requests_total",
                "Pull requests served.",
                self.pull_requests.get(),
            ),
            (
                "holdfast_relay_envelopes_served_total",
                "Envelopes served by pulls.",
                self.envelopes_served.get(),
            ),
            (
                "holdfast_relay_bytes_served_total",
                "Bytes of pull pages served.",
                self.bytes_served.get(),
            ),
            (
                "holdfast_relay_auth_failures_total",
                "Requests refused as unauthorized.",
                self.auth_failures.get(),
            ),
            (
                "holdfast_relay_logins_total",
                "Bearer tokens issued.",
                self.logins.get(),
            ),
            (
                "holdfast_relay_live_messages_total",
                "Head updates sent over WebSockets.",
                self.live_messages.get(),
            ),
            (
                "holdfast_relay_address_limited_total",
                "Requests needing no token refused for their client address's rate.",
                self.address_limited.get(),
            ),
            (
                "holdfast_relay_challenges_replaced_total",
                "Login challenges replaced before they were answered.",
                self.challenges_replaced.get(),
            ),
            (
                "holdfast_relay_connections_refused_total",
                "Connections closed at once because their address held its share.",
                self.connections_refused.get(),
            ),
            (
                "holdfast_relay_header_timeouts_total",
                "Connections closed for not sending a request's headers in time.",
                self.header_timeouts.get(),
            ),
            (
                "holdfast_relay_live_closed_revoked_total",
                "Live WebSockets closed because their device was revoked.",
                self.live_closed_revoked.get(),
            ),
            (
                "holdfast_relay_live_closed_expired_total",
                "Live WebSockets closed because their bearer token expired.",
                self.live_closed_expired.get(),
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP holdfast_relay_live_connections Open live WebSockets.\n\
             # TYPE holdfast_relay_live_connections gauge\n\
             holdfast_relay_live_connections {}",
            self.live_connections.get()
        );
        let _ = writeln!(
            out,
            "# HELP holdfast_relay_membership_loads_total Membership logs read from storage (cache misses, one per team at a time).\n\
             # TYPE holdfast_relay_membership_loads_total counter\n\
             holdfast_relay_membership_loads_total {}",
            self.membership_loads.get()
        );
        let _ = writeln!(
            out,
            "# HELP holdfast_relay_connections HTTP connections open (upgraded WebSockets are counted as live connections).\n\
             # TYPE holdfast_relay_connections gauge\n\
             holdfast_relay_connections {}",
            self.connections_open.get()
        );
        let _ = writeln!(
            out,
            "# HELP holdfast_relay_login_challenges Login challenges outstanding.\n\
             # TYPE holdfast_relay_login_challenges gauge\n\
             holdfast_relay_login_challenges {}",
            self.challenges_outstanding.get()
        );
        let _ = writeln!(
            out,
            "# HELP holdfast_relay_tls_handshakes_total TLS handshakes completed.\n\
             # TYPE holdfast_relay_tls_handshakes_total counter\n\
             holdfast_relay_tls_handshakes_total {}\n\
             # HELP holdfast_relay_tls_handshake_failures_total TLS handshakes failed or timed out.\n\
             # TYPE holdfast_relay_tls_handshake_failures_total counter\n\
             holdfast_relay_tls_handshake_failures_total {}",
            self.tls.handshakes(),
            self.tls.failures()
        );
        let _ = writeln!(
            out,
            "# HELP holdfast_relay_errors_total Error answers by code.\n\
             # TYPE holdfast_relay_errors_total counter"
        );
        for code in ErrorCode::ALL {
            let _ = writeln!(
                out,
                "holdfast_relay_errors_total{{code=\"{}\"}} {}",
                code.as_str(),
                self.errors(*code)
            );
        }
        let _ = writeln!(
            out,
            "# HELP holdfast_relay_write_batch_envelopes Envelopes per write transaction (group commit).\n\
             # TYPE holdfast_relay_write_batch_envelopes summary\n\
             holdfast_relay_write_batch_envelopes_sum {}\n\
             holdfast_relay_write_batch_envelopes_count {}",
            writes.envelopes, writes.transactions
        );
        let _ = writeln!(
            out,
            "# HELP holdfast_relay_write_batch_requests Requests per write transaction (group commit).\n\
             # TYPE holdfast_relay_write_batch_requests summary\n\
             holdfast_relay_write_batch_requests_sum {}\n\
             holdfast_relay_write_batch_requests_count {}",
            writes.requests, writes.transactions
        );
        let _ = writeln!(
            out,
            "# HELP holdfast_relay_write_seconds Time per write transaction, commit included.\n\
             # TYPE holdfast_relay_write_seconds summary\n\
             holdfast_relay_write_seconds_sum {:.6}\n\
             holdfast_relay_write_seconds_count {}",
            writes.seconds, writes.transactions
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_its_type() {
        let metrics = Metrics::default();
        metrics.push_requests.inc();
        metrics.bytes_stored.add(1024);
        metrics.error(ErrorCode::Unauthorized);
        metrics.live_connections.inc();
        let text = metrics.render(WriteStats {
            transactions: 2,
            requests: 3,
            envelopes: 200,
            seconds: 0.004,
        });
        for line in [
            "holdfast_relay_push_requests_total 1",
            "holdfast_relay_bytes_stored_total 1024",
            "holdfast_relay_auth_failures_total 1",
            "holdfast_relay_errors_total{code=\"unauthorized\"} 1",
            "holdfast_relay_errors_total{code=\"internal\"} 0",
            "holdfast_relay_live_connections 1",
            "holdfast_relay_write_batch_envelopes_sum 200",
            "holdfast_relay_write_batch_envelopes_count 2",
            "holdfast_relay_write_batch_requests_sum 3",
            "holdfast_relay_write_seconds_sum 0.004000",
            "# TYPE holdfast_relay_write_seconds summary",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
