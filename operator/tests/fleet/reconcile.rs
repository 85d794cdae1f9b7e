//! Resources in, routes served and statuses written.

use std::time::Duration;

use crate::harness::{ANYONE, World, condition, mock, model_and_route, secret};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applied_resources_are_served_and_become_programmed() {
    let world = World::new("applied-resources").await;
    let operator = world.operator("op-0").await;
    let token = world.proxy_token().await;
    let proxies = [
        world.proxy("p1", &[&operator], &token).await,
        world.proxy("p2", &[&operator], &token).await,
    ];
    operator
        .wait_fleet(|f| f["proxies"].as_array().is_some_and(|p| p.len() == 2))
        .await;

    let mock = mock().await;
    world.apply_model("m1", &mock).await;
    for proxy in &proxies {
        let took = proxy.wait_serves("m1").await;
        eprintln!("m1 served by a proxy {took:?} after the apply returned");
    }
    for (plural, name) in [
        ("aimodels", "m1"),
        ("airoutes", "m1"),
        ("aipolicies", "anyone"),
    ] {
        let object = world
            .wait_condition(plural, name, "Programmed", "True")
            .await;
        let generation = object["metadata"]["generation"].clone();
        for kind in ["Accepted", "ResolvedRefs", "Programmed"] {
            let condition = condition(&object, kind);
            assert_eq!(condition["status"], "True", "{plural}/{name}: {condition}");
            assert_eq!(
                condition["observedGeneration"], generation,
                "{plural}/{name}: {condition}"
            );
        }
        assert_eq!(
            object["status"]["proxies"],
            serde_json::json!({"synced": 2, "total": 2})
        );
    }
    let request = mock.requests().into_iter().next().unwrap();
    assert_eq!(
        request.header("authorization"),
        Some("Bearer key-1"),
        "the key from the Secret"
    );

    // A changed spec is a new generation, programmed again.
    let changed =
        model_and_route("m1", &mock, "key").replace("models: [m1]", "models: [m1, m1-alias]");
    world.kubectl_apply(&changed).await;
    proxies[0].wait_serves("m1-alias").await;
    let route = world
        .wait_object("airoutes", "m1", |route| {
            condition(route, "Programmed")["observedGeneration"] == 2
        })
        .await;
    assert_eq!(condition(&route, "Programmed")["status"], "True");

    // A deleted route stops being served.
    world.kubectl_delete("airoute", "m1").await;
    for _ in 0..600 {
        if proxies[1].chat("m1").await.0 == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        proxies[1].chat("m1").await.0,
        404,
        "a deleted route is not served"
    );

    let metrics = operator.metrics().await;
    assert!(
        metrics.contains("switchyard_operator_connected_proxies 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchyard_operator_proxy_snapshot_version{proxy=\"p1\"}"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("switchyard_operator_nacks_total 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dangling_reference_is_reported_on_its_object_while_the_rest_serves() {
    let world = World::new("dangling-reference").await;
    let operator = world.operator("op-0").await;
    let token = world.proxy_token().await;
    let proxy = world.proxy("p1", &[&operator], &token).await;
    let mock = mock().await;
    let broken = "apiVersion: switchyard.dev/v1alpha1
kind: AIRoute
metadata: {name: broken}
spec:
  models: [broken]
  backends: [{modelRef: {name: not-there}}]
";
    let unlabelled = "apiVersion: v1
kind: Secret
metadata: {name: unlabelled}
stringData: {apiKey: k}
";
    let manifests = [
        secret("key", "key-1"),
        unlabelled.to_owned(),
        ANYONE.to_owned(),
        model_and_route("good", &mock, "key"),
        model_and_route("keyless", &mock, "unlabelled"),
        broken.to_owned(),
    ];
    world.kubectl_apply(&manifests.join("---\n")).await;
    proxy.wait_serves("good").await;

    let route = world
        .wait_condition("airoutes", "broken", "ResolvedRefs", "False")
        .await;
    let refs = condition(&route, "ResolvedRefs");
    assert_eq!(refs["reason"], "BackendNotFound", "{refs}");
    assert!(
        refs["message"].as_str().unwrap().contains("not-there"),
        "{refs}"
    );
    assert_eq!(condition(&route, "Accepted")["status"], "True");
    assert_eq!(condition(&route, "Programmed")["status"], "False");
    let (status, body) = proxy.chat("broken").await;
    assert_eq!(status, 404, "{body}");

    // The Secret exists but lacks the label: the message says what to do.
    let model = world
        .wait_condition("aimodels", "keyless", "ResolvedRefs", "False")
        .await;
    let message = condition(&model, "ResolvedRefs")["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("switchyard.dev/secret"), "{message}");

    // The transition is an Event on the object.
    let events = events_for(&world, "broken").await;
    assert!(
        events.iter().any(|e| e.contains("BackendNotFound")),
        "{events:?}"
    );

    // Fixing the reference heals the route without touching anything else.
    let fixed = broken.replace("not-there", "good");
    world.kubectl_apply(&fixed).await;
    proxy.wait_serves("broken").await;
    world
        .wait_condition("airoutes", "broken", "ResolvedRefs", "True")
        .await;
    world
        .wait_condition("airoutes", "broken", "Programmed", "True")
        .await;
}

async fn events_for(world: &World, name: &str) -> Vec<String> {
    let api: kube::Api<k8s_openapi::api::events::v1::Event> = world.namespace.api();
    for _ in 0..100 {
        let events: Vec<String> = api
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .map(|e| {
                format!(
                    "{} {}",
                    e.reason.unwrap_or_default(),
                    e.note.unwrap_or_default()
                )
            })
            .collect();
        if !events.is_empty() {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Vec::new()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_reaches_the_proxies_without_a_restart() {
    let world = World::new("secret-rotation").await;
    let operator = world.operator("op-0").await;
    let token = world.proxy_token().await;
    let proxy = world.proxy("p1", &[&operator], &token).await;
    let pid = proxy.pid();
    let mock = mock().await;
    world.apply_model("m", &mock).await;
    proxy.wait_serves("m").await;

    world.kubectl_apply(&secret("key", "key-2")).await;
    let mut seen = Vec::new();
    for _ in 0..300 {
        mock.clear();
        proxy.wait_serves("m").await;
        seen = mock
            .requests()
            .iter()
            .filter_map(|r| r.header("authorization").map(str::to_owned))
            .collect();
        if seen.iter().any(|h| h == "Bearer key-2") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, ["Bearer key-2"], "the rotated key is used");
    assert_eq!(proxy.pid(), pid, "same process");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settled_operator_writes_nothing() {
    let world = World::new("settled").await;
    let operator = world.operator("op-0").await;
    let token = world.proxy_token().await;
    let proxy = world.proxy("p1", &[&operator], &token).await;
    let mock = mock().await;
    world.apply_model("m", &mock).await;
    proxy.wait_serves("m").await;
    let before = world
        .wait_condition("airoutes", "m", "Programmed", "True")
        .await;
    let writes = |metrics: &str| -> String {
        metrics
            .lines()
            .find(|l| l.starts_with("switchyard_operator_status_writes_total"))
            .unwrap_or_default()
            .to_owned()
    };
    let reconciles = writes(&operator.metrics().await);
    // Long enough for any hot loop (a status write waking the watch, which writes again) to
    // show as new resource versions.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = world.object("airoutes", "m").await;
    assert_eq!(
        before["metadata"]["resourceVersion"], after["metadata"]["resourceVersion"],
        "no write when nothing changed"
    );
    assert_eq!(writes(&operator.metrics().await), reconciles);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_proxy_connected_nothing_claims_to_be_programmed() {
    let world = World::new("no-proxies").await;
    let operator = world.operator("op-0").await;
    let mock = mock().await;
    world.apply_model("m", &mock).await;
    let route = world
        .wait_condition("airoutes", "m", "Accepted", "True")
        .await;
    let route = if condition(&route, "Programmed").is_null() {
        world
            .wait_condition("airoutes", "m", "Programmed", "False")
            .await
    } else {
        route
    };
    let programmed = condition(&route, "Programmed");
    assert_eq!(programmed["status"], "False", "{programmed}");
    assert_eq!(programmed["reason"], "NoProxies", "{programmed}");
    assert_eq!(
        route["status"]["proxies"],
        serde_json::json!({"synced": 0, "total": 0})
    );
    assert!(
        operator.fleet().await["version"].as_u64().is_some(),
        "a snapshot is ready for the first proxy"
    );
}
