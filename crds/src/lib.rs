//! Switchyard's API: the `AIModel`, `AIRoute` and `AIPolicy` resources and the snapshot compiler.

pub mod channel;
pub mod conditions;
pub mod crdgen;
pub mod manifests;
pub mod model;
pub mod params;
pub mod policy;
pub mod quantity;
pub mod refs;
pub mod route;

/// The API group and version of the three resources.
pub const GROUP_VERSION: &str = "switchyard.dev/v1alpha1";

pub use crdgen::crd_definitions;
pub use model::{AIModel, AIModelSpec, Provider};
pub use policy::{AIPolicy, AIPolicySpec};
pub use route::{AIRoute, AIRouteSpec};
pub mod compile;
pub mod problems;
pub mod snapshot;

pub use compile::{Compiled, Inputs, compile};
pub use problems::{Problem, ProblemKind};
pub use snapshot::Snapshot;
