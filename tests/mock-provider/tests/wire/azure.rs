//! Azure OpenAI paths, `api-key` auth and Azure's error bodies.

use serde_json::json;

use crate::client::{mock, post, sse};

const CHAT: &str = "/openai/deployments/prod-gpt/chat/completions?api-version=2024-10-21";

#[tokio::test]
async fn deployment_stands_in_for_the_model_and_filters_are_reported() {
    let mock = mock().await;
    let body = json!({"messages": [{"role": "user", "content": "hi"}]});
    let answer = post(&mock, CHAT, &[("api-key", "mock-key")], &body).await;
    let body = answer.json();
    assert_eq!(body["model"], "prod-gpt");
    assert_eq!(body["prompt_filter_results"][0]["prompt_index"], 0);
    assert_eq!(
        body["choices"][0]["content_filter_results"]["hate"]["filtered"],
        false
    );
}

#[tokio::test]
async fn stream_opens_with_an_empty_choices_chunk() {
    let mock = mock().await;
    let body = json!({"messages": [{"role": "user", "content": "hi"}], "stream": true});
    let answer = post(&mock, CHAT, &[("api-key", "mock-key")], &body).await;
    let events = sse(&answer.text());
    let first = events[0].json();
    assert_eq!(first["choices"], json!([]));
    assert_eq!(first["id"], "");
    assert!(first["prompt_filter_results"].is_array());
    assert_eq!(events.last().unwrap().data, "[DONE]");
}

#[tokio::test]
async fn missing_api_version_is_not_found() {
    let mock = mock().await;
    let body = json!({"messages": []});
    let path = "/openai/deployments/prod-gpt/chat/completions";
    let answer = post(&mock, path, &[("api-key", "mock-key")], &body).await;
    assert_eq!(answer.status, 404);
    assert_eq!(
        answer.json(),
        json!({"error": {"code": "404", "message": "Resource not found"}})
    );
}

#[tokio::test]
async fn wrong_or_missing_key_is_a_401_with_a_string_code() {
    let mock = mock().await;
    let body = json!({"messages": []});
    for headers in [&[("api-key", "nope")][..], &[]] {
        let answer = post(&mock, CHAT, headers, &body).await;
        assert_eq!(answer.status, 401);
        assert_eq!(answer.json()["error"]["code"], "401");
    }
}

#[tokio::test]
async fn injected_429_carries_retry_after_ms_too() {
    let mock = mock().await;
    let headers = [
        ("api-key", "mock-key"),
        ("x-mock-status", "429"),
        ("x-mock-retry-after", "2"),
    ];
    let answer = post(&mock, CHAT, &headers, &json!({})).await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.header("retry-after"), "2");
    assert_eq!(answer.header("retry-after-ms"), "2000");
    assert_eq!(answer.json()["error"]["code"], "429");
}
