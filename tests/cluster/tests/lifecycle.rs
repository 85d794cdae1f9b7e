//! The test cluster's own behaviour: installing any CRD, and stopping exactly what it started.

// Helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::json;
use switchyard_test_cluster::{RedisServer, TestCluster};

fn widget_crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.test.switchyard.dev"},
        "spec": {
            "group": "test.switchyard.dev",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {
                        "type": "object",
                        "properties": {"size": {"type": "integer", "minimum": 1}},
                        "x-kubernetes-validations": [{"rule": "self.size <= 10", "message": "size is at most 10"}]
                    }}
                }}
            }]
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn an_installed_crd_is_established_and_validates_its_objects() {
    let cluster = TestCluster::shared().await.unwrap();
    cluster.install_crds(&[widget_crd()]).await.unwrap();
    // Installing again is a no-op.
    cluster.install_crds(&[widget_crd()]).await.unwrap();
    let namespace = cluster.namespace("widget").await.unwrap();
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "test.switchyard.dev",
        "v1",
        "Widget",
    ));
    let widgets: Api<DynamicObject> =
        Api::namespaced_with(namespace.client().clone(), namespace.name(), &resource);
    let widget = |name: &str, size: i64| {
        DynamicObject::new(name, &resource).data(json!({"spec": {"size": size}}))
    };

    widgets
        .create(&PostParams::default(), &widget("small", 3))
        .await
        .unwrap();
    let error = widgets
        .create(&PostParams::default(), &widget("huge", 11))
        .await
        .unwrap_err();

    assert!(error.to_string().contains("size is at most 10"), "{error}");
}

#[tokio::test]
async fn dropping_an_owned_cluster_stops_its_processes_and_removes_its_dir() {
    let cluster = TestCluster::start().await.unwrap();
    let pids = cluster.pids();
    let dir = cluster.dir().to_path_buf();
    assert!(pids.iter().all(|pid| is_running(*pid)));

    drop(cluster);

    assert!(
        pids.iter().all(|pid| !is_running(*pid)),
        "still running: {pids:?}"
    );
    if std::env::var_os(switchyard_test_cluster::KEEP_DIR_ENV).is_none() {
        assert!(!dir.exists());
    }
}

#[tokio::test]
async fn dropping_an_owned_redis_stops_it() {
    let redis = RedisServer::start().await.unwrap();
    let pid = redis.pid();
    assert!(is_running(pid));

    drop(redis);

    assert!(!is_running(pid));
}

/// True while `/proc/PID` exists and is not a zombie.
fn is_running(pid: u32) -> bool {
    let stat = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat"))
        .unwrap_or_default();
    stat.rsplit_once(") ")
        .is_some_and(|(_, rest)| !rest.starts_with('Z'))
}
