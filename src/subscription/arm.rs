//! The subscription as an ARM template, and its `properties` object, which the Bicep form writes
//! too. An extension resource `Microsoft.EventGrid/eventSubscriptions` on the workspace: Event Grid
//! creates the workspace's system topic for it, as `az eventgrid event-subscription create
//! --source-resource-id` does. Property names: the Event Grid ARM reference (API 2025-02-15).

use super::{
    az::number, schema_name, Endpoint, Subscription, KEY_HEADER, MAX_DELIVERY_ATTEMPTS,
    SUBSCRIPTION_NAME,
};
use crate::hooks::filter::{AdvancedFilter, Operand};
use serde_json::{json, Map, Value};

/// The resource type and API version.
pub(super) const RESOURCE_TYPE: &str = "Microsoft.EventGrid/eventSubscriptions";
/// See [`RESOURCE_TYPE`].
pub(super) const API_VERSION: &str = "2025-02-15";
/// The workspace's resource type, for the subscription's scope.
pub(super) const WORKSPACE_TYPE: &str = "Microsoft.MachineLearningServices/workspaces";

/// A template parameter: name, type, description, default.
pub(super) struct Parameter {
    pub(super) name: &'static str,
    pub(super) secure: bool,
    pub(super) description: &'static str,
    pub(super) default: Option<&'static str>,
}

/// The parameters the subscription reads.
pub(super) fn parameters(s: &Subscription) -> Vec<Parameter> {
    let mut list = vec![Parameter {
        name: "workspaceName",
        secure: false,
        description: "The Azure ML workspace whose events are delivered",
        default: None,
    }];
    match &s.options.endpoint {
        Endpoint::Functions => list.push(Parameter {
            name: "functionResourceId",
            secure: false,
            description:
                "The function's resource id: <function app id>/functions/MlWorkspaceEvents",
            default: None,
        }),
        Endpoint::Webhook(_) if needs_key(s) => list.push(Parameter {
            name: "webhookKey",
            secure: true,
            description: "One of the handler's AML_EVENTS_WEBHOOK_KEY keys",
            default: None,
        }),
        Endpoint::Webhook(_) => {}
    }
    list.push(Parameter {
        name: "deadLetterStorageAccountId",
        secure: false,
        description: "The storage account that keeps undeliverable events",
        default: None,
    });
    list.push(Parameter {
        name: "deadLetterContainer",
        secure: false,
        description: "Its blob container for them",
        default: Some("aml-events-deadletter"),
    });
    list
}

/// Whether the webhook destination carries the key header (as the az form decides).
fn needs_key(s: &Subscription) -> bool {
    s.options.auth.key || s.options.auth.entra.is_none()
}

/// A reference to parameter `name`, as ARM writes it (Bicep turns it into the bare name).
pub(super) fn reference(name: &str) -> Value {
    Value::String(format!("[parameters('{name}')]"))
}

/// `text` as an ARM string that is never an expression: ARM evaluates a string that starts with `[`
/// and ends with `]` (a filter value `[parameters('webhookKey')]` would read the key, `[listKeys(…)]`
/// a storage key), and reads such a literal written with `[[` as the text itself
/// (learn.microsoft.com `azure-resource-manager/templates/template-expressions`, "Escape
/// characters"). Every string from the hooks file or the command line goes through here;
/// [`reference`] writes the only expressions.
pub(super) fn literal(text: &str) -> Value {
    if text.starts_with('[') && text.ends_with(']') {
        Value::String(format!("[{text}"))
    } else {
        Value::String(text.to_owned())
    }
}

/// The subscription's `properties`.
pub(super) fn properties(s: &Subscription) -> Value {
    let destination = match &s.options.endpoint {
        Endpoint::Functions => json!({
            "endpointType": "AzureFunction",
            "properties": {"resourceId": reference("functionResourceId")}
        }),
        Endpoint::Webhook(url) => {
            let mut props = Map::new();
            props.insert("endpointUrl".into(), literal(url.as_str()));
            if needs_key(s) {
                props.insert(
                    "deliveryAttributeMappings".into(),
                    json!([{"name": KEY_HEADER, "type": "Static",
                            "properties": {"value": reference("webhookKey"), "isSecret": true}}]),
                );
            }
            if let Some((tenant, audience)) = &s.options.auth.entra {
                props.insert("azureActiveDirectoryTenantId".into(), literal(tenant));
                props.insert(
                    "azureActiveDirectoryApplicationIdOrUri".into(),
                    literal(audience),
                );
            }
            json!({"endpointType": "WebHook", "properties": props})
        }
    };
    let mut filter = Map::new();
    let types: Vec<&str> = s.kinds.iter().map(|k| k.type_name()).collect();
    filter.insert("includedEventTypes".into(), json!(types));
    filter.insert("isSubjectCaseSensitive".into(), false.into());
    filter.insert("enableAdvancedFilteringOnArrays".into(), true.into());
    if !s.filters.is_empty() {
        let filters: Vec<Value> = s.filters.iter().map(advanced_filter).collect();
        filter.insert("advancedFilters".into(), filters.into());
    }
    json!({
        "destination": destination,
        "eventDeliverySchema": schema_name(s.options.schema),
        "filter": filter,
        "retryPolicy": {
            "maxDeliveryAttempts": MAX_DELIVERY_ATTEMPTS,
            "eventTimeToLiveInMinutes": s.ttl_minutes
        },
        "deadLetterDestination": {
            "endpointType": "StorageBlob",
            "properties": {
                "resourceId": reference("deadLetterStorageAccountId"),
                "blobContainerName": reference("deadLetterContainer")
            }
        }
    })
}

/// One advanced filter as ARM writes it.
pub(super) fn advanced_filter(f: &AdvancedFilter) -> Value {
    let mut object = Map::new();
    object.insert("operatorType".into(), f.operator().name().into());
    object.insert("key".into(), literal(f.key().as_str()));
    let num = |n: f64| -> Value { serde_json::from_str(&number(n)).unwrap_or(Value::Null) };
    match f.operand() {
        Operand::Nothing => {}
        Operand::Number(n) => {
            object.insert("value".into(), num(*n));
        }
        Operand::Bool(b) => {
            object.insert("value".into(), (*b).into());
        }
        Operand::Numbers(ns) => {
            object.insert("values".into(), ns.iter().map(|n| num(*n)).collect());
        }
        Operand::Ranges(rs) => {
            let ranges: Vec<Value> = rs.iter().map(|(l, h)| json!([num(*l), num(*h)])).collect();
            object.insert("values".into(), ranges.into());
        }
        Operand::Strings(ss) => {
            let ss: Vec<Value> = ss.iter().map(|s| literal(s)).collect();
            object.insert("values".into(), ss.into());
        }
    }
    Value::Object(object)
}

/// The whole template, its explanation in `metadata.comments` (JSON has no comments).
pub(super) fn render(s: &Subscription) -> String {
    let mut params = Map::new();
    for p in parameters(s) {
        let mut param = json!({
            "type": if p.secure { "securestring" } else { "string" },
            "metadata": {"description": p.description}
        });
        if let Some(default) = p.default {
            param["defaultValue"] = default.into();
        }
        params.insert(p.name.into(), param);
    }
    let template = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "metadata": {"comments": s.explanation()},
        "parameters": params,
        "resources": [{
            "type": RESOURCE_TYPE,
            "apiVersion": API_VERSION,
            "name": SUBSCRIPTION_NAME,
            "scope": format!("[format('{WORKSPACE_TYPE}/{{0}}', parameters('workspaceName'))]"),
            "properties": properties(s)
        }]
    });
    let mut text = serde_json::to_string_pretty(&template).unwrap_or_default();
    text.push('\n');
    text
}
