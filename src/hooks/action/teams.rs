//! The `teams` action: a Microsoft Teams Workflows webhook message.

use crate::event::studio::StudioLink;
use serde_json::{json, Value};

/// A Teams Workflows message: one Adaptive Card (version 1.4, what Teams renders) with the text, the
/// facts and, when the event names something in Azure ML studio, an `Action.OpenUrl` button to it.
/// (The retired Office 365 connector `MessageCard` format is deliberately not produced: Workflows
/// accept Adaptive Cards only.) Every card this builds is checked with the Adaptive Cards library
/// (`tests/cards/`).
pub(crate) fn card(
    text: &str,
    facts: &[(&'static str, String)],
    link: Option<&StudioLink>,
) -> Value {
    let facts: Vec<Value> = facts
        .iter()
        .map(|(title, value)| json!({"title": title, "value": value}))
        .collect();
    let mut content = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": text, "wrap": true, "weight": "Bolder", "size": "Medium"},
            {"type": "FactSet", "facts": facts}
        ]
    });
    if let Some(link) = link {
        content["actions"] = json!([
            {"type": "Action.OpenUrl", "title": link.title, "url": link.url.as_str()}
        ]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": content
        }]
    })
}
