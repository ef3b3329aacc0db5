//! Parsing JSON text with errors that name their JSONPath.

use super::error::{DecodeError, JsonPath};
use serde::de::DeserializeSeed;
use serde::Deserialize;
use serde_json::Value;
use std::marker::PhantomData;

/// Parses JSON text into `T`, with the JSONPath of any error.
pub(crate) fn parse_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, DecodeError> {
    parse_borrowed(text)
}

/// Parses JSON text into `T`; on failure, the error names the JSONPath where it happened.
pub(crate) fn parse_borrowed<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, DecodeError> {
    parse_seeded(text, PhantomData::<T>)
}

/// Parses JSON text with `seed`; on failure, the error names the JSONPath where it happened.
///
/// Path tracking costs a segment per member, so the text is parsed plainly first and only parsed again
/// with [`serde_path_to_error`] when that fails: errors are rare, and only they need the path.
pub(crate) fn parse_seeded<'a, S: DeserializeSeed<'a> + Clone>(
    text: &'a str,
    seed: S,
) -> Result<S::Value, DecodeError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let plain = seed
        .clone()
        .deserialize(&mut de)
        .and_then(|value| de.end().map(|()| value));
    match plain {
        Ok(value) => Ok(value),
        Err(plain) => Err(locate_error(text, seed).unwrap_or_else(|| {
            // Both parsers read the same bytes; this only guards against one accepting what the
            // other refused.
            DecodeError::new(JsonPath::root(), format!("not valid JSON: {plain}"))
        })),
    }
}

/// The error of parsing `text` with `seed`, with its path; `None` if it parses.
#[cold]
fn locate_error<'a, S: DeserializeSeed<'a>>(text: &'a str, seed: S) -> Option<DecodeError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let mut track = serde_path_to_error::Track::new();
    if let Err(error) =
        seed.deserialize(serde_path_to_error::Deserializer::new(&mut de, &mut track))
    {
        return Some(DecodeError::from_serde(serde_path_to_error::Error::new(
            track.path(),
            error,
        )));
    }
    de.end()
        .err()
        .map(|e| DecodeError::new(JsonPath::root(), format!("not valid JSON: {e}")))
}

/// A short name of a JSON value's type, for error messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
