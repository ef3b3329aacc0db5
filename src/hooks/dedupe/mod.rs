//! At-most-once records per (event, hook).
//!
//! Event Grid delivers at least once, and redelivers a whole invocation when any hook failed. Before a
//! hook with side effects runs, the dispatcher *claims* its key: the first claimant gets a lease (an
//! in-progress record that expires, so a crashed instance does not block the event forever); a
//! concurrent duplicate sees the lease and waits; once the hook succeeded the record becomes *done*
//! for `dedupe_ttl`, and redeliveries skip the hook. A failed hook *releases* its lease so the retry
//! runs it again.

mod memory;
#[cfg(feature = "redis")]
mod redis;

pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::RedisStore;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use thiserror::Error;

/// A boxed future returned by store operations.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The result of claiming a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This caller holds the lease and must run the hook, then complete or release.
    Acquired(Lease),
    /// The hook already succeeded for this event: skip it.
    Done,
    /// Another delivery holds the lease right now.
    Busy,
}

/// Proof of a claim: the key and this claimant's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The dedupe key.
    pub key: String,
    /// A token unique to this claim, so only its owner releases it.
    pub token: String,
}

/// The store could not be reached or answered nonsense. Always a *retry*: never guess.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("dedupe store unavailable: {0}")]
pub struct StoreError(pub String);

/// Where dedupe records live.
pub trait DedupeStore: Send + Sync + std::fmt::Debug {
    /// Claims `key` with an in-progress lease that expires after `lease_ttl`.
    fn claim<'a>(&'a self, key: &'a str, lease_ttl: Duration) -> StoreFuture<'a, Claim>;
    /// Marks the claimed key done for `ttl`.
    fn complete<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> StoreFuture<'a, ()>;
    /// Drops the lease (only if still held by `lease`), so a redelivery runs the hook again.
    fn release<'a>(&'a self, lease: &'a Lease) -> StoreFuture<'a, ()>;
}

/// A fresh random token for a lease.
pub(crate) fn new_token() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}
