//! AIRoute → [`snapshot::Route`]: names checked and claimed, backends resolved, policies attached.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use super::{models::CompiledModels, policies::CompiledPolicies, resolve::source_of};
use crate::{
    AIRoute,
    params::Params,
    problems::{Kind, ObjectRef, Problem, ProblemKind},
    quantity::Duration,
    route::{HeaderMatchType, RetryOn, Strategy, SystemPromptMode},
    snapshot::{
        Backend, HeaderMatch, HeaderMatchKind, Retry, Route, RouteTimeouts, SystemPrompt,
        Transforms,
        index::{anchored, is_glob},
    },
};

/// Parameters that decide what a request is; transforms may not set them.
const FORBIDDEN_PARAMS: [&str; 5] = ["model", "messages", "input", "prompt", "stream"];

/// A public name as claimed by a route: the name plus its header matches.
type Claim = (String, Vec<HeaderMatch>);

pub(super) fn compile(
    objects: &[Arc<AIRoute>],
    models: &CompiledModels,
    policies: &CompiledPolicies,
    problems: &mut Vec<Problem>,
) -> Vec<Route> {
    // Oldest first: the first route to claim a name keeps it. Equal (or, in standalone mode,
    // missing) creation times fall back to namespace/name order.
    let mut by_age: Vec<&AIRoute> = objects.iter().map(|o| &**o).collect();
    by_age.sort_by_cached_key(|r| (r.metadata.creation_timestamp.clone(), source_of(*r)));

    let mut claims: HashMap<Claim, String> = HashMap::new();
    let mut routes = Vec::new();
    for object in by_age {
        let source = source_of(object);
        let me = ObjectRef {
            kind: Kind::AIRoute,
            namespace: source.namespace.clone(),
            name: source.name.clone(),
        };
        let mut found = Vec::new();
        let route = route(object, models, policies, &mut found);
        let route = route.and_then(|route| {
            let label = format!("{}/{}", source.namespace, source.name);
            let taken = route.models.iter().find_map(|m| {
                let winner = claims.get(&(m.clone(), route.matches.clone()))?;
                Some(ProblemKind::NameConflict {
                    model: m.clone(),
                    winner: winner.clone(),
                })
            });
            if let Some(conflict) = taken {
                found.push(conflict);
                return None;
            }
            for m in &route.models {
                claims.insert((m.clone(), route.matches.clone()), label.clone());
            }
            Some(route)
        });
        problems.extend(found.into_iter().map(|error| Problem {
            object: me.clone(),
            error,
        }));
        routes.extend(route);
    }
    routes.sort_by(|a, b| a.source.cmp(&b.source));
    routes
}

/// The compiled route, or `None` when it cannot be served; problems go to `found`.
fn route<'a>(
    object: &'a AIRoute,
    models: &CompiledModels,
    policies: &CompiledPolicies,
    found: &mut Vec<ProblemKind>,
) -> Option<Route> {
    let spec = &object.spec;
    let source = source_of(object);
    let ns = source.namespace.as_str();
    let before = found.len();

    for pattern in spec.models.iter().filter(|m| is_glob(m)) {
        if let Err(source) = globset::Glob::new(pattern) {
            found.push(ProblemKind::InvalidGlob {
                pattern: pattern.clone(),
                source,
            });
        }
    }
    let matches = header_matches(spec, found);
    let transforms = transforms(spec.transforms.as_ref(), found);
    if found.len() > before {
        return None; // the spec itself is invalid
    }

    let mut used = Vec::new();
    let mut resolve = |name: &'a str| {
        let idx = models.find(ns, name);
        match idx {
            Some(_) => used.push(name),
            None => found.push(ProblemKind::ModelNotFound {
                name: name.to_owned(),
            }),
        }
        idx
    };
    let backends: Vec<Backend> = spec
        .backends
        .iter()
        .filter_map(|b| {
            Some(Backend {
                model: resolve(&b.model_ref.name)?,
                weight: b.weight.unwrap_or(1),
            })
        })
        .collect();
    let fallbacks: Vec<_> = spec
        .fallbacks
        .iter()
        .filter_map(|f| resolve(&f.name))
        .collect();
    if !backends.iter().any(|b| b.weight > 0) && fallbacks.is_empty() {
        found.push(ProblemKind::NoUsableBackend);
        return None;
    }

    let invalid_policies = policies.invalid_for_route(ns, &source.name, used);
    found.extend(invalid_policies.iter().map(|p| ProblemKind::PolicyInvalid {
        policy: p.name.clone(),
    }));
    let retry = spec.retry.as_ref();
    let backoff = retry.and_then(|r| r.backoff.as_ref());
    let timeouts = spec.timeouts.as_ref();
    Some(Route {
        models: spec.models.clone(),
        matches,
        backends,
        strategy: spec.strategy.unwrap_or(Strategy::Weighted),
        fallbacks,
        retry: Retry {
            attempts: retry.and_then(|r| r.attempts).unwrap_or(3),
            on: retry.and_then(|r| r.on.clone()).map_or_else(
                || {
                    [
                        RetryOn::ConnectError,
                        RetryOn::Timeout,
                        RetryOn::TooManyRequests,
                        RetryOn::ServerError,
                    ]
                    .into()
                },
                |on| on.into_iter().collect::<BTreeSet<_>>(),
            ),
            backoff_base: backoff
                .and_then(|b| b.base)
                .unwrap_or(Duration::from_millis(100)),
            backoff_max: backoff
                .and_then(|b| b.max)
                .unwrap_or(Duration::from_secs(2)),
            honor_retry_after: retry.and_then(|r| r.honor_retry_after).unwrap_or(true),
        },
        timeouts: RouteTimeouts {
            first_token: timeouts.and_then(|t| t.first_token),
            total: timeouts.and_then(|t| t.total),
            idle: timeouts
                .and_then(|t| t.idle)
                .unwrap_or(Duration::from_secs(60)),
        },
        transforms,
        policies: policies.for_route(ns, &source.name),
        invalid_policies,
        source,
    })
}

/// Header matches with lower-case names, sorted so equal sets compare equal.
fn header_matches(spec: &crate::AIRouteSpec, found: &mut Vec<ProblemKind>) -> Vec<HeaderMatch> {
    let mut matches: Vec<HeaderMatch> = spec
        .matches
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let kind = match m.r#type.unwrap_or(HeaderMatchType::Exact) {
                HeaderMatchType::Exact => HeaderMatchKind::Exact,
                HeaderMatchType::RegularExpression => {
                    if let Err(source) = anchored(&m.value) {
                        let field = format!("matches[{i}].value");
                        found.push(ProblemKind::InvalidRegex {
                            field,
                            pattern: m.value.clone(),
                            source,
                        });
                    }
                    HeaderMatchKind::Regex
                }
            };
            HeaderMatch {
                name: m.name.to_ascii_lowercase(),
                kind,
                value: m.value.clone(),
            }
        })
        .collect();
    matches.sort_by(|a, b| (&a.name, a.kind, &a.value).cmp(&(&b.name, b.kind, &b.value)));
    matches
}

fn transforms(spec: Option<&crate::route::Transforms>, found: &mut Vec<ProblemKind>) -> Transforms {
    let Some(spec) = spec else {
        return Transforms::default();
    };
    let mut params = |field: &'static str, params: &Params| {
        for param in params
            .0
            .keys()
            .filter(|k| FORBIDDEN_PARAMS.contains(&k.as_str()))
        {
            found.push(ProblemKind::ForbiddenParam {
                field,
                param: param.clone(),
            });
        }
        params
            .0
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    Transforms {
        default_params: params("defaultParams", &spec.default_params),
        forced_params: params("forcedParams", &spec.forced_params),
        set_headers: spec
            .set_headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect(),
        system_prompt: spec.system_prompt.as_ref().map(|p| SystemPrompt {
            text: p.text.clone(),
            mode: p.mode.unwrap_or(SystemPromptMode::Prepend),
        }),
    }
}
