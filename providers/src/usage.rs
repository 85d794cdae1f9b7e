//! Token usage and non-streamed response translation.

use bytes::Bytes;
use rust_decimal::Decimal;
use switchyard_crds::snapshot::{Model, Price};

use crate::{ClientRequest, UpstreamError};

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

/// A translated non-streamed response.
#[derive(Clone, Debug, PartialEq)]
pub struct Translated {
    /// The body in the client's API.
    pub body: Bytes,
    /// What the call used.
    pub usage: Usage,
}

/// Translates a provider's 2xx non-streamed body into the client's API.
pub fn translate_response(
    request: &ClientRequest,
    model: &Model,
    body: &[u8],
) -> Result<Translated, UpstreamError> {
    let _ = (request, model, body);
    Err(UpstreamError {
        status: 502,
        kind: crate::ErrorKind::Api,
        message: "response translation is not implemented yet".to_owned(),
    })
}
