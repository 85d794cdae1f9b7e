//! Prompt guardrails through the real proxy: a deny pattern refuses the request in the
//! caller's API style before anything reaches the provider, and PII is replaced by typed
//! placeholders in what the provider receives (and in the cache key).

use serde_json::{Value, json};

use crate::{
    cache::{policy, send},
    harness::{Manifests, Proxy, chat, mock},
};

fn guarded(mock: &switchyard_mock_provider::MockProvider, extra: &str) -> Manifests {
    Manifests::default()
        .model("m", mock)
        .route("m", &["m"], "")
        .raw(&policy(
            "guard",
            "Namespace",
            &format!(
                "  guardrails:\n    denyPatterns:\n      - {{regex: \"(?i)begin [a-z]+ private key\", message: prompts must not contain private keys}}\n    piiRedaction: [email, credit-card]\n{extra}"
            ),
        ))
}

fn asking(text: &str) -> Value {
    json!({"model": "m", "messages": [{"role": "user", "content": text}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_prompt_gets_400_with_the_patterns_message_in_each_api() {
    let mock = mock().await;
    let proxy = Proxy::start(&guarded(&mock, "")).await;
    let openai = send(
        &proxy,
        "/v1/chat/completions",
        &asking("here: -----BEGIN RSA PRIVATE KEY----- abc"),
        None,
    )
    .await;
    assert_eq!(openai.status, 400, "{}", openai.body);
    let body: Value = serde_json::from_str(&openai.body).unwrap();
    assert_eq!(
        body["error"]["message"],
        "prompts must not contain private keys"
    );
    assert_eq!(body["error"]["type"], "invalid_request_error");

    // Anthropic style, and the system prompt is checked too.
    let messages = json!({
        "model": "m", "max_tokens": 16,
        "system": "remember BEGIN OPENSSH PRIVATE KEY",
        "messages": [{"role": "user", "content": "hi"}],
    });
    let anthropic = send(&proxy, "/v1/messages", &messages, None).await;
    assert_eq!(anthropic.status, 400, "{}", anthropic.body);
    let body: Value = serde_json::from_str(&anthropic.body).unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(
        body["error"]["message"],
        "prompts must not contain private keys"
    );

    assert!(mock.requests().is_empty(), "nothing reached the provider");
    let metrics = proxy
        .metrics_when(|m| m.contains("switchyard_guardrail_denials_total{route=\"default/m\"} 2"))
        .await;
    assert!(
        metrics.contains("switchyard_guardrail_denials_total{route=\"default/m\"} 2"),
        "{metrics}"
    );
    let clean = send(&proxy, "/v1/chat/completions", &chat("m", false), None).await;
    assert_eq!(clean.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_never_reaches_the_provider() {
    let mock = mock().await;
    let proxy = Proxy::start(&guarded(&mock, "")).await;
    let text = "mail jane.doe@example.com, card 4111 1111 1111 1111, order 12345";
    let answer = send(&proxy, "/v1/chat/completions", &asking(text), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let messages = json!({
        "model": "m", "max_tokens": 16,
        "system": "the user is ann@corp.example",
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
    });
    let answer = send(&proxy, "/v1/messages", &messages, None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    let received: Vec<String> = mock
        .requests()
        .iter()
        .map(|request| request.json().unwrap().to_string())
        .collect();
    assert_eq!(received.len(), 2);
    for body in &received {
        assert!(
            !body.contains("@example.com") && !body.contains("4111"),
            "{body}"
        );
        assert!(
            body.contains("mail [EMAIL], card [CREDIT_CARD], order 12345"),
            "{body}"
        );
    }
    assert!(
        received[1].contains("the user is [EMAIL]"),
        "{}",
        received[1]
    );
    let metrics = proxy
        .metrics_when(|m| m.contains("switchyard_pii_redactions_total{kind=\"email\"} 3"))
        .await;
    assert!(
        metrics.contains("switchyard_pii_redactions_total{kind=\"credit-card\"} 2"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_that_differ_only_in_redacted_data_share_a_cache_entry() {
    let mock = mock().await;
    let proxy = Proxy::start(&guarded(&mock, "  cache: {scope: shared}\n")).await;
    let path = "/v1/chat/completions";
    let first = send(&proxy, path, &asking("write to ann@example.com"), None).await;
    let second = send(&proxy, path, &asking("write to bob@example.org"), None).await;
    assert_eq!(
        (first.cache.as_str(), second.cache.as_str()),
        ("miss", "hit")
    );
    assert_eq!(second.body, first.body);
    assert_eq!(mock.requests().len(), 1);
}
