//! [`EventView`]: an event as filters read it, with its data as JSON made once per event.

use crate::event::{Event, MlEvent};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Objects with at least this many members are looked into through an index, made once per event
/// (75,000 tags and 1,000 filters: one pass over the tags instead of 1,000).
const INDEXED_MEMBERS: usize = 64;
/// Texts at least this long are lower-cased once per event, not once per filter.
const SHARED_FOLD_BYTES: usize = 256;

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
///
/// What every filter would otherwise redo is kept here too, keyed by address: the data is made
/// once and never changed while the view lives, so an address names one object or text of it (or
/// of the event, which the view borrows).
#[derive(Debug)]
pub struct EventView<'a> {
    event: &'a Event<MlEvent>,
    data: OnceLock<Value>,
    /// Per large object of the data: member name in ASCII lower case → the first member of that
    /// name in the object's order (what a scan would find).
    indexes: Mutex<HashMap<usize, HashMap<String, String>>>,
    /// Long texts in lower case, by address and length.
    folded: Mutex<HashMap<(usize, usize), Arc<str>>>,
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
            indexes: Mutex::default(),
            folded: Mutex::default(),
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

    /// The member `name` (any ASCII letter case) of `object`, which must be part of
    /// [`EventView::data`]: the first such member in the object's order.
    pub(crate) fn member<'v>(
        &'v self,
        object: &'v Map<String, Value>,
        name: &str,
    ) -> Option<&'v Value> {
        if object.len() < INDEXED_MEMBERS {
            return scan(object, name);
        }
        let mut indexes = self.indexes.lock().unwrap_or_else(PoisonError::into_inner);
        let index = indexes
            .entry(object as *const Map<String, Value> as usize)
            .or_insert_with(|| {
                let mut index = HashMap::with_capacity(object.len());
                for key in object.keys() {
                    index
                        .entry(key.to_ascii_lowercase())
                        .or_insert_with(|| key.clone());
                }
                index
            });
        object.get(index.get(&name.to_ascii_lowercase())?)
    }

    /// `text` (of the event or its data) in lower case, made once per view for long texts.
    pub(crate) fn lowercase(&self, text: &str) -> Arc<str> {
        if text.len() < SHARED_FOLD_BYTES {
            return Arc::from(text.to_lowercase());
        }
        let mut folded = self.folded.lock().unwrap_or_else(PoisonError::into_inner);
        folded
            .entry((text.as_ptr() as usize, text.len()))
            .or_insert_with(|| Arc::from(text.to_lowercase()))
            .clone()
    }
}

/// The first member of `object` named `name` in any ASCII letter case.
pub(crate) fn scan<'v>(object: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}
