//! How long the compiler takes for a large installation: 10,000 AIModels, 10,000 AIRoutes and
//! 1,000 AIPolicies over 20 namespaces, with a Secret for every model and API key Secrets for
//! the policies. The operator recompiles on every change, so this bounds its reaction time.
//!
//! `cargo bench -p switchyard-crds --bench compile`

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark with broken fixtures should stop loudly"
)]

use std::{hint::black_box, sync::Arc, time::Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use switchyard_crds::{Inputs, compile, compile::SecretData};

const NAMESPACES: usize = 20;
const MODELS: usize = 10_000;
const ROUTES: usize = 10_000;
const POLICIES: usize = 1_000;
/// API key Secrets per policy that authenticates callers.
const KEYS_PER_POLICY: usize = 4;

fn object<T: serde::de::DeserializeOwned>(
    kind: &str,
    namespace: &str,
    name: &str,
    spec: Value,
) -> T {
    let metadata = json!({
        "namespace": namespace,
        "name": name,
        "generation": 1,
        "creationTimestamp": "2025-01-01T00:00:00Z",
    });
    let value = json!({"apiVersion": "switchyard.dev/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec});
    serde_json::from_value(value).unwrap()
}

fn secret(
    namespace: &str,
    name: &str,
    labels: &[(&str, &str)],
    data: &[(&str, String)],
) -> SecretData {
    SecretData {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        annotations: [(
            "switchyard.dev/subject".to_owned(),
            format!("{name}@example.com"),
        )]
        .into(),
        data: data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone().into_bytes()))
            .collect(),
    }
}

fn namespace(i: usize) -> String {
    format!("team-{:02}", i % NAMESPACES)
}

/// Model `i` lives in namespace `i % NAMESPACES`, so routes find their backends there.
fn model(i: usize, secrets: &mut Vec<SecretData>) -> switchyard_crds::AIModel {
    let ns = namespace(i);
    let name = format!("model-{i:05}");
    let key = format!("{name}-key");
    let mut spec = match i % 6 {
        0 => json!({"provider": "openai", "model": "gpt-4o"}),
        1 => json!({"provider": "anthropic", "model": "claude-sonnet-4-5"}),
        2 => json!({
            "provider": "azure-openai",
            "model": "gpt-4o-mini",
            "endpoint": format!("https://contoso-{i}.openai.azure.com"),
            "azure": {"deployment": format!("deploy-{i}"), "apiVersion": "2024-10-21"},
        }),
        3 => {
            json!({"provider": "bedrock", "model": "anthropic.claude-3-5-sonnet-20240620-v1:0", "bedrock": {"region": "eu-west-1"}})
        }
        4 => json!({"provider": "gemini", "model": "gemini-2.5-flash"}),
        _ => {
            json!({"provider": "openai-compatible", "model": "meta-llama/Llama-3.3-70B-Instruct", "serviceRef": {"name": format!("vllm-{i}"), "port": 8000}})
        }
    };
    if i % 6 == 3 {
        spec["credentials"] = json!({"aws": {"secretRef": {"name": key}}});
        let data = [
            ("AWS_ACCESS_KEY_ID", format!("AKIAFAKE{i:08}")),
            ("AWS_SECRET_ACCESS_KEY", format!("FAKE-{i}")),
        ];
        secrets.push(secret(&ns, &key, &[], &data));
    } else {
        spec["credentials"] = json!({"secretRef": {"name": key, "key": "apiKey"}});
        secrets.push(secret(
            &ns,
            &key,
            &[],
            &[("apiKey", format!("sk-FAKE-{i:08}"))],
        ));
    }
    spec["pricing"] = json!({"input": "2.50", "output": "10.00", "cachedInput": "1.25"});
    spec["quota"] = json!({"requestsPerMinute": 5000, "tokensPerMinute": 800_000});
    if i.is_multiple_of(4) {
        spec["timeouts"] = json!({"connect": "3s", "firstToken": "30s", "total": "5m"});
    }
    object("AIModel", &ns, &name, spec)
}

/// Route `i` has 1-3 backends and a fallback among its namespace's models; every 10th matches a
/// header, every 50th also claims a glob.
fn route(i: usize) -> switchyard_crds::AIRoute {
    let ns = namespace(i);
    let per_ns = MODELS / NAMESPACES;
    let pick = |k: usize| {
        format!(
            "model-{:05}",
            ((i / NAMESPACES + k * 7) % per_ns) * NAMESPACES + i % NAMESPACES
        )
    };
    let backends: Vec<Value> = (0..1 + i % 3)
        .map(|k| json!({"modelRef": {"name": pick(k)}, "weight": 10 * (k + 1)}))
        .collect();
    let mut models = vec![json!(format!("chat-{i:05}"))];
    if i.is_multiple_of(50) {
        models.push(json!(format!("family-{i:05}-*")));
    }
    let mut spec = json!({
        "models": models,
        "backends": backends,
        "fallbacks": [{"name": pick(3)}],
        "retry": {"attempts": 3, "on": ["connect-error", "429", "5xx"], "backoff": {"base": "100ms", "max": "2s"}},
        "timeouts": {"firstToken": "20s", "idle": "30s"},
    });
    if i.is_multiple_of(10) {
        spec["matches"] = json!([{"name": "x-team", "value": ns}]);
    }
    if i.is_multiple_of(5) {
        spec["transforms"] = json!({
            "defaultParams": {"temperature": 0.2, "max_tokens": 1024},
            "setHeaders": {"X-Source": "switchyard"},
            "systemPrompt": {"text": "You are a helpful assistant."},
        });
    }
    object("AIRoute", &ns, &format!("route-{i:05}"), spec)
}

/// Policy `i`: one per namespace is namespace-wide with a label selector; the rest target a route
/// or a model and name their API key Secrets.
fn policy(i: usize, secrets: &mut Vec<SecretData>) -> switchyard_crds::AIPolicy {
    let ns = namespace(i);
    let team = [("team", ns.as_str())];
    let key_names: Vec<String> = (0..KEYS_PER_POLICY)
        .map(|k| format!("key-{i:04}-{k}"))
        .collect();
    for name in &key_names {
        secrets.push(secret(
            &ns,
            name,
            &team,
            &[("apiKey", format!("sy-FAKE-{name}"))],
        ));
    }
    let target = match i {
        _ if i < NAMESPACES => json!({"kind": "Namespace"}),
        _ if i.is_multiple_of(2) => {
            json!({"kind": "AIRoute", "name": format!("route-{:05}", i * 7 % ROUTES / NAMESPACES * NAMESPACES + i % NAMESPACES)})
        }
        _ => {
            json!({"kind": "AIModel", "name": format!("model-{:05}", i * 3 % MODELS / NAMESPACES * NAMESPACES + i % NAMESPACES)})
        }
    };
    let api_keys = if i < NAMESPACES {
        json!({"selector": {"matchLabels": {"team": ns}}})
    } else {
        json!({"secretNames": key_names})
    };
    let spec = json!({
        "targetRefs": [target],
        "authentication": {"apiKeys": api_keys},
        "authorization": {"rules": [{"subjects": [{"kind": "User", "name": format!("key-{i:04}-0@example.com")}]}]},
        "rateLimits": [
            {"name": "per-key", "requests": 600, "window": "minute", "key": {"type": "api-key"}, "scope": "global"},
            {"name": "tokens", "tokens": 2_000_000, "window": "hour", "key": {"type": "route"}},
        ],
        "budgets": [{"name": "monthly", "usd": "500.00", "window": "month"}],
        "cache": {"ttl": "10m", "scope": "shared"},
        "guardrails": {"maxInputTokens": 32000, "denyPatterns": [{"regex": "(?i)BEGIN (RSA|OPENSSH) PRIVATE KEY"}]},
    });
    object("AIPolicy", &ns, &format!("policy-{i:04}"), spec)
}

fn inputs() -> Inputs {
    let mut secrets = Vec::new();
    let models = (0..MODELS)
        .map(|i| Arc::new(model(i, &mut secrets)))
        .collect();
    let routes = (0..ROUTES).map(|i| Arc::new(route(i))).collect();
    let policies = (0..POLICIES)
        .map(|i| Arc::new(policy(i, &mut secrets)))
        .collect();
    Inputs {
        models,
        routes,
        policies,
        secrets,
        service_account_issuer: None,
    }
}

fn bench(c: &mut Criterion) {
    let inputs = inputs();
    let started = Instant::now();
    let compiled = compile(&inputs).unwrap();
    let once = started.elapsed();
    let content = &compiled.snapshot.content;
    eprintln!(
        "compiled {} models, {} routes, {} policies ({} problems) in {once:.2?}; snapshot JSON {} bytes",
        content.models.len(),
        content.routes.len(),
        content.policies.len(),
        compiled.problems.len(),
        compiled.snapshot.to_json().unwrap().len(),
    );
    assert!(
        compiled.problems.is_empty(),
        "the fixtures should compile cleanly: {:?}",
        &compiled.problems[..1]
    );
    drop(compiled);

    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.bench_function("10k models, 10k routes, 1k policies", |b| {
        b.iter(|| compile(black_box(&inputs)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
