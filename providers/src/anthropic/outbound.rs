//! The hub as a Messages body, for a chat client calling Anthropic. A request without an
//! output limit gets [`DEFAULT_MAX_TOKENS`], since Anthropic requires one.

use bytes::Bytes;
use serde_json::{Map, Value, json};
use switchyard_crds::Provider;

use crate::RequestError;
use crate::hub::{
    ChatRequest, Image, Part, ResponseFormat, Role, Tool, ToolChoice, arguments_object, unsupported,
};

/// Output tokens asked for when a chat client set no limit: Anthropic requires one.
pub(crate) const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Writes the hub as a Messages body for Anthropic.
pub(crate) fn encode_request(
    request: &ChatRequest,
    provider: Provider,
) -> Result<Bytes, RequestError> {
    refuse_unsupported(request, provider)?;
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    let max_tokens = request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    body.insert("max_tokens".into(), json!(max_tokens));
    if !request.system.is_empty() {
        let system: Vec<Value> = request
            .system
            .iter()
            .map(|t| json!({"type": "text", "text": t}))
            .collect();
        body.insert("system".into(), Value::Array(system));
    }
    body.insert("messages".into(), encode_messages(request)?);
    if !request.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(request.stop));
    }
    if let Some(temperature) = request.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = request.top_p {
        body.insert("top_p".into(), json!(top_p));
    }
    if let Some(top_k) = request.top_k {
        body.insert("top_k".into(), json!(top_k));
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request.tools.iter().map(encode_tool).collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = encode_tool_choice(request) {
        body.insert("tool_choice".into(), choice);
    }
    if let Some(user) = &request.user {
        body.insert("metadata".into(), json!({"user_id": user}));
    }
    if request.stream {
        body.insert("stream".into(), json!(true));
    }
    serde_json::to_vec(&body)
        .map(Bytes::from)
        .map_err(RequestError::InvalidJson)
}

fn refuse_unsupported(request: &ChatRequest, provider: Provider) -> Result<(), RequestError> {
    if request.seed.is_some() {
        return Err(unsupported(provider, "take a `seed`"));
    }
    if request.presence_penalty.is_some() || request.frequency_penalty.is_some() {
        return Err(unsupported(
            provider,
            "take presence or frequency penalties",
        ));
    }
    if matches!(
        request.response_format,
        Some(ResponseFormat::JsonObject | ResponseFormat::JsonSchema { .. })
    ) {
        return Err(unsupported(provider, "take a JSON `response_format`"));
    }
    Ok(())
}

fn encode_messages(request: &ChatRequest) -> Result<Value, RequestError> {
    let mut messages = Vec::with_capacity(request.messages.len());
    for (index, message) in request.messages.iter().enumerate() {
        let role = match message.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        let content = message
            .content
            .iter()
            .map(|part| encode_part(part, &format!("messages[{index}]")))
            .collect::<Result<Vec<_>, _>>()?;
        messages.push(json!({"role": role, "content": content}));
    }
    Ok(Value::Array(messages))
}

/// The tool choice, with `disable_parallel_tool_use` when parallel calls are off. Without
/// tools, `auto` and `none` say nothing, and Anthropic refuses a choice then.
fn encode_tool_choice(request: &ChatRequest) -> Option<Value> {
    let parallel_off = request.parallel_tool_calls == Some(false);
    let idle = request.tools.is_empty()
        && matches!(
            request.tool_choice,
            None | Some(ToolChoice::Auto | ToolChoice::None)
        );
    if idle || (request.tool_choice.is_none() && !parallel_off) {
        return None;
    }
    let mut choice = match request.tool_choice.as_ref().unwrap_or(&ToolChoice::Auto) {
        ToolChoice::Auto => json!({"type": "auto"}),
        ToolChoice::None => json!({"type": "none"}),
        ToolChoice::Required => json!({"type": "any"}),
        ToolChoice::Named(name) => json!({"type": "tool", "name": name}),
    };
    if parallel_off {
        choice["disable_parallel_tool_use"] = json!(true);
    }
    Some(choice)
}

fn encode_tool(tool: &Tool) -> Value {
    let mut encoded = json!({"name": tool.name, "input_schema": tool.parameters});
    if let Some(description) = &tool.description {
        encoded["description"] = json!(description);
    }
    encoded
}

fn encode_image(image: &Image) -> Value {
    match image {
        Image::Base64 { media_type, data } => json!({
            "type": "image", "source": {"type": "base64", "media_type": media_type, "data": data},
        }),
        Image::Url(url) => json!({"type": "image", "source": {"type": "url", "url": url}}),
    }
}

fn encode_part(part: &Part, field: &str) -> Result<Value, RequestError> {
    Ok(match part {
        Part::Text(text) => json!({"type": "text", "text": text}),
        Part::Image(image) => encode_image(image),
        Part::ToolCall {
            id,
            name,
            arguments,
        } => json!({
            "type": "tool_use", "id": id, "name": name,
            "input": arguments_object(arguments, &format!("{field}.tool_calls"))?,
        }),
        Part::ToolResult {
            id,
            content,
            is_error,
        } => {
            let content = content
                .iter()
                .map(|p| encode_part(p, field))
                .collect::<Result<Vec<_>, _>>()?;
            let mut result = json!({"type": "tool_result", "tool_use_id": id, "content": content});
            if *is_error {
                result["is_error"] = json!(true);
            }
            result
        }
    })
}
