//! A compiled AIRoute: backends resolved to model indexes, defaults applied, policies attached.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{ModelIdx, PolicyIdx, Source};
use crate::{
    problems::ObjectRef,
    quantity::Duration,
    route::{RetryOn, Strategy, SystemPromptMode},
};

/// A route the proxy serves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// The AIRoute it was compiled from.
    pub source: Source,
    /// Public model names and globs this route serves.
    pub models: Vec<String>,
    /// Header matches that must all hold.
    pub matches: Vec<HeaderMatch>,
    /// Usable backends (backends naming a missing model are left out).
    pub backends: Vec<Backend>,
    /// How a backend is chosen.
    pub strategy: Strategy,
    /// Models tried in order after the backends.
    pub fallbacks: Vec<ModelIdx>,
    /// Retry policy, defaults applied.
    pub retry: Retry,
    /// Route-level timeouts.
    pub timeouts: RouteTimeouts,
    /// Request edits.
    pub transforms: Transforms,
    /// Valid policies that apply: those targeting the route and those targeting its namespace.
    pub policies: Vec<PolicyIdx>,
    /// Policies that apply but are invalid; while any is listed the proxy refuses the route's
    /// requests instead of serving them unprotected.
    pub invalid_policies: Vec<ObjectRef>,
}

/// A request header that must match.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HeaderMatch {
    /// Lower-case header name.
    pub name: String,
    /// How `value` is compared.
    pub kind: HeaderMatchKind,
    /// Expected value or anchored regular expression.
    pub value: String,
}

/// How a header value is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeaderMatchKind {
    /// Equal bytes.
    Exact,
    /// The whole value matches the regular expression.
    Regex,
}

/// One usable backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backend {
    /// The model.
    pub model: ModelIdx,
    /// Relative weight (0 drains the backend).
    pub weight: u32,
}

/// Retry policy with defaults applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retry {
    /// Most attempts per request, the first included.
    pub attempts: u32,
    /// Failures that are retried.
    pub on: BTreeSet<RetryOn>,
    /// Wait before the second attempt; doubles after.
    pub backoff_base: Duration,
    /// Longest wait between attempts.
    pub backoff_max: Duration,
    /// Whether `Retry-After` is waited for before retrying the same backend.
    pub honor_retry_after: bool,
}

/// Route-level timeouts; `None` leaves the model's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTimeouts {
    /// Until the first response byte, per attempt.
    pub first_token: Option<Duration>,
    /// The whole request.
    pub total: Option<Duration>,
    /// Longest silence between two stream chunks.
    pub idle: Duration,
}

/// Request edits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Transforms {
    /// Parameters set when absent.
    pub default_params: BTreeMap<String, serde_json::Value>,
    /// Parameters always set.
    pub forced_params: BTreeMap<String, serde_json::Value>,
    /// Headers set on the upstream request (lower-case names).
    pub set_headers: BTreeMap<String, String>,
    /// System prompt to add.
    pub system_prompt: Option<SystemPrompt>,
}

/// A system prompt to add to chat requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemPrompt {
    /// The text.
    pub text: String,
    /// Where it goes.
    pub mode: SystemPromptMode,
}
