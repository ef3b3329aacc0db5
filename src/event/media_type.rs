//! Media types, as the envelope decoder and writer need them (`datacontenttype`, binary mode).
//!
//! Not part of the library's API: the webhook door reuses these for its `Content-Type` checks, and the
//! decoder needs [`is_json_media_type`] for `datacontenttype` and `data_base64`, so they stay here.

/// The media type without parameters, lower-cased (`Application/JSON; charset=utf-8` → `application/json`).
pub(crate) fn media_type_essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether a media type is JSON: `application/json`, `text/json` or any `+json` type, in any case.
///
/// Compared in place rather than through [`media_type_essence`]: no `String` on the decode path.
pub(crate) fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .as_bytes();
    essence.eq_ignore_ascii_case(b"application/json")
        || essence.eq_ignore_ascii_case(b"text/json")
        || (essence.len() >= 5 && essence[essence.len() - 5..].eq_ignore_ascii_case(b"+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types_are_recognised_in_any_case_with_parameters() {
        for json in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "text/json",
            "application/cloudevents+JSON",
        ] {
            assert!(is_json_media_type(json), "{json}");
        }
        for other in [
            "text/plain",
            "application/jsonx",
            "json",
            "",
            "\u{e9}+json\u{e9}",
        ] {
            assert!(!is_json_media_type(other), "{other}");
        }
        assert_eq!(media_type_essence(" Text/Plain ; q=1"), "text/plain");
    }
}
