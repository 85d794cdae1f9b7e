//! `switchyard-proxy`: the Switchyard data plane.

use clap::Parser;

/// Command-line flags of the proxy.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// A manifest file or a folder of manifests to serve without a cluster (standalone mode).
    #[arg(long, env = "SWITCHYARD_CONFIG")]
    config: Option<std::path::PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    tracing::info!(config = ?args.config, "switchyard-proxy: the data plane is not built yet");
    Ok(())
}
