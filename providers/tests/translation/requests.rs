//! Request golden tests: each fixture under `testdata/requests/<api>/` built for each provider
//! of its row; snapshots next to the fixture as `<case>.<provider>.snap`.

use std::collections::BTreeMap;

use switchyard_crds::Provider;
use switchyard_crds::route::SystemPromptMode;
use switchyard_crds::snapshot::{SystemPrompt, Transforms};
use switchyard_providers::{Api, ClientRequest, UpstreamRequest, build_request};

use super::support::{PROVIDERS, fixture, fixtures, in_folder, model, now, pretty};

/// Which providers each request case is built for (`ALL` unless listed).
const TABLE: &[(&str, &[Provider])] = &[
    ("chat_completions/basic", &PROVIDERS),
    ("chat_completions/full", &PROVIDERS),
    ("chat_completions/json_mode", &PROVIDERS),
    ("chat_completions/image_url", &PROVIDERS),
    ("chat_completions/unknown_field", &PROVIDERS),
    ("chat_completions/transforms", &PROVIDERS),
    ("chat_completions/extras", &PROVIDERS),
    ("messages/basic", &PROVIDERS),
    ("messages/full", &PROVIDERS),
    ("messages/top_k", &PROVIDERS),
    ("messages/extras", &PROVIDERS),
    ("messages/thinking", &PROVIDERS),
    ("completions/basic", &PROVIDERS),
    ("embeddings/basic", &PROVIDERS),
    ("responses/basic", &PROVIDERS),
];

/// The route transforms of the `transforms` cases.
fn transforms(case: &str) -> Transforms {
    let mut transforms = Transforms::default();
    if case.ends_with("/transforms") {
        transforms.default_params = BTreeMap::from([
            ("temperature".to_owned(), serde_json::json!(0.2)),
            ("max_tokens".to_owned(), serde_json::json!(999)),
        ]);
        transforms.forced_params = BTreeMap::from([("top_p".to_owned(), serde_json::json!(0.5))]);
        transforms.system_prompt = Some(SystemPrompt {
            text: "Answer in French.".to_owned(),
            mode: SystemPromptMode::Append,
        });
    }
    transforms
}

fn api(folder: &str) -> Api {
    match folder {
        "chat_completions" => Api::ChatCompletions,
        "messages" => Api::Messages,
        "completions" => Api::Completions,
        "embeddings" => Api::Embeddings,
        "responses" => Api::Responses,
        other => panic!("no API for {other}"),
    }
}

/// The snapshot text of a built request: request line, headers, body.
pub fn render(request: &UpstreamRequest) -> String {
    let mut text = format!("{} {}\n", request.method, request.path_and_query);
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\n"));
    }
    text.push('\n');
    text.push_str(&pretty(&request.body));
    text
}

#[test]
fn every_request_fixture_is_in_the_table() {
    for folder in [
        "chat_completions",
        "messages",
        "completions",
        "embeddings",
        "responses",
    ] {
        for name in fixtures(&format!("requests/{folder}"), "json") {
            let case = format!("{folder}/{name}");
            assert!(
                TABLE.iter().any(|(c, _)| *c == case),
                "{case} is not in TABLE"
            );
        }
    }
}

#[test]
fn requests_translate_for_every_provider() {
    for (case, providers) in TABLE {
        let (folder, name) = case.split_once('/').unwrap();
        let body = fixture(&format!("requests/{case}.json"));
        let request = ClientRequest::parse(api(folder), &body).unwrap();
        for provider in *providers {
            let built = build_request(&request, &model(*provider), &transforms(case), now());
            let text = match built {
                Ok(built) => render(&built),
                Err(error) => format!("error ({}): {error}", error.status()),
            };
            in_folder(&format!("requests/{folder}"), || {
                insta::assert_snapshot!(format!("{name}.{}", provider.as_str()), text);
            });
        }
    }
}

#[test]
fn a_same_format_body_passes_through_byte_for_byte_but_the_model() {
    let body =
        br#"{"model":"smart","messages":[{"role":"user","content":"Hi"}],  "x_custom":{"a" : 1}}"#;
    let request = ClientRequest::parse(Api::ChatCompletions, body).unwrap();
    let built = build_request(
        &request,
        &model(Provider::OpenAi),
        &Transforms::default(),
        now(),
    )
    .unwrap();
    assert_eq!(
        &built.body[..],
        br#"{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}],"x_custom":{"a" : 1}}"#
    );
}
