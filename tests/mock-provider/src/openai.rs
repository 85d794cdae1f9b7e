//! OpenAI: routes, Bearer auth, the `{"error":{message,type,param,code}}` format, usage, and
//! the chat-message reading shared by chat completions and Azure.
//!
//! Wire reference: <https://platform.openai.com/docs/api-reference>.

mod chat;
mod legacy;
mod responses;

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::header::{AUTHORIZATION, HeaderMap};
use hyper::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::body::MockBody;
use crate::reply::{Ask, Finish, Tool, ToolChoice, Usage};
use crate::router::{ApiError, ErrorKind, Exchange};
use crate::sse::json_bytes;

/// An OpenAI operation.
#[derive(Debug)]
pub(crate) enum Op {
    Chat,
    Completions,
    Embeddings,
    Models,
    Model(String),
    Responses,
}

/// Which service's quirks apply to an OpenAI-format answer.
#[derive(Debug)]
pub(crate) enum Flavor {
    OpenAi,
    /// Azure OpenAI: content-filter annotations, and the deployment stands in for the model.
    Azure {
        deployment: Option<String>,
    },
}

impl Flavor {
    /// The model named in the body, else the Azure deployment.
    pub fn model(&self, request: &Value) -> String {
        match (request.get("model").and_then(Value::as_str), self) {
            (Some(model), _) => model.to_owned(),
            (
                None,
                Self::Azure {
                    deployment: Some(d),
                },
            ) => d.clone(),
            (None, _) => "unknown".to_owned(),
        }
    }

    pub fn is_azure(&self) -> bool {
        matches!(self, Self::Azure { .. })
    }
}

pub(crate) fn route(method: &Method, path: &str) -> Option<Op> {
    let op = match (method, path) {
        (&Method::POST, "/v1/chat/completions") => Op::Chat,
        (&Method::POST, "/v1/completions") => Op::Completions,
        (&Method::POST, "/v1/embeddings") => Op::Embeddings,
        (&Method::POST, "/v1/responses") => Op::Responses,
        (&Method::GET, "/v1/models") => Op::Models,
        (&Method::GET, _) => Op::Model(path.strip_prefix("/v1/models/")?.to_owned()),
        _ => return None,
    };
    Some(op)
}

pub(crate) async fn answer(
    op: Op,
    flavor: Flavor,
    ex: &Exchange,
    body: &[u8],
) -> Result<Response<MockBody>, ApiError> {
    match op {
        Op::Chat => chat::answer(flavor, ex, body).await,
        Op::Completions => legacy::completions(flavor, ex, body).await,
        Op::Embeddings => legacy::embeddings(flavor, ex, body),
        Op::Models => Ok(legacy::models(ex)),
        Op::Model(id) => legacy::model(ex, &id),
        Op::Responses => responses::answer(flavor, ex, body).await,
    }
}

/// Checks `Authorization: Bearer KEY`.
pub(crate) fn authenticate(headers: &HeaderMap, key: Option<&str>) -> Result<(), ApiError> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|v| !v.is_empty());
    match bearer {
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorKind::MissingCredential,
            "You didn't provide an API key. You need to provide your API key in an Authorization \
             header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )),
        Some(given) if key.is_some_and(|k| k != given) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorKind::BadCredential,
            format!("Incorrect API key provided: {}.", mask(given)),
        )),
        Some(_) => Ok(()),
    }
}

/// Shows a key the way OpenAI does in errors: its ends only.
pub(crate) fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// `{"error":{"message","type","param","code"}}` with OpenAI's types and codes.
pub(crate) fn error_response(error: &ApiError) -> Response<MockBody> {
    error.respond(json_bytes(&error_body(error)))
}

pub(crate) fn error_body(error: &ApiError) -> Value {
    let (kind, code) = match (error.kind, error.status.as_u16()) {
        (ErrorKind::BadCredential, _) => ("invalid_request_error", Some("invalid_api_key")),
        (ErrorKind::MissingCredential | ErrorKind::BadRequest | ErrorKind::NotFound, _) => {
            ("invalid_request_error", None)
        }
        (ErrorKind::Injected, 429) => ("requests", Some("rate_limit_exceeded")),
        (ErrorKind::Injected, 401) => ("invalid_request_error", Some("invalid_api_key")),
        (ErrorKind::Injected, status) if status >= 500 => ("server_error", None),
        (ErrorKind::Injected, _) => ("invalid_request_error", None),
    };
    json!({"error": {"message": error.message, "type": kind, "param": error.param, "code": code}})
}

/// The in-stream error event OpenAI sends when a stream fails after it started.
pub(crate) fn stream_error_frame() -> Bytes {
    crate::sse::data(&json!({"error": {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error", "param": null, "code": null,
    }}))
}

/// Chat-completions usage, cached and reasoning tokens included.
pub(crate) fn usage_json(usage: &Usage) -> Value {
    let completion = usage.output + usage.reasoning;
    json!({
        "prompt_tokens": usage.input,
        "completion_tokens": completion,
        "total_tokens": usage.input + completion,
        "prompt_tokens_details": {"cached_tokens": usage.cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
        },
    })
}

pub(crate) fn finish_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "stop",
        Finish::Length => "length",
        Finish::ToolUse => "tool_calls",
    }
}

/// Seconds since the epoch, for `created`.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Reads chat `messages`, `tools`, `tool_choice` and the token limit into an [`Ask`].
pub(crate) fn read_chat(request: &Value) -> Result<Ask, ApiError> {
    let Some(messages) = request.get("messages").and_then(Value::as_array) else {
        return Err(
            ApiError::bad_request("Missing required parameter: 'messages'.").with_param("messages"),
        );
    };
    let mut ask = Ask::default();
    for message in messages {
        let text = content_text(message.get("content"));
        ask.count(&text);
        ask.after_tool_result = message.get("role").and_then(Value::as_str) == Some("tool");
        ask.last_text = text;
    }
    if let Some(tools) = request.get("tools").and_then(Value::as_array) {
        ask.tools = tools.iter().filter_map(function_tool).collect();
    }
    ask.choice = match request.get("tool_choice") {
        Some(Value::String(choice)) if choice == "none" => ToolChoice::None,
        Some(Value::String(choice)) if choice == "required" => ToolChoice::Required,
        Some(Value::Object(choice)) => choice
            .get("function")
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .map_or(ToolChoice::Required, |name| {
                ToolChoice::Named(name.to_owned())
            }),
        _ => ToolChoice::Auto,
    };
    ask.max_tokens = request
        .get("max_completion_tokens")
        .or_else(|| request.get("max_tokens"))
        .and_then(Value::as_u64);
    Ok(ask)
}

/// `{"type":"function","function":{"name","parameters"}}` as a [`Tool`].
fn function_tool(tool: &Value) -> Option<Tool> {
    let function = tool.get("function")?;
    Some(Tool {
        name: function.get("name")?.as_str()?.to_owned(),
        schema: function.get("parameters").cloned().unwrap_or(Value::Null),
    })
}

/// The text of a message `content`: a string, or the `text` of its parts.
pub(crate) fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}
