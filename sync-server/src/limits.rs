//! Limits enforced per request: the per-device rate limit (a token bucket), the batch and
//! envelope limits of a push, and the freshness window of signed timestamps.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use holdfast_protocol::{DeviceId, PushBatchRef};

use crate::config::Limits;
use crate::error::{ApiError, ErrorCode};

/// Buckets kept at most; past this, full buckets (idle devices) are dropped.
const MAX_BUCKETS: usize = 100_000;

/// A token bucket per device: `rate` requests per second on average, bursts of `burst`.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<DeviceId, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    /// A limiter; a `rate` of 0 lets everything through.
    pub fn new(rate: f64, burst: u32) -> Self {
        RateLimiter {
            rate,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request's token from `device`'s bucket, or says how long until there is one.
    pub fn check(&self, device: DeviceId) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&device) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * rate < burst
            });
        }
        let bucket = buckets.entry(device).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let refill = now.duration_since(bucket.updated).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.updated = now;
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
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        let limiter = RateLimiter::new(1000.0, 3);
        let device = DeviceId([1; 16]);
        for _ in 0..3 {
            limiter.check(device).unwrap();
        }
        let wait = limiter.check(device).unwrap_err();
        assert!(wait <= Duration::from_millis(1), "{wait:?}");
        // Another device has its own bucket.
        limiter.check(DeviceId([2; 16])).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        limiter.check(device).unwrap();
    }

    #[test]
    fn a_zero_rate_means_no_limit() {
        let limiter = RateLimiter::new(0.0, 1);
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
