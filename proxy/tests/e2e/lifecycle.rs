//! SIGTERM: stop accepting, let in-flight requests and streams finish, then exit.

use std::time::Duration;

use switchyard_mock_provider::Behavior;

use crate::harness::{Manifests, Proxy, chat, mock_with, post, sse_data};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_in_flight_at_sigterm_finishes_and_then_the_proxy_exits() {
    let slow = mock_with(Behavior {
        tokens: Some(10),
        chunks: Some(10),
        chunk_delay_ms: 200,
        ..Behavior::default()
    })
    .await;
    let manifests = Manifests::default()
        .model("m", &slow)
        .route("gpt-4o", &["m"], "");
    let mut proxy = Proxy::start_with(&manifests, &["--grace-period-seconds", "60"]).await;

    let response = post(&proxy, "/v1/chat/completions", &chat("gpt-4o", true)).await;
    assert_eq!(response.status(), 200);
    proxy.terminate();
    let body = response.text().await.unwrap();
    assert_eq!(
        sse_data(&body).last().map(String::as_str),
        Some("[DONE]"),
        "the stream finished: {body}"
    );

    assert!(
        proxy.exited_within(Duration::from_secs(30)).await,
        "the proxy exits once nothing is in flight, long before its 60 s grace period:\n{}",
        proxy.log()
    );
    assert!(
        reqwest::get(proxy.url("/v1/models")).await.is_err(),
        "nothing listens after exit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_proxy_exits_promptly_on_sigterm() {
    let mock = mock_with(Behavior::default()).await;
    let manifests = Manifests::default()
        .model("m", &mock)
        .route("gpt-4o", &["m"], "");
    let mut proxy = Proxy::start_with(&manifests, &["--grace-period-seconds", "120"]).await;
    proxy.terminate();
    assert!(
        proxy.exited_within(Duration::from_secs(60)).await,
        "{}",
        proxy.log()
    );
    assert!(proxy.log().contains("drained; exiting"));
}
