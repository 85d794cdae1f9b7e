//! Anthropic's named-event stream (`message_start`, `content_block_*`, `message_delta`,
//! `message_stop`): decoded into hub events, written from them, or scanned as it passes
//! through.

use bytes::BytesMut;
use serde::Deserialize;
use serde_json::{Value, json};

use super::response::{AnthropicUsage, finish, usage_json};
use crate::hub::{Event, Finish};
use crate::sse::{SseDecoder, SseEvent};
use crate::stream::write_event;
use crate::{ClientRequest, ErrorKind, StreamError, Usage};

const PROVIDER: &str = "anthropic";

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum AnthropicEvent {
    MessageStart {
        message: AnthropicStart,
    },
    ContentBlockStart {
        index: u64,
        content_block: Value,
    },
    ContentBlockDelta {
        index: u64,
        delta: Value,
    },
    MessageDelta {
        delta: AnthropicStop,
        #[serde(default)]
        usage: AnthropicUsage,
    },
    MessageStop,
    Error {
        error: AnthropicError,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct AnthropicStart {
    id: Option<String>,
    model: Option<String>,
    #[serde(default)]
    usage: AnthropicUsage,
}

#[derive(Deserialize)]
struct AnthropicStop {
    stop_reason: Option<String>,
    stop_sequence: Option<String>,
}

#[derive(Deserialize)]
struct AnthropicError {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: String,
}

impl AnthropicError {
    fn into_stream_error(self) -> StreamError {
        let kind = match self.kind.as_str() {
            "overloaded_error" => ErrorKind::Overloaded,
            "rate_limit_error" => ErrorKind::RateLimit,
            "invalid_request_error" => ErrorKind::InvalidRequest,
            "authentication_error" => ErrorKind::Authentication,
            "permission_error" => ErrorKind::PermissionDenied,
            "not_found_error" => ErrorKind::NotFound,
            "request_too_large" => ErrorKind::RequestTooLarge,
            "timeout_error" => ErrorKind::Timeout,
            _ => ErrorKind::Api,
        };
        StreamError::Upstream {
            kind,
            message: self.message,
        }
    }
}

fn parse(event: &SseEvent) -> Result<Option<AnthropicEvent>, StreamError> {
    let Some(data) = event.data.as_deref() else {
        return Ok(None);
    };
    serde_json::from_str(data)
        .map(Some)
        .map_err(|e| StreamError::Malformed {
            provider: PROVIDER,
            reason: e.to_string(),
        })
}

/// Reads Anthropic's stream into hub events.
#[derive(Debug, Default)]
pub(crate) struct EventDecoder {
    sse: SseDecoder,
    usage: AnthropicUsage,
    /// The content-block index of each hub tool call.
    tools: Vec<u64>,
}

impl EventDecoder {
    /// Decodes the next bytes (and with `eof`, what is left).
    pub(crate) fn push(
        &mut self,
        chunk: &[u8],
        eof: bool,
        events: &mut Vec<Event>,
    ) -> Result<(), StreamError> {
        self.sse.push(chunk);
        while let Some(event) = self.sse.next_event(eof) {
            if let Some(event) = parse(&event)? {
                self.event(event, events)?;
            }
        }
        Ok(())
    }

    fn event(&mut self, event: AnthropicEvent, events: &mut Vec<Event>) -> Result<(), StreamError> {
        match event {
            AnthropicEvent::MessageStart { message } => {
                self.usage = message.usage;
                events.push(Event::Start {
                    id: message.id,
                    model: message.model,
                });
                events.push(Event::Usage(self.usage.usage()));
            }
            AnthropicEvent::ContentBlockStart {
                index,
                content_block,
            } => {
                let text = |name: &str| {
                    content_block
                        .get(name)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                };
                match text("type") {
                    "text" if !text("text").is_empty() => {
                        events.push(Event::Text(text("text").to_owned()))
                    }
                    "tool_use" => {
                        self.tools.push(index);
                        events.push(Event::ToolStart {
                            index: self.tools.len() - 1,
                            id: text("id").to_owned(),
                            name: text("name").to_owned(),
                        });
                    }
                    _ => {}
                }
            }
            AnthropicEvent::ContentBlockDelta { index, delta } => {
                let text = |name: &str| delta.get(name).and_then(Value::as_str).unwrap_or_default();
                match text("type") {
                    "text_delta" => events.push(Event::Text(text("text").to_owned())),
                    "input_json_delta" if !text("partial_json").is_empty() => {
                        if let Some(tool) = self.tools.iter().position(|i| *i == index) {
                            events.push(Event::ToolArgs {
                                index: tool,
                                json: text("partial_json").to_owned(),
                            });
                        }
                    }
                    _ => {}
                }
            }
            AnthropicEvent::MessageDelta { delta, usage } => {
                self.usage.merge(&usage);
                if let Some(reason) = delta.stop_reason {
                    events.push(Event::Finish {
                        reason: finish(&reason),
                        stop_sequence: delta.stop_sequence,
                    });
                }
                events.push(Event::Usage(self.usage.usage()));
            }
            AnthropicEvent::MessageStop => events.push(Event::Done),
            AnthropicEvent::Error { error } => return Err(error.into_stream_error()),
            AnthropicEvent::Other => {}
        }
        Ok(())
    }
}

/// What kind of content block is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    Text,
    Tool(usize),
}

/// Writes hub events as Anthropic's stream for a Messages client.
#[derive(Debug)]
pub(crate) struct EventEncoder {
    id: String,
    model: String,
    started: bool,
    open: Option<(usize, Block)>,
    next_block: usize,
    /// The block index of each hub tool call.
    tools: Vec<usize>,
    finish: Finish,
    stop_sequence: Option<String>,
    usage: Usage,
}

impl EventEncoder {
    /// An encoder for `request`, answered by `model` (named until the provider names one).
    pub(crate) fn new(request: &ClientRequest, model: &str) -> Self {
        Self {
            id: request.derived_id("msg_"),
            model: model.to_owned(),
            started: false,
            open: None,
            next_block: 0,
            tools: Vec::new(),
            finish: Finish::Stop,
            stop_sequence: None,
            usage: Usage::default(),
        }
    }

    /// Writes one event. `message_start` waits for the first content, so that usage reported
    /// with the provider's opening event is in it.
    pub(crate) fn encode(&mut self, event: &Event, out: &mut BytesMut) {
        match event {
            Event::Start { id, model } => {
                if !self.started {
                    if let Some(id) = id {
                        self.id.clone_from(id);
                    }
                    if let Some(model) = model {
                        self.model.clone_from(model);
                    }
                }
            }
            Event::Text(text) => {
                self.open_block(Block::Text, out);
                let index = self.open.map_or(0, |(index, _)| index);
                write_event(
                    out,
                    "content_block_delta",
                    &json!({
                        "type": "content_block_delta", "index": index,
                        "delta": {"type": "text_delta", "text": text},
                    }),
                );
            }
            Event::ToolStart { index, id, name } => {
                self.open_block(Block::Tool(*index), out);
                let block = self.open.map_or(0, |(block, _)| block);
                if self.tools.len() <= *index {
                    self.tools.resize(*index + 1, block);
                }
                self.tools[*index] = block;
                write_event(
                    out,
                    "content_block_start",
                    &json!({
                        "type": "content_block_start", "index": block,
                        "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}},
                    }),
                );
            }
            Event::ToolArgs { index, json } => {
                let block = self.tools.get(*index).copied().unwrap_or(0);
                write_event(
                    out,
                    "content_block_delta",
                    &json!({
                        "type": "content_block_delta", "index": block,
                        "delta": {"type": "input_json_delta", "partial_json": json},
                    }),
                );
            }
            Event::Finish {
                reason,
                stop_sequence,
            } => {
                self.finish = *reason;
                self.stop_sequence.clone_from(stop_sequence);
            }
            Event::Usage(usage) => self.usage = *usage,
            Event::Done => {
                self.start(out);
                self.close_block(out);
                write_event(
                    out,
                    "message_delta",
                    &json!({
                        "type": "message_delta",
                        "delta": {
                            "stop_reason": self.finish.anthropic(self.stop_sequence.is_some()),
                            "stop_sequence": self.stop_sequence,
                        },
                        "usage": usage_json(&self.usage),
                    }),
                );
                write_event(out, "message_stop", &json!({"type": "message_stop"}));
            }
        }
    }

    fn start(&mut self, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        let mut usage = usage_json(&self.usage);
        usage["output_tokens"] = json!(0);
        write_event(
            out,
            "message_start",
            &json!({
                "type": "message_start",
                "message": {
                    "id": self.id, "type": "message", "role": "assistant", "model": self.model,
                    "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage,
                },
            }),
        );
    }

    /// Opens a block of `kind` unless one is open (a text block stays open across deltas;
    /// a tool call always opens its own block, whose start the caller writes).
    fn open_block(&mut self, kind: Block, out: &mut BytesMut) {
        self.start(out);
        if kind == Block::Text && self.open.is_some_and(|(_, open)| open == Block::Text) {
            return;
        }
        self.close_block(out);
        let index = self.next_block;
        self.next_block += 1;
        self.open = Some((index, kind));
        if kind == Block::Text {
            write_event(
                out,
                "content_block_start",
                &json!({
                    "type": "content_block_start", "index": index,
                    "content_block": {"type": "text", "text": ""},
                }),
            );
        }
    }

    fn close_block(&mut self, out: &mut BytesMut) {
        if let Some((index, _)) = self.open.take() {
            write_event(
                out,
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            );
        }
    }
}

/// Scans a Messages stream that passes through: usage from `message_start` and
/// `message_delta`, the end at `message_stop`, in-stream errors.
#[derive(Debug, Default)]
pub(crate) struct PassthroughScanner {
    sse: SseDecoder,
    reported: AnthropicUsage,
    /// The usage reported so far.
    pub(crate) usage: Usage,
    /// Whether the stream ended properly.
    pub(crate) done: bool,
}

impl PassthroughScanner {
    /// Forwards each whole event that arrived; with `eof`, the rest too.
    pub(crate) fn push(
        &mut self,
        chunk: &[u8],
        eof: bool,
        out: &mut BytesMut,
    ) -> Result<(), StreamError> {
        self.sse.push(chunk);
        while let Some(event) = self.sse.next_event(eof) {
            let wanted = matches!(
                event.event.as_deref(),
                Some("message_start" | "message_delta" | "message_stop" | "error")
            );
            if wanted && let Some(parsed) = parse(&event)? {
                match parsed {
                    AnthropicEvent::MessageStart { message } => self.reported = message.usage,
                    AnthropicEvent::MessageDelta { usage, .. } => self.reported.merge(&usage),
                    AnthropicEvent::MessageStop => self.done = true,
                    AnthropicEvent::Error { error } => return Err(error.into_stream_error()),
                    _ => {}
                }
                self.usage = self.reported.usage();
            }
            out.extend_from_slice(&event.raw);
        }
        Ok(())
    }
}
