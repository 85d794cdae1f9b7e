//! The access log: one structured event per request (JSON with `--log-format json`). Never the
//! prompt, the response or a credential.

use pingora::{Error, proxy::Session};

use crate::ctx::RequestCtx;

/// Logs a finished request.
pub fn write(session: &Session, error: Option<&Error>, ctx: &RequestCtx) {
    let header = session.req_header();
    let request = ctx.request.as_ref();
    let usage = ctx.usage.unwrap_or_default();
    let elapsed = ctx.timing.start.elapsed();
    let first_byte_ms = ctx
        .timing
        .first_byte
        .map(|first| (first - ctx.timing.start).as_secs_f64() * 1000.0);
    tracing::info!(
        target: "switchyard::access",
        method = %header.method,
        path = header.uri.path(),
        status = ctx.outcome.status,
        api = request.map(|r| r.api.as_str()),
        model = request.map(|r| r.model.as_str()),
        stream = request.map(|r| r.stream),
        route = ctx.route.as_deref(),
        backend = ctx.attempts.backend.as_deref(),
        provider = ctx.attempts.provider,
        attempts = ctx.attempts.count,
        fallbacks = ctx.attempts.fallbacks,
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        first_byte_ms,
        input_tokens = usage.input_tokens,
        output_tokens = usage.output_tokens,
        cached_input_tokens = usage.cached_input_tokens,
        reasoning_tokens = usage.reasoning_tokens,
        cost_usd = ctx.outcome.cost_usd,
        error = ctx.outcome.error.map(|kind| kind.as_str()),
        connection_error = error.map(|e| e.etype().as_str()),
        "request"
    );
}
