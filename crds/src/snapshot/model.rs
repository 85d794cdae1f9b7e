//! A compiled AIModel: endpoint, credentials, pricing and timeouts resolved.

use std::{collections::BTreeSet, fmt};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{PolicyIdx, Source};
use crate::{
    model::{Capability, Provider},
    quantity::Duration,
};

/// A model the proxy can call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The AIModel it was compiled from.
    pub source: Source,
    /// The provider's API family.
    pub provider: Provider,
    /// The provider's model id (for Azure, the deployment serves it).
    pub model: String,
    /// Where requests go.
    pub endpoint: Endpoint,
    /// How the proxy authenticates.
    pub credentials: Credentials,
    /// Azure deployment and API version (Azure only).
    pub azure: Option<AzureTarget>,
    /// AWS region (Bedrock only).
    pub region: Option<String>,
    /// What the model can serve (the provider's defaults when the spec named none).
    pub capabilities: BTreeSet<Capability>,
    /// USD per 1M tokens.
    pub pricing: Option<Price>,
    /// Provider-side requests per minute.
    pub quota_requests_per_minute: Option<u64>,
    /// Provider-side tokens per minute.
    pub quota_tokens_per_minute: Option<u64>,
    /// Timeouts with defaults applied.
    pub timeouts: Timeouts,
    /// Policies that target this model directly.
    pub policies: Vec<PolicyIdx>,
}

/// A resolved endpoint: the base URL the provider's SDK would use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The base URL without a trailing slash, such as `https://api.openai.com/v1`.
    pub base_url: String,
    /// Whether the connection uses TLS.
    pub tls: bool,
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Path prefix without a trailing slash (may be empty).
    pub base_path: String,
}

/// Azure OpenAI addressing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AzureTarget {
    /// Deployment name.
    pub deployment: String,
    /// `api-version` query parameter.
    pub api_version: String,
}

/// A secret value. It travels in snapshots (the proxy must send it) but never prints.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// How the proxy authenticates to the provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Credentials {
    /// No credentials (openai-compatible servers without auth).
    None,
    /// An API key, sent the way the provider expects.
    ApiKey(Secret),
    /// AWS access keys for SigV4.
    Aws {
        /// `AWS_ACCESS_KEY_ID`.
        access_key_id: Secret,
        /// `AWS_SECRET_ACCESS_KEY`.
        secret_access_key: Secret,
        /// `AWS_SESSION_TOKEN`, for temporary credentials.
        session_token: Option<Secret>,
    },
}

/// USD per one million tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    /// Input tokens.
    #[serde(with = "rust_decimal::serde::str")]
    pub input: Decimal,
    /// Output tokens.
    #[serde(with = "rust_decimal::serde::str")]
    pub output: Decimal,
    /// Cached input tokens (equals `input` when the spec gave none).
    #[serde(with = "rust_decimal::serde::str")]
    pub cached_input: Decimal,
}

/// Timeouts of one model, defaults applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    /// TCP + TLS connect.
    pub connect: Duration,
    /// Until the first response byte.
    pub first_token: Duration,
    /// The whole call.
    pub total: Duration,
}

impl Timeouts {
    /// Defaults: connect 5s, first token 60s, total 10m.
    pub const DEFAULT: Self = Self {
        connect: Duration::from_secs(5),
        first_token: Duration::from_secs(60),
        total: Duration::from_secs(600),
    };
}
