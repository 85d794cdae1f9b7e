//! Upstream faults: what is retried or falls back, what the client gets when nothing works,
//! and streams that break after they started.
use serde_json::Value;
use switchyard_mock_provider::{Behavior, Fault};

use crate::harness::{
    Manifests, Proxy, answer_text, chat, header, mock, mock_with, post, sse_data,
};

/// Fast retries so the tests do not wait on backoff.
const FAST_RETRY: &str = "  retry: {backoff: {base: 10ms, max: 50ms}}\n";

fn failing(status: u16) -> Behavior {
    Behavior {
        status: Some(status),
        ..Behavior::default()
    }
}

fn faulty(fault: Fault) -> Behavior {
    Behavior {
        fault: Some(fault),
        ..Behavior::default()
    }
}

async fn primary_with_fallback(
    primary: Behavior,
) -> (
    Proxy,
    switchyard_mock_provider::MockProvider,
    switchyard_mock_provider::MockProvider,
) {
    let (bad, good) = (mock_with(primary).await, mock().await);
    let manifests = Manifests::default()
        .model("primary", &bad)
        .model("backup", &good)
        .route(
            "gpt-4o",
            &["primary"],
            &format!(
                "  fallbacks: [{{name: backup}}]\n  timeouts: {{firstToken: 1s}}\n{FAST_RETRY}"
            ),
        );
    (Proxy::start(&manifests).await, bad, good)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_a_500_a_reset_and_a_stall_each_fall_back_to_the_next_model() {
    let cases = [
        ("429", failing(429)),
        ("500", failing(500)),
        ("reset", faulty(Fault::Reset)),
        ("stall", faulty(Fault::Stall)),
    ];
    for (name, behavior) in cases {
        let (proxy, bad, good) = primary_with_fallback(behavior).await;
        for stream in [false, true] {
            let response = post(&proxy, "/v1/chat/completions", &chat("gpt-4o", stream)).await;
            assert_eq!(response.status(), 200, "{name}, stream={stream}");
            assert_eq!(
                header(&response, "x-switchyard-backend"),
                "default/backup",
                "{name}"
            );
            let attempt: u32 = header(&response, "x-switchyard-attempt").parse().unwrap();
            assert!(attempt >= 2, "{name}: the primary was tried first");
            let body = response.text().await.unwrap();
            assert!(
                answer_text(&body).contains("hello from the test"),
                "{name}: {body}"
            );
        }
        assert!(!bad.requests().is_empty(), "{name}");
        assert_eq!(good.requests().len(), 2, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_backend_is_retried_until_it_answers() {
    let flaky = mock_with(Behavior {
        status: Some(503),
        times: Some(2),
        ..Behavior::default()
    })
    .await;
    let manifests = Manifests::default()
        .model("m", &flaky)
        .route("gpt-4o", &["m"], FAST_RETRY);
    let proxy = Proxy::start(&manifests).await;
    let response = post(&proxy, "/v1/chat/completions", &chat("gpt-4o", false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-switchyard-attempt"), "3");
    assert_eq!(flaky.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_attempt_fails_the_client_gets_the_matching_error() {
    let cases = [
        (failing(429), 429, "rate_limit_error"),
        (failing(500), 502, "api_error"),
        (faulty(Fault::Reset), 502, "api_error"),
        (faulty(Fault::Stall), 504, "timeout_error"),
    ];
    for (behavior, status, kind) in cases {
        let retry_after = behavior.status == Some(429);
        let behavior = Behavior {
            retry_after: retry_after.then_some(7),
            ..behavior
        };
        let dead = mock_with(behavior).await;
        let manifests = Manifests::default().model("m", &dead).route(
            "gpt-4o",
            &["m"],
            "  timeouts: {firstToken: 500ms}\n  retry: {attempts: 2, honorRetryAfter: false, backoff: {base: 10ms, max: 50ms}}\n",
        );
        let proxy = Proxy::start(&manifests).await;
        let response = post(&proxy, "/v1/chat/completions", &chat("gpt-4o", false)).await;
        assert_eq!(response.status(), status, "{kind}");
        if retry_after {
            assert_eq!(
                header(&response, "retry-after"),
                "7",
                "the provider's Retry-After is passed on"
            );
        }
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], kind);
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("default/m"),
            "{error}"
        );
        assert_eq!(dead.requests().len(), 2, "{kind}: both attempts were made");
        if status == 504 {
            let message = error["error"]["message"].as_str().unwrap();
            assert!(message.contains("did not answer within 500ms"), "{message}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_client_error_is_passed_on_without_retrying() {
    let (proxy, bad, good) = primary_with_fallback(failing(400)).await;
    let response = post(&proxy, "/v1/chat/completions", &chat("gpt-4o", false)).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert_eq!(bad.requests().len(), 1);
    assert!(good.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_breaks_after_it_started_ends_with_an_error_event() {
    for fault in [Fault::ResetMidStream, Fault::StallMidStream] {
        let broken = mock_with(Behavior {
            fault: Some(fault),
            tokens: Some(8),
            ..Behavior::default()
        })
        .await;
        let manifests = Manifests::default().model("m", &broken).route(
            "gpt-4o",
            &["m"],
            "  timeouts: {idle: 500ms}\n",
        );
        let proxy = Proxy::start(&manifests).await;
        let response = post(&proxy, "/v1/chat/completions", &chat("gpt-4o", true)).await;
        assert_eq!(response.status(), 200, "{fault:?}");
        let body = response.text().await.unwrap();
        let events = sse_data(&body);
        assert!(
            events.len() >= 2,
            "{fault:?}: some content arrived first: {body}"
        );
        let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
        assert!(
            last["error"]["message"].is_string(),
            "{fault:?}: ends with an error event: {body}"
        );
        assert_eq!(
            broken.requests().len(),
            1,
            "{fault:?}: a started stream is never retried"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_failing_repeatedly_is_ejected_and_skipped_for_the_cool_down() {
    let (bad, good) = (mock_with(failing(500)).await, mock().await);
    let manifests = Manifests::default()
        .model("primary", &bad)
        .model("backup", &good)
        .route("gpt-4o", &["primary"], "  fallbacks: [{name: backup}]\n  retry: {attempts: 2, backoff: {base: 10ms, max: 50ms}}\n");
    let proxy = Proxy::start_with(
        &manifests,
        &["--eject-after-failures", "3", "--eject-seconds", "600"],
    )
    .await;
    for _ in 0..6 {
        let response = post(&proxy, "/v1/chat/completions", &chat("gpt-4o", false)).await;
        assert_eq!(response.status(), 200);
    }
    assert_eq!(
        bad.requests().len(),
        3,
        "after three failures the primary is no longer tried"
    );
    let config = proxy.config().await;
    let primary = config["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "default/primary")
        .unwrap();
    assert_eq!(primary["ejected"], true);
    let metrics = proxy.metrics().await;
    assert!(
        metrics.contains("switchyard_backend_ejections_total{provider=\"openai-compatible\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("switchyard_fallbacks_total"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_is_waited_out_before_the_same_backend_is_retried() {
    let limited = mock_with(Behavior {
        status: Some(429),
        retry_after: Some(1),
        times: Some(1),
        ..Behavior::default()
    })
    .await;
    let manifests = Manifests::default().model("m", &limited).route(
        "gpt-4o",
        &["m"],
        FAST_RETRY.replace("max: 50ms", "max: 5s").as_str(),
    );
    let proxy = Proxy::start(&manifests).await;
    let started = std::time::Instant::now();
    let response = post(&proxy, "/v1/chat/completions", &chat("gpt-4o", false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-switchyard-attempt"), "2");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(950),
        "the retry waited for Retry-After (1 s), not the 10 ms backoff"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_total_timeout_ends_a_slow_stream_with_an_error_event() {
    let slow = mock_with(Behavior {
        tokens: Some(50),
        chunks: Some(50),
        chunk_delay_ms: 100,
        ..Behavior::default()
    })
    .await;
    let manifests =
        Manifests::default()
            .model("m", &slow)
            .route("gpt-4o", &["m"], "  timeouts: {total: 1s}\n");
    let proxy = Proxy::start(&manifests).await;
    let response = post(&proxy, "/v1/chat/completions", &chat("gpt-4o", true)).await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    let events = sse_data(&body);
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["type"], "timeout_error", "{body}");
    assert!(
        events.len() > 2 && events.len() < 50,
        "cut short, not empty: {} events",
        events.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_while_waiting_is_noticed_and_logged_as_499() {
    let stalled = mock_with(Behavior {
        fault: Some(Fault::Stall),
        ..Behavior::default()
    })
    .await;
    let manifests = Manifests::default()
        .model("m", &stalled)
        .route("gpt-4o", &["m"], "");
    let proxy = Proxy::start(&manifests).await;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(300))
        .build()
        .unwrap();
    let gave_up = client
        .post(proxy.url("/v1/chat/completions"))
        .json(&chat("gpt-4o", false))
        .send()
        .await;
    assert!(gave_up.is_err(), "the client timed out");
    let metrics = proxy.metrics_when(|m| m.contains("status=\"499\"")).await;
    assert!(
        metrics.contains("status=\"499\""),
        "the proxy stopped waiting on the stalled provider when the client left:\n{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_connection_the_provider_closed_is_replaced_without_an_error() {
    let first = mock().await;
    let addr = first.addr();
    let manifests = Manifests::default()
        .model("m", &first)
        .route("gpt-4o", &["m"], "");
    let proxy = Proxy::start(&manifests).await;
    let response = post(&proxy, "/v1/chat/completions", &chat("gpt-4o", false)).await;
    assert_eq!(response.status(), 200);

    // The provider goes away (closing the idle connection the proxy kept) and comes back on
    // the same address.
    drop(first);
    let mut second = None;
    for _ in 0..50 {
        let config = switchyard_mock_provider::MockConfig {
            bind: addr,
            ..switchyard_mock_provider::MockConfig::default()
        };
        if let Ok(mock) = switchyard_mock_provider::MockProvider::start(config).await {
            second = Some(mock);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let second = second.expect("the port is free again");
    for stream in [false, true] {
        let response = post(&proxy, "/v1/chat/completions", &chat("gpt-4o", stream)).await;
        assert_eq!(response.status(), 200, "stream={stream}");
        assert_eq!(
            header(&response, "x-switchyard-attempt"),
            "1",
            "not a failed attempt"
        );
        assert!(answer_text(&response.text().await.unwrap()).contains("hello from the test"));
    }
    assert_eq!(second.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_refuses_connections_falls_back_and_alone_is_a_502() {
    let good = mock().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let manifests = Manifests::default()
        .model("backup", &good)
        .raw(&format!(
            "---\napiVersion: switchyard.dev/v1alpha1\nkind: AIModel\nmetadata: {{name: gone}}\nspec:\n  provider: openai-compatible\n  model: gone\n  endpoint: http://127.0.0.1:{closed}/v1\n"
        ))
        .route("gpt-4o", &["gone"], &format!("  fallbacks: [{{name: backup}}]\n{FAST_RETRY}"))
        .route("only-gone", &["gone"], FAST_RETRY);
    let proxy = Proxy::start(&manifests).await;

    let response = post(&proxy, "/v1/chat/completions", &chat("gpt-4o", false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-switchyard-backend"), "default/backup");

    let response = post(&proxy, "/v1/chat/completions", &chat("only-gone", false)).await;
    assert_eq!(response.status(), 502);
    let error: Value = response.json().await.unwrap();
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("could not connect to default/gone"),
        "{message}"
    );
}
