//! Fails when the CRD manifests committed under `charts/switchyard/crds/` are not exactly what
//! `crdgen` renders from the Rust types today, so a type change cannot ship without its CRD.

use std::{collections::BTreeMap, fs, path::PathBuf};

const FIX: &str =
    "run `cargo run -p switchyard-crds --bin crdgen` and commit charts/switchyard/crds/";

fn chart_crds() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../charts/switchyard/crds")
}

/// The committed files by name, whatever their extension.
fn committed() -> std::io::Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(chart_crds())? {
        let path = entry?.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        files.insert(name, fs::read_to_string(&path)?);
    }
    Ok(files)
}

/// The first line where `found` differs from `expected`, for the failure message.
fn first_difference(expected: &str, found: &str) -> String {
    let mut expected_lines = expected.lines();
    let mut found_lines = found.lines();
    for line in 1.. {
        match (expected_lines.next(), found_lines.next()) {
            (Some(e), Some(f)) if e == f => continue,
            (None, None) => return "line endings or the final newline differ".to_owned(),
            (e, f) => {
                let show =
                    |l: Option<&str>| l.map_or("<end of file>".to_owned(), |l| format!("{l:?}"));
                return format!(
                    "line {line}: crdgen writes {}, the file has {}",
                    show(e),
                    show(f)
                );
            }
        }
    }
    unreachable!("lines() ends")
}

#[test]
fn the_committed_crd_manifests_are_what_crdgen_renders() {
    let rendered: BTreeMap<_, _> = switchyard_crds::crdgen::render()
        .expect("the CRDs render")
        .into_iter()
        .collect();
    let committed =
        committed().unwrap_or_else(|e| panic!("reading {}: {e}; {FIX}", chart_crds().display()));
    let mut problems = Vec::new();
    for (name, yaml) in &rendered {
        match committed.get(name) {
            None => problems.push(format!("{name} is missing")),
            Some(text) if text != yaml => {
                problems.push(format!(
                    "{name} is out of date ({})",
                    first_difference(yaml, text)
                ));
            }
            Some(_) => {}
        }
    }
    for name in committed
        .keys()
        .filter(|name| !rendered.contains_key(*name))
    {
        problems.push(format!("{name} is not written by crdgen; delete it"));
    }
    assert!(
        problems.is_empty(),
        "charts/switchyard/crds/ does not match the Rust types:\n  {}\n{FIX}",
        problems.join("\n  ")
    );
}
