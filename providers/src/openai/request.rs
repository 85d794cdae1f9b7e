//! Chat-completions requests into the hub, for a chat client calling another provider.

use serde_json::{Map, Value, json};
use switchyard_crds::Provider;

use crate::RequestError;
use crate::fields::Fields;
use crate::hub::{
    ChatRequest, Image, Part, ResponseFormat, Role, Tool, ToolChoice, invalid, unsupported,
};

/// The chat fields the hub has a place for; any other is refused for non-OpenAI backends.
const KNOWN: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop",
    "stream",
    "stream_options",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "user",
    "n",
    "logprobs",
];

/// Reads a chat-completions body into the hub, refusing what `provider` would have to drop.
pub(crate) fn decode_chat_request(
    fields: &Fields,
    provider: Provider,
) -> Result<ChatRequest, RequestError> {
    fields.refuse_unknown(KNOWN, provider)?;
    if fields.decode::<u64>("n")?.is_some_and(|n| n != 1) {
        return Err(unsupported(provider, "return more than one choice (`n`)"));
    }
    if fields.decode::<bool>("logprobs")? == Some(true) {
        return Err(unsupported(provider, "return `logprobs`"));
    }
    if let Some(options) = fields.decode::<Map<String, Value>>("stream_options")?
        && let Some(name) = options.keys().find(|k| *k != "include_usage")
    {
        return Err(unsupported(
            provider,
            format!("accept `stream_options.{name}`"),
        ));
    }
    let mut request = ChatRequest {
        max_tokens: match fields.decode("max_completion_tokens")? {
            Some(max) => Some(max),
            None => fields.decode("max_tokens")?,
        },
        temperature: fields.decode("temperature")?,
        top_p: fields.decode("top_p")?,
        top_k: fields.decode("top_k")?,
        seed: fields.decode("seed")?,
        presence_penalty: fields.decode("presence_penalty")?,
        frequency_penalty: fields.decode("frequency_penalty")?,
        user: fields.decode("user")?,
        parallel_tool_calls: fields.decode("parallel_tool_calls")?,
        stop: match fields.decode::<Value>("stop")? {
            None => Vec::new(),
            Some(Value::String(stop)) => vec![stop],
            Some(stops) => serde_json::from_value(stops)
                .map_err(|_| invalid("stop", "must be a string or an array of strings"))?,
        },
        ..ChatRequest::default()
    };
    for (index, tool) in fields
        .decode::<Vec<Value>>("tools")?
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        request.tools.push(tool_definition(tool, index, provider)?);
    }
    request.tool_choice = fields
        .decode::<Value>("tool_choice")?
        .map(|c| tool_choice(&c))
        .transpose()?;
    request.response_format = fields
        .decode::<Value>("response_format")?
        .map(|f| response_format(&f))
        .transpose()?;
    let messages: Vec<Value> = fields
        .decode("messages")?
        .ok_or_else(|| invalid("messages", "is required"))?;
    for (index, message) in messages.iter().enumerate() {
        read_message(&mut request, index, message, provider)?;
    }
    Ok(request)
}

fn tool_definition(tool: &Value, index: usize, provider: Provider) -> Result<Tool, RequestError> {
    let field = format!("tools[{index}]");
    match tool.get("type").and_then(Value::as_str) {
        Some("function") => {}
        Some(other) => return Err(unsupported(provider, format!("use `{other}` tools"))),
        None => return Err(invalid(field, "needs a `type`")),
    }
    let function = tool
        .get("function")
        .ok_or_else(|| invalid(&field, "needs a `function`"))?;
    let name = function
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(&field, "needs a function `name`"))?;
    let strict = function.get("strict").and_then(Value::as_bool);
    if strict == Some(true) {
        return Err(unsupported(provider, "enforce `strict` tool schemas"));
    }
    Ok(Tool {
        name: name.to_owned(),
        description: function
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        parameters: function
            .get("parameters")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        strict,
    })
}

fn tool_choice(choice: &Value) -> Result<ToolChoice, RequestError> {
    match choice {
        Value::String(mode) => match mode.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            _ => Err(invalid(
                "tool_choice",
                "must be auto, none, required or a function",
            )),
        },
        _ => choice
            .pointer("/function/name")
            .and_then(Value::as_str)
            .map(|name| ToolChoice::Named(name.to_owned()))
            .ok_or_else(|| invalid("tool_choice", "must name a function")),
    }
}

fn response_format(format: &Value) -> Result<ResponseFormat, RequestError> {
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(ResponseFormat::Text),
        Some("json_object") => Ok(ResponseFormat::JsonObject),
        Some("json_schema") => {
            let spec = format
                .get("json_schema")
                .ok_or_else(|| invalid("response_format", "needs `json_schema`"))?;
            Ok(ResponseFormat::JsonSchema {
                name: spec
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("response")
                    .to_owned(),
                schema: spec.get("schema").cloned().unwrap_or_else(|| json!({})),
                strict: spec.get("strict").and_then(Value::as_bool),
            })
        }
        _ => Err(invalid(
            "response_format.type",
            "must be text, json_object or json_schema",
        )),
    }
}

/// Message keys each role may carry; `name` is refused (no other provider keeps it).
fn allowed_keys(role: &str) -> &'static [&'static str] {
    match role {
        "assistant" => &["role", "content", "tool_calls", "refusal"],
        "tool" => &["role", "content", "tool_call_id"],
        _ => &["role", "content"],
    }
}

fn read_message(
    request: &mut ChatRequest,
    index: usize,
    message: &Value,
    provider: Provider,
) -> Result<(), RequestError> {
    let field = format!("messages[{index}]");
    let object = message
        .as_object()
        .ok_or_else(|| invalid(&field, "must be an object"))?;
    let role = object
        .get("role")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(&field, "needs a `role`"))?;
    if let Some((key, _)) = object
        .iter()
        .find(|(key, value)| !value.is_null() && !allowed_keys(role).contains(&key.as_str()))
    {
        return Err(unsupported(
            provider,
            format!("accept `{key}` on {role} messages"),
        ));
    }
    let content = object.get("content").unwrap_or(&Value::Null);
    match role {
        "system" | "developer" => {
            if !request.messages.is_empty() {
                return Err(unsupported(
                    provider,
                    "take a system message after the conversation started",
                ));
            }
            request.system.push(text_of(content, &field)?);
        }
        "user" => {
            let parts = parts(content, &field, provider)?;
            request.push(Role::User, parts);
        }
        "assistant" => {
            let mut parts = parts(content, &field, provider)?;
            if parts.iter().any(|p| matches!(p, Part::Image(_))) {
                return Err(invalid(&field, "assistant messages cannot hold images"));
            }
            for (call_index, call) in object
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                parts.push(tool_call(
                    call,
                    &format!("{field}.tool_calls[{call_index}]"),
                )?);
            }
            request.push(Role::Assistant, parts);
        }
        "tool" => {
            let id = object
                .get("tool_call_id")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(&field, "needs a `tool_call_id`"))?;
            let result = Part::ToolResult {
                id: id.to_owned(),
                content: vec![Part::Text(text_of(content, &field)?)],
                is_error: false,
            };
            request.push(Role::User, vec![result]);
        }
        other => return Err(unsupported(provider, format!("take `{other}` messages"))),
    }
    Ok(())
}

fn tool_call(call: &Value, field: &str) -> Result<Part, RequestError> {
    let text = |pointer: &str| call.pointer(pointer).and_then(Value::as_str);
    Ok(Part::ToolCall {
        id: text("/id")
            .ok_or_else(|| invalid(field, "needs an `id`"))?
            .to_owned(),
        name: text("/function/name")
            .ok_or_else(|| invalid(field, "needs a function `name`"))?
            .to_owned(),
        arguments: text("/function/arguments").unwrap_or("{}").to_owned(),
    })
}

/// The text of a string or text-part content.
fn text_of(content: &Value, field: &str) -> Result<String, RequestError> {
    match content {
        Value::String(text) => Ok(text.clone()),
        Value::Null => Ok(String::new()),
        Value::Array(parts) => parts
            .iter()
            .map(
                |part| match (part.get("type").and_then(Value::as_str), part.get("text")) {
                    (Some("text"), Some(Value::String(text))) => Ok(text.as_str()),
                    _ => Err(invalid(field, "may only hold text parts here")),
                },
            )
            .collect::<Result<Vec<_>, _>>()
            .map(|texts| texts.join("\n")),
        _ => Err(invalid(
            field,
            "content must be a string or an array of parts",
        )),
    }
}

/// Text and image parts; empty text carries nothing and is left out.
fn parts(content: &Value, field: &str, provider: Provider) -> Result<Vec<Part>, RequestError> {
    let parts = match content {
        Value::Null => return Ok(Vec::new()),
        Value::String(text) if text.is_empty() => return Ok(Vec::new()),
        Value::String(text) => return Ok(vec![Part::Text(text.clone())]),
        Value::Array(parts) => parts,
        _ => {
            return Err(invalid(
                field,
                "content must be a string or an array of parts",
            ));
        }
    };
    let mut out = Vec::with_capacity(parts.len());
    for part in parts {
        match part.get("type").and_then(Value::as_str) {
            Some("text") => {
                let text = part.get("text").and_then(Value::as_str).unwrap_or_default();
                if !text.is_empty() {
                    out.push(Part::Text(text.to_owned()));
                }
            }
            Some("image_url") => {
                let url = part
                    .pointer("/image_url/url")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(field, "an image_url part needs a `url`"))?;
                match part.pointer("/image_url/detail").and_then(Value::as_str) {
                    None | Some("auto") => {}
                    Some(_) => return Err(unsupported(provider, "take an image `detail`")),
                }
                out.push(Part::Image(Image::from_url(url)));
            }
            Some(other) => {
                return Err(unsupported(
                    provider,
                    format!("take `{other}` content parts"),
                ));
            }
            None => return Err(invalid(field, "every content part needs a `type`")),
        }
    }
    Ok(out)
}
