//! Bedrock Converse and ConverseStream: SigV4 (or Bedrock API key) auth, `{"message"}` errors
//! typed by `x-amzn-ErrorType`, and the stream as AWS event-stream binary frames.
//!
//! Wire reference: <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html>.

mod eventstream;

use hyper::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Response, StatusCode};
use serde_json::{Map, Value, json};

use crate::body::{MockBody, StreamPlan};
use crate::config::MockConfig;
use crate::reply::{Answer, Ask, Finish, Reply, Tool, ToolChoice, Usage};
use crate::router::{ApiError, ErrorKind, Exchange, parse_json};
use crate::sse::json_bytes;

/// Random-looking padding AWS adds to each event payload as `"p"`, so that payload sizes do
/// not leak the text; parsers must ignore it.
const PADDING: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A Converse call on one model.
#[derive(Debug)]
pub(crate) struct Call {
    stream: bool,
}

/// Routes the path after `/model/`: `{modelId}/converse` or `{modelId}/converse-stream`.
pub(crate) fn route(method: &Method, rest: &str) -> Option<Call> {
    if method != Method::POST {
        return None;
    }
    let (model, operation) = rest.rsplit_once('/')?;
    if model.is_empty() {
        return None;
    }
    match operation {
        "converse" => Some(Call { stream: false }),
        "converse-stream" => Some(Call { stream: true }),
        _ => None,
    }
}

/// Checks a SigV4 `Authorization` header (shape, `bedrock` scope, `x-amz-date`, optionally the
/// access key id) or a Bedrock API key as `Authorization: Bearer`. The signature itself is not
/// verified. AWS answers every auth failure with 403.
pub(crate) fn authenticate(
    headers: &HeaderMap,
    key: Option<&str>,
    config: &MockConfig,
) -> Result<(), ApiError> {
    let Some(auth) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Err(denied(
            ErrorKind::MissingCredential,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ));
    };
    if let Some(token) = auth.strip_prefix("Bearer ") {
        return match key {
            Some(key) if key != token.trim() => Err(unrecognized()),
            _ => Ok(()),
        };
    }
    let Some(fields) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err(incomplete(
            "Authorization header requires AWS4-HMAC-SHA256 or Bearer.",
        ));
    };
    let access_key_id = check_sigv4(fields, headers).map_err(incomplete)?;
    match config.aws_access_key_id.as_deref() {
        Some(expected) if expected != access_key_id => Err(unrecognized()),
        _ => Ok(()),
    }
}

/// Checks the shape of SigV4 `Authorization` fields and returns the access key id, or the
/// message AWS gives for an incomplete signature.
fn check_sigv4<'a>(fields: &'a str, headers: &HeaderMap) -> Result<&'a str, &'static str> {
    let field = |name: &str| {
        fields
            .split(',')
            .map(str::trim)
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
    };
    let credential =
        field("Credential").ok_or("Authorization header requires 'Credential' parameter.")?;
    if field("SignedHeaders").is_none() || field("Signature").is_none() {
        return Err("Authorization header requires 'SignedHeaders' and 'Signature' parameters.");
    }
    if !headers.contains_key("x-amz-date") {
        return Err(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        );
    }
    match credential.split('/').collect::<Vec<_>>().as_slice() {
        [access_key_id, _, _, "bedrock", "aws4_request"] => Ok(access_key_id),
        _ => Err("Credential should be scoped to a valid region and the service 'bedrock'."),
    }
}

fn denied(kind: ErrorKind, code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, kind, message).with_code(code)
}

fn unrecognized() -> ApiError {
    denied(
        ErrorKind::BadCredential,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
}

fn incomplete(message: &str) -> ApiError {
    denied(
        ErrorKind::BadCredential,
        "IncompleteSignatureException",
        message,
    )
}

/// `{"message"}` with the type in `x-amzn-ErrorType`.
pub(crate) fn error_response(error: &ApiError) -> Response<MockBody> {
    let kind = error.code.unwrap_or(match error.status.as_u16() {
        400 => "ValidationException",
        403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        408 => "ModelTimeoutException",
        424 => "ModelErrorException",
        429 => "ThrottlingException",
        503 => "ServiceUnavailableException",
        _ => "InternalServerException",
    });
    let mut response = error.respond(json_bytes(&json!({"message": error.message})));
    let value = format!("{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/");
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-amzn-errortype"), value);
    }
    response
}

pub(crate) async fn answer(
    call: Call,
    ex: &Exchange,
    body: &[u8],
) -> Result<Response<MockBody>, ApiError> {
    let request = parse_json(body)?;
    let ask = read(&request)?;
    let reply = Reply::compose(&ask, &ex.controls);
    let latency_ms =
        (ex.controls.latency + ex.controls.generation_time(reply.pieces.len())).as_millis();
    let mut response = if call.stream {
        let plan = stream_plan(&reply, ex, latency_ms);
        ex.stream("application/vnd.amazon.eventstream", plan)
    } else {
        ex.generate(&reply).await;
        let content = match &reply.answer {
            Answer::Text(text) => json!([{"text": text}]),
            Answer::ToolCall { name, arguments } => json!([{"toolUse": {
                "toolUseId": format!("tooluse_mock{}", ex.id), "name": name, "input": arguments,
            }}]),
        };
        ex.json(json_bytes(&json!({
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop_reason(reply.finish),
            "usage": usage_json(&reply.usage),
            "metrics": {"latencyMs": latency_ms},
        })))
    };
    if let Ok(id) = HeaderValue::from_str(&format!("mock-{}", ex.id)) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-amzn-requestid"), id);
    }
    Ok(response)
}

fn read(request: &Value) -> Result<Ask, ApiError> {
    let Some(messages) = request.get("messages").and_then(Value::as_array) else {
        return Err(ApiError::bad_request(
            "1 validation error detected: Value null at 'messages' failed to satisfy constraint: Member must not be null",
        ));
    };
    let mut ask = Ask::default();
    ask.count(&blocks_text(request.get("system")));
    for message in messages {
        let content = message.get("content");
        let results: Vec<&Value> = content
            .and_then(Value::as_array)
            .map(|blocks| blocks.iter().filter_map(|b| b.get("toolResult")).collect())
            .unwrap_or_default();
        ask.after_tool_result = !results.is_empty();
        let text = if ask.after_tool_result {
            results
                .iter()
                .map(|r| blocks_text(r.get("content")))
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            blocks_text(content)
        };
        ask.count(&text);
        ask.last_text = text;
    }
    let tools = request
        .pointer("/toolConfig/tools")
        .and_then(Value::as_array);
    ask.tools = tools
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let spec = t.get("toolSpec")?;
            Some(Tool {
                name: spec.get("name")?.as_str()?.to_owned(),
                schema: spec
                    .pointer("/inputSchema/json")
                    .cloned()
                    .unwrap_or(Value::Null),
            })
        })
        .collect();
    let choice = request.pointer("/toolConfig/toolChoice");
    ask.choice = if choice.and_then(|c| c.get("any")).is_some() {
        ToolChoice::Required
    } else if let Some(name) = choice
        .and_then(|c| c.pointer("/tool/name"))
        .and_then(Value::as_str)
    {
        ToolChoice::Named(name.to_owned())
    } else {
        ToolChoice::Auto
    };
    ask.max_tokens = request
        .pointer("/inferenceConfig/maxTokens")
        .and_then(Value::as_u64);
    Ok(ask)
}

/// The text of content blocks: `{"text"}` blocks, and `{"json"}` blocks of tool results.
fn blocks_text(blocks: Option<&Value>) -> String {
    let blocks = blocks
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    blocks
        .iter()
        .filter_map(|b| {
            b.get("text")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| b.get("json").map(Value::to_string))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn stop_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
        Finish::ToolUse => "tool_use",
    }
}

/// Bedrock counts cache reads and writes apart from `inputTokens`, and lists them only when
/// prompt caching was used.
fn usage_json(usage: &Usage) -> Value {
    let input = usage.uncached_input();
    let mut out = Map::new();
    out.insert("inputTokens".into(), input.into());
    out.insert("outputTokens".into(), usage.output.into());
    out.insert("totalTokens".into(), (usage.input + usage.output).into());
    if usage.cached > 0 || usage.cache_write > 0 {
        out.insert("cacheReadInputTokens".into(), usage.cached.into());
        out.insert("cacheWriteInputTokens".into(), usage.cache_write.into());
    }
    Value::Object(out)
}

fn stream_plan(reply: &Reply, ex: &Exchange, latency_ms: u128) -> StreamPlan {
    let mut frames = Vec::with_capacity(reply.pieces.len() + 6);
    let mut push = |event: &str, mut payload: Value| {
        let padding = PADDING
            .get(..(frames.len() * 7) % PADDING.len() + 1)
            .unwrap_or("p");
        payload["p"] = Value::from(padding);
        frames.push(eventstream::event(event, &json_bytes(&payload)));
    };
    push("messageStart", json!({"role": "assistant"}));
    let delta_of: fn(&str) -> Value = match &reply.answer {
        // Bedrock opens only tool-use blocks with contentBlockStart; text starts with a delta.
        Answer::Text(_) => |piece| json!({"text": piece}),
        Answer::ToolCall { name, .. } => {
            push(
                "contentBlockStart",
                json!({"contentBlockIndex": 0, "start": {"toolUse": {
                    "toolUseId": format!("tooluse_mock{}", ex.id), "name": name,
                }}}),
            );
            |piece| json!({"toolUse": {"input": piece}})
        }
    };
    let lead = if matches!(reply.answer, Answer::Text(_)) {
        1
    } else {
        2
    };
    for piece in &reply.pieces {
        push(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": delta_of(piece)}),
        );
    }
    push("contentBlockStop", json!({"contentBlockIndex": 0}));
    push(
        "messageStop",
        json!({"stopReason": stop_reason(reply.finish)}),
    );
    push(
        "metadata",
        json!({"usage": usage_json(&reply.usage), "metrics": {"latencyMs": latency_ms}}),
    );
    let error_frame = ex.wants_error_frame().then(|| {
        let payload = json!({"message": "The system encountered an unexpected error during processing. Try your request again."});
        eventstream::exception("internalServerException", &json_bytes(&payload))
    });
    StreamPlan {
        frames,
        lead,
        content: reply.pieces.len(),
        error_frame,
        sse: false,
    }
}
