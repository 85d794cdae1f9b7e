//! The compiler: every AIModel, AIRoute and AIPolicy plus the Secrets they reference in, one
//! [`Snapshot`] and the [`Problem`]s of each object out.
//!
//! Shared by the operator and the proxy's standalone mode, so a cluster and a folder of
//! manifests mean exactly the same thing. Compilation is deterministic: inputs in any order give
//! byte-identical snapshots.

mod authentication;
mod models;
mod policies;
mod resolve;
mod routes;

use std::{collections::BTreeMap, sync::Arc};

use k8s_openapi::api::core::v1::Secret;

use crate::{
    AIModel, AIPolicy, AIRoute,
    problems::Problem,
    snapshot::{Content, ServiceAccountIssuer, Snapshot, SnapshotError},
};

pub use resolve::SecretData;

/// Everything the compiler reads.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// All AIModels.
    pub models: Vec<Arc<AIModel>>,
    /// All AIRoutes.
    pub routes: Vec<Arc<AIRoute>>,
    /// All AIPolicies.
    pub policies: Vec<Arc<AIPolicy>>,
    /// The Secrets the objects may reference (extra Secrets are ignored).
    pub secrets: Vec<SecretData>,
    /// The cluster's service-account issuer (read by the operator, or given to a standalone
    /// proxy), copied into the snapshot for `serviceAccounts` authentication.
    pub service_account_issuer: Option<ServiceAccountIssuer>,
}

/// What the compiler produces.
#[derive(Debug)]
pub struct Compiled {
    /// The snapshot of every usable object.
    pub snapshot: Snapshot,
    /// What is wrong, per object, sorted by object.
    pub problems: Vec<Problem>,
}

/// Compiles the inputs.
///
/// Steps, in order:
/// 1. models — endpoint, credentials from Secrets, defaults; a model with a problem is left out;
/// 2. policies — API keys hashed, JWKS checked, targets recorded; an invalid policy is left out
///    and every route it applies to (directly, through the namespace, or through a model the
///    route uses) refuses requests instead of running unprotected;
/// 3. routes — oldest first, so the older of two routes claiming the same model name (with the
///    same header matches) keeps it; backends resolved to models; policies attached;
/// 4. seal — sort, hash and index the snapshot.
///
/// Errors only if the compiled content cannot be sealed, which would be a compiler bug.
pub fn compile(inputs: &Inputs) -> Result<Compiled, SnapshotError> {
    let secrets = resolve::Secrets::new(&inputs.secrets);
    let mut problems = Vec::new();
    let models = models::compile(&inputs.models, &secrets, &mut problems);
    let policies = policies::compile(&inputs.policies, inputs, &secrets, &mut problems);
    let routes = routes::compile(&inputs.routes, &models, &policies, &mut problems);
    let content = Content {
        models: models.into_compiled(&policies),
        routes,
        policies: policies.into_compiled(),
        service_account_issuer: inputs.service_account_issuer.clone().map(Box::new),
    };
    problems.sort_by(|a, b| {
        a.object
            .cmp(&b.object)
            .then_with(|| a.error.to_string().cmp(&b.error.to_string()))
    });
    Ok(Compiled {
        snapshot: Snapshot::new(content)?,
        problems,
    })
}

impl From<&Secret> for SecretData {
    fn from(secret: &Secret) -> Self {
        let mut data: BTreeMap<String, Vec<u8>> = secret
            .data
            .iter()
            .flatten()
            .map(|(key, value)| (key.clone(), value.0.clone()))
            .collect();
        // As the API server does on write, stringData wins over data.
        for (key, value) in secret.string_data.iter().flatten() {
            data.insert(key.clone(), value.clone().into_bytes());
        }
        Self {
            namespace: secret.metadata.namespace.clone().unwrap_or_default(),
            name: secret.metadata.name.clone().unwrap_or_default(),
            labels: secret.metadata.labels.clone().unwrap_or_default(),
            annotations: secret.metadata.annotations.clone().unwrap_or_default(),
            data,
        }
    }
}
