//! A minimal hyper HTTP/1.1 client and SSE reader for the tests.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use switchyard_mock_provider::{MockConfig, MockProvider};
use tokio::net::TcpStream;

pub async fn mock() -> MockProvider {
    MockProvider::start(MockConfig::default()).await.unwrap()
}

/// A whole response.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).unwrap()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }
}

/// Sends one request on a fresh connection and returns the head with the unread body.
pub async fn open(
    mock: &MockProvider,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> hyper::Result<hyper::Response<Incoming>> {
    let stream = TcpStream::connect(mock.addr()).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", mock.addr().to_string())
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    sender
        .send_request(
            request
                .body(Full::new(Bytes::from(body.to_owned())))
                .unwrap(),
        )
        .await
}

/// Sends one request and reads the whole answer; errors (resets) come back as `Err`.
pub async fn try_send(
    mock: &MockProvider,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Answer, hyper::Error> {
    let response = open(mock, method, path, headers, body).await?;
    let (parts, incoming) = response.into_parts();
    let body = incoming.collect().await?.to_bytes();
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

pub async fn post(
    mock: &MockProvider,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> Answer {
    try_send(mock, Method::POST, path, headers, &body.to_string())
        .await
        .unwrap()
}

pub async fn get(mock: &MockProvider, path: &str, headers: &[(&str, &str)]) -> Answer {
    try_send(mock, Method::GET, path, headers, "")
        .await
        .unwrap()
}

/// One received body frame and when it arrived.
pub struct Timed {
    pub at: Duration,
    pub bytes: Bytes,
}

/// Reads body frames with their arrival times until the end, an error or `idle` without data.
/// Returns the frames and whether the body ended cleanly.
pub async fn frames(
    response: hyper::Response<Incoming>,
    start: Instant,
    idle: Duration,
) -> (Vec<Timed>, Ending) {
    let mut body = response.into_body();
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return (out, Ending::Idle),
            Ok(None) => return (out, Ending::Clean),
            Ok(Some(Err(_))) => return (out, Ending::Error),
            Ok(Some(Ok(frame))) => {
                if let Ok(bytes) = frame.into_data() {
                    out.push(Timed {
                        at: start.elapsed(),
                        bytes,
                    });
                }
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    Clean,
    Error,
    Idle,
}

/// One server-sent event.
#[derive(Debug)]
pub struct Event {
    pub name: Option<String>,
    pub data: String,
}

impl Event {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("bad event data ({e}): {}", self.data))
    }
}

/// Parses an SSE body (LF or CRLF line ends), the way a spec-following client does.
pub fn sse(body: &str) -> Vec<Event> {
    let normalized = body.replace("\r\n", "\n");
    normalized
        .split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut event = Event {
                name: None,
                data: String::new(),
            };
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event.name = Some(name.to_owned());
                } else if let Some(data) = line.strip_prefix("data: ") {
                    event.data.push_str(data);
                }
            }
            event
        })
        .collect()
}
