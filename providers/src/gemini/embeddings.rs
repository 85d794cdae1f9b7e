//! OpenAI embeddings to and from Gemini's `batchEmbedContents`: one request per input text,
//! `dimensions` as `outputDimensionality`; `encoding_format: base64` is applied to Gemini's
//! floats here (little-endian f32, as OpenAI encodes them). Gemini reports no token counts
//! for embeddings, so usage is zero.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_crds::Provider;
use switchyard_crds::snapshot::Model;

use crate::errors::malformed;
use crate::fields::Fields;
use crate::hub::{invalid, unsupported};
use crate::{ClientRequest, RequestError, Translated, UpstreamError, Usage};

const KNOWN: &[&str] = &["model", "input", "dimensions", "encoding_format"];

/// Writes an OpenAI embeddings body as a `batchEmbedContents` body.
pub(crate) fn encode_request(
    fields: &Fields,
    model: &str,
    provider: Provider,
) -> Result<Bytes, RequestError> {
    if let Some(name) = fields.names().find(|name| !KNOWN.contains(name)) {
        return Err(unsupported(
            provider,
            format!("accept the `{name}` field on embeddings"),
        ));
    }
    let texts: Vec<String> = match fields.decode::<Value>("input")? {
        Some(Value::String(text)) => vec![text],
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
            .into_iter()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect(),
        Some(Value::Array(_)) => return Err(unsupported(provider, "embed token arrays")),
        _ => return Err(invalid("input", "must be a string or an array of strings")),
    };
    match fields.decode::<String>("encoding_format")?.as_deref() {
        None | Some("float" | "base64") => {}
        Some(_) => return Err(invalid("encoding_format", "must be float or base64")),
    }
    let dimensions: Option<u64> = fields.decode("dimensions")?;
    let requests: Vec<Value> = texts
        .iter()
        .map(|text| {
            let mut request =
                json!({"model": format!("models/{model}"), "content": {"parts": [{"text": text}]}});
            if let Some(dimensions) = dimensions {
                request["outputDimensionality"] = json!(dimensions);
            }
            request
        })
        .collect();
    serde_json::to_vec(&json!({"requests": requests}))
        .map(Bytes::from)
        .map_err(RequestError::InvalidJson)
}

#[derive(Deserialize)]
struct GeminiEmbeddings {
    #[serde(default)]
    embeddings: Vec<GeminiEmbedding>,
}

#[derive(Deserialize)]
struct GeminiEmbedding {
    #[serde(default)]
    values: Vec<f64>,
}

/// Writes a `batchEmbedContents` answer as an OpenAI embeddings list.
pub(crate) fn translate_embeddings(
    request: &ClientRequest,
    model: &Model,
    body: &[u8],
) -> Result<Translated, UpstreamError> {
    let answer: GeminiEmbeddings =
        serde_json::from_slice(body).map_err(|e| malformed("gemini", &e))?;
    let base64 = request
        .fields
        .decode::<String>("encoding_format")
        .ok()
        .flatten()
        .as_deref()
        == Some("base64");
    let data: Vec<Value> = answer
        .embeddings
        .iter()
        .enumerate()
        .map(|(index, embedding)| {
            let vector = if base64 {
                #[allow(
                    clippy::cast_possible_truncation,
                    reason = "OpenAI's base64 embeddings are f32"
                )]
                let bytes: Vec<u8> = embedding
                    .values
                    .iter()
                    .flat_map(|v| (*v as f32).to_le_bytes())
                    .collect();
                json!(STANDARD.encode(bytes))
            } else {
                json!(embedding.values)
            };
            json!({"object": "embedding", "index": index, "embedding": vector})
        })
        .collect();
    let body = json!({
        "object": "list", "data": data, "model": model.model,
        "usage": {"prompt_tokens": 0, "total_tokens": 0},
    });
    Ok(Translated {
        body: Bytes::from(body.to_string()),
        usage: Usage::default(),
    })
}
