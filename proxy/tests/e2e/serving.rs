//! What a calling service sees on the happy path, and its mistakes answered clearly.

use serde_json::{Value, json};

use crate::harness::{Manifests, Proxy, answer_text, chat, header, mock, post, sse_data};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_completion_reaches_the_backend_model_and_says_what_served_it() {
    let mock = mock().await;
    let manifests = Manifests::default().model("upstream-model", &mock).route(
        "gpt-4o",
        &["upstream-model"],
        "",
    );
    let proxy = Proxy::start(&manifests).await;

    let response = post(&proxy, "/v1/chat/completions", &chat("gpt-4o", false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-switchyard-route"), "default/gpt-4o");
    assert_eq!(
        header(&response, "x-switchyard-backend"),
        "default/upstream-model"
    );
    assert_eq!(header(&response, "x-switchyard-attempt"), "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    let content = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(content.contains("hello from the test"), "{body}");
    assert!(
        body["usage"]["prompt_tokens"].as_u64().unwrap() > 0,
        "{body}"
    );

    let sent = mock.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/v1/chat/completions");
    assert_eq!(sent[0].header("authorization"), Some("Bearer mock-key"));
    assert_eq!(
        sent[0].json().unwrap()["model"],
        "upstream-model",
        "the public name is replaced by the model id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_arrives_event_by_event_and_ends_with_done() {
    let mock = mock().await;
    let manifests = Manifests::default().model("upstream-model", &mock).route(
        "gpt-4o",
        &["upstream-model"],
        "",
    );
    let proxy = Proxy::start(&manifests).await;

    let response = post(&proxy, "/v1/chat/completions", &chat("gpt-4o", true)).await;
    assert_eq!(response.status(), 200);
    assert!(header(&response, "content-type").starts_with("text/event-stream"));
    let body = response.text().await.unwrap();
    let events = sse_data(&body);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{body}");
    let text = answer_text(&body);
    assert!(text.contains("hello from the test"), "{body}");
    assert!(
        events.iter().all(|e| !e.contains("\"choices\":[]")),
        "the usage-only chunk the proxy asked for is not shown to a client that did not: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_list_names_exact_public_models_only() {
    let mock = mock().await;
    let manifests = Manifests::default()
        .model("m", &mock)
        .route("gpt-4o", &["m"], "")
        .route("team-*", &["m"], "");
    let proxy = Proxy::start(&manifests).await;
    let list: Value = reqwest::get(proxy.url("/v1/models"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["gpt-4o"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_mistakes_get_openai_style_errors_with_the_right_status() {
    let mock = mock().await;
    let manifests = Manifests::default()
        .model("m", &mock)
        .route("gpt-4o", &["m"], "");
    let proxy = Proxy::start_with(&manifests, &["--max-body-bytes", "2000000"]).await;
    let client = reqwest::Client::new();

    let unknown = post(
        &proxy,
        "/v1/chat/completions",
        &chat("no-such-model", false),
    )
    .await;
    assert_eq!(unknown.status(), 404);
    let error: Value = unknown.json().await.unwrap();
    assert_eq!(error["error"]["type"], "not_found_error");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-model")
    );

    let malformed = client
        .post(proxy.url("/v1/chat/completions"))
        .body("{\"model\": \"gpt-4o\", ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let error: Value = malformed.json().await.unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error");

    let no_model = post(&proxy, "/v1/chat/completions", &json!({"messages": []})).await;
    assert_eq!(no_model.status(), 400);

    let wrong_method = client
        .get(proxy.url("/v1/chat/completions"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    let unknown_path = client.post(proxy.url("/v2/anything")).send().await.unwrap();
    assert_eq!(unknown_path.status(), 404);

    let mut big = chat("gpt-4o", false);
    big["messages"][0]["content"] = json!("x".repeat(3_000_000));
    let too_big = client
        .post(proxy.url("/v1/chat/completions"))
        .json(&big)
        .send()
        .await;
    // The proxy answers 413 and closes; a client still sending may see the close instead.
    if let Ok(response) = too_big {
        assert_eq!(response.status(), 413);
    }
    assert!(
        mock.requests().is_empty(),
        "no mistake reached the provider"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_megabyte_request_is_served() {
    let mock = mock().await;
    let manifests = Manifests::default()
        .model("m", &mock)
        .route("gpt-4o", &["m"], "");
    let proxy = Proxy::start(&manifests).await;
    let mut big = chat("gpt-4o", false);
    let content = "word ".repeat(200_000);
    big["messages"][0]["content"] = json!(content);
    let response = post(&proxy, "/v1/chat/completions", &big).await;
    assert_eq!(response.status(), 200);
    let sent = mock.requests();
    assert_eq!(
        sent[0].json().unwrap()["messages"][0]["content"]
            .as_str()
            .map(str::len),
        Some(1_000_000)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_anthropic_messages_api_gets_anthropic_style_errors() {
    let mock = mock().await;
    let manifests = Manifests::default()
        .model("m", &mock)
        .route("claude", &["m"], "");
    let proxy = Proxy::start(&manifests).await;
    let response = post(
        &proxy,
        "/v1/messages",
        &json!({"model": "nope", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(response.status(), 404);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "not_found_error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_without_a_policy_admitting_the_caller_is_closed() {
    let mock = mock().await;
    let manifests = Manifests(String::new()).raw(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: mock}\nstringData: {apiKey: mock-key}\n",
    );
    let manifests = manifests.model("m", &mock).route("gpt-4o", &["m"], "");
    let proxy = Proxy::start(&manifests).await;
    let response = post(&proxy, "/v1/chat/completions", &chat("gpt-4o", false)).await;
    assert_eq!(response.status(), 401);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["type"], "authentication_error");
    assert!(mock.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_named_by_host_name_is_resolved_before_it_is_served() {
    let mock = mock().await;
    let port = mock.addr().port();
    let manifests = Manifests::default()
        .raw(&format!(
            "---\napiVersion: switchyard.dev/v1alpha1\nkind: AIModel\nmetadata: {{name: by-name}}\nspec:\n  provider: openai-compatible\n  model: m\n  endpoint: http://localhost:{port}/v1\n  credentials: {{secretRef: {{name: mock, key: apiKey}}}}\n"
        ))
        .route("gpt-4o", &["by-name"], "");
    let proxy = Proxy::start(&manifests).await;
    let response = post(&proxy, "/v1/chat/completions", &chat("gpt-4o", false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        mock.requests()[0].header("host"),
        Some(format!("localhost:{port}").as_str())
    );

    // A backend added later is resolved before the new snapshot is published.
    proxy.rewrite(manifests.clone().route("later", &["by-name"], "").text());
    proxy.wait_config(|c| c["version"] == 2).await;
    assert_eq!(
        post(&proxy, "/v1/chat/completions", &chat("later", false))
            .await
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_expects_100_continue_is_told_to_send_its_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mock = mock().await;
    let manifests = Manifests::default()
        .model("m", &mock)
        .route("gpt-4o", &["m"], "");
    let proxy = Proxy::start(&manifests).await;
    let body = chat("gpt-4o", false).to_string();
    let address = proxy.url("").trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\ncontent-length: {}\r\nexpect: 100-continue\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut interim = [0u8; 25];
    // Without a 100 Continue the client would wait; the read would then time out.
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_exact(&mut interim),
    )
    .await;
    assert!(read.is_ok(), "no interim response");
    assert!(String::from_utf8_lossy(&interim).starts_with("HTTP/1.1 100 Continue"));
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut rest = vec![0u8; 15];
    stream.read_exact(&mut rest).await.unwrap();
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.contains("200"), "{rest}");
}
