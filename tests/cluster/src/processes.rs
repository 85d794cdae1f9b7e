//! The child processes the test cluster starts (etcd, kube-apiserver, redis-server), and the
//! guarantee that exactly those processes stop — when their owner is dropped, when a test
//! panics, and when the test process exits or is killed.
//!
//! Three layers, none of which kills anything by name:
//! - [`ManagedProcess`] kills and reaps its own child on `Drop` (owned clusters, failed starts).
//! - Every child is started through `setpriv --pdeathsig KILL` from one launcher thread that
//!   lives as long as the process, so the kernel kills it when the test process dies. (The
//!   death signal fires when the *thread* that forked the child ends, which is why children are
//!   never forked from a test's own thread or runtime.)
//! - A small reaper (`sh`) holds a pipe from the test process; when the pipe closes, however
//!   the process ended, it kills the recorded PIDs whose start time still matches (so a reused
//!   PID is never hit) and removes the cluster's temp dirs.

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use crate::Error;
use crate::binaries::find_on_path;

/// How often readiness probes run.
const PROBE_INTERVAL: Duration = Duration::from_millis(100);

/// A child process that is killed and reaped when dropped.
#[derive(Debug)]
pub(crate) struct ManagedProcess {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl ManagedProcess {
    /// Starts `program args` with stdout and stderr appended to `log`, from the launcher thread,
    /// under a parent-death signal when `setpriv` is available.
    pub(crate) async fn spawn(
        name: &'static str,
        program: &Path,
        args: Vec<OsString>,
        log: PathBuf,
    ) -> Result<Self, Error> {
        let stdout = File::create(&log).map_err(Error::io("create", &log))?;
        let stderr = stdout.try_clone().map_err(Error::io("open", &log))?;
        let mut command = match setpriv() {
            Some(setpriv) => {
                let mut command = Command::new(setpriv);
                command.args(["--pdeathsig", "KILL", "--"]).arg(program);
                command
            }
            None => Command::new(program),
        };
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        let child = launch(command).await?.map_err(|source| Error::Spawn {
            name,
            program: program.to_path_buf(),
            source,
        })?;
        tracing::debug!(name, pid = child.id(), "started");
        Ok(Self { name, child, log })
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls `probe` until it returns true, failing early if the process exits and after
    /// `timeout` with the tail of the log.
    pub(crate) async fn wait_ready<F, Fut>(
        &mut self,
        timeout: Duration,
        mut probe: F,
    ) -> Result<(), Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_running()?;
            if probe().await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::NotReady {
                    name: self.name,
                    timeout,
                    log: self.log.clone(),
                    tail: log_tail(&self.log),
                });
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }

    /// Fails with the log tail when the process has exited.
    fn check_running(&mut self) -> Result<(), Error> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(Error::ExitedEarly {
                name: self.name,
                status,
                log: self.log.clone(),
                tail: log_tail(&self.log),
            }),
            Ok(None) | Err(_) => Ok(()),
        }
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        // `Child::kill` signals our own, not yet reaped child: its PID cannot have been reused.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        tracing::debug!(name = self.name, pid = self.child.id(), "stopped");
    }
}

/// Reserves `N` distinct free loopback ports (all held open until every one is chosen).
pub(crate) fn free_ports<const N: usize>() -> Result<[u16; N], Error> {
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0; N];
    for port in &mut ports {
        let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(Error::FreePort)?;
        *port = listener.local_addr().map_err(Error::FreePort)?.port();
        listeners.push(listener);
    }
    Ok(ports)
}

/// Asks the reaper to delete `dir` when the test process ends.
pub(crate) fn remove_at_exit(dir: &Path) {
    reaper_send(&format!("dir {}\n", dir.display()));
}

/// The last lines of a log file, for error messages.
pub(crate) fn log_tail(log: &Path) -> String {
    const LINES: usize = 40;
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LINES)..].join("\n")
}

fn setpriv() -> Option<&'static Path> {
    static SETPRIV: OnceLock<Option<PathBuf>> = OnceLock::new();
    SETPRIV
        .get_or_init(|| {
            let found = find_on_path("setpriv");
            if found.is_none() {
                tracing::warn!(
                    "setpriv not found: children of the test cluster rely on the reaper alone"
                );
            }
            found
        })
        .as_deref()
}

/// A spawn request for the launcher thread.
struct Launch {
    command: Command,
    reply: tokio::sync::oneshot::Sender<std::io::Result<Child>>,
}

/// Runs `command.spawn()` on the launcher thread.
async fn launch(command: Command) -> Result<std::io::Result<Child>, Error> {
    static LAUNCHER: OnceLock<Option<mpsc::Sender<Launch>>> = OnceLock::new();
    let launcher = LAUNCHER
        .get_or_init(start_launcher)
        .as_ref()
        .ok_or(Error::LauncherGone)?;
    let (reply, result) = tokio::sync::oneshot::channel();
    launcher
        .send(Launch { command, reply })
        .map_err(|_| Error::LauncherGone)?;
    result.await.map_err(|_| Error::LauncherGone)
}

fn start_launcher() -> Option<mpsc::Sender<Launch>> {
    let (sender, requests) = mpsc::channel::<Launch>();
    let thread = std::thread::Builder::new()
        .name("switchyard-test-cluster-launcher".into())
        .spawn(move || {
            // The sender lives in a static, so this loop (and the thread) lasts as long as the
            // process: children's parent-death signal fires only when the process is gone.
            for Launch { mut command, reply } in requests {
                let result = command.spawn();
                if let Ok(child) = &result {
                    record_child(child.id());
                }
                if let Err(Ok(mut child)) = reply.send(result) {
                    // The caller went away (its test was cancelled): don't leak the child.
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        });
    match thread {
        Ok(_) => Some(sender),
        Err(error) => {
            tracing::error!(%error, "could not start the process launcher thread");
            None
        }
    }
}

/// Tells the reaper about a child: its PID and start time (field 22 of `/proc/PID/stat`).
fn record_child(pid: u32) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the `(comm)` one start at field 3, so start time is the 20th of them.
    let start = stat
        .rsplit_once(") ")
        .and_then(|(_, rest)| rest.split(' ').nth(19));
    match start {
        Some(start) => reaper_send(&format!("kill {pid} {start}\n")),
        None => tracing::warn!(
            pid,
            "could not read the start time; the reaper will not track this child"
        ),
    }
}

/// The reaper's script: collect `kill PID START` and `dir PATH` lines until stdin closes,
/// then kill each PID whose start time still matches and remove the dirs.
const REAPER_SCRIPT: &str = r#"
trap '' INT TERM HUP PIPE
pids=''
dirs=''
while IFS=' ' read -r verb rest; do
  case $verb in
    kill) pids="$pids ${rest% *}:${rest#* }" ;;
    dir) dirs="$dirs$rest
" ;;
  esac
done
for entry in $pids; do
  pid=${entry%%:*}
  start=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f20)
  if [ -n "$start" ] && [ "$start" = "${entry#*:}" ]; then kill -KILL "$pid" 2>/dev/null; fi
done
printf '%s' "$dirs" | while IFS= read -r dir; do
  if [ -n "$dir" ]; then rm -rf -- "$dir"; fi
done
"#;

fn reaper_send(line: &str) {
    static REAPER: OnceLock<Option<Mutex<ChildStdin>>> = OnceLock::new();
    let reaper = REAPER.get_or_init(|| {
        let spawned = Command::new("sh")
            .args(["-c", REAPER_SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match spawned {
            // The reaper must outlive us, so its `Child` is dropped without waiting for it.
            Ok(mut child) => child.stdin.take().map(Mutex::new),
            Err(error) => {
                tracing::warn!(%error, "could not start the reaper");
                None
            }
        }
    });
    if let Some(stdin) = reaper
        && let Ok(mut stdin) = stdin.lock()
    {
        let _ = stdin.write_all(line.as_bytes());
        let _ = stdin.flush();
    }
}
