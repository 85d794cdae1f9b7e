//! Every manifest under `examples/` loads and compiles with no problem at all: the examples are
//! what new users copy, so they must be right.

use std::path::Path;

use switchyard_crds::{Inputs, compile, manifests, snapshot::ServiceAccountIssuer};

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

#[test]
fn every_example_loads_and_compiles_without_problems() {
    let files = manifests::manifest_files(&examples()).unwrap();
    assert!(
        files.len() >= 4,
        "expected the example manifests, found {files:?}"
    );
    for file in files {
        let loaded =
            manifests::load_with_env(&file, &|var| Some(format!("test-value-of-{var}"))).unwrap();
        let errors: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
        // The examples are for a cluster, where the operator supplies the service-account
        // issuer that `serviceAccounts` authentication needs.
        let inputs = Inputs {
            service_account_issuer: Some(ServiceAccountIssuer {
                issuer: "https://kubernetes.default.svc.cluster.local".to_owned(),
                jwks: r#"{"keys": []}"#.to_owned(),
            }),
            ..loaded.inputs
        };
        let compiled = compile(&inputs).unwrap();
        let problems: Vec<String> = compiled.problems.iter().map(ToString::to_string).collect();
        assert!(problems.is_empty(), "{}: {problems:#?}", file.display());
        assert!(
            !compiled.snapshot.content.routes.is_empty(),
            "{} serves no route",
            file.display()
        );
    }
}

#[test]
fn the_canary_example_splits_traffic_ninety_ten() {
    let loaded =
        manifests::load_with_env(&examples().join("azure-canary.yaml"), &|_| Some("k".into()))
            .unwrap();
    let snapshot = compile(&loaded.inputs).unwrap().snapshot;
    let found = snapshot
        .find_route("gpt-4o-mini", |_| None)
        .expect("route for gpt-4o-mini");
    let weights: Vec<(String, u32)> = found
        .route
        .backends
        .iter()
        .map(|b| {
            (
                snapshot.model(b.model).unwrap().source.name.clone(),
                b.weight,
            )
        })
        .collect();
    let expected = [
        ("gpt-4o-mini-openai".to_owned(), 90),
        ("gpt-4o-mini-azure".to_owned(), 10),
    ];
    assert_eq!(weights, expected);
}
