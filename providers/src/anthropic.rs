//! Anthropic Messages: `x-api-key` and `anthropic-version` headers, `/v1/messages` under the
//! endpoint's base path. A Messages client passes through with only `model` edited; a chat
//! client goes through the hub.
//!
//! Wire reference: <https://docs.anthropic.com/en/api/messages>.

mod outbound;
mod request;
mod response;
mod stream;

use http::HeaderValue;
use http::header::HeaderName;
use switchyard_crds::snapshot::Credentials;

use crate::request::{Outgoing, accept, insert_secret, json_headers};
use crate::{Api, RequestError, UpstreamRequest};

pub(crate) use outbound::encode_request;
pub(crate) use request::decode_request;
pub(crate) use response::{decode_response, encode_response, passthrough_usage};
pub(crate) use stream::{EventDecoder, EventEncoder, PassthroughScanner};

/// The API version every request names.
const VERSION: &str = "2023-06-01";

/// Builds a request to Anthropic.
pub(crate) fn build_request(out: Outgoing<'_>) -> Result<UpstreamRequest, RequestError> {
    let provider = out.model.provider;
    let body = if out.api == Api::Messages {
        let mut fields = out.fields.clone();
        fields.set("model", &out.model.model)?;
        fields.to_bytes()
    } else {
        encode_request(&out.to_hub()?, provider)?
    };
    let mut headers = json_headers(accept(out.stream));
    headers.insert(
        HeaderName::from_static("anthropic-version"),
        HeaderValue::from_static(VERSION),
    );
    if let Credentials::ApiKey(key) = &out.model.credentials {
        insert_secret(
            &mut headers,
            HeaderName::from_static("x-api-key"),
            key.expose(),
            provider,
        )?;
    }
    Ok(out.post("/v1/messages", headers, body))
}
