//! The in-process store: right for one instance (and for `func start`); several instances need Redis.

use super::{new_token, Claim, DedupeStore, Lease, StoreFuture};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug)]
enum State {
    InProgress(String),
    Done,
}

#[derive(Debug)]
struct Entry {
    state: State,
    expires: Instant,
}

/// Dedupe records in a map, expired lazily. A std mutex: it is held for a map operation only, never
/// across an `.await`.
#[derive(Debug, Default)]
pub struct MemoryStore {
    table: Mutex<Table>,
}

/// The records and when to sweep the expired ones next.
#[derive(Debug, Default)]
struct Table {
    entries: HashMap<String, Entry>,
    /// The size at which the next claim sweeps; 0 (at first) means [`SWEEP_MIN`].
    next_sweep: usize,
    /// How many sweeps ran, for the tests that pin the schedule.
    #[cfg(test)]
    sweeps: usize,
}

/// A map this small is never swept: expired records are replaced when their key comes back, and
/// the rest cost little.
const SWEEP_MIN: usize = 4096;

impl Table {
    /// Drops expired records once the map has doubled since the last sweep (and holds at least
    /// [`SWEEP_MIN`]). A sweep visits every record, so sweeping at a size proportional to what the
    /// last one kept costs O(1) per claim, amortised, however many live records there are; the map
    /// stays within twice its live records (or [`SWEEP_MIN`]).
    fn sweep_if_due(&mut self, now: Instant) {
        if self.entries.len() < self.next_sweep.max(SWEEP_MIN) {
            return;
        }
        self.entries.retain(|_, e| e.expires > now);
        self.next_sweep = self.entries.len().saturating_mul(2);
        #[cfg(test)]
        {
            self.sweeps += 1;
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many records (live or expired but not yet swept) the store holds.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the store holds no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        let entries = &mut table.entries;
        match entries.get(key) {
            Some(e) if e.expires > now => match e.state {
                State::Done => Claim::Done,
                State::InProgress(_) => Claim::Busy,
            },
            _ => {
                let token = new_token();
                entries.insert(
                    key.to_owned(),
                    Entry {
                        state: State::InProgress(token.clone()),
                        expires: now + lease_ttl,
                    },
                );
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
        self.lock().entries.insert(
            lease.key.clone(),
            Entry {
                state: State::Done,
                expires: Instant::now() + ttl,
            },
        );
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
}
