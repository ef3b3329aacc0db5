//! Where log lines go: stdout and stderr, each through a bounded queue to its own writer thread, so a
//! request thread never waits for a pipe for more than [`WAIT`].
//!
//! Under load the handler logs lines from every worker thread. Writing each line to stdout costs a
//! `write(2)` under std's global stdout lock, contended by every worker thread; measured, that was a
//! tenth of the handler's CPU (BENCHMARKS.md). Here a request thread only hands its line (one `Vec`)
//! to a channel; the writer thread gathers whatever has arrived, up to [`BUFFER`] bytes, and writes it
//! with one `write(2)` when the channel is empty, so concurrent lines share a write.
//!
//! **Back-pressure, bounded**: when the queue is full (the stream is not being read), the logging
//! thread waits up to [`WAIT`] for room, so an ordinary burst loses nothing. If there is still no room,
//! the line is dropped and counted, and until the writer thread takes a line again every further line
//! that finds the queue full is dropped at once: a stalled pipe costs a tokio worker one [`WAIT`], never
//! the runtime. When the writer takes a line again (the stream is being read) or at exit, it first
//! writes one warning with the count (`N log lines were dropped: stdout was not being read`).
//! `tracing-appender`'s writer, used before, offers only the two extremes: lossless blocks the thread
//! for as long as the pipe is full (every invocation stopped after about 2,000 requests with stdout
//! unread), lossy drops the moment the queue is full, even for a burst the writer would absorb in
//! microseconds. This file is that writer with a bounded wait, on `crossbeam-channel` as
//! `tracing-appender` itself uses (its unbounded channel, with the bound kept here: [`Room`]).
//!
//! **Write errors** (a closed stdout: `EPIPE`) drop the lines silently: there is nowhere to report
//! them, and the process must not panic or stop for it.
//!
//! **Memory and threads**: until the application is serving ([`serving`]), a stream's lines are
//! written by the thread that logs them, as they come. The few lines of start-up (the hooks file, the
//! address) need no thread, and a thread is a clone, a stack and its page faults before the first
//! answer (BENCHMARKS.md); no request is being served yet, so no worker can be held by a slow pipe
//! (and a pipe just opened has room for far more than those lines). Once serving, nothing is
//! allocated and no thread started until a stream's next line: stderr's, usually never; under the
//! Functions host, stdout's often not before shutdown, since hook lines go to the invocation's
//! `Logs`. The channel's slots come in blocks as lines arrive and go as they are taken. The queued
//! lines themselves are typically 300 to 600 bytes (about 2 MiB when stdout's [`QUEUED_LINES`] are
//! queued; errors are rare, so stderr's queue is [`QUEUED_ERROR_LINES`]).
//!
//! **At exit**: dropping the [`Guard`] queues a flush behind the lines already sent; the writer
//! writes them all (and the drop warning, if any), and the guard waits for that up to one second, so a
//! stalled stdout cannot hang the exit.

use super::room::{Drops, Room};
use crossbeam_channel::{Receiver, Sender};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;
use tracing::Level;
use tracing_subscriber::fmt::writer::{MakeWriterExt, OrElse, WithMaxLevel};
use tracing_subscriber::fmt::MakeWriter;

/// Lines that may wait for stdout's writer thread before a logging thread waits.
pub const QUEUED_LINES: usize = 4096;
/// Lines that may wait for stderr's writer thread (error lines: rare).
pub const QUEUED_ERROR_LINES: usize = 256;
/// The writer thread's buffer: lines gathered into one `write(2)`.
pub const BUFFER: usize = 64 * 1024;
/// How long a logging thread waits for room in a full queue before its line is dropped.
pub const WAIT: Duration = Duration::from_millis(100);
/// How long the exit waits for the writer to write what was queued.
const EXIT_WAIT: Duration = Duration::from_secs(1);

/// Writes the drop warning for `dropped` lines of `stream` as one line in the output's format.
pub type Warning = fn(stream: &str, dropped: u64) -> Vec<u8>;

enum Message {
    Line(Vec<u8>),
    /// Write everything queued before it, then answer.
    Flush(Sender<()>),
}

/// Set by [`serving`]: from then on, the streams' lines go through their writer threads.
static SERVING: AtomicBool = AtomicBool::new(false);

/// Called once the application serves: from now on a logging thread (a tokio worker) must not wait
/// for a pipe, so lines are queued to the writer threads. Before, they are written directly.
pub fn serving() {
    SERVING.store(true, Ordering::SeqCst);
}

/// A stream's writer before its thread starts: it writes lines directly, then becomes the thread.
trait Output: Send {
    /// Writes one line now (start-up); an error (a closed stream) drops it silently.
    fn write_now(&mut self, line: &[u8]);
    /// Starts the writer thread over the channel's receiving end. A thread that cannot start leaves
    /// the channel without a reader: its sends fail, and the lines are counted as dropped.
    fn start(self: Box<Self>, taken: Receiver<Message>);
}

/// What a stream's logging side and its guard share.
struct Shared {
    /// The channel to the writer thread, opened with the first line once serving: a stream nothing
    /// is written to then (stderr, usually) costs no thread.
    lines: OnceLock<Sender<Message>>,
    /// The writer, until its thread starts.
    writer: Mutex<Option<Box<dyn Output>>>,
    /// Whether lines are queued yet ([`SERVING`]; a test's own flag in the tests).
    serving: &'static AtomicBool,
    room: Arc<Room>,
    drops: Arc<Drops>,
}

impl Shared {
    fn lines(&self) -> &Sender<Message> {
        self.lines.get_or_init(|| {
            let (lines, taken) = crossbeam_channel::unbounded();
            let writer = self
                .writer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(writer) = writer {
                writer.start(taken);
            }
            lines
        })
    }

    /// Writes `line` directly if the application is not serving yet; gives it back otherwise.
    ///
    /// Under the lock that also hands the writer to its thread, so a line written directly always
    /// precedes the queued ones.
    fn write_before_serving(&self, line: Vec<u8>) -> Option<Vec<u8>> {
        if self.serving.load(Ordering::SeqCst) {
            return Some(line);
        }
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        match writer.as_mut() {
            Some(writer) => {
                writer.write_now(&line);
                None
            }
            None => Some(line),
        }
    }
}

/// The logging side: a `MakeWriter` whose writes queue one line each.
#[derive(Clone)]
pub struct Queue {
    shared: Arc<Shared>,
}

impl Queue {
    fn push(&self, line: Vec<u8>) {
        let shared = &self.shared;
        let Some(line) = shared.write_before_serving(line) else {
            return;
        };
        let placed = shared.room.try_take()
            || (!shared.drops.stalled.load(Ordering::Relaxed) && shared.room.wait_take(WAIT));
        // Unbounded: a send fails only when the writer thread is gone (it could not start), and then
        // the place is given back.
        let sent = placed
            && match shared.lines().send(Message::Line(line)) {
                Ok(()) => true,
                Err(_) => {
                    shared.room.release();
                    false
                }
            };
        if !sent {
            shared.drops.count.fetch_add(1, Ordering::Relaxed);
            shared.drops.stalled.store(true, Ordering::Relaxed);
        }
    }
}

impl Write for &Queue {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.push(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Queue {
    type Writer = &'a Queue;
    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

/// Flushes the writer thread when dropped (at exit), waiting up to one second.
#[must_use = "dropping it flushes the log writer"]
pub struct Guard {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Guard")
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // A stream never written to has no thread to flush.
        let Some(lines) = self.shared.lines.get() else {
            return;
        };
        let (done, wait) = crossbeam_channel::bounded(1);
        if lines.send(Message::Flush(done)).is_ok() {
            let _ = wait.recv_timeout(EXIT_WAIT);
        }
    }
}

/// Stdout, written directly until [`serving`], then by a thread named `log-writer`.
pub fn stdout(warning: Warning) -> (Queue, Guard) {
    queue(std::io::stdout(), "stdout", QUEUED_LINES, warning, &SERVING)
}

/// Stderr, written directly until [`serving`], then by a thread named `log-writer-err`.
pub fn stderr(warning: Warning) -> (Queue, Guard) {
    queue(
        std::io::stderr(),
        "stderr",
        QUEUED_ERROR_LINES,
        warning,
        &SERVING,
    )
}

/// For the tests of the queue itself: serving from the start, so every line is queued.
#[cfg(test)]
pub(super) static SERVING_FROM_THE_START: AtomicBool = AtomicBool::new(true);

/// A queue of `capacity` lines to a thread writing them to `out` (named `stream` in the warning),
/// started by the first line after `serving` is set; before, lines are written directly.
pub(super) fn queue<W: Write + Send + 'static>(
    out: W,
    stream: &'static str,
    capacity: usize,
    warning: Warning,
    serving: &'static AtomicBool,
) -> (Queue, Guard) {
    let room = Arc::new(Room::new(capacity));
    let drops = Arc::new(Drops::default());
    let writer = Writer {
        out,
        buffer: Vec::new(),
        drops: drops.clone(),
        room: room.clone(),
        stream,
        warning,
    };
    let shared = Arc::new(Shared {
        lines: OnceLock::new(),
        writer: Mutex::new(Some(Box::new(writer))),
        serving,
        room,
        drops,
    });
    (
        Queue {
            shared: shared.clone(),
        },
        Guard { shared },
    )
}

/// The writer thread's state.
struct Writer<W> {
    out: W,
    buffer: Vec<u8>,
    drops: Arc<Drops>,
    room: Arc<Room>,
    stream: &'static str,
    warning: Warning,
}

impl<W: Write + Send + 'static> Output for Writer<W> {
    fn write_now(&mut self, line: &[u8]) {
        self.buffer.extend_from_slice(line);
        self.write_out();
    }

    fn start(self: Box<Self>, taken: Receiver<Message>) {
        let name = match self.stream {
            "stderr" => "log-writer-err",
            _ => "log-writer",
        };
        let writer = *self;
        let _ = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || writer.run(taken));
    }
}

impl<W: Write> Writer<W> {
    /// Until every sender is gone: takes what has arrived, writes it when the channel is empty or the
    /// buffer is full.
    fn run(mut self, taken: Receiver<Message>) {
        while let Ok(message) = taken.recv() {
            let mut next = Some(message);
            while let Some(message) = next {
                match message {
                    Message::Line(line) => {
                        self.room.release();
                        self.note_drops();
                        self.buffer.extend_from_slice(&line);
                        if self.buffer.len() >= BUFFER {
                            self.write_out();
                        }
                    }
                    Message::Flush(done) => {
                        self.note_drops();
                        self.write_out();
                        let _ = done.send(());
                    }
                }
                next = taken.try_recv().ok();
            }
            self.write_out();
        }
    }

    /// The writer took a line, so the stream is read again: a logging thread may wait again, and the
    /// lines dropped meanwhile are reported before it.
    fn note_drops(&mut self) {
        if self.drops.stalled.load(Ordering::Relaxed) {
            self.drops.stalled.store(false, Ordering::Relaxed);
        }
        if self.drops.count.load(Ordering::Relaxed) > 0 {
            let dropped = self.drops.count.swap(0, Ordering::Relaxed);
            let warning = (self.warning)(self.stream, dropped);
            self.buffer.extend_from_slice(&warning);
        }
    }

    /// Writes the buffer; an error (a closed stream) drops it silently.
    fn write_out(&mut self) {
        if !self.buffer.is_empty() {
            let _ = self
                .out
                .write_all(&self.buffer)
                .and_then(|()| self.out.flush());
            self.buffer.clear();
        }
    }
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
    use std::sync::{Condvar, Mutex};
    use std::time::Instant;

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

    impl Capture {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().0.clone()).unwrap()
        }
    }

    /// Blocks every write until the test opens the gate.
    struct Gate(Arc<(Mutex<bool>, Condvar)>, Capture);

    impl Gate {
        fn open(gate: &(Mutex<bool>, Condvar)) {
            *gate.0.lock().unwrap() = true;
            gate.1.notify_all();
        }
    }

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

    /// A queue that is serving from the start: every line goes through the writer thread.
    fn queued<W: Write + Send + 'static>(
        out: W,
        stream: &'static str,
        capacity: usize,
    ) -> (Queue, Guard) {
        queue(out, stream, capacity, warning, &SERVING_FROM_THE_START)
    }

    fn warning(stream: &str, dropped: u64) -> Vec<u8> {
        format!("dropped {dropped} {stream}\n").into_bytes()
    }

    fn line(fill: u8) -> Vec<u8> {
        let mut line = vec![fill; 1023];
        line.push(b'\n');
        line
    }

    #[test]
    fn every_line_arrives_in_order_and_the_guard_flushes_the_rest() {
        let capture = Capture::default();
        let (sink, guard) = queued(capture.clone(), "stdout", QUEUED_LINES);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..5_000 {
                        (&sink).write_all(format!("{t} {i}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(guard);
        let writes = capture.0.lock().unwrap().1;
        let mut next = [0usize; 4];
        for line in capture.text().lines() {
            let (t, i) = line.split_once(' ').unwrap();
            let (t, i): (usize, usize) = (t.parse().unwrap(), i.parse().unwrap());
            assert_eq!(i, next[t], "thread {t}'s lines stay in order");
            next[t] += 1;
        }
        assert_eq!(next, [5_000; 4], "no line is lost");
        assert!(writes < 20_000, "lines are batched: {writes} writes");
    }

    #[test]
    fn a_burst_the_writer_absorbs_within_the_wait_loses_nothing() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let capture = Capture::default();
        let (sink, guard) = queued(Gate(gate.clone(), capture.clone()), "stdout", 64);
        let opener = {
            let gate = gate.clone();
            std::thread::spawn(move || {
                std::thread::sleep(WAIT / 5);
                Gate::open(&gate);
            })
        };
        let total = 3 * (64 + BUFFER / 1024);
        for _ in 0..total {
            (&sink).write_all(&line(b'x')).unwrap();
        }
        opener.join().unwrap();
        drop(guard);
        let text = capture.text();
        assert!(!text.contains("dropped"), "nothing is dropped");
        assert_eq!(text.len(), total * 1024);
    }

    #[test]
    fn a_stalled_stream_costs_one_wait_then_drops_and_reports_the_count() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let capture = Capture::default();
        let (sink, guard) = queued(Gate(gate.clone(), capture.clone()), "stdout", 64);
        let total = 3 * QUEUED_LINES;
        let started = Instant::now();
        for _ in 0..total {
            (&sink).write_all(&line(b'x')).unwrap();
        }
        let took = started.elapsed();
        // One wait for the first line that found no room; the others are dropped at once.
        assert!(took >= WAIT && took < 10 * WAIT, "{took:?}");
        Gate::open(&gate);
        // The writer takes the queued lines (and so ends the stall).
        let busy = || {
            sink.shared.room.queued.load(Ordering::SeqCst) > 0
                || sink.shared.drops.stalled.load(Ordering::SeqCst)
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while busy() && Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert!(
            !busy(),
            "the writer took the queued lines and the stall ended"
        );
        (&sink).write_all(&line(b'y')).unwrap();
        drop(guard);
        let text = capture.text();
        let warnings: Vec<&str> = text.lines().filter(|l| l.starts_with("dropped")).collect();
        assert_eq!(warnings.len(), 1, "one warning: {warnings:?}");
        let dropped: usize = warnings[0]
            .trim_start_matches("dropped ")
            .trim_end_matches(" stdout")
            .parse()
            .unwrap();
        let written = text.lines().filter(|l| l.starts_with('x')).count();
        assert_eq!(written + dropped, total, "every line is written or counted");
        assert!(dropped > 0);
        assert!(
            text.ends_with(&String::from_utf8(line(b'y')).unwrap()),
            "writing resumes"
        );
        // The warning comes before the lines written after the stall.
        let at = text.find("dropped").unwrap();
        assert!(at < text.find('y').unwrap());
    }

    #[test]
    fn lines_before_serving_are_written_at_once_by_the_logging_thread_then_queued_in_order() {
        static SERVING: AtomicBool = AtomicBool::new(false);
        let capture = Capture::default();
        let (sink, guard) = queue(capture.clone(), "stdout", QUEUED_LINES, warning, &SERVING);
        for i in 0..3 {
            (&sink)
                .write_all(format!("start {i}\n").as_bytes())
                .unwrap();
        }
        assert_eq!(
            capture.text(),
            "start 0\nstart 1\nstart 2\n",
            "written as logged"
        );
        assert!(sink.shared.lines.get().is_none(), "no channel, no thread");
        SERVING.store(true, Ordering::SeqCst);
        for i in 0..3 {
            (&sink)
                .write_all(format!("served {i}\n").as_bytes())
                .unwrap();
        }
        assert!(
            sink.shared.lines.get().is_some(),
            "queued to the writer thread"
        );
        drop(guard);
        assert_eq!(
            capture.text(),
            "start 0\nstart 1\nstart 2\nserved 0\nserved 1\nserved 2\n"
        );
    }

    #[test]
    fn a_stream_never_written_to_starts_no_thread_and_its_guard_returns_at_once() {
        let capture = Capture::default();
        let (sink, guard) = queued(capture.clone(), "stderr", QUEUED_ERROR_LINES);
        assert!(sink.shared.lines.get().is_none(), "no channel, no thread");
        let started = Instant::now();
        drop(guard);
        assert!(started.elapsed() < WAIT);
        assert!(capture.text().is_empty());
    }

    #[test]
    fn the_first_line_starts_the_writer_and_the_bound_counts_queued_lines_only() {
        let capture = Capture::default();
        let (sink, guard) = queued(capture.clone(), "stdout", 2);
        // Far more lines than the bound, one at a time: each is taken before the next, so none waits
        // for long and none is dropped.
        for i in 0..100 {
            (&sink).write_all(format!("{i}\n").as_bytes()).unwrap();
            while sink.shared.room.queued.load(Ordering::SeqCst) > 0 {
                std::thread::yield_now();
            }
        }
        drop(guard);
        assert_eq!(capture.text().lines().count(), 100);
        assert_eq!(sink.shared.drops.count.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn lines_for_a_writer_that_could_not_start_are_counted_and_give_their_place_back() {
        let (sink, guard) = queued(Capture::default(), "stdout", 4);
        // As if the thread could not be spawned: nobody takes the channel's receiving end.
        drop(sink.shared.writer.lock().unwrap().take());
        let started = Instant::now();
        for _ in 0..20 {
            (&sink).write_all(&line(b'x')).unwrap();
        }
        assert!(
            started.elapsed() < WAIT,
            "no line waits for a writer that is not there"
        );
        assert_eq!(sink.shared.drops.count.load(Ordering::Relaxed), 20);
        assert_eq!(sink.shared.room.queued.load(Ordering::SeqCst), 0);
        drop(guard);
    }

    #[test]
    fn a_closed_stream_drops_lines_silently() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let (sink, guard) = queued(Closed, "stdout", 64);
        let started = Instant::now();
        for _ in 0..10_000 {
            (&sink).write_all(&line(b'x')).unwrap();
        }
        drop(guard);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
