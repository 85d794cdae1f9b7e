//! Log output. Every request writes an access-log line, so a line must not cost the request a
//! system call or a thread wake-up: lines are appended to an in-memory buffer under a short
//! lock, and a background thread writes the buffer out every few milliseconds (or when it grows
//! large). `Flush::now` writes what is left before the process exits.

use std::{
    io::Write,
    sync::{Arc, Condvar, Mutex, PoisonError},
    time::Duration,
};

use tracing_subscriber::fmt::MakeWriter;

/// How often buffered lines are written out when traffic is light.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// A buffer this large is written out at once. Small on purpose: on a busy core a large write
/// stalls the requests in flight (measured: 1 MiB batches tripled the p99 at one connection,
/// 8 KiB batches cost it about 20 µs).
const FLUSH_AT_BYTES: usize = 8 * 1024;

/// Where a batched writer's lines go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

struct Shared {
    output: Output,
    buffer: Mutex<Vec<u8>>,
    full: Condvar,
}

/// Appends lines to a buffer that a background thread writes out; also a `MakeWriter` for
/// `tracing`.
#[derive(Clone)]
pub struct Batched(Arc<Shared>);

impl Batched {
    /// Appends one line, written by `line` into the buffer (which must end it with `\n`).
    pub fn append(&self, line: impl FnOnce(&mut Vec<u8>)) {
        self.0.append(line);
    }
}

/// Writes whatever is buffered; held by `main` for the exit paths.
#[derive(Clone)]
pub struct Flush(Arc<Shared>);

/// A writer for one log line.
pub struct LineWriter<'a>(&'a Shared);

impl Write for LineWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.append(|buffer| buffer.extend_from_slice(bytes));
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Batched {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(&self.0)
    }
}

impl Shared {
    fn append(&self, line: impl FnOnce(&mut Vec<u8>)) {
        let mut buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        let before = buffer.len();
        line(&mut buffer);
        // Wake the writer once, when this line crosses the mark (a wake is a system call).
        if before < FLUSH_AT_BYTES && buffer.len() >= FLUSH_AT_BYTES {
            self.full.notify_one();
        }
    }

    fn write_out(&self) {
        let lines = {
            let mut buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::take(&mut *buffer)
        };
        if lines.is_empty() {
            return;
        }
        // A failed write to stdout or stderr has nowhere to be reported.
        let _ = match self.output {
            Output::Stdout => std::io::stdout().lock().write_all(&lines),
            Output::Stderr => std::io::stderr().lock().write_all(&lines),
        };
    }
}

impl Flush {
    /// Writes every buffered line now.
    pub fn now(&self) {
        self.0.write_out();
    }
}

/// A batched writer to `output` and its flush handle; starts the writer thread.
pub fn batched(output: Output) -> std::io::Result<(Batched, Flush)> {
    let shared = Arc::new(Shared {
        output,
        buffer: Mutex::new(Vec::with_capacity(FLUSH_AT_BYTES)),
        full: Condvar::new(),
    });
    let background = Arc::clone(&shared);
    std::thread::Builder::new()
        .name("log-writer".to_owned())
        .spawn(move || {
            loop {
                {
                    let buffer = background
                        .buffer
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    // Woken early when the buffer is large; a spurious wake-up only writes sooner.
                    let _ = background.full.wait_timeout(buffer, FLUSH_EVERY);
                }
                background.write_out();
            }
        })?;
    Ok((Batched(Arc::clone(&shared)), Flush(shared)))
}
