//! The rules of `hooks.toml`: from the file's text to a [`HooksConfig`], naming the hook and the key of
//! the first problem. Pure: it compiles templates and resolves `${env:...}` through the lookup it is
//! given, and connects to nothing.

mod aml;
mod filter;
mod hook;
mod when;

use super::file::{toml_message, RawFile, RawHook, RawSettings};
use super::substitute::{substitute, Insert};
use super::{ConfigError, DedupeSetting, HookSettings, HooksConfig};
use crate::hooks::action::{Action, ConfiguredHook, Shared};
use crate::hooks::delivery::RetryPolicy;
use crate::hooks::rule::Rule;
use crate::hooks::secrets::Secrets;
use crate::hooks::template::{Templates, NOT_PROVIDED};
use crate::hooks::{DEFAULT_DEADLINE, DEFAULT_DEDUPE_TTL};
use crate::identity::AuthConfig;
use reqwest::Url;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// The longest deadline accepted: Event Grid stops waiting after 30 s, and the dedupe store's own
/// calls (a few seconds at worst) come on top of the hooks' budget.
const MAX_DEADLINE_MS: u64 = 25_000;
const MAX_DEDUPE_TTL_SECS: u64 = 30 * 86_400;

/// Validates `text` (named `file` in errors); `dedupe`, when not blank, replaces `settings.dedupe`.
pub(super) fn validate(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
    dedupe: Option<&str>,
) -> Result<HooksConfig, ConfigError> {
    let mut v = Validator {
        file,
        env,
        secrets: Vec::new(),
        templates: Templates::new(),
        warnings: Vec::new(),
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| v.err(None, None, toml_message(&e)))?;
    let settings = v.settings(raw.settings, dedupe)?;
    let mut drafts = Vec::new();
    let mut names = BTreeSet::new();
    for (i, value) in raw.hooks.into_iter().enumerate() {
        let label = value
            .get("name")
            .and_then(toml::Value::as_str)
            .map_or_else(|| format!("#{}", i + 1), str::to_owned);
        let hook =
            RawHook::deserialize(value).map_err(|e| v.err(Some(&label), None, toml_message(&e)))?;
        if !names.insert(hook.name.clone()) {
            return Err(v.err(Some(&label), Some("name"), "another hook has the same name"));
        }
        drafts.push(v.hook(hook, settings.deadline)?);
    }
    let secrets = Secrets::new(v.secrets);
    let shared = Arc::new(Shared {
        templates: v.templates,
        secrets: secrets.clone(),
    });
    let hooks = drafts
        .into_iter()
        .map(|d| ConfiguredHook {
            name: d.name,
            rule: d.rule,
            action: d.action,
            text_template: d.text_template,
            policy: d.policy,
            shared: shared.clone(),
            transport: None,
            azure: Arc::new(crate::settings::AzureSettings::default()),
            auth: d.auth,
            credential: None,
        })
        .collect();
    Ok(HooksConfig {
        file: file.to_owned(),
        settings,
        hooks,
        secrets,
        warnings: v.warnings,
    })
}

/// `handler check`'s words for the names a template reads that nothing defines.
fn describe_unknown(unknown: &[String]) -> String {
    let (missing, variables): (Vec<&str>, Vec<&str>) = unknown
        .iter()
        .map(String::as_str)
        .partition(|name| NOT_PROVIDED.contains(name));
    let mut parts = Vec::new();
    if !variables.is_empty() {
        parts.push(format!(
            "unknown template variable(s): {}",
            variables.join(", ")
        ));
    }
    if !missing.is_empty() {
        parts.push(format!(
            "Jinja function(s) this handler does not provide: {}",
            missing.join(", ")
        ));
    }
    parts.join("; ")
}

/// A hook validated but not yet tied to the shared templates.
struct Draft {
    name: String,
    rule: Rule,
    action: Action,
    text_template: Option<String>,
    policy: RetryPolicy,
    auth: Option<AuthConfig>,
}

/// What validating one file accumulates: the secrets found and the templates compiled.
struct Validator<'a> {
    file: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    secrets: Vec<String>,
    templates: Templates,
    warnings: Vec<super::ConfigWarning>,
}

impl Validator<'_> {
    fn err(
        &self,
        hook: Option<&str>,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: self.file.to_owned(),
            hook: hook.map(str::to_owned),
            key: key.map(str::to_owned),
            message: message.into(),
        }
    }

    /// `${env:NAME}` in `text` (key `key` of hook `hook`) resolved; the values become secrets.
    fn substitute(
        &mut self,
        text: &str,
        hook: Option<&str>,
        key: &str,
        insert: Insert,
    ) -> Result<String, ConfigError> {
        substitute(text, insert, self.env, &mut self.secrets)
            .map_err(|e| self.err(hook, Some(key), e.to_string()))
    }

    /// Compiles `source` as template `name`, refusing variables outside `known`.
    fn compile(
        &mut self,
        hook: Option<&str>,
        key: &str,
        name: String,
        source: String,
        known: &BTreeSet<&str>,
    ) -> Result<String, ConfigError> {
        match self.templates.add(name.clone(), source, known) {
            Ok(unknown) if unknown.is_empty() => Ok(name),
            Ok(unknown) => Err(self.err(hook, Some(key), describe_unknown(&unknown))),
            Err(e) => Err(self.err(hook, Some(key), format!("template error: {e}"))),
        }
    }

    /// `[settings]`, with `dedupe_override` (when not blank) in place of `settings.dedupe`.
    fn settings(
        &mut self,
        raw: RawSettings,
        dedupe_override: Option<&str>,
    ) -> Result<HookSettings, ConfigError> {
        let deadline_ms = raw
            .deadline_ms
            .unwrap_or(DEFAULT_DEADLINE.as_millis() as u64);
        if deadline_ms == 0 || deadline_ms > MAX_DEADLINE_MS {
            return Err(self.err(
                None,
                Some("settings.deadline_ms"),
                format!(
                    "must be between 1 and {MAX_DEADLINE_MS}: Event Grid stops waiting after 30 s"
                ),
            ));
        }
        let dedupe = dedupe_override
            .filter(|v| !v.trim().is_empty())
            .map(str::to_owned)
            .or(raw.dedupe);
        let dedupe = self.dedupe(dedupe.as_deref().unwrap_or("memory"))?;
        let ttl = raw.dedupe_ttl_secs.unwrap_or(DEFAULT_DEDUPE_TTL.as_secs());
        if ttl == 0 || ttl > MAX_DEDUPE_TTL_SECS {
            return Err(self.err(
                None,
                Some("settings.dedupe_ttl_secs"),
                format!("must be between 1 and {MAX_DEDUPE_TTL_SECS} (30 days; Event Grid retries for at most 24 h)"),
            ));
        }
        if let Some(binding) = &raw.poison_binding {
            self.binding_name(None, "settings.poison_binding", binding)?;
        }
        Ok(HookSettings {
            deadline: Duration::from_millis(deadline_ms),
            dedupe,
            dedupe_ttl: Duration::from_secs(ttl),
            dedupe_max_records: crate::settings::DEFAULT_DEDUPE_MAX_RECORDS,
            poison_binding: raw.poison_binding,
            identity: crate::settings::IdentitySettings::default(),
        })
    }

    /// `settings.dedupe`: `memory` or a Redis URL, whose password becomes a secret.
    fn dedupe(&mut self, text: &str) -> Result<DedupeSetting, ConfigError> {
        let text = self.substitute(text.trim(), None, "settings.dedupe", Insert::Plain)?;
        if text == "memory" {
            return Ok(DedupeSetting::Memory);
        }
        if !(text.starts_with("redis://") || text.starts_with("rediss://")) {
            return Err(self.err(
                None,
                Some("settings.dedupe"),
                "must be \"memory\" or a redis:// (rediss://) URL",
            ));
        }
        if let Ok(url) = Url::parse(&text) {
            if let Some(password) = url.password() {
                self.secrets.push(password.to_owned());
            }
        }
        Ok(DedupeSetting::Redis(text))
    }

    fn binding_name(&self, hook: Option<&str>, key: &str, name: &str) -> Result<(), ConfigError> {
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
        if ok {
            Ok(())
        } else {
            Err(self.err(
                hook,
                Some(key),
                format!("`{name}` is not a binding name (letters, digits, `_`)"),
            ))
        }
    }
}
