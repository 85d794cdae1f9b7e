//! `GET /v1/models`: the public model names the caller may use, in OpenAI's list format.

use std::collections::BTreeSet;

use bytes::Bytes;
use http::HeaderMap;
use serde_json::json;
use switchyard_crds::snapshot::index::is_glob;

use crate::{auth, store::State};

/// The list body: the exact public names (globs name no model) of routes that admit the
/// caller and that its policies let it use.
pub fn list(state: &State, headers: &HeaderMap) -> Bytes {
    let credential = auth::Credential::from_headers(headers);
    let names: BTreeSet<&str> = state
        .snapshot
        .content
        .routes
        .iter()
        .filter_map(|route| {
            Some((
                route,
                auth::authenticate(state, route, credential.as_ref()).ok()?,
            ))
        })
        .flat_map(|(route, principal)| {
            route
                .models
                .iter()
                .filter(|name| !is_glob(name))
                .filter(move |name| auth::authorize(state, route, &principal, name).is_ok())
        })
        .map(String::as_str)
        .collect();
    let data: Vec<_> = names
        .into_iter()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "switchyard"}))
        .collect();
    Bytes::from(json!({"object": "list", "data": data}).to_string())
}
