//! How long to wait before the next attempt: exponential (100 ms doubling to 5 s) with full
//! jitter, so a fleet of proxies that lost the operator together does not come back together.

use std::time::Duration;

use rand::Rng as _;

/// The delays of successive failed attempts.
#[derive(Debug)]
pub(super) struct Backoff {
    first: Duration,
    cap: Duration,
    failures: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            first: Duration::from_millis(100),
            cap: Duration::from_secs(5),
            failures: 0,
        }
    }
}

impl Backoff {
    /// The wait before the next attempt: uniform between zero and the current ceiling, which
    /// doubles on every call up to the cap.
    pub(super) fn next(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.failures = self.failures.saturating_add(1);
        let micros = u64::try_from(ceiling.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(rand::rng().random_range(0..=micros))
    }

    /// Starts again from the first delay (after a stream that delivered a snapshot).
    pub(super) fn reset(&mut self) {
        self.failures = 0;
    }

    fn ceiling(&self) -> Duration {
        self.first
            .saturating_mul(2u32.saturating_pow(self.failures))
            .min(self.cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_to_the_cap_and_a_reset_starts_over() {
        let mut backoff = Backoff::default();
        let mut ceilings = Vec::new();
        for _ in 0..10 {
            ceilings.push(backoff.ceiling().as_millis());
            let wait = backoff.next();
            assert!(wait.as_millis() <= *ceilings.last().unwrap());
        }
        assert_eq!(
            ceilings,
            [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000]
        );
        for _ in 0..100 {
            backoff.next();
        }
        assert_eq!(backoff.ceiling(), Duration::from_secs(5), "no overflow");
        backoff.reset();
        assert_eq!(backoff.ceiling(), Duration::from_millis(100));
    }

    #[test]
    fn waits_are_spread_out() {
        let mut backoff = Backoff::default();
        for _ in 0..7 {
            backoff.next();
        }
        let waits: std::collections::HashSet<_> = (0..20).map(|_| backoff.next()).collect();
        assert!(waits.len() > 1, "full jitter: {waits:?}");
    }
}
