//! Per-request controls: the `x-mock-*` headers a test sends to script one answer.
//!
//! Each header overrides the same-named field of the instance's [`Behavior`]; an unknown
//! `x-mock-*` header or an unparsable value is answered with a 400 in the provider's format,
//! so a typo never silently tests the happy path.

use std::time::Duration;

use hyper::StatusCode;
use hyper::header::HeaderMap;

use crate::config::{Behavior, Fault};

/// Delay before the response headers, in milliseconds.
pub const LATENCY_MS: &str = "x-mock-latency-ms";
/// Delay before the first content event of a stream, in milliseconds.
pub const TTFT_MS: &str = "x-mock-ttft-ms";
/// Delay between content events, in milliseconds.
pub const CHUNK_DELAY_MS: &str = "x-mock-chunk-delay-ms";
/// Number of content events the answer is split into.
pub const CHUNKS: &str = "x-mock-chunks";
/// Number of words (tokens) in the answer.
pub const TOKENS: &str = "x-mock-tokens";
/// Exact answer text instead of the echo.
pub const REPLY: &str = "x-mock-reply";
/// Status code to answer with, in the provider's error format.
pub const STATUS: &str = "x-mock-status";
/// Seconds for the `Retry-After` header of an injected error.
pub const RETRY_AFTER: &str = "x-mock-retry-after";
/// A fault: `reset`, `stall`, `reset-mid-stream`, `stall-mid-stream`, `error-mid-stream`,
/// `malformed`.
pub const FAULT: &str = "x-mock-fault";
/// How long a stall lasts, in milliseconds (default: until the client gives up).
pub const STALL_MS: &str = "x-mock-stall-ms";
/// Cached input tokens to report.
pub const CACHED_TOKENS: &str = "x-mock-cached-tokens";
/// Cache-write input tokens to report.
pub const CACHE_WRITE_TOKENS: &str = "x-mock-cache-write-tokens";
/// Reasoning tokens to report.
pub const REASONING_TOKENS: &str = "x-mock-reasoning-tokens";

/// The resolved script for one request.
#[derive(Clone, Debug, Default)]
pub(crate) struct Controls {
    pub latency: Duration,
    pub ttft: Duration,
    pub chunk_delay: Duration,
    pub chunks: Option<usize>,
    pub tokens: Option<usize>,
    pub reply: Option<String>,
    pub status: Option<StatusCode>,
    pub retry_after: Option<u64>,
    pub fault: Option<Fault>,
    pub stall: Option<Duration>,
    pub cached_tokens: u64,
    pub cache_write_tokens: u64,
    pub reasoning_tokens: u64,
}

/// An `x-mock-*` header the mock cannot use.
#[derive(Debug, thiserror::Error)]
#[error("invalid mock control header {header}: {value:?}")]
pub(crate) struct BadControl {
    header: String,
    value: String,
}

impl Controls {
    /// Starts from the instance `behavior` (its `status` and `fault` only when `faulty`) and
    /// applies the request's `x-mock-*` headers.
    pub fn resolve(
        behavior: &Behavior,
        faulty: bool,
        headers: &HeaderMap,
    ) -> Result<Self, BadControl> {
        let mut controls = Self::from_behavior(behavior, faulty)?;
        for (name, value) in headers {
            let name = name.as_str();
            if !name.starts_with("x-mock-") {
                continue;
            }
            let bad = || BadControl {
                header: name.to_owned(),
                value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
            };
            let text = std::str::from_utf8(value.as_bytes()).map_err(|_| bad())?;
            controls.apply(name, text.trim()).ok_or_else(bad)?;
        }
        Ok(controls)
    }

    fn from_behavior(behavior: &Behavior, faulty: bool) -> Result<Self, BadControl> {
        let status = match behavior.status.filter(|_| faulty) {
            Some(code) => Some(StatusCode::from_u16(code).map_err(|_| BadControl {
                header: "behavior.status".to_owned(),
                value: code.to_string(),
            })?),
            None => None,
        };
        Ok(Self {
            latency: Duration::from_millis(behavior.latency_ms),
            ttft: Duration::from_millis(behavior.ttft_ms),
            chunk_delay: Duration::from_millis(behavior.chunk_delay_ms),
            chunks: behavior.chunks,
            tokens: behavior.tokens,
            reply: behavior.reply.clone(),
            status,
            retry_after: behavior.retry_after,
            fault: behavior.fault.filter(|_| faulty),
            stall: behavior.stall_ms.map(Duration::from_millis),
            cached_tokens: behavior.cached_tokens,
            cache_write_tokens: behavior.cache_write_tokens,
            reasoning_tokens: behavior.reasoning_tokens,
        })
    }

    /// Applies one header; `None` when the name is unknown or the value does not parse.
    fn apply(&mut self, name: &str, value: &str) -> Option<()> {
        let millis = |v: &str| v.parse().ok().map(Duration::from_millis);
        match name {
            LATENCY_MS => self.latency = millis(value)?,
            TTFT_MS => self.ttft = millis(value)?,
            CHUNK_DELAY_MS => self.chunk_delay = millis(value)?,
            CHUNKS => self.chunks = Some(value.parse().ok().filter(|n| *n > 0)?),
            TOKENS => self.tokens = Some(value.parse().ok().filter(|n| *n > 0)?),
            REPLY => self.reply = Some(value.to_owned()),
            STATUS => self.status = Some(StatusCode::from_bytes(value.as_bytes()).ok()?),
            RETRY_AFTER => self.retry_after = Some(value.parse().ok()?),
            FAULT => self.fault = Some(Fault::parse(value)?),
            STALL_MS => self.stall = Some(millis(value)?),
            CACHED_TOKENS => self.cached_tokens = value.parse().ok()?,
            CACHE_WRITE_TOKENS => self.cache_write_tokens = value.parse().ok()?,
            REASONING_TOKENS => self.reasoning_tokens = value.parse().ok()?,
            _ => return None,
        }
        Some(())
    }

    /// Whether the answer needs no timer at all, so it can be sent as one buffer.
    pub fn is_immediate(&self) -> bool {
        self.ttft.is_zero() && self.chunk_delay.is_zero() && self.fault.is_none()
    }

    /// How long a non-streaming answer takes to "generate" `chunks` content events.
    pub fn generation_time(&self, chunks: usize) -> Duration {
        let gaps = u32::try_from(chunks.saturating_sub(1)).unwrap_or(u32::MAX);
        self.ttft + self.chunk_delay.saturating_mul(gaps)
    }
}
