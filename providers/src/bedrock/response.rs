//! Converse answers into the hub, and Bedrock's usage.

use serde::Deserialize;
use serde_json::Value;

use crate::errors::malformed;
use crate::hub::{ChatResponse, Finish, Part};
use crate::{UpstreamError, Usage};

/// Bedrock's usage: `inputTokens` excludes the tokens read from and written to the prompt
/// cache, which it counts apart (and lists only when caching was used).
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BedrockUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_write_input_tokens: Option<u64>,
}

impl BedrockUsage {
    /// In provider-neutral terms: cache reads and writes are input too.
    pub(crate) fn usage(&self) -> Usage {
        let cached = self.cache_read_input_tokens.unwrap_or(0);
        Usage {
            input_tokens: self.input_tokens.unwrap_or(0)
                + cached
                + self.cache_write_input_tokens.unwrap_or(0),
            output_tokens: self.output_tokens.unwrap_or(0),
            cached_input_tokens: cached,
            reasoning_tokens: 0,
        }
    }
}

/// Bedrock's `stopReason` in hub terms.
pub(crate) fn finish(reason: &str) -> Finish {
    match reason {
        "max_tokens" | "model_context_window_exceeded" => Finish::Length,
        "tool_use" => Finish::ToolCalls,
        "guardrail_intervened" | "content_filtered" => Finish::ContentFilter,
        _ => Finish::Stop,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseOutput {
    output: ConverseMessageOutput,
    stop_reason: Option<String>,
    #[serde(default)]
    usage: BedrockUsage,
}

#[derive(Deserialize)]
struct ConverseMessageOutput {
    message: Option<ConverseMessage>,
}

#[derive(Deserialize)]
struct ConverseMessage {
    #[serde(default)]
    content: Vec<Value>,
}

/// Reads a Converse answer into the hub; reasoning blocks (never asked for by a translated
/// request) are left out. Converse gives no response id or model.
pub(crate) fn decode_response(body: &[u8]) -> Result<ChatResponse, UpstreamError> {
    let answer: ConverseOutput =
        serde_json::from_slice(body).map_err(|e| malformed("bedrock", &e))?;
    let mut content = Vec::new();
    for block in answer.output.message.iter().flat_map(|m| &m.content) {
        if let Some(text) = block.get("text").and_then(Value::as_str) {
            content.push(Part::Text(text.to_owned()));
        } else if let Some(call) = block.get("toolUse") {
            let text = |name: &str| {
                call.get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            content.push(Part::ToolCall {
                id: text("toolUseId"),
                name: text("name"),
                arguments: call
                    .get("input")
                    .map_or_else(|| "{}".to_owned(), Value::to_string),
            });
        }
    }
    Ok(ChatResponse {
        id: None,
        model: None,
        content,
        finish: answer.stop_reason.as_deref().map_or(Finish::Stop, finish),
        stop_sequence: None,
        usage: answer.usage.usage(),
    })
}
