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
        .map(|(title, value)| json!({"title": title, "value": no_links(value)}))
        .collect();
    let text = no_links(text);
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

/// `text` from the event (names, tags, a monitor's breach message) with no Markdown link left in
/// it. Teams renders Markdown, hyperlinks `[Title](url)` included, in `TextBlock.text` and
/// `Fact.value` (learn.microsoft.com `microsoftteams/platform/task-modules-and-cards/cards/cards-format`,
/// "Format cards with Markdown") and documents no escape, so anyone who can tag a run could put
/// `[Reset your password](https://…)` in front of the people a breach pages. A zero-width space
/// between `]` and `(` is no link to any Markdown parser and shows nothing; the studio button is
/// the card's only link.
fn no_links(text: &str) -> String {
    text.replace("](", "]\u{200B}(")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_text_cannot_make_a_link_in_the_card() {
        let hostile = "breached on [Reset your password](https://evil.example/login)";
        let card = card(hostile, &[("Feature", hostile.to_owned())], None);
        let content = &card["attachments"][0]["content"];
        let texts = [
            content["body"][0]["text"].as_str().unwrap(),
            content["body"][1]["facts"][0]["value"].as_str().unwrap(),
        ];
        for text in texts {
            assert!(!text.contains("]("), "{text}");
            assert_eq!(text.replace('\u{200B}', ""), hostile);
        }
    }
}
