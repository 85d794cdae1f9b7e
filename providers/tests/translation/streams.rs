//! Stream golden tests: each `testdata/responses/<provider>/<case>.sse` (Bedrock:
//! `<case>.events.json`, framed here) translated for the client APIs that provider serves,
//! with the final usage and cost; and every stream replayed split at every byte boundary.

use bytes::BytesMut;
use switchyard_crds::Provider;
use switchyard_providers::{Api, StreamTranslator};

use super::support::{
    PROVIDERS, apis_for, bedrock_stream, client_request, fixture, fixtures, in_folder, model,
};

/// Every stream fixture of a provider: (case, bytes).
fn streams(provider: Provider) -> Vec<(String, Vec<u8>)> {
    let folder = format!("responses/{}", provider.as_str());
    if provider == Provider::Bedrock {
        return fixtures(&folder, "events.json")
            .into_iter()
            .map(|case| {
                let bytes = bedrock_stream(&fixture(&format!("{folder}/{case}.events.json")));
                (case, bytes)
            })
            .collect();
    }
    fixtures(&folder, "sse")
        .into_iter()
        .map(|case| {
            let bytes = fixture(&format!("{folder}/{case}.sse"));
            (case, bytes)
        })
        .collect()
}

/// Feeds `pieces` and finishes; the client bytes and the end (usage and cost, or the error
/// and the error event the proxy would send).
fn replay(provider: Provider, api: Api, pieces: &[&[u8]]) -> String {
    let request = client_request(api, true, false);
    let model = model(provider);
    let mut translator = StreamTranslator::new(&request, &model);
    let mut out = BytesMut::new();
    let mut result = Ok(());
    for piece in pieces {
        result = translator.push(piece, &mut out);
        if result.is_err() {
            break;
        }
    }
    let end = match result.and_then(|()| translator.finish(&mut out)) {
        Ok(usage) => format!(
            "usage: {}\ncost: {}",
            serde_json::to_string(&usage).unwrap(),
            usage.cost(model.pricing.as_ref().unwrap())
        ),
        Err(error) => {
            let event = translator.error_event(error.kind(), &error.to_string());
            format!(
                "error: {error}\nusage so far: {}\nerror event:\n{}",
                serde_json::to_string(&translator.usage()).unwrap(),
                String::from_utf8(event.to_vec()).unwrap()
            )
        }
    };
    format!(
        "{}\n=== end\n{end}",
        String::from_utf8(out.to_vec()).unwrap()
    )
}

#[test]
fn streams_translate_for_every_client_api() {
    for provider in PROVIDERS {
        let folder = format!("responses/{}", provider.as_str());
        for (case, bytes) in streams(provider) {
            for api in apis_for(provider, &case) {
                let text = replay(provider, api, &[&bytes]);
                in_folder(&folder, || {
                    insta::assert_snapshot!(format!("{case}.stream.{}", api.as_str()), text);
                });
            }
        }
    }
}

#[test]
fn streams_split_at_every_byte_translate_the_same() {
    for provider in PROVIDERS {
        for (case, bytes) in streams(provider) {
            for api in apis_for(provider, &case) {
                let whole = replay(provider, api, &[&bytes]);
                for at in 0..=bytes.len() {
                    let split = replay(provider, api, &[&bytes[..at], &bytes[at..]]);
                    assert_eq!(
                        split,
                        whole,
                        "{}/{case} for {api:?} split at {at}",
                        provider.as_str()
                    );
                }
                let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
                assert_eq!(
                    replay(provider, api, &bytewise),
                    whole,
                    "{case} byte by byte"
                );
            }
        }
    }
}

#[test]
fn a_chat_client_that_asked_for_usage_gets_the_usage_chunk() {
    for provider in PROVIDERS {
        for (case, bytes) in streams(provider) {
            if !apis_for(provider, &case).contains(&Api::ChatCompletions)
                || case.contains("error")
                || case.contains("truncated")
            {
                continue;
            }
            let request = client_request(Api::ChatCompletions, true, true);
            let mut translator = StreamTranslator::new(&request, &model(provider));
            let mut out = BytesMut::new();
            translator.push(&bytes, &mut out).unwrap();
            translator.finish(&mut out).unwrap();
            let text = String::from_utf8(out.to_vec()).unwrap();
            assert!(
                text.contains(r#""choices":[],"#),
                "{}/{case}: {text}",
                provider.as_str()
            );
        }
    }
}
