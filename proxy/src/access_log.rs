//! The access log: one JSON object per request, written through a batched writer (stdout by
//! default). It is data for machines, so it is serialized directly rather than formatted as a
//! `tracing` event, which cost several times more per line. Never the prompt, the response or
//! a credential.

use std::time::{SystemTime, UNIX_EPOCH};

use pingora::{Error, proxy::Session};
use serde::Serialize;

use crate::{ctx::RequestCtx, telemetry::Batched};

/// One request, as logged.
#[derive(Serialize)]
struct Record<'a> {
    /// Seconds since the Unix epoch when the request finished.
    ts: f64,
    method: &'a str,
    path: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    api: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    route: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backend: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<&'static str>,
    attempts: u32,
    fallbacks: u32,
    duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_byte_ms: Option<f64>,
    input_tokens: u64,
    output_tokens: u64,
    cached_input_tokens: u64,
    reasoning_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connection_error: Option<&'static str>,
    /// `hit`, `miss` or `bypass` on routes with a response cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    cache: Option<&'static str>,
}

/// Logs a finished request.
pub fn write(log: &Batched, session: &Session, error: Option<&Error>, ctx: &RequestCtx) {
    let header = session.req_header();
    let request = ctx.request.as_ref();
    let usage = ctx.usage.unwrap_or_default();
    let record = Record {
        ts: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64()),
        method: header.method.as_str(),
        path: header.uri.path(),
        status: ctx.outcome.status,
        api: request.map(|r| r.api.as_str()),
        model: request.map(|r| r.model.as_str()),
        stream: request.map(|r| r.stream),
        route: ctx.route.as_deref(),
        backend: ctx.attempts.backend.as_deref(),
        provider: ctx.attempts.provider,
        attempts: ctx.attempts.count,
        fallbacks: ctx.attempts.fallbacks,
        duration_ms: ctx.timing.start.elapsed().as_secs_f64() * 1000.0,
        first_byte_ms: ctx
            .timing
            .first_byte
            .map(|first| (first - ctx.timing.start).as_secs_f64() * 1000.0),
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        cached_input_tokens: usage.cached_input_tokens,
        reasoning_tokens: usage.reasoning_tokens,
        cost_usd: ctx.outcome.cost_usd,
        error: ctx.outcome.error.map(|kind| kind.as_str()),
        connection_error: error.map(|e| e.etype().as_str()),
        cache: ctx.cache.result.map(|result| result.as_str()),
    };
    log.append(|buffer| {
        if serde_json::to_writer(&mut *buffer, &record).is_ok() {
            buffer.push(b'\n');
        }
    });
}
