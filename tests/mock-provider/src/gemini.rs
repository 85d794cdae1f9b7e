//! Gemini `generateContent` and `streamGenerateContent` (SSE with `?alt=sse`, else a streamed
//! JSON array): the `x-goog-api-key` header or `key` query parameter, and Google's
//! `{"error":{code,message,status}}` format.
//!
//! Wire reference: <https://ai.google.dev/api/generate-content>.

use bytes::{BufMut, Bytes, BytesMut};
use hyper::header::HeaderValue;
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};
use serde_json::{Map, Value, json};

use crate::body::{MockBody, StreamPlan};
use crate::reply::{Answer, Ask, Finish, Reply, Tool, ToolChoice, Usage};
use crate::router::{ApiError, ErrorKind, Exchange, parse_json};
use crate::sse::{self, json_bytes, write_json};

/// A Gemini call on one model.
#[derive(Debug)]
pub(crate) struct Call {
    model: String,
    method: GeminiMethod,
}

#[derive(Debug, PartialEq, Eq)]
enum GeminiMethod {
    Generate,
    Stream,
    CountTokens,
}

/// Routes `POST /{v1beta,v1}/models/{model}:{method}`.
pub(crate) fn route(method: &Method, path: &str) -> Option<Call> {
    if method != Method::POST {
        return None;
    }
    let rest = path
        .strip_prefix("/v1beta/models/")
        .or_else(|| path.strip_prefix("/v1/models/"))?;
    let (model, verb) = rest.rsplit_once(':')?;
    let method = match verb {
        "generateContent" => GeminiMethod::Generate,
        "streamGenerateContent" => GeminiMethod::Stream,
        "countTokens" => GeminiMethod::CountTokens,
        _ => return None,
    };
    Some(Call {
        model: model.to_owned(),
        method,
    })
}

/// Checks `x-goog-api-key: KEY` or `?key=KEY`. Like Google, a missing key is a 403
/// `PERMISSION_DENIED` and a wrong one a 400 `INVALID_ARGUMENT`.
pub(crate) fn authenticate(parts: &Parts, key: Option<&str>) -> Result<(), ApiError> {
    let given = parts
        .headers
        .get("x-goog-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            parts
                .uri
                .query()?
                .split('&')
                .find_map(|pair| pair.strip_prefix("key="))
        })
        .filter(|v| !v.is_empty());
    match given {
        None => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorKind::MissingCredential,
            "Method doesn't allow unregistered callers (callers without established identity). \
             Please use API Key or other form of API consumer identity to call this API.",
        )),
        Some(given) if key.is_some_and(|k| k != given) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorKind::BadCredential,
            "API key not valid. Please pass a valid API key.",
        )),
        Some(_) => Ok(()),
    }
}

/// `{"error":{"code","message","status"}}`, with `details` where Google sends them.
pub(crate) fn error_response(error: &ApiError) -> Response<MockBody> {
    error.respond(json_bytes(&error_body(error)))
}

fn error_body(error: &ApiError) -> Value {
    let status = match error.status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    };
    let mut body =
        json!({"code": error.status.as_u16(), "message": error.message, "status": status});
    let mut details = Vec::new();
    if error.kind == ErrorKind::BadCredential {
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        }));
    }
    if let Some(seconds) = error.retry_after {
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{seconds}s"),
        }));
    }
    if !details.is_empty() {
        body["details"] = Value::Array(details);
    }
    json!({"error": body})
}

pub(crate) async fn answer(
    call: Call,
    ex: &Exchange,
    parts: &Parts,
    body: &[u8],
) -> Result<Response<MockBody>, ApiError> {
    let request = parse_json(body)?;
    let ask = read(&request)?;
    if call.method == GeminiMethod::CountTokens {
        return Ok(ex.json(json_bytes(&json!({"totalTokens": ask.input_words.max(1)}))));
    }
    let reply = Reply::compose(&ask, &ex.controls);
    let id = format!("mock{}", ex.id);
    let chunks = chunks(
        &call.model,
        &id,
        &reply,
        call.method == GeminiMethod::Stream,
    );
    if call.method == GeminiMethod::Generate {
        ex.generate(&reply).await;
        return Ok(ex.json(json_bytes(&chunks.first())));
    }
    let sse = parts
        .uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "alt=sse"));
    Ok(stream(ex, chunks, sse))
}

/// The whole answer as one response, or as stream chunks: one per text piece with
/// cumulative usage, or one for a function call (Gemini sends a call whole).
fn chunks(model: &str, id: &str, reply: &Reply, streamed: bool) -> Vec<Value> {
    let last = |parts: Value| {
        chunk(
            model,
            id,
            parts,
            Some(reply.finish),
            &reply.usage,
            reply.usage.output,
        )
    };
    match &reply.answer {
        Answer::ToolCall { name, arguments } => {
            vec![last(
                json!([{"functionCall": {"name": name, "args": arguments}}]),
            )]
        }
        Answer::Text(text) if !streamed || reply.pieces.is_empty() => {
            vec![last(json!([{"text": text}]))]
        }
        Answer::Text(_) => {
            let mut words = 0;
            let mut chunks = Vec::with_capacity(reply.pieces.len());
            for (index, piece) in reply.pieces.iter().enumerate() {
                if index + 1 == reply.pieces.len() {
                    chunks.push(last(json!([{"text": piece}])));
                } else {
                    words += piece.split_whitespace().count() as u64;
                    let parts = json!([{"text": piece}]);
                    chunks.push(chunk(model, id, parts, None, &reply.usage, words));
                }
            }
            chunks
        }
    }
}

fn stream(ex: &Exchange, chunks: Vec<Value>, sse: bool) -> Response<MockBody> {
    let content = chunks.len();
    let error = json!({"error": {"code": 500, "message": "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting", "status": "INTERNAL"}});
    let (frames, error_frame, content_type) = if sse {
        let frames = chunks.iter().map(sse::data_crlf).collect();
        (frames, sse::data_crlf(&error), "text/event-stream")
    } else {
        // A JSON array written one element at a time, separated as Google separates them.
        let mut frames: Vec<Bytes> = chunks
            .iter()
            .enumerate()
            .map(|(index, chunk)| {
                let mut out = BytesMut::new();
                out.put_slice(if index == 0 { b"[" } else { b"\n,\r\n" });
                write_json(&mut out, chunk);
                out.freeze()
            })
            .collect();
        frames.push(Bytes::from_static(b"\n]"));
        let mut error_frame = BytesMut::from(&b"\n,\r\n"[..]);
        write_json(&mut error_frame, &error);
        error_frame.put_slice(b"\n]");
        (
            frames,
            error_frame.freeze(),
            "application/json; charset=UTF-8",
        )
    };
    let plan = StreamPlan {
        frames,
        lead: 0,
        content,
        error_frame: ex.wants_error_frame().then_some(error_frame),
        sse,
    };
    let mut response = ex.stream(content_type, plan);
    response.headers_mut().insert(
        "x-gemini-service-tier",
        HeaderValue::from_static("standard"),
    );
    response
}

/// One `GenerateContentResponse`; `output` is the candidate tokens so far (usage is
/// cumulative on every chunk).
fn chunk(
    model: &str,
    id: &str,
    parts: Value,
    finish: Option<Finish>,
    usage: &Usage,
    output: u64,
) -> Value {
    let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
    if let Some(finish) = finish {
        candidate["finishReason"] = Value::from(match finish {
            Finish::Stop | Finish::ToolUse => "STOP",
            Finish::Length => "MAX_TOKENS",
        });
    }
    let mut meta = Map::new();
    meta.insert("promptTokenCount".into(), usage.input.into());
    meta.insert("candidatesTokenCount".into(), output.into());
    meta.insert(
        "totalTokenCount".into(),
        (usage.input + output + usage.reasoning).into(),
    );
    // Google omits zero counts.
    if usage.cached > 0 {
        meta.insert("cachedContentTokenCount".into(), usage.cached.into());
    }
    meta.insert(
        "promptTokensDetails".into(),
        json!([{"modality": "TEXT", "tokenCount": usage.input}]),
    );
    if usage.reasoning > 0 {
        meta.insert("thoughtsTokenCount".into(), usage.reasoning.into());
    }
    json!({"candidates": [candidate], "usageMetadata": meta, "modelVersion": model, "responseId": id})
}

/// Reads `systemInstruction`, `contents`, `tools`, `toolConfig` and `generationConfig`.
fn read(request: &Value) -> Result<Ask, ApiError> {
    let Some(contents) = request.get("contents").and_then(Value::as_array) else {
        return Err(ApiError::bad_request(
            "* GenerateContentRequest.contents: contents is not specified",
        ));
    };
    let mut ask = Ask::default();
    ask.count(&parts_text(request.pointer("/systemInstruction/parts")));
    for content in contents {
        let parts = content.get("parts");
        let results: Vec<String> = parts
            .and_then(Value::as_array)
            .map(|p| {
                p.iter()
                    .filter_map(|p| p.get("functionResponse"))
                    .map(|r| r.get("response").map(Value::to_string).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        ask.after_tool_result = !results.is_empty();
        let text = if ask.after_tool_result {
            results.join(" ")
        } else {
            parts_text(parts)
        };
        ask.count(&text);
        ask.last_text = text;
    }
    for tool in request
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let declarations = tool.get("functionDeclarations").and_then(Value::as_array);
        ask.tools
            .extend(declarations.into_iter().flatten().filter_map(|d| {
                Some(Tool {
                    name: d.get("name")?.as_str()?.to_owned(),
                    schema: d
                        .get("parameters")
                        .or_else(|| d.get("parametersJsonSchema"))
                        .cloned()
                        .unwrap_or(Value::Null),
                })
            }));
    }
    let config = request.pointer("/toolConfig/functionCallingConfig");
    let allowed = config
        .and_then(|c| c.get("allowedFunctionNames"))
        .and_then(Value::as_array);
    ask.choice = match config.and_then(|c| c.get("mode")).and_then(Value::as_str) {
        Some("NONE") => ToolChoice::None,
        Some("ANY") => match allowed.map(|a| a.as_slice()) {
            Some([Value::String(only)]) => ToolChoice::Named(only.clone()),
            _ => ToolChoice::Required,
        },
        _ => ToolChoice::Auto,
    };
    ask.max_tokens = request
        .pointer("/generationConfig/maxOutputTokens")
        .and_then(Value::as_u64);
    Ok(ask)
}

fn parts_text(parts: Option<&Value>) -> String {
    parts
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}
