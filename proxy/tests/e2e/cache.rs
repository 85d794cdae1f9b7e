//! The response cache through the real proxy: hits return identical bodies and replay
//! streams without reaching the provider, scopes isolate or share, failures are never
//! stored, entries expire, and the Redis tier is shared by proxies and never required.

use std::time::Duration;

use serde_json::Value;
use switchyard_mock_provider::{Behavior, Fault, MockProvider};
use switchyard_test_cluster::RedisServer;

use crate::harness::{Manifests, Proxy, chat, mock, sse_data};

/// An AIPolicy named `name` targeting `target` (`Namespace` or `AIRoute NAME`), with `spec`
/// lines indented two spaces.
pub fn policy(name: &str, target: &str, spec: &str) -> String {
    let target = match target.split_once(' ') {
        Some((kind, route)) => format!("{{kind: {kind}, name: {route}}}"),
        None => format!("{{kind: {target}}}"),
    };
    format!(
        "---\napiVersion: switchyard.dev/v1alpha1\nkind: AIPolicy\nmetadata: {{name: {name}}}\nspec:\n  targetRefs: [{target}]\n{spec}"
    )
}

/// What a client got.
pub struct Answer {
    pub status: u16,
    pub cache: String,
    pub content_type: String,
    pub body: String,
}

/// Posts `body` to `path`, with `key` as a Bearer key if given.
pub async fn send(proxy: &Proxy, path: &str, body: &Value, key: Option<&str>) -> Answer {
    let mut request = reqwest::Client::new().post(proxy.url(path)).json(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map_or(String::new(), |v| v.to_str().unwrap().to_owned())
    };
    let (cache, content_type) = (header("x-switchyard-cache"), header("content-type"));
    Answer {
        status: response.status().as_u16(),
        cache,
        content_type,
        body: response.text().await.unwrap(),
    }
}

/// One route `m` on `mock` with a namespace-wide cache policy of `cache` lines.
fn cached(mock: &MockProvider, cache: &str) -> Manifests {
    Manifests::default()
        .model("m", mock)
        .route("m", &["m"], "")
        .raw(&policy("cache", "Namespace", &format!("  cache:\n{cache}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_request_is_answered_from_the_cache_with_the_identical_body() {
    let mock = mock().await;
    let proxy = Proxy::start(&cached(&mock, "    ttl: 5m\n")).await;
    let first = send(&proxy, "/v1/chat/completions", &chat("m", false), None).await;
    assert_eq!(
        (first.status, first.cache.as_str()),
        (200, "miss"),
        "{}",
        first.body
    );
    // Same content, other key order and an ignored field.
    let again = serde_json::json!({
        "messages": [{"content": "hello from the test", "role": "user"}],
        "user": "someone-else",
        "model": "m",
    });
    let second = send(&proxy, "/v1/chat/completions", &again, None).await;
    assert_eq!((second.status, second.cache.as_str()), (200, "hit"));
    assert_eq!(second.body, first.body);
    assert_eq!(
        mock.requests().len(),
        1,
        "the hit never reached the provider"
    );
    for _ in 0..100 {
        if proxy.access_log().contains("\"cache\":\"hit\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        proxy.access_log().contains("\"cache\":\"hit\""),
        "{}",
        proxy.access_log()
    );

    // Another temperature is another answer.
    let mut warmer = chat("m", false);
    warmer["temperature"] = 0.9.into();
    let third = send(&proxy, "/v1/chat/completions", &warmer, None).await;
    assert_eq!(third.cache, "miss");
    assert_eq!(mock.requests().len(), 2);

    let metrics = proxy
        .metrics_when(|m| m.contains("switchyard_cache_lookups_total{result=\"hit\""))
        .await;
    assert!(
        metrics.contains("switchyard_cache_lookups_total{result=\"miss\",route=\"default/m\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchyard_cache_lookups_total{result=\"hit\",route=\"default/m\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_is_replayed_as_the_identical_event_stream_and_kept_apart_from_whole_answers() {
    let mock = mock().await;
    let proxy = Proxy::start(&cached(&mock, "    ttl: 5m\n")).await;
    let first = send(&proxy, "/v1/chat/completions", &chat("m", true), None).await;
    assert_eq!((first.status, first.cache.as_str()), (200, "miss"));
    let second = send(&proxy, "/v1/chat/completions", &chat("m", true), None).await;
    assert_eq!((second.status, second.cache.as_str()), (200, "hit"));
    assert!(second.content_type.starts_with("text/event-stream"));
    assert_eq!(second.body, first.body);
    assert!(sse_data(&second.body).len() > 2, "{}", second.body);
    assert_eq!(sse_data(&second.body).last().unwrap(), "[DONE]");
    assert_eq!(mock.requests().len(), 1);

    let whole = send(&proxy, "/v1/chat/completions", &chat("m", false), None).await;
    assert_eq!(
        whole.cache, "miss",
        "a whole answer is not served from a stream"
    );
    assert!(serde_json::from_str::<Value>(&whole.body).is_ok());

    // The Anthropic API gets its own entries, replayed in its own events.
    let messages = serde_json::json!({
        "model": "m", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": "hello from the test"}],
    });
    let first = send(&proxy, "/v1/messages", &messages, None).await;
    let second = send(&proxy, "/v1/messages", &messages, None).await;
    assert_eq!(
        (first.cache.as_str(), second.cache.as_str()),
        ("miss", "hit")
    );
    assert_eq!(second.body, first.body);
    assert!(
        second.body.contains("event: message_stop"),
        "{}",
        second.body
    );
}

const ANN: &str = "sk-ann-0123456789";
const BOB: &str = "sk-bob-9876543210";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subject_scope_keeps_callers_apart_and_shared_scope_does_not() {
    let mock = mock().await;
    let keys = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: mock}}\nstringData: {{apiKey: mock-key}}\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata:\n  name: ann\n  labels: {{team: t}}\nstringData: {{apiKey: {ANN}}}\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata:\n  name: bob\n  labels: {{team: t}}\nstringData: {{apiKey: {BOB}}}\n"
    );
    let manifests = Manifests(keys)
        .model("m", &mock)
        .route("private", &["m"], "")
        .route("public", &["m"], "")
        .raw(&policy(
            "keys",
            "Namespace",
            "  authentication:\n    apiKeys: {selector: {matchLabels: {team: t}}}\n",
        ))
        .raw(&policy(
            "mine",
            "AIRoute private",
            "  cache: {scope: subject}\n",
        ))
        .raw(&policy(
            "ours",
            "AIRoute public",
            "  cache: {scope: shared}\n",
        ));
    let proxy = Proxy::start(&manifests).await;
    let path = "/v1/chat/completions";
    let results = async |model: &str| {
        let mut seen = Vec::new();
        for key in [ANN, ANN, BOB, BOB] {
            let answer = send(&proxy, path, &chat(model, false), Some(key)).await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            seen.push(answer.cache);
        }
        seen
    };
    assert_eq!(results("private").await, ["miss", "hit", "miss", "hit"]);
    assert_eq!(results("public").await, ["miss", "hit", "hit", "hit"]);
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_and_streams_that_fail_midway_are_not_cached() {
    let mock = mock().await;
    let proxy = Proxy::start(&cached(&mock, "    ttl: 5m\n")).await;
    let path = "/v1/chat/completions";
    mock.set_behavior(Behavior {
        status: Some(400),
        times: Some(1),
        ..Behavior::default()
    });
    let failed = send(&proxy, path, &chat("m", false), None).await;
    assert_eq!((failed.status, failed.cache.as_str()), (400, "miss"));
    let next = send(&proxy, path, &chat("m", false), None).await;
    assert_eq!((next.status, next.cache.as_str()), (200, "miss"));

    mock.set_behavior(Behavior {
        fault: Some(Fault::ErrorMidStream),
        times: Some(1),
        ..Behavior::default()
    });
    let broken = send(&proxy, path, &chat("m", true), None).await;
    assert_eq!((broken.status, broken.cache.as_str()), (200, "miss"));
    assert!(broken.body.contains("error"), "{}", broken.body);
    let whole = send(&proxy, path, &chat("m", true), None).await;
    assert_eq!(whole.cache, "miss", "the broken stream was not stored");
    assert!(!whole.body.contains("\"error\""), "{}", whole.body);
    let replay = send(&proxy, path, &chat("m", true), None).await;
    assert_eq!(replay.cache, "hit");
    assert_eq!(replay.body, whole.body);
    assert_eq!(mock.requests().len(), 4);
    let metrics = proxy
        .metrics_when(|m| m.contains("switchyard_cache_skipped_total{reason=\"incomplete\"} 1"))
        .await;
    assert!(
        metrics.contains("switchyard_cache_skipped_total{reason=\"incomplete\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_larger_than_the_entry_limit_are_not_cached() {
    let mock = mock().await;
    let proxy = Proxy::start(&cached(&mock, "    maxEntryBytes: 64\n")).await;
    for _ in 0..2 {
        let answer = send(&proxy, "/v1/chat/completions", &chat("m", false), None).await;
        assert_eq!((answer.status, answer.cache.as_str()), (200, "miss"));
    }
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_expires_after_its_ttl() {
    let mock = mock().await;
    let proxy = Proxy::start(&cached(&mock, "    ttl: 1s\n")).await;
    let path = "/v1/chat/completions";
    assert_eq!(
        send(&proxy, path, &chat("m", false), None).await.cache,
        "miss"
    );
    let mut expired = false;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if send(&proxy, path, &chat("m", false), None).await.cache == "miss" {
            expired = true;
            break;
        }
    }
    assert!(expired, "the entry never expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_with_cache_control_no_cache_bypasses_the_cache() {
    let mock = mock().await;
    let proxy = Proxy::start(&cached(&mock, "    ttl: 5m\n")).await;
    let path = "/v1/chat/completions";
    assert_eq!(
        send(&proxy, path, &chat("m", false), None).await.cache,
        "miss"
    );
    let response = reqwest::Client::new()
        .post(proxy.url(path))
        .header("cache-control", "no-cache")
        .json(&chat("m", false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-switchyard-cache"], "bypass");
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_without_a_cache_policy_send_no_cache_header() {
    let mock = mock().await;
    let proxy = Proxy::start(
        &Manifests::default()
            .model("m", &mock)
            .route("m", &["m"], ""),
    )
    .await;
    let answer = send(&proxy, "/v1/chat/completions", &chat("m", false), None).await;
    assert_eq!((answer.status, answer.cache.as_str()), (200, ""));
}

async fn start_with_redis(manifests: &Manifests, url: &str) -> Proxy {
    let proxy = Proxy::start_with_env(manifests, &[], &[("SWITCHYARD_REDIS_URL", url)]).await;
    proxy
        .metrics_when(|m| m.contains("switchyard_redis_up 1"))
        .await;
    proxy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_proxies_share_entries_through_redis() {
    let redis = RedisServer::start().await.unwrap();
    let mock = mock().await;
    let manifests = cached(&mock, "    scope: shared\n    redis: true\n");
    let url = format!("redis://127.0.0.1:{}/0", redis.port());
    let (a, b) = (
        start_with_redis(&manifests, &url).await,
        start_with_redis(&manifests, &url).await,
    );
    let path = "/v1/chat/completions";
    let first = send(&a, path, &chat("m", true), None).await;
    assert_eq!(first.cache, "miss");
    let stored = a
        .metrics_when(|m| m.contains("switchyard_cache_stores_total{tier=\"redis\"} 1"))
        .await;
    assert!(
        stored.contains("switchyard_cache_stores_total{tier=\"redis\"} 1"),
        "{stored}"
    );
    let second = send(&b, path, &chat("m", true), None).await;
    assert_eq!(second.cache, "hit");
    assert_eq!(second.body, first.body);
    assert_eq!(mock.requests().len(), 1);
    let metrics = b
        .metrics_when(|m| m.contains("switchyard_cache_hits_total{tier=\"redis\"} 1"))
        .await;
    assert!(
        metrics.contains("switchyard_cache_hits_total{tier=\"redis\"} 1"),
        "{metrics}"
    );
    // Now in b's memory too: served without Redis.
    drop(redis);
    assert_eq!(send(&b, path, &chat("m", true), None).await.cache, "hit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_is_down_is_a_miss_and_the_request_is_still_served() {
    let mock = mock().await;
    let manifests = cached(&mock, "    redis: true\n");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let proxy = Proxy::start_with(&manifests, &["--redis-url", &url]).await;
    let path = "/v1/chat/completions";
    let first = send(&proxy, path, &chat("m", false), None).await;
    assert_eq!((first.status, first.cache.as_str()), (200, "miss"));
    let second = send(&proxy, path, &chat("m", false), None).await;
    assert_eq!(
        (second.status, second.cache.as_str()),
        (200, "hit"),
        "the memory tier still works"
    );
    let metrics = proxy
        .metrics_when(|m| m.contains("switchyard_cache_redis_errors_total{op=\"set\"}"))
        .await;
    assert!(
        metrics.contains("switchyard_cache_redis_errors_total{op=\"get\"}"),
        "{metrics}"
    );
}
