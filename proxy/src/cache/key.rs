//! The cache key: a SHA-256 of the normalized request, so two requests share an entry exactly
//! when they would get the same answer from the same route.
//!
//! What goes in: the client API, whether it streams (and, for streams, whether the usage
//! chunk was asked for: both change the bytes the client gets), the route's fingerprint
//! ([`route_fingerprint`]), the public model asked for, the subject under `subject` scope,
//! and every top-level field of the body except [`IGNORED`] (fields that do not change the
//! output). Unknown fields count: a field the gateway does not know might change the answer.
//!
//! Normalization: object keys are sorted at every depth, whitespace is gone (values are
//! parsed), and numbers compare by value — `1`, `1.0` and `1e0` are one number — while
//! integers keep every digit (seeds are larger than 2^53).
//!
//! `n > 1` and sampling temperatures are cached like any other request: the policy asked for
//! a cache, and a hit returns the answer (all `n` choices) that was given for the same input.

use serde_json::Value;
use sha2::{Digest, Sha256};
use switchyard_crds::snapshot::{Model, Route};
use switchyard_providers::ClientRequest;

#[cfg(test)]
mod tests;

/// Top-level fields that never change the answer: caller ids and tags, stream plumbing,
/// storage and billing hints.
pub const IGNORED: &[&str] = &[
    "model",
    "stream",
    "stream_options",
    "user",
    "metadata",
    "store",
    "safety_identifier",
    "prompt_cache_key",
    "service_tier",
];

/// A cache key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key(pub [u8; 32]);

impl Key {
    /// Lower-case hex, for the Redis key.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// What a key is computed from, besides the request.
#[derive(Clone, Copy, Debug)]
pub struct Scope<'a> {
    /// The route's [`route_fingerprint`].
    pub route: &'a [u8; 32],
    /// The caller's subject under `subject` scope; `None` under `shared`.
    pub subject: Option<&'a str>,
}

/// The key of `request` in `scope`.
pub fn compute(scope: Scope<'_>, request: &ClientRequest) -> Key {
    let mut hash = Sha256::new();
    hash.update(b"switchyard-cache-v1\0");
    hash.update(scope.route);
    write_str(&mut hash, request.api().as_str());
    write_str(&mut hash, request.model());
    match scope.subject {
        Some(subject) => {
            hash.update(b"S");
            write_str(&mut hash, subject);
        }
        None => hash.update(b"-"),
    }
    if request.stream() {
        hash.update(if include_usage(request) { b"U" } else { b"s" });
    } else {
        hash.update(b"w");
    }
    let mut fields: Vec<(&str, Value)> = request
        .fields()
        .filter(|(name, _)| !IGNORED.contains(name))
        .map(|(name, raw)| {
            // A raw value is valid JSON; one too deep for `Value` still gets its own key.
            let value = serde_json::from_str(raw.get())
                .unwrap_or_else(|_| Value::String(raw.get().to_owned()));
            (name, value)
        })
        .collect();
    fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
    write_len(&mut hash, fields.len());
    for (name, value) in &fields {
        write_str(&mut hash, name);
        write_value(&mut hash, value);
    }
    Key(hash.finalize().into())
}

/// Whether an OpenAI stream asked for the usage chunk.
fn include_usage(request: &ClientRequest) -> bool {
    request
        .fields()
        .find(|(name, _)| *name == "stream_options")
        .and_then(|(_, raw)| serde_json::from_str::<Value>(raw.get()).ok())
        .is_some_and(|options| options["include_usage"] == Value::Bool(true))
}

/// What of a route changes its answers: its name, its request transforms, and which
/// provider models its backends and fallbacks are (not weights, retries or timeouts). A
/// change of any of these starts a new set of entries.
pub fn route_fingerprint(route: &Route, models: &[Model]) -> [u8; 32] {
    let mut hash = Sha256::new();
    write_str(&mut hash, &route.source.namespace);
    write_str(&mut hash, &route.source.name);
    match serde_json::to_vec(&route.transforms) {
        Ok(transforms) => hash.update(&transforms),
        Err(error) => tracing::warn!(%error, "route transforms not fingerprinted"),
    }
    let indices = route
        .backends
        .iter()
        .map(|b| b.model)
        .chain(route.fallbacks.iter().copied());
    for model in indices.filter_map(|idx| models.get(idx as usize)) {
        write_str(&mut hash, model.provider.as_str());
        write_str(&mut hash, &model.model);
        write_str(&mut hash, &model.endpoint.host);
    }
    hash.finalize().into()
}

fn write_len(hash: &mut Sha256, len: usize) {
    hash.update((len as u64).to_le_bytes());
}

fn write_str(hash: &mut Sha256, text: &str) {
    write_len(hash, text.len());
    hash.update(text.as_bytes());
}

/// Writes `value` with a tag per type and lengths before every variable part, so no two
/// different values write the same bytes.
fn write_value(hash: &mut Sha256, value: &Value) {
    match value {
        Value::Null => hash.update(b"n"),
        Value::Bool(b) => hash.update(if *b { b"t" } else { b"f" }),
        Value::Number(number) => write_number(hash, number),
        Value::String(text) => {
            hash.update(b"s");
            write_str(hash, text);
        }
        Value::Array(items) => {
            hash.update(b"a");
            write_len(hash, items.len());
            items.iter().for_each(|item| write_value(hash, item));
        }
        Value::Object(map) => {
            hash.update(b"o");
            write_len(hash, map.len());
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            for (key, item) in entries {
                write_str(hash, key);
                write_value(hash, item);
            }
        }
    }
}

/// Integers (and floats with an integral value in range) as exact integers, other floats by
/// their bits (with -0 as 0).
fn write_number(hash: &mut Sha256, number: &serde_json::Number) {
    let integer = number
        .as_i64()
        .map(i128::from)
        .or_else(|| number.as_u64().map(i128::from))
        .or_else(|| {
            let float = number.as_f64()?;
            // Within ±2^63 a float with no fraction converts exactly.
            (float.fract() == 0.0 && float.abs() < 9.2e18).then_some(float as i128)
        });
    match (integer, number.as_f64()) {
        (Some(integer), _) => {
            hash.update(b"i");
            hash.update(integer.to_le_bytes());
        }
        (None, Some(float)) => {
            hash.update(b"d");
            hash.update(float.to_bits().to_le_bytes());
        }
        // Arbitrary precision is off, so every number is one of the above.
        (None, None) => write_str(hash, &number.to_string()),
    }
}
