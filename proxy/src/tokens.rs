//! Counting a request's input tokens with a real tokenizer, for the max-input-tokens guardrail,
//! limit and budget reservations and the balancer's cost estimate.
//!
//! What is counted, following OpenAI's published recipe for chat requests:
//! - every string in `messages` (role, content text, names, tool calls and their arguments),
//!   plus 3 tokens per message and 3 for the reply's priming;
//! - the top-level `system` (Anthropic), `instructions` (Responses), `prompt` (completions) and
//!   `input` (embeddings, Responses) strings;
//! - tool definitions (`tools`, `functions`) as their JSON text, which slightly over-counts
//!   what providers bill for them;
//! - an inline image (`data:` URL) as a flat 85 tokens (OpenAI's low-detail price) rather than
//!   its base64 text; image URLs count as their text.
//!
//! Every model is counted with OpenAI's `o200k_base` encoding: for Anthropic, Gemini, Bedrock
//! and open models it is an approximation (their tokenizers are not public or differ by model),
//! close enough to reserve by and corrected when the provider reports its usage.
//!
//! The encoding is built once, on first use, and shared by every request.

use serde::Deserialize;
use serde_json::{Value, value::RawValue};
use switchyard_providers::ClientRequest;
use tiktoken_rs::CoreBPE;

use crate::balance::Estimate;

/// Output tokens assumed for a request that sets no maximum (`max_tokens`,
/// `max_completion_tokens` or `max_output_tokens`): reservations and cost estimates use it.
pub const DEFAULT_MAX_OUTPUT_TOKENS: u64 = 1024;
/// Tokens added per chat message (OpenAI: `<|start|>{role}\n{content}<|end|>\n`).
const PER_MESSAGE: u64 = 3;
/// Tokens that prime the reply (`<|start|>assistant<|message|>`).
const REPLY_PRIMING: u64 = 3;
/// Bytes of JSON per token, for the rough estimate of a route that does not count tokens: the
/// balancer's cost order only needs the order of magnitude, and a large prompt costs
/// milliseconds to tokenize.
const BYTES_PER_TOKEN: u64 = 4;
/// Tokens an inline image counts for.
const INLINE_IMAGE: u64 = 85;

/// The top-level fields that carry prompt text; everything else is skipped unparsed.
#[derive(Deserialize)]
struct Prompt<'a> {
    #[serde(borrow, default)]
    messages: Option<&'a RawValue>,
    #[serde(borrow, default)]
    system: Option<&'a RawValue>,
    #[serde(borrow, default)]
    instructions: Option<&'a RawValue>,
    #[serde(borrow, default)]
    prompt: Option<&'a RawValue>,
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tools: Option<&'a RawValue>,
    #[serde(borrow, default)]
    functions: Option<&'a RawValue>,
}

/// The shared encoding (built on first use; about 100 ms, once per process).
fn encoding() -> &'static CoreBPE {
    tiktoken_rs::o200k_base_singleton()
}

/// Builds the encoding now, so the first request does not pay for it.
pub fn warm() {
    encoding();
}

/// Tokens in `text`.
pub fn count_text(text: &str) -> u64 {
    encoding().count_ordinary(text) as u64
}

/// The input tokens of a request body (see the module doc for what counts). A body that is not
/// a JSON object counts as 0: parsing already refused it.
pub fn count_input(body: &[u8]) -> u64 {
    let Ok(prompt) = serde_json::from_slice::<Prompt<'_>>(body) else {
        return 0;
    };
    let mut tokens = 0;
    if let Some(messages) = prompt.messages.and_then(parse) {
        if let Value::Array(list) = &messages {
            tokens += list.len() as u64 * PER_MESSAGE + REPLY_PRIMING;
        }
        tokens += count_strings(&messages);
    }
    for field in [
        prompt.system,
        prompt.instructions,
        prompt.prompt,
        prompt.input,
    ] {
        tokens += field
            .and_then(parse)
            .map_or(0, |value| count_strings(&value));
    }
    for definitions in [prompt.tools, prompt.functions].into_iter().flatten() {
        if definitions.get() != "null" {
            tokens += count_text(definitions.get());
        }
    }
    tokens
}

/// What a request is expected to use: its counted input plus its output maximum (or the
/// default when it sets none).
pub fn estimate(body: &[u8], request: &ClientRequest, count: bool) -> Estimate {
    Estimate {
        input_tokens: if count {
            count_input(body)
        } else {
            body.len() as u64 / BYTES_PER_TOKEN
        },
        output_tokens: request
            .max_output_tokens()
            .unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS),
    }
}

fn parse(raw: &RawValue) -> Option<Value> {
    serde_json::from_str(raw.get()).ok()
}

/// Tokens of every string inside `value` (object keys are structure, not text).
fn count_strings(value: &Value) -> u64 {
    match value {
        Value::String(text) if text.starts_with("data:") => INLINE_IMAGE,
        Value::String(text) => count_text(text),
        Value::Array(items) => items.iter().map(count_strings).sum(),
        Value::Object(fields) => fields.values().map(count_strings).sum(),
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn count(body: Value) -> u64 {
        count_input(body.to_string().as_bytes())
    }

    #[test]
    fn text_is_counted_with_the_o200k_encoding() {
        assert_eq!(count_text("hello world"), 2);
        assert_eq!(count_text(""), 0);
    }

    #[test]
    fn a_chat_request_counts_its_messages_and_the_per_message_overhead() {
        let tokens = count(json!({
            "model": "gpt-4o",
            "max_tokens": 50,
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "hello world"},
            ],
        }));
        let text = count_text("system")
            + count_text("You are terse.")
            + count_text("user")
            + count_text("hello world");
        assert_eq!(tokens, text + 2 * PER_MESSAGE + REPLY_PRIMING);
    }

    #[test]
    fn content_parts_count_their_text_and_an_inline_image_a_flat_amount() {
        let tokens = count(json!({
            "model": "m",
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "describe this"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ]}],
        }));
        let text = count_text("user")
            + count_text("text")
            + count_text("describe this")
            + count_text("image_url");
        assert_eq!(tokens, text + INLINE_IMAGE + PER_MESSAGE + REPLY_PRIMING);
    }

    #[test]
    fn tool_definitions_anthropic_system_and_completion_prompts_count() {
        let tools = json!([{"type": "function", "function": {"name": "get_weather"}}]);
        let with_tools = count(json!({"model": "m", "messages": [], "tools": tools}));
        assert_eq!(with_tools, REPLY_PRIMING + count_text(&tools.to_string()));
        let system = count(json!({"model": "m", "system": "be brief", "messages": []}));
        assert_eq!(system, REPLY_PRIMING + count_text("be brief"));
        let prompt = count(json!({"model": "m", "prompt": ["one", "two"]}));
        assert_eq!(prompt, 2);
        let input = count(json!({"model": "m", "input": "embed me"}));
        assert_eq!(input, count_text("embed me"));
    }

    #[test]
    fn a_long_prompt_counts_far_fewer_tokens_than_bytes() {
        let text = "The quick brown fox jumps over the lazy dog. ".repeat(100);
        let tokens = count(json!({"model": "m", "input": &text}));
        // Ten tokens a sentence (the trailing space is one more), where `bytes / 4` says 1125.
        assert_eq!(tokens, 1001);
        assert!(tokens < text.len() as u64 / 4);
    }

    #[test]
    fn the_estimate_adds_the_output_maximum_or_the_default() {
        let body = json!({"model": "m", "input": "hi", "max_tokens": 7}).to_string();
        let request =
            ClientRequest::parse(switchyard_providers::Api::Embeddings, body.as_bytes()).unwrap();
        let guess = estimate(body.as_bytes(), &request, true);
        assert_eq!((guess.input_tokens, guess.output_tokens), (1, 7));
        let rough = estimate(body.as_bytes(), &request, false);
        assert_eq!(
            rough.input_tokens,
            body.len() as u64 / 4,
            "a route that counts no tokens gets the size estimate"
        );
        let body = json!({"model": "m", "input": "hi"}).to_string();
        let request =
            ClientRequest::parse(switchyard_providers::Api::Embeddings, body.as_bytes()).unwrap();
        let guess = estimate(body.as_bytes(), &request, true);
        assert_eq!(guess.output_tokens, DEFAULT_MAX_OUTPUT_TOKENS);
    }

    #[test]
    fn a_body_that_is_not_an_object_counts_nothing() {
        assert_eq!(count_input(b"[1, 2]"), 0);
        assert_eq!(count_input(b"not json"), 0);
    }
}
