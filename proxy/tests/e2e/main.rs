//! End-to-end tests: the real proxy binary, over real HTTP, in front of the mock provider.

// The workspace lints exempt tests; these helpers are test code too and fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod harness;

mod access;
mod admin;
mod cache;
mod faults;
mod guardrails;
mod jwt;
mod lifecycle;
mod limits;
mod operator;
mod operator_channel;
mod providers;
mod redis;
mod reload;
mod serving;
mod signing;
mod tls;
