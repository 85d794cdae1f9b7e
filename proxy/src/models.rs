//! `GET /v1/models`: the public model names the caller may use, in OpenAI's list format.

use std::collections::BTreeSet;

use bytes::Bytes;
use serde_json::json;
use switchyard_crds::snapshot::index::is_glob;

use crate::{auth, store::State};

/// The list body: exact public names of routes that admit the caller (globs name no model).
pub fn list(state: &State) -> Bytes {
    let snapshot = &state.snapshot;
    let names: BTreeSet<&str> = snapshot
        .content
        .routes
        .iter()
        .filter(|route| auth::authenticate(snapshot, route).is_ok())
        .flat_map(|route| route.models.iter())
        .filter(|name| !is_glob(name))
        .map(String::as_str)
        .collect();
    let data: Vec<_> = names
        .into_iter()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "switchyard"}))
        .collect();
    Bytes::from(json!({"object": "list", "data": data}).to_string())
}
