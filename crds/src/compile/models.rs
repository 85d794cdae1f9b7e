//! AIModel → [`snapshot::Model`]: endpoint, credentials and defaults resolved.

use std::{collections::BTreeSet, sync::Arc};

use super::{
    policies::CompiledPolicies,
    resolve::{Secrets, source_of},
};
use crate::{
    AIModel, Provider,
    model::Capability,
    problems::{Kind, ObjectRef, Problem, ProblemKind},
    snapshot::{AzureTarget, Credentials, Endpoint, Model, ModelIdx, Price, Timeouts},
};

/// Compiled models in canonical order (by namespace, then name).
pub(super) struct CompiledModels {
    list: Vec<Model>,
}

impl CompiledModels {
    /// The index of a usable model: a binary search of the sorted list, with no allocation per
    /// lookup (routes look up every backend and fallback).
    pub(super) fn find(&self, namespace: &str, name: &str) -> Option<ModelIdx> {
        let idx = self
            .list
            .binary_search_by(|m| {
                let key = (m.source.namespace.as_str(), m.source.name.as_str());
                key.cmp(&(namespace, name))
            })
            .ok()?;
        Some(idx as ModelIdx)
    }

    /// The models with the policies that target them attached.
    pub(super) fn into_compiled(mut self, policies: &CompiledPolicies) -> Vec<Model> {
        for model in &mut self.list {
            model.policies = policies.targeting_model(&model.source.namespace, &model.source.name);
        }
        self.list
    }
}

pub(super) fn compile(
    objects: &[Arc<AIModel>],
    secrets: &Secrets<'_>,
    problems: &mut Vec<Problem>,
) -> CompiledModels {
    let mut list: Vec<Model> = objects
        .iter()
        .filter_map(|object| match model(object, secrets) {
            Ok(model) => Some(model),
            Err(error) => {
                let source = source_of(&**object);
                let object = ObjectRef {
                    kind: Kind::AIModel,
                    namespace: source.namespace,
                    name: source.name,
                };
                problems.push(Problem { object, error });
                None
            }
        })
        .collect();
    list.sort_by(|a, b| a.source.cmp(&b.source));
    CompiledModels { list }
}

fn model(object: &AIModel, secrets: &Secrets<'_>) -> Result<Model, ProblemKind> {
    let spec = &object.spec;
    let source = source_of(object);
    let endpoint = endpoint(object, &source.namespace)?;
    let credentials = match &spec.credentials {
        None => Credentials::None,
        Some(c) => match (&c.secret_ref, &c.aws) {
            (Some(r), _) => {
                Credentials::ApiKey(secrets.text(&source.namespace, &r.name, &r.key)?)
            }
            (None, Some(aws)) => {
                let secret = secrets.get(&source.namespace, &aws.secret_ref.name)?;
                Credentials::Aws {
                    access_key_id: super::resolve::text_of(secret, "AWS_ACCESS_KEY_ID")?,
                    secret_access_key: super::resolve::text_of(secret, "AWS_SECRET_ACCESS_KEY")?,
                    session_token: super::resolve::text_of(secret, "AWS_SESSION_TOKEN").ok(),
                }
            }
            (None, None) => Credentials::None,
        },
    };
    let timeouts = spec.timeouts.as_ref();
    let defaults = Timeouts::DEFAULT;
    Ok(Model {
        provider: spec.provider,
        model: spec.model.clone(),
        endpoint,
        credentials,
        azure: spec.azure.as_ref().map(|a| AzureTarget {
            deployment: a.deployment.clone(),
            api_version: a.api_version.clone(),
        }),
        region: spec.bedrock.as_ref().map(|b| b.region.clone()),
        capabilities: if spec.capabilities.is_empty() {
            default_capabilities(spec.provider)
        } else {
            spec.capabilities.iter().copied().collect()
        },
        pricing: spec.pricing.as_ref().map(|p| Price {
            input: p.input.get(),
            output: p.output.get(),
            cached_input: p.cached_input.unwrap_or(p.input).get(),
        }),
        quota_requests_per_minute: spec.quota.as_ref().and_then(|q| q.requests_per_minute),
        quota_tokens_per_minute: spec.quota.as_ref().and_then(|q| q.tokens_per_minute),
        timeouts: Timeouts {
            connect: timeouts.and_then(|t| t.connect).unwrap_or(defaults.connect),
            first_token: timeouts
                .and_then(|t| t.first_token)
                .unwrap_or(defaults.first_token),
            total: timeouts.and_then(|t| t.total).unwrap_or(defaults.total),
        },
        policies: Vec::new(),
        source,
    })
}

/// What each provider family serves when the spec lists no capabilities.
fn default_capabilities(provider: Provider) -> BTreeSet<Capability> {
    use Capability::*;
    let list: &[Capability] = match provider {
        Provider::OpenAi | Provider::AzureOpenAi => &[
            Chat,
            Completions,
            Embeddings,
            Responses,
            Tools,
            Vision,
            JsonMode,
        ],
        Provider::Anthropic | Provider::Bedrock => &[Chat, Tools, Vision],
        Provider::Gemini => &[Chat, Tools, Vision, JsonMode],
        Provider::OpenAiCompatible => &[Chat, Completions, Embeddings, Tools, JsonMode],
    };
    list.iter().copied().collect()
}

/// The base URL: the spec's endpoint, the in-cluster Service, or the provider's public API.
fn endpoint(object: &AIModel, namespace: &str) -> Result<Endpoint, ProblemKind> {
    let spec = &object.spec;
    let versioned = matches!(spec.provider, Provider::OpenAi | Provider::OpenAiCompatible);
    let url = match (&spec.endpoint, &spec.service_ref) {
        (Some(url), _) => url.clone(),
        (None, Some(svc)) => {
            let suffix = if versioned { "/v1" } else { "" };
            format!("http://{}.{namespace}.svc:{}{suffix}", svc.name, svc.port)
        }
        (None, None) => match spec.provider {
            Provider::OpenAi => "https://api.openai.com/v1".to_owned(),
            Provider::Anthropic => "https://api.anthropic.com".to_owned(),
            Provider::Gemini => "https://generativelanguage.googleapis.com".to_owned(),
            Provider::Bedrock => {
                let region = spec
                    .bedrock
                    .as_ref()
                    .map_or("us-east-1", |b| b.region.as_str());
                format!("https://bedrock-runtime.{region}.amazonaws.com")
            }
            Provider::AzureOpenAi | Provider::OpenAiCompatible => {
                return Err(ProblemKind::InvalidEndpoint { url: String::new() });
            }
        },
    };
    parse_endpoint(&url).ok_or(ProblemKind::InvalidEndpoint { url })
}

/// Splits a base URL; `None` unless it is plain http(s) with a host and no query, fragment or
/// user info.
fn parse_endpoint(text: &str) -> Option<Endpoint> {
    let url = url::Url::parse(text).ok()?;
    let tls = match url.scheme() {
        "https" => true,
        "http" => false,
        _ => return None,
    };
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url.port_or_known_default()?;
    let base_path = url.path().trim_end_matches('/').to_owned();
    let port_part = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let base_url = format!(
        "{}://{}{port_part}{base_path}",
        url.scheme(),
        url.host_str()?
    );
    Some(Endpoint {
        base_url,
        tls,
        host,
        port,
        base_path,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_endpoint;

    #[test]
    fn endpoints_keep_host_port_and_path_and_drop_trailing_slashes() {
        let e = parse_endpoint("http://vllm.ml.svc:8000/v1/").unwrap();
        assert_eq!(e.base_url, "http://vllm.ml.svc:8000/v1");
        assert_eq!(
            (e.host.as_str(), e.port, e.tls, e.base_path.as_str()),
            ("vllm.ml.svc", 8000, false, "/v1")
        );
        let e = parse_endpoint("https://api.openai.com/v1").unwrap();
        assert_eq!(
            (e.port, e.tls, e.base_url.as_str()),
            (443, true, "https://api.openai.com/v1")
        );
    }

    #[test]
    fn endpoints_with_query_credentials_or_other_schemes_are_refused() {
        for bad in [
            "ftp://x",
            "https://u:p@x",
            "https://x?a=1",
            "https://x#f",
            "not a url",
        ] {
            assert!(parse_endpoint(bad).is_none(), "{bad}");
        }
    }
}
