//! The shape of `hooks.toml`, as serde reads it, and reading the file. No rule beyond the shape
//! (unknown keys are refused here); `validate` checks the values.

use super::{ConfigError, DEFAULT_PATH, EMBEDDED_HOOKS_TOML};
use crate::hooks::action::ActionKind;
use crate::identity::AuthSpec;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The whole file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    #[serde(default)]
    pub(super) settings: RawSettings,
    /// Kept as values so that an error in one hook can name it (its `name`, or its position).
    #[serde(default)]
    pub(super) hooks: Vec<toml::Value>,
}

/// `[settings]`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSettings {
    pub(super) deadline_ms: Option<u64>,
    pub(super) dedupe: Option<String>,
    pub(super) dedupe_ttl_secs: Option<u64>,
    pub(super) poison_binding: Option<String>,
}

/// One `[[hooks]]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHook {
    pub(super) name: String,
    #[serde(default)]
    pub(super) events: Option<Vec<String>>,
    pub(super) action: ActionKind,
    pub(super) url: Option<String>,
    pub(super) template: Option<String>,
    pub(super) body: Option<String>,
    #[serde(default)]
    pub(super) headers: BTreeMap<String, String>,
    pub(super) method: Option<String>,
    pub(super) binding: Option<String>,
    pub(super) timeout_ms: Option<u64>,
    pub(super) retries: Option<u32>,
    pub(super) on_permanent_failure: Option<OnPermanentFailure>,
    /// `aml_job`: the job template's path, relative to the hooks file.
    pub(super) job: Option<String>,
    /// `aml_job`: `"event"` or a workspace resource id.
    pub(super) workspace: Option<String>,
    /// `aml_job`: Resource Manager's api-version.
    pub(super) api_version: Option<String>,
    /// `aml_batch_endpoint`: a deployment other than the endpoint's default.
    pub(super) deployment: Option<String>,
    /// `auth = { type = "..." }`: an Entra ID token on every request (actions that take it).
    pub(super) auth: Option<AuthSpec>,
    /// The audience of `auth`'s tokens, when the action implies none.
    pub(super) resource: Option<String>,
    #[serde(default)]
    pub(super) when: RawWhen,
    /// `[[hooks.filters]]`, kept as values so that an error names the filter's index.
    #[serde(default)]
    pub(super) filters: Vec<toml::Value>,
}

/// One `[[hooks.filters]]` table: an Event Grid advanced filter, spelt as in ARM and Bicep.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFilter {
    #[serde(rename = "operatorType")]
    pub(super) operator_type: String,
    pub(super) key: String,
    pub(super) value: Option<toml::Value>,
    pub(super) values: Option<toml::Value>,
}

/// `on_permanent_failure`: what a failure that a redelivery would meet again (a 4xx other than 408
/// and 429, a template that cannot render the event) answers. serde refuses any other value.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub(super) enum OnPermanentFailure {
    /// Logged, answered as done (so Event Grid does not redeliver), and the event sent to the
    /// poison binding when one is configured.
    #[default]
    Report,
    /// Answered as any failure: 5xx, and Event Grid redelivers (up to 30 times over 24 hours).
    Retry,
}

/// `[hooks.when]`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWhen {
    pub(super) subject: Option<String>,
    #[serde(default)]
    pub(super) tags: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub(super) run_status: Vec<String>,
    pub(super) drift_above: Option<f64>,
    pub(super) workspace: Option<String>,
    pub(super) run_type: Option<String>,
    pub(super) experiment: Option<String>,
    pub(super) monitor_breach: Option<bool>,
}

/// The file's name (as errors show it) and text: `path` when given (it must exist); otherwise
/// [`DEFAULT_PATH`] in the working directory when present; otherwise the embedded default.
pub(super) fn read(path: Option<&Path>) -> Result<(String, String), ConfigError> {
    let read = |shown: String, path: &Path| match std::fs::read_to_string(path) {
        Ok(text) => Ok((shown, text)),
        Err(e) => Err(ConfigError::file(
            &shown,
            format!("cannot read the file: {e}"),
        )),
    };
    match path {
        Some(path) => read(path.display().to_string(), path),
        None if Path::new(DEFAULT_PATH).is_file() => {
            read(DEFAULT_PATH.to_owned(), Path::new(DEFAULT_PATH))
        }
        None => Ok((
            "embedded hooks.toml".to_owned(),
            EMBEDDED_HOOKS_TOML.to_owned(),
        )),
    }
}

/// toml's messages carry a source excerpt over several lines; one line reads better in a log.
pub(super) fn toml_message(e: &toml::de::Error) -> String {
    let message = e.message().trim().to_owned();
    match e.span() {
        Some(span) => format!("{message} (at byte {})", span.start),
        None => message,
    }
}
