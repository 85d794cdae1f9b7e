//! `GET /v1/models`: the public model names the caller may use, in OpenAI's list format.

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use http::HeaderMap;
use serde_json::json;
use switchyard_crds::snapshot::{PolicyIdx, index::is_glob};

use crate::{
    auth::{self, Principal},
    store::State,
};

/// The list body: the exact public names (globs name no model) of routes that admit the
/// caller and that its policies let it use.
///
/// Authentication depends only on a route's policies, so it runs once per distinct set of
/// policies, not once per route: a JWT is verified a handful of times, not once for each of
/// thousands of routes.
pub fn list(state: &State, headers: &HeaderMap) -> Bytes {
    let credential = auth::Credential::from_headers(headers);
    let mut admitted: HashMap<(&[PolicyIdx], bool), Option<Principal>> = HashMap::new();
    let names: BTreeSet<&str> = state
        .snapshot
        .content
        .routes
        .iter()
        .filter_map(|route| {
            let policies = (&route.policies[..], route.invalid_policies.is_empty());
            let principal = admitted
                .entry(policies)
                .or_insert_with(|| auth::authenticate(state, route, credential.as_ref()).ok())
                .clone()?;
            Some((route, principal))
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
