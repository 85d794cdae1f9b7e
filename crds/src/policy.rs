//! `AIPolicy`: who may call which routes and models, and how much — authentication,
//! authorization, rate limits, budgets, response cache, guardrails and logging.

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    conditions::ObjectStatus,
    quantity::{Duration, Usd},
    refs::SecretKeyRef,
};

/// Who may use which routes and models, and how much.
// kube's `printcolumn(...)` repeats `type_` on purpose.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "switchyard.dev",
    version = "v1alpha1",
    kind = "AIPolicy",
    doc = "Who may call which routes and models, and how much.",
    namespaced,
    status = "ObjectStatus",
    shortname = "aip",
    category = "switchyard",
    cel,
    printcolumn(
        name = "Targets",
        type_ = "string",
        json_path = ".spec.targetRefs[*].name"
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
    validation = Rule::new("!has(self.rateLimits) || self.rateLimits.all(l, self.rateLimits.exists_one(m, m.name == l.name))").message("rate limit names must be unique"),
    validation = Rule::new("!has(self.budgets) || self.budgets.all(b, self.budgets.exists_one(c, c.name == b.name))").message("budget names must be unique"),
)]
pub struct AIPolicySpec {
    /// What the policy applies to: AIRoutes or AIModels by name, or every route in the
    /// policy's namespace (`kind: Namespace`, no name). Policies on a route, on its namespace and
    /// on the model that serves a request all apply.
    #[schemars(length(min = 1, max = 32))]
    pub target_refs: Vec<TargetRef>,
    /// How callers prove who they are. A route is closed unless some policy that applies to it
    /// authenticates callers or sets `anonymous: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
    /// Which authenticated subjects may use which routes and models. Without it, every
    /// authenticated caller may use every target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// Request and token limits per window.
    #[serde(default)]
    #[schemars(length(max = 16))]
    pub rate_limits: Vec<RateLimit>,
    /// Spending limits in US dollars per window, priced from the AIModels' `pricing`.
    #[serde(default)]
    #[schemars(length(max = 8))]
    pub budgets: Vec<Budget>,
    /// What the policy's `global` rate limits and budgets do while the shared Redis cannot be
    /// reached (not configured, down, or slower than the proxy's short Redis timeout): `allow`
    /// admits requests without counting them globally, `deny` refuses them with 503. Default
    /// `allow`, so that a Redis outage does not take down every route with a global limit;
    /// choose `deny` where a limit or budget must never be exceeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_redis_unavailable: Option<RedisUnavailable>,
    /// Exact-match response cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CachePolicy>,
    /// Checks and edits of prompts before they leave the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardrails: Option<Guardrails>,
    /// What the access log may contain. Prompts and responses are never logged unless enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
}

/// What a policy applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.kind == 'Namespace' ? !has(self.name) : has(self.name)").message("name is required for AIRoute and AIModel targets and not allowed for a Namespace target"))]
pub struct TargetRef {
    /// `AIRoute`, `AIModel`, or `Namespace` (every route in the policy's namespace).
    pub kind: TargetKind,
    /// Name of the AIRoute or AIModel (same namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub name: Option<String>,
}

/// The kinds a policy can target.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum TargetKind {
    /// One AIRoute.
    #[serde(rename = "AIRoute")]
    AiRoute,
    /// One AIModel, whichever route reaches it.
    #[serde(rename = "AIModel")]
    AiModel,
    /// Every AIRoute in the policy's namespace.
    Namespace,
}

/// Ways callers can authenticate; a caller passes if any one of them accepts its credential.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Authentication {
    /// Lets callers without credentials in, as the subject `anonymous`. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous: Option<bool>,
    /// API keys stored in Secrets, sent as `Authorization: Bearer KEY`, `x-api-key` or `api-key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_keys: Option<ApiKeyAuth>,
    /// JSON Web Tokens from OIDC issuers, sent as `Authorization: Bearer TOKEN`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    pub jwt: Vec<JwtProvider>,
    /// Kubernetes service-account tokens (projected, audience-bound) of in-cluster callers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_accounts: Option<ServiceAccountAuth>,
}

/// API keys held in Secrets of the policy's namespace. Each Secret holds one key; the caller's
/// subject is the Secret's `switchyard.dev/subject` annotation (default: the Secret's name) and
/// its groups the comma-separated `switchyard.dev/groups` annotation. Proxies only ever see
/// SHA-256 hashes of the keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.secretNames) && size(self.secretNames) > 0) || has(self.selector)").message("apiKeys needs secretNames or a selector"))]
pub struct ApiKeyAuth {
    /// Secrets by name.
    #[serde(default)]
    #[schemars(length(max = 256))]
    pub secret_names: Vec<String>,
    /// Secrets by label: every Secret whose labels include all of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// The key inside each Secret's `data` that holds the API key. Default `apiKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub key: Option<String>,
}

/// Selects objects whose labels include every pair given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("size(self.matchLabels) > 0").message("selector.matchLabels must not be empty"))]
pub struct LabelSelector {
    /// Label pairs that must all be present.
    #[schemars(extend("maxProperties" = 16))]
    pub match_labels: BTreeMap<String, String>,
}

/// One JWT issuer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct JwtProvider {
    /// Expected `iss` claim.
    #[schemars(length(min = 1, max = 2048))]
    pub issuer: String,
    /// Accepted `aud` values; a token passes when its audience includes any of them.
    #[schemars(length(min = 1, max = 16))]
    pub audiences: Vec<String>,
    /// Where the issuer's public keys come from.
    pub jwks: JwksSource,
    /// Which claims name the subject and its groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<ClaimMappings>,
}

/// Where a JWKS (JSON Web Key Set) comes from; exactly one source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.inline) ? 1 : 0) + (has(self.secretRef) ? 1 : 0) + (has(self.url) ? 1 : 0) == 1").message("set exactly one of jwks.inline, jwks.secretRef and jwks.url"))]
pub struct JwksSource {
    /// The JWKS document itself (JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 65536))]
    pub inline: Option<String>,
    /// A Secret key holding the JWKS document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyRef>,
    /// An https URL the proxies fetch the JWKS from, cached and refreshed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    // A host is required; see `AIModelSpec::endpoint` for why `isURL` alone does not do it.
    #[x_kube(validation = Rule::new("isURL(self) && self.matches('^https://[^/?#]') && url(self).getHostname() != ''").message("jwks.url must be an https:// URL"))]
    pub url: Option<String>,
}

/// Claims that name a token's subject and groups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaimMappings {
    /// Claim holding the subject. Default `sub`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub subject: Option<String>,
    /// Claim holding the groups (a list of strings). Default `groups`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub groups: Option<String>,
}

/// Kubernetes service accounts allowed in by their projected tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountAuth {
    /// Accepted token audiences. Default `[switchyard]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    pub audiences: Vec<String>,
    /// Service accounts let in: a whole namespace (no name) or one account.
    #[schemars(length(min = 1, max = 64))]
    pub allow: Vec<ServiceAccountMatch>,
}

/// A namespace, or one service account in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountMatch {
    /// The service account's namespace.
    #[schemars(length(min = 1, max = 63))]
    pub namespace: String,
    /// The service account's name; every account of the namespace when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub name: Option<String>,
}

/// Which subjects may use which routes and models.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Authorization {
    /// A request is allowed when any rule matches its subject, route and model.
    #[schemars(length(min = 1, max = 64))]
    pub rules: Vec<AuthorizationRule>,
}

/// Subjects and what they may use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationRule {
    /// Who the rule is for; any one must match.
    #[schemars(length(min = 1, max = 64))]
    pub subjects: Vec<Subject>,
    /// AIRoute names the subjects may use; every targeted route when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub routes: Vec<String>,
    /// Public model names or globs the subjects may request; every model when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub models: Vec<String>,
}

/// An authenticated caller, or a set of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    /// What `name` names.
    pub kind: SubjectKind,
    /// The subject, group, `NAMESPACE/NAME` of a service account, or namespace.
    #[schemars(length(min = 1, max = 512))]
    pub name: String,
}

/// Kinds of subject.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum SubjectKind {
    /// The subject of an API key, JWT or service account, as authentication names it.
    User,
    /// A group from an API key annotation or a JWT groups claim.
    Group,
    /// A Kubernetes service account, written `NAMESPACE/NAME`.
    ServiceAccount,
    /// Every service account of a Kubernetes namespace.
    Namespace,
}

/// A limit on requests and/or tokens per window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.requests) || has(self.tokens)").message("a rate limit needs requests, tokens or both"))]
pub struct RateLimit {
    /// Name used in `x-ratelimit-*` decisions, metrics and errors; unique in the policy.
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// Requests allowed per window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub requests: Option<u64>,
    /// Tokens (input + output) allowed per window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub tokens: Option<u64>,
    /// The window: `minute`, `hour` or `day`.
    pub window: LimitWindow,
    /// Who shares one counter. Default: per subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<LimitKey>,
    /// `local` (each proxy counts on its own) or `global` (all proxies share one counter in
    /// Redis, exact across the fleet). Default `local`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<LimitScope>,
}

/// Window of a rate limit.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum LimitWindow {
    /// 60 seconds.
    Minute,
    /// 3600 seconds.
    Hour,
    /// 86400 seconds.
    Day,
}

/// Who shares one counter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(self.type == 'header') == has(self.header)").message("key.header is required when key.type is header, and allowed only then"))]
pub struct LimitKey {
    /// `api-key`, `subject`, `header` or `route`.
    pub r#type: LimitKeyType,
    /// The request header whose value is the key, when `type` is `header`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub header: Option<String>,
}

/// What a limit counts by.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum LimitKeyType {
    /// Each API key on its own.
    ApiKey,
    /// Each authenticated subject on its own.
    Subject,
    /// Each value of a request header on its own.
    Header,
    /// The whole route shares one counter.
    Route,
}

/// Where a limit's counter lives.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum LimitScope {
    /// In each proxy's memory.
    Local,
    /// In Redis, shared by every proxy.
    Global,
}

/// A spending limit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    /// Name used in headers, metrics and errors; unique in the policy.
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// US dollars allowed per window, such as `"250.00"`.
    pub usd: Usd,
    /// `day` or `month` (calendar, UTC).
    pub window: BudgetWindow,
    /// Who shares one budget. Default: per subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<LimitKey>,
    /// `local` or `global`. Default `global`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<LimitScope>,
}

/// What the policy's `global` rate limits and budgets do while the shared Redis cannot be
/// reached (no `--redis-url`, down, or slower than the proxy's Redis timeout): `allow` admits
/// requests without counting them globally, `deny` refuses them with 503. Default `allow`, so
/// a Redis outage does not take down every route with a global limit; choose `deny` where a
/// limit or budget must never be exceeded.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum RedisUnavailable {
    /// Admit requests without counting them globally (fail open).
    #[default]
    Allow,
    /// Refuse requests with 503 (fail closed).
    Deny,
}

/// Window of a budget, in UTC calendar terms.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum BudgetWindow {
    /// From 00:00 UTC to the next.
    Day,
    /// From the first of the month, 00:00 UTC.
    Month,
}

/// Exact-match response cache.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CachePolicy {
    /// How long a response stays cached. Default `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Duration>,
    /// Largest response body cached, in bytes. Default 1048576 (1 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 67108864))]
    pub max_entry_bytes: Option<u64>,
    /// `subject` (each caller sees only its own entries) or `shared`. Default `subject`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<CacheScope>,
    /// Also keep entries in the shared Redis tier. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<bool>,
}

/// Who may read a cache entry.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum CacheScope {
    /// Only the subject that stored it.
    Subject,
    /// Every caller of the route.
    Shared,
}

/// Checks and edits of prompts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Guardrails {
    /// Requests whose prompt is longer than this many tokens are refused with 400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_input_tokens: Option<u64>,
    /// Prompts matching any of these are refused with 400 and the pattern's message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub deny_patterns: Vec<DenyPattern>,
    /// Kinds of personal data replaced by a placeholder before the prompt leaves the cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub pii_redaction: Vec<PiiKind>,
}

/// A pattern prompts must not match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DenyPattern {
    /// A regular expression (Rust `regex` syntax), matched anywhere in each message.
    #[schemars(length(min = 1, max = 1024))]
    pub regex: String,
    /// What the caller is told. Default: "the prompt matches a denied pattern".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub message: Option<String>,
}

/// Kinds of personal data.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum PiiKind {
    /// Email addresses.
    Email,
    /// Phone numbers.
    Phone,
    /// Payment card numbers that pass the Luhn check.
    CreditCard,
    /// International bank account numbers that pass the IBAN check digits.
    Iban,
    /// IPv4 and IPv6 addresses.
    IpAddress,
}

/// What the access log may contain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Logging {
    /// Log prompts. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts: Option<bool>,
    /// Log responses. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responses: Option<bool>,
}
