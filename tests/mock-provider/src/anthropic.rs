//! Anthropic Messages: `x-api-key` and `anthropic-version`, the
//! `{"type":"error","error":{type,message}}` format, whole messages and the named-event stream
//! (message_start, content_block_start, ping, content_block_delta, content_block_stop,
//! message_delta, message_stop).
//!
//! Wire reference: <https://docs.anthropic.com/en/api/messages-streaming>.

use bytes::Bytes;
use hyper::header::{AUTHORIZATION, HeaderMap};
use hyper::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::body::{MockBody, StreamPlan};
use crate::reply::{Answer, Ask, Finish, Reply, Tool, ToolChoice, Usage};
use crate::router::{ApiError, ErrorKind, Exchange, parse_json};
use crate::sse::{self, json_bytes};

/// An Anthropic operation.
#[derive(Debug)]
pub(crate) enum Op {
    Messages,
    CountTokens,
    Models,
}

pub(crate) fn route(method: &Method, path: &str) -> Option<Op> {
    match (method, path) {
        (&Method::POST, "/v1/messages") => Some(Op::Messages),
        (&Method::POST, "/v1/messages/count_tokens") => Some(Op::CountTokens),
        (&Method::GET, "/v1/models") => Some(Op::Models),
        _ => None,
    }
}

/// Checks `x-api-key: KEY` (or an OAuth `Authorization: Bearer` token).
pub(crate) fn authenticate(headers: &HeaderMap, key: Option<&str>) -> Result<(), ApiError> {
    let given = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get(AUTHORIZATION)?
                .to_str()
                .ok()?
                .strip_prefix("Bearer ")
        })
        .map(str::trim)
        .filter(|v| !v.is_empty());
    match given {
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorKind::MissingCredential,
            "x-api-key header is required",
        )),
        Some(given) if key.is_some_and(|k| k != given) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorKind::BadCredential,
            "invalid x-api-key",
        )),
        Some(_) => Ok(()),
    }
}

/// `{"type":"error","error":{"type","message"}}` with Anthropic's error types.
pub(crate) fn error_response(error: &ApiError) -> Response<MockBody> {
    let kind = match error.status.as_u16() {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        _ => "api_error",
    };
    let body = json!({"type": "error", "error": {"type": kind, "message": error.message}});
    error.respond(json_bytes(&body))
}

pub(crate) async fn answer(
    op: Op,
    ex: &Exchange,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response<MockBody>, ApiError> {
    if !headers.contains_key("anthropic-version") {
        return Err(ApiError::bad_request(
            "anthropic-version: header is required",
        ));
    }
    match op {
        Op::Models => {
            let data: Vec<Value> = ex
                .shared
                .config
                .models
                .iter()
                .map(|id| {
                    json!({
                        "type": "model", "id": id, "display_name": id,
                        "created_at": "2025-01-01T00:00:00Z",
                    })
                })
                .collect();
            let page = json!({
                "data": data, "has_more": false,
                "first_id": ex.shared.config.models.first(), "last_id": ex.shared.config.models.last(),
            });
            Ok(ex.json(json_bytes(&page)))
        }
        Op::CountTokens => {
            let ask = read(&parse_json(body)?, false)?;
            Ok(ex.json(json_bytes(&json!({"input_tokens": ask.input_words.max(1)}))))
        }
        Op::Messages => messages(ex, body).await,
    }
}

async fn messages(ex: &Exchange, body: &[u8]) -> Result<Response<MockBody>, ApiError> {
    let request = parse_json(body)?;
    let ask = read(&request, true)?;
    let reply = Reply::compose(&ask, &ex.controls);
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let id = format!("msg_mock{}", ex.id);
    if request.get("stream").and_then(Value::as_bool) == Some(true) {
        return Ok(ex.stream(
            "text/event-stream; charset=utf-8",
            stream_plan(&id, model, &reply, ex),
        ));
    }
    ex.generate(&reply).await;
    let content = match &reply.answer {
        Answer::Text(text) => json!([{"type": "text", "text": text}]),
        Answer::ToolCall { name, arguments } => json!([{
            "type": "tool_use", "id": format!("toolu_mock{}", ex.id), "name": name, "input": arguments,
        }]),
    };
    let message = json!({
        "id": id, "type": "message", "role": "assistant", "model": model, "content": content,
        "stop_reason": stop_reason(reply.finish), "stop_sequence": null,
        "usage": usage_json(&reply.usage, reply.usage.output),
    });
    Ok(ex.json(json_bytes(&message)))
}

/// Reads `system`, `messages`, `tools`, `tool_choice` and `max_tokens` (required when
/// `complete`, as Anthropic requires them on `/v1/messages`).
fn read(request: &Value, complete: bool) -> Result<Ask, ApiError> {
    let required = |field: &'static str| ApiError::bad_request(format!("{field}: Field required"));
    let Some(messages) = request.get("messages").and_then(Value::as_array) else {
        return Err(required("messages"));
    };
    if request.get("model").and_then(Value::as_str).is_none() {
        return Err(required("model"));
    }
    let mut ask = Ask {
        max_tokens: request.get("max_tokens").and_then(Value::as_u64),
        ..Ask::default()
    };
    if complete && ask.max_tokens.is_none() {
        return Err(required("max_tokens"));
    }
    ask.count(&text_of(request.get("system")));
    for message in messages {
        let content = message.get("content");
        let results: Vec<&Value> = content
            .and_then(Value::as_array)
            .map(|blocks| {
                blocks
                    .iter()
                    .filter(|b| b.get("type") == Some(&json!("tool_result")))
                    .collect()
            })
            .unwrap_or_default();
        ask.after_tool_result = !results.is_empty();
        let text = if ask.after_tool_result {
            results
                .iter()
                .map(|r| text_of(r.get("content")))
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            text_of(content)
        };
        ask.count(&text);
        ask.last_text = text;
    }
    if let Some(tools) = request.get("tools").and_then(Value::as_array) {
        ask.tools = tools
            .iter()
            .filter_map(|t| {
                Some(Tool {
                    name: t.get("name")?.as_str()?.to_owned(),
                    schema: t.get("input_schema").cloned().unwrap_or(Value::Null),
                })
            })
            .collect();
    }
    ask.choice = match request.pointer("/tool_choice/type").and_then(Value::as_str) {
        Some("any") => ToolChoice::Required,
        Some("none") => ToolChoice::None,
        Some("tool") => request
            .pointer("/tool_choice/name")
            .and_then(Value::as_str)
            .map_or(ToolChoice::Required, |n| ToolChoice::Named(n.to_owned())),
        _ => ToolChoice::Auto,
    };
    Ok(ask)
}

/// The text of a `content` or `system`: a string, or its text blocks.
fn text_of(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

fn stop_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
        Finish::ToolUse => "tool_use",
    }
}

/// Anthropic counts cache reads and writes apart from `input_tokens`.
fn usage_json(usage: &Usage, output: u64) -> Value {
    json!({
        "input_tokens": usage.uncached_input(),
        "cache_creation_input_tokens": usage.cache_write,
        "cache_read_input_tokens": usage.cached,
        "output_tokens": output,
        "service_tier": "standard",
    })
}

fn stream_plan(id: &str, model: &str, reply: &Reply, ex: &Exchange) -> StreamPlan {
    let mut frames: Vec<Bytes> = Vec::with_capacity(reply.pieces.len() + 6);
    frames.push(sse::event(
        "message_start",
        &json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": null, "stop_sequence": null, "usage": usage_json(&reply.usage, 1),
        }}),
    ));
    let (block, delta_of): (Value, fn(&str) -> Value) = match &reply.answer {
        Answer::Text(_) => (
            json!({"type": "text", "text": ""}),
            |p| json!({"type": "text_delta", "text": p}),
        ),
        Answer::ToolCall { name, .. } => (
            json!({"type": "tool_use", "id": format!("toolu_mock{}", ex.id), "name": name, "input": {}}),
            |p| json!({"type": "input_json_delta", "partial_json": p}),
        ),
    };
    frames.push(sse::event(
        "content_block_start",
        &json!({
            "type": "content_block_start", "index": 0, "content_block": block,
        }),
    ));
    frames.push(sse::event("ping", &json!({"type": "ping"})));
    for piece in &reply.pieces {
        frames.push(sse::event(
            "content_block_delta",
            &json!({
                "type": "content_block_delta", "index": 0, "delta": delta_of(piece),
            }),
        ));
    }
    frames.push(sse::event(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": 0}),
    ));
    let mut usage = usage_json(&reply.usage, reply.usage.output);
    if let Some(usage) = usage.as_object_mut() {
        usage.remove("service_tier");
    }
    frames.push(sse::event(
        "message_delta",
        &json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(reply.finish), "stop_sequence": null},
            "usage": usage,
        }),
    ));
    frames.push(sse::event("message_stop", &json!({"type": "message_stop"})));
    let error_frame = ex.wants_error_frame().then(|| {
        sse::event("error", &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
    });
    StreamPlan {
        frames,
        lead: 3,
        content: reply.pieces.len(),
        error_frame,
        sse: true,
    }
}
