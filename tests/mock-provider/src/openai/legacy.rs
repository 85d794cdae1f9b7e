//! Text completions, embeddings and the model list: OpenAI's simpler endpoints.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hyper::Response;
use serde_json::{Value, json};

use super::{Flavor, finish_reason, now, stream_error_frame};
use crate::body::{MockBody, StreamPlan};
use crate::reply::{Ask, Reply, Usage};
use crate::router::{ApiError, Exchange, parse_json};
use crate::sse::{self, json_bytes};

/// The dimension of an embedding when the request names none (text-embedding-3-small's).
const DEFAULT_DIMENSIONS: usize = 1536;

pub(super) async fn completions(
    flavor: Flavor,
    ex: &Exchange,
    body: &[u8],
) -> Result<Response<MockBody>, ApiError> {
    let request = parse_json(body)?;
    let Some(prompt) = request.get("prompt") else {
        return Err(
            ApiError::bad_request("Missing required parameter: 'prompt'.").with_param("prompt"),
        );
    };
    let mut ask = Ask::default();
    for text in texts(prompt) {
        ask.count(&text);
        ask.last_text = text;
    }
    ask.max_tokens = request.get("max_tokens").and_then(Value::as_u64);
    let reply = Reply::compose(&ask, &ex.controls);
    let (id, created, model) = (format!("cmpl-mock{}", ex.id), now(), flavor.model(&request));
    let choice = |text: &str, finish: Option<&str>| json!({"text": text, "index": 0, "logprobs": null, "finish_reason": finish});
    let object = |choices: Value| {
        json!({
            "id": id, "object": "text_completion", "created": created, "model": model,
            "choices": choices, "system_fingerprint": "fp_mock",
        })
    };
    if request.get("stream").and_then(Value::as_bool) == Some(true) {
        let mut frames = Vec::with_capacity(reply.pieces.len() + 3);
        for piece in &reply.pieces {
            frames.push(sse::data(&object(json!([choice(piece, None)]))));
        }
        let finish = finish_reason(reply.finish);
        frames.push(sse::data(&object(json!([choice("", Some(finish))]))));
        if request.pointer("/stream_options/include_usage") == Some(&Value::Bool(true)) {
            let mut last = object(json!([]));
            last["usage"] = usage_json(&reply.usage);
            frames.push(sse::data(&last));
        }
        frames.push(sse::done());
        let plan = StreamPlan {
            frames,
            lead: 0,
            content: reply.pieces.len(),
            error_frame: ex.wants_error_frame().then(stream_error_frame),
            sse: true,
        };
        return Ok(ex.stream("text/event-stream; charset=utf-8", plan));
    }
    ex.generate(&reply).await;
    let mut whole = object(json!([choice(
        reply.text(),
        Some(finish_reason(reply.finish))
    )]));
    whole["usage"] = usage_json(&reply.usage);
    Ok(ex.json(json_bytes(&whole)))
}

fn usage_json(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.input, "completion_tokens": usage.output,
        "total_tokens": usage.input + usage.output,
    })
}

/// The texts of a `prompt` or `input`: a string, strings, or token arrays (read as numbers).
fn texts(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) if items.iter().all(Value::is_number) => {
            vec![
                items
                    .iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
            ]
        }
        Value::Array(items) => items.iter().flat_map(texts).collect(),
        other => vec![other.to_string()],
    }
}

pub(super) fn embeddings(
    flavor: Flavor,
    ex: &Exchange,
    body: &[u8],
) -> Result<Response<MockBody>, ApiError> {
    let request = parse_json(body)?;
    let Some(input) = request.get("input") else {
        return Err(
            ApiError::bad_request("Missing required parameter: 'input'.").with_param("input"),
        );
    };
    let dimensions = request
        .get("dimensions")
        .and_then(Value::as_u64)
        .and_then(|d| usize::try_from(d).ok())
        .unwrap_or(DEFAULT_DIMENSIONS);
    let base64 = request.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let mut tokens = 0;
    let data: Vec<Value> = texts(input)
        .iter()
        .enumerate()
        .map(|(index, text)| {
            tokens += text.split_whitespace().count().max(1);
            let vector = embed(text, dimensions);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|v| v.to_le_bytes()).collect();
                Value::from(STANDARD.encode(bytes))
            } else {
                Value::from(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let response = json!({
        "object": "list", "data": data, "model": flavor.model(&request),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    });
    Ok(ex.json(json_bytes(&response)))
}

/// A unit vector seeded by the text (FNV-1a, then xorshift), so equal texts embed equally.
pub(crate) fn embed(text: &str, dimensions: usize) -> Vec<f32> {
    let mut state = text
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
        .max(1);
    let mut vector: Vec<f32> = (0..dimensions)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // The top 24 bits as a fraction in [-1, 1).
            ((state >> 40) as f32 / 8_388_608.0) - 1.0
        })
        .collect();
    let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|v| *v /= norm);
    }
    vector
}

pub(super) fn models(ex: &Exchange) -> Response<MockBody> {
    let data: Vec<Value> = ex
        .shared
        .config
        .models
        .iter()
        .map(|id| model_json(id))
        .collect();
    ex.json(json_bytes(&json!({"object": "list", "data": data})))
}

pub(super) fn model(ex: &Exchange, id: &str) -> Result<Response<MockBody>, ApiError> {
    if !ex.shared.config.models.iter().any(|m| m == id) {
        return Err(
            ApiError::not_found(format!("The model '{id}' does not exist")).with_param("model"),
        );
    }
    Ok(ex.json(json_bytes(&model_json(id))))
}

fn model_json(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": 1_686_935_002, "owned_by": "system"})
}
