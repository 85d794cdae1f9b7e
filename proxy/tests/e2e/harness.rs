//! Setup as a small DSL: manifests built from a few calls, the proxy binary started on free
//! ports and waited for, and the mock provider in process.

use std::{
    fmt::Write as _,
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command},
    time::Duration,
};

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;
use switchyard_mock_provider::{Behavior, MockConfig, MockProvider};
use tempfile::TempDir;
use tokio_rustls::TlsAcceptor;

/// A mock provider that takes the `mock-key` credential.
pub async fn mock() -> MockProvider {
    MockProvider::start(MockConfig::default()).await.unwrap()
}

/// A mock that answers with `behavior` unless told otherwise.
pub async fn mock_with(behavior: Behavior) -> MockProvider {
    let mock = mock().await;
    mock.set_behavior(behavior);
    mock
}

/// Manifests for one proxy: a Secret with the mock's key, an anonymous policy, and whatever
/// models and routes a test adds.
#[derive(Clone, Debug)]
pub struct Manifests(pub String);

impl Default for Manifests {
    fn default() -> Self {
        Self(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: mock}\nstringData: {apiKey: mock-key}\n---\n\
             apiVersion: switchyard.dev/v1alpha1\nkind: AIPolicy\nmetadata: {name: anyone}\n\
             spec:\n  targetRefs: [{kind: Namespace}]\n  authentication: {anonymous: true}\n"
                .to_owned(),
        )
    }
}

impl Manifests {
    /// Adds an openai-compatible AIModel named `name` served by `mock` as model id `name`.
    pub fn model(self, name: &str, mock: &MockProvider) -> Self {
        self.model_with(name, mock, "openai-compatible", "")
    }

    /// Adds an AIModel with a provider and extra spec lines (indented two spaces).
    pub fn model_with(
        mut self,
        name: &str,
        mock: &MockProvider,
        provider: &str,
        extra: &str,
    ) -> Self {
        let _ = write!(
            self.0,
            "---\napiVersion: switchyard.dev/v1alpha1\nkind: AIModel\nmetadata: {{name: {name}}}\nspec:\n  provider: {provider}\n  model: {name}\n  endpoint: {}/v1\n  credentials: {{secretRef: {{name: mock, key: apiKey}}}}\n  pricing: {{input: \"2\", output: \"8\", cachedInput: \"1\"}}\n{extra}",
            mock.base_url()
        );
        self
    }

    /// Adds an AIRoute `name` serving public model `public` from `backends`, with extra spec
    /// lines (indented two spaces).
    pub fn route(mut self, public: &str, backends: &[&str], extra: &str) -> Self {
        let name = public.replace(['*', '.'], "x");
        let backends: String = backends
            .iter()
            .map(|b| format!("    - modelRef: {{name: {b}}}\n"))
            .collect();
        let _ = write!(
            self.0,
            "---\napiVersion: switchyard.dev/v1alpha1\nkind: AIRoute\nmetadata: {{name: {name}}}\nspec:\n  models: [\"{public}\"]\n  backends:\n{backends}{extra}"
        );
        self
    }

    /// Appends raw manifest text.
    pub fn raw(mut self, text: &str) -> Self {
        self.0.push_str(text);
        self
    }

    /// The manifest text.
    pub fn text(&self) -> &str {
        &self.0
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `switchyard-proxy` process, killed on drop.
pub struct Proxy {
    child: Child,
    port: u16,
    admin_port: u16,
    config: PathBuf,
    log: PathBuf,
    _dir: TempDir,
}

impl Proxy {
    /// Starts the proxy on `manifests` and waits until it is ready.
    pub async fn start(manifests: &Manifests) -> Self {
        Self::start_with(manifests, &[]).await
    }

    /// Starts the proxy with extra flags. Ports are picked free and then handed over, so
    /// another process can take one in between: a proxy that exits at start is started again
    /// on other ports.
    pub async fn start_with(manifests: &Manifests, flags: &[&str]) -> Self {
        Self::start_with_env(manifests, flags, &[]).await
    }

    /// Starts the proxy with extra flags and environment variables.
    pub async fn start_with_env(
        manifests: &Manifests,
        flags: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        Self::launch(Some(manifests), flags, env, true).await
    }

    /// Starts the proxy in operator mode; `flags` name the operator (`--operator-url`, …).
    /// With `ready`, waits until it serves a snapshot; otherwise only until its admin listener
    /// answers.
    pub async fn start_operator(flags: &[&str], ready: bool) -> Self {
        Self::launch(None, flags, &[], ready).await
    }

    async fn launch(
        manifests: Option<&Manifests>,
        flags: &[&str],
        env: &[(&str, &str)],
        ready: bool,
    ) -> Self {
        for _ in 0..3 {
            let mut proxy = Self::spawn(manifests, flags, env);
            if proxy.wait_up(ready).await {
                return proxy;
            }
            if proxy.child.try_wait().unwrap().is_none() {
                panic!("proxy did not come up in 60 s:\n{}", proxy.log());
            }
        }
        panic!("the proxy exited at start three times");
    }

    fn spawn(manifests: Option<&Manifests>, flags: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("switchyard.yaml");
        let log = dir.path().join("proxy.log");
        let (port, admin_port) = (free_port(), free_port());
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard-proxy"));
        if let Some(manifests) = manifests {
            std::fs::write(&config, manifests.text()).unwrap();
            command.arg("--config").arg(&config);
        }
        let child = command
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--admin-listen", &format!("127.0.0.1:{admin_port}")])
            .args(["--threads", "2", "--reload-interval-ms", "100"])
            .args(flags)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(std::fs::File::create(log.with_extension("access")).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Self {
            child,
            port,
            admin_port,
            config,
            log,
            _dir: dir,
        }
    }

    /// Waits until the proxy is ready (or, without `ready`, until its admin listener answers);
    /// false if it exited first.
    async fn wait_up(&mut self, ready: bool) -> bool {
        let client = reqwest::Client::new();
        let probe = if ready { "/readyz" } else { "/healthz" };
        for _ in 0..1200 {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            if let Ok(response) = client.get(self.admin(probe)).send().await
                && response.status() == 200
                && client.get(self.url("/v1/models")).send().await.is_ok()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// A URL on the API listener.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A URL on the admin listener.
    pub fn admin(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.admin_port)
    }

    /// The proxy's diagnostic log (stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The diagnostic log once it contains `text` (logs are written out in batches).
    pub async fn log_containing(&self, text: &str) -> String {
        for _ in 0..100 {
            let log = self.log();
            if log.contains(text) {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the log never said {text:?}:\n{}", self.log());
    }

    /// The proxy's access log (stdout) so far.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.log.with_extension("access")).unwrap_or_default()
    }

    /// Replaces the manifests (picked up by hot reload).
    pub fn rewrite(&self, text: &str) {
        // Write then rename, as a ConfigMap mount does, so no reader sees half a file.
        let next = self.config.with_extension("next");
        std::fs::write(&next, text).unwrap();
        std::fs::rename(&next, &self.config).unwrap();
    }

    /// `GET /config` as JSON.
    pub async fn config(&self) -> Value {
        reqwest::get(self.admin("/config"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits until `/config` satisfies `done`.
    pub async fn wait_config(&self, done: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..200 {
            let config = self.config().await;
            if done(&config) {
                return config;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "config never reached the expected state: {}",
            self.config().await
        );
    }

    /// `GET /metrics` text.
    pub async fn metrics(&self) -> String {
        reqwest::get(self.admin("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// `GET /metrics` once `done` holds for it. Metrics are recorded in Pingora's logging phase,
    /// just after the client has its response, so a test waits for them rather than races.
    pub async fn metrics_when(&self, done: impl Fn(&str) -> bool) -> String {
        for _ in 0..100 {
            let metrics = self.metrics().await;
            if done(&metrics) {
                return metrics;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.metrics().await
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, up to `limit`; returns whether it did.
    pub async fn exited_within(&mut self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A chat request body.
pub fn chat(model: &str, stream: bool) -> Value {
    serde_json::json!({
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": "hello from the test"}],
    })
}

/// Posts JSON to the proxy.
pub async fn post(proxy: &Proxy, path: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(proxy.url(path))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// A response header as text ("" when absent).
pub fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map_or("", |value| value.to_str().unwrap())
}

/// The `data:` payloads of an SSE body, in order.
pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|event| {
            event
                .lines()
                .find_map(|line| {
                    line.strip_prefix("data: ")
                        .or_else(|| line.strip_prefix("data:"))
                })
                .map(str::to_owned)
        })
        .collect()
}

/// The text a client sees: the message content of a whole OpenAI response, or the content
/// deltas of a stream joined.
pub fn answer_text(body: &str) -> String {
    if let Ok(whole) = serde_json::from_str::<Value>(body) {
        return whole["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or("")
            .to_owned();
    }
    sse_data(body)
        .iter()
        .filter_map(|event| serde_json::from_str::<Value>(event).ok())
        .filter_map(|event| {
            event["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

/// The text of an Anthropic Messages response, whole or streamed.
pub fn messages_text(body: &str) -> String {
    if let Ok(whole) = serde_json::from_str::<Value>(body) {
        return whole["content"][0]["text"]
            .as_str()
            .unwrap_or("")
            .to_owned();
    }
    sse_data(body)
        .iter()
        .filter_map(|event| serde_json::from_str::<Value>(event).ok())
        .filter(|event| event["type"] == "content_block_delta")
        .filter_map(|event| event["delta"]["text"].as_str().map(str::to_owned))
        .collect()
}

/// A CA and a certificate it signed for `127.0.0.1` and `localhost`.
pub struct Pki {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

impl Pki {
    pub fn new() -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        Self {
            ca_pem: ca_cert.pem(),
            cert: cert.der().clone(),
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }

    /// A TLS server with the certificate, offering `alpn` (empty: none).
    pub fn acceptor(&self, alpn: &[&[u8]]) -> TlsAcceptor {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![self.cert.clone()], self.key.clone_key())
            .unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        TlsAcceptor::from(Arc::new(config))
    }
}
