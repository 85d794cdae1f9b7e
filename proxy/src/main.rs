//! `switchyard-proxy`: the Switchyard data plane.

use std::{io::Write as _, net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use switchyard_proxy::{gateway::Settings, health::Ejection, server};

/// Command-line flags of the proxy.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// A manifest file or a folder of manifests to serve without a cluster (standalone mode);
    /// changes are picked up while running.
    #[arg(long, env = "SWITCHYARD_CONFIG")]
    config: PathBuf,
    /// Only load and compile the configuration, print what it serves and every problem, and
    /// exit non-zero if anything is wrong.
    #[arg(long)]
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
    /// Consecutive failures (connect errors, timeouts, 429s, 5xx) that eject a backend.
    #[arg(long, default_value_t = 5)]
    eject_after_failures: u32,
    /// Seconds an ejected backend is skipped.
    #[arg(long, default_value_t = 30)]
    eject_seconds: u64,
    /// Milliseconds between checks of the manifests for changes.
    #[arg(long, default_value_t = 1000)]
    reload_interval_ms: u64,
    /// Log format.
    #[arg(long, env = "SWITCHYARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// How logs are written (to stderr).
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
    // A log line per request must not cost the request a write syscall: lines go through a
    // channel to a writer thread, flushed when `flush_logs` drops (also before a drain exit).
    let (writer, flush_logs) = tracing_appender::non_blocking(std::io::stderr());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match args.log_format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs.init(),
    }
    if args.check {
        let checked = switchyard_proxy::standalone::check(&args.config)
            .with_context(|| format!("checking {}", args.config.display()))?;
        std::io::stdout().write_all(checked.report().as_bytes())?;
        return Ok(if checked.is_clean() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    server::run(server::Options {
        config: args.config,
        listen: args.listen,
        admin_listen: args.admin_listen,
        threads,
        grace_period: Duration::from_secs(args.grace_period_seconds),
        settings: Settings {
            max_body_bytes: args.max_body_bytes,
        },
        reload_interval: Duration::from_millis(args.reload_interval_ms),
        ejection: Ejection {
            after_failures: args.eject_after_failures.max(1),
            cool_down: Duration::from_secs(args.eject_seconds),
        },
        before_exit: Box::new(move || drop(flush_logs)),
    })?;
    Ok(ExitCode::SUCCESS)
}
