//! Where an event's run, model or endpoint is in Azure ML studio: [`link`] and the addresses of
//! [`StudioBase`], for notifications (and any hook that wants to point a person at the workspace).
//!
//! The formats (`../shared/reference/acting-in-azure.md` section 3):
//! - workspace `{studio}/?wsid={workspace ARM id}` (v1 SDK `HasWorkspacePortal`, azureml-core `_portal.py`);
//! - run or job `{studio}/runs/{run id}?wsid=…` (v1 `HasRunPortal` `RUN_PATH`; v2 jobs are runs and
//!   their `services.Studio.endpoint` has the same form);
//! - online endpoint `{studio}/endpoints/realtime/{name}/detail?wsid=…` (promptflow `get_endpoint_url`,
//!   `microsoft/promptflow@ec25b932:src/promptflow-tools/promptflow/tools/open_model_llm.py`);
//! - model version `{studio}/model/{name}:{version}/details?wsid=…` (third-party usage only: inferred).
//!
//! `wsid` is the full ARM id with its `providers/Microsoft.MachineLearningServices` segment (the
//! promptflow form; the v1 SDK leaves it out, and both are accepted). The `tid` (tenant) parameter
//! is optional and left out: an event does not name its tenant. Names from the event are
//! percent-encoded, so an id cannot change the path or add a query parameter. The studio address is a
//! setting (`AML_EVENTS_STUDIO_URL`) for sovereign clouds, whose studios have other hosts.

use super::model::{Event, MlEvent, Subject, Workspace};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::fmt;
use std::str::FromStr;
use url::Url;

/// What a path segment or a query value keeps unencoded: RFC 3986's unreserved characters.
const ENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The address of Azure ML studio: `https://ml.azure.com` in Azure's public cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudioBase(Url);

/// Public Azure's studio.
pub const DEFAULT_STUDIO_URL: &str = "https://ml.azure.com";

impl Default for StudioBase {
    fn default() -> Self {
        Self(Url::parse(DEFAULT_STUDIO_URL).expect("the default studio address is a URL"))
    }
}

/// A studio address that is not an http(s) URL with a host and without query, fragment or user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an http(s) address with a host and without query, fragment or credentials: {0:?}")]
pub struct StudioUrlError(String);

impl FromStr for StudioBase {
    type Err = StudioUrlError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || StudioUrlError(text.to_owned());
        let mut url = Url::parse(text.trim()).map_err(|_| invalid())?;
        let acceptable = matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some()
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty()
            && url.password().is_none();
        if !acceptable {
            return Err(invalid());
        }
        let path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&path);
        Ok(Self(url))
    }
}

impl fmt::Display for StudioBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str().trim_end_matches('/'))
    }
}

/// A name from an event as one path segment: `None` for what cannot be one (empty, `.`, `..`, which
/// URL parsers resolve as relative segments even when percent-encoded).
fn segment(name: &str) -> Option<String> {
    let name = name.trim();
    match name {
        "" | "." | ".." => None,
        _ => Some(utf8_percent_encode(name, ENCODED).to_string()),
    }
}

impl StudioBase {
    /// The studio address.
    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// `{studio}{path}?wsid={workspace ARM id}`; `path` is already encoded.
    fn page(&self, workspace: &Workspace, path: &str) -> Url {
        let wsid: Vec<String> = workspace
            .id_segments()
            .iter()
            .map(|part| utf8_percent_encode(part, ENCODED).to_string())
            .collect();
        let mut url = self.0.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}{path}"));
        url.set_query(Some(&format!("wsid=/{}", wsid.join("/"))));
        url
    }

    /// The workspace's home page.
    pub fn workspace(&self, workspace: &Workspace) -> Url {
        self.page(workspace, "/")
    }

    /// A run (or a v2 job, by its name).
    pub fn run(&self, workspace: &Workspace, run_id: &str) -> Option<Url> {
        Some(self.page(workspace, &format!("/runs/{}", segment(run_id)?)))
    }

    /// A model version; without a version, the model's page of its latest version is not known, so
    /// `None`.
    pub fn model(&self, workspace: &Workspace, name: &str, version: &str) -> Option<Url> {
        let (name, version) = (segment(name)?, segment(version)?);
        Some(self.page(workspace, &format!("/model/{name}:{version}/details")))
    }

    /// An online (real-time) endpoint, or a web service deployed by the v1 SDK (studio lists both
    /// among the real-time endpoints).
    pub fn endpoint(&self, workspace: &Workspace, name: &str) -> Option<Url> {
        Some(self.page(
            workspace,
            &format!("/endpoints/realtime/{}/detail", segment(name)?),
        ))
    }
}

/// A link to studio for a notification: what it opens, in words, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudioLink {
    /// A button's or link's text, e.g. `Open run in Azure ML studio`.
    pub title: &'static str,
    /// The address.
    pub url: Url,
}

/// The studio page of what `event` is about: the run (run events, drift runs), the model version
/// (ModelRegistered), the endpoint (ModelDeployed), else the workspace; `None` for events that name
/// no Azure ML workspace.
pub fn link(base: &StudioBase, event: &Event<MlEvent>) -> Option<StudioLink> {
    let workspace = event.workspace()?;
    let specific = match &event.data {
        MlEvent::RunCompleted(run) => run_link(base, &workspace, run.run_id.as_deref(), event),
        MlEvent::RunStatusChanged(run) => run_link(base, &workspace, run.run_id.as_deref(), event),
        MlEvent::DatasetDriftDetected(drift) => {
            run_link(base, &workspace, drift.run_id.as_deref(), event)
        }
        MlEvent::ModelRegistered(model) => model
            .model_name
            .as_deref()
            .zip(model.model_version.as_deref())
            .and_then(|(name, version)| base.model(&workspace, name, version))
            .map(|url| StudioLink {
                title: "Open model in Azure ML studio",
                url,
            }),
        MlEvent::ModelDeployed(deployed) => deployed
            .service_name
            .as_deref()
            .and_then(|name| base.endpoint(&workspace, name))
            .map(|url| StudioLink {
                title: "Open endpoint in Azure ML studio",
                url,
            }),
        _ => return None,
    };
    Some(specific.unwrap_or_else(|| StudioLink {
        title: "Open workspace in Azure ML studio",
        url: base.workspace(&workspace),
    }))
}

/// The run's page: its id from the data, else from the subject (`experiments/{id}/runs/{run}`).
fn run_link(
    base: &StudioBase,
    workspace: &Workspace,
    run_id: Option<&str>,
    event: &Event<MlEvent>,
) -> Option<StudioLink> {
    let from_subject = || match event.parsed_subject() {
        Some(Subject::Run { run_id, .. } | Subject::DataDrift { run_id, .. }) => Some(run_id),
        _ => None,
    };
    let run_id = run_id
        .filter(|id| !id.trim().is_empty())
        .map(str::to_owned)
        .or_else(from_subject)?;
    base.run(workspace, &run_id).map(|url| StudioLink {
        title: "Open run in Azure ML studio",
        url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOPIC: &str = "/subscriptions/5f0a8e51-7c3b-4e2a-9d51-2b6f0c1d9e07/resourceGroups/ml-platform-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-ws";
    const WSID: &str = "wsid=/subscriptions/5f0a8e51-7c3b-4e2a-9d51-2b6f0c1d9e07/resourceGroups/ml-platform-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-ws";

    fn event(event_type: &str, subject: &str, data: serde_json::Value) -> Event<MlEvent> {
        let json = json!({"id": "1", "topic": TOPIC, "subject": subject,
            "eventType": format!("Microsoft.MachineLearningServices.{event_type}"), "data": data});
        Event::from_json(&json.to_string()).unwrap()
    }

    fn url_of(e: &Event<MlEvent>) -> String {
        link(&StudioBase::default(), e).unwrap().url.to_string()
    }

    #[test]
    fn each_kind_links_to_its_page() {
        let run = event(
            "RunStatusChanged",
            "experiments/e/runs/r",
            json!({"runId": "train_42"}),
        );
        assert_eq!(
            url_of(&run),
            format!("https://ml.azure.com/runs/train_42?{WSID}")
        );
        let model = event(
            "ModelRegistered",
            "models/m:3",
            json!({"modelName": "churn", "modelVersion": 3}),
        );
        assert_eq!(
            url_of(&model),
            format!("https://ml.azure.com/model/churn:3/details?{WSID}")
        );
        let deployed = event(
            "ModelDeployed",
            "endpoints/x",
            json!({"serviceName": "churn-prod"}),
        );
        assert_eq!(
            url_of(&deployed),
            format!("https://ml.azure.com/endpoints/realtime/churn-prod/detail?{WSID}")
        );
        let drift = event(
            "DatasetDriftDetected",
            "datadrift/d/run/r",
            json!({"runId": "drift_1"}),
        );
        assert_eq!(
            url_of(&drift),
            format!("https://ml.azure.com/runs/drift_1?{WSID}")
        );
    }

    #[test]
    fn a_missing_id_falls_back_to_the_subject_or_the_workspace() {
        let run = event("RunCompleted", "experiments/e/runs/from_subject", json!({}));
        assert_eq!(
            url_of(&run),
            format!("https://ml.azure.com/runs/from_subject?{WSID}")
        );
        let model = event("ModelRegistered", "models/m", json!({"modelName": "m"}));
        let l = link(&StudioBase::default(), &model).unwrap();
        assert_eq!(l.title, "Open workspace in Azure ML studio");
        assert_eq!(l.url.to_string(), format!("https://ml.azure.com/?{WSID}"));
        let other: Event<MlEvent> =
            Event::from_json(r#"{"id":"1","topic":"/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/a","eventType":"Microsoft.MachineLearningServices.RunCompleted","data":{"runId":"r"}}"#).unwrap();
        assert_eq!(link(&StudioBase::default(), &other), None);
    }

    #[test]
    fn names_from_the_event_are_encoded() {
        for (id, path) in [
            ("a/../b?x=1#f", "/runs/a%2F..%2Fb%3Fx%3D1%23f"),
            ("run id|<x>&y", "/runs/run%20id%7C%3Cx%3E%26y"),
            ("é", "/runs/%C3%A9"),
        ] {
            let run = event("RunCompleted", "s", json!({"runId": id}));
            let url = link(&StudioBase::default(), &run).unwrap().url;
            assert_eq!(url.path(), path, "{id}");
            assert_eq!(url.query_pairs().count(), 1, "{id}");
        }
        for id in ["..", "."] {
            let run = event("RunCompleted", "s", json!({"runId": id}));
            let l = link(&StudioBase::default(), &run).unwrap();
            assert_eq!(l.title, "Open workspace in Azure ML studio", "{id}");
        }
    }

    #[test]
    fn the_studio_address_is_a_setting_for_other_clouds() {
        let base: StudioBase = "https://studio.ml.azure.us/".parse().unwrap();
        assert_eq!(base.to_string(), "https://studio.ml.azure.us");
        let run = event("RunCompleted", "s", json!({"runId": "r"}));
        assert_eq!(
            link(&base, &run).unwrap().url.to_string(),
            format!("https://studio.ml.azure.us/runs/r?{WSID}")
        );
        let proxied: StudioBase = "http://127.0.0.1:8080/studio".parse().unwrap();
        assert_eq!(
            link(&proxied, &run).unwrap().url.to_string(),
            format!("http://127.0.0.1:8080/studio/runs/r?{WSID}")
        );
        for bad in [
            "ml.azure.com",
            "ftp://ml.azure.com",
            "https://ml.azure.com/?x=1",
            "https://u:p@ml.azure.com",
            "https://ml.azure.com/#f",
            "",
        ] {
            assert!(bad.parse::<StudioBase>().is_err(), "{bad}");
        }
        assert_eq!(StudioBase::default().to_string(), DEFAULT_STUDIO_URL);
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 512, failure_persistence: None, ..Default::default() })]

        /// Whatever a run id, model name or endpoint name holds (`..`, `/`, `?`, `#`, `%2e`,
        /// backslashes, unicode, controls), the link stays on studio's page for it: the same host,
        /// the page's fixed path with the name as one segment that decodes back to the name, and
        /// `wsid` as the only query parameter.
        #[test]
        fn hostile_names_stay_one_path_segment(name in proptest::string::string_regex(
            "([./\\\\?#%&=:@+ ]|%2[eEfF]|%5[cC]|\\.\\.|é|😀|\\u{0}|\\u{202e}|[a-z]){0,12}"
        ).unwrap()) {
            let checks = [
                ("RunCompleted", json!({"runId": name}), "/runs/", ""),
                ("ModelDeployed", json!({"serviceName": name}), "/endpoints/realtime/", "/detail"),
                ("ModelRegistered", json!({"modelName": name, "modelVersion": "1"}), "/model/", ":1/details"),
            ];
            for (kind, data, before, after) in checks {
                let e = event(kind, "s", data);
                let url = link(&StudioBase::default(), &e).unwrap().url;
                proptest::prop_assert_eq!(url.host_str(), Some("ml.azure.com"));
                proptest::prop_assert_eq!(url.query_pairs().count(), 1);
                proptest::prop_assert_eq!(url.query_pairs().next().unwrap().0, "wsid");
                proptest::prop_assert!(url.fragment().is_none());
                let reparsed = url::Url::parse(url.as_str()).unwrap();
                proptest::prop_assert_eq!(&reparsed, &url, "the link reads back as itself");
                let path = url.path();
                if path == "/" {
                    // The workspace: only for a name that cannot be a segment.
                    proptest::prop_assert!(matches!(name.trim(), "" | "." | ".."), "{}", name);
                    continue;
                }
                let segment = path.strip_prefix(before).and_then(|p| p.strip_suffix(after));
                let segment = segment.unwrap_or_else(|| panic!("{path} for {name:?}"));
                proptest::prop_assert!(!segment.contains('/'), "{}", path);
                let decoded = percent_encoding::percent_decode_str(segment).decode_utf8().unwrap();
                proptest::prop_assert_eq!(decoded, name.trim());
            }
        }
    }
}
