//! What the client called: the API from the path and method.

use http::Method;
use switchyard_providers::Api;

use crate::errors::GatewayError;

/// An endpoint of the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A model API (`POST`).
    Api(Api),
    /// `GET /v1/models`.
    Models,
}

/// The endpoint a request is for. The query string is ignored; a trailing slash is not.
pub fn endpoint(method: &Method, path: &str) -> Result<Endpoint, GatewayError> {
    if path == "/v1/models" {
        return if method == Method::GET {
            Ok(Endpoint::Models)
        } else {
            Err(GatewayError::MethodNotAllowed {
                path: path.to_owned(),
                allowed: "GET",
            })
        };
    }
    let api = Api::from_path(path).ok_or_else(|| GatewayError::UnknownPath(path.to_owned()))?;
    if method != Method::POST {
        return Err(GatewayError::MethodNotAllowed {
            path: path.to_owned(),
            allowed: "POST",
        });
    }
    Ok(Endpoint::Api(api))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_apis_take_post_and_the_model_list_takes_get() {
        assert_eq!(
            endpoint(&Method::POST, "/v1/chat/completions").ok(),
            Some(Endpoint::Api(Api::ChatCompletions))
        );
        assert_eq!(
            endpoint(&Method::POST, "/v1/messages").ok(),
            Some(Endpoint::Api(Api::Messages))
        );
        assert_eq!(
            endpoint(&Method::GET, "/v1/models").ok(),
            Some(Endpoint::Models)
        );
        assert!(matches!(
            endpoint(&Method::GET, "/v1/chat/completions"),
            Err(GatewayError::MethodNotAllowed {
                allowed: "POST",
                ..
            })
        ));
        assert!(matches!(
            endpoint(&Method::POST, "/v2/chat"),
            Err(GatewayError::UnknownPath(_))
        ));
    }
}
