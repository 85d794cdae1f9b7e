//! The control plane as one value: certificates, etcd, kube-apiserver, the admin kubeconfig and
//! Switchyard's CRDs, started in a temp dir; plus the one shared instance per test process.

use std::path::{Path, PathBuf};
use std::time::Instant;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use tempfile::TempDir;
use tokio::sync::OnceCell;

use crate::apiserver::{self, ApiServerFiles};
use crate::binaries::k8s_binary;
use crate::certs::Pki;
use crate::crds::{install_crds, switchyard_crds};
use crate::kubeconfig::{self, Identity};
use crate::namespace::TestNamespace;
use crate::processes::{ManagedProcess, free_ports, remove_at_exit};
use crate::workloads::{self, WorkloadFiles, Workloads};
use crate::{Error, etcd};

/// Keeps the cluster's temp dir (logs, certificates, etcd data) after the process ends.
pub const KEEP_DIR_ENV: &str = "SWITCHYARD_TEST_CLUSTER_KEEP";

/// How many times a start is retried when a process dies early (e.g. a port taken meanwhile).
const START_ATTEMPTS: usize = 3;

/// A running etcd + kube-apiserver with Switchyard's CRDs installed, and optionally the
/// workload machinery (controller manager, scheduler, kwok).
///
/// Fields drop in order: the controllers, the API server, etcd, then the temp dir.
pub struct TestCluster {
    workloads: Option<Workloads>,
    apiserver: ManagedProcess,
    etcd: ManagedProcess,
    server_url: String,
    kubeconfig: PathBuf,
    path: PathBuf,
    _dir: Option<TempDir>,
}

impl TestCluster {
    /// The control plane shared by every test in this process, started on first use.
    ///
    /// It lives until the process exits; its processes are then killed and its temp dir removed
    /// (see the `processes` module). Take a client per test with [`TestCluster::client`].
    pub async fn shared() -> Result<&'static TestCluster, Error> {
        static SHARED: OnceCell<TestCluster> = OnceCell::const_new();
        SHARED.get_or_try_init(Self::start).await
    }

    /// Like [`TestCluster::shared`], plus kube-controller-manager, kube-scheduler and kwok with
    /// one fake node, so Deployments get Running pods (needs `install.sh --with-workloads`).
    /// A separate instance from [`TestCluster::shared`]: the controllers also delete
    /// namespaces and garbage-collect, which the plain cluster never does.
    pub async fn shared_with_workloads() -> Result<&'static TestCluster, Error> {
        static SHARED: OnceCell<TestCluster> = OnceCell::const_new();
        SHARED.get_or_try_init(Self::start_with_workloads).await
    }

    /// [`TestCluster::shared_with_workloads`], or `None` (with a note on stderr) when the
    /// workload binaries are not installed — unless `SWITCHYARD_REQUIRE_WORKLOADS` is set, as
    /// `tests/run.sh` does, in which case a missing binary fails the test: CI can never pass
    /// by skipping.
    pub async fn shared_with_workloads_or_skip() -> Result<Option<&'static TestCluster>, Error> {
        if let Err(error) = Self::check_workload_binaries() {
            if std::env::var_os("SWITCHYARD_REQUIRE_WORKLOADS").is_some() {
                return Err(error);
            }
            eprintln!("skipped: {error}");
            return Ok(None);
        }
        Self::shared_with_workloads().await.map(Some)
    }

    /// Whether the workload binaries (`install.sh --with-workloads`) are installed; the error
    /// says what to run when they are not.
    pub fn check_workload_binaries() -> Result<(), Error> {
        workloads::check_binaries()
    }

    /// Starts a control plane of its own, stopped when the value is dropped.
    ///
    /// Steps: generate certificates, start etcd, write the admin kubeconfig, start
    /// kube-apiserver, wait for `/readyz`, install Switchyard's CRDs.
    pub async fn start() -> Result<TestCluster, Error> {
        Self::start_with(false).await
    }

    /// Starts a control plane of its own with the workload machinery (see
    /// [`TestCluster::shared_with_workloads`]).
    pub async fn start_with_workloads() -> Result<TestCluster, Error> {
        Self::start_with(true).await
    }

    async fn start_with(workloads: bool) -> Result<TestCluster, Error> {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            match Self::start_once(workloads).await {
                Ok(cluster) => {
                    tracing::info!(elapsed = ?started.elapsed(), dir = %cluster.path.display(), "test cluster ready");
                    return Ok(cluster);
                }
                Err(error @ (Error::ExitedEarly { .. } | Error::FreePort(_)))
                    if attempt < START_ATTEMPTS =>
                {
                    tracing::warn!(%error, attempt, "test cluster failed to start; retrying");
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn start_once(with_workloads: bool) -> Result<TestCluster, Error> {
        // Fail fast, with the install hint, before creating anything.
        for name in ["etcd", "kube-apiserver"] {
            k8s_binary(name)?;
        }
        if with_workloads {
            workloads::check_binaries()?;
        }
        let (dir, path) = temp_dir()?;
        let pki = Pki::generate()?;
        let write = |name: &str, text: &str| -> Result<PathBuf, Error> {
            let file = path.join(name);
            std::fs::write(&file, text).map_err(Error::io("write", &file))?;
            Ok(file)
        };
        let ca = write("ca.crt", &pki.ca_cert)?;
        let serving_cert = write("apiserver.crt", &pki.serving_cert)?;
        let serving_key = write("apiserver.key", &pki.serving_key)?;
        let service_account_key = write("sa.key", &pki.service_account_key)?;
        let service_account_public_key = write("sa.pub", &pki.service_account_public_key)?;

        let etcd = etcd::start(&path).await?;
        let [port] = free_ports()?;
        let server_url = format!("https://127.0.0.1:{port}");
        let kubeconfig = path.join("kubeconfig");
        kubeconfig::write(&kubeconfig, &server_url, &pki)?;
        let files = ApiServerFiles {
            serving_cert: &serving_cert,
            serving_key: &serving_key,
            client_ca: &ca,
            service_account_key: &service_account_key,
            service_account_public_key: &service_account_public_key,
        };
        let mut apiserver = apiserver::spawn(&path, port, &etcd.url, &files).await?;
        let client = kubeconfig::client(&kubeconfig, Identity::Admin).await?;
        apiserver::wait_ready(&mut apiserver, &client).await?;
        let workloads = if with_workloads {
            let files = WorkloadFiles {
                kubeconfig: &kubeconfig,
                ca: &ca,
                service_account_key: &service_account_key,
            };
            Some(workloads::start(&path, &files, &client).await?)
        } else {
            None
        };
        let cluster = TestCluster {
            workloads,
            apiserver,
            etcd: etcd.process,
            server_url,
            kubeconfig,
            path,
            _dir: dir,
        };
        install_crds(&client, &switchyard_crds()).await?;
        Ok(cluster)
    }

    /// The path of the admin kubeconfig, for `kubectl --kubeconfig` or `KUBECONFIG=`.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The API server's URL, e.g. `https://127.0.0.1:40123`.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// The temp dir holding logs (`etcd.log`, `kube-apiserver.log`), certificates and data.
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// Whether the workload machinery (controller manager, scheduler, kwok) runs.
    pub fn has_workloads(&self) -> bool {
        self.workloads.is_some()
    }

    /// The process ids of kube-apiserver and etcd, in that order.
    pub fn pids(&self) -> [u32; 2] {
        [self.apiserver.pid(), self.etcd.pid()]
    }

    /// A new admin (`system:masters`) client, bound to the calling test's runtime.
    pub async fn client(&self) -> Result<kube::Client, Error> {
        kubeconfig::client(&self.kubeconfig, Identity::Admin).await
    }

    /// A client that impersonates `user` with `groups`: RBAC decides what it may do.
    pub async fn client_as(&self, user: &str, groups: &[String]) -> Result<kube::Client, Error> {
        kubeconfig::client(&self.kubeconfig, Identity::Impersonate { user, groups }).await
    }

    /// A client that acts as service account `namespace/name`
    /// (`system:serviceaccount:NS:NAME` in groups `system:serviceaccounts` and
    /// `system:serviceaccounts:NS`), so a missing RBAC rule fails with 403 Forbidden.
    pub async fn client_as_service_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<kube::Client, Error> {
        let user = format!("system:serviceaccount:{namespace}:{name}");
        let groups = [
            "system:serviceaccounts".to_owned(),
            format!("system:serviceaccounts:{namespace}"),
        ];
        self.client_as(&user, &groups).await
    }

    /// Writes a kubeconfig that acts as service account `namespace/name` (see
    /// [`TestCluster::client_as_service_account`]) and returns its path, for a process under
    /// test (`KUBECONFIG=`) that must live with exactly that account's RBAC.
    pub fn kubeconfig_as_service_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<PathBuf, Error> {
        let user = format!("system:serviceaccount:{namespace}:{name}");
        let groups = [
            "system:serviceaccounts".to_owned(),
            format!("system:serviceaccounts:{namespace}"),
            "system:authenticated".to_owned(),
        ];
        let path = self.path.join(format!("kubeconfig-{namespace}-{name}"));
        kubeconfig::write_impersonating(&self.kubeconfig, &path, &user, &groups)?;
        Ok(path)
    }

    /// Applies `crds` and waits until they are Established.
    pub async fn install_crds(&self, crds: &[CustomResourceDefinition]) -> Result<(), Error> {
        install_crds(&self.client().await?, crds).await
    }

    /// Creates a fresh namespace named after `prefix` (e.g. the test's name) plus a counter.
    pub async fn namespace(&self, prefix: &str) -> Result<TestNamespace, Error> {
        TestNamespace::create(self.client().await?, prefix).await
    }

    /// A `kubectl` command with `KUBECONFIG` set to the admin kubeconfig.
    pub fn kubectl(&self) -> Result<tokio::process::Command, Error> {
        self.tool("kubectl")
    }

    /// A `helm` command with `KUBECONFIG` set to the admin kubeconfig.
    pub fn helm(&self) -> Result<tokio::process::Command, Error> {
        self.tool("helm")
    }

    fn tool(&self, name: &'static str) -> Result<tokio::process::Command, Error> {
        let mut command = tokio::process::Command::new(k8s_binary(name)?);
        command
            .env("KUBECONFIG", &self.kubeconfig)
            .kill_on_drop(true);
        Ok(command)
    }
}

/// A temp dir for one control plane: removed on drop and, for the shared cluster, at process
/// exit — unless `SWITCHYARD_TEST_CLUSTER_KEEP` is set, in which case it stays for debugging.
pub(crate) fn temp_dir() -> Result<(Option<TempDir>, PathBuf), Error> {
    let dir = tempfile::Builder::new()
        .prefix("switchyard-test-cluster-")
        .tempdir()
        .map_err(Error::io("create", std::env::temp_dir()))?;
    if std::env::var_os(KEEP_DIR_ENV).is_some_and(|keep| !keep.is_empty()) {
        let path = dir.keep();
        tracing::info!(dir = %path.display(), "keeping the test cluster dir");
        return Ok((None, path));
    }
    let path = dir.path().to_path_buf();
    remove_at_exit(&path);
    Ok((Some(dir), path))
}
