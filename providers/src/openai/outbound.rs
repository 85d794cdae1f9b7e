//! The hub as a chat-completions body, for a Messages client calling an OpenAI-family
//! backend: tool results become `tool` messages, tool calls ride on assistant messages.

use bytes::Bytes;
use serde_json::{Map, Value, json};
use switchyard_crds::Provider;

use crate::RequestError;
use crate::hub::{ChatRequest, Message, Part, ResponseFormat, Role, Tool, ToolChoice, unsupported};

/// Writes the hub as a chat-completions body for an OpenAI-family backend.
pub(crate) fn encode_chat_request(
    request: &ChatRequest,
    provider: Provider,
) -> Result<Bytes, RequestError> {
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    let mut messages: Vec<Value> = request
        .system
        .iter()
        .map(|text| json!({"role": "system", "content": text}))
        .collect();
    for message in &request.messages {
        encode_message(message, &mut messages, provider)?;
    }
    body.insert("messages".into(), Value::Array(messages));
    let openai = provider != Provider::OpenAiCompatible;
    if let Some(max) = request.max_tokens {
        // OpenAI's reasoning models take only `max_completion_tokens`; other servers know
        // `max_tokens` best.
        let name = if openai {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body.insert(name.into(), json!(max));
    }
    if request.top_k.is_some() && openai {
        return Err(unsupported(provider, "take `top_k`"));
    }
    let numbers = [
        ("temperature", request.temperature),
        ("top_p", request.top_p),
        ("presence_penalty", request.presence_penalty),
        ("frequency_penalty", request.frequency_penalty),
    ];
    for (name, value) in numbers {
        if let Some(value) = value {
            body.insert(name.into(), json!(value));
        }
    }
    if let Some(top_k) = request.top_k {
        body.insert("top_k".into(), json!(top_k));
    }
    if let Some(seed) = request.seed {
        body.insert("seed".into(), json!(seed));
    }
    if !request.stop.is_empty() {
        body.insert("stop".into(), json!(request.stop));
    }
    if let Some(user) = &request.user {
        body.insert("user".into(), json!(user));
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request.tools.iter().map(encode_tool).collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = &request.tool_choice {
        body.insert("tool_choice".into(), encode_tool_choice(choice));
    }
    if let Some(parallel) = request.parallel_tool_calls {
        body.insert("parallel_tool_calls".into(), json!(parallel));
    }
    if let Some(format) = &request.response_format {
        body.insert("response_format".into(), encode_format(format));
    }
    if request.stream {
        body.insert("stream".into(), json!(true));
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    serde_json::to_vec(&body)
        .map(Bytes::from)
        .map_err(RequestError::InvalidJson)
}

/// One hub message as chat messages: tool results become `tool` messages (before any other
/// content of the same turn), tool calls ride on the assistant message.
fn encode_message(
    message: &Message,
    out: &mut Vec<Value>,
    provider: Provider,
) -> Result<(), RequestError> {
    let mut content = Vec::new();
    let mut calls = Vec::new();
    for part in &message.content {
        match part {
            Part::Text(text) => content.push(json!({"type": "text", "text": text})),
            Part::Image(image) => {
                content.push(json!({"type": "image_url", "image_url": {"url": image.to_url()}}))
            }
            Part::ToolCall {
                id,
                name,
                arguments,
            } => calls.push(json!({
                "id": id, "type": "function", "function": {"name": name, "arguments": arguments},
            })),
            Part::ToolResult {
                id,
                content,
                is_error,
            } => {
                if content.iter().any(|p| !matches!(p, Part::Text(_))) {
                    return Err(unsupported(provider, "take images in tool results"));
                }
                let mut text = joined_text(content);
                if *is_error {
                    text = format!("Error: {text}");
                }
                out.push(json!({"role": "tool", "tool_call_id": id, "content": text}));
            }
        }
    }
    let role = match message.role {
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    // A single text part reads best as a plain string.
    let content = match content.as_slice() {
        [] if calls.is_empty() => return Ok(()),
        [] => Value::Null,
        [only] if only.get("type") == Some(&json!("text")) => only["text"].clone(),
        _ => Value::Array(content),
    };
    let mut encoded = json!({"role": role, "content": content});
    if !calls.is_empty() {
        encoded["tool_calls"] = Value::Array(calls);
    }
    out.push(encoded);
    Ok(())
}

/// The text parts of a tool result, joined.
pub(crate) fn joined_text(parts: &[Part]) -> String {
    parts
        .iter()
        .filter_map(|p| match p {
            Part::Text(text) => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn encode_tool(tool: &Tool) -> Value {
    let mut function = json!({"name": tool.name, "parameters": tool.parameters});
    if let Some(description) = &tool.description {
        function["description"] = json!(description);
    }
    if let Some(strict) = tool.strict {
        function["strict"] = json!(strict);
    }
    json!({"type": "function", "function": function})
}

fn encode_tool_choice(choice: &ToolChoice) -> Value {
    match choice {
        ToolChoice::Auto => json!("auto"),
        ToolChoice::None => json!("none"),
        ToolChoice::Required => json!("required"),
        ToolChoice::Named(name) => json!({"type": "function", "function": {"name": name}}),
    }
}

fn encode_format(format: &ResponseFormat) -> Value {
    match format {
        ResponseFormat::Text => json!({"type": "text"}),
        ResponseFormat::JsonObject => json!({"type": "json_object"}),
        ResponseFormat::JsonSchema {
            name,
            schema,
            strict,
        } => {
            let mut spec = json!({"name": name, "schema": schema});
            if let Some(strict) = strict {
                spec["strict"] = json!(strict);
            }
            json!({"type": "json_schema", "json_schema": spec})
        }
    }
}
