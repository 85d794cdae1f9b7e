//! Relaying a streamed response: provider bytes in, translated client events out, event by
//! event. Nothing is sent until the first translated bytes exist, so a stream that fails or
//! stalls before its first token is still an ordinary failed attempt; after that, a failure
//! ends the stream with an error event after whatever was already translated.

use bytes::BytesMut;
use pingora::{protocols::http::client::HttpSession, proxy::Session};
use switchyard_providers::{ErrorKind, StreamTranslator};
use tokio::time::{Instant, timeout_at};

use super::{
    Outcome,
    exchange::{Exchange, unless_client_left},
};
use crate::{ctx::RequestCtx, errors::UpstreamFailure, respond};

/// One streamed response on its way to the client.
pub(super) struct Relay<'a, 'e> {
    exchange: &'a Exchange<'e>,
    translator: StreamTranslator,
    /// Translated bytes not yet written.
    out: BytesMut,
    /// Whether the response head went to the client.
    started: bool,
    /// When the request went upstream.
    sent: Instant,
}

/// What reading the next provider chunk gave.
enum Next {
    /// More translated output may be ready.
    More,
    /// The provider ended the stream.
    End,
    /// The stream broke.
    Broken(ErrorKind, UpstreamFailure),
}

impl<'a, 'e> Relay<'a, 'e> {
    pub(super) fn new(exchange: &'a Exchange<'e>, sent: Instant) -> Self {
        Self {
            exchange,
            translator: StreamTranslator::new(exchange.request, exchange.model),
            out: BytesMut::new(),
            started: false,
            sent,
        }
    }

    /// Relays until the stream ends, breaks, or the client leaves.
    pub(super) async fn run(
        mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        http: &mut HttpSession,
        first_byte_deadline: Instant,
    ) -> Outcome {
        loop {
            let read = self.read(http, first_byte_deadline);
            let Some(next) = unless_client_left(session, ctx, read).await else {
                self.exchange.account(ctx, self.translator.usage());
                return Outcome::Delivered;
            };
            match next {
                Next::More => {}
                Next::End => return self.end(session, ctx).await,
                Next::Broken(kind, failure) => return self.fail(session, ctx, kind, failure).await,
            }
            if !self.out.is_empty() && !self.forward(session, ctx, false).await {
                self.exchange.account(ctx, self.translator.usage());
                return Outcome::Delivered;
            }
        }
    }

    /// Reads and translates the next chunk, within the first-byte deadline until the stream
    /// started and the idle timeout after.
    async fn read(&mut self, http: &mut HttpSession, first_byte_deadline: Instant) -> Next {
        let exchange = self.exchange;
        let idle = exchange.route.timeouts.idle.get();
        let until = if self.started {
            (Instant::now() + idle).min(exchange.deadline)
        } else {
            first_byte_deadline
        };
        match timeout_at(until, http.read_response_body()).await {
            Ok(Ok(Some(chunk))) => match self.translator.push(&chunk, &mut self.out) {
                Ok(()) => Next::More,
                Err(error) => Next::Broken(error.kind(), exchange.protocol(error.to_string())),
            },
            Ok(Ok(None)) => Next::End,
            Ok(Err(error)) => Next::Broken(ErrorKind::Api, exchange.protocol(error.to_string())),
            // Silence past the idle timeout, or the request's whole budget spent.
            Err(_) if self.started && until < exchange.deadline => Next::Broken(
                ErrorKind::Timeout,
                UpstreamFailure::Timeout {
                    backend: exchange.backend.label.to_string(),
                    after: idle,
                },
            ),
            Err(_) if self.started => Next::Broken(
                ErrorKind::Timeout,
                exchange.timeout(exchange.deadline, self.sent),
            ),
            Err(_) => Next::Broken(
                ErrorKind::Timeout,
                exchange.timeout(first_byte_deadline, self.sent),
            ),
        }
    }

    /// Writes the pending output (the response head first, once); false if the client left.
    async fn forward(&mut self, session: &mut Session, ctx: &mut RequestCtx, end: bool) -> bool {
        if !self.started {
            self.started = true;
            self.exchange.backend.load.observe(self.sent.elapsed());
            if respond::stream_start(session, ctx).await.is_err() {
                return false;
            }
        }
        let chunk = self.out.split().freeze();
        match respond::stream_chunk(session, ctx, chunk, end).await {
            Ok(()) => true,
            Err(error) => {
                tracing::debug!(%error, "client went away during a stream");
                false
            }
        }
    }

    /// The provider closed the stream: finish the translation and the response.
    async fn end(mut self, session: &mut Session, ctx: &mut RequestCtx) -> Outcome {
        match self.translator.finish(&mut self.out) {
            Ok(usage) => {
                self.exchange.account(ctx, usage);
                self.forward(session, ctx, true).await;
                Outcome::Delivered
            }
            Err(error) => {
                let failure = self.exchange.protocol(error.to_string());
                self.fail(session, ctx, error.kind(), failure).await
            }
        }
    }

    /// The stream broke: before it started, the attempt failed (the next candidate may serve);
    /// after, the client gets what was translated and then an error event.
    async fn fail(
        mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        kind: ErrorKind,
        failure: UpstreamFailure,
    ) -> Outcome {
        if !self.started {
            return Outcome::Failed(failure);
        }
        tracing::warn!(error = %failure, "stream failed after it started");
        self.exchange.account(ctx, self.translator.usage());
        ctx.outcome.error = Some(kind);
        let event = self.translator.error_event(kind, &failure.to_string());
        self.out.extend_from_slice(&event);
        self.forward(session, ctx, true).await;
        Outcome::Delivered
    }
}
