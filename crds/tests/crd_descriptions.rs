//! Every field of every CRD has a description: it is what `kubectl explain` shows, so a field
//! without a doc comment is a field users cannot look up.

use serde_json::Value;
use switchyard_crds::crd_definitions;

/// Paths of the properties under `node` (at `path`) that have no description.
fn undescribed(node: &Value, path: &str, missing: &mut Vec<String>) {
    for (name, child) in node["properties"].as_object().into_iter().flatten() {
        let child_path = format!("{path}.{name}");
        let described = child["description"]
            .as_str()
            .is_some_and(|d| !d.trim().is_empty());
        if !described {
            missing.push(child_path.clone());
        }
        undescribed(child, &child_path, missing);
    }
    for key in ["items", "additionalProperties"] {
        if node[key].is_object() {
            undescribed(&node[key], &format!("{path}[]"), missing);
        }
    }
}

#[test]
fn every_field_of_every_crd_has_a_description_for_kubectl_explain() {
    let mut missing = Vec::new();
    for crd in crd_definitions() {
        let kind = &crd.spec.names.kind;
        for version in &crd.spec.versions {
            let schema = version
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref());
            let schema = serde_json::to_value(schema.expect("an openAPIV3Schema")).expect("JSON");
            if schema["description"]
                .as_str()
                .is_none_or(|d| d.trim().is_empty())
            {
                missing.push(format!("{kind} {}", version.name));
            }
            undescribed(&schema, &format!("{kind} {}", version.name), &mut missing);
        }
    }
    assert!(
        missing.is_empty(),
        "these fields have no description; add a /// doc comment (with default and units) \
         to the Rust field:\n  {}",
        missing.join("\n  ")
    );
}
