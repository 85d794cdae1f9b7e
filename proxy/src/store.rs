//! The live configuration: one snapshot plus the runtime state built from it (backend health,
//! latency, in-flight counts, resolved addresses), published together with one `ArcSwap` so no
//! request sees half of one version and half of another.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, atomic::AtomicU64},
};

use arc_swap::{ArcSwap, ArcSwapOption};
use switchyard_crds::{
    Snapshot,
    snapshot::{Model, Policy, Route, Source},
};

use crate::{
    auth::{PolicyState, jwks::JwksRegistry, tokens::ClusterIssuer},
    balance::BackendLoad,
    cache::RouteCache,
    dns::Resolver,
    guardrails::PolicyGuardrails,
    health::Health,
    limits::LimitsState,
    metrics::Metrics,
    upstream::pool::Pool,
};

/// Runtime state of one model, kept across snapshot swaps while the model is unchanged.
#[derive(Debug)]
pub struct BackendState {
    /// `namespace/name` of the AIModel, for headers, metrics and logs.
    pub label: Arc<str>,
    /// The provider's name.
    pub provider: &'static str,
    /// Passive health: consecutive failures and ejection.
    pub health: Health,
    /// In-flight requests and latency EWMA for the balancer.
    pub load: BackendLoad,
    /// Addresses the endpoint's host resolves to (refreshed in the background).
    pub addrs: ArcSwap<Vec<SocketAddr>>,
    /// Idle connections to the backend.
    pub pool: Pool,
}

impl BackendState {
    fn new(model: &Model) -> Self {
        let addrs = model
            .endpoint
            .host
            .parse()
            .map(|ip| vec![SocketAddr::new(ip, model.endpoint.port)])
            .unwrap_or_default();
        Self {
            label: format!("{}/{}", model.source.namespace, model.source.name).into(),
            provider: model.provider.as_str(),
            health: Health::default(),
            load: BackendLoad::default(),
            addrs: ArcSwap::from_pointee(addrs),
            pool: Pool::default(),
        }
    }
}

/// Per-route labels, computed once per snapshot.
#[derive(Debug)]
pub struct RouteState {
    /// `namespace/name` of the AIRoute.
    pub label: Arc<str>,
    /// Whether a policy of the route needs prompts counted with the tokenizer (input-token
    /// maximum, token limits, budgets); elsewhere an estimate from the body's size will do.
    pub counts_tokens: bool,
}

/// One published configuration.
#[derive(Debug)]
pub struct State {
    /// The compiled snapshot.
    pub snapshot: Snapshot,
    /// Runtime state per model, indexed like `snapshot.content.models`.
    pub backends: Vec<Arc<BackendState>>,
    /// Labels per route, indexed like `snapshot.content.routes`.
    pub routes: Vec<RouteState>,
    /// Key tables and rules per policy, indexed like `snapshot.content.policies`.
    pub policies: Vec<PolicyState>,
    /// Compiled deny patterns and redactors per policy, indexed like `snapshot.content.policies`.
    pub guardrails: Vec<PolicyGuardrails>,
    /// Response cache settings per route (`None`: not cached), indexed like `routes`.
    pub caches: Vec<Option<RouteCache>>,
    /// Rate-limit and budget counters per policy (local tables kept while unchanged).
    pub limits: LimitsState,
}

impl State {
    /// Builds the state for `snapshot`, keeping the runtime state of models that did not change
    /// since `previous` and the fetched JWKS of `registry`.
    pub fn build(snapshot: Snapshot, previous: Option<&State>, registry: &JwksRegistry) -> Self {
        let mut kept: HashMap<&Source, (&Model, &Arc<BackendState>)> = HashMap::new();
        if let Some(previous) = previous {
            let models = previous.snapshot.content.models.iter();
            for (model, backend) in models.zip(&previous.backends) {
                kept.insert(&model.source, (model, backend));
            }
        }
        let backends = snapshot
            .content
            .models
            .iter()
            .map(|model| {
                kept.get(&model.source)
                    .filter(|(old, _)| *old == model)
                    .map(|(_, backend)| Arc::clone(backend))
                    .unwrap_or_else(|| Arc::new(BackendState::new(model)))
            })
            .collect();
        let routes = snapshot
            .content
            .routes
            .iter()
            .map(|route| RouteState::new(route, &snapshot.content.policies))
            .collect();
        let cluster = ClusterIssuer::of(&snapshot);
        let policies = snapshot
            .content
            .policies
            .iter()
            .map(|policy| PolicyState::new(policy, cluster.as_ref(), registry))
            .collect();
        let content = &snapshot.content;
        let caches = content
            .routes
            .iter()
            .map(|route| RouteCache::new(route, &content.policies, &content.models))
            .collect();
        let guardrails = snapshot
            .content
            .policies
            .iter()
            .map(PolicyGuardrails::new)
            .collect();
        let limits = LimitsState::build(
            &snapshot.content.policies,
            previous.map(|previous| &previous.limits),
        );
        Self {
            snapshot,
            backends,
            routes,
            policies,
            guardrails,
            caches,
            limits,
        }
    }
}

impl RouteState {
    fn new(route: &Route, policies: &[Policy]) -> Self {
        let counts_tokens = route
            .policies
            .iter()
            .filter_map(|idx| policies.get(*idx as usize))
            .any(|policy| {
                policy.guardrails.max_input_tokens.is_some()
                    || !policy.budgets.is_empty()
                    || policy
                        .rate_limits
                        .iter()
                        .any(|limit| limit.tokens.is_some())
            });
        Self {
            label: format!("{}/{}", route.source.namespace, route.source.name).into(),
            counts_tokens,
        }
    }
}

/// Publishes `snapshot` the one way every source does: builds its state, resolves new hosts
/// before any request can pick one of their backends, swaps it in, and updates the version
/// and reload metrics. The caller logs, in its own words.
pub async fn publish(store: &Store, metrics: &Metrics, snapshot: Snapshot, report: LoadReport) {
    let version = snapshot.version;
    let state = store.prepare(snapshot);
    Resolver::resolve(&state).await;
    store.install(state, report);
    metrics
        .snapshot_version
        .set(i64::try_from(version).unwrap_or(i64::MAX));
    metrics.config_reloads.inc();
}

/// What the last configuration load reported, for `/config`, `/readyz` and metrics.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LoadReport {
    /// Problems the compiler reported for the published snapshot.
    pub problems: Vec<String>,
    /// Documents that were refused.
    pub document_errors: Vec<String>,
    /// Why the latest change was not published (the last good snapshot stays), if it was not.
    pub rejected_change: Option<String>,
}

/// The one place the hot path reads configuration from.
#[derive(Debug, Default)]
pub struct Store {
    state: ArcSwapOption<State>,
    report: ArcSwap<LoadReport>,
    /// How many configurations were published.
    pub swaps: AtomicU64,
    /// Woken on every publish (the resolver listens).
    pub published: tokio::sync::Notify,
    /// JWKS fetched from issuers' URLs, kept across snapshots.
    pub jwks: JwksRegistry,
}

impl Store {
    /// The current state, or `None` before the first snapshot.
    pub fn load(&self) -> Option<Arc<State>> {
        self.state.load_full()
    }

    /// Builds the state for a new snapshot, keeping runtime state of unchanged models, without
    /// publishing it (so its hosts can be resolved first).
    pub fn prepare(&self, snapshot: Snapshot) -> State {
        State::build(snapshot, self.state.load().as_deref(), &self.jwks)
    }

    /// Publishes a prepared state: from now on every new request sees it.
    pub fn install(&self, state: State, report: LoadReport) -> Arc<State> {
        let state = Arc::new(state);
        self.state.store(Some(Arc::clone(&state)));
        self.report.store(Arc::new(report));
        self.swaps
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.published.notify_one();
        state
    }

    /// Records a change that was refused; the published snapshot stays.
    pub fn reject(&self, reason: String) {
        let mut report = LoadReport::clone(&self.report.load());
        report.rejected_change = Some(reason);
        self.report.store(Arc::new(report));
    }

    /// What the last load reported.
    pub fn report(&self) -> Arc<LoadReport> {
        self.report.load_full()
    }
}
