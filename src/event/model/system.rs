//! Event Grid's own events, which reach the same endpoint as the ML events.

use serde::Serialize;
use serde_json::{Map, Value};

/// `Microsoft.EventGrid.SubscriptionValidationEvent`: the handshake Event Grid sends when a subscription
/// is created or updated. The Functions trigger answers it itself; a plain webhook must echo the code.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SubscriptionValidation {
    /// The code to echo back as `{"validationResponse": code}`.
    #[serde(rename = "validationCode", skip_serializing_if = "Option::is_none")]
    pub validation_code: Option<String>,
    /// The URL to `GET` for manual validation (API versions from 2018-05-01-preview on).
    #[serde(rename = "validationUrl", skip_serializing_if = "Option::is_none")]
    pub validation_url: Option<String>,
    /// Keys this version of the crate does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Microsoft.EventGrid.SubscriptionDeletedEvent`: the subscription that delivered this was deleted.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SubscriptionDeleted {
    /// Resource id of the deleted event subscription.
    #[serde(
        rename = "eventSubscriptionId",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_subscription_id: Option<String>,
    /// Keys this version of the crate does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
