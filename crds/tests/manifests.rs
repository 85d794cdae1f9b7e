//! Standalone loading: what a user sees when a manifest folder is right, and when it is not.

use std::path::Path;

use switchyard_crds::manifests::{self, DocumentErrorKind, Loaded};

fn load(text: &str) -> Loaded {
    manifests::load_str(text, Path::new("team.yaml"), &|var| {
        (var == "SET").then(|| "from-env".to_owned())
    })
}

const MODEL: &str = "apiVersion: switchyard.dev/v1alpha1
kind: AIModel
metadata: {name: gpt}
spec:
  provider: openai
  model: gpt-4o
  credentials: {secretRef: {name: openai, key: apiKey}}
";

#[test]
fn documents_without_a_namespace_land_in_default() {
    let loaded = load(MODEL);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(
        loaded.inputs.models[0].metadata.namespace.as_deref(),
        Some("default")
    );
}

#[test]
fn a_cel_rule_violation_is_refused_with_the_rules_message_and_its_position() {
    let bad =
        format!("{MODEL}  endpoint: https://a.example\n  serviceRef: {{name: s, port: 80}}\n");
    let loaded = load(&format!(
        "{MODEL}---\n{}",
        bad.replace("name: gpt", "name: both")
    ));
    assert_eq!(
        loaded.inputs.models.len(),
        1,
        "the valid document still loads"
    );
    let error = &loaded.errors[0];
    assert_eq!(error.document, 2);
    let text = error.to_string();
    assert!(
        text.starts_with("team.yaml: document 2 (AIModel default/both): "),
        "{text}"
    );
    assert!(
        text.contains("set at most one of endpoint and serviceRef"),
        "{text}"
    );
}

#[test]
fn schema_violations_name_the_field() {
    let loaded = load(&MODEL.replace("provider: openai", "provider: openia"));
    let text = loaded.errors[0].to_string();
    assert!(text.contains("spec.provider"), "{text}");
    assert!(loaded.inputs.models.is_empty());
}

#[test]
fn invalid_durations_and_prices_are_refused_like_the_api_server_does() {
    let loaded = load(&format!(
        "{MODEL}  timeouts: {{total: soon}}\n  pricing: {{input: \"-1\", output: \"1\"}}\n"
    ));
    let text = loaded.errors[0].to_string();
    assert!(text.contains("must be a positive duration"), "{text}");
    assert!(
        text.contains("must be a decimal amount of US dollars"),
        "{text}"
    );
}

#[test]
fn yaml_that_does_not_parse_is_reported_with_a_line() {
    let loaded = load(&format!("{MODEL}---\nkind: [unclosed\n"));
    assert_eq!(loaded.inputs.models.len(), 1);
    let error = &loaded.errors[0];
    assert!(matches!(error.error, DocumentErrorKind::Yaml(_)));
    assert!(error.to_string().contains("line"), "{error}");
}

#[test]
fn unknown_kinds_and_missing_names_are_refused() {
    let loaded = load(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n---\napiVersion: v1\nkind: Secret\nmetadata: {}\n",
    );
    let texts: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
    assert!(
        texts[0].contains("unsupported kind \"Deployment\""),
        "{texts:?}"
    );
    assert!(texts[1].contains("missing metadata.name"), "{texts:?}");
}

#[test]
fn env_references_in_secrets_are_resolved_and_unset_ones_refused() {
    let secret = |name: &str, var: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\nstringData: {{apiKey: \"${{env:{var}}}\"}}\n"
        )
    };
    let loaded = load(&format!(
        "{}---\n{}",
        secret("ok", "SET"),
        secret("missing", "UNSET")
    ));
    assert_eq!(loaded.inputs.secrets.len(), 1);
    assert_eq!(loaded.inputs.secrets[0].data["apiKey"], b"from-env");
    assert!(
        loaded.errors[0]
            .to_string()
            .contains("environment variable UNSET, which is not set")
    );
}

#[test]
fn base64_data_in_secret_manifests_is_decoded() {
    let loaded =
        load("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {apiKey: c2stMTIz}\n");
    assert_eq!(loaded.inputs.secrets[0].data["apiKey"], b"sk-123");
}

#[test]
fn a_second_definition_of_the_same_object_is_refused() {
    let loaded = load(&format!("{MODEL}---\n{MODEL}"));
    assert_eq!(loaded.inputs.models.len(), 1);
    assert!(matches!(
        loaded.errors[0].error,
        DocumentErrorKind::Duplicate
    ));
}

#[test]
fn a_folder_loads_every_yaml_file_in_path_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("nested")).unwrap();
    std::fs::write(dir.path().join("b.yaml"), MODEL).unwrap();
    std::fs::write(
        dir.path().join("nested/a.yml"),
        MODEL.replace("name: gpt", "name: other"),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not yaml").unwrap();
    let loaded = manifests::load(dir.path()).unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(loaded.inputs.models.len(), 2);
}

#[test]
fn a_missing_path_is_an_error_naming_it() {
    let error = manifests::load(Path::new("/nonexistent/switchyard")).unwrap_err();
    assert!(error.to_string().contains("/nonexistent/switchyard"));
}
