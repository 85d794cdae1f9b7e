//! ConverseStream into hub events: `messageStart`, `contentBlockStart` (tool calls only),
//! `contentBlockDelta`, `contentBlockStop`, `messageStop`, then `metadata` with usage, which
//! ends the stream. Exceptions arrive as `exception` messages.

use serde::Deserialize;
use serde_json::Value;

use super::eventstream::{FrameDecoder, Message};
use super::response::{BedrockUsage, finish};
use crate::hub::Event;
use crate::{ErrorKind, StreamError};

const PROVIDER: &str = "bedrock";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BedrockEvent {
    content_block_index: Option<u64>,
    start: Option<Value>,
    delta: Option<Value>,
    stop_reason: Option<String>,
    usage: Option<BedrockUsage>,
    message: Option<String>,
}

/// Reads ConverseStream's event-stream frames into hub events.
#[derive(Debug, Default)]
pub(crate) struct EventDecoder {
    frames: FrameDecoder,
    /// The content-block index of each hub tool call.
    tools: Vec<u64>,
    finished: bool,
    done: bool,
}

impl EventDecoder {
    /// Decodes the next bytes; at `eof`, a stream that stopped without its metadata ends too.
    pub(crate) fn push(
        &mut self,
        chunk: &[u8],
        eof: bool,
        events: &mut Vec<Event>,
    ) -> Result<(), StreamError> {
        self.frames.push(chunk);
        loop {
            let message = self
                .frames
                .next_message(eof)
                .map_err(|e| StreamError::Malformed {
                    provider: PROVIDER,
                    reason: e.to_string(),
                })?;
            let Some(message) = message else {
                break;
            };
            self.message(&message, events)?;
        }
        if eof && self.finished && !self.done {
            self.done = true;
            events.push(Event::Done);
        }
        Ok(())
    }

    fn message(&mut self, message: &Message, events: &mut Vec<Event>) -> Result<(), StreamError> {
        let parse = || {
            serde_json::from_slice::<BedrockEvent>(&message.payload).map_err(|e| {
                StreamError::Malformed {
                    provider: PROVIDER,
                    reason: e.to_string(),
                }
            })
        };
        let kind = message.kind.as_deref().unwrap_or_default();
        match message.message_type.as_deref() {
            Some("event") => {}
            Some("exception") => {
                let text = parse()
                    .ok()
                    .and_then(|e| e.message)
                    .unwrap_or_else(|| kind.to_owned());
                return Err(StreamError::Upstream {
                    kind: exception_kind(kind),
                    message: text,
                });
            }
            _ => {
                return Err(StreamError::Upstream {
                    kind: ErrorKind::Api,
                    message: message
                        .error_message
                        .clone()
                        .unwrap_or_else(|| kind.to_owned()),
                });
            }
        }
        let event = parse()?;
        match kind {
            "messageStart" => events.push(Event::Start {
                id: None,
                model: None,
            }),
            "contentBlockStart" => {
                if let Some(tool) = event.start.as_ref().and_then(|s| s.get("toolUse")) {
                    let text = |name: &str| {
                        tool.get(name)
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned()
                    };
                    self.tools.push(event.content_block_index.unwrap_or(0));
                    events.push(Event::ToolStart {
                        index: self.tools.len() - 1,
                        id: text("toolUseId"),
                        name: text("name"),
                    });
                }
            }
            "contentBlockDelta" => self.delta(&event, events),
            "messageStop" => {
                self.finished = true;
                events.push(Event::Finish {
                    reason: event
                        .stop_reason
                        .as_deref()
                        .map_or(crate::hub::Finish::Stop, finish),
                    stop_sequence: None,
                });
            }
            "metadata" => {
                if let Some(usage) = event.usage {
                    events.push(Event::Usage(usage.usage()));
                }
                if self.finished && !self.done {
                    self.done = true;
                    events.push(Event::Done);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn delta(&self, event: &BedrockEvent, events: &mut Vec<Event>) {
        let Some(delta) = &event.delta else {
            return;
        };
        if let Some(text) = delta.get("text").and_then(Value::as_str) {
            if !text.is_empty() {
                events.push(Event::Text(text.to_owned()));
            }
        } else if let Some(input) = delta.pointer("/toolUse/input").and_then(Value::as_str) {
            let block = event.content_block_index.unwrap_or(0);
            if let Some(index) = self.tools.iter().position(|b| *b == block)
                && !input.is_empty()
            {
                events.push(Event::ToolArgs {
                    index,
                    json: input.to_owned(),
                });
            }
        }
    }
}

/// The kind of a ConverseStream exception.
fn exception_kind(exception: &str) -> ErrorKind {
    match exception {
        "throttlingException" => ErrorKind::RateLimit,
        "serviceUnavailableException" => ErrorKind::Overloaded,
        "modelTimeoutException" => ErrorKind::Timeout,
        "validationException" => ErrorKind::InvalidRequest,
        _ => ErrorKind::Api,
    }
}
