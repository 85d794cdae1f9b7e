//! Authentication with API keys and authorization rules, through the real proxy: which header
//! carries the key, what a wrong or missing key gets, what a rule forbids, what `/v1/models`
//! lists, and what a refusal leaves in metrics and logs (never the key).

use serde_json::Value;

use crate::harness::{Manifests, Proxy, chat, mock};

const ANN: &str = "sk-ann-0123456789";
const BOB: &str = "sk-bob-9876543210";

/// Two keys (ann in group search, bob in group ads), routes `chat` and `embed`, and a policy
/// letting group search use everything and bob only `embed`.
fn manifests(mock: &switchyard_mock_provider::MockProvider) -> Manifests {
    let keys = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: mock}}\nstringData: {{apiKey: mock-key}}\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata:\n  name: ann\n  labels: {{team: gateway}}\n  annotations: {{switchyard.dev/subject: ann@example.com, switchyard.dev/groups: search}}\nstringData: {{apiKey: {ANN}}}\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata:\n  name: bob\n  labels: {{team: gateway}}\n  annotations: {{switchyard.dev/groups: ads}}\nstringData: {{apiKey: {BOB}}}\n---\n\
         apiVersion: switchyard.dev/v1alpha1\nkind: AIPolicy\nmetadata: {{name: keys}}\nspec:\n  targetRefs: [{{kind: Namespace}}]\n  authentication:\n    apiKeys: {{selector: {{matchLabels: {{team: gateway}}}}}}\n  authorization:\n    rules:\n      - subjects: [{{kind: Group, name: search}}]\n      - subjects: [{{kind: User, name: bob}}]\n        routes: [embed]\n"
    );
    Manifests(keys)
        .model("m", mock)
        .route("chat", &["m"], "")
        .route("embed", &["m"], "")
}

async fn call(proxy: &Proxy, model: &str, header: Option<(&str, &str)>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(proxy.url("/v1/chat/completions"))
        .json(&chat(model, false));
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_accepted_in_each_of_the_three_headers() {
    let mock = mock().await;
    let proxy = Proxy::start(&manifests(&mock)).await;
    let bearer = format!("Bearer {ANN}");
    for header in [
        ("authorization", bearer.as_str()),
        ("x-api-key", ANN),
        ("api-key", ANN),
    ] {
        let (status, body) = call(&proxy, "chat", Some(header)).await;
        assert_eq!(status, 200, "{header:?}: {body}");
    }
    let lower = format!("bearer {ANN}");
    assert_eq!(
        call(&proxy, "chat", Some(("authorization", &lower)))
            .await
            .0,
        200
    );
    // The provider gets the model's own credential, never the caller's key.
    for request in mock.requests() {
        assert_eq!(request.header("authorization"), Some("Bearer mock-key"));
        assert!(request.header("x-api-key").is_none() && request.header("api-key").is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_wrong_keys_get_401_and_a_security_event_without_the_key() {
    let mock = mock().await;
    let proxy = Proxy::start(&manifests(&mock)).await;
    let (status, body) = call(&proxy, "chat", None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["type"], "authentication_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-api-key"),
        "{body}"
    );

    let wrong = "sk-wrong-key-000000";
    let (status, body) = call(
        &proxy,
        "chat",
        Some(("authorization", &format!("Bearer {wrong}"))),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert!(mock.requests().is_empty(), "nothing reached the provider");

    let metrics = proxy
        .metrics_when(|m| {
            m.contains("switchyard_security_events_total{reason=\"invalid_api_key\"} 1")
        })
        .await;
    assert!(
        metrics.contains("switchyard_security_events_total{reason=\"missing_credentials\"} 1"),
        "{metrics}"
    );
    let log = proxy.log_containing("key_sha256_prefix").await;
    assert!(!log.contains(wrong), "the key never reaches the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_decide_who_may_use_which_route_and_the_model_list_follows() {
    let mock = mock().await;
    let proxy = Proxy::start(&manifests(&mock)).await;
    let ann = format!("Bearer {ANN}");
    let bob = format!("Bearer {BOB}");
    assert_eq!(
        call(&proxy, "embed", Some(("authorization", &bob))).await.0,
        200
    );
    let (status, body) = call(&proxy, "chat", Some(("authorization", &bob))).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["type"], "permission_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`bob` is not allowed to use the model `chat`"),
        "{body}"
    );
    assert_eq!(
        call(&proxy, "chat", Some(("authorization", &ann))).await.0,
        200
    );

    let models = |key: Option<String>| {
        let proxy = &proxy;
        async move {
            let mut request = reqwest::Client::new().get(proxy.url("/v1/models"));
            if let Some(key) = key {
                request = request.header("authorization", key);
            }
            let list: Value = request.send().await.unwrap().json().await.unwrap();
            let ids: Vec<String> = list["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect();
            ids
        }
    };
    assert_eq!(models(Some(ann)).await, ["chat", "embed"]);
    assert_eq!(models(Some(bob)).await, ["embed"]);
    assert!(
        models(None).await.is_empty(),
        "an anonymous caller sees nothing"
    );
    proxy
        .metrics_when(|m| m.contains("switchyard_security_events_total{reason=\"forbidden\"} 1"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_no_policy_checks_keys_an_sdk_placeholder_key_is_ignored() {
    let mock = mock().await;
    // The default manifests only allow anonymous callers.
    let proxy = Proxy::start(
        &Manifests::default()
            .model("m", &mock)
            .route("m", &["m"], ""),
    )
    .await;
    let (status, body) = call(&proxy, "m", Some(("authorization", "Bearer unused"))).await;
    assert_eq!(status, 200, "{body}");
}
