//! Metric handles per (route, backend model), resolved on first use and then shared: a
//! labelled lookup hashes every label value under a lock, and a request records half a dozen
//! series for the same pair.

use std::{collections::HashMap, sync::Arc};

use arc_swap::ArcSwap;
use prometheus::{Counter, Histogram, IntCounter};

use super::Metrics;

/// The series one (route, model) pair records on every request.
pub(super) struct Call {
    /// Requests answered 200 without an error (the common case of `switchyard_requests_total`).
    pub(super) ok: IntCounter,
    pub(super) duration: Histogram,
    pub(super) first_token: Histogram,
    /// Input, output, cached input, reasoning.
    pub(super) tokens: [IntCounter; 4],
    pub(super) cost: Counter,
}

/// The token kinds, in the order of [`Call::tokens`].
pub(super) const TOKEN_KINDS: [&str; 4] = ["input", "output", "cached_input", "reasoning"];

type Key = (Arc<str>, Arc<str>);

/// Handles by (route, model); grows with the pairs that served requests, which the
/// configuration bounds.
#[derive(Default)]
pub(super) struct Calls(ArcSwap<HashMap<Key, Arc<Call>>>);

impl Calls {
    /// The handles of a pair, created on first use.
    pub(super) fn get(
        &self,
        metrics: &Metrics,
        route: &Arc<str>,
        model: &Arc<str>,
        provider: &str,
    ) -> Arc<Call> {
        let key = (Arc::clone(route), Arc::clone(model));
        if let Some(call) = self.0.load().get(&key) {
            return Arc::clone(call);
        }
        let labels = [&**route, &**model, provider];
        let status_ok = [&**route, &**model, provider, "200", ""];
        let call = Arc::new(Call {
            ok: metrics.requests.with_label_values(&status_ok),
            duration: metrics.duration.with_label_values(&labels),
            first_token: metrics.first_token.with_label_values(&labels),
            tokens: TOKEN_KINDS.map(|kind| {
                metrics
                    .tokens
                    .with_label_values(&[&**route, &**model, provider, kind])
            }),
            cost: metrics.cost.with_label_values(&labels),
        });
        self.0.rcu(|map| {
            let mut map = HashMap::clone(map);
            map.entry(key.clone()).or_insert_with(|| Arc::clone(&call));
            map
        });
        call
    }
}
