//! Gemini generateContent and streamGenerateContent (SSE and JSON array), auth and errors.

use serde_json::{Value, json};

use crate::client::{mock, post, sse};

const KEY: (&str, &str) = ("x-goog-api-key", "mock-key");
const GENERATE: &str = "/v1beta/models/gemini-2.0-flash:generateContent";
const STREAM: &str = "/v1beta/models/gemini-2.0-flash:streamGenerateContent";

fn request(text: &str) -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": text}]}]})
}

#[tokio::test]
async fn generate_content_reports_cached_and_thought_tokens() {
    let mock = mock().await;
    let headers = [
        KEY,
        ("x-mock-cached-tokens", "1"),
        ("x-mock-reasoning-tokens", "5"),
    ];
    let body = post(&mock, GENERATE, &headers, &request("hi gemini"))
        .await
        .json();
    let candidate = &body["candidates"][0];
    assert_eq!(
        candidate["content"],
        json!({"parts": [{"text": "hi gemini"}], "role": "model"})
    );
    assert_eq!(candidate["finishReason"], "STOP");
    let usage = &body["usageMetadata"];
    assert_eq!(usage["promptTokenCount"], 2);
    assert_eq!(usage["candidatesTokenCount"], 2);
    assert_eq!(usage["cachedContentTokenCount"], 1);
    assert_eq!(usage["thoughtsTokenCount"], 5);
    assert_eq!(usage["totalTokenCount"], 2 + 2 + 5);
    assert_eq!(body["modelVersion"], "gemini-2.0-flash");
}

#[tokio::test]
async fn sse_stream_uses_crlf_and_cumulative_usage() {
    let mock = mock().await;
    let answer = post(
        &mock,
        &format!("{STREAM}?alt=sse"),
        &[KEY],
        &request("a b c"),
    )
    .await;
    assert_eq!(answer.header("content-type"), "text/event-stream");
    let text = answer.text();
    assert!(text.ends_with("\r\n\r\n"));
    let chunks: Vec<Value> = sse(&text).iter().map(|e| e.json()).collect();
    assert_eq!(chunks.len(), 3);
    let counts: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["usageMetadata"]["candidatesTokenCount"])
        .collect();
    assert_eq!(counts, [&json!(1), &json!(2), &json!(3)]);
    assert!(
        chunks[..2]
            .iter()
            .all(|c| c["candidates"][0].get("finishReason").is_none())
    );
    assert_eq!(chunks[2]["candidates"][0]["finishReason"], "STOP");
}

#[tokio::test]
async fn stream_without_alt_sse_is_a_json_array() {
    let mock = mock().await;
    let answer = post(&mock, STREAM, &[KEY], &request("a b")).await;
    let chunks: Vec<Value> = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(chunks.len(), 2);
    assert_eq!(
        chunks[1]["candidates"][0]["content"]["parts"][0]["text"],
        " b"
    );
}

#[tokio::test]
async fn function_calling_any_returns_a_function_call_part() {
    let mock = mock().await;
    let mut body = request("weather");
    body["tools"] = json!([{"functionDeclarations": [{"name": "get_weather",
        "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}}}]}]);
    body["toolConfig"] = json!({"functionCallingConfig": {"mode": "ANY"}});
    let answer = post(&mock, GENERATE, &[KEY], &body).await.json();
    let part = &answer["candidates"][0]["content"]["parts"][0];
    assert_eq!(
        part["functionCall"],
        json!({"name": "get_weather", "args": {"city": "mock"}})
    );
}

#[tokio::test]
async fn key_in_the_query_is_accepted_and_bad_keys_are_google_errors() {
    let mock = mock().await;
    let answer = post(
        &mock,
        &format!("{GENERATE}?key=mock-key"),
        &[],
        &request("x"),
    )
    .await;
    assert_eq!(answer.status, 200);
    let missing = post(&mock, GENERATE, &[], &request("x")).await;
    assert_eq!(missing.status, 403);
    assert_eq!(missing.json()["error"]["status"], "PERMISSION_DENIED");
    let wrong = post(&mock, GENERATE, &[("x-goog-api-key", "bad")], &request("x")).await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.json()["error"]["code"], 400);
    assert_eq!(
        wrong.json()["error"]["details"][0]["reason"],
        "API_KEY_INVALID"
    );
}

#[tokio::test]
async fn injected_429_is_resource_exhausted_with_retry_info() {
    let mock = mock().await;
    let headers = [KEY, ("x-mock-status", "429"), ("x-mock-retry-after", "9")];
    let answer = post(&mock, GENERATE, &headers, &request("x")).await;
    assert_eq!(answer.status, 429);
    let error = &answer.json()["error"];
    assert_eq!(error["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(error["details"][0]["retryDelay"], "9s");
    let unavailable = post(
        &mock,
        GENERATE,
        &[KEY, ("x-mock-status", "503")],
        &request("x"),
    )
    .await;
    assert_eq!(unavailable.json()["error"]["status"], "UNAVAILABLE");
}
