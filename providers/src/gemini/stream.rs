//! Gemini's `streamGenerateContent?alt=sse` stream into hub events: every event is a whole
//! `GenerateContentResponse` with the text so far added and cumulative usage; a function
//! call arrives whole. The stream has no end event: it ends when the server closes it, after
//! the chunk with the finish reason.

use serde::Deserialize;

use super::response::{GeminiResponse, call_id, finish};
use crate::hub::Event;
use crate::sse::SseDecoder;
use crate::{ErrorKind, StreamError};

const PROVIDER: &str = "gemini";

#[derive(Deserialize)]
struct GeminiStreamError {
    error: Option<GeminiErrorBody>,
}

#[derive(Deserialize)]
struct GeminiErrorBody {
    #[serde(default)]
    code: u16,
    #[serde(default)]
    message: String,
}

/// Reads Gemini's stream into hub events.
#[derive(Debug, Default)]
pub(crate) struct ChunkDecoder {
    sse: SseDecoder,
    started: bool,
    calls: usize,
    finished: bool,
    done: bool,
}

impl ChunkDecoder {
    /// Decodes the next bytes; at `eof`, a stream that gave its finish reason is done.
    pub(crate) fn push(
        &mut self,
        chunk: &[u8],
        eof: bool,
        events: &mut Vec<Event>,
    ) -> Result<(), StreamError> {
        self.sse.push(chunk);
        while let Some(event) = self.sse.next_event(eof) {
            if let Some(data) = event.data.as_deref() {
                self.chunk(data, events)?;
            }
        }
        if eof && self.finished && !self.done {
            self.done = true;
            events.push(Event::Done);
        }
        Ok(())
    }

    fn chunk(&mut self, data: &str, events: &mut Vec<Event>) -> Result<(), StreamError> {
        if crate::stream::has_object_field(data, "error")
            && let Ok(GeminiStreamError { error: Some(error) }) = serde_json::from_str(data)
        {
            let kind = match error.code {
                429 => ErrorKind::RateLimit,
                503 => ErrorKind::Overloaded,
                504 => ErrorKind::Timeout,
                _ => ErrorKind::Api,
            };
            return Err(StreamError::Upstream {
                kind,
                message: error.message,
            });
        }
        let response: GeminiResponse =
            serde_json::from_str(data).map_err(|e| StreamError::Malformed {
                provider: PROVIDER,
                reason: e.to_string(),
            })?;
        if !self.started {
            self.started = true;
            events.push(Event::Start {
                id: response.response_id.clone(),
                model: response.model_version.clone(),
            });
        }
        // Usage is cumulative; reported before this chunk's parts so that an encoder opening
        // its message on the first part already knows the prompt's size.
        if let Some(usage) = response.usage_metadata {
            events.push(Event::Usage(usage.usage()));
        }
        let blocked = response
            .prompt_feedback
            .as_ref()
            .and_then(|f| f.block_reason.as_ref())
            .is_some();
        for candidate in response.candidates.iter().take(1) {
            for part in candidate.content.iter().flat_map(|c| &c.parts) {
                if let Some(call) = &part.function_call {
                    let index = self.calls;
                    self.calls += 1;
                    events.push(Event::ToolStart {
                        index,
                        id: call_id(call, response.response_id.as_deref(), index),
                        name: call.name.clone(),
                    });
                    events.push(Event::ToolArgs {
                        index,
                        json: call.args.to_string(),
                    });
                } else if let Some(text) = part
                    .text
                    .as_ref()
                    .filter(|t| !part.thought && !t.is_empty())
                {
                    events.push(Event::Text(text.clone()));
                }
            }
            if let Some(reason) = &candidate.finish_reason {
                self.finished = true;
                events.push(Event::Finish {
                    reason: finish(reason, self.calls > 0),
                    stop_sequence: None,
                });
            }
        }
        if blocked {
            self.finished = true;
            events.push(Event::Finish {
                reason: crate::hub::Finish::ContentFilter,
                stop_sequence: None,
            });
        }
        Ok(())
    }
}
