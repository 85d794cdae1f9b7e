//! Why a limit refused a request, in words a caller can act on.

use std::{fmt, sync::Arc};

use super::{
    counters::{Counter, Unit},
    report::usd_text,
    window::{Period, Window, openai_duration},
};

/// A rate limit or budget that refused a request (429).
#[derive(Debug, thiserror::Error)]
pub struct Refusal {
    /// `namespace/name` of the policy.
    pub policy: Arc<str>,
    /// The rate limit's or budget's name.
    pub limit: Arc<str>,
    /// What it counts.
    pub unit: Unit,
    /// The most per window.
    pub max: u64,
    /// Used or reserved in the window.
    pub used: u64,
    /// What this request needed.
    pub amount: u64,
    /// The window.
    pub period: Period,
    /// Seconds until the window resets (`Retry-After`).
    pub retry_after: u64,
}

impl Refusal {
    pub(super) fn new(counter: &Counter, used: u64, amount: u64, window: Window) -> Self {
        Self {
            policy: Arc::clone(&counter.policy),
            limit: Arc::clone(&counter.limit),
            unit: counter.unit,
            max: counter.max,
            used,
            amount,
            period: counter.period,
            retry_after: window.reset_secs,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (policy, limit, per) = (&self.policy, &self.limit, self.period.describe());
        let reset = openai_duration(self.retry_after);
        match self.unit {
            Unit::Requests => write!(
                f,
                "rate limit `{limit}` of policy {policy} reached: {} requests per {per}; retry in {reset}",
                self.max
            ),
            Unit::Tokens if self.amount > self.max => write!(
                f,
                "this request needs an estimated {} tokens (prompt plus max output tokens), more than rate limit `{limit}` of policy {policy} allows per {per} ({}); lower max_tokens or shorten the prompt",
                self.amount, self.max
            ),
            Unit::Tokens => write!(
                f,
                "rate limit `{limit}` of policy {policy} reached: {} of {} tokens per {per} are used or reserved and this request needs an estimated {}; retry in {reset}",
                self.used, self.max, self.amount
            ),
            Unit::NanoUsd => write!(
                f,
                "budget `{limit}` of policy {policy} is spent: {} of {} USD per {per} used or reserved, and this request may cost up to {} USD; it resets in {reset}",
                usd_text(self.used),
                usd_text(self.max),
                usd_text(self.amount)
            ),
        }
    }
}
