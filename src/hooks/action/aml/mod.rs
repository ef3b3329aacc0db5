//! The Azure ML actions: `aml_job` creates a job through Azure Resource Manager ([`AmlJob`]) and
//! `aml_batch_endpoint` starts a batch endpoint job on the Azure ML data plane ([`BatchEndpoint`]).
//!
//! What they share lives here: the cloud's addresses ([`AzureEndpoints`]), where a token may go
//! ([`token_may_go_to`]), reading Azure's error bodies and the studio links of its answers, and the
//! words for a refused identity. Protocols: `../shared/reference/acting-in-azure.md` §2a, §2b, §3.

mod batch;
mod job;
mod name;

pub(crate) use batch::BatchEndpoint;
pub(crate) use job::{AmlJob, JobWorkspace, DEFAULT_API_VERSION};
pub use name::job_name;

use super::ConfiguredHook;
use crate::event::Workspace;
use crate::hooks::HookError;
use crate::telemetry::cut;
use reqwest::header::HeaderValue;
use reqwest::{StatusCode, Url};
use serde_json::Value;

/// Azure Resource Manager's audience: the token `aml_job` sends.
pub(crate) const ARM_AUDIENCE: &str = "https://management.azure.com";
/// The Azure ML data plane's audience: the token `aml_batch_endpoint` sends (`AML_RESOURCE_ID` in
/// azure-ai-ml, reference §2b).
pub(crate) const ML_AUDIENCE: &str = "https://ml.azure.com";

/// The most of an error message from Azure that a log line or error keeps.
const MESSAGE_LIMIT: usize = 512;

/// The addresses of one Azure cloud, from the settings (`AML_EVENTS_ARM_ENDPOINT`,
/// `AML_EVENTS_STUDIO_URL`): public Azure unless they say otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureEndpoints {
    /// Azure Resource Manager, e.g. `https://management.azure.com`.
    pub arm: Url,
    /// Azure ML studio, e.g. `https://ml.azure.com`.
    pub studio: Url,
}

impl Default for AzureEndpoints {
    fn default() -> Self {
        Self {
            arm: Url::parse(ARM_AUDIENCE).expect("a constant URL"),
            studio: Url::parse(ML_AUDIENCE).expect("a constant URL"),
        }
    }
}

/// Whether a bearer token may be sent to `url`: over https, or over http to a loopback address (tests,
/// local emulators; an IP literal, not a name, whose resolution is not known here), where nobody else
/// can read it on the way.
pub fn token_may_go_to(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(_)) | None => false,
        },
        _ => false,
    }
}

/// The `Authorization` value for a request of `hook` to `url`: a bearer token for `audience`. Refused
/// (permanently) when `url` is not https nor a loopback address, so no token ever travels in clear.
pub(crate) async fn bearer(
    hook: &ConfiguredHook,
    audience: &str,
    url: &Url,
) -> Result<HeaderValue, HookError> {
    if !token_may_go_to(url) {
        return Err(hook.fail_permanently(format!(
            "a token for {audience} is only sent over https (or to a loopback address), not to {}",
            super::describe_url(url)
        )));
    }
    Err(hook.fail_permanently(format!(
        "no token provider for {audience}: set `auth` on the hook"
    )))
}

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

/// What a 401 or 403 means for the identity, and what to grant: Resource Manager and the data plane
/// both refuse an identity without the role before looking at the request.
pub(crate) fn refused_identity(status: StatusCode, audience: &str, role: &str) -> String {
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

/// A job's studio link built from the studio base (reference §3, v1 `RUN_PATH`):
/// `{studio}/runs/{name}?wsid=/subscriptions/{s}/resourcegroups/{g}/workspaces/{w}`.
pub(crate) fn built_link(studio: &Url, workspace: &Workspace, job: &str) -> String {
    let mut url = studio.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().push("runs").push(job);
    }
    let wsid = format!(
        "/subscriptions/{}/resourcegroups/{}/workspaces/{}",
        workspace.subscription, workspace.resource_group, workspace.workspace
    );
    url.query_pairs_mut().append_pair("wsid", &wsid);
    url.to_string()
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
            built_link(&Url::parse("https://ml.azure.com").unwrap(), &ws, "retrain-1"),
            "https://ml.azure.com/runs/retrain-1?wsid=%2Fsubscriptions%2Fs%2Fresourcegroups%2Fg%2Fworkspaces%2Fw"
        );
    }

    #[test]
    fn a_token_goes_only_over_https_or_to_a_loopback_address() {
        let ok = |u: &str| token_may_go_to(&Url::parse(u).unwrap());
        assert!(ok("https://x.example/jobs"));
        assert!(ok("http://127.0.0.1:1/"));
        assert!(ok("http://[::1]:1/"));
        assert!(!ok("http://localhost:1/"));
        assert!(!ok("http://10.0.0.1/"));
        assert!(!ok("http://example.com/"));
    }
}
