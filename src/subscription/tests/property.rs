//! The property: for generated hooks files and events, every event that some hook matches passes
//! the generated subscription's filters, in every format.

use super::{config, options, WS};
use crate::event::{Event, MlEvent};
use crate::hooks::Hook;
use crate::subscription::{Format, Subscription};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Filters the generated hooks draw from: data keys in both casings, arrays, absent keys, `Not`
/// forms, a member the handler normalises, envelope keys, BoolEquals false.
const POOL: [&str; 12] = [
    "operatorType = \"StringContains\"\nkey = \"data.RunTags.stage\"\nvalues = [\"pro\"]",
    "operatorType = \"StringIn\"\nkey = \"data.runTags.STAGE\"\nvalues = [\"prod\", \"dev\"]",
    "operatorType = \"NumberGreaterThan\"\nkey = \"data.counter\"\nvalue = 3",
    "operatorType = \"NumberInRange\"\nkey = \"data.Counter\"\nvalues = [[1, 5]]",
    "operatorType = \"NumberNotIn\"\nkey = \"data.counter\"\nvalues = [2]",
    "operatorType = \"BoolEquals\"\nkey = \"data.isEnabled\"\nvalue = false",
    "operatorType = \"IsNullOrUndefined\"\nkey = \"data.nothing\"",
    "operatorType = \"StringNotContains\"\nkey = \"subject\"\nvalues = [\"dev\"]",
    "operatorType = \"StringBeginsWith\"\nkey = \"data.names\"\nvalues = [\"a\"]",
    "operatorType = \"StringNotIn\"\nkey = \"data.runStatus\"\nvalues = [\"Failed\"]",
    "operatorType = \"StringEndsWith\"\nkey = \"topic\"\nvalues = [\"/ws\"]",
    "operatorType = \"IsNotNull\"\nkey = \"data.modelVersion\"",
];

const KINDS: [&str; 5] = [
    "ModelRegistered",
    "ModelDeployed",
    "RunCompleted",
    "RunStatusChanged",
    "DatasetDriftDetected",
];

/// One generated hook: its `events` (a mask over [`KINDS`], 0 for `*`), `when` choices, and the
/// mask of its own filters over [`POOL`].
#[derive(Debug, Clone)]
struct GenHook {
    events: u8,
    run_status: bool,
    tags: bool,
    run_type: bool,
    drift: bool,
    filters: u16,
}

fn hooks_file(shared: u16, hooks: &[GenHook]) -> String {
    let mut text = String::new();
    for (i, hook) in hooks.iter().enumerate() {
        let events: Vec<String> = (0..5)
            .filter(|b| hook.events & (1 << b) != 0)
            .map(|b| format!("\"{}\"", KINDS[b]))
            .collect();
        let events = if events.is_empty() {
            "\"*\"".to_owned()
        } else {
            events.join(", ")
        };
        text.push_str(&format!(
            "[[hooks]]\nname = \"h{i}\"\nevents = [{events}]\naction = \"log\"\n[hooks.when]\n"
        ));
        if hook.run_status {
            text.push_str("run_status = [\"Failed\", \"Completed\"]\n");
        }
        if hook.tags {
            text.push_str("tags = { stage = \"prod\" }\n");
        }
        // A run condition on a hook without run events is refused by validation.
        if hook.run_type && (hook.events == 0 || hook.events & 0b01100 != 0) {
            text.push_str("run_type = \"azureml.StepRun\"\n");
        }
        if hook.drift {
            text.push_str("drift_above = 0.5\n");
        }
        for (j, filter) in POOL.iter().enumerate() {
            if (shared | hook.filters) & (1 << j) != 0 {
                text.push_str(&format!("[[hooks.filters]]\n{filter}\n"));
            }
        }
    }
    text
}

fn arb_hook() -> impl Strategy<Value = GenHook> {
    (
        0u8..32,
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.25),
        prop::bool::weighted(0.25),
        prop::bits::u16::sampled(0..3, 0..12),
    )
        .prop_map(
            |(events, run_status, tags, run_type, drift, filters)| GenHook {
                events,
                run_status,
                tags,
                run_type,
                drift,
                filters,
            },
        )
}

fn pick(options: Vec<Option<Value>>) -> impl Strategy<Value = Option<Value>> {
    prop::sample::select(options)
}

/// An event of any ML kind, in either schema, its data keys in camelCase or PascalCase, whose
/// members (`None`: absent) are drawn to meet or miss the pool's filters.
fn arb_event() -> impl Strategy<Value = Event<MlEvent>> {
    let null = || Some(Value::Null);
    (
        (0usize..5, any::<bool>(), any::<bool>(), any::<bool>()),
        pick(vec![
            None,
            Some(json!("prod")),
            Some(json!("dev")),
            Some(json!("Production")),
        ]),
        pick(vec![
            None,
            null(),
            Some(json!(0)),
            Some(json!(2)),
            Some(json!(4)),
            Some(json!(6)),
            Some(json!([1, 2])),
            Some(json!("3")),
        ]),
        pick(vec![None, Some(json!(true)), Some(json!(false)), null()]),
        pick(vec![None, null(), Some(json!(1))]),
        pick(vec![
            None,
            Some(json!(["abc", "b"])),
            Some(json!(["b"])),
            Some(json!("a")),
        ]),
        pick(vec![
            None,
            Some(json!("Failed")),
            Some(json!("Completed")),
            Some(json!("cancelled")),
        ]),
        (
            pick(vec![None, Some(json!(3)), Some(json!("3"))]),
            pick(vec![
                None,
                Some(json!("azureml.StepRun")),
                Some(json!("automl")),
            ]),
            pick(vec![None, Some(json!(0.4)), Some(json!(0.9))]),
        ),
    )
        .prop_map(
            |(
                (kind, cloud, pascal, dev),
                stage,
                counter,
                enabled,
                nothing,
                names,
                status,
                (version, run_type, drift),
            )| {
                let mut data = serde_json::Map::new();
                let stage = stage.map(|s| json!({"stage": s}));
                for (name, value) in [
                    ("runTags", stage.clone()),
                    ("serviceTags", stage),
                    ("counter", counter),
                    ("isEnabled", enabled),
                    ("nothing", nothing),
                    ("names", names),
                    ("runStatus", status),
                    ("modelVersion", version),
                    ("runType", run_type),
                    ("driftCoefficient", drift),
                ] {
                    let Some(value) = value else { continue };
                    let name = match pascal {
                        true => format!("{}{}", name[..1].to_uppercase(), &name[1..]),
                        false => name.to_owned(),
                    };
                    data.insert(name, value);
                }
                let event_type = format!("Microsoft.MachineLearningServices.{}", KINDS[kind]);
                let topic = if dev { "/x/other" } else { WS };
                let subject = if dev { "runs/dev/1" } else { "runs/prod/1" };
                let json = match cloud {
                    false => json!({"id": "1", "topic": topic, "subject": subject,
                        "eventType": event_type, "data": data}),
                    true => json!({"specversion": "1.0", "id": "1", "source": topic,
                        "subject": subject, "type": event_type, "data": data}),
                };
                Event::from_json(&json.to_string()).expect("a generated event decodes")
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every event that some hook matches passes the subscription, in every format and schema.
    #[test]
    fn the_subscription_never_drops_an_event_a_hook_wants(
        shared in prop::bits::u16::sampled(0..4, 0..12),
        hooks in prop::collection::vec(arb_hook(), 1..4),
        events in prop::collection::vec(arb_event(), 1..16),
    ) {
        let config = config(&hooks_file(shared, &hooks));
        for format in [Format::Az, Format::Bicep, Format::Arm] {
            let Ok(subscription) = Subscription::plan(&config, options(format)) else {
                // No hook can match anything: then none matches these events either.
                prop_assert!(events.iter().all(|e| !config.hooks.iter().any(|h| h.matches(e))));
                continue;
            };
            for event in &events {
                let wanted = config.hooks.iter().any(|h| h.matches(event));
                prop_assert!(
                    !wanted || subscription.admits(event),
                    "{format:?} drops an event a hook wants: {event:?}\nfilters: {:?}",
                    subscription.filters()
                );
            }
        }
    }
}
