//! Authorization: a policy with rules lets a caller use a route only when a rule names one of
//! the caller's subjects and, if the rule lists them, the route and the requested model. Every
//! policy on the route that has rules must agree, so adding a policy never widens access.
//!
//! Service accounts match as `ServiceAccount` subjects (`NAMESPACE/NAME`), as `Namespace`
//! subjects, and as users and groups by the names Kubernetes gives them
//! (`system:serviceaccount:NS:NAME`; `system:serviceaccounts:NS`).
//!
//! Rules are compiled once per snapshot (model globs into matchers), so a check allocates
//! nothing.

use globset::{Glob, GlobSet, GlobSetBuilder};
use switchyard_crds::{policy::SubjectKind, snapshot::AuthorizationRule};

use super::Principal;

/// One rule, ready for checks.
#[derive(Debug)]
pub struct Rule {
    users: Box<[Box<str>]>,
    groups: Box<[Box<str>]>,
    /// `(namespace, name)` of `ServiceAccount` subjects.
    service_accounts: Box<[(Box<str>, Box<str>)]>,
    namespaces: Box<[Box<str>]>,
    routes: Box<[Box<str>]>,
    /// `None`: every model.
    models: Option<GlobSet>,
}

impl Rule {
    /// Compiles a rule (a model pattern that does not compile, which the compiler prevents,
    /// matches nothing).
    pub fn new(rule: &AuthorizationRule) -> Self {
        let names = |kind: SubjectKind| {
            let named = rule.subjects.iter().filter(|s| s.kind == kind);
            named.map(|s| s.name.as_str().into()).collect()
        };
        let models = (!rule.models.is_empty()).then(|| {
            let mut set = GlobSetBuilder::new();
            for pattern in &rule.models {
                if let Ok(glob) = Glob::new(pattern) {
                    set.add(glob);
                }
            }
            set.build().unwrap_or_else(|_| GlobSet::empty())
        });
        Self {
            users: names(SubjectKind::User),
            groups: names(SubjectKind::Group),
            service_accounts: rule
                .subjects
                .iter()
                .filter(|s| s.kind == SubjectKind::ServiceAccount)
                .filter_map(|s| s.name.split_once('/'))
                .map(|(ns, name)| (ns.into(), name.into()))
                .collect(),
            namespaces: names(SubjectKind::Namespace),
            routes: rule.routes.iter().map(|r| r.as_str().into()).collect(),
            models,
        }
    }

    /// Whether the rule lets `principal` call `route` for `model`.
    pub fn allows(&self, principal: &Principal, route: &str, model: &str) -> bool {
        let account = principal.service_account();
        let subject = self.users.iter().any(|u| **u == *principal.subject())
            || principal
                .groups()
                .any(|g| self.groups.iter().any(|r| **r == *g))
            || account.is_some_and(|(namespace, name)| {
                self.namespaces.iter().any(|n| **n == *namespace)
                    || self
                        .service_accounts
                        .iter()
                        .any(|(ns, n)| **ns == *namespace && **n == *name)
            });
        subject
            && (self.routes.is_empty() || self.routes.iter().any(|r| **r == *route))
            && self.models.as_ref().is_none_or(|set| set.is_match(model))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use switchyard_crds::policy::Subject;

    use super::*;
    use crate::auth::{keys::KeyOwner, tokens::TokenOwner};

    fn rule(subjects: &[(SubjectKind, &str)], routes: &[&str], models: &[&str]) -> Rule {
        Rule::new(&AuthorizationRule {
            subjects: subjects
                .iter()
                .map(|(kind, name)| Subject {
                    kind: *kind,
                    name: (*name).into(),
                })
                .collect(),
            routes: routes.iter().map(|r| (*r).into()).collect(),
            models: models.iter().map(|m| (*m).into()).collect(),
        })
    }

    fn caller(subject: &str, groups: &[&str]) -> Principal {
        Principal::Key(Arc::new(KeyOwner {
            subject: subject.into(),
            groups: groups.iter().map(|g| (*g).into()).collect(),
            secret: "ns/s".into(),
        }))
    }

    #[test]
    fn a_rule_needs_a_subject_and_the_listed_route_and_model() {
        let rule = rule(&[(SubjectKind::Group, "search")], &["chat"], &["gpt-4o*"]);
        assert!(rule.allows(&caller("ann", &["search"]), "chat", "gpt-4o-mini"));
        assert!(
            !rule.allows(&caller("ann", &["ads"]), "chat", "gpt-4o"),
            "other group"
        );
        assert!(
            !rule.allows(&caller("ann", &["search"]), "embed", "gpt-4o"),
            "other route"
        );
        assert!(
            !rule.allows(&caller("ann", &["search"]), "chat", "claude"),
            "other model"
        );
        assert!(!rule.allows(&Principal::Anonymous, "chat", "gpt-4o"));
    }

    fn service_account(namespace: &str, name: &str) -> Principal {
        Principal::Token(Arc::new(TokenOwner {
            subject: format!("system:serviceaccount:{namespace}:{name}").into(),
            groups: Box::new([
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}").into(),
            ]),
            service_account: Some((namespace.into(), name.into())),
        }))
    }

    #[test]
    fn service_accounts_match_by_account_namespace_user_and_group() {
        let by_account = rule(&[(SubjectKind::ServiceAccount, "search/indexer")], &[], &[]);
        assert!(by_account.allows(&service_account("search", "indexer"), "r", "m"));
        assert!(!by_account.allows(&service_account("search", "crawler"), "r", "m"));
        assert!(!by_account.allows(&service_account("ads", "indexer"), "r", "m"));
        assert!(
            !by_account.allows(&caller("search/indexer", &[]), "r", "m"),
            "a key whose subject looks like an account is not one"
        );
        let by_namespace = rule(&[(SubjectKind::Namespace, "search")], &[], &[]);
        assert!(by_namespace.allows(&service_account("search", "crawler"), "r", "m"));
        assert!(!by_namespace.allows(&service_account("ads", "crawler"), "r", "m"));
        let by_user = rule(
            &[(SubjectKind::User, "system:serviceaccount:search:indexer")],
            &[],
            &[],
        );
        assert!(by_user.allows(&service_account("search", "indexer"), "r", "m"));
        let by_group = rule(
            &[(SubjectKind::Group, "system:serviceaccounts:ads")],
            &[],
            &[],
        );
        assert!(by_group.allows(&service_account("ads", "x"), "r", "m"));
        assert!(!by_group.allows(&service_account("search", "x"), "r", "m"));
    }

    #[test]
    fn users_match_by_subject_and_empty_lists_allow_everything() {
        let rule = rule(&[(SubjectKind::User, "ann@example.com")], &[], &[]);
        assert!(rule.allows(&caller("ann@example.com", &[]), "any", "any"));
        assert!(!rule.allows(&caller("bob@example.com", &[]), "any", "any"));
        let anonymous = self::rule(&[(SubjectKind::User, "anonymous")], &[], &[]);
        assert!(anonymous.allows(&Principal::Anonymous, "r", "m"));
    }
}
