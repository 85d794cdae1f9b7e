//! etcd for the API server: one member on free loopback ports, data in the cluster's temp dir,
//! fsync off (test data need not survive a crash), with envtest's flag set.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Error;
use crate::binaries::k8s_binary;
use crate::processes::{ManagedProcess, free_ports};

/// How long etcd may take to answer `/health`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running etcd.
pub(crate) struct Etcd {
    /// The process; stopped on drop.
    pub(crate) process: ManagedProcess,
    /// The client URL, e.g. `http://127.0.0.1:40123`.
    pub(crate) url: String,
}

/// Starts etcd with its data under `dir` and waits until it reports healthy.
pub(crate) async fn start(dir: &Path) -> Result<Etcd, Error> {
    let program = k8s_binary("etcd")?;
    let [client_port, peer_port] = free_ports()?;
    let url = format!("http://127.0.0.1:{client_port}");
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let data_dir = dir.join("etcd");
    let args: Vec<OsString> = vec![
        "--name=default".into(),
        format!("--data-dir={}", data_dir.display()).into(),
        format!("--listen-client-urls={url}").into(),
        format!("--advertise-client-urls={url}").into(),
        format!("--listen-peer-urls={peer_url}").into(),
        format!("--initial-advertise-peer-urls={peer_url}").into(),
        format!("--initial-cluster=default={peer_url}").into(),
        "--unsafe-no-fsync=true".into(),
        "--log-level=warn".into(),
    ];
    let mut process = ManagedProcess::spawn("etcd", &program, args, dir.join("etcd.log")).await?;
    process
        .wait_ready(READY_TIMEOUT, || healthy(client_port))
        .await?;
    Ok(Etcd { process, url })
}

/// True when `GET /health` answers `"health":"true"`.
async fn healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let request = b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if stream.write_all(request).await.is_err() {
        return false;
    }
    let mut response = String::new();
    let read =
        tokio::time::timeout(Duration::from_secs(2), stream.read_to_string(&mut response)).await;
    matches!(read, Ok(Ok(_))) && response.contains("\"health\":\"true\"")
}
