//! What the compiler reads, kept current by watches: every AIModel, AIRoute and AIPolicy in the
//! cluster, the Secrets labelled [`SECRET_LABEL`], and the cluster's service-account issuer
//! (polled, see [`crate::issuer`]).
//!
//! Secrets are bounded by that label so the operator never caches every Secret of the cluster
//! (service-account tokens, TLS keys, Helm releases…): a Secret a resource refers to must carry
//! the label, whatever its value. The status of an object whose Secret is missing says so.
//!
//! Each watch wakes the reconciler only for changes the compiler can see: a new generation,
//! labels, annotations or deletion of a resource, any change of a Secret. Status writes — the
//! operator's own, mostly — change none of these, so they never cause another round.

use std::{
    collections::HashMap,
    hash::{Hash, Hasher},
    sync::Arc,
    time::Duration,
};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::{NamespaceResourceScope, api::core::v1::Secret};
use kube::{
    Api, Resource, ResourceExt,
    runtime::{
        WatchStreamExt,
        reflector::{self, Store},
        watcher,
    },
};
use serde::de::DeserializeOwned;
use switchyard_crds::{
    AIModel, AIPolicy, AIRoute, Inputs,
    compile::SecretData,
    problems::{Kind, ObjectRef},
};
use tokio::sync::Notify;

use crate::{issuer::ClusterIssuer, metrics::Metrics};

/// The label a Secret needs for the operator to see it.
pub const SECRET_LABEL: &str = "switchyard.dev/secret";

/// Caches of every watched kind.
#[derive(Clone)]
pub struct Caches {
    /// AIModels.
    pub models: Store<AIModel>,
    /// AIRoutes.
    pub routes: Store<AIRoute>,
    /// AIPolicies.
    pub policies: Store<AIPolicy>,
    /// Labelled Secrets.
    pub secrets: Store<Secret>,
    /// The cluster's service-account issuer.
    pub issuer: ClusterIssuer,
}

impl Caches {
    /// Starts the four watches, in `namespace` or (`None`) the whole cluster, and the issuer
    /// reads every `issuer_refresh`; `changed` is notified after each relevant change, and once
    /// when every initial list has arrived.
    pub fn start(
        client: &kube::Client,
        namespace: Option<&str>,
        issuer_refresh: Duration,
        changed: Arc<Notify>,
        metrics: &Metrics,
    ) -> Self {
        let all = watcher::Config::default;
        Self {
            models: watch(
                api_for(client, namespace),
                all(),
                &changed,
                metrics,
                spec_fingerprint,
            ),
            routes: watch(
                api_for(client, namespace),
                all(),
                &changed,
                metrics,
                spec_fingerprint,
            ),
            policies: watch(
                api_for(client, namespace),
                all(),
                &changed,
                metrics,
                spec_fingerprint,
            ),
            secrets: watch(
                api_for(client, namespace),
                all().labels(SECRET_LABEL),
                &changed,
                metrics,
                secret_fingerprint,
            ),
            issuer: ClusterIssuer::start(client, issuer_refresh, Arc::clone(&changed), metrics),
        }
    }

    /// Waits until every watch has listed its objects once, saying which one it still waits
    /// for every ten seconds, and the issuer has been read once (well or not).
    pub async fn ready(&self) -> bool {
        self.issuer.ready().await;
        listed(&self.models).await
            && listed(&self.routes).await
            && listed(&self.policies).await
            && listed(&self.secrets).await
    }

    /// Everything, for one compilation: the cached objects are shared, not copied, so a
    /// round over 20,000 objects does not double the cache's memory.
    pub fn inputs(&self) -> Inputs {
        Inputs {
            models: self.models.state(),
            routes: self.routes.state(),
            policies: self.policies.state(),
            secrets: self
                .secrets
                .state()
                .iter()
                .map(|s| SecretData::from(&**s))
                .collect(),
            // None until a first read succeeds: policies with `serviceAccounts` then report
            // ServiceAccountIssuerUnknown.
            service_account_issuer: self.issuer.current(),
        }
    }
}

async fn listed<K>(store: &Store<K>) -> bool
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    let wait = store.wait_until_ready();
    tokio::pin!(wait);
    loop {
        match tokio::time::timeout(Duration::from_secs(10), &mut wait).await {
            Ok(listed) => return listed.is_ok(),
            Err(_) => tracing::warn!(kind = %K::kind(&()), "still waiting for the first list"),
        }
    }
}

/// How problems and status name `object`.
pub fn object_ref<K: Resource>(kind: Kind, object: &K) -> ObjectRef {
    ObjectRef {
        kind,
        namespace: object.namespace().unwrap_or_default(),
        name: object.name_any(),
    }
}

/// The generation of every resource in `inputs`: what one compilation saw.
pub fn generations(inputs: &Inputs) -> HashMap<ObjectRef, Option<i64>> {
    fn of<K: Resource>(
        kind: Kind,
        objects: &[Arc<K>],
    ) -> impl Iterator<Item = (ObjectRef, Option<i64>)> {
        objects
            .iter()
            .map(move |object| (object_ref(kind, &**object), object.meta().generation))
    }
    of(Kind::AIModel, &inputs.models)
        .chain(of(Kind::AIRoute, &inputs.routes))
        .chain(of(Kind::AIPolicy, &inputs.policies))
        .collect()
}

fn api_for<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

fn watch<K>(
    api: Api<K>,
    config: watcher::Config,
    changed: &Arc<Notify>,
    metrics: &Metrics,
    fingerprint: fn(&K) -> u64,
) -> Store<K>
where
    K: Resource<DynamicType = ()>
        + DeserializeOwned
        + Clone
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let changed = Arc::clone(changed);
    let metrics = metrics.clone();
    let events = watcher(api, config)
        .backoff(watch_backoff())
        // Managed fields are a large share of each object and nothing here reads them.
        .modify(|object: &mut K| object.managed_fields_mut().clear())
        .reflect(writer);
    tokio::spawn(async move {
        let mut seen: HashMap<String, u64> = HashMap::new();
        let mut events = events.map_err(|error| error.to_string()).boxed();
        while let Some(event) = events.next().await {
            let relevant = match event {
                Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                    let key = key(&object);
                    let print = fingerprint(&object);
                    seen.insert(key, print) != Some(print)
                }
                Ok(watcher::Event::Delete(object)) => seen.remove(&key(&object)).is_some(),
                Ok(watcher::Event::Init) => false,
                Ok(watcher::Event::InitDone) => true,
                Err(error) => {
                    metrics.reconcile_errors.with_label_values(&["watch"]).inc();
                    tracing::warn!(kind = %K::kind(&()), %error, "watch failed; retrying");
                    false
                }
            };
            if relevant {
                changed.notify_one();
            }
        }
    });
    reader
}

/// Retries a failed watch after 250 ms doubling to 5 s (kube's default grows to 30 s): a fresh
/// install whose RBAC is not yet in effect, or an API server restart, heals within seconds.
fn watch_backoff() -> watcher::ExponentialBackoff {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .without_max_times()
        .into()
}

fn key<K: Resource>(object: &K) -> String {
    format!(
        "{}/{}",
        object.namespace().unwrap_or_default(),
        object.name_any()
    )
}

/// What of a resource the compiler reads besides its spec, which `generation` stands for.
fn spec_fingerprint<K: Resource>(object: &K) -> u64 {
    let meta = object.meta();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    meta.generation.hash(&mut hasher);
    meta.uid.hash(&mut hasher);
    meta.labels.hash(&mut hasher);
    meta.annotations.hash(&mut hasher);
    meta.deletion_timestamp.is_some().hash(&mut hasher);
    hasher.finish()
}

/// Secrets have no generation: every write is a new resourceVersion.
fn secret_fingerprint(secret: &Secret) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    secret.metadata.resource_version.hash(&mut hasher);
    hasher.finish()
}
