//! Azure ML workspace events: the model, its decoding and its writing back.
//!
//! [`Event<T>`] is the envelope of either schema over data `T`; [`MlEvent`] is the typed data of the
//! five Azure ML events plus the Event Grid system events and everything else. [`decode`] turns what a
//! door received ([`Body`]) into events. Decoding is lenient where Azure is inconsistent (casing,
//! number-or-string, nullable "required" fields) and strict where the input is simply wrong, and every
//! error names its JSON path.
//!
//! The modules depend one way: `model` (plain types) ← `decode` (bytes → model) and `encode`
//! (model → JSON in the arrival schema).

mod decode;
mod encode;
pub(crate) mod media_type;
mod model;
pub(crate) mod studio;

pub(crate) use decode::data_members;
pub use decode::{
    decode, decode_batch, split_batch, Body, BodyError, DecodeError, Decoded, EventData, JsonPath,
    TRIGGER_BINDING,
};
pub(crate) use model::format_time;
pub use model::monitor;
pub use model::{
    Completed, DatasetDriftDetected, Event, EventKind, FeatureBreach, MlEvent, ModelDeployed,
    ModelId, ModelRegistered, MonitorBreach, Run, RunCompleted, RunState, RunStatus,
    RunStatusChanged, Schema, Subject, SubscriptionDeleted, SubscriptionValidation, Workspace,
    BREACH_TAG,
};
/// The studio address that messages link to (`AML_EVENTS_STUDIO_URL`, in [`crate::settings::AzureSettings`]).
pub use studio::StudioBase;

// Media types live here because decoding needs them (CloudEvents' `datacontenttype`); the webhook
// door reads its request's `Content-Type` with the same helper. Not public API.
pub(crate) use media_type::media_type_essence;

/// Every event of every fixture under `tests/fixtures/` (not `bad/`), with the file it came from:
/// for unit tests that compare two ways of decoding on all of them.
#[cfg(test)]
pub(crate) fn fixture_events() -> Vec<(std::path::PathBuf, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut events = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("tests/fixtures") {
        let path = entry.expect("a directory entry").path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if let Ok(raws) = split_batch(&text) {
            events.extend(raws.into_iter().map(|raw| (path.clone(), raw.to_owned())));
        }
    }
    events
}
