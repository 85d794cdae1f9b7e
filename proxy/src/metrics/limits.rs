//! Metrics of rate limits and budgets: decisions per limit, the budget left, and what the
//! proxy decided while Redis could not be reached. Labels are policy and limit names from the
//! configuration, never keys, subjects or header values.

use prometheus::{GaugeVec, IntCounterVec, Opts, Registry};

/// The limits' series.
#[derive(Clone, Debug)]
pub struct LimitMetrics {
    /// Admissions and refusals by policy (`namespace/name`), limit and decision.
    pub decisions: IntCounterVec,
    /// USD left in a budget after the latest admission (for per-key budgets: the latest
    /// caller's), by policy and budget.
    pub budget_remaining: GaugeVec,
    /// Redis calls of global limits that failed or timed out, by the decision taken
    /// (`allow`, `deny`; `settle` for corrections after the response).
    pub redis_errors: IntCounterVec,
}

impl LimitMetrics {
    /// Registers the series in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let decisions = IntCounterVec::new(
            Opts::new(
                "switchyard_ratelimit_decisions_total",
                "Rate-limit and budget decisions by policy, limit and decision (admitted, refused).",
            ),
            &["policy", "limit", "decision"],
        )?;
        let budget_remaining = GaugeVec::new(
            Opts::new(
                "switchyard_budget_remaining_usd",
                "USD left in a budget after the latest admission (per-key budgets: the latest caller's).",
            ),
            &["policy", "budget"],
        )?;
        let redis_errors = IntCounterVec::new(
            Opts::new(
                "switchyard_ratelimit_redis_errors_total",
                "Redis calls of global limits and budgets that failed or timed out, by the decision taken (allow, deny, settle).",
            ),
            &["decision"],
        )?;
        registry.register(Box::new(decisions.clone()))?;
        registry.register(Box::new(budget_remaining.clone()))?;
        registry.register(Box::new(redis_errors.clone()))?;
        Ok(Self {
            decisions,
            budget_remaining,
            redis_errors,
        })
    }
}
