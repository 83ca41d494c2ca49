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
mod tests {
    use super::*;

    /// An output the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn text(c: &Captured) -> String {
        String::from_utf8(lock(&c.0).clone()).unwrap()
    }

    #[test]
    fn lines_arrive_in_order_and_the_guard_flushes_the_rest() {
        let out = Captured::default();
        let (sink, guard) = LogSink::new(Box::new(out.clone())).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    use tracing_subscriber::fmt::MakeWriter as _;
                    for i in 0..5_000 {
                        // One write per line, as the formatter does.
                        let line = format!("{t} {i}\n");
                        sink.make_writer().write_all(line.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(guard);
        let got = text(&out);
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(lines.len(), 20_000, "every line written exactly once");
        for t in 0..4 {
            let mine: Vec<usize> = lines
                .iter()
                .filter_map(|l| l.strip_prefix(&format!("{t} ")))
                .map(|i| i.parse().unwrap())
                .collect();
            assert_eq!(mine, (0..5_000).collect::<Vec<_>>(), "thread {t} in order");
        }
    }

    #[test]
    fn a_lone_line_is_written_without_waiting_for_a_full_batch() {
        let out = Captured::default();
        let (sink, _guard) = LogSink::new(Box::new(out.clone())).unwrap();
        sink.append(b"hello\n");
        // The flusher writes within FLUSH_EVERY; wait for it, bounded.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while text(&out).is_empty() {
            assert!(std::time::Instant::now() < deadline, "line never flushed");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(text(&out), "hello\n");
    }

    #[test]
    fn a_steady_trickle_is_written_in_batches_not_line_by_line() {
        // A slowish output (1 ms a write, as a busy disk) counting its
        // writes: lines keep arriving while a batch is written.
        #[derive(Clone, Default)]
        struct Counting(Arc<Mutex<(usize, usize)>>);
        impl Write for Counting {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                std::thread::sleep(Duration::from_millis(1));
                let mut c = lock(&self.0);
                c.0 += 1;
                c.1 += buf.len();
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let out = Counting::default();
        let (sink, guard) = LogSink::new(Box::new(out.clone())).unwrap();
        let line = [b'x'; 99];
        let started = std::time::Instant::now();
        for _ in 0..2_000 {
            sink.append(&line);
            sink.append(b"\n");
            std::thread::sleep(Duration::from_micros(100));
        }
        let elapsed = started.elapsed();
        drop(guard);
        let (writes, bytes) = *lock(&out.0);
        assert_eq!(bytes, 200_000, "every byte written once");
        // One batch per FLUSH_EVERY, one per BATCH_BYTES, the guard's last:
        // however slowly this machine runs the loop. (A flusher that
        // rewrote whatever it found at once would make a write every few
        // lines here.)
        let most =
            elapsed.as_millis() / FLUSH_EVERY.as_millis() + 200_000 / BATCH_BYTES as u128 + 2;
        assert!(
            (writes as u128) <= most,
            "{writes} writes in {elapsed:?} (at most {most})"
        );
    }

    #[test]
    fn a_stalled_output_applies_back_pressure_instead_of_growing() {
        // An output that blocks until released. While it is closed, the
        // sink may hold at most MAX_BUFFERED in its buffer plus one batch in
        // the blocked write: a writer offering four times that must stall.
        struct Gate(Arc<(Mutex<bool>, Condvar)>, Captured);
        impl Write for Gate {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                let (open, cv) = &*self.0;
                let mut o = lock(open);
                while !*o {
                    o = cv.wait(o).unwrap_or_else(PoisonError::into_inner);
                }
                self.1.write(buf)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let out = Captured::default();
        let (sink, guard) = LogSink::new(Box::new(Gate(gate.clone(), out.clone()))).unwrap();
        let lines = 4 * MAX_BUFFERED / 1024;
        let appended = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let writer = {
            let sink = sink.clone();
            let appended = appended.clone();
            std::thread::spawn(move || {
                let mut line = vec![b'x'; 1023];
                line.push(b'\n');
                for _ in 0..lines {
                    sink.append(&line);
                    appended.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            })
        };
        // Observe until the writer stops making progress (bounded), then
        // open the gate *before* asserting, so a failure cannot hang.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut max_len = 0;
        let (mut last, mut still) = (usize::MAX, 0);
        while still < 20 && std::time::Instant::now() < deadline && !writer.is_finished() {
            max_len = max_len.max(lock(&sink.shared.buf).data.len());
            let now = appended.load(std::sync::atomic::Ordering::SeqCst);
            if now == last {
                still += 1;
            } else {
                (last, still) = (now, 0);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let stalled = !writer.is_finished();
        let accepted = appended.load(std::sync::atomic::Ordering::SeqCst);
        {
            let (open, cv) = &*gate;
            *lock(open) = true;
            cv.notify_all();
        }
        writer.join().unwrap();
        drop(guard);
        assert!(stalled, "the writer must wait for a stalled output");
        assert!(
            max_len <= MAX_BUFFERED,
            "buffer grew past its bound: {max_len}"
        );
        assert!(
            accepted * 1024 <= 2 * MAX_BUFFERED + 1024,
            "accepted {accepted} KiB while the output was stalled"
        );
        assert_eq!(text(&out).len(), 4 * MAX_BUFFERED, "nothing lost");
    }
}
