//! Chat completions, whole and streamed as `chat.completion.chunk` events, with tool calls
//! and Azure's content-filter annotations.

use bytes::Bytes;
use hyper::Response;
use serde_json::{Value, json};

use super::{Flavor, finish_reason, now, read_chat, stream_error_frame, usage_json};
use crate::body::{MockBody, StreamPlan};
use crate::reply::{Answer, Reply};
use crate::router::{ApiError, Exchange, parse_json};
use crate::sse::{self, json_bytes};

/// The fields every chunk and completion shares.
struct Head {
    id: String,
    created: u64,
    model: String,
    azure: bool,
}

pub(super) async fn answer(
    flavor: Flavor,
    ex: &Exchange,
    body: &[u8],
) -> Result<Response<MockBody>, ApiError> {
    let request = parse_json(body)?;
    let ask = read_chat(&request)?;
    let reply = Reply::compose(&ask, &ex.controls);
    let head = Head {
        id: format!("chatcmpl-mock{}", ex.id),
        created: now(),
        model: flavor.model(&request),
        azure: flavor.is_azure(),
    };
    if request.get("stream").and_then(Value::as_bool) == Some(true) {
        let include_usage = request
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            == Some(true);
        let plan = stream_plan(&head, &reply, include_usage, ex);
        return Ok(ex.stream("text/event-stream; charset=utf-8", plan));
    }
    ex.generate(&reply).await;
    Ok(ex.json(completion(&head, &reply, ex.id)))
}

fn completion(head: &Head, reply: &Reply, id: u64) -> Bytes {
    let message = match &reply.answer {
        Answer::Text(text) => json!({
            "role": "assistant", "content": text, "refusal": null, "annotations": [],
        }),
        Answer::ToolCall { name, arguments } => json!({
            "role": "assistant", "content": null, "refusal": null, "annotations": [],
            "tool_calls": [{
                "id": format!("call_mock{id}"), "type": "function",
                "function": {"name": name, "arguments": arguments.to_string()},
            }],
        }),
    };
    let mut choice = json!({
        "index": 0, "message": message, "logprobs": null,
        "finish_reason": finish_reason(reply.finish),
    });
    let mut completion = json!({
        "id": head.id, "object": "chat.completion", "created": head.created,
        "model": head.model, "choices": [],
        "usage": usage_json(&reply.usage),
        "service_tier": "default", "system_fingerprint": "fp_mock",
    });
    if head.azure {
        choice["content_filter_results"] = azure_filter_results();
        completion["prompt_filter_results"] = json!([
            {"prompt_index": 0, "content_filter_results": azure_filter_results()}
        ]);
    }
    completion["choices"] = json!([choice]);
    json_bytes(&completion)
}

impl Head {
    /// One `chat.completion.chunk` event; `usage: null` rides along when usage was asked for.
    fn chunk(&self, delta: Value, finish: Option<&str>, include_usage: bool) -> Bytes {
        let mut choice = json!({
            "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish,
        });
        if self.azure {
            choice["content_filter_results"] = if finish.is_some() {
                json!({})
            } else {
                azure_filter_results()
            };
        }
        let mut chunk = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "service_tier": "default", "system_fingerprint": "fp_mock",
            "choices": [choice],
        });
        if include_usage {
            chunk["usage"] = Value::Null;
        }
        sse::data(&chunk)
    }
}

/// Azure opens a stream with a chunk that only carries the prompt's filter results.
fn azure_opening() -> Bytes {
    sse::data(&json!({
        "choices": [], "created": 0, "id": "", "model": "", "object": "",
        "prompt_filter_results": [
            {"prompt_index": 0, "content_filter_results": azure_filter_results()}
        ],
    }))
}

fn stream_plan(head: &Head, reply: &Reply, include_usage: bool, ex: &Exchange) -> StreamPlan {
    let chunk = |delta: Value, finish: Option<&str>| head.chunk(delta, finish, include_usage);
    let mut frames = Vec::with_capacity(reply.pieces.len() + 5);
    if head.azure {
        frames.push(azure_opening());
    }
    match &reply.answer {
        Answer::Text(_) => {
            let role = json!({"role": "assistant", "content": "", "refusal": null});
            frames.push(chunk(role, None));
            for piece in &reply.pieces {
                frames.push(chunk(json!({"content": piece}), None));
            }
        }
        Answer::ToolCall { name, .. } => {
            frames.push(chunk(
                json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": [{
                    "index": 0, "id": format!("call_mock{}", ex.id), "type": "function",
                    "function": {"name": name, "arguments": ""},
                }]}),
                None,
            ));
            for piece in &reply.pieces {
                let delta = json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]});
                frames.push(chunk(delta, None));
            }
        }
    }
    let lead = usize::from(head.azure) + 1;
    frames.push(chunk(json!({}), Some(finish_reason(reply.finish))));
    if include_usage {
        frames.push(sse::data(&json!({
            "id": head.id, "object": "chat.completion.chunk", "created": head.created,
            "model": head.model, "service_tier": "default", "system_fingerprint": "fp_mock",
            "choices": [], "usage": usage_json(&reply.usage),
        })));
    }
    frames.push(sse::done());
    StreamPlan {
        frames,
        lead,
        content: reply.pieces.len(),
        error_frame: ex.wants_error_frame().then(stream_error_frame),
        sse: true,
    }
}

/// Azure's per-category verdicts, all "safe".
pub(super) fn azure_filter_results() -> Value {
    let safe = json!({"filtered": false, "severity": "safe"});
    json!({
        "hate": safe, "self_harm": safe, "sexual": safe, "violence": safe,
    })
}
