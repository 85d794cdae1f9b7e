//! Weighted random: each position is drawn by weight among the backends not yet placed.

use rand::Rng;
use switchyard_crds::snapshot::{Backend, ModelIdx};

/// Backends in weighted-random order.
pub(super) fn order<'a>(
    backends: impl Iterator<Item = &'a Backend>,
    rng: &mut impl Rng,
) -> Vec<ModelIdx> {
    let mut left: Vec<Backend> = backends.copied().collect();
    let mut ordered = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let total: u64 = left.iter().map(|backend| u64::from(backend.weight)).sum();
        let mut ticket = rng.random_range(0..total.max(1));
        let pick = left
            .iter()
            .position(|backend| {
                let weight = u64::from(backend.weight);
                if ticket < weight {
                    true
                } else {
                    ticket -= weight;
                    false
                }
            })
            .unwrap_or(0);
        ordered.push(left.swap_remove(pick).model);
    }
    ordered
}
