//! Counters of `global` limits, in the shared Redis: every counter of a request is checked and
//! reserved by one Lua script in one round trip, atomically (Redis runs a script alone), so
//! proxies sharing Redis never admit past a limit together. Keys carry their window, and
//! expire a minute after it ends.

use std::{sync::LazyLock, time::Duration};

use redis::Script;

use crate::redis::Redis;

/// The longest a Redis call may take before Redis counts as unavailable for this request.
pub const TIMEOUT: Duration = Duration::from_millis(500);
/// How long a key outlives its window (late settlements still find it).
pub const GRACE_SECS: u64 = 60;

/// KEYS: counters; ARGV: `amount, max, ttl` per counter. Returns `{1, used after…}` when all
/// fit (and reserves them), or `{0, index (1-based), used before}` for the first that does not.
///
/// The common case costs one `INCRBY` per counter: a counter is reserved first and the
/// reservations undone if one does not fit (Redis runs the script alone, so nobody sees the
/// undone state); a key gets its TTL when this script creates it, and a key it created for
/// a refused request is deleted rather than left at zero without one.
static ADMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local out = {1}
for i = 1, #KEYS do
  local amount = tonumber(ARGV[3 * i - 2])
  local used = redis.call('INCRBY', KEYS[i], amount)
  if used > tonumber(ARGV[3 * i - 1]) then
    for j = 1, i do
      local taken = tonumber(ARGV[3 * j - 2])
      if redis.call('DECRBY', KEYS[j], taken) == 0 and (j == i and used == amount or out[j + 1] == taken) then
        redis.call('DEL', KEYS[j])
      end
    end
    return {0, i, used - amount}
  end
  if used == amount then
    redis.call('EXPIRE', KEYS[i], ARGV[3 * i])
  end
  out[i + 1] = used
end
return out
",
    )
});

/// KEYS: counters; ARGV: a signed correction per counter. A counter whose key expired (its
/// window is over) is left alone; none goes below zero.
static ADJUST: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local used = redis.call('INCRBY', KEYS[i], ARGV[i])
    if used < 0 then
      redis.call('INCRBY', KEYS[i], -used)
    end
  end
end
return 1
",
    )
});

/// One counter's part of an admission.
#[derive(Clone, Debug)]
pub struct Take<'a> {
    /// The Redis key (limit, unit, window, caller).
    pub key: &'a str,
    /// What the request reserves.
    pub amount: u64,
    /// The limit.
    pub max: u64,
    /// Seconds the key lives.
    pub ttl: u64,
}

/// What Redis decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Everything was reserved; the counts after, in order.
    Admitted(Vec<u64>),
    /// The counter at this index has this much used and would pass its limit.
    Refused {
        /// Index into the takes.
        index: usize,
        /// Its count.
        used: u64,
    },
}

/// Why Redis gave no decision.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    /// No connection was ever made (or no `--redis-url`).
    #[error("no connection to Redis")]
    NotConnected,
    /// The call failed.
    #[error("the Redis call failed: {0}")]
    Failed(#[source] redis::RedisError),
    /// The call took longer than `TIMEOUT`.
    #[error("Redis did not answer within {TIMEOUT:?}")]
    Timeout,
    /// The script answered something unexpected.
    #[error("the limit script answered {0:?}")]
    Unexpected(Vec<i64>),
}

/// Checks and reserves every take at once.
pub async fn admit(redis: Option<&Redis>, takes: &[Take<'_>]) -> Result<Decision, Unavailable> {
    let mut connection = redis
        .and_then(Redis::connection)
        .ok_or(Unavailable::NotConnected)?;
    let mut invocation = ADMIT.prepare_invoke();
    for take in takes {
        invocation
            .key(take.key)
            .arg(take.amount)
            .arg(take.max)
            .arg(take.ttl);
    }
    let answer: Vec<i64> = tokio::time::timeout(TIMEOUT, invocation.invoke_async(&mut connection))
        .await
        .map_err(|_| Unavailable::Timeout)?
        .map_err(Unavailable::Failed)?;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    match answer.as_slice() {
        [1, used @ ..] if used.len() == takes.len() => Ok(Decision::Admitted(
            used.iter().copied().map(count).collect(),
        )),
        [0, index, used] if *index >= 1 && (*index as usize) <= takes.len() => {
            Ok(Decision::Refused {
                index: *index as usize - 1,
                used: count(*used),
            })
        }
        _ => Err(Unavailable::Unexpected(answer)),
    }
}

/// Applies signed corrections (settlements and releases) to counters.
pub async fn adjust(
    redis: Option<&Redis>,
    corrections: &[(String, i64)],
) -> Result<(), Unavailable> {
    let mut connection = redis
        .and_then(Redis::connection)
        .ok_or(Unavailable::NotConnected)?;
    let mut invocation = ADJUST.prepare_invoke();
    for (key, delta) in corrections {
        invocation.key(key.as_str()).arg(*delta);
    }
    tokio::time::timeout(TIMEOUT, invocation.invoke_async::<i64>(&mut connection))
        .await
        .map_err(|_| Unavailable::Timeout)?
        .map_err(Unavailable::Failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use switchyard_test_cluster::RedisServer;

    use super::*;

    fn take(key: &str, amount: u64, max: u64) -> Take<'_> {
        Take {
            key,
            amount,
            max,
            ttl: 120,
        }
    }

    #[tokio::test]
    async fn a_refusal_leaves_every_counter_as_it_was() -> Result<(), Box<dyn std::error::Error>> {
        let server = RedisServer::start().await?;
        let redis = Redis::new(&server.url())?;
        redis.check().await?;
        let mut connection = redis.connection().ok_or("no connection")?;
        let admitted = admit(
            Some(&redis),
            &[take("t:req", 1, 10), take("t:tok", 50, 100)],
        )
        .await?;
        assert_eq!(admitted, Decision::Admitted(vec![1, 50]));
        let ttl: i64 = redis::cmd("TTL")
            .arg("t:tok")
            .query_async(&mut connection)
            .await?;
        assert!(
            ttl > 0 && ttl <= 120,
            "a key the script creates expires: {ttl}"
        );

        // The tokens do not fit: the request counter is returned, a fresh key is not left
        // behind without a TTL.
        let refused = admit(
            Some(&redis),
            &[
                take("t:req", 1, 10),
                take("t:fresh", 5, 100),
                take("t:tok", 60, 100),
            ],
        )
        .await?;
        assert_eq!(refused, Decision::Refused { index: 2, used: 50 });
        let (req, tok): (i64, i64) = redis::pipe()
            .get("t:req")
            .get("t:tok")
            .query_async(&mut connection)
            .await?;
        assert_eq!((req, tok), (1, 50));
        let fresh: bool = redis::cmd("EXISTS")
            .arg("t:fresh")
            .query_async(&mut connection)
            .await?;
        assert!(!fresh, "a key created for a refused request is removed");
        Ok(())
    }
}
