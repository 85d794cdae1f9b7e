//! Name resolution off the hot path. Pingora's `HttpPeer::new("host:port")` resolves with
//! blocking calls, so backends carry resolved addresses instead: this background service
//! resolves every host-named endpoint when a snapshot is published and then periodically, and
//! keeps the last good answer when a lookup fails.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use pingora::{server::ShutdownWatch, services::background::BackgroundService};

use crate::store::{State, Store};

/// Re-resolves backend hosts.
pub struct Resolver {
    /// Where the backends are.
    pub store: Arc<Store>,
    /// How often names are resolved again.
    pub refresh: Duration,
}

impl Resolver {
    /// Resolves every backend host of `state` that is a name, not an address.
    pub async fn resolve(state: &State) {
        for (model, backend) in state.snapshot.content.models.iter().zip(&state.backends) {
            let endpoint = &model.endpoint;
            if endpoint.host.parse::<std::net::IpAddr>().is_ok() {
                continue;
            }
            match tokio::net::lookup_host((endpoint.host.as_str(), endpoint.port)).await {
                Ok(addrs) => {
                    let addrs: Vec<_> = addrs.collect();
                    if !addrs.is_empty() && **backend.addrs.load() != addrs {
                        tracing::debug!(host = %endpoint.host, ?addrs, "resolved");
                        backend.addrs.store(Arc::new(addrs));
                    }
                }
                Err(error) => {
                    tracing::warn!(host = %endpoint.host, %error, "could not resolve; keeping the last addresses");
                }
            }
        }
    }
}

#[async_trait]
impl BackgroundService for Resolver {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        loop {
            if let Some(state) = self.store.load() {
                Self::resolve(&state).await;
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                () = self.store.published.notified() => {}
                () = tokio::time::sleep(self.refresh) => {}
            }
        }
    }
}
