//! Operator mode: the proxy subscribes to the operator's config channel (see
//! `switchyard_crds::channel`) and serves what it pushes. The stream is started by the proxy,
//! as xDS does, over TLS and HTTP/2, authenticated with the pod's projected token.
//!
//! Static stability: while the operator is unreachable the proxy keeps serving its last
//! snapshot and keeps trying; a proxy that starts without the operator serves the last
//! snapshot it saved (`--snapshot-cache`) and is not ready until it has one or the other.

mod apply;
mod backoff;
mod cache;
mod connect;
mod error;
mod session;
mod status;
mod url;

use std::{path::PathBuf, sync::Arc, time::Duration};

use async_trait::async_trait;
use pingora::{server::ShutdownWatch, services::background::BackgroundService};
use switchyard_crds::Snapshot;
use tokio::sync::watch;

use crate::{
    metrics::Metrics,
    store::{self, LoadReport, Store},
};
use backoff::Backoff;
pub use error::ChannelError;
use error::chain;
pub use status::{ChannelReport, Status};
pub use url::{OperatorUrl, UrlError};

/// How to reach the operator.
#[derive(Clone, Debug)]
pub struct Options {
    /// The operator replicas, tried in turn (only the leader answers 200).
    pub urls: Vec<OperatorUrl>,
    /// PEM file of the CA that signed the operator's certificate.
    pub ca_file: PathBuf,
    /// The projected service-account token, read again on every connect.
    pub token_file: PathBuf,
    /// This proxy's name, sent in `x-switchyard-proxy`.
    pub proxy_name: String,
    /// Where the last accepted snapshot is saved, and booted from when the operator cannot be
    /// reached at start.
    pub cache: Option<PathBuf>,
    /// How long to wait for the operator's first snapshot before serving the cache.
    pub boot_timeout: Duration,
}

/// Where a published snapshot came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// Pushed by the operator.
    Operator,
    /// Read from the snapshot cache; published only while nothing else is served.
    Cache,
}

/// The subscription, run as a background service.
pub struct Subscriber {
    options: Options,
    store: Arc<Store>,
    metrics: Metrics,
    status: Arc<Status>,
    /// Held while a snapshot is published, so the cache can never replace a pushed snapshot.
    publishing: tokio::sync::Mutex<()>,
    /// The newest accepted snapshot's JSON, for the cache writer ([`Subscriber::keep_saved`]).
    unsaved: watch::Sender<Option<Arc<[u8]>>>,
}

impl Subscriber {
    /// A subscriber that publishes into `store`.
    pub fn new(options: Options, store: Arc<Store>, metrics: Metrics) -> Self {
        Self {
            status: Arc::new(Status::new(&options.urls)),
            options,
            store,
            metrics,
            publishing: tokio::sync::Mutex::new(()),
            unsaved: watch::channel(None).0,
        }
    }

    /// The channel's state, for `/config`.
    pub fn status(&self) -> Arc<Status> {
        Arc::clone(&self.status)
    }

    /// Subscribes forever:
    /// 1. runs a stream to the current URL ([`Subscriber::session`]);
    /// 2. when it could not be opened (refused, unreachable, bad token, …) or ended without
    ///    delivering a snapshot, moves on to the next URL;
    /// 3. waits a jittered, exponentially growing delay (100 ms doubling to 5 s), which starts
    ///    over after a stream that delivered a snapshot; then goes back to 1.
    async fn subscribe(&self) {
        let urls = &self.options.urls;
        let mut backoff = Backoff::default();
        let mut next = 0;
        loop {
            let Some(url) = urls.get(next % urls.len().max(1)) else {
                tracing::error!("no operator URL to subscribe to");
                return;
            };
            let mut delivered = false;
            let result = self.session(url, &mut delivered).await;
            match &result {
                Ok(()) => tracing::warn!(%url, "the operator ended the stream; reconnecting"),
                Err(error @ ChannelError::Refused { status, body }) => {
                    tracing::warn!(%url, status = status.as_u16(), %body, "the operator refused the subscription; trying the next URL");
                    self.failed(error);
                }
                Err(error) => {
                    let serving = self.store.load().map(|state| state.snapshot.version);
                    tracing::warn!(%url, error = %chain(error), ?serving, "the operator stream failed");
                    self.failed(error);
                }
            }
            if delivered {
                backoff.reset();
            } else {
                next = (next + 1) % urls.len();
            }
            tokio::time::sleep(backoff.next()).await;
        }
    }

    fn failed(&self, error: &ChannelError) {
        self.metrics
            .channel
            .failures
            .with_label_values(&[error.kind()])
            .inc();
        self.status.failed(chain(error));
    }

    /// Serves the snapshot cache if the operator delivered nothing within the boot timeout.
    async fn fall_back_to_cache(&self) {
        tokio::time::sleep(self.options.boot_timeout).await;
        if self.store.load().is_some() {
            return;
        }
        let Some(path) = self.options.cache.clone() else {
            tracing::warn!(after = ?self.options.boot_timeout, "no snapshot from the operator yet and no --snapshot-cache; not ready until the operator pushes one");
            return;
        };
        match tokio::task::spawn_blocking(move || cache::load(&path)).await {
            Ok(Ok(snapshot)) => {
                if self.publish(snapshot, Origin::Cache).await {
                    self.status.serving_cache();
                }
            }
            Ok(Err(error)) if error.is_missing() => {
                tracing::warn!(after = ?self.options.boot_timeout, "no snapshot from the operator yet and none cached; not ready until the operator pushes one");
            }
            Ok(Err(error)) => {
                tracing::error!(error = %chain(&error), "the snapshot cache cannot be served; not ready until the operator pushes a snapshot");
            }
            Err(error) => tracing::error!(%error, "the snapshot cache task failed"),
        }
    }

    /// Publishes a snapshot as the standalone watcher does: build the state (keeping the
    /// runtime state of unchanged models), resolve new hosts, install it atomically, record
    /// it. A snapshot from the cache is published only while nothing is served. Returns
    /// whether it was published.
    async fn publish(&self, snapshot: Snapshot, origin: Origin) -> bool {
        let _publishing = self.publishing.lock().await;
        if origin == Origin::Cache && self.store.load().is_some() {
            return false;
        }
        let (version, hash) = (snapshot.version, snapshot.hash.clone());
        let routes = snapshot.content.routes.len();
        store::publish(&self.store, &self.metrics, snapshot, LoadReport::default()).await;
        match origin {
            Origin::Operator => tracing::info!(version, %hash, routes, "snapshot published"),
            Origin::Cache => tracing::warn!(
                version,
                %hash,
                routes,
                "snapshot published from the cache; it may be stale until the operator is reached"
            ),
        }
        true
    }
}

#[async_trait]
impl BackgroundService for Subscriber {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut unsaved = self.unsaved.subscribe();
        tokio::select! {
            _ = shutdown.changed() => {}
            _ = async {
                tokio::join!(
                    self.subscribe(),
                    self.fall_back_to_cache(),
                    self.keep_saved(&mut unsaved)
                )
            } => {}
        }
        // A snapshot accepted just before shutdown is still saved.
        if unsaved.has_changed().unwrap_or(false) {
            self.save_newest(&mut unsaved).await;
        }
    }
}
