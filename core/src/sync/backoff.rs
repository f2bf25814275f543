//! How long to wait before retrying: exponential backoff with jitter, so that many devices
//! coming back online at once do not retry in lockstep.

use std::time::Duration;

use ring::rand::{SecureRandom, SystemRandom};

/// Retry policy for requests to the relay and for reconnecting the live subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before the first retry (before jitter).
    pub base: Duration,
    /// Longest delay between attempts.
    pub max_delay: Duration,
    /// Attempts per request, the first included (at least 1).
    pub attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            attempts: 6,
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (0-based), given a random `jitter`
    /// in 0..=u32::MAX: between half and all of `min(max_delay, base * 2^attempt)`.
    pub fn delay_with(&self, attempt: u32, jitter: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
            .min(self.max_delay);
        let half = ceiling / 2;
        let spread = half.mul_f64(f64::from(jitter) / f64::from(u32::MAX));
        half + spread
    }

    /// The wait after failed attempt number `attempt`, with fresh jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let mut bytes = [0u8; 4];
        // Without randomness, fall back to the middle of the range: still backs off.
        let jitter = match SystemRandom::new().fill(&mut bytes) {
            Ok(()) => u32::from_be_bytes(bytes),
            Err(_) => u32::MAX / 2,
        };
        self.delay_with(attempt, jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_within_jitter_and_stop_at_the_cap() {
        let p = RetryPolicy {
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            attempts: 5,
        };
        assert_eq!(p.delay_with(0, 0), Duration::from_millis(50));
        assert_eq!(p.delay_with(0, u32::MAX), Duration::from_millis(100));
        assert_eq!(p.delay_with(3, u32::MAX), Duration::from_millis(800));
        assert_eq!(p.delay_with(10, u32::MAX), Duration::from_secs(2));
        assert_eq!(p.delay_with(200, 0), Duration::from_secs(1));
        for attempt in 0..8 {
            let d = p.delay(attempt);
            assert!(d <= p.max_delay && d >= p.delay_with(attempt, 0));
        }
    }
}
