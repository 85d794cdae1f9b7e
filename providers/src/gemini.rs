//! Google Gemini: `generateContent`, `streamGenerateContent?alt=sse` and `batchEmbedContents`
//! under `/v1beta/models/{model}`, with the `x-goog-api-key` header. Chat and Messages
//! clients go through the hub; embeddings are translated on their own.
//!
//! Wire reference: <https://ai.google.dev/api/generate-content>.

mod embeddings;
mod request;
mod response;
mod stream;

use http::header::HeaderName;
use switchyard_crds::snapshot::{Credentials, Model};

use crate::request::{Outgoing, accept, insert_secret, json_headers};
use crate::{Api, RequestError, UpstreamRequest};

pub(crate) use embeddings::translate_embeddings;
pub(crate) use response::decode_response;
pub(crate) use stream::ChunkDecoder;

/// Builds a request to Gemini.
pub(crate) fn build_request(out: Outgoing<'_>) -> Result<UpstreamRequest, RequestError> {
    let provider = out.model.provider;
    let model = model_id(out.model);
    let (path, body) = if out.api == Api::Embeddings {
        let body = embeddings::encode_request(&out.fields, model, provider)?;
        (format!("/v1beta/models/{model}:batchEmbedContents"), body)
    } else {
        let body = request::encode_request(&out.to_hub()?, provider)?;
        let path = if out.stream {
            format!("/v1beta/models/{model}:streamGenerateContent?alt=sse")
        } else {
            format!("/v1beta/models/{model}:generateContent")
        };
        (path, body)
    };
    let mut headers = json_headers(accept(out.stream));
    if let Credentials::ApiKey(key) = &out.model.credentials {
        let name = HeaderName::from_static("x-goog-api-key");
        insert_secret(&mut headers, name, key.expose(), provider)?;
    }
    Ok(out.post(&path, headers, body))
}

/// The model id without the `models/` prefix Google's resource names carry.
fn model_id(model: &Model) -> &str {
    model.model.strip_prefix("models/").unwrap_or(&model.model)
}
