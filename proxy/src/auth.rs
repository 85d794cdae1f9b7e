//! Who is calling, and whether they may. A route is closed unless a policy that covers it
//! admits the caller:
//! - an API key (`Authorization: Bearer`, `x-api-key` or `api-key`) known to any of the
//!   route's policies authenticates as that key's subject and groups;
//! - a credential that is a JWT, where a policy of the route checks tokens (JWT issuers or
//!   service accounts), is verified against them ([`tokens`]) and authenticates as the
//!   subject and groups its claims name; a refused token is a 401 that says why;
//! - without a credential, a policy with `anonymous: true` admits the caller as `anonymous`;
//! - a key that no policy knows is refused (401) where the route's policies check keys, even
//!   if they also allow anonymous access: a client that sends a key wants to hear it is wrong;
//!   where no policy checks keys, the header is ignored (SDKs always send one, often a
//!   placeholder) and anonymous access applies;
//! - a route covered by an invalid policy refuses every request (503).
//!
//! Then every policy with authorization rules must allow the caller, the route and the model
//! (403 otherwise).

pub mod authorize;
pub mod jwks;
pub mod jwt;
pub mod keys;
pub mod tokens;

use std::sync::Arc;

use http::HeaderMap;
use switchyard_crds::snapshot::{Policy, Route};

use crate::{errors::GatewayError, store::State};

use self::{
    authorize::Rule,
    jwks::JwksRegistry,
    keys::{KeyOwner, KeyTable},
    tokens::{ClusterIssuer, Issuer, ServiceAccountAuth, TokenAuth, TokenOwner},
};

/// The authenticated caller.
#[derive(Clone, Debug)]
pub enum Principal {
    /// A caller a policy admits without credentials.
    Anonymous,
    /// The owner of an API key.
    Key(Arc<KeyOwner>),
    /// Who a verified JWT or service-account token names.
    Token(Arc<TokenOwner>),
}

impl Principal {
    /// The subject, as authorization rules and logs name it.
    pub fn subject(&self) -> &str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Key(owner) => &owner.subject,
            Self::Token(owner) => &owner.subject,
        }
    }

    /// `(namespace, name)` of a service account.
    pub fn service_account(&self) -> Option<(&str, &str)> {
        match self {
            Self::Token(owner) => owner
                .service_account
                .as_ref()
                .map(|(ns, name)| (&**ns, &**name)),
            Self::Anonymous | Self::Key(_) => None,
        }
    }

    /// The subject's groups.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        let groups: &[Box<str>] = match self {
            Self::Anonymous => &[],
            Self::Key(owner) => &owner.groups,
            Self::Token(owner) => &owner.groups,
        };
        groups.iter().map(|g| &**g)
    }
}

/// A policy ready for the hot path: its keys, token issuers and compiled rules.
#[derive(Debug)]
pub struct PolicyState {
    keys: KeyTable,
    tokens: TokenAuth,
    anonymous: bool,
    /// `None`: every authenticated caller may use everything the policy covers.
    rules: Option<Box<[Rule]>>,
}

impl PolicyState {
    /// Prepares `policy` once per snapshot: `cluster` is the snapshot's service-account
    /// issuer, `registry` shares fetched JWKS across snapshots.
    pub fn new(
        policy: &Policy,
        cluster: Option<&Arc<ClusterIssuer>>,
        registry: &JwksRegistry,
    ) -> Self {
        let authentication = policy.authentication.as_ref();
        Self {
            keys: authentication.map_or_else(KeyTable::default, |a| {
                KeyTable::new(&policy.source.namespace, &a.api_keys)
            }),
            tokens: authentication.map_or_else(TokenAuth::default, |a| TokenAuth {
                issuers: a.jwt.iter().map(|j| Issuer::new(j, registry)).collect(),
                service_accounts: a
                    .service_accounts
                    .as_ref()
                    .map(|s| ServiceAccountAuth::new(s, cluster)),
            }),
            anonymous: authentication.is_some_and(|a| a.anonymous),
            rules: policy
                .authorization
                .as_ref()
                .map(|rules| rules.iter().map(Rule::new).collect()),
        }
    }
}

/// The API key a request presents, if any: `Authorization: Bearer KEY` (the scheme in any
/// case), else `x-api-key` (Anthropic's header), else `api-key` (Azure's).
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim());
    bearer
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .or_else(|| headers.get("api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .filter(|key| !key.is_empty())
}

/// The credential a request presents: the digest of the key, computed once per request however
/// many routes it is checked against (`/v1/models` checks them all), and the key itself when
/// it is a JWT (verified against the issuers of each route's policies).
#[derive(Clone, Copy, Debug)]
pub struct Credential<'a> {
    digest: [u8; 32],
    token: Option<&'a str>,
}

impl<'a> Credential<'a> {
    /// The request's credential, if it presents one.
    pub fn from_headers(headers: &'a HeaderMap) -> Option<Self> {
        presented_key(headers).map(|key| Self {
            digest: keys::digest(key),
            token: jwt::looks_like_jwt(key).then_some(key),
        })
    }

    /// The key's SHA-256 (what rate limits keyed by API key count by; never the key).
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }

    fn refused(&self) -> GatewayError {
        GatewayError::InvalidApiKey {
            digest_prefix: hex::encode(&self.digest[..4]),
        }
    }
}

/// Authenticates a request presenting `credential` to `route`.
pub fn authenticate(
    state: &State,
    route: &Route,
    credential: Option<&Credential<'_>>,
) -> Result<Principal, GatewayError> {
    if let Some(invalid) = route.invalid_policies.first() {
        return Err(GatewayError::InvalidPolicy(invalid.clone()));
    }
    let policies = || {
        route
            .policies
            .iter()
            .filter_map(|idx| state.policies.get(*idx as usize))
    };
    let checks_keys = policies().any(|policy| !policy.keys.is_empty());
    let checks_tokens = policies().any(|policy| !policy.tokens.is_empty());
    match credential {
        Some(Credential {
            token: Some(token), ..
        }) if checks_tokens => {
            tokens::authenticate(policies().map(|p| &p.tokens), token).map(Principal::Token)
        }
        Some(credential) if checks_keys => policies()
            .find_map(|policy| policy.keys.find(&credential.digest))
            .map(|owner| Principal::Key(Arc::clone(owner)))
            .ok_or_else(|| credential.refused()),
        _ if policies().any(|policy| policy.anonymous) => Ok(Principal::Anonymous),
        None => Err(GatewayError::Unauthenticated),
        // Only tokens are checked here, and this is not one.
        Some(_) if checks_tokens => Err(GatewayError::InvalidToken(jwt::Refusal::Malformed)),
        // A key (or a token), but nothing here checks it and nobody may call anonymously.
        Some(credential) => Err(credential.refused()),
    }
}

/// Checks that every policy of `route` with rules lets `principal` ask for `model`.
pub fn authorize(
    state: &State,
    route: &Route,
    principal: &Principal,
    model: &str,
) -> Result<(), GatewayError> {
    let allowed = route
        .policies
        .iter()
        .filter_map(|idx| state.policies.get(*idx as usize))
        .filter_map(|policy| policy.rules.as_deref())
        .all(|rules| {
            rules
                .iter()
                .any(|rule| rule.allows(principal, &route.source.name, model))
        });
    if allowed {
        Ok(())
    } else {
        Err(GatewayError::Forbidden {
            subject: principal.subject().to_owned(),
            model: model.to_owned(),
        })
    }
}
