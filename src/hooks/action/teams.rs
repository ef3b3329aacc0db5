//! The `teams` action: a Microsoft Teams Workflows webhook message.

use serde_json::{json, Value};

/// A Teams Workflows message: one Adaptive Card with the text and the facts. (The retired Office 365
/// connector `MessageCard` format is deliberately not produced: Workflows accept Adaptive Cards only.)
pub(crate) fn card(text: &str, facts: &[(&'static str, String)]) -> Value {
    let facts: Vec<Value> = facts
        .iter()
        .map(|(title, value)| json!({"title": title, "value": value}))
        .collect();
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": text, "wrap": true, "weight": "Bolder", "size": "Medium"},
                    {"type": "FactSet", "facts": facts}
                ]
            }
        }]
    })
}
