//! How a timestamp is written: the model's own format, shared by the envelope's writer, the data's
//! `Serialize` and the templates.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::Serializer;

/// Writes a timestamp as RFC 3339, `Z` for UTC, with as many fractional digits as it needs.
pub fn format_time(time: &DateTime<FixedOffset>) -> String {
    if time.offset().local_minus_utc() == 0 {
        time.with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::AutoSi, true)
    } else {
        time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }
}

/// Serialises an optional timestamp with [`format_time`].
pub(crate) fn serialize_time<S: Serializer>(
    time: &Option<DateTime<FixedOffset>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(t) => s.serialize_str(&format_time(t)),
        None => s.serialize_none(),
    }
}
