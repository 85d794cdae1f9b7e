//! Opening the channel's connection: TCP to the operator, TLS verified against the CA file
//! (read again on every connect, so a rotated CA is picked up), then HTTP/2 with keepalive
//! pings so an operator that vanished without closing the connection is noticed.

use std::{path::Path, sync::Arc, time::Duration};

use bytes::Bytes;
use http_body_util::channel::Channel;
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, ServerName, pem::PemObject},
};
use tokio::{net::TcpStream, task::JoinHandle, time::timeout};
use tokio_rustls::TlsConnector;

use super::{ChannelError, OperatorUrl};

/// Longest wait for TCP, TLS or the HTTP/2 handshake, each.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle connection is pinged.
const PING_INTERVAL: Duration = Duration::from_secs(5);
/// How long a ping may go unanswered before the connection is considered dead.
const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// The request body: ack frames, sent as they are produced.
pub(super) type AckBody = Channel<Bytes>;

/// An open HTTP/2 connection to the operator. Dropping it closes the connection.
pub(super) struct Connection {
    /// Sends the channel's request.
    pub(super) sender: SendRequest<AckBody>,
    /// Drives the connection (frames, pings).
    driver: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Connects to `url`, trusting only the CAs in `ca`.
pub(super) async fn open(url: &OperatorUrl, ca: &Path) -> Result<Connection, ChannelError> {
    let tls = tls_config(ca).await?;
    let server_name =
        ServerName::try_from(url.host().to_owned()).map_err(|_| ChannelError::Tls {
            host: url.host().to_owned(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a valid host name for a certificate",
            ),
        })?;
    let tcp = dial(url).await?;
    let stream = timeout(
        HANDSHAKE_TIMEOUT,
        TlsConnector::from(tls).connect(server_name, tcp),
    )
    .await
    .map_err(|_| ChannelError::Timeout {
        stage: "the TLS handshake",
        after: HANDSHAKE_TIMEOUT,
    })?
    .map_err(|source| ChannelError::Tls {
        host: url.host().to_owned(),
        source,
    })?;
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .keep_alive_interval(PING_INTERVAL)
        .keep_alive_timeout(PING_TIMEOUT)
        .keep_alive_while_idle(true);
    let (sender, connection) = timeout(HANDSHAKE_TIMEOUT, builder.handshake(TokioIo::new(stream)))
        .await
        .map_err(|_| ChannelError::Timeout {
            stage: "the HTTP/2 handshake",
            after: HANDSHAKE_TIMEOUT,
        })??;
    let driver = tokio::spawn(async move {
        // A failure also ends the response body, which reports it.
        if let Err(error) = connection.await {
            tracing::debug!(%error, "the operator connection ended");
        }
    });
    Ok(Connection { sender, driver })
}

/// Tries each address of the operator's host in turn.
async fn dial(url: &OperatorUrl) -> Result<TcpStream, ChannelError> {
    let addrs = tokio::net::lookup_host((url.host(), url.port()))
        .await
        .map_err(|source| ChannelError::Resolve {
            host: url.host().to_owned(),
            source,
        })?;
    let mut last = None;
    for addr in addrs {
        match timeout(HANDSHAKE_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => {
                // Acks are small and should leave at once.
                let _ = tcp.set_nodelay(true);
                return Ok(tcp);
            }
            Ok(Err(source)) => last = Some(ChannelError::Connect { addr, source }),
            Err(_) => {
                last = Some(ChannelError::Timeout {
                    stage: "the TCP connect",
                    after: HANDSHAKE_TIMEOUT,
                });
            }
        }
    }
    Err(last.unwrap_or_else(|| ChannelError::Resolve {
        host: url.host().to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no addresses"),
    }))
}

/// A TLS client configuration that trusts the CAs in `ca` (PEM) and offers only HTTP/2.
async fn tls_config(ca: &Path) -> Result<Arc<ClientConfig>, ChannelError> {
    let pem = tokio::fs::read(ca)
        .await
        .map_err(|source| ChannelError::Ca {
            path: ca.to_owned(),
            source,
        })?;
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok);
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(ChannelError::NoCa {
            path: ca.to_owned(),
        });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| ChannelError::Tls {
            host: String::new(),
            source: std::io::Error::other(error),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}
