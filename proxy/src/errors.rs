//! Every failure a client can see, and the one exhaustive match that turns it into a status,
//! an OpenAI- or Anthropic-style body and `Retry-After`.

use std::time::Duration;

use switchyard_crds::problems::ObjectRef;
use switchyard_providers::{ErrorKind, RequestError, UpstreamError};

use crate::auth::jwt::Refusal;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The path is not an API the proxy serves.
    #[error(
        "unknown path {0}: the proxy serves /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses, /v1/messages and /v1/models"
    )]
    UnknownPath(String),
    /// The method is not the API's.
    #[error("{path} accepts {allowed} only")]
    MethodNotAllowed {
        /// The path called.
        path: String,
        /// The method it accepts.
        allowed: &'static str,
    },
    /// The body is over the cap.
    #[error("the request body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The cap in bytes.
        limit: usize,
    },
    /// The body could not be read from the client.
    #[error("the request body could not be read: {0}")]
    BodyRead(#[source] Box<pingora::Error>),
    /// The body is not a valid request.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// No route serves the model.
    #[error("the model `{0}` does not exist or you do not have access to it")]
    UnknownModel(String),
    /// No snapshot has been loaded yet.
    #[error("no configuration loaded yet: the gateway has not received its first snapshot")]
    NotReady,
    /// A policy that covers the route is invalid, so the route refuses requests.
    #[error("the route for this model is closed because policy {} is invalid; see the AIPolicy's status", display(.0))]
    InvalidPolicy(ObjectRef),
    /// No credential was presented and no policy admits anonymous callers.
    #[error(
        "no API key or token was presented; send it as `Authorization: Bearer KEY`, `x-api-key` or `api-key`"
    )]
    Unauthenticated,
    /// A credential was presented that no policy of the route knows.
    #[error("the API key is not valid for this model")]
    InvalidApiKey {
        /// The first bytes of the key's SHA-256, hex, for logs (never the key).
        digest_prefix: String,
    },
    /// A bearer JWT (or service-account token) was refused.
    #[error("the bearer token is not valid: {0}")]
    InvalidToken(#[from] Refusal),
    /// A valid service-account token of an account no policy of the route lets in.
    #[error("service account `{subject}` is not allowed to use this model")]
    ServiceAccountNotAllowed {
        /// `system:serviceaccount:NS:NAME`.
        subject: String,
    },
    /// The caller is authenticated but a policy does not let it use this route or model.
    #[error("`{subject}` is not allowed to use the model `{model}`")]
    Forbidden {
        /// Who asked.
        subject: String,
        /// The public model name asked for.
        model: String,
    },
    /// A prompt matched a policy's deny pattern; the message is the pattern's.
    #[error("{0}")]
    PromptDenied(std::sync::Arc<str>),
    /// The prompt is longer than a policy's `guardrails.maxInputTokens`.
    #[error(
        "the prompt has {tokens} tokens, more than the {limit} allowed by policy {policy} (guardrails.maxInputTokens)"
    )]
    InputTooLong {
        /// Tokens counted in the request.
        tokens: u64,
        /// The policy's maximum.
        limit: u64,
        /// `namespace/name` of the policy.
        policy: String,
    },
    /// A rate limit or budget refused the request.
    #[error(transparent)]
    Limited(#[from] crate::limits::Refusal),
    /// Redis could not be reached and a policy with global limits refuses requests then.
    #[error(
        "rate limits cannot be checked: the shared Redis is unreachable and policy {policy} refuses requests while it is (onRedisUnavailable: deny)"
    )]
    LimitsUnavailable {
        /// `namespace/name` of the policy.
        policy: String,
    },
    /// Every candidate was ejected or unusable and nothing was sent.
    #[error("no backend of route {0} can serve this request")]
    NoBackend(String),
    /// Every attempt failed; this is the last failure.
    #[error(transparent)]
    Upstream(#[from] UpstreamFailure),
}

fn display(object: &ObjectRef) -> String {
    format!("{}/{}", object.namespace, object.name)
}

/// How one upstream attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamFailure {
    /// The connection could not be opened (or the host is not resolved yet).
    #[error("could not connect to {backend}: {reason}")]
    Connect {
        /// The backend's `namespace/name`.
        backend: String,
        /// What went wrong.
        reason: String,
    },
    /// No first byte (first token, for streams) in time, or the whole call ran out of time.
    #[error("{backend} did not answer within {after:?}")]
    Timeout {
        /// The backend's `namespace/name`.
        backend: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// The provider answered with an error status.
    #[error("{backend} answered {}: {}", .error.status, .error.message)]
    Status {
        /// The backend's `namespace/name`.
        backend: String,
        /// The provider's error.
        error: UpstreamError,
        /// The provider's `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// The connection broke or the provider sent something unreadable.
    #[error("{backend} failed: {reason}")]
    Protocol {
        /// The backend's `namespace/name`.
        backend: String,
        /// What went wrong.
        reason: String,
    },
}

/// What a client is sent for an error.
#[derive(Debug, PartialEq, Eq)]
pub struct ErrorResponse {
    /// The HTTP status.
    pub status: u16,
    /// The error kind (body `type` and metric label).
    pub kind: ErrorKind,
    /// Seconds for `Retry-After`, if the client should wait.
    pub retry_after: Option<u64>,
}

impl GatewayError {
    /// The status, kind and `Retry-After` of this error.
    pub fn response(&self) -> ErrorResponse {
        let (status, kind, retry_after) = match self {
            Self::UnknownPath(_) => (404, ErrorKind::NotFound, None),
            Self::MethodNotAllowed { .. } => (405, ErrorKind::InvalidRequest, None),
            Self::BodyTooLarge { .. } => (413, ErrorKind::RequestTooLarge, None),
            Self::BodyRead(_) | Self::Request(_) => (400, ErrorKind::InvalidRequest, None),
            Self::UnknownModel(_) => (404, ErrorKind::NotFound, None),
            Self::NotReady => (503, ErrorKind::Overloaded, Some(1)),
            Self::InvalidPolicy(_) => (503, ErrorKind::Api, None),
            Self::InvalidToken(Refusal::KeysUnavailable) => (503, ErrorKind::Overloaded, Some(1)),
            Self::Unauthenticated | Self::InvalidApiKey { .. } | Self::InvalidToken(_) => {
                (401, ErrorKind::Authentication, None)
            }
            Self::Forbidden { .. } | Self::ServiceAccountNotAllowed { .. } => {
                (403, ErrorKind::PermissionDenied, None)
            }
            Self::PromptDenied(_) => (400, ErrorKind::InvalidRequest, None),
            Self::InputTooLong { .. } => (400, ErrorKind::InvalidRequest, None),
            Self::Limited(refusal) => (429, ErrorKind::RateLimit, Some(refusal.retry_after)),
            Self::LimitsUnavailable { .. } => (503, ErrorKind::Overloaded, Some(1)),
            Self::NoBackend(_) => (503, ErrorKind::Overloaded, Some(1)),
            Self::Upstream(failure) => return failure.response(),
        };
        ErrorResponse {
            status,
            kind,
            retry_after,
        }
    }
}

impl GatewayError {
    /// The security event this error is (the `reason` label of
    /// `switchyard_security_events_total`), if it is one.
    pub fn security_event(&self) -> Option<&'static str> {
        match self {
            Self::Unauthenticated => Some("missing_credentials"),
            Self::InvalidApiKey { .. } => Some("invalid_api_key"),
            // The issuer's keys are missing: the gateway's trouble, not the caller's.
            Self::InvalidToken(Refusal::KeysUnavailable) => None,
            Self::InvalidToken(refusal) => Some(refusal.kind()),
            Self::ServiceAccountNotAllowed { .. } => Some("service_account_not_allowed"),
            Self::Forbidden { .. } => Some("forbidden"),
            Self::InvalidPolicy(_) => Some("invalid_policy"),
            _ => None,
        }
    }
}

impl UpstreamFailure {
    /// How the failure is reported: a provider's client errors and 429s keep their status; its
    /// server errors become 502, a timeout 504.
    pub fn response(&self) -> ErrorResponse {
        match self {
            Self::Connect { .. } | Self::Protocol { .. } => ErrorResponse {
                status: 502,
                kind: ErrorKind::Api,
                retry_after: None,
            },
            Self::Timeout { .. } => ErrorResponse {
                status: 504,
                kind: ErrorKind::Timeout,
                retry_after: None,
            },
            Self::Status {
                error, retry_after, ..
            } => ErrorResponse {
                status: match error.status {
                    status @ 400..=499 => status,
                    503 | 529 => 503,
                    _ => 502,
                },
                kind: error.kind,
                retry_after: retry_after.map(|after| after.as_secs().max(1)),
            },
        }
    }
}
