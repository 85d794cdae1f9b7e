//! Lowest cost: the backend whose pricing makes the estimated request cheapest first; backends
//! without pricing go last (their cost is unknown, not zero).

use rand::Rng;
use rust_decimal::Decimal;
use switchyard_crds::snapshot::{Backend, ModelIdx};

use super::Estimate;
use crate::store::State;

/// Backends by ascending estimated cost; ties broken at random.
pub(super) fn order<'a>(
    backends: impl Iterator<Item = &'a Backend>,
    state: &State,
    estimate: Estimate,
    rng: &mut impl Rng,
) -> Vec<ModelIdx> {
    let mut keyed: Vec<(Option<Decimal>, u32, ModelIdx)> = backends
        .map(|backend| {
            let cost = state
                .snapshot
                .model(backend.model)
                .and_then(|model| model.pricing.as_ref())
                .map(|price| {
                    price.input * Decimal::from(estimate.input_tokens)
                        + price.output * Decimal::from(estimate.output_tokens)
                });
            (cost, rng.random(), backend.model)
        })
        .collect();
    // `None` sorts first for Option; unknown cost must sort last.
    keyed.sort_unstable_by(|a, b| match (a.0, b.0) {
        (Some(x), Some(y)) => x.cmp(&y).then(a.1.cmp(&b.1)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.1.cmp(&b.1),
    });
    keyed.into_iter().map(|(_, _, model)| model).collect()
}
