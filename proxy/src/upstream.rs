//! The upstream attempt loop: for each candidate of the plan, translate the request, send it
//! on a pooled connection (or a new one from Pingora's transport connector, TCP or TLS) in one
//! write, read the answer with Pingora's HTTP/1 client, and either deliver the response or,
//! while no byte has gone to the client, move on to the next candidate after a backoff.
//!
//! A stream is only committed when its first translated bytes are ready, so a provider that
//! fails or stalls before its first token is retried like any other failure. Once bytes went
//! downstream, a failure ends the stream with an error event instead.

mod exchange;
pub mod pool;
mod relay;
mod wire;

use std::time::{Duration, SystemTime};

use pingora::{connectors::TransportConnector, proxy::Session};
use switchyard_crds::{route::RetryOn, snapshot::Route};
use switchyard_providers::{ClientRequest, build_request};
use tokio::time::{Instant, sleep_until};

use crate::{
    balance::Candidate,
    ctx::RequestCtx,
    errors::{GatewayError, UpstreamFailure},
    health::Ejection,
    metrics::Metrics,
    store::State,
};

/// What the attempt loop shares across requests.
pub struct Upstream {
    /// Pingora's transport connector: TCP and TLS connections (reuse is `pool`'s job).
    pub transport: TransportConnector,
    /// When backends are ejected.
    pub ejection: Ejection,
}

/// One request's upstream work.
pub struct Call<'a> {
    /// The published state the request runs on.
    pub state: &'a State,
    /// The route serving it.
    pub route: &'a Route,
    /// The parsed client request.
    pub request: &'a ClientRequest,
    /// The attempts to make, in order.
    pub candidates: &'a [Candidate],
}

/// How one attempt ended.
enum Outcome {
    /// The response (possibly a stream that failed midway) reached the client.
    Delivered,
    /// Nothing was sent to the client; the next candidate may be tried.
    Failed(UpstreamFailure),
}

impl Upstream {
    /// Runs the attempts of `call` until one delivers a response.
    pub async fn attempt(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        metrics: &Metrics,
        call: &Call<'_>,
    ) -> Result<(), GatewayError> {
        let total = call.route.timeouts.total;
        let deadline = total.map(|total| ctx.timing.start + total.get());
        let mut last: Option<GatewayError> = None;
        let mut previous: Option<(Candidate, Option<Duration>)> = None;
        for (n, candidate) in call.candidates.iter().enumerate() {
            let (Some(model), Some(backend)) = (
                call.state.snapshot.model(candidate.model),
                call.state.backends.get(candidate.model as usize),
            ) else {
                continue;
            };
            if let Some((before, retry_after)) = previous.take()
                && !self
                    .back_off(call.route, n, before, *candidate, retry_after, deadline)
                    .await
            {
                continue;
            }
            let upstream = match build_request(
                call.request,
                model,
                &call.route.transforms,
                SystemTime::now(),
            ) {
                Ok(upstream) => upstream,
                Err(error) => {
                    // This backend cannot serve the request; another one may.
                    last = Some(error.into());
                    continue;
                }
            };
            ctx.attempts.count += 1;
            ctx.attempts.fallbacks += u32::from(candidate.fallback);
            ctx.attempts.backend = Some(backend.label.clone());
            ctx.attempts.provider = Some(backend.provider);
            metrics.attempt(backend.provider, ctx.attempts.count > 1, candidate.fallback);
            let model_deadline = ctx.timing.start + model.timeouts.total.get();
            let deadline = deadline.map_or(model_deadline, |d| d.min(model_deadline));
            let exchange = exchange::Exchange {
                transport: &self.transport,
                route: call.route,
                request: call.request,
                model,
                backend,
                deadline,
            };
            let _in_flight = backend.load.enter();
            match exchange.run(session, ctx, upstream).await {
                Outcome::Delivered => {
                    backend.health.succeeded();
                    return Ok(());
                }
                Outcome::Failed(failure) => {
                    let class = retry_class(&failure);
                    if class.is_some() && backend.health.failed(self.ejection) {
                        ctx.attempts.ejections += 1;
                        metrics.ejected(backend.provider);
                        tracing::warn!(backend = %backend.label, "backend ejected after consecutive failures");
                    }
                    let retryable = class.is_some_and(|class| call.route.retry.on.contains(&class));
                    let retry_after = failure.retry_after();
                    if !retryable {
                        return Err(failure.into());
                    }
                    tracing::debug!(backend = %backend.label, error = %failure, "attempt failed");
                    last = Some(failure.into());
                    previous = Some((*candidate, retry_after));
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            GatewayError::NoBackend(format!(
                "{}/{}",
                call.route.source.namespace, call.route.source.name
            ))
        }))
    }

    /// Waits before attempt `n` (n ≥ 1). Returns false to skip the candidate: its backend
    /// asked for a longer wait than the route allows, or the wait would pass the deadline.
    async fn back_off(
        &self,
        route: &Route,
        n: usize,
        before: Candidate,
        next: Candidate,
        retry_after: Option<Duration>,
        deadline: Option<Instant>,
    ) -> bool {
        let base = route.retry.backoff_base.get();
        let max = route.retry.backoff_max.get();
        let exponent = u32::try_from(n.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(16);
        let mut wait = base.saturating_mul(2u32.saturating_pow(exponent)).min(max);
        if route.retry.honor_retry_after
            && before.model == next.model
            && let Some(after) = retry_after
        {
            if after > max {
                return false;
            }
            wait = wait.max(after);
        }
        let until = Instant::now() + wait;
        if deadline.is_some_and(|deadline| until >= deadline) {
            return false;
        }
        sleep_until(until).await;
        true
    }
}

/// The retry condition a failure falls under; `None` for failures that are the caller's
/// (a provider's 4xx other than 429), which are never retried and never count against health.
fn retry_class(failure: &UpstreamFailure) -> Option<RetryOn> {
    match failure {
        UpstreamFailure::Connect { .. } => Some(RetryOn::ConnectError),
        UpstreamFailure::Timeout { .. } => Some(RetryOn::Timeout),
        UpstreamFailure::Protocol { .. } => Some(RetryOn::ServerError),
        UpstreamFailure::Status { error, .. } => match error.status {
            429 => Some(RetryOn::TooManyRequests),
            500..=599 => Some(RetryOn::ServerError),
            _ => None,
        },
    }
}

impl UpstreamFailure {
    /// The provider's `Retry-After`, if it sent one.
    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
