//! Who is calling. A route is closed unless a policy that covers it admits the caller: today
//! the data plane admits anonymous callers where a policy says `anonymous: true`, and refuses
//! every request to a route covered by an invalid policy.

use switchyard_crds::{Snapshot, snapshot::Route};

use crate::errors::GatewayError;

/// The authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A caller a policy admits without credentials.
    Anonymous,
}

/// Authenticates a request to `route`.
pub fn authenticate(snapshot: &Snapshot, route: &Route) -> Result<Principal, GatewayError> {
    if let Some(invalid) = route.invalid_policies.first() {
        return Err(GatewayError::InvalidPolicy(invalid.clone()));
    }
    let anonymous = route
        .policies
        .iter()
        .filter_map(|idx| snapshot.policy(*idx))
        .any(|policy| {
            policy
                .authentication
                .as_ref()
                .is_some_and(|authentication| authentication.anonymous)
        });
    if anonymous {
        Ok(Principal::Anonymous)
    } else {
        Err(GatewayError::Unauthenticated)
    }
}
