//! Idle upstream connections of one backend, kept for the next request.
//!
//! Pingora's own pool spawns a task per released connection to watch it while idle; on this
//! request path that costs more than the rest of the upstream bookkeeping together. Here an
//! idle connection just waits in a lock-free queue; one that idled too long is closed when it
//! is next seen, and one that the server closed meanwhile fails on its first use, before any
//! response byte, which the exchange retries once on a fresh connection.

use std::{net::SocketAddr, time::Duration};

use crossbeam_queue::ArrayQueue;
use pingora::protocols::Stream;
use tokio::time::Instant;

/// Idle connections kept per backend.
const CAPACITY: usize = 256;
/// How long a connection may idle before it is closed instead of reused. Shorter than the
/// keep-alive timeouts providers' load balancers use, so reuse rarely meets a closed socket.
pub const MAX_IDLE: Duration = Duration::from_secs(30);

struct Idle {
    stream: Stream,
    addr: SocketAddr,
    since: Instant,
}

/// The idle connections of one backend.
pub struct Pool(ArrayQueue<Idle>);

impl Default for Pool {
    fn default() -> Self {
        Self(ArrayQueue::new(CAPACITY))
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pool({} idle)", self.0.len())
    }
}

impl Pool {
    /// An idle connection to `addr`, if one is fresh enough; stale ones are closed on the way.
    pub fn take(&self, addr: SocketAddr) -> Option<Stream> {
        // Bounded: each pop either returns or discards one entry.
        for _ in 0..CAPACITY {
            let idle = self.0.pop()?;
            if idle.addr == addr && idle.since.elapsed() < MAX_IDLE {
                return Some(idle.stream);
            }
        }
        None
    }

    /// Keeps a connection whose response was read completely; a full pool closes it.
    pub fn put(&self, stream: Stream, addr: SocketAddr) {
        let _ = self.0.push(Idle {
            stream,
            addr,
            since: Instant::now(),
        });
    }

    /// Idle connections now.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no connection is idle.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
