//! Standalone mode: the configuration comes from manifest files instead of the operator, read
//! and compiled by the very code the operator uses.

mod watch;

use std::{fmt::Write as _, path::Path};

use switchyard_crds::{Compiled, compile, manifests, snapshot::ServiceAccountIssuer};

use crate::store::LoadReport;
pub use watch::Watcher;

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

impl Checked {
    /// What `/config` reports about this load.
    pub fn load_report(&self) -> LoadReport {
        LoadReport {
            problems: self
                .compiled
                .problems
                .iter()
                .map(|problem| format!("{problem} [{} {}]", problem.condition(), problem.reason()))
                .collect(),
            document_errors: self.document_errors.clone(),
            rejected_change: None,
        }
    }
}

/// Loads and compiles the manifests at `path` (a file or a folder), with the cluster's
/// service-account issuer if the command line gives one.
pub fn check(
    path: &Path,
    service_account_issuer: Option<&ServiceAccountIssuer>,
) -> Result<Checked, CheckError> {
    let mut loaded = manifests::load(path)?;
    loaded.inputs.service_account_issuer = service_account_issuer.cloned();
    let compiled = compile(&loaded.inputs)?;
    Ok(Checked {
        document_errors: loaded.errors.iter().map(ToString::to_string).collect(),
        compiled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
    }

    #[test]
    fn the_quickstart_checks_clean_and_names_its_route() {
        let checked = check(&examples().join("quickstart.yaml"), None).unwrap();
        assert!(checked.is_clean(), "{}", checked.report());
        assert!(
            checked
                .report()
                .contains("gpt-4o -> route default/gpt-4o -> mock-gpt-4o"),
            "{}",
            checked.report()
        );
    }

    #[test]
    fn a_broken_document_makes_the_check_fail_and_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.yaml");
        std::fs::write(&file, "apiVersion: switchyard.dev/v1alpha1\nkind: AIRoute\nmetadata: {name: r}\nspec: {models: [m], backends: []}\n").unwrap();
        let checked = check(&file, None).unwrap();
        assert!(!checked.is_clean());
        assert!(
            checked
                .report()
                .contains("bad.yaml: document 1 (AIRoute default/r)"),
            "{}",
            checked.report()
        );
    }
}
