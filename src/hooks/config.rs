//! `hooks.toml`: reading, validating and building the hooks.
//!
//! Validation happens once, at startup and in `handler check`, and names the hook and the key of every
//! problem: unknown keys, unknown event names, bad globs, template syntax errors and unknown template
//! variables, missing `${env:NAME}` settings, URLs that are not http(s). A broken file is never served.

use super::action::{Action, ActionKind, ConfiguredHook, Shared};
use super::dedupe::{DedupeStore, MemoryStore};
use super::delivery::RetryPolicy;
use super::rule::Rule;
use super::secrets::{describe_url, Secrets};
use super::template::{known_variables, Templates};
use super::{Dispatcher, Hook, DEFAULT_DEADLINE, DEFAULT_DEDUPE_TTL};
use crate::event::{EventKind, RunStatus};
use reqwest::header::HeaderName;
use reqwest::{Method, Url};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The shipped `hooks.toml`, used when the working directory has none.
pub const EMBEDDED_HOOKS_TOML: &str = include_str!("../../hooks.toml");
/// Where the handler looks for the file when `AML_EVENTS_HOOKS` is unset: the function app root.
pub const DEFAULT_PATH: &str = "hooks.toml";
/// The longest deadline accepted: Event Grid stops waiting after 30 s, and the dedupe store's own
/// calls (a few seconds at worst) come on top of the hooks' budget.
const MAX_DEADLINE_MS: u64 = 25_000;
const MAX_DEDUPE_TTL_SECS: u64 = 30 * 86_400;
const MAX_RETRIES: u32 = 10;

/// A problem in the configuration, naming where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
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

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(hook) = &self.hook {
            write!(f, ": hook `{hook}`")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Where dedupe records live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DedupeSetting {
    /// In this process.
    Memory,
    /// In Redis at this URL.
    Redis(String),
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
    /// Output binding for undecodable events.
    pub poison_binding: Option<String>,
}

/// A validated configuration.
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    settings: RawSettings,
    #[serde(default)]
    hooks: Vec<toml::Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    deadline_ms: Option<u64>,
    dedupe: Option<String>,
    dedupe_ttl_secs: Option<u64>,
    poison_binding: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHook {
    name: String,
    #[serde(default)]
    events: Option<Vec<String>>,
    action: ActionKind,
    url: Option<String>,
    template: Option<String>,
    body: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    method: Option<String>,
    binding: Option<String>,
    timeout_ms: Option<u64>,
    retries: Option<u32>,
    #[serde(default)]
    when: RawWhen,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWhen {
    subject: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, toml::Value>,
    #[serde(default)]
    run_status: Vec<String>,
    drift_above: Option<f64>,
    workspace: Option<String>,
}

/// Collects errors' context while validating one file.
struct Ctx<'a> {
    file: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    secrets: Vec<String>,
}

impl Ctx<'_> {
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

    /// Replaces `${env:NAME}` with the setting's value; each value becomes a secret. `wrap` turns the
    /// value into template-safe text when the field is a template.
    fn substitute(
        &mut self,
        text: &str,
        hook: Option<&str>,
        key: &str,
        wrap: bool,
    ) -> Result<String, ConfigError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${env:") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 6..];
            let end = after.find('}').ok_or_else(|| {
                self.err(
                    hook,
                    Some(key),
                    "unterminated `${env:`; write `${env:NAME}`",
                )
            })?;
            let name = &after[..end];
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(self.err(
                    hook,
                    Some(key),
                    format!("`${{env:{name}}}` is not a valid setting name"),
                ));
            }
            let value = (self.env)(name).filter(|v| !v.is_empty()).ok_or_else(|| {
                self.err(
                    hook,
                    Some(key),
                    format!("uses ${{env:{name}}}, but the setting {name} is not set"),
                )
            })?;
            self.secrets.push(value.clone());
            if wrap {
                out.push_str("{% raw %}");
                out.push_str(&value);
                out.push_str("{% endraw %}");
            } else {
                out.push_str(&value);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// A hook validated but not yet tied to the shared templates.
struct Draft {
    name: String,
    rule: Rule,
    action: Action,
    text_template: Option<String>,
    policy: RetryPolicy,
}

impl HooksConfig {
    /// Reads the configuration: `path` when given (it must exist); otherwise `hooks.toml` in the working
    /// directory when present; otherwise the embedded default.
    pub fn load(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let (file, text) = match path {
            Some(path) => {
                let shown = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                    file: shown.clone(),
                    hook: None,
                    key: None,
                    message: format!("cannot read the file: {e}"),
                })?;
                (shown, text)
            }
            None if Path::new(DEFAULT_PATH).is_file() => {
                let text = std::fs::read_to_string(DEFAULT_PATH).map_err(|e| ConfigError {
                    file: DEFAULT_PATH.to_owned(),
                    hook: None,
                    key: None,
                    message: format!("cannot read the file: {e}"),
                })?;
                (DEFAULT_PATH.to_owned(), text)
            }
            None => (
                "embedded hooks.toml".to_owned(),
                EMBEDDED_HOOKS_TOML.to_owned(),
            ),
        };
        Self::parse(&text, &file, env)
    }

    /// Validates `text` (named `file` in errors), resolving `${env:NAME}` through `env`.
    /// `AML_EVENTS_DEDUPE` from `env` overrides `settings.dedupe`.
    pub fn parse(
        text: &str,
        file: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut ctx = Ctx {
            file,
            env,
            secrets: Vec::new(),
        };
        let raw: RawFile =
            toml::from_str(text).map_err(|e| ctx.err(None, None, toml_message(&e)))?;
        let settings = settings(&mut ctx, raw.settings)?;

        let mut templates = Templates::new();
        let mut drafts = Vec::new();
        let mut names = BTreeSet::new();
        for (i, value) in raw.hooks.into_iter().enumerate() {
            let label = value
                .get("name")
                .and_then(toml::Value::as_str)
                .map_or_else(|| format!("#{}", i + 1), str::to_owned);
            let hook = RawHook::deserialize(value)
                .map_err(|e| ctx.err(Some(&label), None, toml_message(&e)))?;
            if !names.insert(hook.name.clone()) {
                return Err(ctx.err(Some(&label), Some("name"), "another hook has the same name"));
            }
            drafts.push(draft(&mut ctx, &mut templates, hook, settings.deadline)?);
        }

        let secrets = Secrets::new(ctx.secrets);
        // Only configurations that send HTTP get a client: building one loads the TLS roots, which
        // is most of a log-only handler's start-up time and memory.
        let sends_http = drafts.iter().any(|d| {
            matches!(
                d.action,
                Action::Webhook { .. } | Action::Teams { .. } | Action::Slack { .. }
            )
        });
        let client = if sends_http {
            let built = reqwest::Client::builder()
                // A redirect could take a notification to a host the file does not name.
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("aml-events/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| ConfigError {
                    file: file.to_owned(),
                    hook: None,
                    key: None,
                    message: format!("cannot create the HTTP client: {e}"),
                })?;
            Some(built)
        } else {
            None
        };
        let shared = Arc::new(Shared {
            templates,
            client,
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
            })
            .collect();
        Ok(Self {
            file: file.to_owned(),
            settings,
            hooks,
            secrets,
        })
    }

    /// Builds the dispatcher: these hooks, the dedupe store, deadline and TTL.
    pub fn dispatcher(&self) -> Result<Dispatcher, ConfigError> {
        let store: Arc<dyn DedupeStore> = match &self.settings.dedupe {
            DedupeSetting::Memory => Arc::new(MemoryStore::new()),
            #[cfg(feature = "redis")]
            DedupeSetting::Redis(url) => Arc::new(super::dedupe::RedisStore::new(url).map_err(
                |e| ConfigError {
                    file: self.file.clone(),
                    hook: None,
                    key: Some("settings.dedupe".into()),
                    message: self.secrets.redact(&e.to_string()),
                },
            )?),
            #[cfg(not(feature = "redis"))]
            DedupeSetting::Redis(_) => {
                return Err(ConfigError {
                    file: self.file.clone(),
                    hook: None,
                    key: Some("settings.dedupe".into()),
                    message: "a Redis dedupe store needs a handler built with the `redis` feature"
                        .into(),
                })
            }
        };
        let hooks: Vec<Arc<dyn Hook>> = self
            .hooks
            .iter()
            .map(|h| Arc::new(h.clone()) as Arc<dyn Hook>)
            .collect();
        Ok(Dispatcher::new(hooks)
            .with_store(store)
            .with_deadline(self.settings.deadline)
            .with_dedupe_ttl(self.settings.dedupe_ttl))
    }

    /// The hooks as a table for `handler check`: name, events, action, destination (host only), when.
    pub fn table(&self) -> String {
        let mut rows = vec![[
            "NAME".to_owned(),
            "EVENTS".into(),
            "ACTION".into(),
            "DESTINATION".into(),
            "WHEN".into(),
        ]];
        for hook in &self.hooks {
            let events = match &hook.rule.kinds {
                None => "*".to_owned(),
                Some(kinds) => kinds
                    .iter()
                    .map(|k| k.short_name())
                    .collect::<Vec<_>>()
                    .join(","),
            };
            rows.push([
                hook.name.clone(),
                events,
                format!("{:?}", hook.kind()).to_lowercase(),
                hook.destination(),
                describe_rule(&hook.rule),
            ]);
        }
        let widths: Vec<usize> = (0..5)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in rows {
            let line: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, cell)| format!("{cell:<width$}", width = widths[c]))
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
        self.secrets.redact(&out)
    }
}

fn describe_rule(rule: &Rule) -> String {
    let mut parts = Vec::new();
    if let Some(p) = &rule.subject {
        parts.push(format!("subject={}", p.as_str()));
    }
    for (k, v) in &rule.tags {
        parts.push(format!("tags.{k}={v}"));
    }
    if !rule.run_status.is_empty() {
        let statuses: Vec<&str> = rule.run_status.iter().map(RunStatus::as_str).collect();
        parts.push(format!("run_status={}", statuses.join("|")));
    }
    if let Some(d) = rule.drift_above {
        parts.push(format!("drift_above={d}"));
    }
    if let Some(w) = &rule.workspace {
        parts.push(format!("workspace={w}"));
    }
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(" ")
    }
}

/// toml's messages carry a source excerpt over several lines; one line reads better in a log.
fn toml_message(e: &toml::de::Error) -> String {
    let message = e.message().trim().to_owned();
    match e.span() {
        Some(span) => format!("{message} (at byte {})", span.start),
        None => message,
    }
}

fn settings(ctx: &mut Ctx<'_>, raw: RawSettings) -> Result<HookSettings, ConfigError> {
    let deadline_ms = raw
        .deadline_ms
        .unwrap_or(DEFAULT_DEADLINE.as_millis() as u64);
    if deadline_ms == 0 || deadline_ms > MAX_DEADLINE_MS {
        return Err(ctx.err(
            None,
            Some("settings.deadline_ms"),
            format!("must be between 1 and {MAX_DEADLINE_MS}: Event Grid stops waiting after 30 s"),
        ));
    }
    let dedupe_text = (ctx.env)("AML_EVENTS_DEDUPE")
        .filter(|v| !v.trim().is_empty())
        .or(raw.dedupe)
        .unwrap_or_else(|| "memory".to_owned());
    let dedupe_text = ctx.substitute(dedupe_text.trim(), None, "settings.dedupe", false)?;
    let dedupe = if dedupe_text == "memory" {
        DedupeSetting::Memory
    } else if dedupe_text.starts_with("redis://") || dedupe_text.starts_with("rediss://") {
        if let Ok(url) = Url::parse(&dedupe_text) {
            if let Some(password) = url.password() {
                ctx.secrets.push(password.to_owned());
            }
        }
        DedupeSetting::Redis(dedupe_text)
    } else {
        return Err(ctx.err(
            None,
            Some("settings.dedupe"),
            "must be \"memory\" or a redis:// (rediss://) URL",
        ));
    };
    let ttl = raw.dedupe_ttl_secs.unwrap_or(DEFAULT_DEDUPE_TTL.as_secs());
    if ttl == 0 || ttl > MAX_DEDUPE_TTL_SECS {
        return Err(ctx.err(
            None,
            Some("settings.dedupe_ttl_secs"),
            format!("must be between 1 and {MAX_DEDUPE_TTL_SECS} (30 days; Event Grid retries for at most 24 h)"),
        ));
    }
    if let Some(binding) = &raw.poison_binding {
        check_binding_name(ctx, None, "settings.poison_binding", binding)?;
    }
    Ok(HookSettings {
        deadline: Duration::from_millis(deadline_ms),
        dedupe,
        dedupe_ttl: Duration::from_secs(ttl),
        poison_binding: raw.poison_binding,
    })
}

fn check_binding_name(
    ctx: &Ctx<'_>,
    hook: Option<&str>,
    key: &str,
    name: &str,
) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ok {
        Ok(())
    } else {
        Err(ctx.err(
            hook,
            Some(key),
            format!("`{name}` is not a binding name (letters, digits, `_`)"),
        ))
    }
}

fn draft(
    ctx: &mut Ctx<'_>,
    templates: &mut Templates,
    raw: RawHook,
    deadline: Duration,
) -> Result<Draft, ConfigError> {
    let name = raw.name.clone();
    let h = Some(name.as_str());
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(ctx.err(
            h,
            Some("name"),
            "use letters, digits, `-`, `_` and `.` only",
        ));
    }

    // events
    let kinds = match raw.events.as_deref() {
        None => None,
        Some([]) => {
            return Err(ctx.err(
                h,
                Some("events"),
                "is empty; use [\"*\"] for every Azure ML event",
            ))
        }
        Some(list) if list.iter().any(|e| e == "*") => None,
        Some(list) => {
            let mut kinds = Vec::new();
            for name in list {
                match EventKind::from_name(name).filter(|k| k.is_ml()) {
                    Some(kind) => kinds.push(kind),
                    None => {
                        let known: Vec<&str> =
                            EventKind::ML.iter().map(|k| k.short_name()).collect();
                        return Err(ctx.err(
                            h,
                            Some("events"),
                            format!(
                                "unknown event `{name}`; use \"*\" or one of {}",
                                known.join(", ")
                            ),
                        ));
                    }
                }
            }
            Some(kinds)
        }
    };

    // when
    let subject = match &raw.when.subject {
        Some(glob) => Some(
            glob::Pattern::new(glob)
                .map_err(|e| ctx.err(h, Some("when.subject"), format!("bad glob `{glob}`: {e}")))?,
        ),
        None => None,
    };
    let mut tags = BTreeMap::new();
    for (k, v) in raw.when.tags {
        let text = match v {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => {
                return Err(ctx.err(
                    h,
                    Some(&format!("when.tags.{k}")),
                    "must be a string, number or boolean",
                ))
            }
        };
        tags.insert(k, text);
    }
    if raw.when.run_status.iter().any(|s| s.trim().is_empty()) {
        return Err(ctx.err(h, Some("when.run_status"), "contains an empty status"));
    }
    if let Some(d) = raw.when.drift_above {
        if !d.is_finite() {
            return Err(ctx.err(h, Some("when.drift_above"), "must be a finite number"));
        }
    }
    let rule = Rule {
        kinds,
        subject,
        tags,
        run_status: raw
            .when
            .run_status
            .iter()
            .map(|s| RunStatus::parse(s.trim()))
            .collect(),
        drift_above: raw.when.drift_above,
        workspace: raw.when.workspace.clone(),
    };
    let known = known_variables(&rule.possible_kinds());

    // keys that only some actions take
    let needs_url = matches!(
        raw.action,
        ActionKind::Webhook | ActionKind::Teams | ActionKind::Slack
    );
    let webhook = raw.action == ActionKind::Webhook;
    for (present, key, allowed) in [
        (raw.url.is_some(), "url", needs_url),
        (raw.body.is_some(), "body", webhook),
        (!raw.headers.is_empty(), "headers", webhook),
        (raw.method.is_some(), "method", webhook),
        (
            raw.binding.is_some(),
            "binding",
            raw.action == ActionKind::Output,
        ),
        (raw.timeout_ms.is_some(), "timeout_ms", needs_url),
        (raw.retries.is_some(), "retries", needs_url),
    ] {
        if present && !allowed {
            return Err(ctx.err(
                h,
                Some(key),
                format!("is not used by action `{:?}`", raw.action).to_lowercase(),
            ));
        }
    }

    let compile = |templates: &mut Templates, key: &str, template_name: String, source: String| {
        match templates.add(template_name, source, &known) {
            Ok(unknown) if unknown.is_empty() => Ok(()),
            Ok(unknown) => Err(ctx_err(
                ctx.file,
                h,
                key,
                format!("unknown template variable(s): {}", unknown.join(", ")),
            )),
            Err(e) => Err(ctx_err(ctx.file, h, key, format!("template error: {e}"))),
        }
    };

    let text_template = match &raw.template {
        Some(source) => {
            let template_name = format!("{name}/template");
            compile(templates, "template", template_name.clone(), source.clone())?;
            Some(template_name)
        }
        None => None,
    };

    let url = match &raw.url {
        Some(text) => {
            let resolved = ctx.substitute(text, h, "url", false)?;
            ctx.secrets.push(resolved.clone());
            let url = Url::parse(&resolved)
                .map_err(|e| ctx.err(h, Some("url"), format!("not a URL ({e})")))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(ctx.err(
                    h,
                    Some("url"),
                    format!(
                        "must be an http(s) URL with a host, not {}",
                        describe_url(&url)
                    ),
                ));
            }
            Some(url)
        }
        None => None,
    };

    let timeout = Duration::from_millis(raw.timeout_ms.unwrap_or(5_000));
    if timeout.is_zero() || timeout > deadline {
        return Err(ctx.err(
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
        return Err(ctx.err(h, Some("retries"), format!("at most {MAX_RETRIES}")));
    }
    let policy = RetryPolicy {
        retries,
        timeout,
        ..RetryPolicy::default()
    };

    let action = match (raw.action, url) {
        (ActionKind::Log, _) => Action::Log,
        (ActionKind::Output, _) => {
            let binding = raw
                .binding
                .clone()
                .ok_or_else(|| ctx.err(h, Some("binding"), "is required by action `output`"))?;
            check_binding_name(ctx, h, "binding", &binding)?;
            Action::Output { binding }
        }
        (kind, None) => {
            return Err(ctx.err(
                h,
                Some("url"),
                format!("is required by action `{kind:?}`").to_lowercase(),
            ))
        }
        (ActionKind::Teams, Some(url)) => Action::Teams { url },
        (ActionKind::Slack, Some(url)) => Action::Slack { url },
        (ActionKind::Webhook, Some(url)) => {
            let method = match raw
                .method
                .as_deref()
                .map(str::to_ascii_uppercase)
                .as_deref()
            {
                None | Some("POST") => Method::POST,
                Some("PUT") => Method::PUT,
                Some(other) => {
                    return Err(ctx.err(h, Some("method"), format!("`{other}` is not POST or PUT")))
                }
            };
            let mut headers = Vec::new();
            for (header, value) in &raw.headers {
                let key = format!("headers.{header}");
                let parsed = HeaderName::from_bytes(header.as_bytes())
                    .map_err(|_| ctx.err(h, Some(&key), "not a valid header name"))?;
                if ["host", "content-length", "transfer-encoding", "connection"]
                    .contains(&parsed.as_str())
                {
                    return Err(ctx.err(
                        h,
                        Some(&key),
                        "is set by the handler and cannot be configured",
                    ));
                }
                let source = ctx.substitute(value, h, &key, true)?;
                let template_name = format!("{name}/header/{header}");
                compile(templates, &key, template_name.clone(), source)?;
                headers.push((parsed, template_name));
            }
            let body = match &raw.body {
                Some(source) => {
                    let source = ctx.substitute(source, h, "body", true)?;
                    let template_name = format!("{name}/body.json");
                    compile(templates, "body", template_name.clone(), source)?;
                    Some(template_name)
                }
                None => None,
            };
            Action::Webhook {
                url,
                method,
                headers,
                body,
            }
        }
    };
    Ok(Draft {
        name,
        rule,
        action,
        text_template,
        policy,
    })
}

fn ctx_err(file: &str, hook: Option<&str>, key: &str, message: String) -> ConfigError {
    // A free function because the template closure cannot borrow the whole `Ctx` while it is mutated.
    ConfigError {
        file: file.to_owned(),
        hook: hook.map(str::to_owned),
        key: Some(key.to_owned()),
        message,
    }
}
