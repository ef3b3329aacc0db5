//! The event model: the envelope [`Event<T>`] of either schema, [`Schema`], [`EventKind`], and the
//! typed data ([`MlEvent`] and its structs). Plain data: nothing here reads or writes JSON text except
//! through serde's derives; decoding lives in `super::decode`, the envelope's writer in
//! `super::encode`.

mod envelope;
mod facts;
mod kind;
mod ml;
mod models;
pub mod monitor;
mod resource;
mod run;
mod system;
mod time;

pub use envelope::{Event, Schema};
pub use kind::EventKind;
pub use ml::MlEvent;
pub(crate) use ml::{for_kind, KindFn, MlData};
pub use models::{DatasetDriftDetected, ModelDeployed, ModelId, ModelRegistered};
pub use monitor::{FeatureBreach, MonitorBreach, BREACH_TAG};
pub use resource::{Subject, Workspace};
pub use run::{Completed, Run, RunCompleted, RunState, RunStatus, RunStatusChanged};
pub use system::{SubscriptionDeleted, SubscriptionValidation};
pub(crate) use time::format_time;
