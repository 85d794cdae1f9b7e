//! The caller's prompt text, for guardrails: every piece of text a client sends for the model
//! to read, in each client API, visited one piece at a time and optionally rewritten in place
//! (PII redaction) before any translation.
//!
//! Which text counts, per API (all roles, `system` and `developer` included, since the caller
//! writes the whole body; the route's own system prompt is added later and never visited):
//! - chat completions: `messages[].content` (a string, or the `text` of content parts);
//! - messages: `system` and `messages[].content` (strings, `text` blocks, `tool_result`
//!   content);
//! - completions: `prompt` (a string or a list of strings);
//! - embeddings: `input` (a string or a list of strings; token arrays are not text);
//! - responses: `instructions` and `input` (a string, or items' `content` and parts' `text`).
//!
//! Inside those fields, the text is the field itself (or its list's strings) and any string
//! under a `content` or `text` key, however deep; ids, roles, types, URLs, images and tool-call
//! arguments are not prompt text.

use serde_json::{Value, value::RawValue};

use crate::{Api, ClientRequest, RequestError};

/// The top-level fields holding prompt text in `api`.
const fn prompt_fields(api: Api) -> &'static [&'static str] {
    match api {
        Api::ChatCompletions => &["messages"],
        Api::Messages => &["system", "messages"],
        Api::Completions => &["prompt"],
        Api::Embeddings => &["input"],
        Api::Responses => &["instructions", "input"],
    }
}

/// Keys whose string values are prompt text.
const TEXT_KEYS: &[&str] = &["content", "text"];

impl ClientRequest {
    /// Calls `edit` on every piece of prompt text, in order. `edit` may refuse the request
    /// (its error is returned as is) or return a replacement; fields with a replacement are
    /// re-serialized, the others keep their bytes. Returns whether anything was replaced.
    pub fn edit_prompt<E: From<RequestError>>(
        &mut self,
        mut edit: impl FnMut(&str) -> Result<Option<String>, E>,
    ) -> Result<bool, E> {
        let mut changed_any = false;
        for name in prompt_fields(self.api()) {
            let Some(raw) = self.fields.get(name) else {
                continue;
            };
            let mut value: Value = serde_json::from_str(raw.get())
                .map_err(|e| E::from(RequestError::InvalidJson(e)))?;
            let mut changed = false;
            walk(&mut value, true, &mut |text: &mut String| {
                if let Some(replacement) = edit(text)? {
                    *text = replacement;
                    changed = true;
                }
                Ok::<(), E>(())
            })?;
            if changed {
                let raw = serde_json::value::to_raw_value(&value)
                    .map_err(|e| E::from(RequestError::InvalidJson(e)))?;
                self.fields.set_raw(name, raw);
                changed_any = true;
            }
        }
        Ok(changed_any)
    }

    /// The body's top-level fields as the client sent them (after any prompt edit), in order:
    /// what a cache key is computed from.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &RawValue)> {
        self.fields.iter()
    }
}

/// Visits the strings of `value` that are prompt text: `value` itself when `text` says so,
/// the strings of lists in a text position, and strings under [`TEXT_KEYS`].
fn walk<E>(
    value: &mut Value,
    text: bool,
    visit: &mut impl FnMut(&mut String) -> Result<(), E>,
) -> Result<(), E> {
    match value {
        Value::String(string) if text => visit(string),
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|item| walk(item, text, visit)),
        Value::Object(map) => map
            .iter_mut()
            .try_for_each(|(key, item)| walk(item, TEXT_KEYS.contains(&key.as_str()), visit)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(api: Api, body: &str) -> Vec<String> {
        let mut request = ClientRequest::parse(api, body.as_bytes()).unwrap();
        let mut seen = Vec::new();
        request
            .edit_prompt(|text| {
                seen.push(text.to_owned());
                Ok::<_, RequestError>(None)
            })
            .unwrap();
        seen
    }

    #[test]
    fn every_api_exposes_the_callers_text_and_nothing_else() {
        let chat = r#"{"model":"m","user":"u-1","messages":[
            {"role":"system","content":"be brief"},
            {"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"http://x"}}]},
            {"role":"assistant","content":null,"tool_calls":[{"id":"c","function":{"name":"f","arguments":"{}"}}]}]}"#;
        assert_eq!(texts(Api::ChatCompletions, chat), ["be brief", "hi"]);
        let messages = r#"{"model":"m","system":[{"type":"text","text":"sys"}],"messages":[
            {"role":"user","content":"q"},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"out"}]}]}"#;
        assert_eq!(texts(Api::Messages, messages), ["sys", "q", "out"]);
        assert_eq!(
            texts(Api::Completions, r#"{"model":"m","prompt":["a","b"]}"#),
            ["a", "b"]
        );
        assert_eq!(
            texts(Api::Embeddings, r#"{"model":"m","input":[[1,2],[3]]}"#),
            Vec::<String>::new()
        );
        let responses = r#"{"model":"m","instructions":"i","input":[{"role":"user","content":[{"type":"input_text","text":"t"}]}]}"#;
        assert_eq!(texts(Api::Responses, responses), ["i", "t"]);
    }

    #[test]
    fn only_edited_fields_are_rewritten() {
        let body = r#"{"model":"m", "temperature": 1.50, "messages":[{"role":"user","content":"mail a@b.io"}]}"#;
        let mut request = ClientRequest::parse(Api::ChatCompletions, body.as_bytes()).unwrap();
        let changed = request
            .edit_prompt(|text| Ok::<_, RequestError>(Some(text.replace("a@b.io", "[EMAIL]"))))
            .unwrap();
        assert!(changed);
        let fields: Vec<(&str, &str)> = request.fields().map(|(k, v)| (k, v.get())).collect();
        assert_eq!(fields[..2], [("model", "\"m\""), ("temperature", "1.50")]);
        let messages: Value = serde_json::from_str(fields[2].1).unwrap();
        assert_eq!(
            messages,
            serde_json::json!([{"role": "user", "content": "mail [EMAIL]"}])
        );
    }

    #[test]
    fn a_refusal_stops_the_edit() {
        let body = r#"{"model":"m","messages":[{"role":"user","content":"secret"}]}"#;
        let mut request = ClientRequest::parse(Api::ChatCompletions, body.as_bytes()).unwrap();
        let refused = request.edit_prompt(|text| {
            if text.contains("secret") {
                Err(crate::hub::invalid("messages", "denied"))
            } else {
                Ok(None)
            }
        });
        assert!(refused.is_err());
    }
}
