//! The config channel's server side (see `switchyard_crds::channel`): HTTP/2 over TLS; each
//! authenticated proxy gets the newest snapshot, then every new one, and its acks are recorded
//! in the fleet. Only the leader serves; the others answer 503 so that a proxy reconnecting
//! through the Service lands on the leader after a few tries.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use bytes::Bytes;
use futures::StreamExt;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use switchyard_crds::channel::{self, Ack, FrameReader};
use tokio::{net::TcpListener, sync::watch};
use tokio_rustls::TlsAcceptor;

use crate::{
    auth::Authenticator,
    fleet::{Fleet, Member, Published},
    metrics::Metrics,
};

type Body = BoxBody<Bytes, Infallible>;

/// Longest proxy name kept (pod names are at most 253 characters).
const MAX_NAME: usize = 253;

/// What the channel needs.
pub struct Channel {
    /// The fleet to push to.
    pub fleet: Arc<Fleet>,
    /// Checks proxy tokens.
    pub auth: Authenticator,
    /// Whether this replica leads.
    pub leading: watch::Receiver<bool>,
    /// Metrics.
    pub metrics: Metrics,
}

/// Accepts connections until `shutdown` turns true.
pub async fn run(
    listener: TcpListener,
    tls: TlsAcceptor,
    channel: Arc<Channel>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a channel connection failed");
                    continue;
                }
            },
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        let (tls, channel) = (tls.clone(), Arc::clone(&channel));
        tokio::spawn(async move {
            if let Err(error) = connection(tcp, peer, tls, channel).await {
                tracing::debug!(%peer, %error, "channel connection ended");
            }
        });
    }
}

async fn connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    tls: TlsAcceptor,
    channel: Arc<Channel>,
) -> anyhow::Result<()> {
    let stream = tls.accept(tcp).await.context("TLS handshake")?;
    let service = hyper::service::service_fn(move |request| {
        let channel = Arc::clone(&channel);
        async move { Ok::<_, Infallible>(channel.handle(request, peer).await) }
    });
    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        // Notices a proxy that vanished without closing its connection.
        .keep_alive_interval(Some(Duration::from_secs(10)))
        .keep_alive_timeout(Duration::from_secs(20))
        .serve_connection(TokioIo::new(stream), service)
        .await
        .context("HTTP/2")
}

impl Channel {
    async fn handle(&self, request: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        if request.uri().path() != channel::PATH {
            return plain(StatusCode::NOT_FOUND, "not found");
        }
        if request.method() != Method::POST {
            return plain(StatusCode::METHOD_NOT_ALLOWED, "use POST");
        }
        if !*self.leading.borrow() {
            self.refuse("not-leader");
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "this operator replica is not the leader",
            );
        }
        let headers = request.headers();
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if let Err(refused) = self.auth.check(authorization).await {
            tracing::warn!(%peer, reason = %refused, "config channel refused");
            if refused.is_unavailable() {
                self.refuse("review-failed");
                return plain(StatusCode::SERVICE_UNAVAILABLE, &refused.to_string());
            }
            self.refuse("token");
            return plain(StatusCode::UNAUTHORIZED, &refused.to_string());
        }
        let name = headers
            .get(channel::PROXY_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|name| name.chars().take(MAX_NAME).collect::<String>())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| peer.ip().to_string());
        let served = headers
            .get(channel::HASH_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let member = Arc::new(self.fleet.join(name));
        tokio::spawn(read_acks(request.into_body(), Arc::clone(&member)));
        let pushes = Pushes {
            newest: self.fleet.subscribe(),
            leading: self.leading.clone(),
            member,
            served,
            sent: None,
        };
        let body = StreamBody::new(pushes.into_stream().map(|frame| Ok(Frame::data(frame))));
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, channel::CONTENT_TYPE)
            .body(BodyExt::boxed(body))
            .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "response"))
    }

    fn refuse(&self, reason: &str) {
        self.metrics
            .channel_refusals
            .with_label_values(&[reason])
            .inc();
    }
}

/// What one connection has sent so far.
struct Pushes {
    newest: watch::Receiver<Option<Arc<Published>>>,
    leading: watch::Receiver<bool>,
    member: Arc<Member>,
    /// The hash the proxy said it serves when it connected (not sent again).
    served: Option<String>,
    sent: Option<u64>,
}

impl Pushes {
    /// Each snapshot to send, newest first; ends when this replica stops leading, so the proxy
    /// reconnects and finds the new leader.
    fn into_stream(self) -> impl futures::Stream<Item = Bytes> + Send {
        futures::stream::unfold(self, |mut state| async move {
            loop {
                if !*state.leading.borrow() {
                    return None;
                }
                let newest = state.newest.borrow_and_update().clone();
                if let Some(published) = newest
                    && state.sent != Some(published.version)
                {
                    state.sent = Some(published.version);
                    if state
                        .served
                        .take()
                        .is_some_and(|hash| hash == published.hash)
                    {
                        state.member.already_serves(published.version);
                    } else {
                        state.member.pushed(published.version);
                        return Some((published.frame.clone(), state));
                    }
                }
                tokio::select! {
                    changed = state.newest.changed() => if changed.is_err() { return None },
                    changed = state.leading.changed() => if changed.is_err() { return None },
                }
            }
        })
    }
}

/// Records each ack the proxy sends until its request body ends.
async fn read_acks(mut body: Incoming, member: Arc<Member>) {
    let mut reader = FrameReader::default();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return };
        let Some(data) = frame.data_ref() else {
            continue;
        };
        let frames = match reader.push(data) {
            Ok(frames) => frames,
            Err(error) => {
                tracing::warn!(%error, "a proxy sent an oversized ack");
                return;
            }
        };
        for frame in frames {
            match serde_json::from_slice::<Ack>(&frame) {
                Ok(ack) => member.answer(&ack),
                Err(error) => tracing::warn!(%error, "a proxy sent an ack that does not parse"),
            }
        }
    }
}

fn plain(status: StatusCode, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "error": message }).to_string();
    let mut response = Response::new(BodyExt::boxed(Full::new(Bytes::from(body))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
