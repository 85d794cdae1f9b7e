//! Client requests in, provider requests out.
//!
//! [`build_request`] applies the route's transforms to the client's fields, then hands them to
//! the backend's provider family: a same-format backend gets them back with only `model` (and
//! the params the gateway needs) edited; any other goes through the hub.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, header};
use serde::Deserialize;
use switchyard_crds::Provider;
use switchyard_crds::snapshot::{Model, Transforms};

use crate::fields::Fields;
use crate::hub::{self, invalid};
use crate::{Api, RequestError, anthropic, azure_openai, bedrock, gemini, openai, transforms};

/// A client request parsed once: what routing needs, plus the body for translation. Its
/// `Debug` leaves the body out, so prompts never reach a log by accident.
#[derive(Clone)]
pub struct ClientRequest {
    api: Api,
    model: String,
    stream: bool,
    include_usage: bool,
    digest: u64,
    created: u64,
    pub(crate) fields: Fields,
}

#[derive(Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

impl ClientRequest {
    /// Parses a client body for `api`: a JSON object with a string `model`.
    pub fn parse(api: Api, body: &[u8]) -> Result<Self, RequestError> {
        let fields = Fields::parse(body)?;
        let model = match fields.decode::<String>("model") {
            Ok(Some(model)) if !model.is_empty() => model,
            Ok(None) => return Err(invalid("model", "is required")),
            Ok(Some(_)) | Err(_) => return Err(invalid("model", "must be a non-empty string")),
        };
        let stream = fields
            .decode::<bool>("stream")
            .map_err(|_| invalid("stream", "must be a boolean"))?
            .unwrap_or(false);
        let include_usage = fields
            .decode::<StreamOptions>("stream_options")?
            .and_then(|options| options.include_usage)
            .unwrap_or(false);
        Ok(Self {
            api,
            model,
            stream,
            include_usage,
            digest: hub::fnv1a(body),
            created: 0,
            fields,
        })
    }

    /// Sets when the gateway received the request: translated responses carry it as
    /// `created`. Without it `created` is 0, since translation never reads the clock.
    pub fn set_received_at(&mut self, at: SystemTime) {
        self.created = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    }

    /// The API the client called.
    pub fn api(&self) -> Api {
        self.api
    }

    /// The public model name the client asked for.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Whether the client asked for a stream.
    pub fn stream(&self) -> bool {
        self.stream
    }

    /// The most output tokens the client allows, if it said.
    pub fn max_output_tokens(&self) -> Option<u64> {
        ["max_completion_tokens", "max_tokens", "max_output_tokens"]
            .iter()
            .find_map(|name| self.fields.decode::<u64>(name).ok().flatten())
    }

    /// Whether an OpenAI-format stream client asked for the usage chunk.
    pub(crate) fn include_usage(&self) -> bool {
        self.include_usage
    }

    /// `created` for translated responses (Unix seconds).
    pub(crate) fn created(&self) -> u64 {
        self.created
    }

    /// A deterministic id for answers whose provider gives none, derived from the body.
    pub(crate) fn derived_id(&self, prefix: &str) -> String {
        hub::derived_id(prefix, self.digest)
    }
}

impl fmt::Debug for ClientRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientRequest")
            .field("api", &self.api)
            .field("model", &self.model)
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

/// A request ready to send to a provider. The proxy adds `content-length` and the route's
/// headers, and `host` unless it is already here (Bedrock signs it, so it sets it). Its
/// `Debug` shows the body's length only (credential headers are marked sensitive).
#[derive(Clone)]
pub struct UpstreamRequest {
    /// The HTTP method.
    pub method: Method,
    /// Path and query, the endpoint's base path included.
    pub path_and_query: String,
    /// Content type, accept, and the provider's authentication headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl fmt::Debug for UpstreamRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamRequest")
            .field("method", &self.method)
            .field("path_and_query", &self.path_and_query)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// What a provider family needs to build one attempt: the client's API, its fields with the
/// route's transforms applied, and the backend.
pub(crate) struct Outgoing<'a> {
    /// The client's API.
    pub api: Api,
    /// The client's top-level fields, transformed.
    pub fields: Fields,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// The backend.
    pub model: &'a Model,
}

impl Outgoing<'_> {
    /// The client's request in hub terms, for a backend of another format.
    pub(crate) fn to_hub(&self) -> Result<hub::ChatRequest, RequestError> {
        let provider = self.model.provider;
        let mut request = match self.api {
            Api::ChatCompletions => openai::decode_chat_request(&self.fields, provider)?,
            Api::Messages => anthropic::decode_request(&self.fields, provider)?,
            Api::Completions | Api::Embeddings | Api::Responses => {
                return Err(hub::unsupported(
                    provider,
                    format!("serve {}", api_path(self.api)),
                ));
            }
        };
        request.model.clone_from(&self.model.model);
        request.stream = self.stream;
        Ok(request)
    }

    /// `POST` with a JSON body to `path` under the endpoint's base path.
    pub(crate) fn post(&self, path: &str, headers: HeaderMap, body: Bytes) -> UpstreamRequest {
        UpstreamRequest {
            method: Method::POST,
            path_and_query: format!("{}{path}", self.model.endpoint.base_path),
            headers,
            body,
        }
    }
}

/// The path a client API is served at, for messages.
pub(crate) const fn api_path(api: Api) -> &'static str {
    match api {
        Api::ChatCompletions => "/v1/chat/completions",
        Api::Completions => "/v1/completions",
        Api::Embeddings => "/v1/embeddings",
        Api::Responses => "/v1/responses",
        Api::Messages => "/v1/messages",
    }
}

/// `content-type: application/json` and an `accept` for the answer's format.
pub(crate) fn json_headers(accept: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
    headers
}

/// `accept` for a JSON or server-sent-events answer.
pub(crate) const fn accept(stream: bool) -> &'static str {
    if stream {
        "text/event-stream"
    } else {
        "application/json"
    }
}

/// Adds a secret header; a value that is not a valid header (never for real keys) is refused.
pub(crate) fn insert_secret(
    headers: &mut HeaderMap,
    name: header::HeaderName,
    value: &str,
    provider: Provider,
) -> Result<(), RequestError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        hub::unsupported(
            provider,
            "send a credential that is not a valid header value",
        )
    })?;
    value.set_sensitive(true);
    headers.insert(name, value);
    Ok(())
}

/// Builds the request for one attempt at `model`, with the route's `transforms` applied.
/// `now` signs requests that need a timestamp (Bedrock's SigV4).
pub fn build_request(
    request: &ClientRequest,
    model: &Model,
    transforms: &Transforms,
    now: SystemTime,
) -> Result<UpstreamRequest, RequestError> {
    let mut fields = request.fields.clone();
    transforms::apply(request.api, &mut fields, transforms)?;
    let outgoing = Outgoing {
        api: request.api,
        fields,
        stream: request.stream,
        model,
    };
    match model.provider {
        Provider::OpenAi | Provider::OpenAiCompatible => openai::build_request(outgoing),
        Provider::AzureOpenAi => azure_openai::build_request(outgoing),
        Provider::Anthropic => anthropic::build_request(outgoing),
        Provider::Gemini => gemini::build_request(outgoing),
        Provider::Bedrock => bedrock::build_request(outgoing, now),
    }
}
