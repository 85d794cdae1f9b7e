//! Admission checks for standalone manifests: the generated CRD schemas (types, bounds, enums)
//! and their CEL rules, the same ones the API server enforces.

use std::collections::HashMap;

use serde_json::Value;

use crate::crd_definitions;

/// Each kind's OpenAPI schema, compiled once per load.
pub(super) struct Schemas {
    by_kind: HashMap<String, (Value, Option<jsonschema::Validator>)>,
}

impl Schemas {
    pub(super) fn new() -> Self {
        let by_kind = crd_definitions()
            .into_iter()
            .filter_map(|crd| {
                let schema = crd
                    .spec
                    .versions
                    .first()?
                    .schema
                    .as_ref()?
                    .open_api_v3_schema
                    .as_ref()?;
                let schema = serde_json::to_value(schema).ok()?;
                // OpenAPI v3 schemas are JSON Schema draft 4 plus extensions the validator ignores.
                let validator = jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft4)
                    .should_validate_formats(false)
                    .build(&schema)
                    .ok();
                Some((crd.spec.names.kind, (schema, validator)))
            })
            .collect();
        Self { by_kind }
    }

    /// Every violation of the kind's schema and CEL rules, as `path: message` lines.
    pub(super) fn check(&self, kind: &str, object: &Value) -> Result<(), Vec<String>> {
        let Some((schema, validator)) = self.by_kind.get(kind) else {
            return Err(vec![format!("no schema for kind {kind}")]);
        };
        let Some(validator) = validator else {
            return Err(vec![format!("the {kind} schema does not compile")]);
        };
        let structural: Vec<String> = validator
            .iter_errors(object)
            .map(|e| format!("{}: {}", dotted(e.instance_path().as_str()), e))
            .collect();
        if !structural.is_empty() {
            return Err(structural); // CEL rules assume a structurally valid object
        }
        kube::core::cel::Validator::new()
            .validate(schema, object, None)
            .map_err(|errors| errors.iter().map(ToString::to_string).collect())
    }
}

/// `/spec/backends/0/weight` → `spec.backends[0].weight`.
fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.split('/').filter(|p| !p.is_empty()) {
        if part.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&part.replace("~1", "/").replace("~0", "~"));
        }
    }
    if out.is_empty() {
        "<root>".to_owned()
    } else {
        out
    }
}
