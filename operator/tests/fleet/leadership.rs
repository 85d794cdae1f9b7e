//! Several operator replicas: one leads, the others take over when it dies.

use k8s_openapi::api::coordination::v1::Lease;

use crate::harness::{World, condition, mock, model_and_route};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_replica_takes_over_leadership() {
    let world = World::new("leadership").await;
    let mut first = world.operator("op-a").await;
    first.wait_fleet(|f| f["leader"] == true).await;
    let second = world.operator("op-b").await;
    let token = world.proxy_token().await;
    // The follower is listed first: it answers 503 and the proxy moves on to the leader.
    let proxy = world.proxy("p1", &[&second, &first], &token).await;
    let mock = mock().await;
    world.apply_model("before", &mock).await;
    proxy.wait_serves("before").await;
    first
        .wait_fleet(|f| f["proxies"].as_array().is_some_and(|p| p.len() == 1))
        .await;
    assert_eq!(
        second.fleet().await["leader"],
        false,
        "one leader at a time"
    );
    assert!(
        second
            .metrics()
            .await
            .contains("switchyard_operator_channel_refusals_total{reason=\"not-leader\"}")
    );

    first.kill();
    second.wait_fleet(|f| f["leader"] == true).await;
    let leases: kube::Api<Lease> = world.namespace.api();
    let lease = leases.get(&world.lease_name()).await.unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("op-b"));
    assert!(spec.lease_transitions.unwrap_or(0) >= 1);

    // The new leader serves the proxy and writes status.
    second
        .wait_fleet(|f| f["proxies"].as_array().is_some_and(|p| p.len() == 1))
        .await;
    world
        .kubectl_apply(&model_and_route("after", &mock, "key"))
        .await;
    proxy.wait_serves("after").await;
    let route = world
        .wait_condition("airoutes", "after", "Programmed", "True")
        .await;
    assert_eq!(
        condition(&route, "Programmed")["message"],
        "served by all 1 connected proxies"
    );
    proxy.wait_serves("before").await;
}
