//! Every Teams card the handler sends, for every fixture, is a valid Adaptive Card 1.4 by Microsoft's
//! own library (npm `adaptivecards`, run by `tests/cards/validate.js`), with and without a template
//! and a studio link; and Teams and Slack messages link to the event's page in Azure ML studio.
//!
//! Needs Node.js: `scripts/test.sh` installs it and the library (`npm ci` in `tests/cards`, pinned by
//! its lock file). Without `node` the card check is skipped with a message, except under CI
//! (`CI` set), where it fails.

use crate::support::receiver::Receiver;
use crate::support::{fixture_events, good_fixtures, invocation, spawn_app};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const FUNCTION: &str = "MlWorkspaceEvents";

fn cards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cards")
}

fn found(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The validator's folder with the library installed; `None` (after saying why) when Node.js is
/// absent and this is not CI.
fn validator() -> Option<PathBuf> {
    let dir = cards_dir();
    let skip = |why: &str| {
        assert!(
            std::env::var_os("CI").is_none(),
            "{why}: CI must check the Teams cards (scripts/test.sh installs Node.js and the library)"
        );
        eprintln!("SKIPPED the Adaptive Cards check: {why}; run scripts/test.sh to install it");
        None
    };
    if !found("node") {
        return skip("`node` is not installed");
    }
    if !dir
        .join("node_modules/adaptivecards/dist/adaptivecards.js")
        .is_file()
    {
        if !found("npm") {
            return skip("the `adaptivecards` package is not installed and there is no `npm`");
        }
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .expect("npm runs");
        assert!(status.success(), "npm ci in {} failed", dir.display());
    }
    Some(dir)
}

const HOOKS: &str = r#"
[[hooks]]
name = "card"
events = ["*"]
action = "teams"
url = "${env:RECEIVER}/teams"

[[hooks]]
name = "breach-card"
events = ["RunStatusChanged", "RunCompleted"]
action = "teams"
url = "${env:RECEIVER}/teams"
template = "{{ monitor.signal }} {% for f in monitor.features %}{{ f.feature }} {{ f.value }} > {{ f.threshold }}; {% endfor %}{{ monitor.message }}"
[hooks.when]
monitor_breach = true

[[hooks]]
name = "chat"
events = ["*"]
action = "slack"
url = "${env:RECEIVER}/slack"
"#;

/// What every fixture's events make the app post, each event with an id of its own (dedupe lets
/// every one through), named after the fixture.
async fn posted(studio: Option<&str>) -> (Vec<(String, Value)>, Vec<(String, Value)>) {
    let receiver = Receiver::start().await;
    let mut env = vec![("RECEIVER", receiver.base.as_str())];
    if let Some(studio) = studio {
        env.push(("AML_EVENTS_STUDIO_URL", studio));
    }
    let app = spawn_app(&env, Some(HOOKS)).await;
    let (mut teams, mut slack) = (Vec::new(), Vec::new());
    for name in good_fixtures() {
        for (i, mut event) in fixture_events(&name).into_iter().enumerate() {
            event["id"] = json!(format!("{name}#{i}"));
            let (t, s) = (
                receiver.delivered("/teams").len(),
                receiver.delivered("/slack").len(),
            );
            let answer = app
                .invoke(FUNCTION, &name, invocation(&event).to_string())
                .await;
            assert_eq!(answer.status(), 200, "{name}");
            let label = format!("{name}#{i}");
            for r in &receiver.delivered("/teams")[t..] {
                teams.push((label.clone(), r.json.clone()));
            }
            for r in &receiver.delivered("/slack")[s..] {
                slack.push((label.clone(), r.json.clone()));
            }
        }
    }
    app.shutdown(Duration::from_secs(10)).await;
    (teams, slack)
}

fn studio_button(card: &Value) -> Option<(&str, &str)> {
    let action = &card["attachments"][0]["content"]["actions"][0];
    Some((action["title"].as_str()?, action["url"].as_str()?))
}

#[tokio::test]
async fn every_teams_card_is_a_valid_adaptive_card_1_4() {
    let Some(dir) = validator() else {
        return;
    };
    let (teams, _) = posted(None).await;
    // One card per ML event, and one more per breach (the template hook).
    assert!(teams.len() > 30, "{} cards", teams.len());
    // With a studio button, and without one (an event that names no workspace).
    assert!(teams.iter().any(|(_, card)| studio_button(card).is_some()));
    assert!(teams.iter().any(|(_, card)| studio_button(card).is_none()));
    let items: Vec<Value> = teams
        .iter()
        .map(|(name, message)| json!({"name": name, "message": message}))
        .collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_vec(&items).unwrap()).unwrap();
    let out = Command::new("node")
        .arg(dir.join("validate.js"))
        .arg(file.path())
        .output()
        .expect("node runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cards the Adaptive Cards library refuses:\n{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        report.contains(&format!("{} passed, 0 failed", items.len())),
        "{report}"
    );
}

#[tokio::test]
async fn messages_link_to_the_events_page_in_studio() {
    let wsid = "wsid=/subscriptions/5f0a8e51-7c3b-4e2a-9d51-2b6f0c1d9e07/resourceGroups/ml-platform-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-ws";
    let (teams, slack) = posted(Some("https://studio.ml.azure.us/")).await;
    let card = |label: &str| {
        teams
            .iter()
            .find(|(name, _)| name == label)
            .map(|(_, card)| card)
            .unwrap_or_else(|| panic!("no card for {label}"))
    };
    assert_eq!(
        studio_button(card("eventgrid-run-status-changed-monitor-breach.json#0")),
        Some((
            "Open run in Azure ML studio",
            format!("https://studio.ml.azure.us/runs/c3e9a1d7-5b2f-4e8a-9c6d-1f0e2d3c4b5a?{wsid}")
                .as_str()
        ))
    );
    assert_eq!(
        studio_button(card("eventgrid-model-registered-live.json#0")).map(|(t, _)| t),
        Some("Open model in Azure ML studio")
    );
    let (_, url) = studio_button(card("eventgrid-model-registered-live.json#0")).unwrap();
    assert!(
        url.starts_with("https://studio.ml.azure.us/model/ncd-sklearn-model:1/details?"),
        "{url}"
    );
    let (title, url) = studio_button(card("eventgrid-model-deployed-live.json#0")).unwrap();
    assert_eq!(title, "Open endpoint in Azure ML studio");
    assert!(
        url.contains("/endpoints/realtime/aciservice1/detail?wsid="),
        "{url}"
    );
    let message = slack
        .iter()
        .find(|(name, _)| name == "eventgrid-run-status-changed-monitor-breach.json#0")
        .map(|(_, m)| m)
        .unwrap();
    let blocks = message["blocks"].as_array().unwrap();
    let link = blocks.last().unwrap();
    assert_eq!(link["type"], "context");
    assert_eq!(
        link["elements"][0]["text"],
        format!("<https://studio.ml.azure.us/runs/c3e9a1d7-5b2f-4e8a-9c6d-1f0e2d3c4b5a?{wsid}|Open run in Azure ML studio>")
    );
    // The breach's facts name the signal and the first violations.
    let facts = &card("eventgrid-run-status-changed-monitor-breach.json#0")["attachments"][0]
        ["content"]["body"][1]["facts"];
    assert!(
        facts
            .as_array()
            .unwrap()
            .contains(&json!({"title": "Monitor signal", "value": "data-drift-signal"})),
        "{facts}"
    );
}
