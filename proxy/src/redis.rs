//! The shared Redis that global rate limits, budgets and the shared cache tier use: one
//! multiplexed connection per proxy, reconnected by the client when it breaks, and a
//! background check that keeps `switchyard_redis_up` and `/config` truthful.
//!
//! The URL (from `--redis-url`, normally a Secret) may hold a password, so only its host and
//! port are ever shown.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use pingora::{server::ShutdownWatch, services::background::BackgroundService};
use redis::aio::ConnectionManager;
use tokio::sync::OnceCell;

use crate::metrics::Metrics;

/// How often the connection is checked.
const CHECK_EVERY: Duration = Duration::from_secs(5);
/// How long one check or connect may take before Redis counts as down.
const TIMEOUT: Duration = Duration::from_secs(2);

/// A `--redis-url` that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("--redis-url is not a Redis URL (redis://[:PASSWORD@]HOST[:PORT][/DB] or rediss://…): {0}")]
pub struct BadUrl(#[source] redis::RedisError);

/// The shared Redis.
pub struct Redis {
    client: redis::Client,
    /// `host:port`, for `/config` and logs.
    address: String,
    connection: OnceCell<ConnectionManager>,
    up: AtomicBool,
}

impl Redis {
    /// Checks the URL; connects later, in the background.
    pub fn new(url: &str) -> Result<Arc<Self>, BadUrl> {
        let client = redis::Client::open(url).map_err(BadUrl)?;
        let address = client.get_connection_info().addr().to_string();
        Ok(Arc::new(Self {
            client,
            address,
            connection: OnceCell::new(),
            up: AtomicBool::new(false),
        }))
    }

    /// The connection, once established (`None` while Redis has never answered).
    pub fn connection(&self) -> Option<ConnectionManager> {
        self.connection.get().cloned()
    }

    /// Whether the last check got an answer.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// `host:port`, never the password.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Connects if not connected yet, then sends `PING` (the health check; benches use it too).
    pub async fn check(&self) -> Result<(), String> {
        let connect = || async {
            // The next check retries; the manager's own retries would outlast a check.
            let config = redis::aio::ConnectionManagerConfig::new()
                .set_number_of_retries(0)
                .set_connection_timeout(Some(TIMEOUT))
                .set_response_timeout(Some(TIMEOUT));
            let manager = ConnectionManager::new_with_config(self.client.clone(), config);
            match tokio::time::timeout(TIMEOUT, manager).await {
                Ok(connected) => connected.map_err(|error| error.to_string()),
                Err(_) => Err(format!("no connection within {TIMEOUT:?}")),
            }
        };
        let mut connection = self.connection.get_or_try_init(connect).await?.clone();
        let ping = redis::cmd("PING");
        match tokio::time::timeout(TIMEOUT, ping.query_async::<String>(&mut connection)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer to PING within {TIMEOUT:?}")),
        }
    }
}

/// Keeps the connection checked.
pub struct RedisCheck {
    /// The shared Redis.
    pub redis: Arc<Redis>,
    /// Where `switchyard_redis_up` lives.
    pub metrics: Metrics,
}

#[async_trait]
impl BackgroundService for RedisCheck {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut tick = tokio::time::interval(CHECK_EVERY);
        let mut reported: Option<bool> = None;
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tick.tick() => {}
            }
            let result = self.redis.check().await;
            let up = result.is_ok();
            self.redis.up.store(up, Ordering::Relaxed);
            self.metrics.redis_up.set(i64::from(up));
            // One line per change, not one per check.
            if reported != Some(up) {
                reported = Some(up);
                match result {
                    Ok(()) => tracing::info!(redis = %self.redis.address, "Redis reachable"),
                    Err(error) => {
                        tracing::warn!(redis = %self.redis.address, %error, "Redis unreachable");
                    }
                }
            }
        }
    }
}
