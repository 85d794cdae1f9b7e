//! The `guardrails.maxInputTokens` check: a prompt longer than any applying policy allows is
//! refused with 400 before anything is reserved or sent.

use switchyard_crds::snapshot::Route;

use crate::{errors::GatewayError, store::State};

/// Refuses `input_tokens` if a policy of `route` allows fewer (the strictest policy names the
/// limit).
pub fn check(state: &State, route: &Route, input_tokens: u64) -> Result<(), GatewayError> {
    let strictest = route
        .policies
        .iter()
        .filter_map(|idx| state.snapshot.content.policies.get(*idx as usize))
        .filter_map(|policy| Some((policy.guardrails.max_input_tokens?, policy)))
        .min_by_key(|(limit, _)| *limit);
    match strictest {
        Some((limit, policy)) if input_tokens > limit => Err(GatewayError::InputTooLong {
            tokens: input_tokens,
            limit,
            policy: format!("{}/{}", policy.source.namespace, policy.source.name),
        }),
        _ => Ok(()),
    }
}
