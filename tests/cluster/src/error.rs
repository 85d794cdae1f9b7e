//! The one error type of the test cluster: every failure names the process, file or object
//! involved, and startup failures carry the tail of the process log so a red test says why.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// Everything that can go wrong while starting or using the test cluster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes test binary is not where we look for it.
    #[error(
        "{name} not found at {}: run tests/k8s/install.sh to build the Kubernetes test binaries \
         (or point SWITCHYARD_K8S_BIN_DIR at a dir that has them)",
        path.display()
    )]
    MissingBinary {
        /// The binary's file name, e.g. `kube-apiserver`.
        name: &'static str,
        /// Where it was expected.
        path: PathBuf,
    },
    /// A binary of the optional workload machinery (controller manager, scheduler, kwok) is missing.
    #[error(
        "{name} not found in {}: run tests/k8s/install.sh --with-workloads to build \
         kube-controller-manager, kube-scheduler and kwok",
        dir.display()
    )]
    MissingWorkloadBinary {
        /// The missing file's name.
        name: &'static str,
        /// The dir it was expected in.
        dir: PathBuf,
    },
    /// The fake node's manifest did not deserialize.
    #[error("could not build the fake node")]
    FakeNode {
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// `redis-server` is neither in `SWITCHYARD_REDIS_SERVER` nor on the `PATH`.
    #[error(
        "redis-server not found: install it (apt-get install redis-server) or set \
         SWITCHYARD_REDIS_SERVER to its path"
    )]
    MissingRedis,
    /// A file or directory operation failed.
    #[error("could not {action} {}", path.display())]
    Io {
        /// What we were doing, e.g. "write".
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// No free loopback port could be reserved.
    #[error("could not reserve a free loopback port")]
    FreePort(#[source] std::io::Error),
    /// A process could not be started.
    #[error("could not start {name} ({})", program.display())]
    Spawn {
        /// The process' role, e.g. "etcd".
        name: &'static str,
        /// The program that was run.
        program: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The thread that starts every child process is gone.
    #[error("the process launcher thread is gone")]
    LauncherGone,
    /// A process exited while we waited for it to become ready.
    #[error("{name} exited early with {status}; log {}:\n{tail}", log.display())]
    ExitedEarly {
        /// The process' role.
        name: &'static str,
        /// How it exited.
        status: ExitStatus,
        /// Its log file.
        log: PathBuf,
        /// The last lines of its log.
        tail: String,
    },
    /// A process did not become ready in time.
    #[error("{name} was not ready after {timeout:?}; log {}:\n{tail}", log.display())]
    NotReady {
        /// The process' role.
        name: &'static str,
        /// How long we waited.
        timeout: Duration,
        /// Its log file.
        log: PathBuf,
        /// The last lines of its log.
        tail: String,
    },
    /// Certificate or key generation failed.
    #[error("could not generate the {what}")]
    Certificate {
        /// Which certificate or key.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: rcgen::Error,
    },
    /// The admin kubeconfig could not be loaded into a client config.
    #[error("could not load the kubeconfig {}", path.display())]
    Kubeconfig {
        /// The kubeconfig file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// A Kubernetes API call failed.
    #[error("kubernetes API call failed: {action}")]
    Kube {
        /// What we were doing, e.g. "create namespace sw-1".
        action: String,
        /// The underlying error.
        #[source]
        source: kube::Error,
    },
    /// A CRD did not report `Established` in time.
    #[error("CRD {name} was not Established after {timeout:?}")]
    CrdNotEstablished {
        /// The CRD's name, e.g. `aimodels.switchyard.dev`.
        name: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// Watching a CRD for its `Established` condition failed.
    #[error("watching CRD {name} failed")]
    CrdWatch {
        /// The CRD's name.
        name: String,
        /// The underlying error.
        #[source]
        source: kube::runtime::wait::Error,
    },
    /// A CRD without a name was passed to the installer.
    #[error("a CRD passed to install_crds has no metadata.name")]
    UnnamedCrd,
    /// A CRD could not be serialized for server-side apply.
    #[error("could not serialize CRD {name}")]
    SerializeCrd {
        /// The CRD's name.
        name: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// Wraps a kube error with what we were doing.
    pub(crate) fn kube(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let action = action.into();
        move |source| Self::Kube { action, source }
    }

    /// Wraps an IO error with what we were doing to which path.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}
