//! Hot reload in standalone mode: the manifests are polled (a ConfigMap mount swaps a symlink,
//! which file-event APIs report unreliably), and every change is checked before it is
//! published. A change with a refused document is not published: the last good snapshot keeps
//! serving, and the refusal shows in the log, `/config` and a metric.

use std::{
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use pingora::{server::ShutdownWatch, services::background::BackgroundService};
use switchyard_crds::{manifests, snapshot::ServiceAccountIssuer};

use super::{Checked, check};
use crate::{
    metrics::Metrics,
    store::{self, Store},
};

/// Watches a manifest file or folder and publishes each good change.
pub struct Watcher {
    /// The file or folder.
    path: PathBuf,
    /// Where snapshots are published.
    store: Arc<Store>,
    /// Reload metrics.
    metrics: Metrics,
    /// How often the files are polled.
    interval: Duration,
    /// The cluster's service-account issuer given on the command line.
    service_account_issuer: Option<ServiceAccountIssuer>,
    /// The files as they were when last loaded.
    seen: Mutex<Fingerprint>,
}

/// What identifies one version of the files: names, inodes, sizes and change times. The inode
/// is there because a rename-into-place of a same-sized file can land within one timestamp tick.
type Fingerprint = Vec<(PathBuf, u64, u64, i64, i64)>;

fn fingerprint(path: &Path) -> Fingerprint {
    let files = manifests::manifest_files(path).unwrap_or_default();
    files
        .into_iter()
        .map(|file| match std::fs::metadata(&file) {
            Ok(meta) => (
                file,
                meta.ino(),
                meta.len(),
                meta.ctime(),
                meta.ctime_nsec(),
            ),
            Err(_) => (file, 0, 0, 0, 0),
        })
        .collect()
}

impl Watcher {
    /// A watcher that has seen nothing yet: the first poll loads the files.
    pub fn new(
        path: PathBuf,
        store: Arc<Store>,
        metrics: Metrics,
        interval: Duration,
        service_account_issuer: Option<ServiceAccountIssuer>,
    ) -> Self {
        Self {
            path,
            store,
            metrics,
            interval,
            service_account_issuer,
            seen: Mutex::new(Fingerprint::new()),
        }
    }

    /// Loads, checks and publishes the files once; returns whether a snapshot was published.
    pub async fn reload(&self) -> bool {
        let path = self.path.clone();
        // The fingerprint is taken before the files are read, so a change made while they are
        // being loaded is seen by the next poll rather than lost.
        let issuer = self.service_account_issuer.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            (fingerprint(&path), check(&path, issuer.as_ref()))
        })
        .await;
        let loaded = loaded.map(|(seen, checked)| {
            *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = seen;
            checked
        });
        match loaded {
            Ok(Ok(checked)) => self.publish(checked).await,
            Ok(Err(error)) => {
                self.refuse(format!("{}: {error}", self.path.display()));
                false
            }
            Err(error) => {
                self.refuse(format!("the reload task failed: {error}"));
                false
            }
        }
    }

    async fn publish(&self, checked: Checked) -> bool {
        if self.store.load().is_some() && !checked.document_errors.is_empty() {
            let errors = checked.document_errors.join("; ");
            self.refuse(format!("refused documents: {errors}"));
            return false;
        }
        let report = checked.load_report();
        let version = self
            .store
            .load()
            .map_or(1, |state| state.snapshot.version + 1);
        let snapshot = checked.compiled.snapshot.with_version(version);
        for problem in &report.problems {
            tracing::warn!(%problem, "configuration problem");
        }
        for error in &report.document_errors {
            tracing::warn!(%error, "refused document");
        }
        self.metrics.config_problems.set(
            i64::try_from(report.problems.len() + report.document_errors.len()).unwrap_or(i64::MAX),
        );
        let routes = snapshot.content.routes.len();
        let hash = snapshot.hash.clone();
        store::publish(&self.store, &self.metrics, snapshot, report).await;
        tracing::info!(version, %hash, routes, "snapshot published");
        true
    }

    fn refuse(&self, reason: String) {
        tracing::error!(%reason, "configuration change refused; the last good snapshot keeps serving");
        self.metrics.config_rejections.inc();
        self.store.reject(reason);
    }
}

#[async_trait]
impl BackgroundService for Watcher {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let path = self.path.clone();
        let mut tick = tokio::time::interval(self.interval);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tick.tick() => {}
            }
            let path = path.clone();
            let now = tokio::task::spawn_blocking(move || fingerprint(&path))
                .await
                .unwrap_or_default();
            if now == *self.seen.lock().unwrap_or_else(PoisonError::into_inner) {
                continue;
            }
            self.reload().await;
        }
    }
}
