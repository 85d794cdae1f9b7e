//! One bounded HTTP GET for a JWKS: connect, TLS and the whole exchange under timeouts, the
//! body under a size cap, `Cache-Control: max-age` read from the answer.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use http::{Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls::{ClientConfig, RootCertStore, pki_types::ServerName};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
    time::timeout,
};
use tokio_rustls::TlsConnector;

use crate::auth::jwt::JwksError;

/// Longest wait for the TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a whole fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest JWKS accepted (real ones are a few kilobytes).
const MAX_BODY: usize = 1 << 20;

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL has no host.
    #[error("not a URL with a host")]
    Url,
    /// Not https (the compiler allows nothing else).
    #[error("only https URLs are fetched")]
    Insecure,
    /// Connecting or TLS failed.
    #[error("could not connect: {0}")]
    Connect(#[source] std::io::Error),
    /// The exchange failed.
    #[error("the request failed: {0}")]
    Http(#[from] hyper::Error),
    /// Not 200.
    #[error("the server answered {0}")]
    Status(StatusCode),
    /// The body could not be read or was too large.
    #[error("the body could not be read (or is over {MAX_BODY} bytes)")]
    Body,
    /// The fetch ran out of time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The body is not a JWKS.
    #[error(transparent)]
    Jwks(JwksError),
}

/// Fetches JWKS documents.
pub struct Client {
    tls: TlsConnector,
}

impl Client {
    /// A client trusting the system's roots (`SSL_CERT_FILE` and `SSL_CERT_DIR` honoured).
    pub fn new() -> Result<Self, rustls::Error> {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for error in &native.errors {
            tracing::debug!(%error, "a system certificate could not be loaded");
        }
        roots.add_parsable_certificates(native.certs);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            tls: TlsConnector::from(Arc::new(config)),
        })
    }

    /// GETs `url`: the body and the `max-age` the server gave it.
    pub async fn get(&self, url: &str) -> Result<(Bytes, Option<Duration>), FetchError> {
        timeout(FETCH_TIMEOUT, self.exchange(url))
            .await
            .map_err(|_| FetchError::Timeout(FETCH_TIMEOUT))?
    }

    async fn exchange(&self, url: &str) -> Result<(Bytes, Option<Duration>), FetchError> {
        let uri: Uri = url.parse().map_err(|_| FetchError::Url)?;
        let host = uri.host().ok_or(FetchError::Url)?;
        if uri.scheme_str() != Some("https") {
            return Err(FetchError::Insecure);
        }
        let port = uri.port_u16().unwrap_or(443);
        // `Uri::host` keeps the brackets of an IPv6 literal.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let tcp = timeout(CONNECT_TIMEOUT, TcpStream::connect((bare, port)))
            .await
            .map_err(|_| FetchError::Timeout(CONNECT_TIMEOUT))?
            .map_err(FetchError::Connect)?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let request = Request::get(path)
            .header(header::HOST, uri.authority().map_or(host, |a| a.as_str()))
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, "switchyard-proxy")
            .body(Empty::<Bytes>::new())
            .map_err(|_| FetchError::Url)?;
        let name = ServerName::try_from(bare.to_owned()).map_err(|_| FetchError::Url)?;
        let stream = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(FetchError::Connect)?;
        send(stream, request).await
    }
}

async fn send<S>(
    stream: S,
    request: Request<Empty<Bytes>>,
) -> Result<(Bytes, Option<Duration>), FetchError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    let driver = tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "a JWKS connection ended");
        }
    });
    let result = async {
        let response = sender.send_request(request).await?;
        if response.status() != StatusCode::OK {
            return Err(FetchError::Status(response.status()));
        }
        let max_age = max_age(response.headers());
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|_| FetchError::Body)?
            .to_bytes();
        Ok((body, max_age))
    }
    .await;
    driver.abort();
    result
}

/// `Cache-Control: max-age=N` (`no-store`/`no-cache` read as zero, which the caller clamps).
fn max_age(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get(header::CACHE_CONTROL)?.to_str().ok()?;
    value.split(',').map(str::trim).find_map(|directive| {
        if directive.eq_ignore_ascii_case("no-store") || directive.eq_ignore_ascii_case("no-cache")
        {
            return Some(Duration::ZERO);
        }
        let (name, seconds) = directive.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| seconds.trim().trim_matches('"').parse().ok())
            .flatten()
            .map(Duration::from_secs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        let read = |value: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(header::CACHE_CONTROL, value.parse().unwrap());
            max_age(&headers)
        };
        assert_eq!(read("public, max-age=600"), Some(Duration::from_secs(600)));
        assert_eq!(read("no-store"), Some(Duration::ZERO));
        assert_eq!(read("public"), None);
        assert_eq!(read("max-age=soon"), None);
    }
}
