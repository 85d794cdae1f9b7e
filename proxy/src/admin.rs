//! The admin listener, on its own port: `/healthz`, `/readyz` (ready once a snapshot is
//! loaded), `/metrics` and `/config` (the snapshot's version, routes, models and problems;
//! never a credential; in operator mode also the state of the channel to the operator).

use std::{path::PathBuf, sync::Arc};

use async_trait::async_trait;
use http::{Response, StatusCode};
use pingora::{apps::http_app::ServeHttp, protocols::http::ServerSession};
use serde_json::{Value, json};

use crate::{metrics::Metrics, redis::Redis, store::Store, subscribe};

/// Where the served configuration comes from.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Manifests on disk.
    Standalone {
        /// The manifest file or folder.
        config: PathBuf,
    },
    /// Pushed by the operator.
    Operator(Arc<subscribe::Status>),
}

/// The admin endpoints.
pub struct Admin {
    /// The published configuration.
    pub store: Arc<Store>,
    /// Metrics to expose.
    pub metrics: Metrics,
    /// The shared Redis, if any.
    pub redis: Option<Arc<Redis>>,
    /// Where the configuration comes from.
    pub mode: Mode,
}

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let (status, content_type, body) = match session.req_header().uri.path() {
            "/healthz" => (StatusCode::OK, "text/plain", b"ok\n".to_vec()),
            "/readyz" => match self.store.load() {
                Some(_) => (StatusCode::OK, "text/plain", b"ready\n".to_vec()),
                None => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    b"no snapshot loaded yet\n".to_vec(),
                ),
            },
            "/metrics" => (
                StatusCode::OK,
                "text/plain; version=0.0.4",
                self.metrics.render(),
            ),
            "/config" => (
                StatusCode::OK,
                "application/json",
                self.config().to_string().into_bytes(),
            ),
            _ => (StatusCode::NOT_FOUND, "text/plain", b"not found\n".to_vec()),
        };
        Response::builder()
            .status(status)
            .header("content-type", content_type)
            .header("content-length", body.len())
            .body(body)
            .unwrap_or_default()
    }
}

impl Admin {
    /// What is served, built from safe fields only (no endpoint credentials, no keys).
    fn config(&self) -> Value {
        let mut config = self.snapshot();
        if let Value::Object(fields) = &mut config {
            match &self.mode {
                Mode::Standalone { config } => {
                    fields.insert("mode".to_owned(), "standalone".into());
                    fields.insert("config".to_owned(), config.display().to_string().into());
                }
                Mode::Operator(status) => {
                    fields.insert("mode".to_owned(), "operator".into());
                    fields.insert("operator".to_owned(), json!(status.report()));
                }
            }
            if let Some(redis) = &self.redis {
                let redis = json!({"address": redis.address(), "up": redis.is_up()});
                fields.insert("redis".to_owned(), redis);
            }
        }
        config
    }

    /// The served snapshot's summary.
    fn snapshot(&self) -> Value {
        let report = self.store.report();
        let Some(state) = self.store.load() else {
            return json!({"loaded": false, "report": *report});
        };
        let snapshot = &state.snapshot;
        let label = |idx: u32| {
            state
                .backends
                .get(idx as usize)
                .map(|b| b.label.to_string())
        };
        let routes: Vec<Value> = snapshot
            .content
            .routes
            .iter()
            .zip(&state.routes)
            .map(|(route, meta)| {
                json!({
                    "name": meta.label.as_ref(),
                    "generation": route.source.generation,
                    "models": route.models,
                    "strategy": route.strategy,
                    "backends": route.backends.iter().map(|b| json!({"model": label(b.model), "weight": b.weight})).collect::<Vec<_>>(),
                    "fallbacks": route.fallbacks.iter().map(|idx| label(*idx)).collect::<Vec<_>>(),
                    "invalidPolicies": route.invalid_policies.iter().map(|p| format!("{}/{}", p.namespace, p.name)).collect::<Vec<_>>(),
                })
            })
            .collect();
        let models: Vec<Value> = snapshot
            .content
            .models
            .iter()
            .zip(&state.backends)
            .map(|(model, backend)| {
                json!({
                    "name": backend.label.as_ref(),
                    "provider": backend.provider,
                    "model": model.model,
                    "endpoint": model.endpoint.base_url,
                    "ejected": backend.health.is_ejected(),
                    "inFlight": backend.load.in_flight(),
                    "latencyEwmaMicros": backend.load.ewma_micros(),
                    "idleConnections": backend.pool.len(),
                })
            })
            .collect();
        json!({
            "loaded": true,
            "version": snapshot.version,
            "hash": snapshot.hash,
            "routes": routes,
            "models": models,
            "report": *report,
        })
    }
}
