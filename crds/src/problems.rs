//! What the compiler found wrong, per object. Problems accumulate (the compiler never stops at
//! the first) and each names the object, the condition it sets to `False` and a reason, so the
//! operator can write them into that object's status and leave every other object alone.

use std::fmt;

use serde::Serialize;

use crate::conditions::ConditionType;

/// The kind of a Switchyard object.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
pub enum Kind {
    /// An `AIModel`.
    AIModel,
    /// An `AIRoute`.
    AIRoute,
    /// An `AIPolicy`.
    AIPolicy,
}

impl Kind {
    /// The kind's name as in `kind:`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AIModel => "AIModel",
            Self::AIRoute => "AIRoute",
            Self::AIPolicy => "AIPolicy",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A namespaced object of a known kind.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
pub struct ObjectRef {
    /// The object's kind.
    pub kind: Kind,
    /// The object's namespace.
    pub namespace: String,
    /// The object's name.
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// One thing wrong with one object.
#[derive(Debug, Serialize)]
pub struct Problem {
    /// The object the problem belongs to.
    pub object: ObjectRef,
    /// What is wrong.
    #[serde(serialize_with = "serialize_display")]
    pub error: ProblemKind,
}

impl Problem {
    /// The condition this problem sets to `False`.
    pub fn condition(&self) -> ConditionType {
        self.error.condition()
    }

    /// The condition's reason (CamelCase).
    pub fn reason(&self) -> &'static str {
        self.error.reason()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.object, self.error)
    }
}

fn serialize_display<S: serde::Serializer>(error: &ProblemKind, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut out = s.serialize_struct("ProblemKind", 3)?;
    out.serialize_field("condition", error.condition().as_str())?;
    out.serialize_field("reason", error.reason())?;
    out.serialize_field("message", &error.to_string())?;
    out.end()
}

/// What can be wrong with an object. The `Display` text is the condition's message, written
/// for the admin who reads `kubectl describe`.
#[derive(Debug, thiserror::Error)]
pub enum ProblemKind {
    /// The object breaks a schema or CEL rule (standalone mode; in a cluster the API server
    /// refuses such objects at admission).
    #[error("{0}")]
    Schema(String),
    /// A route or fallback names an AIModel that does not exist or is itself invalid.
    #[error("AIModel {name} does not exist in this namespace or is invalid")]
    ModelNotFound {
        /// The missing model's name.
        name: String,
    },
    /// None of a route's backends can be used, so the route cannot serve anything.
    #[error("none of the backends can be used, so the route is not served")]
    NoUsableBackend,
    /// A referenced Secret does not exist.
    #[error("Secret {name} does not exist in this namespace")]
    SecretNotFound {
        /// The Secret's name.
        name: String,
    },
    /// A referenced Secret lacks the key.
    #[error("Secret {secret} has no key {key}")]
    SecretKeyNotFound {
        /// The Secret's name.
        secret: String,
        /// The missing key.
        key: String,
    },
    /// A Secret value is not valid UTF-8 text.
    #[error("Secret {secret} key {key} is not UTF-8 text")]
    SecretNotText {
        /// The Secret's name.
        secret: String,
        /// The key.
        key: String,
        /// Why decoding failed.
        #[source]
        source: std::string::FromUtf8Error,
    },
    /// Two routes claim the same public model name with the same header matches.
    #[error(
        "model name {model:?} is already served by AIRoute {winner}, which is older; this route is not served until the conflict is removed"
    )]
    NameConflict {
        /// The contested public model name.
        model: String,
        /// The route that keeps the name.
        winner: String,
    },
    /// A public model name is not a valid glob.
    #[error("model name {pattern:?} is not a valid glob")]
    InvalidGlob {
        /// The pattern.
        pattern: String,
        /// Why it is invalid.
        #[source]
        source: globset::Error,
    },
    /// A regular expression does not compile.
    #[error("{field} {pattern:?} is not a valid regular expression: {source}")]
    InvalidRegex {
        /// Where the pattern is (`matches[0].value`).
        field: String,
        /// The pattern.
        pattern: String,
        /// Why it is invalid.
        #[source]
        source: regex::Error,
    },
    /// An endpoint is not a usable URL.
    #[error("endpoint {url:?} is not a usable http(s) URL")]
    InvalidEndpoint {
        /// The URL as written.
        url: String,
    },
    /// A transform tries to force a parameter that decides what the request is.
    #[error("transforms.{field} may not set {param:?}")]
    ForbiddenParam {
        /// `defaultParams` or `forcedParams`.
        field: &'static str,
        /// The parameter.
        param: String,
    },
    /// A policy target does not exist.
    #[error("target {kind} {name} does not exist in this namespace")]
    TargetNotFound {
        /// The target's kind.
        kind: &'static str,
        /// The target's name.
        name: String,
    },
    /// A JWKS document is not valid JSON with a `keys` list.
    #[error("the JWKS from {from} is not a JSON Web Key Set (a JSON object with a \"keys\" list)")]
    InvalidJwks {
        /// Where the document came from (`jwks.inline`, `Secret NAME key KEY`).
        from: String,
        /// Whether the document is written in the spec itself (an invalid spec) rather than
        /// read from a Secret (an unresolved reference).
        inline: bool,
    },
    /// A JWKS URL is not https.
    #[error("jwks.url {url:?} must be an https:// URL")]
    InvalidJwksUrl {
        /// The URL as written.
        url: String,
    },
    /// Service-account tokens are accepted but the cluster's service-account issuer is not
    /// known: the operator reads it from the API server; a standalone proxy needs it on its
    /// command line.
    #[error(
        "serviceAccounts needs the cluster's service-account issuer and keys, which are not known: the operator reads them from the API server (GET /.well-known/openid-configuration and /openid/v1/jwks); a standalone proxy needs --service-account-issuer and --service-account-jwks"
    )]
    ServiceAccountIssuerUnknown,
    /// Two API key Secrets hold the same key.
    #[error("Secrets {first} and {second} hold the same API key; only {first} is used")]
    DuplicateApiKey {
        /// The Secret whose key is kept.
        first: String,
        /// The Secret whose key is ignored.
        second: String,
    },
    /// A policy that applies to this route is invalid, so the route refuses every request
    /// rather than run without it.
    #[error(
        "AIPolicy {policy} applies to this route but is invalid; the route refuses requests until it is fixed"
    )]
    PolicyInvalid {
        /// The invalid policy's name.
        policy: String,
    },
}

impl ProblemKind {
    /// The condition this problem sets to `False`.
    pub fn condition(&self) -> ConditionType {
        match self {
            Self::Schema(_)
            | Self::NameConflict { .. }
            | Self::InvalidGlob { .. }
            | Self::InvalidRegex { .. }
            | Self::InvalidEndpoint { .. }
            | Self::ForbiddenParam { .. }
            | Self::InvalidJwks { inline: true, .. }
            | Self::InvalidJwksUrl { .. } => ConditionType::Accepted,
            Self::ModelNotFound { .. }
            | Self::NoUsableBackend
            | Self::SecretNotFound { .. }
            | Self::SecretKeyNotFound { .. }
            | Self::SecretNotText { .. }
            | Self::TargetNotFound { .. }
            | Self::InvalidJwks { .. }
            | Self::DuplicateApiKey { .. }
            | Self::ServiceAccountIssuerUnknown
            | Self::PolicyInvalid { .. } => ConditionType::ResolvedRefs,
        }
    }

    /// The condition's reason (CamelCase, Gateway API style where one exists).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Schema(_) => "Invalid",
            Self::ModelNotFound { .. } => "BackendNotFound",
            Self::NoUsableBackend => "NoUsableBackend",
            Self::SecretNotFound { .. } => "SecretNotFound",
            Self::SecretKeyNotFound { .. } => "SecretKeyNotFound",
            Self::SecretNotText { .. } => "InvalidSecret",
            Self::NameConflict { .. } => "Conflicted",
            Self::InvalidGlob { .. } | Self::InvalidRegex { .. } => "InvalidPattern",
            Self::InvalidEndpoint { .. } => "InvalidEndpoint",
            Self::ForbiddenParam { .. } => "InvalidTransform",
            Self::TargetNotFound { .. } => "TargetNotFound",
            Self::InvalidJwks { .. } | Self::InvalidJwksUrl { .. } => "InvalidJwks",
            Self::ServiceAccountIssuerUnknown => "ServiceAccountIssuerUnknown",
            Self::DuplicateApiKey { .. } => "DuplicateApiKey",
            Self::PolicyInvalid { .. } => "PolicyInvalid",
        }
    }
}
