//! kube-apiserver with envtest's flag set: TLS with our own CA, client-certificate auth, RBAC,
//! a service-account issuer and signing key, and no ServiceAccount admission (no controllers
//! run to create default service accounts).

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use crate::Error;
use crate::binaries::k8s_binary;
use crate::processes::ManagedProcess;

/// How long the API server may take to pass `/readyz` (it bootstraps RBAC roles and
/// priority levels first; a few seconds when warm, longer on a busy machine).
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Files the API server reads, all in the cluster's temp dir.
pub(crate) struct ApiServerFiles<'a> {
    /// The serving certificate.
    pub(crate) serving_cert: &'a Path,
    /// The serving certificate's key.
    pub(crate) serving_key: &'a Path,
    /// The CA that signs client certificates.
    pub(crate) client_ca: &'a Path,
    /// The service-account token signing key.
    pub(crate) service_account_key: &'a Path,
    /// The service-account token verification key.
    pub(crate) service_account_public_key: &'a Path,
}

/// Starts kube-apiserver on `127.0.0.1:port` against `etcd_url`, logging to `dir/kube-apiserver.log`.
/// Readiness is checked by the caller, who holds the admin client.
pub(crate) async fn spawn(
    dir: &Path,
    port: u16,
    etcd_url: &str,
    files: &ApiServerFiles<'_>,
) -> Result<ManagedProcess, Error> {
    let program = k8s_binary("kube-apiserver")?;
    let path = |flag: &str, file: &Path| OsString::from(format!("--{flag}={}", file.display()));
    let args: Vec<OsString> = vec![
        format!("--etcd-servers={etcd_url}").into(),
        "--bind-address=127.0.0.1".into(),
        "--advertise-address=127.0.0.1".into(),
        format!("--secure-port={port}").into(),
        path("tls-cert-file", files.serving_cert),
        path("tls-private-key-file", files.serving_key),
        path("client-ca-file", files.client_ca),
        "--authorization-mode=RBAC".into(),
        format!("--service-account-issuer=https://127.0.0.1:{port}/").into(),
        path("service-account-key-file", files.service_account_public_key),
        path(
            "service-account-signing-key-file",
            files.service_account_key,
        ),
        "--service-cluster-ip-range=10.96.0.0/16".into(),
        "--allow-privileged=true".into(),
        "--disable-admission-plugins=ServiceAccount".into(),
        "--profiling=false".into(),
    ];
    ManagedProcess::spawn(
        "kube-apiserver",
        &program,
        args,
        dir.join("kube-apiserver.log"),
    )
    .await
}

/// Waits until `GET /readyz` answers `ok` through `client`, or the process exits.
pub(crate) async fn wait_ready(
    process: &mut ManagedProcess,
    client: &kube::Client,
) -> Result<(), Error> {
    process
        .wait_ready(READY_TIMEOUT, || async {
            let Ok(request) = http::Request::get("/readyz").body(Vec::new()) else {
                return false;
            };
            client
                .request_text(request)
                .await
                .is_ok_and(|body| body.trim() == "ok")
        })
        .await
}
