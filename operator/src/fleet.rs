//! The proxy fleet as the operator sees it: the newest snapshot (ready to send) and every
//! connected proxy with the version it has acked.
//!
//! The newest snapshot sits in a `watch` channel, so each connection sends the newest one and
//! a slow proxy skips the versions it missed instead of queueing them.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, PoisonError},
    time::Instant,
};

use bytes::Bytes;
use switchyard_crds::channel::Ack;
use tokio::sync::watch;

use crate::metrics::Metrics;

/// A snapshot ready to send.
#[derive(Debug)]
pub struct Published {
    /// Its version.
    pub version: u64,
    /// Its content hash.
    pub hash: String,
    /// The push frame, encoded once for the whole fleet.
    pub frame: Bytes,
}

/// One connected proxy.
#[derive(Clone, Debug)]
pub struct ProxyState {
    /// Its name (pod name).
    pub name: String,
    /// The newest version it acked.
    pub acked: Option<u64>,
    /// Its last refusal, if its newest answer was one.
    pub refused: Option<String>,
    /// When the newest push was sent to it (for the push latency).
    pub pushed_at: Option<(u64, Instant)>,
}

/// Proxies connected, and how far each is: `(synced, total)` for a version.
#[derive(Clone, Debug, Default)]
pub struct FleetView {
    acked: Vec<Option<u64>>,
    refusals: Vec<String>,
}

impl FleetView {
    /// How many proxies serve `version` or newer, and how many are connected.
    pub fn synced(&self, version: u64) -> (u32, u32) {
        let synced = self
            .acked
            .iter()
            .filter(|acked| acked.is_some_and(|v| v >= version));
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        (count(synced.count()), count(self.acked.len()))
    }

    /// The reasons proxies gave for refusing their newest push.
    pub fn refusals(&self) -> &[String] {
        &self.refusals
    }
}

/// The fleet.
pub struct Fleet {
    newest: watch::Sender<Option<Arc<Published>>>,
    proxies: Mutex<BTreeMap<u64, ProxyState>>,
    next_id: std::sync::atomic::AtomicU64,
    /// Bumped when a proxy connects, acks, refuses or leaves; each watcher subscribes.
    changed: watch::Sender<u64>,
    metrics: Metrics,
}

impl Fleet {
    /// An empty fleet with nothing published.
    pub fn new(metrics: Metrics) -> Self {
        Self {
            newest: watch::Sender::new(None),
            proxies: Mutex::default(),
            next_id: 1.into(),
            changed: watch::Sender::new(0),
            metrics,
        }
    }

    /// Makes `published` the snapshot every connection sends next.
    pub fn publish(&self, published: Published) {
        self.metrics
            .snapshot_version
            .set(i64::try_from(published.version).unwrap_or(i64::MAX));
        self.metrics
            .snapshot_bytes
            .set(i64::try_from(published.frame.len()).unwrap_or(i64::MAX));
        self.newest.send_replace(Some(Arc::new(published)));
    }

    /// The newest snapshot, as connections receive it.
    pub fn subscribe(&self) -> watch::Receiver<Option<Arc<Published>>> {
        self.newest.subscribe()
    }

    /// The newest snapshot's version.
    pub fn newest_version(&self) -> Option<u64> {
        self.newest.borrow().as_ref().map(|p| p.version)
    }

    /// Registers a connected proxy; it leaves when the returned guard drops.
    pub fn join(self: &Arc<Self>, name: String) -> Member {
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let count = {
            let mut proxies = self.lock();
            proxies.insert(
                id,
                ProxyState {
                    name: name.clone(),
                    acked: None,
                    refused: None,
                    pushed_at: None,
                },
            );
            proxies.len()
        };
        self.metrics
            .connected_proxies
            .set(i64::try_from(count).unwrap_or(i64::MAX));
        tracing::info!(proxy = %name, connected = count, "proxy connected");
        self.touch();
        Member {
            fleet: Arc::clone(self),
            id,
            name,
        }
    }

    /// Changes of the fleet (connects, answers, departures), for whoever waits on them.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn touch(&self) {
        self.changed.send_modify(|epoch| *epoch += 1);
    }

    /// Waits until every connected proxy acked `version` or `limit` passed; returns whether
    /// they all did.
    pub async fn wait_synced(&self, version: u64, limit: std::time::Duration) -> bool {
        let mut changes = self.changes();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let (synced, total) = self.view().synced(version);
            if synced == total {
                return true;
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return false },
                () = tokio::time::sleep_until(deadline) => return false,
            }
        }
    }

    /// A copy of every connected proxy's state.
    pub fn proxies(&self) -> Vec<ProxyState> {
        self.lock().values().cloned().collect()
    }

    /// The counts status needs.
    pub fn view(&self) -> FleetView {
        let proxies = self.lock();
        FleetView {
            acked: proxies.values().map(|p| p.acked).collect(),
            refusals: proxies
                .values()
                .filter_map(|p| p.refused.as_ref().map(|r| format!("{}: {r}", p.name)))
                .collect(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, ProxyState>> {
        self.proxies.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connected proxy's membership; dropping it removes the proxy from the fleet.
pub struct Member {
    fleet: Arc<Fleet>,
    id: u64,
    name: String,
}

impl Member {
    /// Records that `version` was sent now.
    pub fn pushed(&self, version: u64) {
        if let Some(proxy) = self.fleet.lock().get_mut(&self.id) {
            proxy.pushed_at = Some((version, Instant::now()));
        }
    }

    /// Records that the proxy already serves `version` (it said so when connecting).
    pub fn already_serves(&self, version: u64) {
        self.answer(&Ack {
            version,
            hash: String::new(),
            error: None,
        });
    }

    /// Records the proxy's answer to a push.
    pub fn answer(&self, ack: &Ack) {
        let metrics = &self.fleet.metrics;
        {
            let mut proxies = self.fleet.lock();
            let Some(proxy) = proxies.get_mut(&self.id) else {
                return;
            };
            if let Some((version, at)) = proxy.pushed_at
                && version == ack.version
            {
                metrics.push_latency.observe(at.elapsed().as_secs_f64());
            }
            match &ack.error {
                None => {
                    metrics.acks.inc();
                    proxy.acked = Some(proxy.acked.map_or(ack.version, |v| v.max(ack.version)));
                    proxy.refused = None;
                    metrics
                        .proxy_version
                        .with_label_values(&[&self.name])
                        .set(i64::try_from(ack.version).unwrap_or(i64::MAX));
                }
                Some(reason) => {
                    metrics.nacks.inc();
                    tracing::warn!(proxy = %self.name, version = ack.version, %reason, "proxy refused a snapshot");
                    proxy.refused = Some(reason.clone());
                }
            }
        }
        self.fleet.touch();
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let count = {
            let mut proxies = self.fleet.lock();
            proxies.remove(&self.id);
            // Another connection of the same pod may still be there (a reconnect racing the
            // old stream's end): keep its series then.
            if !proxies.values().any(|p| p.name == self.name) {
                let _ = self
                    .fleet
                    .metrics
                    .proxy_version
                    .remove_label_values(&[&self.name]);
            }
            proxies.len()
        };
        self.fleet
            .metrics
            .connected_proxies
            .set(i64::try_from(count).unwrap_or(i64::MAX));
        tracing::info!(proxy = %self.name, connected = count, "proxy disconnected");
        self.fleet.touch();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_is_synced_by_proxies_that_acked_it_or_newer() -> prometheus::Result<()> {
        let fleet = Arc::new(Fleet::new(Metrics::new()?));
        let (a, b, _c) = (
            fleet.join("a".into()),
            fleet.join("b".into()),
            fleet.join("c".into()),
        );
        let ack = |version, error: Option<&str>| Ack {
            version,
            hash: "h".into(),
            error: error.map(str::to_owned),
        };
        a.answer(&ack(5, None));
        b.answer(&ack(3, None));
        b.answer(&ack(4, Some("broken")));
        let view = fleet.view();
        assert_eq!(view.synced(3), (2, 3));
        assert_eq!(view.synced(5), (1, 3));
        assert_eq!(view.refusals(), ["b: broken"]);
        drop(a);
        assert_eq!(fleet.view().synced(3), (1, 2), "a left");
        Ok(())
    }
}
