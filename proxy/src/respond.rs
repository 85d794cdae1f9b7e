//! Writing responses to the client: JSON bodies, errors, and streams chunk by chunk. Every
//! response carries `x-switchyard-*` headers saying which route, backend and attempt served it.

use bytes::Bytes;
use pingora::{http::ResponseHeader, proxy::Session};
use switchyard_providers::{ErrorStyle, render_error};

use crate::{ctx::RequestCtx, errors::GatewayError};

/// Content type of JSON bodies.
const JSON: &str = "application/json";
/// Content type of server-sent event streams.
const EVENT_STREAM: &str = "text/event-stream";

/// Response headers for a request's context.
fn header(
    status: u16,
    content_type: &str,
    ctx: &RequestCtx,
) -> pingora::Result<Box<ResponseHeader>> {
    let mut header = ResponseHeader::build(status, Some(7))?;
    header.insert_header("content-type", content_type)?;
    if let Some(route) = &ctx.route {
        header.insert_header("x-switchyard-route", route.as_ref())?;
    }
    if let Some(limits) = &ctx.limits {
        limits.write(&mut header)?;
    }
    if let Some(backend) = &ctx.attempts.backend {
        header.insert_header("x-switchyard-backend", backend.as_ref())?;
        header.insert_header("x-switchyard-attempt", ctx.attempts.count.to_string())?;
    }
    if let Some(result) = ctx.cache.result {
        header.insert_header("x-switchyard-cache", result.as_str())?;
    }
    Ok(Box::new(header))
}

/// Sends a whole JSON body.
pub async fn json(
    session: &mut Session,
    ctx: &mut RequestCtx,
    status: u16,
    body: Bytes,
) -> pingora::Result<()> {
    let mut header = header(status, JSON, ctx)?;
    header.insert_header("content-length", body.len().to_string())?;
    ctx.outcome.status = status;
    session.write_response_header(header, false).await?;
    ctx.timing
        .first_byte
        .get_or_insert_with(tokio::time::Instant::now);
    ctx.cache.whole(status, &body).await;
    session.write_response_body(Some(body), true).await
}

/// Sends an error the client's API understands.
pub async fn error(
    session: &mut Session,
    ctx: &mut RequestCtx,
    style: ErrorStyle,
    error: &GatewayError,
) -> pingora::Result<()> {
    let response = error.response();
    let body = render_error(style, response.kind, &error.to_string());
    let mut header = header(response.status, JSON, ctx)?;
    header.insert_header("content-length", body.len().to_string())?;
    if let Some(seconds) = response.retry_after {
        header.insert_header("retry-after", seconds.to_string())?;
    }
    if response.status == 413 {
        // The rest of the body was not read, so the connection cannot be reused.
        session.set_keepalive(None);
    }
    ctx.outcome.status = response.status;
    ctx.outcome.error = Some(response.kind);
    session.write_response_header(header, false).await?;
    session.write_response_body(Some(body), true).await
}

/// Starts a stream: status 200 and event-stream headers.
pub async fn stream_start(session: &mut Session, ctx: &mut RequestCtx) -> pingora::Result<()> {
    let mut header = header(200, EVENT_STREAM, ctx)?;
    header.insert_header("cache-control", "no-cache")?;
    ctx.outcome.status = 200;
    session.write_response_header(header, false).await
}

/// Sends stream bytes; `end` finishes the response. A chunk the client was sent is captured
/// for the response cache when it is to store this answer.
pub async fn stream_chunk(
    session: &mut Session,
    ctx: &mut RequestCtx,
    chunk: Bytes,
    end: bool,
) -> pingora::Result<()> {
    if !chunk.is_empty() {
        ctx.timing
            .first_byte
            .get_or_insert_with(tokio::time::Instant::now);
    }
    let failed = ctx.outcome.error.is_some();
    ctx.cache.chunk(&chunk, end, failed).await;
    session.write_response_body(Some(chunk), end).await
}
