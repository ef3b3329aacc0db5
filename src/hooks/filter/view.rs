//! [`EventView`]: an event as filters read it, with its data as JSON made once per event.

use crate::event::{Event, MlEvent};
use serde_json::Value;
use std::sync::OnceLock;

/// An event as the hooks' filters see it: the typed event, and its `data` as JSON, written by the
/// event's own encoder the first time a filter asks for a data member and shared by every hook that
/// looks at the event after that.
///
/// Why the encoder and not the bytes that arrived: the decoder reads the body in one pass and keeps
/// no copy of an event's text (capturing it would cost a second pass over every body, for the few
/// hooks that filter on data). The data written back is the data received, with unknown members kept
/// verbatim, except where the decoder normalises a member: `modelVersion` is text, `runStatus` is
/// the canonical status name, `driftCoefficient` a number, the times RFC 3339, absent tags and
/// properties `{}` (see [`Key::normalised`](super::Key::normalised)).
#[derive(Debug)]
pub struct EventView<'a> {
    event: &'a Event<MlEvent>,
    data: OnceLock<Value>,
}

/// A key's value in an event: an envelope member's text, or JSON from `data`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Found<'v> {
    /// An envelope member.
    Text(&'v str),
    /// A value of `data` (never `null`).
    Json(&'v Value),
}

impl<'a> EventView<'a> {
    /// A view of `event`; nothing is computed until a filter needs it.
    pub fn new(event: &'a Event<MlEvent>) -> Self {
        Self {
            event,
            data: OnceLock::new(),
        }
    }

    /// The event.
    pub fn event(&self) -> &'a Event<MlEvent> {
        self.event
    }

    /// The event's data as JSON (the service's camelCase, unknown members as sent).
    pub(crate) fn data(&self) -> &Value {
        self.data.get_or_init(|| {
            // Serialising maps with string keys cannot fail; `null` would only make data keys absent.
            serde_json::to_value(&self.event.data).unwrap_or(Value::Null)
        })
    }
}
