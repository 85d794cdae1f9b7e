//! The CEL rules that the `Duration` and `Usd` field types carry wherever they are used, and
//! their agreement with the Rust parsers the standalone loader uses.

use serde_json::{Value, json};
use switchyard_crds::quantity::{Duration, Usd};

use super::harness::{Kind, assert_accepted, assert_refused, merged, refusals};

const DURATION_MESSAGE: &str = "must be a positive duration such as 500ms, 30s, 5m or 1h30m";
const USD_MESSAGE: &str =
    "must be a decimal amount of US dollars such as 2.50 (no sign, no exponent)";

const GOOD_DURATIONS: &[&str] = &[
    "500ms", "30s", "5m", "1h30m", "1.5h", "250us", "100ns", "2h0m1s", "2562047h",
];
const BAD_DURATIONS: &[&str] = &[
    "0s",
    "0ms",
    "0h0m",
    "-5s",
    "+5s",
    "30",
    "1.5",
    "5 s",
    "1d",
    "1w",
    "5S",
    "5µs",
    "1h-5m",
    "2562048h",
    "9999999999999h",
    "soon",
    "",
];

const GOOD_AMOUNTS: &[&str] = &["2.50", "0", "0.00", "0.000000015", "123456789.123456789"];
const BAD_AMOUNTS: &[&str] = &[
    "-1",
    "+1",
    "1e3",
    "",
    ".5",
    "5.",
    "1,5",
    "$5",
    "1234567890",
    "0.1234567890",
    "NaN",
];

/// A field of type `Duration`: where it is reported and an otherwise valid spec holding `value`.
struct Site {
    kind: Kind,
    path: &'static str,
    spec: fn(&str) -> Value,
}

fn openai_model(extra: Value) -> Value {
    let spec = json!({
        "provider": "openai",
        "model": "gpt-4o",
        "credentials": { "secretRef": { "name": "openai", "key": "apiKey" } },
    });
    merged(spec, extra)
}

fn route(extra: Value) -> Value {
    let spec = json!({ "models": ["gpt-4o"], "backends": [{ "modelRef": { "name": "gpt-4o" } }] });
    merged(spec, extra)
}

fn policy(extra: Value) -> Value {
    merged(json!({ "targetRefs": [{ "kind": "Namespace" }] }), extra)
}

const DURATION_SITES: &[Site] = &[
    Site {
        kind: Kind::Model,
        path: "spec.timeouts.connect",
        spec: |v| openai_model(json!({ "timeouts": { "connect": v } })),
    },
    Site {
        kind: Kind::Model,
        path: "spec.timeouts.firstToken",
        spec: |v| openai_model(json!({ "timeouts": { "firstToken": v } })),
    },
    Site {
        kind: Kind::Model,
        path: "spec.timeouts.total",
        spec: |v| openai_model(json!({ "timeouts": { "total": v } })),
    },
    Site {
        kind: Kind::Route,
        path: "spec.retry.backoff.base",
        spec: |v| route(json!({ "retry": { "backoff": { "base": v } } })),
    },
    Site {
        kind: Kind::Route,
        path: "spec.retry.backoff.max",
        spec: |v| route(json!({ "retry": { "backoff": { "max": v } } })),
    },
    Site {
        kind: Kind::Route,
        path: "spec.timeouts.firstToken",
        spec: |v| route(json!({ "timeouts": { "firstToken": v } })),
    },
    Site {
        kind: Kind::Route,
        path: "spec.timeouts.total",
        spec: |v| route(json!({ "timeouts": { "total": v } })),
    },
    Site {
        kind: Kind::Route,
        path: "spec.timeouts.idle",
        spec: |v| route(json!({ "timeouts": { "idle": v } })),
    },
    Site {
        kind: Kind::Policy,
        path: "spec.cache.ttl",
        spec: |v| policy(json!({ "cache": { "ttl": v } })),
    },
];

const USD_SITES: &[Site] = &[
    Site {
        kind: Kind::Model,
        path: "spec.pricing.input",
        spec: |v| openai_model(json!({ "pricing": { "input": v, "output": "10" } })),
    },
    Site {
        kind: Kind::Model,
        path: "spec.pricing.output",
        spec: |v| openai_model(json!({ "pricing": { "input": "2.5", "output": v } })),
    },
    Site {
        kind: Kind::Model,
        path: "spec.pricing.cachedInput",
        spec: |v| {
            openai_model(json!({ "pricing": { "input": "2.5", "output": "10", "cachedInput": v } }))
        },
    },
    Site {
        kind: Kind::Policy,
        path: "spec.budgets[0].usd",
        spec: |v| policy(json!({ "budgets": [{ "name": "team", "usd": v, "window": "month" }] })),
    },
];

#[test]
fn positive_durations_written_the_kubernetes_way_are_accepted_in_every_duration_field() {
    for site in DURATION_SITES {
        for value in GOOD_DURATIONS {
            assert_accepted(site.kind, (site.spec)(value));
        }
    }
}

#[test]
fn zero_signed_unitless_and_malformed_durations_are_refused_in_every_duration_field() {
    for site in DURATION_SITES {
        for value in BAD_DURATIONS {
            assert_refused(site.kind, (site.spec)(value), site.path, DURATION_MESSAGE);
        }
    }
}

#[test]
fn plain_decimal_amounts_are_accepted_in_every_usd_field() {
    for site in USD_SITES {
        for value in GOOD_AMOUNTS {
            assert_accepted(site.kind, (site.spec)(value));
        }
    }
}

#[test]
fn signed_exponent_and_overlong_amounts_are_refused_in_every_usd_field() {
    for site in USD_SITES {
        for value in BAD_AMOUNTS {
            assert_refused(site.kind, (site.spec)(value), site.path, USD_MESSAGE);
        }
    }
}

#[test]
fn the_api_server_and_the_rust_parser_refuse_the_same_durations_with_the_same_message() {
    let site = &DURATION_SITES[0];
    for value in GOOD_DURATIONS.iter().chain(BAD_DURATIONS) {
        let cel = refusals(site.kind, (site.spec)(value));
        let cel: Vec<_> = cel.iter().map(|r| r.message.as_str()).collect();
        let rust: Vec<_> = value
            .parse::<Duration>()
            .err()
            .map(|e| e.to_string())
            .into_iter()
            .collect();
        assert_eq!(cel, rust, "{value:?}: CEL and Duration::from_str disagree");
    }
}

#[test]
fn the_api_server_and_the_rust_parser_refuse_the_same_amounts_with_the_same_message() {
    let site = &USD_SITES[0];
    for value in GOOD_AMOUNTS.iter().chain(BAD_AMOUNTS) {
        let cel = refusals(site.kind, (site.spec)(value));
        let cel: Vec<_> = cel.iter().map(|r| r.message.as_str()).collect();
        let rust: Vec<_> = value
            .parse::<Usd>()
            .err()
            .map(|e| e.to_string())
            .into_iter()
            .collect();
        assert_eq!(cel, rust, "{value:?}: CEL and Usd::from_str disagree");
    }
}

#[test]
fn every_duration_and_usd_field_of_the_crds_is_tested_here() {
    for (message, sites) in [(DURATION_MESSAGE, DURATION_SITES), (USD_MESSAGE, USD_SITES)] {
        let mut found = Vec::new();
        for kind in Kind::ALL {
            collect_sites(kind, kind.schema(), "", message, &mut found);
        }
        let mut tested: Vec<_> = sites
            .iter()
            .map(|s| (s.kind, s.path.replace("[0]", "[]")))
            .collect();
        found.sort_by(|a, b| (a.0.name(), &a.1).cmp(&(b.0.name(), &b.1)));
        tested.sort_by(|a, b| (a.0.name(), &a.1).cmp(&(b.0.name(), &b.1)));
        assert_eq!(
            found, tested,
            "fields carrying {message:?}; add new ones to the sites above"
        );
    }
}

/// Every schema path under `node` whose rules include one with `message`.
fn collect_sites(
    kind: Kind,
    node: &Value,
    path: &str,
    message: &str,
    found: &mut Vec<(Kind, String)>,
) {
    let rules = node["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten();
    if rules.into_iter().any(|rule| rule["message"] == message) {
        found.push((kind, path.to_owned()));
    }
    for (name, child) in node["properties"].as_object().into_iter().flatten() {
        let child_path = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        collect_sites(kind, child, &child_path, message, found);
    }
    if node["items"].is_object() {
        collect_sites(kind, &node["items"], &format!("{path}[]"), message, found);
    }
}
