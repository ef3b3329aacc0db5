//! The Azure Functions custom-handler door.
//!
//! The host POSTs `{"Data": {"event": <event>}, "Metadata": {...}}` to `/{FunctionName}` and reads
//! `{"Outputs", "Logs", "ReturnValue"}` back. Answers follow the table in DESIGN.md: a retryable hook
//! failure is a 500 (the host fails the invocation and Event Grid redelivers); an undecodable event and
//! a permanent hook failure (a target's 4xx, a template that cannot render the event) are a 200 with
//! the error in `Logs`, on stderr, and the event in the poison output binding when configured, because
//! a retry could only fail again. Finding and decoding the event is the pipeline's ([`Body::Invocation`]).

use crate::event::DecodeError;
use crate::hooks::{add_output, Outcome};
use crate::pipeline::{Body, BodyError, Disposition, Pipeline, Processed};
use serde::Serialize;
use serde_json::{json, Map, Value};
use warp::http::StatusCode;

/// How much of an undecodable event goes into the error log line (the poison binding gets all of it).
const RAW_LOG_LIMIT: usize = 16 * 1024;

/// The custom-handler response body.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InvocationResponse {
    /// Output binding values by binding name.
    #[serde(rename = "Outputs")]
    pub outputs: Map<String, Value>,
    /// Lines the host logs against the invocation (only read on 2xx).
    #[serde(rename = "Logs")]
    pub logs: Vec<String>,
    /// The function's return value; unused by Event Grid triggers.
    #[serde(rename = "ReturnValue")]
    pub return_value: Value,
}

/// Options of the Functions door.
#[derive(Debug, Clone, Default)]
pub struct FunctionsDoor {
    /// Output binding that receives undecodable events (`settings.poison_binding` in hooks.toml).
    pub poison_binding: Option<String>,
}

impl FunctionsDoor {
    /// Handles one invocation body for `function` and returns the status and response body.
    pub async fn invoke(
        &self,
        pipeline: &Pipeline,
        function: &str,
        body: &[u8],
    ) -> (StatusCode, InvocationResponse) {
        let mut response = InvocationResponse::default();
        // The hooks' lines go to the answer's `Logs`, which the host records with the invocation.
        let processed =
            crate::telemetry::with_logs_in_answer(pipeline.process(Body::Invocation(body))).await;
        let status = match processed {
            Ok(processed) => self.answer(&mut response, function, processed),
            Err(BodyError { error, raw }) => {
                self.reject(&mut response, function, &error, &raw);
                StatusCode::OK
            }
        };
        (status, response)
    }

    /// Adds each event's logs, outputs and failures to the response; the status is 500 when a hook
    /// failed in a way a redelivery may cure (Event Grid redelivers).
    fn answer(
        &self,
        response: &mut InvocationResponse,
        function: &str,
        processed: Vec<Processed<'_>>,
    ) -> StatusCode {
        let mut status = StatusCode::OK;
        for Processed {
            disposition,
            event_id,
            raw,
            ..
        } in processed
        {
            match disposition {
                Disposition::Handled(outcome) => {
                    if outcome.needs_retry() {
                        status = StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    self.handled(response, function, event_id.as_deref(), &raw, outcome);
                }
                // The host answers Event Grid's handshake itself; one reaching us is not for us.
                Disposition::Ignored | Disposition::Handshake(_) => {}
                Disposition::Rejected(error) => self.reject(response, function, &error, &raw),
            }
        }
        status
    }

    /// One handled event's logs, outputs and failures; its permanent failures also go to the poison
    /// binding (one message for the event, naming every hook that failed permanently).
    fn handled(
        &self,
        response: &mut InvocationResponse,
        function: &str,
        event_id: Option<&str>,
        raw: &str,
        outcome: Outcome,
    ) {
        let id = event_id.unwrap_or("?");
        let poisoned: Vec<Value> = outcome
            .permanent_failures()
            .map(|f| json!({"hook": f.hook, "error": f.error.message}))
            .collect();
        response.logs.extend(outcome.logs);
        for (binding, value) in outcome.outputs {
            add_output(&mut response.outputs, binding, value);
        }
        for failure in outcome.failures {
            let line = if failure.error.permanent {
                // The dispatcher logged it as an error (stderr); `Logs` is what the host records.
                format!(
                    "hook {} failed permanently for event {id}: {}; it is not retried, a redelivery would fail the same way",
                    failure.hook, failure.error
                )
            } else {
                format!(
                    "hook {} failed for event {id}: {}; the invocation fails so that Event Grid redelivers it",
                    failure.hook, failure.error
                )
            };
            response.logs.push(line);
        }
        if let (Some(binding), Some(first)) = (&self.poison_binding, poisoned.first()) {
            let message = json!({
                "error": first["error"],
                "hook": first["hook"],
                "failures": poisoned,
                "function": function,
                "event": raw,
            });
            add_output(&mut response.outputs, binding.clone(), message);
        }
    }

    fn reject(
        &self,
        response: &mut InvocationResponse,
        function: &str,
        error: &DecodeError,
        raw: &str,
    ) {
        let shown = crate::telemetry::cut(raw, RAW_LOG_LIMIT);
        tracing::error!(
            function,
            error = %error.message(),
            path = %error.path(),
            raw_event = %shown,
            "rejected an event that cannot be decoded; it will not be retried"
        );
        response.logs.push(format!(
            "rejected event: {error}; it cannot be decoded and will not be retried"
        ));
        if let Some(binding) = &self.poison_binding {
            let message = json!({
                "error": error.message(),
                "path": error.path().to_string(),
                "function": function,
                "event": raw,
            });
            add_output(&mut response.outputs, binding.clone(), message);
        }
    }
}
