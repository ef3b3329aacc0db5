//! Helpers that read Azure resource ids and ML subjects.

use serde::Serialize;
use std::fmt;

/// The Azure ML workspace an event came from, read from `topic` (Event Grid) or `source` (CloudEvents):
/// `/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.MachineLearningServices/workspaces/{workspace}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workspace {
    /// The Azure subscription id.
    pub subscription: String,
    /// The resource group name.
    pub resource_group: String,
    /// The workspace name.
    pub workspace: String,
}

impl Workspace {
    /// The path segments of the workspace's resource id, in order, unencoded:
    /// `subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.MachineLearningServices/workspaces/{w}`.
    /// Resource Manager URLs and studio's `wsid` are both built from them.
    pub fn id_segments(&self) -> [&str; 8] {
        [
            "subscriptions",
            &self.subscription,
            "resourceGroups",
            &self.resource_group,
            "providers",
            "Microsoft.MachineLearningServices",
            "workspaces",
            &self.workspace,
        ]
    }

    /// Parses a workspace resource id; segment names match case-insensitively, as ARM does.
    /// Returns `None` for anything that is not an ML workspace id.
    pub fn parse(resource_id: &str) -> Option<Self> {
        let [subscription, resource_group, workspace] = Self::segments(resource_id)?;
        Some(Self {
            subscription: subscription.to_owned(),
            resource_group: resource_group.to_owned(),
            workspace: workspace.to_owned(),
        })
    }

    /// Only the workspace name of a workspace resource id, borrowed: what a log line prints, without
    /// building the whole [`Workspace`].
    pub fn name_of(resource_id: &str) -> Option<&str> {
        Self::segments(resource_id).map(|[_, _, workspace]| workspace)
    }

    /// Subscription, resource group and workspace name, in that order.
    fn segments(resource_id: &str) -> Option<[&str; 3]> {
        let mut parts = Slashed::new(resource_id);
        let mut subscription = None;
        let mut resource_group = None;
        let mut workspace = None;
        let mut provider_ok = false;
        while let (Some(key), Some(value)) = (parts.next(), parts.next()) {
            if key.eq_ignore_ascii_case("subscriptions") {
                subscription = Some(value);
            } else if key.eq_ignore_ascii_case("resourceGroups") {
                resource_group = Some(value);
            } else if key.eq_ignore_ascii_case("providers") {
                provider_ok = value.eq_ignore_ascii_case("Microsoft.MachineLearningServices");
            } else if key.eq_ignore_ascii_case("workspaces") && provider_ok {
                workspace = Some(value);
            }
        }
        match (subscription, resource_group, workspace) {
            (Some(s), Some(g), Some(w)) if !s.is_empty() && !g.is_empty() && !w.is_empty() => {
                Some([s, g, w])
            }
            _ => None,
        }
    }
}

/// `resource_id.trim_matches('/').split('/')`, by a byte scan: `str::split('/')` searches each piece
/// with `memchr`, about 1,500 instructions for a workspace id, and this runs in every event's summary
/// line; the scan takes about a third of that (`scripts/instructions-per-request.py`).
struct Slashed<'a>(Option<&'a str>);

impl<'a> Slashed<'a> {
    fn new(resource_id: &'a str) -> Self {
        let b = resource_id.as_bytes();
        let start = b.iter().position(|&c| c != b'/').unwrap_or(b.len());
        let end = b.iter().rposition(|&c| c != b'/').map_or(start, |i| i + 1);
        // `/` is ASCII, so the bytes next to it are char boundaries.
        Self(Some(&resource_id[start..end]))
    }
}

impl<'a> Iterator for Slashed<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.0?;
        match rest.bytes().position(|c| c == b'/') {
            Some(i) => {
                self.0 = Some(&rest[i + 1..]);
                Some(&rest[..i])
            }
            None => {
                self.0 = None;
                Some(rest)
            }
        }
    }
}

impl fmt::Display for Workspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.workspace)
    }
}

/// What an ML event's `subject` names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    /// `models/{name}:{version}`
    Model {
        /// The model name.
        name: String,
        /// The model version, when the subject has one.
        version: Option<String>,
    },
    /// `endpoints/{name}`
    Endpoint {
        /// The endpoint (service) name.
        name: String,
    },
    /// `experiments/{experiment_id}/runs/{run_id}`
    Run {
        /// The experiment id.
        experiment_id: String,
        /// The run id.
        run_id: String,
    },
    /// `datadrift/{drift_id}/run/{run_id}` (how-to docs) or `datadrifts/{drift_id}/runs/{run_id}` (schema docs).
    DataDrift {
        /// The drift monitor id.
        drift_id: String,
        /// The run id.
        run_id: String,
    },
    /// Any other subject, as sent.
    Other {
        /// The subject text.
        subject: String,
    },
}

impl Subject {
    /// Parses a subject; anything unrecognised is [`Subject::Other`].
    pub fn parse(subject: &str) -> Self {
        let parts: Vec<&str> = subject.split('/').collect();
        let nonempty = |s: &&str| !s.is_empty();
        match parts.as_slice() {
            ["models", id] if nonempty(id) => {
                let id = super::models::ModelId::parse(id);
                Subject::Model {
                    name: id.name,
                    version: id.version,
                }
            }
            ["endpoints", name] if nonempty(name) => Subject::Endpoint {
                name: (*name).to_owned(),
            },
            ["experiments", experiment, "runs", run] if nonempty(experiment) && nonempty(run) => {
                Subject::Run {
                    experiment_id: (*experiment).to_owned(),
                    run_id: (*run).to_owned(),
                }
            }
            ["datadrift" | "datadrifts", drift, "run" | "runs", run]
                if nonempty(drift) && nonempty(run) =>
            {
                Subject::DataDrift {
                    drift_id: (*drift).to_owned(),
                    run_id: (*run).to_owned(),
                }
            }
            _ => Subject::Other {
                subject: subject.to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "/subscriptions/8f1c2b2e-1111-2222-3333-444455556666/resourceGroups/ml-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-ws";

    #[test]
    fn slashed_splits_as_trim_and_split_do() {
        for id in [
            "",
            "/",
            "//",
            "a",
            "/a/",
            "//a//b//",
            "a/b/c",
            "/subscriptions//resourceGroups/g",
            "é/ü/",
        ] {
            let expected: Vec<&str> = id.trim_matches('/').split('/').collect();
            assert_eq!(Slashed::new(id).collect::<Vec<_>>(), expected, "{id:?}");
        }
    }

    #[test]
    fn workspace_is_read_from_a_resource_id() {
        let ws = Workspace::parse(TOPIC).unwrap();
        assert_eq!(ws.subscription, "8f1c2b2e-1111-2222-3333-444455556666");
        assert_eq!(ws.resource_group, "ml-rg");
        assert_eq!(ws.workspace, "ml-ws");
        assert_eq!(
            Workspace::parse(&TOPIC.to_lowercase()).unwrap().workspace,
            "ml-ws"
        );
    }

    #[test]
    fn non_workspace_ids_are_none() {
        assert_eq!(
            Workspace::parse(
                "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/a"
            ),
            None
        );
        assert_eq!(Workspace::parse("models/x:1"), None);
        assert_eq!(Workspace::parse(""), None);
    }

    #[test]
    fn subjects_are_parsed() {
        assert_eq!(
            Subject::parse("models/sklearn_regression_model:20"),
            Subject::Model {
                name: "sklearn_regression_model".into(),
                version: Some("20".into())
            }
        );
        assert_eq!(
            Subject::parse("endpoints/my-svc"),
            Subject::Endpoint {
                name: "my-svc".into()
            }
        );
        assert_eq!(
            Subject::parse("experiments/0fa9/runs/AutoML_5"),
            Subject::Run {
                experiment_id: "0fa9".into(),
                run_id: "AutoML_5".into()
            }
        );
        assert_eq!(
            Subject::parse("datadrift/d1/run/r1"),
            Subject::DataDrift {
                drift_id: "d1".into(),
                run_id: "r1".into()
            }
        );
        assert_eq!(
            Subject::parse("endpoints/"),
            Subject::Other {
                subject: "endpoints/".into()
            }
        );
        assert_eq!(Subject::parse(""), Subject::Other { subject: "".into() });
    }
}
