//! The request path, in order:
//! 1. find the endpoint from the method and path;
//! 2. load the published state once, so the whole request sees one snapshot;
//! 3. read the body (size cap) and parse the model and `stream`;
//! 4. select the route (model name + header matches), authenticate (API key, JWT or
//!    service-account token) and authorize against its policies;
//! 5. apply the policies' guardrails (deny patterns, PII redaction) to the prompt, count its
//!    tokens and check `maxInputTokens`;
//! 6. reserve on the rate limits and budgets (429 when one is spent);
//! 7. look the request up in the response cache (a hit is answered here and settles the
//!    reservations as one request with no tokens);
//! 8. plan the attempts (strategy, retries, fallbacks, health);
//! 9. run the upstream attempt loop, which delivers the translated response;
//! 10. settle the reservations with the reported usage (or return them on failure), and store
//!     a complete, successful answer in the cache.
//!
//! Every stage returns its error; this file writes it, in the style of the client's API.

use pingora::proxy::Session;
use switchyard_providers::{Api, ClientRequest, ErrorStyle};

use crate::{
    auth, balance, body, cache,
    ctx::{RequestCtx, RequestInfo},
    errors::GatewayError,
    gateway::Gateway,
    guardrails,
    ingress::{self, Endpoint},
    limits, models, respond, route,
    store::State,
    tokens,
    upstream::Call,
};

/// Answers one request. Always returns `Ok(true)`: the response is written here.
pub async fn handle(
    gateway: &Gateway,
    session: &mut Session,
    ctx: &mut RequestCtx,
) -> pingora::Result<bool> {
    let header = session.req_header();
    let endpoint = ingress::endpoint(&header.method, header.uri.path());
    let style = match endpoint {
        Ok(Endpoint::Api(api)) => api.error_style(),
        _ => ErrorStyle::OpenAi,
    };
    let result = match (endpoint, gateway.store.load()) {
        (Err(error), _) => Err(error),
        (Ok(_), None) => Err(GatewayError::NotReady),
        (Ok(Endpoint::Models), Some(state)) => {
            let body = models::list(&state, &session.req_header().headers);
            return respond::json(session, ctx, 200, body).await.map(|()| true);
        }
        (Ok(Endpoint::Api(api)), Some(state)) => serve(gateway, session, ctx, &state, api).await,
    };
    if let Err(error) = result {
        if let Some(reason) = error.security_event() {
            security_event(gateway, ctx, reason, &error);
        }
        respond::error(session, ctx, style, &error).await?;
    }
    Ok(true)
}

/// Counts and logs a refused request: the route, the reason and the subject or the key's
/// digest prefix — never the credential.
fn security_event(gateway: &Gateway, ctx: &RequestCtx, reason: &'static str, error: &GatewayError) {
    gateway
        .metrics
        .security_events
        .with_label_values(&[reason])
        .inc();
    let route = ctx.route.as_deref().unwrap_or("-");
    match error {
        GatewayError::InvalidApiKey { digest_prefix } => {
            tracing::warn!(reason, route, key_sha256_prefix = %digest_prefix, "request refused");
        }
        GatewayError::Forbidden { subject, model } => {
            tracing::warn!(reason, route, subject, model, "request refused");
        }
        GatewayError::ServiceAccountNotAllowed { subject } => {
            tracing::warn!(reason, route, subject, "request refused");
        }
        _ => tracing::warn!(reason, route, "request refused"),
    }
}

async fn serve(
    gateway: &Gateway,
    session: &mut Session,
    ctx: &mut RequestCtx,
    state: &State,
    api: Api,
) -> Result<(), GatewayError> {
    let body = body::read(session, gateway.settings.max_body_bytes).await?;
    // From here on, a client that hangs up is noticed while the upstream is awaited.
    session.set_abort_on_close(true);
    let mut request = ClientRequest::parse(api, &body)?;
    // Translated responses carry `created`; the translators take the time, never read a clock.
    request.set_received_at(std::time::SystemTime::now());
    ctx.request = Some(RequestInfo {
        api,
        model: request.model().to_owned(),
        stream: request.stream(),
    });
    let idx = route::select(state, request.model(), session.req_header())?.idx as usize;
    let (Some(route), Some(route_state)) = (
        state.snapshot.content.routes.get(idx),
        state.routes.get(idx),
    ) else {
        return Err(GatewayError::UnknownModel(request.model().to_owned()));
    };
    ctx.route = Some(route_state.label.clone());
    let credential = auth::Credential::from_headers(&session.req_header().headers);
    let principal = auth::authenticate(state, route, credential.as_ref())?;
    auth::authorize(state, route, &principal, request.model())?;
    guardrails::apply(
        state,
        route,
        &route_state.label,
        &mut request,
        &gateway.metrics,
    )?;
    let estimate = tokens::estimate(&body, &request, route_state.counts_tokens);
    guardrails::input_tokens::check(state, route, estimate.input_tokens)?;
    let caller = limits::Caller {
        principal: &principal,
        credential: credential.as_ref(),
        headers: &session.req_header().headers,
        route: &route_state.label,
    };
    let admission = limits::admit(gateway.limiter(), state, route, caller, estimate, ctx).await?;
    let lookup = cache::lookup(gateway, state, idx, &principal, &request, session, ctx).await;
    if lookup == cache::Lookup::Answered {
        // A hit counts as a request but costs no tokens and no money.
        limits::settle(admission, ctx, limits::Outcome::CacheHit).await;
        return Ok(());
    }
    let candidates = balance::plan(route, state, estimate, &mut rand::rng());
    let call = Call {
        state,
        route,
        request: &request,
        candidates: &candidates,
    };
    let result = gateway
        .upstream
        .attempt(session, ctx, &gateway.metrics, &call)
        .await;
    let delivered = if result.is_ok() {
        limits::Outcome::Delivered
    } else {
        limits::Outcome::Failed
    };
    limits::settle(admission, ctx, delivered).await;
    result?;
    cache::store(gateway, ctx).await;
    Ok(())
}
