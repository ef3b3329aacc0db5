//! At-most-once records per (event, hook).
//!
//! Event Grid delivers at least once, and redelivers a whole invocation when any hook failed. Before a
//! hook with side effects runs, the dispatcher *claims* its key: the first claimant gets a lease (an
//! in-progress record that expires, so a crashed instance does not block the event forever); a
//! concurrent duplicate sees the lease and waits; once the hook succeeded the record becomes *done*
//! for `dedupe_ttl`, and redeliveries skip the hook. A failed hook *releases* its lease so the retry
//! runs it again.
//!
//! A record is keyed by [`record_key`]: a SHA-256 of the (topic, event id, hook) triple, so fields
//! that join to the same text stay apart and a sender-sized id does not make a sender-sized key.

mod memory;
#[cfg(feature = "redis")]
mod redis;

pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::RedisStore;

use std::fmt::Write as _;
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

/// What [`record_key`]s start with (the Redis store adds its `aml-events:` namespace in front).
pub const RECORD_KEY_PREFIX: &str = "dedupe:";

/// The key of the record for `hook` and the event `id` of `topic` (empty when the event has none):
/// [`RECORD_KEY_PREFIX`] and the hex SHA-256 of the three fields, each preceded by its length.
///
/// Joining the fields with a separator was ambiguous (topic `w|evil` with id `x` and topic `w` with
/// id `evil|x` were one record, so a real notification was skipped), and the key was as long as the
/// sender's id (up to the body limit). Length prefixes make the encoding injective; the hash makes
/// every key 71 bytes. The leading version string keeps a future encoding from meeting this one.
pub fn record_key(topic: &str, id: &str, hook: &str) -> String {
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    digest.update(b"aml-events dedupe v1\0");
    for field in [topic, id, hook] {
        digest.update(&(field.len() as u64).to_be_bytes());
        digest.update(field.as_bytes());
    }
    let mut key = String::with_capacity(RECORD_KEY_PREFIX.len() + 64);
    key.push_str(RECORD_KEY_PREFIX);
    for byte in digest.finish().as_ref() {
        // Writing to a String cannot fail.
        let _ = write!(key, "{byte:02x}");
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_keys_are_a_prefix_and_a_sha256() {
        let key = record_key("topic", "e1", "notify");
        assert_eq!(key.len(), RECORD_KEY_PREFIX.len() + 64);
        let hex = key.strip_prefix(RECORD_KEY_PREFIX).unwrap();
        assert!(hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        // Pinned: Redis records written by one version must be found by the next.
        // Computed independently: sha256(b"aml-events dedupe v1\0" + for each field its length
        // as 8 bytes big-endian, then its UTF-8 bytes).
        assert_eq!(
            key,
            "dedupe:51281de6f49a4ba11ca1b4e5cc3f2f1b0390d01ece3085db47cd106241e13696"
        );
    }

    #[test]
    fn fields_that_join_to_the_same_text_make_different_keys() {
        assert_ne!(
            record_key("w|evil", "x", "h"),
            record_key("w", "evil|x", "h")
        );
        assert_ne!(record_key("w", "x", "h|y"), record_key("w", "x|h", "y"));
        assert_ne!(record_key("", "ab", "c"), record_key("a", "b", "c"));
    }

    #[test]
    fn a_mebibyte_id_makes_a_71_byte_key() {
        let id = "x".repeat(1 << 20);
        assert_eq!(record_key("topic", &id, "notify").len(), 71);
        assert_ne!(
            record_key("topic", &id, "notify"),
            record_key("topic", &id[1..], "notify")
        );
    }
}
