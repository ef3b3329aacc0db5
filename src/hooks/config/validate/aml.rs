//! The keys of the Azure ML actions: `aml_job`'s `job`, `workspace` and `api_version`, and
//! `aml_batch_endpoint`'s `url`, `body` and `deployment`.

use super::Validator;
use crate::event::Workspace;
use crate::hooks::action::{AmlJob, BatchEndpoint, JobWorkspace};
use crate::hooks::config::file::RawHook;
use crate::hooks::config::substitute::Insert;
use crate::hooks::config::ConfigError;
use reqwest::header::HeaderValue;
use reqwest::Url;
use std::collections::BTreeSet;
use std::path::Path;

/// The largest job template read: a job body is a few KiB; this bounds a mistaken path (a dataset).
const MAX_JOB_TEMPLATE_BYTES: u64 = 1024 * 1024;

impl Validator<'_> {
    /// `aml_job`: the job template file, the workspace and the api-version.
    pub(super) fn aml_job(
        &mut self,
        h: Option<&str>,
        raw: &RawHook,
        known: &BTreeSet<&str>,
    ) -> Result<AmlJob, ConfigError> {
        let Some(path) = &raw.job else {
            return Err(self.err(
                h,
                Some("job"),
                "is required by action `aml_job`: the path of a JSON template of the job, relative to the hooks file",
            ));
        };
        let source = self.job_template(h, path)?;
        let source = self.substitute(&source, h, "job", Insert::JsonString)?;
        let template = self.compile(h, "job", format!("{}/job.json", raw.name), source, known)?;
        let workspace = match raw.workspace.as_deref().map(str::trim) {
            None | Some("event") => JobWorkspace::Event,
            Some(text) => {
                let id = self.substitute(text, h, "workspace", Insert::Plain)?;
                JobWorkspace::Fixed(Workspace::parse(&id).ok_or_else(|| {
                    self.err(
                        h,
                        Some("workspace"),
                        "must be \"event\" or a workspace resource id: /subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.MachineLearningServices/workspaces/{name}",
                    )
                })?)
            }
        };
        let api_version = match &raw.api_version {
            None => crate::hooks::action::DEFAULT_API_VERSION.to_owned(),
            Some(v) if is_api_version(v) => v.clone(),
            Some(_) => {
                return Err(self.err(
                    h,
                    Some("api_version"),
                    "must look like 2025-12-01 (or 2025-12-01-preview)",
                ))
            }
        };
        Ok(AmlJob {
            template,
            workspace,
            api_version,
        })
    }

    /// The text of the job template at `path`, relative to the hooks file's folder.
    fn job_template(&self, h: Option<&str>, path: &str) -> Result<String, ConfigError> {
        let base = Path::new(self.file).parent().unwrap_or(Path::new(""));
        let full = base.join(path);
        let read = std::fs::metadata(&full).and_then(|meta| {
            if meta.len() > MAX_JOB_TEMPLATE_BYTES {
                Err(std::io::Error::other(format!(
                    "it is {} bytes; a job template is at most {MAX_JOB_TEMPLATE_BYTES}",
                    meta.len()
                )))
            } else {
                std::fs::read_to_string(&full)
            }
        });
        read.map_err(|e| {
            self.err(
                h,
                Some("job"),
                format!("cannot read the job template {}: {e}", full.display()),
            )
        })
    }

    /// `aml_batch_endpoint`: the scoring URI, the body and the deployment (that a token may go to the
    /// URI is checked with `auth`).
    pub(super) fn batch(
        &mut self,
        h: Option<&str>,
        raw: &RawHook,
        url: Url,
        known: &BTreeSet<&str>,
    ) -> Result<BatchEndpoint, ConfigError> {
        let Some(body) = &raw.body else {
            return Err(self.err(
                h,
                Some("body"),
                "is required by action `aml_batch_endpoint`: the job, {\"properties\": {\"InputData\": ...}}",
            ));
        };
        let source = self.substitute(body, h, "body", Insert::JsonString)?;
        let body = self.compile(h, "body", format!("{}/body.json", raw.name), source, known)?;
        let deployment = match &raw.deployment {
            None => None,
            Some(name) => {
                let ok = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                match HeaderValue::from_str(name) {
                    Ok(value) if ok => Some(value),
                    _ => {
                        return Err(self.err(
                            h,
                            Some("deployment"),
                            "must be a deployment name (letters, digits, `-`, `_`)",
                        ))
                    }
                }
            }
        };
        Ok(BatchEndpoint {
            url: BatchEndpoint::jobs_url(url),
            body,
            deployment,
        })
    }
}

/// `YYYY-MM-DD` with an optional `-preview`.
fn is_api_version(text: &str) -> bool {
    let date = text.strip_suffix("-preview").unwrap_or(text);
    let bytes = date.as_bytes();
    bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::is_api_version;

    #[test]
    fn api_versions_are_dates() {
        assert!(is_api_version("2025-12-01"));
        assert!(is_api_version("2024-10-01-preview"));
        assert!(!is_api_version("latest"));
        assert!(!is_api_version("2025-12-01&x=1"));
    }
}
