//! `switchyard-operator`: watches AIModel, AIRoute, AIPolicy and labelled Secrets, compiles
//! them into versioned snapshots, pushes those to the proxy fleet over an authenticated TLS
//! channel, and writes each object's status.
//!
//! Tasks, all on one runtime:
//! - `inputs`: four watches feeding caches and a change signal, and the service-account issuer
//!   read from the API server (`issuer`);
//! - `reconcile`: debounce, compile, stamp, publish to the fleet;
//! - `serve`: the config channel the proxies connect to (leader only);
//! - `status`: conditions and Events (leader only);
//! - `leader`: the Lease;
//! - `admin`: health, readiness, metrics.

mod admin;
mod auth;
mod fleet;
mod inputs;
mod issuer;
mod leader;
mod metrics;
mod reconcile;
mod serve;
mod status;
mod tls;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use tokio::sync::{Notify, watch};

use crate::{
    admin::Admin, auth::Authenticator, fleet::Fleet, inputs::Caches, leader::Election,
    metrics::Metrics, reconcile::Reconciler, serve::Channel, status::StatusWriter,
};

// Compiling 20,000 objects allocates and frees hundreds of megabytes in bursts across
// threads; glibc's per-thread arenas kept much of that as resident memory, mimalloc returns it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Command-line flags of the operator.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address of the admin listener (`/healthz`, `/readyz`, `/metrics`, `/fleet`).
    #[arg(long, env = "SWITCHYARD_ADMIN_ADDR", default_value = "0.0.0.0:9090")]
    admin_addr: SocketAddr,
    /// Watch only this namespace (default: every namespace).
    #[arg(long, env = "SWITCHYARD_WATCH_NAMESPACE")]
    watch_namespace: Option<String>,
    /// Address of the config channel (HTTP/2 over TLS) the proxies connect to.
    #[arg(long, env = "SWITCHYARD_CHANNEL_ADDR", default_value = "0.0.0.0:9443")]
    channel_addr: SocketAddr,
    /// PEM certificate chain of the config channel.
    #[arg(
        long,
        env = "SWITCHYARD_TLS_CERT",
        default_value = "/etc/switchyard/tls/tls.crt"
    )]
    tls_cert: PathBuf,
    /// PEM private key of the config channel.
    #[arg(
        long,
        env = "SWITCHYARD_TLS_KEY",
        default_value = "/etc/switchyard/tls/tls.key"
    )]
    tls_key: PathBuf,
    /// Seconds between reads of the certificate files (renewals are picked up without a
    /// restart).
    #[arg(long, env = "SWITCHYARD_TLS_RELOAD_SECONDS", default_value_t = 30)]
    tls_reload_seconds: u64,
    /// Namespace of the proxies' service account (default: this pod's namespace).
    #[arg(long, env = "SWITCHYARD_PROXY_NAMESPACE")]
    proxy_namespace: Option<String>,
    /// The service account whose tokens may open the config channel.
    #[arg(
        long,
        env = "SWITCHYARD_PROXY_SERVICE_ACCOUNT",
        default_value = "switchyard-proxy"
    )]
    proxy_service_account: String,
    /// Namespace of the leader Lease (default: this pod's namespace).
    #[arg(long, env = "SWITCHYARD_LEASE_NAMESPACE")]
    lease_namespace: Option<String>,
    /// Name of the leader Lease.
    #[arg(
        long,
        env = "SWITCHYARD_LEASE_NAME",
        default_value = "switchyard-operator"
    )]
    lease_name: String,
    /// How long a Lease holds without renewal; a new leader takes over after at most this.
    #[arg(long, env = "SWITCHYARD_LEASE_DURATION_SECONDS", default_value_t = 15)]
    lease_duration_seconds: u64,
    /// How often the Lease is renewed or tried, in milliseconds.
    #[arg(long, env = "SWITCHYARD_LEASE_RETRY_MS", default_value_t = 2000)]
    lease_retry_ms: u64,
    /// This replica's identity in the Lease and in Events (default: the pod name).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Seconds between reads of the cluster's service-account issuer and keys (OIDC discovery
    /// on the API server): how long a key rotation of the cluster takes to reach the proxies.
    #[arg(long, env = "SWITCHYARD_ISSUER_REFRESH_SECONDS", default_value_t = 600)]
    issuer_refresh_seconds: u64,
    /// Log line format.
    #[arg(long, value_enum, env = "SWITCHYARD_LOG_FORMAT", default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    // One crypto provider for kube's client and the channel's server.
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let pod_namespace = std::env::var("POD_NAMESPACE").unwrap_or_else(|_| "default".to_owned());
    let identity = match args.identity {
        Some(identity) => identity,
        None => hostname(),
    };
    let metrics = Metrics::new().context("registering metrics")?;
    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API (in-cluster config or KUBECONFIG)")?;
    let certificates = tls::Certificates::load(&args.tls_cert, &args.tls_key)?;
    let tls = certificates.acceptor()?;
    let channel_listener = tokio::net::TcpListener::bind(args.channel_addr)
        .await
        .with_context(|| format!("listening on {}", args.channel_addr))?;
    let admin_listener = tokio::net::TcpListener::bind(args.admin_addr)
        .await
        .with_context(|| format!("listening on {}", args.admin_addr))?;

    let (stop, shutdown) = watch::channel(false);
    let (leading_tx, leading) = watch::channel(false);
    let (synced_tx, synced) = watch::channel(false);
    let (rounds_tx, rounds) = watch::channel(None);
    let changed = Arc::new(Notify::new());
    let fleet = Arc::new(Fleet::new(metrics.clone()));
    let caches = Caches::start(
        &client,
        args.watch_namespace.as_deref(),
        Duration::from_secs(args.issuer_refresh_seconds.max(1)),
        Arc::clone(&changed),
        &metrics,
    );

    let election = Election {
        namespace: args
            .lease_namespace
            .unwrap_or_else(|| pod_namespace.clone()),
        name: args.lease_name,
        identity: identity.clone(),
        duration: Duration::from_secs(args.lease_duration_seconds.max(1)),
        retry: Duration::from_millis(args.lease_retry_ms.max(100)),
    };
    tracing::info!(%identity, lease = %election.name, namespace = %election.namespace, "starting");
    let lease = tokio::spawn(leader::run(
        client.clone(),
        election,
        leading_tx,
        metrics.clone(),
        shutdown.clone(),
    ));
    let proxy_namespace = args.proxy_namespace.unwrap_or(pod_namespace);
    let channel = Arc::new(Channel {
        fleet: Arc::clone(&fleet),
        auth: Authenticator::new(
            client.clone(),
            &proxy_namespace,
            &args.proxy_service_account,
        ),
        leading: leading.clone(),
        metrics: metrics.clone(),
    });
    tokio::spawn(serve::run(channel_listener, tls, channel, shutdown.clone()));
    tokio::spawn(certificates.reload(
        Duration::from_secs(args.tls_reload_seconds.max(1)),
        shutdown.clone(),
    ));
    let admin = Arc::new(Admin {
        metrics: metrics.clone(),
        fleet: Arc::clone(&fleet),
        leading: leading.clone(),
        synced,
    });
    tokio::spawn(admin::run(admin_listener, admin, shutdown.clone()));
    {
        let caches = caches.clone();
        tokio::spawn(async move {
            if caches.ready().await {
                synced_tx.send_replace(true);
            }
        });
    }
    tokio::spawn(
        StatusWriter {
            client: client.clone(),
            caches: caches.clone(),
            fleet: Arc::clone(&fleet),
            rounds,
            leading: leading.clone(),
            metrics: metrics.clone(),
            identity,
        }
        .run(),
    );
    let reconciler = tokio::spawn(
        Reconciler {
            caches,
            changed,
            fleet,
            rounds: rounds_tx,
            leading,
            metrics,
        }
        .run(),
    );

    tokio::select! {
        () = terminated() => tracing::info!("stopping"),
        _ = reconciler => anyhow::bail!("the reconcile loop ended"),
    }
    stop.send_replace(true);
    // Give the Lease back so another replica leads at once.
    let _ = tokio::time::timeout(Duration::from_secs(5), lease).await;
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn terminated() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| format!("switchyard-operator-{}", std::process::id()))
}
