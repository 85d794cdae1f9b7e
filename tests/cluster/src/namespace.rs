//! A namespace per test. The test API server runs no namespace controller, so namespaces never
//! finish deleting: each test gets a fresh, uniquely named one and nothing is cleaned up.

use std::sync::atomic::{AtomicUsize, Ordering};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

use crate::Error;

/// The label put on every test namespace, valued with the prefix the test asked for.
pub const TEST_NAMESPACE_LABEL: &str = "switchyard.dev/test";

/// Longest prefix kept in a namespace name (names are DNS labels of at most 63 characters).
const MAX_PREFIX: usize = 40;

/// A namespace created for one test, with an admin client.
#[derive(Clone)]
pub struct TestNamespace {
    name: String,
    client: kube::Client,
}

impl TestNamespace {
    /// Creates a namespace named `<prefix>-<n>` (the prefix lowercased and reduced to a DNS label).
    pub(crate) async fn create(client: kube::Client, prefix: &str) -> Result<Self, Error> {
        let name = unique_name(prefix);
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some([(TEST_NAMESPACE_LABEL.to_owned(), dns_label(prefix))].into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .map_err(Error::kube(format!("create namespace {name}")))?;
        Ok(Self { name, client })
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The admin client this namespace was created with.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// An admin `Api` for a namespaced resource type in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope> + DeserializeOwned,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }
}

/// `<prefix>-<n>`, unique within the process (and so within its cluster).
fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let prefix = dns_label(prefix);
    if prefix.is_empty() {
        format!("test-{n}")
    } else {
        format!("{prefix}-{n}")
    }
}

/// Lowercase letters, digits and single dashes, starting with a letter, at most [`MAX_PREFIX`].
fn dns_label(text: &str) -> String {
    let mut label = String::new();
    for c in text.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || (c.is_ascii_digit() && !label.is_empty()) {
            label.push(c);
        } else if !label.is_empty() && !label.ends_with('-') {
            label.push('-');
        }
        if label.len() >= MAX_PREFIX {
            break;
        }
    }
    label.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_names_become_dns_labels() {
        assert_eq!(dns_label("an_aimodel_is_created"), "an-aimodel-is-created");
        assert_eq!(dns_label("9Lives::Test"), "lives-test");
        assert_eq!(dns_label("___"), "");
        assert!(dns_label(&"x".repeat(100)).len() <= MAX_PREFIX);
    }

    #[test]
    fn every_name_is_unique() {
        assert_ne!(unique_name("same"), unique_name("same"));
        assert!(unique_name("").starts_with("test-"));
    }
}
