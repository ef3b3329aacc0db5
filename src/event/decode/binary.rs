//! [`Body::Binary`](super::Body::Binary): CloudEvents HTTP binary mode, the attributes in `ce-*`
//! headers and the data in the body, read straight into the envelope, with no JSON written and read
//! back on the way.
//!
//! The rules are those of a structured event holding the same attributes: every attribute is a string
//! member (matched as the envelope's members are, the rest kept as extensions), `datacontenttype` is
//! the `Content-Type` (`application/json` when absent), JSON data is the body, other data is the body
//! in base64 as `data_base64` (and so rejected for the typed kinds), a blank body is no data.

use super::body::{utf8, BodyError, Decoded};
use super::envelope::{member, RawEnvelope};
use super::wire::Scalar;
use crate::event::media_type::is_json_media_type;
use crate::event::model::MlEvent;
use base64::Engine as _;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// The event of a binary-mode request.
pub(super) fn decode<'a>(
    attributes: &'a [(String, String)],
    content_type: Option<&'a str>,
    data: &'a [u8],
) -> Result<Decoded<'a>, BodyError<'a>> {
    let content_type = content_type.unwrap_or("application/json");
    let mut env = RawEnvelope::default();
    for (name, value) in attributes {
        if name.eq_ignore_ascii_case("data") {
            // A `ce-data` header: a JSON string as the data, unless the body has some.
            env.data = Some(Cow::Owned(Value::from(value.as_str()).to_string()));
        } else if let Some(member) = member(name) {
            *env.slot(member) = Some(Scalar::Str(Cow::Borrowed(value)));
        } else {
            env.others
                .insert(name.clone(), Value::String(value.clone()));
        }
    }
    env.data_content_type = Some(Scalar::Str(Cow::Borrowed(content_type)));
    let blank = std::str::from_utf8(data).is_ok_and(|text| text.trim().is_empty());
    let json = is_json_media_type(content_type);
    if !blank && json {
        env.data = Some(Cow::Borrowed(utf8(data, "the body")?));
    } else if !blank {
        let encoded = base64::engine::general_purpose::STANDARD.encode(data);
        env.data_base64 = Some(Scalar::Str(Cow::Owned(encoded)));
    }
    let event = env.into_event::<MlEvent>(None);
    let raw = match &event {
        Ok(_) => Cow::Borrowed(""),
        Err(_) => Cow::Owned(structured(attributes, content_type, data, blank, json)),
    };
    Ok(Decoded { event, raw })
}

/// The event as the structured-mode JSON it stands for: the text an error log and the poison binding
/// keep (errors only; a decoded event never needs it).
#[cold]
fn structured(
    attributes: &[(String, String)],
    content_type: &str,
    data: &[u8],
    blank: bool,
    json: bool,
) -> String {
    let mut event: Map<String, Value> = attributes
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    event.insert("datacontenttype".into(), content_type.into());
    if blank {
        // No data.
    } else if json {
        let text = String::from_utf8_lossy(data);
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text.into_owned()));
        event.insert("data".into(), value);
    } else {
        let encoded = base64::engine::general_purpose::STANDARD.encode(data);
        event.insert("data_base64".into(), encoded.into());
    }
    Value::Object(event).to_string()
}
