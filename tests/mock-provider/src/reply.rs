//! The provider-neutral answer: deterministic text or tool call, its chunks and its usage.
//!
//! Every provider module reduces its request to an [`Ask`], lets [`Reply::compose`] decide
//! the answer, and renders it in its own wire format. The rules, so tests can predict them:
//! - the text is `x-mock-reply` if set, else the last turn's text echoed (`"mock"` if empty);
//!   `x-mock-tokens: N` makes it exactly N words, cycling over that text's words;
//! - a max-tokens limit below the word count truncates it and finishes with "length";
//! - a tool is called when the request has tools and forces one (named, or "required"/"any":
//!   the tool named in the last turn, else the first), or leaves the choice to the model and
//!   the last turn's text names a tool; never right after a tool result;
//! - tool arguments are a sample of the tool's JSON schema (strings `"mock"`, numbers `1`,
//!   booleans `true`, enums their first value);
//! - input tokens are the words of every text in the request; output tokens the words of the
//!   answer (or the argument chunks of a tool call).

use serde_json::{Map, Value};

use crate::controls::Controls;

/// What a request asked for, reduced to what the mock needs to answer it.
#[derive(Debug, Default)]
pub(crate) struct Ask {
    /// The text of the last turn (a user message or a tool result).
    pub last_text: String,
    /// Words in every input text seen so far.
    pub input_words: u64,
    pub tools: Vec<Tool>,
    pub choice: ToolChoice,
    /// Whether the last turn is a tool result.
    pub after_tool_result: bool,
    pub max_tokens: Option<u64>,
}

impl Ask {
    /// Counts the words of one input text.
    pub fn count(&mut self, text: &str) {
        self.input_words += text.split_whitespace().count() as u64;
    }
}

/// A tool the caller offered.
#[derive(Debug)]
pub(crate) struct Tool {
    pub name: String,
    /// The JSON schema of its arguments.
    pub schema: Value,
}

/// How the caller let the model use tools.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) enum ToolChoice {
    #[default]
    Auto,
    None,
    /// Some tool must be called ("required", "any").
    Required,
    /// This tool must be called.
    Named(String),
}

/// What the mock answers.
#[derive(Debug)]
pub(crate) enum Answer {
    Text(String),
    ToolCall { name: String, arguments: Value },
}

/// Why the answer ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Finish {
    Stop,
    Length,
    ToolUse,
}

/// Token counts in provider-neutral terms; each provider maps them to its own fields.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Usage {
    /// All input tokens, cached ones included.
    pub input: u64,
    /// Answer tokens, reasoning excluded.
    pub output: u64,
    /// Input tokens read from the cache (at most `input`).
    pub cached: u64,
    /// Input tokens written to the cache (at most `input - cached`).
    pub cache_write: u64,
    pub reasoning: u64,
}

impl Usage {
    /// Input tokens neither read from nor written to the cache (Anthropic's and Bedrock's
    /// `input_tokens`).
    pub fn uncached_input(&self) -> u64 {
        self.input - self.cached - self.cache_write
    }
}

/// The composed answer, split into the chunks a stream sends.
#[derive(Debug)]
pub(crate) struct Reply {
    pub answer: Answer,
    /// The text, or the tool call's JSON arguments, in content-event pieces.
    pub pieces: Vec<String>,
    pub finish: Finish,
    pub usage: Usage,
}

impl Reply {
    /// Decides the answer to `ask` under `controls`.
    pub fn compose(ask: &Ask, controls: &Controls) -> Self {
        let input = ask.input_words.max(1);
        let cached = controls.cached_tokens.min(input);
        let cache_write = controls.cache_write_tokens.min(input - cached);
        let mut usage = Usage {
            input,
            output: 0,
            cached,
            cache_write,
            reasoning: controls.reasoning_tokens,
        };
        if let Some(tool) = pick_tool(ask) {
            let arguments = sample(&tool.schema);
            let json = arguments.to_string();
            let pieces = match controls.chunks {
                Some(n) => split_even(&json, n),
                None => split_even(&json, json.len().div_ceil(8)),
            };
            usage.output = pieces.len() as u64;
            return Self {
                answer: Answer::ToolCall {
                    name: tool.name.clone(),
                    arguments,
                },
                pieces,
                finish: Finish::ToolUse,
                usage,
            };
        }
        let (text, finish) = compose_text(ask, controls);
        usage.output = text.split_whitespace().count() as u64;
        let pieces = match controls.chunks {
            Some(n) => split_even(&text, n),
            None => split_words(&text),
        };
        Self {
            answer: Answer::Text(text),
            pieces,
            finish,
            usage,
        }
    }

    /// The answer text, empty for a tool call.
    pub fn text(&self) -> &str {
        match &self.answer {
            Answer::Text(text) => text,
            Answer::ToolCall { .. } => "",
        }
    }
}

fn compose_text(ask: &Ask, controls: &Controls) -> (String, Finish) {
    let base = controls
        .reply
        .as_deref()
        .unwrap_or_else(|| ask.last_text.trim());
    let base = if base.is_empty() { "mock" } else { base };
    let mut text = match controls.tokens {
        Some(n) => cycle_words(base, n),
        None => base.to_owned(),
    };
    let mut finish = Finish::Stop;
    if let Some(limit) = ask.max_tokens.and_then(|m| usize::try_from(m).ok())
        && text.split_whitespace().count() > limit
    {
        text = cycle_words(&text, limit);
        finish = Finish::Length;
    }
    (text, finish)
}

fn cycle_words(text: &str, n: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return String::new();
    }
    words
        .iter()
        .cycle()
        .take(n)
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

fn pick_tool(ask: &Ask) -> Option<&Tool> {
    if ask.tools.is_empty() || ask.after_tool_result {
        return None;
    }
    let mentioned = || ask.tools.iter().find(|t| ask.last_text.contains(&t.name));
    match &ask.choice {
        ToolChoice::None => None,
        ToolChoice::Named(name) => ask.tools.iter().find(|t| &t.name == name),
        ToolChoice::Required => mentioned().or(ask.tools.first()),
        ToolChoice::Auto => mentioned(),
    }
}

/// A deterministic value that satisfies `schema`.
pub(crate) fn sample(schema: &Value) -> Value {
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    let kind = match schema.get("type") {
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null"),
        Some(kind) => kind.as_str(),
        None if schema.get("properties").is_some() => Some("object"),
        None => None,
    };
    match kind.map(str::to_ascii_lowercase).as_deref() {
        Some("object") => {
            let mut object = Map::new();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    object.insert(name.clone(), sample(property));
                }
            }
            Value::Object(object)
        }
        Some("array") => Value::Array(schema.get("items").map(sample).into_iter().collect()),
        Some("integer" | "number") => Value::from(1),
        Some("boolean") => Value::Bool(true),
        Some("null") => Value::Null,
        _ => Value::from("mock"),
    }
}

/// Splits at word starts, each piece keeping the whitespace before its word, as a tokenizer
/// streams " word" tokens.
pub(crate) fn split_words(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut prev_space = true;
    for (at, ch) in text.char_indices() {
        let space = ch.is_whitespace();
        if space && !prev_space && at > start {
            pieces.push(text[start..at].to_owned());
            start = at;
        }
        prev_space = space;
    }
    if start < text.len() {
        pieces.push(text[start..].to_owned());
    }
    pieces
}

/// Splits into `n` pieces of nearly equal character counts (fewer if the text is shorter).
pub(crate) fn split_even(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let n = n.clamp(1, chars.len().max(1));
    let (base, extra) = (chars.len() / n, chars.len() % n);
    let mut pieces = Vec::with_capacity(n);
    let mut at = 0;
    for i in 0..n {
        let len = base + usize::from(i < extra);
        pieces.push(chars[at..at + len].iter().collect());
        at += len;
    }
    pieces.retain(|p: &String| !p.is_empty());
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_their_leading_whitespace() {
        assert_eq!(
            split_words("Hello  big world"),
            ["Hello", "  big", " world"]
        );
        assert_eq!(split_words(" x"), [" x"]);
    }

    #[test]
    fn even_split_covers_the_text() {
        assert_eq!(split_even("abcdefg", 3), ["abc", "de", "fg"]);
        assert_eq!(split_even("ab", 5), ["a", "b"]);
        assert_eq!(split_even("héllo", 2).concat(), "héllo");
    }

    #[test]
    fn schema_sample_fills_every_property() {
        let schema = serde_json::json!({"type": "object", "properties": {
            "city": {"type": "string"}, "unit": {"enum": ["c", "f"]},
            "days": {"type": ["integer", "null"]}, "tags": {"type": "array", "items": {"type": "string"}}
        }});
        let value = sample(&schema);
        assert_eq!(
            value,
            serde_json::json!({"city": "mock", "unit": "c", "days": 1, "tags": ["mock"]})
        );
    }
}
