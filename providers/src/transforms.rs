//! The route's request transforms, applied to the client's body before translation, so an
//! injected param goes through the same translation (and the same refusals) as a sent one.
//!
//! Params are named as in the client's API. They are not applied to embeddings, whose APIs
//! take none of the sampling params routes set; `model` and `stream` are the gateway's to set
//! and are never overridden. The system prompt goes where the client's API keeps it: leading
//! system messages (chat), `system` (messages) or `instructions` (responses); legacy
//! completions have none.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use switchyard_crds::route::SystemPromptMode;
use switchyard_crds::snapshot::{SystemPrompt, Transforms};

use crate::fields::Fields;
use crate::{Api, RequestError};

/// Applies default params (when absent), forced params (always) and the system prompt.
pub(crate) fn apply(
    api: Api,
    fields: &mut Fields,
    transforms: &Transforms,
) -> Result<(), RequestError> {
    if api == Api::Embeddings {
        return Ok(());
    }
    let owned = |name: &str| name == "model" || name == "stream";
    for (name, value) in &transforms.default_params {
        if !owned(name) && !fields.has(name) {
            fields.set(name, value)?;
        }
    }
    for (name, value) in &transforms.forced_params {
        if !owned(name) {
            fields.set(name, value)?;
        }
    }
    let Some(prompt) = &transforms.system_prompt else {
        return Ok(());
    };
    match api {
        Api::ChatCompletions => chat_system(fields, prompt),
        Api::Messages => messages_system(fields, prompt),
        Api::Responses => instructions(fields, prompt),
        Api::Completions | Api::Embeddings => Ok(()),
    }
}

#[derive(Deserialize)]
struct RoleOnly {
    role: Option<String>,
}

/// Chat: a system message before, after or instead of the client's leading system messages.
fn chat_system(fields: &mut Fields, prompt: &SystemPrompt) -> Result<(), RequestError> {
    let mut messages: Vec<Box<RawValue>> = fields.decode("messages")?.unwrap_or_default();
    let leading = messages
        .iter()
        .take_while(|m| {
            serde_json::from_str::<RoleOnly>(m.get())
                .ok()
                .and_then(|m| m.role)
                .is_some_and(|role| role == "system" || role == "developer")
        })
        .count();
    let message =
        serde_json::value::to_raw_value(&json!({"role": "system", "content": prompt.text}))
            .map_err(RequestError::InvalidJson)?;
    match prompt.mode {
        SystemPromptMode::Prepend => messages.insert(0, message),
        SystemPromptMode::Append => messages.insert(leading, message),
        SystemPromptMode::Replace => {
            messages.drain(..leading);
            messages.insert(0, message);
        }
    }
    fields.set("messages", &messages)
}

/// Messages: a text block before, after or instead of the client's `system`.
fn messages_system(fields: &mut Fields, prompt: &SystemPrompt) -> Result<(), RequestError> {
    let block = json!({"type": "text", "text": prompt.text});
    let mut blocks = match fields.decode::<Value>("system")? {
        None => Vec::new(),
        Some(Value::String(text)) => vec![json!({"type": "text", "text": text})],
        Some(Value::Array(blocks)) => blocks,
        Some(_) => {
            return Err(crate::hub::invalid(
                "system",
                "must be a string or an array",
            ));
        }
    };
    match prompt.mode {
        SystemPromptMode::Prepend => blocks.insert(0, block),
        SystemPromptMode::Append => blocks.push(block),
        SystemPromptMode::Replace => blocks = vec![block],
    }
    fields.set("system", &blocks)
}

/// Responses: the text joined before, after or instead of `instructions`.
fn instructions(fields: &mut Fields, prompt: &SystemPrompt) -> Result<(), RequestError> {
    let current: Option<String> = fields.decode("instructions")?;
    let text = match (prompt.mode, current) {
        (SystemPromptMode::Replace, _) | (_, None) => prompt.text.clone(),
        (SystemPromptMode::Prepend, Some(current)) => format!("{}\n\n{current}", prompt.text),
        (SystemPromptMode::Append, Some(current)) => format!("{current}\n\n{}", prompt.text),
    };
    fields.set("instructions", &text)
}
