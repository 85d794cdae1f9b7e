//! The hub as a `generateContent` body: `systemInstruction`, `contents` with `user` and
//! `model` turns, function declarations and `generationConfig`.
//!
//! Gemini names a function result by the function's name, not the call id, so each tool
//! result looks up the name of the call it answers. Gemini cannot fetch images by URL (only
//! its own file URIs), cap parallel calls, or take an end-user id: those are refused.

use bytes::Bytes;
use serde_json::{Map, Value, json};
use switchyard_crds::Provider;

use crate::RequestError;
use crate::hub::{
    ChatRequest, Image, Part, ResponseFormat, Role, ToolChoice, arguments_object, invalid,
    unsupported,
};

/// Writes the hub as a `generateContent` body.
pub(crate) fn encode_request(
    request: &ChatRequest,
    provider: Provider,
) -> Result<Bytes, RequestError> {
    if request.parallel_tool_calls == Some(false) {
        return Err(unsupported(provider, "limit tool calls to one per turn"));
    }
    if request.user.is_some() {
        return Err(unsupported(provider, "take an end-user id (`user`)"));
    }
    let mut body = Map::new();
    if !request.system.is_empty() {
        let parts: Vec<Value> = request.system.iter().map(|t| json!({"text": t})).collect();
        body.insert("systemInstruction".into(), json!({"parts": parts}));
    }
    let mut names: Vec<(&str, &str)> = Vec::new();
    let mut contents = Vec::with_capacity(request.messages.len());
    for (index, message) in request.messages.iter().enumerate() {
        let field = format!("messages[{index}]");
        let mut parts = Vec::with_capacity(message.content.len());
        for part in &message.content {
            if let Part::ToolCall { id, name, .. } = part {
                names.push((id, name));
            }
            parts.push(encode_part(part, &names, &field, provider)?);
        }
        let role = match message.role {
            Role::User => "user",
            Role::Assistant => "model",
        };
        contents.push(json!({"role": role, "parts": parts}));
    }
    body.insert("contents".into(), Value::Array(contents));
    if !request.tools.is_empty() {
        let declarations: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                let mut declaration =
                    json!({"name": tool.name, "parametersJsonSchema": tool.parameters});
                if let Some(description) = &tool.description {
                    declaration["description"] = json!(description);
                }
                declaration
            })
            .collect();
        body.insert(
            "tools".into(),
            json!([{"functionDeclarations": declarations}]),
        );
    }
    if let Some(choice) = &request.tool_choice {
        let config = match choice {
            ToolChoice::Auto => json!({"mode": "AUTO"}),
            ToolChoice::None => json!({"mode": "NONE"}),
            ToolChoice::Required => json!({"mode": "ANY"}),
            ToolChoice::Named(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        };
        body.insert(
            "toolConfig".into(),
            json!({"functionCallingConfig": config}),
        );
    }
    let config = generation_config(request);
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    serde_json::to_vec(&body)
        .map(Bytes::from)
        .map_err(RequestError::InvalidJson)
}

fn generation_config(request: &ChatRequest) -> Map<String, Value> {
    let mut config = Map::new();
    let mut set = |name: &str, value: Option<Value>| {
        if let Some(value) = value {
            config.insert(name.into(), value);
        }
    };
    set("maxOutputTokens", request.max_tokens.map(Value::from));
    set("temperature", request.temperature.map(Value::from));
    set("topP", request.top_p.map(Value::from));
    set("topK", request.top_k.map(Value::from));
    set("seed", request.seed.map(Value::from));
    set("presencePenalty", request.presence_penalty.map(Value::from));
    set(
        "frequencyPenalty",
        request.frequency_penalty.map(Value::from),
    );
    set(
        "stopSequences",
        (!request.stop.is_empty()).then(|| json!(request.stop)),
    );
    match &request.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => {
            set("responseMimeType", Some(json!("application/json")))
        }
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            set("responseMimeType", Some(json!("application/json")));
            set("responseJsonSchema", Some(schema.clone()));
        }
    }
    config
}

fn encode_part(
    part: &Part,
    names: &[(&str, &str)],
    field: &str,
    provider: Provider,
) -> Result<Value, RequestError> {
    Ok(match part {
        Part::Text(text) => json!({"text": text}),
        Part::Image(Image::Base64 { media_type, data }) => {
            json!({"inlineData": {"mimeType": media_type, "data": data}})
        }
        Part::Image(Image::Url(_)) => return Err(unsupported(provider, "fetch images by URL")),
        Part::ToolCall {
            name, arguments, ..
        } => json!({"functionCall": {
            "name": name, "args": arguments_object(arguments, &format!("{field}.tool_calls"))?,
        }}),
        Part::ToolResult {
            id,
            content,
            is_error,
        } => {
            let name = names
                .iter()
                .find(|(call, _)| call == id)
                .map(|(_, name)| *name)
                .ok_or_else(|| {
                    invalid(
                        field,
                        format!("answers tool call `{id}`, which no earlier message made"),
                    )
                })?;
            let mut text = String::new();
            for part in content {
                match part {
                    Part::Text(piece) => text.push_str(piece),
                    _ => return Err(unsupported(provider, "take images in tool results")),
                }
            }
            json!({"functionResponse": {"name": name, "response": result_object(&text, *is_error)}})
        }
    })
}

/// A tool result as the object Gemini wants: a JSON object result as it is, other text under
/// `content` (or `error` when the tool failed).
fn result_object(text: &str, is_error: bool) -> Value {
    if is_error {
        return json!({"error": text});
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Value::Object(object),
        _ => json!({"content": text}),
    }
}
