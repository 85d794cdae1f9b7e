//! The compiled, validated, immutable configuration a proxy serves: every usable model, route
//! and policy, resolved and indexed for the hot path.
//!
//! A snapshot travels as JSON (operator → proxy, and to disk as the last known good copy). Its
//! `hash` covers the content, so a receiver can verify it and two compilations of the same
//! inputs produce byte-identical output. Deserializing rebuilds the route index and checks the
//! hash, so a `Snapshot` value is always ready to serve.

pub mod index;
mod model;
mod policy;
mod route;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use index::{RouteIndex, RouteMatch};
pub use model::{AzureTarget, Credentials, Endpoint, Model, Price, Secret, Timeouts};
pub use policy::{
    ApiKey, Authentication, AuthorizationRule, Budget, Cache, Guardrails, Jwks, JwtProvider,
    LimitKey, Logging, Policy, RateLimit, ServiceAccountIssuer, ServiceAccounts,
};
pub use route::{
    Backend, HeaderMatch, HeaderMatchKind, Retry, Route, RouteTimeouts, SystemPrompt, Transforms,
};

/// Index of a model in [`Content::models`].
pub type ModelIdx = u32;
/// Index of a route in [`Content::routes`].
pub type RouteIdx = u32;
/// Index of a policy in [`Content::policies`].
pub type PolicyIdx = u32;

/// Where a compiled entry came from: the object and the generation that was compiled.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Source {
    /// Namespace of the object.
    pub namespace: String,
    /// Name of the object.
    pub name: String,
    /// `.metadata.generation` of the compiled spec (0 when unknown, as in standalone mode).
    pub generation: i64,
}

/// Everything the proxy serves, in a canonical order (by namespace, then name).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Content {
    /// Usable models.
    pub models: Vec<Model>,
    /// Usable routes.
    pub routes: Vec<Route>,
    /// Valid policies.
    pub policies: Vec<Policy>,
    /// The cluster's service-account issuer, when known (for `serviceAccounts`
    /// authentication).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // Boxed: it is rare, and a snapshot is moved around by value.
    pub service_account_issuer: Option<Box<ServiceAccountIssuer>>,
}

/// A compiled configuration, ready for the hot path.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "SnapshotWire")]
pub struct Snapshot {
    /// Monotonic version stamped by the operator (0 until stamped).
    pub version: u64,
    /// SHA-256 (hex) of the canonical JSON of `content`.
    pub hash: String,
    /// The compiled models, routes and policies.
    pub content: Content,
    #[serde(skip)]
    index: RouteIndex,
}

/// The serialized shape of a [`Snapshot`], checked and indexed on the way in.
#[derive(Deserialize)]
struct SnapshotWire {
    version: u64,
    hash: String,
    content: Content,
}

/// Why bytes received as a snapshot were refused.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The content does not hash to the hash it carries (corrupt or tampered).
    #[error("snapshot content hashes to {actual}, but the snapshot says {expected}")]
    HashMismatch {
        /// The hash the snapshot carries.
        expected: String,
        /// The hash of the content received.
        actual: String,
    },
    /// The content refers to an entry that is not there, or a pattern does not compile.
    #[error("snapshot content is inconsistent: {0}")]
    Inconsistent(#[from] index::IndexError),
    /// The bytes are not a snapshot.
    #[error("snapshot is not valid JSON of the expected shape")]
    Decode(#[from] serde_json::Error),
}

impl TryFrom<SnapshotWire> for Snapshot {
    type Error = SnapshotError;

    fn try_from(wire: SnapshotWire) -> Result<Self, Self::Error> {
        let actual = content_hash(&wire.content)?;
        if actual != wire.hash {
            return Err(SnapshotError::HashMismatch {
                expected: wire.hash,
                actual,
            });
        }
        let index = RouteIndex::build(&wire.content)?;
        Ok(Self {
            version: wire.version,
            hash: wire.hash,
            content: wire.content,
            index,
        })
    }
}

impl Snapshot {
    /// Seals compiled content: hashes it and builds the route index.
    pub fn new(content: Content) -> Result<Self, SnapshotError> {
        let hash = content_hash(&content)?;
        let index = RouteIndex::build(&content)?;
        Ok(Self {
            version: 0,
            hash,
            content,
            index,
        })
    }

    /// The same snapshot stamped with a version.
    pub fn with_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }

    /// Decodes and verifies a snapshot received as JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self, SnapshotError> {
        let wire: SnapshotWire = serde_json::from_slice(bytes)?;
        Self::try_from(wire)
    }

    /// Encodes the snapshot as JSON, the wire and disk format.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    /// The route serving a public model name for a request with these headers: exact names
    /// first, then globs; within each, routes with header matches before routes without.
    /// `header` returns a request header's value by lower-case name.
    pub fn find_route<'a>(
        &'a self,
        model: &str,
        header: impl Fn(&str) -> Option<&'a str>,
    ) -> Option<RouteMatch<'a>> {
        self.index.find(&self.content, model, header)
    }

    /// The model at an index taken from a route.
    pub fn model(&self, idx: ModelIdx) -> Option<&Model> {
        self.content.models.get(idx as usize)
    }

    /// The policy at an index taken from a route or model.
    pub fn policy(&self, idx: PolicyIdx) -> Option<&Policy> {
        self.content.policies.get(idx as usize)
    }
}

/// SHA-256 of the canonical JSON encoding. Every collection in `Content` is a `Vec` in a fixed
/// order or a `BTreeMap`/`BTreeSet`, so the encoding is canonical.
fn content_hash(content: &Content) -> Result<String, serde_json::Error> {
    let mut hasher = Sha256::new();
    serde_json::to_writer(&mut HashWriter(&mut hasher), content)?;
    Ok(hex::encode(hasher.finalize()))
}

/// Feeds serialized bytes straight into the hasher, so hashing needs no second copy.
struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
