//! One attempt: connect, send, read the answer, and deliver it to the client translated.

use std::{net::SocketAddr, time::Duration};

use bytes::{Bytes, BytesMut};
use pingora::{
    ErrorType, OrErr,
    connectors::TransportConnector,
    protocols::{
        Stream,
        http::{client::HttpSession, v1::client::HttpSession as Http1Session},
    },
    proxy::Session,
    upstreams::peer::HttpPeer,
};
use switchyard_crds::snapshot::{Model, Route};
use switchyard_providers::{
    ClientRequest, UpstreamRequest, Usage, parse_error, translate_response,
};
use tokio::{
    io::AsyncWriteExt,
    time::{Instant, timeout_at},
};

use super::{Outcome, relay::Relay, wire};
use crate::{ctx::RequestCtx, errors::UpstreamFailure, respond, store::BackendState};

/// The most of an error body that is read (the rest is not needed to report it).
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// The most of a non-streamed response body that is buffered.
const RESPONSE_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// One attempt at one backend.
pub(super) struct Exchange<'a> {
    pub(super) transport: &'a TransportConnector,
    pub(super) route: &'a Route,
    pub(super) request: &'a ClientRequest,
    pub(super) model: &'a Model,
    pub(super) backend: &'a BackendState,
    /// When the whole call must be over.
    pub(super) deadline: Instant,
}

impl Exchange<'_> {
    /// Runs the attempt.
    pub(super) async fn run(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        upstream: UpstreamRequest,
    ) -> Outcome {
        let sent = Instant::now();
        let first_byte_deadline = self.first_byte_deadline(sent);
        let sending = self.send(upstream, sent, first_byte_deadline);
        let (mut http, addr) = match unless_client_left(session, ctx, sending).await {
            None => return Outcome::Delivered,
            Some(Ok(connected)) => connected,
            Some(Err(failure)) => return Outcome::Failed(failure),
        };
        let Some(status) = http.response_header().map(|header| header.status.as_u16()) else {
            return Outcome::Failed(self.protocol("no response header"));
        };
        if !(200..300).contains(&status) {
            return Outcome::Failed(self.status_failure(&mut http, status).await);
        }
        let outcome = if self.request.stream() {
            Relay::new(self, sent)
                .run(session, ctx, &mut http, first_byte_deadline)
                .await
        } else {
            self.whole(session, ctx, &mut http, sent).await
        };
        if matches!(outcome, Outcome::Delivered)
            && http.response_done()
            && let HttpSession::H1(mut h1) = http
        {
            h1.respect_keepalive();
            if let Some(stream) = h1.reuse().await {
                self.backend.pool.put(stream, addr);
            }
        }
        outcome
    }

    fn first_byte_deadline(&self, from: Instant) -> Instant {
        let first_token = self
            .route
            .timeouts
            .first_token
            .unwrap_or(self.model.timeouts.first_token);
        (from + first_token.get()).min(self.deadline)
    }

    /// Connects (or reuses a pooled connection), writes the request and reads the response
    /// header, all before the first-byte deadline.
    async fn send(
        &self,
        upstream: UpstreamRequest,
        sent: Instant,
        first_byte_deadline: Instant,
    ) -> Result<(HttpSession, SocketAddr), UpstreamFailure> {
        let Some(addr) = self.backend.addrs.load().first().copied() else {
            return Err(self.connect(format!("{} is not resolved yet", self.model.endpoint.host)));
        };
        let endpoint = &self.model.endpoint;
        let mut peer = HttpPeer::new(addr, endpoint.tls, endpoint.host.clone());
        let connect = self.model.timeouts.connect.get();
        peer.options.connection_timeout = Some(connect);
        peer.options.total_connection_timeout = Some(connect);
        let wire = wire::encode(&upstream, endpoint, &self.route.transforms.set_headers)
            .map_err(|e| self.protocol(e.to_string()))?;
        // Boxed: it holds the connector's large futures and is moved into two combinators.
        let exchange = Box::pin(async {
            if let Some(stream) = self.backend.pool.take(addr) {
                match self.write_and_read(stream, &wire, &peer).await {
                    Ok(http) => return Ok(http),
                    // The server closed the idle connection; nothing of a response arrived, so
                    // the request goes again on a fresh connection.
                    Err(error) => {
                        tracing::debug!(%error, "pooled connection failed before the response")
                    }
                }
            }
            let stream = self
                .transport
                .new_stream(&peer)
                .await
                .map_err(|e| self.connect_or_protocol(&e))?;
            self.write_and_read(stream, &wire, &peer)
                .await
                .map_err(|e| self.connect_or_protocol(&e))
        });
        match timeout_at(first_byte_deadline, exchange).await {
            Ok(Ok(http)) => Ok((http, addr)),
            Ok(Err(failure)) => Err(failure),
            Err(_) => Err(self.timeout(first_byte_deadline, sent)),
        }
    }

    /// Writes the whole request in one send and reads the response header.
    async fn write_and_read(
        &self,
        mut stream: Stream,
        wire: &[u8],
        peer: &HttpPeer,
    ) -> pingora::Result<HttpSession> {
        stream
            .write_all(wire)
            .await
            .or_err(ErrorType::WriteError, "writing the request")?;
        stream
            .flush()
            .await
            .or_err(ErrorType::WriteError, "flushing the request")?;
        let mut http = HttpSession::H1(Http1Session::new_with_options(stream, peer));
        http.read_response_header().await?;
        Ok(http)
    }

    /// Reads an error answer and turns it into a failure.
    async fn status_failure(&self, http: &mut HttpSession, status: u16) -> UpstreamFailure {
        let retry_after = http.response_header().and_then(|header| {
            let value = header.headers.get("retry-after")?.to_str().ok()?;
            value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
        });
        let body = read_capped(http, ERROR_BODY_LIMIT, self.deadline)
            .await
            .unwrap_or_default();
        UpstreamFailure::Status {
            backend: self.backend.label.to_string(),
            error: parse_error(self.model.provider, status, &body),
            retry_after: retry_after.map(Duration::from_secs_f64),
        }
    }

    /// Delivers a non-streamed response.
    async fn whole(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        http: &mut HttpSession,
        sent: Instant,
    ) -> Outcome {
        let body = match read_capped(http, RESPONSE_BODY_LIMIT, self.deadline).await {
            Ok(body) => body,
            Err(ReadError::Timeout) => {
                return Outcome::Failed(self.timeout(self.deadline, ctx.timing.start));
            }
            Err(ReadError::Failed(reason)) => return Outcome::Failed(self.protocol(reason)),
        };
        self.backend.load.observe(sent.elapsed());
        let translated = match translate_response(self.request, self.model, body) {
            Ok(translated) => translated,
            Err(error) => {
                return Outcome::Failed(UpstreamFailure::Status {
                    backend: self.backend.label.to_string(),
                    error,
                    retry_after: None,
                });
            }
        };
        self.account(ctx, translated.usage);
        if let Err(error) = respond::json(session, ctx, 200, translated.body).await {
            tracing::debug!(%error, "client went away before the response was written");
        }
        Outcome::Delivered
    }

    pub(super) fn account(&self, ctx: &mut RequestCtx, usage: Usage) {
        ctx.usage = Some(usage);
        if let Some(price) = &self.model.pricing {
            ctx.outcome.cost_usd = Some(usage.cost(price).try_into().unwrap_or(0.0));
        }
    }

    fn connect(&self, reason: String) -> UpstreamFailure {
        UpstreamFailure::Connect {
            backend: self.backend.label.to_string(),
            reason,
        }
    }

    pub(super) fn protocol(&self, reason: impl Into<String>) -> UpstreamFailure {
        UpstreamFailure::Protocol {
            backend: self.backend.label.to_string(),
            reason: reason.into(),
        }
    }

    /// A timeout that expired at `deadline`, reported as the budget it had from `since`.
    pub(super) fn timeout(&self, deadline: Instant, since: Instant) -> UpstreamFailure {
        UpstreamFailure::Timeout {
            backend: self.backend.label.to_string(),
            after: deadline.saturating_duration_since(since),
        }
    }

    fn connect_or_protocol(&self, error: &pingora::Error) -> UpstreamFailure {
        match error.etype() {
            ErrorType::ConnectTimedout
            | ErrorType::ConnectRefused
            | ErrorType::ConnectNoRoute
            | ErrorType::ConnectError
            | ErrorType::TLSHandshakeFailure
            | ErrorType::TLSHandshakeTimedout
            | ErrorType::SocketError
            | ErrorType::BindError => self.connect(error.to_string()),
            _ => self.protocol(error.to_string()),
        }
    }
}

/// Runs `work` unless the client closes its connection first (then `None`: the attempt is
/// abandoned, and its upstream connection dropped rather than pooled).
pub(super) async fn unless_client_left<T>(
    session: &mut Session,
    ctx: &mut RequestCtx,
    work: impl Future<Output = T>,
) -> Option<T> {
    let client_left = async {
        // With abort-on-close, an idle read fails once the client has closed; anything else
        // (bytes of a pipelined request) is not a departure.
        if session.read_body_or_idle(true).await.is_err() {
            return;
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        biased;
        done = work => Some(done),
        () = client_left => {
            ctx.outcome.status = CLIENT_CLOSED;
            tracing::debug!("client closed the connection before the response was complete");
            None
        }
    }
}

/// The status logged when the client left first (nginx's convention; never sent).
pub(crate) const CLIENT_CLOSED: u16 = 499;

enum ReadError {
    Timeout,
    Failed(String),
}

/// Reads a whole body up to `limit` bytes before `deadline`.
async fn read_capped(
    http: &mut HttpSession,
    limit: usize,
    deadline: Instant,
) -> Result<Bytes, ReadError> {
    let read = async {
        let mut body = BytesMut::new();
        while let Some(chunk) = http
            .read_response_body()
            .await
            .map_err(|e| ReadError::Failed(e.to_string()))?
        {
            if body.len() + chunk.len() > limit {
                return Err(ReadError::Failed(format!(
                    "response body over {limit} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    timeout_at(deadline, read)
        .await
        .map_err(|_| ReadError::Timeout)?
}
