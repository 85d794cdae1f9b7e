//! Whole-response golden tests: each `testdata/responses/<provider>/<case>.json` translated for
//! the client APIs that provider serves; snapshots next to it as `<case>.<api>.snap`.

use switchyard_providers::translate_response;

use super::support::{
    PROVIDERS, apis_for, client_request, fixture, fixtures, in_folder, model, pretty,
};

#[test]
fn responses_translate_for_every_client_api() {
    for provider in PROVIDERS {
        let folder = format!("responses/{}", provider.as_str());
        for case in fixtures(&folder, "json") {
            if case.ends_with(".events") {
                continue;
            }
            let body = fixture(&format!("{folder}/{case}.json"));
            for api in apis_for(provider, &case) {
                let request = client_request(api, false, false);
                let text = match translate_response(&request, &model(provider), body.clone().into())
                {
                    Ok(translated) => format!(
                        "usage: {}\n\n{}",
                        serde_json::to_string(&translated.usage).unwrap(),
                        pretty(&translated.body)
                    ),
                    Err(error) => format!("error: {error:?}"),
                };
                in_folder(&folder, || {
                    insta::assert_snapshot!(format!("{case}.{}", api.as_str()), text);
                });
            }
        }
    }
}
