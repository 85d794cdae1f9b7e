//! The admin kubeconfig file (for kubectl, helm and kube clients alike) and the clients built
//! from it: the admin itself, or any user impersonated through it.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::Error;
use crate::certs::Pki;

/// Writes a kubeconfig for `server` whose single context uses the admin client certificate.
/// Credentials are embedded, so the file works on its own.
pub(crate) fn write(path: &Path, server: &str, pki: &Pki) -> Result<(), Error> {
    let encode = |pem: &str| STANDARD.encode(pem);
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: switchyard-test
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: switchyard-test-admin
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
contexts:
- name: switchyard-test
  context:
    cluster: switchyard-test
    user: switchyard-test-admin
    namespace: default
current-context: switchyard-test
",
        ca = encode(&pki.ca_cert),
        cert = encode(&pki.admin_cert),
        key = encode(&pki.admin_key),
    );
    std::fs::write(path, text).map_err(Error::io("write", path))
}

/// Writes a copy of the admin kubeconfig at `admin` whose user impersonates `user` in
/// `groups`, for processes (an operator under test) that must run with that user's RBAC.
pub(crate) fn write_impersonating(
    admin: &Path,
    path: &Path,
    user: &str,
    groups: &[String],
) -> Result<(), Error> {
    let text = std::fs::read_to_string(admin).map_err(Error::io("read", admin))?;
    let quoted: Vec<String> = groups.iter().map(|g| format!("{g:?}")).collect();
    let identity = format!(
        "  user:\n    as: {user:?}\n    as-groups: [{}]\n",
        quoted.join(", ")
    );
    // `write` above puts exactly one `  user:` line in the file.
    let text = text.replacen("  user:\n", &identity, 1);
    std::fs::write(path, text).map_err(Error::io("write", path))
}

/// Whom a client acts as.
pub(crate) enum Identity<'a> {
    /// The admin user (`system:masters`).
    Admin,
    /// The admin impersonating `user` with `groups`, so RBAC applies to that user.
    Impersonate {
        /// The impersonated user name.
        user: &'a str,
        /// The impersonated groups.
        groups: &'a [String],
    },
}

/// A new client from the kubeconfig at `path`, bound to the calling task's runtime.
pub(crate) async fn client(path: &Path, identity: Identity<'_>) -> Result<kube::Client, Error> {
    // kube's rustls needs a process-wide crypto provider when feature unification in a
    // workspace build pulls in more than one; installing ours first settles it.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kubeconfig_error = |source| Error::Kubeconfig {
        path: path.to_path_buf(),
        source,
    };
    let kubeconfig = Kubeconfig::read_from(path).map_err(kubeconfig_error)?;
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(kubeconfig_error)?;
    if let Identity::Impersonate { user, groups } = identity {
        config.auth_info.impersonate = Some(user.to_owned());
        config.auth_info.impersonate_groups = Some(groups.to_vec());
    }
    kube::Client::try_from(config).map_err(Error::kube("build a client from the kubeconfig"))
}
