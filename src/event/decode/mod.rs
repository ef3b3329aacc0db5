//! Decoding: from the bytes a door received to [`Event<MlEvent>`](crate::event::Event)s, with errors that name their JSON
//! path. [`decode`] is the one entry point; it depends on the model, never the other way round.
//!
//! - `body`: what [`decode`] takes and gives; `events`: a body of events, and the single event;
//! - `envelope`: the envelope's members off the wire (any key casing, last-wins duplicates, extensions
//!   kept), `data` decoded in place when the type precedes it (one pass) or after the envelope (the
//!   general path, whose errors are reported);
//! - `data`: the typed data ([`EventData`]) and every data struct's member list;
//! - `one_pass`: an event, or a body of them, read in one pass with `data` decoded in place;
//! - `invocation`: the Functions host's invocation body (`Data.event`);
//! - `binary`: CloudEvents HTTP binary mode, straight from the attributes;
//! - `lenient`, `wire`, `parse`, `error`: field helpers, borrowing readers, parsing with JSONPaths.

mod binary;
mod body;
mod data;
mod envelope;
mod error;
mod events;
mod invocation;
mod lenient;
mod one_pass;
mod parse;
mod wire;

pub use body::{Body, BodyError, Decoded};
pub(crate) use data::data_members;
pub use data::EventData;
pub use error::{DecodeError, JsonPath};
pub use events::{decode_batch, split_batch};
pub use invocation::TRIGGER_BINDING;

use body::utf8;
use events::decode_events;

/// Decodes a body into its events, each on its own so that one bad event does not hide the others.
///
/// `Err` means the body as a whole is unusable: the error (with its path) and the text to keep.
///
/// ```
/// use aml_events::event::{decode, Body, MlEvent};
/// let body = br#"[{"id":"1","eventType":"Microsoft.MachineLearningServices.ModelRegistered",
///   "data":{"modelName":"m","modelVersion":3}}, {"eventType":"X"}]"#;
/// let events = decode(Body::Events(body))?;
/// let MlEvent::ModelRegistered(data) = &events[0].event.as_ref().unwrap().data else { panic!() };
/// assert_eq!(data.model_version.as_deref(), Some("3"));
/// assert_eq!(events[1].event.as_ref().unwrap_err().to_string(), "missing `id` at $[1].id");
/// assert_eq!(events[1].raw, r#"{"eventType":"X"}"#);
/// # Ok::<(), aml_events::event::BodyError<'_>>(())
/// ```
pub fn decode(body: Body<'_>) -> Result<Vec<Decoded<'_>>, BodyError<'_>> {
    match body {
        Body::Events(bytes) => decode_events(utf8(bytes, "the body")?, &JsonPath::root()),
        Body::Invocation(bytes) => invocation::decode(bytes),
        Body::Binary {
            attributes,
            content_type,
            data,
        } => binary::decode(attributes, content_type, data).map(|event| vec![event]),
    }
}

#[cfg(test)]
mod tests {
    use super::events::read_in_one_pass;
    use super::*;
    use crate::event::model::{Event, EventKind, MlEvent};
    use serde_json::Value;

    const REGISTERED: &str = r#"{"id":"1","eventType":"Microsoft.MachineLearningServices.ModelRegistered","data":{"modelName":"m","modelVersion":3}}"#;

    fn at(path: &str) -> JsonPath {
        path.split('.')
            .fold(JsonPath::root(), |p, key| match key.parse() {
                Ok(i) => p.index(i),
                Err(_) => p.key(key),
            })
    }

    /// The fast paths (one event in one pass; a whole body, object or array, in one pass; the
    /// invocation's event where it stands) against the general path, the envelope first and `data`
    /// after, for every fixture: the same events, the same errors at the same paths.
    #[test]
    fn every_path_decodes_every_fixture_as_the_general_path_does() {
        let (mut fast, mut in_invocation) = (0, 0);
        for (path, raw) in crate::event::fixture_events() {
            let file = path.display();
            let general = envelope::general::<MlEvent>(&raw);
            assert_eq!(Event::<MlEvent>::from_json(&raw), general, "{file}");
            let plain = envelope::general::<Value>(&raw);
            assert_eq!(Event::<Value>::from_json(&raw), plain, "{file}");
            if let Some(events) = read_in_one_pass::<MlEvent>(&raw) {
                let events: Vec<_> = events.into_iter().map(|d| d.event).collect();
                assert_eq!(events, vec![general.clone()], "{file}");
                fast += 1;
            }
            let array = format!("[{raw},{raw}]");
            let decoded = decode(Body::Events(array.as_bytes())).unwrap();
            for (i, d) in decoded.into_iter().enumerate() {
                let want = general.clone().map_err(|e| e.within(&at(&i.to_string())));
                assert_eq!(d.event, want, "{file}");
            }
            let body = format!(
                r#"{{"Data":{{"event":{raw}}},"Metadata":{{"data":{{"x":[1,{{"y":"z"}}]}},"sys":{{"MethodName":"f"}}}}}}"#
            );
            if let Some(events) = invocation::one_pass(body.as_bytes()) {
                let events: Vec<_> = events.into_iter().map(|d| d.event).collect();
                assert_eq!(events, vec![general.clone()], "{file}");
                in_invocation += 1;
            }
            let decoded = decode(Body::Invocation(body.as_bytes())).unwrap();
            let want = general.map_err(|e| e.within(&at("Data.event")));
            assert_eq!(decoded[0].event, want, "{file}");
        }
        assert!(fast >= 20, "{fast} fixtures decoded in one pass");
        assert!(
            in_invocation >= 20,
            "{in_invocation} invocations decoded in one pass"
        );
    }

    #[test]
    fn events_keep_each_bad_event_with_its_text_and_index() {
        let body = format!(r#"[{REGISTERED}, {{"eventType":"X"}}]"#);
        let decoded = decode(Body::Events(body.as_bytes())).unwrap();
        assert!(decoded[0].event.is_ok());
        assert_eq!(decoded[0].raw, REGISTERED);
        let error = decoded[1].event.as_ref().unwrap_err();
        assert_eq!(error.to_string(), "missing `id` at $[1].id");
        assert_eq!(decoded[1].raw, r#"{"eventType":"X"}"#);
        // All good: one pass, no texts captured for an array; a single object is its own text.
        let body = format!("[{REGISTERED},{REGISTERED}]");
        let decoded = decode(Body::Events(body.as_bytes())).unwrap();
        assert!(decoded.iter().all(|d| d.event.is_ok() && d.raw.is_empty()));
        let decoded = decode(Body::Events(REGISTERED.as_bytes())).unwrap();
        assert_eq!((decoded.len(), &*decoded[0].raw), (1, REGISTERED));
    }

    #[test]
    fn unusable_events_bodies_are_body_errors_with_the_body() {
        let error = decode(Body::Events(b"42")).unwrap_err();
        assert!(error.error.message().contains("found a number"), "{error}");
        assert_eq!(error.raw, "42");
        let error = decode(Body::Events(b"[{\"id\": \xff}]")).unwrap_err();
        assert!(
            error.to_string().starts_with("the body is not UTF-8"),
            "{error}"
        );
        assert_eq!(error.raw, "[{\"id\": \u{fffd}}]");
        let error = decode(Body::Events(b"  ")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the body is empty; expected an event at $"
        );
    }

    #[test]
    fn invocations_find_the_event_and_report_from_the_body_root() {
        let usual = format!(r#"{{"Data":{{"event":{REGISTERED}}},"Metadata":{{}}}}"#);
        let decoded = decode(Body::Invocation(usual.as_bytes())).unwrap();
        assert_eq!(
            decoded[0].event.as_ref().unwrap().kind(),
            EventKind::ModelRegistered
        );
        assert_eq!(
            decoded[0].raw, "",
            "decoded where it stands: no text captured"
        );

        let quoted = serde_json::to_string(REGISTERED).unwrap();
        let body = format!(r#"{{"Data":{{"event":{quoted}}}}}"#);
        let decoded = decode(Body::Invocation(body.as_bytes())).unwrap();
        assert_eq!(decoded[0].event, Event::from_json(REGISTERED));
        assert_eq!(decoded[0].raw, REGISTERED);

        let bad = r#"{"id":"1","eventType":"Microsoft.MachineLearningServices.ModelRegistered","data":{"modelVersion":{"major":1}}}"#;
        let body = format!(r#"{{"Data":{{"event":{bad}}}}}"#);
        let decoded = decode(Body::Invocation(body.as_bytes())).unwrap();
        assert_eq!(
            decoded[0].event.as_ref().unwrap_err().to_string(),
            "invalid type: map, expected a string or an integer at $.Data.event.data.modelVersion"
        );
        assert_eq!(decoded[0].raw, bad);

        let array =
            serde_json::to_string(&format!(r#"[{REGISTERED},{{"eventType":"X"}}]"#)).unwrap();
        let body = format!(r#"{{"Data":{{"eg":{array}}}}}"#);
        let decoded = decode(Body::Invocation(body.as_bytes())).unwrap();
        assert!(decoded[0].event.is_ok());
        let error = decoded[1].event.as_ref().unwrap_err();
        assert_eq!(error.path().to_string(), "$.Data.eg[1].id");
        assert_eq!(decoded[1].raw, r#"{"eventType":"X"}"#);
    }

    #[test]
    fn invocations_without_an_event_are_body_errors() {
        let body = r#"{"Metadata":{}}"#;
        let error = decode(Body::Invocation(body.as_bytes())).unwrap_err();
        assert_eq!(
            error.to_string(),
            "missing `Data`: not a custom-handler invocation at $.Data"
        );
        assert_eq!(error.raw, body);
        let error = decode(Body::Invocation(b"\xff")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("the invocation body is not UTF-8"),
            "{error}"
        );
        let body = r#"{"Data":{"event":42}}"#;
        let error = decode(Body::Invocation(body.as_bytes())).unwrap_err();
        assert_eq!(
            error.to_string(),
            "expected an event object or an array of events, found a number at $.Data.event"
        );
        assert_eq!(error.raw, "42");
        let body = r#"{"Data":{"event":"\"unterminated"}}"#;
        let error = decode(Body::Invocation(body.as_bytes())).unwrap_err();
        assert!(
            error.to_string().contains("not a valid JSON string"),
            "{error}"
        );
        assert!(error.to_string().ends_with("at $.Data.event"), "{error}");
    }

    fn attributes(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const SOURCE: &str = "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/ws";
    const DEPLOYED: &str = "Microsoft.MachineLearningServices.ModelDeployed";

    fn binary<'a>(
        attributes: &'a [(String, String)],
        content_type: Option<&'a str>,
        data: &'a [u8],
    ) -> Decoded<'a> {
        let mut events = decode(Body::Binary {
            attributes,
            content_type,
            data,
        })
        .unwrap();
        assert_eq!(events.len(), 1);
        events.remove(0)
    }

    #[test]
    fn binary_mode_is_the_structured_event_of_the_same_attributes() {
        let attrs = attributes(&[
            ("specversion", "1.0"),
            ("id", "binary-1"),
            ("source", SOURCE),
            ("type", DEPLOYED),
            ("subject", "endpoints/my-sklearn-service"),
            ("time", "2026-11-25T11:00:00+01:00"),
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
        ]);
        let data = r#"{"serviceName":"my-sklearn-service","modelIds":"m:1"}"#;
        let decoded = binary(
            &attrs,
            Some("application/json; charset=utf-8"),
            data.as_bytes(),
        );
        let event = decoded.event.unwrap();
        assert_eq!(decoded.raw, "");
        let structured = format!(
            r#"{{"specversion":"1.0","id":"binary-1","source":"{SOURCE}","type":"{DEPLOYED}",
            "subject":"endpoints/my-sklearn-service","time":"2026-11-25T11:00:00+01:00",
            "traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "datacontenttype":"application/json; charset=utf-8","data":{data}}}"#
        );
        assert_eq!(event, Event::from_json(&structured).unwrap());
        assert_eq!(event.schema, crate::event::Schema::CloudEvents);
        assert_eq!(event.time.unwrap().offset().local_minus_utc(), 3600);
        let MlEvent::ModelDeployed(d) = &event.data else {
            panic!("{:?}", event.data)
        };
        assert_eq!(d.service_name.as_deref(), Some("my-sklearn-service"));
        // No Content-Type: JSON.
        let event = binary(&attrs, None, data.as_bytes()).event.unwrap();
        assert_eq!(event.data_content_type.as_deref(), Some("application/json"));
    }

    #[test]
    fn binary_mode_data_that_is_not_json_is_base64() {
        let attrs = attributes(&[
            ("specversion", "1.0"),
            ("id", "1"),
            ("source", "/s"),
            ("type", "Example.Text"),
        ]);
        let event = binary(&attrs, Some("text/plain"), b"hello").event.unwrap();
        assert!(event.data_base64);
        assert_eq!(event.data, MlEvent::Other(Value::from("aGVsbG8=")));
        let event = binary(&attrs, Some("application/octet-stream"), b"\xff\x00")
            .event
            .unwrap();
        assert_eq!(event.data, MlEvent::Other(Value::from("/wA=")));
        // A blank body is no data.
        let event = binary(&attrs, None, b" \n").event.unwrap();
        assert_eq!(event.data, MlEvent::Other(Value::Null));

        let typed = attributes(&[
            ("specversion", "1.0"),
            ("id", "1"),
            ("source", "/s"),
            ("type", DEPLOYED),
        ]);
        let decoded = binary(&typed, Some("text/plain"), b"hello");
        assert_eq!(
            decoded.event.unwrap_err().to_string(),
            "ModelDeployed events need JSON data, but `data_base64` holds `text/plain` at $.data_base64"
        );
        let raw: Value = serde_json::from_str(&decoded.raw).unwrap();
        assert_eq!(raw["data_base64"], "aGVsbG8=");
        let decoded = binary(&typed, None, b"");
        assert_eq!(
            decoded.event.unwrap_err().to_string(),
            "`data` of a ModelDeployed event must be an object, found nothing at $.data"
        );
    }

    #[test]
    fn binary_mode_reports_what_structured_mode_reports() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a [u8], &'a str);
        let cases: [Case<'_>; 4] = [
            (&[("specversion", "1.0"), ("source", "/s"), ("type", "X")], b"{}", "missing `id` at $.id"),
            (&[("specversion", "1.0"), ("id", "1"), ("type", "X")], b"{}", "missing `source` at $.source"),
            (
                &[("specversion", "0.3"), ("id", "1"), ("source", "/s"), ("type", "X")],
                b"{}",
                "CloudEvents `specversion` \"0.3\" is not supported; expected \"1.0\" at $.specversion",
            ),
            (&[("specversion", "1.0"), ("id", "1"), ("source", "/s"), ("type", "X")], b"{\"a\":", "at $.data.a"),
        ];
        for (pairs, data, want) in cases {
            let attrs = attributes(pairs);
            let decoded = binary(&attrs, Some("application/json"), data);
            let error = decoded.event.unwrap_err().to_string();
            assert!(error.ends_with(want), "{error}");
            let raw: Value = serde_json::from_str(&decoded.raw).unwrap();
            assert_eq!(raw["datacontenttype"], "application/json", "{raw}");
        }
        let attrs = attributes(&[
            ("specversion", "1.0"),
            ("id", "1"),
            ("source", "/s"),
            ("type", "X"),
        ]);
        let error = decode(Body::Binary {
            attributes: &attrs,
            content_type: Some("application/json"),
            data: b"\xff",
        })
        .unwrap_err();
        assert!(
            error.to_string().starts_with("the body is not UTF-8"),
            "{error}"
        );
    }
}
