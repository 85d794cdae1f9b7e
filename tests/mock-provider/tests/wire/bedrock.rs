//! Bedrock Converse and ConverseStream, decoded from the AWS event-stream framing with CRCs
//! checked.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::client::{mock, post};

const SIGV4: (&str, &str) = (
    "authorization",
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/bedrock/aws4_request, \
     SignedHeaders=host;x-amz-date, Signature=abc123",
);
const DATE: (&str, &str) = ("x-amz-date", "20250101T000000Z");
const MODEL: &str = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0";

/// One decoded event-stream message.
#[derive(Debug)]
struct Message {
    headers: BTreeMap<String, String>,
    payload: Value,
}

/// Decodes event-stream messages, checking both CRCs of each.
fn decode(mut bytes: &[u8]) -> Vec<Message> {
    let be32 = |b: &[u8]| u32::from_be_bytes(b[..4].try_into().unwrap());
    let mut messages = Vec::new();
    while !bytes.is_empty() {
        let total = be32(&bytes[0..]) as usize;
        let headers_len = be32(&bytes[4..]) as usize;
        assert_eq!(
            be32(&bytes[8..]),
            crc32fast::hash(&bytes[..8]),
            "prelude CRC"
        );
        let message = &bytes[..total];
        assert_eq!(
            be32(&message[total - 4..]),
            crc32fast::hash(&message[..total - 4]),
            "message CRC"
        );
        let mut headers = BTreeMap::new();
        let mut at = 12;
        while at < 12 + headers_len {
            let name_len = message[at] as usize;
            let name = std::str::from_utf8(&message[at + 1..at + 1 + name_len]).unwrap();
            at += 1 + name_len;
            assert_eq!(message[at], 7, "string header");
            let value_len = u16::from_be_bytes([message[at + 1], message[at + 2]]) as usize;
            let value = std::str::from_utf8(&message[at + 3..at + 3 + value_len]).unwrap();
            headers.insert(name.to_owned(), value.to_owned());
            at += 3 + value_len;
        }
        let payload = serde_json::from_slice(&message[12 + headers_len..total - 4]).unwrap();
        messages.push(Message { headers, payload });
        bytes = &bytes[total..];
    }
    messages
}

fn converse(text: &str) -> Value {
    json!({"messages": [{"role": "user", "content": [{"text": text}]}], "inferenceConfig": {"maxTokens": 100}})
}

#[tokio::test]
async fn converse_answers_with_output_usage_and_metrics() {
    let mock = mock().await;
    let headers = [SIGV4, DATE, ("x-mock-cached-tokens", "1")];
    let answer = post(
        &mock,
        &format!("{MODEL}/converse"),
        &headers,
        &converse("hello bedrock"),
    )
    .await;
    assert_eq!(answer.status, 200);
    let body = answer.json();
    assert_eq!(
        body["output"]["message"]["content"][0]["text"],
        "hello bedrock"
    );
    assert_eq!(body["stopReason"], "end_turn");
    assert_eq!(body["usage"]["inputTokens"], 1);
    assert_eq!(body["usage"]["cacheReadInputTokens"], 1);
    assert_eq!(body["usage"]["totalTokens"], 4);
    assert!(body["metrics"]["latencyMs"].is_number());
}

#[tokio::test]
async fn converse_stream_is_event_stream_framed() {
    let mock = mock().await;
    let answer = post(
        &mock,
        &format!("{MODEL}/converse-stream"),
        &[SIGV4, DATE],
        &converse("one two"),
    )
    .await;
    assert_eq!(
        answer.header("content-type"),
        "application/vnd.amazon.eventstream"
    );
    let messages = decode(&answer.body);
    let kinds: Vec<&str> = messages
        .iter()
        .map(|m| m.headers[":event-type"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "messageStart",
            "contentBlockDelta",
            "contentBlockDelta",
            "contentBlockStop",
            "messageStop",
            "metadata"
        ]
    );
    for message in &messages {
        assert_eq!(message.headers[":message-type"], "event");
        assert_eq!(message.headers[":content-type"], "application/json");
        assert!(message.payload["p"].is_string(), "AWS pads every payload");
    }
    let text: String = messages
        .iter()
        .filter_map(|m| m.payload["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "one two");
    assert_eq!(messages[4].payload["stopReason"], "end_turn");
    assert_eq!(messages[5].payload["usage"]["outputTokens"], 2);
}

#[tokio::test]
async fn forced_tool_streams_a_tool_use_block() {
    let mock = mock().await;
    let mut body = converse("go");
    body["toolConfig"] = json!({"tools": [{"toolSpec": {"name": "lookup",
        "inputSchema": {"json": {"type": "object", "properties": {"q": {"type": "string"}}}}}}],
        "toolChoice": {"any": {}}});
    let answer = post(
        &mock,
        &format!("{MODEL}/converse-stream"),
        &[SIGV4, DATE],
        &body,
    )
    .await;
    let messages = decode(&answer.body);
    assert_eq!(messages[1].headers[":event-type"], "contentBlockStart");
    assert_eq!(messages[1].payload["start"]["toolUse"]["name"], "lookup");
    let input: String = messages
        .iter()
        .filter_map(|m| m.payload["delta"]["toolUse"]["input"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&input).unwrap(),
        json!({"q": "mock"})
    );
    let stop = messages
        .iter()
        .find(|m| m.headers[":event-type"] == "messageStop")
        .unwrap();
    assert_eq!(stop.payload["stopReason"], "tool_use");
}

#[tokio::test]
async fn auth_needs_a_sigv4_header_and_a_date() {
    let mock = mock().await;
    let path = format!("{MODEL}/converse");
    let missing = post(&mock, &path, &[], &converse("x")).await;
    assert_eq!(missing.status, 403);
    assert!(
        missing
            .header("x-amzn-errortype")
            .starts_with("MissingAuthenticationTokenException:")
    );
    assert_eq!(
        missing.json(),
        json!({"message": "Missing Authentication Token"})
    );
    let undated = post(&mock, &path, &[SIGV4], &converse("x")).await;
    assert_eq!(undated.status, 403);
    assert!(
        undated
            .header("x-amzn-errortype")
            .starts_with("IncompleteSignatureException:")
    );
    let bearer = post(
        &mock,
        &path,
        &[("authorization", "Bearer mock-key")],
        &converse("x"),
    )
    .await;
    assert_eq!(bearer.status, 200);
}

#[tokio::test]
async fn injected_errors_carry_the_aws_error_type() {
    let mock = mock().await;
    let path = format!("{MODEL}/converse");
    for (status, kind) in [
        ("429", "ThrottlingException"),
        ("500", "InternalServerException"),
        ("503", "ServiceUnavailableException"),
    ] {
        let answer = post(
            &mock,
            &path,
            &[SIGV4, DATE, ("x-mock-status", status)],
            &converse("x"),
        )
        .await;
        assert_eq!(answer.status.as_str(), status);
        assert!(answer.header("x-amzn-errortype").starts_with(kind));
        assert!(answer.json()["message"].is_string());
    }
}

#[tokio::test]
async fn error_mid_stream_ends_with_an_exception_message() {
    let mock = mock().await;
    let headers = [SIGV4, DATE, ("x-mock-fault", "error-mid-stream")];
    let answer = post(
        &mock,
        &format!("{MODEL}/converse-stream"),
        &headers,
        &converse("a b c d"),
    )
    .await;
    let messages = decode(&answer.body);
    let last = messages.last().unwrap();
    assert_eq!(last.headers[":message-type"], "exception");
    assert_eq!(last.headers[":exception-type"], "internalServerException");
    assert_eq!(
        messages.len(),
        1 + 2 + 1,
        "start, half the deltas, the exception"
    );
}
