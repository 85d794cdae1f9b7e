//! Every provider family behind the proxy, reached through the mock provider's real wire
//! formats, from both client APIs, whole and streamed.

use serde_json::{Value, json};
use switchyard_mock_provider::MockProvider;

use crate::harness::{Manifests, Proxy, answer_text, messages_text, mock, post};

/// An AIModel `name` of `provider` served by `mock`.
fn model(name: &str, provider: &str, mock: &MockProvider) -> String {
    let base = mock.base_url();
    let (endpoint, extra, credentials) = match provider {
        "openai" | "openai-compatible" => (
            format!("{base}/v1"),
            String::new(),
            "secretRef: {name: mock, key: apiKey}",
        ),
        "azure-openai" => (
            base,
            "  azure: {deployment: chat-prod, apiVersion: \"2024-10-21\"}\n".to_owned(),
            "secretRef: {name: mock, key: apiKey}",
        ),
        "bedrock" => (
            base,
            "  bedrock: {region: us-east-1}\n".to_owned(),
            "aws: {secretRef: {name: aws}}",
        ),
        _ => (base, String::new(), "secretRef: {name: mock, key: apiKey}"),
    };
    format!(
        "---\napiVersion: switchyard.dev/v1alpha1\nkind: AIModel\nmetadata: {{name: {name}}}\nspec:\n  provider: {provider}\n  model: {name}\n  endpoint: {endpoint}\n  credentials: {{{credentials}}}\n{extra}"
    )
}

const PROVIDERS: [&str; 6] = [
    "openai",
    "azure-openai",
    "anthropic",
    "gemini",
    "bedrock",
    "openai-compatible",
];

async fn proxy_for_every_provider(mock: &MockProvider) -> Proxy {
    let mut manifests = Manifests::default().raw(
        "---\napiVersion: v1\nkind: Secret\nmetadata: {name: aws}\nstringData: {AWS_ACCESS_KEY_ID: AKIDEXAMPLE, AWS_SECRET_ACCESS_KEY: secret}\n",
    );
    for provider in PROVIDERS {
        manifests = manifests.raw(&model(&format!("{provider}-model"), provider, mock));
        manifests = manifests.route(provider, &[&format!("{provider}-model")], "");
    }
    Proxy::start(&manifests).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_completions_reach_every_provider_whole_and_streamed() {
    let mock = mock().await;
    let proxy = proxy_for_every_provider(&mock).await;
    for provider in PROVIDERS {
        for stream in [false, true] {
            let body = json!({
                "model": provider,
                "stream": stream,
                "max_tokens": 50,
                "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello from the test"}],
            });
            let response = post(&proxy, "/v1/chat/completions", &body).await;
            let status = response.status();
            let text = response.text().await.unwrap();
            assert_eq!(status, 200, "{provider} stream={stream}: {text}");
            assert!(
                answer_text(&text).contains("hello from the test"),
                "{provider} stream={stream}: {text}"
            );
            if !stream {
                let whole: Value = serde_json::from_str(&text).unwrap();
                assert!(
                    whole["usage"]["prompt_tokens"].as_u64().unwrap() > 0,
                    "{provider}: {text}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_messages_reach_every_provider_whole_and_streamed() {
    let mock = mock().await;
    let proxy = proxy_for_every_provider(&mock).await;
    for provider in PROVIDERS {
        for stream in [false, true] {
            let body = json!({
                "model": provider,
                "stream": stream,
                "max_tokens": 50,
                "system": "Be brief.",
                "messages": [{"role": "user", "content": "hello from the test"}],
            });
            let response = post(&proxy, "/v1/messages", &body).await;
            let status = response.status();
            let text = response.text().await.unwrap();
            assert_eq!(status, 200, "{provider} stream={stream}: {text}");
            assert!(
                messages_text(&text).contains("hello from the test"),
                "{provider} stream={stream}: {text}"
            );
            if stream {
                assert!(text.contains("event: message_stop"), "{provider}: {text}");
            } else {
                let whole: Value = serde_json::from_str(&text).unwrap();
                assert!(
                    whole["usage"]["input_tokens"].as_u64().unwrap() > 0,
                    "{provider}: {text}"
                );
            }
        }
    }
    let counted = |m: &str| {
        PROVIDERS.iter().all(|p| {
            m.contains(&format!(
                "provider=\"{p}\",route=\"default/{p}\",status=\"200\""
            ))
        })
    };
    let metrics = proxy.metrics_when(counted).await;
    for provider in PROVIDERS {
        let labels = format!("provider=\"{provider}\",route=\"default/{provider}\",status=\"200\"");
        assert!(metrics.contains(&labels), "{provider} counted:\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_provider_cannot_do_is_a_400_that_names_it() {
    let mock = mock().await;
    let proxy = proxy_for_every_provider(&mock).await;
    let response = post(
        &proxy,
        "/v1/embeddings",
        &json!({"model": "anthropic", "input": "x"}),
    )
    .await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("anthropic"), "{message}");
    assert!(mock.requests().is_empty(), "nothing was sent upstream");
}
