//! The CEL rules of `AIRoute`: model names, backends, header matches and retry backoff.

use serde_json::{Value, json};

use super::harness::{Kind, assert_accepted, assert_refused, merged};

/// Two public names served by two AIModels: every rule passes.
fn chat() -> Value {
    json!({
        "models": ["gpt-4o", "gpt-4o-*"],
        "backends": [
            { "modelRef": { "name": "openai-gpt-4o" }, "weight": 3 },
            { "modelRef": { "name": "azure-gpt-4o" } },
        ],
    })
}

fn route(patch: Value) -> Value {
    merged(chat(), patch)
}

fn backends(weights_and_names: &[(&str, Option<u32>)]) -> Value {
    let list: Vec<_> = weights_and_names
        .iter()
        .map(|(name, weight)| match weight {
            Some(weight) => json!({ "modelRef": { "name": name }, "weight": weight }),
            None => json!({ "modelRef": { "name": name } }),
        })
        .collect();
    json!({ "backends": list })
}

#[test]
fn a_route_with_distinct_names_and_backends_is_accepted() {
    assert_accepted(Kind::Route, chat());
}

#[test]
fn a_route_that_drains_some_backends_but_not_all_is_accepted() {
    let drained = backends(&[("old", Some(0)), ("new", None)]);
    assert_accepted(Kind::Route, route(drained));
}

#[test]
fn a_route_whose_backends_all_have_weight_zero_is_refused() {
    assert_refused(
        Kind::Route,
        route(backends(&[("old", Some(0)), ("new", Some(0))])),
        "spec",
        "at least one backend needs a weight above 0",
    );
}

#[test]
fn a_route_naming_the_same_aimodel_twice_in_backends_is_refused() {
    assert_refused(
        Kind::Route,
        route(backends(&[
            ("gpt-4o", Some(1)),
            ("mini", None),
            ("gpt-4o", Some(2)),
        ])),
        "spec",
        "each AIModel may appear only once in backends",
    );
}

#[test]
fn a_route_listing_the_same_model_name_twice_is_refused() {
    assert_refused(
        Kind::Route,
        route(json!({ "models": ["gpt-4o", "gpt-4o-mini", "gpt-4o"] })),
        "spec",
        "each model name may appear only once in models",
    );
}

#[test]
fn model_names_and_globs_of_common_providers_are_accepted() {
    let names = [
        "gpt-4o",
        "gpt-4*",
        "claude-?-*",
        "[gc]pt-4o",
        "meta-llama/Llama-3.1-8B-Instruct",
        "models/gemini-1.5-pro",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "team_a@llama3:latest",
    ];
    assert_accepted(Kind::Route, route(json!({ "models": names })));
}

#[test]
fn model_names_with_spaces_or_other_punctuation_are_refused() {
    for name in [
        "gpt 4o",
        "gpt-4o{,-mini}",
        "gpt-4o!",
        "model#1",
        "a,b",
        "ümlaut",
    ] {
        assert_refused(
            Kind::Route,
            route(json!({ "models": ["gpt-4o", name] })),
            "spec",
            "model names may contain letters, digits, . _ : / @ - and the glob characters * ? [ ]",
        );
    }
}

#[test]
fn header_matches_on_valid_header_names_are_accepted() {
    for name in ["x-team", "X-Request-Id", "x_tenant", "x!#$%&'*+.^`|~-y"] {
        let matches = json!({ "matches": [{ "name": name, "value": "search" }] });
        assert_accepted(Kind::Route, route(matches));
    }
}

#[test]
fn header_matches_on_invalid_header_names_are_refused() {
    for name in ["x team", "x:team", "x-team\r\n", "(x)", "x/team", ""] {
        assert_refused(
            Kind::Route,
            route(json!({ "matches": [{ "name": name, "value": "search" }] })),
            "spec.matches[0].name",
            "name must be a valid HTTP header name",
        );
    }
}

#[test]
fn a_backoff_whose_base_is_at_most_its_max_is_accepted() {
    for (base, max) in [("100ms", "2s"), ("2s", "2s"), ("1m", "1h")] {
        let retry = json!({ "retry": { "attempts": 3, "backoff": { "base": base, "max": max } } });
        assert_accepted(Kind::Route, route(retry));
    }
}

#[test]
fn a_backoff_whose_base_exceeds_its_max_is_refused() {
    assert_refused(
        Kind::Route,
        route(json!({ "retry": { "backoff": { "base": "5s", "max": "500ms" } } })),
        "spec.retry.backoff",
        "retry.backoff.base must not exceed retry.backoff.max",
    );
}

#[test]
fn a_backoff_that_is_not_a_duration_is_reported_once_on_its_own_field() {
    assert_refused(
        Kind::Route,
        route(json!({ "retry": { "backoff": { "base": "5s", "max": "a while" } } })),
        "spec.retry.backoff.max",
        "must be a positive duration such as 500ms, 30s, 5m or 1h30m",
    );
}
