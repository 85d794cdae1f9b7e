//! Operator mode: the real proxy binary subscribed, over TLS and HTTP/2, to a stand-in for the
//! operator's end of the config channel. Pushes are served and acked, a broken push is nacked
//! and changes nothing, the proxy rides out the operator's absence, skips a follower, and boots
//! from its snapshot cache.

use std::os::unix::fs::PermissionsExt as _;

use serde_json::Value;

use crate::{
    harness::Pki,
    harness::{Manifests, Proxy, answer_text, chat, mock, post},
    operator::{Operator, Relay, Secrets, eventually, snapshot, tampered_push},
};

/// A port nothing listens on (for now).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn chat_status(proxy: &Proxy, model: &str) -> u16 {
    post(proxy, "/v1/chat/completions", &chat(model, false))
        .await
        .status()
        .as_u16()
}

/// `/config` once `done` holds for it.
async fn config_when(proxy: &Proxy, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    eventually(what, || async {
        let config = proxy.config().await;
        done(&config).then_some(config)
    })
    .await
}

fn metric(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_snapshot_is_served_and_acked_and_the_proxy_says_who_it_is() {
    let mock = mock().await;
    let pki = Pki::new();
    let operator = Operator::start(&pki).await;
    let secrets = Secrets::new(&pki, "token-from-the-file\n");
    let v1 = snapshot(
        &Manifests::default()
            .model("m", &mock)
            .route("gpt-4o", &["m"], ""),
        1,
    );
    operator.push(&v1);
    let flags = secrets.flags(&[&operator.url()], &["--proxy-name", "proxy-a"]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let proxy = Proxy::start_operator(&flags, true).await;

    let response = post(&proxy, "/v1/chat/completions", &chat("gpt-4o", false)).await;
    assert_eq!(response.status(), 200);
    assert!(answer_text(&response.text().await.unwrap()).contains("hello from the test"));
    let ack = operator.ack(1).await;
    assert_eq!((ack.hash.as_str(), ack.error), (v1.hash.as_str(), None));

    let request = &operator.requests()[0];
    assert_eq!(request["authorization"], "Bearer token-from-the-file");
    assert_eq!(request["x-switchyard-proxy"], "proxy-a");
    assert_eq!(request["content-type"], "application/x-ndjson");
    assert!(
        request.get("x-switchyard-snapshot").is_none(),
        "nothing was served yet"
    );

    let config = proxy.config().await;
    assert_eq!(config["mode"], "operator");
    assert_eq!(config["version"], 1);
    assert_eq!(config["operator"]["connection"], operator.url());
    assert_eq!(config["operator"]["lastAck"]["version"], 1);
    let metrics = proxy.metrics().await;
    assert_eq!(metric(&metrics, "switchyard_operator_connected"), 1.0);
    assert_eq!(metric(&metrics, "switchyard_operator_connects_total"), 1.0);
    assert_eq!(
        metric(
            &metrics,
            "switchyard_operator_pushes_total{result=\"accepted\"}"
        ),
        1.0
    );
    assert_eq!(metric(&metrics, "switchyard_snapshot_version"), 1.0);
    proxy.log_containing("snapshot published").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_push_swaps_the_snapshot_and_a_corrupt_one_is_nacked_and_changes_nothing() {
    let mock = mock().await;
    let pki = Pki::new();
    let operator = Operator::start(&pki).await;
    let secrets = Secrets::new(&pki, "token");
    let one = Manifests::default()
        .model("m", &mock)
        .route("gpt-4o", &["m"], "");
    let two = one.clone().route("new-model", &["m"], "");
    let v1 = snapshot(&one, 1);
    operator.push(&v1);
    let flags = secrets.flags(&[&operator.url()], &[]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let proxy = Proxy::start_operator(&flags, true).await;
    assert_eq!(chat_status(&proxy, "new-model").await, 404);

    let v2 = snapshot(&two, 2);
    operator.push(&v2);
    let ack = operator.ack(2).await;
    assert_eq!((ack.hash.as_str(), ack.error), (v2.hash.as_str(), None));
    config_when(&proxy, "version 2", |c| c["version"] == 2).await;
    assert_eq!(chat_status(&proxy, "new-model").await, 200);

    operator.push_raw(tampered_push(&snapshot(&one, 3)));
    let nack = operator.ack(3).await;
    let reason = nack.error.expect("the corrupt push is refused");
    assert!(reason.contains("hashes to"), "{reason}");
    assert_eq!(
        nack.hash, v2.hash,
        "the nack names the snapshot still served"
    );
    let config = config_when(&proxy, "the refusal in /config", |c| {
        c["report"]["rejected_change"].is_string()
    })
    .await;
    assert_eq!(config["version"], 2, "the last good snapshot stays");
    assert_eq!(chat_status(&proxy, "new-model").await, 200);
    let metrics = proxy.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "switchyard_operator_pushes_total{result=\"refused\"}"
        ),
        1.0
    );
    assert_eq!(metric(&metrics, "switchyard_config_rejections_total"), 1.0);
    assert_eq!(metric(&metrics, "switchyard_snapshot_version"), 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_keep_succeeding_while_the_operator_is_gone_and_the_proxy_comes_back_to_it() {
    let mock = mock().await;
    let pki = Pki::new();
    let operator = Operator::start(&pki).await;
    let port = operator.port();
    let secrets = Secrets::new(&pki, "first-token");
    let one = Manifests::default()
        .model("m", &mock)
        .route("gpt-4o", &["m"], "");
    let v1 = snapshot(&one, 1);
    operator.push(&v1);
    let flags = secrets.flags(&[&operator.url()], &[]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let proxy = Proxy::start_operator(&flags, true).await;
    operator.ack(1).await;

    drop(operator);
    config_when(&proxy, "the proxy to notice", |c| {
        c["operator"]["connection"] == "disconnected"
    })
    .await;
    for _ in 0..3 {
        assert_eq!(chat_status(&proxy, "gpt-4o").await, 200, "static stability");
    }
    assert_eq!(
        reqwest::get(proxy.admin("/readyz")).await.unwrap().status(),
        200
    );

    secrets.set_token("rotated-token");
    let back = Operator::start_on(&pki, port).await;
    let v2 = snapshot(&one.clone().route("new-model", &["m"], ""), 2);
    back.push(&v2);
    assert_eq!(back.ack(2).await.error, None);
    let request = &back.requests()[0];
    assert_eq!(
        request["authorization"], "Bearer rotated-token",
        "the token is read again on every connect"
    );
    assert_eq!(request["x-switchyard-snapshot"], v1.hash.as_str());
    config_when(&proxy, "version 2", |c| c["version"] == 2).await;
    assert_eq!(chat_status(&proxy, "new-model").await, 200);
    let metrics = proxy.metrics().await;
    assert_eq!(metric(&metrics, "switchyard_operator_connects_total"), 2.0);
    assert!(metric(&metrics, "switchyard_operator_disconnects_total") >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_that_goes_silent_is_noticed_by_keepalive_and_the_proxy_reconnects() {
    let mock = mock().await;
    let pki = Pki::new();
    let operator = Operator::start(&pki).await;
    let relay = Relay::start(operator.port()).await;
    let secrets = Secrets::new(&pki, "token");
    let one = Manifests::default()
        .model("m", &mock)
        .route("gpt-4o", &["m"], "");
    operator.push(&snapshot(&one, 1));
    let flags = secrets.flags(&[&relay.url()], &[]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let proxy = Proxy::start_operator(&flags, true).await;
    operator.ack(1).await;

    relay.freeze();
    eventually("a second stream after the silent one", || async {
        let metrics = proxy.metrics().await;
        (metric(&metrics, "switchyard_operator_connects_total") >= 2.0).then_some(())
    })
    .await;
    assert_eq!(chat_status(&proxy, "gpt-4o").await, 200);
    let config = proxy.config().await;
    let failure = config["operator"]["lastFailure"].as_str().unwrap();
    assert!(failure.contains("HTTP/2"), "{failure}");

    operator.push(&snapshot(&one.clone().route("new-model", &["m"], ""), 2));
    assert_eq!(operator.ack(2).await.error, None);
    config_when(&proxy, "version 2", |c| c["version"] == 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_that_answers_503_sends_the_proxy_on_to_the_next_url() {
    let mock = mock().await;
    let pki = Pki::new();
    let follower = Operator::start(&pki).await;
    follower.answer_with(503);
    let leader = Operator::start(&pki).await;
    let secrets = Secrets::new(&pki, "token");
    leader.push(&snapshot(
        &Manifests::default()
            .model("m", &mock)
            .route("gpt-4o", &["m"], ""),
        1,
    ));
    let flags = secrets.flags(&[&follower.url(), &leader.url()], &[]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let proxy = Proxy::start_operator(&flags, true).await;

    assert_eq!(chat_status(&proxy, "gpt-4o").await, 200);
    assert_eq!(leader.ack(1).await.error, None);
    assert!(!follower.requests().is_empty(), "the first URL was tried");
    let log = proxy.log_containing("refused the subscription").await;
    assert!(log.contains("503"), "{log}");
    assert!(log.contains("refused by the test operator"), "{log}");
    let config = proxy.config().await;
    assert_eq!(config["operator"]["connection"], leader.url());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_whose_certificate_is_not_from_the_ca_is_never_sent_the_token() {
    let pki = Pki::new();
    let operator = Operator::start(&pki).await;
    let secrets = Secrets::new(&Pki::new(), "token");
    let flags = secrets.flags(&[&operator.url()], &[]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let proxy = Proxy::start_operator(&flags, false).await;

    let config = config_when(&proxy, "a failed attempt", |c| {
        c["operator"]["lastFailure"].is_string()
    })
    .await;
    let failure = config["operator"]["lastFailure"].as_str().unwrap();
    assert!(failure.contains("TLS handshake"), "{failure}");
    assert!(operator.requests().is_empty());
    assert_eq!(
        reqwest::get(proxy.admin("/readyz")).await.unwrap().status(),
        503
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_boots_from_its_snapshot_cache_when_no_operator_answers() {
    let mock = mock().await;
    let pki = Pki::new();
    let secrets = Secrets::new(&pki, "token");
    let cache = secrets.cache();
    let cache_flag = cache.display().to_string();
    let one = Manifests::default()
        .model("m", &mock)
        .route("gpt-4o", &["m"], "");
    let v1 = snapshot(&one, 1);
    let operator = Operator::start(&pki).await;
    let port = operator.port();
    operator.push(&v1);
    std::fs::create_dir_all(cache.parent().unwrap()).unwrap();
    let flags = secrets.flags(
        &[&operator.url()],
        &[
            "--snapshot-cache",
            &cache_flag,
            "--operator-boot-timeout-seconds",
            "1",
        ],
    );
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let first = Proxy::start_operator(&flags, true).await;
    operator.ack(1).await;
    eventually("the cache file", || async { cache.exists().then_some(()) }).await;
    let mode = std::fs::metadata(&cache).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "snapshots hold provider keys");
    drop(first);
    drop(operator);

    let second = Proxy::start_operator(&flags, true).await;
    assert_eq!(chat_status(&second, "gpt-4o").await, 200);
    let config = second.config().await;
    assert_eq!(config["hash"], v1.hash.as_str());
    assert_eq!(config["operator"]["servingCache"], true);
    assert_eq!(config["operator"]["connection"], "disconnected");
    second.log_containing("from the cache").await;

    let back = Operator::start_on(&pki, port).await;
    back.push(&snapshot(&one.clone().route("new-model", &["m"], ""), 2));
    back.ack(2).await;
    assert_eq!(
        back.requests()[0]["x-switchyard-snapshot"],
        v1.hash.as_str(),
        "the cached snapshot is named, so the operator need not send it again"
    );
    config_when(&second, "version 2", |c| {
        c["version"] == 2 && c["operator"]["servingCache"] == false
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_operator_or_a_cache_the_proxy_runs_unready_until_a_snapshot_arrives() {
    let mock = mock().await;
    let pki = Pki::new();
    let secrets = Secrets::new(&pki, "token");
    let port = closed_port();
    let url = format!("https://127.0.0.1:{port}");
    let flags = secrets.flags(&[&url], &["--operator-boot-timeout-seconds", "1"]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let proxy = Proxy::start_operator(&flags, false).await;

    proxy.log_containing("not ready until").await;
    assert_eq!(
        reqwest::get(proxy.admin("/readyz")).await.unwrap().status(),
        503
    );
    let response = post(&proxy, "/v1/chat/completions", &chat("gpt-4o", false)).await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("no configuration loaded yet"), "{body}");
    let config = proxy.config().await;
    assert_eq!(config["loaded"], false);
    assert_eq!(config["operator"]["connection"], "disconnected");
    assert!(
        config["operator"]["lastFailure"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{config}"
    );

    let operator = Operator::start_on(&pki, port).await;
    operator.push(&snapshot(
        &Manifests::default()
            .model("m", &mock)
            .route("gpt-4o", &["m"], ""),
        1,
    ));
    operator.ack(1).await;
    eventually("readiness", || async {
        let status = reqwest::get(proxy.admin("/readyz")).await.unwrap().status();
        (status == 200).then_some(())
    })
    .await;
    assert_eq!(chat_status(&proxy, "gpt-4o").await, 200);
}
