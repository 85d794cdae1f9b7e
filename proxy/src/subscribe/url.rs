//! The operator's address as given on the command line: an `https` URL whose host is both
//! dialled and checked against the operator's certificate.

use std::{fmt, str::FromStr};

use http::Uri;
use switchyard_crds::channel::PATH;

/// One operator replica's config channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorUrl {
    /// The URL as given, for logs and `/config`.
    text: String,
    /// The host, without the brackets of an IPv6 address.
    host: String,
    port: u16,
    /// `https://host:port/v1/snapshots`.
    channel: Uri,
}

/// Why an operator URL was refused.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    /// The text is not a URL.
    #[error("not a URL")]
    Parse(#[from] http::uri::InvalidUri),
    /// The channel carries credentials, so it is always TLS.
    #[error("the operator is reached over TLS: use an https:// URL")]
    NotHttps,
    /// No host, or credentials in the URL.
    #[error("the URL must name a host (and no user)")]
    Host,
    /// The channel's path is fixed by the protocol.
    #[error("the URL must name only the operator (https://HOST[:PORT]), not a path or query")]
    Path,
}

impl FromStr for OperatorUrl {
    type Err = UrlError;

    fn from_str(text: &str) -> Result<Self, UrlError> {
        let text = text.trim();
        let uri: Uri = text.parse()?;
        if uri.scheme_str() != Some("https") {
            return Err(UrlError::NotHttps);
        }
        let authority = uri.authority().ok_or(UrlError::Host)?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() || authority.as_str().contains('@') {
            return Err(UrlError::Host);
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(UrlError::Path);
        }
        Ok(Self {
            text: text.trim_end_matches('/').to_owned(),
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(443),
            channel: format!("https://{authority}{PATH}").parse()?,
        })
    }
}

impl OperatorUrl {
    /// The host to resolve and to verify the certificate for.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (443 unless given).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The channel's URI, `https://host:port/v1/snapshots`.
    pub fn channel(&self) -> &Uri {
        &self.channel
    }
}

impl fmt::Display for OperatorUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_https_url_names_the_host_port_and_channel() {
        let url: OperatorUrl = "https://switchyard-operator.switchyard.svc:8443/"
            .parse()
            .unwrap();
        assert_eq!(url.host(), "switchyard-operator.switchyard.svc");
        assert_eq!(url.port(), 8443);
        assert_eq!(
            url.channel().to_string(),
            "https://switchyard-operator.switchyard.svc:8443/v1/snapshots"
        );
        assert_eq!(
            url.to_string(),
            "https://switchyard-operator.switchyard.svc:8443"
        );
    }

    #[test]
    fn the_port_defaults_to_443_and_ipv6_hosts_lose_their_brackets() {
        let url: OperatorUrl = "https://[::1]".parse().unwrap();
        assert_eq!((url.host(), url.port()), ("::1", 443));
    }

    #[test]
    fn plain_http_paths_and_users_are_refused() {
        for (text, expected) in [
            ("http://operator:8443", "TLS"),
            ("https://operator:8443/v1/snapshots", "not a path"),
            ("https://user@operator", "no user"),
            ("operator:8443", "TLS"),
        ] {
            let error = text.parse::<OperatorUrl>().unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
