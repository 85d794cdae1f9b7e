//! Hot reload in standalone mode: changes are served without a restart, a broken change keeps
//! the last good snapshot, and no request fails while snapshots are swapped.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use crate::harness::{Manifests, Proxy, answer_text, chat, mock, post};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_file_is_served_without_a_restart() {
    let mock = mock().await;
    let before = Manifests::default()
        .model("m", &mock)
        .route("gpt-4o", &["m"], "");
    let proxy = Proxy::start(&before).await;
    assert_eq!(
        post(&proxy, "/v1/chat/completions", &chat("new-model", false))
            .await
            .status(),
        404
    );

    proxy.rewrite(before.clone().route("new-model", &["m"], "").text());
    proxy.wait_config(|c| c["version"] == 2).await;
    assert_eq!(
        post(&proxy, "/v1/chat/completions", &chat("new-model", false))
            .await
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_change_keeps_the_last_good_snapshot_and_says_why() {
    let mock = mock().await;
    let good = Manifests::default()
        .model("m", &mock)
        .route("gpt-4o", &["m"], "");
    let proxy = Proxy::start(&good).await;

    let broken = good.clone().raw(
        "---\napiVersion: switchyard.dev/v1alpha1\nkind: AIRoute\nmetadata: {name: broken}\nspec: {models: [x], backends: []}\n",
    );
    proxy.rewrite(broken.text());
    let config = proxy
        .wait_config(|c| c["report"]["rejected_change"].is_string())
        .await;
    assert_eq!(config["version"], 1, "the last good snapshot stays");
    let reason = config["report"]["rejected_change"].as_str().unwrap();
    assert!(reason.contains("AIRoute default/broken"), "{reason}");
    assert_eq!(
        post(&proxy, "/v1/chat/completions", &chat("gpt-4o", false))
            .await
            .status(),
        200
    );
    assert!(
        proxy
            .metrics()
            .await
            .contains("switchyard_config_rejections_total 1")
    );
    proxy.log_containing("configuration change refused").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_fails_while_snapshots_are_swapped_under_load() {
    let (a, b) = (mock().await, mock().await);
    let base = Manifests::default().model("a", &a).model("b", &b);
    let versions = [
        base.clone().route("gpt-4o", &["a"], ""),
        base.clone().route("gpt-4o", &["b"], ""),
    ];
    let proxy = Arc::new(Proxy::start(&versions[0]).await);
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut clients = Vec::new();
    for worker in 0..8 {
        let (proxy, stop, ok, failed) = (proxy.clone(), stop.clone(), ok.clone(), failed.clone());
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let response = post(
                    &proxy,
                    "/v1/chat/completions",
                    &chat("gpt-4o", worker % 2 == 0),
                )
                .await;
                let good = response.status() == 200
                    && response
                        .text()
                        .await
                        .is_ok_and(|body| answer_text(&body).contains("hello from the test"));
                if good { &ok } else { &failed }.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for version in 2..=11u64 {
        proxy.rewrite(versions[(version % 2) as usize].text());
        proxy.wait_config(|c| c["version"] == version).await;
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "{} requests failed",
        failed.load(Ordering::Relaxed)
    );
    assert!(
        ok.load(Ordering::Relaxed) > 50,
        "the load ran: {} requests",
        ok.load(Ordering::Relaxed)
    );
    assert!(
        !a.requests().is_empty() && !b.requests().is_empty(),
        "both versions served"
    );
}
