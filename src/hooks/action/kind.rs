//! The action names of `hooks.toml` and what each kind of action takes: HTTP settings, `auth`, the
//! audience it implies.

use serde::Serialize;
use std::fmt;

/// The action names of `hooks.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// A line in `Logs` and the structured log.
    Log,
    /// An HTTP request with a JSON body.
    Webhook,
    /// A Microsoft Teams Workflows webhook (Adaptive Card).
    Teams,
    /// A Slack incoming webhook.
    Slack,
    /// A message for a Functions output binding.
    Output,
    /// An Azure ML job created through Azure Resource Manager, once per event.
    AmlJob,
    /// A batch endpoint job on the Azure ML data plane.
    AmlBatchEndpoint,
}

impl ActionKind {
    /// The name used in `hooks.toml` (`action = "teams"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::Webhook => "webhook",
            Self::Teams => "teams",
            Self::Slack => "slack",
            Self::Output => "output",
            Self::AmlJob => "aml_job",
            Self::AmlBatchEndpoint => "aml_batch_endpoint",
        }
    }

    /// Whether hooks of this kind send HTTP requests (and so take `timeout_ms`, `retries`).
    pub(crate) fn sends_http(self) -> bool {
        matches!(
            self,
            Self::Webhook | Self::Teams | Self::Slack | Self::AmlJob | Self::AmlBatchEndpoint
        )
    }

    /// Whether hooks of this kind take `auth` (an Entra ID token on each request) and `resource`.
    /// Not Teams and Slack: their URLs carry their own signature, and a token sent to them would be
    /// a credential handed to a third party. Actions that call Azure opt in here.
    pub(crate) fn takes_auth(self) -> bool {
        matches!(self, Self::Webhook | Self::AmlJob | Self::AmlBatchEndpoint)
    }

    /// Whether hooks of this kind cannot work without `auth` (the Azure ML actions: Azure answers
    /// 401 to a request without a token).
    pub(crate) fn needs_auth(self) -> bool {
        matches!(self, Self::AmlJob | Self::AmlBatchEndpoint)
    }

    /// The audience this kind's tokens are for when `resource` is not given (`None`: `resource` is
    /// required with `auth`). A webhook can go anywhere, so it implies none.
    pub(crate) fn implied_audience(self) -> Option<&'static str> {
        match self {
            Self::Log | Self::Webhook | Self::Teams | Self::Slack | Self::Output => None,
            Self::AmlJob => Some(crate::identity::ARM),
            Self::AmlBatchEndpoint => Some(crate::identity::AZURE_ML),
        }
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
