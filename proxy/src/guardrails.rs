//! Guardrails a policy puts on prompts before they leave the cluster.

pub mod input_tokens;
pub mod pii;
