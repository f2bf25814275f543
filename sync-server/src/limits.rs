//! Limits enforced per request: the rate limits (a token bucket per device, and per client
//! address for the routes that need no token), the batch and envelope limits of a push, and
//! the freshness window of signed timestamps.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use holdfast_protocol::{DeviceId, PushBatchRef, SharedClock};

use crate::address::AddressKey;
use crate::config::Limits;
use crate::error::{ApiError, ErrorCode};

/// Buckets kept at most; past this, full buckets (idle keys) are dropped, and if most are
/// still in use (a flood from very many keys) all are: everyone starts again from a full
/// burst rather than the map growing, or its sweep running on every request.
const MAX_BUCKETS: usize = 100_000;

/// A token bucket per key (a device, a client address): `rate` requests per second on
/// average, bursts of `burst`.
#[derive(Debug)]
pub struct RateLimiter<K = DeviceId> {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
    clock: SharedClock,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    /// When `tokens` was last brought up to date, in ms since the epoch.
    updated_ms: u64,
}

impl Bucket {
    /// The tokens it holds at `now_ms`, refilled at `rate` per second up to `burst`. A wall
    /// clock set back refills nothing (and the bucket restarts from the new time).
    fn tokens_at(&self, now_ms: u64, rate: f64, burst: f64) -> f64 {
        let elapsed_secs = now_ms.saturating_sub(self.updated_ms) as f64 / 1000.0;
        (self.tokens + elapsed_secs * rate).min(burst)
    }
}

impl<K: Hash + Eq + Copy> RateLimiter<K> {
    /// A limiter that refills by `clock`; a `rate` of 0 lets everything through.
    pub fn new(rate: f64, burst: u32, clock: SharedClock) -> Self {
        RateLimiter {
            rate,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
            clock,
        }
    }

    /// Takes one request's token from `key`'s bucket, or says how long until there is one.
    pub fn check(&self, key: K) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now_ms = self.clock.now_ms();
        let (rate, burst) = (self.rate, self.burst);
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&key) {
            buckets.retain(|_, b| b.tokens_at(now_ms, rate, burst) < burst);
            if buckets.len() >= MAX_BUCKETS / 4 * 3 {
                buckets.clear();
            }
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: burst,
            updated_ms: now_ms,
        });
        bucket.tokens = bucket.tokens_at(now_ms, rate, burst);
        bucket.updated_ms = now_ms;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate))
        }
    }
}

/// `429 rate_limited` with `Retry-After`.
pub fn rate_limited(device: DeviceId, retry_after: Duration) -> ApiError {
    ApiError::new(
        ErrorCode::RateLimited,
        format!("device {device} is over its request rate; retry later"),
    )
    .retry_after(retry_after)
}

/// `429 rate_limited` with `Retry-After`, for a client address over its budget for `what`.
pub fn address_limited(what: &str, address: AddressKey, retry_after: Duration) -> ApiError {
    ApiError::new(
        ErrorCode::RateLimited,
        format!("too many {what} from {address}; retry later"),
    )
    .retry_after(retry_after)
}

/// Checks the relay's own batch limits (tighter than the format's, if so configured):
/// envelope count and each envelope's size.
pub fn check_batch(batch: &PushBatchRef<'_>, limits: &Limits) -> Result<(), ApiError> {
    if batch.len() > limits.max_batch_envelopes {
        return Err(ApiError::new(
            ErrorCode::BatchTooLarge,
            format!(
                "push batch has {} envelopes, more than the relay's limit of {}",
                batch.len(),
                limits.max_batch_envelopes
            ),
        ));
    }
    for (index, envelope) in batch.envelopes().iter().enumerate() {
        let len = envelope.as_bytes().len();
        if len > limits.max_envelope_bytes {
            return Err(ApiError::new(
                ErrorCode::EnvelopeTooLarge,
                format!(
                    "envelope {index} is {len} bytes, more than the relay's limit of {}",
                    limits.max_envelope_bytes
                ),
            ));
        }
    }
    Ok(())
}

/// `400 stale_timestamp` unless `timestamp_ms` is within `skew` of `now_ms`.
pub fn check_fresh(
    what: &str,
    timestamp_ms: u64,
    now_ms: u64,
    skew: Duration,
) -> Result<(), ApiError> {
    let skew_ms = u64::try_from(skew.as_millis()).unwrap_or(u64::MAX);
    if timestamp_ms.abs_diff(now_ms) > skew_ms {
        return Err(ApiError::new(
            ErrorCode::StaleTimestamp,
            format!(
                "{what} timestamp {timestamp_ms} is more than {} s from the relay's clock ({now_ms} ms since the epoch)",
                skew.as_secs()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use holdfast_protocol::ManualClock;

    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        // 4 a second: one token every 250 ms (times chosen to be exact in binary).
        let clock = ManualClock::at(1_000_000);
        let limiter = RateLimiter::new(4.0, 3, Arc::new(clock.clone()));
        let device = DeviceId([1; 16]);
        for _ in 0..3 {
            limiter.check(device).unwrap();
        }
        assert_eq!(limiter.check(device), Err(Duration::from_millis(250)));
        // Another device has its own bucket.
        limiter.check(DeviceId([2; 16])).unwrap();

        clock.advance(Duration::from_millis(125));
        assert_eq!(limiter.check(device), Err(Duration::from_millis(125)));
        clock.advance(Duration::from_millis(125));
        limiter.check(device).unwrap();
        assert!(limiter.check(device).is_err());

        // Refills stop at the burst.
        clock.advance(Duration::from_secs(3600));
        for _ in 0..3 {
            limiter.check(device).unwrap();
        }
        assert!(limiter.check(device).is_err());

        // A wall clock set back refills nothing; refills restart from the new time.
        clock.set(0);
        assert!(limiter.check(device).is_err());
        clock.advance(Duration::from_millis(250));
        limiter.check(device).unwrap();
    }

    #[test]
    fn a_zero_rate_means_no_limit() {
        let limiter = RateLimiter::new(0.0, 1, holdfast_protocol::system_clock());
        for _ in 0..1000 {
            limiter.check(DeviceId([1; 16])).unwrap();
        }
    }

    #[test]
    fn freshness_is_symmetric() {
        let skew = Duration::from_secs(10);
        check_fresh("x", 100_000, 100_000, skew).unwrap();
        check_fresh("x", 90_000, 100_000, skew).unwrap();
        check_fresh("x", 110_000, 100_000, skew).unwrap();
        let late = check_fresh("x", 89_999, 100_000, skew).unwrap_err();
        assert_eq!(late.code(), ErrorCode::StaleTimestamp);
        assert!(check_fresh("x", 110_001, 100_000, skew).is_err());
        assert!(check_fresh("x", u64::MAX, 0, skew).is_err());
    }
}
