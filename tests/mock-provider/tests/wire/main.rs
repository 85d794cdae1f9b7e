//! The mock provider checked over real HTTP: each provider's wire format, whole and streamed,
//! faults, auth and recording.

// The workspace lints exempt tests; these helpers are test code too and fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod anthropic;
mod azure;
mod bedrock;
mod client;
mod faults;
mod gemini;
mod openai;
mod record;
