//! The one-pass reads: an event decoded where it stands, `data` decoded in place when the event type
//! precedes it (as Azure always sends it), so the body is scanned once. Anything unusual fails the
//! read, and the caller takes the general path ([`super::envelope::general`]), whose errors are the
//! ones reported; a unit test pins both equal on every fixture.

use super::body::Decoded;
use super::data::EventData;
use super::envelope::{EnvelopeSeed, InPlace, RawEnvelope};
use crate::event::model::Event;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// Decodes one event where it stands inside a larger JSON document (the Functions host's invocation
/// body holds it at `Data.event`), in one pass, without first capturing its text.
///
/// This is the fast path only: it fails on anything the general path (the envelope first, `data`
/// after) would not take in one pass: an error, `data` before the type, the type changed after `data`
/// by a later member. The error then says nothing useful: callers fall back to the general path,
/// whose errors are the ones to report.
pub(crate) struct EventSeed<T>(PhantomData<T>);

impl<T> Default for EventSeed<T> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<'de, T: EventData> DeserializeSeed<'de> for EventSeed<T> {
    type Value = Event<T>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Event<T>, D::Error> {
        let seed = EnvelopeSeed::<T> {
            in_place: true,
            data: PhantomData,
        };
        let (raw, in_place) = seed.deserialize(d)?;
        finish_one_pass(raw, in_place)
    }
}

/// The event of a one-pass read, if `data` was decoded in place for the type the event has.
fn finish_one_pass<T: EventData, E: serde::de::Error>(
    raw: RawEnvelope<'_>,
    in_place: Option<InPlace<'_, T>>,
) -> Result<Event<T>, E> {
    let not_in_one_pass = || E::custom("not decodable in one pass");
    let in_place = in_place.ok_or_else(not_in_one_pass)?;
    if raw.schema().and_then(|s| raw.event_type(s)) != Some(&*in_place.as_type) {
        return Err(not_in_one_pass());
    }
    raw.into_event(Some(in_place.data))
        .map_err(|_| not_in_one_pass())
}

/// [`EventSeed`] for one event object or an array of them: a whole `Events` body, or the value at
/// `Data.event`, in one pass. Any event that cannot be read so fails the whole read. The events come
/// as [`Decoded`] without their texts (never captured), built where they are read: no second `Vec`.
pub(super) struct EventsSeed<T>(pub(super) PhantomData<T>);

impl<'de, T: EventData> DeserializeSeed<'de> for EventsSeed<T> {
    type Value = Vec<Decoded<'static, T>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: EventData> Visitor<'de> for EventsSeed<T> {
    type Value = Vec<Decoded<'static, T>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object or an array of events")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let seed = EnvelopeSeed::<T> {
            in_place: true,
            data: PhantomData,
        };
        let (raw, in_place) = seed.visit_map(map)?;
        Ok(vec![decoded(finish_one_pass(raw, in_place)?)])
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut events = Vec::with_capacity(seq.size_hint().unwrap_or(1));
        while let Some(event) = seq.next_element_seed(EventSeed::<T>::default())? {
            events.push(decoded(event));
        }
        Ok(events)
    }
}

fn decoded<T>(event: Event<T>) -> Decoded<'static, T> {
    Decoded {
        event: Ok(event),
        raw: Cow::Borrowed(""),
    }
}
