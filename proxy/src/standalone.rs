//! Standalone mode: the configuration comes from manifest files instead of the operator, read
//! and compiled by the very code the operator uses.

use std::{fmt::Write as _, path::Path};

use switchyard_crds::{Compiled, compile, manifests};

/// Why a configuration could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The files could not be read.
    #[error(transparent)]
    Load(#[from] manifests::LoadError),
    /// The compiled snapshot could not be sealed (a compiler bug).
    #[error(transparent)]
    Seal(#[from] switchyard_crds::snapshot::SnapshotError),
}

/// The outcome of checking a configuration.
#[derive(Debug)]
pub struct Checked {
    /// Refused documents, one line each.
    pub document_errors: Vec<String>,
    /// The compilation of everything that loaded.
    pub compiled: Compiled,
}

impl Checked {
    /// Whether every document loaded and every object compiled without a problem.
    pub fn is_clean(&self) -> bool {
        self.document_errors.is_empty() && self.compiled.problems.is_empty()
    }

    /// A human summary: each public model name → route → backends, then every error.
    pub fn report(&self) -> String {
        let snapshot = &self.compiled.snapshot;
        let mut out = format!(
            "snapshot {} ({} routes, {} models, {} policies)\n",
            &snapshot.hash[..12],
            snapshot.content.routes.len(),
            snapshot.content.models.len(),
            snapshot.content.policies.len()
        );
        for route in &snapshot.content.routes {
            let backends: Vec<String> = route
                .backends
                .iter()
                .filter_map(|b| {
                    snapshot.model(b.model).map(|m| {
                        format!(
                            "{} ({} {}, weight {})",
                            m.source.name,
                            m.provider.as_str(),
                            m.endpoint.base_url,
                            b.weight
                        )
                    })
                })
                .collect();
            let _ = writeln!(
                out,
                "  {} -> route {}/{} -> {}",
                route.models.join(", "),
                route.source.namespace,
                route.source.name,
                backends.join(", ")
            );
        }
        for error in &self.document_errors {
            let _ = writeln!(out, "error: {error}");
        }
        for problem in &self.compiled.problems {
            let _ = writeln!(
                out,
                "problem: {problem} [{} {}]",
                problem.condition(),
                problem.reason()
            );
        }
        out
    }
}

/// Loads and compiles the manifests at `path` (a file or a folder).
pub fn check(path: &Path) -> Result<Checked, CheckError> {
    let loaded = manifests::load(path)?;
    let compiled = compile(&loaded.inputs)?;
    Ok(Checked {
        document_errors: loaded.errors.iter().map(ToString::to_string).collect(),
        compiled,
    })
}
