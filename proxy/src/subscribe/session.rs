//! One subscription stream, from connect to its end.

use std::{path::Path, time::Duration};

use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, header};
use http_body_util::{BodyExt as _, channel::Sender};
use hyper::body::Incoming;
use switchyard_crds::channel::{self, FrameReader};
use tokio::time::timeout;

use super::{
    ChannelError, OperatorUrl, Subscriber,
    connect::{self, AckBody},
};

/// Longest wait for the operator's answer to the request (its status and headers).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// Acks waiting to be sent; the operator reads them as they come, so this is rarely used.
const ACK_BUFFER: usize = 8;
/// How much of a refusal's body is logged.
const REFUSAL_BYTES: usize = 1024;

impl Subscriber {
    /// Runs one stream to `url`:
    /// 1. read the token (kubelet rotates it, so it is read on every connect);
    /// 2. connect: TCP, TLS against the CA file, HTTP/2;
    /// 3. `POST /v1/snapshots` with the token, the proxy's name and the hash it serves;
    /// 4. anything but 200 is a [`ChannelError::Refused`] with the start of the body;
    /// 5. apply each pushed snapshot and ack it, until the stream ends.
    ///
    /// Sets `delivered` once a push was accepted, even if the stream then fails.
    pub(super) async fn session(
        &self,
        url: &OperatorUrl,
        delivered: &mut bool,
    ) -> Result<(), ChannelError> {
        let token = read_token(&self.options.token_file).await?;
        let mut connection = connect::open(url, &self.options.ca_file).await?;
        let (acks, body) = AckBody::new(ACK_BUFFER);
        let request = self.request(url, token, body)?;
        let answer = async {
            connection.sender.ready().await?;
            connection.sender.send_request(request).await
        };
        let response =
            timeout(ANSWER_TIMEOUT, answer)
                .await
                .map_err(|_| ChannelError::Timeout {
                    stage: "the operator's answer",
                    after: ANSWER_TIMEOUT,
                })??;
        let status = response.status();
        if status != StatusCode::OK {
            let body = refusal(response.into_body()).await;
            return Err(ChannelError::Refused { status, body });
        }
        let _connected = Connected::new(self, url);
        self.receive(response.into_body(), acks, delivered).await
    }

    fn request(
        &self,
        url: &OperatorUrl,
        token: HeaderValue,
        body: AckBody,
    ) -> Result<Request<AckBody>, ChannelError> {
        let mut request = Request::post(url.channel().clone())
            .header(header::AUTHORIZATION, token)
            .header(header::CONTENT_TYPE, channel::CONTENT_TYPE)
            .header(channel::PROXY_HEADER, &self.options.proxy_name);
        if let Some(hash) = self.served_hash() {
            request = request.header(channel::HASH_HEADER, hash);
        }
        Ok(request.body(body)?)
    }

    /// Reads push frames as they arrive, and acks each.
    async fn receive(
        &self,
        mut body: Incoming,
        mut acks: Sender<Bytes>,
        delivered: &mut bool,
    ) -> Result<(), ChannelError> {
        let mut frames = FrameReader::default();
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame?.into_data() else {
                continue;
            };
            for push in frames.push(&data)? {
                let ack = self.apply(push).await;
                *delivered |= ack.error.is_none();
                acks.send_data(Bytes::from(ack.encode()))
                    .await
                    .map_err(|_| ChannelError::AcksClosed)?;
            }
        }
        Ok(())
    }
}

/// The bearer token, as a header value that is never indexed or logged.
async fn read_token(path: &Path) -> Result<HeaderValue, ChannelError> {
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|source| ChannelError::Token {
            path: path.to_owned(),
            source,
        })?;
    let token = text.trim();
    let bad = || ChannelError::BadToken {
        path: path.to_owned(),
    };
    if token.is_empty() {
        return Err(bad());
    }
    let mut value = HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| bad())?;
    value.set_sensitive(true);
    Ok(value)
}

/// The start of a refusal's body, for the log.
async fn refusal(mut body: Incoming) -> String {
    let mut text = Vec::new();
    let read = async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                text.extend_from_slice(&data);
                if text.len() >= REFUSAL_BYTES {
                    break;
                }
            }
        }
    };
    let _ = timeout(Duration::from_secs(5), read).await;
    text.truncate(REFUSAL_BYTES);
    String::from_utf8_lossy(&text).trim().to_owned()
}

/// An open stream: the connection gauge, counters and `/config` follow its life.
struct Connected<'a> {
    subscriber: &'a Subscriber,
}

impl<'a> Connected<'a> {
    fn new(subscriber: &'a Subscriber, url: &OperatorUrl) -> Self {
        tracing::info!(%url, "subscribed to the operator");
        let metrics = &subscriber.metrics.channel;
        metrics.connected.set(1);
        metrics.connects.inc();
        subscriber.status.connected(Some(url));
        Self { subscriber }
    }
}

impl Drop for Connected<'_> {
    fn drop(&mut self) {
        let metrics = &self.subscriber.metrics.channel;
        metrics.connected.set(0);
        metrics.disconnects.inc();
        self.subscriber.status.connected(None);
    }
}
