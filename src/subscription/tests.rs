//! The subscription never drops an event a hook wants (a property over generated hooks files and
//! events, evaluated by the hooks' own filter code), which filters move upstream and why not, and
//! the outputs pinned for the shipped hooks file and README's.

use super::*;
use crate::event::{Event, MlEvent};
use crate::hooks::Hook;
use proptest::prelude::*;
use serde_json::{json, Value};

fn config(text: &str) -> HooksConfig {
    HooksConfig::parse(text, "hooks.toml", &|_| None).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn options(format: Format) -> Options {
    Options {
        format,
        endpoint: Endpoint::Functions,
        schema: Schema::EventGrid,
        auth: DoorAuth::default(),
    }
}

const WS: &str =
    "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/ws";

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

const BREACH: &str = r#"
[[hooks]]
name = "page"
events = ["RunStatusChanged"]
action = "log"
[hooks.when]
experiment = "credit-*"
[[hooks.filters]]
operatorType = "StringContains"
key = "data.RunTags.azureml_modelmonitor_threshold_breached"
values = ["has failed due to one or more features violating metric thresholds"]

[[hooks]]
name = "retrain"
events = ["RunStatusChanged"]
action = "log"
[[hooks.filters]]
operatorType = "StringContains"
key = "data.runTags.azureml_modelmonitor_threshold_breached"
values = ["HAS FAILED due to one or more features violating metric thresholds"]
[[hooks.filters]]
operatorType = "BoolEquals"
key = "data.isEnabled"
value = false
"#;

fn run_event(data: Value) -> Event<MlEvent> {
    let json = json!({"id": "1", "topic": WS, "subject": "s",
        "eventType": "Microsoft.MachineLearningServices.RunStatusChanged", "data": data});
    Event::from_json(&json.to_string()).unwrap()
}

#[test]
fn a_filter_every_hook_has_moves_upstream_and_drops_what_no_hook_wants() {
    let sub = Subscription::plan(&config(BREACH), options(Format::Bicep)).unwrap();
    assert_eq!(sub.kinds(), [EventKind::RunStatusChanged]);
    assert_eq!(
        sub.filters().len(),
        1,
        "the BoolEquals filter is one hook's only"
    );
    let tag = "The signal 'x' has failed due to one or more features violating metric thresholds.";
    let breach = run_event(json!({"runTags": {"azureml_modelmonitor_threshold_breached": tag}}));
    assert!(sub.admits(&breach));
    assert!(!sub.admits(&run_event(json!({"runTags": {}}))));
    let text = sub.render();
    assert!(text.contains("operatorType: 'StringContains'"), "{text}");
    assert!(text.contains("the one that every hook has"), "{text}");
}

#[test]
fn filters_that_cannot_move_say_why() {
    let two = r#"
[[hooks]]
name = "a"
events = ["RunStatusChanged"]
action = "log"
[[hooks.filters]]
operatorType = "StringIn"
key = "data.runStatus"
values = ["Failed"]
[[hooks.filters]]
operatorType = "StringEndsWith"
key = "topic"
values = ["/ws"]
[[hooks.filters]]
operatorType = "BoolEquals"
key = "data.isEnabled"
value = false
"#;
    let az = Subscription::plan(&config(two), options(Format::Az)).unwrap();
    assert!(az.filters().is_empty());
    let text = az.render();
    for why in [
        "# Not pushed: StringIn data.runStatus, the handler normalises this member",
        "# Not pushed: StringEndsWith topic, the two schemas spell this envelope member differently",
        "# Not pushed: BoolEquals data.isEnabled, az reads every BoolEquals value as true",
        "# No advanced filter: no filter that Event Grid can evaluate alike is in every hook (`a`)",
    ] {
        assert!(text.contains(why), "{why}\n{text}");
    }
    assert!(!text.contains("--advanced-filter"), "{text}");
    let arm = Subscription::plan(&config(two), options(Format::Arm)).unwrap();
    assert_eq!(arm.filters().len(), 1, "ARM writes BoolEquals false");
}

#[test]
fn hooks_that_can_match_nothing_leave_nothing_to_subscribe() {
    let text = "[[hooks]]\nname = \"x\"\nevents = [\"ModelDeployed\"]\naction = \"log\"\n[hooks.when]\ndrift_above = 0.5\n";
    let err = Subscription::plan(&config(text), options(Format::Az)).unwrap_err();
    assert!(err.to_string().contains("no hook can match an event"));
}

#[test]
fn endpoints_are_functions_or_https_and_never_carry_the_key() {
    assert_eq!(Endpoint::parse("Functions").unwrap(), Endpoint::Functions);
    let Endpoint::Webhook(url) =
        Endpoint::parse("https://h.example/api/eventgrid?code=SECRET&x=1").unwrap()
    else {
        panic!("a webhook")
    };
    assert_eq!(url.as_str(), "https://h.example/api/eventgrid?x=1");
    let err = Endpoint::parse("http://h.example/api/eventgrid?code=SECRET").unwrap_err();
    assert!(!err.to_string().contains("SECRET"), "{err}");
    assert!(Endpoint::parse("eventgrid").is_err());
}

#[test]
fn the_webhook_door_gets_its_key_header_or_entra_id() {
    let shipped = config(crate::hooks::config::EMBEDDED_HOOKS_TOML);
    let mut opts = options(Format::Az);
    opts.endpoint = Endpoint::parse("https://h.example/api/eventgrid").unwrap();
    opts.auth = DoorAuth {
        key: false,
        entra: Some(("tenant-id".into(), "api://aml-events".into())),
    };
    let text = Subscription::plan(&shipped, opts.clone()).unwrap().render();
    assert!(text.contains("--azure-active-directory-tenant-id tenant-id --azure-active-directory-application-id-or-uri api://aml-events"), "{text}");
    assert!(!text.contains(KEY_HEADER), "{text}");
    opts.format = Format::Arm;
    opts.auth.key = true;
    let arm: Value =
        serde_json::from_str(&Subscription::plan(&shipped, opts).unwrap().render()).unwrap();
    let dest = &arm["resources"][0]["properties"]["destination"];
    assert_eq!(dest["endpointType"], "WebHook");
    assert_eq!(
        dest["properties"]["deliveryAttributeMappings"][0]["name"],
        KEY_HEADER
    );
    assert_eq!(
        dest["properties"]["deliveryAttributeMappings"][0]["properties"]["isSecret"],
        true
    );
    assert_eq!(
        dest["properties"]["azureActiveDirectoryTenantId"],
        "tenant-id"
    );
    assert_eq!(arm["parameters"]["webhookKey"]["type"], "securestring");
}

/// The pinned outputs: `tests/fixtures/subscription/NAME`, for the shipped hooks file and the
/// README's filter example. A change to the output shows here with the text to paste.
fn assert_pinned(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/subscription")
        .join(name);
    let pinned = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        pinned == actual,
        "{} differs from the output; if the change is meant, write this there:\n{actual}",
        path.display()
    );
}

#[test]
fn the_output_for_the_shipped_hooks_file_is_pinned() {
    let shipped = HooksConfig::parse(
        crate::hooks::config::EMBEDDED_HOOKS_TOML,
        "hooks.toml",
        &|_| None,
    )
    .unwrap();
    for (format, name) in [
        (Format::Az, "shipped.az.sh"),
        (Format::Bicep, "shipped.bicep"),
        (Format::Arm, "shipped.arm.json"),
    ] {
        let text = Subscription::plan(&shipped, options(format))
            .unwrap()
            .render();
        assert_pinned(name, &text);
    }
    let mut webhook = options(Format::Az);
    webhook.endpoint = Endpoint::parse("https://aml-events.example.com/api/eventgrid").unwrap();
    webhook.auth.key = true;
    let text = Subscription::plan(&shipped, webhook).unwrap().render();
    assert_pinned("shipped-webhook.az.sh", &text);
}

/// README's commands are the pinned outputs, and its filter example's subscription is pinned too.
#[test]
fn readme_shows_the_pinned_commands() {
    let readme = include_str!("../../README.md");
    for name in [
        "shipped.az.sh",
        "shipped-webhook.az.sh",
        "readme-monitor-breach.az.sh",
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/subscription")
            .join(name);
        let pinned = std::fs::read_to_string(&path).unwrap();
        // In a numbered list the block is indented by three spaces.
        let indented: String = pinned.lines().map(|l| format!("   {l}\n")).collect();
        assert!(
            readme.contains(&pinned) || readme.contains(&indented),
            "README lacks {name}:\n{pinned}"
        );
    }
    let start = readme
        .find("name = \"monitor-breach\"")
        .expect("README's filter example");
    let block = &readme[..start];
    let from = block.rfind("```toml\n").expect("its toml block") + "```toml\n".len();
    let to = start + readme[start..].find("```").expect("the block's end");
    let example = HooksConfig::parse(&readme[from..to], "README.md", &|_| None).unwrap();
    assert!(example.warnings.is_empty(), "{:?}", example.warnings);
    let text = Subscription::plan(&example, options(Format::Az))
        .unwrap()
        .render();
    assert_pinned("readme-monitor-breach.az.sh", &text);
}
