//! Unit tests of the non-blocking log sink.
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
    let most = elapsed.as_millis() / FLUSH_EVERY.as_millis() + 200_000 / BATCH_BYTES as u128 + 2;
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
