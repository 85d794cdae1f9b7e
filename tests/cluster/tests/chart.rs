//! The Helm chart against the real API server: lint, render with every optional feature,
//! server-side dry runs, install and upgrade, the values schema, and the proxy service
//! account's (absent) permissions. The operator's own RBAC is exercised by the operator's
//! end-to-end tests, which run it as the chart's service account.

// Helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{path::PathBuf, process::Stdio};

use k8s_openapi::api::core::v1::Secret;
use switchyard_test_cluster::{TestCluster, TestNamespace};
use tokio::io::AsyncWriteExt;

fn chart() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../charts/switchyard")
}

/// Every optional feature on at once.
const EVERYTHING: &[&str] = &[
    "networkPolicy.enabled=true",
    "networkPolicy.clients[0].namespaceSelector.matchLabels.team=ml",
    "metrics.serviceMonitor.enabled=true",
    "tls.mode=certManager",
    "tls.certManager.issuerRef.name=internal-ca",
    "tls.certManager.issuerRef.kind=ClusterIssuer",
    "operator.watchNamespace=models",
    "operator.replicas=3",
    "proxy.autoscaling.enabled=false",
    "proxy.replicas=4",
    "proxy.service.type=LoadBalancer",
    "proxy.topologySpread=false",
    "redis.existingSecret=redis-credentials",
];

struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

async fn run(mut command: tokio::process::Command, stdin: Option<&str>) -> Output {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).await.unwrap();
    }
    drop(input);
    let output = child.wait_with_output().await.unwrap();
    Output {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

async fn helm(cluster: &TestCluster, args: &[&str]) -> Output {
    let mut command = cluster.helm().unwrap();
    command.args(args);
    run(command, None).await
}

async fn template(cluster: &TestCluster, release: &str, namespace: &str, sets: &[&str]) -> Output {
    let chart = chart();
    let mut args = vec![
        "template",
        release,
        chart.to_str().unwrap(),
        "--namespace",
        namespace,
    ];
    for set in sets {
        args.extend(["--set", set]);
    }
    helm(cluster, &args).await
}

async fn kubectl(cluster: &TestCluster, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = cluster.kubectl().unwrap();
    command.args(args);
    run(command, stdin).await
}

#[tokio::test]
async fn the_chart_lints_clean() {
    let cluster = TestCluster::shared().await.unwrap();
    for sets in [&[][..], EVERYTHING] {
        let chart = chart();
        let mut args = vec!["lint", "--strict", chart.to_str().unwrap()];
        for set in sets {
            args.extend(["--set", set]);
        }
        let lint = helm(cluster, &args).await;
        assert!(lint.ok, "{}{}", lint.stdout, lint.stderr);
    }
}

#[tokio::test]
async fn every_rendering_is_accepted_by_the_api_server() {
    let cluster = TestCluster::shared().await.unwrap();
    let crds = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/third-party-crds.yaml"),
    )
    .unwrap();
    let installed = kubectl(cluster, &["apply", "--server-side", "-f", "-"], Some(&crds)).await;
    assert!(installed.ok, "{}", installed.stderr);
    let established = kubectl(
        cluster,
        &[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/servicemonitors.monitoring.coreos.com",
            "crd/certificates.cert-manager.io",
        ],
        None,
    )
    .await;
    assert!(established.ok, "{}", established.stderr);

    for (name, sets) in [("defaults", &[][..]), ("everything", EVERYTHING)] {
        let namespace = cluster.namespace(&format!("chart-{name}")).await.unwrap();
        let rendered = template(cluster, namespace.name(), namespace.name(), sets).await;
        assert!(rendered.ok, "{name}: {}", rendered.stderr);
        let kinds: Vec<&str> = rendered
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("kind: "))
            .collect();
        for expected in [
            "Deployment",
            "Service",
            "ServiceAccount",
            "ClusterRole",
            "Role",
            "PodDisruptionBudget",
        ] {
            assert!(
                kinds.contains(&expected),
                "{name}: no {expected} in {kinds:?}"
            );
        }
        if name == "everything" {
            for expected in ["NetworkPolicy", "ServiceMonitor", "Certificate"] {
                assert!(
                    kinds.contains(&expected),
                    "{name}: no {expected} in {kinds:?}"
                );
            }
            assert!(
                !kinds.contains(&"HorizontalPodAutoscaler"),
                "autoscaling is off"
            );
        } else {
            assert!(kinds.contains(&"HorizontalPodAutoscaler"));
            assert!(
                kinds.contains(&"Secret"),
                "the generated channel certificate"
            );
        }
        let dry_run = kubectl(
            cluster,
            &[
                "apply",
                "--dry-run=server",
                "--server-side",
                "-n",
                namespace.name(),
                "-f",
                "-",
            ],
            Some(&rendered.stdout),
        )
        .await;
        assert!(
            dry_run.ok,
            "{name}: {}\n{}",
            dry_run.stderr, rendered.stdout
        );
    }
}

#[tokio::test]
async fn wrong_values_are_refused_with_a_readable_message() {
    let cluster = TestCluster::shared().await.unwrap();
    let cases = [
        ("proxy.replicas=0", "/proxy/replicas"),
        ("proxy.accessLog=file", "stdout"),
        ("proxy.bogus=1", "bogus"),
        ("tls.mode=selfsigned", "/tls/mode"),
        ("proxy.service.port=70000", "/proxy/service/port"),
        ("operator.logFormat=xml", "/operator/logFormat"),
        ("tls.mode=secret", "tls.existingSecret is required"),
        (
            "tls.mode=certManager",
            "tls.certManager.issuerRef.name is required",
        ),
    ];
    for (set, expected) in cases {
        let rendered = template(cluster, "bad", "default", &[set]).await;
        assert!(!rendered.ok, "{set} was accepted");
        assert!(
            rendered.stderr.contains(expected),
            "{set}: {}",
            rendered.stderr
        );
    }
}

#[tokio::test]
async fn install_and_upgrade_keep_the_channel_certificate() {
    let Some(cluster) = TestCluster::shared_with_workloads_or_skip().await.unwrap() else {
        return;
    };
    let namespace = cluster.namespace("chart-install").await.unwrap();
    let release = namespace.name().to_owned();
    let chart = chart();
    let chart = chart.to_str().unwrap();
    let install = helm(
        cluster,
        &[
            "install",
            &release,
            chart,
            // The harness applied the same CRDs under its own field manager; helm takes
            // them over.
            "--force-conflicts",
            "--namespace",
            namespace.name(),
            "--wait",
            "--timeout",
            "180s",
        ],
    )
    .await;
    assert!(install.ok, "{}{}", install.stdout, install.stderr);
    assert!(
        install.stdout.contains("Call the gateway from any pod"),
        "NOTES: {}",
        install.stdout
    );
    let secret_name = format!("{release}-switchyard-channel-tls");
    let before = channel_secret(&namespace, &secret_name).await;

    let upgrade = helm(
        cluster,
        &[
            "upgrade",
            &release,
            chart,
            "--namespace",
            namespace.name(),
            "--wait",
            "--timeout",
            "180s",
            "--set",
            "proxy.autoscaling.enabled=false",
            "--set",
            "proxy.replicas=3",
        ],
    )
    .await;
    assert!(upgrade.ok, "{}{}", upgrade.stdout, upgrade.stderr);
    let after = channel_secret(&namespace, &secret_name).await;
    assert_eq!(
        before, after,
        "an upgrade keeps the generated certificate and CA"
    );
    let deployment = kubectl(
        cluster,
        &[
            "get",
            "deployment",
            &format!("{release}-switchyard-proxy"),
            "-n",
            namespace.name(),
            "-o",
            "jsonpath={.spec.replicas}",
        ],
        None,
    )
    .await;
    assert_eq!(deployment.stdout, "3");

    let uninstall = helm(
        cluster,
        &[
            "uninstall",
            &release,
            "--namespace",
            namespace.name(),
            "--wait",
        ],
    )
    .await;
    assert!(uninstall.ok, "{}", uninstall.stderr);
    let crds = kubectl(cluster, &["get", "crd", "airoutes.switchyard.dev"], None).await;
    assert!(crds.ok, "CRDs stay after uninstall");
}

async fn channel_secret(namespace: &TestNamespace, name: &str) -> Vec<(String, Vec<u8>)> {
    let secret = namespace.api::<Secret>().get(name).await.unwrap();
    let mut data: Vec<(String, Vec<u8>)> = secret
        .data
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    data.sort();
    assert_eq!(
        data.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["ca.crt", "tls.crt", "tls.key"]
    );
    data
}

#[tokio::test]
async fn the_proxy_service_account_may_do_nothing() {
    let cluster = TestCluster::shared().await.unwrap();
    let namespace = cluster.namespace("chart-proxy-rbac").await.unwrap();
    let rendered = template(cluster, namespace.name(), namespace.name(), &[]).await;
    assert!(rendered.ok, "{}", rendered.stderr);
    let applied = kubectl(
        cluster,
        &["apply", "--server-side", "-n", namespace.name(), "-f", "-"],
        Some(&rendered.stdout),
    )
    .await;
    assert!(applied.ok, "{}", applied.stderr);
    let proxy = format!(
        "system:serviceaccount:{}:{}-switchyard-proxy",
        namespace.name(),
        namespace.name()
    );
    let listed = can_i(cluster, &proxy, namespace.name(), &["--list"]).await;
    assert!(listed.ok, "{}", listed.stderr);
    // What every authenticated user may do: ask who it is and what it may do, and read
    // discovery and health URLs. Anything else would be a permission the chart granted.
    let defaults = [
        "selfsubjectreviews.authentication.k8s.io",
        "selfsubjectaccessreviews.authorization.k8s.io",
        "selfsubjectrulesreviews.authorization.k8s.io",
    ];
    for line in listed.stdout.lines().skip(1) {
        // Non-resource URL rows have an empty first column.
        let non_resource = line.starts_with(' ');
        let resource = line.split_whitespace().next().unwrap_or_default();
        assert!(
            defaults.contains(&resource) || non_resource,
            "the proxy may {line:?}:\n{}",
            listed.stdout
        );
    }
    for (verb, resource) in [
        ("get", "secrets"),
        ("list", "aimodels.switchyard.dev"),
        ("create", "tokenreviews"),
        ("get", "leases"),
        ("create", "pods"),
    ] {
        let can = can_i(cluster, &proxy, namespace.name(), &[verb, resource]).await;
        assert_eq!(can.stdout.trim(), "no", "{verb} {resource}");
    }
    // The operator may read Secrets (labelled ones, by its watch) but not write them.
    let operator = format!(
        "system:serviceaccount:{}:{}-switchyard-operator",
        namespace.name(),
        namespace.name()
    );
    for (verb, resource, subresource, allowed) in [
        ("watch", "secrets", "", "yes"),
        ("update", "secrets", "", "no"),
        ("patch", "airoutes.switchyard.dev", "status", "yes"),
        ("update", "airoutes.switchyard.dev", "", "no"),
        ("patch", "airoutes.switchyard.dev", "", "no"),
    ] {
        let subresource = format!("--subresource={subresource}");
        let can = can_i(
            cluster,
            &operator,
            namespace.name(),
            &[verb, resource, &subresource],
        )
        .await;
        assert_eq!(
            can.stdout.trim(),
            allowed,
            "operator {verb} {resource} {subresource}"
        );
    }
    // The operator reads the service-account issuer by its own rule, not only through
    // Kubernetes' default binding of system:service-account-issuer-discovery to every service
    // account (a cluster may remove it): impersonating without the service-account groups
    // leaves the chart's rule as the only grant.
    for url in ["/.well-known/openid-configuration", "/openid/v1/jwks"] {
        for (user, allowed) in [(&operator, "yes"), (&proxy, "no")] {
            let can = can_i(
                cluster,
                user,
                namespace.name(),
                &["get", url, "--as-group=system:authenticated"],
            )
            .await;
            assert_eq!(
                can.stdout.trim(),
                allowed,
                "{user} get {url}: {}",
                can.stderr
            );
        }
    }
}

/// `kubectl auth can-i ARGS --as USER -n NAMESPACE`.
async fn can_i(cluster: &TestCluster, user: &str, namespace: &str, args: &[&str]) -> Output {
    let mut all = vec!["auth", "can-i"];
    all.extend_from_slice(args);
    all.extend(["--as", user, "-n", namespace]);
    kubectl(cluster, &all, None).await
}
