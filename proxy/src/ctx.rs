//! Per-request state, grouped by concern; each stage writes only its own group, and the
//! `logging` phase reads all of it for metrics and the access log.

use std::sync::Arc;

use switchyard_providers::{Api, ErrorKind, Usage};
use tokio::time::Instant;

/// Everything one request leaves behind.
#[derive(Debug)]
pub struct RequestCtx {
    /// When things happened.
    pub timing: Timing,
    /// What the client asked for.
    pub request: Option<RequestInfo>,
    /// The route that served it.
    pub route: Option<Arc<str>>,
    /// Upstream attempts.
    pub attempts: Attempts,
    /// What the provider reported.
    pub usage: Option<Usage>,
    /// The caller's most restrictive limits, for the `x-ratelimit-*` headers.
    pub limits: Option<crate::limits::Report>,
    /// What the client got.
    pub outcome: Outcome,
    /// The response cache's lookup result and capture.
    pub cache: crate::cache::CacheCtx,
}

impl Default for RequestCtx {
    fn default() -> Self {
        Self {
            timing: Timing {
                start: Instant::now(),
                first_byte: None,
            },
            request: None,
            route: None,
            attempts: Attempts::default(),
            usage: None,
            limits: None,
            outcome: Outcome::default(),
            cache: crate::cache::CacheCtx::default(),
        }
    }
}

/// Timestamps of one request.
#[derive(Debug)]
pub struct Timing {
    /// When the request headers were read.
    pub start: Instant,
    /// When the first response byte (the first token, for streams) went to the client.
    pub first_byte: Option<Instant>,
}

/// The parsed request.
#[derive(Debug)]
pub struct RequestInfo {
    /// The API called.
    pub api: Api,
    /// The public model name asked for.
    pub model: String,
    /// Whether a stream was asked for.
    pub stream: bool,
}

/// The upstream attempts of one request.
#[derive(Debug, Default)]
pub struct Attempts {
    /// Attempts sent upstream.
    pub count: u32,
    /// Attempts that were fallbacks.
    pub fallbacks: u32,
    /// `namespace/name` of the last backend tried.
    pub backend: Option<Arc<str>>,
    /// Provider of the last backend tried.
    pub provider: Option<&'static str>,
    /// Backends ejected by this request's failures.
    pub ejections: u32,
}

/// What the client got.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The status sent (0 if nothing was sent).
    pub status: u16,
    /// The error kind, when the request failed (also when a started stream failed).
    pub error: Option<ErrorKind>,
    /// USD cost from the model's pricing.
    pub cost_usd: Option<f64>,
}
