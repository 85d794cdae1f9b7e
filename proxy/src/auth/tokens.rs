//! Bearer JWTs against a route's policies: the token's claimed `iss` picks the issuers to try
//! (the policies' JWT issuers, and the cluster's service-account issuer for policies that
//! accept service accounts); the first that verifies it names the caller.
//!
//! A service-account token names `system:serviceaccount:NS:NAME` and is in the groups
//! `system:serviceaccounts` and `system:serviceaccounts:NS`, as Kubernetes itself says; a valid
//! one of an account no policy allows is refused with 403, since who it is is known.

use std::sync::Arc;

use serde_json::{Map, Value};
use switchyard_crds::snapshot::{Jwks, JwtProvider, ServiceAccounts, Snapshot};

use super::{
    jwks::{JwksRegistry, RemoteKeys},
    jwt::{self, Expectations, KeySet, Refusal, Unverified},
};
use crate::errors::GatewayError;

const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

/// Who a verified token names.
#[derive(Debug)]
pub struct TokenOwner {
    /// The subject (the configured claim, `sub` for service accounts).
    pub subject: Box<str>,
    /// The subject's groups.
    pub groups: Box<[Box<str>]>,
    /// `(namespace, name)` for a service-account token.
    pub service_account: Option<(Box<str>, Box<str>)>,
}

/// Where an issuer's keys are.
#[derive(Debug)]
enum Keys {
    /// In the snapshot, parsed with it.
    Fixed(Option<Arc<KeySet>>),
    /// Fetched from a URL in the background.
    Fetched(Arc<RemoteKeys>),
}

/// One trusted issuer of a policy, ready for the hot path.
#[derive(Debug)]
pub struct Issuer {
    issuer: Box<str>,
    keys: Keys,
    expect: Expectations,
    subject_claim: Box<str>,
    groups_claim: Box<str>,
}

impl Issuer {
    /// Prepares a policy's JWT issuer (its inline or Secret JWKS parsed here, once).
    pub fn new(provider: &JwtProvider, registry: &JwksRegistry) -> Self {
        let keys = match &provider.jwks {
            Jwks::Document(doc) => Keys::Fixed(parse(doc, &provider.issuer)),
            Jwks::Url(url) => Keys::Fetched(registry.keys_for(url)),
        };
        Self {
            issuer: provider.issuer.as_str().into(),
            keys,
            expect: Expectations::new(&provider.issuer, &provider.audiences),
            subject_claim: provider.subject_claim.as_str().into(),
            groups_claim: provider.groups_claim.as_str().into(),
        }
    }

    fn claims(&self, token: &Unverified<'_>) -> Result<Map<String, Value>, Refusal> {
        let keys = match &self.keys {
            Keys::Fixed(keys) => keys.clone(),
            Keys::Fetched(remote) => remote.load(),
        };
        let keys = keys.ok_or(Refusal::KeysUnavailable)?;
        let claims = jwt::verify(token, &keys, &self.expect);
        if let (Err(Refusal::UnknownKey), Keys::Fetched(remote)) = (&claims, &self.keys) {
            remote.request_refresh();
        }
        claims
    }

    fn owner(&self, token: &Unverified<'_>) -> Result<TokenOwner, Refusal> {
        let claims = self.claims(token)?;
        Ok(TokenOwner {
            subject: jwt::subject(&claims, &self.subject_claim)?,
            groups: jwt::groups(&claims, &self.groups_claim),
            service_account: None,
        })
    }
}

fn parse(doc: &str, issuer: &str) -> Option<Arc<KeySet>> {
    match KeySet::parse(doc.as_bytes()) {
        Ok(keys) => Some(Arc::new(keys)),
        Err(error) => {
            // The compiler checked the document's shape, so this is a compiler/proxy mismatch.
            tracing::error!(issuer, %error, "a JWKS in the snapshot could not be parsed");
            None
        }
    }
}

/// The cluster's service-account issuer, parsed once per snapshot.
#[derive(Debug)]
pub struct ClusterIssuer {
    issuer: Box<str>,
    keys: Option<Arc<KeySet>>,
}

impl ClusterIssuer {
    /// The snapshot's service-account issuer, if it has one.
    pub fn of(snapshot: &Snapshot) -> Option<Arc<Self>> {
        let cluster = snapshot.content.service_account_issuer.as_ref()?;
        Some(Arc::new(Self {
            issuer: cluster.issuer.as_str().into(),
            keys: parse(&cluster.jwks, &cluster.issuer),
        }))
    }
}

/// `(namespace, name)`; no name allows the whole namespace.
type AllowedAccount = (Box<str>, Option<Box<str>>);

/// A policy's service-account authentication.
#[derive(Debug)]
pub struct ServiceAccountAuth {
    /// `None`: the cluster's issuer is unknown (the compiler reported it).
    cluster: Option<Arc<ClusterIssuer>>,
    expect: Option<Expectations>,
    allow: Box<[AllowedAccount]>,
}

impl ServiceAccountAuth {
    /// Prepares a policy's `serviceAccounts`.
    pub fn new(spec: &ServiceAccounts, cluster: Option<&Arc<ClusterIssuer>>) -> Self {
        Self {
            cluster: cluster.cloned(),
            expect: cluster.map(|c| Expectations::new(&c.issuer, &spec.audiences)),
            allow: spec
                .allow
                .iter()
                .map(|(ns, name)| (ns.as_str().into(), name.as_deref().map(Into::into)))
                .collect(),
        }
    }

    fn issues(&self, token: &Unverified<'_>) -> bool {
        self.cluster
            .as_ref()
            .is_some_and(|c| *c.issuer == *token.issuer)
    }

    fn owner(&self, token: &Unverified<'_>) -> Result<TokenOwner, Refusal> {
        let (Some(cluster), Some(expect)) = (&self.cluster, &self.expect) else {
            return Err(Refusal::UnknownIssuer);
        };
        let keys = cluster.keys.as_ref().ok_or(Refusal::KeysUnavailable)?;
        let claims = jwt::verify(token, keys, expect)?;
        let subject = jwt::subject(&claims, "sub")?;
        let (namespace, name) =
            service_account_of(&subject).ok_or_else(|| Refusal::ClaimFormat("sub".into()))?;
        let (namespace, name): (Box<str>, Box<str>) = (namespace.into(), name.into());
        Ok(TokenOwner {
            groups: Box::new([
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}").into(),
            ]),
            subject,
            service_account: Some((namespace, name)),
        })
    }

    fn allows(&self, owner: &TokenOwner) -> bool {
        let Some((namespace, name)) = &owner.service_account else {
            return false;
        };
        self.allow
            .iter()
            .any(|(ns, allowed)| *ns == *namespace && allowed.as_ref().is_none_or(|a| *a == *name))
    }
}

/// `system:serviceaccount:NS:NAME` → `(NS, NAME)`.
pub fn service_account_of(subject: &str) -> Option<(&str, &str)> {
    let (namespace, name) = subject
        .strip_prefix(SERVICE_ACCOUNT_PREFIX)?
        .split_once(':')?;
    (!namespace.is_empty() && !name.is_empty() && !name.contains(':')).then_some((namespace, name))
}

/// What one policy verifies tokens with.
#[derive(Debug, Default)]
pub struct TokenAuth {
    /// JWT issuers.
    pub issuers: Box<[Issuer]>,
    /// Service-account tokens.
    pub service_accounts: Option<ServiceAccountAuth>,
}

impl TokenAuth {
    /// Whether the policy checks bearer tokens at all.
    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty() && self.service_accounts.is_none()
    }
}

/// Authenticates `token` against the token authentication of a route's policies.
pub fn authenticate<'a>(
    policies: impl Iterator<Item = &'a TokenAuth>,
    token: &str,
) -> Result<Arc<TokenOwner>, GatewayError> {
    let token = jwt::peek(token)?;
    // The most telling refusal: an issuer that matched says more than "unknown issuer".
    let mut refusal = Refusal::UnknownIssuer;
    let mut not_allowed = None;
    for policy in policies {
        for issuer in policy.issuers.iter().filter(|i| *i.issuer == *token.issuer) {
            match issuer.owner(&token) {
                Ok(owner) => return Ok(Arc::new(owner)),
                Err(why) => refusal = why,
            }
        }
        if let Some(accounts) = policy
            .service_accounts
            .as_ref()
            .filter(|a| a.issues(&token))
        {
            match accounts.owner(&token) {
                Ok(owner) if accounts.allows(&owner) => return Ok(Arc::new(owner)),
                Ok(owner) => not_allowed = Some(owner.subject),
                Err(why) => refusal = why,
            }
        }
    }
    Err(match not_allowed {
        Some(subject) => GatewayError::ServiceAccountNotAllowed {
            subject: subject.into(),
        },
        None => GatewayError::InvalidToken(refusal),
    })
}
