//! `switchyard-bench-stream`: sends streaming OpenAI chat completions one after another over one
//! keep-alive HTTP/1.1 connection and measures, per request, the time to the first content
//! chunk and the gaps between consecutive content chunks as the client sees them.
//!
//! The prompt has `--chunks` words; the mock provider echoes it one word per content event, so
//! the answer streams in that many chunks through any gateway without special headers.
//!
//! Prints one line of `key=value` pairs (times in microseconds) for scripts:
//! `requests=200 chunks_min=64 chunks_max=64 ttft_p50_us=… ttft_p99_us=… gap_p50_us=…
//! gap_p99_us=… stream_p50_us=… stream_p99_us=…`.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

/// Streaming latency client for the gateway benchmark (tests/bench/gateways.sh).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The chat completions URL, plain HTTP: `http://127.0.0.1:PORT/v1/chat/completions`.
    #[arg(long)]
    url: hyper::Uri,
    /// Measured requests.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Requests sent first and not measured.
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    /// Words in the prompt, so content chunks in the echoed answer.
    #[arg(long, default_value_t = 64)]
    chunks: usize,
    /// The model to ask for.
    #[arg(long, default_value = "gpt-4o-mini")]
    model: String,
    /// An extra request header, `name: value`; repeatable.
    #[arg(long = "header", value_parser = parse_header)]
    headers: Vec<(HeaderName, HeaderValue)>,
}

fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("expected `name: value`, got {text:?}"))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|e| e.to_string())?;
    let value = HeaderValue::from_str(value.trim()).map_err(|e| e.to_string())?;
    Ok((name, value))
}

/// What one streamed answer looked like from the client.
#[derive(Debug)]
struct Sample {
    ttft: Duration,
    gaps: Vec<Duration>,
    total: Duration,
    chunks: usize,
}

/// One keep-alive connection, reopened if the server closes it.
struct Client {
    authority: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Client {
    async fn sender(&mut self) -> anyhow::Result<&mut SendRequest<Full<Bytes>>> {
        let reusable = match self.sender.as_mut() {
            Some(sender) => sender.ready().await.is_ok(),
            None => false,
        };
        if !reusable {
            let stream = TcpStream::connect(&self.authority)
                .await
                .with_context(|| format!("connecting to {}", self.authority))?;
            stream.set_nodelay(true).context("setting TCP_NODELAY")?;
            let (sender, connection) = http1::handshake(TokioIo::new(stream))
                .await
                .context("HTTP/1.1 handshake")?;
            tokio::spawn(connection);
            self.sender = Some(sender);
        }
        self.sender
            .as_mut()
            .context("no connection after connecting")
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.url.scheme_str() != Some("http") {
        bail!("only plain http:// URLs are supported, got {}", args.url);
    }
    let authority = args
        .url
        .authority()
        .context("the URL has no host:port")?
        .to_string();
    // Origin-form request target (`/v1/...`): hyper sends a full URI as absolute-form, which
    // some servers (Portkey's node server) reject.
    let path: hyper::Uri = args
        .url
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .context("the URL's path")?;
    let words: Vec<String> = (0..args.chunks).map(|i| format!("w{i}")).collect();
    let body = Bytes::from(serde_json::to_vec(&json!({
        "model": args.model,
        "stream": true,
        "messages": [{"role": "user", "content": words.join(" ")}],
    }))?);
    let mut client = Client {
        authority: authority.clone(),
        sender: None,
    };
    let mut samples = Vec::with_capacity(args.requests);
    for i in 0..args.warmup + args.requests {
        let mut request = Request::post(path.clone())
            .header(HOST, &authority)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(body.clone()))
            .context("building the request")?;
        request.headers_mut().extend(args.headers.iter().cloned());
        let sample = stream_once(&mut client, request)
            .await
            .with_context(|| format!("request {i}"))?;
        if i >= args.warmup {
            samples.push(sample);
        }
    }
    report(&samples)
}

async fn stream_once(client: &mut Client, request: Request<Full<Bytes>>) -> anyhow::Result<Sample> {
    let sender = client.sender().await?;
    let start = Instant::now();
    let response = sender
        .send_request(request)
        .await
        .context("sending the request")?;
    let status = response.status();
    let mut body = response.into_body();
    if !status.is_success() {
        let text = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        bail!("status {status}: {}", String::from_utf8_lossy(&text));
    }
    let mut pending = Vec::new();
    let mut arrivals = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.context("reading the stream")?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let now = Instant::now();
        pending.extend_from_slice(&data);
        let content = take_content_events(&mut pending);
        arrivals.extend(std::iter::repeat_n(now, content));
    }
    let total = start.elapsed();
    let Some(first) = arrivals.first() else {
        bail!("the stream had no content chunk");
    };
    Ok(Sample {
        ttft: *first - start,
        gaps: arrivals.windows(2).map(|w| w[1] - w[0]).collect(),
        total,
        chunks: arrivals.len(),
    })
}

/// Removes the complete lines from `pending` and counts the SSE `data:` events among them
/// whose `choices[0].delta.content` is a non-empty string.
fn take_content_events(pending: &mut Vec<u8>) -> usize {
    let Some(end) = pending.iter().rposition(|b| *b == b'\n') else {
        return 0;
    };
    let lines: Vec<u8> = pending.drain(..=end).collect();
    lines
        .split(|b| *b == b'\n')
        .filter_map(|line| line.strip_prefix(b"data:"))
        .filter(|data| is_content(data))
        .count()
}

fn is_content(data: &[u8]) -> bool {
    let Ok(event) = serde_json::from_slice::<Value>(data.trim_ascii()) else {
        return false;
    };
    event
        .pointer("/choices/0/delta/content")
        .and_then(Value::as_str)
        .is_some_and(|text| !text.is_empty())
}

fn report(samples: &[Sample]) -> anyhow::Result<()> {
    if samples.is_empty() {
        bail!("no measured requests");
    }
    let mut ttft: Vec<Duration> = samples.iter().map(|s| s.ttft).collect();
    let mut gaps: Vec<Duration> = samples.iter().flat_map(|s| s.gaps.clone()).collect();
    let mut total: Vec<Duration> = samples.iter().map(|s| s.total).collect();
    let chunks_min = samples.iter().map(|s| s.chunks).min().unwrap_or(0);
    let chunks_max = samples.iter().map(|s| s.chunks).max().unwrap_or(0);
    let line = format!(
        "requests={} chunks_min={chunks_min} chunks_max={chunks_max} ttft_p50_us={:.1} \
         ttft_p99_us={:.1} gap_p50_us={:.1} gap_p99_us={:.1} stream_p50_us={:.1} \
         stream_p99_us={:.1}",
        samples.len(),
        micros(percentile(&mut ttft, 50.0)),
        micros(percentile(&mut ttft, 99.0)),
        micros(percentile(&mut gaps, 50.0)),
        micros(percentile(&mut gaps, 99.0)),
        micros(percentile(&mut total, 50.0)),
        micros(percentile(&mut total, 99.0)),
    );
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").context("writing the result")?;
    Ok(())
}

/// Nearest-rank percentile; zero for no values.
fn percentile(values: &mut [Duration], p: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort_unstable();
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_complete_content_events() {
        let mut pending =
            b"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n\
            data: {\"choices\":[{\"delta\":{\"content\":\"w0\"}}]}\n\n\
            data: {\"choices\":[{\"delta\":{\"content\":\"w1\"}}]}\n\ndata: {\"choi"
                .to_vec();
        assert_eq!(take_content_events(&mut pending), 2);
        assert_eq!(pending, b"data: {\"choi");
        pending.extend_from_slice(
            b"ces\":[{\"delta\":{\"content\":\" w2\"}}]}\r\n\r\ndata: [DONE]\n\n",
        );
        assert_eq!(take_content_events(&mut pending), 1);
        assert!(pending.is_empty());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut values: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        assert_eq!(percentile(&mut values, 50.0), Duration::from_micros(50));
        assert_eq!(percentile(&mut values, 99.0), Duration::from_micros(99));
        assert_eq!(percentile(&mut [], 99.0), Duration::ZERO);
    }
}
