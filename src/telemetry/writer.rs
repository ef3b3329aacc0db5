//! Where log lines go: stdout through `tracing-appender`'s non-blocking writer, errors straight to
//! stderr.
//!
//! Under load the handler logs lines from every worker thread. Writing each line to stdout costs a
//! `write(2)` under std's global stdout lock, contended by every worker thread; measured, that was a
//! tenth of the handler's CPU (BENCHMARKS.md). Here a request thread only hands its line (one `Vec`)
//! to a channel; the writer thread copies whatever has arrived into a [`BUFFER`]-byte `BufWriter`
//! and flushes it with one `write(2)` when the channel is empty, so concurrent lines share a write.
//!
//! **Lossless**: the writer is built with `lossy(false)`. When [`QUEUED_LINES`] lines are waiting
//! (stdout is not being read), `tracing-appender` blocks the logging thread in the channel's `send`
//! until the writer takes a line, as a blocking write would: nothing is dropped, and memory stays
//! bounded. The channel's slots are allocated when it is created (32 bytes each: 128 KiB here; the
//! crate's default of 128,000 lines would be 4 MiB of resident memory from the first instant), and
//! the queued lines themselves are typically 300 to 600 bytes (about 2 MiB when the queue is full).
//!
//! **At exit**: dropping the `WorkerGuard` queues a shutdown behind the lines already sent; the writer
//! writes and flushes them all, and the guard waits for that up to one second (`tracing-appender`'s
//! bound, so a stalled stdout cannot hang the exit).

use std::io::{BufWriter, Write};
use tracing::Level;
use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::fmt::writer::{MakeWriterExt, OrElse, WithMaxLevel};
use tracing_subscriber::fmt::MakeWriter;

/// Lines that may wait for the writer thread before a logging thread blocks.
pub const QUEUED_LINES: usize = 4096;
/// The writer thread's buffer: lines gathered into one `write(2)`.
pub const BUFFER: usize = 64 * 1024;

/// Stdout written by a background thread named `log-writer`; the guard flushes it at exit.
pub fn stdout() -> (NonBlocking, WorkerGuard) {
    non_blocking(std::io::stdout())
}

/// The lossless non-blocking writer over `out` (stdout in the handler; anything in tests).
pub fn non_blocking<W: Write + Send + 'static>(out: W) -> (NonBlocking, WorkerGuard) {
    NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("log-writer")
        .finish(BufWriter::with_capacity(BUFFER, out))
}

/// Error lines to `errors` (stderr: the host logs them as errors), the others to `rest`.
pub fn errors_apart<E, R>(errors: E, rest: R) -> OrElse<WithMaxLevel<E>, R>
where
    E: for<'w> MakeWriter<'w>,
    R: for<'w> MakeWriter<'w>,
{
    errors.with_max_level(Level::ERROR).or_else(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Condvar, Mutex};
    use std::time::Duration;

    /// A `Write` whose bytes the test can read, counting the writes.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut inner = self.0.lock().unwrap();
            inner.0.extend_from_slice(buf);
            inner.1 += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_arrives_in_order_and_the_guard_flushes_the_rest() {
        let capture = Capture::default();
        let (sink, guard) = non_blocking(capture.clone());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..5_000 {
                        sink.write_all(format!("{t} {i}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(guard);
        let (bytes, writes) = capture.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        let mut next = [0usize; 4];
        for line in text.lines() {
            let (t, i) = line.split_once(' ').unwrap();
            let (t, i): (usize, usize) = (t.parse().unwrap(), i.parse().unwrap());
            assert_eq!(i, next[t], "thread {t}'s lines stay in order");
            next[t] += 1;
        }
        assert_eq!(next, [5_000; 4], "no line is lost");
        assert!(writes < 20_000, "lines are batched: {writes} writes");
    }

    #[test]
    fn a_stalled_stdout_makes_writers_wait_instead_of_growing_or_dropping() {
        /// Blocks every write until the test opens the gate.
        struct Gate(Arc<(Mutex<bool>, Condvar)>, Capture);
        impl Write for Gate {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                let (open, cv) = &*self.0;
                let mut open = open.lock().unwrap();
                while !*open {
                    open = cv.wait(open).unwrap();
                }
                self.1.write(buf)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let capture = Capture::default();
        let (sink, guard) = non_blocking(Gate(gate.clone(), capture.clone()));
        let line = vec![b'x'; 1023]
            .into_iter()
            .chain([b'\n'])
            .collect::<Vec<u8>>();
        let total = 3 * QUEUED_LINES;
        let sent = Arc::new(AtomicUsize::new(0));
        let writer = {
            let mut sink = sink.clone();
            let (line, sent) = (line.clone(), sent.clone());
            std::thread::spawn(move || {
                for _ in 0..total {
                    sink.write_all(&line).unwrap();
                    sent.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        std::thread::sleep(Duration::from_millis(300));
        // Held: the queue, what the writer's buffer took before it blocked, and the line in hand.
        let held = sent.load(Ordering::SeqCst);
        let bound = QUEUED_LINES + BUFFER / line.len() + 2;
        assert!(
            held <= bound,
            "{held} lines taken, at most {bound} may wait"
        );
        assert!(!writer.is_finished(), "the writer waits for room");
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        writer.join().unwrap();
        drop(guard);
        assert_eq!(capture.0.lock().unwrap().0.len(), total * 1024);
    }
}
