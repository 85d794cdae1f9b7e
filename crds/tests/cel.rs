//! The CEL rules of the three CRDs, evaluated client-side by kube-cel against the
//! `openAPIV3Schema` that `crdgen` writes, so rules on nested types and on the `Duration` and
//! `Usd` field types are included.
//!
//! Each rule has an object it accepts and one it refuses with its exact message; `catalogue`
//! fails when a rule is added without being listed there, and `budget` checks that every rule
//! compiles and fits the API server's cost budget.

mod cel {
    mod budget;
    mod catalogue;
    mod fields;
    mod harness;
    mod model;
    mod policy;
    mod route;
}
