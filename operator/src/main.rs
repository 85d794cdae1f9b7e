//! `switchyard-operator`: reconciles Switchyard resources into snapshots for the proxy fleet.

use clap::Parser;

/// Command-line flags of the operator.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address of the admin listener (`/healthz`, `/readyz`, `/metrics`).
    #[arg(long, env = "SWITCHYARD_ADMIN_ADDR", default_value = "0.0.0.0:9090")]
    admin_addr: std::net::SocketAddr,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    tracing::info!(admin_addr = %args.admin_addr, "switchyard-operator: reconciliation is not built yet");
    Ok(())
}
