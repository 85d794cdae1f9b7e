//! Anthropic Messages: headers, whole messages, the named-event stream and errors.

use serde_json::{Value, json};

use crate::client::{mock, post, sse};

const KEY: (&str, &str) = ("x-api-key", "mock-key");
const VERSION: (&str, &str) = ("anthropic-version", "2023-06-01");

fn message(content: &str) -> Value {
    json!({"model": "claude-mock", "max_tokens": 64, "messages": [{"role": "user", "content": content}]})
}

#[tokio::test]
async fn message_reports_cache_tokens_apart_from_input() {
    let mock = mock().await;
    let headers = [
        KEY,
        VERSION,
        ("x-mock-cached-tokens", "2"),
        ("x-mock-cache-write-tokens", "1"),
    ];
    let answer = post(
        &mock,
        "/v1/messages",
        &headers,
        &message("four words right here"),
    )
    .await;
    let body = answer.json();
    assert_eq!(body["type"], "message");
    assert_eq!(
        body["content"][0],
        json!({"type": "text", "text": "four words right here"})
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["usage"]["input_tokens"], 1);
    assert_eq!(body["usage"]["cache_read_input_tokens"], 2);
    assert_eq!(body["usage"]["cache_creation_input_tokens"], 1);
    assert_eq!(body["usage"]["output_tokens"], 4);
}

#[tokio::test]
async fn stream_has_named_events_in_order_with_a_ping() {
    let mock = mock().await;
    let mut body = message("hello you");
    body["stream"] = json!(true);
    let answer = post(&mock, "/v1/messages", &[KEY, VERSION], &body).await;
    let events = sse(&answer.text());
    let names: Vec<&str> = events.iter().map(|e| e.name.as_deref().unwrap()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    for event in &events {
        assert_eq!(event.json()["type"], *event.name.as_ref().unwrap());
    }
    let text: String = events
        .iter()
        .filter_map(|e| e.json()["delta"]["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(text, "hello you");
    assert_eq!(events[6].json()["usage"]["output_tokens"], 2);
    assert_eq!(events[6].json()["delta"]["stop_reason"], "end_turn");
}

#[tokio::test]
async fn forced_tool_streams_input_json_deltas() {
    let mock = mock().await;
    let mut body = message("weather?");
    body["tools"] = json!([{"name": "weather", "input_schema": {"type": "object", "properties": {"days": {"type": "integer"}}}}]);
    body["tool_choice"] = json!({"type": "tool", "name": "weather"});
    body["stream"] = json!(true);
    let answer = post(&mock, "/v1/messages", &[KEY, VERSION], &body).await;
    let events = sse(&answer.text());
    assert_eq!(events[1].json()["content_block"]["type"], "tool_use");
    assert_eq!(events[1].json()["content_block"]["name"], "weather");
    let json: String = events
        .iter()
        .filter(|e| e.name.as_deref() == Some("content_block_delta"))
        .map(|e| {
            let delta = e.json()["delta"].clone();
            assert_eq!(delta["type"], "input_json_delta");
            delta["partial_json"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&json).unwrap(),
        json!({"days": 1})
    );
    let stop = events
        .iter()
        .find(|e| e.name.as_deref() == Some("message_delta"))
        .unwrap();
    assert_eq!(stop.json()["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn missing_fields_and_headers_are_invalid_requests() {
    let mock = mock().await;
    let no_max = json!({"model": "m", "messages": []});
    let answer = post(&mock, "/v1/messages", &[KEY, VERSION], &no_max).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.json(),
        json!({"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"}})
    );
    let answer = post(&mock, "/v1/messages", &[KEY], &message("x")).await;
    assert_eq!(answer.status, 400);
}

#[tokio::test]
async fn wrong_key_is_an_authentication_error() {
    let mock = mock().await;
    let answer = post(
        &mock,
        "/v1/messages",
        &[("x-api-key", "bad"), VERSION],
        &message("x"),
    )
    .await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.json()["type"], "error");
    assert_eq!(answer.json()["error"]["type"], "authentication_error");
}

#[tokio::test]
async fn overloaded_529_uses_the_overloaded_type() {
    let mock = mock().await;
    let answer = post(
        &mock,
        "/v1/messages",
        &[KEY, VERSION, ("x-mock-status", "529")],
        &message("x"),
    )
    .await;
    assert_eq!(answer.status, 529);
    assert_eq!(answer.json()["error"]["type"], "overloaded_error");
}
