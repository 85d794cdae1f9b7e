//! Hot reload in standalone mode: the manifests are polled (a ConfigMap mount swaps a symlink,
//! which file-event APIs report unreliably), and every change is checked before it is
//! published. A change with a refused document is not published: the last good snapshot keeps
//! serving, and the refusal shows in the log, `/config` and a metric.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime},
};

use async_trait::async_trait;
use pingora::{server::ShutdownWatch, services::background::BackgroundService};
use switchyard_crds::manifests;

use super::{Checked, check};
use crate::{dns::Resolver, metrics::Metrics, store::Store};

/// Watches a manifest file or folder and publishes each good change.
pub struct Watcher {
    /// The file or folder.
    pub path: PathBuf,
    /// Where snapshots are published.
    pub store: Arc<Store>,
    /// Reload metrics.
    pub metrics: Metrics,
    /// How often the files are polled.
    pub interval: Duration,
}

/// What identifies one version of the files: names, sizes and modification times.
type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

fn fingerprint(path: &Path) -> Fingerprint {
    let files = manifests::manifest_files(path).unwrap_or_default();
    files
        .into_iter()
        .map(|file| {
            let meta = std::fs::metadata(&file).ok();
            let len = meta.as_ref().map_or(0, std::fs::Metadata::len);
            let modified = meta.and_then(|m| m.modified().ok());
            (file, len, modified)
        })
        .collect()
}

impl Watcher {
    /// Loads, checks and publishes the files once; returns whether a snapshot was published.
    pub async fn reload(&self) -> bool {
        let path = self.path.clone();
        match tokio::task::spawn_blocking(move || check(&path)).await {
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
        // Resolve new hosts before any request can pick one of their backends.
        let state = self.store.prepare(snapshot);
        Resolver::resolve(&state).await;
        self.store.install(state, report);
        self.metrics
            .snapshot_version
            .set(i64::try_from(version).unwrap_or(i64::MAX));
        self.metrics.config_reloads.inc();
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
        let mut seen = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || fingerprint(&path))
                .await
                .unwrap_or_default()
        };
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
            if now == seen {
                continue;
            }
            seen = now;
            self.reload().await;
        }
    }
}
