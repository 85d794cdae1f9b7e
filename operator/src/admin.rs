//! The admin listener (plain HTTP): `/healthz` (the process runs), `/readyz` (caches synced
//! and, on the leader, a snapshot published), `/metrics`, and `/fleet` (connected proxies and
//! their versions, for humans).

use std::{convert::Infallible, sync::Arc};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::{net::TcpListener, sync::watch};

use crate::{fleet::Fleet, metrics::Metrics};

/// What the admin endpoints read.
pub struct Admin {
    /// Metrics to expose.
    pub metrics: Metrics,
    /// The fleet.
    pub fleet: Arc<Fleet>,
    /// Whether this replica leads.
    pub leading: watch::Receiver<bool>,
    /// Whether every watch has listed its objects.
    pub synced: watch::Receiver<bool>,
}

/// Serves until `shutdown` turns true.
pub async fn run(listener: TcpListener, admin: Arc<Admin>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(error) => {
                    tracing::warn!(%error, "accepting an admin connection failed");
                    continue;
                }
            },
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        let admin = Arc::clone(&admin);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let admin = Arc::clone(&admin);
                async move { Ok::<_, Infallible>(admin.respond(&request)) }
            });
            let served = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tcp), service)
                .await;
            if let Err(error) = served {
                tracing::debug!(%error, "admin connection ended");
            }
        });
    }
}

impl Admin {
    fn respond(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        let leading = *self.leading.borrow();
        let (status, content_type, body) = match request.uri().path() {
            "/healthz" => (StatusCode::OK, "text/plain", b"ok\n".to_vec()),
            "/readyz" => {
                if !*self.synced.borrow() {
                    let body = b"caches not synced yet\n".to_vec();
                    (StatusCode::SERVICE_UNAVAILABLE, "text/plain", body)
                } else if leading && self.fleet.newest_version().is_none() {
                    let body = b"leader, no snapshot published yet\n".to_vec();
                    (StatusCode::SERVICE_UNAVAILABLE, "text/plain", body)
                } else {
                    let role = if leading { "leader" } else { "follower" };
                    (
                        StatusCode::OK,
                        "text/plain",
                        format!("ready ({role})\n").into_bytes(),
                    )
                }
            }
            "/metrics" => (
                StatusCode::OK,
                "text/plain; version=0.0.4",
                self.metrics.render(),
            ),
            "/fleet" => {
                let proxies: Vec<_> = self
                    .fleet
                    .proxies()
                    .into_iter()
                    .map(|p| serde_json::json!({ "name": p.name, "acked": p.acked, "refused": p.refused }))
                    .collect();
                let body = serde_json::json!({
                    "leader": leading,
                    "version": self.fleet.newest_version(),
                    "proxies": proxies,
                });
                (
                    StatusCode::OK,
                    "application/json",
                    body.to_string().into_bytes(),
                )
            }
            _ => (StatusCode::NOT_FOUND, "text/plain", b"not found\n".to_vec()),
        };
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static(content_type),
        );
        response
    }
}
