//! Rate limits and budgets compiled once per snapshot into counters: one per counted unit
//! (a rate limit with `requests` and `tokens` is two counters), with its limit in whole
//! units (budgets in nano-dollars, so cheap requests still count), its window and where it
//! lives. A local counter's table survives a snapshot swap while its definition is unchanged.

use std::{collections::HashMap, sync::Arc};

use rust_decimal::{Decimal, prelude::ToPrimitive};
use switchyard_crds::{
    policy::{LimitKeyType, LimitScope, RedisUnavailable},
    snapshot::{LimitKey, Policy},
};

use super::{local::LocalTable, window::Period};

/// What a counter counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    /// Requests.
    Requests,
    /// Input plus output tokens.
    Tokens,
    /// Billions of a US dollar.
    NanoUsd,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Requests => "requests",
            Self::Tokens => "tokens",
            Self::NanoUsd => "nano-usd",
        }
    }
}

/// USD in nano-dollars, rounded up (a reservation never under-counts).
pub fn nano_usd(usd: Decimal) -> u64 {
    (usd * Decimal::from(1_000_000_000u64))
        .ceil()
        .to_u64()
        .unwrap_or(u64::MAX)
}

/// One counter of one limit.
#[derive(Debug)]
pub struct Counter {
    /// `namespace/name` of the policy.
    pub policy: Arc<str>,
    /// The rate limit's or budget's name.
    pub limit: Arc<str>,
    /// What it counts.
    pub unit: Unit,
    /// The most per window.
    pub max: u64,
    /// Its windows.
    pub period: Period,
    /// Who shares it.
    pub key: LimitKey,
    /// What happens while Redis is unreachable (global counters).
    pub on_redis_unavailable: RedisUnavailable,
    /// The in-memory table of a local counter; `None` for a global one.
    pub local: Option<Arc<LocalTable>>,
    /// Start of its Redis keys: `switchyard:limit:{namespace/policy}/{name}:{unit}`.
    pub redis_prefix: Box<str>,
}

/// The counters of every policy, indexed like `snapshot.content.policies`.
#[derive(Debug, Default)]
pub struct LimitsState {
    /// Counters per policy.
    pub policies: Vec<Box<[Counter]>>,
}

/// What identifies a local table across snapshots: same policy, limit, unit, bound, window
/// and key means the same counts.
type Identity = (
    Arc<str>,
    Arc<str>,
    Unit,
    u64,
    Period,
    LimitKeyType,
    Option<String>,
);

impl LimitsState {
    /// Compiles the counters of `policies`, keeping the local tables of unchanged counters of
    /// `previous`.
    pub fn build(policies: &[Policy], previous: Option<&LimitsState>) -> Self {
        let mut kept: HashMap<Identity, Arc<LocalTable>> = HashMap::new();
        for counter in previous.iter().flat_map(|p| p.policies.iter().flatten()) {
            if let Some(table) = &counter.local {
                kept.insert(counter.identity(), Arc::clone(table));
            }
        }
        let policies = policies
            .iter()
            .map(|policy| compile(policy, &mut kept))
            .collect();
        Self { policies }
    }
}

impl Counter {
    fn identity(&self) -> Identity {
        (
            Arc::clone(&self.policy),
            Arc::clone(&self.limit),
            self.unit,
            self.max,
            self.period,
            self.key.kind,
            self.key.header.clone(),
        )
    }
}

fn compile(policy: &Policy, kept: &mut HashMap<Identity, Arc<LocalTable>>) -> Box<[Counter]> {
    let label: Arc<str> = format!("{}/{}", policy.source.namespace, policy.source.name).into();
    let rates = policy.rate_limits.iter().flat_map(|limit| {
        let units = [
            (Unit::Requests, limit.requests),
            (Unit::Tokens, limit.tokens),
        ];
        let name: Arc<str> = limit.name.as_str().into();
        units.into_iter().filter_map(move |(unit, max)| {
            Some((
                Arc::clone(&name),
                unit,
                max?,
                Period::from(limit.window),
                &limit.key,
                limit.scope,
            ))
        })
    });
    let budgets = policy.budgets.iter().map(|budget| {
        (
            Arc::from(budget.name.as_str()),
            Unit::NanoUsd,
            nano_usd(budget.usd),
            Period::from(budget.window),
            &budget.key,
            budget.scope,
        )
    });
    rates
        .chain(budgets)
        .map(|(limit, unit, max, period, key, scope)| {
            let mut counter = Counter {
                redis_prefix: format!("switchyard:limit:{label}/{limit}:{}", unit.as_str()).into(),
                policy: Arc::clone(&label),
                limit,
                unit,
                max,
                period,
                key: key.clone(),
                on_redis_unavailable: policy.on_redis_unavailable,
                local: None,
            };
            if scope == LimitScope::Local {
                let table = kept.remove(&counter.identity()).unwrap_or_default();
                counter.local = Some(table);
            }
            counter
        })
        .collect()
}
