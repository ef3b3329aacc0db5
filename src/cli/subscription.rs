//! `handler subscription`: the hooks file and the webhook settings turned into the subscription's
//! options; the subscription itself is [`crate::subscription`].

use super::CliError;
use crate::app::load_hooks;
use crate::event::Schema;
use crate::hooks::secrets::Secrets;
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
    // The printer ends the output with a newline of its own. The webhook door's keys are secrets
    // of the settings, not of the file: redacted too, wherever they would appear (a query parameter
    // of `--endpoint` other than `code`, a filter value).
    let keys = Secrets::new(settings.webhook.keys.iter().cloned());
    Ok(keys.redact(&config.secrets.redact(text.trim_end())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_of_the_webhook_door_is_printed_wherever_it_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hooks.toml");
        std::fs::write(
            &file,
            "[[hooks]]\nname = \"h\"\naction = \"log\"\n[[hooks.filters]]\noperatorType = \"StringIn\"\nkey = \"data.x\"\nvalues = [\"SECRET-KEY-1\"]\n",
        )
        .unwrap();
        let path = file.to_string_lossy().into_owned();
        let settings = Settings::from_vars(move |name| match name {
            "AML_EVENTS_HOOKS" => Some(path.clone()),
            "AML_EVENTS_WEBHOOK_KEY" => Some("SECRET-KEY-1,SECRET-KEY-2".into()),
            _ => None,
        })
        .unwrap();
        for format in [Format::Az, Format::Bicep, Format::Arm] {
            for endpoint in [
                "https://h.example/api/eventgrid?code=SECRET-KEY-1",
                "https://h.example/api/eventgrid?key=SECRET-KEY-2&code=SECRET-KEY-1",
            ] {
                let text = subscription(&settings, format, endpoint, Schema::EventGrid).unwrap();
                assert!(!text.contains("SECRET-KEY"), "{format:?}\n{text}");
            }
            let err = subscription(
                &settings,
                format,
                "https://u:SECRET-KEY-1@h.example/api/eventgrid",
                Schema::EventGrid,
            )
            .unwrap_err();
            assert!(!err.to_string().contains("SECRET-KEY"), "{err}");
        }
    }
}
