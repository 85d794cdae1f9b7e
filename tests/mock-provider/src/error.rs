//! The library's error type: what can fail when starting or driving a mock provider.

use std::net::SocketAddr;

/// Errors from starting a [`crate::MockProvider`].
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// The listening socket could not be bound.
    #[error("cannot bind the mock provider to {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The bound socket's address could not be read back.
    #[error("cannot read the mock provider's bound address")]
    LocalAddr(#[source] std::io::Error),
}
