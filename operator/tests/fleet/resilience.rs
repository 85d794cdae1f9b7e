//! The fleet without its operator, and strangers on the config channel.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use crate::harness::{World, mock, model_and_route};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_killed_under_load_costs_no_request_and_resyncs_when_back() {
    let world = World::new("operator-killed").await;
    let mut operator = world.operator("op-0").await;
    let token = world.proxy_token().await;
    let proxy = Arc::new(world.proxy("p1", &[&operator], &token).await);
    let mock = mock().await;
    world.apply_model("m", &mock).await;
    proxy.wait_serves("m").await;

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (proxy, stop, ok, failed) = (proxy.clone(), stop.clone(), ok.clone(), failed.clone());
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (status, body) = proxy.chat("m").await;
                if status == 200 {
                    &ok
                } else {
                    eprintln!("failed: {status} {body}");
                    &failed
                }
                .fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    operator.kill();
    // A change made while the operator is away is picked up when it is back.
    world
        .kubectl_apply(&model_and_route("later", &mock, "key"))
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(proxy.chat("later").await.0, 404, "nobody compiled it yet");
    let served_while_away = ok.load(Ordering::Relaxed);

    world.start_operator(&mut operator).await;
    proxy.wait_serves_or("later", || operator.log()).await;
    operator
        .wait_fleet(|f| f["proxies"].as_array().is_some_and(|p| p.len() == 1))
        .await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    assert_eq!(failed.load(Ordering::Relaxed), 0, "no request failed");
    assert!(
        served_while_away > 20,
        "the load ran: {served_while_away} requests"
    );
    let config = proxy.config().await;
    assert!(
        config.to_string().contains("later"),
        "the proxy resynced: {config}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_with_a_wrong_token_is_refused() {
    let world = World::new("wrong-token").await;
    let operator = world.operator("op-0").await;
    let mock = mock().await;
    world.apply_model("m", &mock).await;
    operator.wait_fleet(|f| !f["version"].is_null()).await;

    // Another service account of the same namespace, with the right audience.
    world.service_account("intruder").await;
    let intruder = world.token("intruder", "switchyard").await;
    // The proxy's own account, but a token meant for someone else.
    let wrong_audience = world
        .token(&world.proxy_account(), "some-other-service")
        .await;
    let proxies = [
        world.proxy("intruder", &[&operator], &intruder).await,
        world
            .proxy("wrong-audience", &[&operator], &wrong_audience)
            .await,
        world.proxy("garbage", &[&operator], "not-a-token").await,
    ];
    let refused = |metrics: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with("switchyard_operator_channel_refusals_total{reason=\"token\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    for _ in 0..600 {
        if refused(&operator.metrics().await) >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        refused(&operator.metrics().await) >= 3,
        "{}",
        operator.log()
    );
    for proxy in &proxies {
        assert_eq!(proxy.ready_status().await, 503, "no snapshot reached it");
        assert_ne!(proxy.chat("m").await.0, 200);
    }
    assert_eq!(operator.fleet().await["proxies"], serde_json::json!([]));
    let log = operator.log();
    assert!(
        log.contains("intruder is not the proxy service account"),
        "{log}"
    );
    assert!(!log.contains(&intruder), "tokens never reach the log");
}
