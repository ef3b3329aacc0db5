//! The `aml_batch_endpoint` action: a batch endpoint job started on the Azure ML data plane,
//! `POST {scoring URI}` with a `{"properties": {"InputData": …}}` body and a token for
//! `https://ml.azure.com` (reference §2b).
//!
//! The scoring URI that Azure shows (`properties.scoringUri` of the endpoint) already ends in `/jobs`
//! (`https://<endpoint>.<region>.inference.ml.azure.com/jobs`, the `endpoint_uri` sample of
//! <https://learn.microsoft.com/azure/machine-learning/how-to-use-event-grid-batch>); the issue writes the
//! endpoint's address without it. Both work: `/jobs` is added only when the path does not end in it.
//!
//! Unlike `aml_job`, the caller cannot name the job, so a POST cannot be made idempotent: the hook
//! runs under the dedupe lease like a webhook (once per event while the store keeps its record).

use super::{answer_link, describe_refusal, refused_identity, Workspace};
use crate::event::{Event, MlEvent};
use crate::hooks::action::{json_headers, ConfiguredHook};
use crate::hooks::delivery::{deliver, Outgoing};
use crate::hooks::{Effect, HookContext, HookError};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

/// The header that picks a deployment other than the endpoint's default (reference §2b).
pub(crate) const DEPLOYMENT_HEADER: HeaderName =
    HeaderName::from_static("azureml-model-deployment");

/// The role the batch endpoint's caller needs, for the 401/403 message and README: "Read batch
/// endpoints/deployments. Create jobs in batch inference endpoints/deployment. Create
/// experiments/runs. Read and write from/to data stores. Lists datastore secrets."
/// (<https://learn.microsoft.com/azure/machine-learning/how-to-authenticate-batch-endpoint>).
pub(crate) const BATCH_ROLE: &str =
    "a role on the endpoint's workspace that reads batch endpoints \
    and deployments, creates their jobs, experiments and runs, reads and writes the datastores and \
    lists their secrets, such as \"AzureML Data Scientist\"";

/// A configured `aml_batch_endpoint` hook.
#[derive(Debug, Clone)]
pub(crate) struct BatchEndpoint {
    /// Where jobs are posted: the scoring URI, ending in `/jobs`.
    pub(crate) url: Url,
    /// Template name of the JSON body.
    pub(crate) body: String,
    /// The `azureml-model-deployment` header, when a deployment is named.
    pub(crate) deployment: Option<HeaderValue>,
}

impl BatchEndpoint {
    /// `url` with `/jobs` at the end of its path (unless it is there already).
    pub(crate) fn jobs_url(mut url: Url) -> Url {
        let path = url.path().trim_end_matches('/').to_owned();
        if !path.ends_with("/jobs") {
            url.set_path(&format!("{path}/jobs"));
        } else {
            url.set_path(&path);
        }
        url
    }

    /// The request for `event`, without its token.
    pub(crate) fn request(
        &self,
        hook: &ConfiguredHook,
        event: &Event<MlEvent>,
    ) -> Result<(Value, Outgoing), HookError> {
        let text = hook
            .shared
            .templates
            .render(&self.body, event)
            .map_err(|e| hook.fail_permanently(format!("body template: {e}")))?;
        let payload: Value = serde_json::from_str(&text).map_err(|e| {
            hook.fail_permanently(format!("the body template did not produce JSON: {e}"))
        })?;
        let mut headers = json_headers();
        if let Some(deployment) = &self.deployment {
            headers.insert(DEPLOYMENT_HEADER, deployment.clone());
        }
        let request = Outgoing {
            method: Method::POST,
            url: self.url.clone(),
            headers,
            body: serde_json::to_vec(&payload).unwrap_or_default(),
            read_answer: true,
        };
        Ok((payload, request))
    }

    /// Posts the job for `event`; the effect names the job and its studio link.
    pub(crate) async fn run(
        &self,
        hook: &ConfiguredHook,
        event: &Event<MlEvent>,
        ctx: &HookContext,
    ) -> Result<Effect, HookError> {
        let (_, request) = self.request(hook, event)?;
        let destination = hook.destination();
        let done = deliver(&hook.with_token()?, &request, hook.policy, ctx.deadline)
            .await
            .map_err(|e| match e.refusal() {
                Some((status @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN), body)) => {
                    let service = format!("batch endpoint {destination}");
                    refused_identity(hook, &service, status, body, BATCH_ROLE)
                }
                Some((status, body)) => hook.fail_permanently(format!(
                    "batch endpoint {destination} refused the job ({status}): {}",
                    describe_refusal(body)
                )),
                None => hook.fail_as(&e, format!("batch endpoint {destination}: {e}")),
            })?;
        let answer: Value = serde_json::from_slice(&done.body).unwrap_or(Value::Null);
        let job = answer
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("(the answer names no job)");
        let link = answer_link(&answer).or_else(|| {
            // A job id under a workspace (`/subscriptions/…/workspaces/{w}/…/jobs/{name}`, inferred
            // from the BatchJobResource model) gives the workspace for a built link.
            let id = answer.get("id").and_then(Value::as_str)?;
            let workspace = Workspace::parse(id)?;
            Some(super::built_link(&hook.azure.studio_url, &workspace, job))
        });
        let link = link.unwrap_or_else(|| "no studio link in the answer".to_owned());
        tracing::info!(
            hook = hook.name.as_str(),
            job,
            studio_url = link.as_str(),
            "batch endpoint job started"
        );
        Ok(Effect::log(hook.shared.secrets.redact(&format!(
            "hook {}: batch endpoint job {job} started at {destination} ({}, attempt {}): {link}",
            hook.name, done.status, done.attempts
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_is_added_to_the_scoring_uri_only_when_missing() {
        let jobs = |u: &str| BatchEndpoint::jobs_url(Url::parse(u).unwrap()).to_string();
        assert_eq!(
            jobs("https://churn.eastus.inference.ml.azure.com"),
            "https://churn.eastus.inference.ml.azure.com/jobs"
        );
        assert_eq!(
            jobs("https://churn.eastus.inference.ml.azure.com/jobs"),
            "https://churn.eastus.inference.ml.azure.com/jobs"
        );
        assert_eq!(
            jobs("https://churn.eastus.inference.ml.azure.com/jobs/"),
            "https://churn.eastus.inference.ml.azure.com/jobs"
        );
    }
}
