//! Provider adapters: pure translation between the APIs clients call (OpenAI and Anthropic) and
//! the APIs providers serve. Data in, data out: no IO, no clock (the time is passed in), no
//! randomness, so every translation has golden tests.
//!
//! The proxy calls, per request: [`ClientRequest::parse`] once (routing needs the model and
//! `stream`), then per attempt [`build_request`] for the chosen backend, then
//! [`translate_response`] (2xx, not streamed) or a [`StreamTranslator`] (2xx, streamed), or
//! [`parse_error`] for any other status. [`render_error`] and [`StreamTranslator::error_event`]
//! write the errors a client sees.
//!
//! Inside, each provider family has one module (named as `AIModel.spec.provider`) that
//! converts to and from the `hub` model; same-format calls pass through with only the edits
//! the route needs.
//!
//! | client API ↓ / provider → | openai, azure-openai, openai-compatible | anthropic | gemini | bedrock |
//! |---|---|---|---|---|
//! | chat completions | passthrough | hub | hub | hub |
//! | messages | hub | passthrough | hub | hub |
//! | completions, responses | passthrough | — | — | — |
//! | embeddings | passthrough | — | `batchEmbedContents` | — |
//!
//! "—" and any field a provider cannot take are [`RequestError::Unsupported`]. Translated
//! answers reuse the provider's id (or derive one from the request body: Bedrock gives none)
//! and take `created` from [`ClientRequest::set_received_at`], so they are deterministic.

mod anthropic;
mod api;
mod azure_openai;
mod bedrock;
mod errors;
mod fields;
mod gemini;
mod hub;
mod openai;
mod prompt;
mod request;
mod response;
mod sse;
mod stream;
mod transforms;
mod usage;

pub use api::{Api, ErrorStyle};
pub use errors::{ErrorKind, RequestError, UpstreamError, parse_error, render_error};
pub use request::{ClientRequest, UpstreamRequest, build_request};
pub use response::{Translated, translate_response};
pub use stream::{StreamError, StreamTranslator};
pub use usage::Usage;
