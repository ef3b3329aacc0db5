//! Where log lines go: stdout through a batching background thread, errors straight to stderr.
//!
//! Under load the handler logs one line per event. Writing each line to stdout costs a `write(2)`
//! under std's global stdout lock, contended by every worker thread; measured, that was a tenth of the
//! handler's CPU (BENCHMARKS.md). Here a request thread only copies its line into a shared buffer; a
//! background thread writes whatever has gathered in one `write(2)`. Nothing is dropped: when the
//! buffer holds [`MAX_PENDING`] bytes because stdout is not being read, request threads wait, as they
//! would on a blocking write. Idle, the thread sleeps without waking up; [`LogGuard`] flushes the rest
//! at exit.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// A destination for finished log lines (each ends with `\n`).
pub trait LineSink: Send + Sync + 'static {
    /// Writes one line; `error` lines go where the host reads errors.
    fn write_line(&self, line: &[u8], error: bool);
}

/// Discards every line: for benchmarks that measure formatting alone.
#[derive(Debug, Default, Clone, Copy)]
pub struct Discard;

impl LineSink for Discard {
    fn write_line(&self, _line: &[u8], _error: bool) {}
}

/// Stdout and stderr written directly by the thread that logs, line by line: for AWS Lambda, which
/// freezes the process as soon as an invocation is answered, so a line still waiting in a buffer would
/// only reach CloudWatch at the next invocation, or never.
#[derive(Debug, Default, Clone, Copy)]
pub struct DirectStdio;

impl LineSink for DirectStdio {
    fn write_line(&self, line: &[u8], error: bool) {
        let _ = if error {
            std::io::stderr().lock().write_all(line)
        } else {
            std::io::stdout().lock().write_all(line)
        };
    }
}

/// How long the writer thread lets lines gather after the first one arrives.
const GATHER: Duration = Duration::from_millis(5);
/// Pending bytes at which the writer is woken at once.
const FLUSH_AT: usize = 64 * 1024;
/// Pending bytes at which request threads wait for the writer.
pub const MAX_PENDING: usize = 1024 * 1024;

#[derive(Default)]
struct State {
    pending: Vec<u8>,
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when the first bytes arrive, when `FLUSH_AT` is crossed, and at close.
    work: Condvar,
    /// Signalled after each write, for request threads waiting on a full buffer.
    room: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave `State` inconsistent (it only appends bytes).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Stdout written in batches by a background thread; stderr written directly.
#[derive(Clone)]
pub struct BatchedStdout {
    shared: Arc<Shared>,
}

/// Flushes and stops the writer thread when dropped: keep it alive for as long as the process logs.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl BatchedStdout {
    /// Starts the writer thread over `out` (stdout in the handler; anything in tests).
    pub fn start<W: Write + Send + 'static>(out: W) -> (Self, LogGuard) {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            room: Condvar::new(),
        });
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name("log-writer".to_owned())
            .spawn(move || write_loop(&for_thread, out))
            .ok();
        if thread.is_none() {
            // No thread: lines are written by the request threads themselves (see `write_line`).
            shared.lock().closed = true;
        }
        (
            Self {
                shared: shared.clone(),
            },
            LogGuard { shared, thread },
        )
    }
}

impl LineSink for BatchedStdout {
    fn write_line(&self, line: &[u8], error: bool) {
        if error {
            let _ = std::io::stderr().lock().write_all(line);
            return;
        }
        let mut state = self.shared.lock();
        while state.pending.len() >= MAX_PENDING && !state.closed {
            state = self
                .shared
                .room
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.closed {
            // After the guard is gone (or without a thread), write synchronously.
            drop(state);
            let _ = std::io::stdout().lock().write_all(line);
            return;
        }
        let was_empty = state.pending.is_empty();
        state.pending.extend_from_slice(line);
        let full = state.pending.len() >= FLUSH_AT;
        drop(state);
        if was_empty || full {
            self.shared.work.notify_one();
        }
    }
}

fn write_loop<W: Write>(shared: &Shared, mut out: W) {
    let mut batch = Vec::with_capacity(FLUSH_AT);
    loop {
        let mut state = shared.lock();
        while state.pending.is_empty() && !state.closed {
            state = shared
                .work
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if !state.closed && state.pending.len() < FLUSH_AT {
            // Let the lines of concurrent requests gather into one write.
            state = shared
                .work
                .wait_timeout(state, GATHER)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        std::mem::swap(&mut state.pending, &mut batch);
        let closed = state.closed;
        drop(state);
        shared.room.notify_all();
        if !batch.is_empty() {
            // A broken stdout (the host went away) must not stop request threads: the bytes are dropped.
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            batch.clear();
        }
        if closed && shared.lock().pending.is_empty() {
            return;
        }
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.work.notify_one();
        self.shared.room.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let (sink, guard) = BatchedStdout::start(capture.clone());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..5_000 {
                        sink.write_line(format!("{t} {i}\n").as_bytes(), false);
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
        let (sink, guard) = BatchedStdout::start(Gate(gate.clone(), capture.clone()));
        let line = vec![b'x'; 1023]
            .into_iter()
            .chain([b'\n'])
            .collect::<Vec<u8>>();
        let writer = {
            let sink = sink.clone();
            let line = line.clone();
            std::thread::spawn(move || {
                for _ in 0..3 * 1024 {
                    sink.write_line(&line, false);
                }
            })
        };
        std::thread::sleep(Duration::from_millis(300));
        let pending = sink.shared.lock().pending.len();
        assert!(pending <= MAX_PENDING, "{pending} bytes pending");
        assert!(!writer.is_finished(), "the writer waits for room");
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        writer.join().unwrap();
        drop(guard);
        assert_eq!(capture.0.lock().unwrap().0.len(), 3 * 1024 * 1024);
    }
}
