//! Whole (not streamed) responses: passthrough with usage read, or decoded by the provider's
//! adapter into the hub and written by the client API's.

use bytes::Bytes;
use switchyard_crds::Provider;
use switchyard_crds::snapshot::Model;

use crate::{
    Api, ClientRequest, ErrorKind, UpstreamError, Usage, anthropic, bedrock, gemini, openai,
};

/// A translated non-streamed response.
#[derive(Clone, Debug, PartialEq)]
pub struct Translated {
    /// The body in the client's API.
    pub body: Bytes,
    /// What the call used.
    pub usage: Usage,
}

/// Translates a provider's 2xx non-streamed body into the client's API. A body that passes
/// through is returned as it came, without a copy.
pub fn translate_response(
    request: &ClientRequest,
    model: &Model,
    whole: Bytes,
) -> Result<Translated, UpstreamError> {
    let body: &[u8] = &whole;
    let api = request.api();
    let openai_family = matches!(
        model.provider,
        Provider::OpenAi | Provider::AzureOpenAi | Provider::OpenAiCompatible
    );
    let passthrough = |usage: Usage| Translated {
        body: whole.clone(),
        usage,
    };
    match (api, model.provider) {
        (Api::Messages, Provider::Anthropic) => {
            Ok(passthrough(anthropic::passthrough_usage(body)?))
        }
        (Api::Messages, _) | (Api::ChatCompletions, _)
            if !openai_family || api == Api::Messages =>
        {
            let response = match model.provider {
                Provider::Anthropic => anthropic::decode_response(body)?,
                Provider::Gemini => gemini::decode_response(body)?,
                Provider::Bedrock => bedrock::decode_response(body)?,
                Provider::OpenAi | Provider::AzureOpenAi | Provider::OpenAiCompatible => {
                    openai::decode_chat_response(body)?
                }
            };
            let body = if api == Api::Messages {
                anthropic::encode_response(&response, request, &model.model)
            } else {
                openai::encode_chat_response(&response, request, &model.model)
            };
            Ok(Translated {
                body,
                usage: response.usage,
            })
        }
        (_, _) if openai_family => Ok(passthrough(openai::passthrough_usage(body)?)),
        (Api::Embeddings, Provider::Gemini) => gemini::translate_embeddings(request, model, body),
        (_, provider) => Err(UpstreamError {
            status: 502,
            kind: ErrorKind::Api,
            message: format!(
                "no translation of {} responses from {}",
                api.as_str(),
                provider.as_str()
            ),
        }),
    }
}
