//! Metrics of the prompt guardrails and the response cache.
//!
//! Cache hit ratio per route, in PromQL:
//! `sum by (route) (rate(switchyard_cache_lookups_total{result="hit"}[5m]))
//!  / sum by (route) (rate(switchyard_cache_lookups_total{result=~"hit|miss"}[5m]))`.

use prometheus::{IntCounterVec, Registry};
use switchyard_crds::policy::PiiKind;

use super::counter;
use crate::guardrails::pii::kind_label;

/// Deny-pattern refusals and PII redactions.
#[derive(Clone, Debug)]
pub struct GuardrailMetrics {
    denials: IntCounterVec,
    redactions: IntCounterVec,
}

impl GuardrailMetrics {
    /// Registers the series in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        Ok(Self {
            denials: counter(
                registry,
                "switchyard_guardrail_denials_total",
                "Requests refused because a prompt matched a deny pattern, by route.",
                &["route"],
            )?,
            redactions: counter(
                registry,
                "switchyard_pii_redactions_total",
                "Pieces of personal data replaced by a placeholder in prompts, by kind.",
                &["kind"],
            )?,
        })
    }

    /// Counts a refused request.
    pub fn denied(&self, route: &str) {
        self.denials.with_label_values(&[route]).inc();
    }

    /// Counts one redacted finding.
    pub fn redacted(&self, kind: PiiKind) {
        self.redactions.with_label_values(&[kind_label(kind)]).inc();
    }
}

/// What a cache lookup found, as the `result` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupResult {
    /// Answered from the cache.
    Hit,
    /// Not cached; the answer will be stored if it can be.
    Miss,
    /// The client asked not to use the cache (`Cache-Control: no-cache` or `no-store`).
    Bypass,
}

impl LookupResult {
    /// The label value, also the `x-switchyard-cache` header value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Bypass => "bypass",
        }
    }
}

/// The response cache's series.
#[derive(Clone, Debug)]
pub struct CacheMetrics {
    lookups: IntCounterVec,
    hits: IntCounterVec,
    stores: IntCounterVec,
    skipped: IntCounterVec,
    redis_errors: IntCounterVec,
}

impl CacheMetrics {
    /// Registers the series in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        Ok(Self {
            lookups: counter(
                registry,
                "switchyard_cache_lookups_total",
                "Requests on routes with a response cache, by route and result (hit, miss, bypass).",
                &["route", "result"],
            )?,
            hits: counter(
                registry,
                "switchyard_cache_hits_total",
                "Cache hits by the tier that answered (memory, redis).",
                &["tier"],
            )?,
            stores: counter(
                registry,
                "switchyard_cache_stores_total",
                "Responses stored, by tier (memory, redis).",
                &["tier"],
            )?,
            skipped: counter(
                registry,
                "switchyard_cache_skipped_total",
                "Responses not stored, by reason (too_large, incomplete).",
                &["reason"],
            )?,
            redis_errors: counter(
                registry,
                "switchyard_cache_redis_errors_total",
                "Redis tier operations that failed or timed out (a miss, never a failed request), by operation.",
                &["op"],
            )?,
        })
    }

    /// Counts a lookup.
    pub fn lookup(&self, route: &str, result: LookupResult) {
        self.lookups
            .with_label_values(&[route, result.as_str()])
            .inc();
    }

    /// Counts a hit from `tier`.
    pub fn hit(&self, tier: &'static str) {
        self.hits.with_label_values(&[tier]).inc();
    }

    /// Counts a store into `tier`.
    pub fn stored(&self, tier: &'static str) {
        self.stores.with_label_values(&[tier]).inc();
    }

    /// Counts a response that was not stored.
    pub fn skipped(&self, reason: &'static str) {
        self.skipped.with_label_values(&[reason]).inc();
    }

    /// Counts a failed Redis operation.
    pub fn redis_error(&self, op: &'static str) {
        self.redis_errors.with_label_values(&[op]).inc();
    }
}
