//! Switchyard's data plane: a Pingora proxy that serves the OpenAI and Anthropic APIs for every
//! provider from one compiled snapshot.

pub mod access_log;
pub mod admin;
pub mod auth;
pub mod balance;
pub mod body;
pub mod cache;
pub mod ctx;
pub mod dns;
pub mod errors;
#[cfg(test)]
mod fixtures;
pub mod gateway;
pub mod guardrails;
pub mod health;
pub mod ingress;
pub mod limits;
pub mod metrics;
pub mod models;
pub mod pipeline;
pub mod redis;
pub mod respond;
pub mod route;
pub mod server;
pub mod standalone;
pub mod store;
pub mod subscribe;
pub mod telemetry;
pub mod tokens;
pub mod upstream;
