//! Compilation is deterministic: random sets of models, routes, policies and Secrets (valid and
//! broken references, globs, header matches, name conflicts, duplicate API keys) compile to
//! byte-identical snapshots and the same problems in any input order, and a snapshot survives
//! its own wire format while a tampered one is refused.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly, as tests do"
)]

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{Value, json};
use switchyard_crds::{
    AIModel, AIPolicy, AIRoute, Compiled, Inputs, Snapshot, compile, compile::SecretData,
    snapshot::SnapshotError,
};

const NAMESPACES: [&str; 3] = ["alpha", "beta", "gamma"];
/// Public names shared between routes (so they conflict) besides each route's own name.
const SHARED_NAMES: [&str; 10] = [
    "chat",
    "gpt-4o",
    "gpt-4o-mini",
    "o3",
    "gpt-*",
    "gpt-4o*",
    "*",
    "claude-?-*",
    "emb[0-9]",
    "llama/*",
];
const PROVIDERS: [&str; 4] = ["openai", "anthropic", "openai-compatible", "bedrock"];
/// A small pool, so two Secrets often hold the same API key.
const API_KEYS: [&str; 3] = ["sy-FAKE-one", "sy-FAKE-two", "sy-FAKE-three"];
/// Few distinct values, so routes often tie on age.
const TIMESTAMPS: [Option<&str>; 3] = [
    None,
    Some("2025-01-01T00:00:00Z"),
    Some("2025-02-01T00:00:00Z"),
];

fn metadata(ns: usize, name: &str, created: Option<&str>) -> Value {
    let mut meta = json!({"namespace": NAMESPACES[ns], "name": name, "generation": 1});
    if let Some(created) = created {
        meta["creationTimestamp"] = json!(created);
    }
    meta
}

fn object<T: serde::de::DeserializeOwned>(kind: &str, metadata: Value, spec: Value) -> T {
    let value = json!({"apiVersion": "switchyard.dev/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec});
    serde_json::from_value(value).unwrap()
}

/// Models `model0`..`model3`; their Secrets `s0`..`s2` usually exist, and the key is sometimes
/// misspelled.
fn model() -> impl Strategy<Value = AIModel> {
    let shape = (0..3usize, 0..4usize, 0..PROVIDERS.len(), 0..3usize);
    (shape, prop::bool::weighted(0.1)).prop_map(|((ns, name, provider, secret), wrong_key)| {
        let provider = PROVIDERS[provider];
        let key = if wrong_key { "api-key" } else { "apiKey" };
        let mut spec = json!({"provider": provider, "model": format!("m{name}")});
        match provider {
            "openai-compatible" => {
                spec["serviceRef"] = json!({"name": format!("svc{name}"), "port": 8000})
            }
            "bedrock" => {
                spec["bedrock"] = json!({"region": "us-east-1"});
                spec["credentials"] = json!({"aws": {"secretRef": {"name": format!("s{secret}")}}});
            }
            _ => {
                spec["credentials"] =
                    json!({"secretRef": {"name": format!("s{secret}"), "key": key}})
            }
        }
        object("AIModel", metadata(ns, &format!("model{name}"), None), spec)
    })
}

/// Routes `route0`..`route5` with their own public name, maybe shared names and globs (rarely an
/// invalid one), header matches (rarely an invalid regex), backends among `model0`..`model5`
/// (4 and 5 never exist), fallbacks, and transforms with float parameters (rarely forbidden).
fn route() -> impl Strategy<Value = AIRoute> {
    let names = (
        proptest::sample::subsequence(SHARED_NAMES.to_vec(), 0..3),
        prop::bool::weighted(0.05),
    );
    let backends = proptest::sample::subsequence((0..6).collect::<Vec<_>>(), 1..3);
    let weights = prop::collection::vec(0..3u32, 3);
    let header = prop_oneof![
        8 => Just(None),
        3 => Just(Some(json!({"name": "X-Team", "value": "search"}))),
        3 => Just(Some(json!({"name": "x-team", "type": "RegularExpression", "value": "search|ads"}))),
        1 => Just(Some(json!({"name": "x-team", "type": "RegularExpression", "value": "(unclosed"}))),
    ];
    let param = prop_oneof![
        prop::num::f64::NORMAL,
        prop::num::f64::SUBNORMAL,
        prop::num::f64::ZERO
    ];
    let transform = prop_oneof![
        4 => Just(None),
        4 => param.prop_map(|t| Some(json!({"defaultParams": {"temperature": t, "nested": {"b": 1, "a": [t]}}}))),
        1 => Just(Some(json!({"forcedParams": {"stream": false}}))),
    ];
    let shape = (0..3usize, 0..6usize, 0..TIMESTAMPS.len(), names, header);
    (shape, backends, weights, prop::collection::vec(0..6usize, 0..2), transform).prop_map(
        |((ns, name, created, (shared, broken_glob), header), backends, weights, fallbacks, transform)| {
            let mut names = vec![format!("route{name}.{}", NAMESPACES[ns])];
            names.extend(shared.iter().map(|n| (*n).to_owned()));
            if broken_glob {
                names.push("bad-[glob".to_owned());
            }
            let backends: Vec<Value> = backends
                .iter()
                .zip(&weights)
                .enumerate()
                // The first backend keeps a positive weight, as the CRD's CEL rule requires.
                .map(|(i, (m, w))| json!({"modelRef": {"name": format!("model{m}")}, "weight": if i == 0 { w + 1 } else { *w }}))
                .collect();
            let fallbacks: Vec<Value> = fallbacks.iter().map(|m| json!({"name": format!("model{m}")})).collect();
            let mut spec = json!({"models": names, "backends": backends, "fallbacks": fallbacks});
            if let Some(header) = header {
                spec["matches"] = json!([header]);
            }
            if let Some(transform) = transform {
                spec["transforms"] = transform;
            }
            object("AIRoute", metadata(ns, &format!("route{name}"), TIMESTAMPS[created]), spec)
        },
    )
}

/// Policies on namespaces, routes and models (some missing), with API keys by name and by
/// selector, a JWT issuer (sometimes with a broken JWKS) and a deny pattern (rarely invalid).
fn policy() -> impl Strategy<Value = AIPolicy> {
    let target = prop_oneof![
        Just(json!({"kind": "Namespace"})),
        (0..7usize).prop_map(|r| json!({"kind": "AIRoute", "name": format!("route{r}")})),
        (0..5usize).prop_map(|m| json!({"kind": "AIModel", "name": format!("model{m}")})),
    ];
    let regex = prop_oneof![5 => Just("(?i)secret"), 1 => Just("(broken")];
    let jwks = prop_oneof![
        4 => Just(json!({"url": "https://issuer.example.com/jwks"})),
        2 => Just(json!({"inline": "{\"keys\": []}"})),
        1 => Just(json!({"inline": "not json"})),
        2 => Just(json!({"secretRef": {"name": "jwks", "key": "doc"}})),
    ];
    let keys = (
        proptest::sample::subsequence(vec!["k0", "k1", "k2", "k9"], 0..3),
        any::<bool>(),
    );
    (0..3usize, 0..4usize, prop::collection::vec(target, 1..3), regex, jwks, keys).prop_map(
        |(ns, name, targets, regex, jwks, (names, selector))| {
            let mut api_keys = json!({"secretNames": names});
            if selector || names.is_empty() {
                api_keys["selector"] = json!({"matchLabels": {"team": "t"}});
            }
            let spec = json!({
                "targetRefs": targets,
                "authentication": {
                    "apiKeys": api_keys,
                    "jwt": [{"issuer": "https://issuer.example.com", "audiences": ["sy"], "jwks": jwks}],
                },
                "rateLimits": [{"name": "r", "requests": 10, "window": "minute"}],
                "guardrails": {"denyPatterns": [{"regex": regex}]},
            });
            object("AIPolicy", metadata(ns, &format!("policy{name}"), None), spec)
        },
    )
}

fn secret(ns: usize, name: String, data: &[(&str, &str)], team: bool) -> SecretData {
    let labels = if team {
        [("team".to_owned(), "t".to_owned())].into()
    } else {
        Default::default()
    };
    SecretData {
        namespace: NAMESPACES[ns].to_owned(),
        name,
        labels,
        annotations: [("switchyard.dev/groups".to_owned(), "b, a".to_owned())].into(),
        data: data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect(),
    }
}

/// Provider Secrets `s0`..`s2` (most of them), API key Secrets `k0`..`k2` and a JWKS Secret.
fn secrets() -> impl Strategy<Value = Vec<SecretData>> {
    let providers = prop::collection::vec(prop::bool::weighted(0.8), NAMESPACES.len() * 3);
    let api_key = (0..3usize, 0..3usize, 0..API_KEYS.len(), any::<bool>());
    let jwks = (0..3usize, any::<bool>());
    (
        providers,
        prop::collection::vec(api_key, 0..10),
        prop::collection::vec(jwks, 0..3),
    )
        .prop_map(|(providers, api_keys, jwks)| {
            let mut all = Vec::new();
            let provider_data = [
                ("apiKey", "sk-FAKE"),
                ("AWS_ACCESS_KEY_ID", "AKIAFAKE"),
                ("AWS_SECRET_ACCESS_KEY", "FAKE"),
            ];
            for (i, _) in providers
                .iter()
                .enumerate()
                .filter(|(_, present)| **present)
            {
                all.push(secret(i / 3, format!("s{}", i % 3), &provider_data, false));
            }
            for (ns, n, key, team) in api_keys {
                all.push(secret(
                    ns,
                    format!("k{n}"),
                    &[("apiKey", API_KEYS[key])],
                    team,
                ));
            }
            for (ns, valid) in jwks {
                let doc = if valid {
                    "{\"keys\": [{\"kty\": \"oct\"}]}"
                } else {
                    "[]"
                };
                all.push(secret(ns, "jwks".to_owned(), &[("doc", doc)], false));
            }
            all
        })
}

/// Keeps the first object of each namespace/name, as the API server and the loader do.
fn unique<T>(items: Vec<T>, key: impl Fn(&T) -> (String, String)) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    items.into_iter().filter(|i| seen.insert(key(i))).collect()
}

fn shared<T>(items: Vec<T>) -> Vec<Arc<T>> {
    items.into_iter().map(Arc::new).collect()
}

fn meta_key<K: kube::Resource>(object: &K) -> (String, String) {
    (
        object.meta().namespace.clone().unwrap_or_default(),
        object.meta().name.clone().unwrap_or_default(),
    )
}

fn inputs() -> impl Strategy<Value = Inputs> {
    (
        prop::collection::vec(model(), 4..30),
        prop::collection::vec(route(), 0..10),
        prop::collection::vec(policy(), 0..5),
        secrets(),
    )
        .prop_map(|(models, routes, policies, secrets)| Inputs {
            models: shared(unique(models, meta_key)),
            routes: shared(unique(routes, meta_key)),
            policies: shared(unique(policies, meta_key)),
            secrets: unique(secrets, |s| (s.namespace.clone(), s.name.clone())),
            service_account_issuer: None,
        })
}

/// Fisher–Yates with a seeded SplitMix64, so a failing case replays exactly.
fn shuffle<T>(items: &mut [T], seed: &mut u64) {
    for i in (1..items.len()).rev() {
        *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        items.swap(i, (z % (i as u64 + 1)) as usize);
    }
}

fn shuffled(inputs: &Inputs, mut seed: u64) -> Inputs {
    let mut out = inputs.clone();
    shuffle(&mut out.models, &mut seed);
    shuffle(&mut out.routes, &mut seed);
    shuffle(&mut out.policies, &mut seed);
    shuffle(&mut out.secrets, &mut seed);
    out
}

/// Problems as the operator writes them: object, condition, reason and message.
fn problems(compiled: &Compiled) -> Vec<String> {
    compiled
        .problems
        .iter()
        .map(|p| format!("{} {} {} {}", p.object, p.condition(), p.reason(), p.error))
        .collect()
}

/// Changes one compiled value inside the JSON, keeping its shape; `false` if there is nothing
/// to change.
fn tamper(json: &mut Value) -> bool {
    let content = &mut json["content"];
    if let Some(model) = content["models"].get_mut(0) {
        model["model"] = json!("tampered");
    } else if let Some(route) = content["routes"].get_mut(0) {
        route["retry"]["attempts"] = json!(99);
    } else if let Some(policy) = content["policies"].get_mut(0) {
        policy["logging"]["prompts"] = json!(true);
    } else {
        return false;
    }
    true
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_input_order_gives_the_same_snapshot_and_problems(inputs in inputs(), seed in any::<u64>()) {
        let first = compile(&inputs).unwrap();
        let second = compile(&shuffled(&inputs, seed)).unwrap();
        prop_assert_eq!(&first.snapshot.hash, &second.snapshot.hash);
        prop_assert_eq!(first.snapshot.to_json().unwrap(), second.snapshot.to_json().unwrap());
        prop_assert_eq!(problems(&first), problems(&second));
    }

    #[test]
    fn a_snapshot_round_trips_through_json_and_refuses_tampering(inputs in inputs()) {
        let snapshot = compile(&inputs).unwrap().snapshot.with_version(7);
        let json = snapshot.to_json().unwrap();
        let decoded = Snapshot::from_json(&json).unwrap();
        prop_assert_eq!(&decoded.hash, &snapshot.hash);
        prop_assert_eq!(decoded.version, 7);
        prop_assert_eq!(&decoded.content, &snapshot.content);
        prop_assert_eq!(decoded.to_json().unwrap(), json.clone());

        let mut value: Value = serde_json::from_slice(&json).unwrap();
        if tamper(&mut value) {
            let refused = Snapshot::from_json(&serde_json::to_vec(&value).unwrap());
            prop_assert!(matches!(refused, Err(SnapshotError::HashMismatch { .. })), "{:?}", refused.map(|s| s.hash));
        }
    }
}

#[test]
fn an_empty_snapshot_with_a_forged_hash_is_refused() {
    let snapshot = compile(&Inputs::default()).unwrap().snapshot;
    let mut value: Value = serde_json::from_slice(&snapshot.to_json().unwrap()).unwrap();
    value["hash"] = json!("0".repeat(64));
    let refused = Snapshot::from_json(&serde_json::to_vec(&value).unwrap());
    assert!(matches!(refused, Err(SnapshotError::HashMismatch { .. })));
}

/// Guards the properties above against a generator that only ever builds trivial inputs: over a
/// few hundred draws it must serve routes and policies and hit every interesting problem.
#[test]
fn the_generator_covers_served_objects_and_every_interesting_problem() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut reasons = std::collections::BTreeSet::new();
    let (mut routes, mut policies, mut api_keys, mut invalid) = (0, 0, 0, 0);
    for _ in 0..300 {
        let inputs = inputs().new_tree(&mut runner).unwrap().current();
        let compiled = compile(&inputs).unwrap();
        let content = &compiled.snapshot.content;
        routes += content.routes.len();
        policies += content.policies.len();
        api_keys += content
            .policies
            .iter()
            .filter_map(|p| p.authentication.as_ref())
            .map(|a| a.api_keys.len())
            .sum::<usize>();
        invalid += content
            .routes
            .iter()
            .filter(|r| !r.invalid_policies.is_empty())
            .count();
        reasons.extend(compiled.problems.iter().map(|p| p.reason()));
    }
    assert!(
        routes > 400 && policies > 300 && api_keys > 150 && invalid > 20,
        "{routes} {policies} {api_keys} {invalid}"
    );
    let expected = [
        "BackendNotFound",
        "Conflicted",
        "DuplicateApiKey",
        "InvalidJwks",
        "InvalidPattern",
        "InvalidTransform",
        "NoUsableBackend",
        "PolicyInvalid",
        "SecretKeyNotFound",
        "SecretNotFound",
        "TargetNotFound",
    ];
    for reason in expected {
        assert!(reasons.contains(reason), "no {reason} in {reasons:?}");
    }
}
