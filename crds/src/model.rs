//! `AIModel`: one model at one provider — where it is, how to authenticate, what it can do and
//! what it costs.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    conditions::ObjectStatus,
    quantity::{Duration, Usd, durations_in_order},
    refs::{SecretKeyRef, SecretRef, ServiceRef},
};

/// One model at one provider.
// kube's `printcolumn(...)` repeats `type_` on purpose.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "switchyard.dev",
    version = "v1alpha1",
    kind = "AIModel",
    doc = "One model at one provider: where it is, how to authenticate, what it can do and what it costs.",
    namespaced,
    status = "ObjectStatus",
    shortname = "aim",
    category = "switchyard",
    cel,
    printcolumn(name = "Provider", type_ = "string", json_path = ".spec.provider"),
    printcolumn(name = "Model", type_ = "string", json_path = ".spec.model"),
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
    validation = Rule::new("!(has(self.endpoint) && has(self.serviceRef))").message("set at most one of endpoint and serviceRef"),
    validation = Rule::new("self.provider != 'openai-compatible' || has(self.endpoint) || has(self.serviceRef)").message("an openai-compatible model needs an endpoint or a serviceRef"),
    validation = Rule::new("self.provider != 'azure-openai' || has(self.endpoint)").message("an azure-openai model needs an endpoint such as https://RESOURCE.openai.azure.com"),
    validation = Rule::new("self.provider != 'azure-openai' || has(self.azure)").message("an azure-openai model needs azure.deployment and azure.apiVersion"),
    validation = Rule::new("!has(self.azure) || self.provider == 'azure-openai'").message("azure settings apply only to provider azure-openai"),
    validation = Rule::new("self.provider != 'bedrock' || has(self.bedrock)").message("a bedrock model needs bedrock.region"),
    validation = Rule::new("!has(self.bedrock) || self.provider == 'bedrock'").message("bedrock settings apply only to provider bedrock"),
    validation = Rule::new("self.provider == 'openai-compatible' || has(self.credentials)").message("credentials are required for every provider except openai-compatible"),
    validation = Rule::new("!has(self.credentials) || has(self.credentials.aws) == (self.provider == 'bedrock')").message("bedrock models use credentials.aws; every other provider uses credentials.secretRef"),
)]
pub struct AIModelSpec {
    /// The provider's API family: `openai`, `azure-openai`, `anthropic`, `gemini`, `bedrock`,
    /// or `openai-compatible` (vLLM, Ollama, Groq, Mistral, Together and other servers that speak
    /// the OpenAI API).
    pub provider: Provider,
    /// The model id the provider knows, such as `gpt-4o`, `claude-sonnet-4-5` or
    /// `anthropic.claude-3-5-sonnet-20240620-v1:0`.
    #[schemars(length(min = 1, max = 256))]
    pub model: String,
    /// Base URL of the provider's API, the one its SDK would use: `https://api.openai.com/v1`
    /// (OpenAI and OpenAI-compatible servers include the version path, as in
    /// `http://vllm:8000/v1`), `https://api.anthropic.com`, `https://RESOURCE.openai.azure.com`.
    /// Defaults to the provider's public endpoint. Required for `azure-openai` and (unless
    /// `serviceRef` is set) `openai-compatible`. Mutually exclusive with `serviceRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    // `isURL` alone lets `https://` through the API server and `https:///v1` through kube-cel
    // (whose URL parser skips the extra slash), so the pattern and `getHostname` demand a host.
    #[x_kube(validation = Rule::new("isURL(self) && self.matches('^https?://[^/?#]') && url(self).getHostname() != ''").message("endpoint must be an http:// or https:// URL"))]
    pub endpoint: Option<String>,
    /// An in-cluster Service (same namespace) that serves the model over plain HTTP, reached as
    /// `http://NAME.NAMESPACE.svc:PORT`, plus `/v1` for `openai` and `openai-compatible`.
    /// Mutually exclusive with `endpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_ref: Option<ServiceRef>,
    /// How the gateway authenticates to the provider. Required for every provider except
    /// `openai-compatible`. Credentials always come from Secrets, never inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
    /// Azure OpenAI settings; required when `provider` is `azure-openai`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<AzureSettings>,
    /// AWS Bedrock settings; required when `provider` is `bedrock`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bedrock: Option<BedrockSettings>,
    /// What the model can serve. Defaults to what the provider family offers (for example
    /// `openai`: chat, completions, embeddings, responses, tools, vision, json-mode). Requests
    /// that need a capability the model lacks get an error instead of being silently degraded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub capabilities: Vec<Capability>,
    /// Price in US dollars per one million tokens, used for cost metrics and budgets. Without
    /// pricing the model costs nothing as far as budgets are concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Pricing>,
    /// The provider-side quota for this model and key, so the gateway can steer traffic away
    /// before the provider answers 429.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quota>,
    /// Timeouts for calls to this model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<ModelTimeouts>,
}

/// The provider's API family.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    /// OpenAI (`https://api.openai.com`).
    #[serde(rename = "openai")]
    OpenAi,
    /// Azure OpenAI (deployment-scoped paths, `api-key` header).
    #[serde(rename = "azure-openai")]
    AzureOpenAi,
    /// Anthropic Messages API.
    Anthropic,
    /// Google Gemini (`generateContent`).
    Gemini,
    /// AWS Bedrock Converse API, signed with SigV4.
    Bedrock,
    /// Any server that speaks the OpenAI API: vLLM, Ollama, Groq, Mistral, Together, ….
    #[serde(rename = "openai-compatible")]
    OpenAiCompatible,
}

impl Provider {
    /// The name used in manifests, metrics and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::AzureOpenAi => "azure-openai",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::Bedrock => "bedrock",
            Self::OpenAiCompatible => "openai-compatible",
        }
    }
}

/// Credentials for the provider; exactly one of `secretRef` and `aws`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.secretRef) != has(self.aws)").message("set exactly one of credentials.secretRef and credentials.aws"))]
pub struct Credentials {
    /// The Secret key holding the provider API key (sent as `Authorization: Bearer`,
    /// `api-key`, `x-api-key` or `x-goog-api-key`, as the provider expects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyRef>,
    /// AWS credentials for Bedrock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsCredentials>,
}

/// AWS access keys for Bedrock, read from one Secret with the conventional key names
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, optionally, `AWS_SESSION_TOKEN`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsCredentials {
    /// The Secret holding the access keys.
    pub secret_ref: SecretRef,
}

/// Azure OpenAI settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureSettings {
    /// The deployment name, as in `/openai/deployments/DEPLOYMENT/chat/completions`.
    #[schemars(length(min = 1, max = 256))]
    pub deployment: String,
    /// The `api-version` query parameter, such as `2024-10-21`.
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(validation = Rule::new("self.matches('^[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$')").message("apiVersion must look like 2024-10-21 or 2025-01-01-preview"))]
    pub api_version: String,
}

/// AWS Bedrock settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BedrockSettings {
    /// The AWS region, such as `us-east-1`.
    #[schemars(length(min = 1, max = 32))]
    #[x_kube(validation = Rule::new("self.matches('^[a-z]{2}(-[a-z]+)+-[0-9]+$')").message("region must be an AWS region such as us-east-1"))]
    pub region: String,
}

/// What a model can serve.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// Chat completions (`/v1/chat/completions`, `/v1/messages`).
    Chat,
    /// Legacy text completions (`/v1/completions`).
    Completions,
    /// Embeddings (`/v1/embeddings`).
    Embeddings,
    /// The OpenAI Responses API (`/v1/responses`).
    Responses,
    /// Tool (function) calling.
    Tools,
    /// Images in message content.
    Vision,
    /// JSON mode and structured outputs.
    JsonMode,
}

/// Price in US dollars per one million tokens, as decimal strings (`"2.50"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pricing {
    /// USD per 1M input (prompt) tokens.
    pub input: Usd,
    /// USD per 1M output (completion) tokens, reasoning tokens included.
    pub output: Usd,
    /// USD per 1M input tokens served from the provider's prompt cache. Defaults to `input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<Usd>,
}

/// Provider-side quota headroom.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Quota {
    /// Requests per minute the provider allows for this model and key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub requests_per_minute: Option<u64>,
    /// Tokens (input + output) per minute the provider allows for this model and key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub tokens_per_minute: Option<u64>,
}

/// Timeouts for calls to one model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(durations_in_order("firstToken", "total")).message("timeouts.firstToken must not exceed timeouts.total"))]
pub struct ModelTimeouts {
    /// Time to open a connection (TCP and TLS). Default `5s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<Duration>,
    /// Time from sending the request until the first response byte (the first token when
    /// streaming). Default `60s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_token: Option<Duration>,
    /// Time for the whole call, stream included. Default `10m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<Duration>,
}
