//! The Redis tier, shared by every proxy that uses the same Redis: entries under
//! `switchyard:cache:v1:<key hex>`, written with `SET … PX ttl`, read with `GET` and `PTTL` in
//! one round trip. Every call has a short deadline, and any failure (Redis down, slow, or not
//! connected yet) is a miss plus `switchyard_cache_redis_errors_total`: the cache never fails
//! or holds up a request.

use std::time::Duration;

use bytes::Bytes;

use super::key::Key;
use crate::{metrics::Metrics, redis::Redis};

/// The longest a cache read or write waits for Redis.
const DEADLINE: Duration = Duration::from_millis(100);
/// Prefix of every cache key in Redis (the version changes with the key format).
const PREFIX: &str = "switchyard:cache:v1:";

fn redis_key(key: &Key) -> String {
    format!("{PREFIX}{}", key.hex())
}

/// Reads `key`: its body and remaining lifetime, if Redis has it.
pub async fn get(redis: &Redis, metrics: &Metrics, key: &Key) -> Option<(Bytes, Duration)> {
    let Some(mut connection) = redis.connection().filter(|_| redis.is_up()) else {
        metrics.cache.redis_error("get");
        return None;
    };
    let name = redis_key(key);
    let mut pipe = redis::pipe();
    pipe.get(&name).pttl(&name);
    let read = pipe.query_async::<(Option<Vec<u8>>, i64)>(&mut connection);
    match tokio::time::timeout(DEADLINE, read).await {
        Ok(Ok((Some(body), ttl_ms))) if ttl_ms > 0 => Some((
            Bytes::from(body),
            Duration::from_millis(ttl_ms.unsigned_abs()),
        )),
        Ok(Ok(_)) => None,
        Ok(Err(error)) => {
            tracing::debug!(%error, "cache read from Redis failed");
            metrics.cache.redis_error("get");
            None
        }
        Err(_) => {
            tracing::debug!("cache read from Redis timed out");
            metrics.cache.redis_error("get");
            None
        }
    }
}

/// Writes `key` with a lifetime of `ttl`; true if Redis took it.
pub async fn set(redis: &Redis, metrics: &Metrics, key: &Key, body: &Bytes, ttl: Duration) -> bool {
    let Some(mut connection) = redis.connection().filter(|_| redis.is_up()) else {
        metrics.cache.redis_error("set");
        return false;
    };
    let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
    let mut command = redis::cmd("SET");
    command
        .arg(redis_key(key))
        .arg(body.as_ref())
        .arg("PX")
        .arg(ttl_ms);
    let write = command.query_async::<()>(&mut connection);
    match tokio::time::timeout(DEADLINE, write).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::debug!(%error, "cache write to Redis failed");
            metrics.cache.redis_error("set");
            false
        }
        Err(_) => {
            tracing::debug!("cache write to Redis timed out");
            metrics.cache.redis_error("set");
            false
        }
    }
}
