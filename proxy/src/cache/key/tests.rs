//! Property tests of the normalizer: the key ignores how the JSON is written and the fields
//! that do not change the answer, and changes with anything that does.

use proptest::prelude::*;
use serde_json::{Value, json};
use switchyard_providers::{Api, ClientRequest};

use super::{Key, Scope, compute};

const ROUTE: [u8; 32] = [7; 32];

fn key_of(body: &str, subject: Option<&str>) -> Key {
    let request = ClientRequest::parse(Api::ChatCompletions, body.as_bytes()).unwrap();
    compute(
        Scope {
            route: &ROUTE,
            subject,
        },
        &request,
    )
}

/// A tiny deterministic generator, so one proptest seed drives every layout choice.
struct Layout(u64);

impl Layout {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn space(&mut self) -> &'static str {
        ["", " ", "\n  ", "\t"][(self.next() % 4) as usize]
    }
}

/// `value` written with shuffled keys, random whitespace and integers sometimes as `N.0` or
/// `Ne0`.
fn render(value: &Value, layout: &mut Layout) -> String {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            for i in (1..entries.len()).rev() {
                let j = (layout.next() % (i as u64 + 1)) as usize;
                entries.swap(i, j);
            }
            let parts: Vec<String> = entries
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}{}{}:{}{}",
                        layout.space(),
                        Value::String((*k).clone()),
                        layout.space(),
                        layout.space(),
                        render(v, layout)
                    )
                })
                .collect();
            format!("{{{}{}}}", parts.join(","), layout.space())
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(|v| render(v, layout)).collect();
            format!(
                "[{}{}]",
                layout.space(),
                parts.join(&format!(",{}", layout.space()))
            )
        }
        Value::Number(n) if n.is_u64() && n.as_u64().unwrap() < 1 << 50 => {
            match layout.next() % 3 {
                0 => format!("{n}.0"),
                1 => format!("{n}e0"),
                _ => n.to_string(),
            }
        }
        other => other.to_string(),
    }
}

#[derive(Clone, Debug)]
struct Params {
    messages: Vec<(bool, String)>,
    temperature: Option<u8>,
    top_p: Option<u8>,
    max_tokens: Option<u32>,
    seed: Option<u64>,
    stop: Vec<String>,
    json_format: bool,
    n: Option<u8>,
}

fn params() -> impl Strategy<Value = Params> {
    (
        prop::collection::vec((any::<bool>(), "[a-z ]{0,12}"), 1..4),
        prop::option::of(0u8..=20),
        prop::option::of(0u8..=10),
        prop::option::of(1u32..100_000),
        prop::option::of(any::<u64>()),
        prop::collection::vec("[a-z]{1,4}", 0..3),
        any::<bool>(),
        prop::option::of(1u8..4),
    )
        .prop_map(
            |(messages, temperature, top_p, max_tokens, seed, stop, json_format, n)| Params {
                messages,
                temperature,
                top_p,
                max_tokens,
                seed,
                stop,
                json_format,
                n,
            },
        )
}

fn body(p: &Params) -> Value {
    let messages: Vec<Value> = p
        .messages
        .iter()
        .map(|(user, text)| json!({"role": if *user { "user" } else { "assistant" }, "content": text}))
        .collect();
    let mut body = json!({"model": "m", "messages": messages});
    let fields = body.as_object_mut().unwrap();
    if let Some(t) = p.temperature {
        fields.insert("temperature".into(), json!(f64::from(t) / 10.0));
    }
    if let Some(t) = p.top_p {
        fields.insert("top_p".into(), json!(f64::from(t) / 10.0));
    }
    if let Some(m) = p.max_tokens {
        fields.insert("max_tokens".into(), json!(m));
    }
    if let Some(s) = p.seed {
        fields.insert("seed".into(), json!(s));
    }
    if !p.stop.is_empty() {
        fields.insert("stop".into(), json!(p.stop));
    }
    if p.json_format {
        fields.insert("response_format".into(), json!({"type": "json_object"}));
    }
    if let Some(n) = p.n {
        fields.insert("n".into(), json!(n));
    }
    body
}

proptest! {
    #[test]
    fn the_key_ignores_layout_key_order_number_style_and_ignored_fields(
        p in params(),
        layout in any::<u64>(),
        user in "[a-z0-9-]{1,12}",
        request_id in "[a-z0-9]{1,12}",
    ) {
        let plain = body(&p);
        let mut decorated = plain.clone();
        let fields = decorated.as_object_mut().unwrap();
        fields.insert("user".into(), json!(user));
        fields.insert("metadata".into(), json!({"request_id": request_id}));
        fields.insert("stream".into(), json!(false));
        fields.insert("store".into(), json!(true));
        let written = render(&decorated, &mut Layout(layout));
        prop_assert_eq!(key_of(&plain.to_string(), None), key_of(&written, None));
    }

    #[test]
    fn the_key_changes_with_any_message_or_parameter(p in params(), which in 0usize..9, extra in "[a-z]{1,3}") {
        let before = body(&p);
        let mut after = before.clone();
        let fields = after.as_object_mut().unwrap();
        let bump = |v: Option<&Value>| v.and_then(Value::as_f64).map_or(0.05, |x| x + 0.05);
        match which {
            0 => {
                let last = fields["messages"].as_array_mut().unwrap().last_mut().unwrap();
                let text = format!("{}{extra}", last["content"].as_str().unwrap());
                last["content"] = json!(text);
            }
            1 => { fields["messages"].as_array_mut().unwrap().push(json!({"role": "user", "content": extra})); }
            2 => { let t = bump(fields.get("temperature")); fields.insert("temperature".into(), json!(t)); }
            3 => { let t = bump(fields.get("top_p")); fields.insert("top_p".into(), json!(t)); }
            4 => { let m = fields.get("max_tokens").and_then(Value::as_u64).map_or(1, |m| m + 1); fields.insert("max_tokens".into(), json!(m)); }
            5 => { let s = fields.get("seed").and_then(Value::as_u64).map_or(0, |s| s ^ 1); fields.insert("seed".into(), json!(s)); }
            6 => { fields.insert("stop".into(), json!([extra.clone(), "x"])); }
            7 => { fields.insert("tools".into(), json!([{"type": "function", "function": {"name": extra}}])); }
            _ => { let n = fields.get("n").and_then(Value::as_u64).map_or(2, |n| n + 1); fields.insert("n".into(), json!(n)); }
        }
        prop_assert_ne!(key_of(&before.to_string(), None), key_of(&after.to_string(), None));
    }
}

#[test]
fn the_subject_scope_and_the_stream_form_are_part_of_the_key() {
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let text = body.to_string();
    assert_ne!(key_of(&text, Some("ann")), key_of(&text, Some("bob")));
    assert_ne!(key_of(&text, Some("ann")), key_of(&text, None));
    let stream =
        json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    assert_ne!(key_of(&text, None), key_of(&stream.to_string(), None));
    let usage = json!({"model": "m", "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "hi"}]});
    assert_ne!(
        key_of(&stream.to_string(), None),
        key_of(&usage.to_string(), None)
    );
}

#[test]
fn large_seeds_keep_every_digit() {
    let a = r#"{"model":"m","messages":[],"seed":9007199254740993}"#;
    let b = r#"{"model":"m","messages":[],"seed":9007199254740992}"#;
    assert_ne!(key_of(a, None), key_of(b, None));
}
