//! Which backends a request tries, in which order: the route's strategy orders its backends,
//! retries cycle through them, then the fallbacks follow in their listed order, all within the
//! route's attempt budget. Ejected
//! backends are skipped unless every candidate is ejected (then all are tried: a gateway that
//! refuses everything because its view of health is stale is worse than one that tries).

mod cost;
mod latency;
mod least_busy;
mod weighted;

use std::{
    sync::atomic::{AtomicU32, AtomicU64, Ordering},
    time::Duration,
};

use rand::Rng;
use switchyard_crds::{
    route::Strategy,
    snapshot::{ModelIdx, Route},
};

use crate::store::State;

/// In-flight requests and latency of one backend, shared by every request that uses it.
#[derive(Debug, Default)]
pub struct BackendLoad {
    in_flight: AtomicU32,
    /// EWMA of time to first byte in microseconds; 0 until the first sample.
    ewma_micros: AtomicU64,
}

/// Weight of a new latency sample in the EWMA, in tenths.
const EWMA_NEW_TENTHS: u64 = 3;

impl BackendLoad {
    /// Counts a request in flight until the guard drops.
    pub fn enter(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Adds a time-to-first-byte sample.
    pub fn observe(&self, ttfb: Duration) {
        let sample = u64::try_from(ttfb.as_micros()).unwrap_or(u64::MAX).max(1);
        let old = self.ewma_micros.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            (old * (10 - EWMA_NEW_TENTHS) + sample * EWMA_NEW_TENTHS) / 10
        };
        // A lost race drops one sample, which an average can afford.
        self.ewma_micros.store(new, Ordering::Relaxed);
    }

    /// The latency EWMA in microseconds (0: no sample yet).
    pub fn ewma_micros(&self) -> u64 {
        self.ewma_micros.load(Ordering::Relaxed)
    }
}

/// A request counted in flight at a backend.
#[derive(Debug)]
pub struct InFlight<'a>(&'a BackendLoad);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the request is expected to cost, for the lowest-cost strategy.
#[derive(Clone, Copy, Debug, Default)]
pub struct Estimate {
    /// Estimated input tokens.
    pub input_tokens: u64,
    /// Expected output tokens.
    pub output_tokens: u64,
}

/// One attempt in a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The model to call.
    pub model: ModelIdx,
    /// Whether it comes from the route's fallbacks.
    pub fallback: bool,
}

/// The attempts for one request, in order.
pub fn plan(
    route: &Route,
    state: &State,
    estimate: Estimate,
    rng: &mut impl Rng,
) -> Vec<Candidate> {
    let healthy = |idx: &ModelIdx| {
        state
            .backends
            .get(*idx as usize)
            .is_some_and(|backend| !backend.health.is_ejected())
    };
    let mut ordered = order(route, state, estimate, rng);
    let mut fallbacks = route.fallbacks.clone();
    let any_healthy = ordered.iter().any(healthy) || fallbacks.iter().any(healthy);
    if any_healthy {
        ordered.retain(healthy);
        fallbacks.retain(healthy);
    }
    // `attempts` counts backends and fallbacks together. Backends are retried (cycled) while
    // that leaves room for every fallback; each backend gets one try either way.
    let attempts = route.retry.attempts.max(1) as usize;
    let backend_slots = attempts
        .saturating_sub(fallbacks.len())
        .max(ordered.len().min(attempts));
    let mut candidates: Vec<Candidate> = ordered
        .iter()
        .cycle()
        .take(if ordered.is_empty() { 0 } else { backend_slots })
        .map(|&model| Candidate {
            model,
            fallback: false,
        })
        .collect();
    candidates.extend(fallbacks.into_iter().map(|model| Candidate {
        model,
        fallback: true,
    }));
    candidates.truncate(attempts);
    candidates
}

/// The route's backends (weight > 0) in the order its strategy prefers.
fn order(route: &Route, state: &State, estimate: Estimate, rng: &mut impl Rng) -> Vec<ModelIdx> {
    let backends = route.backends.iter().filter(|backend| backend.weight > 0);
    match route.strategy {
        Strategy::Weighted => weighted::order(backends, rng),
        Strategy::LowestLatency => latency::order(backends, state, rng),
        Strategy::LeastBusy => least_busy::order(backends, state, rng),
        Strategy::LowestCost => cost::order(backends, state, estimate, rng),
    }
}

#[cfg(test)]
mod tests;
