//! The hub as a Converse body: `system`, `messages` of content blocks, `inferenceConfig`
//! and `toolConfig`.
//!
//! Converse has no place for top-k (model-specific), a seed, penalties, JSON mode, a "none"
//! tool choice, a cap on parallel calls, an end-user id or images by URL: those are refused.

use bytes::Bytes;
use serde_json::{Map, Value, json};
use switchyard_crds::Provider;

use crate::RequestError;
use crate::hub::{
    ChatRequest, Image, Part, ResponseFormat, Role, ToolChoice, arguments_object, unsupported,
};

/// Writes the hub as a Converse body.
pub(crate) fn encode_request(
    request: &ChatRequest,
    provider: Provider,
) -> Result<Bytes, RequestError> {
    refuse_unsupported(request, provider)?;
    let mut body = Map::new();
    let mut messages = Vec::with_capacity(request.messages.len());
    for (index, message) in request.messages.iter().enumerate() {
        let field = format!("messages[{index}]");
        let content = message
            .content
            .iter()
            .map(|part| encode_part(part, &field, provider))
            .collect::<Result<Vec<_>, _>>()?;
        let role = match message.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        messages.push(json!({"role": role, "content": content}));
    }
    body.insert("messages".into(), Value::Array(messages));
    if !request.system.is_empty() {
        let system: Vec<Value> = request.system.iter().map(|t| json!({"text": t})).collect();
        body.insert("system".into(), Value::Array(system));
    }
    if let Some(config) = inference_config(request) {
        body.insert("inferenceConfig".into(), config);
    }
    if let Some(tools) = tool_config(request, provider)? {
        body.insert("toolConfig".into(), tools);
    }
    serde_json::to_vec(&body)
        .map(Bytes::from)
        .map_err(RequestError::InvalidJson)
}

/// `maxTokens`, `temperature`, `topP` and `stopSequences`, if any is set.
fn inference_config(request: &ChatRequest) -> Option<Value> {
    let mut config = Map::new();
    if let Some(max) = request.max_tokens {
        config.insert("maxTokens".into(), json!(max));
    }
    if let Some(temperature) = request.temperature {
        config.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = request.top_p {
        config.insert("topP".into(), json!(top_p));
    }
    if !request.stop.is_empty() {
        config.insert("stopSequences".into(), json!(request.stop));
    }
    (!config.is_empty()).then_some(Value::Object(config))
}

/// The tool specs and the tool choice.
fn tool_config(request: &ChatRequest, provider: Provider) -> Result<Option<Value>, RequestError> {
    if request.tools.is_empty() {
        return Ok(None);
    }
    let tools: Vec<Value> = request
        .tools
        .iter()
        .map(|tool| {
            let schema = json!({"json": tool.parameters});
            let mut spec = json!({"name": tool.name, "inputSchema": schema});
            if let Some(description) = &tool.description {
                spec["description"] = json!(description);
            }
            json!({"toolSpec": spec})
        })
        .collect();
    let mut config = json!({"tools": tools});
    config["toolChoice"] = match &request.tool_choice {
        None => return Ok(Some(config)),
        Some(ToolChoice::Auto) => json!({"auto": {}}),
        Some(ToolChoice::Required) => json!({"any": {}}),
        Some(ToolChoice::Named(name)) => json!({"tool": {"name": name}}),
        Some(ToolChoice::None) => return Err(unsupported(provider, "take a `none` tool choice")),
    };
    Ok(Some(config))
}

fn refuse_unsupported(request: &ChatRequest, provider: Provider) -> Result<(), RequestError> {
    let refused = [
        (request.top_k.is_some(), "take `top_k`"),
        (request.seed.is_some(), "take a `seed`"),
        (
            request.presence_penalty.is_some() || request.frequency_penalty.is_some(),
            "take presence or frequency penalties",
        ),
        (
            matches!(
                request.response_format,
                Some(ResponseFormat::JsonObject | ResponseFormat::JsonSchema { .. })
            ),
            "take a JSON `response_format`",
        ),
        (
            request.parallel_tool_calls == Some(false),
            "limit tool calls to one per turn",
        ),
        (request.user.is_some(), "take an end-user id (`user`)"),
        (
            request.tools.is_empty()
                && matches!(
                    request.tool_choice,
                    Some(ToolChoice::Required | ToolChoice::Named(_))
                ),
            "require a tool call without tools",
        ),
    ];
    match refused.iter().find(|(refuse, _)| *refuse) {
        Some((_, feature)) => Err(unsupported(provider, *feature)),
        None => Ok(()),
    }
}

/// `image/png` → `png`, for the formats Converse takes.
fn image_format(media_type: &str) -> Option<&'static str> {
    match media_type {
        "image/png" => Some("png"),
        "image/jpeg" | "image/jpg" => Some("jpeg"),
        "image/gif" => Some("gif"),
        "image/webp" => Some("webp"),
        _ => None,
    }
}

fn encode_image(image: &Image, provider: Provider) -> Result<Value, RequestError> {
    match image {
        Image::Base64 { media_type, data } => {
            let format = image_format(media_type)
                .ok_or_else(|| unsupported(provider, format!("take `{media_type}` images")))?;
            Ok(json!({"image": {"format": format, "source": {"bytes": data}}}))
        }
        Image::Url(_) => Err(unsupported(provider, "fetch images by URL")),
    }
}

fn encode_part(part: &Part, field: &str, provider: Provider) -> Result<Value, RequestError> {
    Ok(match part {
        Part::Text(text) => json!({"text": text}),
        Part::Image(image) => encode_image(image, provider)?,
        Part::ToolCall {
            id,
            name,
            arguments,
        } => json!({"toolUse": {
            "toolUseId": id, "name": name,
            "input": arguments_object(arguments, &format!("{field}.tool_calls"))?,
        }}),
        Part::ToolResult {
            id,
            content,
            is_error,
        } => {
            let content = content
                .iter()
                .map(|part| encode_part(part, field, provider))
                .collect::<Result<Vec<_>, _>>()?;
            let mut result = json!({"toolUseId": id, "content": content});
            if *is_error {
                result["status"] = json!("error");
            }
            json!({"toolResult": result})
        }
    })
}
