//! Pingora wiring: the proxy listener, the admin listener, and the background services (config
//! watch or operator subscription, DNS), plus graceful shutdown.
//!
//! Standalone mode loads the manifests before Pingora starts and refuses to start without a
//! snapshot. Operator mode starts at once: `/readyz` answers 503 (and requests get a 503) until
//! the operator pushes a snapshot or the snapshot cache is served.
//!
//! Shutdown: on SIGTERM Pingora stops accepting and then sleeps for its whole grace period
//! before it stops the runtimes, even when nothing is in flight. A drain thread watches the
//! in-flight count during that sleep and ends the process as soon as it reaches zero, so a
//! pod exits promptly when idle and never later than the grace period.

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use anyhow::{Context, bail};
use pingora::{
    connectors::TransportConnector,
    proxy::http_proxy_service_with_name,
    server::{ExecutionPhase, RunArgs, Server, configuration::ServerConf},
    services::{ServiceWithDependents, background::background_service, listening::Service},
};

use crate::{
    admin::{Admin, Mode},
    auth::jwks::Fetcher,
    dns::Resolver,
    gateway::{Gateway, Settings},
    health::Ejection,
    metrics::Metrics,
    redis::{Redis, RedisCheck},
    standalone::Watcher,
    store::Store,
    subscribe::{self, Subscriber},
    telemetry::Batched,
    upstream::Upstream,
};

/// Where the configuration comes from.
pub enum Source {
    /// Standalone mode: manifests on disk, polled for changes.
    Manifests {
        /// The manifest file or folder.
        path: PathBuf,
        /// How often the manifests are checked for changes.
        reload_interval: Duration,
        /// The cluster's service-account issuer, for `serviceAccounts` authentication
        /// without the operator.
        service_account_issuer: Option<switchyard_crds::snapshot::ServiceAccountIssuer>,
    },
    /// Operator mode: snapshots pushed by the operator.
    Operator(subscribe::Options),
}

/// How the proxy runs.
pub struct Options {
    /// Where the configuration comes from.
    pub source: Source,
    /// Address of the OpenAI-API listener.
    pub listen: SocketAddr,
    /// Address of the admin listener.
    pub admin_listen: SocketAddr,
    /// Worker threads of the proxy service.
    pub threads: usize,
    /// Longest time in-flight requests get to finish after SIGTERM.
    pub grace_period: Duration,
    /// Request path settings.
    pub settings: Settings,
    /// Passive health settings.
    pub ejection: Ejection,
    /// Where access-log lines go (`None`: no access log).
    pub access_log: Option<Batched>,
    /// The shared Redis, if `--redis-url` names one.
    pub redis: Option<Arc<Redis>>,
    /// Called right before the process exits after draining (flushes logs).
    pub before_exit: Box<dyn FnOnce() + Send>,
}

/// Runs the proxy until it is told to stop.
pub fn run(options: Options) -> anyhow::Result<()> {
    let store = Arc::new(Store::default());
    let metrics = Metrics::new().context("registering metrics")?;
    let (mode, config_service) = match options.source {
        Source::Manifests {
            path,
            reload_interval,
            service_account_issuer,
        } => {
            let watcher = Watcher::new(
                path.clone(),
                Arc::clone(&store),
                metrics.clone(),
                reload_interval,
                service_account_issuer,
            );
            first_load(&watcher, &path)?;
            let service: Box<dyn ServiceWithDependents> =
                Box::new(background_service("config-watch", watcher));
            (Mode::Standalone { config: path }, service)
        }
        Source::Operator(subscription) => {
            if subscription.urls.is_empty() {
                bail!("operator mode needs at least one --operator-url");
            }
            let subscriber = Subscriber::new(subscription, Arc::clone(&store), metrics.clone());
            let mode = Mode::Operator(subscriber.status());
            let service: Box<dyn ServiceWithDependents> =
                Box::new(background_service("operator-subscription", subscriber));
            (mode, service)
        }
    };

    let conf = ServerConf {
        threads: options.threads,
        grace_period_seconds: Some(options.grace_period.as_secs().max(1)),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();

    let metrics_for_redis = metrics.clone();
    let jwks_fetcher = Fetcher {
        store: Arc::clone(&store),
        metrics: metrics.clone(),
    };
    let in_flight = Arc::new(AtomicUsize::new(0));
    let gateway = Gateway {
        store: Arc::clone(&store),
        upstream: Upstream {
            transport: TransportConnector::new(None),
            ejection: options.ejection,
        },
        metrics: metrics.clone(),
        settings: options.settings,
        in_flight: Arc::clone(&in_flight),
        access_log: options.access_log,
        redis: options.redis.clone(),
        cache: crate::cache::Memory::new(options.settings.cache_memory_bytes),
    };
    let mut proxy =
        http_proxy_service_with_name(&server.configuration, gateway, "switchyard-proxy");
    proxy.add_tcp(&options.listen.to_string());
    let mut admin = Service::new(
        "switchyard-admin".to_owned(),
        Admin {
            store: Arc::clone(&store),
            metrics,
            mode,
            redis: options.redis.clone(),
        },
    );
    admin.add_tcp(&options.admin_listen.to_string());
    let resolver = Resolver {
        store,
        refresh: Duration::from_secs(30),
    };
    server.add_boxed_service(config_service);
    server.add_service(background_service("dns", resolver));
    server.add_service(background_service("jwks", jwks_fetcher));
    if let Some(redis) = options.redis.clone() {
        let check = RedisCheck {
            redis,
            metrics: metrics_for_redis,
        };
        server.add_service(background_service("redis", check));
    }
    server.add_service(proxy);
    server.add_service(admin);

    let phases = server.watch_execution_phase();
    let grace = options.grace_period;
    let before_exit = options.before_exit;
    std::thread::Builder::new()
        .name("drain".to_owned())
        .spawn(move || drain(phases, &in_flight, grace, before_exit))
        .context("starting the drain thread")?;
    // The tokenizer's tables take a moment to build: built before the listeners open, no
    // request ever waits for them.
    crate::tokens::warm();
    tracing::info!(listen = %options.listen, admin = %options.admin_listen, "serving");
    server.run(RunArgs::default());
    Ok(())
}

/// Loads the manifests once, before Pingora starts its own runtimes (with the DNS lookups of
/// the first snapshot); standalone mode does not start without a snapshot.
fn first_load(watcher: &Watcher, path: &std::path::Path) -> anyhow::Result<()> {
    let startup = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the startup runtime")?;
    if !startup.block_on(watcher.reload()) {
        bail!("no configuration could be loaded from {}", path.display());
    }
    Ok(())
}

/// Waits for SIGTERM's grace period to begin, then ends the process once nothing is in flight
/// (or the grace period is over).
#[allow(
    clippy::disallowed_methods,
    reason = "Pingora's shutdown sleeps out the whole grace period; exiting is how it ends early"
)]
fn drain(
    mut phases: tokio::sync::broadcast::Receiver<ExecutionPhase>,
    in_flight: &AtomicUsize,
    grace: Duration,
    before_exit: Box<dyn FnOnce() + Send>,
) {
    loop {
        match phases.blocking_recv() {
            Ok(ExecutionPhase::GracefulTerminate) => break,
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
    let deadline = std::time::Instant::now() + grace;
    while in_flight.load(Ordering::Acquire) > 0 && std::time::Instant::now() < deadline {
        std::thread::park_timeout(Duration::from_millis(20));
    }
    let left = in_flight.load(Ordering::Acquire);
    tracing::info!(in_flight = left, "drained; exiting");
    before_exit();
    std::process::exit(0);
}
