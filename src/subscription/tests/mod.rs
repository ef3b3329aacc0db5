//! The subscription never drops an event a hook wants (`property`: over generated hooks files and
//! events, evaluated by the hooks' own filter code), which filters move upstream and why not (here),
//! and the outputs pinned for the shipped hooks file and README's (`pinned`).

mod hostile;
mod pinned;
mod property;

use super::*;
use crate::event::{Event, MlEvent};
use serde_json::{json, Value};

pub(super) fn config(text: &str) -> HooksConfig {
    HooksConfig::parse(text, "hooks.toml", &|_| None).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

pub(super) fn options(format: Format) -> Options {
    Options {
        format,
        endpoint: Endpoint::Functions,
        schema: Schema::EventGrid,
        auth: DoorAuth::default(),
    }
}

pub(super) const WS: &str =
    "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/ws";

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
