//! Streamed responses: provider stream bytes in, client SSE bytes out, chunk-safe.
//!
//! A same-format stream passes through event by event, scanned for usage and its end. Any
//! other is decoded by the provider's decoder into hub events and written by the client
//! API's encoder; every decoder and encoder is a push state machine over whole events, so the
//! output does not depend on how the bytes were split.

use bytes::{Bytes, BytesMut};
use serde::Serialize;
use switchyard_crds::Provider;
use switchyard_crds::snapshot::Model;

use crate::hub::Event;
use crate::{
    Api, ClientRequest, ErrorKind, ErrorStyle, Usage, anthropic, bedrock, gemini, openai,
    render_error,
};

/// A provider stream that cannot be read, or that failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// An event is not what the provider's format allows.
    #[error("malformed {provider} stream event: {reason}")]
    Malformed {
        /// The provider's name.
        provider: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The provider reported an error inside the stream.
    #[error("the provider failed mid-stream: {message}")]
    Upstream {
        /// The kind the provider's error maps to.
        kind: ErrorKind,
        /// The provider's message.
        message: String,
    },
    /// The stream closed before its end event.
    #[error("the {provider} stream ended before its final event")]
    Truncated {
        /// The provider's name.
        provider: &'static str,
    },
    /// No translation exists between the client's API and this provider (build_request
    /// refuses such requests, so a stream of one is never started).
    #[error("{api} streams cannot be translated from {provider}")]
    Unsupported {
        /// The client's API.
        api: &'static str,
        /// The backend's provider.
        provider: &'static str,
    },
}

impl StreamError {
    /// The kind of the error event the client gets.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Upstream { kind, .. } => *kind,
            Self::Malformed { .. } | Self::Truncated { .. } | Self::Unsupported { .. } => {
                ErrorKind::Api
            }
        }
    }
}

/// A provider stream decoder producing hub events.
#[derive(Debug)]
enum Decoder {
    OpenAi(openai::ChunkDecoder),
    Anthropic(anthropic::EventDecoder),
    Gemini(gemini::ChunkDecoder),
    Bedrock(bedrock::EventDecoder),
}

/// A client-API stream encoder consuming hub events.
#[derive(Debug)]
enum Encoder {
    OpenAi(openai::ChunkEncoder),
    Anthropic(anthropic::EventEncoder),
}

#[derive(Debug)]
enum Inner {
    OpenAiPassthrough(openai::PassthroughScanner),
    AnthropicPassthrough(anthropic::PassthroughScanner),
    Translate {
        decoder: Decoder,
        encoder: Encoder,
        events: Vec<Event>,
    },
    Unsupported,
}

/// Translates one streamed response. Feed it the provider's bytes in whatever chunks they
/// arrive (chunks may split events and UTF-8 sequences); it appends client SSE bytes to `out`.
#[derive(Debug)]
pub struct StreamTranslator {
    api: Api,
    provider: Provider,
    inner: Inner,
    usage: Usage,
    done: bool,
}

impl StreamTranslator {
    /// A translator for `request` answered by `model`.
    pub fn new(request: &ClientRequest, model: &Model) -> Self {
        let api = request.api();
        let openai_family = matches!(
            model.provider,
            Provider::OpenAi | Provider::AzureOpenAi | Provider::OpenAiCompatible
        );
        let inner = match (api, model.provider) {
            (Api::ChatCompletions | Api::Completions | Api::Responses, _) if openai_family => {
                Inner::OpenAiPassthrough(openai::PassthroughScanner::new(request))
            }
            (Api::Messages, Provider::Anthropic) => {
                Inner::AnthropicPassthrough(anthropic::PassthroughScanner::default())
            }
            (Api::ChatCompletions | Api::Messages, provider) => {
                let decoder = match provider {
                    Provider::Anthropic => Decoder::Anthropic(anthropic::EventDecoder::default()),
                    Provider::Gemini => Decoder::Gemini(gemini::ChunkDecoder::default()),
                    Provider::Bedrock => Decoder::Bedrock(bedrock::EventDecoder::default()),
                    _ => Decoder::OpenAi(openai::ChunkDecoder::default()),
                };
                let encoder = if api == Api::Messages {
                    Encoder::Anthropic(anthropic::EventEncoder::new(request, &model.model))
                } else {
                    Encoder::OpenAi(openai::ChunkEncoder::new(request, &model.model))
                };
                Inner::Translate {
                    decoder,
                    encoder,
                    events: Vec::new(),
                }
            }
            _ => Inner::Unsupported,
        };
        Self {
            api,
            provider: model.provider,
            inner,
            usage: Usage::default(),
            done: false,
        }
    }

    /// Translates the next chunk of provider bytes.
    pub fn push(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), StreamError> {
        self.feed(chunk, false, out)
    }

    /// Ends the stream (the provider closed it) and returns the usage it reported; a stream
    /// that closed before its final event is [`StreamError::Truncated`].
    pub fn finish(&mut self, out: &mut BytesMut) -> Result<Usage, StreamError> {
        self.feed(&[], true, out)?;
        if !self.done {
            return Err(StreamError::Truncated {
                provider: self.provider.as_str(),
            });
        }
        Ok(self.usage)
    }

    fn feed(&mut self, chunk: &[u8], eof: bool, out: &mut BytesMut) -> Result<(), StreamError> {
        match &mut self.inner {
            Inner::OpenAiPassthrough(scanner) => {
                let result = scanner.push(chunk, eof, out);
                (self.usage, self.done) = (scanner.usage, scanner.done);
                result
            }
            Inner::AnthropicPassthrough(scanner) => {
                let result = scanner.push(chunk, eof, out);
                (self.usage, self.done) = (scanner.usage, scanner.done);
                result
            }
            Inner::Translate {
                decoder,
                encoder,
                events,
            } => {
                events.clear();
                let result = match decoder {
                    Decoder::OpenAi(d) => d.push(chunk, eof, events),
                    Decoder::Anthropic(d) => d.push(chunk, eof, events),
                    Decoder::Gemini(d) => d.push(chunk, eof, events),
                    Decoder::Bedrock(d) => d.push(chunk, eof, events),
                };
                // Events decoded before an error still reach the client, then the error.
                for event in events.iter() {
                    match event {
                        Event::Usage(usage) => self.usage = *usage,
                        Event::Done => self.done = true,
                        _ => {}
                    }
                    match encoder {
                        Encoder::OpenAi(e) => e.encode(event, out),
                        Encoder::Anthropic(e) => e.encode(event, out),
                    }
                }
                result
            }
            Inner::Unsupported => Err(StreamError::Unsupported {
                api: self.api.as_str(),
                provider: self.provider.as_str(),
            }),
        }
    }

    /// The usage reported so far (for a stream that failed midway).
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// The SSE event that ends a stream which failed after it started.
    pub fn error_event(&self, kind: ErrorKind, message: &str) -> Bytes {
        let mut event = BytesMut::new();
        match self.api {
            Api::Messages => {
                let body = render_error(ErrorStyle::Anthropic, kind, message);
                event.extend_from_slice(b"event: error\ndata: ");
                event.extend_from_slice(&body);
                event.extend_from_slice(b"\n\n");
            }
            // The Responses API's own error event, as its SDKs read it.
            Api::Responses => write_event(
                &mut event,
                "error",
                &serde_json::json!({
                    "type": "error", "code": kind.as_str(), "message": message, "param": null,
                }),
            ),
            Api::ChatCompletions | Api::Completions | Api::Embeddings => {
                let body = render_error(ErrorStyle::OpenAi, kind, message);
                event.extend_from_slice(b"data: ");
                event.extend_from_slice(&body);
                event.extend_from_slice(b"\n\n");
            }
        }
        event.freeze()
    }
}

/// Appends `data: JSON\n\n`.
pub(crate) fn write_data(out: &mut BytesMut, value: &impl Serialize) {
    out.extend_from_slice(b"data: ");
    write_json(out, value);
    out.extend_from_slice(b"\n\n");
}

/// Appends `event: NAME\ndata: JSON\n\n`.
pub(crate) fn write_event(out: &mut BytesMut, name: &str, value: &impl Serialize) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    write_json(out, value);
    out.extend_from_slice(b"\n\n");
}

/// Serializes into `out`; a `serde_json::Value` always serializes, so `null` is never written.
fn write_json(out: &mut BytesMut, value: &impl Serialize) {
    match serde_json::to_vec(value) {
        Ok(bytes) => out.extend_from_slice(&bytes),
        Err(_) => out.extend_from_slice(b"null"),
    }
}

/// Whether JSON text has `"name":` followed by an object, a cheap filter before parsing (a
/// match inside a string value is possible, so the parse decides).
pub(crate) fn has_object_field(data: &str, name: &str) -> bool {
    let needle = format!("\"{name}\"");
    data.match_indices(&needle).any(|(at, _)| {
        let rest = data[at + needle.len()..].trim_start();
        rest.strip_prefix(':')
            .is_some_and(|rest| rest.trim_start().starts_with('{'))
    })
}
