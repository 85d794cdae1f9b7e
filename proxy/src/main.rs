//! `switchyard-proxy`: the Switchyard data plane.

use std::{io::Write as _, net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use clap::{ArgGroup, Parser, ValueEnum};
use switchyard_crds::snapshot::ServiceAccountIssuer;
use switchyard_proxy::{
    auth::jwt::KeySet,
    gateway::Settings,
    health::Ejection,
    server::{self, Source},
    subscribe::{self, OperatorUrl},
    telemetry::{self, Batched, Flush, Output},
};

// The request path allocates small, short-lived buffers on every request; glibc's malloc spent
// about a tenth of the proxy's CPU on them in profiles, mimalloc a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Command-line flags of the proxy.
#[derive(Debug, Parser)]
#[command(version, about)]
#[command(group(ArgGroup::new("source").required(true).args(["config", "operator_url"])))]
struct Args {
    /// A manifest file or a folder of manifests to serve without a cluster (standalone mode);
    /// changes are picked up while running.
    #[arg(long, env = "SWITCHYARD_CONFIG")]
    config: Option<PathBuf>,
    /// Only load and compile the configuration, print what it serves and every problem, and
    /// exit non-zero if anything is wrong.
    #[arg(long, conflicts_with = "operator_url")]
    check: bool,
    /// Address of the OpenAI-API listener.
    #[arg(long, env = "SWITCHYARD_LISTEN", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Address of the admin listener (/healthz, /readyz, /metrics, /config).
    #[arg(long, env = "SWITCHYARD_ADMIN_LISTEN", default_value = "0.0.0.0:9901")]
    admin_listen: SocketAddr,
    /// Worker threads (default: one per core).
    #[arg(long, env = "SWITCHYARD_THREADS")]
    threads: Option<usize>,
    /// Seconds in-flight requests and streams get to finish after SIGTERM.
    #[arg(long, env = "SWITCHYARD_GRACE_PERIOD_SECONDS", default_value_t = 30)]
    grace_period_seconds: u64,
    /// Largest accepted request body in bytes (413 beyond).
    #[arg(long, env = "SWITCHYARD_MAX_BODY_BYTES", default_value_t = switchyard_proxy::body::DEFAULT_LIMIT)]
    max_body_bytes: usize,
    /// Bytes the response cache may hold in memory (per proxy; AIPolicy `cache` enables it).
    #[arg(long, env = "SWITCHYARD_CACHE_MEMORY_BYTES", default_value_t = 256 << 20)]
    cache_memory_bytes: u64,
    /// Consecutive failures (connect errors, timeouts, 429s, 5xx) that eject a backend.
    #[arg(long, default_value_t = 5)]
    eject_after_failures: u32,
    /// Seconds an ejected backend is skipped.
    #[arg(long, default_value_t = 30)]
    eject_seconds: u64,
    /// Milliseconds between checks of the manifests for changes.
    #[arg(long, default_value_t = 1000)]
    reload_interval_ms: u64,
    /// Format of the diagnostic log (stderr).
    #[arg(long, env = "SWITCHYARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Where the access log goes: one JSON object per request (never prompts or keys).
    #[arg(long, env = "SWITCHYARD_ACCESS_LOG", value_enum, default_value_t = AccessLog::Stdout)]
    access_log: AccessLog,
    /// The shared Redis for global rate limits, budgets and the shared cache tier:
    /// redis://[:PASSWORD@]HOST[:PORT][/DB] or rediss:// for TLS. Normally from a Secret.
    #[arg(long, env = "SWITCHYARD_REDIS_URL", hide_env_values = true)]
    redis_url: Option<String>,
    /// Standalone mode: the `iss` of the cluster's service-account tokens, for policies with
    /// `serviceAccounts` (the operator supplies it in a cluster).
    #[arg(
        long,
        env = "SWITCHYARD_SERVICE_ACCOUNT_ISSUER",
        requires = "service_account_jwks"
    )]
    service_account_issuer: Option<String>,
    /// Standalone mode: a file holding the JWKS that verifies those tokens (the API server's
    /// /openid/v1/jwks), read at start.
    #[arg(
        long,
        env = "SWITCHYARD_SERVICE_ACCOUNT_JWKS",
        requires = "service_account_issuer"
    )]
    service_account_jwks: Option<PathBuf>,
    #[command(flatten)]
    operator: OperatorArgs,
}

/// Operator mode: where the operator is and how the proxy proves who it is.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Operator mode")]
struct OperatorArgs {
    /// The operator's config channel, https://HOST[:PORT] (operator mode). Give it once per
    /// operator replica (or comma-separated): only the leader answers, the others are skipped.
    #[arg(long, env = "SWITCHYARD_OPERATOR_URL", value_delimiter = ',')]
    operator_url: Vec<OperatorUrl>,
    /// PEM file of the CA that signed the operator's certificate.
    #[arg(
        long,
        env = "SWITCHYARD_OPERATOR_CA",
        default_value = "/var/run/secrets/switchyard/ca.crt"
    )]
    operator_ca: PathBuf,
    /// The projected service-account token presented to the operator, read on every connect.
    #[arg(
        long,
        env = "SWITCHYARD_OPERATOR_TOKEN_FILE",
        default_value = "/var/run/secrets/switchyard/token"
    )]
    operator_token_file: PathBuf,
    /// This proxy's name for the operator (default: the host name).
    #[arg(long, env = "POD_NAME")]
    proxy_name: Option<String>,
    /// Where the last accepted snapshot is saved (mode 0600), to boot from when the operator
    /// cannot be reached at start.
    #[arg(long, env = "SWITCHYARD_SNAPSHOT_CACHE")]
    snapshot_cache: Option<PathBuf>,
    /// Seconds to wait for the operator's first snapshot before serving the snapshot cache.
    #[arg(
        long,
        env = "SWITCHYARD_OPERATOR_BOOT_TIMEOUT_SECONDS",
        default_value_t = 5
    )]
    operator_boot_timeout_seconds: u64,
}

impl OperatorArgs {
    fn options(self) -> subscribe::Options {
        let proxy_name = self.proxy_name.unwrap_or_else(|| {
            hostname::get()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "unknown".to_owned())
        });
        subscribe::Options {
            urls: self.operator_url,
            ca_file: self.operator_ca,
            token_file: self.operator_token_file,
            proxy_name,
            cache: self.snapshot_cache,
            boot_timeout: Duration::from_secs(self.operator_boot_timeout_seconds),
        }
    }
}

/// Where the access log goes.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum AccessLog {
    /// Standard output.
    Stdout,
    /// Standard error, with the diagnostic log.
    Stderr,
    /// Nowhere.
    Off,
}

/// How diagnostic logs are written (to stderr).
#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let (writer, flush_logs) =
        telemetry::batched(Output::Stderr).context("starting the log writer")?;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match args.log_format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs.init(),
    }
    let access = match args.access_log {
        AccessLog::Stdout => Some(telemetry::batched(Output::Stdout)),
        AccessLog::Stderr => Some(telemetry::batched(Output::Stderr)),
        AccessLog::Off => None,
    };
    let (access_log, flush_access) = match access.transpose().context("starting the access log")? {
        Some((log, flush)) => (Some(log), Some(flush)),
        None => (None, None),
    };
    let flushes: Vec<Flush> = std::iter::once(flush_logs).chain(flush_access).collect();
    let result = run(args, access_log, flushes.clone());
    if let Err(error) = &result {
        tracing::error!("{error:#}");
    }
    flushes.iter().for_each(Flush::now);
    result
}

fn run(args: Args, access_log: Option<Batched>, flushes: Vec<Flush>) -> anyhow::Result<ExitCode> {
    let source = match args.config {
        Some(path) => Source::Manifests {
            path,
            reload_interval: Duration::from_millis(args.reload_interval_ms),
            service_account_issuer: service_account_issuer(
                args.service_account_issuer,
                args.service_account_jwks.as_deref(),
            )?,
        },
        None => Source::Operator(args.operator.options()),
    };
    if let (
        true,
        Source::Manifests {
            path,
            service_account_issuer,
            ..
        },
    ) = (args.check, &source)
    {
        let checked = switchyard_proxy::standalone::check(path, service_account_issuer.as_ref())
            .with_context(|| format!("checking {}", path.display()))?;
        std::io::stdout().write_all(checked.report().as_bytes())?;
        return Ok(if checked.is_clean() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let redis = args
        .redis_url
        .as_deref()
        .map(switchyard_proxy::redis::Redis::new)
        .transpose()?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    server::run(server::Options {
        source,
        listen: args.listen,
        admin_listen: args.admin_listen,
        threads,
        grace_period: Duration::from_secs(args.grace_period_seconds),
        settings: Settings {
            max_body_bytes: args.max_body_bytes,
            cache_memory_bytes: args.cache_memory_bytes,
        },
        ejection: Ejection {
            after_failures: args.eject_after_failures.max(1),
            cool_down: Duration::from_secs(args.eject_seconds),
        },
        access_log,
        redis,
        before_exit: Box::new(move || flushes.iter().for_each(Flush::now)),
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The service-account issuer of the command line, its JWKS file read and checked.
fn service_account_issuer(
    issuer: Option<String>,
    jwks: Option<&std::path::Path>,
) -> anyhow::Result<Option<ServiceAccountIssuer>> {
    let (Some(issuer), Some(path)) = (issuer, jwks) else {
        return Ok(None);
    };
    let jwks = std::fs::read_to_string(path)
        .with_context(|| format!("reading --service-account-jwks {}", path.display()))?;
    let keys = KeySet::parse(jwks.as_bytes())
        .with_context(|| format!("--service-account-jwks {}", path.display()))?;
    anyhow::ensure!(
        !keys.is_empty(),
        "--service-account-jwks {} holds no key that verifies signatures",
        path.display()
    );
    Ok(Some(ServiceAccountIssuer { issuer, jwks }))
}
