//! Dispatch and the steps every provider shares: record, resolve controls, authenticate, wait
//! or fault, inject a status, then let the provider answer.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, RETRY_AFTER};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::Value;

use crate::body::{self, MockBody, StreamPlan};
use crate::config::Fault;
use crate::controls::Controls;
use crate::faults::{self, ResetTrigger};
use crate::record::RecordedRequest;
use crate::reply::Reply;
use crate::server::Shared;
use crate::{admin, anthropic, azure, bedrock, gemini, openai};

/// Which provider API a request is for, and which operation of it.
#[derive(Debug)]
pub(crate) enum Route {
    OpenAi(openai::Op),
    Azure(azure::Target),
    Anthropic(anthropic::Op),
    Gemini(gemini::Call),
    Bedrock(bedrock::Call),
}

impl Route {
    fn parse(method: &Method, path: &str, parts: &Parts) -> Option<Self> {
        if let Some(rest) = path.strip_prefix("/openai/") {
            return azure::route(method, rest).map(Self::Azure);
        }
        if let Some(rest) = path.strip_prefix("/model/") {
            return bedrock::route(method, rest).map(Self::Bedrock);
        }
        if let Some(call) = gemini::route(method, path) {
            return Some(Self::Gemini(call));
        }
        if (parts.headers.contains_key("anthropic-version") || path.starts_with("/v1/messages"))
            && let Some(op) = anthropic::route(method, path)
        {
            return Some(Self::Anthropic(op));
        }
        openai::route(method, path).map(Self::OpenAi)
    }

    fn provider(&self) -> Provider {
        match self {
            Self::OpenAi(_) => Provider::OpenAi,
            Self::Azure(_) => Provider::Azure,
            Self::Anthropic(_) => Provider::Anthropic,
            Self::Gemini(_) => Provider::Gemini,
            Self::Bedrock(_) => Provider::Bedrock,
        }
    }

    async fn answer(
        self,
        ex: &Exchange,
        parts: &Parts,
        body: Bytes,
    ) -> Result<Response<MockBody>, ApiError> {
        match self {
            Self::OpenAi(op) => openai::answer(op, openai::Flavor::OpenAi, ex, &body).await,
            Self::Azure(target) => azure::answer(target, ex, parts, &body).await,
            Self::Anthropic(op) => anthropic::answer(op, ex, &parts.headers, &body).await,
            Self::Gemini(call) => gemini::answer(call, ex, parts, &body).await,
            Self::Bedrock(call) => bedrock::answer(call, ex, &body).await,
        }
    }
}

/// The provider whose auth scheme and error format apply.
#[derive(Clone, Copy, Debug)]
enum Provider {
    OpenAi,
    Azure,
    Anthropic,
    Gemini,
    Bedrock,
}

impl Provider {
    fn authenticate(self, parts: &Parts, shared: &Shared) -> Result<(), ApiError> {
        let key = shared.config.api_key.as_deref();
        match self {
            Self::OpenAi => openai::authenticate(&parts.headers, key),
            Self::Azure => azure::authenticate(&parts.headers, key),
            Self::Anthropic => anthropic::authenticate(&parts.headers, key),
            Self::Gemini => gemini::authenticate(parts, key),
            Self::Bedrock => bedrock::authenticate(&parts.headers, key, &shared.config),
        }
    }

    fn error(self, error: &ApiError) -> Response<MockBody> {
        match self {
            Self::OpenAi => openai::error_response(error),
            Self::Azure => azure::error_response(error),
            Self::Anthropic => anthropic::error_response(error),
            Self::Gemini => gemini::error_response(error),
            Self::Bedrock => bedrock::error_response(error),
        }
    }
}

/// An error a provider renders in its own format.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub kind: ErrorKind,
    pub message: String,
    pub retry_after: Option<u64>,
    /// The request field at fault, for the formats that name it (OpenAI's `param`).
    pub param: Option<&'static str>,
    /// A provider-specific error type that the status alone does not tell (Bedrock's
    /// `x-amzn-ErrorType` for auth failures).
    pub code: Option<&'static str>,
}

/// What went wrong, independent of how each provider names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    MissingCredential,
    BadCredential,
    BadRequest,
    NotFound,
    /// A status scripted with `x-mock-status`.
    Injected,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
            retry_after: None,
            param: None,
            code: None,
        }
    }

    /// Sets the provider-specific error type.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// Names the request field at fault.
    pub fn with_param(mut self, param: &'static str) -> Self {
        self.param = Some(param);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorKind::BadRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, message)
    }

    /// Builds the error response from the provider's body, adding `Retry-After` if scripted.
    pub fn respond(&self, body: Bytes) -> Response<MockBody> {
        let mut response = body::json(self.status, body);
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// One request in flight: its scripted controls, its id and its connection's reset trigger.
#[derive(Debug)]
pub(crate) struct Exchange {
    pub id: u64,
    pub controls: Controls,
    pub reset: ResetTrigger,
    pub shared: Arc<Shared>,
}

impl Exchange {
    /// Waits as long as streaming `reply` would take, for a non-streaming answer.
    pub async fn generate(&self, reply: &Reply) {
        let time = self.controls.generation_time(reply.pieces.len());
        if !time.is_zero() {
            tokio::time::sleep(time).await;
        }
    }

    /// A `200` JSON answer, with any mid-body fault applied.
    pub fn json(&self, bytes: Bytes) -> Response<MockBody> {
        let body = body::answer(bytes, &self.controls, &self.reset);
        body::with_type(StatusCode::OK, "application/json", body)
    }

    /// A `200` streamed answer.
    pub fn stream(&self, content_type: &'static str, plan: StreamPlan) -> Response<MockBody> {
        let body = body::stream(plan, &self.controls, &self.reset);
        let mut response = body::with_type(StatusCode::OK, content_type, body);
        response.headers_mut().insert(
            HeaderName::from_static("cache-control"),
            HeaderValue::from_static("no-cache"),
        );
        response
    }

    /// Whether the stream must carry the provider's in-stream error event.
    pub fn wants_error_frame(&self) -> bool {
        self.controls.fault == Some(Fault::ErrorMidStream)
    }
}

/// Parses a JSON request body, or answers the provider's 400.
pub(crate) fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|error| {
        ApiError::bad_request(format!(
            "We could not parse the JSON body of your request: {error}"
        ))
    })
}

/// Serves one request.
pub(crate) async fn handle(
    request: Request<Incoming>,
    shared: Arc<Shared>,
    reset: ResetTrigger,
) -> Response<MockBody> {
    let (parts, incoming) = request.into_parts();
    let Ok(collected) = incoming.collect().await else {
        return body::json(StatusCode::BAD_REQUEST, Bytes::from_static(b"{}"));
    };
    let body = collected.to_bytes();
    let path = parts.uri.path();
    if let Some(rest) = path.strip_prefix("/_mock/") {
        return admin::handle(&parts.method, rest, &body, &shared);
    }
    if shared.recorder.is_enabled() {
        shared
            .recorder
            .record(RecordedRequest::capture(&parts, &body));
    }
    let Some(route) = Route::parse(&parts.method, path, &parts) else {
        let message = format!("Unknown request URL: {} {path}", parts.method);
        return openai::error_response(&ApiError::not_found(message));
    };
    let provider = route.provider();
    let behavior = shared.behavior();
    let faulty = shared.take_fault(&behavior);
    let controls = match Controls::resolve(&behavior, faulty, &parts.headers) {
        Ok(controls) => controls,
        Err(error) => return provider.error(&ApiError::bad_request(error.to_string())),
    };
    if let Err(error) = provider.authenticate(&parts, &shared) {
        return provider.error(&error);
    }
    faults::before_headers(&controls, &reset).await;
    if let Some(status) = controls.status {
        let mut error = ApiError::new(status, ErrorKind::Injected, injected_message(status));
        error.retry_after = controls.retry_after;
        return provider.error(&error);
    }
    let exchange = Exchange {
        id: shared.next_id(),
        controls,
        reset,
        shared,
    };
    match route.answer(&exchange, &parts, body).await {
        Ok(response) => response,
        Err(error) => provider.error(&error),
    }
}

fn injected_message(status: StatusCode) -> String {
    match status.as_u16() {
        429 => "Rate limit reached (injected by the mock provider)".to_owned(),
        529 => "Overloaded (injected by the mock provider)".to_owned(),
        _ => format!(
            "{} (injected by the mock provider)",
            status.canonical_reason().unwrap_or("Error")
        ),
    }
}
