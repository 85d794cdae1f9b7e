//! Who may open the config channel: a proxy presenting a service-account token bound to the
//! `switchyard` audience for the one proxy service account, as the API server confirms by
//! TokenReview. The operator never parses tokens itself, so revoked or expired tokens and
//! deleted pods are refused exactly as the API server refuses them.

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use kube::{Api, api::PostParams};
use switchyard_crds::channel::AUDIENCE;

/// Why a token was refused. The message never contains the token.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// No `Authorization: Bearer` header.
    #[error("no bearer token")]
    NoToken,
    /// The API server did not authenticate the token.
    #[error("the token is not valid for audience {AUDIENCE:?}: {0}")]
    NotAuthenticated(String),
    /// The token belongs to someone else.
    #[error("{user} is not the proxy service account {expected}")]
    WrongAccount {
        /// Who the token belongs to.
        user: String,
        /// Who may connect.
        expected: String,
    },
    /// The TokenReview itself failed.
    #[error("the token could not be reviewed: {0}")]
    Review(#[from] kube::Error),
}

impl Refused {
    /// Whether the API server, not the caller, is at fault (the caller should retry).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Review(_))
    }
}

/// Checks proxy tokens.
#[derive(Clone)]
pub struct Authenticator {
    reviews: Api<TokenReview>,
    /// `system:serviceaccount:<namespace>:<name>` of the proxies.
    expected: String,
}

impl Authenticator {
    /// Accepts tokens of service account `namespace/name`.
    pub fn new(client: kube::Client, namespace: &str, name: &str) -> Self {
        Self {
            reviews: Api::all(client),
            expected: format!("system:serviceaccount:{namespace}:{name}"),
        }
    }

    /// Reviews the token of an `Authorization` header value.
    pub async fn check(&self, authorization: Option<&str>) -> Result<(), Refused> {
        let token = authorization
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or(Refused::NoToken)?;
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: token.to_owned(),
                audiences: Some(vec![AUDIENCE.to_owned()]),
            },
            ..TokenReview::default()
        };
        let reviewed = self.reviews.create(&PostParams::default(), &review).await?;
        let status = reviewed.status.unwrap_or_default();
        let audience_ok = status
            .audiences
            .as_ref()
            .is_some_and(|audiences| audiences.iter().any(|a| a == AUDIENCE));
        if status.authenticated != Some(true) || !audience_ok {
            let reason = status
                .error
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "not authenticated".to_owned());
            return Err(Refused::NotAuthenticated(reason));
        }
        let user = status.user.and_then(|u| u.username).unwrap_or_default();
        if user != self.expected {
            return Err(Refused::WrongAccount {
                user,
                expected: self.expected.clone(),
            });
        }
        Ok(())
    }
}
