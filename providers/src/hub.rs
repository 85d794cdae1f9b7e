//! The hub: one provider-neutral model of chat requests, responses and stream events. Each
//! format has one adapter to it and one from it, so N formats need N adapters, not N×N.
//!
//! A field the hub has no place for never gets this far: the client-side adapters refuse it
//! with [`RequestError::Unsupported`], and the provider-side adapters refuse what their
//! provider cannot do, so nothing a caller sent is silently dropped.

use serde_json::Value;
use switchyard_crds::Provider;

use crate::{RequestError, Usage};

/// A chat request in provider-neutral terms.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ChatRequest {
    /// The provider's model id.
    pub model: String,
    /// System prompt blocks, in order.
    pub system: Vec<String>,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Function tools the model may call.
    pub tools: Vec<Tool>,
    /// Whether and which tool the model must call.
    pub tool_choice: Option<ToolChoice>,
    /// `false` asks for at most one tool call per turn.
    pub parallel_tool_calls: Option<bool>,
    /// Most output tokens.
    pub max_tokens: Option<u64>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    pub top_p: Option<f64>,
    /// Top-k sampling.
    pub top_k: Option<u64>,
    /// Stop sequences.
    pub stop: Vec<String>,
    /// Sampling seed.
    pub seed: Option<i64>,
    /// Presence penalty.
    pub presence_penalty: Option<f64>,
    /// Frequency penalty.
    pub frequency_penalty: Option<f64>,
    /// The end user, for the provider's abuse monitoring.
    pub user: Option<String>,
    /// JSON mode.
    pub response_format: Option<ResponseFormat>,
    /// Whether the answer streams.
    pub stream: bool,
}

impl ChatRequest {
    /// Appends parts, merged into the previous message when it has the same role (providers
    /// that need alternating turns get them, and tool results land in one user turn).
    pub(crate) fn push(&mut self, role: Role, parts: Vec<Part>) {
        match self.messages.last_mut() {
            Some(last) if last.role == role => last.content.extend(parts),
            _ => self.messages.push(Message {
                role,
                content: parts,
            }),
        }
    }
}

/// Who wrote a message. Tool results travel in user messages, as Anthropic and Bedrock want.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The caller.
    User,
    /// The model.
    Assistant,
}

/// One message of the conversation.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Message {
    /// The author.
    pub role: Role,
    /// The content parts, in order.
    pub content: Vec<Part>,
}

/// One part of a message.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Part {
    /// Text.
    Text(String),
    /// An image.
    Image(Image),
    /// A tool call the model made; `arguments` is JSON text.
    ToolCall {
        /// The call id.
        id: String,
        /// The tool's name.
        name: String,
        /// The arguments as JSON text.
        arguments: String,
    },
    /// The result of a tool call.
    ToolResult {
        /// The id of the call it answers.
        id: String,
        /// Text and image parts.
        content: Vec<Part>,
        /// Whether the tool failed.
        is_error: bool,
    },
}

/// An image, inline or by URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Image {
    /// Base64 bytes with their media type.
    Base64 {
        /// Such as `image/png`.
        media_type: String,
        /// Base64 text.
        data: String,
    },
    /// An `http(s)` URL the provider fetches.
    Url(String),
}

impl Image {
    /// Reads an OpenAI `image_url`: a `data:` URL or any other URL.
    pub(crate) fn from_url(url: &str) -> Self {
        if let Some(rest) = url.strip_prefix("data:")
            && let Some((media_type, data)) = rest.split_once(";base64,")
        {
            return Self::Base64 {
                media_type: media_type.to_owned(),
                data: data.to_owned(),
            };
        }
        Self::Url(url.to_owned())
    }

    /// The image as an OpenAI `image_url` URL.
    pub(crate) fn to_url(&self) -> String {
        match self {
            Self::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
            Self::Url(url) => url.clone(),
        }
    }
}

/// A function tool.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Tool {
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// JSON Schema of its arguments.
    pub parameters: Value,
    /// OpenAI's strict schema adherence.
    pub strict: Option<bool>,
}

/// Whether the model must call a tool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool calls.
    None,
    /// Some tool call.
    Required,
    /// This tool.
    Named(String),
}

/// JSON mode.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ResponseFormat {
    /// Plain text (the default).
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON matching a schema.
    JsonSchema {
        /// The schema's name.
        name: String,
        /// The schema.
        schema: Value,
        /// Strict adherence.
        strict: Option<bool>,
    },
}

/// Why the model stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Finish {
    /// A natural end or a stop sequence.
    Stop,
    /// The token limit.
    Length,
    /// The model called tools.
    ToolCalls,
    /// A safety filter.
    ContentFilter,
}

impl Finish {
    /// OpenAI's `finish_reason`.
    pub(crate) const fn openai(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::ToolCalls => "tool_calls",
            Self::ContentFilter => "content_filter",
        }
    }

    /// Anthropic's `stop_reason`; a stop sequence that matched wins over `end_turn`.
    pub(crate) const fn anthropic(self, stop_sequence: bool) -> &'static str {
        match self {
            Self::Stop if stop_sequence => "stop_sequence",
            Self::Stop => "end_turn",
            Self::Length => "max_tokens",
            Self::ToolCalls => "tool_use",
            Self::ContentFilter => "refusal",
        }
    }
}

/// A whole (not streamed) answer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ChatResponse {
    /// The provider's response id, if it gave one.
    pub id: Option<String>,
    /// The model that answered, if the provider said.
    pub model: Option<String>,
    /// Text and tool-call parts.
    pub content: Vec<Part>,
    /// Why it stopped.
    pub finish: Finish,
    /// The stop sequence that matched.
    pub stop_sequence: Option<String>,
    /// Tokens used.
    pub usage: Usage,
}

/// One step of a streamed answer, as every provider's stream decoder reports it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Event {
    /// The answer started.
    Start {
        /// The provider's response id.
        id: Option<String>,
        /// The model that answers.
        model: Option<String>,
    },
    /// More text.
    Text(String),
    /// A tool call started; tool calls are numbered from 0 in order of appearance.
    ToolStart {
        /// The tool call's number.
        index: usize,
        /// The call id.
        id: String,
        /// The tool's name.
        name: String,
    },
    /// More argument JSON for a tool call.
    ToolArgs {
        /// The tool call's number.
        index: usize,
        /// A piece of JSON text.
        json: String,
    },
    /// Why the model stopped.
    Finish {
        /// The reason.
        reason: Finish,
        /// The stop sequence that matched.
        stop_sequence: Option<String>,
    },
    /// Usage so far (each report replaces the previous one).
    Usage(Usage),
    /// The answer ended normally.
    Done,
}

/// The error for a feature `provider` cannot serve.
pub(crate) fn unsupported(provider: Provider, feature: impl Into<String>) -> RequestError {
    RequestError::Unsupported {
        provider,
        feature: feature.into(),
    }
}

/// The error for a field whose value is not what its format allows.
pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> RequestError {
    RequestError::InvalidField {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Tool-call arguments as a JSON object, for providers that take objects rather than text.
pub(crate) fn arguments_object(arguments: &str, field: &str) -> Result<Value, RequestError> {
    if arguments.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_str(arguments).map_err(|error| invalid(field, error.to_string()))
}

/// A deterministic id from bytes (FNV-1a), for providers that give none.
pub(crate) fn derived_id(prefix: &str, seed: u64) -> String {
    format!("{prefix}{seed:016x}")
}

/// FNV-1a over bytes.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
