//! The function app files the project ships: the host reads them, so their exact JSON is pinned.

use serde_json::{json, Value};
use std::path::Path;

fn read(path: &str) -> Value {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    serde_json::from_str(&std::fs::read_to_string(&full).unwrap())
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn host_json_runs_the_handler_as_a_custom_handler() {
    assert_eq!(
        read("host.json"),
        json!({
            "version": "2.0",
            "extensionBundle": {
                "id": "Microsoft.Azure.Functions.ExtensionBundle",
                "version": "[4.*, 5.0.0)"
            },
            "customHandler": {
                "description": {
                    "defaultExecutablePath": "handler",
                    "workingDirectory": "",
                    "arguments": []
                },
                "enableForwardingHttpRequest": false
            },
            "logging": {
                "logLevel": {
                    "default": "Information",
                    "Host.Results": "Information",
                    "Function": "Information",
                    "Host.Aggregator": "Warning"
                },
                "console": {"isEnabled": true}
            }
        })
    );
}

#[test]
fn function_json_declares_one_event_grid_trigger_named_event() {
    // No `dataType` and no `cardinality`: the event arrives as a JSON object, one per invocation.
    assert_eq!(
        read("MlWorkspaceEvents/function.json"),
        json!({"bindings": [{"type": "eventGridTrigger", "name": "event", "direction": "in"}]})
    );
    assert_eq!(aml_events::pipeline::TRIGGER_BINDING, "event");
}

#[test]
fn local_settings_example_selects_the_custom_runtime() {
    let settings = read("local.settings.json.example");
    assert_eq!(settings["Values"]["FUNCTIONS_WORKER_RUNTIME"], "Custom");
    assert!(
        settings["Values"]["AzureWebJobsStorage"].is_string(),
        "func start needs it for non-HTTP triggers"
    );
}
