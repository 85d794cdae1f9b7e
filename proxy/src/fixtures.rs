//! Test fixtures: states compiled from manifest text, the way standalone mode builds them.

use std::path::Path;

use switchyard_crds::{compile, manifests};

use crate::store::State;

/// Compiles `yaml` into a published state; panics (it is a test) on any problem.
pub fn state(yaml: &str) -> State {
    let loaded = manifests::load_str(yaml, Path::new("fixture.yaml"), &|_| None);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let compiled = compile(&loaded.inputs).unwrap();
    assert!(compiled.problems.is_empty(), "{:?}", compiled.problems);
    State::build(
        compiled.snapshot,
        None,
        &crate::auth::jwks::JwksRegistry::default(),
    )
}

/// An AIModel manifest for an openai-compatible model at `endpoint` with `input` USD pricing.
pub fn model(name: &str, input: &str) -> String {
    format!(
        "apiVersion: switchyard.dev/v1alpha1\nkind: AIModel\nmetadata: {{name: {name}}}\nspec:\n  provider: openai-compatible\n  model: {name}\n  endpoint: http://127.0.0.1:1/v1\n  pricing: {{input: \"{input}\", output: \"1\"}}\n---\n"
    )
}
