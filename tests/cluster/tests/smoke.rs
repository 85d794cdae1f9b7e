//! Smoke tests of the test cluster itself: the API server stores and validates Switchyard
//! resources, RBAC applies to service-account clients, and Redis answers.

// Helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use serde_json::json;
use switchyard_crds::{AIModel, Provider};
use switchyard_test_cluster::{RedisServer, TestCluster, TestNamespace};

fn aimodel(value: serde_json::Value) -> AIModel {
    serde_json::from_value(value).expect("a valid AIModel")
}

fn valid_aimodel() -> serde_json::Value {
    json!({
        "apiVersion": "switchyard.dev/v1alpha1",
        "kind": "AIModel",
        "metadata": {"name": "gpt"},
        "spec": {
            "provider": "openai",
            "model": "gpt-4o",
            "credentials": {"secretRef": {"name": "openai", "key": "apiKey"}}
        }
    })
}

#[tokio::test]
async fn an_aimodel_can_be_created_and_read_back() {
    let cluster = TestCluster::shared().await.unwrap();
    let namespace = cluster.namespace("aimodel-roundtrip").await.unwrap();
    let api = namespace.api::<AIModel>();
    let model = aimodel(valid_aimodel());

    api.create(&PostParams::default(), &model).await.unwrap();
    let stored = api.get("gpt").await.unwrap();

    assert_eq!(stored.spec, model.spec);
    assert_eq!(stored.spec.provider, Provider::OpenAi);
    assert_eq!(stored.spec.model, "gpt-4o");
}

#[tokio::test]
async fn an_aimodel_with_both_endpoint_and_service_ref_is_rejected_by_its_cel_rule() {
    let cluster = TestCluster::shared().await.unwrap();
    let namespace = cluster.namespace("aimodel-cel").await.unwrap();
    let mut model = valid_aimodel();
    model["spec"]["endpoint"] = json!("https://api.openai.com/v1");
    model["spec"]["serviceRef"] = json!({"name": "vllm", "port": 8000});

    let error = namespace
        .api::<AIModel>()
        .create(&PostParams::default(), &aimodel(model))
        .await
        .unwrap_err();

    let kube::Error::Api(status) = &error else {
        panic!("expected an API error, got {error:?}")
    };
    assert_eq!(status.code, 422, "{status:?}");
    assert!(status.message.contains("endpoint"), "{}", status.message);
    assert!(status.message.contains("serviceRef"), "{}", status.message);
}

#[tokio::test]
async fn a_service_account_without_rbac_rules_is_forbidden() {
    let cluster = TestCluster::shared().await.unwrap();
    let namespace = cluster.namespace("rbac-forbidden").await.unwrap();
    let client = cluster
        .client_as_service_account(namespace.name(), "nobody")
        .await
        .unwrap();

    let error = Api::<ConfigMap>::namespaced(client, namespace.name())
        .list(&Default::default())
        .await
        .unwrap_err();

    let kube::Error::Api(status) = &error else {
        panic!("expected an API error, got {error:?}")
    };
    assert_eq!(status.code, 403, "{status:?}");
    assert!(
        status.message.contains("system:serviceaccount:"),
        "{}",
        status.message
    );
}

#[tokio::test]
async fn a_service_account_with_a_role_binding_gets_what_the_role_allows() {
    let cluster = TestCluster::shared().await.unwrap();
    let namespace = cluster.namespace("rbac-allowed").await.unwrap();
    grant_configmap_reads(&namespace, "reader").await;
    let client = cluster
        .client_as_service_account(namespace.name(), "reader")
        .await
        .unwrap();
    let configmaps = Api::<ConfigMap>::namespaced(client, namespace.name());

    configmaps.list(&Default::default()).await.unwrap();
    let error = configmaps
        .create(&PostParams::default(), &ConfigMap::default())
        .await
        .unwrap_err();

    let kube::Error::Api(status) = &error else {
        panic!("expected an API error, got {error:?}")
    };
    assert_eq!(status.code, 403, "{status:?}");
}

async fn grant_configmap_reads(namespace: &TestNamespace, service_account: &str) {
    let meta = ObjectMeta {
        name: Some("configmap-reader".into()),
        ..ObjectMeta::default()
    };
    let role = Role {
        metadata: meta.clone(),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["configmaps".into()]),
            verbs: vec!["get".into(), "list".into(), "watch".into()],
            ..PolicyRule::default()
        }]),
    };
    let binding = RoleBinding {
        metadata: meta,
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Role".into(),
            name: "configmap-reader".into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: service_account.into(),
            namespace: Some(namespace.name().into()),
            ..Subject::default()
        }]),
    };
    namespace
        .api::<Role>()
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    namespace
        .api::<RoleBinding>()
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
}

#[tokio::test]
async fn kubectl_reaches_the_cluster_with_the_admin_kubeconfig() {
    let cluster = TestCluster::shared().await.unwrap();

    let output = cluster
        .kubectl()
        .unwrap()
        .args(["get", "--raw", "/readyz"])
        .output()
        .await
        .unwrap();

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "ok");
}

#[tokio::test]
async fn redis_answers_ping() {
    let redis = RedisServer::shared().await.unwrap();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();

    let pong: String = redis::cmd("PING")
        .query_async(&mut connection)
        .await
        .unwrap();

    assert_eq!(pong, "PONG");
}
