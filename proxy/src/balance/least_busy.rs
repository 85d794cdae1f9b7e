//! Least busy: the backend with the fewest requests in flight from this proxy first.

use rand::Rng;
use switchyard_crds::snapshot::{Backend, ModelIdx};

use crate::store::State;

/// Backends by ascending in-flight count; ties broken at random.
pub(super) fn order<'a>(
    backends: impl Iterator<Item = &'a Backend>,
    state: &State,
    rng: &mut impl Rng,
) -> Vec<ModelIdx> {
    let mut keyed: Vec<(u32, u32, ModelIdx)> = backends
        .map(|backend| {
            let busy = state
                .backends
                .get(backend.model as usize)
                .map_or(0, |b| b.load.in_flight());
            (busy, rng.random(), backend.model)
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, _, model)| model).collect()
}
