//! AWS Bedrock's Converse API: `/model/{modelId}/converse` and `/converse-stream` (the
//! stream in AWS event-stream framing), signed with SigV4 over the final body, or a Bedrock
//! API key as `Authorization: Bearer`. Chat and Messages clients go through the hub.
//!
//! Wire reference: <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html>.

mod eventstream;
mod request;
mod response;
mod sigv4;
mod stream;

use std::time::SystemTime;

use http::HeaderValue;
use http::header::{AUTHORIZATION, HOST, HeaderName};
use switchyard_crds::snapshot::{Credentials, Model};

use crate::azure_openai::encode_query;
use crate::request::{Outgoing, insert_secret, json_headers};
use crate::{RequestError, UpstreamRequest};

pub(crate) use response::decode_response;
pub(crate) use stream::EventDecoder;

/// The region when the model names none (the compiler's default too).
const DEFAULT_REGION: &str = "us-east-1";

/// Builds a signed request to Bedrock.
pub(crate) fn build_request(
    out: Outgoing<'_>,
    now: SystemTime,
) -> Result<UpstreamRequest, RequestError> {
    let provider = out.model.provider;
    let body = request::encode_request(&out.to_hub()?, provider)?;
    let operation = if out.stream {
        "converse-stream"
    } else {
        "converse"
    };
    let path = format!("/model/{}/{operation}", encode_query(&out.model.model));
    let accept = if out.stream {
        "application/vnd.amazon.eventstream"
    } else {
        "application/json"
    };
    let mut headers = json_headers(accept);
    let request = out.post(&path, http::HeaderMap::new(), body);
    match &out.model.credentials {
        Credentials::ApiKey(key) => {
            insert_secret(
                &mut headers,
                AUTHORIZATION,
                &format!("Bearer {}", key.expose()),
                provider,
            )?;
        }
        Credentials::Aws {
            access_key_id,
            secret_access_key,
            session_token,
        } => {
            let host = host(out.model);
            let signing = sigv4::Signing {
                access_key_id: access_key_id.expose(),
                secret_access_key: secret_access_key.expose(),
                session_token: session_token.as_ref().map(|t| t.expose()),
                region: out.model.region.as_deref().unwrap_or(DEFAULT_REGION),
                service: "bedrock",
                host: &host,
                now,
            };
            let signed = signing.sign("POST", &request.path_and_query, &request.body);
            let value = HeaderValue::from_str(&host).map_err(|_| {
                crate::hub::unsupported(provider, "be reached at a host that is not a valid header")
            })?;
            headers.insert(HOST, value);
            for (name, value) in signed {
                insert_secret(
                    &mut headers,
                    HeaderName::from_static(name),
                    &value,
                    provider,
                )?;
            }
        }
        Credentials::None => {}
    }
    Ok(UpstreamRequest { headers, ..request })
}

/// The `host` header the signature covers: the port only when it is not the scheme's default.
fn host(model: &Model) -> String {
    let endpoint = &model.endpoint;
    let default = if endpoint.tls { 443 } else { 80 };
    if endpoint.port == default {
        endpoint.host.clone()
    } else {
        format!("{}:{}", endpoint.host, endpoint.port)
    }
}
