//! `handler subscription`: the hooks file and the webhook settings turned into the subscription's
//! options; the subscription itself is [`crate::subscription`].

use super::CliError;
use crate::app::load_hooks;
use crate::event::Schema;
use crate::settings::Settings;
use crate::subscription::{DoorAuth, Endpoint, Format, Options, Subscription};

/// The subscription for the hooks file `settings` name, in `format`, delivered to `endpoint`
/// (`functions` or the webhook door's URL) in `schema`. The webhook door's authentication comes
/// from the settings: its key header when keys are set (the key itself is never printed), Entra ID
/// when the tenant and audience are.
pub fn subscription(
    settings: &Settings,
    format: Format,
    endpoint: &str,
    schema: Schema,
) -> Result<String, CliError> {
    let config = load_hooks(settings)?;
    let auth = DoorAuth {
        key: !settings.webhook.keys.is_empty(),
        entra: settings
            .webhook
            .entra
            .as_ref()
            .map(|e| (e.tenant.clone(), e.audience.clone())),
    };
    let options = Options {
        format,
        endpoint: Endpoint::parse(endpoint)?,
        schema,
        auth,
    };
    let text = Subscription::plan(&config, options)?.render();
    // The printer ends the output with a newline of its own.
    Ok(config.secrets.redact(text.trim_end()))
}
