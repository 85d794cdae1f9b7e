//! The optional workload machinery (`tests/k8s/install.sh --with-workloads`): Deployments get
//! fake Running pods, so `helm install --wait` succeeds. Skipped, with a note, when the
//! binaries are not installed — except under `tests/run.sh`, which installs them and sets
//! `SWITCHYARD_REQUIRE_WORKLOADS=1`, so CI can never pass by skipping.

// Helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, PostParams};
use serde_json::json;
use switchyard_test_cluster::{FAKE_NODE, TestCluster, TestNamespace};

#[tokio::test]
async fn a_deployment_gets_running_pods_on_the_fake_node() {
    let Some(cluster) = TestCluster::shared_with_workloads_or_skip().await.unwrap() else {
        return;
    };
    let namespace = cluster.namespace("deployment").await.unwrap();
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]}
            }
        }
    }))
    .unwrap();

    namespace
        .api::<Deployment>()
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();

    wait_for_ready_replicas(&namespace, "web", 2).await;
    let pods = namespace
        .api::<Pod>()
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert_eq!(pods.items.len(), 2);
    for pod in pods.items {
        assert_eq!(pod.spec.unwrap().node_name.as_deref(), Some(FAKE_NODE));
        assert_eq!(pod.status.unwrap().phase.as_deref(), Some("Running"));
    }
}

#[tokio::test]
async fn helm_install_wait_succeeds_for_a_chart_with_a_deployment() {
    let Some(cluster) = TestCluster::shared_with_workloads_or_skip().await.unwrap() else {
        return;
    };
    let namespace = cluster.namespace("helm-wait").await.unwrap();
    let charts = tempfile::tempdir().unwrap();
    let helm_home = charts.path().join("helm-home");
    let helm = |args: &[&str]| {
        let mut command = cluster.helm().unwrap();
        command
            .args(args)
            .env("HELM_CACHE_HOME", helm_home.join("cache"))
            .env("HELM_CONFIG_HOME", helm_home.join("config"))
            .env("HELM_DATA_HOME", helm_home.join("data"))
            .current_dir(charts.path());
        command
    };

    let created = helm(&["create", "demo"]).output().await.unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let installed = helm(&[
        "install",
        "demo",
        "./demo",
        "--namespace",
        namespace.name(),
        "--wait",
        "--timeout",
        "2m",
    ])
    .output()
    .await
    .unwrap();

    assert!(
        installed.status.success(),
        "{}",
        String::from_utf8_lossy(&installed.stderr)
    );
    wait_for_ready_replicas(&namespace, "demo", 1).await;
}

async fn wait_for_ready_replicas(namespace: &TestNamespace, name: &str, replicas: i32) {
    let deployments = namespace.api::<Deployment>();
    let ready = async {
        loop {
            let deployment = deployments.get(name).await.unwrap();
            if deployment.status.and_then(|status| status.ready_replicas) == Some(replicas) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(90), ready)
        .await
        .unwrap_or_else(|_| panic!("deployment {name} never had {replicas} ready replicas"));
}
