//! The CEL rules of `AIPolicy`: targets, API keys, JWKS sources, rate limits and budgets.

use serde_json::{Value, json};

use super::harness::{Kind, assert_accepted, assert_refused, merged};

/// A policy on one route with API keys, a rate limit and a budget: every rule passes.
fn team() -> Value {
    json!({
        "targetRefs": [{ "kind": "AIRoute", "name": "chat" }],
        "authentication": { "apiKeys": { "secretNames": ["team-search"] } },
        "rateLimits": [{ "name": "rpm", "requests": 600, "window": "minute" }],
        "budgets": [{ "name": "monthly", "usd": "250.00", "window": "month" }],
    })
}

fn policy(patch: Value) -> Value {
    merged(team(), patch)
}

fn with_jwks(jwks: Value) -> Value {
    policy(json!({
        "authentication": {
            "jwt": [{ "issuer": "https://login.example.com", "audiences": ["switchyard"], "jwks": jwks }],
        },
    }))
}

#[test]
fn a_policy_with_keys_limits_and_budgets_is_accepted() {
    assert_accepted(Kind::Policy, team());
}

#[test]
fn targets_name_routes_and_models_but_not_namespaces() {
    let targets = json!({ "targetRefs": [
        { "kind": "AIRoute", "name": "chat" },
        { "kind": "AIModel", "name": "gpt-4o" },
        { "kind": "Namespace" },
    ] });
    assert_accepted(Kind::Policy, policy(targets));
}

#[test]
fn a_route_or_model_target_without_a_name_is_refused() {
    for kind in ["AIRoute", "AIModel"] {
        assert_refused(
            Kind::Policy,
            policy(json!({ "targetRefs": [{ "kind": kind }] })),
            "spec.targetRefs[0]",
            "name is required for AIRoute and AIModel targets and not allowed for a Namespace target",
        );
    }
}

#[test]
fn a_namespace_target_with_a_name_is_refused() {
    assert_refused(
        Kind::Policy,
        policy(json!({ "targetRefs": [{ "kind": "Namespace", "name": "default" }] })),
        "spec.targetRefs[0]",
        "name is required for AIRoute and AIModel targets and not allowed for a Namespace target",
    );
}

#[test]
fn api_keys_found_by_label_selector_are_accepted() {
    let by_label = json!({ "authentication": { "apiKeys": {
        "secretNames": null,
        "selector": { "matchLabels": { "switchyard.dev/team": "search" } },
    } } });
    assert_accepted(Kind::Policy, policy(by_label));
}

#[test]
fn api_keys_without_secret_names_or_selector_are_refused() {
    for api_keys in [json!({ "secretNames": null }), json!({ "secretNames": [] })] {
        assert_refused(
            Kind::Policy,
            policy(json!({ "authentication": { "apiKeys": api_keys } })),
            "spec.authentication.apiKeys",
            "apiKeys needs secretNames or a selector",
        );
    }
}

#[test]
fn an_empty_label_selector_is_refused() {
    assert_refused(
        Kind::Policy,
        policy(json!({ "authentication": { "apiKeys": { "selector": { "matchLabels": {} } } } })),
        "spec.authentication.apiKeys.selector",
        "selector.matchLabels must not be empty",
    );
}

#[test]
fn a_jwks_from_exactly_one_source_is_accepted() {
    for jwks in [
        json!({ "url": "https://login.example.com/.well-known/jwks.json" }),
        json!({ "inline": "{\"keys\": []}" }),
        json!({ "secretRef": { "name": "jwks", "key": "jwks.json" } }),
    ] {
        assert_accepted(Kind::Policy, with_jwks(jwks));
    }
}

#[test]
fn a_jwks_from_no_source_or_from_two_is_refused() {
    for jwks in [
        json!({}),
        json!({ "url": "https://login.example.com/jwks", "inline": "{\"keys\": []}" }),
        json!({
            "inline": "{\"keys\": []}",
            "secretRef": { "name": "jwks", "key": "jwks.json" },
            "url": "https://login.example.com/jwks",
        }),
    ] {
        assert_refused(
            Kind::Policy,
            with_jwks(jwks),
            "spec.authentication.jwt[0].jwks",
            "set exactly one of jwks.inline, jwks.secretRef and jwks.url",
        );
    }
}

#[test]
fn a_jwks_url_that_is_not_https_with_a_host_is_refused() {
    for url in [
        "http://login.example.com/jwks",
        "https://",
        "https:///jwks",
        "login.example.com/jwks",
        "",
    ] {
        assert_refused(
            Kind::Policy,
            with_jwks(json!({ "url": url })),
            "spec.authentication.jwt[0].jwks.url",
            "jwks.url must be an https:// URL",
        );
    }
}

#[test]
fn a_rate_limit_on_tokens_alone_is_accepted() {
    let tokens = json!({ "rateLimits": [{ "name": "tpm", "tokens": 100000, "window": "minute" }] });
    assert_accepted(Kind::Policy, policy(tokens));
}

#[test]
fn a_rate_limit_without_requests_or_tokens_is_refused() {
    assert_refused(
        Kind::Policy,
        policy(json!({ "rateLimits": [{ "name": "nothing", "window": "hour" }] })),
        "spec.rateLimits[0]",
        "a rate limit needs requests, tokens or both",
    );
}

#[test]
fn rate_limits_with_the_same_name_are_refused() {
    let limits = json!({ "rateLimits": [
        { "name": "rpm", "requests": 600, "window": "minute" },
        { "name": "tpd", "tokens": 1000000, "window": "day" },
        { "name": "rpm", "requests": 10000, "window": "hour" },
    ] });
    assert_refused(
        Kind::Policy,
        policy(limits),
        "spec",
        "rate limit names must be unique",
    );
}

#[test]
fn budgets_with_the_same_name_are_refused() {
    let budgets = json!({ "budgets": [
        { "name": "team", "usd": "10", "window": "day" },
        { "name": "team", "usd": "200", "window": "month" },
    ] });
    assert_refused(
        Kind::Policy,
        policy(budgets),
        "spec",
        "budget names must be unique",
    );
}

#[test]
fn limits_keyed_by_a_header_name_the_header() {
    let by_header = json!({ "type": "header", "header": "x-tenant" });
    let by_subject = json!({ "type": "subject" });
    for key in [by_header, by_subject] {
        let limits = json!({
            "rateLimits": [{ "name": "rpm", "requests": 60, "window": "minute", "key": key }],
            "budgets": [{ "name": "daily", "usd": "5", "window": "day", "key": key }],
        });
        assert_accepted(Kind::Policy, policy(limits));
    }
}

#[test]
fn a_header_key_without_a_header_or_a_header_on_another_key_is_refused() {
    let message = "key.header is required when key.type is header, and allowed only then";
    for key in [
        json!({ "type": "header" }),
        json!({ "type": "api-key", "header": "x-tenant" }),
    ] {
        let limit = json!({ "name": "rpm", "requests": 60, "window": "minute", "key": key });
        let spec = policy(json!({ "rateLimits": [limit] }));
        assert_refused(Kind::Policy, spec, "spec.rateLimits[0].key", message);

        let budget = json!({ "name": "daily", "usd": "5", "window": "day", "key": key });
        let spec = policy(json!({ "budgets": [budget] }));
        assert_refused(Kind::Policy, spec, "spec.budgets[0].key", message);
    }
}
