//! Where the Azure ML actions send and link: Resource Manager and studio addresses.

use super::raw::RawVars;
use super::SettingsError;
use crate::event::studio::StudioBase;

/// Where the Azure ML actions send and link: the cloud's addresses (public Azure by default;
/// sovereign clouds and tests set others).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureSettings {
    /// Azure Resource Manager (`AML_EVENTS_ARM_ENDPOINT`): where `aml_job` creates jobs. A token goes
    /// there, so only https, or http to a loopback address (tests, local emulators).
    pub arm_endpoint: url::Url,
    /// Azure ML studio (`AML_EVENTS_STUDIO_URL`): what Teams and Slack messages link to, and the
    /// base of job links when an answer carries none.
    pub studio_url: StudioBase,
}

/// Public Azure's Resource Manager.
pub const DEFAULT_ARM_ENDPOINT: &str = "https://management.azure.com";

impl Default for AzureSettings {
    fn default() -> Self {
        Self {
            arm_endpoint: url::Url::parse(DEFAULT_ARM_ENDPOINT).expect("a constant URL"),
            studio_url: StudioBase::default(),
        }
    }
}

pub(super) fn azure_settings(raw: &RawVars) -> Result<AzureSettings, SettingsError> {
    let mut azure = AzureSettings::default();
    if raw.text("AML_EVENTS_ARM_ENDPOINT").is_some() {
        // That a token may go there (https, or a loopback address) is checked with the hooks that
        // send one (`HooksConfig::with_azure`), where the rule lives.
        azure.arm_endpoint = base_url(
            raw,
            "AML_EVENTS_ARM_ENDPOINT",
            "an https URL such as https://management.usgovcloudapi.net (http only to a loopback address)",
        )?;
    }
    azure.studio_url = raw
        .parse_optional(
            "AML_EVENTS_STUDIO_URL",
            "an http(s) address without query or fragment, such as https://ml.azure.com",
        )?
        .unwrap_or_default();
    Ok(azure)
}

/// An http(s) URL with a host and no query, its path without a trailing `/`.
fn base_url(
    raw: &RawVars,
    name: &'static str,
    expected: &'static str,
) -> Result<url::Url, SettingsError> {
    let text = raw.text(name).unwrap_or_default();
    let mut url = url::Url::parse(text).map_err(|_| raw.invalid(name, expected))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || url.query().is_some()
    {
        return Err(raw.invalid(name, expected));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}
