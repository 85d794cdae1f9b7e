//! The CEL rules of `AIModel`: endpoint, provider settings, credentials and timeouts.

use serde_json::{Value, json};
use switchyard_crds::{AIModel, AIModelSpec};

use super::harness::{Kind, assert_accepted, assert_refused, merged};

/// An OpenAI model with an API key: every rule passes.
fn openai() -> Value {
    json!({
        "provider": "openai",
        "model": "gpt-4o",
        "credentials": { "secretRef": { "name": "openai", "key": "apiKey" } },
    })
}

/// An Azure OpenAI deployment with everything it needs.
fn azure() -> Value {
    json!({
        "provider": "azure-openai",
        "model": "gpt-4o",
        "endpoint": "https://contoso.openai.azure.com",
        "azure": { "deployment": "gpt-4o-prod", "apiVersion": "2024-10-21" },
        "credentials": { "secretRef": { "name": "azure", "key": "apiKey" } },
    })
}

/// A Bedrock model with a region and AWS keys.
fn bedrock() -> Value {
    json!({
        "provider": "bedrock",
        "model": "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "bedrock": { "region": "us-east-1" },
        "credentials": { "aws": { "secretRef": { "name": "aws" } } },
    })
}

/// A vLLM server in the cluster, without credentials.
fn vllm() -> Value {
    json!({
        "provider": "openai-compatible",
        "model": "meta-llama/Llama-3.1-8B-Instruct",
        "serviceRef": { "name": "vllm", "port": 8000 },
    })
}

fn model(base: Value, patch: Value) -> Value {
    merged(base, patch)
}

#[test]
fn a_model_of_each_provider_with_what_it_needs_is_accepted() {
    for spec in [openai(), azure(), bedrock(), vllm()] {
        assert_accepted(Kind::Model, spec);
    }
    for provider in ["anthropic", "gemini"] {
        assert_accepted(
            Kind::Model,
            model(openai(), json!({ "provider": provider })),
        );
    }
}

#[test]
fn a_model_with_both_endpoint_and_service_ref_is_refused() {
    assert_refused(
        Kind::Model,
        model(vllm(), json!({ "endpoint": "http://vllm.example:8000" })),
        "spec",
        "set at most one of endpoint and serviceRef",
    );
}

#[test]
fn an_openai_compatible_model_is_accepted_with_an_endpoint_instead_of_a_service_ref() {
    let spec = model(
        vllm(),
        json!({ "serviceRef": null, "endpoint": "https://api.groq.com/openai" }),
    );
    assert_accepted(Kind::Model, spec);
}

#[test]
fn an_openai_compatible_model_without_endpoint_or_service_ref_is_refused() {
    assert_refused(
        Kind::Model,
        model(vllm(), json!({ "serviceRef": null })),
        "spec",
        "an openai-compatible model needs an endpoint or a serviceRef",
    );
}

#[test]
fn an_azure_model_without_an_endpoint_is_refused() {
    assert_refused(
        Kind::Model,
        model(azure(), json!({ "endpoint": null })),
        "spec",
        "an azure-openai model needs an endpoint such as https://RESOURCE.openai.azure.com",
    );
}

#[test]
fn an_azure_model_without_azure_settings_is_refused() {
    assert_refused(
        Kind::Model,
        model(azure(), json!({ "azure": null })),
        "spec",
        "an azure-openai model needs azure.deployment and azure.apiVersion",
    );
}

#[test]
fn azure_settings_on_another_provider_are_refused() {
    assert_refused(
        Kind::Model,
        model(azure(), json!({ "provider": "openai" })),
        "spec",
        "azure settings apply only to provider azure-openai",
    );
}

#[test]
fn a_bedrock_model_without_bedrock_settings_is_refused() {
    assert_refused(
        Kind::Model,
        model(bedrock(), json!({ "bedrock": null })),
        "spec",
        "a bedrock model needs bedrock.region",
    );
}

#[test]
fn bedrock_settings_on_another_provider_are_refused() {
    let spec = model(openai(), json!({ "bedrock": { "region": "us-east-1" } }));
    assert_refused(
        Kind::Model,
        spec,
        "spec",
        "bedrock settings apply only to provider bedrock",
    );
}

#[test]
fn a_model_without_credentials_is_refused_unless_it_is_openai_compatible() {
    assert_refused(
        Kind::Model,
        model(openai(), json!({ "credentials": null })),
        "spec",
        "credentials are required for every provider except openai-compatible",
    );
    let with_key = json!({ "credentials": { "secretRef": { "name": "vllm", "key": "token" } } });
    assert_accepted(Kind::Model, model(vllm(), with_key));
}

#[test]
fn a_bedrock_model_with_an_api_key_instead_of_aws_keys_is_refused() {
    let spec = model(
        bedrock(),
        json!({ "credentials": { "aws": null, "secretRef": { "name": "x", "key": "k" } } }),
    );
    assert_refused(
        Kind::Model,
        spec,
        "spec",
        "bedrock models use credentials.aws; every other provider uses credentials.secretRef",
    );
}

#[test]
fn an_openai_model_with_aws_keys_is_refused() {
    let spec = model(
        openai(),
        json!({ "credentials": { "secretRef": null, "aws": { "secretRef": { "name": "aws" } } } }),
    );
    assert_refused(
        Kind::Model,
        spec,
        "spec",
        "bedrock models use credentials.aws; every other provider uses credentials.secretRef",
    );
}

#[test]
fn credentials_with_both_sources_or_neither_are_refused() {
    let both = json!({ "credentials": { "secretRef": { "name": "x", "key": "k" } } });
    let neither = json!({ "credentials": { "secretRef": null } });
    for spec in [model(bedrock(), both), model(openai(), neither)] {
        assert_refused(
            Kind::Model,
            spec,
            "spec.credentials",
            "set exactly one of credentials.secretRef and credentials.aws",
        );
    }
}

#[test]
fn http_and_https_endpoints_are_accepted() {
    for endpoint in [
        "https://api.openai.com",
        "https://api.openai.com/v1",
        "http://ollama.tools.svc:11434",
        "http://10.0.0.7:8000/v1",
    ] {
        assert_accepted(
            Kind::Model,
            model(openai(), json!({ "endpoint": endpoint })),
        );
    }
}

#[test]
fn endpoints_that_are_not_http_urls_with_a_host_are_refused() {
    for endpoint in [
        "api.openai.com",
        "ftp://files.example.com",
        "https://",
        "https:///v1",
        "https://:443",
        "HTTPS://API.OPENAI.COM",
        "not a url",
        "",
    ] {
        assert_refused(
            Kind::Model,
            model(openai(), json!({ "endpoint": endpoint })),
            "spec.endpoint",
            "endpoint must be an http:// or https:// URL",
        );
    }
}

#[test]
fn azure_api_versions_are_dates_with_an_optional_preview_suffix() {
    for version in ["2024-10-21", "2025-01-01-preview"] {
        let spec = model(azure(), json!({ "azure": { "apiVersion": version } }));
        assert_accepted(Kind::Model, spec);
    }
    for version in ["2024-10", "latest", "2024-10-21-beta", "v2024-10-21"] {
        assert_refused(
            Kind::Model,
            model(azure(), json!({ "azure": { "apiVersion": version } })),
            "spec.azure.apiVersion",
            "apiVersion must look like 2024-10-21 or 2025-01-01-preview",
        );
    }
}

#[test]
fn bedrock_regions_look_like_aws_regions() {
    for region in [
        "us-east-1",
        "eu-central-1",
        "us-gov-west-1",
        "ap-southeast-2",
    ] {
        let spec = model(bedrock(), json!({ "bedrock": { "region": region } }));
        assert_accepted(Kind::Model, spec);
    }
    for region in ["US-EAST-1", "useast1", "us-east", "us_east_1"] {
        assert_refused(
            Kind::Model,
            model(bedrock(), json!({ "bedrock": { "region": region } })),
            "spec.bedrock.region",
            "region must be an AWS region such as us-east-1",
        );
    }
}

#[test]
fn a_first_token_timeout_up_to_the_total_timeout_is_accepted() {
    for (first_token, total) in [("30s", "10m"), ("1m", "60s"), ("1500ms", "1.5s")] {
        let timeouts = json!({ "timeouts": { "firstToken": first_token, "total": total } });
        assert_accepted(Kind::Model, model(openai(), timeouts));
    }
    let only_one = json!({ "timeouts": { "firstToken": "2h" } });
    assert_accepted(Kind::Model, model(openai(), only_one));
}

#[test]
fn a_first_token_timeout_longer_than_the_total_timeout_is_refused() {
    assert_refused(
        Kind::Model,
        model(
            openai(),
            json!({ "timeouts": { "firstToken": "10m", "total": "5m" } }),
        ),
        "spec.timeouts",
        "timeouts.firstToken must not exceed timeouts.total",
    );
}

#[test]
fn a_timeout_that_is_not_a_duration_is_reported_once_on_its_own_field() {
    assert_refused(
        Kind::Model,
        model(
            openai(),
            json!({ "timeouts": { "firstToken": "soon", "total": "5m" } }),
        ),
        "spec.timeouts.firstToken",
        "must be a positive duration such as 500ms, 30s, 5m or 1h30m",
    );
}

#[test]
fn the_generated_validate_cel_method_applies_the_same_rules_to_typed_objects() {
    let spec: AIModelSpec =
        serde_json::from_value(model(vllm(), json!({ "endpoint": "http://vllm:8000" })))
            .expect("a well-typed spec");
    let errors = AIModel::new("example", spec)
        .validate_cel()
        .expect_err("endpoint and serviceRef together");
    let messages: Vec<_> = errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages, ["set at most one of endpoint and serviceRef"]);
}
