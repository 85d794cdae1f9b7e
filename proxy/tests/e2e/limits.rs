//! Rate limits, budgets and max input tokens, end to end: local counters per proxy, global
//! counters shared by several proxies through a real Redis, reservations released on failure,
//! and what a Redis outage does under each `onRedisUnavailable` choice.
//!
//! Windows are `day` so a test never straddles a window's end (except at 00:00 UTC).

use serde_json::{Value, json};
use switchyard_mock_provider::Behavior;
use switchyard_test_cluster::RedisServer;

use crate::harness::{Manifests, Proxy, chat, header, mock, mock_with, post};

/// The default manifests, one model `m` and its route, plus a policy on the route.
fn limited(mock: &switchyard_mock_provider::MockProvider, policy_spec: &str) -> Manifests {
    Manifests::default()
        .model("m", mock)
        .route("m", &["m"], "")
        .raw(&format!(
            "---\napiVersion: switchyard.dev/v1alpha1\nkind: AIPolicy\nmetadata: {{name: limits}}\nspec:\n  targetRefs: [{{kind: AIRoute, name: m}}]\n{policy_spec}"
        ))
}

async fn post_with(proxy: &Proxy, body: &Value, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(proxy.url("/v1/chat/completions"))
        .json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// Sends every request at once (one task each) and returns the status, headers and body of each.
async fn all_at_once(
    requests: Vec<(String, Value)>,
) -> Vec<(u16, reqwest::header::HeaderMap, String)> {
    let client = reqwest::Client::new();
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(url, body)| {
            let request = client.post(url).json(&body);
            tokio::spawn(async move {
                let response = request.send().await.unwrap();
                let (status, headers) = (response.status().as_u16(), response.headers().clone());
                (status, headers, response.text().await.unwrap())
            })
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

fn get<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers.get(name).map_or("", |v| v.to_str().unwrap())
}

async fn with_redis(manifests: &Manifests, redis_port: u16) -> Proxy {
    let url = format!("redis://127.0.0.1:{redis_port}/0");
    let proxy = Proxy::start_with(manifests, &["--redis-url", &url]).await;
    proxy
        .metrics_when(|metrics| metrics.contains("switchyard_redis_up 1"))
        .await;
    proxy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_over_max_input_tokens_is_refused_with_400_naming_the_count_and_the_limit() {
    let mock = mock().await;
    let manifests = limited(&mock, "  guardrails: {maxInputTokens: 20}\n");
    let proxy = Proxy::start(&manifests).await;
    let response = post(&proxy, "/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(response.status(), 200, "a short prompt passes");
    let long = json!({"model": "m", "messages": [{"role": "user", "content": "word ".repeat(50)}]});
    let response = post(&proxy, "/v1/chat/completions", &long).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("more than the 20 allowed by policy default/limits"),
        "{message}"
    );
    assert!(message.contains("the prompt has 5"), "{message}");
    assert_eq!(
        mock.requests().len(),
        1,
        "the long prompt never left the cluster"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_limit_counts_per_proxy_and_per_header_value_with_openai_headers() {
    let mock = mock().await;
    let manifests = limited(
        &mock,
        "  rateLimits:\n    - {name: per-team, requests: 2, window: day, key: {type: header, header: X-Team}}\n",
    );
    let proxy = Proxy::start(&manifests).await;
    let team_a = [("x-team", "a")];
    for remaining in ["1", "0"] {
        let response = post_with(&proxy, &chat("m", false), &team_a).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-ratelimit-limit-requests"), "2");
        assert_eq!(
            header(&response, "x-ratelimit-remaining-requests"),
            remaining
        );
        assert!(header(&response, "x-ratelimit-reset-requests").ends_with('s'));
    }
    let refused = post_with(&proxy, &chat("m", false), &team_a).await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=86_400).contains(&retry_after));
    assert_eq!(header(&refused, "x-ratelimit-remaining-requests"), "0");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`per-team` of policy default/limits"),
        "{message}"
    );
    assert_eq!(
        mock.requests().len(),
        2,
        "the refused request never reached the provider"
    );

    let team_b = post_with(&proxy, &chat("m", false), &[("x-team", "b")]).await;
    assert_eq!(
        team_b.status(),
        200,
        "another header value has its own counter"
    );
    let other_proxy = Proxy::start(&manifests).await;
    let response = post_with(&other_proxy, &chat("m", false), &team_a).await;
    assert_eq!(response.status(), 200, "a local limit counts in each proxy");
    let metrics = proxy.metrics().await;
    assert!(
        metrics.contains(
            "switchyard_ratelimit_decisions_total{decision=\"refused\",limit=\"per-team\",policy=\"default/limits\"} 1"
        ),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_global_limit_admits_exactly_n_of_3n_concurrent_requests_across_three_proxies() {
    const N: usize = 20;
    let redis = RedisServer::start().await.unwrap();
    let mock = mock().await;
    let manifests = limited(
        &mock,
        &format!(
            "  rateLimits:\n    - {{name: fleet, requests: {N}, window: day, key: {{type: route}}, scope: global}}\n"
        ),
    );
    let proxies = [
        with_redis(&manifests, redis.port()).await,
        with_redis(&manifests, redis.port()).await,
        with_redis(&manifests, redis.port()).await,
    ];
    let requests = (0..3 * N)
        .map(|i| (proxies[i % 3].url("/v1/chat/completions"), chat("m", false)))
        .collect();
    let responses = all_at_once(requests).await;
    let admitted = responses.iter().filter(|(s, ..)| *s == 200).count();
    let refused: Vec<_> = responses.iter().filter(|(s, ..)| *s == 429).collect();
    assert_eq!(admitted, N);
    assert_eq!(refused.len(), 2 * N);
    for (_, headers, _) in refused {
        assert_eq!(get(headers, "x-ratelimit-limit-requests"), N.to_string());
        assert_eq!(get(headers, "x-ratelimit-remaining-requests"), "0");
        assert!(!get(headers, "retry-after").is_empty());
    }
    assert_eq!(mock.requests().len(), N);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_streams_never_reserve_past_a_token_limit_or_a_budget() {
    let redis = RedisServer::start().await.unwrap();
    let mock = mock_with(Behavior {
        tokens: Some(10),
        chunk_delay_ms: 50,
        ..Behavior::default()
    })
    .await;
    // Each request reserves its prompt (~12 tokens) plus max_tokens 40; the mock uses ~15.
    let manifests = limited(
        &mock,
        "  rateLimits:\n    - {name: tokens, tokens: 250, window: day, key: {type: route}, scope: global}\n  budgets:\n    - {name: spend, usd: \"0.01\", window: day, key: {type: route}}\n",
    );
    let proxy = with_redis(&manifests, redis.port()).await;
    let body = json!({
        "model": "m", "stream": true, "max_tokens": 40,
        "messages": [{"role": "user", "content": "hello from the test"}],
    });
    let wave = (0..10)
        .map(|_| (proxy.url("/v1/chat/completions"), body.clone()))
        .collect();
    let results = all_at_once(wave).await;
    let admitted = results.iter().filter(|(s, ..)| *s == 200).count();
    assert!((1..=250 / 50).contains(&admitted), "admitted {admitted}");
    assert_eq!(
        mock.requests().len(),
        admitted,
        "refusals never reached the provider"
    );
    for (status, headers, text) in &results {
        if *status == 200 {
            let budget = get(headers, "x-switchyard-budget-remaining-usd");
            assert!(!budget.is_empty(), "successes carry the remaining budget");
        } else {
            assert_eq!(*status, 429, "{text}");
            assert!(text.contains("rate limit `tokens`"), "{text}");
        }
    }
    // Settled at the reported usage, the reservations' unused part is free again.
    let after = post(&proxy, "/v1/chat/completions", &body).await;
    assert_eq!(after.status(), 200, "{}", after.text().await.unwrap());
    let remaining: u64 = header(&after, "x-ratelimit-remaining-tokens")
        .parse()
        .unwrap();
    assert!(remaining < 250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_refuses_with_a_clear_message_once_spent() {
    let mock = mock().await;
    // Pricing 2/8 USD per million tokens: a request with max_tokens 1000 may cost ~0.008 USD.
    let manifests = limited(
        &mock,
        "  budgets:\n    - {name: spend, usd: \"0.01\", window: month, scope: local}\n",
    );
    let proxy = Proxy::start(&manifests).await;
    let mut body = chat("m", false);
    body["max_tokens"] = json!(1000);
    let first = post(&proxy, "/v1/chat/completions", &body).await;
    assert_eq!(first.status(), 200);
    let remaining: f64 = header(&first, "x-switchyard-budget-remaining-usd")
        .parse()
        .unwrap();
    assert!(remaining > 0.0 && remaining < 0.01, "{remaining}");
    body["max_tokens"] = json!(2000);
    let refused = post(&proxy, "/v1/chat/completions", &body).await;
    assert_eq!(refused.status(), 429);
    let text = refused.text().await.unwrap();
    assert!(
        text.contains("budget `spend` of policy default/limits is spent"),
        "{text}"
    );
    let metrics = proxy.metrics().await;
    assert!(
        metrics.contains(
            "switchyard_budget_remaining_usd{budget=\"spend\",policy=\"default/limits\"}"
        ),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_error_returns_the_reservation() {
    let mock = mock_with(Behavior {
        status: Some(400),
        times: Some(1),
        ..Behavior::default()
    })
    .await;
    let manifests = limited(
        &mock,
        "  rateLimits:\n    - {name: one, requests: 1, window: day}\n",
    );
    let proxy = Proxy::start(&manifests).await;
    let failed = post(&proxy, "/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(failed.status(), 400);
    let ok = post(&proxy, "/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(
        ok.status(),
        200,
        "the failed request's reservation was returned"
    );
    let refused = post(&proxy, "/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(refused.status(), 429, "the successful one counts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_an_allow_policy_admits_and_a_deny_policy_refuses_with_503() {
    let mock = mock().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let limit = "  rateLimits:\n    - {name: fleet, requests: 100, window: day, scope: global}\n";
    let manifests = Manifests::default()
        .model("m", &mock)
        .route("open", &["m"], "")
        .route("closed", &["m"], "")
        .raw(&format!(
            "---\napiVersion: switchyard.dev/v1alpha1\nkind: AIPolicy\nmetadata: {{name: fail-open}}\nspec:\n  targetRefs: [{{kind: AIRoute, name: open}}]\n{limit}---\napiVersion: switchyard.dev/v1alpha1\nkind: AIPolicy\nmetadata: {{name: fail-closed}}\nspec:\n  targetRefs: [{{kind: AIRoute, name: closed}}]\n  onRedisUnavailable: deny\n{limit}"
        ));
    let url = format!("redis://127.0.0.1:{port}");
    let proxy = Proxy::start_with(&manifests, &["--redis-url", &url]).await;
    let open = post(&proxy, "/v1/chat/completions", &chat("open", false)).await;
    assert_eq!(open.status(), 200);
    let closed = post(&proxy, "/v1/chat/completions", &chat("closed", false)).await;
    assert_eq!(closed.status(), 503);
    assert!(!header(&closed, "retry-after").is_empty());
    let text = closed.text().await.unwrap();
    assert!(
        text.contains("policy default/fail-closed refuses requests"),
        "{text}"
    );
    let metrics = proxy.metrics().await;
    assert!(
        metrics.contains("switchyard_ratelimit_redis_errors_total{decision=\"allow\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchyard_ratelimit_redis_errors_total{decision=\"deny\"} 1"),
        "{metrics}"
    );
}
