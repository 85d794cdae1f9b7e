//! `AIRoute`: the model names clients send and where those requests go — backends, strategy,
//! fallbacks, retries, timeouts and request transforms.

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    conditions::ObjectStatus,
    params::Params,
    quantity::{Duration, durations_in_order},
    refs::ModelRef,
};

/// A public model name and where its requests go.
// kube's `printcolumn(...)` repeats `type_` on purpose.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "switchyard.dev",
    version = "v1alpha1",
    kind = "AIRoute",
    doc = "The model names clients send and the AIModels that serve them.",
    namespaced,
    status = "ObjectStatus",
    shortname = "air",
    category = "switchyard",
    cel,
    printcolumn(name = "Models", type_ = "string", json_path = ".spec.models"),
    printcolumn(
        name = "Backends",
        type_ = "string",
        json_path = ".spec.backends[*].modelRef.name"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Programmed\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.backends.exists(b, !has(b.weight) || b.weight > 0)").message("at least one backend needs a weight above 0"),
    validation = Rule::new("self.backends.all(b, self.backends.exists_one(c, c.modelRef.name == b.modelRef.name))").message("each AIModel may appear only once in backends"),
    validation = Rule::new("self.models.all(m, self.models.exists_one(n, n == m))").message("each model name may appear only once in models"),
    validation = Rule::new("self.models.all(m, m.matches('^[A-Za-z0-9._:/@*?\\\\[\\\\]-]+$'))").message("model names may contain letters, digits, . _ : / @ - and the glob characters * ? [ ]"),
)]
pub struct AIRouteSpec {
    /// The model names clients send in the request's `model` field. Exact names (`gpt-4o`) or
    /// globs (`gpt-4*`, `claude-?-*`). Exact names win over globs; among routes claiming the same
    /// name with the same header matches, the oldest route wins and the others are told so in
    /// their status.
    #[schemars(length(min = 1, max = 32))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    #[schemars(inner(length(min = 1, max = 256)))]
    pub models: Vec<String>,
    /// Request headers that must all match for this route to apply, for example
    /// `x-team: search`. Routes with header matches are tried before routes without.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub matches: Vec<HeaderMatch>,
    /// The AIModels that serve this route and their share of the traffic.
    #[schemars(length(min = 1, max = 64))]
    pub backends: Vec<Backend>,
    /// How a backend is chosen for each request. Default `weighted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// AIModels tried in order after every backend has failed (or been skipped as unhealthy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub fallbacks: Vec<ModelRef>,
    /// When and how often a failed attempt is retried on another backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// Timeouts for this route; each one overrides the AIModel's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<RouteTimeouts>,
    /// Edits applied to each request before it is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transforms: Option<Transforms>,
}

/// A request header that must match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeaderMatch {
    /// Header name, matched case-insensitively.
    #[schemars(length(min = 1, max = 256))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9!#$%&\\'*+.^_`|~-]+$')").message("name must be a valid HTTP header name"))]
    pub name: String,
    /// How `value` is compared. Default `Exact`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<HeaderMatchType>,
    /// The expected value, or a regular expression (RE2 syntax, anchored) when `type` is
    /// `RegularExpression`.
    #[schemars(length(max = 1024))]
    pub value: String,
}

/// How a header value is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum HeaderMatchType {
    /// Byte-for-byte equality.
    Exact,
    /// The whole value matches the regular expression.
    RegularExpression,
}

/// One AIModel behind the route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Backend {
    /// The AIModel (same namespace).
    pub model_ref: ModelRef,
    /// Relative share of traffic for the `weighted` strategy, 0 to 1000. Default 1. A weight of
    /// 0 keeps the backend out of normal rotation (useful to drain it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000))]
    pub weight: Option<u32>,
}

/// How a backend is chosen.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Random by weight.
    Weighted,
    /// The backend with the lowest recent latency (EWMA of time to first byte).
    LowestLatency,
    /// The backend with the fewest requests in flight.
    LeastBusy,
    /// The backend with the lowest price for the request's estimated tokens.
    LowestCost,
}

/// When a failed attempt is retried, and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    /// Most attempts per request across backends and fallbacks, the first included, 1 to 10.
    /// Default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10))]
    pub attempts: Option<u32>,
    /// Which failures are retried. Default all of `connect-error`, `timeout`, `429`, `5xx`.
    /// Nothing is retried once a byte of the response has reached the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub on: Option<Vec<RetryOn>>,
    /// Exponential backoff between attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    /// Whether a 429 or 503 with `Retry-After` waits that long before retrying the same backend.
    /// Default true; other backends are tried first either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honor_retry_after: Option<bool>,
}

/// A failure that may be retried.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum RetryOn {
    /// The connection (TCP or TLS) could not be opened.
    #[serde(rename = "connect-error")]
    ConnectError,
    /// No first byte within the first-token timeout.
    #[serde(rename = "timeout")]
    Timeout,
    /// The provider answered 429 Too Many Requests.
    #[serde(rename = "429")]
    TooManyRequests,
    /// The provider answered with a 5xx status.
    #[serde(rename = "5xx")]
    ServerError,
}

/// Exponential backoff between attempts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(durations_in_order("base", "max")).message("retry.backoff.base must not exceed retry.backoff.max"))]
pub struct Backoff {
    /// Wait before the second attempt; doubles for each attempt after that. Default `100ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Duration>,
    /// Longest wait between two attempts. Default `2s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Duration>,
}

/// Timeouts for one route; each overrides the AIModel's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteTimeouts {
    /// Time until the first response byte (first token when streaming), per attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_token: Option<Duration>,
    /// Time for the whole request, all attempts and the whole stream included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<Duration>,
    /// Longest silence between two chunks of a stream. Default `60s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<Duration>,
}

/// Edits applied to each request before it reaches a provider.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Transforms {
    /// Request parameters set when the client did not send them, such as
    /// `{temperature: 0.2, max_tokens: 1024}` (OpenAI names).
    #[serde(default, skip_serializing_if = "Params::is_empty")]
    pub default_params: Params,
    /// Request parameters that always replace what the client sent. `model`, `messages`,
    /// `input`, `prompt` and `stream` cannot be forced.
    #[serde(default, skip_serializing_if = "Params::is_empty")]
    pub forced_params: Params,
    /// Headers set on the upstream request (after credentials, which cannot be overridden).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32))]
    pub set_headers: BTreeMap<String, String>,
    /// A system prompt added to every chat request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<SystemPrompt>,
}

/// A system prompt added to every chat request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemPrompt {
    /// The prompt text.
    #[schemars(length(min = 1, max = 65536))]
    pub text: String,
    /// Where it goes relative to the client's own system prompt. Default `prepend`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<SystemPromptMode>,
}

/// Where a route's system prompt goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SystemPromptMode {
    /// Before the client's system prompt.
    Prepend,
    /// After the client's system prompt.
    Append,
    /// Instead of the client's system prompt.
    Replace,
}
