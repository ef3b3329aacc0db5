//! The Event Grid subscription a hooks file needs, as an az command, Bicep or an ARM template
//! (`handler subscription`). Plain data and text: nothing here reads the environment or calls Azure.
//!
//! The subscription must deliver every event some hook wants, and as few others as it can:
//! - its included event types are the union of the kinds each hook can match;
//! - its advanced filters are only those that every hook has (the plan says why the others stay in
//!   the handler): a hook's conditions are AND-ed and the hooks OR-ed, while Event Grid ANDs a
//!   subscription's filters, so a filter one hook lacks would drop events that hook wants;
//! - delivery: the arrival schema asked for, Event Grid's most attempts (30) within the dedupe TTL
//!   (at most Event Grid's 24 hours), so a redelivery always finds the hooks' dedupe records, and a
//!   dead-letter container for what could not be delivered;
//! - the destination: the Functions Event Grid trigger of `MlWorkspaceEvents` (`AzureFunction`, its
//!   resource id a parameter), or the webhook door with its key in the `x-aml-events-key` delivery
//!   header and/or Entra ID.
//!
//! Hooks defined in code (`App::builder().hook`) are not in the file and not accounted for. The
//! filters are evaluated here on the decoded event and by Event Grid on what it delivers, which are
//! the same for Azure ML's system events; a publisher sending CloudEvents `data_base64` would differ
//! (Event Grid cannot see into it), but the workspace's system topic never does.

mod arm;
mod az;
mod bicep;
mod plan;

#[cfg(test)]
mod tests;

use crate::event::{Event, EventKind, MlEvent, Schema};
use crate::hooks::config::HooksConfig;
use crate::hooks::filter::{AdvancedFilter, EventView};
use crate::hooks::secrets::describe_url;
use reqwest::Url;
use thiserror::Error;

/// The subscription's name.
pub const SUBSCRIPTION_NAME: &str = "aml-events";
/// The delivery header the webhook door reads a key from (`door::auth`).
pub const KEY_HEADER: &str = "x-aml-events-key";
/// Event Grid's most delivery attempts, and its longest event time-to-live (minutes).
pub const MAX_DELIVERY_ATTEMPTS: u32 = 30;
/// See [`MAX_DELIVERY_ATTEMPTS`].
pub const MAX_EVENT_TTL_MINUTES: u64 = 1440;

/// What to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An `az eventgrid event-subscription create` command.
    Az,
    /// A Bicep file.
    Bicep,
    /// An ARM template (JSON).
    Arm,
}

/// Where Event Grid delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// The Functions Event Grid trigger of `MlWorkspaceEvents` (`MlWorkspaceEvents/function.json`).
    Functions,
    /// The webhook door at this https URL.
    Webhook(Url),
}

/// How the webhook door authenticates deliveries (from the webhook settings, never their secrets).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DoorAuth {
    /// A key is required: Event Grid sends it in [`KEY_HEADER`].
    pub key: bool,
    /// Entra ID tokens are required: (tenant, audience).
    pub entra: Option<(String, String)>,
}

/// What `handler subscription` was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The output's form.
    pub format: Format,
    /// The destination.
    pub endpoint: Endpoint,
    /// The delivery schema.
    pub schema: Schema,
    /// The webhook door's authentication (ignored for [`Endpoint::Functions`]).
    pub auth: DoorAuth,
}

/// Why no subscription can be printed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SubscriptionError {
    /// No hook of the file can match any event.
    #[error("{0}: no hook can match an event, so there is nothing to subscribe to")]
    NoHooks(String),
    /// The endpoint is not `functions` nor an https URL, or carries credentials.
    #[error("--endpoint {0}: Event Grid delivers to `functions` (the Event Grid trigger) or to an https URL without credentials")]
    Endpoint(String),
    /// An argument az would not receive as written (it names the argument, not its value).
    #[error("{0}: {1}; use --format bicep or arm")]
    AzArgument(&'static str, &'static str),
}

impl Endpoint {
    /// `functions`, or an https URL; a `code` query parameter (a key) is dropped from the URL, since
    /// the key travels in [`KEY_HEADER`] and printed output must hold no secret.
    pub fn parse(text: &str) -> Result<Self, SubscriptionError> {
        if text.eq_ignore_ascii_case("functions") {
            return Ok(Endpoint::Functions);
        }
        let mut url =
            Url::parse(text).map_err(|_| SubscriptionError::Endpoint("(not a URL)".to_owned()))?;
        let credentials = !url.username().is_empty() || url.password().is_some();
        if url.scheme() != "https" || url.host_str().is_none() || credentials {
            return Err(SubscriptionError::Endpoint(describe_url(&url)));
        }
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "code")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.set_query(None);
        if !kept.is_empty() {
            url.query_pairs_mut().extend_pairs(kept);
        }
        Ok(Endpoint::Webhook(url))
    }
}

/// The subscription for one hooks file: what it includes, filters and how it delivers.
#[derive(Debug, Clone)]
pub struct Subscription {
    file: String,
    options: Options,
    kinds: Vec<EventKind>,
    filters: Vec<AdvancedFilter>,
    notes: Vec<String>,
    ttl_minutes: u64,
}

impl Subscription {
    /// The subscription `config`'s hooks need, delivered as `options` says.
    pub fn plan(config: &HooksConfig, options: Options) -> Result<Self, SubscriptionError> {
        if options.format == Format::Az {
            az_arguments_are_read_as_written(&options)?;
        }
        let plan = plan::plan(&config.hooks, options.format);
        if plan.kinds.is_empty() {
            return Err(SubscriptionError::NoHooks(config.file.clone()));
        }
        let ttl_minutes =
            (config.settings.dedupe_ttl.as_secs() / 60).clamp(1, MAX_EVENT_TTL_MINUTES);
        Ok(Self {
            file: config.file.clone(),
            options,
            kinds: plan.kinds,
            filters: plan.filters,
            notes: plan.notes,
            ttl_minutes,
        })
    }

    /// Whether Event Grid would deliver `event` to this subscription: its type is included and it
    /// passes every advanced filter, evaluated by the hooks' own filter code.
    pub fn admits(&self, event: &Event<MlEvent>) -> bool {
        if !self.kinds.contains(&event.kind()) {
            return false;
        }
        let view = EventView::new(event);
        self.filters.iter().all(|f| f.matches(&view))
    }

    /// The included event kinds, in [`EventKind::ML`] order.
    pub fn kinds(&self) -> &[EventKind] {
        &self.kinds
    }

    /// The advanced filters pushed into the subscription.
    pub fn filters(&self) -> &[AdvancedFilter] {
        &self.filters
    }

    /// The subscription in the asked format.
    pub fn render(&self) -> String {
        match self.options.format {
            Format::Az => az::render(self),
            Format::Bicep => bicep::render(self),
            Format::Arm => arm::render(self),
        }
    }

    /// The lines that explain the output, for a comment at its top.
    fn explanation(&self) -> Vec<String> {
        let format = match self.options.format {
            Format::Az => "az",
            Format::Bicep => "bicep",
            Format::Arm => "arm",
        };
        let mut lines = vec![format!(
            "The Event Grid subscription for {} (`handler subscription --format {format}`).",
            self.file
        )];
        lines.push(
            "Event types: the union of those the hooks can match; [hooks.when] stays in the handler."
                .to_owned(),
        );
        lines.extend(self.notes.iter().cloned());
        lines.push(format!(
            "Delivery: {}, at most {MAX_DELIVERY_ATTEMPTS} attempts within {} minutes (within the hooks' dedupe TTL, so a redelivery never repeats a hook that succeeded), then the dead-letter container.",
            schema_name(self.options.schema),
            self.ttl_minutes
        ));
        lines
    }
}

/// The endpoint and Entra ID settings reach az as written (see [`az::misread`]).
fn az_arguments_are_read_as_written(options: &Options) -> Result<(), SubscriptionError> {
    let mut arguments: Vec<(&'static str, &str)> = Vec::new();
    if let Endpoint::Webhook(url) = &options.endpoint {
        arguments.push(("--endpoint", url.as_str()));
    }
    if let Some((tenant, audience)) = &options.auth.entra {
        arguments.push(("the Entra ID tenant", tenant));
        arguments.push(("the Entra ID audience", audience));
    }
    for (name, text) in arguments {
        if let Some(why) = az::misread(text) {
            return Err(SubscriptionError::AzArgument(name, why));
        }
    }
    Ok(())
}

/// `lines` as a comment block: each line after `prefix` (`# `, `// `), wrapped at 100 columns with
/// continuation lines indented. A line break or other control character inside a line (a file name
/// can hold one) starts a new comment line, so no text can end the comment and become a command.
fn comment(lines: &[String], prefix: &str) -> String {
    const WIDTH: usize = 100;
    let breaks = |c: char| c.is_control() || c == '\u{2028}' || c == '\u{2029}';
    let mut out = String::new();
    for line in lines.iter().flat_map(|l| l.split(breaks)) {
        let mut current = prefix.to_owned();
        let mut words = 0;
        for word in line.split(' ') {
            if words > 0 && current.len() + 1 + word.len() > WIDTH {
                out.push_str(&current);
                out.push('\n');
                current = format!("{prefix}  ");
                words = 0;
            }
            if words > 0 {
                current.push(' ');
            }
            current.push_str(word);
            words += 1;
        }
        out.push_str(&current);
        out.push('\n');
    }
    out
}

/// The delivery schema as ARM names it.
fn schema_name(schema: Schema) -> &'static str {
    match schema {
        Schema::EventGrid => "EventGridSchema",
        Schema::CloudEvents => "CloudEventSchemaV1_0",
    }
}
