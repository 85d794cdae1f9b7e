//! Errors: what a client did wrong, what a provider answered, and the bodies clients see.

use bytes::Bytes;
use serde_json::json;
use switchyard_crds::Provider;

use crate::api::ErrorStyle;

/// The kind of an error a client sees; it picks the `type` in the body and the metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 400: the request is malformed or asks for something the model cannot do.
    InvalidRequest,
    /// 401: no or wrong credentials.
    Authentication,
    /// 403: authenticated but not allowed.
    PermissionDenied,
    /// 404: unknown model or path.
    NotFound,
    /// 413: the body is over the size cap.
    RequestTooLarge,
    /// 429: a limit was hit.
    RateLimit,
    /// 500/502: the provider failed or answered something unreadable.
    Api,
    /// 503/529: the provider is overloaded or no backend is available.
    Overloaded,
    /// 504: the provider did not answer in time.
    Timeout,
}

impl ErrorKind {
    /// The `type` field, which is also the metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request_error",
            Self::Authentication => "authentication_error",
            Self::PermissionDenied => "permission_error",
            Self::NotFound => "not_found_error",
            Self::RequestTooLarge => "request_too_large",
            Self::RateLimit => "rate_limit_error",
            Self::Api => "api_error",
            Self::Overloaded => "overloaded_error",
            Self::Timeout => "timeout_error",
        }
    }
}

/// A client request that cannot be sent as it is.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The body is not JSON, or not a JSON object.
    #[error("the request body is not valid JSON: {0}")]
    InvalidJson(#[source] serde_json::Error),
    /// A field has the wrong type or a required field is missing.
    #[error("invalid field `{field}`: {reason}")]
    InvalidField {
        /// The field's name (dotted path).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The backend's provider cannot do what the request asks.
    #[error("{} models cannot {feature}", provider.as_str())]
    Unsupported {
        /// The backend's provider.
        provider: Provider,
        /// What it cannot do, phrased to follow "cannot".
        feature: String,
    },
}

impl RequestError {
    /// The status a client sees.
    pub const fn status(&self) -> u16 {
        400
    }
}

/// A non-2xx answer from a provider, in provider-neutral terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamError {
    /// The status to send to the client.
    pub status: u16,
    /// The kind the status and body map to.
    pub kind: ErrorKind,
    /// The provider's message.
    pub message: String,
}

/// Reads a provider's error body; a body that is not the provider's error format keeps its text.
pub fn parse_error(provider: Provider, status: u16, body: &[u8]) -> UpstreamError {
    let value: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let message = value
        .as_ref()
        .and_then(|v| provider_message(provider, v))
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned());
    // Google answers a wrong API key with 400 INVALID_ARGUMENT; it is an authentication error.
    let status = match (provider, &value) {
        (Provider::Gemini, Some(v)) if gemini_reason(v) == Some("API_KEY_INVALID") => 401,
        _ => status,
    };
    let kind = match status {
        400 | 409 | 422 => ErrorKind::InvalidRequest,
        401 => ErrorKind::Authentication,
        403 => ErrorKind::PermissionDenied,
        404 => ErrorKind::NotFound,
        413 => ErrorKind::RequestTooLarge,
        429 => ErrorKind::RateLimit,
        503 | 529 => ErrorKind::Overloaded,
        408 | 504 => ErrorKind::Timeout,
        _ => ErrorKind::Api,
    };
    UpstreamError {
        status,
        kind,
        message,
    }
}

/// The `reason` of a Google error's `ErrorInfo` detail.
fn gemini_reason(value: &serde_json::Value) -> Option<&str> {
    value
        .pointer("/error/details")?
        .as_array()?
        .iter()
        .find_map(|detail| detail.get("reason")?.as_str())
}

fn provider_message(provider: Provider, value: &serde_json::Value) -> Option<String> {
    let text = match provider {
        // Bedrock: {"message": "..."}; Gemini: {"error":{"message"}} like OpenAI.
        Provider::Bedrock => value.get("message").or_else(|| value.get("Message")),
        _ => value.get("error").and_then(|e| e.get("message")),
    }?;
    text.as_str().map(str::to_owned)
}

/// A 2xx body that is not what the provider's format promises.
pub(crate) fn malformed(provider: &str, error: &dyn std::fmt::Display) -> UpstreamError {
    UpstreamError {
        status: 502,
        kind: ErrorKind::Api,
        message: format!("the {provider} response could not be read: {error}"),
    }
}

/// The error body a client of `style` expects.
pub fn render_error(style: ErrorStyle, kind: ErrorKind, message: &str) -> Bytes {
    let value = match style {
        ErrorStyle::OpenAi => json!({
            "error": {"message": message, "type": kind.as_str(), "param": null, "code": null}
        }),
        ErrorStyle::Anthropic => json!({
            "type": "error",
            "error": {"type": kind.as_str(), "message": message}
        }),
    };
    Bytes::from(value.to_string())
}
