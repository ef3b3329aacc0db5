//! The `aml_job` action: an Azure ML job created through Azure Resource Manager,
//! `PUT {ARM}/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.MachineLearningServices/workspaces/{w}/jobs/{name}?api-version=…`
//! (reference §2a), at most once per (event, hook).
//!
//! The job's name comes from the event and the hook ([`super::job_name`]), so whichever process
//! sees the event asks for the same job: before the PUT a GET of that name that finds the job means
//! it was submitted already (done, no PUT); a PUT refused with a 4xx is checked with a GET, and a
//! job found then was created by a racing delivery (done too). The PUT itself is create-or-update,
//! so a retry after a lost answer meets its own job.

use super::{answer_link, built_link, describe_refusal, refused_identity};
use crate::event::{Event, MlEvent, Workspace};
use crate::hooks::action::{json_headers, ConfiguredHook};
use crate::hooks::delivery::{deliver, DeliveryError, Outgoing};
use crate::hooks::{Effect, HookContext, HookError};
use crate::settings::AzureSettings;
use reqwest::{Method, StatusCode, Url};
use serde_json::{Map, Value};

/// The role `aml_job`'s identity needs, for the 401/403 message and README.
pub(crate) const JOB_ROLE: &str = "a role on the workspace that allows \
    Microsoft.MachineLearningServices/workspaces/jobs/read and /jobs/write, such as \
    \"AzureML Data Scientist\" (or Contributor)";

/// The api-version used when the hook names none. Resource Manager's newest stable version is
/// 2026-07-01 (reference §2a); 2025-12-01 is the one before it: a year old, so served in every region
/// and in the sovereign clouds, which take new versions later, and it has every field a job body
/// uses (the same `jobType`, `tags`, `services` as 2024-10-01). `api_version` on the hook picks another.
pub(crate) const DEFAULT_API_VERSION: &str = "2025-12-01";

/// Which workspace the job is created in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JobWorkspace {
    /// The workspace the event came from (its `topic` or `source`).
    Event,
    /// A fixed workspace.
    Fixed(Workspace),
}

/// A configured `aml_job` hook.
#[derive(Debug, Clone)]
pub(crate) struct AmlJob {
    /// Template name of the job body (the file named by `job`).
    pub(crate) template: String,
    /// Where the job goes.
    pub(crate) workspace: JobWorkspace,
    /// Resource Manager's api-version.
    pub(crate) api_version: String,
}

/// One job request, ready to send.
pub(crate) struct JobRequest {
    /// The job's name.
    pub(crate) name: String,
    /// The workspace.
    pub(crate) workspace: Workspace,
    /// `…/jobs/{name}?api-version=…`
    pub(crate) url: Url,
    /// The body, tags merged in.
    pub(crate) body: Value,
}

/// How the job came to exist.
enum Submitted {
    /// This delivery created it (201) or updated its own (200, a retried PUT).
    Now(StatusCode),
    /// The GET before the PUT found it.
    Before,
    /// The PUT was refused and the GET after it found it: a racing delivery created it.
    Concurrently,
}

impl AmlJob {
    /// The request `hook` makes for `event`.
    pub(crate) fn request(
        &self,
        hook: &ConfiguredHook,
        event: &Event<MlEvent>,
    ) -> Result<JobRequest, HookError> {
        let workspace = match &self.workspace {
            JobWorkspace::Fixed(workspace) => workspace.clone(),
            JobWorkspace::Event => event.workspace().ok_or_else(|| {
                hook.fail_permanently(
                    "the event names no Azure ML workspace (its topic or source is not a workspace \
                     resource id); set `workspace` to a workspace resource id",
                )
            })?,
        };
        let name = super::job_name(event.source.as_deref().unwrap_or(""), &event.id, &hook.name);
        let url = job_url(&hook.azure, &workspace, &name, &self.api_version);
        let body = self.body(hook, event)?;
        Ok(JobRequest {
            name,
            workspace,
            url,
            body,
        })
    }

    /// The rendered job body with the handler's tags in `properties.tags`.
    fn body(&self, hook: &ConfiguredHook, event: &Event<MlEvent>) -> Result<Value, HookError> {
        let text = hook
            .shared
            .templates
            .render(&self.template, event)
            .map_err(|e| hook.fail_permanently(format!("job template: {e}")))?;
        let mut body: Value = serde_json::from_str(&text).map_err(|e| {
            hook.fail_permanently(format!("the job template did not produce JSON: {e}"))
        })?;
        let Some(properties) = body.get_mut("properties").and_then(Value::as_object_mut) else {
            return Err(hook.fail_permanently(
                "the job template must produce an object with a `properties` object (the job)",
            ));
        };
        let tags = properties
            .entry("tags")
            .or_insert_with(|| Value::Object(Map::new()));
        let Some(tags) = tags.as_object_mut() else {
            return Err(
                hook.fail_permanently("`properties.tags` of the job template must be an object")
            );
        };
        for (key, value) in trigger_tags(&hook.name, event) {
            tags.insert(key.to_owned(), Value::String(value));
        }
        Ok(body)
    }

    /// Creates the job for `event` unless it exists; the effect names it and its studio link.
    pub(crate) async fn run(
        &self,
        hook: &ConfiguredHook,
        event: &Event<MlEvent>,
        ctx: &HookContext,
    ) -> Result<Effect, HookError> {
        let job = self.request(hook, event)?;
        let get = Outgoing {
            method: Method::GET,
            url: job.url.clone(),
            headers: reqwest::header::HeaderMap::new(),
            body: Vec::new(),
            read_answer: true,
        };
        if let Some(found) = find(hook, &get, ctx).await? {
            return Ok(effect(hook, &job, Submitted::Before, &found));
        }
        let put = Outgoing {
            method: Method::PUT,
            headers: json_headers(),
            body: serde_json::to_vec(&job.body).unwrap_or_default(),
            ..get.clone()
        };
        let refused = match deliver(&hook.with_token()?, &put, hook.policy, ctx.deadline).await {
            Ok(done) => {
                let answer = serde_json::from_slice(&done.body).unwrap_or(Value::Null);
                return Ok(effect(hook, &job, Submitted::Now(done.status), &answer));
            }
            Err(e) => refusal_of(hook, e)?,
        };
        // Refused: when the job exists now, a racing delivery made it (reference §2a: the status of a
        // conflicting re-PUT is not documented, so any 4xx is checked).
        match find(hook, &get, ctx).await? {
            Some(found) => Ok(effect(hook, &job, Submitted::Concurrently, &found)),
            None => Err(hook.fail_permanently(format!(
                "Resource Manager refused job {} ({}): {}",
                job.name,
                refused.0,
                describe_refusal(&refused.1)
            ))),
        }
    }
}

/// A PUT's failure: a refusal to check (status and body), or the hook's error.
fn refusal_of(
    hook: &ConfiguredHook,
    error: DeliveryError,
) -> Result<(StatusCode, Vec<u8>), HookError> {
    match error.refusal() {
        Some((status @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN), body)) => Err(
            refused_identity(hook, "Resource Manager", status, body, JOB_ROLE),
        ),
        Some((status, body)) => Ok((status, body.to_vec())),
        None => Err(hook.fail_as(&error, format!("Resource Manager: {error}"))),
    }
}

/// GETs the job: `Some(resource)` when it exists, `None` on 404.
async fn find(
    hook: &ConfiguredHook,
    get: &Outgoing,
    ctx: &HookContext,
) -> Result<Option<Value>, HookError> {
    match deliver(&hook.with_token()?, get, hook.policy, ctx.deadline).await {
        Ok(done) => Ok(Some(
            serde_json::from_slice(&done.body).unwrap_or(Value::Null),
        )),
        Err(e) => match e.refusal() {
            Some((StatusCode::NOT_FOUND, _)) => Ok(None),
            Some((status @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN), body)) => Err(
                refused_identity(hook, "Resource Manager", status, body, JOB_ROLE),
            ),
            Some((status, body)) => Err(hook.fail_permanently(format!(
                "Resource Manager refused reading the job ({status}): {}",
                describe_refusal(body)
            ))),
            None => Err(hook.fail_as(&e, format!("Resource Manager: {e}"))),
        },
    }
}

/// The effect of a job that exists: a line naming it, its status and studio link, also logged with
/// them as fields. That line is logged here, at info, under every door: the dispatcher's copy of a
/// hook's line is only at debug under the Functions host (it is in `Logs`), and a job started in
/// Azure is worth a structured record of its own wherever the logs go.
fn effect(hook: &ConfiguredHook, job: &JobRequest, how: Submitted, answer: &Value) -> Effect {
    let link = answer_link(answer)
        .unwrap_or_else(|| built_link(&hook.azure.studio_url, &job.workspace, &job.name));
    let status = answer
        .pointer("/properties/status")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let what = match how {
        Submitted::Now(code) => format!("submitted ({code})"),
        Submitted::Before => "already submitted; not submitted again".to_owned(),
        Submitted::Concurrently => {
            "submitted by a concurrent delivery of this event; not submitted again".to_owned()
        }
    };
    let line = hook.shared.secrets.redact(&format!(
        "hook {}: Azure ML job {} in workspace {} {what}, status {status}: {link}",
        hook.name, job.name, job.workspace.workspace
    ));
    tracing::info!(
        hook = hook.name.as_str(),
        job = job.name.as_str(),
        workspace = job.workspace.workspace.as_str(),
        status,
        studio_url = link.as_str(),
        "Azure ML job {what}"
    );
    Effect::log(line)
}

/// `…/workspaces/{w}/jobs/{name}?api-version=…` under Resource Manager's address.
pub(crate) fn job_url(
    azure: &AzureSettings,
    workspace: &Workspace,
    name: &str,
    api_version: &str,
) -> Url {
    let mut url = azure.arm_endpoint.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments
            .pop_if_empty()
            .extend(workspace.id_segments())
            .extend(["jobs", name]);
    }
    url.query_pairs_mut()
        .append_pair("api-version", api_version);
    url
}

/// The tags that trace a job back to its event: `aml_events.event_id`, `.event_type`, `.hook`, and
/// the triggering run (`.run_id`) or model (`.model`, `name:version`; `.models` for a deployment).
pub(crate) fn trigger_tags(hook: &str, event: &Event<MlEvent>) -> Vec<(&'static str, String)> {
    let mut tags = vec![
        ("aml_events.event_id", event.id.clone()),
        ("aml_events.event_type", event.event_type.clone()),
        ("aml_events.hook", hook.to_owned()),
    ];
    let run_id = match &event.data {
        MlEvent::RunCompleted(run) => run.run_id.clone(),
        MlEvent::RunStatusChanged(run) => run.run_id.clone(),
        MlEvent::DatasetDriftDetected(drift) => drift.run_id.clone(),
        _ => None,
    };
    if let Some(run_id) = run_id {
        tags.push(("aml_events.run_id", run_id));
    }
    match &event.data {
        MlEvent::ModelRegistered(model) => {
            if let Some(name) = &model.model_name {
                let id = match &model.model_version {
                    Some(version) => format!("{name}:{version}"),
                    None => name.clone(),
                };
                tags.push(("aml_events.model", id));
            }
        }
        MlEvent::ModelDeployed(deployed) => {
            if let Some(ids) = deployed.model_ids.as_ref().filter(|ids| !ids.is_empty()) {
                tags.push(("aml_events.models", ids.clone()));
            }
        }
        _ => {}
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_url_is_resource_managers() {
        let workspace = Workspace {
            subscription: "8f1c".into(),
            resource_group: "ml rg".into(),
            workspace: "ml-ws".into(),
        };
        let url = job_url(&AzureSettings::default(), &workspace, "j-1", "2025-12-01");
        assert_eq!(
            url.as_str(),
            "https://management.azure.com/subscriptions/8f1c/resourceGroups/ml%20rg/providers/Microsoft.MachineLearningServices/workspaces/ml-ws/jobs/j-1?api-version=2025-12-01"
        );
    }

    /// The first hook of a file whose `jobs/job.json` is `template`.
    fn hook_with_template(template: &str) -> ConfiguredHook {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("jobs")).unwrap();
        std::fs::write(dir.path().join("jobs/job.json"), template).unwrap();
        let text = "[[hooks]]\nname = \"retrain\"\nevents = [\"ModelRegistered\"]\naction = \"aml_job\"\njob = \"jobs/job.json\"\nauth = { type = \"managed_identity\" }\n";
        let file = dir.path().join("hooks.toml");
        let config =
            crate::hooks::config::HooksConfig::parse(text, file.to_str().unwrap(), &|_| None)
                .unwrap();
        config.hooks[0].clone()
    }

    fn registered() -> Event<MlEvent> {
        Event::from_json(
            r#"{"id":"e1","topic":"/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w","eventType":"Microsoft.MachineLearningServices.ModelRegistered","data":{"modelName":"churn","modelVersion":"3"}}"#,
        )
        .unwrap()
    }

    #[test]
    fn the_templates_tags_are_kept_and_the_handlers_win_on_their_own_keys() {
        let hook = hook_with_template(
            r#"{"properties": {"jobType": "Command", "tags": {"team": "churn", "aml_events.hook": "forged"}}}"#,
        );
        let (preview, request) = hook.prepare(&registered()).unwrap();
        let tags = &preview.payload["properties"]["tags"];
        assert_eq!(tags["team"], "churn");
        assert_eq!(tags["aml_events.hook"], "retrain");
        assert_eq!(tags["aml_events.model"], "churn:3");
        let request = request.unwrap();
        assert_eq!(request.method, Method::PUT);
        assert!(
            request.url.path().ends_with(&format!(
                "/workspaces/w/jobs/{}",
                crate::hooks::action::job_name(
                    "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w",
                    "e1",
                    "retrain"
                )
            )),
            "{}",
            request.url
        );
        // No tags in the template: the handler's alone.
        let hook = hook_with_template(r#"{"properties": {"jobType": "Command"}}"#);
        let (preview, _) = hook.prepare(&registered()).unwrap();
        assert_eq!(
            preview.payload["properties"]["tags"]["aml_events.event_id"],
            "e1"
        );
    }

    #[test]
    fn a_body_that_is_not_a_job_fails_permanently() {
        for (template, expected) in [
            (
                r#"{"jobType": "Command"}"#,
                "must produce an object with a `properties` object",
            ),
            (
                r#"{"properties": {"tags": ["x"]}}"#,
                "`properties.tags` of the job template must be an object",
            ),
            (
                r#"{"properties": {}"#,
                "the job template did not produce JSON",
            ),
        ] {
            let err = hook_with_template(template)
                .prepare(&registered())
                .unwrap_err();
            assert!(err.permanent, "{template}");
            assert!(err.message.contains(expected), "{}", err.message);
        }
        // An event from no workspace, with `workspace = "event"`.
        let event = Event::from_json(
            r#"{"id":"e1","eventType":"Microsoft.MachineLearningServices.ModelRegistered","data":{}}"#,
        )
        .unwrap();
        let err = hook_with_template(r#"{"properties": {}}"#)
            .prepare(&event)
            .unwrap_err();
        assert!(
            err.permanent && err.message.contains("names no Azure ML workspace"),
            "{}",
            err.message
        );
    }

    #[test]
    fn tags_name_the_event_the_hook_and_the_trigger() {
        let event = Event::from_json(
            r#"{"id":"e1","eventType":"Microsoft.MachineLearningServices.ModelRegistered","data":{"modelName":"churn","modelVersion":"3"}}"#,
        )
        .unwrap();
        assert_eq!(
            trigger_tags("h", &event),
            vec![
                ("aml_events.event_id", "e1".to_owned()),
                (
                    "aml_events.event_type",
                    "Microsoft.MachineLearningServices.ModelRegistered".to_owned()
                ),
                ("aml_events.hook", "h".to_owned()),
                ("aml_events.model", "churn:3".to_owned()),
            ]
        );
    }
}
