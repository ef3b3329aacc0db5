//! The Redis store, for several handler instances: `SET key token NX PX lease` claims, `done` marks.
//!
//! The connection is made lazily and re-made after failures, so a Redis that is down at start or goes
//! away mid-way turns into [`StoreError`]s (and 500 answers, so Event Grid redelivers), never into a
//! crashed handler or a silently skipped dedupe check.

use super::{new_token, Claim, DedupeStore, Lease, StoreError, StoreFuture};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;
use tokio::sync::Mutex;

/// How long connecting or one command may take before it counts as unavailable.
const TIMEOUT: Duration = Duration::from_secs(2);
const DONE: &str = "done";

/// Releases a lease only if it is still ours.
const RELEASE: &str = r"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/// Dedupe records in Redis under `aml-events:` keys (the dispatcher's are `aml-events:dedupe:<hex>`,
/// see [`super::record_key`]). Redis bounds them itself (`maxmemory`), so there is no record limit here.
pub struct RedisStore {
    client: redis::Client,
    connection: Mutex<Option<ConnectionManager>>,
    release: redis::Script,
    /// The URL with any password removed, for messages.
    shown: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.shown)
            .finish()
    }
}

fn unavailable(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError(format!("redis {what}: {error}"))
}

impl RedisStore {
    /// A store for `url` (`redis://host:6379/0`, `rediss://...` for TLS). Does not connect yet.
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| unavailable("url", e))?;
        let info = client.get_connection_info();
        let shown = format!("{}", info.addr());
        Ok(Self {
            client,
            connection: Mutex::new(None),
            release: redis::Script::new(RELEASE),
            shown,
        })
    }

    /// The shared connection, made on first use. Creating the manager does not connect: the
    /// connection is established by the first command, and concurrent commands wait for that one
    /// attempt together, each within its own [`Self::run`] timeout. (Connecting under the lock made
    /// concurrent callers queue behind each other's timeouts: with Redis unreachable the n-th of n
    /// concurrent claims answered only after n × 4 s, past Event Grid's 30 s.)
    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        let mut slot = self.connection.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            .map_err(|e| unavailable("connect", e))?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// Runs `op` on the shared connection, within `2 × TIMEOUT` in all. A connection that turns out to
    /// be broken (Redis restarted or failed over, or an idle connection was closed by a proxy or by
    /// Azure Cache for Redis' idle timeout) is replaced and `op` tried once more on the fresh one, so
    /// a stale connection does not fail the first invocation after a quiet spell. Every command of
    /// this store is safe to repeat (`claim` recognizes its own token). A timeout is not retried.
    async fn run<T, F, Fut>(&self, what: &str, op: F) -> Result<T, StoreError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let attempts = async {
            let mut retried = false;
            loop {
                let conn = self.connection().await?;
                match op(conn).await {
                    Ok(value) => return Ok(value),
                    Err(e) => {
                        let broken = e.is_unrecoverable_error()
                            || e.is_connection_dropped()
                            || e.is_io_error();
                        if broken {
                            // Start over with a fresh connection.
                            self.connection.lock().await.take();
                        }
                        if broken && !e.is_timeout() && !retried {
                            retried = true;
                            continue;
                        }
                        return Err(unavailable(what, e));
                    }
                }
            }
        };
        match tokio::time::timeout(TIMEOUT * 2, attempts).await {
            Ok(result) => result,
            Err(_) => {
                self.connection.lock().await.take();
                Err(unavailable(
                    what,
                    format!("no answer from {} within {:?}", self.shown, TIMEOUT * 2),
                ))
            }
        }
    }
}

fn key(key: &str) -> String {
    format!("aml-events:{key}")
}

impl DedupeStore for RedisStore {
    fn claim<'a>(&'a self, k: &'a str, lease_ttl: Duration) -> StoreFuture<'a, Claim> {
        Box::pin(async move {
            let token = new_token();
            let ms = lease_ttl.as_millis().max(1) as u64;
            // A key can expire between SET NX and GET; two rounds settle it.
            for _ in 0..2 {
                let set: Option<String> = self
                    .run("claim", |mut c| {
                        let cmd = redis::cmd("SET")
                            .arg(key(k))
                            .arg(&token)
                            .arg("NX")
                            .arg("PX")
                            .arg(ms)
                            .clone();
                        async move { cmd.query_async(&mut c).await }
                    })
                    .await?;
                if set.is_some() {
                    return Ok(Claim::Acquired(Lease {
                        key: k.to_owned(),
                        token,
                    }));
                }
                let current: Option<String> = self
                    .run("claim", |mut c| {
                        let cmd = redis::cmd("GET").arg(key(k)).clone();
                        async move { cmd.query_async(&mut c).await }
                    })
                    .await?;
                match current.as_deref() {
                    Some(DONE) => return Ok(Claim::Done),
                    // Our own SET went through but its answer was lost with the connection, and the
                    // retry found the key taken: by us.
                    Some(t) if t == token => {
                        return Ok(Claim::Acquired(Lease {
                            key: k.to_owned(),
                            token,
                        }))
                    }
                    Some(_) => return Ok(Claim::Busy),
                    None => continue,
                }
            }
            Ok(Claim::Busy)
        })
    }

    fn complete<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let ms = ttl.as_millis().max(1) as u64;
            self.run("complete", |mut c| {
                let cmd = redis::cmd("SET")
                    .arg(key(&lease.key))
                    .arg(DONE)
                    .arg("PX")
                    .arg(ms)
                    .clone();
                async move { cmd.query_async::<()>(&mut c).await }
            })
            .await
        })
    }

    fn release<'a>(&'a self, lease: &'a Lease) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.run("release", |mut c| {
                let mut invocation = self.release.key(key(&lease.key));
                invocation.arg(&lease.token);
                async move { invocation.invoke_async::<i64>(&mut c).await.map(|_| ()) }
            })
            .await
        })
    }
}
