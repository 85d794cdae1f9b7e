//! AIPolicy authentication → [`snapshot::Authentication`]: API keys from Secrets reduced to
//! SHA-256 hashes with their subjects and groups, JWKS documents checked, service accounts.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use super::resolve::{Secrets, text_of};
use crate::{
    policy as spec,
    problems::ProblemKind,
    snapshot::{ApiKey, Authentication, Jwks, JwtProvider, ServiceAccounts},
};

/// Annotation on an API key Secret naming the key's subject (default: the Secret's name).
pub const SUBJECT_ANNOTATION: &str = "switchyard.dev/subject";
/// Annotation on an API key Secret listing the subject's groups, comma-separated.
pub const GROUPS_ANNOTATION: &str = "switchyard.dev/groups";
/// Default Secret key holding an API key.
pub const DEFAULT_API_KEY_FIELD: &str = "apiKey";

/// The compiled authentication of one policy. An invalid inline JWKS clears `valid` (the
/// policy's own spec is wrong); every other problem is reported and only disables its part.
pub(super) fn authentication(
    spec: &spec::Authentication,
    namespace: &str,
    secrets: &Secrets<'_>,
    valid: &mut bool,
    report: &mut impl FnMut(ProblemKind),
) -> Authentication {
    Authentication {
        anonymous: spec.anonymous.unwrap_or(false),
        api_keys: spec
            .api_keys
            .as_ref()
            .map(|k| api_keys(k, namespace, secrets, report))
            .unwrap_or_default(),
        jwt: spec
            .jwt
            .iter()
            .filter_map(|j| jwt(j, namespace, secrets, valid, report))
            .collect(),
        service_accounts: spec.service_accounts.as_ref().map(|s| ServiceAccounts {
            audiences: if s.audiences.is_empty() {
                vec!["switchyard".to_owned()]
            } else {
                s.audiences.clone()
            },
            allow: s
                .allow
                .iter()
                .map(|a| (a.namespace.clone(), a.name.clone()))
                .collect(),
        }),
    }
}

/// API keys from the named and selected Secrets, as SHA-256 hashes sorted by hash.
fn api_keys(
    spec: &spec::ApiKeyAuth,
    namespace: &str,
    secrets: &Secrets<'_>,
    report: &mut impl FnMut(ProblemKind),
) -> Vec<ApiKey> {
    let field = spec.key.as_deref().unwrap_or(DEFAULT_API_KEY_FIELD);
    let mut chosen = BTreeMap::new();
    for name in &spec.secret_names {
        match secrets.get(namespace, name) {
            Ok(secret) => {
                chosen.insert(secret.name.as_str(), secret);
            }
            Err(problem) => report(problem),
        }
    }
    if let Some(selector) = &spec.selector {
        for secret in secrets.select(namespace, &selector.match_labels) {
            chosen.insert(secret.name.as_str(), secret);
        }
    }
    let mut by_hash: BTreeMap<String, ApiKey> = BTreeMap::new();
    for secret in chosen.into_values() {
        let key = match text_of(secret, field) {
            Ok(key) => key,
            Err(problem) => {
                report(problem);
                continue;
            }
        };
        let sha256 = hex::encode(Sha256::digest(key.expose().as_bytes()));
        if let Some(first) = by_hash.get(&sha256) {
            report(ProblemKind::DuplicateApiKey {
                first: first.secret.clone(),
                second: secret.name.clone(),
            });
            continue;
        }
        let subject = secret
            .annotations
            .get(SUBJECT_ANNOTATION)
            .cloned()
            .unwrap_or_else(|| secret.name.clone());
        let groups = secret
            .annotations
            .get(GROUPS_ANNOTATION)
            .map(|g| {
                g.split(',')
                    .map(str::trim)
                    .filter(|g| !g.is_empty())
                    .map(str::to_owned)
                    .collect::<BTreeSet<_>>()
            })
            .unwrap_or_default()
            .into_iter()
            .collect();
        by_hash.insert(
            sha256.clone(),
            ApiKey {
                sha256,
                subject,
                groups,
                secret: secret.name.clone(),
            },
        );
    }
    by_hash.into_values().collect()
}

/// One JWT issuer; `None` (reported) when its keys cannot be used. An invalid inline JWKS makes
/// the whole policy invalid; one from a Secret only disables that issuer.
fn jwt(
    spec: &spec::JwtProvider,
    namespace: &str,
    secrets: &Secrets<'_>,
    valid: &mut bool,
    report: &mut impl FnMut(ProblemKind),
) -> Option<JwtProvider> {
    let jwks = match (&spec.jwks.inline, &spec.jwks.secret_ref, &spec.jwks.url) {
        (Some(doc), _, _) => {
            if !is_jwks(doc) {
                *valid = false;
                report(ProblemKind::InvalidJwks {
                    from: "jwks.inline".to_owned(),
                    inline: true,
                });
                return None;
            }
            Jwks::Document(doc.clone())
        }
        (None, Some(r), _) => {
            let doc = secrets
                .text(namespace, &r.name, &r.key)
                .map_err(&mut *report)
                .ok()?;
            if !is_jwks(doc.expose()) {
                report(ProblemKind::InvalidJwks {
                    from: format!("Secret {} key {}", r.name, r.key),
                    inline: false,
                });
                return None;
            }
            Jwks::Document(doc.expose().to_owned())
        }
        (None, None, Some(url)) => {
            if !is_jwks_url(url) {
                *valid = false;
                report(ProblemKind::InvalidJwksUrl { url: url.clone() });
                return None;
            }
            Jwks::Url(url.clone())
        }
        (None, None, None) => return None,
    };
    let claims = spec.claims.as_ref();
    Some(JwtProvider {
        issuer: spec.issuer.clone(),
        audiences: spec.audiences.clone(),
        jwks,
        subject_claim: claims
            .and_then(|c| c.subject.clone())
            .unwrap_or_else(|| "sub".to_owned()),
        groups_claim: claims
            .and_then(|c| c.groups.clone())
            .unwrap_or_else(|| "groups".to_owned()),
    })
}

/// An https URL with a host, as the CRD's CEL rule says; checked again here for inputs that
/// did not pass admission. Keys fetched in the clear could be swapped by anyone on the path.
fn is_jwks_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|url| url.scheme() == "https" && url.host().is_some())
}

fn is_jwks(doc: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(doc)
        .ok()
        .and_then(|v| v.get("keys").map(serde_json::Value::is_array))
        .unwrap_or(false)
}
