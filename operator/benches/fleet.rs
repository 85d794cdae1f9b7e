//! The control plane at scale, on the real API server from the test harness: 10,000 AIModels
//! and 10,000 AIRoutes applied, 20 proxy processes connected. Prints:
//! - the time from the last apply being accepted until every object reports `Programmed`;
//! - the operator's resident memory (now and peak);
//! - the snapshot's size;
//! - the time from one more apply until all 20 proxies ack the new snapshot.
//!
//! ```text
//! cargo build --release -p switchyard-proxy && cargo bench -p switchyard-operator --bench fleet
//! ```
//!
//! Figures are upper bounds on a shared 2-core machine: the API server, etcd, the operator
//! and 20 proxies all run on it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::panic,
    missing_docs,
    reason = "a benchmark with broken fixtures should stop loudly"
)]

#[path = "../tests/fleet/harness.rs"]
#[allow(dead_code, reason = "the benchmark uses part of the test harness")]
mod harness;

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use futures::StreamExt;
use kube::{
    api::{Patch, PatchParams},
    runtime::{WatchStreamExt, watcher},
};
use serde_json::{Value, json};

use harness::{ANYONE, World, mock, secret};

const MODELS: usize = 10_000;
const PROXIES: usize = 20;

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run());
}

async fn run() {
    let world = World::new("bench-fleet").await;
    let operator = world.operator("op-0").await;
    let token = world.token(&world.proxy_account(), "switchyard").await;
    let mut proxies = Vec::new();
    for i in 0..PROXIES {
        proxies.push(world.proxy(&format!("p{i}"), &[&operator], &token).await);
    }
    operator
        .wait_fleet(|f| f["proxies"].as_array().is_some_and(|p| p.len() == PROXIES))
        .await;
    let mock = mock().await;
    world
        .kubectl_apply(&[secret("key", "k"), ANYONE.to_owned()].join("---\n"))
        .await;

    let all_programmed = watch_programmed(&world);
    let started = Instant::now();
    apply_all(&world, &mock.base_url()).await;
    let applied = Instant::now();
    println!(
        "applied {MODELS} AIModels + {MODELS} AIRoutes in {:?}",
        applied - started
    );
    let programmed = tokio::time::timeout(Duration::from_secs(600), all_programmed)
        .await
        .expect("every object becomes Programmed within 10 minutes")
        .unwrap()
        - applied;
    println!(
        "all {} objects Programmed {programmed:?} after the last apply was accepted (goal < 5 s)",
        2 * MODELS
    );

    let (rss, peak) = memory(operator.pid());
    println!(
        "operator RSS {} MiB, peak {} MiB (goal < 200 MB)",
        rss / 1024,
        peak / 1024
    );
    let metrics = operator.metrics().await;
    let bytes = metric(&metrics, "switchyard_operator_snapshot_bytes");
    println!("snapshot {:.2} MB", bytes / 1e6);
    // Where the time went, for whoever improves the figures above.
    for name in [
        "switchyard_operator_status_writes_total",
        "switchyard_operator_reconciles_total",
        "switchyard_operator_compile_duration_seconds_sum",
        "switchyard_operator_compile_duration_seconds_count",
        "switchyard_operator_reconcile_duration_seconds_sum",
        "switchyard_operator_snapshot_version",
        "switchyard_operator_acks_total",
    ] {
        println!("  {name} {}", metric(&metrics, name));
    }

    // One more model: from its apply to every proxy serving the new snapshot.
    let before = operator.fleet().await["version"].as_u64().unwrap_or(0);
    let extra = harness::model_and_route("extra", &mock, "key");
    let t0 = Instant::now();
    world.kubectl_apply(&extra).await;
    let apply_returned = t0.elapsed();
    let mut published = None;
    loop {
        let fleet = operator.fleet().await;
        let version = fleet["version"].as_u64().unwrap_or(0);
        if version > before {
            published.get_or_insert(t0.elapsed());
            let acked = fleet["proxies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["acked"].as_u64().is_some_and(|a| a >= version))
                .count();
            if acked == PROXIES {
                break;
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the push never completed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let all_acked = t0.elapsed();
    let published = published.unwrap_or_default();
    println!(
        "one more model: apply returned {apply_returned:?}, snapshot published {published:?}, all {PROXIES} proxies acked {all_acked:?} (push to {PROXIES} proxies: {:?}, goal < 2 s)",
        all_acked - published
    );
    drop(proxies);
}

async fn apply_all(world: &World, base: &str) {
    let params = PatchParams::apply("bench").force();
    let (models, routes) = (world.api("aimodels"), world.api("airoutes"));
    let objects = (0..MODELS).flat_map(|i| {
        let name = format!("m{i}");
        let model = json!({
            "apiVersion": "switchyard.dev/v1alpha1", "kind": "AIModel",
            "metadata": {"name": name},
            "spec": {"provider": "openai-compatible", "model": name, "endpoint": format!("{base}/v1"),
                     "credentials": {"secretRef": {"name": "key", "key": "apiKey"}}},
        });
        let route = json!({
            "apiVersion": "switchyard.dev/v1alpha1", "kind": "AIRoute",
            "metadata": {"name": name},
            "spec": {"models": [name], "backends": [{"modelRef": {"name": name}}]},
        });
        [(true, name.clone(), model), (false, name, route)]
    });
    futures::stream::iter(objects)
        .map(|(is_model, name, object)| {
            let api = if is_model { &models } else { &routes };
            let params = &params;
            async move {
                api.patch(&name, params, &Patch::Apply(&object))
                    .await
                    .unwrap()
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
}

/// When every AIModel and AIRoute first shows `Programmed=True`, seen through watches started
/// before the first apply: polling lists of 10,000 objects would take seconds per round on this
/// machine and blur the measurement.
fn watch_programmed(world: &World) -> tokio::task::JoinHandle<Instant> {
    let events = ["aimodels", "airoutes"].map(|plural| {
        let kind = plural.to_owned();
        watcher(world.api(plural), watcher::Config::default())
            .applied_objects()
            .map(move |object| (kind.clone(), object))
            .boxed()
    });
    tokio::spawn(async move {
        let mut programmed = HashMap::new();
        let mut done = 0;
        let mut events = futures::stream::select_all(events);
        while let Some((kind, object)) = events.next().await {
            let object = object.unwrap();
            let value = serde_json::to_value(&object).unwrap_or(Value::Null);
            let now = harness::condition(&value, "Programmed")["status"] == "True";
            let key = (kind, object.metadata.name.unwrap_or_default());
            match (programmed.insert(key, now), now) {
                (Some(true), false) => done -= 1,
                (None | Some(false), true) => done += 1,
                _ => {}
            }
            if done == 2 * MODELS {
                return Instant::now();
            }
        }
        panic!("the watches ended");
    })
}

/// VmRSS and VmHWM of a process, in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0)
}
