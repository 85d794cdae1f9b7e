//! The Responses API: a whole `response` object, or its typed event stream from
//! `response.created` to `response.completed`, with text or function-call output.

use bytes::Bytes;
use hyper::Response;
use serde_json::{Value, json};

use super::{Flavor, content_text, now};
use crate::body::{MockBody, StreamPlan};
use crate::reply::{Answer, Ask, Finish, Reply, Tool, ToolChoice, Usage};
use crate::router::{ApiError, Exchange, parse_json};
use crate::sse::{self, json_bytes};

pub(super) async fn answer(
    flavor: Flavor,
    ex: &Exchange,
    body: &[u8],
) -> Result<Response<MockBody>, ApiError> {
    let request = parse_json(body)?;
    let ask = read(&request)?;
    let reply = Reply::compose(&ask, &ex.controls);
    let shape = Shape {
        id: format!("resp_mock{}", ex.id),
        item_id: match reply.answer {
            Answer::Text(_) => format!("msg_mock{}", ex.id),
            Answer::ToolCall { .. } => format!("fc_mock{}", ex.id),
        },
        call_id: format!("call_mock{}", ex.id),
        created_at: now(),
        model: flavor.model(&request),
        request,
    };
    if shape.request.get("stream").and_then(Value::as_bool) == Some(true) {
        let plan = stream_plan(&shape, &reply, ex.wants_error_frame());
        return Ok(ex.stream("text/event-stream; charset=utf-8", plan));
    }
    ex.generate(&reply).await;
    Ok(ex.json(json_bytes(&shape.response(&reply, true))))
}

fn read(request: &Value) -> Result<Ask, ApiError> {
    let mut ask = Ask::default();
    if let Some(instructions) = request.get("instructions").and_then(Value::as_str) {
        ask.count(instructions);
    }
    match request.get("input") {
        Some(Value::String(text)) => {
            ask.count(text);
            ask.last_text = text.clone();
        }
        Some(Value::Array(items)) => {
            for item in items {
                let (text, tool_result) = match item.get("type").and_then(Value::as_str) {
                    Some("function_call_output") => (content_text(item.get("output")), true),
                    Some("function_call") => continue,
                    _ => (content_text(item.get("content")), false),
                };
                ask.count(&text);
                ask.last_text = text;
                ask.after_tool_result = tool_result;
            }
        }
        _ => {
            return Err(
                ApiError::bad_request("Missing required parameter: 'input'.").with_param("input"),
            );
        }
    }
    if let Some(tools) = request.get("tools").and_then(Value::as_array) {
        ask.tools = tools
            .iter()
            .filter(|t| t.get("type").and_then(Value::as_str) == Some("function"))
            .filter_map(|t| {
                Some(Tool {
                    name: t.get("name")?.as_str()?.to_owned(),
                    schema: t.get("parameters").cloned().unwrap_or(Value::Null),
                })
            })
            .collect();
    }
    ask.choice = match request.get("tool_choice") {
        Some(Value::String(c)) if c == "none" => ToolChoice::None,
        Some(Value::String(c)) if c == "required" => ToolChoice::Required,
        Some(Value::Object(c)) => c
            .get("name")
            .and_then(Value::as_str)
            .map_or(ToolChoice::Required, |n| ToolChoice::Named(n.to_owned())),
        _ => ToolChoice::Auto,
    };
    ask.max_tokens = request.get("max_output_tokens").and_then(Value::as_u64);
    Ok(ask)
}

/// The ids and echoed fields of one response.
struct Shape {
    id: String,
    item_id: String,
    call_id: String,
    created_at: u64,
    model: String,
    request: Value,
}

impl Shape {
    /// The `response` object; `done` selects the final state over the opening one.
    fn response(&self, reply: &Reply, done: bool) -> Value {
        let incomplete = done && reply.finish == Finish::Length;
        let status = match (done, incomplete) {
            (false, _) => "in_progress",
            (true, true) => "incomplete",
            (true, false) => "completed",
        };
        let field = |name: &str, default: Value| self.request.get(name).cloned().unwrap_or(default);
        json!({
            "id": self.id, "object": "response", "created_at": self.created_at,
            "status": status, "error": null,
            "incomplete_details": if incomplete { json!({"reason": "max_output_tokens"}) } else { Value::Null },
            "instructions": field("instructions", Value::Null),
            "max_output_tokens": field("max_output_tokens", Value::Null),
            "model": self.model,
            "output": if done { json!([self.item(reply, true)]) } else { json!([]) },
            "parallel_tool_calls": field("parallel_tool_calls", Value::Bool(true)),
            "previous_response_id": field("previous_response_id", Value::Null),
            "reasoning": {"effort": null, "summary": null},
            "store": field("store", Value::Bool(true)),
            "temperature": field("temperature", json!(1.0)),
            "text": {"format": {"type": "text"}},
            "tool_choice": field("tool_choice", json!("auto")),
            "tools": field("tools", json!([])),
            "top_p": field("top_p", json!(1.0)),
            "truncation": "disabled",
            "usage": if done { usage_json(&reply.usage) } else { Value::Null },
            "user": null, "metadata": field("metadata", json!({})),
        })
    }

    fn item(&self, reply: &Reply, done: bool) -> Value {
        let status = if done { "completed" } else { "in_progress" };
        match &reply.answer {
            Answer::Text(text) => json!({
                "id": self.item_id, "type": "message", "status": status, "role": "assistant",
                "content": if done { json!([output_text(text)]) } else { json!([]) },
            }),
            Answer::ToolCall { name, arguments } => json!({
                "id": self.item_id, "type": "function_call", "status": status,
                "call_id": self.call_id, "name": name,
                "arguments": if done { arguments.to_string() } else { String::new() },
            }),
        }
    }
}

fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

fn usage_json(usage: &Usage) -> Value {
    let output = usage.output + usage.reasoning;
    json!({
        "input_tokens": usage.input,
        "input_tokens_details": {"cached_tokens": usage.cached},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning},
        "total_tokens": usage.input + output,
    })
}

/// Numbers events in order, as `sequence_number` does.
struct Events {
    frames: Vec<Bytes>,
}

impl Events {
    fn push(&mut self, kind: &str, mut data: Value) {
        data["type"] = Value::from(kind);
        data["sequence_number"] = Value::from(self.frames.len());
        self.frames.push(sse::event(kind, &data));
    }
}

fn stream_plan(shape: &Shape, reply: &Reply, with_error: bool) -> StreamPlan {
    let mut events = Events {
        frames: Vec::with_capacity(reply.pieces.len() + 10),
    };
    let (item, index) = (&shape.item_id, 0);
    events.push(
        "response.created",
        json!({"response": shape.response(reply, false)}),
    );
    events.push(
        "response.in_progress",
        json!({"response": shape.response(reply, false)}),
    );
    events.push(
        "response.output_item.added",
        json!({"output_index": index, "item": shape.item(reply, false)}),
    );
    match &reply.answer {
        Answer::Text(text) => text_events(&mut events, item, reply, text),
        Answer::ToolCall { name, arguments } => {
            call_events(&mut events, item, reply, name, arguments);
        }
    }
    events.push(
        "response.output_item.done",
        json!({"output_index": index, "item": shape.item(reply, true)}),
    );
    let last = if reply.finish == Finish::Length {
        "response.incomplete"
    } else {
        "response.completed"
    };
    events.push(last, json!({"response": shape.response(reply, true)}));
    let lead = if matches!(reply.answer, Answer::Text(_)) {
        4
    } else {
        3
    };
    let error_frame = with_error.then(|| {
        sse::event("error", &json!({
            "type": "error", "code": "server_error", "param": null,
            "message": "The server had an error while processing your request. Sorry about that!",
            "sequence_number": lead + reply.pieces.len() / 2,
        }))
    });
    StreamPlan {
        frames: events.frames,
        lead,
        content: reply.pieces.len(),
        error_frame,
        sse: true,
    }
}

/// The content-part and text events of a message item.
fn text_events(events: &mut Events, item: &str, reply: &Reply, text: &str) {
    let at = json!({"item_id": item, "output_index": 0, "content_index": 0});
    let with = |extra: Value| merge(&at, extra);
    events.push(
        "response.content_part.added",
        with(json!({"part": output_text("")})),
    );
    for piece in &reply.pieces {
        events.push(
            "response.output_text.delta",
            with(json!({"delta": piece, "logprobs": []})),
        );
    }
    events.push(
        "response.output_text.done",
        with(json!({"text": text, "logprobs": []})),
    );
    events.push(
        "response.content_part.done",
        with(json!({"part": output_text(text)})),
    );
}

/// The argument events of a function-call item.
fn call_events(events: &mut Events, item: &str, reply: &Reply, name: &str, arguments: &Value) {
    let at = json!({"item_id": item, "output_index": 0});
    for piece in &reply.pieces {
        events.push(
            "response.function_call_arguments.delta",
            merge(&at, json!({"delta": piece})),
        );
    }
    let done = json!({"name": name, "arguments": arguments.to_string()});
    events.push("response.function_call_arguments.done", merge(&at, done));
}

fn merge(base: &Value, extra: Value) -> Value {
    let mut merged = base.clone();
    if let (Some(merged), Value::Object(extra)) = (merged.as_object_mut(), extra) {
        merged.extend(extra);
    }
    merged
}
