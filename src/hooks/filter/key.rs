//! A filter's `key`: an envelope member or a path into `data`, and finding it in an event.
//!
//! Event Grid names the envelope members `ID`, `Topic`, `Subject`, `EventType`, `DataVersion` in its
//! own schema and `id`, `source`, `type`, `specversion` in CloudEvents, and data members as
//! `data.key1.key2` (`MicrosoftDocs/azure-docs@aa803038:articles/event-grid/event-filtering.md`, "Key"
//! and "CloudEvents"). Here both spellings reach the same member whatever the event's schema, and
//! every name matches in any letter case: the docs mix `Data.Key1` and `data.key1`, and Microsoft's
//! model-monitoring guide filters on `data.RunTags…` where the service sends `runTags`.

use super::view::{EventView, Found};
use serde_json::{Map, Value};
use std::fmt;
use thiserror::Error;

/// Deepest path below `data` a key may name. Event Grid has documented no depth limit since
/// advanced filtering became generally available (the 2018 page's "two levels of nesting" is gone;
/// `@1333269e` of the same file); the bound is ours, so that a key's lookup costs a bounded walk.
pub const MAX_DATA_DEPTH: usize = 10;

/// What a key names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// `id`.
    Id,
    /// `topic` (Event Grid) or `source` (CloudEvents).
    Source,
    /// `subject`.
    Subject,
    /// `eventType` (Event Grid) or `type` (CloudEvents).
    EventType,
    /// `dataVersion` (Event Grid only).
    DataVersion,
    /// `specversion` (CloudEvents only).
    SpecVersion,
    /// A path of member names below `data`, at least one.
    Data(Vec<String>),
}

/// A parsed `key`, with the text it was written as.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    written: String,
    target: Target,
}

/// Why a `key` names nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// The key is empty, or a segment between dots is.
    #[error("`{0}` has an empty segment; write `data.member.member` (a `.` inside a member name cannot be escaped)")]
    EmptySegment(String),
    /// The first segment is no envelope member and not `data`.
    #[error("`{0}` is not a key; use id, topic (source), subject, eventType (type), dataVersion, specversion or data.<member>")]
    Unknown(String),
    /// An envelope member has no members of its own.
    #[error("`{0}` is a text member of the envelope: it has no members to name after a `.`")]
    NotNested(String),
    /// `data` without a member.
    #[error("`{0}` names the whole data object; name a member: data.<member>")]
    WholeData(String),
    /// Too deep below `data`.
    #[error("`{key}` is {depth} levels below data; at most {MAX_DATA_DEPTH} are accepted")]
    TooDeep {
        /// The key.
        key: String,
        /// Its depth below `data`.
        depth: usize,
    },
}

impl Key {
    /// Parses a key as Event Grid writes it.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let segments: Vec<&str> = text.split('.').collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(KeyError::EmptySegment(text.to_owned()));
        }
        let first = segments[0].to_ascii_lowercase();
        let envelope = match first.as_str() {
            "id" => Some(Target::Id),
            "topic" | "source" => Some(Target::Source),
            "subject" => Some(Target::Subject),
            "eventtype" | "type" => Some(Target::EventType),
            "dataversion" => Some(Target::DataVersion),
            "specversion" => Some(Target::SpecVersion),
            "data" => None,
            _ => return Err(KeyError::Unknown(text.to_owned())),
        };
        let target = match envelope {
            Some(_) if segments.len() > 1 => return Err(KeyError::NotNested(text.to_owned())),
            Some(target) => target,
            None if segments.len() == 1 => return Err(KeyError::WholeData(text.to_owned())),
            None if segments.len() - 1 > MAX_DATA_DEPTH => {
                return Err(KeyError::TooDeep {
                    key: text.to_owned(),
                    depth: segments.len() - 1,
                })
            }
            None => Target::Data(segments[1..].iter().map(|s| (*s).to_owned()).collect()),
        };
        Ok(Self {
            written: text.to_owned(),
            target,
        })
    }

    /// The key as written in the file.
    pub fn as_str(&self) -> &str {
        &self.written
    }

    /// What it names.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The path below `data`, when the key names a data member.
    pub fn data_path(&self) -> Option<&[String]> {
        match &self.target {
            Target::Data(path) => Some(path),
            _ => None,
        }
    }

    /// Whether the key names a data member that the decoder rewrites, so that the handler may see a
    /// value of another type or spelling than Event Grid sees in the bytes it delivers: such a filter
    /// is evaluated here but never pushed into a subscription (it could drop an event a hook wants).
    ///
    /// The members read by `event::decode`'s lenient readers: `modelVersion` (a number becomes text),
    /// `driftCoefficient` (text becomes a number), `startTime`/`endTime` (rewritten RFC 3339),
    /// `runStatus` (the canonical name: `cancelled` becomes `Canceled`), and the tags and properties
    /// objects (`null` becomes `{}`; the members inside them are kept as sent).
    pub fn normalised(&self) -> bool {
        const NORMALISED: [&str; 11] = [
            "modelVersion",
            "driftCoefficient",
            "startTime",
            "endTime",
            "runStatus",
            "modelTags",
            "modelProperties",
            "serviceTags",
            "serviceProperties",
            "runTags",
            "runProperties",
        ];
        match self.data_path() {
            Some([member]) => NORMALISED.iter().any(|n| n.eq_ignore_ascii_case(member)),
            _ => false,
        }
    }

    /// The key's value in the event: `None` when absent or `null`.
    pub(crate) fn find<'v>(&self, view: &'v EventView<'_>) -> Option<Found<'v>> {
        let event = view.event();
        let text = match &self.target {
            Target::Id => Some(event.id.as_str()),
            Target::Source => event.source.as_deref(),
            Target::Subject => event.subject.as_deref(),
            Target::EventType => Some(event.event_type.as_str()),
            Target::DataVersion => event.data_version.as_deref(),
            Target::SpecVersion => event.spec_version.as_deref(),
            Target::Data(path) => {
                let member = |object, name: &str| view.member(object, name);
                return walk(view.data(), path, member)
                    .filter(|v| !v.is_null())
                    .map(Found::Json);
            }
        };
        text.map(Found::Text)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

/// The value at `path` below `data`: each name matches a member in any ASCII letter case (as the
/// decoder matches the typed members). Of members that differ only in case, the first in the
/// object's (sorted) order is read, whatever the key's own spelling: two spellings of one key must
/// be one test, or a filter could not move into a subscription unchanged. Arrays are not entered:
/// Event Grid does not filter on arrays of objects. `member` finds one name in one object (the
/// view's, which indexes large objects once per event).
fn walk<'v, F>(data: &'v Value, path: &[String], member: F) -> Option<&'v Value>
where
    F: Fn(&'v Map<String, Value>, &str) -> Option<&'v Value>,
{
    path.iter()
        .try_fold(data, |value, name| member(value.as_object()?, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelope_names_in_both_schemas_and_any_case() {
        for (text, target) in [
            ("id", Target::Id),
            ("ID", Target::Id),
            ("Topic", Target::Source),
            ("source", Target::Source),
            ("Subject", Target::Subject),
            ("EventType", Target::EventType),
            ("type", Target::EventType),
            ("DataVersion", Target::DataVersion),
            ("specversion", Target::SpecVersion),
        ] {
            assert_eq!(Key::parse(text).unwrap().target(), &target, "{text}");
        }
        let key = Key::parse("Data.RunTags.x").unwrap();
        assert_eq!(key.data_path().unwrap(), ["RunTags", "x"]);
        assert_eq!(key.as_str(), "Data.RunTags.x");
    }

    #[test]
    fn keys_that_name_nothing_say_why() {
        let err = |t: &str| Key::parse(t).unwrap_err().to_string();
        assert!(err("data..x").contains("empty segment"));
        assert!(err("").contains("empty segment"));
        assert!(err("runTags.x").contains("is not a key"));
        assert!(err("subject.x").contains("no members"));
        assert!(err("data").contains("name a member"));
        let deep = format!("data{}", ".a".repeat(MAX_DATA_DEPTH + 1));
        assert!(
            err(&deep).contains("11 levels below data"),
            "{}",
            err(&deep)
        );
        let deepest = format!("data{}", ".a".repeat(MAX_DATA_DEPTH));
        assert!(Key::parse(&deepest).is_ok());
    }

    #[test]
    fn data_paths_match_members_in_any_case_whatever_the_spelling() {
        let data = json!({"runTags": {"Stage": "a", "stage": "b"}, "list": [{"x": 1}]});
        let path = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let walk = |data, p: &[&str]| walk(data, &path(p), super::super::view::scan);
        assert_eq!(walk(&data, &["RunTags", "stage"]), Some(&json!("a")));
        assert_eq!(walk(&data, &["RUNTAGS", "STAGE"]), Some(&json!("a")));
        assert_eq!(walk(&data, &["list", "x"]), None);
        assert_eq!(walk(&data, &["runTags", "Stage", "deeper"]), None);
    }
}
