//! Runs the CEL rules of the generated CRD schemas over JSON objects, the way the API server
//! would at admission, and states what they refused.

use std::sync::LazyLock;

use kube::core::cel::{ErrorKind, Validator};
use serde_json::{Map, Value, json};
use switchyard_crds::crd_definitions;

/// The three resources, in `crd_definitions()` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Model,
    Route,
    Policy,
}

impl Kind {
    /// Every kind, in `crd_definitions()` order.
    pub const ALL: [Self; 3] = [Self::Model, Self::Route, Self::Policy];

    /// The kind's name in manifests.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Model => "AIModel",
            Self::Route => "AIRoute",
            Self::Policy => "AIPolicy",
        }
    }

    /// The `openAPIV3Schema` of the kind's CRD, as JSON.
    // A CRD without a schema is a broken test setup: fail loudly (clippy's test exemption does
    // not reach helpers outside `#[test]` functions).
    #[allow(clippy::expect_used)]
    pub fn schema(self) -> &'static Value {
        static SCHEMAS: LazyLock<Vec<Value>> = LazyLock::new(|| {
            crd_definitions()
                .into_iter()
                .map(|crd| {
                    let version = crd.spec.versions.into_iter().next().expect("one version");
                    let schema = version.schema.and_then(|s| s.open_api_v3_schema);
                    serde_json::to_value(schema.expect("an openAPIV3Schema")).expect("JSON")
                })
                .collect()
        });
        &SCHEMAS[self as usize]
    }
}

/// One rule that did not pass: the field it is reported on and what the caller is told.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub path: String,
    pub message: String,
}

/// Every refusal of the kind's CEL rules for an object with this `spec`.
///
/// A rule that fails to compile or to evaluate is a refusal too (the API server rejects the
/// object then as well), with its error kind in front of the message so it stands out.
pub fn refusals(kind: Kind, spec: Value) -> Vec<Refusal> {
    let object = json!({
        "apiVersion": "switchyard.dev/v1alpha1",
        "kind": kind.name(),
        "metadata": { "name": "example", "namespace": "default" },
        "spec": spec,
    });
    let Err(errors) = Validator::new().validate(kind.schema(), &object, None) else {
        return Vec::new();
    };
    errors
        .into_iter()
        .map(|error| Refusal {
            message: match error.kind {
                ErrorKind::ValidationFailure => error.message,
                other => format!("{other:?}: {}", error.message),
            },
            path: error.field_path,
        })
        .collect()
}

/// Asserts that every CEL rule of the kind passes for `spec`.
#[track_caller]
pub fn assert_accepted(kind: Kind, spec: Value) {
    let refused = refusals(kind, spec.clone());
    assert!(
        refused.is_empty(),
        "{} refused {spec:#}:\n{refused:#?}",
        kind.name()
    );
}

/// Asserts that exactly one CEL rule of the kind fails for `spec`, on `path`, with `message`.
#[track_caller]
pub fn assert_refused(kind: Kind, spec: Value, path: &str, message: &str) {
    let refused = refusals(kind, spec.clone());
    let expected = [Refusal {
        path: path.to_owned(),
        message: message.to_owned(),
    }];
    assert_eq!(refused, expected, "{} and {spec:#}", kind.name());
}

/// `base` with `patch` applied as a JSON merge patch (RFC 7396): objects merge, `null` removes
/// a field, anything else replaces it.
pub fn merged(base: Value, patch: Value) -> Value {
    match (base, patch) {
        (Value::Object(mut base), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    base.remove(&key);
                } else {
                    let old = base.remove(&key).unwrap_or(Value::Object(Map::new()));
                    base.insert(key, merged(old, value));
                }
            }
            Value::Object(base)
        }
        (_, patch) => patch,
    }
}
