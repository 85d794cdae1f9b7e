//! Reading the request body whole, with a size cap: routing needs the body, and an LLM request
//! is often larger than Pingora's 64 KiB replay buffer.

use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;

use crate::errors::GatewayError;

/// Default cap on request bodies: 8 MiB (a prompt with a few images).
pub const DEFAULT_LIMIT: usize = 8 * 1024 * 1024;

/// Reads the whole body, refusing it as soon as it grows past `limit` bytes.
pub async fn read(session: &mut Session, limit: usize) -> Result<Bytes, GatewayError> {
    let declared = session
        .req_header()
        .headers
        .get("content-length")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(GatewayError::BodyTooLarge { limit });
    }
    let expects_continue = session
        .req_header()
        .headers
        .get("expect")
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if expects_continue {
        // Clients such as curl wait (a second, for curl) for this before sending a large body.
        session
            .write_continue_response()
            .await
            .map_err(GatewayError::BodyRead)?;
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = session
        .read_request_body()
        .await
        .map_err(GatewayError::BodyRead)?
    {
        if body.len() + chunk.len() > limit {
            return Err(GatewayError::BodyTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
