//! Passive health: a backend that fails (or answers 429) several times in a row is ejected for
//! a cool-down, so requests stop paying for a timeout at a backend that is down.

use std::{
    sync::atomic::{AtomicU32, AtomicU64, Ordering},
    time::Duration,
};

use tokio::time::Instant;

/// When a backend is ejected and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ejection {
    /// Consecutive failures that eject a backend.
    pub after_failures: u32,
    /// How long an ejected backend is skipped.
    pub cool_down: Duration,
}

impl Default for Ejection {
    fn default() -> Self {
        Self {
            after_failures: 5,
            cool_down: Duration::from_secs(30),
        }
    }
}

/// The health of one backend. Lock-free: two atomics.
#[derive(Debug)]
pub struct Health {
    origin: Instant,
    failures: AtomicU32,
    /// Milliseconds after `origin` until which the backend is ejected (0: never ejected).
    ejected_until_ms: AtomicU64,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            origin: Instant::now(),
            failures: AtomicU32::new(0),
            ejected_until_ms: AtomicU64::new(0),
        }
    }
}

impl Health {
    /// Whether the backend is ejected now.
    pub fn is_ejected(&self) -> bool {
        self.now_ms() < self.ejected_until_ms.load(Ordering::Relaxed)
    }

    /// Records a success: the failure streak ends.
    pub fn succeeded(&self) {
        self.failures.store(0, Ordering::Relaxed);
    }

    /// Records a failure; returns true when this failure ejected the backend.
    pub fn failed(&self, policy: Ejection) -> bool {
        let streak = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if streak < policy.after_failures {
            return false;
        }
        self.failures.store(0, Ordering::Relaxed);
        let until = self.now_ms() + u64::try_from(policy.cool_down.as_millis()).unwrap_or(u64::MAX);
        self.ejected_until_ms.store(until.max(1), Ordering::Relaxed);
        true
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Ejection = Ejection {
        after_failures: 3,
        cool_down: Duration::from_secs(30),
    };

    #[tokio::test(start_paused = true)]
    async fn a_backend_is_ejected_after_consecutive_failures_for_the_cool_down() {
        let health = Health::default();
        assert!(!health.failed(POLICY));
        assert!(!health.failed(POLICY));
        assert!(health.failed(POLICY), "the third failure in a row ejects");
        assert!(health.is_ejected());
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(health.is_ejected());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(!health.is_ejected(), "back after the cool-down");
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_ends_the_failure_streak() {
        let health = Health::default();
        health.failed(POLICY);
        health.failed(POLICY);
        health.succeeded();
        assert!(!health.failed(POLICY));
        assert!(!health.is_ejected());
    }
}
