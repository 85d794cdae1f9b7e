//! Whole chat completions to and from the hub, and the usage of any OpenAI-format body.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::errors::malformed;
use crate::hub::{ChatResponse, Finish, Part};
use crate::{ClientRequest, UpstreamError, Usage};

/// OpenAI's usage object: chat and completions name tokens `prompt`/`completion`, the
/// Responses API `input`/`output`; both count cached input and reasoning output inside.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct OpenAiUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    prompt_tokens_details: Option<OpenAiTokenDetails>,
    completion_tokens_details: Option<OpenAiTokenDetails>,
    input_tokens_details: Option<OpenAiTokenDetails>,
    output_tokens_details: Option<OpenAiTokenDetails>,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct OpenAiTokenDetails {
    cached_tokens: Option<u64>,
    reasoning_tokens: Option<u64>,
}

impl OpenAiUsage {
    /// In provider-neutral terms.
    pub(crate) fn usage(&self) -> Usage {
        let input = self
            .prompt_tokens_details
            .as_ref()
            .or(self.input_tokens_details.as_ref());
        let output = self
            .completion_tokens_details
            .as_ref()
            .or(self.output_tokens_details.as_ref());
        Usage {
            input_tokens: self.prompt_tokens.or(self.input_tokens).unwrap_or(0),
            output_tokens: self.completion_tokens.or(self.output_tokens).unwrap_or(0),
            cached_input_tokens: input.and_then(|d| d.cached_tokens).unwrap_or(0),
            reasoning_tokens: output.and_then(|d| d.reasoning_tokens).unwrap_or(0),
        }
    }
}

/// Writes hub usage as chat-completions usage.
pub(crate) fn usage_json(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    })
}

#[derive(Deserialize)]
struct UsageOnly {
    usage: Option<OpenAiUsage>,
}

/// The usage of an OpenAI-format body that passes through untouched (any API).
pub(crate) fn passthrough_usage(body: &[u8]) -> Result<Usage, UpstreamError> {
    let only: UsageOnly = serde_json::from_slice(body).map_err(|e| malformed("openai", &e))?;
    Ok(only.usage.map(|u| u.usage()).unwrap_or_default())
}

#[derive(Deserialize)]
struct OpenAiCompletion {
    id: Option<String>,
    model: Option<String>,
    #[serde(default)]
    choices: Vec<OpenAiChoice>,
    usage: Option<OpenAiUsage>,
}

#[derive(Deserialize)]
struct OpenAiChoice {
    message: OpenAiMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct OpenAiMessage {
    content: Option<String>,
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Vec<OpenAiToolCall>,
}

#[derive(Deserialize)]
struct OpenAiToolCall {
    id: String,
    function: OpenAiFunction,
}

#[derive(Deserialize)]
struct OpenAiFunction {
    name: String,
    #[serde(default)]
    arguments: String,
}

/// OpenAI's `finish_reason` in hub terms.
pub(crate) fn finish(reason: &str) -> Finish {
    match reason {
        "length" => Finish::Length,
        "tool_calls" | "function_call" => Finish::ToolCalls,
        "content_filter" => Finish::ContentFilter,
        _ => Finish::Stop,
    }
}

/// Reads a chat completion into the hub.
pub(crate) fn decode_chat_response(body: &[u8]) -> Result<ChatResponse, UpstreamError> {
    let completion: OpenAiCompletion =
        serde_json::from_slice(body).map_err(|e| malformed("openai", &e))?;
    let choice = completion
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| malformed("openai", &"a completion without choices"))?;
    let mut content = Vec::new();
    let message = choice.message;
    if let Some(text) = message
        .content
        .or(message.refusal)
        .filter(|t| !t.is_empty())
    {
        content.push(Part::Text(text));
    }
    for call in message.tool_calls {
        content.push(Part::ToolCall {
            id: call.id,
            name: call.function.name,
            arguments: call.function.arguments,
        });
    }
    Ok(ChatResponse {
        id: completion.id,
        model: completion.model,
        content,
        finish: choice.finish_reason.as_deref().map_or(Finish::Stop, finish),
        stop_sequence: None,
        usage: completion.usage.map(|u| u.usage()).unwrap_or_default(),
    })
}

/// Writes the hub as a chat completion. Without a provider id the id derives from the
/// request; `created` is the time the gateway set on the request.
pub(crate) fn encode_chat_response(
    response: &ChatResponse,
    request: &ClientRequest,
    model: &str,
) -> Bytes {
    let mut text = String::new();
    let mut calls = Vec::new();
    for part in &response.content {
        match part {
            Part::Text(piece) => text.push_str(piece),
            Part::ToolCall {
                id,
                name,
                arguments,
            } => calls.push(json!({
                "id": id, "type": "function", "function": {"name": name, "arguments": arguments},
            })),
            Part::Image(_) | Part::ToolResult { .. } => {}
        }
    }
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) },
        "refusal": null,
    });
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    let body = json!({
        "id": response.id.clone().unwrap_or_else(|| request.derived_id("chatcmpl-")),
        "object": "chat.completion",
        "created": request.created(),
        "model": response.model.as_deref().unwrap_or(model),
        "choices": [{
            "index": 0, "message": message, "logprobs": null,
            "finish_reason": response.finish.openai(),
        }],
        "usage": usage_json(&response.usage),
    });
    Bytes::from(body.to_string())
}
