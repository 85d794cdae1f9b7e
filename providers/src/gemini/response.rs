//! `GenerateContentResponse` into the hub: candidate parts, finish reason, usage.
//!
//! Gemini's function calls carry no id unless it sends one, so ids are derived from the
//! response id and the call's position: deterministic, and unique across a conversation.

use serde::Deserialize;
use serde_json::Value;

use crate::errors::malformed;
use crate::hub::{ChatResponse, Finish, Part};
use crate::{UpstreamError, Usage};

/// One `GenerateContentResponse` (a whole answer, or one stream chunk).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GeminiResponse {
    #[serde(default)]
    pub candidates: Vec<GeminiCandidate>,
    pub usage_metadata: Option<GeminiUsage>,
    pub model_version: Option<String>,
    pub response_id: Option<String>,
    pub prompt_feedback: Option<GeminiFeedback>,
}

/// One candidate answer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GeminiCandidate {
    pub content: Option<GeminiContent>,
    pub finish_reason: Option<String>,
}

/// A candidate's content.
#[derive(Deserialize)]
pub(crate) struct GeminiContent {
    #[serde(default)]
    pub parts: Vec<GeminiPart>,
}

/// One part: text (a thought summary when `thought`) or a function call.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GeminiPart {
    pub text: Option<String>,
    #[serde(default)]
    pub thought: bool,
    pub function_call: Option<GeminiFunctionCall>,
}

/// A function call, its arguments whole.
#[derive(Deserialize)]
pub(crate) struct GeminiFunctionCall {
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub args: Value,
}

/// Why a prompt was blocked.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GeminiFeedback {
    pub block_reason: Option<String>,
}

/// Gemini's usage: `promptTokenCount` includes cached tokens; thoughts are counted apart
/// from `candidatesTokenCount`.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GeminiUsage {
    prompt_token_count: Option<u64>,
    candidates_token_count: Option<u64>,
    cached_content_token_count: Option<u64>,
    thoughts_token_count: Option<u64>,
    tool_use_prompt_token_count: Option<u64>,
}

impl GeminiUsage {
    /// In provider-neutral terms: thoughts are output (and reasoning).
    pub(crate) fn usage(&self) -> Usage {
        let thoughts = self.thoughts_token_count.unwrap_or(0);
        Usage {
            input_tokens: self.prompt_token_count.unwrap_or(0)
                + self.tool_use_prompt_token_count.unwrap_or(0),
            output_tokens: self.candidates_token_count.unwrap_or(0) + thoughts,
            cached_input_tokens: self.cached_content_token_count.unwrap_or(0),
            reasoning_tokens: thoughts,
        }
    }
}

/// Gemini's `finishReason` in hub terms (`STOP` with calls is a tool-call finish).
pub(crate) fn finish(reason: &str, called: bool) -> Finish {
    match reason {
        "MAX_TOKENS" => Finish::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            Finish::ContentFilter
        }
        _ if called => Finish::ToolCalls,
        _ => Finish::Stop,
    }
}

/// The id of the `index`th function call of a response.
pub(crate) fn call_id(
    call: &GeminiFunctionCall,
    response_id: Option<&str>,
    index: usize,
) -> String {
    match (&call.id, response_id) {
        (Some(id), _) => id.clone(),
        (None, Some(response)) => format!("call_{response}_{index}"),
        (None, None) => format!("call_{index}"),
    }
}

/// Reads a `generateContent` answer into the hub; thought summaries are left out.
pub(crate) fn decode_response(body: &[u8]) -> Result<ChatResponse, UpstreamError> {
    let response: GeminiResponse =
        serde_json::from_slice(body).map_err(|e| malformed("gemini", &e))?;
    let mut content = Vec::new();
    let mut calls = 0;
    let candidate = response.candidates.first();
    let parts = candidate
        .and_then(|c| c.content.as_ref())
        .map(|c| c.parts.as_slice());
    for part in parts.unwrap_or_default() {
        if let Some(call) = &part.function_call {
            content.push(Part::ToolCall {
                id: call_id(call, response.response_id.as_deref(), calls),
                name: call.name.clone(),
                arguments: call.args.to_string(),
            });
            calls += 1;
        } else if let Some(text) = part.text.as_ref().filter(|_| !part.thought) {
            content.push(Part::Text(text.clone()));
        }
    }
    let blocked = response
        .prompt_feedback
        .and_then(|f| f.block_reason)
        .is_some();
    let finish = match candidate.and_then(|c| c.finish_reason.as_deref()) {
        _ if blocked => Finish::ContentFilter,
        Some(reason) => finish(reason, calls > 0),
        None if calls > 0 => Finish::ToolCalls,
        None => Finish::Stop,
    };
    Ok(ChatResponse {
        id: response.response_id,
        model: response.model_version,
        content,
        finish,
        stop_sequence: None,
        usage: response
            .usage_metadata
            .map(|u| u.usage())
            .unwrap_or_default(),
    })
}
