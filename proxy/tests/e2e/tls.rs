//! A provider behind TLS: the proxy verifies its certificate (against the CA in
//! `SSL_CERT_FILE`, as it would the platform's roots) and keeps the TLS connection alive.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use tokio::net::{TcpListener, TcpStream};

use crate::harness::{Manifests, Pki, Proxy, answer_text, chat, mock, post};

/// Terminates TLS on a free port and relays each connection to `backend`; counts connections.
async fn tls_front(backend: std::net::SocketAddr) -> (u16, Arc<AtomicUsize>, String) {
    let pki = Pki::new();
    let acceptor = pki.acceptor(&[]);
    let ca = pki.ca_pem.clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (port, connections, ca)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_behind_tls_is_verified_and_its_connection_reused() {
    let mock = mock().await;
    let (port, connections, ca) = tls_front(mock.addr()).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let manifests = Manifests::default()
        .raw(&format!(
            "---\napiVersion: switchyard.dev/v1alpha1\nkind: AIModel\nmetadata: {{name: secure}}\nspec:\n  provider: openai\n  model: m\n  endpoint: https://localhost:{port}/v1\n  credentials: {{secretRef: {{name: mock, key: apiKey}}}}\n"
        ))
        .route("gpt-4o", &["secure"], "");
    let proxy = Proxy::start_with_env(
        &manifests,
        &[],
        &[("SSL_CERT_FILE", ca_file.to_str().unwrap())],
    )
    .await;

    for stream in [false, true, false] {
        let response = post(&proxy, "/v1/chat/completions", &chat("gpt-4o", stream)).await;
        assert_eq!(response.status(), 200, "stream={stream}");
        assert!(answer_text(&response.text().await.unwrap()).contains("hello from the test"));
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "one TLS connection, kept alive"
    );
    assert_eq!(
        mock.requests()[0].header("host"),
        Some(format!("localhost:{port}").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_whose_certificate_is_not_trusted_is_a_502() {
    let mock = mock().await;
    let (port, _, _) = tls_front(mock.addr()).await;
    let manifests = Manifests::default()
        .raw(&format!(
            "---\napiVersion: switchyard.dev/v1alpha1\nkind: AIModel\nmetadata: {{name: untrusted}}\nspec:\n  provider: openai\n  model: m\n  endpoint: https://localhost:{port}/v1\n  credentials: {{secretRef: {{name: mock, key: apiKey}}}}\n"
        ))
        .route("gpt-4o", &["untrusted"], "  retry: {attempts: 1}\n");
    let proxy = Proxy::start(&manifests).await;
    let response = post(&proxy, "/v1/chat/completions", &chat("gpt-4o", false)).await;
    assert_eq!(response.status(), 502);
    assert!(mock.requests().is_empty(), "nothing reached the provider");
}
