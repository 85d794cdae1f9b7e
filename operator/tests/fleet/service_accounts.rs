//! Service-account tokens minted by the real API server, verified by real proxies with the
//! issuer and keys the operator read from the API server's OIDC discovery.

use std::time::Duration;

use crate::harness::{PATIENCE, World, condition, mock, model_and_route, secret};

const AUDIENCE: &str = "switchyard-clients";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_account_tokens_are_verified_with_the_keys_the_operator_read_from_the_cluster() {
    let world = World::new("service-accounts").await;
    let namespace = world.namespace.name().to_owned();
    let operator = world.operator("op-0").await;
    let proxy = world
        .proxy("p1", &[&operator], &world.proxy_token().await)
        .await;
    world.service_account("caller").await;
    world.service_account("stranger").await;

    let mock = mock().await;
    let policy = format!(
        "apiVersion: switchyard.dev/v1alpha1
kind: AIPolicy
metadata: {{name: callers}}
spec:
  targetRefs: [{{kind: AIRoute, name: m1}}]
  authentication:
    serviceAccounts:
      audiences: [{AUDIENCE}]
      allow: [{{namespace: {namespace}, name: caller}}]
"
    );
    let manifests = [
        secret("key", "key-1"),
        model_and_route("m1", &mock, "key"),
        policy,
    ];
    world.kubectl_apply(&manifests.join("---\n")).await;

    // The policy is usable: the operator knew the cluster's issuer when it compiled it.
    let policy = world
        .wait_condition("aipolicies", "callers", "Programmed", "True")
        .await;
    for kind in ["Accepted", "ResolvedRefs"] {
        let condition = condition(&policy, kind);
        assert_eq!(condition["status"], "True", "{condition}");
    }
    let conditions = policy["status"]["conditions"].to_string();
    assert!(
        !conditions.contains("ServiceAccountIssuerUnknown"),
        "{conditions}\n{}",
        operator.log()
    );

    // The allowed account, with a token for the policy's audience, gets through.
    let token = world.token("caller", AUDIENCE).await;
    let mut last = (0, String::new());
    for _ in 0..(PATIENCE.as_millis() / 100) {
        last = proxy.chat_as("m1", &token).await;
        if last.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last.0, 200, "{last:?}\n{}\n{}", proxy.log(), operator.log());
    assert_eq!(
        mock.requests()[0].header("authorization"),
        Some("Bearer key-1"),
        "the provider sees the model's key, never the caller's token"
    );

    // No token, or the same account's token for another audience: not authenticated.
    let (status, body) = proxy.chat("m1").await;
    assert_eq!(status, 401, "{body}");
    let elsewhere = world.token("caller", "somewhere-else").await;
    let (status, body) = proxy.chat_as("m1", &elsewhere).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("audience"), "the refusal says why: {body}");

    // A valid token of an account the policy does not allow: known, but forbidden.
    let stranger = world.token("stranger", AUDIENCE).await;
    let (status, body) = proxy.chat_as("m1", &stranger).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains(&format!("system:serviceaccount:{namespace}:stranger")),
        "{body}"
    );

    // The issuer was read without errors, as the chart's service account.
    let metrics = operator.metrics().await;
    assert!(
        !metrics.contains("reconcile_errors_total{kind=\"issuer\"}"),
        "{metrics}"
    );
}
