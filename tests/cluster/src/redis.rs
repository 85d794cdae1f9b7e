//! A throwaway `redis-server` on a free loopback port, persistence off, for the tests of
//! global rate limits and budgets. Stopped like the control plane's processes.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::OnceCell;

use crate::Error;
use crate::binaries::redis_server;
use crate::cluster::temp_dir;
use crate::processes::{ManagedProcess, free_ports};

/// How long redis-server may take to answer PING.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// How many times a start is retried when redis-server dies early (a port taken meanwhile).
const START_ATTEMPTS: usize = 3;

/// A running redis-server, stopped when dropped.
pub struct RedisServer {
    process: ManagedProcess,
    port: u16,
    path: PathBuf,
    _dir: Option<TempDir>,
}

impl RedisServer {
    /// The redis-server shared by every test in this process, started on first use and stopped
    /// when the process exits.
    pub async fn shared() -> Result<&'static RedisServer, Error> {
        static SHARED: OnceCell<RedisServer> = OnceCell::const_new();
        SHARED.get_or_try_init(Self::start).await
    }

    /// Starts a redis-server of its own.
    pub async fn start() -> Result<RedisServer, Error> {
        let program = redis_server()?;
        let mut attempt = 1;
        loop {
            match Self::start_once(&program).await {
                Err(error @ Error::ExitedEarly { .. }) if attempt < START_ATTEMPTS => {
                    tracing::warn!(%error, attempt, "redis-server failed to start; retrying");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn start_once(program: &Path) -> Result<RedisServer, Error> {
        let (dir, path) = temp_dir()?;
        let [port] = free_ports()?;
        let args: Vec<OsString> = vec![
            "--port".into(),
            port.to_string().into(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--save".into(),
            "".into(),
            "--appendonly".into(),
            "no".into(),
            "--daemonize".into(),
            "no".into(),
            "--dir".into(),
            path.clone().into(),
        ];
        let mut process =
            ManagedProcess::spawn("redis-server", program, args, path.join("redis.log")).await?;
        process
            .wait_ready(READY_TIMEOUT, || answers_ping(port))
            .await?;
        Ok(RedisServer {
            process,
            port,
            path,
            _dir: dir,
        })
    }

    /// The URL to connect to, e.g. `redis://127.0.0.1:40123/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port it listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The temp dir holding its log.
    pub fn dir(&self) -> &Path {
        &self.path
    }
}

/// True when the server answers a RESP `PING` with `+PONG`.
async fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if stream.write_all(b"*1\r\n$4\r\nPING\r\n").await.is_err() {
        return false;
    }
    let mut reply = [0; 7];
    let read = tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut reply)).await;
    matches!(read, Ok(Ok(_))) && &reply == b"+PONG\r\n"
}
