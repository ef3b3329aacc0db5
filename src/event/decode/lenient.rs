//! Serde helpers for the places where Azure's docs, SDKs and live payloads disagree on types.
//!
//! Each helper accepts every shape seen in the wild (see `shared/reference/ml-events.md`) and
//! normalises it; anything else is still an error, reported at the field's JSON path.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDateTime};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// A string, or a JSON integer normalised to its decimal text; `null` is absent.
///
/// `modelVersion` is a string in the current spec, an integer in the legacy spec and the docs example,
/// and a number in a payload captured from the live service.
pub(crate) fn string_or_number<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or an integer")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // `20.0` is still version 20; a fractional version is not a version.
            if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15 {
                Ok(Some(format!("{}", v as i64)))
            } else {
                Err(E::invalid_value(de::Unexpected::Float(v), &self))
            }
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// A JSON number, or a string holding one; `null` is absent. Parsed with full `f64` precision.
pub(crate) fn f64_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            match v.trim().parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(Some(n)),
                _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
            }
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// A free-form JSON object (tags, properties); `null` is the empty object.
pub(crate) fn object_or_null<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Map<String, Value>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Map<String, Value>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Map::new();
            while let Some((k, v)) = map.next_entry::<String, Value>()? {
                out.insert(k, v);
            }
            Ok(out)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Map::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Map::new())
        }
    }
    d.deserialize_any(V)
}

/// Parses an event timestamp: RFC 3339 with any number of fractional digits and any offset, or, as some
/// Azure services send, an ISO 8601 date-time without an offset, read as UTC.
///
/// Years are four digits, 0000 to 9999, as RFC 3339 has them: chrono's fallback parser would also take
/// `+12345` or `-0001`, which [`format_time`](crate::event::format_time) would then write in a form this function rejects.
pub fn parse_time(text: &str) -> Result<DateTime<FixedOffset>, NotATime> {
    let parsed = DateTime::parse_from_rfc3339(text).or_else(|_| {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .map(|naive| naive.and_utc().fixed_offset())
    });
    match parsed {
        Ok(time) if (0..=9999).contains(&time.year()) => Ok(time),
        _ => Err(NotATime(text.to_owned())),
    }
}

/// A timestamp that is not an RFC 3339 date-time; the text says which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an RFC 3339 date-time")]
pub struct NotATime(pub String);

/// Optional timestamp: a string as [`parse_time`] reads it; `null` is absent.
pub(crate) fn time_or_null<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<DateTime<FixedOffset>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an RFC 3339 date-time string")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            parse_time(v).map(Some).map_err(E::custom)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::model::format_time;

    #[test]
    fn years_outside_four_digits_are_rejected_so_every_time_round_trips() {
        // Found by the fuzzer's round-trip mode.
        for text in [
            "+12345-01-01T00:00:00",
            "-0001-01-01T00:00:00",
            "+10000-01-01T00:00:00Z",
        ] {
            assert!(parse_time(text).is_err(), "{text}");
        }
        for text in [
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.5-05:00",
            "2024-02-29T12:00:00",
        ] {
            let time = parse_time(text).unwrap();
            assert_eq!(parse_time(&format_time(&time)).unwrap(), time, "{text}");
        }
    }

    #[test]
    fn times_with_seven_fractional_digits_and_offsets_parse() {
        let t = parse_time("2017-06-26T18:41:00.9584103Z").unwrap();
        assert_eq!(t.timestamp_subsec_nanos(), 958_410_300);
        let t = parse_time("2019-07-03T17:00:00-07:00").unwrap();
        assert_eq!(t.offset().local_minus_utc(), -7 * 3600);
        assert_eq!(format_time(&t), "2019-07-03T17:00:00-07:00");
    }

    #[test]
    fn times_without_offset_are_utc() {
        let t = parse_time("2018-10-12T15:14:20.2412317").unwrap();
        assert_eq!(format_time(&t), "2018-10-12T15:14:20.241231700Z");
    }

    #[test]
    fn garbage_times_are_rejected_with_the_text() {
        let err = parse_time("yesterday").unwrap_err().to_string();
        assert_eq!(err, "`yesterday` is not an RFC 3339 date-time");
    }
}
