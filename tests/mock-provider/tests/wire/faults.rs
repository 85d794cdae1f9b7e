//! Injected statuses, delays, resets, stalls and malformed bodies.

use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::{Value, json};
use switchyard_mock_provider::{Behavior, Fault, MockConfig, MockProvider};

use crate::client::{Ending, frames, mock, open, post, sse, try_send};

const AUTH: (&str, &str) = ("authorization", "Bearer mock-key");
const CHAT: &str = "/v1/chat/completions";

fn chat(stream: bool) -> String {
    json!({"model": "m", "stream": stream, "messages": [{"role": "user", "content": "one two three four"}]})
        .to_string()
}

#[tokio::test]
async fn status_429_has_retry_after_and_the_openai_error_shape() {
    let mock = mock().await;
    let headers = [AUTH, ("x-mock-status", "429"), ("x-mock-retry-after", "5")];
    let answer = try_send(&mock, Method::POST, CHAT, &headers, &chat(false))
        .await
        .unwrap();
    assert_eq!(answer.status, 429);
    assert_eq!(answer.header("retry-after"), "5");
    let error = &answer.json()["error"];
    assert_eq!(error["code"], "rate_limit_exceeded");
    assert!(error.get("param").is_some() && error["message"].is_string());
    for status in ["500", "503"] {
        let answer = try_send(
            &mock,
            Method::POST,
            CHAT,
            &[AUTH, ("x-mock-status", status)],
            &chat(true),
        )
        .await
        .unwrap();
        assert_eq!(answer.status.as_str(), status);
        assert_eq!(answer.json()["error"]["type"], "server_error");
    }
}

#[tokio::test]
async fn latency_delays_the_response_headers() {
    let mock = mock().await;
    let start = Instant::now();
    let answer = try_send(
        &mock,
        Method::POST,
        CHAT,
        &[AUTH, ("x-mock-latency-ms", "200")],
        &chat(false),
    )
    .await
    .unwrap();
    assert_eq!(answer.status, 200);
    assert!(start.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn ttft_and_chunk_delay_pace_the_stream() {
    let mock = mock().await;
    let headers = [
        AUTH,
        ("x-mock-ttft-ms", "150"),
        ("x-mock-chunk-delay-ms", "50"),
    ];
    let start = Instant::now();
    let response = open(&mock, Method::POST, CHAT, &headers, &chat(true))
        .await
        .unwrap();
    let head_at = start.elapsed();
    let (received, ending) = frames(response, start, Duration::from_secs(5)).await;
    assert_eq!(ending, Ending::Clean);
    // Headers are sent before the first token is due (no upper bound on wall time: the
    // machine may be busy; the order is what matters).
    assert!(
        received.first().is_none_or(|f| head_at <= f.at),
        "headers after the first frame: {head_at:?}"
    );
    let content_at: Vec<Duration> = received
        .iter()
        .filter(|f| {
            String::from_utf8_lossy(&f.bytes).contains(r#""content":"#)
                && !String::from_utf8_lossy(&f.bytes).contains(r#""content":"""#)
        })
        .map(|f| f.at)
        .collect();
    assert_eq!(content_at.len(), 4);
    assert!(
        content_at[0] >= Duration::from_millis(150),
        "first token at {:?}",
        content_at[0]
    );
    assert!(
        content_at[3] >= Duration::from_millis(150 + 3 * 50),
        "last token at {:?}",
        content_at[3]
    );
}

#[tokio::test]
async fn non_streaming_answers_wait_for_the_whole_generation() {
    let mock = mock().await;
    let headers = [
        AUTH,
        ("x-mock-ttft-ms", "100"),
        ("x-mock-chunk-delay-ms", "30"),
    ];
    let start = Instant::now();
    let answer = try_send(&mock, Method::POST, CHAT, &headers, &chat(false))
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    assert!(start.elapsed() >= Duration::from_millis(100 + 3 * 30));
}

fn is_reset(error: &hyper::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::ConnectionReset;
        }
        source = error.source();
    }
    false
}

#[tokio::test]
async fn reset_resets_the_connection_before_any_byte() {
    let mock = mock().await;
    let error = try_send(
        &mock,
        Method::POST,
        CHAT,
        &[AUTH, ("x-mock-fault", "reset")],
        &chat(false),
    )
    .await
    .unwrap_err();
    assert!(
        is_reset(&error),
        "expected a connection reset, got {error:?}"
    );
}

#[tokio::test]
async fn reset_mid_stream_cuts_the_stream_after_half_the_tokens() {
    let mock = mock().await;
    let headers = [AUTH, ("x-mock-fault", "reset-mid-stream")];
    let response = open(&mock, Method::POST, CHAT, &headers, &chat(true))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (received, ending) = frames(response, Instant::now(), Duration::from_secs(5)).await;
    assert_eq!(ending, Ending::Error);
    let text: String = received
        .iter()
        .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
        .collect();
    assert_eq!(sse(&text).len(), 1 + 2, "role chunk and two of four tokens");
}

#[tokio::test]
async fn stall_mid_stream_goes_silent_after_half_the_tokens() {
    let mock = mock().await;
    let headers = [AUTH, ("x-mock-fault", "stall-mid-stream")];
    let response = open(&mock, Method::POST, CHAT, &headers, &chat(true))
        .await
        .unwrap();
    let (received, ending) = frames(response, Instant::now(), Duration::from_millis(300)).await;
    assert_eq!(ending, Ending::Idle);
    let text: String = received
        .iter()
        .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
        .collect();
    assert_eq!(sse(&text).len(), 3);
}

#[tokio::test]
async fn a_timed_stall_resumes_and_completes() {
    let mock = mock().await;
    let headers = [
        AUTH,
        ("x-mock-fault", "stall-mid-stream"),
        ("x-mock-stall-ms", "200"),
    ];
    let start = Instant::now();
    let answer = try_send(&mock, Method::POST, CHAT, &headers, &chat(true))
        .await
        .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert_eq!(sse(&answer.text()).last().unwrap().data, "[DONE]");
}

#[tokio::test]
async fn stall_before_headers_sends_nothing() {
    let mock = mock().await;
    let headers = [AUTH, ("x-mock-fault", "stall")];
    let body = chat(false);
    let sent = open(&mock, Method::POST, CHAT, &headers, &body);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), sent)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn malformed_bodies_do_not_parse() {
    let mock = mock().await;
    let headers = [AUTH, ("x-mock-fault", "malformed")];
    let whole = try_send(&mock, Method::POST, CHAT, &headers, &chat(false))
        .await
        .unwrap();
    assert_eq!(whole.status, 200);
    assert!(serde_json::from_slice::<Value>(&whole.body).is_err());
    let streamed = try_send(&mock, Method::POST, CHAT, &headers, &chat(true))
        .await
        .unwrap();
    let events = sse(&streamed.text());
    assert!(serde_json::from_str::<Value>(&events.last().unwrap().data).is_err());
}

#[tokio::test]
async fn error_mid_stream_sends_the_openai_error_event() {
    let mock = mock().await;
    let headers = [AUTH, ("x-mock-fault", "error-mid-stream")];
    let answer = try_send(&mock, Method::POST, CHAT, &headers, &chat(true))
        .await
        .unwrap();
    let events = sse(&answer.text());
    assert_eq!(events.len(), 1 + 2 + 1);
    assert_eq!(
        events.last().unwrap().json()["error"]["type"],
        "server_error"
    );
}

#[tokio::test]
async fn bad_or_unknown_control_headers_are_rejected() {
    let mock = mock().await;
    for header in [
        ("x-mock-latency-ms", "soon"),
        ("x-mock-fault", "explode"),
        ("x-mock-latncy-ms", "5"),
    ] {
        let answer = try_send(&mock, Method::POST, CHAT, &[AUTH, header], &chat(false))
            .await
            .unwrap();
        assert_eq!(answer.status, 400, "{header:?}");
        assert!(
            answer.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains(header.0)
        );
    }
}

#[tokio::test]
async fn instance_behavior_applies_a_limited_number_of_times() {
    let behavior = Behavior {
        status: Some(503),
        times: Some(2),
        ..Behavior::default()
    };
    let mock = MockProvider::start(MockConfig {
        behavior,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let answer = try_send(&mock, Method::POST, CHAT, &[AUTH], &chat(false))
            .await
            .unwrap();
        statuses.push(answer.status.as_u16());
    }
    assert_eq!(statuses, [503, 503, 200]);
    mock.set_behavior(Behavior {
        fault: Some(Fault::Reset),
        ..Behavior::default()
    });
    assert!(
        try_send(&mock, Method::POST, CHAT, &[AUTH], &chat(false))
            .await
            .is_err()
    );
    // A header still wins over the instance behavior for everything but the instance fault.
    // The instance latency is far longer than any busy machine could add, so finishing at all
    // within the generous bound below proves the header won.
    mock.set_behavior(Behavior {
        latency_ms: 600_000,
        ..Behavior::default()
    });
    let start = Instant::now();
    try_send(
        &mock,
        Method::POST,
        CHAT,
        &[AUTH, ("x-mock-latency-ms", "0")],
        &chat(false),
    )
    .await
    .unwrap();
    assert!(start.elapsed() < Duration::from_secs(120));
}

#[tokio::test]
async fn behavior_is_settable_over_http() {
    let mock = mock().await;
    let body = json!({"status": 429, "retry_after": 1}).to_string();
    let put = try_send(&mock, Method::PUT, "/_mock/behavior", &[], &body)
        .await
        .unwrap();
    assert_eq!(put.status, 200);
    let answer = post(
        &mock,
        CHAT,
        &[AUTH],
        &serde_json::from_str(&chat(false)).unwrap(),
    )
    .await;
    assert_eq!(answer.status, 429);
    try_send(&mock, Method::DELETE, "/_mock/behavior", &[], "")
        .await
        .unwrap();
    let answer = post(
        &mock,
        CHAT,
        &[AUTH],
        &serde_json::from_str(&chat(false)).unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200);
    let bad = try_send(
        &mock,
        Method::PUT,
        "/_mock/behavior",
        &[],
        r#"{"latency": 1}"#,
    )
    .await
    .unwrap();
    assert_eq!(bad.status, 400);
}
