//! OpenAI and OpenAI-compatible servers (vLLM, Ollama, Groq, …): Bearer auth and paths under
//! the endpoint's base path (which holds the `/v1`). Every OpenAI API passes through with only
//! `model` edited; streamed chat and completions also ask for the usage chunk, which is
//! stripped again if the client did not ask for it. A Messages client goes through the hub.
//!
//! Wire reference: <https://platform.openai.com/docs/api-reference>.

mod outbound;
mod request;
mod response;
mod stream;

use bytes::Bytes;
use http::header::AUTHORIZATION;
use serde_json::{Map, Value};
use switchyard_crds::snapshot::Credentials;

use crate::request::{Outgoing, accept, insert_secret, json_headers};
use crate::{Api, RequestError, UpstreamRequest};

pub(crate) use outbound::encode_chat_request;
pub(crate) use request::decode_chat_request;
pub(crate) use response::{decode_chat_response, encode_chat_response, passthrough_usage};
pub(crate) use stream::{ChunkDecoder, ChunkEncoder, PassthroughScanner};

/// Builds a request to an OpenAI or OpenAI-compatible server.
pub(crate) fn build_request(out: Outgoing<'_>) -> Result<UpstreamRequest, RequestError> {
    let provider = out.model.provider;
    let mut headers = json_headers(accept(out.stream));
    if let Credentials::ApiKey(key) = &out.model.credentials {
        let bearer = format!("Bearer {}", key.expose());
        insert_secret(&mut headers, AUTHORIZATION, &bearer, provider)?;
    }
    let path = operation(out.api);
    let body = body(&out, &out.model.model)?;
    Ok(out.post(path, headers, body))
}

/// The path of the operation serving a client API, after the base path.
pub(crate) const fn operation(api: Api) -> &'static str {
    match api {
        Api::ChatCompletions | Api::Messages => "/chat/completions",
        Api::Completions => "/completions",
        Api::Embeddings => "/embeddings",
        Api::Responses => "/responses",
    }
}

/// The body for an OpenAI-family backend: the client's own fields with `model` set to
/// `model` (and usage asked for in chat and completion streams), or a Messages client's
/// request as chat.
pub(crate) fn body(out: &Outgoing<'_>, model: &str) -> Result<Bytes, RequestError> {
    if out.api == Api::Messages {
        return encode_chat_request(&out.to_hub()?, out.model.provider);
    }
    let mut fields = out.fields.clone();
    fields.set("model", model)?;
    if out.stream && matches!(out.api, Api::ChatCompletions | Api::Completions) {
        let mut options: Map<String, Value> = fields.decode("stream_options")?.unwrap_or_default();
        options.insert("include_usage".to_owned(), Value::Bool(true));
        fields.set("stream_options", &options)?;
    }
    Ok(fields.to_bytes())
}
