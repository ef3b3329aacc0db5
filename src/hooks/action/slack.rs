//! The `slack` action: a Slack incoming-webhook message.

use serde_json::{json, Value};

/// Escapes the three characters Slack's mrkdwn reserves.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A Slack incoming-webhook message: `text` (notifications, fallback) and blocks with the facts.
pub(crate) fn message(text: &str, facts: &[(&'static str, String)]) -> Value {
    let fields: Vec<Value> = facts
        .iter()
        .take(10) // Slack allows at most 10 fields in a section.
        .map(|(title, value)| json!({"type": "mrkdwn", "text": format!("*{title}*\n{}", escape(value))}))
        .collect();
    let mut blocks =
        vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": escape(text)}})];
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    json!({"text": escape(text), "blocks": blocks})
}
