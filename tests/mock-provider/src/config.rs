//! Instance configuration: where to listen, which key to expect, and the default [`Behavior`].

use std::net::{Ipv4Addr, SocketAddr};

use serde::{Deserialize, Serialize};

/// How one mock provider instance is set up; everything has a test-friendly default.
#[derive(Clone, Debug)]
pub struct MockConfig {
    /// Address to bind; the default `127.0.0.1:0` picks a free port.
    pub bind: SocketAddr,
    /// The credential every provider's auth header must carry (`Authorization: Bearer`,
    /// `api-key`, `x-api-key`, `x-goog-api-key` or `?key=`, Bedrock's Bearer API key).
    /// `None` accepts any non-empty credential. Default: `Some("mock-key")`.
    pub api_key: Option<String>,
    /// The AWS access key id a Bedrock SigV4 `Credential=` must name; `None` accepts any.
    pub aws_access_key_id: Option<String>,
    /// How many requests the recorder keeps (oldest dropped first); 0 turns recording off.
    pub record_limit: usize,
    /// Model ids listed by `GET /v1/models`.
    pub models: Vec<String>,
    /// What every request gets unless its `x-mock-*` headers say otherwise.
    pub behavior: Behavior,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            api_key: Some("mock-key".to_owned()),
            aws_access_key_id: None,
            record_limit: 10_000,
            models: vec![
                "gpt-4o-mini".to_owned(),
                "gpt-4o".to_owned(),
                "text-embedding-3-small".to_owned(),
            ],
            behavior: Behavior::default(),
        }
    }
}

/// Instance-wide defaults for the per-request controls; field names match the `x-mock-*`
/// headers (`latency_ms` is `x-mock-latency-ms`), and a header always wins over the field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Behavior {
    /// Delay before the response headers, in milliseconds.
    pub latency_ms: u64,
    /// Delay between the stream's opening events and its first content event, in milliseconds;
    /// a non-streaming answer waits for it too.
    pub ttft_ms: u64,
    /// Delay between content events, in milliseconds; a non-streaming answer waits for the
    /// whole stream's worth of it.
    pub chunk_delay_ms: u64,
    /// Number of content events the answer is split into (default: one per word).
    pub chunks: Option<usize>,
    /// Number of words (tokens) in the answer, cycling over the echoed text.
    pub tokens: Option<usize>,
    /// Exact answer text instead of the echo.
    pub reply: Option<String>,
    /// Status to answer with instead of a completion, in the provider's error format.
    pub status: Option<u16>,
    /// Seconds for the `Retry-After` header of an injected error.
    pub retry_after: Option<u64>,
    /// A connection or stream fault to inject.
    pub fault: Option<Fault>,
    /// How long a stall lasts in milliseconds before the answer resumes; `None` stalls until
    /// the client gives up.
    pub stall_ms: Option<u64>,
    /// Cached input tokens to report in usage (capped at the input tokens).
    pub cached_tokens: u64,
    /// Cache-write input tokens to report (Anthropic, Bedrock).
    pub cache_write_tokens: u64,
    /// Reasoning tokens to report (OpenAI, Gemini).
    pub reasoning_tokens: u64,
    /// Apply `status` and `fault` to this many requests only, then answer normally;
    /// `None` applies them to every request. Only meaningful at the instance level.
    pub times: Option<u64>,
}

/// A fault the mock injects instead of (or in the middle of) a normal answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// Reset the TCP connection (RST) before any response byte.
    Reset,
    /// Read the request and send nothing for `stall_ms` (or forever).
    Stall,
    /// Send the headers and half the content events, then reset the connection.
    ResetMidStream,
    /// Send the headers and half the content events, then send nothing for `stall_ms`.
    StallMidStream,
    /// Send half the content events, then the provider's in-stream error event, then end.
    ErrorMidStream,
    /// Answer 200 with a body that is not valid JSON (or a stream event that is not).
    Malformed,
}

impl Fault {
    /// The name used in `x-mock-fault` and in `Behavior` JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Reset => "reset",
            Self::Stall => "stall",
            Self::ResetMidStream => "reset-mid-stream",
            Self::StallMidStream => "stall-mid-stream",
            Self::ErrorMidStream => "error-mid-stream",
            Self::Malformed => "malformed",
        }
    }

    /// Parses an `x-mock-fault` value.
    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Reset,
            Self::Stall,
            Self::ResetMidStream,
            Self::StallMidStream,
            Self::ErrorMidStream,
            Self::Malformed,
        ]
        .into_iter()
        .find(|fault| fault.name() == value)
    }
}
