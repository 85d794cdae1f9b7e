//! API keys as the proxy holds them: SHA-256 digests only (the snapshot never carries a key),
//! sorted for lookup, each with the subject and groups it authenticates as.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use switchyard_crds::snapshot::ApiKey;

/// Who an API key authenticates as.
#[derive(Debug)]
pub struct KeyOwner {
    /// The subject (Secret annotation `switchyard.dev/subject`, or the Secret's name).
    pub subject: Arc<str>,
    /// The subject's groups.
    pub groups: Box<[Box<str>]>,
    /// `namespace/secret` the key came from, for logs.
    pub secret: Arc<str>,
}

/// One policy's keys, sorted by digest.
#[derive(Debug, Default)]
pub struct KeyTable {
    digests: Vec<[u8; 32]>,
    owners: Vec<Arc<KeyOwner>>,
}

/// The SHA-256 digest of a presented key.
pub fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl KeyTable {
    /// The table for a policy's compiled keys (entries whose hash is not 64 hex digits, which
    /// the compiler never produces, are left out).
    pub fn new(namespace: &str, keys: &[ApiKey]) -> Self {
        let mut entries: Vec<([u8; 32], Arc<KeyOwner>)> = keys
            .iter()
            .filter_map(|key| {
                let mut digest = [0u8; 32];
                hex::decode_to_slice(&key.sha256, &mut digest).ok()?;
                let owner = KeyOwner {
                    subject: key.subject.as_str().into(),
                    groups: key.groups.iter().map(|g| g.as_str().into()).collect(),
                    secret: format!("{namespace}/{}", key.secret).into(),
                };
                Some((digest, Arc::new(owner)))
            })
            .collect();
        entries.sort_by_key(|entry| entry.0);
        let (digests, owners) = entries.into_iter().unzip();
        Self { digests, owners }
    }

    /// Whether the table holds any key.
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// The owner of the key with this digest. The search narrows down by digest (which says
    /// nothing about the key); the final comparison takes the same time whatever the bytes.
    pub fn find(&self, digest: &[u8; 32]) -> Option<&Arc<KeyOwner>> {
        let at = self.digests.partition_point(|d| d < digest);
        let candidate = self.digests.get(at)?;
        bool::from(candidate.ct_eq(digest)).then(|| &self.owners[at])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str, plaintext: &str) -> ApiKey {
        ApiKey {
            sha256: hex::encode(digest(plaintext)),
            subject: format!("{secret}@example.com"),
            groups: vec!["team".into()],
            secret: secret.into(),
        }
    }

    #[test]
    fn a_key_is_found_by_its_digest_only() {
        let table = KeyTable::new(
            "ns",
            &[key("a", "sk-a"), key("b", "sk-b"), key("c", "sk-c")],
        );
        let owner = table
            .find(&digest("sk-b"))
            .map(|o| (&*o.subject, &*o.secret));
        assert_eq!(owner, Some(("b@example.com", "ns/b")));
        assert!(table.find(&digest("sk-d")).is_none());
        assert!(table.find(&digest("")).is_none());
        assert!(KeyTable::default().find(&digest("sk-a")).is_none());
    }
}
