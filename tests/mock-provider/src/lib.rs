//! A mock LLM provider speaking the real wire formats of the providers Switchyard supports.
//!
//! It answers OpenAI (chat completions, completions, embeddings, models, responses), Azure
//! OpenAI, Anthropic messages, Gemini `generateContent` and Bedrock Converse with deterministic,
//! echo-derived content, in each provider's own streaming format, error bodies and auth scheme.
//! Latency, time to first token, chunking, injected statuses and connection faults are set per
//! instance ([`Behavior`] in [`MockConfig`], or `PUT /_mock/behavior`) and per request
//! (`x-mock-*` headers, see [`controls`]). Every request is recorded for tests to assert on.
//!
//! ```no_run
//! # async fn demo() -> Result<(), switchyard_mock_provider::MockError> {
//! use switchyard_mock_provider::{MockConfig, MockProvider};
//! let mock = MockProvider::start(MockConfig::default()).await?;
//! let url = format!("{}/v1/chat/completions", mock.base_url());
//! // ... point the gateway at `url`, send it requests, then check what it forwarded:
//! for request in mock.requests() {
//!     assert_eq!(request.header("authorization"), Some("Bearer mock-key"));
//! }
//! # Ok(()) }
//! ```

mod admin;
mod anthropic;
mod azure;
mod bedrock;
mod body;
mod config;
pub mod controls;
mod error;
mod faults;
mod gemini;
mod openai;
mod record;
mod reply;
mod router;
mod server;
mod sse;

pub use config::{Behavior, Fault, MockConfig};
pub use error::MockError;
pub use record::RecordedRequest;
pub use server::MockProvider;
