//! Messages requests into the hub, for a Messages client calling another provider.
//!
//! `cache_control` marks are accepted and not forwarded to other providers: they only tune
//! Anthropic's prompt cache and never change an answer (the others cache on their own).

use serde_json::{Map, Value, json};
use switchyard_crds::Provider;

use crate::RequestError;
use crate::fields::Fields;
use crate::hub::{ChatRequest, Image, Part, Role, Tool, ToolChoice, invalid, unsupported};

/// The Messages fields the hub has a place for.
const KNOWN: &[&str] = &[
    "model",
    "messages",
    "system",
    "max_tokens",
    "stop_sequences",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "metadata",
];

/// Reads a Messages body into the hub, refusing what `provider` would have to drop.
pub(crate) fn decode_request(
    fields: &Fields,
    provider: Provider,
) -> Result<ChatRequest, RequestError> {
    fields.refuse_unknown(KNOWN, provider)?;
    let mut request = ChatRequest {
        max_tokens: fields.decode("max_tokens")?,
        temperature: fields.decode("temperature")?,
        top_p: fields.decode("top_p")?,
        top_k: fields.decode("top_k")?,
        stop: fields.decode("stop_sequences")?.unwrap_or_default(),
        ..ChatRequest::default()
    };
    if let Some(metadata) = fields.decode::<Map<String, Value>>("metadata")? {
        for (key, value) in metadata {
            match (key.as_str(), value) {
                ("user_id", Value::String(user)) => request.user = Some(user),
                ("user_id", Value::Null) => {}
                _ => return Err(unsupported(provider, format!("accept `metadata.{key}`"))),
            }
        }
    }
    match fields.decode::<Value>("system")? {
        None => {}
        Some(Value::String(text)) => request.system.push(text),
        Some(Value::Array(blocks)) => {
            for block in &blocks {
                check_keys(block, &["type", "text", "cache_control"], provider)?;
                match text_block(block) {
                    Some(text) => request.system.push(text.to_owned()),
                    None => return Err(invalid("system", "may only hold text blocks")),
                }
            }
        }
        Some(_) => {
            return Err(invalid(
                "system",
                "must be a string or an array of text blocks",
            ));
        }
    }
    for (index, tool) in fields
        .decode::<Vec<Value>>("tools")?
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        request.tools.push(tool_definition(tool, index, provider)?);
    }
    if let Some(choice) = fields.decode::<Value>("tool_choice")? {
        let (choice, parallel) = tool_choice(&choice)?;
        request.tool_choice = Some(choice);
        request.parallel_tool_calls = parallel;
    }
    let messages: Vec<Value> = fields
        .decode("messages")?
        .ok_or_else(|| invalid("messages", "is required"))?;
    for (index, message) in messages.iter().enumerate() {
        let field = format!("messages[{index}]");
        check_keys(message, &["role", "content"], provider)?;
        let role = match message.get("role").and_then(Value::as_str) {
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            _ => return Err(invalid(&field, "role must be user or assistant")),
        };
        let parts = blocks(
            message.get("content").unwrap_or(&Value::Null),
            &field,
            provider,
        )?;
        request.push(role, parts);
    }
    Ok(request)
}

/// Refuses keys other than `allowed` (null values aside).
fn check_keys(object: &Value, allowed: &[&str], provider: Provider) -> Result<(), RequestError> {
    let Some(object) = object.as_object() else {
        return Ok(());
    };
    match object
        .iter()
        .find(|(k, v)| !v.is_null() && !allowed.contains(&k.as_str()))
    {
        Some((key, _)) => Err(unsupported(provider, format!("accept `{key}` in messages"))),
        None => Ok(()),
    }
}

fn text_block(block: &Value) -> Option<&str> {
    match block.get("type").and_then(Value::as_str) {
        Some("text") => block.get("text").and_then(Value::as_str),
        _ => None,
    }
}

fn tool_definition(tool: &Value, index: usize, provider: Provider) -> Result<Tool, RequestError> {
    match tool.get("type").and_then(Value::as_str) {
        None | Some("custom") => {}
        Some(other) => return Err(unsupported(provider, format!("use the `{other}` tool"))),
    }
    check_keys(
        tool,
        &[
            "type",
            "name",
            "description",
            "input_schema",
            "cache_control",
        ],
        provider,
    )?;
    let name = tool
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("tools[{index}]"), "needs a `name`"))?;
    Ok(Tool {
        name: name.to_owned(),
        description: tool
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        parameters: tool
            .get("input_schema")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        strict: None,
    })
}

fn tool_choice(choice: &Value) -> Result<(ToolChoice, Option<bool>), RequestError> {
    let parallel = match choice
        .get("disable_parallel_tool_use")
        .and_then(Value::as_bool)
    {
        Some(true) => Some(false),
        _ => None,
    };
    let choice = match choice.get("type").and_then(Value::as_str) {
        Some("auto") => ToolChoice::Auto,
        Some("any") => ToolChoice::Required,
        Some("none") => ToolChoice::None,
        Some("tool") => ToolChoice::Named(
            choice
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("tool_choice", "needs a `name`"))?
                .to_owned(),
        ),
        _ => {
            return Err(invalid(
                "tool_choice.type",
                "must be auto, any, tool or none",
            ));
        }
    };
    Ok((choice, parallel))
}

/// A string or content blocks as hub parts.
fn blocks(content: &Value, field: &str, provider: Provider) -> Result<Vec<Part>, RequestError> {
    let blocks = match content {
        Value::String(text) if text.is_empty() => return Ok(Vec::new()),
        Value::String(text) => return Ok(vec![Part::Text(text.clone())]),
        Value::Array(blocks) => blocks,
        _ => {
            return Err(invalid(
                field,
                "content must be a string or an array of blocks",
            ));
        }
    };
    blocks
        .iter()
        .map(|block| part(block, field, provider))
        .collect()
}

fn part(block: &Value, field: &str, provider: Provider) -> Result<Part, RequestError> {
    let text = |name: &str| block.get(name).and_then(Value::as_str);
    match text("type") {
        Some("text") => {
            check_keys(block, &["type", "text", "cache_control"], provider)?;
            Ok(Part::Text(text("text").unwrap_or_default().to_owned()))
        }
        Some("image") => {
            check_keys(block, &["type", "source", "cache_control"], provider)?;
            image(block.get("source").unwrap_or(&Value::Null), provider)
        }
        Some("tool_use") => {
            let keys = ["type", "id", "name", "input", "cache_control"];
            check_keys(block, &keys, provider)?;
            let required = |name: &str| {
                text(name)
                    .map(str::to_owned)
                    .ok_or_else(|| invalid(field, format!("tool_use needs `{name}`")))
            };
            Ok(Part::ToolCall {
                id: required("id")?,
                name: required("name")?,
                arguments: block
                    .get("input")
                    .map_or_else(|| "{}".to_owned(), Value::to_string),
            })
        }
        Some("tool_result") => tool_result(block, field, provider),
        Some(other) => Err(unsupported(
            provider,
            format!("take `{other}` content blocks"),
        )),
        None => Err(invalid(field, "every content block needs a `type`")),
    }
}

fn image(source: &Value, provider: Provider) -> Result<Part, RequestError> {
    let get = |name: &str| source.get(name).and_then(Value::as_str).map(str::to_owned);
    match get("type").as_deref() {
        Some("base64") => Ok(Part::Image(Image::Base64 {
            media_type: get("media_type").unwrap_or_default(),
            data: get("data").unwrap_or_default(),
        })),
        Some("url") => Ok(Part::Image(Image::Url(get("url").unwrap_or_default()))),
        _ => Err(unsupported(
            provider,
            "take images other than base64 or URL sources",
        )),
    }
}

fn tool_result(block: &Value, field: &str, provider: Provider) -> Result<Part, RequestError> {
    let keys = [
        "type",
        "tool_use_id",
        "content",
        "is_error",
        "cache_control",
    ];
    check_keys(block, &keys, provider)?;
    let content = match block.get("content") {
        None | Some(Value::Null) => Vec::new(),
        Some(content) => blocks(content, field, provider)?,
    };
    if content
        .iter()
        .any(|p| !matches!(p, Part::Text(_) | Part::Image(_)))
    {
        return Err(invalid(
            field,
            "tool_result content may hold text and images only",
        ));
    }
    let id = block
        .get("tool_use_id")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(field, "tool_result needs a `tool_use_id`"))?;
    Ok(Part::ToolResult {
        id: id.to_owned(),
        content,
        is_error: block
            .get("is_error")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}
