//! Switchyard's API: the `AIModel`, `AIRoute` and `AIPolicy` resources and the snapshot compiler.

pub mod conditions;
pub mod crdgen;
pub mod model;
pub mod params;
pub mod policy;
pub mod quantity;
pub mod refs;
pub mod route;

pub use crdgen::crd_definitions;
pub use model::{AIModel, AIModelSpec, Provider};
pub use policy::{AIPolicy, AIPolicySpec};
pub use route::{AIRoute, AIRouteSpec};
