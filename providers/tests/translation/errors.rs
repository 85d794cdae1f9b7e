//! Error tests: provider error bodies to status and kind, and the bodies clients get.

use switchyard_crds::Provider;
use switchyard_providers::{ErrorKind, ErrorStyle, parse_error, render_error};

#[test]
fn provider_error_bodies_map_to_status_kind_and_message() {
    let cases: &[(Provider, u16, &str, ErrorKind, &str)] = &[
        (
            Provider::OpenAi,
            429,
            r#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
            ErrorKind::RateLimit,
            "Rate limit reached",
        ),
        (
            Provider::OpenAi,
            401,
            r#"{"error":{"message":"Incorrect API key provided: sk-***.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
            ErrorKind::Authentication,
            "Incorrect API key provided: sk-***.",
        ),
        (
            Provider::AzureOpenAi,
            429,
            r#"{"error":{"code":"429","message":"Requests have exceeded the call rate limit."}}"#,
            ErrorKind::RateLimit,
            "Requests have exceeded the call rate limit.",
        ),
        (
            Provider::Anthropic,
            529,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            ErrorKind::Overloaded,
            "Overloaded",
        ),
        (
            Provider::Anthropic,
            400,
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}"#,
            ErrorKind::InvalidRequest,
            "max_tokens: Field required",
        ),
        (
            Provider::Gemini,
            429,
            r#"{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}}"#,
            ErrorKind::RateLimit,
            "Resource has been exhausted",
        ),
        (
            Provider::Gemini,
            400,
            r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}"#,
            ErrorKind::Authentication,
            "API key not valid. Please pass a valid API key.",
        ),
        (
            Provider::Bedrock,
            403,
            r#"{"message":"The security token included in the request is invalid."}"#,
            ErrorKind::PermissionDenied,
            "The security token included in the request is invalid.",
        ),
        (
            Provider::Bedrock,
            429,
            r#"{"message":"Too many requests, please wait before trying again."}"#,
            ErrorKind::RateLimit,
            "Too many requests, please wait before trying again.",
        ),
        (
            Provider::Bedrock,
            503,
            r#"{"message":"Bedrock is unable to process your request."}"#,
            ErrorKind::Overloaded,
            "Bedrock is unable to process your request.",
        ),
        (
            Provider::OpenAiCompatible,
            500,
            "upstream connect error",
            ErrorKind::Api,
            "upstream connect error",
        ),
        (Provider::OpenAi, 504, "", ErrorKind::Timeout, ""),
    ];
    for (provider, status, body, kind, message) in cases {
        let error = parse_error(*provider, *status, body.as_bytes());
        assert_eq!(
            (error.kind, error.message.as_str()),
            (*kind, *message),
            "{provider:?} {status} {body}"
        );
    }
}

#[test]
fn error_bodies_take_the_client_api_shape() {
    let openai = render_error(ErrorStyle::OpenAi, ErrorKind::RateLimit, "slow down");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&openai).unwrap(),
        serde_json::json!({"error": {"message": "slow down", "type": "rate_limit_error", "param": null, "code": null}})
    );
    let anthropic = render_error(ErrorStyle::Anthropic, ErrorKind::Overloaded, "busy");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&anthropic).unwrap(),
        serde_json::json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})
    );
}

#[test]
fn bodies_that_are_not_requests_are_refused_with_the_field_at_fault() {
    use switchyard_providers::{Api, ClientRequest, RequestError};
    let refused =
        |body: &str| ClientRequest::parse(Api::ChatCompletions, body.as_bytes()).unwrap_err();
    assert!(matches!(refused("[]"), RequestError::InvalidJson(_)));
    assert!(matches!(
        refused("{\"model\":"),
        RequestError::InvalidJson(_)
    ));
    assert!(matches!(refused("{}"), RequestError::InvalidField { field, .. } if field == "model"));
    assert!(
        matches!(refused("{\"model\":\"\"}"), RequestError::InvalidField { field, .. } if field == "model")
    );
    assert!(
        matches!(refused("{\"model\":\"m\",\"stream\":\"yes\"}"), RequestError::InvalidField { field, .. } if field == "stream")
    );
    let parsed = ClientRequest::parse(
        Api::Messages,
        br#"{"model":"m","max_tokens":99,"stream":true}"#,
    )
    .unwrap();
    assert_eq!(
        (parsed.model(), parsed.stream(), parsed.max_output_tokens()),
        ("m", true, Some(99))
    );
}

#[test]
fn unsupported_features_name_the_provider_and_the_feature() {
    use switchyard_crds::snapshot::Transforms;
    use switchyard_providers::{Api, ClientRequest, build_request};

    use super::support::{model, now};
    let body = br#"{"model":"m","messages":[{"role":"user","content":"Hi"}],"response_format":{"type":"json_object"}}"#;
    let request = ClientRequest::parse(Api::ChatCompletions, body).unwrap();
    let error = build_request(
        &request,
        &model(Provider::Anthropic),
        &Transforms::default(),
        now(),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "anthropic models cannot take a JSON `response_format`"
    );
    assert_eq!(error.status(), 400);
}

#[test]
fn debug_output_never_shows_prompts_or_keys() {
    use switchyard_crds::snapshot::Transforms;
    use switchyard_providers::{Api, ClientRequest, build_request};

    use super::support::{model, now};
    let body = br#"{"model":"m","messages":[{"role":"user","content":"my secret prompt"}]}"#;
    let request = ClientRequest::parse(Api::ChatCompletions, body).unwrap();
    let built = build_request(
        &request,
        &model(Provider::OpenAi),
        &Transforms::default(),
        now(),
    )
    .unwrap();
    for text in [format!("{request:?}"), format!("{built:?}")] {
        assert!(
            !text.contains("secret prompt") && !text.contains("test-key"),
            "{text}"
        );
    }
}
