//! The Azure ML actions: `aml_job` creates a job through Azure Resource Manager ([`AmlJob`]) and
//! `aml_batch_endpoint` starts a batch endpoint job on the Azure ML data plane ([`BatchEndpoint`]).
//!
//! What they share lives here: reading Azure's error bodies and the studio links of its answers, and
//! the words for a refused identity. The cloud's addresses are the settings'
//! ([`crate::settings::AzureSettings`]). Their token
//! comes from the hook's `auth` (`crate::identity`), on every attempt (`hooks::bearer`). Protocols: `../shared/reference/acting-in-azure.md` §2a, §2b, §3.

mod batch;
mod job;
mod name;

pub(crate) use batch::BatchEndpoint;
pub(crate) use job::{AmlJob, JobWorkspace, DEFAULT_API_VERSION};
pub use name::job_name;

use crate::event::studio::StudioBase;
use crate::event::Workspace;
use crate::hooks::action::ConfiguredHook;
use crate::hooks::HookError;
use crate::telemetry::cut;
use reqwest::StatusCode;
use serde_json::Value;

/// The most of an error message from Azure that a log line or error keeps.
const MESSAGE_LIMIT: usize = 512;

/// Azure's explanation of a refusal: `code: message` from `{"error": {"code", "message"}}` (Resource
/// Manager's error shape, also the data plane's), else the start of the body, else nothing.
pub(crate) fn describe_refusal(body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let field = |name: &str| error.and_then(|e| e.get(name)).and_then(Value::as_str);
    match (field("code"), field("message")) {
        (Some(code), Some(message)) => format!("{code}: {}", cut(message, MESSAGE_LIMIT)),
        (Some(code), None) => code.to_owned(),
        (None, Some(message)) => cut(message, MESSAGE_LIMIT).into_owned(),
        (None, None) if body.is_empty() => "no explanation in the answer".to_owned(),
        (None, None) => format!(
            "answer: {}",
            cut(&String::from_utf8_lossy(body), MESSAGE_LIMIT)
        ),
    }
}

/// A 401 or 403 from `service` (`Resource Manager`, `batch endpoint https://…`) as the hook's
/// permanent failure: what it means for the identity, what to grant, and Azure's own words.
pub(crate) fn refused_identity(
    hook: &ConfiguredHook,
    service: &str,
    status: StatusCode,
    body: &[u8],
    role: &str,
) -> HookError {
    hook.fail_permanently(format!(
        "{service}: {} ({})",
        identity_remedy(status, hook.audience(), role),
        describe_refusal(body)
    ))
}

/// What a 401 or 403 means for the identity, and what to grant: Resource Manager and the data plane
/// both refuse an identity without the role before looking at the request.
fn identity_remedy(status: StatusCode, audience: &str, role: &str) -> String {
    if status == StatusCode::UNAUTHORIZED {
        format!(
            "the token was not accepted (401): it must be issued for {audience} (the action implies \
             it; check `resource` and the identity's tenant); the identity also needs {role}"
        )
    } else {
        format!("the identity is not allowed (403): it needs {role}")
    }
}

/// The studio link an answer carries: `properties.services.Studio.endpoint` (a job resource, §2a) or
/// `properties.interactionEndpoints.Studio.endpoint` (the batch job model, inferred).
pub(crate) fn answer_link(answer: &Value) -> Option<String> {
    let properties = answer.get("properties")?;
    ["services", "interactionEndpoints"]
        .iter()
        .find_map(|key| {
            properties
                .get(key)?
                .get("Studio")?
                .get("endpoint")?
                .as_str()
        })
        .filter(|link| link.starts_with("https://") || link.starts_with("http://"))
        .map(str::to_owned)
}

/// A job's studio link built from the studio base (reference §3, v1 `RUN_PATH`:
/// `{studio}/runs/{name}?wsid=…`), or a note when the job's name cannot be a path segment.
pub(crate) fn built_link(studio: &StudioBase, workspace: &Workspace, job: &str) -> String {
    studio.run(workspace, job).map_or_else(
        || "no studio link for this job name".to_owned(),
        String::from,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refusals_are_described_by_code_and_message() {
        let body = br#"{"error":{"code":"UserError","message":"Compute cpu-cluster not found"}}"#;
        assert_eq!(
            describe_refusal(body),
            "UserError: Compute cpu-cluster not found"
        );
        assert_eq!(describe_refusal(b""), "no explanation in the answer");
        assert_eq!(describe_refusal(b"nope"), "answer: nope");
        let long = format!(
            r#"{{"error":{{"code":"C","message":"{}"}}}}"#,
            "m".repeat(2000)
        );
        assert!(describe_refusal(long.as_bytes()).len() < 600);
    }

    #[test]
    fn links_come_from_the_answer_or_are_built() {
        let answer = json!({"properties": {"services": {"Studio": {"endpoint": "https://ml.azure.com/runs/j?wsid=x"}}}});
        assert_eq!(
            answer_link(&answer).as_deref(),
            Some("https://ml.azure.com/runs/j?wsid=x")
        );
        assert_eq!(answer_link(&json!({"properties": {}})), None);
        let ws = Workspace {
            subscription: "s".into(),
            resource_group: "g".into(),
            workspace: "w".into(),
        };
        assert_eq!(
            built_link(&StudioBase::default(), &ws, "retrain-1"),
            "https://ml.azure.com/runs/retrain-1?wsid=/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w"
        );
    }
}
