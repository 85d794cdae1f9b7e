//! The request recorder: what the mock received, so tests can assert what the gateway sent.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use hyper::Method;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::http::request::Parts;
use serde_json::{Map, Value, json};

/// One request as the mock received it, before any check.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// The request method.
    pub method: Method,
    /// The path, still percent-encoded as sent.
    pub path: String,
    /// The raw query string, without the `?`.
    pub query: Option<String>,
    /// Every request header.
    pub headers: HeaderMap,
    /// The whole request body.
    pub body: Bytes,
}

impl RecordedRequest {
    /// Copies a request for the record. Deep copies, because hyper's header values and body
    /// share the connection's read buffer: keeping those slices would pin one buffer per
    /// recorded request and make hyper allocate a new one for the next request.
    pub(crate) fn capture(parts: &Parts, body: &[u8]) -> Self {
        let mut headers = HeaderMap::with_capacity(parts.headers.len());
        for (name, value) in &parts.headers {
            if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
                headers.append(name.clone(), value);
            }
        }
        Self {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers,
            body: Bytes::copy_from_slice(body),
        }
    }

    /// The first value of a header, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The value of one query parameter, not percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .as_deref()?
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }

    /// The JSON shape served by `GET /_mock/requests`: headers as an object (repeated headers
    /// joined with `, `), the body as text and, when it parses, as `json`.
    pub fn to_json(&self) -> Value {
        let mut headers = Map::new();
        for (name, value) in &self.headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            match headers.get_mut(name.as_str()) {
                Some(Value::String(existing)) => {
                    existing.push_str(", ");
                    existing.push_str(&value);
                }
                _ => {
                    headers.insert(name.as_str().to_owned(), Value::from(value.into_owned()));
                }
            }
        }
        json!({
            "method": self.method.as_str(),
            "path": self.path,
            "query": self.query,
            "headers": headers,
            "body": String::from_utf8_lossy(&self.body),
            "json": self.json(),
        })
    }
}

/// A bounded, shared list of recorded requests (oldest dropped first).
#[derive(Debug)]
pub(crate) struct Recorder {
    limit: usize,
    requests: Mutex<VecDeque<RecordedRequest>>,
}

impl Recorder {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            requests: Mutex::new(VecDeque::new()),
        }
    }

    /// Whether recording is on; callers skip building a `RecordedRequest` when it is not.
    pub fn is_enabled(&self) -> bool {
        self.limit > 0
    }

    pub fn record(&self, request: RecordedRequest) {
        if self.limit == 0 {
            return;
        }
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        if requests.len() >= self.limit {
            requests.pop_front();
        }
        requests.push_back(request);
    }

    pub fn snapshot(&self) -> Vec<RecordedRequest> {
        let requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        requests.iter().cloned().collect()
    }

    pub fn clear(&self) {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
