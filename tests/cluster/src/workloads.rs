//! Optional workload machinery, so Deployments get (fake) Running pods and
//! `helm install --wait` can be tested: kube-controller-manager (Deployments → ReplicaSets →
//! Pods, service accounts, garbage collection), kube-scheduler, and kwok playing the kubelet of
//! one fake node. Built by `tests/k8s/install.sh --with-workloads`.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use kube::Api;
use kube::api::PostParams;

use crate::Error;
use crate::binaries::{bin_dir, k8s_binary};
use crate::processes::{ManagedProcess, free_ports};

/// The fake node kwok manages; every schedulable pod lands on it.
pub const FAKE_NODE: &str = "kwok-node-0";

/// The annotation by which kwok picks the nodes it manages.
const KWOK_NODE_ANNOTATION: &str = "kwok.x-k8s.io/node";

/// How long the fake node may take to turn Ready and the controllers to create the default
/// service account.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// The running workload machinery, stopped on drop.
pub(crate) struct Workloads {
    _kwok: ManagedProcess,
    _scheduler: ManagedProcess,
    _controller_manager: ManagedProcess,
}

/// Files the controllers read.
pub(crate) struct WorkloadFiles<'a> {
    /// The admin kubeconfig.
    pub(crate) kubeconfig: &'a Path,
    /// The cluster CA, published as `kube-root-ca.crt` in every namespace.
    pub(crate) ca: &'a Path,
    /// The service-account signing key.
    pub(crate) service_account_key: &'a Path,
}

/// Fails with the install hint unless every workload binary is there.
pub(crate) fn check_binaries() -> Result<(), Error> {
    for name in ["kube-controller-manager", "kube-scheduler", "kwok"] {
        k8s_binary(name).map_err(|_| Error::MissingWorkloadBinary {
            name,
            dir: bin_dir(),
        })?;
    }
    let stages = bin_dir().join("kwok-stages.yaml");
    if stages.is_file() {
        Ok(())
    } else {
        Err(Error::MissingWorkloadBinary {
            name: "kwok-stages.yaml",
            dir: bin_dir(),
        })
    }
}

/// Starts the controllers, registers the fake node and waits until it is Ready and the
/// `default` service account exists.
pub(crate) async fn start(
    dir: &Path,
    files: &WorkloadFiles<'_>,
    client: &kube::Client,
) -> Result<Workloads, Error> {
    check_binaries()?;
    let kubeconfig = format!("--kubeconfig={}", files.kubeconfig.display());
    let delegated = |flag: &str| OsString::from(format!("--{flag}={}", files.kubeconfig.display()));
    let controller_manager = ManagedProcess::spawn(
        "kube-controller-manager",
        &k8s_binary("kube-controller-manager")?,
        vec![
            kubeconfig.clone().into(),
            delegated("authentication-kubeconfig"),
            delegated("authorization-kubeconfig"),
            "--leader-elect=false".into(),
            "--secure-port=0".into(),
            format!("--root-ca-file={}", files.ca.display()).into(),
            format!(
                "--service-account-private-key-file={}",
                files.service_account_key.display()
            )
            .into(),
            "--use-service-account-credentials=false".into(),
        ],
        dir.join("kube-controller-manager.log"),
    )
    .await?;
    let scheduler = ManagedProcess::spawn(
        "kube-scheduler",
        &k8s_binary("kube-scheduler")?,
        vec![
            kubeconfig.clone().into(),
            delegated("authentication-kubeconfig"),
            delegated("authorization-kubeconfig"),
            "--leader-elect=false".into(),
            "--secure-port=0".into(),
        ],
        dir.join("kube-scheduler.log"),
    )
    .await?;
    let [kwok_port] = free_ports()?;
    let mut kwok = ManagedProcess::spawn(
        "kwok",
        &k8s_binary("kwok")?,
        vec![
            kubeconfig.into(),
            format!("--config={}", bin_dir().join("kwok-stages.yaml").display()).into(),
            "--manage-all-nodes=false".into(),
            format!("--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake").into(),
            "--node-lease-duration-seconds=40".into(),
            format!("--server-address=127.0.0.1:{kwok_port}").into(),
            "--cidr=10.0.0.1/16".into(),
        ],
        dir.join("kwok.log"),
    )
    .await?;
    register_fake_node(client).await?;
    kwok.wait_ready(READY_TIMEOUT, || ready(client)).await?;
    Ok(Workloads {
        _kwok: kwok,
        _scheduler: scheduler,
        _controller_manager: controller_manager,
    })
}

/// Creates the node kwok manages, untainted and roomy enough for any test chart.
async fn register_fake_node(client: &kube::Client) -> Result<(), Error> {
    let node: Node = serde_json::from_value(serde_json::json!({
        "metadata": {
            "name": FAKE_NODE,
            "annotations": {KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": FAKE_NODE,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok"
            }
        },
        "status": {
            "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"}
        }
    }))
    .map_err(|source| Error::FakeNode { source })?;
    Api::<Node>::all(client.clone())
        .create(&PostParams::default(), &node)
        .await
        .map_err(Error::kube(format!("create node {FAKE_NODE}")))?;
    Ok(())
}

/// True once the fake node is Ready and the controllers created `default/default`.
async fn ready(client: &kube::Client) -> bool {
    let node_ready = Api::<Node>::all(client.clone())
        .get_opt(FAKE_NODE)
        .await
        .ok()
        .flatten()
        .is_some_and(|node| {
            node.status
                .and_then(|status| status.conditions)
                .is_some_and(|conditions| {
                    conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
                })
        });
    node_ready
        && Api::<ServiceAccount>::namespaced(client.clone(), "default")
            .get_opt("default")
            .await
            .is_ok_and(|account| account.is_some())
}
