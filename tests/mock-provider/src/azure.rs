//! Azure OpenAI: deployment paths with `api-version`, the `api-key` header, Azure's own
//! `{"error":{"code","message"}}` for auth, routing and throttling errors; the bodies are
//! OpenAI's with content-filter annotations (see `openai`).
//!
//! Wire reference: <https://learn.microsoft.com/azure/ai-services/openai/reference>.

use hyper::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};
use serde_json::json;

use crate::body::MockBody;
use crate::openai::{self, Flavor, Op};
use crate::router::{ApiError, ErrorKind, Exchange};
use crate::sse::json_bytes;

const ACCESS_DENIED: &str = "Access denied due to invalid subscription key or wrong API \
    endpoint. Make sure to provide a valid key for an active subscription and use a correct \
    regional API endpoint for your resource.";

/// An Azure OpenAI call: the deployment (absent on `/openai/responses` and `/openai/v1/`) and
/// the OpenAI operation.
#[derive(Debug)]
pub(crate) struct Target {
    deployment: Option<String>,
    op: Op,
    /// `/openai/v1/...`, the versionless API that needs no `api-version`.
    versionless: bool,
}

/// Routes the path after `/openai/`.
pub(crate) fn route(method: &Method, rest: &str) -> Option<Target> {
    if let Some(v1) = rest.strip_prefix("v1/") {
        let op = openai::route(method, &format!("/v1/{v1}"))?;
        return Some(Target {
            deployment: None,
            op,
            versionless: true,
        });
    }
    if method == Method::POST && rest == "responses" {
        return Some(Target {
            deployment: None,
            op: Op::Responses,
            versionless: false,
        });
    }
    let (deployment, operation) = rest.strip_prefix("deployments/")?.split_once('/')?;
    let op = match (method, operation) {
        (&Method::POST, "chat/completions") => Op::Chat,
        (&Method::POST, "completions") => Op::Completions,
        (&Method::POST, "embeddings") => Op::Embeddings,
        _ => return None,
    };
    Some(Target {
        deployment: Some(deployment.to_owned()),
        op,
        versionless: false,
    })
}

pub(crate) async fn answer(
    target: Target,
    ex: &Exchange,
    parts: &Parts,
    body: &[u8],
) -> Result<Response<MockBody>, ApiError> {
    let has_version = parts
        .uri
        .query()
        .is_some_and(|q| q.split('&').any(|pair| pair.starts_with("api-version=")));
    if !target.versionless && !has_version {
        return Err(ApiError::not_found("Resource not found"));
    }
    let flavor = Flavor::Azure {
        deployment: target.deployment,
    };
    openai::answer(target.op, flavor, ex, body).await
}

/// Checks `api-key: KEY` (or an Entra ID `Authorization: Bearer` token).
pub(crate) fn authenticate(headers: &HeaderMap, key: Option<&str>) -> Result<(), ApiError> {
    let given = headers
        .get("api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            let auth = headers.get(AUTHORIZATION)?.to_str().ok()?;
            auth.strip_prefix("Bearer ")
        })
        .map(str::trim)
        .filter(|v| !v.is_empty());
    match given {
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorKind::MissingCredential,
            ACCESS_DENIED,
        )),
        Some(given) if key.is_some_and(|k| k != given) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorKind::BadCredential,
            ACCESS_DENIED,
        )),
        Some(_) => Ok(()),
    }
}

/// Azure's gateway errors (auth, routing, throttling) are `{"error":{"code","message"}}` with
/// the status as a string code; model errors pass through in OpenAI's format.
pub(crate) fn error_response(error: &ApiError) -> Response<MockBody> {
    let gateway = matches!(
        (error.kind, error.status.as_u16()),
        (
            ErrorKind::MissingCredential | ErrorKind::BadCredential | ErrorKind::NotFound,
            _
        ) | (ErrorKind::Injected, 401 | 403 | 404 | 429)
    );
    let body = if gateway {
        json!({"error": {"code": error.status.as_str(), "message": error.message}})
    } else {
        openai::error_body(error)
    };
    let mut response = error.respond(json_bytes(&body));
    if let Some(seconds) = error.retry_after {
        response.headers_mut().insert(
            HeaderName::from_static("retry-after-ms"),
            HeaderValue::from(seconds.saturating_mul(1000)),
        );
    }
    response
}
