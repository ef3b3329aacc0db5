//! The core every door calls: decode an event, run the hooks, classify the result.
//!
//! Doors hand the core raw event text and turn the [`Disposition`] into their own answer; the core
//! never knows which door called it. The three dispositions are the error classes of the whole
//! service: *handled* (possibly with hook failures, which mean *retry*), *ignored* (not for us) and
//! *rejected* (cannot be decoded; retrying would not help).

use crate::event::{split_batch, DecodeError, Event, JsonPath, MlEvent};
use crate::hooks::{Dispatcher, Outcome};
use futures_util::StreamExt;
use tracing::Instrument;

/// How many events of one batch are processed at the same time (Event Grid batches hold up to 5,000).
pub const BATCH_CONCURRENCY: usize = 32;

/// What happened to one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Disposition {
    /// The event was decoded and its hooks ran; `outcome.failures` non-empty means *retry*.
    Handled(Outcome),
    /// The event is valid but not one of ours (another event type, an Event Grid system event).
    Ignored,
    /// The event cannot be decoded. Retrying would fail the same way.
    Rejected(DecodeError),
}

/// One event's result, with what a door needs to report it.
#[derive(Debug, Clone, PartialEq)]
pub struct Processed {
    /// The event's id, when it could be read.
    pub event_id: Option<String>,
    /// The event type, when it could be read.
    pub event_type: Option<String>,
    /// What happened.
    pub disposition: Disposition,
}

impl Processed {
    /// Whether a hook failed, so the event must be redelivered.
    pub fn needs_retry(&self) -> bool {
        matches!(&self.disposition, Disposition::Handled(o) if !o.failures.is_empty())
    }
}

/// The decode-and-dispatch core shared by every door.
#[derive(Debug, Clone, Default)]
pub struct Core {
    dispatcher: Dispatcher,
}

impl Core {
    /// A core that runs `dispatcher`'s hooks.
    pub fn new(dispatcher: Dispatcher) -> Self {
        Self { dispatcher }
    }

    /// The hooks this core runs.
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }

    /// Decodes one event from its JSON text and runs the hooks that want it.
    pub async fn process_event(&self, raw: &str) -> Processed {
        let deadline = tokio::time::Instant::now() + self.dispatcher.deadline();
        self.process_event_until(raw, deadline).await
    }

    /// [`Core::process_event`] with the request's absolute deadline.
    pub async fn process_event_until(
        &self,
        raw: &str,
        deadline: tokio::time::Instant,
    ) -> Processed {
        match Event::from_json(raw) {
            Ok(event) => self.process_decoded_until(event, deadline).await,
            Err(error) => Processed {
                event_id: None,
                event_type: None,
                disposition: Disposition::Rejected(error),
            },
        }
    }

    /// Runs the hooks for an event a door has already decoded (the Functions door decodes the usual
    /// invocation in one pass, [`crate::event::EventSeed`]).
    pub async fn process_decoded_until(
        &self,
        event: Event<MlEvent>,
        deadline: tokio::time::Instant,
    ) -> Processed {
        let span = tracing::info_span!(
            "event",
            event_id = event.id.as_str(),
            event_type = event.event_type.as_str()
        );
        let disposition = async {
            if !event.kind().is_ml() {
                tracing::debug!("not an Azure ML event; ignored");
                Disposition::Ignored
            } else {
                Disposition::Handled(self.dispatcher.dispatch_until(&event, deadline).await)
            }
        }
        .instrument(span)
        .await;
        Processed {
            event_id: Some(event.id),
            event_type: Some(event.event_type),
            disposition,
        }
    }

    /// Processes a body holding one event or an array of events, at most [`BATCH_CONCURRENCY`] at a
    /// time, results in body order. The outer `Err` means the body is unusable as a whole. Rejected
    /// events carry paths from the body's root; each result comes with its event's text.
    pub async fn process_body<'b>(
        &self,
        body: &'b str,
    ) -> Result<Vec<(Processed, &'b str)>, DecodeError> {
        let raws = split_batch(body)?;
        let is_array = body.trim_start().starts_with('[');
        // Futures collected first: a lazy `map` closure here trips the compiler's Send inference.
        // One deadline for the whole request: Event Grid waits 30 s for the answer, not per event.
        let deadline = tokio::time::Instant::now() + self.dispatcher.deadline();
        let pending: Vec<_> = raws
            .iter()
            .map(|raw| self.process_event_until(raw, deadline))
            .collect();
        let results: Vec<Processed> = futures_util::stream::iter(pending)
            .buffered(BATCH_CONCURRENCY)
            .collect()
            .await;
        Ok(results
            .into_iter()
            .zip(raws)
            .enumerate()
            .map(|(i, (mut processed, raw))| {
                if let (true, Disposition::Rejected(error)) = (is_array, &mut processed.disposition)
                {
                    *error = error.clone().within(&JsonPath::root().index(i));
                }
                (processed, raw)
            })
            .collect())
    }
}
