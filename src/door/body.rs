//! Request bodies read with a size limit, whether or not the sender declared a length.
//!
//! warp's `content_length_limit` answers 411 to chunked bodies, and the Functions host may send its
//! invocation chunked, so the limit is enforced while reading instead: a declared length over the limit
//! is refused without keeping any of the body, a chunked body as soon as it crosses the limit. Nothing
//! beyond the limit is ever buffered.
//!
//! An oversized body is still read to its end and dropped before the 413 is answered, up to
//! `drain_bound(limit)` bytes in all and `DRAIN_TIME` (no more than `DRAIN_IDLE` between two pieces).
//! hyper closes a connection whose request body was left unread, and a client that sends its whole body
//! before reading (Python's `http.client`, and Event Grid) then sees a reset instead of the 413: 20 of 20
//! tries with a 5 MB invocation, about 1 in 20 with a 1.7 MB webhook batch, before this was done. For
//! Event Grid a 413 is final (dead-lettered at once) while a reset is retried for 24 hours. Beyond the
//! bound the connection is closed as before: a declared length over it is refused at once, unread.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use std::time::Duration;
use tokio::time::Instant;
use warp::{Filter, Rejection};

/// The longest an oversized body is read (and dropped) before the 413 is answered anyway.
const DRAIN_TIME: Duration = Duration::from_secs(5);
/// A client that sends nothing for this long while its oversized body is drained gets its 413 now.
const DRAIN_IDLE: Duration = Duration::from_secs(1);
/// Bytes read past the limit at least: a body of the limit plus this much still gets its 413.
const DRAIN_SLACK: u64 = 4 << 20;

/// The body is larger than the limit: answered with 413.
#[derive(Debug, thiserror::Error)]
#[error("the body is over the limit of {limit} bytes")]
pub struct PayloadTooLarge {
    /// The limit in bytes.
    pub limit: u64,
}

impl warp::reject::Reject for PayloadTooLarge {}

/// The body could not be read (client went away, broken chunking): answered with 400.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the body: {0}")]
pub struct BodyReadError(pub String);

impl warp::reject::Reject for BodyReadError {}

/// The largest body (in bytes, all of it) that is read to its end so that its sender receives the 413:
/// twice the limit, and at least the limit plus 4 MiB (a 5 MB invocation over the 4 MiB limit).
pub(crate) fn drain_bound(limit: u64) -> u64 {
    limit
        .saturating_mul(2)
        .max(limit.saturating_add(DRAIN_SLACK))
}

/// Extracts the whole body, refusing anything over `limit` bytes (see the module docs for how an
/// oversized body is answered).
pub fn limited(
    limit: u64,
    read_timeout: Duration,
) -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and(warp::body::stream())
        .and_then(move |declared: Option<u64>, stream| async move {
            match declared {
                Some(n) if n > limit => {
                    if n <= drain_bound(limit) {
                        futures_util::pin_mut!(stream);
                        drain(stream, 0, limit).await;
                    }
                    Err(warp::reject::custom(PayloadTooLarge { limit }))
                }
                // A sender that trickles its body holds a connection and a task: the whole body
                // must arrive within the read timeout (Event Grid itself waits 30 s for an answer).
                _ => match tokio::time::timeout(read_timeout, collect(stream, limit)).await {
                    Ok(collected) => collected,
                    Err(_) => Err(warp::reject::custom(BodyTimedOut {
                        secs: read_timeout.as_secs(),
                    })),
                },
            }
        })
}

/// The body did not arrive within the read timeout: answered with 408.
#[derive(Debug)]
pub struct BodyTimedOut {
    /// The timeout in seconds.
    pub secs: u64,
}

impl warp::reject::Reject for BodyTimedOut {}

async fn collect<S, B>(stream: S, limit: u64) -> Result<Bytes, Rejection>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    futures_util::pin_mut!(stream);
    let mut body = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|e| warp::reject::custom(BodyReadError(e.to_string())))?;
        let seen = (body.len() + chunk.remaining()) as u64;
        if seen > limit {
            drain(stream, seen, limit).await;
            return Err(warp::reject::custom(PayloadTooLarge { limit }));
        }
        while chunk.has_remaining() {
            let piece = chunk.chunk();
            let n = piece.len();
            body.put_slice(piece);
            chunk.advance(n);
        }
    }
    Ok(body.freeze())
}

/// Reads and drops the rest of an oversized body (`seen` bytes of it already read) until its end, until
/// [`drain_bound`] bytes in all, or until the time runs out, whichever comes first. A read error ends it
/// too: the answer is the 413 either way.
async fn drain<S, B>(mut stream: S, mut seen: u64, limit: u64)
where
    S: Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    let bound = drain_bound(limit);
    let deadline = Instant::now() + DRAIN_TIME;
    while seen <= bound {
        let wait = deadline.min(Instant::now() + DRAIN_IDLE);
        match tokio::time::timeout_at(wait, stream.next()).await {
            Ok(Some(Ok(chunk))) => seen += chunk.remaining() as u64,
            // The end of the body, a broken one, or a sender too slow: answer now.
            Ok(Some(Err(_)) | None) | Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    //! Over a real socket: the client writes the whole oversized body before it reads, as Python's
    //! `http.client` and Event Grid do, and must receive the 413 every time.

    use super::*;
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use warp::http::StatusCode;

    const MIB: usize = 1 << 20;

    /// Serves `limited(limit)` on 127.0.0.1: 200 with the body's length, or 413.
    async fn serve(limit: u64) -> SocketAddr {
        let route = warp::post()
            .and(limited(limit, Duration::from_secs(30)))
            .map(|body: Bytes| body.len().to_string())
            .recover(|rejection: Rejection| async move {
                match rejection.find::<PayloadTooLarge>() {
                    Some(_) => Ok(warp::reply::with_status(
                        "too large",
                        StatusCode::PAYLOAD_TOO_LARGE,
                    )),
                    None => Err(rejection),
                }
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(warp::serve(route).incoming(listener).run());
        address
    }

    /// How the test client frames its body.
    #[derive(Clone, Copy, Debug)]
    enum Framing {
        Declared,
        Chunked,
    }

    /// Writes the request head and then all of `size` bytes of body, and only then reads the answer;
    /// returns its status line or what went wrong.
    fn post(address: SocketAddr, size: usize, framing: Framing) -> Result<String, std::io::Error> {
        let mut stream = TcpStream::connect(address)?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        stream.set_write_timeout(Some(Duration::from_secs(20)))?;
        let framing_header = match framing {
            Framing::Declared => format!("Content-Length: {size}"),
            Framing::Chunked => "Transfer-Encoding: chunked".to_owned(),
        };
        write!(
            stream,
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{framing_header}\r\n\r\n"
        )?;
        let block = vec![b' '; 64 * 1024];
        let mut left = size;
        while left > 0 {
            let n = left.min(block.len());
            match framing {
                Framing::Declared => stream.write_all(&block[..n])?,
                Framing::Chunked => {
                    write!(stream, "{n:x}\r\n")?;
                    stream.write_all(&block[..n])?;
                    stream.write_all(b"\r\n")?;
                }
            }
            left -= n;
        }
        if let Framing::Chunked = framing {
            stream.write_all(b"0\r\n\r\n")?;
        }
        let mut answer = Vec::new();
        let mut buffer = [0; 4096];
        while !answer.windows(2).any(|w| w == b"\r\n") {
            let n = stream.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..n]);
        }
        let answer = String::from_utf8_lossy(&answer);
        Ok(answer.lines().next().unwrap_or("").to_owned())
    }

    /// Sends the body `tries` times on fresh connections and returns the status lines (or errors).
    async fn statuses(limit: u64, size: usize, framing: Framing, tries: usize) -> Vec<String> {
        let address = serve(limit).await;
        tokio::task::spawn_blocking(move || {
            (0..tries)
                .map(|_| post(address, size, framing).unwrap_or_else(|e| format!("error: {e}")))
                .collect()
        })
        .await
        .unwrap()
    }

    fn assert_all_413(answers: &[String], case: &str) {
        let got = answers
            .iter()
            .filter(|a| a.starts_with("HTTP/1.1 413"))
            .count();
        assert_eq!(got, answers.len(), "{case}: {answers:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_5_mb_body_over_4_mib_gets_its_413_every_time() {
        for framing in [Framing::Declared, Framing::Chunked] {
            let answers = statuses(4 * MIB as u64, 5_000_000, framing, 20).await;
            assert_all_413(&answers, &format!("5 MB, {framing:?}"));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_1_7_mb_batch_over_1_mib_gets_its_413_every_time() {
        for framing in [Framing::Declared, Framing::Chunked] {
            let answers = statuses(MIB as u64, 1_700_000, framing, 20).await;
            assert_all_413(&answers, &format!("1.7 MB, {framing:?}"));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bodies_within_the_limit_are_read_whole() {
        for framing in [Framing::Declared, Framing::Chunked] {
            let answers = statuses(MIB as u64, MIB, framing, 2).await;
            assert_eq!(answers, ["HTTP/1.1 200 OK"; 2], "{framing:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_declared_length_beyond_the_bound_is_refused_unread() {
        let address = serve(MIB as u64).await;
        let answer = tokio::task::spawn_blocking(move || {
            let mut stream = TcpStream::connect(address)?;
            stream.set_read_timeout(Some(Duration::from_secs(20)))?;
            // 100 MiB declared, nothing sent: the 413 comes without waiting for the body.
            write!(
                stream,
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n[",
                100 * MIB
            )?;
            let mut answer = [0; 12];
            stream.read_exact(&mut answer)?;
            Ok::<_, std::io::Error>(String::from_utf8_lossy(&answer).into_owned())
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(answer, "HTTP/1.1 413");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn python_http_client_receives_the_413() {
        let address = serve(4 * MIB as u64).await;
        // Python's http.client sends the whole body before it reads: the client the issue measured.
        let script = r#"
import http.client, sys
port = int(sys.argv[1])
statuses = []
for _ in range(20):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        c.request("POST", "/", body=b" " * 5_000_000, headers={"Content-Type": "application/json"})
        statuses.append(str(c.getresponse().status))
    except Exception as e:
        statuses.append(type(e).__name__)
    finally:
        c.close()
print(" ".join(statuses))
"#;
        let output = tokio::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(address.port().to_string())
            .output()
            .await
            .expect("python3 is installed");
        let statuses = String::from_utf8_lossy(&output.stdout);
        assert_eq!(statuses.trim(), ["413"; 20].join(" "), "{output:?}");
    }
}
