//! What the policy path adds to a request: the CPU of key authentication, a local limit's
//! admission and settlement and a response-cache miss (key, memory lookup, metric) next to an
//! anonymous request on a route without limits or cache, and the latency of a global (Redis)
//! admission next to a Redis PING in the same run.
//!
//! `cargo bench -p switchyard-proxy --bench limits` (needs `redis-server` on the PATH).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::{hint::black_box, path::Path, time::Instant};

use http::HeaderMap;
use switchyard_crds::{compile, manifests};
use switchyard_providers::{Api, ClientRequest};
use switchyard_proxy::{
    auth::{self, Credential},
    balance::Estimate,
    cache,
    ctx::RequestCtx,
    limits::{self, Caller, Limiter, global},
    metrics::{LookupResult, Metrics},
    redis::Redis,
    store::State,
};
use switchyard_test_cluster::RedisServer;

const MANIFESTS: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: key}\nstringData: {apiKey: sk-bench}\n---\n\
apiVersion: switchyard.dev/v1alpha1\nkind: AIModel\nmetadata: {name: m}\nspec:\n  provider: openai-compatible\n  model: m\n  endpoint: http://127.0.0.1:1/v1\n  pricing: {input: \"2\", output: \"8\"}\n---\n\
apiVersion: switchyard.dev/v1alpha1\nkind: AIRoute\nmetadata: {name: plain}\nspec:\n  models: [plain]\n  backends: [{modelRef: {name: m}}]\n---\n\
apiVersion: switchyard.dev/v1alpha1\nkind: AIRoute\nmetadata: {name: limited}\nspec:\n  models: [limited]\n  backends: [{modelRef: {name: m}}]\n---\n\
apiVersion: switchyard.dev/v1alpha1\nkind: AIPolicy\nmetadata: {name: open}\nspec:\n  targetRefs: [{kind: AIRoute, name: plain}]\n  authentication: {anonymous: true}\n---\n\
apiVersion: switchyard.dev/v1alpha1\nkind: AIPolicy\nmetadata: {name: keys}\nspec:\n  targetRefs: [{kind: AIRoute, name: limited}]\n  authentication: {apiKeys: {secretNames: [key]}}\n  rateLimits:\n    - {name: rpm, requests: 1000000000, tokens: 1000000000000, window: day, key: {type: api-key}}\n  cache: {ttl: 5m}\n";

fn state() -> State {
    let loaded = manifests::load_str(MANIFESTS, Path::new("bench.yaml"), &|_| None);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let compiled = compile(&loaded.inputs).unwrap();
    assert!(compiled.problems.is_empty(), "{:?}", compiled.problems);
    State::build(
        compiled.snapshot,
        None,
        &switchyard_proxy::auth::jwks::JwksRegistry::default(),
    )
}

/// Nanoseconds per call of `work`, best of 5 rounds of `n`.
fn per_call(n: u32, mut work: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..n {
                work();
            }
            start.elapsed().as_nanos() as f64 / f64::from(n)
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let state = state();
    let metrics = Metrics::new().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let estimate = Estimate {
        input_tokens: 20,
        output_tokens: 100,
    };
    let route_of = |name: &str| {
        let idx = state
            .snapshot
            .content
            .routes
            .iter()
            .position(|r| r.source.name == name)
            .unwrap();
        (
            &state.snapshot.content.routes[idx],
            &*state.routes[idx].label,
        )
    };
    let mut keyed = HeaderMap::new();
    keyed.insert("authorization", "Bearer sk-bench".parse().unwrap());
    let empty = HeaderMap::new();
    let limiter = Limiter {
        redis: None,
        metrics: &metrics.limits,
    };
    let body = br#"{"model":"limited","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"What is the capital of France?"}],"max_tokens":100,"temperature":0.2}"#;
    let parsed = ClientRequest::parse(Api::ChatCompletions, body).unwrap();
    let memory = cache::Memory::new(64 << 20);
    let request = |route_name: &str, headers: &HeaderMap| {
        let (route, label) = route_of(route_name);
        let idx = state
            .routes
            .iter()
            .position(|r| *r.label == *label)
            .unwrap();
        let credential = Credential::from_headers(headers);
        let principal = auth::authenticate(&state, route, credential.as_ref()).unwrap();
        auth::authorize(&state, route, &principal, route_name).unwrap();
        let caller = Caller {
            principal: &principal,
            credential: credential.as_ref(),
            headers,
            route: label,
        };
        let mut ctx = RequestCtx::default();
        runtime.block_on(async {
            let admission = limits::admit(limiter, &state, route, caller, estimate, &mut ctx)
                .await
                .unwrap();
            // What `cache::lookup` does on a miss, short of the session.
            if let Some(settings) = state.caches[idx].as_ref() {
                let key = cache::key::compute(settings.scope_of(&principal), &parsed);
                assert!(memory.get(&key).await.is_none());
                metrics.cache.lookup(label, LookupResult::Miss);
            }
            limits::settle(admission, &ctx, limits::Outcome::Delivered).await;
        });
        black_box(ctx);
    };
    let plain = per_call(100_000, || request("plain", &empty));
    let limited = per_call(100_000, || request("limited", &keyed));
    println!(
        "policy path (authenticate + authorize + admit + cache lookup + settle), per request:"
    );
    println!("  anonymous, no limits, no cache:               {plain:8.0} ns");
    println!("  API key + local limit (req+tok) + cache miss: {limited:8.0} ns");
    println!(
        "  added: {:.0} ns ({:.2}x)",
        limited - plain,
        limited / plain
    );

    let redis_server = runtime.block_on(RedisServer::start()).unwrap();
    let redis = Redis::new(&format!("redis://127.0.0.1:{}/0", redis_server.port())).unwrap();
    runtime.block_on(redis.check()).unwrap();
    let ping = per_call(5_000, || runtime.block_on(redis.check()).unwrap());
    let admit = per_call(5_000, || {
        let takes = [
            global::Take {
                key: "bench:requests",
                amount: 1,
                max: u64::MAX / 2,
                ttl: 60,
            },
            global::Take {
                key: "bench:tokens",
                amount: 120,
                max: u64::MAX / 2,
                ttl: 60,
            },
        ];
        runtime
            .block_on(global::admit(Some(&redis), &takes))
            .unwrap();
    });
    println!("global (Redis) admission, requests + tokens in one script:");
    println!("  Redis PING round trip:  {:8.1} µs", ping / 1000.0);
    println!("  global admission:       {:8.1} µs", admit / 1000.0);
    println!(
        "  added over one round trip: {:.1} µs ({:.2}x)",
        (admit - ping) / 1000.0,
        admit / ping
    );
}
