//! NUL-separated parts: the body of one `[[hooks.filters]]` table (TOML) and an event's `data`
//! (JSON). The hooks file parses or is refused; when it parses, the filter is
//! evaluated on the event and the subscription is printed in every format (ARM as valid JSON),
//! without a panic.
#![no_main]

use aml_events::event::{Event, MlEvent, Schema};
use aml_events::hooks::config::HooksConfig;
use aml_events::hooks::Hook;
use aml_events::subscription::{DoorAuth, Endpoint, Format, Options, Subscription};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (filter, json) = text.split_once('\0').unwrap_or((&text, "{}"));
    let hooks = format!(
        "[[hooks]]\nname = \"h\"\nevents = [\"RunStatusChanged\"]\naction = \"log\"\n[[hooks.filters]]\n{filter}\n"
    );
    let config = match HooksConfig::parse(&hooks, "fuzz.toml", &|_| None) {
        Ok(config) => config,
        // The body may open tables of its own (`[hooks.when]`, `[[hooks]]`), so a refusal may name
        // any key: that every filter refusal names its key is the property test's
        // (`tests/it/event_filters.rs`).
        Err(_) => return,
    };
    let envelope = format!(
        "{{\"id\":\"1\",\"topic\":\"/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w\",\"subject\":\"s\",\"eventType\":\"Microsoft.MachineLearningServices.RunStatusChanged\",\"data\":{json}}}"
    );
    if let Ok(event) = Event::<MlEvent>::from_json(&envelope) {
        let _ = config.hooks[0].matches(&event);
    }
    for format in [Format::Az, Format::Bicep, Format::Arm] {
        let options = Options {
            format,
            endpoint: Endpoint::Functions,
            schema: Schema::EventGrid,
            auth: DoorAuth::default(),
        };
        if let Ok(sub) = Subscription::plan(&config, options) {
            let out = sub.render();
            if format == Format::Arm {
                let _: serde_json::Value = serde_json::from_str(&out).expect("ARM is JSON");
            }
        }
    }
});
