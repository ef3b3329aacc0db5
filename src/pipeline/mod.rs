//! The one path from a door's bytes to per-event results: decode, classify, dispatch.
//!
//! A door hands over a [`Body`] (its bytes plus the transport facts decoding needs) and turns the
//! [`Processed`] results into its own answer; the pipeline never knows which door called. It is the
//! only caller of the event decoder, and it classifies every event with one [`Disposition`]:
//! *handled* (a retryable hook failure means *retry*: answer 5xx so Event Grid redelivers; a permanent
//! one is answered as done, logged and poisoned), *ignored* (not an ML
//! event), *handshake* (an Event Grid subscription validation, which only the webhook door answers)
//! or *rejected* (undecodable: retrying cannot help).

pub use crate::event::{decode, Body, BodyError, Decoded, TRIGGER_BINDING};

use crate::event::{DecodeError, Event, MlEvent, SubscriptionValidation};
use crate::hooks::{Dispatcher, Outcome};
use crate::telemetry::bounded;
use futures_util::StreamExt;
use std::borrow::Cow;
use tokio::time::Instant;
use tracing::Instrument;

/// How many events of one batch are processed at the same time (Event Grid batches hold up to 5,000).
pub const BATCH_CONCURRENCY: usize = 32;

/// What happened to one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Disposition {
    /// The event was decoded and its hooks ran; [`Outcome::needs_retry`] means *retry*.
    Handled(Outcome),
    /// The event is valid but not one of ours (another event type, a subscription deletion).
    Ignored,
    /// An Event Grid subscription validation handshake: not dispatched; the webhook door echoes it.
    Handshake(SubscriptionValidation),
    /// The event cannot be decoded. Retrying would fail the same way.
    Rejected(DecodeError),
}

/// One event's result, with what a door needs to report it.
#[derive(Debug, Clone, PartialEq)]
pub struct Processed<'a> {
    /// The event's id, when it could be read.
    pub event_id: Option<String>,
    /// The event type, when it could be read.
    pub event_type: Option<String>,
    /// What happened.
    pub disposition: Disposition,
    /// The event's text, always there for a rejected event (for error logs and the poison binding).
    pub raw: Cow<'a, str>,
}

impl Processed<'_> {
    /// Whether a hook failed in a way a redelivery may cure, so the event must be redelivered.
    pub fn needs_retry(&self) -> bool {
        matches!(&self.disposition, Disposition::Handled(o) if o.needs_retry())
    }
}

/// Decoding and the hooks, shared by every door.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    dispatcher: Dispatcher,
}

impl Pipeline {
    /// A pipeline that runs `dispatcher`'s hooks.
    pub fn new(dispatcher: Dispatcher) -> Self {
        Self { dispatcher }
    }

    /// The hooks this pipeline runs.
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }

    /// Decodes `body` and runs the hooks of each event, at most [`BATCH_CONCURRENCY`] events at a
    /// time, all within one deadline (Event Grid waits 30 s for the whole answer, not per event).
    /// Results come in body order. `Err` means the body is unusable as a whole.
    pub async fn process<'a>(&self, body: Body<'a>) -> Result<Vec<Processed<'a>>, BodyError<'a>> {
        let decoded = decode(body)?;
        let deadline = Instant::now() + self.dispatcher.deadline();
        // Futures collected first: a lazy `map` closure here trips the compiler's Send inference.
        let pending: Vec<_> = decoded
            .into_iter()
            .map(|d| self.process_one(d, deadline))
            .collect();
        Ok(futures_util::stream::iter(pending)
            .buffered(BATCH_CONCURRENCY)
            .collect()
            .await)
    }

    async fn process_one<'a>(&self, decoded: Decoded<'a>, deadline: Instant) -> Processed<'a> {
        let Decoded { event, raw } = decoded;
        match event {
            Ok(event) => {
                // Bounded: the event's own text is in the error lines that need it.
                let span = tracing::info_span!(
                    "event",
                    event_id = &*bounded(&event.id),
                    event_type = &*bounded(&event.event_type)
                );
                let disposition = self.classify(&event, deadline).instrument(span).await;
                Processed {
                    event_id: Some(event.id),
                    event_type: Some(event.event_type),
                    disposition,
                    raw,
                }
            }
            Err(error) => Processed {
                event_id: None,
                event_type: None,
                disposition: Disposition::Rejected(error),
                raw,
            },
        }
    }

    async fn classify(&self, event: &Event<MlEvent>, deadline: Instant) -> Disposition {
        if let MlEvent::SubscriptionValidation(validation) = &event.data {
            return Disposition::Handshake(validation.clone());
        }
        if !event.kind().is_ml() {
            tracing::debug!("not an Azure ML event; ignored");
            return Disposition::Ignored;
        }
        Disposition::Handled(self.dispatcher.dispatch_until(event, deadline).await)
    }
}
