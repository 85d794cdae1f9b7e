//! Test support: a real etcd + kube-apiserver (envtest-style, no Docker), Switchyard's CRDs,
//! per-test namespaces, service-account clients for RBAC checks, and a throwaway Redis;
//! optionally kube-controller-manager, kube-scheduler and kwok so Deployments get Running pods.
//!
//! Binaries come from `tests/k8s/install.sh` (see `binaries`). One control plane serves every
//! test in a process:
//!
//! ```no_run
//! # async fn example() -> Result<(), switchyard_test_cluster::Error> {
//! use switchyard_test_cluster::TestCluster;
//! let cluster = TestCluster::shared().await?;
//! let namespace = cluster.namespace("my-test").await?;
//! let client = cluster.client().await?;
//! # Ok(()) }
//! ```

mod apiserver;
pub mod binaries;
mod certs;
mod cluster;
mod crds;
mod error;
mod etcd;
mod kubeconfig;
mod namespace;
mod processes;
mod redis;
mod workloads;

pub use cluster::{KEEP_DIR_ENV, TestCluster};
pub use crds::{install_crds, switchyard_crds};
pub use error::Error;
pub use namespace::{TEST_NAMESPACE_LABEL, TestNamespace};
pub use redis::RedisServer;
pub use workloads::FAKE_NODE;
