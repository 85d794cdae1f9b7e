//! Recording: what the mock received is readable from Rust and over HTTP.

use hyper::Method;
use serde_json::json;
use switchyard_mock_provider::{MockConfig, MockProvider};

use crate::client::{get, mock, post, try_send};

#[tokio::test]
async fn requests_are_recorded_as_received_even_when_rejected() {
    let mock = mock().await;
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
    post(
        &mock,
        "/v1/chat/completions?trace=1",
        &[("authorization", "Bearer wrong")],
        &body,
    )
    .await;
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(request.query_param("trace"), Some("1"));
    assert_eq!(request.header("authorization"), Some("Bearer wrong"));
    assert_eq!(request.json(), Some(body));
    mock.clear();
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn recordings_are_served_and_cleared_over_http() {
    let mock = mock().await;
    let body = json!({"contents": [{"parts": [{"text": "x"}]}]});
    post(
        &mock,
        "/v1beta/models/g:generateContent?key=mock-key",
        &[],
        &body,
    )
    .await;
    let listed = get(&mock, "/_mock/requests", &[]).await.json();
    assert_eq!(listed[0]["method"], "POST");
    assert_eq!(listed[0]["path"], "/v1beta/models/g:generateContent");
    assert_eq!(listed[0]["query"], "key=mock-key");
    assert_eq!(listed[0]["json"], body);
    assert_eq!(listed[0]["headers"]["content-type"], "application/json");
    let deleted = try_send(&mock, Method::DELETE, "/_mock/requests", &[], "")
        .await
        .unwrap();
    assert_eq!(deleted.status, 204);
    assert_eq!(get(&mock, "/_mock/requests", &[]).await.json(), json!([]));
}

#[tokio::test]
async fn the_record_limit_keeps_the_newest() {
    let mock = MockProvider::start(MockConfig {
        record_limit: 2,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    for path in ["/v1/models", "/v1/models/a", "/v1/models/b"] {
        get(&mock, path, &[("authorization", "Bearer mock-key")]).await;
    }
    let paths: Vec<String> = mock.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v1/models/a", "/v1/models/b"]);
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let mock = mock().await;
    let addr = mock.addr();
    assert_eq!(mock.base_url(), format!("http://{addr}"));
    drop(mock);
    tokio::task::yield_now().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
