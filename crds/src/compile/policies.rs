//! AIPolicy → [`snapshot::Policy`]: API keys hashed, JWKS checked, targets recorded.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use super::{
    Inputs,
    authentication::authentication,
    resolve::{Secrets, source_of},
};
use crate::{
    AIPolicy,
    policy::{self as spec, CacheScope, LimitKeyType, LimitScope, TargetKind},
    problems::{Kind, ObjectRef, Problem, ProblemKind},
    quantity::Duration,
    snapshot::{
        AuthorizationRule, Budget, Cache, Guardrails, LimitKey, Logging, Policy, PolicyIdx,
        RateLimit,
    },
};

/// Compiled policies and what each one targets.
pub(super) struct CompiledPolicies {
    list: Vec<Policy>,
    /// Valid policies by target.
    targets: HashMap<Target, Vec<PolicyIdx>>,
    /// Invalid policies by target.
    invalid: HashMap<Target, Vec<ObjectRef>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Target {
    Route(String, String),
    Model(String, String),
    Namespace(String),
}

impl CompiledPolicies {
    /// Valid policies that apply to a route: on the route or on its namespace.
    pub(super) fn for_route(&self, namespace: &str, name: &str) -> Vec<PolicyIdx> {
        let mut found = self.collect(&self.targets, namespace, name);
        found.sort_unstable();
        found.dedup();
        found
    }

    /// Invalid policies that would apply to a route: on the route, on its namespace, or on a
    /// model the route can send requests to (a model's policies apply whichever route reaches
    /// it, so the route must refuse rather than reach the model without them).
    pub(super) fn invalid_for_route<'m>(
        &self,
        namespace: &str,
        name: &str,
        models: impl IntoIterator<Item = &'m str>,
    ) -> Vec<ObjectRef> {
        let mut found = self.collect(&self.invalid, namespace, name);
        for model in models {
            let target = Target::Model(namespace.to_owned(), model.to_owned());
            found.extend(self.invalid.get(&target).into_iter().flatten().cloned());
        }
        found.sort();
        found.dedup();
        found
    }

    fn collect<T: Clone>(
        &self,
        map: &HashMap<Target, Vec<T>>,
        namespace: &str,
        name: &str,
    ) -> Vec<T> {
        let route = Target::Route(namespace.to_owned(), name.to_owned());
        let whole = Target::Namespace(namespace.to_owned());
        [route, whole]
            .iter()
            .filter_map(|t| map.get(t))
            .flatten()
            .cloned()
            .collect()
    }

    /// Valid policies that target a model.
    pub(super) fn targeting_model(&self, namespace: &str, name: &str) -> Vec<PolicyIdx> {
        let mut found = self
            .targets
            .get(&Target::Model(namespace.to_owned(), name.to_owned()))
            .cloned()
            .unwrap_or_default();
        found.sort_unstable();
        found
    }

    pub(super) fn into_compiled(self) -> Vec<Policy> {
        self.list
    }
}

pub(super) fn compile(
    objects: &[Arc<AIPolicy>],
    inputs: &Inputs,
    secrets: &Secrets<'_>,
    problems: &mut Vec<Problem>,
) -> CompiledPolicies {
    let routes: HashSet<(String, String)> = inputs
        .routes
        .iter()
        .map(|r| key(&source_of(&**r)))
        .collect();
    let models: HashSet<(String, String)> = inputs
        .models
        .iter()
        .map(|m| key(&source_of(&**m)))
        .collect();
    let mut sorted: Vec<&AIPolicy> = objects.iter().map(|o| &**o).collect();
    sorted.sort_by_cached_key(|p| key(&source_of(*p)));

    let mut compiled = CompiledPolicies {
        list: Vec::new(),
        targets: HashMap::new(),
        invalid: HashMap::new(),
    };
    for object in sorted {
        let source = source_of(object);
        let me = ObjectRef {
            kind: Kind::AIPolicy,
            namespace: source.namespace.clone(),
            name: source.name.clone(),
        };
        let mut report = |error| {
            problems.push(Problem {
                object: me.clone(),
                error,
            })
        };
        let targets = targets(object, &routes, &models, &mut report);
        match policy(object, secrets, &mut report) {
            Some(policy) => {
                let accepts_service_accounts = policy
                    .authentication
                    .as_ref()
                    .is_some_and(|a| a.service_accounts.is_some());
                if accepts_service_accounts && inputs.service_account_issuer.is_none() {
                    // Only that part is off: service-account tokens are refused as from an
                    // unknown issuer until the issuer is known; keys and JWTs keep working.
                    report(ProblemKind::ServiceAccountIssuerUnknown);
                }
                let idx = compiled.list.len() as PolicyIdx;
                compiled.list.push(policy);
                for t in targets {
                    compiled.targets.entry(t).or_default().push(idx);
                }
            }
            None => {
                for t in targets {
                    compiled.invalid.entry(t).or_default().push(me.clone());
                }
            }
        }
    }
    compiled
}

fn key(source: &crate::snapshot::Source) -> (String, String) {
    (source.namespace.clone(), source.name.clone())
}

/// The policy's targets; missing ones are reported but still recorded, so a route created
/// later is protected from its first request.
fn targets(
    object: &AIPolicy,
    routes: &HashSet<(String, String)>,
    models: &HashSet<(String, String)>,
    report: &mut impl FnMut(ProblemKind),
) -> Vec<Target> {
    let ns = object.metadata.namespace.clone().unwrap_or_default();
    object
        .spec
        .target_refs
        .iter()
        .map(|t| {
            let name = t.name.clone().unwrap_or_default();
            let (target, exists, kind) = match t.kind {
                TargetKind::Namespace => return Target::Namespace(ns.clone()),
                TargetKind::AiRoute => (
                    Target::Route(ns.clone(), name.clone()),
                    routes.contains(&(ns.clone(), name.clone())),
                    "AIRoute",
                ),
                TargetKind::AiModel => (
                    Target::Model(ns.clone(), name.clone()),
                    models.contains(&(ns.clone(), name.clone())),
                    "AIModel",
                ),
            };
            if !exists {
                report(ProblemKind::TargetNotFound { kind, name });
            }
            target
        })
        .collect()
}

/// The compiled policy, or `None` when it is invalid (its problems reported).
fn policy(
    object: &AIPolicy,
    secrets: &Secrets<'_>,
    report: &mut impl FnMut(ProblemKind),
) -> Option<Policy> {
    let spec = &object.spec;
    let source = source_of(object);
    let mut valid = true;
    let guardrails =
        spec.guardrails
            .as_ref()
            .map_or_else(Guardrails::default, |g| Guardrails {
                max_input_tokens: g.max_input_tokens,
                deny_patterns: g
                    .deny_patterns
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| match regex::Regex::new(&p.regex) {
                        Ok(_) => {
                            let message = p.message.clone().unwrap_or_else(|| {
                                "the prompt matches a denied pattern".to_owned()
                            });
                            Some((p.regex.clone(), message))
                        }
                        Err(source) => {
                            valid = false;
                            let field = format!("guardrails.denyPatterns[{i}].regex");
                            report(ProblemKind::InvalidRegex {
                                field,
                                pattern: p.regex.clone(),
                                source,
                            });
                            None
                        }
                    })
                    .collect(),
                pii_redaction: g.pii_redaction.iter().copied().collect(),
            });
    let authentication = spec
        .authentication
        .as_ref()
        .map(|a| authentication(a, &source.namespace, secrets, &mut valid, report));
    if !valid {
        return None;
    }
    Some(Policy {
        authentication,
        authorization: spec.authorization.as_ref().map(|a| {
            a.rules
                .iter()
                .map(|r| AuthorizationRule {
                    subjects: r.subjects.clone(),
                    routes: r.routes.clone(),
                    models: r.models.clone(),
                })
                .collect()
        }),
        rate_limits: spec
            .rate_limits
            .iter()
            .map(|l| RateLimit {
                name: l.name.clone(),
                requests: l.requests,
                tokens: l.tokens,
                window: l.window,
                key: limit_key(l.key.as_ref()),
                scope: l.scope.unwrap_or(LimitScope::Local),
            })
            .collect(),
        budgets: spec
            .budgets
            .iter()
            .map(|b| Budget {
                name: b.name.clone(),
                usd: b.usd.get(),
                window: b.window,
                key: limit_key(b.key.as_ref()),
                scope: b.scope.unwrap_or(LimitScope::Global),
            })
            .collect(),
        on_redis_unavailable: spec.on_redis_unavailable.unwrap_or_default(),
        cache: spec.cache.as_ref().map(|c| Cache {
            ttl: c.ttl.unwrap_or(Duration::from_secs(300)),
            max_entry_bytes: c.max_entry_bytes.unwrap_or(1 << 20),
            scope: c.scope.unwrap_or(CacheScope::Subject),
            redis: c.redis.unwrap_or(false),
        }),
        guardrails,
        logging: spec
            .logging
            .as_ref()
            .map_or_else(Logging::default, |l| Logging {
                prompts: l.prompts.unwrap_or(false),
                responses: l.responses.unwrap_or(false),
            }),
        source,
    })
}

fn limit_key(key: Option<&spec::LimitKey>) -> LimitKey {
    match key {
        None => LimitKey {
            kind: LimitKeyType::Subject,
            header: None,
        },
        Some(k) => LimitKey {
            kind: k.r#type,
            header: k.header.as_ref().map(|h| h.to_ascii_lowercase()),
        },
    }
}
