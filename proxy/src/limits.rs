//! Rate limits and budgets, as reservations: a request is admitted by an estimate (its counted
//! input tokens plus its output maximum, priced at the route's most expensive model) and the
//! reservation is corrected to what the provider reported when the response ends, or returned
//! if the request failed. Concurrent requests therefore never pass a limit by more than the
//! difference between what is in flight and what it reserved.
//!
//! `admit`:
//! 1. gathers the counters of the route's policies (none: nothing to do);
//! 2. reserves on every local counter, in memory;
//! 3. reserves on every global counter with one Redis script (one round trip); if Redis cannot
//!    be reached within `global::TIMEOUT`, each policy's `onRedisUnavailable` decides;
//! 4. on any refusal, returns what it reserved and refuses with 429 and `Retry-After`;
//! 5. records the most restrictive limits for the response headers (`report`).
//!
//! `settle` corrects the reservations once; an `Admission` dropped unsettled (the request's
//! future was dropped) returns them, spawning the Redis call.

pub mod counters;
pub mod global;
pub mod local;
mod refusal;
pub mod report;
pub mod window;

use std::{
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use http::HeaderMap;
use switchyard_crds::{
    policy::{LimitKeyType, RedisUnavailable},
    snapshot::Route,
};
use switchyard_providers::Usage;

use self::{counters::nano_usd, local::LocalTable, window::Window};
pub use self::{
    counters::{Counter, LimitsState, Unit},
    refusal::Refusal,
    report::Report,
};
use crate::{
    auth::{Credential, Principal},
    balance::Estimate,
    ctx::RequestCtx,
    errors::GatewayError,
    metrics::LimitMetrics,
    redis::Redis,
    store::State,
};

/// Who is asking, as limit keys see it.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    /// The authenticated caller.
    pub principal: &'a Principal,
    /// The presented API key's digest, if any.
    pub credential: Option<&'a Credential<'a>>,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// `namespace/name` of the route.
    pub route: &'a str,
}

/// What the limiters need from the gateway.
#[derive(Clone, Copy)]
pub struct Limiter<'a> {
    /// The shared Redis, if configured.
    pub redis: Option<&'a Arc<Redis>>,
    /// Where decisions are counted.
    pub metrics: &'a LimitMetrics,
}

/// Where a reservation is held.
#[derive(Debug)]
enum Place {
    Local {
        table: Arc<LocalTable>,
        key: u64,
        window: u64,
    },
    Global {
        key: String,
    },
}

/// One reservation on one counter.
#[derive(Debug)]
struct Reservation {
    unit: Unit,
    amount: u64,
    place: Place,
}

/// The reservations of an admitted request; settle it, or dropping it returns them.
#[derive(Default)]
pub struct Admission {
    reservations: Vec<Reservation>,
    redis: Option<Arc<Redis>>,
    metrics: Option<LimitMetrics>,
}

/// A counter this request is subject to, with its key and amount resolved.
struct Pending<'a> {
    counter: &'a Counter,
    amount: u64,
    window: Window,
    place: Place,
}

/// Admits the request to `route` or refuses it (see the module doc for the steps).
pub async fn admit(
    limiter: Limiter<'_>,
    state: &State,
    route: &Route,
    caller: Caller<'_>,
    estimate: Estimate,
    ctx: &mut RequestCtx,
) -> Result<Admission, GatewayError> {
    let counters: Vec<&Counter> = route
        .policies
        .iter()
        .filter_map(|idx| state.limits.policies.get(*idx as usize))
        .flat_map(|counters| counters.iter())
        .collect();
    if counters.is_empty() {
        return Ok(Admission::default());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let cost = if counters.iter().any(|c| c.unit == Unit::NanoUsd) {
        most_expensive(state, route, estimate)
    } else {
        0
    };
    let pending: Vec<Pending<'_>> = counters
        .iter()
        .map(|counter| {
            let amount = match counter.unit {
                Unit::Requests => 1,
                Unit::Tokens => estimate.input_tokens + estimate.output_tokens,
                Unit::NanoUsd => cost,
            };
            pending(counter, amount, now, &caller)
        })
        .collect();
    let mut admission = Admission {
        reservations: Vec::with_capacity(pending.len()),
        redis: limiter.redis.cloned(),
        metrics: Some(limiter.metrics.clone()),
    };
    let mut report = Report::default();
    let refused = reserve_local(limiter.metrics, &pending, &mut admission, &mut report)
        .err()
        .or(reserve_global(limiter, &pending, &mut admission, &mut report).await?);
    if let Some(refusal) = refused {
        limiter
            .metrics
            .decisions
            .with_label_values(&[&refusal.policy, &refusal.limit, "refused"])
            .inc();
        let mut report = Report::default();
        report.add(
            refusal.unit,
            refusal.max,
            refusal.used.saturating_add(refusal.amount),
            refusal.retry_after,
        );
        ctx.limits = Some(report);
        // Dropping `admission` returns what was reserved before the refusal.
        return Err(refusal.into());
    }
    count_admitted(limiter.metrics, &pending);
    ctx.limits = Some(report);
    Ok(admission)
}

/// Resolves a counter's key and place for this request.
fn pending<'a>(counter: &'a Counter, amount: u64, now: u64, caller: &Caller<'_>) -> Pending<'a> {
    let window = counter.period.window(now);
    let digest;
    let key: &str = match counter.key.kind {
        LimitKeyType::ApiKey => match caller.credential {
            Some(credential) => {
                digest = hex::encode(&credential.digest()[..16]);
                &digest
            }
            None => "anonymous",
        },
        LimitKeyType::Subject => caller.principal.subject(),
        // Requests without the header share one counter.
        LimitKeyType::Header => counter
            .key
            .header
            .as_deref()
            .and_then(|name| caller.headers.get(name))
            .and_then(|value| value.to_str().ok())
            .unwrap_or(""),
        LimitKeyType::Route => caller.route,
    };
    let place = match &counter.local {
        Some(table) => Place::Local {
            key: table.hash(key),
            table: Arc::clone(table),
            window: window.id,
        },
        None => Place::Global {
            key: redis_key(counter, window.id, key),
        },
    };
    Pending {
        counter,
        amount,
        window,
        place,
    }
}

/// `prefix:window:key`, the key hashed when it is long or not plain text (header values).
fn redis_key(counter: &Counter, window: u64, key: &str) -> String {
    let plain = key.len() <= 64 && key.bytes().all(|b| b.is_ascii_graphic());
    if plain {
        format!("{}:{window}:{key}", counter.redis_prefix)
    } else {
        let digest = crate::auth::keys::digest(key);
        format!(
            "{}:{window}:#{}",
            counter.redis_prefix,
            hex::encode(&digest[..16])
        )
    }
}

/// The estimate priced at the most expensive model the route may use (fallbacks included),
/// so a budget is never passed by a reservation that guessed the cheaper backend.
fn most_expensive(state: &State, route: &Route, estimate: Estimate) -> u64 {
    let usage = Usage {
        input_tokens: estimate.input_tokens,
        output_tokens: estimate.output_tokens,
        ..Usage::default()
    };
    let models = route
        .backends
        .iter()
        .map(|b| b.model)
        .chain(route.fallbacks.iter().copied());
    models
        .filter_map(|idx| state.snapshot.model(idx)?.pricing.as_ref())
        .map(|price| nano_usd(usage.cost(price)))
        .max()
        .unwrap_or(0)
}

fn reserve_local(
    metrics: &LimitMetrics,
    pending: &[Pending<'_>],
    admission: &mut Admission,
    report: &mut Report,
) -> Result<(), Refusal> {
    for item in pending {
        let Place::Local { table, key, window } = &item.place else {
            continue;
        };
        match table.admit(*key, *window, item.amount, item.counter.max) {
            Ok(used) => {
                record(metrics, report, item, used);
                admission.reservations.push(Reservation {
                    unit: item.counter.unit,
                    amount: item.amount,
                    place: Place::Local {
                        table: Arc::clone(table),
                        key: *key,
                        window: *window,
                    },
                });
            }
            Err(used) => return Err(Refusal::new(item.counter, used, item.amount, item.window)),
        }
    }
    Ok(())
}

/// Reserves the global counters; `Ok(Some)` is a refusal, `Err` a policy that refuses while
/// Redis is unreachable.
async fn reserve_global(
    limiter: Limiter<'_>,
    pending: &[Pending<'_>],
    admission: &mut Admission,
    report: &mut Report,
) -> Result<Option<Refusal>, GatewayError> {
    let global: Vec<(&Pending<'_>, global::Take<'_>)> = pending
        .iter()
        .filter_map(|item| match &item.place {
            Place::Global { key } => Some((
                item,
                global::Take {
                    key,
                    amount: item.amount,
                    max: item.counter.max,
                    ttl: item.window.reset_secs + global::GRACE_SECS,
                },
            )),
            Place::Local { .. } => None,
        })
        .collect();
    if global.is_empty() {
        return Ok(None);
    }
    let takes: Vec<global::Take<'_>> = global.iter().map(|(_, take)| take.clone()).collect();
    match global::admit(limiter.redis.map(Arc::as_ref), &takes).await {
        Ok(global::Decision::Admitted(used)) => {
            for ((item, take), used) in global.iter().zip(used) {
                record(limiter.metrics, report, item, used);
                admission.reservations.push(Reservation {
                    unit: item.counter.unit,
                    amount: take.amount,
                    place: Place::Global {
                        key: take.key.to_owned(),
                    },
                });
            }
            Ok(None)
        }
        Ok(global::Decision::Refused { index, used }) => Ok(global
            .get(index)
            .map(|(item, _)| Refusal::new(item.counter, used, item.amount, item.window))),
        Err(error) => {
            let denying = global
                .iter()
                .find(|(item, _)| item.counter.on_redis_unavailable == RedisUnavailable::Deny);
            let decision = if denying.is_some() { "deny" } else { "allow" };
            limiter
                .metrics
                .redis_errors
                .with_label_values(&[decision])
                .inc();
            tracing::warn!(%error, decision, "global rate limits could not be checked");
            match denying {
                Some((item, _)) => Err(GatewayError::LimitsUnavailable {
                    policy: item.counter.policy.to_string(),
                }),
                None => Ok(None),
            }
        }
    }
}

/// Adds an admitted counter to the report, and a budget's remainder to its gauge.
fn record(metrics: &LimitMetrics, report: &mut Report, item: &Pending<'_>, used: u64) {
    let counter = item.counter;
    report.add(counter.unit, counter.max, used, item.window.reset_secs);
    if counter.unit == Unit::NanoUsd {
        let remaining = counter.max.saturating_sub(used) as f64 / 1e9;
        metrics
            .budget_remaining
            .with_label_values(&[&counter.policy, &counter.limit])
            .set(remaining);
    }
}

fn count_admitted(metrics: &LimitMetrics, pending: &[Pending<'_>]) {
    let mut last: Option<(&str, &str)> = None;
    for item in pending {
        let names = (&*item.counter.policy, &*item.counter.limit);
        // A rate limit with requests and tokens is one decision, not two.
        if last != Some(names) {
            metrics
                .decisions
                .with_label_values(&[names.0, names.1, "admitted"])
                .inc();
        }
        last = Some(names);
    }
}

/// How a request that was admitted ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A provider's response reached the client (possibly a stream the client left early).
    Delivered,
    /// Answered from the response cache: a request, but no tokens and no cost.
    CacheHit,
    /// Nothing was delivered: everything reserved is returned.
    Failed,
}

/// Corrects the reservations to what the request used: the provider's usage when a response
/// was delivered (a stream the client left reports what it streamed; without any reported
/// usage the token and cost reservations stand, the safe side), one request and nothing else
/// for a cache hit, and nothing when it failed.
pub async fn settle(mut admission: Admission, ctx: &RequestCtx, outcome: Outcome) {
    let reservations = std::mem::take(&mut admission.reservations);
    if reservations.is_empty() {
        return;
    }
    let used = |reservation: &Reservation| match (outcome, reservation.unit, ctx.usage) {
        (Outcome::Failed, _, _) => 0,
        (_, Unit::Requests, _) => 1,
        (Outcome::CacheHit, _, _) => 0,
        (Outcome::Delivered, _, None) => reservation.amount,
        (Outcome::Delivered, Unit::Tokens, Some(usage)) => usage.input_tokens + usage.output_tokens,
        (Outcome::Delivered, Unit::NanoUsd, Some(_)) => ctx
            .outcome
            .cost_usd
            .map_or(reservation.amount, |usd| (usd * 1e9).round() as u64),
    };
    let corrections = apply_local(reservations, |r| delta(used(r), r.amount));
    if !corrections.is_empty()
        && global::adjust(admission.redis.as_deref(), &corrections)
            .await
            .is_err()
        && let Some(metrics) = &admission.metrics
    {
        metrics.redis_errors.with_label_values(&["settle"]).inc();
    }
}

fn delta(used: u64, reserved: u64) -> i64 {
    i64::try_from(used).unwrap_or(i64::MAX) - i64::try_from(reserved).unwrap_or(i64::MAX)
}

/// Applies local corrections now; returns the global ones.
fn apply_local(
    reservations: Vec<Reservation>,
    correction: impl Fn(&Reservation) -> i64,
) -> Vec<(String, i64)> {
    let mut global = Vec::new();
    for reservation in reservations {
        let delta = correction(&reservation);
        if delta == 0 {
            continue;
        }
        match reservation.place {
            Place::Local { table, key, window } => table.adjust(key, window, delta),
            Place::Global { key } => global.push((key, delta)),
        }
    }
    global
}

impl Drop for Admission {
    fn drop(&mut self) {
        let reservations = std::mem::take(&mut self.reservations);
        let corrections = apply_local(reservations, |r| delta(0, r.amount));
        if corrections.is_empty() {
            return;
        }
        // Drop cannot wait for Redis; the release runs on its own.
        let (redis, metrics) = (self.redis.clone(), self.metrics.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if global::adjust(redis.as_deref(), &corrections)
                    .await
                    .is_err()
                    && let Some(metrics) = metrics
                {
                    metrics.redis_errors.with_label_values(&["settle"]).inc();
                }
            });
        }
    }
}
