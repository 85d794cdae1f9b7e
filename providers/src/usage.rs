//! Token usage and its cost.

use rust_decimal::Decimal;
use switchyard_crds::snapshot::Price;

/// Tokens one call used, as the provider reported them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    /// Input (prompt) tokens, cached ones included.
    pub input_tokens: u64,
    /// Output (completion) tokens, reasoning ones included.
    pub output_tokens: u64,
    /// Input tokens served from the provider's prompt cache.
    pub cached_input_tokens: u64,
    /// Output tokens spent on reasoning.
    pub reasoning_tokens: u64,
}

impl Usage {
    /// The cost in USD at `price` (per million tokens); cached input at the cached price.
    pub fn cost(&self, price: &Price) -> Decimal {
        let million = Decimal::from(1_000_000u32);
        let cached = self.cached_input_tokens.min(self.input_tokens);
        let uncached = self.input_tokens - cached;
        (Decimal::from(uncached) * price.input
            + Decimal::from(cached) * price.cached_input
            + Decimal::from(self.output_tokens) * price.output)
            / million
    }
}
