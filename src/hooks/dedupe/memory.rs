//! The in-process store: right for one instance (and for `func start`); several instances need Redis.
//!
//! It holds at most `max_records` records (`AML_EVENTS_DEDUPE_MAX_RECORDS`). At the bound a new key
//! first makes room by dropping the oldest *done* record (the first to be completed, so, with one
//! TTL, the first to expire): the dedupe window shrinks under load instead of memory growing. A live
//! lease is never dropped, since that would let a duplicate run the hook concurrently. When only
//! live leases are left a new claim is still accepted, over the bound: refusing it would fail real
//! events (500s and redeliveries) while at-most-once holds either way, and leases are few (one per
//! hook in flight, each gone within the lease TTL); the next new key after one completes goes
//! back to the bound.

use super::{new_token, Claim, DedupeStore, Lease, StoreFuture};
use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

use crate::settings::DEFAULT_DEDUPE_MAX_RECORDS;

#[derive(Debug)]
enum State {
    InProgress(String),
    Done,
}

#[derive(Debug)]
struct Entry {
    state: State,
    expires: Instant,
    /// Which write made this entry, so an item of [`Table::done`] can tell whether it is current.
    stamp: u64,
}

/// Dedupe records in a map, expired lazily and bounded in number. A std mutex: it is held for a map
/// operation only, never across an `.await`.
#[derive(Debug)]
pub struct MemoryStore {
    table: Mutex<Table>,
}

/// The records and when to sweep the expired ones next.
#[derive(Debug)]
struct Table {
    entries: HashMap<String, Entry>,
    /// The done records as `(stamp, key)`, oldest first. An item whose entry was rewritten or removed
    /// since is stale: eviction skips it, and [`Table::insert`] compacts the queue when stale items
    /// outnumber the records.
    done: VecDeque<(u64, String)>,
    next_stamp: u64,
    max_records: usize,
    /// The size at which the next claim sweeps; 0 (at first) means [`SWEEP_MIN`].
    next_sweep: usize,
    /// New keys inserted since the last sweep (see [`Table::sweep_if_due`]).
    inserted: usize,
    /// How many sweeps ran, for the tests that pin the schedule.
    #[cfg(test)]
    sweeps: usize,
}

/// A map this small is never swept: expired records are replaced when their key comes back, and
/// the rest cost little.
const SWEEP_MIN: usize = 4096;

/// Whether `(stamp, key)` of [`Table::done`] is still the done record it was queued for.
fn current(entries: &HashMap<String, Entry>, stamp: u64, key: &str) -> bool {
    entries
        .get(key)
        .is_some_and(|e| e.stamp == stamp && matches!(e.state, State::Done))
}

impl Table {
    fn new(max_records: NonZeroUsize) -> Self {
        Self {
            entries: HashMap::new(),
            done: VecDeque::new(),
            next_stamp: 0,
            max_records: max_records.get(),
            next_sweep: 0,
            inserted: 0,
            #[cfg(test)]
            sweeps: 0,
        }
    }

    /// Drops expired records once the map has doubled since the last sweep (and holds at least
    /// [`SWEEP_MIN`]). A sweep visits every record, so sweeping at a size proportional to what the
    /// last one kept costs O(1) per claim, amortised, however many live records there are; the map
    /// stays within twice its live records (or [`SWEEP_MIN`]). At the bound the map cannot double,
    /// so there it also sweeps once half the bound's worth of new keys came in since the last
    /// sweep (still O(1) amortised): otherwise expired leases (of invocations cut off mid-way)
    /// would keep their places for good.
    fn sweep_if_due(&mut self, now: Instant) {
        let len = self.entries.len();
        let doubled = len >= self.next_sweep.max(SWEEP_MIN);
        let at_bound = len >= self.max_records && self.inserted >= (self.max_records / 2).max(1);
        if !doubled && !at_bound {
            return;
        }
        self.entries.retain(|_, e| e.expires > now);
        self.next_sweep = self.entries.len().saturating_mul(2);
        self.inserted = 0;
        #[cfg(test)]
        {
            self.sweeps += 1;
        }
    }

    /// Writes `key`'s record, first making room for a new key.
    fn insert(&mut self, key: &str, state: State, expires: Instant) {
        if !self.entries.contains_key(key) {
            self.make_room();
            self.inserted += 1;
        }
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        if matches!(state, State::Done) {
            self.done.push_back((stamp, key.to_owned()));
            if self.done.len() > 2 * self.entries.len() + 64 {
                let entries = &self.entries;
                self.done
                    .retain(|(stamp, key)| current(entries, *stamp, key));
            }
        }
        self.entries.insert(
            key.to_owned(),
            Entry {
                state,
                expires,
                stamp,
            },
        );
    }

    /// Drops the oldest done records until a new one fits; never a lease (see the module comment).
    fn make_room(&mut self) {
        while self.entries.len() >= self.max_records {
            let Some((stamp, key)) = self.done.pop_front() else {
                return;
            };
            if current(&self.entries, stamp, &key) {
                self.entries.remove(&key);
            }
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store of at most [`DEFAULT_DEDUPE_MAX_RECORDS`].
    pub fn new() -> Self {
        Self::with_max_records(DEFAULT_DEDUPE_MAX_RECORDS)
    }

    /// An empty store of at most `max_records` records (more only while all of them are live leases).
    pub fn with_max_records(max_records: NonZeroUsize) -> Self {
        Self {
            table: Mutex::new(Table::new(max_records)),
        }
    }

    /// How many records (live or expired but not yet swept) the store holds.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the store holds no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The length of the longest key held, for the tests that check keys stay small.
    #[cfg(test)]
    pub(crate) fn longest_key(&self) -> usize {
        self.lock()
            .entries
            .keys()
            .map(String::len)
            .max()
            .unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic while holding the lock cannot leave the map inconsistent (single operations).
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn claim_now(&self, key: &str, lease_ttl: Duration) -> Claim {
        let now = Instant::now();
        let mut table = self.lock();
        table.sweep_if_due(now);
        match table.entries.get(key) {
            Some(e) if e.expires > now => match e.state {
                State::Done => Claim::Done,
                State::InProgress(_) => Claim::Busy,
            },
            _ => {
                let token = new_token();
                table.insert(key, State::InProgress(token.clone()), now + lease_ttl);
                Claim::Acquired(Lease {
                    key: key.to_owned(),
                    token,
                })
            }
        }
    }
}

impl DedupeStore for MemoryStore {
    fn claim<'a>(&'a self, key: &'a str, lease_ttl: Duration) -> StoreFuture<'a, Claim> {
        let claim = self.claim_now(key, lease_ttl);
        Box::pin(async move { Ok(claim) })
    }

    fn complete<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> StoreFuture<'a, ()> {
        self.lock()
            .insert(&lease.key, State::Done, Instant::now() + ttl);
        Box::pin(async { Ok(()) })
    }

    fn release<'a>(&'a self, lease: &'a Lease) -> StoreFuture<'a, ()> {
        let entries = &mut self.lock().entries;
        if matches!(entries.get(&lease.key), Some(Entry { state: State::InProgress(t), .. }) if *t == lease.token)
        {
            entries.remove(&lease.key);
        }
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(25);
    const TTL: Duration = Duration::from_secs(86_400);

    #[tokio::test(start_paused = true)]
    async fn a_claim_is_exclusive_until_completed_then_done_until_the_ttl() {
        let store = MemoryStore::new();
        let Claim::Acquired(lease) = store.claim("e1|hook", LEASE).await.unwrap() else {
            panic!()
        };
        assert_eq!(store.claim("e1|hook", LEASE).await.unwrap(), Claim::Busy);
        store.complete(&lease, TTL).await.unwrap();
        assert_eq!(store.claim("e1|hook", LEASE).await.unwrap(), Claim::Done);
        tokio::time::advance(TTL + Duration::from_secs(1)).await;
        assert!(matches!(
            store.claim("e1|hook", LEASE).await.unwrap(),
            Claim::Acquired(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_released_lease_lets_the_retry_run() {
        let store = MemoryStore::new();
        let Claim::Acquired(lease) = store.claim("k", LEASE).await.unwrap() else {
            panic!()
        };
        store.release(&lease).await.unwrap();
        assert!(matches!(
            store.claim("k", LEASE).await.unwrap(),
            Claim::Acquired(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn an_abandoned_lease_expires() {
        let store = MemoryStore::new();
        let Claim::Acquired(old) = store.claim("k", LEASE).await.unwrap() else {
            panic!()
        };
        tokio::time::advance(LEASE + Duration::from_millis(1)).await;
        let Claim::Acquired(new) = store.claim("k", LEASE).await.unwrap() else {
            panic!()
        };
        // The old owner's late release does not drop the new lease.
        store.release(&old).await.unwrap();
        assert_eq!(store.claim("k", LEASE).await.unwrap(), Claim::Busy);
        store.release(&new).await.unwrap();
        assert!(matches!(
            store.claim("k", LEASE).await.unwrap(),
            Claim::Acquired(_)
        ));
    }

    /// Fills `store` with `n` claimed keys `prefix-i`, each leased for `lease`.
    async fn fill(store: &MemoryStore, prefix: &str, n: usize, lease: Duration) {
        for i in 0..n {
            let claim = store.claim(&format!("{prefix}-{i}"), lease).await.unwrap();
            assert!(
                matches!(claim, Claim::Acquired(_)),
                "{prefix}-{i}: {claim:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn expired_records_are_swept_once_the_map_reaches_the_threshold() {
        let store = MemoryStore::new();
        fill(&store, "old", SWEEP_MIN - 1, Duration::from_secs(1)).await;
        tokio::time::advance(Duration::from_secs(2)).await;
        // Below the threshold nothing is swept, expired or not.
        fill(&store, "new", 1, LEASE).await;
        assert_eq!(store.len(), SWEEP_MIN);
        assert_eq!(store.lock().sweeps, 0);
        // The next claim finds the map at the threshold: the expired records go, the live one stays.
        fill(&store, "newer", 1, LEASE).await;
        assert_eq!(store.len(), 2);
        assert_eq!(store.lock().sweeps, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn live_records_are_not_swept_again_on_every_claim() {
        let store = MemoryStore::new();
        fill(&store, "live", SWEEP_MIN, LEASE).await;
        // A busy key polled many times (as a duplicate delivery does) sweeps once, at the threshold:
        // before, every claim swept all records while the map held an exact multiple of 4096.
        for _ in 0..100 {
            assert_eq!(store.claim("live-0", LEASE).await.unwrap(), Claim::Busy);
        }
        assert_eq!(store.lock().sweeps, 1);
        assert_eq!(store.lock().next_sweep, 2 * SWEEP_MIN);
        // Records that expire meanwhile wait for the map to double; then they go in one sweep.
        fill(&store, "short", SWEEP_MIN / 2, Duration::from_secs(1)).await;
        tokio::time::advance(Duration::from_secs(2)).await;
        fill(&store, "more", SWEEP_MIN / 2, LEASE).await;
        assert_eq!(store.len(), 2 * SWEEP_MIN);
        assert_eq!(store.lock().sweeps, 1);
        fill(&store, "last", 1, LEASE).await;
        assert_eq!(store.lock().sweeps, 2);
        assert_eq!(store.len(), SWEEP_MIN + SWEEP_MIN / 2 + 1);
    }

    fn bounded(max: usize) -> MemoryStore {
        MemoryStore::with_max_records(NonZeroUsize::new(max).unwrap())
    }

    /// `key`'s record as the store holds it, without claiming (which could evict).
    fn record(store: &MemoryStore, key: &str) -> Option<&'static str> {
        store.lock().entries.get(key).map(|e| match e.state {
            State::Done => "done",
            State::InProgress(_) => "lease",
        })
    }

    async fn acquire(store: &MemoryStore, key: &str) -> Lease {
        match store.claim(key, LEASE).await.unwrap() {
            Claim::Acquired(lease) => lease,
            other => panic!("{key}: {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_store_never_holds_more_than_its_bound_of_done_records() {
        let store = bounded(8);
        for i in 0..1000 {
            let lease = acquire(&store, &format!("k-{i}")).await;
            assert!(store.len() <= 8, "{i}: {}", store.len());
            store.complete(&lease, TTL).await.unwrap();
            assert!(store.len() <= 8, "{i}: {}", store.len());
            tokio::time::advance(Duration::from_millis(10)).await;
        }
        // The newest eight are kept, and the queue of done records does not grow with the traffic.
        assert_eq!(store.claim("k-992", LEASE).await.unwrap(), Claim::Done);
        assert_eq!(record(&store, "k-991"), None);
        assert!(store.lock().done.len() <= 2 * 8 + 64 + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn eviction_takes_the_oldest_done_record_and_never_a_live_lease() {
        let store = bounded(4);
        let _held = acquire(&store, "lease-a").await;
        let b = acquire(&store, "b").await;
        let c = acquire(&store, "c").await;
        // Completed in the other order: `c` is the older done record.
        store.complete(&c, TTL).await.unwrap();
        store.complete(&b, TTL).await.unwrap();
        let _held_d = acquire(&store, "lease-d").await;
        assert_eq!(store.len(), 4);

        let e = acquire(&store, "e").await;
        assert_eq!(record(&store, "c"), None);
        assert_eq!(record(&store, "b"), Some("done"));
        let f = acquire(&store, "f").await;
        assert_eq!(record(&store, "b"), None);
        assert_eq!(store.len(), 4);

        // Only live leases left: the claim is accepted over the bound, and none is dropped.
        let g = acquire(&store, "g").await;
        assert_eq!(store.len(), 5);
        for lease in ["lease-a", "lease-d", "e", "f", "g"] {
            assert_eq!(record(&store, lease), Some("lease"), "{lease}");
            assert_eq!(store.claim(lease, LEASE).await.unwrap(), Claim::Busy);
        }
        // A lease that is done makes room for the next new key; once enough are done the store is
        // back within its bound.
        store.complete(&g, TTL).await.unwrap();
        let _h = acquire(&store, "h").await;
        assert_eq!(record(&store, "g"), None);
        assert_eq!(store.len(), 5);
        store.complete(&e, TTL).await.unwrap();
        store.complete(&f, TTL).await.unwrap();
        let _i = acquire(&store, "i").await;
        assert_eq!(store.len(), 4);
        for lease in ["lease-a", "lease-d", "h", "i"] {
            assert_eq!(record(&store, lease), Some("lease"), "{lease}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_done_record_claimed_again_after_its_ttl_is_not_evicted_as_done() {
        let store = bounded(2);
        let a = acquire(&store, "a").await;
        store.complete(&a, Duration::from_secs(1)).await.unwrap();
        tokio::time::advance(Duration::from_secs(2)).await;
        // `a` expired and is leased again: its old place in the done queue is stale.
        let _a = acquire(&store, "a").await;
        let _b = acquire(&store, "b").await;
        let _c = acquire(&store, "c").await;
        assert_eq!(record(&store, "a"), Some("lease"));
        assert_eq!(store.len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn abandoned_leases_at_the_bound_are_swept() {
        let store = bounded(4);
        // Four leases whose invocations were cut off: never completed, never released.
        fill(&store, "cut", 4, LEASE).await;
        tokio::time::advance(LEASE + Duration::from_secs(1)).await;
        let _new = acquire(&store, "new").await;
        assert_eq!(store.len(), 1);
        assert_eq!(store.lock().sweeps, 1);
    }
}
