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
    entries: Mutex<HashMap<String, Entry>>,
}

/// Expired entries are swept when the map grows past this many since the last sweep.
const SWEEP_EVERY: usize = 4096;

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many records (live or expired but not yet swept) the store holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store holds no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock cannot leave the map inconsistent (single operations).
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn claim_now(&self, key: &str, lease_ttl: Duration) -> Claim {
        let now = Instant::now();
        let mut entries = self.lock();
        if entries.len() >= SWEEP_EVERY && entries.len() % SWEEP_EVERY == 0 {
            entries.retain(|_, e| e.expires > now);
        }
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
        self.lock().insert(
            lease.key.clone(),
            Entry {
                state: State::Done,
                expires: Instant::now() + ttl,
            },
        );
        Box::pin(async { Ok(()) })
    }

    fn release<'a>(&'a self, lease: &'a Lease) -> StoreFuture<'a, ()> {
        let mut entries = self.lock();
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
}
