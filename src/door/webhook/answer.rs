//! The webhook door's answers: a status, a JSON body, and a few headers.

use crate::event::{DecodeError, JsonPath};
use serde_json::{json, Value};
use warp::http::StatusCode;

/// An answer of the webhook door.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookAnswer {
    /// The status.
    pub status: StatusCode,
    /// The JSON body.
    pub body: Value,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
}

impl WebhookAnswer {
    pub(crate) fn json(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            body,
            headers: Vec::new(),
        }
    }

    /// An error answer: `{"error": {"status", "message"}}`.
    pub fn error(status: StatusCode, message: impl Into<String>) -> Self {
        Self::json(
            status,
            json!({"error": {"status": status.as_u16(), "message": message.into()}}),
        )
    }

    /// A 400 naming what cannot be decoded, where (JSON path) and in which event of a batch.
    pub(crate) fn decode_error(error: &DecodeError) -> Self {
        Self::json(
            StatusCode::BAD_REQUEST,
            json!({"error": {"status": 400, "message": error.to_string(), "path": error.path().to_string(),
                   "index": index_of(error.path())}}),
        )
    }
}

/// The batch index a path starts with (`$[3].data` → 3).
fn index_of(path: &JsonPath) -> Value {
    let text = path.to_string();
    text.strip_prefix("$[")
        .and_then(|rest| rest.split(']').next())
        .and_then(|n| n.parse::<u64>().ok())
        .map_or(Value::Null, Value::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_errors_name_the_batch_index() {
        let e = DecodeError::new(JsonPath::root().index(3).key("data"), "bad");
        let answer = WebhookAnswer::decode_error(&e);
        assert_eq!(answer.body["error"]["index"], 3);
        assert_eq!(answer.body["error"]["path"], "$[3].data");
    }
}
