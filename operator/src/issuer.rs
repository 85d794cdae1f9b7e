//! The cluster's service-account token issuer, read from the API server so that proxies can
//! verify service-account tokens (`AIPolicy.spec.authentication.serviceAccounts`) without any
//! Kubernetes API access of their own.
//!
//! The API server publishes both documents of OIDC discovery: `/.well-known/openid-configuration`
//! names the `issuer` (the `iss` of every token it signs) and `/openid/v1/jwks` holds the public
//! keys. Both are read through the operator's own client (its credentials, its CA), at start and
//! every refresh interval; a key rotation of the cluster thus reaches the proxies within one
//! interval. The keys are always read from the API server, not from the document's `jwks_uri`,
//! which may name a public endpoint (a bucket) the operator cannot or need not reach.
//!
//! A failed read is logged and counted (`reconcile_errors{kind="issuer"}`), retried with backoff
//! and never fatal: the last good value stays in use. Until a first read succeeds, policies
//! with `serviceAccounts` report `ServiceAccountIssuerUnknown`.

use std::{future::Future, sync::Arc, time::Duration};

use serde::Deserialize;
use switchyard_crds::snapshot::ServiceAccountIssuer;
use tokio::sync::{Notify, watch};

use crate::metrics::Metrics;

/// Where the API server serves its OIDC discovery document.
const DISCOVERY: &str = "/.well-known/openid-configuration";
/// Where the API server serves the keys that verify its service-account tokens.
const JWKS: &str = "/openid/v1/jwks";
/// The longest one read may take before it counts as failed.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The first retry after a failure; doubled after each further failure.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between retries (never longer than the refresh interval).
const MAX_RETRY: Duration = Duration::from_secs(120);

/// Why the issuer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    /// The API server refused or failed the request (403: the operator's RBAC lacks the
    /// non-resource URL; 404: the API server's issuer is not a URL, so discovery is off).
    #[error("GET {path}")]
    Request {
        /// The URL path.
        path: &'static str,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// The document is not what OIDC discovery says it is.
    #[error("GET {path}: unexpected document")]
    Document {
        /// The URL path.
        path: &'static str,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The discovery document names an empty issuer.
    #[error("GET {DISCOVERY}: the issuer is empty")]
    EmptyIssuer,
    /// The key set holds no key, so no token could be verified.
    #[error("GET {JWKS}: the key set holds no key")]
    NoKeys,
    /// The API server did not answer in time.
    #[error("reading the service-account issuer timed out after {READ_TIMEOUT:?}")]
    Timeout,
}

/// The fields of the discovery document this module reads.
#[derive(Deserialize)]
struct Discovery {
    issuer: String,
}

/// The shape of a JWKS document: the proxy parses the keys themselves.
#[derive(Deserialize)]
struct KeySet {
    keys: Vec<serde_json::Value>,
}

/// What is known of the issuer, shared with the compiler's inputs.
#[derive(Debug, Default)]
struct Known {
    /// Whether a first read has finished, well or badly.
    tried: bool,
    /// The last good value.
    issuer: Option<ServiceAccountIssuer>,
}

/// The issuer as last read, kept current by a background task.
#[derive(Clone, Debug)]
pub struct ClusterIssuer {
    known: watch::Receiver<Known>,
}

impl ClusterIssuer {
    /// Starts reading the issuer through `client` every `refresh`; `changed` is notified when
    /// a read finds a different issuer or different keys.
    pub fn start(
        client: &kube::Client,
        refresh: Duration,
        changed: Arc<Notify>,
        metrics: &Metrics,
    ) -> Self {
        let client = client.clone();
        Self::start_with(move || read(client.clone()), refresh, changed, metrics)
    }

    /// [`ClusterIssuer::start`] with the read given, for tests.
    fn start_with<F, R>(read: R, refresh: Duration, changed: Arc<Notify>, metrics: &Metrics) -> Self
    where
        R: FnMut() -> F + Send + 'static,
        F: Future<Output = Result<ServiceAccountIssuer, IssuerError>> + Send + 'static,
    {
        let (known, receiver) = watch::channel(Known::default());
        tokio::spawn(poll(read, refresh, known, changed, metrics.clone()));
        Self { known: receiver }
    }

    /// Waits until the first read has finished (well or not), so the first compilation does
    /// not report `ServiceAccountIssuerUnknown` merely because the read was still under way.
    pub async fn ready(&self) {
        let mut known = self.known.clone();
        // Only fails when the task ended, which it never does while the runtime runs.
        let _ = known.wait_for(|k| k.tried).await;
    }

    /// The last good value.
    pub fn current(&self) -> Option<ServiceAccountIssuer> {
        self.known.borrow().issuer.clone()
    }
}

/// Reads the issuer every `refresh`, or sooner after a failure (with backoff).
async fn poll<F, R>(
    mut read: R,
    refresh: Duration,
    known: watch::Sender<Known>,
    changed: Arc<Notify>,
    metrics: Metrics,
) where
    R: FnMut() -> F,
    F: Future<Output = Result<ServiceAccountIssuer, IssuerError>>,
{
    let max_retry = MAX_RETRY.min(refresh);
    let mut retry = FIRST_RETRY.min(max_retry);
    loop {
        let wait = match tokio::time::timeout(READ_TIMEOUT, read()).await {
            Ok(Ok(issuer)) => {
                retry = FIRST_RETRY.min(max_retry);
                let fresh = known.borrow().issuer.as_ref() != Some(&issuer);
                if fresh {
                    tracing::info!(issuer = %issuer.issuer, "service-account issuer read");
                }
                known.send_if_modified(|k| {
                    let first = !std::mem::replace(&mut k.tried, true);
                    if fresh {
                        k.issuer = Some(issuer);
                    }
                    first || fresh
                });
                if fresh {
                    changed.notify_one();
                }
                refresh
            }
            Ok(Err(error)) => failed(error, &known, &metrics, &mut retry, max_retry),
            Err(_) => failed(
                IssuerError::Timeout,
                &known,
                &metrics,
                &mut retry,
                max_retry,
            ),
        };
        tokio::time::sleep(wait).await;
    }
}

/// Counts and logs a failed read; returns how long to wait before the next one.
fn failed(
    error: IssuerError,
    known: &watch::Sender<Known>,
    metrics: &Metrics,
    retry: &mut Duration,
    max_retry: Duration,
) -> Duration {
    metrics
        .reconcile_errors
        .with_label_values(&["issuer"])
        .inc();
    let keeping = known.borrow().issuer.is_some();
    tracing::warn!(
        // anyhow's alternate form prints the sources too: "GET /openid/v1/jwks: …: 403".
        error = format!("{:#}", anyhow::Error::new(error)),
        keeping_last_good = keeping,
        retry_in = ?*retry,
        "could not read the cluster's service-account issuer"
    );
    known.send_if_modified(|k| !std::mem::replace(&mut k.tried, true));
    let wait = *retry;
    *retry = (*retry * 2).min(max_retry);
    wait
}

/// Reads both documents from the API server.
async fn read(client: kube::Client) -> Result<ServiceAccountIssuer, IssuerError> {
    let discovery: Discovery =
        serde_json::from_str(&get(&client, DISCOVERY).await?).map_err(|source| {
            IssuerError::Document {
                path: DISCOVERY,
                source,
            }
        })?;
    if discovery.issuer.is_empty() {
        return Err(IssuerError::EmptyIssuer);
    }
    let jwks = get(&client, JWKS).await?;
    let keys: KeySet = serde_json::from_str(&jwks)
        .map_err(|source| IssuerError::Document { path: JWKS, source })?;
    if keys.keys.is_empty() {
        return Err(IssuerError::NoKeys);
    }
    Ok(ServiceAccountIssuer {
        issuer: discovery.issuer,
        jwks,
    })
}

async fn get(client: &kube::Client, path: &'static str) -> Result<String, IssuerError> {
    let request =
        http::Request::get(path)
            .body(Vec::new())
            .map_err(|error| IssuerError::Request {
                path,
                source: kube::Error::HttpError(error),
            })?;
    client
        .request_text(request)
        .await
        .map_err(|source| IssuerError::Request { path, source })
}

#[cfg(test)]
mod tests;
