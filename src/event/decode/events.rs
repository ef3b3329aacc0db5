//! A body of events (one object or an array) and the single event: one pass when every event decodes
//! in place, else each event's text split off and decoded on its own.

use super::body::{BodyError, Decoded};
use super::data::EventData;
use super::envelope;
use super::error::{DecodeError, JsonPath};
use super::one_pass::{EventSeed, EventsSeed};
use super::parse::{parse_borrowed, parse_str, type_name};
use crate::event::model::Event;
use serde::de::DeserializeSeed;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::marker::PhantomData;

/// Decodes a body that holds one event or an array of them (see [`decode`](crate::event::decode) with [`Body::Events`](crate::event::Body::Events)),
/// without the events' texts: for the command line and tests.
///
/// The outer `Err` means the body itself is unusable. Otherwise each element decodes on its own, so one
/// bad event does not hide the others; element errors carry their index (`$[3].data.modelVersion`)
/// when the body is an array.
pub fn decode_batch<T: EventData>(
    json: &str,
) -> Result<Vec<Result<Event<T>, DecodeError>>, DecodeError> {
    match decode_events::<T>(json, &JsonPath::root()) {
        Ok(events) => Ok(events.into_iter().map(|d| d.event).collect()),
        Err(e) => Err(e.error),
    }
}

/// The events of `text` (one object or an array), whose paths start at `at` in the body.
///
/// One pass over the whole text when every event decodes in place (what Azure sends); otherwise each
/// event's text is split off and decoded on its own, so that its error and text can be reported.
pub(super) fn decode_events<'a, T: EventData>(
    text: &'a str,
    at: &JsonPath,
) -> Result<Vec<Decoded<'a, T>>, BodyError<'a>> {
    let is_array = text.trim_start().starts_with('[');
    if let Some(mut events) = read_in_one_pass::<T>(text) {
        if !is_array {
            // A single object is its own text: free to keep.
            for event in &mut events {
                event.raw = Cow::Borrowed(text);
            }
        }
        return Ok(events);
    }
    let raws = split_batch(text).map_err(|error| BodyError {
        error: error.within(at),
        raw: Cow::Borrowed(text),
    })?;
    Ok(raws
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let within = match is_array {
                true => at.clone().index(i),
                false => at.clone(),
            };
            Decoded {
                event: decode_event(raw).map_err(|e| e.within(&within)),
                raw: Cow::Borrowed(raw),
            }
        })
        .collect())
}

/// Every event of `text` decoded in one pass, or `None` if any of them needs the general path.
pub(super) fn read_in_one_pass<T: EventData>(text: &str) -> Option<Vec<Decoded<'static, T>>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let events = EventsSeed::<T>(PhantomData).deserialize(&mut de).ok()?;
    de.end().ok().map(|()| events)
}

/// Decodes one event: in one pass when it can, else by the general path, whose errors are reported.
fn decode_event<T: EventData>(json: &str) -> Result<Event<T>, DecodeError> {
    let mut de = serde_json::Deserializer::from_str(json);
    let one_pass = EventSeed::default()
        .deserialize(&mut de)
        .and_then(|event| de.end().map(|()| event));
    match one_pass {
        Ok(event) => Ok(event),
        Err(_) => envelope::general(json),
    }
}

impl<T: EventData> Event<T> {
    /// Decodes one event (a JSON object) in either schema.
    ///
    /// ```
    /// use aml_events::event::{Event, MlEvent};
    /// let json = r#"{"id":"1","eventType":"Microsoft.MachineLearningServices.ModelRegistered",
    ///   "subject":"models/m:3","eventTime":"2024-01-01T00:00:00Z","dataVersion":"2",
    ///   "data":{"modelName":"m","modelVersion":3}}"#;
    /// let event: Event<MlEvent> = Event::from_json(json)?;
    /// let MlEvent::ModelRegistered(data) = &event.data else { panic!("wrong kind") };
    /// assert_eq!(data.model_version.as_deref(), Some("3"));
    /// # Ok::<(), aml_events::event::DecodeError>(())
    /// ```
    pub fn from_json(json: &str) -> Result<Self, DecodeError> {
        decode_event(json)
    }
}

/// Splits a body that holds one event object or a JSON array of them (Event Grid always sends an
/// array; CloudEvents structured mode sends one object, batched mode an array) into the raw JSON text of
/// each event, without decoding the events. `Err` means the body itself is unusable.
///
/// For tools that need each event's text (benches, the load scripts' bodies); [`decode`](crate::event::decode) gives the
/// texts of the events it could not decode.
pub fn split_batch(json: &str) -> Result<Vec<&str>, DecodeError> {
    match json.trim_start().as_bytes().first() {
        Some(b'[') => {
            let items: Vec<&RawValue> = parse_borrowed(json)?;
            Ok(items.into_iter().map(RawValue::get).collect())
        }
        Some(b'{') => Ok(vec![json]),
        Some(b'"') => Err(DecodeError::new(
            JsonPath::root(),
            "expected an event object or an array of events, found a JSON string",
        )),
        Some(_) => {
            // Let the parser say what it is (a number, `null`, or not JSON at all).
            let value: Value = parse_str(json)?;
            Err(DecodeError::new(
                JsonPath::root(),
                format!(
                    "expected an event object or an array of events, found {}",
                    type_name(&value)
                ),
            ))
        }
        None => Err(DecodeError::new(
            JsonPath::root(),
            "the body is empty; expected an event",
        )),
    }
}
