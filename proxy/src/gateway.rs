//! The Pingora `ProxyHttp` implementation: a table of contents. `request_filter` hands every
//! request to the pipeline, which answers it (driving the upstream itself, because routing
//! needs the body); `logging` records metrics and the access log.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use async_trait::async_trait;
use pingora::{
    Error, ErrorType,
    modules::http::HttpModules,
    proxy::{ProxyHttp, Session},
    upstreams::peer::HttpPeer,
};

use crate::{
    access_log, ctx::RequestCtx, metrics::Metrics, pipeline, store::Store, telemetry::Batched,
    upstream::Upstream,
};

/// Settings of the request path.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Size of the response cache's memory tier in bytes.
    pub cache_memory_bytes: u64,
}

/// The proxy service.
pub struct Gateway {
    /// The published configuration.
    pub store: Arc<Store>,
    /// The upstream attempt loop.
    pub upstream: Upstream,
    /// Metrics.
    pub metrics: Metrics,
    /// Settings.
    pub settings: Settings,
    /// Requests being answered now (for graceful shutdown).
    pub in_flight: Arc<AtomicUsize>,
    /// Where access-log lines go (`None`: not logged).
    pub access_log: Option<Batched>,
    /// The shared Redis (global limits, budgets, the cache's shared tier), if `--redis-url`
    /// names one.
    pub redis: Option<Arc<crate::redis::Redis>>,
    /// The response cache's memory tier.
    pub cache: crate::cache::Memory,
}

impl Gateway {
    /// What the rate limiters need.
    pub fn limiter(&self) -> crate::limits::Limiter<'_> {
        crate::limits::Limiter {
            redis: self.redis.as_ref(),
            metrics: &self.metrics.limits,
        }
    }
}

struct Counted<'a>(&'a AtomicUsize);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::default()
    }

    fn init_downstream_modules(&self, _modules: &mut HttpModules) {
        // No modules: Pingora's default adds a (disabled) compression module that still runs
        // on every response; the pipeline writes its responses itself.
    }

    async fn request_filter(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<bool> {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        let _counted = Counted(&self.in_flight);
        pipeline::handle(self, session, ctx).await
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut RequestCtx,
    ) -> pingora::Result<Box<HttpPeer>> {
        // `request_filter` answers every request, so Pingora never asks for a peer.
        Error::e_explain(
            ErrorType::InternalError,
            "the pipeline answers every request",
        )
    }

    async fn logging(&self, session: &mut Session, error: Option<&Error>, ctx: &mut RequestCtx) {
        self.metrics.record(ctx);
        if let Some(log) = &self.access_log {
            access_log::write(log, session, error, ctx);
        }
    }
}
