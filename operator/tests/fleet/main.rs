//! The operator end to end: a real kube-apiserver (shared per process), the operator binary
//! running as the chart's service account, real proxy processes on the config channel, and
//! the mock provider. Each test has its own namespace and its own operator(s), which watch only
//! that namespace.

// The workspace lints exempt tests; these helpers are test code too and fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[allow(
    dead_code,
    reason = "shared with benches/fleet.rs, which uses other parts"
)]
mod harness;
mod leadership;
mod reconcile;
mod resilience;
mod service_accounts;
