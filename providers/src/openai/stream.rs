//! OpenAI-format streams: chat chunks to and from hub events, and the cheap scan of a stream
//! that passes through (usage and end only; the usage-only chunk is dropped if the client did
//! not ask for it).

use bytes::BytesMut;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use super::response::{OpenAiUsage, finish, usage_json};
use crate::hub::{Event, Finish};
use crate::sse::{SseDecoder, SseEvent};
use crate::stream::{has_object_field, write_data};
use crate::{ClientRequest, ErrorKind, StreamError, Usage};

const PROVIDER: &str = "openai";

#[derive(Deserialize)]
struct OpenAiChunk {
    #[serde(default)]
    id: String,
    model: Option<String>,
    #[serde(default)]
    choices: Vec<OpenAiChunkChoice>,
    usage: Option<OpenAiUsage>,
}

#[derive(Deserialize)]
struct OpenAiChunkChoice {
    #[serde(default)]
    delta: OpenAiDelta,
    finish_reason: Option<String>,
}

#[derive(Default, Deserialize)]
struct OpenAiDelta {
    content: Option<String>,
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Vec<OpenAiToolDelta>,
}

#[derive(Deserialize)]
struct OpenAiToolDelta {
    #[serde(default)]
    index: u64,
    id: Option<String>,
    function: Option<OpenAiFunctionDelta>,
}

#[derive(Deserialize)]
struct OpenAiFunctionDelta {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct OpenAiStreamError {
    error: Option<OpenAiErrorBody>,
}

#[derive(Deserialize)]
struct OpenAiErrorBody {
    #[serde(default)]
    message: String,
}

/// The error an in-stream `{"error":{...}}` event reports, if `data` is one.
fn stream_error(data: &str) -> Option<StreamError> {
    if !has_object_field(data, "error") {
        return None;
    }
    let body = serde_json::from_str::<OpenAiStreamError>(data)
        .ok()?
        .error?;
    Some(StreamError::Upstream {
        kind: ErrorKind::Api,
        message: body.message,
    })
}

fn malformed(error: &serde_json::Error) -> StreamError {
    StreamError::Malformed {
        provider: PROVIDER,
        reason: error.to_string(),
    }
}

/// Reads chat-completion chunks into hub events.
#[derive(Debug, Default)]
pub(crate) struct ChunkDecoder {
    sse: SseDecoder,
    started: bool,
    finished: bool,
    done: bool,
    /// OpenAI's tool-call index of each hub tool call.
    tools: Vec<u64>,
}

impl ChunkDecoder {
    /// Decodes the next bytes; with `eof`, what is left too (a stream cut after its finish
    /// reason still ends).
    pub(crate) fn push(
        &mut self,
        chunk: &[u8],
        eof: bool,
        events: &mut Vec<Event>,
    ) -> Result<(), StreamError> {
        self.sse.push(chunk);
        while let Some(event) = self.sse.next_event(eof) {
            self.event(&event, events)?;
        }
        if eof && self.finished && !self.done {
            self.done = true;
            events.push(Event::Done);
        }
        Ok(())
    }

    fn event(&mut self, event: &SseEvent, events: &mut Vec<Event>) -> Result<(), StreamError> {
        let Some(data) = event.data.as_deref() else {
            return Ok(());
        };
        if data.trim() == "[DONE]" {
            if !self.done {
                self.done = true;
                events.push(Event::Done);
            }
            return Ok(());
        }
        if let Some(error) = stream_error(data) {
            return Err(error);
        }
        let chunk: OpenAiChunk = serde_json::from_str(data).map_err(|e| malformed(&e))?;
        if !self.started && !chunk.id.is_empty() {
            self.started = true;
            events.push(Event::Start {
                id: Some(chunk.id),
                model: chunk.model,
            });
        }
        for choice in chunk.choices {
            self.delta(choice.delta, events);
            if let Some(reason) = choice.finish_reason {
                self.finished = true;
                events.push(Event::Finish {
                    reason: finish(&reason),
                    stop_sequence: None,
                });
            }
        }
        if let Some(usage) = chunk.usage {
            events.push(Event::Usage(usage.usage()));
        }
        Ok(())
    }

    fn delta(&mut self, delta: OpenAiDelta, events: &mut Vec<Event>) {
        if let Some(text) = delta.content.or(delta.refusal).filter(|t| !t.is_empty()) {
            events.push(Event::Text(text));
        }
        for call in delta.tool_calls {
            let function = call.function.unwrap_or(OpenAiFunctionDelta {
                name: None,
                arguments: None,
            });
            let known = self.tools.iter().position(|i| *i == call.index);
            let index = match (known, call.id) {
                (Some(index), _) => index,
                (None, id) => {
                    self.tools.push(call.index);
                    let index = self.tools.len() - 1;
                    events.push(Event::ToolStart {
                        index,
                        id: id.unwrap_or_else(|| format!("call_{index}")),
                        name: function.name.clone().unwrap_or_default(),
                    });
                    index
                }
            };
            if let Some(json) = function.arguments.filter(|a| !a.is_empty()) {
                events.push(Event::ToolArgs { index, json });
            }
        }
    }
}

/// Writes hub events as chat-completion chunks for a chat client.
#[derive(Debug)]
pub(crate) struct ChunkEncoder {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    started: bool,
    finish: Finish,
    usage: Usage,
}

impl ChunkEncoder {
    /// An encoder for `request`, answered by `model` (named until the provider names one).
    pub(crate) fn new(request: &ClientRequest, model: &str) -> Self {
        Self {
            id: request.derived_id("chatcmpl-"),
            model: model.to_owned(),
            created: request.created(),
            include_usage: request.include_usage(),
            started: false,
            finish: Finish::Stop,
            usage: Usage::default(),
        }
    }

    /// Writes one event.
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
                self.start(out);
            }
            Event::Text(text) => {
                self.start(out);
                self.chunk(out, &json!({"content": text}), None);
            }
            Event::ToolStart { index, id, name } => {
                self.start(out);
                let call = json!({
                    "index": index, "id": id, "type": "function",
                    "function": {"name": name, "arguments": ""},
                });
                self.chunk(out, &json!({"tool_calls": [call]}), None);
            }
            Event::ToolArgs { index, json } => {
                let call = json!({"index": index, "function": {"arguments": json}});
                self.chunk(out, &json!({"tool_calls": [call]}), None);
            }
            Event::Finish { reason, .. } => self.finish = *reason,
            Event::Usage(usage) => self.usage = *usage,
            Event::Done => {
                self.start(out);
                self.chunk(out, &json!({}), Some(self.finish.openai()));
                if self.include_usage {
                    write_data(
                        out,
                        &json!({
                            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
                            "model": self.model, "choices": [], "usage": usage_json(&self.usage),
                        }),
                    );
                }
                out.extend_from_slice(b"data: [DONE]\n\n");
            }
        }
    }

    fn start(&mut self, out: &mut BytesMut) {
        if !self.started {
            self.started = true;
            self.chunk(out, &json!({"role": "assistant", "content": ""}), None);
        }
    }

    fn chunk(&self, out: &mut BytesMut, delta: &Value, finish: Option<&str>) {
        write_data(
            out,
            &json!({
                "id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model,
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
            }),
        );
    }
}

#[derive(Deserialize)]
struct UsageChunk {
    #[serde(default)]
    choices: Vec<IgnoredAny>,
    usage: Option<OpenAiUsage>,
}

#[derive(Deserialize)]
struct ResponsesTerminal {
    response: ResponsesUsage,
}

#[derive(Deserialize)]
struct ResponsesUsage {
    usage: Option<OpenAiUsage>,
}

/// Scans an OpenAI-format stream that passes through, event by event.
#[derive(Debug)]
pub(crate) struct PassthroughScanner {
    sse: SseDecoder,
    /// The Responses API's named events rather than chat or completion chunks.
    responses: bool,
    /// Drop the usage-only chunk (the client did not ask for it).
    strip_usage: bool,
    /// The usage reported so far.
    pub(crate) usage: Usage,
    /// Whether the stream ended properly.
    pub(crate) done: bool,
}

impl PassthroughScanner {
    /// A scanner for a client of `request`'s API.
    pub(crate) fn new(request: &ClientRequest) -> Self {
        Self {
            sse: SseDecoder::default(),
            responses: request.api() == crate::Api::Responses,
            strip_usage: !request.include_usage(),
            usage: Usage::default(),
            done: false,
        }
    }

    /// Forwards each whole event that arrived; with `eof`, the rest too.
    pub(crate) fn push(
        &mut self,
        chunk: &[u8],
        eof: bool,
        out: &mut BytesMut,
    ) -> Result<(), StreamError> {
        self.sse.push(chunk);
        while let Some(event) = self.sse.next_event(eof) {
            if self.keep(&event)? {
                out.extend_from_slice(&event.raw);
            }
        }
        Ok(())
    }

    fn keep(&mut self, event: &SseEvent) -> Result<bool, StreamError> {
        let Some(data) = event.data.as_deref() else {
            return Ok(true);
        };
        if self.responses {
            return self.responses_event(event.event.as_deref(), data);
        }
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(true);
        }
        if let Some(error) = stream_error(data) {
            return Err(error);
        }
        if !has_object_field(data, "usage") {
            return Ok(true);
        }
        let chunk: UsageChunk = serde_json::from_str(data).map_err(|e| malformed(&e))?;
        let Some(usage) = chunk.usage else {
            return Ok(true);
        };
        self.usage = usage.usage();
        Ok(!(self.strip_usage && chunk.choices.is_empty()))
    }

    fn responses_event(&mut self, name: Option<&str>, data: &str) -> Result<bool, StreamError> {
        match name {
            Some("response.completed" | "response.incomplete" | "response.failed") => {
                let terminal: ResponsesTerminal =
                    serde_json::from_str(data).map_err(|e| malformed(&e))?;
                if let Some(usage) = terminal.response.usage {
                    self.usage = usage.usage();
                }
                self.done = true;
            }
            Some("error") => {
                let message = serde_json::from_str::<Value>(data)
                    .ok()
                    .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_else(|| data.to_owned());
                return Err(StreamError::Upstream {
                    kind: ErrorKind::Api,
                    message,
                });
            }
            _ => {}
        }
        Ok(true)
    }
}
