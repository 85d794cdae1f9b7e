//! The admin listener: health, readiness, metrics and the served configuration.

use serde_json::Value;

use crate::harness::{Manifests, Proxy, chat, mock, post};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_tokens_and_cost_by_route_and_model() {
    let mock = mock().await;
    let manifests = Manifests::default()
        .model("m", &mock)
        .route("gpt-4o", &["m"], "");
    let proxy = Proxy::start(&manifests).await;
    for stream in [false, true] {
        let response = post(&proxy, "/v1/chat/completions", &chat("gpt-4o", stream)).await;
        assert_eq!(response.status(), 200);
        response.text().await.unwrap();
    }
    post(&proxy, "/v1/chat/completions", &chat("missing", false)).await;

    let metrics = proxy
        .metrics_when(|m| m.contains("status=\"404\"") && m.contains("status=\"200\"} 2"))
        .await;
    let labels = "route=\"default/gpt-4o\"";
    let line = |prefix: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(prefix) && l.contains(labels))
            .unwrap_or_else(|| panic!("no {prefix} line:\n{metrics}"))
            .to_owned()
    };
    assert!(line("switchyard_requests_total").contains("status=\"200\""));
    assert!(
        line("switchyard_requests_total").ends_with(" 2"),
        "{metrics}"
    );
    assert!(metrics.contains("status=\"404\""), "{metrics}");
    let input = metrics
        .lines()
        .find(|l| l.starts_with("switchyard_tokens_total") && l.contains("kind=\"input\""))
        .unwrap();
    let count: f64 = input.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(
        count > 0.0,
        "input tokens counted for both requests: {input}"
    );
    assert!(
        line("switchyard_cost_usd_total")
            .rsplit(' ')
            .next()
            .unwrap()
            .parse::<f64>()
            .unwrap()
            > 0.0
    );
    assert!(
        line("switchyard_time_to_first_token_seconds_count").ends_with(" 2"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_config_answer_without_secrets() {
    let mock = mock().await;
    let manifests = Manifests::default()
        .model("m", &mock)
        .route("gpt-4o", &["m"], "");
    let proxy = Proxy::start(&manifests).await;
    assert_eq!(
        reqwest::get(proxy.admin("/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        reqwest::get(proxy.admin("/readyz")).await.unwrap().status(),
        200
    );
    let text = reqwest::get(proxy.admin("/config"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !text.contains("mock-key"),
        "no credential in /config: {text}"
    );
    let config: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(config["version"], 1);
    assert_eq!(config["routes"][0]["name"], "default/gpt-4o");
    assert_eq!(config["routes"][0]["backends"][0]["model"], "default/m");
    assert_eq!(config["models"][0]["provider"], "openai-compatible");
    assert_eq!(
        config["models"][0]["idleConnections"], 0,
        "no request made yet"
    );
    assert_eq!(
        post(&proxy, "/v1/chat/completions", &chat("gpt-4o", false))
            .await
            .status(),
        200
    );
    // The connection is pooled just after the response is written: wait for it rather than race.
    proxy
        .wait_config(|c| c["models"][0]["idleConnections"] == 1)
        .await;
    assert!(
        proxy
            .metrics()
            .await
            .contains("switchyard_snapshot_version 1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_describes_each_request_in_json_without_its_prompt() {
    let mock = mock().await;
    let manifests = Manifests::default()
        .model("m", &mock)
        .route("gpt-4o", &["m"], "");
    let proxy = Proxy::start_with(&manifests, &["--log-format", "json"]).await;
    let mut body = chat("gpt-4o", false);
    body["messages"][0]["content"] = serde_json::json!("a secret plan about zebras");
    assert_eq!(
        post(&proxy, "/v1/chat/completions", &body).await.status(),
        200
    );

    let mut access = None;
    for _ in 0..100 {
        access = proxy
            .access_log()
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .find(|line| line["path"] == "/v1/chat/completions");
        if access.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let access = access.unwrap_or_else(|| panic!("no access log line:\n{}", proxy.access_log()));
    assert_eq!(access["status"], 200);
    assert_eq!(access["route"], "default/gpt-4o");
    assert_eq!(access["backend"], "default/m");
    assert_eq!(access["attempts"], 1);
    assert!(access["input_tokens"].as_u64().unwrap() > 0);
    assert!(access["cost_usd"].as_f64().unwrap() > 0.0);
    for log in [proxy.access_log(), proxy.log()] {
        assert!(!log.contains("zebras"), "the prompt is never logged");
        assert!(!log.contains("mock-key"), "nor the provider key");
    }
    let diagnostic = proxy.log_containing("snapshot published").await;
    let first = diagnostic.lines().next().unwrap();
    assert!(
        serde_json::from_str::<Value>(first).is_ok(),
        "--log-format json: {first}"
    );
}
