//! Which route serves a request: the public model name plus header matches, from the snapshot.

use pingora::http::RequestHeader;
use switchyard_crds::snapshot::RouteMatch;

use crate::{errors::GatewayError, store::State};

/// The route for `model`, or 404 naming the model.
pub fn select<'a>(
    state: &'a State,
    model: &str,
    request: &'a RequestHeader,
) -> Result<RouteMatch<'a>, GatewayError> {
    state
        .snapshot
        .find_route(model, |name| {
            request
                .headers
                .get(name)
                .and_then(|value| value.to_str().ok())
        })
        .ok_or_else(|| GatewayError::UnknownModel(model.to_owned()))
}
