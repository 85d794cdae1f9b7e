//! Whole Messages answers to and from the hub, and Anthropic's usage.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::errors::malformed;
use crate::hub::{ChatResponse, Finish, Part};
use crate::{ClientRequest, UpstreamError, Usage};

/// Anthropic's usage: `input_tokens` excludes the tokens read from and written to the prompt
/// cache, which it counts apart.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub(crate) struct AnthropicUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// In provider-neutral terms: cache reads and writes are input too.
    pub(crate) fn usage(&self) -> Usage {
        let cached = self.cache_read_input_tokens.unwrap_or(0);
        Usage {
            input_tokens: self.input_tokens.unwrap_or(0)
                + self.cache_creation_input_tokens.unwrap_or(0)
                + cached,
            output_tokens: self.output_tokens.unwrap_or(0),
            cached_input_tokens: cached,
            reasoning_tokens: 0,
        }
    }

    /// A later report (`message_delta`) over an earlier one: the counts it has win.
    pub(crate) fn merge(&mut self, later: &Self) {
        self.input_tokens = later.input_tokens.or(self.input_tokens);
        self.output_tokens = later.output_tokens.or(self.output_tokens);
        self.cache_creation_input_tokens = later
            .cache_creation_input_tokens
            .or(self.cache_creation_input_tokens);
        self.cache_read_input_tokens = later
            .cache_read_input_tokens
            .or(self.cache_read_input_tokens);
    }
}

/// Writes hub usage as Anthropic usage (cache writes are not kept apart in the hub, so they
/// count as plain input).
pub(crate) fn usage_json(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.input_tokens.saturating_sub(usage.cached_input_tokens),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cached_input_tokens,
        "output_tokens": usage.output_tokens,
    })
}

#[derive(Deserialize)]
struct UsageOnly {
    usage: Option<AnthropicUsage>,
}

/// The usage of a Messages body that passes through untouched.
pub(crate) fn passthrough_usage(body: &[u8]) -> Result<Usage, UpstreamError> {
    let only: UsageOnly = serde_json::from_slice(body).map_err(|e| malformed("anthropic", &e))?;
    Ok(only.usage.map(|u| u.usage()).unwrap_or_default())
}

#[derive(Deserialize)]
struct AnthropicMessage {
    id: Option<String>,
    model: Option<String>,
    #[serde(default)]
    content: Vec<Value>,
    stop_reason: Option<String>,
    stop_sequence: Option<String>,
    #[serde(default)]
    usage: AnthropicUsage,
}

/// Anthropic's `stop_reason` in hub terms.
pub(crate) fn finish(reason: &str) -> Finish {
    match reason {
        "max_tokens" | "model_context_window_exceeded" => Finish::Length,
        "tool_use" => Finish::ToolCalls,
        "refusal" => Finish::ContentFilter,
        _ => Finish::Stop,
    }
}

/// Reads a Messages answer into the hub; thinking blocks (never asked for by a translated
/// request) are left out.
pub(crate) fn decode_response(body: &[u8]) -> Result<ChatResponse, UpstreamError> {
    let message: AnthropicMessage =
        serde_json::from_slice(body).map_err(|e| malformed("anthropic", &e))?;
    let mut content = Vec::new();
    for block in &message.content {
        let text = |name: &str| block.get(name).and_then(Value::as_str).unwrap_or_default();
        match text("type") {
            "text" => content.push(Part::Text(text("text").to_owned())),
            "tool_use" => content.push(Part::ToolCall {
                id: text("id").to_owned(),
                name: text("name").to_owned(),
                arguments: block
                    .get("input")
                    .map_or_else(|| "{}".to_owned(), Value::to_string),
            }),
            _ => {}
        }
    }
    Ok(ChatResponse {
        id: message.id,
        model: message.model,
        content,
        finish: message.stop_reason.as_deref().map_or(Finish::Stop, finish),
        stop_sequence: message.stop_sequence,
        usage: message.usage.usage(),
    })
}

/// Writes the hub as a Messages answer.
pub(crate) fn encode_response(
    response: &ChatResponse,
    request: &ClientRequest,
    model: &str,
) -> Bytes {
    let content: Vec<Value> = response
        .content
        .iter()
        .filter_map(|part| match part {
            Part::Text(text) => Some(json!({"type": "text", "text": text})),
            Part::ToolCall {
                id,
                name,
                arguments,
            } => Some(json!({
                "type": "tool_use", "id": id, "name": name,
                "input": serde_json::from_str::<Value>(arguments).unwrap_or_else(|_| json!({})),
            })),
            Part::Image(_) | Part::ToolResult { .. } => None,
        })
        .collect();
    let body = json!({
        "id": response.id.clone().unwrap_or_else(|| request.derived_id("msg_")),
        "type": "message",
        "role": "assistant",
        "model": response.model.as_deref().unwrap_or(model),
        "content": content,
        "stop_reason": response.finish.anthropic(response.stop_sequence.is_some()),
        "stop_sequence": response.stop_sequence,
        "usage": usage_json(&response.usage),
    });
    Bytes::from(body.to_string())
}
