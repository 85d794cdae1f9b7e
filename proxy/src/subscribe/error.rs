//! Why one attempt at the config channel ended: each variant names the stage that failed, and
//! `kind` is its metric label.

use std::{error::Error, fmt::Write as _, io, net::SocketAddr, path::PathBuf, time::Duration};

use http::StatusCode;
use switchyard_crds::channel::FrameTooLong;

/// How an attempt to open or keep the config stream failed.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The token file could not be read.
    #[error("cannot read the token file {}", path.display())]
    Token {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The token file is empty or holds what cannot be a header value.
    #[error("the token file {} holds no usable token", path.display())]
    BadToken {
        /// The file.
        path: PathBuf,
    },
    /// The CA file could not be read.
    #[error("cannot read the CA file {}", path.display())]
    Ca {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The CA file holds no certificate that can be trusted.
    #[error("the CA file {} holds no usable certificate", path.display())]
    NoCa {
        /// The file.
        path: PathBuf,
    },
    /// The operator's host name did not resolve.
    #[error("cannot resolve {host}")]
    Resolve {
        /// The host.
        host: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// No address of the operator accepted a TCP connection.
    #[error("cannot connect to {addr}")]
    Connect {
        /// The last address tried.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The TLS handshake failed (an untrusted certificate, a wrong host name, …).
    #[error("the TLS handshake with {host} failed")]
    Tls {
        /// The host the certificate was checked for.
        host: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A stage took too long.
    #[error("{stage} took longer than {after:?}")]
    Timeout {
        /// What was being waited for.
        stage: &'static str,
        /// The limit.
        after: Duration,
    },
    /// The request could not be built (a proxy name that is not a valid header value).
    #[error("the request could not be built")]
    Request(#[from] http::Error),
    /// HTTP/2 failed: the handshake, the request, or the stream (including a keepalive ping
    /// that went unanswered).
    #[error("HTTP/2 failed")]
    Http(#[from] hyper::Error),
    /// The operator answered something else than 200: 401 for a refused token, 503 from a
    /// replica that is not the leader.
    #[error("the operator answered {status}: {body}")]
    Refused {
        /// The status.
        status: StatusCode,
        /// The start of the body.
        body: String,
    },
    /// The operator sent a frame over the size limit.
    #[error(transparent)]
    Frame(#[from] FrameTooLong),
    /// The operator stopped reading acks.
    #[error("the operator closed its side of the stream")]
    AcksClosed,
}

impl ChannelError {
    /// A bounded label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Token { .. } | Self::BadToken { .. } => "token",
            Self::Ca { .. } | Self::NoCa { .. } => "ca",
            Self::Resolve { .. } => "resolve",
            Self::Connect { .. } => "connect",
            Self::Tls { .. } => "tls",
            Self::Timeout { .. } => "timeout",
            Self::Request(_) => "request",
            Self::Http(_) | Self::AcksClosed => "http2",
            Self::Refused { status, .. } => match status.as_u16() {
                401 | 403 => "unauthorized",
                503 => "unavailable",
                _ => "status",
            },
            Self::Frame(_) => "frame",
        }
    }
}

/// An error and its sources, one after the other, for a log line.
pub(crate) fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}
