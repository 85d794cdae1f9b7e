//! Lowest latency: the backend with the lowest EWMA of time to first byte first. A backend
//! without a sample goes first, so every backend gets measured.

use rand::Rng;
use switchyard_crds::snapshot::{Backend, ModelIdx};

use crate::store::State;

/// Backends by ascending latency EWMA; ties broken at random.
pub(super) fn order<'a>(
    backends: impl Iterator<Item = &'a Backend>,
    state: &State,
    rng: &mut impl Rng,
) -> Vec<ModelIdx> {
    let mut keyed: Vec<(u64, u32, ModelIdx)> = backends
        .map(|backend| {
            let ewma = state
                .backends
                .get(backend.model as usize)
                .map_or(0, |b| b.load.ewma_micros());
            (ewma, rng.random(), backend.model)
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, _, model)| model).collect()
}
