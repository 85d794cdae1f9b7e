//! A compiled AIPolicy: API keys reduced to hashes, JWKS loaded, defaults applied.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::Source;
use crate::{
    policy::{
        BudgetWindow, CacheScope, LimitKeyType, LimitScope, LimitWindow, PiiKind, RedisUnavailable,
        Subject,
    },
    quantity::Duration,
};
use rust_decimal::Decimal;

/// A valid policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// The AIPolicy it was compiled from.
    pub source: Source,
    /// Authentication, if the policy sets any.
    pub authentication: Option<Authentication>,
    /// Authorization rules; `None` lets every authenticated caller in.
    pub authorization: Option<Vec<AuthorizationRule>>,
    /// Rate limits.
    pub rate_limits: Vec<RateLimit>,
    /// Budgets.
    pub budgets: Vec<Budget>,
    /// What global limits and budgets do while Redis cannot be reached.
    pub on_redis_unavailable: RedisUnavailable,
    /// Response cache.
    pub cache: Option<Cache>,
    /// Guardrails.
    pub guardrails: Guardrails,
    /// Logging choices.
    pub logging: Logging,
}

/// Ways callers authenticate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authentication {
    /// Whether callers without credentials are let in.
    pub anonymous: bool,
    /// Known API keys, sorted by hash.
    pub api_keys: Vec<ApiKey>,
    /// JWT issuers.
    pub jwt: Vec<JwtProvider>,
    /// Service-account tokens.
    pub service_accounts: Option<ServiceAccounts>,
}

/// An API key, as a hash only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// SHA-256 of the key, hex.
    pub sha256: String,
    /// The subject the key authenticates as.
    pub subject: String,
    /// The subject's groups.
    pub groups: Vec<String>,
    /// The Secret it came from (for logs; never the key).
    pub secret: String,
}

/// One JWT issuer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtProvider {
    /// Expected `iss`.
    pub issuer: String,
    /// Accepted audiences.
    pub audiences: Vec<String>,
    /// Key source.
    pub jwks: Jwks,
    /// Claim naming the subject.
    pub subject_claim: String,
    /// Claim naming the groups.
    pub groups_claim: String,
}

/// Where a JWT issuer's keys are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Jwks {
    /// The JWKS document (checked to be JSON with a `keys` list).
    Document(String),
    /// An https URL the proxy fetches and refreshes.
    Url(String),
}

/// Service-account token authentication.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccounts {
    /// Accepted audiences.
    pub audiences: Vec<String>,
    /// Allowed `(namespace, name)`; `None` name allows the whole namespace.
    pub allow: Vec<(String, Option<String>)>,
}

/// The cluster's service-account token issuer: what the API server's
/// `/.well-known/openid-configuration` names as `issuer`, and its `/openid/v1/jwks`. The
/// operator reads both, so proxies verify service-account tokens without API access.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccountIssuer {
    /// The `iss` of the cluster's service-account tokens.
    pub issuer: String,
    /// The JWKS document that verifies them.
    pub jwks: String,
}

/// Subjects and what they may use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRule {
    /// Who.
    pub subjects: Vec<Subject>,
    /// AIRoute names (same namespace); empty = all.
    pub routes: Vec<String>,
    /// Public model names or globs; empty = all.
    pub models: Vec<String>,
}

/// Who shares a counter, defaults applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitKey {
    /// What is counted by.
    pub kind: LimitKeyType,
    /// Lower-case header name when `kind` is `header`.
    pub header: Option<String>,
}

/// A rate limit, defaults applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Name, unique in the policy.
    pub name: String,
    /// Requests per window.
    pub requests: Option<u64>,
    /// Tokens per window.
    pub tokens: Option<u64>,
    /// Window.
    pub window: LimitWindow,
    /// Counter key.
    pub key: LimitKey,
    /// Counter location.
    pub scope: LimitScope,
}

/// A budget, defaults applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// Name, unique in the policy.
    pub name: String,
    /// USD per window.
    #[serde(with = "rust_decimal::serde::str")]
    pub usd: Decimal,
    /// Window.
    pub window: BudgetWindow,
    /// Counter key.
    pub key: LimitKey,
    /// Counter location.
    pub scope: LimitScope,
}

/// Response cache, defaults applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cache {
    /// Entry lifetime.
    pub ttl: Duration,
    /// Largest cached body.
    pub max_entry_bytes: u64,
    /// Who may read an entry.
    pub scope: CacheScope,
    /// Whether the shared Redis tier is used.
    pub redis: bool,
}

/// Guardrails.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guardrails {
    /// Longest prompt in tokens.
    pub max_input_tokens: Option<u64>,
    /// Denied patterns (checked to compile) and their messages.
    pub deny_patterns: Vec<(String, String)>,
    /// Kinds of personal data to redact.
    pub pii_redaction: BTreeSet<PiiKind>,
}

/// Logging choices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logging {
    /// Log prompts.
    pub prompts: bool,
    /// Log responses.
    pub responses: bool,
}
