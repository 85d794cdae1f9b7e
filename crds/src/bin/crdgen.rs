//! Writes the CRD manifests into `charts/switchyard/crds/` (or the folder given as the only
//! argument). `crds/tests/crd_drift.rs` fails when the committed files differ from this output.

use std::path::PathBuf;

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../charts/switchyard/crds")
        });
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    for (file, yaml) in switchyard_crds::crdgen::render()? {
        let path = out.join(file);
        std::fs::write(&path, yaml).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
