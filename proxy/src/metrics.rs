//! Prometheus metrics. Pingora exports none of its own, so the `logging` phase records each
//! request here from its `RequestCtx`. Labels are bounded: route and model names come from the
//! configuration, never from the request.

use std::sync::Arc;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::ctx::RequestCtx;

mod calls;
mod channel;
mod limits;
mod policy;

pub use channel::{ChannelMetrics, PushResult};
pub use limits::LimitMetrics;
pub use policy::{CacheMetrics, GuardrailMetrics, LookupResult};

/// Latency buckets in seconds: 1 ms to 5 min.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
];

/// Every metric the proxy exports.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    first_token: HistogramVec,
    tokens: IntCounterVec,
    cost: prometheus::CounterVec,
    attempts: IntCounterVec,
    retries: IntCounterVec,
    fallbacks: IntCounterVec,
    ejections: IntCounterVec,
    /// Version of the published snapshot.
    pub snapshot_version: IntGauge,
    /// Configuration changes refused (the last good snapshot stayed).
    pub config_rejections: IntCounter,
    /// Problems the compiler reported for the published snapshot.
    pub config_problems: IntGauge,
    /// Snapshots published.
    pub config_reloads: IntCounter,
    /// Refused authentications and authorizations, by reason.
    pub security_events: IntCounterVec,
    /// JWKS fetches from issuers' URLs, by result.
    pub jwks_fetches: IntCounterVec,
    /// 1 while the shared Redis answers (absent without `--redis-url`).
    pub redis_up: IntGauge,
    /// The config channel to the operator.
    pub channel: ChannelMetrics,
    /// Deny-pattern refusals and PII redactions.
    pub guardrails: GuardrailMetrics,
    /// The response cache.
    pub cache: CacheMetrics,
    /// Rate limits and budgets.
    pub limits: LimitMetrics,
    calls: Arc<calls::Calls>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// Registers a counter family.
fn counter(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    let counter = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(counter.clone()))?;
    Ok(counter)
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<HistogramVec> {
    let opts = HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec());
    let histogram = HistogramVec::new(opts, labels)?;
    registry.register(Box::new(histogram.clone()))?;
    Ok(histogram)
}

const REQUEST_LABELS: &[&str] = &["route", "model", "provider", "status", "error"];
const CALL_LABELS: &[&str] = &["route", "model", "provider"];

impl Metrics {
    /// Registers every metric in a new registry.
    pub fn new() -> prometheus::Result<Self> {
        let r = Registry::new();
        let cost = prometheus::CounterVec::new(
            Opts::new(
                "switchyard_cost_usd_total",
                "Cost of requests in US dollars, from AIModel pricing.",
            ),
            CALL_LABELS,
        )?;
        r.register(Box::new(cost.clone()))?;
        let gauge = |name: &str, help: &str| -> prometheus::Result<IntGauge> {
            let gauge = IntGauge::new(name, help)?;
            r.register(Box::new(gauge.clone()))?;
            Ok(gauge)
        };
        let plain = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let counter = IntCounter::new(name, help)?;
            r.register(Box::new(counter.clone()))?;
            Ok(counter)
        };
        Ok(Self {
            requests: counter(
                &r,
                "switchyard_requests_total",
                "Requests by route, backend model, provider, status and error type.",
                REQUEST_LABELS,
            )?,
            duration: histogram(
                &r,
                "switchyard_request_duration_seconds",
                "Time from request to the last response byte.",
                CALL_LABELS,
            )?,
            first_token: histogram(
                &r,
                "switchyard_time_to_first_token_seconds",
                "Time from request to the first response byte (the first token of a stream).",
                CALL_LABELS,
            )?,
            tokens: counter(
                &r,
                "switchyard_tokens_total",
                "Tokens by kind: input, output, cached_input, reasoning.",
                &["route", "model", "provider", "kind"],
            )?,
            cost,
            attempts: counter(
                &r,
                "switchyard_upstream_attempts_total",
                "Upstream attempts by provider.",
                &["provider"],
            )?,
            retries: counter(
                &r,
                "switchyard_retries_total",
                "Attempts after the first, by provider.",
                &["provider"],
            )?,
            fallbacks: counter(
                &r,
                "switchyard_fallbacks_total",
                "Attempts at a route's fallback models, by provider.",
                &["provider"],
            )?,
            ejections: counter(
                &r,
                "switchyard_backend_ejections_total",
                "Backends ejected by passive health checks, by provider.",
                &["provider"],
            )?,
            snapshot_version: gauge(
                "switchyard_snapshot_version",
                "Version of the published snapshot.",
            )?,
            config_rejections: plain(
                "switchyard_config_rejections_total",
                "Configuration changes refused; the last good snapshot stayed.",
            )?,
            config_problems: gauge(
                "switchyard_config_problems",
                "Problems reported for the published configuration.",
            )?,
            config_reloads: plain("switchyard_config_reloads_total", "Snapshots published.")?,
            security_events: counter(
                &r,
                "switchyard_security_events_total",
                "Requests refused with 401 or 403 (and routes closed by an invalid policy), by reason.",
                &["reason"],
            )?,
            jwks_fetches: counter(
                &r,
                "switchyard_jwks_fetches_total",
                "JWKS fetches from issuers' URLs, by result (success or failure; a failure keeps the last good keys).",
                &["result"],
            )?,
            redis_up: gauge(
                "switchyard_redis_up",
                "1 while the shared Redis (--redis-url) answers, 0 while it does not.",
            )?,
            channel: ChannelMetrics::register(&r)?,
            guardrails: GuardrailMetrics::register(&r)?,
            cache: CacheMetrics::register(&r)?,
            limits: LimitMetrics::register(&r)?,
            calls: Arc::default(),
            registry: r,
        })
    }

    /// Counts an upstream attempt.
    pub fn attempt(&self, provider: &str, retry: bool, fallback: bool) {
        self.attempts.with_label_values(&[provider]).inc();
        if retry {
            self.retries.with_label_values(&[provider]).inc();
        }
        if fallback {
            self.fallbacks.with_label_values(&[provider]).inc();
        }
    }

    /// Counts an ejection.
    pub fn ejected(&self, provider: &str) {
        self.ejections.with_label_values(&[provider]).inc();
    }

    /// Records a finished request.
    pub fn record(&self, ctx: &RequestCtx) {
        if let (Some(route), Some(model), Some(provider)) =
            (&ctx.route, &ctx.attempts.backend, ctx.attempts.provider)
        {
            return self.record_call(ctx, route, model, provider);
        }
        let route = ctx.route.as_deref().unwrap_or("");
        let model = ctx.attempts.backend.as_deref().unwrap_or("");
        let provider = ctx.attempts.provider.unwrap_or("");
        let status = status_label(ctx.outcome.status);
        let error = ctx.outcome.error.map_or("", |kind| kind.as_str());
        self.requests
            .with_label_values(&[route, model, provider, status, error])
            .inc();
        let call = [route, model, provider];
        self.duration
            .with_label_values(&call)
            .observe(ctx.timing.start.elapsed().as_secs_f64());
        if let Some(first) = ctx.timing.first_byte {
            self.first_token
                .with_label_values(&call)
                .observe((first - ctx.timing.start).as_secs_f64());
        }
        if let Some(usage) = ctx.usage {
            for (kind, count) in [
                ("input", usage.input_tokens),
                ("output", usage.output_tokens),
                ("cached_input", usage.cached_input_tokens),
                ("reasoning", usage.reasoning_tokens),
            ] {
                if count > 0 {
                    self.tokens
                        .with_label_values(&[route, model, provider, kind])
                        .inc_by(count);
                }
            }
        }
        if let Some(cost) = ctx.outcome.cost_usd {
            self.cost.with_label_values(&call).inc_by(cost);
        }
    }

    /// Records a request that reached a backend, through the pair's cached handles.
    fn record_call(&self, ctx: &RequestCtx, route: &Arc<str>, model: &Arc<str>, provider: &str) {
        let call = self.calls.get(self, route, model, provider);
        if ctx.outcome.status == 200 && ctx.outcome.error.is_none() {
            call.ok.inc();
        } else {
            let status = status_label(ctx.outcome.status);
            let error = ctx.outcome.error.map_or("", |kind| kind.as_str());
            self.requests
                .with_label_values(&[route, model, provider, status, error])
                .inc();
        }
        call.duration
            .observe(ctx.timing.start.elapsed().as_secs_f64());
        if let Some(first) = ctx.timing.first_byte {
            call.first_token
                .observe((first - ctx.timing.start).as_secs_f64());
        }
        if let Some(usage) = ctx.usage {
            let counts = [
                usage.input_tokens,
                usage.output_tokens,
                usage.cached_input_tokens,
                usage.reasoning_tokens,
            ];
            for (counter, count) in call.tokens.iter().zip(counts) {
                if count > 0 {
                    counter.inc_by(count);
                }
            }
        }
        if let Some(cost) = ctx.outcome.cost_usd {
            call.cost.inc_by(cost);
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(%error, "metrics could not be encoded");
        }
        out
    }
}

/// The status as label text, without allocating: exact for the codes the proxy sends,
/// classes for the rest.
fn status_label(status: u16) -> &'static str {
    const EXACT: &[(u16, &str)] = &[
        (200, "200"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (413, "413"),
        (429, "429"),
        (499, "499"),
        (500, "500"),
        (502, "502"),
        (503, "503"),
        (504, "504"),
    ];
    if let Some((_, label)) = EXACT.iter().find(|(code, _)| *code == status) {
        return label;
    }
    match status {
        0 => "0",
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}
