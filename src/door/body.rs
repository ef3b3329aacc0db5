//! Request bodies read with a size limit, whether or not the sender declared a length.
//!
//! warp's `content_length_limit` answers 411 to chunked bodies, and the Functions host may send its
//! invocation chunked, so the limit is enforced while reading instead: a declared length over the limit
//! is refused before reading, a chunked body as soon as it crosses the limit.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use warp::{Filter, Rejection};

/// The body is larger than the limit: answered with 413.
#[derive(Debug)]
pub struct PayloadTooLarge {
    /// The limit in bytes.
    pub limit: u64,
}

impl warp::reject::Reject for PayloadTooLarge {}

/// The body could not be read (client went away, broken chunking): answered with 400.
#[derive(Debug)]
pub struct BodyReadError(pub String);

impl warp::reject::Reject for BodyReadError {}

/// Extracts the whole body, refusing anything over `limit` bytes.
pub fn limited(limit: u64) -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and_then(move |declared: Option<u64>| async move {
            match declared {
                Some(n) if n > limit => Err(warp::reject::custom(PayloadTooLarge { limit })),
                _ => Ok(()),
            }
        })
        .untuple_one()
        .and(warp::body::stream())
        .and_then(move |stream| collect(stream, limit))
}

async fn collect<S, B>(stream: S, limit: u64) -> Result<Bytes, Rejection>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    futures_util::pin_mut!(stream);
    let mut body = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|e| warp::reject::custom(BodyReadError(e.to_string())))?;
        if (body.len() + chunk.remaining()) as u64 > limit {
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
