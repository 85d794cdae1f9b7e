//! Writes the CRD manifests into `charts/switchyard/crds/`.
fn main() {}
