//! JWKS fetched from issuers' URLs, kept across snapshot swaps: a registry hands each policy
//! the one shared [`RemoteKeys`] of its URL (the hot path only loads its `ArcSwap`), and a
//! background service fetches and refreshes them:
//! - when first needed, then again after the response's `Cache-Control: max-age`, clamped to
//!   [`MIN_TTL`]..[`MAX_TTL`] ([`DEFAULT_TTL`] without one);
//! - when a token names an unknown `kid` (the issuer rotated its keys), at most once per
//!   [`UNKNOWN_KID_INTERVAL`], so a flood of bad tokens cannot turn into a flood of fetches;
//! - after a failure, with backoff, keeping the last good keys meanwhile.
//!
//! Fetches are bounded (timeout, body size) and https only, verified against the system's roots
//! (or `SSL_CERT_FILE`).

mod fetch;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use pingora::{server::ShutdownWatch, services::background::BackgroundService};
use tokio::time::Instant;

use super::jwt::KeySet;
use crate::{metrics::Metrics, store::Store};

/// Refresh interval without a `max-age`.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// Shortest refresh interval a `max-age` can ask for.
pub const MIN_TTL: Duration = Duration::from_secs(30);
/// Longest: keys are refreshed at least this often whatever the issuer says.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);
/// Fewest seconds between two fetches caused by unknown `kid`s.
pub const UNKNOWN_KID_INTERVAL: Duration = Duration::from_secs(5);
/// Longest wait before retrying a failed fetch (it doubles from one second up to this).
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How often the service looks for work.
const TICK: Duration = Duration::from_millis(250);

/// The keys of one JWKS URL, shared by every policy (of every snapshot) that names it.
#[derive(Debug)]
pub struct RemoteKeys {
    /// The URL.
    pub url: Box<str>,
    keys: ArcSwapOption<KeySet>,
    refresh_wanted: AtomicBool,
}

impl RemoteKeys {
    /// The last good keys, `None` before the first successful fetch.
    pub fn load(&self) -> Option<Arc<KeySet>> {
        self.keys.load_full()
    }

    /// Asks for a fetch soon (a token named a key the set does not have).
    pub fn request_refresh(&self) {
        self.refresh_wanted.store(true, Ordering::Relaxed);
    }
}

/// Every JWKS URL in use, so keys outlive the snapshot that first named them.
#[derive(Debug, Default)]
pub struct JwksRegistry {
    // Locked only when a snapshot's state is built and by the fetcher, never per request.
    entries: Mutex<HashMap<Box<str>, Arc<RemoteKeys>>>,
}

impl JwksRegistry {
    /// The shared keys of `url`, created (empty, due for a fetch) when new.
    pub fn keys_for(&self, url: &str) -> Arc<RemoteKeys> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.entry(url.into()).or_insert_with(|| {
            Arc::new(RemoteKeys {
                url: url.into(),
                keys: ArcSwapOption::empty(),
                refresh_wanted: AtomicBool::new(false),
            })
        });
        Arc::clone(entry)
    }

    /// The URLs some policy still uses; the others are forgotten.
    fn in_use(&self) -> Vec<Arc<RemoteKeys>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, keys| Arc::strong_count(keys) > 1);
        entries.values().cloned().collect()
    }
}

/// When one URL is fetched next.
#[derive(Debug)]
struct Schedule {
    next: Instant,
    last_attempt: Option<Instant>,
    failures: u32,
    /// An unknown kid asked for a fetch that the rate limit put off.
    pending: bool,
}

/// The background service that fetches and refreshes every URL in use.
pub struct Fetcher {
    /// Where the registry is.
    pub store: Arc<Store>,
    /// Fetch counters.
    pub metrics: Metrics,
}

#[async_trait]
impl BackgroundService for Fetcher {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let client = match fetch::Client::new() {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "no TLS roots for fetching JWKS; JWKS URLs stay empty");
                return;
            }
        };
        let mut schedules: HashMap<Box<str>, Schedule> = HashMap::new();
        loop {
            let in_use = self.store.jwks.in_use();
            schedules.retain(|url, _| in_use.iter().any(|k| k.url == *url));
            for keys in in_use {
                let now = Instant::now();
                let schedule = schedules.entry(keys.url.clone()).or_insert(Schedule {
                    next: now,
                    last_attempt: None,
                    failures: 0,
                    pending: false,
                });
                if keys.refresh_wanted.swap(false, Ordering::Relaxed) {
                    schedule.pending = true;
                }
                let kid_refresh = schedule.pending
                    && schedule
                        .last_attempt
                        .is_none_or(|at| now >= at + UNKNOWN_KID_INTERVAL);
                if now >= schedule.next || kid_refresh {
                    self.refresh(&client, &keys, schedule).await;
                }
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                () = tokio::time::sleep(TICK) => {}
            }
        }
    }
}

impl Fetcher {
    async fn refresh(&self, client: &fetch::Client, keys: &RemoteKeys, schedule: &mut Schedule) {
        let started = Instant::now();
        schedule.last_attempt = Some(started);
        schedule.pending = false;
        let outcome = client.get(&keys.url).await.and_then(|(body, max_age)| {
            let set = KeySet::parse(&body).map_err(fetch::FetchError::Jwks)?;
            Ok((set, max_age))
        });
        match outcome {
            Ok((set, max_age)) => {
                let ttl = max_age.unwrap_or(DEFAULT_TTL).clamp(MIN_TTL, MAX_TTL);
                tracing::info!(url = %keys.url, keys = set.len(), ?ttl, "JWKS fetched");
                keys.keys.store(Some(Arc::new(set)));
                schedule.failures = 0;
                schedule.next = started + ttl;
                self.metrics
                    .jwks_fetches
                    .with_label_values(&["success"])
                    .inc();
            }
            Err(error) => {
                schedule.failures = schedule.failures.saturating_add(1);
                let backoff =
                    Duration::from_secs(1u64 << schedule.failures.min(6).saturating_sub(1))
                        .min(MAX_BACKOFF);
                schedule.next = started + backoff;
                let kept = keys.keys.load().as_ref().map_or(0, |set| set.len());
                tracing::warn!(url = %keys.url, %error, kept_keys = kept, retry_in = ?backoff, "JWKS fetch failed; keeping the last good keys");
                self.metrics
                    .jwks_fetches
                    .with_label_values(&["failure"])
                    .inc();
            }
        }
    }
}
