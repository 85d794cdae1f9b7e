//! Azure OpenAI: OpenAI's bodies on deployment-scoped paths,
//! `/openai/deployments/{deployment}/{operation}?api-version=…` (the Responses API is
//! `/openai/responses?api-version=…`, the deployment named as `model`), with the `api-key`
//! header.
//!
//! Wire reference: <https://learn.microsoft.com/azure/ai-services/openai/reference>.

use http::header::HeaderName;
use switchyard_crds::snapshot::Credentials;

use crate::hub::unsupported;
use crate::request::{Outgoing, accept, insert_secret, json_headers};
use crate::{Api, RequestError, UpstreamRequest, openai};

/// Builds a request to an Azure OpenAI deployment.
pub(crate) fn build_request(out: Outgoing<'_>) -> Result<UpstreamRequest, RequestError> {
    let provider = out.model.provider;
    let target =
        out.model.azure.as_ref().ok_or_else(|| {
            unsupported(provider, "be called without a deployment and api-version")
        })?;
    let version = encode_query(&target.api_version);
    let path = match out.api {
        Api::Responses => format!("/openai/responses?api-version={version}"),
        api => format!(
            "/openai/deployments/{}{}?api-version={version}",
            encode_query(&target.deployment),
            openai::operation(api)
        ),
    };
    let mut headers = json_headers(accept(out.stream));
    if let Credentials::ApiKey(key) = &out.model.credentials {
        insert_secret(
            &mut headers,
            HeaderName::from_static("api-key"),
            key.expose(),
            provider,
        )?;
    }
    // The Responses API is not deployment-scoped: its `model` names the deployment.
    let model = match out.api {
        Api::Responses => &target.deployment,
        _ => &out.model.model,
    };
    let body = openai::body(&out, model)?;
    Ok(out.post(&path, headers, body))
}

/// Percent-encodes all but RFC 3986's unreserved characters.
pub(crate) fn encode_query(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
