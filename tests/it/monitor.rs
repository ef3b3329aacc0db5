//! Model monitor breaches: the `monitor` view of each fixture, and hooks with `monitor_breach`
//! (README's recipe, the shipped `hooks.toml`) through the real app.

use crate::support::receiver::Receiver;
use crate::support::{fixture, fixture_events, good_fixtures, invocation, spawn_app};
use aml_events::event::{decode, Body, Event, MlEvent};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const FUNCTION: &str = "MlWorkspaceEvents";

/// The fixtures whose run carries the breach tag, in both casings of the data (and a run that
/// completed: the threshold step does not raise on a breach).
const BREACHES: [&str; 5] = [
    "cloudevents-run-completed-monitor-breach.json",
    "eventgrid-run-status-changed-monitor-breach.json",
    "eventgrid-run-status-changed-monitor-breach-pascal.json",
    "eventgrid-run-status-changed-monitor-huge.json",
    "eventgrid-run-status-changed-monitor-unparsed.json",
];

fn one(name: &str) -> Event<MlEvent> {
    let text = fixture(name);
    let mut events = decode(Body::Events(text.as_bytes())).unwrap();
    assert_eq!(events.len(), 1, "{name}");
    events.remove(0).event.unwrap()
}

#[test]
fn each_monitor_fixture_has_its_view() {
    let camel = one("eventgrid-run-status-changed-monitor-breach.json")
        .data
        .monitor()
        .expect("a breach");
    assert_eq!(camel.signal.as_deref(), Some("data-drift-signal"));
    assert_eq!(camel.features.len(), 2);
    assert_eq!(
        camel.features[0].describe(),
        "jensen_shannon_distance 0.31 > 0.1 on age"
    );
    assert!(camel
        .message
        .starts_with("The signal 'data-drift-signal' has failed"));
    assert!(!camel.message.contains("metric_value"), "{}", camel.message);

    // PascalCase data keys (`RunTags`); the quoted name is Azure ML's `None`, the other tag names it.
    let pascal = one("eventgrid-run-status-changed-monitor-breach-pascal.json")
        .data
        .monitor()
        .expect("a breach");
    assert_eq!(pascal.quoted_signal.as_deref(), Some("None"));
    assert_eq!(
        pascal.signal.as_deref(),
        Some("credit_card_fraud_monitor_data_drift")
    );
    assert_eq!(
        pascal.features[0].describe(),
        "two_sample_kolmogorov_smirnov_test 0.023 < 0.05 on transaction_amount"
    );

    let completed = one("eventgrid-run-completed-monitor.json");
    assert_eq!(completed.data.monitor(), None);
    assert!(!completed.data.is_monitor_breach());

    let unparsed = one("eventgrid-run-status-changed-monitor-unparsed.json")
        .data
        .monitor()
        .expect("a breach: the tag is there");
    assert_eq!(
        unparsed.message,
        "Signal prediction-drift exceeded its threshold: [prediction: psi=0.42 (threshold 0.2)]"
    );
    assert!(unparsed.features.is_empty() && unparsed.signal.is_none());

    let huge_event = one("eventgrid-run-status-changed-monitor-huge.json");
    let MlEvent::RunStatusChanged(run) = &huge_event.data else {
        panic!("{:?}", huge_event.kind())
    };
    let tag = run.run_tags["azureml_modelmonitor_threshold_breached"]
        .as_str()
        .unwrap();
    assert!(tag.len() > 250_000, "{}", tag.len());
    let huge = huge_event.data.monitor().expect("a breach");
    assert_eq!(huge.features.len(), 100);
    assert!(huge.truncated);
    assert!(huge.message.len() < 2_100);
    let exposed = serde_json::to_string(&huge).unwrap();
    assert!(exposed.len() < 20_000, "{} bytes exposed", exposed.len());
}

/// README's recipe block (after its `<!-- recipe: monitor-breach` marker).
fn readme_recipe() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("<!-- recipe: monitor-breach")
        .expect("README has the monitor recipe");
    let block = &readme[start..];
    let open = block.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let close = block[open..].find("```").expect("the block's end");
    block[open..open + close].to_owned()
}

/// Every event of every good fixture, each with an id of its own (so that dedupe lets each through
/// once), with the fixture it came from.
fn all_events() -> Vec<(String, Value)> {
    let mut events = Vec::new();
    for name in good_fixtures() {
        for (i, mut event) in fixture_events(&name).into_iter().enumerate() {
            event["id"] = json!(format!("{name}#{i}"));
            events.push((name.clone(), event));
        }
    }
    events
}

#[tokio::test]
async fn the_readme_recipe_pages_on_breaches_in_both_casings_and_nothing_else() {
    let teams = Receiver::start().await;
    let url = teams.url("/teams");
    let app = spawn_app(&[("TEAMS_WEBHOOK_URL", &url)], Some(&readme_recipe())).await;
    let mut paged = BTreeSet::new();
    for (name, event) in all_events() {
        let before = teams.delivered("/teams").len();
        let answer = app
            .invoke(FUNCTION, &name, invocation(&event).to_string())
            .await;
        assert_eq!(answer.status(), 200, "{name}");
        if teams.delivered("/teams").len() > before {
            paged.insert(name);
        }
    }
    assert_eq!(paged, BREACHES.iter().map(|n| n.to_string()).collect());
    let cards = teams.delivered("/teams");
    let text = |i: usize| {
        cards[i].json["attachments"][0]["content"]["body"][0]["text"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let texts: Vec<String> = (0..cards.len()).map(text).collect();
    assert!(
        texts.contains(&"Model monitor breach in ml-prod-ws: signal data-drift-signal; jensen_shannon_distance 0.31 (threshold 0.1) on age; jensen_shannon_distance 0.27 (threshold 0.1) on income".to_owned()),
        "{texts:#?}"
    );
    assert!(
        texts.contains(&"Model monitor breach in ml-prod-ws: signal credit_card_fraud_monitor_data_drift; two_sample_kolmogorov_smirnov_test 0.023 (threshold 0.05) on transaction_amount".to_owned()),
        "{texts:#?}"
    );
    assert!(
        texts.contains(&"Model monitor breach in ml-prod-ws: signal (unnamed)".to_owned()),
        "{texts:#?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.ends_with("on feature_0002; and at least 97 more")),
        "{texts:#?}"
    );
    app.shutdown(std::time::Duration::from_secs(10)).await;
}

#[tokio::test]
async fn the_shipped_hooks_file_logs_breaches_under_their_own_hook() {
    // A hook's line under the Functions door is in `Logs`, and on stdout at debug.
    let app = spawn_app(&[("RUST_LOG", "info,aml_events::hooks=debug")], None).await;
    for (name, event) in all_events() {
        let answer = app
            .invoke(FUNCTION, &name, invocation(&event).to_string())
            .await;
        let body: Value = answer.json().await.unwrap();
        let logs = body["Logs"].as_array().unwrap();
        if BREACHES.contains(&name.as_str()) {
            assert_eq!(logs.len(), 1, "{name}: {logs:?}");
            let line = logs[0].as_str().unwrap();
            assert!(line.contains("model monitor signal"), "{name}: {line}");
        }
    }
    let mut breaches = BTreeSet::new();
    for line in app.logs().json() {
        let (Some(hook), Some(message)) = (line["hook"].as_str(), line["message"].as_str()) else {
            continue;
        };
        let Some(id) = message
            .rsplit_once("[event ")
            .map(|(_, id)| id.trim_end_matches(']'))
        else {
            continue;
        };
        let name = id.split('#').next().unwrap_or(id).to_owned();
        match hook {
            "log-monitor-breaches" => {
                breaches.insert(name);
            }
            "log-ml-events" => assert!(!BREACHES.contains(&name.as_str()), "{line}"),
            other => panic!("hook {other}: {line}"),
        }
    }
    assert_eq!(breaches, BREACHES.iter().map(|n| n.to_string()).collect());
    app.shutdown(std::time::Duration::from_secs(10)).await;
}
