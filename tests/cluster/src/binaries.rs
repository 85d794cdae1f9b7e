//! Where the test binaries live: the versioned cache dir that `tests/k8s/install.sh` fills
//! (kube-apiserver, kubectl, etcd, helm), and `redis-server` from the system.

use std::env;
use std::path::{Path, PathBuf};

use crate::Error;

/// The Kubernetes version the binaries are built at; the cache dir is named after it and
/// `tests/k8s/versions.sh` pins the same value.
pub const KUBERNETES_VERSION: &str = "v1.36.3";

/// Overrides the dir that holds kube-apiserver, kubectl, etcd and helm.
pub const BIN_DIR_ENV: &str = "SWITCHYARD_K8S_BIN_DIR";

/// Overrides the cache root (default `$HOME/.cache/switchyard`), as in `install.sh`.
pub const CACHE_ENV: &str = "SWITCHYARD_CACHE";

/// Overrides the path of `redis-server`.
pub const REDIS_SERVER_ENV: &str = "SWITCHYARD_REDIS_SERVER";

/// The dir holding the Kubernetes test binaries: `$SWITCHYARD_K8S_BIN_DIR`, else
/// `${SWITCHYARD_CACHE:-$HOME/.cache/switchyard}/k8s-<version>`.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = env::var_os(BIN_DIR_ENV).filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = env::var_os(CACHE_ENV)
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/root"));
            home.join(".cache").join("switchyard")
        });
    cache.join(format!("k8s-{KUBERNETES_VERSION}"))
}

/// The path of one Kubernetes test binary (`kube-apiserver`, `kubectl`, `etcd`, `helm`), or an
/// error telling the user to run `tests/k8s/install.sh`.
pub fn k8s_binary(name: &'static str) -> Result<PathBuf, Error> {
    let path = bin_dir().join(name);
    if is_executable(&path) {
        Ok(path)
    } else {
        Err(Error::MissingBinary { name, path })
    }
}

/// The path of `redis-server`: `$SWITCHYARD_REDIS_SERVER`, else the first one on the `PATH`.
pub fn redis_server() -> Result<PathBuf, Error> {
    if let Some(path) = env::var_os(REDIS_SERVER_ENV).filter(|path| !path.is_empty()) {
        let path = PathBuf::from(path);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(Error::MissingRedis)
        };
    }
    find_on_path("redis-server").ok_or(Error::MissingRedis)
}

/// The first executable called `name` in a `PATH` dir.
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}
