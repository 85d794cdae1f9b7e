//! The upstream request as HTTP/1.1 bytes, head and body in one buffer, so it leaves in a
//! single send. (Pingora's client flushes the head on its own, which costs a second send here
//! and wakes the provider twice.)

use http::header::{ACCEPT_ENCODING, CONTENT_LENGTH, HOST, HeaderName, HeaderValue};
use switchyard_crds::snapshot::Endpoint;
use switchyard_providers::UpstreamRequest;

/// Why a request cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The path holds a byte a request line cannot carry.
    #[error("the request path {0:?} is not a valid HTTP request target")]
    Path(String),
    /// A route header is not a valid HTTP header.
    #[error("the route's header {0:?} is not a valid HTTP header")]
    Header(String),
}

/// Serializes `request` for `endpoint`, with the route's `set_headers` on top. `host`,
/// `content-length` and `accept-encoding: identity` (the body is translated, so it must
/// arrive uncompressed) are the proxy's, unless the provider signed its own `host`.
pub fn encode<'a>(
    request: &UpstreamRequest,
    endpoint: &Endpoint,
    set_headers: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<Vec<u8>, WireError> {
    let path = request.path_and_query.as_bytes();
    if path.is_empty() || path.iter().any(|b| !(0x21..0x7f).contains(b)) {
        return Err(WireError::Path(request.path_and_query.clone()));
    }
    let mut out = Vec::with_capacity(512 + request.body.len());
    out.extend_from_slice(request.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path);
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if !request.headers.contains_key(HOST) {
        let default_port = if endpoint.tls { 443 } else { 80 };
        out.extend_from_slice(b"host: ");
        out.extend_from_slice(endpoint.host.as_bytes());
        if endpoint.port != default_port {
            out.push(b':');
            out.extend_from_slice(endpoint.port.to_string().as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
    let mut routed = Vec::new();
    for (name, value) in set_headers {
        let name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| WireError::Header(name.clone()))?;
        let value =
            HeaderValue::from_str(value).map_err(|_| WireError::Header(name.to_string()))?;
        routed.push((name, value));
    }
    let ours = |name: &HeaderName| {
        name == CONTENT_LENGTH || name == ACCEPT_ENCODING || routed.iter().any(|(n, _)| n == name)
    };
    let provider = request.headers.iter().filter(|(name, _)| !ours(name));
    for (name, value) in provider.chain(routed.iter().map(|(n, v)| (n, v))) {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"accept-encoding: identity\r\ncontent-length: ");
    out.extend_from_slice(request.body.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(&request.body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::{HeaderMap, Method};

    use super::*;

    fn endpoint(port: u16) -> Endpoint {
        Endpoint {
            base_url: String::new(),
            tls: false,
            host: "api.example".to_owned(),
            port,
            base_path: String::new(),
        }
    }

    fn request(headers: &[(&'static str, &str)]) -> UpstreamRequest {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        UpstreamRequest {
            method: Method::POST,
            path_and_query: "/v1/chat/completions?x=1".to_owned(),
            headers: map,
            body: Bytes::from_static(b"{\"a\":1}"),
        }
    }

    #[test]
    fn head_and_body_are_one_buffer_with_the_proxys_headers() {
        let set = [("x-team".to_owned(), "blue".to_owned())];
        let wire = encode(
            &request(&[("authorization", "Bearer k"), ("accept-encoding", "gzip")]),
            &endpoint(8080),
            set.iter().map(|(n, v)| (n, v)),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(wire).unwrap(),
            "POST /v1/chat/completions?x=1 HTTP/1.1\r\nhost: api.example:8080\r\nauthorization: Bearer k\r\nx-team: blue\r\naccept-encoding: identity\r\ncontent-length: 7\r\n\r\n{\"a\":1}"
        );
    }

    #[test]
    fn a_signed_host_is_kept_and_the_default_port_is_left_out() {
        let wire = encode(&request(&[("host", "signed.example")]), &endpoint(80), []).unwrap();
        let text = String::from_utf8(wire).unwrap();
        assert!(text.contains("\r\nhost: signed.example\r\n"), "{text}");
        assert_eq!(text.matches("host:").count(), 1);
    }

    #[test]
    fn a_route_header_replaces_the_providers_and_bad_input_is_refused() {
        let set = [("authorization".to_owned(), "Bearer route".to_owned())];
        let wire = encode(
            &request(&[("authorization", "Bearer k")]),
            &endpoint(80),
            set.iter().map(|(n, v)| (n, v)),
        )
        .unwrap();
        let text = String::from_utf8(wire).unwrap();
        assert!(
            text.contains("authorization: Bearer route\r\n") && !text.contains("Bearer k"),
            "{text}"
        );

        let bad = [("x-bad".to_owned(), "a\r\nb".to_owned())];
        assert!(matches!(
            encode(
                &request(&[]),
                &endpoint(80),
                bad.iter().map(|(n, v)| (n, v))
            ),
            Err(WireError::Header(_))
        ));
        let mut spaced = request(&[]);
        spaced.path_and_query = "/v1/a b".to_owned();
        assert!(matches!(
            encode(&spaced, &endpoint(80), []),
            Err(WireError::Path(_))
        ));
    }
}
