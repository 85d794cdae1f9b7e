//! One test's world: a namespace on the shared real API server with the chart's service
//! accounts and operator RBAC (from `helm template`), TLS files for the config channel, the
//! operator binary running as the chart's service account, real proxy processes with tokens
//! minted by the API server, and the mock provider in process.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use k8s_openapi::api::{
    authentication::v1::{TokenRequest, TokenRequestSpec},
    core::v1::ServiceAccount,
};
use kube::api::{Api, DynamicObject, PostParams};
use serde_json::Value;
use switchyard_mock_provider::{MockConfig, MockProvider};
use switchyard_test_cluster::{TestCluster, TestNamespace};
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;

/// How long anything may take on a slow, shared machine before a test gives up.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A mock provider that accepts any key (so tests can see which one arrives).
pub async fn mock() -> MockProvider {
    let config = MockConfig {
        api_key: None,
        ..MockConfig::default()
    };
    MockProvider::start(config).await.unwrap()
}

/// One test's namespace, files and identities.
pub struct World {
    pub cluster: &'static TestCluster,
    pub namespace: TestNamespace,
    release: String,
    dir: TempDir,
    operator_kubeconfig: PathBuf,
}

impl World {
    /// A namespace with the chart's service accounts and operator RBAC, and TLS files.
    pub async fn new(test: &str) -> World {
        let cluster = TestCluster::shared().await.unwrap();
        let namespace = cluster.namespace(test).await.unwrap();
        let release = namespace.name().to_owned();
        let dir = tempfile::tempdir().unwrap();
        let world = World {
            cluster,
            operator_kubeconfig: PathBuf::new(),
            namespace,
            release,
            dir,
        };
        let rendered = world
            .helm_template(&[
                "templates/serviceaccounts.yaml",
                "templates/operator-rbac.yaml",
            ])
            .await;
        world.kubectl_apply(&rendered).await;
        let operator_kubeconfig = cluster
            .kubeconfig_as_service_account(world.namespace.name(), &world.operator_account())
            .unwrap();
        world.write_tls();
        World {
            operator_kubeconfig,
            ..world
        }
    }

    /// The chart's objects named in `templates`, rendered for this namespace.
    async fn helm_template(&self, templates: &[&str]) -> String {
        let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/switchyard");
        let mut helm = self.cluster.helm().unwrap();
        helm.args(["template", &self.release])
            .arg(&chart)
            .args(["--namespace", self.namespace.name()]);
        for template in templates {
            helm.args(["--show-only", template]);
        }
        let output = helm.output().await.unwrap();
        assert!(
            output.status.success(),
            "helm template: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// `kubectl apply --server-side` of `yaml` into this namespace, as the admin.
    pub async fn kubectl_apply(&self, yaml: &str) {
        let mut kubectl = self.cluster.kubectl().unwrap();
        kubectl
            .args(["apply", "--server-side", "--force-conflicts", "-n"])
            .arg(self.namespace.name())
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = kubectl.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(yaml.as_bytes()).await.unwrap();
        drop(stdin);
        let output = child.wait_with_output().await.unwrap();
        assert!(
            output.status.success(),
            "kubectl apply: {}\n{yaml}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// `kubectl delete` of one object in this namespace.
    pub async fn kubectl_delete(&self, kind: &str, name: &str) {
        let output = self
            .cluster
            .kubectl()
            .unwrap()
            .args(["delete", kind, name, "-n", self.namespace.name()])
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The operator's service account, as the chart names it.
    pub fn operator_account(&self) -> String {
        format!("{}-switchyard-operator", self.release)
    }

    /// The proxies' service account, as the chart names it.
    pub fn proxy_account(&self) -> String {
        format!("{}-switchyard-proxy", self.release)
    }

    /// A token for service account `account` bound to `audience`, minted by the API server.
    pub async fn token(&self, account: &str, audience: &str) -> String {
        let api: Api<ServiceAccount> = self.namespace.api();
        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                audiences: Some(vec![audience.to_owned()]),
                expiration_seconds: Some(3600),
                ..TokenRequestSpec::default()
            }),
            ..TokenRequest::default()
        };
        let minted = api
            .create_token_request(account, &PostParams::default(), &request)
            .await
            .unwrap();
        minted.status.unwrap().token.unwrap()
    }

    /// A token of the proxies' service account for the channel's audience.
    pub async fn proxy_token(&self) -> String {
        self.token(&self.proxy_account(), "switchyard").await
    }

    /// Applies the usual start: Secret `key` (holding `key-1`), a policy letting anyone in,
    /// and model and route `name` at `mock`.
    pub async fn apply_model(&self, name: &str, mock: &MockProvider) {
        let manifests = [
            secret("key", "key-1"),
            ANYONE.to_owned(),
            model_and_route(name, mock, "key"),
        ];
        self.kubectl_apply(&manifests.join("---\n")).await;
    }

    /// Creates a service account with no permissions (an intruder's identity).
    pub async fn service_account(&self, name: &str) {
        let api: Api<ServiceAccount> = self.namespace.api();
        let account = ServiceAccount {
            metadata: kube::api::ObjectMeta {
                name: Some(name.to_owned()),
                ..Default::default()
            },
            ..ServiceAccount::default()
        };
        api.create(&PostParams::default(), &account).await.unwrap();
    }

    fn write_tls(&self) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "switchyard test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        std::fs::write(self.file("ca.crt"), ca.pem()).unwrap();
        std::fs::write(self.file("tls.crt"), cert.pem()).unwrap();
        std::fs::write(self.file("tls.key"), key.serialize_pem()).unwrap();
    }

    /// A path in this test's temp dir.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The container arguments the chart gives `template`'s only container, as
    /// `(flag, value)` pairs, so the tests run the binaries the way the chart does.
    async fn chart_args(&self, template: &str) -> Vec<(String, String)> {
        self.helm_template(&[template])
            .await
            .lines()
            .filter_map(|line| line.trim().strip_prefix("- --"))
            .filter_map(|arg| arg.split_once('='))
            .map(|(flag, value)| (format!("--{flag}"), value.to_owned()))
            .collect()
    }

    /// The chart's arguments with `overrides` replacing values of the same flag (each
    /// override must name a flag the chart sets) and `extra` appended.
    async fn args(
        &self,
        template: &str,
        overrides: &[(&str, String)],
        extra: &[(&str, String)],
    ) -> Vec<String> {
        let mut args = self.chart_args(template).await;
        for (flag, value) in overrides {
            let found = args.iter_mut().find(|(f, _)| f == flag);
            let found =
                found.unwrap_or_else(|| panic!("the chart no longer sets {flag} in {template}"));
            found.1.clone_from(value);
        }
        args.extend(extra.iter().map(|(f, v)| ((*f).to_owned(), v.clone())));
        args.into_iter()
            .map(|(flag, value)| format!("{flag}={value}"))
            .collect()
    }

    /// Starts an operator replica named `identity`, running as the chart's service account
    /// with the chart's arguments (addresses, certificate paths and Lease timing changed).
    pub async fn operator(&self, identity: &str) -> Operator {
        let [admin, channel] = free_ports();
        let mut operator = Operator {
            child: None,
            identity: identity.to_owned(),
            admin,
            channel,
            log: self.file(&format!("operator-{identity}.log")),
        };
        self.start_operator(&mut operator).await;
        operator
    }

    /// Starts `operator` again on its ports (after [`Operator::kill`]).
    pub async fn start_operator(&self, operator: &mut Operator) {
        let overrides = [
            ("--channel-addr", format!("127.0.0.1:{}", operator.channel)),
            ("--admin-addr", format!("127.0.0.1:{}", operator.admin)),
            ("--tls-cert", self.file("tls.crt").display().to_string()),
            ("--tls-key", self.file("tls.key").display().to_string()),
            ("--lease-duration-seconds", "3".to_owned()),
            ("--log-format", "text".to_owned()),
        ];
        let extra = [
            ("--watch-namespace", self.namespace.name().to_owned()),
            ("--lease-retry-ms", "300".to_owned()),
            ("--identity", operator.identity.clone()),
        ];
        let args = self
            .args("templates/operator-deployment.yaml", &overrides, &extra)
            .await;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&operator.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_switchyard-operator"))
            .env("KUBECONFIG", &self.operator_kubeconfig)
            // SWITCHYARD_TEST_OPERATOR_LOG overrides the filter when a test needs digging into.
            .env(
                "RUST_LOG",
                std::env::var("SWITCHYARD_TEST_OPERATOR_LOG").unwrap_or("info,kube=warn".into()),
            )
            .env("NO_COLOR", "1")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        operator.child = Some(child);
        operator.wait_healthy().await;
    }

    /// The leader Lease's name, as the chart sets it.
    pub fn lease_name(&self) -> String {
        format!("{}-switchyard-operator", self.release)
    }

    /// Starts a proxy named `name` connected to `operators` with `token`, with the chart's
    /// arguments (addresses and in-pod paths changed).
    pub async fn proxy(&self, name: &str, operators: &[&Operator], token: &str) -> Proxy {
        let token_file = self.file(&format!("token-{name}"));
        std::fs::write(&token_file, token).unwrap();
        let [listen, admin] = free_ports();
        let log = self.file(&format!("proxy-{name}.log"));
        let binary =
            Path::new(env!("CARGO_BIN_EXE_switchyard-operator")).with_file_name("switchyard-proxy");
        assert!(
            binary.exists(),
            "{} is missing: build it with `cargo build -p switchyard-proxy` (cargo test --workspace does)",
            binary.display()
        );
        let urls: Vec<String> = operators.iter().map(|o| o.channel_url()).collect();
        let overrides = [
            ("--operator-url", urls.join(",")),
            ("--operator-ca", self.file("ca.crt").display().to_string()),
            ("--operator-token-file", token_file.display().to_string()),
            (
                "--snapshot-cache",
                self.file(&format!("snapshot-{name}.json"))
                    .display()
                    .to_string(),
            ),
            ("--listen", format!("127.0.0.1:{listen}")),
            ("--admin-listen", format!("127.0.0.1:{admin}")),
            ("--access-log", "off".to_owned()),
            ("--log-format", "text".to_owned()),
        ];
        let extra = [
            ("--operator-boot-timeout-seconds", "1".to_owned()),
            ("--proxy-name", name.to_owned()),
            ("--threads", "1".to_owned()),
        ];
        let args = self
            .args("templates/proxy-deployment.yaml", &overrides, &extra)
            .await;
        let child = Command::new(binary)
            .args(&args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let proxy = Proxy {
            child,
            listen,
            admin,
            log,
        };
        proxy.wait_up().await;
        proxy
    }

    /// One object of this namespace as JSON (`kind` is the plural, e.g. `airoutes`).
    pub async fn object(&self, plural: &str, name: &str) -> Value {
        serde_json::to_value(self.api(plural).get(name).await.unwrap()).unwrap()
    }

    /// An admin `Api` for one of Switchyard's kinds in this namespace, by plural.
    pub fn api(&self, plural: &str) -> Api<DynamicObject> {
        let resource = kube::api::ApiResource {
            group: "switchyard.dev".into(),
            version: "v1alpha1".into(),
            api_version: "switchyard.dev/v1alpha1".into(),
            kind: String::new(),
            plural: plural.into(),
        };
        Api::namespaced_with(
            self.namespace.client().clone(),
            self.namespace.name(),
            &resource,
        )
    }

    /// Waits until condition `kind` of the object is `status`; returns the object.
    pub async fn wait_condition(
        &self,
        plural: &str,
        name: &str,
        kind: &str,
        status: &str,
    ) -> Value {
        self.wait_object(plural, name, |object| {
            condition(object, kind)["status"] == status
        })
        .await
    }

    /// Waits until the object satisfies `done`; returns it.
    pub async fn wait_object(
        &self,
        plural: &str,
        name: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let mut object = Value::Null;
        for _ in 0..(PATIENCE.as_millis() / 100) {
            object = self.object(plural, name).await;
            if done(&object) {
                return object;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{plural}/{name} never reached the expected state: {:#}",
            object["status"]
        );
    }
}

/// Condition `kind` of an object (Null when absent).
pub fn condition(object: &Value, kind: &str) -> Value {
    object["status"]["conditions"]
        .as_array()
        .and_then(|conditions| conditions.iter().find(|c| c["type"] == kind))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Free TCP ports on localhost (released before use, so a rare race is possible).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}

/// An operator process.
pub struct Operator {
    child: Option<Child>,
    identity: String,
    admin: u16,
    channel: u16,
    log: PathBuf,
}

impl Operator {
    /// The process id (0 once killed).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The config channel's URL.
    pub fn channel_url(&self) -> String {
        format!("https://localhost:{}", self.channel)
    }

    /// An admin path's URL.
    pub fn admin(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.admin)
    }

    async fn wait_healthy(&self) {
        for _ in 0..(PATIENCE.as_millis() / 100) {
            if let Ok(response) = reqwest::get(self.admin("/healthz")).await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the operator never became healthy:\n{}", self.log());
    }

    /// `/fleet` as JSON.
    pub async fn fleet(&self) -> Value {
        reqwest::get(self.admin("/fleet"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `/metrics` as text.
    pub async fn metrics(&self) -> String {
        reqwest::get(self.admin("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Waits until `/fleet` satisfies `done`.
    pub async fn wait_fleet(&self, done: impl Fn(&Value) -> bool) -> Value {
        let mut fleet = Value::Null;
        for _ in 0..(PATIENCE.as_millis() / 100) {
            if let Ok(response) = reqwest::get(self.admin("/fleet")).await
                && let Ok(value) = response.json::<Value>().await
            {
                fleet = value;
                if done(&fleet) {
                    return fleet;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the fleet never reached the expected state: {fleet}\n{}",
            self.log()
        );
    }

    /// The operator's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no chance to release the Lease or close streams.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A proxy process.
pub struct Proxy {
    child: Child,
    listen: u16,
    admin: u16,
    log: PathBuf,
}

impl Proxy {
    /// A URL on the serving port.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.listen)
    }

    /// A URL on the admin port.
    pub fn admin(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.admin)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn wait_up(&self) {
        for _ in 0..(PATIENCE.as_millis() / 100) {
            if reqwest::get(self.admin("/healthz")).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the proxy never came up:\n{}", self.log());
    }

    /// A chat completion for `model`: the status and the body.
    pub async fn chat(&self, model: &str) -> (u16, String) {
        self.chat_with(model, None).await
    }

    /// A chat completion for `model` sent with `Authorization: Bearer TOKEN`.
    pub async fn chat_as(&self, model: &str, token: &str) -> (u16, String) {
        self.chat_with(model, Some(token)).await
    }

    async fn chat_with(&self, model: &str, token: Option<&str>) -> (u16, String) {
        let body = serde_json::json!({
            "model": model,
            "messages": [{"role": "user", "content": "hello from the fleet"}],
        });
        let mut request = reqwest::Client::new()
            .post(self.url("/v1/chat/completions"))
            .json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.text().await.unwrap_or_default())
            }
            Err(error) => (0, error.to_string()),
        }
    }

    /// Waits until `model` is served with 200; returns how long it took.
    pub async fn wait_serves(&self, model: &str) -> Duration {
        self.wait_serves_or(model, String::new).await
    }

    /// [`Proxy::wait_serves`], adding `context()` (another process's log) to a failure.
    pub async fn wait_serves_or(&self, model: &str, context: impl Fn() -> String) -> Duration {
        let started = std::time::Instant::now();
        let mut last = (0, String::new());
        for _ in 0..(PATIENCE.as_millis() / 20) {
            last = self.chat(model).await;
            if last.0 == 200 {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "{model} was never served: {last:?}\n{}\n{}",
            self.log(),
            context()
        );
    }

    /// `/config` as JSON.
    pub async fn config(&self) -> Value {
        reqwest::get(self.admin("/config"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `/readyz` status code.
    pub async fn ready_status(&self) -> u16 {
        reqwest::get(self.admin("/readyz"))
            .await
            .map_or(0, |r| r.status().as_u16())
    }

    /// The proxy's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Manifests for one model `name` at `mock` with the key in Secret `secret`, a route for
/// public name `name`, and (once per namespace) an anonymous policy.
pub fn model_and_route(name: &str, mock: &MockProvider, secret: &str) -> String {
    format!(
        "apiVersion: switchyard.dev/v1alpha1
kind: AIModel
metadata: {{name: {name}}}
spec:
  provider: openai-compatible
  model: {name}
  endpoint: {base}/v1
  credentials: {{secretRef: {{name: {secret}, key: apiKey}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: AIRoute
metadata: {{name: {name}}}
spec:
  models: [{name}]
  backends: [{{modelRef: {{name: {name}}}}}]
",
        base = mock.base_url()
    )
}

/// A labelled Secret holding `key` as `apiKey`.
pub fn secret(name: &str, key: &str) -> String {
    format!(
        "apiVersion: v1
kind: Secret
metadata:
  name: {name}
  labels: {{switchyard.dev/secret: \"true\"}}
stringData: {{apiKey: {key}}}
"
    )
}

/// A policy letting anyone in the namespace call every route.
pub const ANYONE: &str = "apiVersion: switchyard.dev/v1alpha1
kind: AIPolicy
metadata: {name: anyone}
spec:
  targetRefs: [{kind: Namespace}]
  authentication: {anonymous: true}
";
