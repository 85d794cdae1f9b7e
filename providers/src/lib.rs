//! Provider adapters: pure translation between the APIs clients call (OpenAI and Anthropic) and
//! the APIs providers serve. Data in, data out: no IO, no clock (the time is passed in), no
//! randomness, so every translation has golden tests.
//!
//! The proxy calls, per request: [`ClientRequest::parse`] once (routing needs the model and
//! `stream`), then per attempt [`build_request`] for the chosen backend, then
//! [`translate_response`] (2xx, not streamed) or a [`StreamTranslator`] (2xx, streamed), or
//! [`parse_error`] for any other status. [`render_error`] and [`StreamTranslator::error_event`]
//! write the errors a client sees.

mod api;
mod errors;
mod request;
mod stream;
mod usage;

pub use api::{Api, ErrorStyle};
pub use errors::{ErrorKind, RequestError, UpstreamError, render_error};
pub use request::{ClientRequest, UpstreamRequest, build_request};
pub use stream::{StreamError, StreamTranslator};
pub use usage::{Translated, Usage, translate_response};

pub use errors::parse_error;
