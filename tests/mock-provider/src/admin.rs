//! The `/_mock/` endpoints: recorded requests and instance behavior over HTTP, for tests that
//! are not written in Rust.
//!
//! - `GET /_mock/requests`: the recorded requests as a JSON array, oldest first.
//! - `DELETE /_mock/requests`: forget them.
//! - `GET /_mock/behavior`, `PUT /_mock/behavior` (a `Behavior` JSON object; absent fields
//!   take their defaults), `DELETE /_mock/behavior` (back to the configured behavior).
//! - `GET /_mock/health`: `200 ok`.

use bytes::Bytes;
use hyper::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::body::{self, MockBody};
use crate::config::Behavior;
use crate::server::Shared;
use crate::sse::json_bytes;

/// Serves `/_mock/{rest}`.
pub(crate) fn handle(
    method: &Method,
    rest: &str,
    body: &[u8],
    shared: &Shared,
) -> Response<MockBody> {
    match (method, rest) {
        (&Method::GET, "requests") => {
            let requests: Vec<Value> = shared
                .recorder
                .snapshot()
                .iter()
                .map(|r| r.to_json())
                .collect();
            ok(&Value::Array(requests))
        }
        (&Method::DELETE, "requests") => {
            shared.recorder.clear();
            no_content()
        }
        (&Method::GET, "behavior") => ok(&*shared.behavior()),
        (&Method::PUT, "behavior") => match serde_json::from_slice::<Behavior>(body) {
            Ok(behavior) => {
                shared.set_behavior(behavior);
                ok(&*shared.behavior())
            }
            Err(error) => {
                let problem = json!({"error": format!("invalid behavior: {error}")});
                body::json(StatusCode::BAD_REQUEST, json_bytes(&problem))
            }
        },
        (&Method::DELETE, "behavior") => {
            shared.set_behavior(shared.config.behavior.clone());
            no_content()
        }
        (&Method::GET, "health") => body::with_type(
            StatusCode::OK,
            "text/plain",
            MockBody::Full(Some(Bytes::from_static(b"ok"))),
        ),
        _ => {
            let problem = json!({"error": format!("no mock endpoint {method} /_mock/{rest}")});
            body::json(StatusCode::NOT_FOUND, json_bytes(&problem))
        }
    }
}

fn ok(value: &impl serde::Serialize) -> Response<MockBody> {
    body::json(StatusCode::OK, json_bytes(value))
}

fn no_content() -> Response<MockBody> {
    let mut response = Response::new(MockBody::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}
