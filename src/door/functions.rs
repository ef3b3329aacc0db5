//! The Azure Functions custom-handler door.
//!
//! The host POSTs `{"Data": {"event": <event>}, "Metadata": {...}}` to `/{FunctionName}` and reads
//! `{"Outputs", "Logs", "ReturnValue"}` back. Answers follow the table in DESIGN.md: a hook failure is a
//! 500 (the host fails the invocation and Event Grid redelivers); an undecodable event is a 200 with the
//! error in `Logs`, on stderr, and in the poison output binding when configured, because a retry could
//! only fail again. Finding and decoding the event is the pipeline's ([`Body::Invocation`]).

use crate::event::DecodeError;
use crate::hooks::add_output;
use crate::pipeline::{Body, BodyError, Disposition, Pipeline, Processed};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
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
    /// failed (Event Grid redelivers).
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
                    response.logs.extend(outcome.logs);
                    for (binding, value) in outcome.outputs {
                        add_output(&mut response.outputs, binding, value);
                    }
                    for failure in outcome.failures {
                        status = StatusCode::INTERNAL_SERVER_ERROR;
                        response.logs.push(format!(
                            "hook {} failed for event {}: {}; the invocation fails so that Event Grid redelivers it",
                            failure.hook,
                            event_id.as_deref().unwrap_or("?"),
                            failure.error
                        ));
                    }
                }
                // The host answers Event Grid's handshake itself; one reaching us is not for us.
                Disposition::Ignored | Disposition::Handshake(_) => {}
                Disposition::Rejected(error) => self.reject(response, function, &error, &raw),
            }
        }
        status
    }

    fn reject(
        &self,
        response: &mut InvocationResponse,
        function: &str,
        error: &DecodeError,
        raw: &str,
    ) {
        let shown = truncate(raw, RAW_LOG_LIMIT);
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

fn truncate(text: &str, limit: usize) -> Cow<'_, str> {
    if text.len() <= limit {
        return Cow::Borrowed(text);
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}… ({} bytes in all)", &text[..end], text.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_raw_events_are_truncated_on_a_char_boundary() {
        let text = "é".repeat(10);
        let cut = truncate(&text, 5);
        assert!(cut.starts_with("éé…"), "{cut}");
    }
}
