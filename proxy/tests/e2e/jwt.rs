//! JWT authentication through the real proxy: keys generated here (RSA, P-256, Ed25519),
//! tokens signed here, a JWKS inline or served over https by a server this test runs (which
//! rotates keys and goes down); what a caller gets for each bad token, and what a refusal
//! leaves in metrics and logs (never the token).

use std::{
    convert::Infallible,
    sync::{Arc, Mutex},
};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, body::Incoming, service::service_fn};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::{net::TcpListener, task::JoinHandle};

use crate::{
    harness::{Manifests, Pki, Proxy, chat, mock},
    signing::{SigningKey, claims, jwks, now, unsigned},
};

const ISS: &str = "https://login.example.com";
const AUD: &str = "switchyard";

/// A JWKS served over https on a loopback port; its document can be replaced and the server
/// stopped.
struct JwksServer {
    doc: Arc<Mutex<String>>,
    fetches: Arc<Mutex<u32>>,
    port: u16,
    ca_file: tempfile::NamedTempFile,
    task: JoinHandle<()>,
}

impl JwksServer {
    async fn start(doc: String) -> Self {
        let pki = Pki::new();
        let acceptor = pki.acceptor(&[b"http/1.1"]);
        let ca_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(ca_file.path(), &pki.ca_pem).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let doc = Arc::new(Mutex::new(doc));
        let fetches = Arc::new(Mutex::new(0));
        let (served, counted) = (Arc::clone(&doc), Arc::clone(&fetches));
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (acceptor, served, counted) =
                    (acceptor.clone(), Arc::clone(&served), Arc::clone(&counted));
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(socket).await else {
                        return;
                    };
                    let service = service_fn(move |_: Request<Incoming>| {
                        *counted.lock().unwrap() += 1;
                        let body = served.lock().unwrap().clone();
                        async move {
                            Ok::<_, Infallible>(
                                Response::builder()
                                    .header("content-type", "application/json")
                                    .header("cache-control", "max-age=3600")
                                    .body(Full::new(Bytes::from(body)))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Self {
            doc,
            fetches,
            port,
            ca_file,
            task,
        }
    }

    fn url(&self) -> String {
        format!("https://localhost:{}/jwks.json", self.port)
    }

    fn serve(&self, doc: String) {
        *self.doc.lock().unwrap() = doc;
    }

    fn fetches(&self) -> u32 {
        *self.fetches.lock().unwrap()
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A route `chat` behind a policy trusting `jwks` (YAML of the `jwks:` source) and letting
/// group `search` (and user ann) use it, with the groups in the `roles` claim.
fn manifests(mock: &switchyard_mock_provider::MockProvider, jwks: &str) -> Manifests {
    Manifests(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: mock}\nstringData: {apiKey: mock-key}\n"
            .to_owned(),
    )
    .raw(&format!(
        "---\napiVersion: switchyard.dev/v1alpha1\nkind: AIPolicy\nmetadata: {{name: sso}}\nspec:\n  targetRefs: [{{kind: Namespace}}]\n  authentication:\n    jwt:\n      - issuer: {ISS}\n        audiences: [{AUD}, other-gateway]\n        jwks: {jwks}\n        claims: {{subject: email, groups: roles}}\n  authorization:\n    rules:\n      - subjects: [{{kind: Group, name: search}}, {{kind: User, name: ann@example.com}}]\n"
    ))
    .model("m", mock)
    .route("chat", &["m"], "")
}

fn person(email: &str, roles: &[&str]) -> Value {
    let mut claims = claims(ISS, AUD, "u-1");
    claims["email"] = json!(email);
    claims["roles"] = json!(roles);
    claims
}

async fn call(proxy: &Proxy, token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(proxy.url("/v1/chat/completions"))
        .header("authorization", format!("Bearer {token}"))
        .json(&chat("chat", false))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn models(proxy: &Proxy, token: &str) -> Vec<String> {
    let list: Value = reqwest::Client::new()
        .get(proxy.url("/v1/models"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Calls until the answer is not `status` (keys being fetched), up to ten seconds.
async fn call_until_not(proxy: &Proxy, token: &str, status: u16) -> (u16, Value) {
    for _ in 0..100 {
        let answer = call(proxy, token).await;
        if answer.0 != status {
            return answer;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    call(proxy, token).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_each_key_type_from_an_inline_jwks_authenticate_and_authorize() {
    let mock = mock().await;
    let keys = [
        SigningKey::rsa("rsa-1"),
        SigningKey::p256("ec-1"),
        SigningKey::ed25519("ed-1"),
    ];
    let doc = jwks(&[&keys[0], &keys[1], &keys[2]]);
    let proxy = Proxy::start(&manifests(&mock, &format!("{{inline: '{doc}'}}"))).await;
    for key in &keys {
        let token = key.token(&person("bob@example.com", &["search"]));
        let (status, body) = call(&proxy, &token).await;
        assert_eq!(status, 200, "{}: {body}", key.alg());
    }
    // The subject comes from the mapped claim: ann is let in by name, carol by nothing.
    let ann = keys[2].token(&person("ann@example.com", &[]));
    assert_eq!(call(&proxy, &ann).await.0, 200);
    let carol = keys[2].token(&person("carol@example.com", &["ads"]));
    let (status, body) = call(&proxy, &carol).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`carol@example.com` is not allowed"),
        "{body}"
    );
    assert_eq!(models(&proxy, &ann).await, ["chat"]);
    assert!(models(&proxy, &carol).await.is_empty());
    assert_eq!(mock.requests().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_get_401_with_the_reason_and_a_security_event_without_the_token() {
    let mock = mock().await;
    let key = SigningKey::rsa("rsa-1");
    let doc = jwks(&[&key]);
    let proxy = Proxy::start(&manifests(&mock, &format!("{{inline: '{doc}'}}"))).await;
    let with = |patch: Value| {
        let mut claims = person("bob@example.com", &["search"]);
        for (name, value) in patch.as_object().unwrap() {
            claims[name] = value.clone();
        }
        claims
    };
    let valid = key.token(&with(json!({})));
    let mut tampered = valid.rsplit_once('.').unwrap().0.to_owned();
    tampered.push('.');
    tampered.push_str(&"A".repeat(342));
    let cases = [
        (
            key.token(&with(json!({"exp": now() - 300}))),
            "expired",
            "jwt_expired",
        ),
        (
            key.token(&with(json!({"nbf": now() + 300}))),
            "not valid yet",
            "jwt_not_yet_valid",
        ),
        (
            key.token(&with(json!({"iss": "https://evil.example.com"}))),
            "issuer",
            "jwt_unknown_issuer",
        ),
        (
            key.token(&with(json!({"aud": "someone-else"}))),
            "audience",
            "jwt_wrong_audience",
        ),
        (
            SigningKey::rsa("rsa-2").token(&with(json!({}))),
            "unknown kid",
            "jwt_unknown_key",
        ),
        (tampered, "signature", "jwt_bad_signature"),
        (unsigned(&with(json!({}))), "algorithm", "jwt_algorithm"),
    ];
    for (token, says, _) in &cases {
        let (status, body) = call(&proxy, token).await;
        assert_eq!(status, 401, "{says}: {body}");
        assert_eq!(body["error"]["type"], "authentication_error");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{says}: {message}");
        assert!(
            !message.contains(token.as_str()),
            "the token is never echoed"
        );
    }
    assert!(mock.requests().is_empty(), "nothing reached the provider");
    let metrics = proxy
        .metrics_when(|m| m.contains("reason=\"jwt_algorithm\"} 1"))
        .await;
    for (_, _, reason) in &cases {
        let line = format!("switchyard_security_events_total{{reason=\"{reason}\"}} 1");
        assert!(metrics.contains(&line), "{line}\n{metrics}");
    }
    let log = proxy.log_containing("jwt_expired").await;
    for (token, _, _) in &cases {
        assert!(
            !log.contains(token.as_str()),
            "the token never reaches the log"
        );
    }
    assert_eq!(call(&proxy, &valid).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_fetched_from_a_url_follow_rotation_and_survive_the_server_going_down() {
    let mock = mock().await;
    let old = SigningKey::p256("2024");
    let server = JwksServer::start(jwks(&[&old])).await;
    let proxy = Proxy::start_with_env(
        &manifests(&mock, &format!("{{url: '{}'}}", server.url())),
        &[],
        &[("SSL_CERT_FILE", server.ca_file.path().to_str().unwrap())],
    )
    .await;
    let bob = person("bob@example.com", &["search"]);
    // Until the first fetch lands, the caller is asked to retry (503), not refused.
    let (status, body) = call_until_not(&proxy, &old.token(&bob), 503).await;
    assert_eq!(status, 200, "{body}\n{}", proxy.log());
    proxy
        .metrics_when(|m| m.contains("switchyard_jwks_fetches_total{result=\"success\"} 1"))
        .await;

    // The issuer rotates: a token with the new kid makes the proxy fetch again (at once or
    // within the unknown-kid rate limit) and is then accepted.
    let new = SigningKey::ed25519("2025");
    server.serve(jwks(&[&old, &new]));
    let (status, body) = call_until_not(&proxy, &new.token(&bob), 401).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        server.fetches(),
        2,
        "max-age=3600: no fetch but the rotation's"
    );

    // The server goes away: a forced refresh fails and the last good keys keep working.
    drop(server);
    let stranger = SigningKey::ed25519("2026").token(&bob);
    let mut failed = false;
    for _ in 0..150 {
        assert_eq!(call(&proxy, &stranger).await.0, 401);
        if proxy
            .metrics()
            .await
            .contains("switchyard_jwks_fetches_total{result=\"failure\"}")
        {
            failed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(failed, "no failed fetch was counted:\n{}", proxy.log());
    assert_eq!(call(&proxy, &new.token(&bob)).await.0, 200);
    assert_eq!(call(&proxy, &old.token(&bob)).await.0, 200);
}

/// A service-account token as the API server mints it.
fn service_account_token(key: &SigningKey, namespace: &str, name: &str, aud: &str) -> String {
    let mut claims = claims(
        "https://kubernetes.default.svc",
        aud,
        &format!("system:serviceaccount:{namespace}:{name}"),
    );
    claims["kubernetes.io"] = json!({"namespace": namespace, "serviceaccount": {"name": name}});
    key.token(&claims)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_service_account_tokens_are_verified_with_the_issuer_given_on_the_command_line()
{
    let mock = mock().await;
    let cluster = SigningKey::rsa("sa-key");
    let jwks_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(jwks_file.path(), jwks(&[&cluster])).unwrap();
    let manifests = Manifests(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: mock}\nstringData: {apiKey: mock-key}\n---\n\
         apiVersion: switchyard.dev/v1alpha1\nkind: AIPolicy\nmetadata: {name: in-cluster}\nspec:\n  targetRefs: [{kind: Namespace}]\n  authentication:\n    serviceAccounts:\n      audiences: [switchyard]\n      allow: [{namespace: search, name: indexer}, {namespace: batch}]\n  authorization:\n    rules:\n      - subjects: [{kind: ServiceAccount, name: search/indexer}]\n      - subjects: [{kind: Namespace, name: batch}]\n        routes: [embed]\n"
            .to_owned(),
    )
    .model("m", &mock)
    .route("chat", &["m"], "")
    .route("embed", &["m"], "");
    let proxy = Proxy::start_with(
        &manifests,
        &[
            "--service-account-issuer",
            "https://kubernetes.default.svc",
            "--service-account-jwks",
            jwks_file.path().to_str().unwrap(),
        ],
    )
    .await;
    assert!(
        proxy.config().await.to_string().contains("\"problems\":[]"),
        "{}",
        proxy.config().await
    );
    let indexer = service_account_token(&cluster, "search", "indexer", "switchyard");
    assert_eq!(call(&proxy, &indexer).await.0, 200);
    let batch = service_account_token(&cluster, "batch", "nightly", "switchyard");
    assert_eq!(
        call(&proxy, &batch).await.0,
        403,
        "allowed in, but not to chat"
    );
    assert_eq!(models(&proxy, &batch).await, ["embed"]);
    let (status, body) = call(
        &proxy,
        &service_account_token(&cluster, "search", "crawler", "switchyard"),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("service account `system:serviceaccount:search:crawler` is not allowed"),
        "{body}"
    );
    let (status, body) = call(
        &proxy,
        &service_account_token(&cluster, "search", "indexer", "vault"),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    let forged = service_account_token(
        &SigningKey::rsa("sa-key"),
        "search",
        "indexer",
        "switchyard",
    );
    assert_eq!(call(&proxy, &forged).await.0, 401);
    let counted = "switchyard_security_events_total{reason=\"service_account_not_allowed\"} 1";
    let metrics = proxy.metrics_when(|m| m.contains(counted)).await;
    assert!(metrics.contains(counted), "{metrics}");
}
