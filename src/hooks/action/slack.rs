//! The `slack` action: a Slack incoming-webhook message.

use crate::event::studio::StudioLink;
use serde_json::{json, Value};

/// Escapes the three characters Slack's mrkdwn reserves.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A Slack incoming-webhook message: `text` (notifications, fallback), blocks with the facts and,
/// when the event names something in Azure ML studio, a link to it. The link is mrkdwn
/// (`<url|title>`) in a context block, not a button: a button's click is also sent to the Slack
/// app's interactivity address, which an incoming webhook's app usually does not have. The event's
/// names in the URL are percent-encoded (`event::studio`); a `|` in the configured studio address
/// is encoded here, since it would end the URL.
pub(crate) fn message(
    text: &str,
    facts: &[(&'static str, String)],
    link: Option<&StudioLink>,
) -> Value {
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
    if let Some(link) = link {
        let url = escape(link.url.as_str()).replace('|', "%7C");
        let mrkdwn = format!("<{url}|{}>", link.title);
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn}]}));
    }
    json!({"text": escape(text), "blocks": blocks})
}
