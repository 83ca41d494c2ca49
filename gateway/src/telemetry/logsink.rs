//! The log sink: request log lines are appended to an in-memory buffer and
//! written to the output (stderr) in batches by one flusher thread.
//!
//! Written by hand because no maintained crate does this: the log layer
//! formats one line per request, and a `write(2)` per line on the tokio
//! worker cost about a fifth of the gateway's CPU in the benchmark, while
//! `tracing-appender`'s non-blocking writer sends every line through a
//! channel that wakes its worker thread once per line (a futex wake and a
//! context switch per request on a 2-core machine) and drops lines when
//! full. Here a line costs a mutex and a `memcpy`; the flusher sleeps
//! while nothing is buffered, is woken by the first line of a batch, and
//! writes the batch [`FLUSH_EVERY`] later or as soon as [`BATCH_BYTES`]
//! are buffered, so a line reaches the output within about that time.
//!
//! Bounded and lossless: when the buffer holds [`MAX_BUFFERED`] bytes
//! (the output is slower than the logging), the writing thread writes the
//! buffer out itself before appending — back-pressure, as a synchronous
//! writer would apply, instead of unbounded memory or lost lines. Lines
//! still buffered when the process is killed are lost (at most
//! [`FLUSH_EVERY`] of them); dropping the [`LogSink`]'s guard flushes.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The longest a line waits in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// The flusher is woken early once this much is buffered.
const BATCH_BYTES: usize = 64 * 1024;
/// Past this, writers flush themselves (back-pressure).
pub const MAX_BUFFERED: usize = 4 * 1024 * 1024;

struct Shared {
    /// Lines not yet handed to the output.
    buf: Mutex<Buffer>,
    /// Wakes the flusher (batch full, or stop).
    wake: Condvar,
    /// The output; held while writing so that batches keep their order.
    out: Mutex<Output>,
}

/// The output and the batch being written to it. The batch's buffer is
/// swapped with the emptied one each time, so neither is reallocated
/// (and re-faulted) every [`FLUSH_EVERY`].
struct Output {
    writer: Box<dyn Write + Send>,
    batch: Vec<u8>,
}

/// A buffer kept for reuse is shrunk back to this after a burst.
const KEEP_CAPACITY: usize = 4 * BATCH_BYTES;

#[derive(Default)]
struct Buffer {
    data: Vec<u8>,
    stop: bool,
    /// What the flusher is waiting for, so that a writer wakes it only
    /// when it must (a `notify_one` is a syscall).
    flusher: Flusher,
}

/// The flusher's state, changed under the buffer's lock.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Flusher {
    /// Writing a batch (or starting): nobody wakes it.
    #[default]
    Busy,
    /// Asleep with nothing buffered: the first line wakes it.
    Idle,
    /// Gathering lines for up to [`FLUSH_EVERY`]: a full batch wakes it.
    Gathering,
}

/// A [`tracing_subscriber::fmt::MakeWriter`] that batches lines (see the
/// module docs). Clones share one buffer and one flusher.
#[derive(Clone)]
pub struct LogSink {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSink").finish_non_exhaustive()
    }
}

/// Stops the flusher and writes out what is buffered when dropped.
#[derive(Debug)]
pub struct SinkGuard {
    sink: LogSink,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves only bytes behind: keep going.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LogSink {
    /// A sink writing to `out`, and the guard that owns its flusher thread.
    pub fn new(out: Box<dyn Write + Send>) -> io::Result<(LogSink, SinkGuard)> {
        let sink = LogSink {
            shared: Arc::new(Shared {
                buf: Mutex::new(Buffer::default()),
                wake: Condvar::new(),
                out: Mutex::new(Output {
                    writer: out,
                    batch: Vec::new(),
                }),
            }),
        };
        let flusher = sink.clone();
        let thread = std::thread::Builder::new()
            .name("credgate-logs".into())
            .spawn(move || flusher.run())?;
        Ok((
            sink.clone(),
            SinkGuard {
                sink,
                thread: Some(thread),
            },
        ))
    }

    /// The flusher: sleeps while nothing is buffered; from the first line
    /// of a batch, gathers for [`FLUSH_EVERY`] or until [`BATCH_BYTES`] are
    /// buffered, then writes the batch. So an idle gateway's flusher does
    /// not wake, and a busy one writes about one batch per [`FLUSH_EVERY`].
    fn run(&self) {
        let wake = &self.shared.wake;
        loop {
            let stop = {
                let mut b = lock(&self.shared.buf);
                if b.data.is_empty() && !b.stop {
                    b.flusher = Flusher::Idle;
                    b = wake
                        .wait_while(b, |b| b.data.is_empty() && !b.stop)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if b.data.len() < BATCH_BYTES && !b.stop {
                    b.flusher = Flusher::Gathering;
                    b = wake
                        .wait_timeout_while(b, FLUSH_EVERY, |b| {
                            b.data.len() < BATCH_BYTES && !b.stop
                        })
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                b.flusher = Flusher::Busy;
                b.stop
            };
            self.flush();
            if stop {
                return;
            }
        }
    }

    /// Writes out everything buffered now, on the calling thread. The
    /// output lock is taken before the buffer's, so batches are written in
    /// the order they were taken. Output errors are not reported anywhere
    /// else: the log is where they would go.
    pub fn flush(&self) {
        let mut out = lock(&self.shared.out);
        let out = &mut *out;
        std::mem::swap(&mut lock(&self.shared.buf).data, &mut out.batch);
        if !out.batch.is_empty() {
            let _ = out.writer.write_all(&out.batch);
            let _ = out.writer.flush();
        }
        out.batch.clear();
        out.batch.shrink_to(KEEP_CAPACITY);
    }

    fn append(&self, line: &[u8]) {
        let mut b = lock(&self.shared.buf);
        if b.data.len() + line.len() > MAX_BUFFERED {
            // Back-pressure: the output is behind; write the backlog here,
            // in order (the output lock is taken before the buffer is).
            drop(b);
            self.flush();
            b = lock(&self.shared.buf);
        }
        b.data.extend_from_slice(line);
        let wake = match b.flusher {
            Flusher::Idle => true,
            Flusher::Gathering => b.data.len() >= BATCH_BYTES,
            Flusher::Busy => false,
        };
        if wake {
            b.flusher = Flusher::Busy;
            // Woken outside the lock, so that the woken flusher and the
            // other writers do not find it held for a syscall.
            drop(b);
            self.shared.wake.notify_one();
        }
    }
}

impl Drop for SinkGuard {
    fn drop(&mut self) {
        lock(&self.sink.shared.buf).stop = true;
        self.sink.shared.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.sink.flush();
    }
}

/// One event's writer: the formatter writes a whole line at once.
#[derive(Debug)]
pub struct LineWriter<'a> {
    sink: &'a LogSink,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sink.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogSink {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter { sink: self }
    }
}

#[cfg(test)]
mod tests;
