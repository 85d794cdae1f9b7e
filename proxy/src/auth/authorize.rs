//! Authorization: a policy with rules lets a caller use a route only when a rule names one of
//! the caller's subjects and, if the rule lists them, the route and the requested model. Every
//! policy on the route that has rules must agree, so adding a policy never widens access.
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
            routes: rule.routes.iter().map(|r| r.as_str().into()).collect(),
            models,
        }
    }

    /// Whether the rule lets `principal` call `route` for `model`.
    pub fn allows(&self, principal: &Principal, route: &str, model: &str) -> bool {
        let subject = self.users.iter().any(|u| **u == *principal.subject())
            || principal
                .groups()
                .any(|g| self.groups.iter().any(|r| **r == *g));
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
    use crate::auth::keys::KeyOwner;

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

    #[test]
    fn users_match_by_subject_and_empty_lists_allow_everything() {
        let rule = rule(&[(SubjectKind::User, "ann@example.com")], &[], &[]);
        assert!(rule.allows(&caller("ann@example.com", &[]), "any", "any"));
        assert!(!rule.allows(&caller("bob@example.com", &[]), "any", "any"));
        let anonymous = self::rule(&[(SubjectKind::User, "anonymous")], &[], &[]);
        assert!(anonymous.allows(&Principal::Anonymous, "r", "m"));
    }
}
