//! The webhook door's settings: its path, body limit, keys and Entra ID token validation.

use super::raw::RawVars;
use super::{split_list, SettingsError, DEFAULT_MAX_WEBHOOK_BYTES, DEFAULT_WEBHOOK_PATH};

/// Entra ID token validation for the webhook door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraSettings {
    /// The app id or App ID URI tokens must be issued for (`AML_EVENTS_ENTRA_AUDIENCE`).
    pub audience: String,
    /// The tenant id (`AML_EVENTS_ENTRA_TENANT`).
    pub tenant: String,
    /// Where the signing keys are (`AML_EVENTS_ENTRA_JWKS_URL`; default: the tenant's).
    pub jwks_url: Option<String>,
    /// Accepted issuers (`AML_EVENTS_ENTRA_ISSUER`; default: the tenant's v1 and v2 issuers).
    pub issuers: Option<Vec<String>>,
}

/// The webhook door's settings.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// The path it serves (`AML_EVENTS_WEBHOOK_PATH`), starting with `/`.
    pub path: String,
    /// Largest accepted body (`AML_EVENTS_MAX_WEBHOOK_BYTES`).
    pub max_bytes: u64,
    /// Accepted keys (`AML_EVENTS_WEBHOOK_KEY`); empty: no key is required. Secrets.
    pub keys: Vec<String>,
    /// Entra ID token validation, when both audience and tenant are set.
    pub entra: Option<EntraSettings>,
    /// Allow an unprotected door on an exposed address (`AML_EVENTS_WEBHOOK_INSECURE`).
    pub insecure: bool,
    /// `GET` the validation URL of a handshake too (`AML_EVENTS_VALIDATE_URL`).
    pub follow_validation_url: bool,
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("path", &self.path)
            .field("max_bytes", &self.max_bytes)
            .field("keys", &format_args!("[{} redacted]", self.keys.len()))
            .field("entra", &self.entra)
            .field("insecure", &self.insecure)
            .field("follow_validation_url", &self.follow_validation_url)
            .finish()
    }
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            path: DEFAULT_WEBHOOK_PATH.to_owned(),
            max_bytes: DEFAULT_MAX_WEBHOOK_BYTES,
            keys: Vec::new(),
            entra: None,
            insecure: false,
            follow_validation_url: false,
        }
    }
}

pub(super) fn webhook_settings(raw: &RawVars) -> Result<WebhookSettings, SettingsError> {
    let mut webhook = WebhookSettings::default();
    if let Some(path) = raw.text("AML_EVENTS_WEBHOOK_PATH") {
        let path = format!("/{}", path.trim_matches('/'));
        if path.contains(['?', '#', ' ']) {
            return Err(raw.invalid("AML_EVENTS_WEBHOOK_PATH", "a URL path"));
        }
        webhook.path = path;
    }
    webhook.max_bytes = raw.parse_or(
        "AML_EVENTS_MAX_WEBHOOK_BYTES",
        "a byte count",
        DEFAULT_MAX_WEBHOOK_BYTES,
    )?;
    if let Some(list) = raw.get("AML_EVENTS_WEBHOOK_KEY") {
        webhook.keys = split_list(list);
        if webhook.keys.is_empty() {
            return Err(SettingsError {
                name: "AML_EVENTS_WEBHOOK_KEY",
                value: String::new(),
                expected: "one or more comma-separated keys (it is set but holds no key)",
            });
        }
    }
    webhook.entra = match (
        raw.text("AML_EVENTS_ENTRA_AUDIENCE"),
        raw.text("AML_EVENTS_ENTRA_TENANT"),
    ) {
        (Some(audience), Some(tenant)) => Some(EntraSettings {
            audience: audience.to_owned(),
            tenant: tenant.to_owned(),
            jwks_url: raw.text("AML_EVENTS_ENTRA_JWKS_URL").map(str::to_owned),
            issuers: raw.get("AML_EVENTS_ENTRA_ISSUER").map(split_list),
        }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(SettingsError {
                name: "AML_EVENTS_ENTRA_TENANT",
                value: String::new(),
                expected:
                    "set both AML_EVENTS_ENTRA_AUDIENCE and AML_EVENTS_ENTRA_TENANT, or neither",
            })
        }
        (None, Some(_)) => {
            return Err(SettingsError {
                name: "AML_EVENTS_ENTRA_AUDIENCE",
                value: String::new(),
                expected:
                    "set both AML_EVENTS_ENTRA_AUDIENCE and AML_EVENTS_ENTRA_TENANT, or neither",
            })
        }
    };
    webhook.insecure = raw.flag("AML_EVENTS_WEBHOOK_INSECURE")?;
    webhook.follow_validation_url = raw.flag("AML_EVENTS_VALIDATE_URL")?;
    Ok(webhook)
}
