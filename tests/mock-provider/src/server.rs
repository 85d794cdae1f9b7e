//! The server: binds, accepts, serves each connection with hyper, and stops on drop.
//!
//! Built to stay out of a benchmark's way: keep-alive, `TCP_NODELAY`, HTTP/1.1 and h2c on the
//! same port, no timer or task per request unless a delay or fault is scripted.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::config::{Behavior, MockConfig};
use crate::error::MockError;
use crate::faults::ResetTrigger;
use crate::record::{RecordedRequest, Recorder};
use crate::router;

/// A running mock provider; it stops serving (and drops every open connection) on drop.
#[derive(Debug)]
pub struct MockProvider {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl MockProvider {
    /// Binds `config.bind` (default `127.0.0.1:0`) and starts serving on the current runtime.
    pub async fn start(config: MockConfig) -> Result<Self, MockError> {
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| MockError::Bind {
                addr: config.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(MockError::LocalAddr)?;
        let shared = Arc::new(Shared::new(config));
        let task = tokio::spawn(accept(listener, Arc::clone(&shared)));
        tracing::info!(%addr, "mock provider listening");
        Ok(Self { addr, shared, task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far (up to the record limit), oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.recorder.snapshot()
    }

    /// Forgets the recorded requests.
    pub fn clear(&self) {
        self.shared.recorder.clear();
    }

    /// Replaces the instance behavior for the requests that follow.
    pub fn set_behavior(&self, behavior: Behavior) {
        self.shared.set_behavior(behavior);
    }

    /// The instance behavior in force.
    pub fn behavior(&self) -> Behavior {
        Behavior::clone(&self.shared.behavior())
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// State shared by every connection of one instance.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: MockConfig,
    pub recorder: Recorder,
    behavior: RwLock<Arc<Behavior>>,
    /// Requests left that get the instance `status`/`fault` (`None`: all of them).
    fault_budget: Mutex<Option<u64>>,
    ids: AtomicU64,
}

impl Shared {
    fn new(config: MockConfig) -> Self {
        let behavior = Arc::new(config.behavior.clone());
        let budget = behavior.times;
        Self {
            recorder: Recorder::new(config.record_limit),
            config,
            behavior: RwLock::new(behavior),
            fault_budget: Mutex::new(budget),
            ids: AtomicU64::new(1),
        }
    }

    pub fn behavior(&self) -> Arc<Behavior> {
        Arc::clone(&self.behavior.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn set_behavior(&self, behavior: Behavior) {
        let mut budget = self
            .fault_budget
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *budget = behavior.times;
        *self
            .behavior
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(behavior);
    }

    /// Whether this request gets the instance's `status`/`fault`, spending one of `times`.
    pub fn take_fault(&self, behavior: &Behavior) -> bool {
        if behavior.status.is_none() && behavior.fault.is_none() {
            return false;
        }
        let mut budget = self
            .fault_budget
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match budget.as_mut() {
            None => true,
            Some(0) => false,
            Some(left) => {
                *left -= 1;
                true
            }
        }
    }

    /// A per-instance sequence number for response and tool-call ids.
    pub fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    // Connections live in the set so that aborting this task drops them all.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve(stream, Arc::clone(&shared)));
                }
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
    let reset = match ResetTrigger::arm(&stream) {
        Ok(reset) => reset,
        Err(error) => {
            tracing::warn!(%error, "cannot duplicate the connection socket");
            return;
        }
    };
    let service = {
        let reset = reset.clone();
        service_fn(move |request| {
            let shared = Arc::clone(&shared);
            let reset = reset.clone();
            async move { Ok::<_, Infallible>(router::handle(request, shared, reset).await) }
        })
    };
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        result = connection => {
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
        }
        // Dropping the connection closes the socket; the trigger set SO_LINGER to 0, so the
        // close is a reset.
        () = reset.fired() => tracing::debug!("connection reset by a fault"),
    }
}
