//! The Redis dedupe store against a real `redis-server` on 127.0.0.1: the store API, Redis down at
//! start and going away mid-way, and end to end through the app served in process (records shared
//! by several instances, at most one delivery per event and hook, no silent loss while Redis is
//! down).

use crate::support::receiver;
use crate::support::redis as redis_support;

use crate::support::{fixture_events, invocation, spawn_app, TestApp};
use aml_events::hooks::dedupe::{record_key, Claim, DedupeStore, Lease, RedisStore, StoreError};
use receiver::{Behaviour, Receiver};
use redis_support::{free_port, RedisServer};
use serde_json::Value;
use std::future::Future;
use std::time::{Duration, Instant};

const FUNCTION: &str = "MlWorkspaceEvents";
const HOOK_PATH: &str = "/hook";
const LONG: Duration = Duration::from_secs(30);
const DAY: Duration = Duration::from_secs(86_400);
/// When a test stops waiting for a store operation that should have failed long before (the store's
/// own bound is 4 s; failures are asserted below 10 s).
const GIVE_UP: Duration = Duration::from_secs(15);

/// Awaits `fut`, failing the test when it takes longer than `limit`.
async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {limit:?}"))
}

async fn claim(store: &RedisStore, key: &str, lease: Duration) -> Claim {
    within(Duration::from_secs(10), "claim", store.claim(key, lease))
        .await
        .unwrap_or_else(|e| panic!("claim {key}: {e}"))
}

async fn acquire(store: &RedisStore, key: &str, lease: Duration) -> Lease {
    match claim(store, key, lease).await {
        Claim::Acquired(lease) => lease,
        other => panic!("claim {key}: expected Acquired, got {other:?}"),
    }
}

/// Claims `key` every 25 ms until it is acquired (at most `limit`); returns the lease and how long it
/// took.
async fn acquire_eventually(
    store: &RedisStore,
    key: &str,
    lease: Duration,
    limit: Duration,
) -> (Lease, Duration) {
    let start = Instant::now();
    loop {
        match claim(store, key, lease).await {
            Claim::Acquired(lease) => return (lease, start.elapsed()),
            Claim::Busy => {}
            Claim::Done => panic!("claim {key}: Done while waiting for a lease to expire"),
        }
        assert!(
            start.elapsed() < limit,
            "claim {key}: still Busy after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn redis_key(key: &str) -> String {
    format!("aml-events:{key}")
}

/// The Redis key of the dispatcher's record for `hook` and event `id` of `topic`:
/// `aml-events:dedupe:` and 64 hex digits, whatever the lengths of the fields (it was
/// `aml-events:{topic}|{id}|{hook}`, which two different events could share; the unit tests of
/// `record_key` pin the hash itself).
fn dispatcher_record(topic: &str, id: &str, hook: &str) -> String {
    let record = redis_key(&record_key(topic, id, hook));
    let hex = record
        .strip_prefix("aml-events:dedupe:")
        .unwrap_or_default();
    assert!(
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "{record}"
    );
    record
}

#[tokio::test]
async fn a_claim_is_exclusive_until_completed_and_then_done() {
    let server = RedisServer::start();
    let store = RedisStore::new(&server.url()).unwrap();

    let lease = acquire(&store, "ev-1|notify", LONG).await;
    assert_eq!(lease.key, "ev-1|notify");
    assert!(!lease.token.is_empty());
    // The lease is a real Redis record holding this claimant's token, expiring with the lease.
    assert_eq!(
        server.get(&redis_key("ev-1|notify")).as_deref(),
        Some(lease.token.as_str())
    );
    let ttl = server.pttl(&redis_key("ev-1|notify"));
    assert!(0 < ttl && ttl <= 30_000, "lease PTTL {ttl}");

    assert_eq!(claim(&store, "ev-1|notify", LONG).await, Claim::Busy);
    assert_eq!(claim(&store, "ev-1|notify", LONG).await, Claim::Busy);
    // Other keys are independent.
    acquire(&store, "ev-2|notify", LONG).await;

    store.complete(&lease, DAY).await.unwrap();
    assert_eq!(claim(&store, "ev-1|notify", LONG).await, Claim::Done);
    assert_eq!(claim(&store, "ev-1|notify", LONG).await, Claim::Done);
    assert_eq!(
        server.get(&redis_key("ev-1|notify")).as_deref(),
        Some("done")
    );
    let ttl = server.pttl(&redis_key("ev-1|notify"));
    assert!(
        30_000 < ttl && ttl <= 86_400_000,
        "done PTTL {ttl}: the done record must live for the dedupe TTL, not the lease"
    );
    // A release after completion must not undo the done record.
    store.release(&lease).await.unwrap();
    assert_eq!(claim(&store, "ev-1|notify", LONG).await, Claim::Done);
}

#[tokio::test]
async fn a_released_lease_lets_the_next_claim_acquire() {
    let server = RedisServer::start();
    let store = RedisStore::new(&server.url()).unwrap();

    let first = acquire(&store, "ev-1|notify", LONG).await;
    assert_eq!(claim(&store, "ev-1|notify", LONG).await, Claim::Busy);
    store.release(&first).await.unwrap();
    assert_eq!(server.get(&redis_key("ev-1|notify")), None);

    let second = acquire(&store, "ev-1|notify", LONG).await;
    assert_ne!(second.token, first.token, "every claim gets its own token");
    assert_eq!(claim(&store, "ev-1|notify", LONG).await, Claim::Busy);
    // Releasing twice is harmless.
    store.release(&second).await.unwrap();
    store.release(&second).await.unwrap();
    acquire(&store, "ev-1|notify", LONG).await;
}

#[tokio::test]
async fn a_short_lease_expires_and_can_be_reacquired() {
    let server = RedisServer::start();
    let store = RedisStore::new(&server.url()).unwrap();

    let short = Duration::from_millis(300);
    let first = acquire(&store, "ev-1|notify", short).await;
    let held_since = Instant::now();
    let ttl = server.pttl(&redis_key("ev-1|notify"));
    assert!(0 < ttl && ttl <= 300, "lease PTTL {ttl}");
    assert_eq!(claim(&store, "ev-1|notify", LONG).await, Claim::Busy);

    let (second, _) = acquire_eventually(&store, "ev-1|notify", LONG, Duration::from_secs(3)).await;
    let held = held_since.elapsed();
    assert!(
        held >= Duration::from_millis(250),
        "the 300 ms lease was taken over after {held:?}"
    );
    assert_ne!(second.token, first.token);
    assert_eq!(
        server.get(&redis_key("ev-1|notify")).as_deref(),
        Some(second.token.as_str())
    );
}

#[tokio::test]
async fn a_late_release_of_an_expired_lease_does_not_drop_the_newer_lease() {
    let server = RedisServer::start();
    let store = RedisStore::new(&server.url()).unwrap();

    let old = acquire(&store, "ev-1|notify", Duration::from_millis(300)).await;
    let (new, _) = acquire_eventually(&store, "ev-1|notify", LONG, Duration::from_secs(3)).await;

    // The first claimant's hook failed late and releases its (expired) lease.
    store.release(&old).await.unwrap();
    assert_eq!(
        server.get(&redis_key("ev-1|notify")).as_deref(),
        Some(new.token.as_str()),
        "the old lease's release dropped the newer lease"
    );
    assert_eq!(claim(&store, "ev-1|notify", LONG).await, Claim::Busy);

    // The newer claimant still owns the key: it completes, and the old release changes nothing.
    store.complete(&new, DAY).await.unwrap();
    store.release(&old).await.unwrap();
    assert_eq!(claim(&store, "ev-1|notify", LONG).await, Claim::Done);
}

#[tokio::test]
async fn two_stores_on_one_server_see_each_others_records() {
    let server = RedisServer::start();
    let one = RedisStore::new(&server.url()).unwrap();
    let two = RedisStore::new(&server.url()).unwrap();

    let lease = acquire(&one, "ev-1|notify", LONG).await;
    assert_eq!(claim(&two, "ev-1|notify", LONG).await, Claim::Busy);
    one.complete(&lease, DAY).await.unwrap();
    assert_eq!(claim(&two, "ev-1|notify", LONG).await, Claim::Done);

    let lease = acquire(&two, "ev-2|notify", LONG).await;
    assert_eq!(claim(&one, "ev-2|notify", LONG).await, Claim::Busy);
    two.release(&lease).await.unwrap();
    let lease = acquire(&one, "ev-2|notify", LONG).await;
    assert_eq!(claim(&two, "ev-2|notify", LONG).await, Claim::Busy);
    // `two` cannot release `one`'s lease with a lease of its own for the same key.
    let forged = Lease {
        key: "ev-2|notify".into(),
        token: "not-the-owner".into(),
    };
    two.release(&forged).await.unwrap();
    assert_eq!(claim(&two, "ev-2|notify", LONG).await, Claim::Busy);
    one.complete(&lease, DAY).await.unwrap();
    assert_eq!(claim(&two, "ev-2|notify", LONG).await, Claim::Done);

    assert_eq!(
        server.keys("aml-events:*"),
        vec![redis_key("ev-1|notify"), redis_key("ev-2|notify")]
    );
}

/// Checks a store error: prompt, about Redis, and without the password.
fn assert_store_error(result: Result<impl std::fmt::Debug, StoreError>, took: Duration) -> String {
    let error = result.expect_err("expected a StoreError");
    let text = format!("{error} / {error:?}");
    assert!(
        took < Duration::from_secs(10),
        "the store error took {took:?}"
    );
    assert!(text.to_lowercase().contains("redis"), "{text}");
    assert!(!text.contains("s3cretpass"), "the password leaked: {text}");
    text
}

#[tokio::test]
async fn redis_down_at_start_is_a_prompt_store_error_without_the_password() {
    let port = free_port();
    let url = format!("redis://:s3cretpass@127.0.0.1:{port}/0");
    let store = RedisStore::new(&url).expect("a store is created without connecting");
    assert!(!format!("{store:?}").contains("s3cretpass"), "{store:?}");

    let start = Instant::now();
    let result = within(GIVE_UP, "claim", store.claim("ev-1|notify", LONG)).await;
    let took = start.elapsed();
    let text = assert_store_error(result, took);
    eprintln!("claim with Redis down took {took:?}: {text}");

    // Every operation fails the same way (a failed hook's release, a succeeded hook's complete).
    let lease = Lease {
        key: "ev-1|notify".into(),
        token: "t".into(),
    };
    let start = Instant::now();
    let result = within(GIVE_UP, "complete", store.complete(&lease, DAY)).await;
    assert_store_error(result, start.elapsed());
    let start = Instant::now();
    let result = within(GIVE_UP, "release", store.release(&lease)).await;
    assert_store_error(result, start.elapsed());

    // Redis comes up (with that password): the same store connects now, without a restart.
    let server = RedisServer::start_with_password(port, "s3cretpass");
    let lease = acquire(&store, "ev-1|notify", LONG).await;
    assert_eq!(
        server.get(&redis_key("ev-1|notify")).as_deref(),
        Some(lease.token.as_str())
    );
}

#[tokio::test]
async fn a_wrong_password_is_a_store_error_without_the_password() {
    let port = free_port();
    let mut server = RedisServer::start_with_password(port, "the-right-one");
    let store = RedisStore::new(&format!("redis://:s3cretpass@127.0.0.1:{port}/0")).unwrap();
    let start = Instant::now();
    let result = within(GIVE_UP, "claim", store.claim("ev-1|notify", LONG)).await;
    let text = assert_store_error(result, start.elapsed());
    eprintln!("claim with a wrong password: {text}");
    assert!(!text.contains("the-right-one"), "{text}");
    assert!(server.keys("aml-events:*").is_empty());

    // The password is rotated on the server to the one the store has: the store connects now,
    // without a restart (a failed connection is never kept).
    server.require_password("s3cretpass");
    let lease = acquire(&store, "ev-1|notify", LONG).await;
    store.complete(&lease, DAY).await.unwrap();
    assert_eq!(
        server.get(&redis_key("ev-1|notify")).as_deref(),
        Some("done")
    );
}

#[tokio::test]
async fn redis_going_away_is_a_store_error_and_the_store_reconnects_when_it_is_back() {
    let mut server = RedisServer::start();
    let port = server.port();
    let store = RedisStore::new(&server.url()).unwrap();
    let lease = acquire(&store, "ev-1|notify", LONG).await;

    server.stop();
    for attempt in 0..3 {
        let start = Instant::now();
        let result = within(GIVE_UP, "claim", store.claim("ev-2|notify", LONG)).await;
        let text = assert_store_error(result, start.elapsed());
        eprintln!("claim {attempt} with Redis gone: {text}");
    }
    let start = Instant::now();
    let result = within(GIVE_UP, "complete", store.complete(&lease, DAY)).await;
    assert_store_error(result, start.elapsed());

    // A new (empty) server on the same port: the very next operation works again.
    let server = RedisServer::start_on(port);
    let lease = acquire(&store, "ev-2|notify", LONG).await;
    store.complete(&lease, DAY).await.unwrap();
    assert_eq!(claim(&store, "ev-2|notify", LONG).await, Claim::Done);
    assert_eq!(
        server.get(&redis_key("ev-2|notify")).as_deref(),
        Some("done")
    );
    // The release script is loaded again on the new server.
    let lease = acquire(&store, "ev-3|notify", LONG).await;
    store.release(&lease).await.unwrap();
    acquire(&store, "ev-3|notify", LONG).await;
}

#[tokio::test]
async fn a_redis_restart_while_idle_does_not_fail_the_next_operation() {
    // Redis restarts or fails over, or a proxy (Azure Cache for Redis: after 10 idle minutes) closes
    // the idle connection: the store's connection is stale when the next event arrives. That event
    // must not fail (and wait for Event Grid's redelivery) because of it.
    let mut server = RedisServer::start();
    let port = server.port();
    let store = RedisStore::new(&server.url()).unwrap();
    let lease = acquire(&store, "ev-1|notify", LONG).await;
    store.complete(&lease, DAY).await.unwrap();

    server.stop();
    let mut server = RedisServer::start_on(port);
    let lease = acquire(&store, "ev-2|notify", LONG).await;
    store.complete(&lease, DAY).await.unwrap();
    assert_eq!(
        server.get(&redis_key("ev-2|notify")).as_deref(),
        Some("done")
    );

    // The same for each operation: complete and release on a stale connection.
    let done_later = acquire(&store, "ev-3|notify", LONG).await;
    let released_later = acquire(&store, "ev-4|notify", LONG).await;
    server.stop();
    let mut server = RedisServer::start_on(port);
    // The new server is empty: recreate the lease as it was, then use the stale connection.
    server.command(&["SET", &redis_key("ev-3|notify"), &done_later.token]);
    store.complete(&done_later, DAY).await.unwrap();
    assert_eq!(
        server.get(&redis_key("ev-3|notify")).as_deref(),
        Some("done")
    );
    server.stop();
    let server = RedisServer::start_on(port);
    server.command(&["SET", &redis_key("ev-4|notify"), &released_later.token]);
    store.release(&released_later).await.unwrap();
    assert_eq!(server.get(&redis_key("ev-4|notify")), None);
}

#[tokio::test]
async fn a_frozen_redis_is_a_store_error_within_the_timeouts_and_the_store_recovers() {
    let server = RedisServer::start();
    let store = RedisStore::new(&server.url()).unwrap();
    acquire(&store, "ev-1|notify", LONG).await;

    // The connection is up and the server stops answering: the command times out.
    server.pause();
    let start = Instant::now();
    let result = within(GIVE_UP, "claim", store.claim("ev-2|notify", LONG)).await;
    let took = start.elapsed();
    let text = assert_store_error(result, took);
    eprintln!("claim with Redis frozen took {took:?}: {text}");
    // A fresh connection to the frozen server times out as well.
    let start = Instant::now();
    let result = within(GIVE_UP, "claim", store.claim("ev-3|notify", LONG)).await;
    let took = start.elapsed();
    let text = assert_store_error(result, took);
    eprintln!("second claim with Redis frozen took {took:?}: {text}");

    server.resume();
    let lease = acquire(&store, "ev-4|notify", LONG).await;
    store.complete(&lease, DAY).await.unwrap();
    assert_eq!(claim(&store, "ev-4|notify", LONG).await, Claim::Done);
}

#[tokio::test]
async fn a_server_that_accepts_but_never_answers_is_a_prompt_store_error() {
    // Not Redis: a listener that accepts connections and never writes a byte.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = held.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            keep.lock().unwrap().push(stream);
        }
    });
    let store = RedisStore::new(&format!("redis://:s3cretpass@127.0.0.1:{port}/0")).unwrap();
    let start = Instant::now();
    let result = within(GIVE_UP, "claim", store.claim("ev-1|notify", LONG)).await;
    let took = start.elapsed();
    let text = assert_store_error(result, took);
    eprintln!("claim against a silent server took {took:?}: {text}");
    assert!(
        !held.lock().unwrap().is_empty(),
        "the store never connected"
    );
}

#[tokio::test]
async fn concurrent_claims_against_a_frozen_redis_all_fail_within_the_timeouts() {
    // Several hooks of one event, and several invocations, claim at the same time on one instance:
    // each must get its answer within the store's own bounds, not queue behind the others' timeouts.
    let server = RedisServer::start();
    server.pause();
    let store = RedisStore::new(&server.url()).unwrap();
    let start = Instant::now();
    let claims = (0..6).map(|i| {
        let store = &store;
        async move {
            let key = format!("ev-{i}|notify");
            let result = store.claim(&key, LONG).await;
            (result, start.elapsed())
        }
    });
    let results = within(
        GIVE_UP,
        "concurrent claims",
        futures_util::future::join_all(claims),
    )
    .await;
    let times: Vec<Duration> = results.iter().map(|(_, took)| *took).collect();
    eprintln!("concurrent claims with Redis frozen answered after {times:?}");
    for (result, took) in results {
        assert_store_error(result, took);
    }
    server.resume();
    acquire(&store, "ev-9|notify", LONG).await;
}

// ---------------------------------------------------------------------------------------------------
// End to end through the app, served in process: two apps are two instances.

/// A hooks.toml with one webhook hook for ModelDeployed events and `dedupe` as the store.
fn hooks_toml(dedupe: &str) -> String {
    format!(
        r#"[settings]
dedupe = "{dedupe}"

[[hooks]]
name = "notify"
events = ["ModelDeployed"]
action = "webhook"
url = "${{env:HOOK_URL}}"
retries = 0
timeout_ms = 2000
"#
    )
}

async fn start_handler(hooks: &str, hook_url: &str) -> TestApp {
    start_handler_with(hooks, hook_url, &[]).await
}

async fn start_handler_with(hooks: &str, hook_url: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut env = vec![
        ("HOOK_URL", hook_url),
        // An empty override: the file's `settings.dedupe` counts, whatever the test's environment.
        ("AML_EVENTS_DEDUPE", ""),
    ];
    env.extend_from_slice(extra);
    spawn_app(&env, Some(hooks)).await
}

/// An answer of the handler to one invocation.
#[derive(Debug)]
struct Answer {
    status: u16,
    logs: Vec<String>,
    body: String,
    took: Duration,
}

impl Answer {
    fn logs_mention(&self, text: &str) -> bool {
        self.logs.iter().any(|line| line.contains(text))
    }
}

async fn post(handler: &TestApp, invocation_id: &str, event: &Value) -> Answer {
    let start = Instant::now();
    let response = within(
        Duration::from_secs(15),
        "invocation",
        handler.invoke(FUNCTION, invocation_id, invocation(event).to_string()),
    )
    .await;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    let took = start.elapsed();
    let json: Value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("answer {status} is not JSON ({e}): {body}"));
    let logs = json["Logs"]
        .as_array()
        .unwrap_or_else(|| panic!("answer without Logs: {body}"))
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect();
    Answer {
        status,
        logs,
        body,
        took,
    }
}

/// The error lines (stderr) that `apps` wrote for the invocations `ids`, as the JSON lines of the
/// host's Error log, joined by newlines: those whose spans carry one of the invocation ids.
fn errors_of(apps: &[&TestApp], ids: &[&str]) -> String {
    apps.iter()
        .flat_map(|app| app.logs().lines())
        .filter(|(_, error)| *error)
        .map(|(line, _)| line)
        .filter(|line| {
            serde_json::from_str::<Value>(line).is_ok_and(|json| {
                json["spans"].as_array().is_some_and(|spans| {
                    spans
                        .iter()
                        .any(|span| ids.iter().any(|id| span["invocation_id"] == *id))
                })
            })
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Requests the receiver answered 2xx for the event `id`.
fn deliveries(receiver: &Receiver, id: &str) -> usize {
    receiver
        .delivered(HOOK_PATH)
        .iter()
        .filter(|r| r.json["id"] == id)
        .count()
}

fn model_deployed(id: Option<&str>) -> Value {
    let mut event = fixture_events("eventgrid-model-deployed.json").remove(0);
    if let Some(id) = id {
        event["id"] = Value::String(id.to_owned());
    }
    event
}

#[tokio::test]
async fn end_to_end_one_delivery_per_event_across_instances_and_a_redis_outage() {
    let receiver = Receiver::start().await;
    let mut redis = RedisServer::start();
    let port = redis.port();
    let hooks = hooks_toml(&redis.url());
    let hook_url = receiver.url(HOOK_PATH);

    let first = start_handler(&hooks, &hook_url).await;
    let event = model_deployed(None);
    let id = event["id"].as_str().unwrap().to_owned();

    // First delivery: the hook runs once and its done record is in Redis.
    let answer = post(&first, "inv-1", &event).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        answer.logs_mention("hook notify: webhook delivered"),
        "{answer:?}"
    );
    assert_eq!(deliveries(&receiver, &id), 1);
    let topic = event["topic"].as_str().unwrap();
    let record = dispatcher_record(topic, &id, "notify");
    assert_eq!(redis.keys("aml-events:*"), vec![record.clone()]);
    assert_eq!(redis.get(&record).as_deref(), Some("done"));
    let ttl = redis.pttl(&record);
    assert!(
        86_000_000 < ttl && ttl <= 86_400_000,
        "done PTTL {ttl}: dedupe_ttl_secs defaults to a day"
    );

    // Event Grid redelivers to the same instance: skipped.
    let answer = post(&first, "inv-2", &event).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.logs_mention("already done"), "{answer:?}");
    assert!(!answer.logs_mention("delivered"), "{answer:?}");
    assert_eq!(deliveries(&receiver, &id), 1);

    // ... and to another instance: the record is shared through Redis.
    let second = start_handler(&hooks, &hook_url).await;
    let answer = post(&second, "inv-3", &event).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.logs_mention("already done"), "{answer:?}");
    assert_eq!(deliveries(&receiver, &id), 1);

    // Redis goes away: a new event cannot be checked, so it is neither sent nor dropped: 500, and
    // Event Grid redelivers it later (twice here: once on the broken connection, once without one).
    redis.stop();
    let other_id = "6b3a1f0e-0000-4000-8000-redis-outage";
    let other = model_deployed(Some(other_id));
    for invocation_id in ["inv-4", "inv-5"] {
        let answer = post(&first, invocation_id, &other).await;
        assert_eq!(answer.status, 500, "{answer:?}");
        assert!(
            answer.logs_mention("hook notify failed")
                && answer.logs_mention("dedupe store unavailable")
                && answer.logs_mention("redis"),
            "{answer:?}"
        );
        assert!(
            answer.took < Duration::from_secs(10),
            "the 500 took {:?}",
            answer.took
        );
    }
    assert_eq!(deliveries(&receiver, other_id), 0);
    assert!(receiver
        .requests(HOOK_PATH)
        .iter()
        .all(|r| r.json["id"] != other_id));

    // Redis is back (empty) on the same port. The redelivery reaches the second instance, which was
    // idle through the outage (its connection is stale): it runs the hook once; the first instance
    // then skips it.
    let redis = RedisServer::start_on(port);
    let answer = post(&second, "inv-6", &other).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.logs_mention("delivered"), "{answer:?}");
    assert_eq!(deliveries(&receiver, other_id), 1);
    let answer = post(&first, "inv-7", &other).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.logs_mention("already done"), "{answer:?}");
    assert_eq!(deliveries(&receiver, other_id), 1);
    assert_eq!(
        redis
            .get(&dispatcher_record(topic, other_id, "notify"))
            .as_deref(),
        Some("done")
    );
    assert_eq!(deliveries(&receiver, &id), 1);

    // The outage is on the first instance's stderr (the host's Error log) too: its error lines for
    // inv-4 and inv-5. Two apps share this thread's log capture (the later one's, while both
    // serve), so the lines are told apart by the invocation id on each, not by the capture.
    let stderr = errors_of(&[&first, &second], &["inv-4", "inv-5"]);
    assert!(
        stderr.contains("dedupe store unavailable") && stderr.contains("redis"),
        "stderr: {stderr}"
    );
}

#[tokio::test]
async fn concurrent_duplicates_on_two_instances_deliver_once() {
    let receiver = Receiver::start().await;
    // The first notification takes a while, so the duplicate arrives while it is in flight.
    receiver.script(HOOK_PATH, vec![Behaviour::slow(Duration::from_millis(800))]);
    let port = free_port();
    let password = "s3cretpass";
    let _redis = RedisServer::start_with_password(port, password);
    // The password comes from a setting, as it would from Key Vault in an app setting.
    let hooks = hooks_toml(&format!(
        "redis://:${{env:REDIS_PASSWORD}}@127.0.0.1:{port}/0"
    ));
    let hook_url = receiver.url(HOOK_PATH);
    let extra = [("REDIS_PASSWORD", password)];
    let one = start_handler_with(&hooks, &hook_url, &extra).await;
    let two = start_handler_with(&hooks, &hook_url, &extra).await;

    let event = model_deployed(None);
    let id = event["id"].as_str().unwrap();
    let (a, b) = tokio::join!(post(&one, "inv-a", &event), post(&two, "inv-b", &event));

    // The Dispatcher polls a Busy claim until the holder completes, so both answer 200: one ran the
    // hook, the other waited for it and skipped.
    assert_eq!((a.status, b.status), (200, 200), "{a:?}\n{b:?}");
    let ran = [&a, &b]
        .into_iter()
        .filter(|x| x.logs_mention("hook notify: webhook delivered"))
        .count();
    let skipped: Vec<&Answer> = [&a, &b]
        .into_iter()
        .filter(|x| x.logs_mention("already done"))
        .collect();
    assert_eq!((ran, skipped.len()), (1, 1), "{a:?}\n{b:?}");
    assert!(
        skipped[0].took >= Duration::from_millis(600),
        "the duplicate answered after {:?}, before the first delivery finished",
        skipped[0].took
    );
    assert_eq!(receiver.requests(HOOK_PATH).len(), 1);
    assert_eq!(deliveries(&receiver, id), 1);

    // The password is in no answer and no log line (each line the two apps wrote is in one of
    // their captures).
    assert!(!a.body.contains(password) && !b.body.contains(password));
    for handler in [&one, &two] {
        let (stdout, stderr) = (handler.logs().stdout(), handler.logs().stderr());
        assert!(!stdout.contains(password), "stdout: {stdout}");
        assert!(!stderr.contains(password), "stderr: {stderr}");
    }
}
