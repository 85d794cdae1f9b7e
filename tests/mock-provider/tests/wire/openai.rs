//! OpenAI chat completions, completions, embeddings, models and responses.

use serde_json::{Value, json};

use crate::client::{get, mock, post, sse};

const AUTH: (&str, &str) = ("authorization", "Bearer mock-key");

fn chat(content: &str) -> Value {
    json!({"model": "gpt-4o", "messages": [{"role": "user", "content": content}]})
}

fn weather_tool() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
    }}}])
}

#[tokio::test]
async fn chat_completion_has_the_real_fields_and_usage_details() {
    let mock = mock().await;
    let headers = [
        AUTH,
        ("x-mock-cached-tokens", "1"),
        ("x-mock-reasoning-tokens", "3"),
    ];
    let answer = post(&mock, "/v1/chat/completions", &headers, &chat("hi there")).await;
    assert_eq!(answer.status, 200);
    let body = answer.json();
    assert_eq!(body["object"], "chat.completion");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["choices"][0]["message"]["content"], "hi there");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["prompt_tokens"], 2);
    assert_eq!(body["usage"]["completion_tokens"], 2 + 3);
    assert_eq!(body["usage"]["prompt_tokens_details"]["cached_tokens"], 1);
    assert_eq!(
        body["usage"]["completion_tokens_details"]["reasoning_tokens"],
        3
    );
}

#[tokio::test]
async fn chat_stream_is_chunks_then_usage_then_done() {
    let mock = mock().await;
    let mut request = chat("alpha beta gamma");
    request["stream"] = json!(true);
    request["stream_options"] = json!({"include_usage": true});
    let answer = post(&mock, "/v1/chat/completions", &[AUTH], &request).await;
    assert!(
        answer
            .header("content-type")
            .starts_with("text/event-stream")
    );
    let events = sse(&answer.text());
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| e.json())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "alpha beta gamma");
    assert_eq!(
        chunks.len(),
        1 + 3 + 1 + 1,
        "role, one per word, finish, usage"
    );
    let usage_chunk = chunks.last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 3);
    assert!(
        chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c["usage"].is_null())
    );
}

#[tokio::test]
async fn chunks_header_sets_the_number_of_content_events() {
    let mock = mock().await;
    let mut request = chat("abcdefghij");
    request["stream"] = json!(true);
    let answer = post(
        &mock,
        "/v1/chat/completions",
        &[AUTH, ("x-mock-chunks", "5")],
        &request,
    )
    .await;
    let contents: Vec<String> = sse(&answer.text())
        .iter()
        .filter(|e| e.data != "[DONE]")
        .filter_map(|e| {
            e.json()["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(contents, ["ab", "cd", "ef", "gh", "ij"]);
}

#[tokio::test]
async fn tokens_header_sets_the_answer_length() {
    let mock = mock().await;
    let answer = post(
        &mock,
        "/v1/chat/completions",
        &[AUTH, ("x-mock-tokens", "5")],
        &chat("x y"),
    )
    .await;
    assert_eq!(
        answer.json()["choices"][0]["message"]["content"],
        "x y x y x"
    );
    assert_eq!(answer.json()["usage"]["completion_tokens"], 5);
}

#[tokio::test]
async fn named_tool_choice_streams_argument_deltas() {
    let mock = mock().await;
    let mut request = chat("what's the weather");
    request["tools"] = weather_tool();
    request["tool_choice"] = json!({"type": "function", "function": {"name": "get_weather"}});
    request["stream"] = json!(true);
    let answer = post(&mock, "/v1/chat/completions", &[AUTH], &request).await;
    let events = sse(&answer.text());
    let chunks: Vec<Value> = events
        .iter()
        .filter(|e| e.data != "[DONE]")
        .map(|e| e.json())
        .collect();
    let first = &chunks[0]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(first["function"]["name"], "get_weather");
    assert!(first["id"].as_str().unwrap().starts_with("call_"));
    let arguments: String = chunks[1..]
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).unwrap(),
        json!({"city": "mock"})
    );
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[tokio::test]
async fn auto_tool_choice_calls_a_tool_only_when_named() {
    let mock = mock().await;
    let mut plain = chat("hello");
    plain["tools"] = weather_tool();
    let answer = post(&mock, "/v1/chat/completions", &[AUTH], &plain).await;
    assert_eq!(answer.json()["choices"][0]["message"]["content"], "hello");
    let mut asking = chat("use get_weather");
    asking["tools"] = weather_tool();
    let answer = post(&mock, "/v1/chat/completions", &[AUTH], &asking).await;
    let call = &answer.json()["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
}

#[tokio::test]
async fn completions_embeddings_and_models() {
    let mock = mock().await;
    let body = json!({"model": "davinci", "prompt": "complete me"});
    let answer = post(&mock, "/v1/completions", &[AUTH], &body).await;
    assert_eq!(answer.json()["object"], "text_completion");
    assert_eq!(answer.json()["choices"][0]["text"], "complete me");

    let body = json!({"model": "text-embedding-3-small", "input": ["a", "b"], "dimensions": 4});
    let answer = post(&mock, "/v1/embeddings", &[AUTH], &body).await;
    let data = answer.json()["data"].clone();
    assert_eq!(data[1]["index"], 1);
    assert_eq!(data[0]["embedding"].as_array().unwrap().len(), 4);
    let again = post(&mock, "/v1/embeddings", &[AUTH], &body).await;
    assert_eq!(again.json()["data"], data, "embeddings are deterministic");

    let models = get(&mock, "/v1/models", &[AUTH]).await.json();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["object"], "model");
    assert_eq!(get(&mock, "/v1/models/nope", &[AUTH]).await.status, 404);
}

#[tokio::test]
async fn responses_stream_has_the_typed_event_sequence() {
    let mock = mock().await;
    let body = json!({"model": "gpt-4o", "input": "one two", "stream": true});
    let answer = post(&mock, "/v1/responses", &[AUTH], &body).await;
    let events = sse(&answer.text());
    let names: Vec<&str> = events.iter().map(|e| e.name.as_deref().unwrap()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    for (index, event) in events.iter().enumerate() {
        assert_eq!(event.json()["type"], *event.name.as_ref().unwrap());
        assert_eq!(event.json()["sequence_number"], index);
    }
    let completed = events.last().unwrap().json();
    assert_eq!(
        completed["response"]["output"][0]["content"][0]["text"],
        "one two"
    );
    assert_eq!(completed["response"]["usage"]["output_tokens"], 2);
}

#[tokio::test]
async fn responses_function_call_whole() {
    let mock = mock().await;
    let body = json!({"model": "gpt-4o", "input": [{"role": "user", "content": "go"}],
        "tools": [{"type": "function", "name": "go", "parameters": {"type": "object", "properties": {}}}],
        "tool_choice": "required"});
    let answer = post(&mock, "/v1/responses", &[AUTH], &body).await;
    let item = &answer.json()["output"][0];
    assert_eq!(item["type"], "function_call");
    assert_eq!(item["name"], "go");
    assert_eq!(item["arguments"], "{}");
}
