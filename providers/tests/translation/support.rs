//! Models, fixtures and snapshot settings shared by the golden tests.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rust_decimal::Decimal;
use switchyard_crds::Provider;
use switchyard_crds::snapshot::{
    AzureTarget, Credentials, Endpoint, Model, Price, Secret, Source, Timeouts,
};
use switchyard_providers::{Api, ClientRequest};

/// Every provider, by its manifest name.
pub const PROVIDERS: [Provider; 6] = [
    Provider::OpenAi,
    Provider::AzureOpenAi,
    Provider::OpenAiCompatible,
    Provider::Anthropic,
    Provider::Gemini,
    Provider::Bedrock,
];

/// The fixed "now" requests are signed with.
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// `providers/testdata/...`.
pub fn testdata(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(relative)
}

/// Reads a fixture.
pub fn fixture(relative: &str) -> Vec<u8> {
    let path = testdata(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fixture files under a folder with an extension, sorted, as `folder/name` without it.
pub fn fixtures(folder: &str, extension: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(testdata(folder))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(&format!(".{extension}"))
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

/// Runs `f` with snapshots stored next to the fixtures in `folder` as `NAME.snap`.
pub fn in_folder(folder: &str, f: impl FnOnce()) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(testdata(folder));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(f);
}

/// A model of `provider` as the compiler would produce it for the provider's public endpoint
/// (or, for Azure and compatible servers, a typical one).
pub fn model(provider: Provider) -> Model {
    let (base_url, host, base_path, model) = match provider {
        Provider::OpenAi => (
            "https://api.openai.com/v1",
            "api.openai.com",
            "/v1",
            "gpt-4o",
        ),
        Provider::AzureOpenAi => (
            "https://acme.openai.azure.com",
            "acme.openai.azure.com",
            "",
            "gpt-4o",
        ),
        Provider::OpenAiCompatible => (
            "http://vllm.ml.svc:8000/v1",
            "vllm.ml.svc",
            "/v1",
            "meta-llama/Llama-3.1-8B-Instruct",
        ),
        Provider::Anthropic => (
            "https://api.anthropic.com",
            "api.anthropic.com",
            "",
            "claude-sonnet-4-5",
        ),
        Provider::Gemini => (
            "https://generativelanguage.googleapis.com",
            "generativelanguage.googleapis.com",
            "",
            "gemini-2.5-flash",
        ),
        Provider::Bedrock => (
            "https://bedrock-runtime.us-east-1.amazonaws.com",
            "bedrock-runtime.us-east-1.amazonaws.com",
            "",
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
        ),
    };
    let tls = base_url.starts_with("https");
    let credentials = match provider {
        Provider::OpenAiCompatible => Credentials::None,
        Provider::Bedrock => Credentials::Aws {
            access_key_id: Secret::new("AKIDEXAMPLE".into()),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
            session_token: None,
        },
        _ => Credentials::ApiKey(Secret::new(format!("test-key-{}", provider.as_str()))),
    };
    Model {
        source: Source {
            namespace: "ml".into(),
            name: provider.as_str().into(),
            generation: 1,
        },
        provider,
        model: model.into(),
        endpoint: Endpoint {
            base_url: base_url.into(),
            tls,
            host: host.into(),
            port: if tls { 443 } else { 8000 },
            base_path: base_path.into(),
        },
        credentials,
        azure: (provider == Provider::AzureOpenAi).then(|| AzureTarget {
            deployment: "gpt-4o-prod".into(),
            api_version: "2024-10-21".into(),
        }),
        region: (provider == Provider::Bedrock).then(|| "us-east-1".into()),
        capabilities: BTreeSet::new(),
        pricing: Some(Price {
            input: Decimal::new(250, 2),
            output: Decimal::new(1000, 2),
            cached_input: Decimal::new(125, 2),
        }),
        quota_requests_per_minute: None,
        quota_tokens_per_minute: None,
        timeouts: Timeouts::DEFAULT,
        policies: Vec::new(),
    }
}

/// The client API a response fixture is read for, from its name's prefix.
pub fn apis_for(provider: Provider, case: &str) -> Vec<Api> {
    if case.starts_with("responses_") {
        return vec![Api::Responses];
    }
    if case.starts_with("embeddings_") {
        return vec![Api::Embeddings];
    }
    if case.starts_with("completions_") {
        return vec![Api::Completions];
    }
    match provider {
        Provider::Anthropic => vec![Api::Messages, Api::ChatCompletions],
        _ => vec![Api::ChatCompletions, Api::Messages],
    }
}

/// A small client request of `api`, as the response fixtures answer.
pub fn client_request(api: Api, stream: bool, include_usage: bool) -> ClientRequest {
    let mut body = match api {
        Api::Messages => {
            serde_json::json!({"model": "smart", "max_tokens": 256, "messages": [{"role": "user", "content": "Hi"}]})
        }
        Api::Responses => serde_json::json!({"model": "smart", "input": "Hi"}),
        Api::Completions => serde_json::json!({"model": "smart", "prompt": "Hi"}),
        Api::Embeddings => serde_json::json!({"model": "smart", "input": ["Hi", "there"]}),
        Api::ChatCompletions => {
            serde_json::json!({"model": "smart", "messages": [{"role": "user", "content": "Hi"}]})
        }
    };
    if stream {
        body["stream"] = true.into();
        if include_usage {
            body["stream_options"] = serde_json::json!({"include_usage": true});
        }
    }
    let mut request = ClientRequest::parse(api, body.to_string().as_bytes()).unwrap();
    request.set_received_at(now());
    request
}

/// JSON bytes pretty-printed (keys sorted), or the text as it is if it is not JSON.
pub fn pretty(bytes: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(value) => serde_json::to_string_pretty(&value).unwrap(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// CRC-32 (IEEE), for building event-stream frames.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// One AWS event-stream message with string headers.
pub fn eventstream_frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let headers_len: usize = headers.iter().map(|(n, v)| 4 + n.len() + v.len()).sum();
    let total = 12 + headers_len + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(headers_len as u32).to_be_bytes());
    let prelude = crc32(&out);
    out.extend_from_slice(&prelude.to_be_bytes());
    for (name, value) in headers {
        out.push(name.len() as u8);
        out.extend_from_slice(name.as_bytes());
        out.push(7);
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out.extend_from_slice(payload);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// A Bedrock ConverseStream body from `[{"event": NAME, "payload": {...}}, ...]` (or
/// `{"exception": NAME, ...}` for an exception message).
pub fn bedrock_stream(events_json: &[u8]) -> Vec<u8> {
    let events: Vec<serde_json::Value> = serde_json::from_slice(events_json).unwrap();
    let mut out = Vec::new();
    for event in events {
        let payload = event["payload"].to_string();
        let frame = match (event["event"].as_str(), event["exception"].as_str()) {
            (Some(name), _) => eventstream_frame(
                &[
                    (":event-type", name),
                    (":content-type", "application/json"),
                    (":message-type", "event"),
                ],
                payload.as_bytes(),
            ),
            (None, Some(name)) => eventstream_frame(
                &[
                    (":exception-type", name),
                    (":content-type", "application/json"),
                    (":message-type", "exception"),
                ],
                payload.as_bytes(),
            ),
            _ => panic!("an event needs `event` or `exception`"),
        };
        out.extend_from_slice(&frame);
    }
    out
}
