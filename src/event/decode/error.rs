//! Decode errors that say what is wrong and where.

use std::fmt;

/// A location in a JSON document, written as a JSONPath (`$.data.modelVersion`, `$[2].id`).
///
/// Paths are built outside-in: the envelope decoder knows `data.modelVersion`, the door that found the
/// event inside an invocation prepends `Data.event`, the batch reader prepends `[2]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonPath(Vec<Segment>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl JsonPath {
    /// The document root, `$`.
    pub fn root() -> Self {
        Self::default()
    }

    /// This path with `key` appended.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.0.push(Segment::Key(key.into()));
        self
    }

    /// This path with the array index `index` appended.
    pub fn index(mut self, index: usize) -> Self {
        self.0.push(Segment::Index(index));
        self
    }

    /// `self` followed by `rest`.
    pub fn join(mut self, rest: &JsonPath) -> Self {
        self.0.extend(rest.0.iter().cloned());
        self
    }

    pub(crate) fn from_serde(path: &serde_path_to_error::Path) -> Self {
        use serde_path_to_error::Segment as S;
        let mut out = Self::root();
        for segment in path.iter() {
            match segment {
                S::Seq { index } => out = out.index(*index),
                S::Map { key } => out = out.key(key.clone()),
                S::Enum { variant } => out = out.key(variant.clone()),
                S::Unknown => out = out.key("?"),
            }
        }
        out
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for segment in &self.0 {
            match segment {
                Segment::Index(i) => write!(f, "[{i}]")?,
                Segment::Key(k) if is_plain_key(k) => write!(f, ".{k}")?,
                Segment::Key(k) => write!(f, "[{}]", serde_json::Value::from(k.as_str()))?,
            }
        }
        Ok(())
    }
}

fn is_plain_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// An event (or the body that should hold one) could not be decoded.
///
/// Always a *reject*: the same bytes will fail the same way on every redelivery, so the doors answer
/// with "do not retry" (Functions door: 200 with the error in `Logs`; webhook door: 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {path}")]
pub struct DecodeError {
    path: JsonPath,
    message: String,
}

impl DecodeError {
    /// An error at `path` with a human-readable `message`.
    pub fn new(path: JsonPath, message: impl Into<String>) -> Self {
        Self {
            path,
            message: message.into(),
        }
    }

    /// Where in the document the problem is.
    pub fn path(&self) -> &JsonPath {
        &self.path
    }

    /// What is wrong, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error seen from an enclosing document: `prefix` is where this document sits in it.
    pub fn within(mut self, prefix: &JsonPath) -> Self {
        self.path = prefix.clone().join(&self.path);
        self
    }

    /// Turns a `serde_path_to_error` failure into a decode error with a JSONPath.
    pub(crate) fn from_serde(err: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = JsonPath::from_serde(err.path());
        let inner = err.into_inner();
        let message = match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                format!("not valid JSON: {inner}")
            }
            _ => strip_position(&inner.to_string()),
        };
        Self { path, message }
    }
}

/// serde_json appends " at line 1 column 42" to data errors; with a JSONPath that is noise.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_string(),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_as_jsonpath() {
        assert_eq!(JsonPath::root().to_string(), "$");
        let p = JsonPath::root().index(3).key("data").key("modelVersion");
        assert_eq!(p.to_string(), "$[3].data.modelVersion");
        assert_eq!(JsonPath::root().key("a b").to_string(), r#"$["a b"]"#);
    }

    #[test]
    fn errors_nest_under_their_enclosing_document() {
        let inner = DecodeError::new(JsonPath::root().key("id"), "missing field `id`");
        let outer = inner.within(&JsonPath::root().key("Data").key("event"));
        assert_eq!(outer.to_string(), "missing field `id` at $.Data.event.id");
    }
}
