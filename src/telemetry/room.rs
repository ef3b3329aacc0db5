//! The log writer's queue bound ([`Room`]) and its count of dropped lines ([`Drops`]), shared by
//! the logging threads and a stream's writer thread (`writer.rs` says how they are used).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// What the logging threads and the writer thread share.
#[derive(Default)]
pub(super) struct Drops {
    /// Lines dropped since the last warning.
    pub(super) count: AtomicU64,
    /// Set when a wait for room ran out; cleared when the writer takes a line again. While it is set,
    /// a full queue drops a line at once instead of waiting again.
    pub(super) stalled: AtomicBool,
}

/// The queue's bound: how many lines are queued, and a condition a logging thread waits on for room.
///
/// The channel itself is crossbeam's unbounded one, whose slots come in blocks as lines arrive and go
/// when they are taken; its bounded channel allocates and writes every slot when it is created: for
/// stdout's 4,096 lines, 128 KiB and 32 page faults before the first request (BENCHMARKS.md).
pub(super) struct Room {
    capacity: usize,
    pub(super) queued: AtomicUsize,
    /// Logging threads waiting in [`Room::wait_take`]: the writer signals only when there are some.
    waiting: AtomicUsize,
    lock: Mutex<()>,
    freed: Condvar,
}

impl Room {
    pub(super) fn new(capacity: usize) -> Self {
        Room {
            capacity,
            queued: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            lock: Mutex::new(()),
            freed: Condvar::new(),
        }
    }

    /// Takes a place in the queue if there is one.
    pub(super) fn try_take(&self) -> bool {
        self.queued
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |queued| {
                (queued < self.capacity).then_some(queued + 1)
            })
            .is_ok()
    }

    /// Takes a place, waiting up to `wait` for one.
    pub(super) fn wait_take(&self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        // Counted before the check, under the lock: a writer that frees a place after the check sees
        // the count and signals, and cannot signal before this thread waits (it takes the lock first).
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let taken = loop {
            if self.try_take() {
                break true;
            }
            let now = Instant::now();
            if now >= deadline {
                break false;
            }
            guard = self
                .freed
                .wait_timeout(guard, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        };
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        taken
    }

    /// The writer took a line: its place is free.
    pub(super) fn release(&self) {
        self.queued.fetch_sub(1, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.freed.notify_all();
        }
    }
}
