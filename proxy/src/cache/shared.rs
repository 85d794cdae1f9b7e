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
    let name = redis_key(key);
    let mut pipe = redis::pipe();
    pipe.get(&name).pttl(&name);
    let (body, ttl_ms) = bounded(redis, metrics, "get", |mut connection| async move {
        pipe.query_async::<(Option<Vec<u8>>, i64)>(&mut connection)
            .await
    })
    .await?;
    (ttl_ms > 0).then_some(())?;
    Some((
        Bytes::from(body?),
        Duration::from_millis(ttl_ms.unsigned_abs()),
    ))
}

/// Writes `key` with a lifetime of `ttl`; true if Redis took it.
pub async fn set(redis: &Redis, metrics: &Metrics, key: &Key, body: &Bytes, ttl: Duration) -> bool {
    let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
    let mut command = redis::cmd("SET");
    command
        .arg(redis_key(key))
        .arg(body.as_ref())
        .arg("PX")
        .arg(ttl_ms);
    bounded(redis, metrics, "set", |mut connection| async move {
        command.query_async::<()>(&mut connection).await
    })
    .await
    .is_some()
}

/// Runs one call on the connection within [`DEADLINE`]; a missing connection, a failure or a
/// timeout is `None`, counted under `op` and logged at debug level.
async fn bounded<T, F>(
    redis: &Redis,
    metrics: &Metrics,
    op: &'static str,
    call: impl FnOnce(redis::aio::ConnectionManager) -> F,
) -> Option<T>
where
    F: Future<Output = redis::RedisResult<T>>,
{
    let Some(connection) = redis.connection().filter(|_| redis.is_up()) else {
        metrics.cache.redis_error(op);
        return None;
    };
    let error = match tokio::time::timeout(DEADLINE, call(connection)).await {
        Ok(Ok(value)) => return Some(value),
        Ok(Err(error)) => error.to_string(),
        Err(_) => format!("no answer within {DEADLINE:?}"),
    };
    tracing::debug!(op, %error, "cache call to Redis failed");
    metrics.cache.redis_error(op);
    None
}
