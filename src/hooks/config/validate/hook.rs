//! One `[[hooks]]` table: its name, `events`, `[hooks.when]`, the keys its action takes, and the
//! action itself.

use super::{Draft, Validator};
use crate::hooks::action::{Action, ActionKind, Webhook};
use crate::hooks::config::file::{OnPermanentFailure, RawHook};
use crate::hooks::config::substitute::{substitute, Insert};
use crate::hooks::config::ConfigError;
use crate::hooks::delivery::RetryPolicy;
use crate::hooks::secrets::describe_url;
use crate::hooks::template::known_variables;
use crate::identity::AuthConfig;
use reqwest::header::HeaderName;
use reqwest::{Method, Url};
use std::cell::LazyCell;
use std::collections::BTreeSet;
use std::time::Duration;

const MAX_RETRIES: u32 = 10;
/// Why `template` takes no `${env:...}`: its text is the message, posted to a channel or written to the
/// logs, where a value from the settings (a secret, as every such value is treated) must not go.
const TEMPLATE_ENV: &str =
    "`${env:...}` is not substituted in the message template: the message is \
    posted or logged, and values from settings are secrets; use it in `url`, `headers` or `body`";
/// Headers that HTTP framing owns: configuring them could send the request elsewhere or break it.
const RESERVED_HEADERS: [&str; 4] = ["host", "content-length", "transfer-encoding", "connection"];

impl Validator<'_> {
    /// One `[[hooks]]` table, checked in the order its keys are documented.
    pub(super) fn hook(&mut self, raw: RawHook, deadline: Duration) -> Result<Draft, ConfigError> {
        let name = raw.name.clone();
        let h = Some(name.as_str());
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(self.err(
                h,
                Some("name"),
                "use letters, digits, `-`, `_` and `.` only",
            ));
        }
        let kinds = self.kinds(h, raw.events.as_deref())?;
        let mut rule = self.rule(h, kinds, &raw.when)?;
        rule.filters = self.filters(h, &raw.filters, &rule.matchable_kinds())?;
        // Only templates read the variable list, and most hooks (a log, Teams or Slack hook without
        // `template`) have none: built for each hook, it was 42,000 of the 1.1 million instructions
        // from exec to the first answer (callgrind, the shipped hooks.toml).
        let possible = rule.possible_kinds();
        let known = LazyCell::new(|| known_variables(&possible));
        self.unused_keys(h, &raw)?;
        let text_template = match &raw.template {
            Some(source) => {
                if source.contains("${env:") {
                    return Err(self.err(h, Some("template"), TEMPLATE_ENV));
                }
                let template = format!("{name}/template");
                Some(self.compile(h, "template", template, source.clone(), &known)?)
            }
            None => None,
        };
        // A scoring URI carries no credential (batch endpoints take only Entra ID tokens), so
        // `check` and the logs may show it; a value from `${env:...}` stays a secret all the same.
        let url_is_secret = raw.action != ActionKind::AmlBatchEndpoint;
        let url = match &raw.url {
            Some(text) => Some(self.url(h, text, url_is_secret)?),
            None => None,
        };
        let policy = self.policy(h, &raw, deadline)?;
        let auth = self.auth(h, &raw)?;
        if auth.is_none() && raw.action.needs_auth() {
            return Err(self.err(
                h,
                Some("auth"),
                format!(
                    "is required by action `{}`: Azure takes only requests with a token, e.g. auth = {{ type = \"managed_identity\" }}",
                    raw.action
                ),
            ));
        }
        if let (Some(_), Some(url)) = (&auth, &url) {
            self.token_destination(h, url)?;
        }
        let action = self.action(h, &raw, url, &known)?;
        Ok(Draft {
            name,
            rule,
            action,
            text_template,
            policy,
            auth,
        })
    }

    /// Refuses keys that the hook's action does not take.
    fn unused_keys(&self, h: Option<&str>, raw: &RawHook) -> Result<(), ConfigError> {
        let http = raw.action.sends_http();
        let webhook = raw.action == ActionKind::Webhook;
        let job = raw.action == ActionKind::AmlJob;
        let batch = raw.action == ActionKind::AmlBatchEndpoint;
        for (present, key, allowed) in [
            (raw.url.is_some(), "url", http && !job),
            (raw.template.is_some(), "template", !job && !batch),
            (raw.body.is_some(), "body", webhook || batch),
            (raw.job.is_some(), "job", job),
            (raw.workspace.is_some(), "workspace", job),
            (raw.api_version.is_some(), "api_version", job),
            (raw.deployment.is_some(), "deployment", batch),
            (!raw.headers.is_empty(), "headers", webhook),
            (raw.method.is_some(), "method", webhook),
            (
                raw.binding.is_some(),
                "binding",
                raw.action == ActionKind::Output,
            ),
            (raw.timeout_ms.is_some(), "timeout_ms", http),
            (raw.retries.is_some(), "retries", http),
            (raw.auth.is_some(), "auth", raw.action.takes_auth()),
            (raw.resource.is_some(), "resource", raw.action.takes_auth()),
        ] {
            if present && !allowed {
                return Err(self.err(
                    h,
                    Some(key),
                    format!("is not used by action `{}`", raw.action),
                ));
            }
        }
        Ok(())
    }

    /// `url`, resolved. The whole URL is a secret when `secret` (Teams and Slack put their
    /// credential in it); the values of its `${env:...}` always are.
    fn url(&mut self, h: Option<&str>, text: &str, secret: bool) -> Result<Url, ConfigError> {
        let resolved = self.substitute(text, h, "url", Insert::Plain)?;
        if secret {
            self.secrets.push(resolved.clone());
        }
        let url = Url::parse(&resolved)
            .map_err(|e| self.err(h, Some("url"), format!("not a URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(self.err(
                h,
                Some("url"),
                format!(
                    "must be an http(s) URL with a host, not {}",
                    describe_url(&url)
                ),
            ));
        }
        Ok(url)
    }

    /// `auth` with `${env:...}` resolved in its fields (the values, and a client secret written in
    /// the file, become secrets), and the audience: `resource`, else the one the action implies.
    fn auth(&mut self, h: Option<&str>, raw: &RawHook) -> Result<Option<AuthConfig>, ConfigError> {
        let Some(spec) = &raw.auth else {
            if raw.resource.is_some() {
                return Err(self.err(
                    h,
                    Some("resource"),
                    "is the audience of `auth`'s tokens; set `auth` too",
                ));
            }
            return Ok(None);
        };
        let mut spec = spec.clone();
        for (field, value) in spec.fields_mut() {
            let key = format!("auth.{field}");
            *value = match field {
                "secret" => self.substitute(value, h, &key, Insert::Plain)?,
                _ => self.identifier(value, h, &key)?,
            };
            if value.trim().is_empty() {
                return Err(self.err(h, Some(&key), "is empty"));
            }
        }
        if let Some(path) = spec.token_file_mut() {
            let text = path.to_string_lossy().into_owned();
            *path = self.identifier(&text, h, "auth.token_file")?.into();
        }
        if let Some(secret) = spec.secret() {
            self.secrets.push(secret.to_owned());
        }
        // The environment's credential secrets: in no output, whichever hook reports.
        for name in ["IDENTITY_HEADER", "AZURE_CLIENT_SECRET"] {
            if let Some(value) = (self.env)(name).filter(|v| !v.trim().is_empty()) {
                self.secrets.push(value.trim().to_owned());
            }
        }
        let audience = match (&raw.resource, raw.action.implied_audience()) {
            (Some(resource), _) => self.identifier(resource.trim(), h, "resource")?,
            (None, Some(implied)) => implied.to_owned(),
            (None, None) => {
                return Err(self.err(
                    h,
                    Some("resource"),
                    format!(
                        "is required with `auth` by action `{}`: the audience of the token, e.g. \"{}\" for Azure DevOps or \"{}\" for Resource Manager",
                        raw.action,
                        crate::identity::AZURE_DEVOPS,
                        crate::identity::ARM
                    ),
                ))
            }
        };
        if !crate::identity::is_valid_audience(&audience) {
            return Err(self.err(
                h,
                Some("resource"),
                "must be an application id or URI (letters, digits and `. - _ : /`)",
            ));
        }
        Ok(Some(AuthConfig { spec, audience }))
    }

    /// `${env:...}` resolved in an identifier of `auth` (a client or tenant id, a path, the
    /// audience): shown on purpose, by `check --auth` and in errors, so not added to the secrets.
    fn identifier(&self, text: &str, h: Option<&str>, key: &str) -> Result<String, ConfigError> {
        substitute(text, Insert::Plain, self.env, &mut Vec::new())
            .map_err(|e| self.err(h, Some(key), e.to_string()))
    }

    /// A hook with `auth` sends its token only over https, or to a loopback address (tests, local
    /// emulators): over plain http anyone on the path could replay it.
    fn token_destination(&self, h: Option<&str>, url: &Url) -> Result<(), ConfigError> {
        if crate::identity::may_carry_token(url) {
            Ok(())
        } else {
            Err(self.err(
                h,
                Some("url"),
                format!(
                    "must be https with `auth` (a token is sent over http only to a loopback address), not {}",
                    describe_url(url)
                ),
            ))
        }
    }

    /// `timeout_ms`, `retries` and `on_permanent_failure`.
    fn policy(
        &self,
        h: Option<&str>,
        raw: &RawHook,
        deadline: Duration,
    ) -> Result<RetryPolicy, ConfigError> {
        let timeout = Duration::from_millis(raw.timeout_ms.unwrap_or(5_000));
        if timeout.is_zero() || timeout > deadline {
            return Err(self.err(
                h,
                Some("timeout_ms"),
                format!(
                    "must be between 1 and the deadline ({} ms)",
                    deadline.as_millis()
                ),
            ));
        }
        let retries = raw.retries.unwrap_or(3);
        if retries > MAX_RETRIES {
            return Err(self.err(h, Some("retries"), format!("at most {MAX_RETRIES}")));
        }
        Ok(RetryPolicy {
            retries,
            timeout,
            retry_permanent: raw.on_permanent_failure == Some(OnPermanentFailure::Retry),
            ..RetryPolicy::default()
        })
    }

    /// The action with the keys it needs.
    fn action(
        &mut self,
        h: Option<&str>,
        raw: &RawHook,
        url: Option<Url>,
        known: &LazyCell<BTreeSet<&'static str>, impl FnOnce() -> BTreeSet<&'static str>>,
    ) -> Result<Action, ConfigError> {
        match (raw.action, url) {
            (ActionKind::Log, _) => Ok(Action::Log),
            (ActionKind::AmlJob, _) => Ok(Action::AmlJob(self.aml_job(h, raw, known)?)),
            (ActionKind::Output, _) => {
                let binding = raw.binding.clone().ok_or_else(|| {
                    self.err(h, Some("binding"), "is required by action `output`")
                })?;
                self.binding_name(h, "binding", &binding)?;
                Ok(Action::Output { binding })
            }
            (kind, None) => {
                Err(self.err(h, Some("url"), format!("is required by action `{kind}`")))
            }
            (ActionKind::Teams, Some(url)) => Ok(Action::Teams { url }),
            (ActionKind::Slack, Some(url)) => Ok(Action::Slack { url }),
            (ActionKind::Webhook, Some(url)) => Ok(Action::Webhook(
                self.webhook(h, &raw.name, raw, url, known)?,
            )),
            (ActionKind::AmlBatchEndpoint, Some(url)) => {
                Ok(Action::AmlBatchEndpoint(self.batch(h, raw, url, known)?))
            }
        }
    }

    /// A webhook's `method`, `headers` and `body`.
    fn webhook(
        &mut self,
        h: Option<&str>,
        name: &str,
        raw: &RawHook,
        url: Url,
        known: &BTreeSet<&str>,
    ) -> Result<Webhook, ConfigError> {
        let method = match raw
            .method
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            None | Some("POST") => Method::POST,
            Some("PUT") => Method::PUT,
            Some(other) => {
                return Err(self.err(h, Some("method"), format!("`{other}` is not POST or PUT")))
            }
        };
        let mut headers = Vec::new();
        for (header, value) in &raw.headers {
            let key = format!("headers.{header}");
            let parsed = HeaderName::from_bytes(header.as_bytes())
                .map_err(|_| self.err(h, Some(&key), "not a valid header name"))?;
            if RESERVED_HEADERS.contains(&parsed.as_str()) {
                return Err(self.err(
                    h,
                    Some(&key),
                    "is set by the handler and cannot be configured",
                ));
            }
            let source = self.substitute(value, h, &key, Insert::Raw)?;
            let template = format!("{name}/header/{header}");
            headers.push((parsed, self.compile(h, &key, template, source, known)?));
        }
        let body = match &raw.body {
            Some(source) => {
                let source = self.substitute(source, h, "body", Insert::JsonString)?;
                let template = format!("{name}/body.json");
                Some(self.compile(h, "body", template, source, known)?)
            }
            None => None,
        };
        Ok(Webhook {
            url,
            method,
            headers,
            body,
        })
    }
}
