//! Injected faults: delays, stalls and TCP resets, applied before the response or mid-body.
//!
//! A reset is a real RST: each connection keeps a duplicate of its socket so that a handler
//! can set `SO_LINGER` to zero on it and ask the connection task to drop the connection, which
//! closes the socket with a reset instead of a FIN.

use std::sync::Arc;
use std::time::Duration;

use socket2::Socket;
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::config::Fault;
use crate::controls::Controls;

/// Lets a handler or a body reset the connection it is served on.
#[derive(Clone, Debug)]
pub(crate) struct ResetTrigger {
    socket: Arc<Socket>,
    fired: Arc<Notify>,
}

impl ResetTrigger {
    /// Arms a trigger for `stream` by duplicating its socket.
    pub fn arm(stream: &TcpStream) -> std::io::Result<Self> {
        let socket = socket2::SockRef::from(stream).try_clone()?;
        Ok(Self {
            socket: Arc::new(socket),
            fired: Arc::new(Notify::new()),
        })
    }

    /// Makes the next close of the connection a reset and asks the connection task to close.
    pub fn fire(&self) {
        if let Err(error) = self.socket.set_linger(Some(Duration::ZERO)) {
            tracing::warn!(%error, "cannot set SO_LINGER for a reset fault");
        }
        self.fired.notify_one();
    }

    /// Resolves once `fire` was called.
    pub async fn fired(&self) {
        self.fired.notified().await;
    }
}

/// Waits out the controls' latency, then applies the faults that happen before any response
/// byte: `reset` never returns (the connection is dropped), `stall` waits `stall_ms` (or for
/// ever) and then lets the answer go on.
pub(crate) async fn before_headers(controls: &Controls, reset: &ResetTrigger) {
    if !controls.latency.is_zero() {
        tokio::time::sleep(controls.latency).await;
    }
    match controls.fault {
        Some(Fault::Reset) => {
            reset.fire();
            std::future::pending::<()>().await;
        }
        Some(Fault::Stall) => stall(controls.stall).await,
        _ => {}
    }
}

/// Sleeps for `duration`, or until the connection is dropped when there is none.
pub(crate) async fn stall(duration: Option<Duration>) {
    match duration {
        Some(duration) => tokio::time::sleep(duration).await,
        None => std::future::pending().await,
    }
}
