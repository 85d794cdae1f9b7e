//! The shared Redis (`--redis-url`): a real redis-server, its health in `/config` and
//! `switchyard_redis_up`, and a proxy that keeps serving when Redis is gone.

use switchyard_test_cluster::RedisServer;

use crate::harness::{Manifests, Proxy, answer_text, chat, mock, post};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_is_reported_up_while_it_answers_and_down_when_it_stops() {
    let redis = RedisServer::start().await.unwrap();
    let mock = mock().await;
    let manifests = Manifests::default()
        .model("m", &mock)
        .route("m", &["m"], "");
    let url = format!("redis://127.0.0.1:{}/0", redis.port());
    let proxy = Proxy::start_with_env(&manifests, &[], &[("SWITCHYARD_REDIS_URL", &url)]).await;
    proxy
        .metrics_when(|metrics| metrics.contains("switchyard_redis_up 1"))
        .await;
    let config = proxy.wait_config(|c| c["redis"]["up"] == true).await;
    assert_eq!(
        config["redis"]["address"],
        format!("127.0.0.1:{}", redis.port())
    );
    proxy.log_containing("Redis reachable").await;

    drop(redis);
    proxy.log_containing("Redis unreachable").await;
    assert!(proxy.metrics().await.contains("switchyard_redis_up 0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_is_reported_down_and_requests_still_pass() {
    let mock = mock().await;
    let manifests = Manifests::default()
        .model("m", &mock)
        .route("m", &["m"], "");
    // A port nothing listens on, and a password that must never be shown.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://:hunter2-secret@127.0.0.1:{port}");
    let proxy = Proxy::start_with(&manifests, &["--redis-url", &url]).await;
    let log = proxy.log_containing("Redis unreachable").await;
    assert!(proxy.metrics().await.contains("switchyard_redis_up 0"));
    let config = proxy.config().await;
    assert_eq!(config["redis"]["up"], false, "{config}");
    assert!(!config.to_string().contains("hunter2"), "{config}");
    assert!(!log.contains("hunter2"), "{log}");
    let response = post(&proxy, "/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(response.status(), 200);
    assert!(answer_text(&response.text().await.unwrap()).contains("hello from the test"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_redis_url_stops_the_proxy_with_a_clear_error() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard-proxy"))
        .args([
            "--config",
            "/dev/null",
            "--redis-url",
            "http://not-redis:6379",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--redis-url is not a Redis URL"),
        "{stderr}"
    );
}
