//! `[[hooks.filters]]`: every Event Grid operator on the same run event in four forms (Event Grid
//! schema and CloudEvents, camelCase and PascalCase data keys), against outcomes taken from Event
//! Grid's documentation; the validation of filters; and a hook with filters served by the real app.
//!
//! The expected outcomes follow the examples of
//! `MicrosoftDocs/azure-docs@aa803038:articles/event-grid/event-filtering.md` (2022-09): each
//! operator's example filter (the same keys `data.counter`, `data.key1`, `data.isEnabled` and
//! values), the sample values the page gives for them ("`azure data factory` has `azure` in it",
//! "`event hubs` begins with `event`", "`eventgrid.png` ends with `png`"), its array pseudo code
//! (`FOR_EACH filter … FOR_EACH key … MATCH` / `FAIL_MATCH`), its note on absent keys and its
//! IsNullOrUndefined examples; and the model-monitoring guide's subscription filter
//! (`../shared/reference/acting-in-azure.md` section 4).

use crate::functions_door::{json_answer, FUNCTION};
use crate::support::{fixture, fixture_events, invocation, spawn_app};
use aml_events::event::{decode_batch, Event, MlEvent};
use aml_events::hooks::config::HooksConfig;
use aml_events::hooks::filter::Operator;
use aml_events::hooks::Hook;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

/// The four forms of one failed model-monitor step run (see the module docs for the data members).
const FORMS: [&str; 4] = [
    "filters/eventgrid-run-status-changed-camel.json",
    "filters/eventgrid-run-status-changed-pascal.json",
    "filters/cloudevents-run-status-changed-camel.json",
    "filters/cloudevents-run-status-changed-pascal.json",
];

/// The table of expected outcomes, `tests/fixtures/filters/expected-outcomes.json`: one filter
/// (`operatorType`, `key`, `value` or `values`, as Event Grid's JSON writes them) per row, with
/// `expected` and `why`. The data of [`FORMS`] holds `counter = 5`, `key1 = "azure data factory"`,
/// `key2 = "Event Hubs"`, `key3 = "eventgrid.PNG"`, `key4 = "Fabrikam"`, `key5 = 500`,
/// `key6 = 2000`, `isEnabled = true`, `nothing = null`, `counters = [41, 7]`,
/// `names = ["contoso", "azure"]`, the model-monitor breach tag, and no `missing`.
fn table() -> Vec<Value> {
    serde_json::from_str(&fixture("filters/expected-outcomes.json")).unwrap()
}

/// A row's filter as TOML: Event Grid's JSON values are TOML values too (numbers, strings, arrays).
fn filter_lines(row: &Value) -> String {
    let mut lines = format!(
        "operatorType = {}\nkey = {}\n",
        row["operatorType"], row["key"]
    );
    for member in ["value", "values"] {
        if let Some(v) = row.get(member) {
            lines.push_str(&format!("{member} = {v}\n"));
        }
    }
    lines
}

/// One log hook over every ML event with the filter.
fn hooks_file(filter: &str) -> String {
    format!(
        "[[hooks]]\nname = \"f\"\nevents = [\"*\"]\naction = \"log\"\n[[hooks.filters]]\n{filter}"
    )
}

fn parse(text: &str) -> Result<HooksConfig, String> {
    HooksConfig::parse(text, "hooks.toml", &|_| None).map_err(|e| e.to_string())
}

fn decoded(name: &str) -> Event<MlEvent> {
    let mut events = decode_batch::<MlEvent>(&fixture(name)).unwrap();
    events.remove(0).unwrap()
}

#[test]
fn every_operator_on_every_form_as_the_documentation_says() {
    let events: Vec<(&str, Event<MlEvent>)> = FORMS.iter().map(|f| (*f, decoded(f))).collect();
    let table = table();
    for row in &table {
        let lines = filter_lines(row);
        let config = parse(&hooks_file(&lines)).unwrap_or_else(|e| panic!("{lines}: {e}"));
        for (form, event) in &events {
            assert_eq!(
                Value::Bool(config.hooks[0].matches(event)),
                row["expected"],
                "{lines}in {form}: {}",
                row["why"]
            );
        }
    }
    let covered: BTreeSet<&str> = table
        .iter()
        .filter_map(|row| row["operatorType"].as_str())
        .collect();
    let all: BTreeSet<&str> = Operator::ALL.iter().map(|op| op.name()).collect();
    assert_eq!(covered, all, "every operator has rows");
}

#[test]
fn filters_and_when_all_hold() {
    let breach = r#"
[[hooks]]
name = "monitor-breach"
events = ["RunStatusChanged"]
action = "log"
[hooks.when]
run_type = "AZUREML.STEPRUN"
experiment = "credit-card-*"
[[hooks.filters]]
operatorType = "StringContains"
key = "data.RunTags.azureml_modelmonitor_threshold_breached"
values = ["has failed due to one or more features violating metric thresholds"]
"#;
    let config = parse(breach).unwrap();
    for form in FORMS {
        assert!(config.hooks[0].matches(&decoded(form)), "{form}");
    }
    let completed = decoded("filters/eventgrid-run-status-changed-completed.json");
    assert!(!config.hooks[0].matches(&completed), "no breach tag");
    let other_experiment = breach.replace("credit-card-*", "churn-*");
    let config = parse(&other_experiment).unwrap();
    assert!(!config.hooks[0].matches(&decoded(FORMS[0])));
}

/// (the filter's lines, the key the error names, a word of the message).
const REFUSED: &[(&str, &str, &str)] = &[
    (
        "operatorType = \"StringLike\"\nkey = \"subject\"\nvalues = [\"a\"]",
        "filters[0].operatorType",
        "use one of NumberIn",
    ),
    (
        "operatorType = \"stringcontains\"\nkey = \"subject\"\nvalues = [\"a\"]",
        "filters[0].operatorType",
        "spell it `StringContains`",
    ),
    (
        "operatorType = \"StringIn\"\nkey = \"runTags.x\"\nvalues = [\"a\"]",
        "filters[0].key",
        "is not a key",
    ),
    (
        "operatorType = \"StringIn\"\nkey = \"data.a.b.c.d.e.f.g.h.i.j.k\"\nvalues = [\"a\"]",
        "filters[0].key",
        "at most 10",
    ),
    (
        "operatorType = \"StringIn\"\nkey = \"data..x\"\nvalues = [\"a\"]",
        "filters[0].key",
        "empty segment",
    ),
    (
        "operatorType = \"StringIn\"\nkey = \"subject\"\nvalue = \"a\"",
        "filters[0].value",
        "takes `values` (a list), not `value`",
    ),
    (
        "operatorType = \"NumberGreaterThan\"\nkey = \"data.x\"\nvalues = [1]",
        "filters[0].values",
        "takes one `value`, not `values`",
    ),
    (
        "operatorType = \"NumberGreaterThan\"\nkey = \"data.x\"\nvalue = \"1\"",
        "filters[0].value",
        "compares with a number",
    ),
    (
        "operatorType = \"NumberGreaterThan\"\nkey = \"data.x\"",
        "filters[0].value",
        "is required",
    ),
    (
        "operatorType = \"BoolEquals\"\nkey = \"data.x\"\nvalue = \"true\"",
        "filters[0].value",
        "true or false",
    ),
    (
        "operatorType = \"NumberIn\"\nkey = \"data.x\"\nvalues = [1, \"2\"]",
        "filters[0].values[1]",
        "takes numbers",
    ),
    (
        "operatorType = \"NumberInRange\"\nkey = \"data.x\"\nvalues = [1, 2]",
        "filters[0].values[0]",
        "ranges [low, high]",
    ),
    (
        "operatorType = \"NumberInRange\"\nkey = \"data.x\"\nvalues = [[2, 1]]",
        "filters[0].values[0]",
        "low ≤ high",
    ),
    (
        "operatorType = \"StringIn\"\nkey = \"subject\"\nvalues = [1]",
        "filters[0].values[0]",
        "takes strings",
    ),
    (
        "operatorType = \"StringIn\"\nkey = \"subject\"\nvalues = []",
        "filters[0].values",
        "at least one value",
    ),
    (
        "operatorType = \"IsNotNull\"\nkey = \"subject\"\nvalues = [\"a\"]",
        "filters[0].values",
        "takes no value",
    ),
    // Attacks (RELIABILITY.md): numbers a double cannot hold as written, TOML's nan and inf, and
    // a secret a subscription would print.
    (
        "operatorType = \"NumberGreaterThan\"\nkey = \"data.x\"\nvalue = 9007199254740993",
        "filters[0].value",
        "an integer within ±2^53",
    ),
    (
        "operatorType = \"NumberGreaterThan\"\nkey = \"data.x\"\nvalue = nan",
        "filters[0].value",
        "compares with a number",
    ),
    (
        "operatorType = \"NumberIn\"\nkey = \"data.x\"\nvalues = [1, -inf]",
        "filters[0].values[1]",
        "takes numbers",
    ),
    (
        "operatorType = \"NumberInRange\"\nkey = \"data.x\"\nvalues = [[-9223372036854775808, 0]]",
        "filters[0].values[0]",
        "ranges [low, high]",
    ),
    (
        "operatorType = \"StringIn\"\nkey = \"subject\"\nvalues = [\"a\", \"Bearer ${env:TOKEN}\"]",
        "filters[0].values[1]",
        "is not substituted in filters",
    ),
    (
        "operatorType = \"StringIn\"\nkey = \"subject\"\nvalues = [\"a\"]\nvalu = 1",
        "filters[0]",
        "unknown field `valu`",
    ),
];

#[test]
fn malformed_filters_name_the_hook_and_the_key() {
    for (lines, key, words) in REFUSED {
        let text =
            format!("[[hooks]]\nname = \"breach\"\naction = \"log\"\n[[hooks.filters]]\n{lines}\n");
        let err = parse(&text).unwrap_err();
        assert!(
            err.contains(&format!("hook `breach`: key `{key}`:")) && err.contains(words),
            "{lines:?}: {err}"
        );
    }
}

#[test]
fn event_grid_limits_apply_to_a_hook() {
    let long = "x".repeat(513);
    let text = format!(
        "[[hooks]]\nname = \"h\"\naction = \"log\"\n[[hooks.filters]]\noperatorType = \"StringIn\"\nkey = \"subject\"\nvalues = [\"{long}\"]\n"
    );
    assert!(parse(&text).unwrap_err().contains("at most 512"));
    let values: Vec<String> = (0..20).map(|i| format!("\"v{i}\"")).collect();
    let filter = format!(
        "[[hooks.filters]]\noperatorType = \"StringIn\"\nkey = \"subject\"\nvalues = [{}]\n",
        values.join(", ")
    );
    let text = format!("[[hooks]]\nname = \"h\"\naction = \"log\"\n{filter}{filter}");
    let err = parse(&text).unwrap_err();
    assert!(
        err.contains("key `filters[1].values`") && err.contains("40 values; at most 25"),
        "{err}"
    );
    let one = "[[hooks.filters]]\noperatorType = \"IsNotNull\"\nkey = \"subject\"\n";
    let text = format!(
        "[[hooks]]\nname = \"h\"\naction = \"log\"\n{}",
        one.repeat(26)
    );
    assert!(parse(&text)
        .unwrap_err()
        .contains("key `filters[25]`: a hook takes at most 25 filters"));
}

#[test]
fn unknown_data_keys_are_warnings_that_check_shows() {
    let text = r#"
[[hooks]]
name = "drift"
events = ["DatasetDriftDetected"]
action = "log"
[[hooks.filters]]
operatorType = "NumberGreaterThan"
key = "data.DriftCoefficient"
value = 0.7
[[hooks.filters]]
operatorType = "StringIn"
key = "data.driftName"
values = ["x"]
[[hooks.filters]]
operatorType = "StringIn"
key = "data.runId.inner"
values = ["x"]
"#;
    let config = parse(text).unwrap();
    let warnings: Vec<String> = config.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].starts_with("hook `drift`: key `filters[1].key`: `driftName` is not a data member of DatasetDriftDetected"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].contains("`runId` holds a single value"),
        "{warnings:?}"
    );
    let report = config.check_report();
    assert!(
        report.contains("warning: hook `drift`: key `filters[1].key`"),
        "{report}"
    );
    assert!(
        report.contains("NumberGreaterThan(data.DriftCoefficient)"),
        "{report}"
    );
    let version = "[[hooks]]\nname = \"v\"\nevents = [\"ModelRegistered\"]\naction = \"log\"\n[[hooks.filters]]\noperatorType = \"NumberGreaterThan\"\nkey = \"data.ModelVersion\"\nvalue = 3\n";
    let config = parse(version).unwrap();
    assert!(config.warnings[0]
        .message
        .contains("holds `modelVersion` as text"));
}

#[test]
fn run_conditions_on_a_hook_without_run_events_are_refused() {
    let text = "[[hooks]]\nname = \"d\"\nevents = [\"ModelDeployed\"]\naction = \"log\"\n[hooks.when]\nrun_type = \"automl\"\n";
    let err = parse(text).unwrap_err();
    assert!(
        err.contains("key `when.run_type`: applies to run events only"),
        "{err}"
    );
    let text = "[[hooks]]\nname = \"d\"\naction = \"log\"\n[hooks.when]\nexperiment = \"[\"\n";
    assert!(parse(text)
        .unwrap_err()
        .contains("key `when.experiment`: bad glob"));
}

/// The real app, over HTTP: a hook with the guide's filter logs the breach in both casings and both
/// schemas, and stays silent for the run that completed.
#[tokio::test]
async fn a_hook_with_filters_fires_only_on_matching_events_in_the_app() {
    let hooks = r#"
[[hooks]]
name = "monitor-breach"
events = ["RunStatusChanged"]
action = "log"
template = "breach in {{ experiment_name }}"
[[hooks.filters]]
operatorType = "StringContains"
key = "data.RunTags.azureml_modelmonitor_threshold_breached"
values = ["has failed due to one or more features violating metric thresholds"]
[[hooks.filters]]
operatorType = "NumberGreaterThan"
key = "data.counter"
value = 1
"#;
    let app = spawn_app(&[], Some(hooks)).await;
    let mut seen = Vec::new();
    for (i, form) in FORMS
        .iter()
        .chain(&["filters/eventgrid-run-status-changed-completed.json"])
        .enumerate()
    {
        let event = &fixture_events(form)[0];
        let answer = app
            .invoke(FUNCTION, &format!("inv-{i}"), invocation(event).to_string())
            .await;
        let (status, body) = json_answer(answer).await;
        assert_eq!(status, 200, "{form}");
        seen.push(body["Logs"].clone());
    }
    let breach = serde_json::json!(["breach in credit-card-fraud-monitor"]);
    assert_eq!(
        seen[..4],
        [breach.clone(), breach.clone(), breach.clone(), breach]
    );
    assert_eq!(
        seen[4],
        serde_json::json!([]),
        "the completed run has no breach tag"
    );
    app.shutdown(Duration::from_secs(15)).await;
}

/// README's filter example, copied as it stands, reacts to the breach in both casings and both
/// schemas, and to no other fixture (the completed monitor run, every other event).
#[test]
fn the_readme_filter_example_reacts_to_a_breach_and_nothing_else() {
    let readme = fixture("../../README.md");
    let at = readme
        .find("name = \"monitor-breach\"")
        .expect("README's example");
    let from = readme[..at].rfind("```toml\n").expect("its block") + "```toml\n".len();
    let to = at + readme[at..].find("```").expect("its end");
    let config = parse(&readme[from..to]).unwrap();
    for form in FORMS {
        assert!(config.hooks[0].matches(&decoded(form)), "{form}");
    }
    let mut others = crate::support::good_fixtures();
    others.push("filters/eventgrid-run-status-changed-completed.json".to_owned());
    for name in others {
        for event in decode_batch::<MlEvent>(&fixture(&name)).unwrap() {
            let event = event.unwrap();
            // The monitor fixtures' RunStatusChanged breaches in Azure ML's words match too; a tag
            // in other words, or a RunCompleted, not.
            let status_changed = event.kind() == aml_events::event::EventKind::RunStatusChanged;
            let azure_breach = status_changed
                && event.data.monitor().is_some_and(|m| {
                    m.message.contains(
                        "has failed due to one or more features violating metric thresholds",
                    )
                });
            assert_eq!(config.hooks[0].matches(&event), azure_breach, "{name}");
        }
    }
}

/// A TOML value of any type for `value` / `values`, written as TOML text: numbers at the edges
/// (TOML's `nan` and `inf` included), strings with quotes and escapes, nested arrays, inline tables,
/// dates.
fn toml_value() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let leaf = prop::sample::select(vec![
        "0",
        "-0",
        "1",
        "-5",
        "9223372036854775807",
        "-9223372036854775808",
        "9007199254740993",
        "1e308",
        "-1e308",
        "5e-324",
        "-0.0",
        "nan",
        "-inf",
        "+inf",
        "true",
        "false",
        "\"\"",
        "\"a\"",
        "\"${env:X}\"",
        "\"[parameters('k')]\"",
        "\"--o\"",
        "\"@f\"",
        "\"\\u00e9\\n'\"",
        "1979-05-27T07:32:00Z",
        "{}",
        "{ a = 1 }",
    ])
    .prop_map(str::to_owned);
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop::collection::vec(inner, 0..4).prop_map(|items| format!("[{}]", items.join(", ")))
    })
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config { cases: 1024, failure_persistence: None, ..Default::default() })]

    /// Whatever a filter table holds, parsing never panics, and a refusal names the hook and a key
    /// of that filter (RELIABILITY.md, "Attacks tried").
    #[test]
    fn any_filter_table_parses_or_names_its_key(
        op in proptest::sample::select(
            Operator::ALL.iter().map(|op| op.name().to_owned())
                .chain(["stringin".to_owned(), "".to_owned(), "Number".to_owned()])
                .collect::<Vec<_>>()
        ),
        key in proptest::sample::select(vec![
            "data.x", "Data.X.y", "subject", "topic", "data", "data..x", ".", "", "data.a.b.c.d.e.f.g.h.i.j.k",
            "id.x", "data.x=@/etc/hostname", "data.é\u{0}", "eventType",
        ]),
        value in proptest::option::of(toml_value()),
        values in proptest::option::of(toml_value()),
    ) {
        let mut text = format!(
            "[[hooks]]\nname = \"h\"\naction = \"log\"\n[[hooks.filters]]\noperatorType = {}\nkey = {}\n",
            serde_json::to_string(&op).unwrap(),
            serde_json::to_string(key).unwrap()
        );
        if let Some(v) = &value {
            text.push_str(&format!("value = {v}\n"));
        }
        if let Some(v) = &values {
            text.push_str(&format!("values = {v}\n"));
        }
        if let Err(err) = parse(&text) {
            proptest::prop_assert!(
                err.contains("hook `h`: key `filters[0]"),
                "{}\n{}", err, text
            );
        }
    }
}
