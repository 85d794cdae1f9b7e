//! Reference resolution shared by the per-kind compilers: Secrets by namespace and name, and
//! object metadata.

use std::collections::{BTreeMap, HashMap};

use kube::Resource;

use crate::{
    problems::ProblemKind,
    snapshot::{Secret, Source},
};

/// A Secret as the compiler sees it: metadata plus decoded data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretData {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Labels (API key selection).
    pub labels: BTreeMap<String, String>,
    /// Annotations (API key subject and groups).
    pub annotations: BTreeMap<String, String>,
    /// Decoded values by key.
    pub data: BTreeMap<String, Vec<u8>>,
}

/// Secrets indexed by namespace and name.
pub(super) struct Secrets<'a> {
    by_name: HashMap<(&'a str, &'a str), &'a SecretData>,
    all: &'a [SecretData],
}

impl<'a> Secrets<'a> {
    pub(super) fn new(all: &'a [SecretData]) -> Self {
        let by_name = all
            .iter()
            .map(|s| ((s.namespace.as_str(), s.name.as_str()), s))
            .collect();
        Self { by_name, all }
    }

    pub(super) fn get(&self, namespace: &str, name: &str) -> Result<&'a SecretData, ProblemKind> {
        self.by_name
            .get(&(namespace, name))
            .copied()
            .ok_or_else(|| ProblemKind::SecretNotFound {
                name: name.to_owned(),
            })
    }

    /// Secrets of a namespace whose labels include every pair of `labels`, by name.
    pub(super) fn select(
        &self,
        namespace: &str,
        labels: &BTreeMap<String, String>,
    ) -> Vec<&'a SecretData> {
        let mut found: Vec<_> = self
            .all
            .iter()
            .filter(|s| {
                s.namespace == namespace && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v))
            })
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        found
    }

    /// The text under `key` of the Secret `name`, with surrounding whitespace (a trailing
    /// newline from `kubectl create secret --from-file`) removed.
    pub(super) fn text(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> Result<Secret, ProblemKind> {
        text_of(self.get(namespace, name)?, key)
    }
}

/// The text under `key` of one Secret, trimmed.
pub(super) fn text_of(secret: &SecretData, key: &str) -> Result<Secret, ProblemKind> {
    let bytes = secret
        .data
        .get(key)
        .ok_or_else(|| ProblemKind::SecretKeyNotFound {
            secret: secret.name.clone(),
            key: key.to_owned(),
        })?;
    let text = String::from_utf8(bytes.clone()).map_err(|source| ProblemKind::SecretNotText {
        secret: secret.name.clone(),
        key: key.to_owned(),
        source,
    })?;
    Ok(Secret::new(text.trim().to_owned()))
}

/// The source record of an object.
pub(super) fn source_of<K: Resource>(object: &K) -> Source {
    let meta = object.meta();
    Source {
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
        generation: meta.generation.unwrap_or(0),
    }
}
