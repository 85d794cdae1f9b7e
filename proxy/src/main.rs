//! `switchyard-proxy`: the Switchyard data plane.

use std::{io::Write as _, path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::Parser;

/// Command-line flags of the proxy.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// A manifest file or a folder of manifests to serve without a cluster (standalone mode).
    #[arg(long, env = "SWITCHYARD_CONFIG")]
    config: PathBuf,
    /// Only load and compile the configuration, print what it serves and every problem, and
    /// exit non-zero if anything is wrong.
    #[arg(long)]
    check: bool,
}

fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let checked = switchyard_proxy::standalone::check(&args.config)
        .with_context(|| format!("checking {}", args.config.display()))?;
    std::io::stdout().write_all(checked.report().as_bytes())?;
    if !args.check {
        tracing::warn!(
            "serving requests arrives with the data plane; this build only checks the configuration"
        );
    }
    Ok(if checked.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
