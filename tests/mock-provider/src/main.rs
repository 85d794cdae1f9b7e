//! `switchyard-mock-provider`: serves the mock provider until interrupted.
//!
//! The first stdout line is `listening on ADDR`, for scripts that start it on `--port 0`.

use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use clap::Parser;
use switchyard_mock_provider::{Behavior, Fault, MockConfig, MockProvider};

/// A mock LLM provider speaking the OpenAI, Azure OpenAI, Anthropic, Gemini and Bedrock wire
/// formats, with scripted latency and faults.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Credential every provider's auth header must carry.
    #[arg(long, env = "MOCK_PROVIDER_API_KEY", default_value = "mock-key")]
    api_key: String,
    /// Accept any non-empty credential instead of `--api-key`.
    #[arg(long)]
    any_key: bool,
    /// AWS access key id a Bedrock SigV4 credential must name (default: any).
    #[arg(long)]
    aws_access_key_id: Option<String>,
    /// Requests kept for `GET /_mock/requests`; 0 turns recording off.
    #[arg(long, default_value_t = 10_000)]
    record_limit: usize,
    /// Default delay before response headers, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Default delay before the first content event, in milliseconds.
    #[arg(long, default_value_t = 0)]
    ttft_ms: u64,
    /// Default delay between content events, in milliseconds.
    #[arg(long, default_value_t = 0)]
    chunk_delay_ms: u64,
    /// Default status to answer every request with (in the provider's error format).
    #[arg(long)]
    status: Option<u16>,
    /// Default fault to inject (reset, stall, reset-mid-stream, stall-mid-stream, ...).
    #[arg(long, value_parser = |s: &str| Fault::parse(s).ok_or("unknown fault"))]
    fault: Option<Fault>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = MockConfig {
        bind: SocketAddr::new(args.host, args.port),
        api_key: (!args.any_key).then_some(args.api_key),
        aws_access_key_id: args.aws_access_key_id,
        record_limit: args.record_limit,
        behavior: Behavior {
            latency_ms: args.latency_ms,
            ttft_ms: args.ttft_ms,
            chunk_delay_ms: args.chunk_delay_ms,
            status: args.status,
            fault: args.fault,
            ..Behavior::default()
        },
        ..MockConfig::default()
    };
    let mock = MockProvider::start(config)
        .await
        .context("starting the mock provider")?;
    announce(mock.addr());
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    drop(mock);
    Ok(())
}

#[allow(
    clippy::print_stdout,
    reason = "the address line is the binary's machine-readable output"
)]
fn announce(addr: SocketAddr) {
    use std::io::Write;
    println!("listening on {addr}");
    // Scripts read this line through a pipe, where stdout is block-buffered.
    let _ = std::io::stdout().flush();
}
