//! Hooks defined in `hooks.toml`: what each action does and the messages it sends.
//!
//! One file per action that builds a message (`teams`, `slack`, `webhook`), a folder for the Azure
//! ML actions (`aml/`: `aml_job`, `aml_batch_endpoint`), the action names and what each takes in
//! `kind`, and the message each builds for an event in `message`; `log` and `output` are a line and
//! a value and live there.

mod aml;
mod kind;
mod message;
mod slack;
mod teams;
mod webhook;

pub use aml::job_name;
pub(crate) use aml::{AmlJob, BatchEndpoint, JobWorkspace, DEFAULT_API_VERSION};
pub use kind::ActionKind;
use message::json_headers;
pub(crate) use webhook::Webhook;

use super::bearer::WithToken;
use super::delivery::{deliver, RetryPolicy, Transport};
use super::rule::Rule;
use super::secrets::{describe_url, Secrets};
use super::template::Templates;
use super::{Effect, EventView, Hook, HookContext, HookError, HookFuture};
use crate::event::{Event, MlEvent};
use crate::identity::{AuthConfig, HookAuth};
use crate::settings::AzureSettings;
use reqwest::Url;
use std::fmt;
use std::sync::Arc;

/// What a configured hook does.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// Log the text.
    Log,
    /// Add the text (or the event) to output binding `binding`.
    Output {
        /// The output binding name.
        binding: String,
    },
    /// Send a JSON request.
    Webhook(Webhook),
    /// Post an Adaptive Card.
    Teams {
        /// The Workflows webhook URL.
        url: Url,
    },
    /// Post a Slack message.
    Slack {
        /// The incoming-webhook URL.
        url: Url,
    },
    /// Create an Azure ML job through Resource Manager.
    AmlJob(AmlJob),
    /// Start a batch endpoint job.
    AmlBatchEndpoint(BatchEndpoint),
}

/// What every configured hook shares: the compiled templates and the secrets to redact.
#[derive(Debug)]
pub(crate) struct Shared {
    /// All templates of the configuration.
    pub(crate) templates: Templates,
    /// Values never to show.
    pub(crate) secrets: Secrets,
}

/// A hook from `hooks.toml`. A validated configuration holds them without a transport (they can
/// preview but not send); `HooksConfig::dispatcher` gives them one.
#[derive(Clone)]
pub struct ConfiguredHook {
    /// Its unique name.
    pub(crate) name: String,
    /// Which events it wants.
    pub(crate) rule: Rule,
    /// What it does.
    pub(crate) action: Action,
    /// Template name of its text (`template`), if any; otherwise the event summary.
    pub(crate) text_template: Option<String>,
    /// Timeout and retries for deliveries.
    pub(crate) policy: RetryPolicy,
    /// Templates and secrets.
    pub(crate) shared: Arc<Shared>,
    /// How HTTP actions send; `None` until the dispatcher is built (and for log and output hooks).
    pub(crate) transport: Option<Arc<dyn Transport>>,
    /// The Azure cloud's addresses (the Azure ML actions); public Azure until the settings say.
    pub(crate) azure: Arc<AzureSettings>,
    /// `auth` and the audience of its tokens, as validated; `None` for hooks without `auth`.
    pub(crate) auth: Option<AuthConfig>,
    /// The credential handle for `auth`, from the dispatcher's shared [`Credentials`]; `None` until
    /// the dispatcher is built, and for hooks without `auth`.
    ///
    /// [`Credentials`]: crate::identity::Credentials
    pub(crate) credential: Option<HookAuth>,
}

impl ConfiguredHook {
    /// The action's kind.
    pub fn kind(&self) -> ActionKind {
        match self.action {
            Action::Log => ActionKind::Log,
            Action::Output { .. } => ActionKind::Output,
            Action::Webhook(_) => ActionKind::Webhook,
            Action::Teams { .. } => ActionKind::Teams,
            Action::Slack { .. } => ActionKind::Slack,
            Action::AmlJob(_) => ActionKind::AmlJob,
            Action::AmlBatchEndpoint(_) => ActionKind::AmlBatchEndpoint,
        }
    }

    /// The audience of the hook's tokens (`""` without `auth`).
    fn audience(&self) -> &str {
        self.auth.as_ref().map_or("", |a| a.audience.as_str())
    }

    /// The transport the hook sends with, or the error of a configuration built without one.
    fn client(&self) -> Result<&dyn Transport, HookError> {
        self.transport
            .as_deref()
            .ok_or_else(|| self.fail("no HTTP client was built for this configuration"))
    }

    /// [`ConfiguredHook::client`] with the hook's token on every request: what a hook with `auth`
    /// sends with (the Azure ML actions always have one), or the error of a configuration built
    /// without the credential.
    fn with_token(&self) -> Result<WithToken<'_>, HookError> {
        let inner = self.client()?;
        let auth = self
            .credential
            .as_ref()
            .ok_or_else(|| self.fail("no credential was built for its `auth`"))?;
        Ok(WithToken { inner, auth })
    }

    /// The same hook sending through `transport`, with `credential` for its `auth`.
    pub(crate) fn with_transport(
        &self,
        transport: Option<Arc<dyn Transport>>,
        credential: Option<HookAuth>,
    ) -> Self {
        Self {
            transport,
            credential,
            ..self.clone()
        }
    }

    /// Where the hook sends, without secrets.
    pub(crate) fn destination(&self) -> String {
        match &self.action {
            Action::Log => "Logs".to_owned(),
            Action::Output { binding } => format!("output binding `{binding}`"),
            Action::Webhook(Webhook { url, .. })
            | Action::Teams { url }
            | Action::Slack { url }
            | Action::AmlBatchEndpoint(BatchEndpoint { url, .. }) => describe_url(url),
            Action::AmlJob(job) => match &job.workspace {
                JobWorkspace::Event => {
                    format!(
                        "{} (the event's workspace)",
                        describe_url(&self.azure.arm_endpoint)
                    )
                }
                JobWorkspace::Fixed(w) => format!(
                    "{} (workspace {})",
                    describe_url(&self.azure.arm_endpoint),
                    w.workspace
                ),
            },
        }
    }

    /// A failure, with every secret of the configuration taken out of its text.
    fn fail(&self, message: impl AsRef<str>) -> HookError {
        HookError::new(self.shared.secrets.redact(message.as_ref()))
    }

    /// A failure of delivery `error`, permanent when the delivery's failure is (a refusal, a refused
    /// token), its text redacted.
    fn fail_as(&self, error: &super::delivery::DeliveryError, message: String) -> HookError {
        if error.is_permanent() {
            self.fail_permanently(message)
        } else {
            self.fail(message)
        }
    }

    /// A failure a retry would meet again (see [`HookError::permanent`]), its text redacted.
    /// Rendering is a function of the template and the event alone (no clock, no I/O, fixed fuel),
    /// so every render error of an event is permanent.
    fn fail_permanently(&self, message: impl AsRef<str>) -> HookError {
        HookError::permanent(self.shared.secrets.redact(message.as_ref()))
    }

    /// What the effect of a delivered message is called in logs and errors.
    fn kind_word(&self) -> &'static str {
        match self.action {
            Action::Teams { .. } => "Teams message",
            Action::Slack { .. } => "Slack message",
            _ => "webhook",
        }
    }

    /// Sends the hook's request for `event` within `ctx`'s deadline.
    async fn send(&self, event: &Event<MlEvent>, ctx: &HookContext) -> Result<Effect, HookError> {
        let (preview, outgoing) = self.prepare(event)?;
        let Some(request) = outgoing else {
            return Err(self.fail("nothing to send"));
        };
        let with_token;
        let transport = match self.auth {
            Some(_) => {
                with_token = self.with_token()?;
                &with_token as &dyn Transport
            }
            None => self.client()?,
        };
        let delivered = deliver(transport, &request, self.policy, ctx.deadline)
            .await
            .map_err(|e| {
                let message = format!("{} to {}: {e}", self.kind_word(), preview.destination);
                self.fail_as(&e, message)
            })?;
        let with = self
            .credential
            .as_ref()
            .map(|auth| format!(" with a token for {}", auth.audience()))
            .unwrap_or_default();
        Ok(Effect::log(format!(
            "hook {}: {} delivered to {} ({}, attempt {}){with}",
            self.name,
            self.kind_word(),
            preview.destination,
            delivered.status,
            delivered.attempts
        )))
    }
}

/// What `handler check` shows of a hook: its destination by host only, and `auth` without its
/// secret. A derived `Debug` printed the URLs whole (Teams and Slack carry their credential there).
impl fmt::Debug for ConfiguredHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfiguredHook")
            .field("name", &self.name)
            .field("action", &self.kind())
            .field(
                "destination",
                &self.shared.secrets.redact(&self.destination()),
            )
            .field("rule", &self.rule)
            .field("policy", &self.policy)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl Hook for ConfiguredHook {
    fn name(&self) -> &str {
        &self.name
    }

    fn matches(&self, event: &Event<MlEvent>) -> bool {
        self.rule.matches(event)
    }

    fn matches_view(&self, view: &EventView<'_>) -> bool {
        self.rule.matches_view(view)
    }

    /// Logs and output bindings are part of the invocation's answer: redelivering them is right, so
    /// only hooks with outside effects keep dedupe records.
    ///
    /// `aml_job` keeps them too, although its job name already makes it once per event by protocol:
    /// the lease makes a concurrent duplicate delivery wait instead of racing to the same PUT, and
    /// the done record spares a redelivery (another hook failed) the token and the GET. The name is
    /// what holds when the store is lost (a fresh process, another instance); the lease is the cheap
    /// path while it is there. `aml_batch_endpoint` cannot name its job, so the lease is all it has.
    fn dedupe(&self) -> bool {
        !matches!(self.action, Action::Log | Action::Output { .. })
    }

    fn run<'a>(&'a self, event: &'a Event<MlEvent>, ctx: &'a HookContext) -> HookFuture<'a> {
        Box::pin(async move {
            // Log and output hooks run on every event: build their one value and nothing else.
            let result = match &self.action {
                Action::Log => self.text(event).map(Effect::log),
                Action::Output { binding } => self.output_payload(event).map(|payload| Effect {
                    log: None,
                    output: Some((binding.clone(), payload)),
                }),
                Action::AmlJob(job) => job.run(self, event, ctx).await,
                Action::AmlBatchEndpoint(batch) => batch.run(self, event, ctx).await,
                _ => self.send(event, ctx).await,
            };
            // `on_permanent_failure = "retry"`: answered as retryable, as before the distinction.
            result.map_err(|mut error| {
                if self.policy.retry_permanent {
                    error.permanent = false;
                }
                error
            })
        })
    }
}
