//! What [`decode`](super::decode) takes and gives: [`Body`], [`Decoded`], [`BodyError`].

use super::error::{DecodeError, JsonPath};
use crate::event::model::{Event, MlEvent};
use std::borrow::Cow;

/// What a door hands over: bytes plus the transport facts decoding needs.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    /// One event object or an array of them (webhook structured or batch mode, Lambda, `handler decode`).
    Events(&'a [u8]),
    /// A Functions host invocation `{"Data": {"event": ...}, "Metadata": {...}}`: the event (or array)
    /// at `Data.event` or the only binding, possibly a JSON string holding the event (once or twice
    /// encoded).
    Invocation(&'a [u8]),
    /// CloudEvents HTTP binary mode: the `ce-*` headers' attributes (name without the `ce-` prefix,
    /// lower-case; value already percent-decoded by the door), the Content-Type, the body as the data.
    Binary {
        /// The attributes, `specversion` included, in header order (a repeated one: the last wins).
        attributes: &'a [(String, String)],
        /// The `Content-Type` header: the event's `datacontenttype` (`application/json` when absent).
        content_type: Option<&'a str>,
        /// The body: the event's data (none when blank).
        data: &'a [u8],
    },
}

/// One event of a body: decoded, or why not, with its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<'a, T = MlEvent> {
    /// The event, or why it cannot be decoded; error paths start at the body's root
    /// (`$[3].data.modelVersion`, `$.Data.event.data.modelVersion`).
    pub event: Result<Event<T>, DecodeError>,
    /// The event's own JSON text (for error logs and the poison binding): always there when `event`
    /// is `Err`; empty for an event decoded in one pass over the body, where capturing it would cost
    /// a second pass.
    pub raw: Cow<'a, str>,
}

/// The body as a whole is unusable (not JSON, not UTF-8, no event in the invocation).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error}")]
pub struct BodyError<'a> {
    /// What is wrong, with its path from the body's root.
    pub error: DecodeError,
    /// The text to keep: the whole body (lossy UTF-8), or what was found where the event should be.
    pub raw: Cow<'a, str>,
}

/// The body as text; `what` names it in the error.
pub(super) fn utf8<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str, BodyError<'a>> {
    std::str::from_utf8(bytes).map_err(|e| BodyError {
        error: DecodeError::new(JsonPath::root(), format!("{what} is not UTF-8: {e}")),
        raw: String::from_utf8_lossy(bytes),
    })
}
