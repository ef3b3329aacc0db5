//! Log fields that come from outside (request headers, event ids) are bounded: a span field is
//! repeated on every line logged inside the span, so an unbounded 300 KiB header on a 5,000-event
//! batch turned 1.2 MB of request into 1.5 GB of stdout (Application Insights bills per GB).

use std::borrow::Cow;

/// The most bytes of an outside value a log field keeps. Event Grid subscription names are at most
/// 64 characters; ids are GUIDs; nothing legitimate comes near.
pub const FIELD_LIMIT: usize = 128;

/// `value` cut to [`FIELD_LIMIT`] bytes (see [`cut`]).
pub fn bounded(value: &str) -> Cow<'_, str> {
    cut(value, FIELD_LIMIT)
}

/// `value` cut to `limit` bytes on a character boundary, with `…` and its full length.
pub fn cut(value: &str, limit: usize) -> Cow<'_, str> {
    if value.len() <= limit {
        return Cow::Borrowed(value);
    }
    let mut end = limit;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}… ({} bytes in all)", &value[..end], value.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_raw_events_are_cut_on_a_char_boundary() {
        let text = "é".repeat(10);
        let cut = cut(&text, 5);
        assert!(cut.starts_with("éé…"), "{cut}");
    }

    #[test]
    fn short_values_are_kept_and_long_ones_cut_on_a_char_boundary() {
        assert_eq!(bounded("sub-1"), "sub-1");
        let long = "é".repeat(100);
        let cut = bounded(&long);
        assert!(cut.starts_with(&"é".repeat(64)), "{cut}");
        assert!(cut.ends_with("… (200 bytes in all)"), "{cut}");
        assert!(cut.len() < FIELD_LIMIT + 24, "{}", cut.len());
    }
}
