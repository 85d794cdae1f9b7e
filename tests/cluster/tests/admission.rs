//! The real API server enforces the CRDs' schema and CEL rules with the messages users read,
//! accepts every example, and agrees with the standalone loader on what is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use kube::{
    Api,
    api::{DynamicObject, PostParams},
    core::{ApiResource, GroupVersionKind},
};
use serde_json::{Value, json};
use switchyard_crds::manifests;
use switchyard_test_cluster::{TestCluster, TestNamespace};

fn api_for(namespace: &TestNamespace, kind: &str) -> Api<DynamicObject> {
    let (group, version) = if kind == "Secret" {
        ("", "v1")
    } else {
        ("switchyard.dev", "v1alpha1")
    };
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    Api::namespaced_with(namespace.client().clone(), namespace.name(), &resource)
}

/// Creates a document in the namespace; the API server's refusal message on failure.
async fn create(namespace: &TestNamespace, mut doc: Value) -> Result<(), String> {
    doc["metadata"]["namespace"] = json!(namespace.name());
    let kind = doc["kind"].as_str().unwrap().to_owned();
    let object: DynamicObject = serde_json::from_value(doc).unwrap();
    match api_for(namespace, &kind)
        .create(&PostParams::default(), &object)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{status:?}");
            Err(status.message)
        }
        Err(other) => panic!("unexpected error: {other:?}"),
    }
}

fn model(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "switchyard.dev/v1alpha1", "kind": "AIModel", "metadata": {"name": name}, "spec": spec})
}

fn route(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "switchyard.dev/v1alpha1", "kind": "AIRoute", "metadata": {"name": name}, "spec": spec})
}

fn policy(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "switchyard.dev/v1alpha1", "kind": "AIPolicy", "metadata": {"name": name}, "spec": spec})
}

/// Objects each breaking one rule, and the words the refusal must contain.
fn refused_cases() -> Vec<(Value, &'static str)> {
    let key = json!({"secretRef": {"name": "k", "key": "apiKey"}});
    vec![
        (
            model(
                "both",
                json!({"provider": "openai", "model": "m", "credentials": key, "endpoint": "https://x.example", "serviceRef": {"name": "s", "port": 80}}),
            ),
            "set at most one of endpoint and serviceRef",
        ),
        (
            model(
                "compat",
                json!({"provider": "openai-compatible", "model": "m"}),
            ),
            "an openai-compatible model needs an endpoint or a serviceRef",
        ),
        (
            model("nocreds", json!({"provider": "anthropic", "model": "m"})),
            "credentials are required for every provider except openai-compatible",
        ),
        (
            model(
                "azure",
                json!({"provider": "azure-openai", "model": "m", "credentials": key, "endpoint": "https://r.openai.azure.com"}),
            ),
            "an azure-openai model needs azure.deployment and azure.apiVersion",
        ),
        (
            model(
                "bedrock",
                json!({"provider": "bedrock", "model": "m", "bedrock": {"region": "us-east-1"}, "credentials": key}),
            ),
            "bedrock models use credentials.aws",
        ),
        (
            model(
                "url",
                json!({"provider": "openai", "model": "m", "credentials": key, "endpoint": "ftp://x"}),
            ),
            "endpoint must be an http:// or https:// URL",
        ),
        (
            model(
                "duration",
                json!({"provider": "openai", "model": "m", "credentials": key, "timeouts": {"total": "soon"}}),
            ),
            "must be a positive duration",
        ),
        (
            model(
                "price",
                json!({"provider": "openai", "model": "m", "credentials": key, "pricing": {"input": "1e3", "output": "1"}}),
            ),
            "must be a decimal amount of US dollars",
        ),
        (
            model(
                "order",
                json!({"provider": "openai", "model": "m", "credentials": key, "timeouts": {"firstToken": "2m", "total": "1m"}}),
            ),
            "timeouts.firstToken must not exceed timeouts.total",
        ),
        (
            route(
                "weights",
                json!({"models": ["m"], "backends": [{"modelRef": {"name": "a"}, "weight": 0}]}),
            ),
            "at least one backend needs a weight above 0",
        ),
        (
            route(
                "twice",
                json!({"models": ["m"], "backends": [{"modelRef": {"name": "a"}}, {"modelRef": {"name": "a"}}]}),
            ),
            "each AIModel may appear only once in backends",
        ),
        (
            route(
                "names",
                json!({"models": ["bad name"], "backends": [{"modelRef": {"name": "a"}}]}),
            ),
            "model names may contain",
        ),
        (
            policy(
                "target",
                json!({"targetRefs": [{"kind": "Namespace", "name": "x"}]}),
            ),
            "name is required for AIRoute and AIModel targets",
        ),
        (
            policy(
                "limit",
                json!({"targetRefs": [{"kind": "Namespace"}], "rateLimits": [{"name": "l", "window": "minute"}]}),
            ),
            "a rate limit needs requests, tokens or both",
        ),
        (
            policy(
                "jwks",
                json!({"targetRefs": [{"kind": "Namespace"}], "authentication": {"jwt": [{"issuer": "i", "audiences": ["a"], "jwks": {}}]}}),
            ),
            "set exactly one of jwks.inline, jwks.secretRef and jwks.url",
        ),
    ]
}

#[tokio::test]
async fn the_api_server_refuses_each_broken_object_with_the_rules_message() {
    let cluster = TestCluster::shared().await.unwrap();
    let namespace = cluster.namespace("admission-refused").await.unwrap();
    for (doc, expected) in refused_cases() {
        let name = doc["metadata"]["name"].clone();
        let message = create(&namespace, doc)
            .await
            .expect_err(&format!("{name} was accepted"));
        assert!(message.contains(expected), "{name}: {message}");
    }
}

#[tokio::test]
async fn the_standalone_loader_refuses_the_same_objects_with_the_same_messages() {
    for (doc, expected) in refused_cases() {
        let text = serde_norway::to_string(&doc).unwrap();
        let loaded = manifests::load_str(&text, Path::new("case.yaml"), &|_| None);
        let errors: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{}: {errors:?}",
            doc["metadata"]["name"]
        );
    }
}

#[tokio::test]
async fn the_api_server_accepts_every_example() {
    let cluster = TestCluster::shared().await.unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for file in manifests::manifest_files(&examples).unwrap() {
        let namespace = cluster.namespace("admission-example").await.unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        for doc in serde_norway::Deserializer::from_str(&text) {
            let doc: Value = serde::Deserialize::deserialize(doc).unwrap();
            let label = format!(
                "{}: {} {}",
                file.display(),
                doc["kind"],
                doc["metadata"]["name"]
            );
            create(&namespace, doc)
                .await
                .unwrap_or_else(|m| panic!("{label} refused: {m}"));
        }
    }
}
