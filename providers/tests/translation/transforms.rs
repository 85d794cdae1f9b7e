//! Route transforms: default and forced params, and the system prompt in each client API.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use switchyard_crds::Provider;
use switchyard_crds::route::SystemPromptMode;
use switchyard_crds::snapshot::{SystemPrompt, Transforms};
use switchyard_providers::{Api, ClientRequest, build_request};

use super::support::{model, now};

fn built(api: Api, provider: Provider, body: Value, transforms: &Transforms) -> Value {
    let request = ClientRequest::parse(api, body.to_string().as_bytes()).unwrap();
    let built = build_request(&request, &model(provider), transforms, now()).unwrap();
    serde_json::from_slice(&built.body).unwrap()
}

fn prompt(mode: SystemPromptMode) -> Transforms {
    Transforms {
        system_prompt: Some(SystemPrompt {
            text: "Route.".to_owned(),
            mode,
        }),
        ..Transforms::default()
    }
}

#[test]
fn defaults_fill_only_absent_params_and_forced_params_always_win() {
    let transforms = Transforms {
        default_params: BTreeMap::from([
            ("temperature".to_owned(), json!(0.2)),
            ("top_p".to_owned(), json!(0.3)),
            ("model".to_owned(), json!("sneaky")),
        ]),
        forced_params: BTreeMap::from([("max_tokens".to_owned(), json!(10))]),
        ..Transforms::default()
    };
    let body = json!({"model": "smart", "temperature": 1.0, "max_tokens": 500, "messages": [{"role": "user", "content": "Hi"}]});
    let sent = built(Api::ChatCompletions, Provider::OpenAi, body, &transforms);
    assert_eq!(
        (
            &sent["temperature"],
            &sent["top_p"],
            &sent["max_tokens"],
            &sent["model"]
        ),
        (&json!(1.0), &json!(0.3), &json!(10), &json!("gpt-4o"))
    );
}

#[test]
fn chat_system_prompts_go_before_after_or_instead_of_the_leading_system_messages() {
    let body = json!({"model": "smart", "messages": [
        {"role": "system", "content": "Client."},
        {"role": "user", "content": "Hi"}
    ]});
    let contents = |mode| {
        let sent = built(
            Api::ChatCompletions,
            Provider::OpenAi,
            body.clone(),
            &prompt(mode),
        );
        sent["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        contents(SystemPromptMode::Prepend),
        ["Route.", "Client.", "Hi"]
    );
    assert_eq!(
        contents(SystemPromptMode::Append),
        ["Client.", "Route.", "Hi"]
    );
    assert_eq!(contents(SystemPromptMode::Replace), ["Route.", "Hi"]);
}

#[test]
fn messages_system_prompts_become_system_blocks() {
    let body = json!({"model": "smart", "max_tokens": 10, "system": "Client.", "messages": [{"role": "user", "content": "Hi"}]});
    let system = |mode| {
        built(
            Api::Messages,
            Provider::Anthropic,
            body.clone(),
            &prompt(mode),
        )["system"]
            .clone()
    };
    let block = |text: &str| json!({"type": "text", "text": text});
    assert_eq!(
        system(SystemPromptMode::Prepend),
        json!([block("Route."), block("Client.")])
    );
    assert_eq!(
        system(SystemPromptMode::Append),
        json!([block("Client."), block("Route.")])
    );
    assert_eq!(system(SystemPromptMode::Replace), json!([block("Route.")]));
    // Through the hub too: a Messages client on Gemini gets both as system instruction parts.
    let sent = built(
        Api::Messages,
        Provider::Gemini,
        body,
        &prompt(SystemPromptMode::Append),
    );
    assert_eq!(
        sent["systemInstruction"],
        json!({"parts": [{"text": "Client."}, {"text": "Route."}]})
    );
}

#[test]
fn responses_system_prompts_join_the_instructions() {
    let body = json!({"model": "smart", "instructions": "Client.", "input": "Hi"});
    let instructions = |mode| {
        built(
            Api::Responses,
            Provider::OpenAi,
            body.clone(),
            &prompt(mode),
        )["instructions"]
            .clone()
    };
    assert_eq!(
        instructions(SystemPromptMode::Prepend),
        json!("Route.\n\nClient.")
    );
    assert_eq!(
        instructions(SystemPromptMode::Append),
        json!("Client.\n\nRoute.")
    );
    assert_eq!(instructions(SystemPromptMode::Replace), json!("Route."));
}

#[test]
fn embeddings_take_no_params_from_the_route() {
    let transforms = Transforms {
        forced_params: BTreeMap::from([("temperature".to_owned(), json!(0.2))]),
        ..prompt(SystemPromptMode::Prepend)
    };
    let body = json!({"model": "smart", "input": "Hi"});
    let sent = built(Api::Embeddings, Provider::OpenAi, body, &transforms);
    assert_eq!(sent, json!({"model": "gpt-4o", "input": "Hi"}));
}
