//! The route index: public model name → route, built once per snapshot.
//!
//! Exact names are a hash-map lookup. Globs are few in practice and are tried in order of
//! specificity (most literal characters first), so `gpt-4o-*` wins over `gpt-*` regardless of
//! which route is older. Within one name, routes with more header matches are tried first.

use std::collections::HashMap;

use globset::{Glob, GlobMatcher};
use regex::Regex;

use super::{Content, HeaderMatchKind, Route, RouteIdx};

/// Why an index could not be built from snapshot content.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// A public model name is not a valid glob.
    #[error("route {route}: model name {pattern:?} is not a valid glob")]
    Glob {
        /// The route's `namespace/name`.
        route: String,
        /// The pattern.
        pattern: String,
        /// Why.
        #[source]
        source: globset::Error,
    },
    /// A header regex does not compile.
    #[error("route {route}: header pattern {pattern:?} does not compile")]
    Regex {
        /// The route's `namespace/name`.
        route: String,
        /// The pattern.
        pattern: String,
        /// Why.
        #[source]
        source: regex::Error,
    },
    /// A route or model points at an entry that is not in the snapshot.
    #[error("{owner} refers to {what} {index}, which is not in the snapshot")]
    Dangling {
        /// The referring entry.
        owner: String,
        /// `model` or `policy`.
        what: &'static str,
        /// The missing index.
        index: u32,
    },
}

/// A route chosen for a request.
#[derive(Clone, Copy, Debug)]
pub struct RouteMatch<'a> {
    /// Index in [`Content::routes`].
    pub idx: RouteIdx,
    /// The route.
    pub route: &'a Route,
}

/// Lookup structures for one snapshot.
#[derive(Clone, Debug, Default)]
pub struct RouteIndex {
    exact: HashMap<String, Vec<RouteIdx>>,
    globs: Vec<(GlobMatcher, RouteIdx)>,
    /// Per route, its compiled header matchers (parallel to `Content::routes`).
    matchers: Vec<Vec<Matcher>>,
}

#[derive(Clone, Debug)]
struct Matcher {
    name: String,
    test: MatchTest,
}

#[derive(Clone, Debug)]
enum MatchTest {
    Exact(String),
    Regex(Regex),
}

/// Whether a model name needs glob matching.
pub fn is_glob(name: &str) -> bool {
    name.contains(['*', '?', '['])
}

impl RouteIndex {
    /// Builds the index and checks that every reference in `content` resolves.
    pub(crate) fn build(content: &Content) -> Result<Self, IndexError> {
        check_references(content)?;
        let mut index = Self::default();
        for (i, route) in content.routes.iter().enumerate() {
            let idx = i as RouteIdx;
            let label = format!("{}/{}", route.source.namespace, route.source.name);
            index.matchers.push(compile_matchers(route, &label)?);
            for name in &route.models {
                if is_glob(name) {
                    let glob = Glob::new(name).map_err(|source| IndexError::Glob {
                        route: label.clone(),
                        pattern: name.clone(),
                        source,
                    })?;
                    index.globs.push((glob.compile_matcher(), idx));
                } else {
                    index.exact.entry(name.clone()).or_default().push(idx);
                }
            }
        }
        let matches_of = |idx: &RouteIdx| content.routes[*idx as usize].matches.len();
        for candidates in index.exact.values_mut() {
            // Stable sort: equal candidates keep the canonical (namespace/name) order.
            candidates.sort_by_key(|idx| std::cmp::Reverse(matches_of(idx)));
        }
        index.globs.sort_by_key(|(glob, idx)| {
            let literal = glob
                .glob()
                .glob()
                .chars()
                .filter(|c| !matches!(c, '*' | '?' | '[' | ']'))
                .count();
            (
                std::cmp::Reverse(literal),
                std::cmp::Reverse(matches_of(idx)),
            )
        });
        Ok(index)
    }

    /// The first route whose name and header matches fit.
    pub(crate) fn find<'a>(
        &self,
        content: &'a Content,
        model: &str,
        header: impl Fn(&str) -> Option<&'a str>,
    ) -> Option<RouteMatch<'a>> {
        let fits = |idx: RouteIdx| self.matchers[idx as usize].iter().all(|m| m.test(&header));
        let exact = self
            .exact
            .get(model)
            .and_then(|c| c.iter().copied().find(|idx| fits(*idx)));
        let idx = exact.or_else(|| {
            self.globs
                .iter()
                .find(|(glob, idx)| glob.is_match(model) && fits(*idx))
                .map(|(_, idx)| *idx)
        })?;
        Some(RouteMatch {
            idx,
            route: &content.routes[idx as usize],
        })
    }
}

impl Matcher {
    fn test<'a>(&self, header: &impl Fn(&str) -> Option<&'a str>) -> bool {
        match (header(&self.name), &self.test) {
            (None, _) => false,
            (Some(value), MatchTest::Exact(expected)) => value == expected,
            (Some(value), MatchTest::Regex(re)) => re.is_match(value),
        }
    }
}

fn compile_matchers(route: &Route, label: &str) -> Result<Vec<Matcher>, IndexError> {
    route
        .matches
        .iter()
        .map(|m| {
            let test = match m.kind {
                HeaderMatchKind::Exact => MatchTest::Exact(m.value.clone()),
                HeaderMatchKind::Regex => {
                    MatchTest::Regex(anchored(&m.value).map_err(|source| IndexError::Regex {
                        route: label.to_owned(),
                        pattern: m.value.clone(),
                        source,
                    })?)
                }
            };
            Ok(Matcher {
                name: m.name.clone(),
                test,
            })
        })
        .collect()
}

/// Compiles a header pattern that must match the whole value.
///
/// The pattern is checked on its own first: `a)|(b` is invalid by itself but balanced once
/// wrapped, as `^(?:a)|(b)$`, which would match any value that starts with `a` or ends with `b`.
pub fn anchored(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(pattern)?;
    Regex::new(&format!("^(?:{pattern})$"))
}

fn check_references(content: &Content) -> Result<(), IndexError> {
    let models = content.models.len() as u32;
    let policies = content.policies.len() as u32;
    let dangling = |owner: &str, what, index| IndexError::Dangling {
        owner: owner.to_owned(),
        what,
        index,
    };
    for route in &content.routes {
        let owner = format!("route {}/{}", route.source.namespace, route.source.name);
        let used = route
            .backends
            .iter()
            .map(|b| b.model)
            .chain(route.fallbacks.iter().copied());
        if let Some(bad) = used.into_iter().find(|m| *m >= models) {
            return Err(dangling(&owner, "model", bad));
        }
        if let Some(bad) = route.policies.iter().find(|p| **p >= policies) {
            return Err(dangling(&owner, "policy", *bad));
        }
    }
    for model in &content.models {
        if let Some(bad) = model.policies.iter().find(|p| **p >= policies) {
            let owner = format!("model {}/{}", model.source.namespace, model.source.name);
            return Err(dangling(&owner, "policy", *bad));
        }
    }
    Ok(())
}
