//! Free-form request parameters (`transforms.defaultParams` and `forcedParams`).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// A JSON object of request parameters in OpenAI names, kept as written.
///
/// The schema keeps unknown fields (`x-kubernetes-preserve-unknown-fields`): the API server
/// cannot know every provider parameter, so the compiler checks the names it must refuse.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Params(pub serde_json::Map<String, serde_json::Value>);

impl Params {
    /// Whether no parameter is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl JsonSchema for Params {
    fn schema_name() -> Cow<'static, str> {
        "Params".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true,
        })
    }
}
