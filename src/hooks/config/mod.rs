//! `hooks.toml`: reading, validating and building the hooks, one job per file.
//!
//! - `file`: the file's shape (serde types) and reading it, nothing else;
//! - `substitute`: `${env:NAME}` through a lookup the caller passes (this module reads no environment);
//! - `validate`: the rules of the file, turning it into a [`HooksConfig`]: plain data with the
//!   templates compiled, but no HTTP client, no dedupe store and no connection;
//! - `build`: the runtime [`Dispatcher`](super::Dispatcher) from a [`HooksConfig`] (HTTP client,
//!   dedupe store);
//! - `table`: what `handler check` prints.
//!
//! Validation happens once, at startup and in `handler check`, and names the hook and the key of every
//! problem: unknown keys, unknown event names, bad globs, template syntax errors and unknown template
//! variables, missing `${env:NAME}` settings, URLs that are not http(s). A broken file is never served.

mod build;
mod file;
mod substitute;
mod table;
mod validate;

use super::action::{ActionKind, ConfiguredHook};
use super::secrets::Secrets;
use std::fmt;
use std::path::Path;
use std::time::Duration;
use thiserror::Error;

/// The shipped `hooks.toml`, used when the working directory has none.
pub const EMBEDDED_HOOKS_TOML: &str = include_str!("../../../hooks.toml");
/// Where the handler looks for the file when no path is given: the function app root.
pub const DEFAULT_PATH: &str = "hooks.toml";

/// A problem in the configuration, naming where it is:
/// `hooks.toml: hook `deploy-notice`: key `url`: uses ${env:TEAMS_URL}, but the setting TEAMS_URL is not set`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}{}{}: {message}", show("hook", .hook), show("key", .key))]
pub struct ConfigError {
    /// The file (or `embedded hooks.toml`).
    pub file: String,
    /// The hook's name (or `#index` when it has none), when the problem is in a hook.
    pub hook: Option<String>,
    /// The key, when the problem is one key.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// `: hook `name`` (or nothing) for [`ConfigError`]'s text.
fn show(what: &str, name: &Option<String>) -> String {
    name.as_ref()
        .map(|name| format!(": {what} `{name}`"))
        .unwrap_or_default()
}

/// Something in the configuration that works but is likely a mistake, shown by `handler check` (and
/// logged at start), e.g. ``hook `name`: key `filters[0].key`: ...``.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}{}{message}", show_first("hook", .hook), show_first("key", .key))]
pub struct ConfigWarning {
    /// The hook's name, when the warning is about a hook.
    pub hook: Option<String>,
    /// The key.
    pub key: Option<String>,
    /// What looks wrong.
    pub message: String,
}

/// `hook `name`: ` (or nothing) for [`ConfigWarning`]'s text.
fn show_first(what: &str, name: &Option<String>) -> String {
    name.as_ref()
        .map(|name| format!("{what} `{name}`: "))
        .unwrap_or_default()
}

impl ConfigError {
    /// A problem of the whole file, at no key.
    pub(crate) fn file(file: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            hook: None,
            key: None,
            message: message.into(),
        }
    }
}

/// Where dedupe records live.
#[derive(Clone, PartialEq, Eq)]
pub enum DedupeSetting {
    /// In this process.
    Memory,
    /// In Redis at this URL.
    Redis(String),
}

impl DedupeSetting {
    /// `memory`, or `redis at HOST`: a Redis URL may carry its password.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Memory => "memory".to_owned(),
            Self::Redis(url) => match reqwest::Url::parse(url) {
                Ok(u) => format!("redis at {}", u.host_str().unwrap_or("?")),
                Err(_) => "redis".to_owned(),
            },
        }
    }
}

/// As [`DedupeSetting::describe`]: a configuration printed with `{:?}` shows no Redis password.
impl fmt::Debug for DedupeSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// The `[settings]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct HookSettings {
    /// Budget for all hooks of one event.
    pub deadline: Duration,
    /// Dedupe store.
    pub dedupe: DedupeSetting,
    /// How long a "done" record lives.
    pub dedupe_ttl: Duration,
    /// The in-memory store's bound on records: not in the file, a process setting
    /// (`AML_EVENTS_DEDUPE_MAX_RECORDS`, which `App` puts here); [`DEFAULT_DEDUPE_MAX_RECORDS`] until then.
    ///
    /// [`DEFAULT_DEDUPE_MAX_RECORDS`]: crate::settings::DEFAULT_DEDUPE_MAX_RECORDS
    pub dedupe_max_records: std::num::NonZeroUsize,
    /// Output binding for undecodable events.
    pub poison_binding: Option<String>,
    /// Entra ID settings for hooks with `auth`, and the extra trusted CA certificates of every
    /// outbound request: not in the file, process settings (`AZURE_*`, `IDENTITY_*`,
    /// `AML_EVENTS_EXTRA_CA_CERTS`), which `App` puts here; empty until then.
    pub identity: crate::settings::IdentitySettings,
}

/// A validated configuration: plain data (the hooks, their compiled templates, the settings and the
/// secrets to redact), with nothing connected yet. [`HooksConfig::dispatcher`] builds the runtime.
#[derive(Debug, Clone)]
pub struct HooksConfig {
    /// Where it was read from.
    pub file: String,
    /// The `[settings]`.
    pub settings: HookSettings,
    /// The hooks, in file order.
    pub hooks: Vec<ConfiguredHook>,
    /// Every secret value of the file (resolved `${env:...}`, URLs).
    pub secrets: Secrets,
    /// What works but looks wrong (a filter key no event of the hook has), for `handler check`.
    pub warnings: Vec<ConfigWarning>,
}

impl HooksConfig {
    /// The same configuration with the Azure ML actions sending to (and linking into) `azure`: the
    /// settings' `AML_EVENTS_ARM_ENDPOINT` and `AML_EVENTS_STUDIO_URL`, which the file does not hold.
    /// Refused when an `aml_job` hook would send its token to Resource Manager over plain http
    /// (other than to a loopback address).
    pub fn with_azure(
        mut self,
        azure: crate::settings::AzureSettings,
    ) -> Result<Self, ConfigError> {
        let jobs = self.hooks.iter().find(|h| h.kind() == ActionKind::AmlJob);
        if let Some(hook) = jobs {
            if !crate::identity::may_carry_token(&azure.arm_endpoint) {
                return Err(ConfigError {
                    hook: Some(hook.name.clone()),
                    ..ConfigError::file(
                        &self.file,
                        format!(
                            "AML_EVENTS_ARM_ENDPOINT is {}: a token is sent to Resource Manager, so it must be https (http only to a loopback address)",
                            super::secrets::describe_url(&azure.arm_endpoint)
                        ),
                    )
                });
            }
        }
        let azure = std::sync::Arc::new(azure);
        for hook in &mut self.hooks {
            hook.azure = azure.clone();
        }
        Ok(self)
    }

    /// Reads the configuration: `path` when given (it must exist); otherwise `hooks.toml` in the working
    /// directory when present; otherwise the embedded default. `${env:NAME}` is resolved through `env`.
    pub fn load(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        Self::load_with(path, env, None)
    }

    /// [`HooksConfig::load`], with `dedupe` (when not blank) in place of the file's `settings.dedupe`:
    /// the settings module passes `AML_EVENTS_DEDUPE` here.
    pub fn load_with(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        dedupe: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let (file, text) = file::read(path)?;
        Self::parse_with(&text, &file, env, dedupe)
    }

    /// Validates `text` (named `file` in errors), resolving `${env:NAME}` through `env`.
    pub fn parse(
        text: &str,
        file: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        Self::parse_with(text, file, env, None)
    }

    /// [`HooksConfig::parse`], with `dedupe` (when not blank) in place of the file's
    /// `settings.dedupe`; it may use `${env:NAME}` too.
    pub fn parse_with(
        text: &str,
        file: &str,
        env: &dyn Fn(&str) -> Option<String>,
        dedupe: Option<&str>,
    ) -> Result<Self, ConfigError> {
        validate::validate(text, file, env, dedupe)
    }
}
