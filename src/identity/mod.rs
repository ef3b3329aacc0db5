//! Entra ID access tokens for hooks that act in Azure (`auth = { type = "..." }` in `hooks.toml`).
//!
//! The credentials are Microsoft's (`azure_identity`: managed identity through the App Service
//! endpoint or the instance metadata service, workload identity, client secret), sending through the
//! handler's own reqwest client (`transport`). What the crate cannot do is added here, each with its
//! reason in DESIGN.md: `AZURE_POD_IDENTITY_AUTHORITY_HOST` (`transport`), keeping a still-valid
//! token when a refresh fails and never making callers wait for a proactive refresh (`registry`),
//! `type = "default"` resolved once from the settings (`resolve`), and the classification of
//! failures into retryable and refused ([`TokenError`]).
//!
//! Environment variables come from [`crate::settings::IdentitySettings`]; only `azure_identity` reads
//! its own (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`) directly.

mod credential;
mod registry;
mod resolve;
mod spec;
mod token;
mod transport;

pub(crate) use registry::{Credentials, HookAuth};
pub(crate) use spec::{AuthConfig, AuthSpec};
pub(crate) use token::{AccessToken, TokenError};

/// Azure Resource Manager's audience (`aml_job`).
pub(crate) const ARM: &str = "https://management.azure.com";
/// The Azure ML data plane's audience (`aml_batch_endpoint`).
pub(crate) const AZURE_ML: &str = "https://ml.azure.com";
/// Azure DevOps' audience: its application id, which has no URI form.
pub(crate) const AZURE_DEVOPS: &str = "499b84ac-1321-427f-aa17-267ca6975798";

/// Whether `audience` is one `azure_identity` accepts as a scope (`{audience}/.default`): letters,
/// digits and `. - _ : /`.
pub(crate) fn is_valid_audience(audience: &str) -> bool {
    !audience.is_empty()
        && audience
            .chars()
            .all(|c| c.is_alphanumeric() || ".-_:/".contains(c))
}

/// Whether a request to `url` may carry a token: https, or any scheme to a loopback address (tests,
/// local emulators). Checked when the file is validated and again on every send.
pub(crate) fn may_carry_token(url: &reqwest::Url) -> bool {
    if url.scheme() == "https" {
        return true;
    }
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}
