//! Compiler golden tests: each folder under `tests/compile/<case>/` holds the manifests of one
//! scenario; they are loaded as standalone mode loads them, compiled, and the snapshot content
//! and the problems are compared with `snapshot.snap` and `problems.snap` next to them.
//!
//! Review a changed `.snap` file as you would review code: a snapshot that encodes a bug is a
//! defect. Secret values in the manifests are fake and marked `FAKE` so they are easy to spot.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test loudly, as tests do"
)]

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use serde::Serialize;
use switchyard_crds::{Compiled, Inputs, compile, manifests};

/// One case folder, loaded and compiled.
struct Case {
    dir: PathBuf,
    inputs: Inputs,
    refused: Vec<Refused>,
    compiled: Compiled,
}

/// A document the loader refused, with the file relative to the case folder.
#[derive(Serialize)]
struct Refused {
    file: String,
    document: usize,
    object: Option<String>,
    error: String,
}

/// What `problems.snap` holds.
#[derive(Serialize)]
struct Report<'a> {
    refused_documents: &'a [Refused],
    problems: &'a [switchyard_crds::Problem],
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compile")
}

/// Loads and compiles a case folder.
fn load(case: &str) -> Case {
    let dir = cases_dir().join(case);
    let loaded = manifests::load(&dir).unwrap_or_else(|e| panic!("{case}: {e}"));
    let refused = loaded
        .errors
        .iter()
        .map(|e| Refused {
            file: e
                .file
                .strip_prefix(&dir)
                .unwrap_or(&e.file)
                .display()
                .to_string(),
            document: e.document,
            object: e.object.clone(),
            error: e.error.to_string(),
        })
        .collect();
    let compiled = compile(&loaded.inputs).unwrap_or_else(|e| panic!("{case}: {e}"));
    Case {
        dir,
        inputs: loaded.inputs,
        refused,
        compiled,
    }
}

/// Compares a case with its snapshots.
fn golden(case: &str) -> Case {
    let loaded = load(case);
    let content = serde_json::to_value(&loaded.compiled.snapshot).unwrap();
    let report = Report {
        refused_documents: &loaded.refused,
        problems: &loaded.compiled.problems,
    };
    insta::with_settings!({
        snapshot_path => loaded.dir.clone(),
        prepend_module_to_snapshot => false,
        omit_expression => true,
        description => format!("crds/tests/compile/{case}"),
    }, {
        insta::assert_yaml_snapshot!("snapshot", content);
        insta::assert_yaml_snapshot!("problems", report);
    });
    no_api_key_in_plain_text(&loaded);
    loaded
}

/// API keys (Secrets named `key-*` by convention in the cases) reach the snapshot only as hashes.
fn no_api_key_in_plain_text(case: &Case) {
    let json = String::from_utf8(case.compiled.snapshot.to_json().unwrap()).unwrap();
    for secret in case
        .inputs
        .secrets
        .iter()
        .filter(|s| s.name.starts_with("key-"))
    {
        for value in secret.data.values() {
            let value = String::from_utf8_lossy(value);
            assert!(
                !json.contains(value.trim()),
                "the API key of Secret {} is in the snapshot",
                secret.name
            );
        }
    }
}

macro_rules! golden_cases {
    ($($test:ident => $case:literal,)*) => {
        $(
            #[test]
            fn $test() {
                golden($case);
            }
        )*

        /// Every case folder, so a new folder without a test is noticed.
        const CASES: &[&str] = &[$($case),*];
    };
}

golden_cases! {
    openai_and_anthropic_behind_one_route_with_a_fallback => "basic",
    omitted_fields_get_their_documented_defaults => "defaults",
    a_missing_backend_is_skipped_and_a_route_with_none_left_is_not_served => "dangling-model-ref",
    a_model_whose_secret_is_missing_is_left_out => "missing-secret",
    a_model_whose_secret_lacks_the_key_is_left_out => "missing-secret-key",
    the_older_route_keeps_a_contested_name => "name-conflict",
    exact_names_and_globs_are_indexed => "globs",
    policies_hash_keys_attach_to_targets_and_fail_closed => "policies",
    azure_bedrock_and_in_cluster_endpoints_resolve => "azure-bedrock-vllm",
    transforms_may_not_set_what_decides_the_request => "forbidden-transform-params",
}

#[test]
fn every_case_folder_has_a_golden_test() {
    let mut folders: Vec<String> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    let mut listed: Vec<String> = CASES.iter().map(|c| (*c).to_owned()).collect();
    listed.sort();
    assert_eq!(folders, listed);
}

/// Request headers as `(name, value)` pairs.
type Headers<'a> = &'a [(&'a str, &'a str)];

/// The route `find_route` picks for a model name and headers, as `namespace/name`.
fn lookup(case: &Case, model: &str, headers: Headers<'_>) -> Option<String> {
    let headers: Vec<(String, &str)> = headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), *v))
        .collect();
    let found = case.compiled.snapshot.find_route(model, |name| {
        headers.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    })?;
    Some(format!(
        "{}/{}",
        found.route.source.namespace, found.route.source.name
    ))
}

#[test]
fn exact_beats_glob_and_the_more_specific_glob_beats_the_older_one() {
    let case = load("globs");
    let cases: [(&str, Headers<'_>, &str); 7] = [
        ("gpt-4o", &[], "ai/exact"),
        ("gpt-4o", &[("x-tier", "batch")], "ai/exact"),
        ("gpt-4o-mini", &[], "ai/gpt-4o-family"),
        ("gpt-4o-mini", &[("x-tier", "batch")], "ai/gpt-4o-family"),
        ("gpt-3.5-turbo", &[], "ai/gpt-family"),
        ("claude-3-haiku", &[], "ai/catch-all"),
        ("o1", &[("X-Tier", "batch")], "ai/batch-catch-all"),
    ];
    for (model, headers, expected) in cases {
        assert_eq!(
            lookup(&case, model, headers).as_deref(),
            Some(expected),
            "{model} {headers:?}"
        );
    }
}

#[test]
fn an_invalid_glob_claims_nothing() {
    let case = load("globs");
    assert_eq!(
        lookup(&case, "claude-[3", &[]).as_deref(),
        Some("ai/catch-all")
    );
}

#[test]
fn header_matches_split_one_name_between_routes() {
    let case = load("name-conflict");
    assert_eq!(lookup(&case, "chat", &[]).as_deref(), Some("platform/chat"));
    assert_eq!(
        lookup(&case, "chat", &[("x-team", "analytics")]).as_deref(),
        Some("analytics/chat-for-analytics")
    );
    assert_eq!(
        lookup(&case, "chat", &[("x-team", "search")]).as_deref(),
        Some("platform/chat")
    );
    assert_eq!(
        lookup(&case, "gpt-4o", &[("x-team", "analytics")]).as_deref(),
        Some("platform/chat")
    );
    // The route that lost "chat" does not get its other name either.
    assert_eq!(lookup(&case, "analytics-chat", &[]), None);
}

#[test]
fn a_route_with_header_matches_never_serves_requests_without_the_header() {
    let case = load("name-conflict");
    let snapshot = &case.compiled.snapshot;
    let only_matched: Vec<_> = snapshot
        .content
        .routes
        .iter()
        .filter(|r| !r.matches.is_empty())
        .collect();
    assert_eq!(only_matched.len(), 1);
    // With "chat" claimed only by the header-matched route, a request without the header has no route.
    let mut inputs = case.inputs.clone();
    inputs
        .routes
        .retain(|r| r.metadata.name.as_deref() == Some("chat-for-analytics"));
    let alone = compile(&inputs).unwrap().snapshot;
    assert!(alone.find_route("chat", |_| None).is_none());
    assert!(
        alone
            .find_route("chat", |n| (n == "x-team").then_some("analytics"))
            .is_some()
    );
    assert!(
        alone
            .find_route("chat", |n| (n == "x-team").then_some("Analytics"))
            .is_none(),
        "values compare exactly"
    );
}

#[test]
fn a_regex_header_match_must_match_the_whole_value() {
    let mut case = load("name-conflict");
    let route = case
        .inputs
        .routes
        .iter_mut()
        .map(Arc::make_mut)
        .find(|r| r.metadata.name.as_deref() == Some("chat-for-analytics"))
        .unwrap();
    route.spec.matches[0].r#type = Some(switchyard_crds::route::HeaderMatchType::RegularExpression);
    route.spec.matches[0].value = "analytics|data-.*".to_owned();
    let snapshot = compile(&case.inputs).unwrap().snapshot;
    let pick = |team: &'static str| {
        let found = snapshot
            .find_route("chat", move |n| (n == "x-team").then_some(team))
            .unwrap();
        found.route.source.name.clone()
    };
    assert_eq!(pick("analytics"), "chat-for-analytics");
    assert_eq!(pick("data-science"), "chat-for-analytics");
    assert_eq!(pick("big-analytics"), "chat", "the pattern is anchored");
}

#[test]
fn api_keys_are_stored_as_sha256_with_subject_and_groups() {
    let case = load("policies");
    let snapshot = &case.compiled.snapshot;
    let policy = snapshot
        .content
        .policies
        .iter()
        .find(|p| p.source.name == "search-team")
        .unwrap();
    let keys = &policy.authentication.as_ref().unwrap().api_keys;
    let summary: Vec<(&str, &str, Vec<&str>)> = keys
        .iter()
        .map(|k| {
            (
                k.sha256.as_str(),
                k.subject.as_str(),
                k.groups.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    let expected = [
        // sha256("sy-FAKE-oncall"), sha256("sy-FAKE-frontend"), sha256("sy-FAKE-indexer")
        (
            "47ea34097c35f87bcbfe8b5571599767b92e41a57a9fbeaae28508ff4d7fcf2c",
            "oncall@example.com",
            vec!["sre"],
        ),
        (
            "83c362caa283418627d1759cf0bc15de1a9fcad9503e0f42d97c237c0e48b473",
            "key-frontend",
            vec![],
        ),
        (
            "fb4db018270d32abaf2035de10207ee88d41d30e0651ea4d248ca177dcf2baf6",
            "indexer",
            vec!["batch", "search"],
        ),
    ];
    assert_eq!(summary, expected);
}

#[test]
fn policies_on_the_namespace_the_route_and_the_model_all_attach() {
    let case = load("policies");
    let snapshot = &case.compiled.snapshot;
    let names = |idx: &[u32]| -> Vec<String> {
        idx.iter()
            .map(|i| snapshot.policy(*i).unwrap().source.name.clone())
            .collect()
    };
    let assistant = snapshot
        .find_route("search-assistant", |_| None)
        .unwrap()
        .route;
    assert_eq!(
        names(&assistant.policies),
        ["assistant-extras", "in-cluster-callers", "search-team"]
    );
    assert!(assistant.invalid_policies.is_empty());
    let gpt_4o = snapshot
        .content
        .models
        .iter()
        .find(|m| m.source.name == "gpt-4o")
        .unwrap();
    assert_eq!(names(&gpt_4o.policies), ["gpt-4o-budget"]);
    let experiments = snapshot
        .find_route("search-experiments", |_| None)
        .unwrap()
        .route;
    assert_eq!(names(&experiments.policies), ["search-team"]);
    let invalid: Vec<&str> = experiments
        .invalid_policies
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(invalid, ["experiments-guardrails", "o3-mini-guardrails"]);
}

#[test]
fn an_invalid_policy_on_a_model_closes_every_route_that_can_reach_it() {
    let mut case = load("policies");
    let policy = case
        .inputs
        .policies
        .iter_mut()
        .map(Arc::make_mut)
        .find(|p| p.metadata.name.as_deref() == Some("o3-mini-guardrails"))
        .unwrap();
    policy.spec.target_refs[0].name = Some("gpt-4o".to_owned());
    let compiled = compile(&case.inputs).unwrap();
    // `assistant` reaches gpt-4o only as its fallback; it must refuse too, not run without it.
    let assistant = compiled
        .snapshot
        .find_route("search-assistant", |_| None)
        .unwrap()
        .route;
    let invalid: Vec<&str> = assistant
        .invalid_policies
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(invalid, ["o3-mini-guardrails"]);
    let reported = compiled.problems.iter().any(|p| {
        p.object.name == "assistant"
            && p.reason() == "PolicyInvalid"
            && p.error.to_string().contains("o3-mini-guardrails")
    });
    assert!(reported, "{:#?}", compiled.problems);
}

#[test]
fn forbidden_params_are_refused_by_the_compiler_even_past_admission() {
    // Built directly, not loaded, so the compiler's own check is tested even if a CEL rule
    // refuses such routes at admission.
    let mut case = load("forbidden-transform-params");
    case.inputs
        .routes
        .retain(|r| r.metadata.name.as_deref() == Some("tuned"));
    let route = Arc::make_mut(&mut case.inputs.routes[0]);
    let transforms = route.spec.transforms.as_mut().unwrap();
    for (i, param) in ["model", "messages", "input", "prompt", "stream"]
        .into_iter()
        .enumerate()
    {
        let params = if i % 2 == 0 {
            &mut transforms.forced_params
        } else {
            &mut transforms.default_params
        };
        params.0.insert(param.to_owned(), serde_json::json!(null));
    }
    let compiled = compile(&case.inputs).unwrap();
    assert!(compiled.snapshot.content.routes.is_empty());
    let reasons: Vec<_> = compiled
        .problems
        .iter()
        .map(|p| (p.reason(), p.error.to_string()))
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:#?}");
    assert!(
        reasons
            .iter()
            .all(|(reason, _)| *reason == "InvalidTransform"),
        "{reasons:#?}"
    );
}

#[test]
fn a_header_regex_cannot_escape_its_anchors() {
    // `search)|(.*` is not a regular expression, but wrapped as `^(?:search)|(.*)$` it would
    // compile and match every value.
    let mut case = load("name-conflict");
    let route = case
        .inputs
        .routes
        .iter_mut()
        .map(Arc::make_mut)
        .find(|r| r.metadata.name.as_deref() == Some("chat-for-analytics"))
        .unwrap();
    route.spec.matches[0].r#type = Some(switchyard_crds::route::HeaderMatchType::RegularExpression);
    route.spec.matches[0].value = "analytics)|(.*".to_owned();
    let compiled = compile(&case.inputs).unwrap();
    let found = compiled
        .snapshot
        .find_route("chat", |n| (n == "x-team").then_some("anyone"));
    assert_eq!(found.unwrap().route.source.name, "chat");
    let refused = compiled
        .problems
        .iter()
        .find(|p| p.object.name == "chat-for-analytics")
        .unwrap();
    assert_eq!(refused.reason(), "InvalidPattern", "{}", refused.error);
}
