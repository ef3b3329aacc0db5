//! The variables Microsoft's azure-identity libraries read, read here with the same names and
//! precedence, so that a Function App or AKS pod configured for those libraries works unchanged.
//!
//! `azure_identity` (the Rust crate) reads some of them itself (`IDENTITY_ENDPOINT`,
//! `IDENTITY_HEADER` at each fetch, since the platform rotates it); the handler reads them too, to
//! describe the identity, to choose `auth = { type = "default" }`'s credential, to redact the header
//! and to report what is missing before deployment.

use super::raw::RawVars;
use std::path::PathBuf;

/// What the environment says about Entra ID credentials, and the extra CA certificates that every
/// outbound HTTPS request (hooks and token endpoints) trusts.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct IdentitySettings {
    /// `AZURE_CLIENT_ID`: a workload identity's client id; `default`'s user-assigned managed identity
    /// and environment client secret.
    pub client_id: Option<String>,
    /// `AZURE_TENANT_ID`.
    pub tenant_id: Option<String>,
    /// `AZURE_CLIENT_SECRET` (a secret): with the two above, `default` uses a client secret.
    pub client_secret: Option<String>,
    /// `AZURE_FEDERATED_TOKEN_FILE`: the projected service-account token of workload identity.
    pub federated_token_file: Option<PathBuf>,
    /// `AZURE_AUTHORITY_HOST`: the Entra ID authority (sovereign clouds; the AKS webhook sets it).
    pub authority_host: Option<String>,
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST`: where instance-metadata (IMDS) token requests go instead
    /// of `http://169.254.169.254` (AAD pod identity, tests).
    pub pod_identity_authority_host: Option<String>,
    /// `IDENTITY_ENDPOINT`: the App Service / Functions / Container Apps token endpoint.
    pub identity_endpoint: Option<String>,
    /// `IDENTITY_HEADER` (a secret): sent to that endpoint as `X-IDENTITY-HEADER`.
    pub identity_header: Option<String>,
    /// `AML_EVENTS_EXTRA_CA_CERTS`: a PEM file of CA certificates trusted besides the Mozilla roots
    /// (private clouds, TLS-inspecting proxies, a local token service in tests).
    pub extra_ca_certificates: Option<PathBuf>,
}

impl std::fmt::Debug for IdentitySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |v: &Option<String>| v.as_ref().map(|_| "(set)");
        f.debug_struct("IdentitySettings")
            .field("client_id", &self.client_id)
            .field("tenant_id", &self.tenant_id)
            .field("client_secret", &set(&self.client_secret))
            .field("federated_token_file", &self.federated_token_file)
            .field("authority_host", &self.authority_host)
            .field(
                "pod_identity_authority_host",
                &self.pod_identity_authority_host,
            )
            .field("identity_endpoint", &self.identity_endpoint)
            .field("identity_header", &set(&self.identity_header))
            .field("extra_ca_certificates", &self.extra_ca_certificates)
            .finish()
    }
}

impl IdentitySettings {
    /// Reads the variables; blank values count as unset, as in azure-identity.
    pub(super) fn read(raw: &RawVars) -> Self {
        let text = |name: &str| raw.text(name).map(str::to_owned);
        Self {
            client_id: text("AZURE_CLIENT_ID"),
            tenant_id: text("AZURE_TENANT_ID"),
            client_secret: text("AZURE_CLIENT_SECRET"),
            federated_token_file: text("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from),
            authority_host: text("AZURE_AUTHORITY_HOST"),
            pod_identity_authority_host: text("AZURE_POD_IDENTITY_AUTHORITY_HOST"),
            identity_endpoint: text("IDENTITY_ENDPOINT"),
            identity_header: text("IDENTITY_HEADER"),
            extra_ca_certificates: text("AML_EVENTS_EXTRA_CA_CERTS").map(PathBuf::from),
        }
    }

    /// Whether the App Service / Functions / Container Apps endpoint is configured: both of its
    /// variables set, as azure-identity requires before it uses that endpoint.
    pub fn has_app_service_endpoint(&self) -> bool {
        self.identity_endpoint.is_some() && self.identity_header.is_some()
    }

    /// The values no output may show.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        [&self.client_secret, &self.identity_header]
            .into_iter()
            .filter_map(|v| v.as_deref())
    }
}
