//! The response cache: exact match on the normalized request (see `key`), in memory bounded
//! by bytes and optionally in the shared Redis tier. The stage runs after authentication,
//! authorization, guardrails (so the key sees redacted prompts) and limit admission:
//! 1. `lookup` computes the key, tries memory then Redis, and on a hit answers with the
//!    stored bytes (`x-switchyard-cache: hit`) before any upstream call — no tokens are
//!    used, so limits settle with zero;
//! 2. on a miss, `respond` captures what the client is sent (`RequestCtx::cache`) and puts it
//!    in memory as the last byte goes out, only if it is a complete 2xx answer no larger than
//!    `maxEntryBytes`: never an error, never a stream that broke, stalled or lost its client;
//! 3. `store` counts the outcome and copies a stored entry to Redis.
//!
//! Streams and whole answers are keyed apart (a stream is replayed as the same SSE bytes, a
//! whole answer as the identical body). Several policies with a cache on one route combine
//! to the strictest: the shortest TTL, the smallest entry size, `subject` scope if any says
//! so; the Redis tier is used if any asks for it (and `--redis-url` is set). A client sending
//! `Cache-Control: no-cache` or `no-store` bypasses the cache both ways.

mod capture;
pub mod key;
mod memory;
mod shared;

use std::{sync::Arc, time::Duration};

use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use switchyard_crds::{
    policy::CacheScope,
    snapshot::{Policy, Route},
};
use switchyard_providers::ClientRequest;

use crate::{
    auth::Principal, ctx::RequestCtx, gateway::Gateway, metrics::LookupResult, respond,
    store::State,
};

pub use self::{capture::CacheCtx, memory::Memory};
use self::{
    capture::{Capture, Captured},
    key::Key,
    memory::Entry,
};

/// A route's cache settings, combined from its policies once per snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteCache {
    ttl: Duration,
    max_entry_bytes: usize,
    scope: CacheScope,
    redis: bool,
    /// See [`key::route_fingerprint`].
    fingerprint: [u8; 32],
}

impl RouteCache {
    /// What keys of `principal`'s requests are computed in: the route, and the subject under
    /// `subject` scope.
    pub fn scope_of<'a>(&'a self, principal: &'a Principal) -> key::Scope<'a> {
        key::Scope {
            route: &self.fingerprint,
            subject: (self.scope == CacheScope::Subject).then(|| principal.subject()),
        }
    }

    /// The cache of `route`, if any of its `policies` has one.
    pub fn new(
        route: &Route,
        policies: &[Policy],
        models: &[switchyard_crds::snapshot::Model],
    ) -> Option<Self> {
        let caches = route
            .policies
            .iter()
            .filter_map(|idx| policies.get(*idx as usize)?.cache.as_ref());
        caches.fold(None, |combined: Option<Self>, cache| {
            let next = Self {
                ttl: cache.ttl.get(),
                max_entry_bytes: usize::try_from(cache.max_entry_bytes).unwrap_or(usize::MAX),
                scope: cache.scope,
                redis: cache.redis,
                fingerprint: [0; 32],
            };
            Some(match combined {
                None => Self {
                    fingerprint: key::route_fingerprint(route, models),
                    ..next
                },
                Some(before) => Self {
                    ttl: before.ttl.min(next.ttl),
                    max_entry_bytes: before.max_entry_bytes.min(next.max_entry_bytes),
                    scope: if before.scope == CacheScope::Subject {
                        CacheScope::Subject
                    } else {
                        next.scope
                    },
                    redis: before.redis || next.redis,
                    ..before
                },
            })
        })
    }
}

/// Where and how long a miss's answer is to be stored.
#[derive(Debug)]
pub(crate) struct Pending {
    key: Key,
    ttl: Duration,
    redis: bool,
}

/// What the lookup decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A hit was sent to the client; the request is answered.
    Answered,
    /// Go upstream (on a miss, the answer is captured for the cache).
    Upstream,
}

/// Looks `request` up in the cache of route `idx` and answers it on a hit.
pub async fn lookup(
    gateway: &Gateway,
    state: &State,
    idx: usize,
    principal: &Principal,
    request: &ClientRequest,
    session: &mut Session,
    ctx: &mut RequestCtx,
) -> Lookup {
    let Some(settings) = state.caches.get(idx).and_then(Option::as_ref) else {
        return Lookup::Upstream;
    };
    let route = ctx.route.clone().unwrap_or_default();
    if bypassed(session) {
        gateway.metrics.cache.lookup(&route, LookupResult::Bypass);
        ctx.cache.result = Some(LookupResult::Bypass);
        return Lookup::Upstream;
    }
    let key = key::compute(settings.scope_of(principal), request);
    let redis = gateway.redis.as_deref().filter(|_| settings.redis);
    if let Some(body) = find(gateway, redis, &key).await {
        gateway.metrics.cache.lookup(&route, LookupResult::Hit);
        ctx.cache.result = Some(LookupResult::Hit);
        replay(session, ctx, request.stream(), body).await;
        return Lookup::Answered;
    }
    gateway.metrics.cache.lookup(&route, LookupResult::Miss);
    ctx.cache.result = Some(LookupResult::Miss);
    ctx.cache.capture = Some(Capture {
        pending: Pending {
            key,
            ttl: settings.ttl,
            redis: redis.is_some(),
        },
        limit: settings.max_entry_bytes,
        memory: gateway.cache.clone(),
        body: Captured::Partial(BytesMut::new()),
    });
    Lookup::Upstream
}

/// Whether the client asked not to use the cache.
fn bypassed(session: &Session) -> bool {
    session
        .req_header()
        .headers
        .get_all(http::header::CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|directive| {
            let directive = directive.trim();
            directive.eq_ignore_ascii_case("no-cache") || directive.eq_ignore_ascii_case("no-store")
        })
}

/// Memory first, then Redis (whose hit is kept in memory for what is left of its TTL).
async fn find(gateway: &Gateway, redis: Option<&crate::redis::Redis>, key: &Key) -> Option<Bytes> {
    if let Some(entry) = gateway.cache.get(key).await {
        gateway.metrics.cache.hit("memory");
        return Some(entry.body.clone());
    }
    let (body, ttl) = shared::get(redis?, &gateway.metrics, key).await?;
    gateway.metrics.cache.hit("redis");
    let entry = Arc::new(Entry {
        body: body.clone(),
        ttl,
    });
    gateway.cache.insert(*key, entry).await;
    Some(body)
}

/// Sends a stored answer: the identical JSON body, or the stream's events in one write.
async fn replay(session: &mut Session, ctx: &mut RequestCtx, stream: bool, body: Bytes) {
    let sent = if stream {
        match respond::stream_start(session, ctx).await {
            Ok(()) => respond::stream_chunk(session, ctx, body, true).await,
            Err(error) => Err(error),
        }
    } else {
        respond::json(session, ctx, 200, body).await
    };
    if let Err(error) = sent {
        tracing::debug!(%error, "client went away during a cache hit");
    }
}

/// Counts what became of a captured answer and copies a stored one to Redis when the
/// policy asks (after the client has its answer; bounded by the Redis tier's deadline).
pub async fn store(gateway: &Gateway, ctx: &mut RequestCtx) {
    let Some(capture) = ctx.cache.capture.take() else {
        return;
    };
    let entry = match capture.body {
        Captured::Stored(entry) => entry,
        Captured::TooLarge => return gateway.metrics.cache.skipped("too_large"),
        Captured::Partial(_) | Captured::Failed => {
            return gateway.metrics.cache.skipped("incomplete");
        }
    };
    gateway.metrics.cache.stored("memory");
    let pending = capture.pending;
    if let Some(redis) = gateway.redis.as_deref().filter(|_| pending.redis)
        && shared::set(
            redis,
            &gateway.metrics,
            &pending.key,
            &entry.body,
            entry.ttl,
        )
        .await
    {
        gateway.metrics.cache.stored("redis");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn state(policies: &str, route_extra: &str) -> State {
        let route = format!(
            "apiVersion: switchyard.dev/v1alpha1\nkind: AIRoute\nmetadata: {{name: r}}\nspec:\n  models: [r]\n  backends: [{{modelRef: {{name: m}}, weight: 3}}]\n{route_extra}---\n"
        );
        fixtures::state(&format!("{}{route}{policies}", fixtures::model("m", "1")))
    }

    fn policy(name: &str, cache: &str) -> String {
        format!(
            "apiVersion: switchyard.dev/v1alpha1\nkind: AIPolicy\nmetadata: {{name: {name}}}\nspec:\n  targetRefs: [{{kind: Namespace}}]\n  authentication: {{anonymous: true}}\n  cache: {cache}\n---\n"
        )
    }

    #[test]
    fn policies_on_one_route_combine_to_the_strictest_cache() {
        let both = format!(
            "{}{}",
            policy("a", "{ttl: 10m, maxEntryBytes: 1000, scope: shared}"),
            policy(
                "b",
                "{ttl: 1m, maxEntryBytes: 5000, scope: subject, redis: true}"
            )
        );
        let combined = state(&both, "");
        let cache = combined.caches[0].as_ref().unwrap();
        assert_eq!(cache.ttl, Duration::from_secs(60));
        assert_eq!(cache.max_entry_bytes, 1000);
        assert_eq!(cache.scope, CacheScope::Subject);
        assert!(cache.redis);

        let none = state("", "");
        assert!(none.caches[0].is_none());
    }

    #[test]
    fn the_route_fingerprint_follows_transforms_but_not_weights() {
        let cache = policy("a", "{}");
        let fingerprint =
            |extra: &str| state(&cache, extra).caches[0].as_ref().unwrap().fingerprint;
        let plain = fingerprint("");
        assert_eq!(plain, fingerprint("  strategy: lowest-latency\n"));
        assert_ne!(
            plain,
            fingerprint("  transforms: {systemPrompt: {text: be brief}}\n")
        );
    }
}
