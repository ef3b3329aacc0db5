//! # aml-events
//!
//! React to Azure Machine Learning workspace events (`ModelRegistered`, `ModelDeployed`, `RunCompleted`,
//! `RunStatusChanged`, `DatasetDriftDetected`) delivered by Azure Event Grid, as an Azure Functions
//! custom handler. The [`app`] is assembled from typed [`settings`] (the only reader of the
//! environment). A request arrives at a *door* ([`door`]): the Functions host's invocation, an Event
//! Grid webhook delivery, or (feature `lambda`) a Lambda function URL call. The door only turns its
//! transport into bytes and facts; the [`pipeline`] decodes them ([`event`]: Event Grid schema or
//! CloudEvents 1.0 over typed data, lenient where Azure is inconsistent) and runs the [`hooks`] that
//! want each event.
//!
//! The pipeline classifies every event as *handled* (hook failures that may succeed on retry answer
//! 5xx so Event Grid redelivers), *ignored* (not an ML event), *handshake* (a subscription validation)
//! or *rejected* (undecodable: retrying cannot help), and each door maps those to its protocol's
//! answers in one place. Nothing in the pipeline knows which door called.
//!
//! ```
//! use aml_events::event::{Event, MlEvent};
//! let text = aml_events::samples::sample(
//!     aml_events::event::EventKind::ModelDeployed,
//!     aml_events::event::Schema::CloudEvents,
//! ).unwrap();
//! let events = aml_events::event::decode_batch::<MlEvent>(text)?;
//! let event: &Event<MlEvent> = events[0].as_ref().unwrap();
//! let MlEvent::ModelDeployed(deployed) = &event.data else { unreachable!() };
//! assert_eq!(deployed.model_ids().len(), 2);
//! # Ok::<(), aml_events::event::DecodeError>(())
//! ```
#![deny(missing_docs, rust_2018_idioms)]

pub mod allocator;
pub mod app;
pub mod cli;
pub mod door;
pub mod event;
pub mod hooks;
pub(crate) mod identity;
// The static musl build's `memcpy` and `memmove` (its own module docs say why); the tests check it
// on every target.
#[cfg(any(test, all(target_env = "musl", target_arch = "x86_64")))]
mod memcpy;
pub mod pipeline;
pub mod samples;
pub mod server;
pub mod settings;
pub mod subscription;
pub mod telemetry;
