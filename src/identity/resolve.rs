//! What an `auth` spec and the environment resolve to, before any credential is built: the
//! choices azure-identity makes from the same variables (`default`'s order, `managed_identity` on a
//! workload identity pod, the authority), kept apart so that each is tested without a credential.

use super::spec::AuthSpec;
use crate::settings::IdentitySettings;
use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use std::path::PathBuf;
use thiserror::Error;

/// What to configure when a workload identity credential is refused (here, or by Entra ID).
pub(super) const WORKLOAD_REMEDY: &str = "check the client id (`client_id` or AZURE_CLIENT_ID), the tenant (`tenant_id` or AZURE_TENANT_ID), the token file (`token_file` or AZURE_FEDERATED_TOKEN_FILE) and the app's federated credential (issuer, subject, audience api://AzureADTokenExchange)";
const AUTHORITY_REMEDY: &str =
    "set AZURE_AUTHORITY_HOST to the https address of your cloud's Entra ID authority, or unset it";

/// Why a spec and the settings resolve to no credential; [`ResolveError::remedy`] says what to set.
#[derive(Debug, Error)]
pub(super) enum ResolveError {
    /// Workload identity lacks one of its settings (the text names it and where it comes from).
    #[error("no {0}")]
    WorkloadIncomplete(&'static str),
    /// `AZURE_AUTHORITY_HOST` is not an https address.
    #[error("AZURE_AUTHORITY_HOST {0} is not an https address")]
    AuthorityNotHttps(String),
}

impl ResolveError {
    /// What to configure.
    pub(super) fn remedy(&self) -> &'static str {
        match self {
            Self::WorkloadIncomplete(_) => WORKLOAD_REMEDY,
            Self::AuthorityNotHttps(_) => AUTHORITY_REMEDY,
        }
    }
}

/// Entra ID's public-cloud authority, azure-identity's default for `AZURE_AUTHORITY_HOST`.
const PUBLIC_AUTHORITY: &str = "https://login.microsoftonline.com";

/// What the spec and the settings resolve to, before anything is built.
pub(super) enum Resolved {
    Managed {
        client_id: Option<String>,
    },
    Workload {
        client_id: String,
        tenant_id: String,
        token_file: PathBuf,
    },
    Secret {
        tenant_id: String,
        client_id: String,
        secret: String,
    },
}

/// The spec with its defaults from the environment, as azure-identity reads them.
pub(super) fn resolve(spec: &AuthSpec, s: &IdentitySettings) -> Result<Resolved, ResolveError> {
    match spec {
        AuthSpec::ManagedIdentity { client_id } => Ok(managed_choice(client_id.clone(), s)),
        AuthSpec::WorkloadIdentity {
            client_id,
            tenant_id,
            token_file,
        } => {
            let missing = ResolveError::WorkloadIncomplete;
            let client_id = client_id
                .clone()
                .or_else(|| s.client_id.clone())
                .ok_or_else(|| missing("client id: set `client_id` or AZURE_CLIENT_ID"))?;
            let tenant_id = tenant_id
                .clone()
                .or_else(|| s.tenant_id.clone())
                .ok_or_else(|| missing("tenant id: set `tenant_id` or AZURE_TENANT_ID"))?;
            let token_file = token_file
                .clone()
                .or_else(|| s.federated_token_file.clone())
                .ok_or_else(|| missing("token file: set `token_file` or AZURE_FEDERATED_TOKEN_FILE (the AKS workload identity webhook sets it on pods labelled azure.workload.identity/use: \"true\")"))?;
            Ok(Resolved::Workload {
                client_id,
                tenant_id,
                token_file,
            })
        }
        AuthSpec::ClientSecret {
            tenant_id,
            client_id,
            secret,
        } => Ok(Resolved::Secret {
            tenant_id: tenant_id.clone(),
            client_id: client_id.clone(),
            secret: secret.clone(),
        }),
        AuthSpec::Default => Ok(default_choice(s)),
    }
}

/// `managed_identity` as azure-identity's `ManagedIdentityCredential` resolves it: the App Service
/// endpoint when `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` are set; else workload identity when its
/// variables are (`AZURE_AUTHORITY_HOST`, `AZURE_TENANT_ID`, `AZURE_FEDERATED_TOKEN_FILE`: an AKS pod
/// with workload identity, where the node's metadata service would give the node's identity), with
/// `client_id` or `AZURE_CLIENT_ID`; else the instance metadata service.
fn managed_choice(client_id: Option<String>, s: &IdentitySettings) -> Resolved {
    if !s.has_app_service_endpoint() {
        if let (Some(_), Some(tenant_id), Some(token_file), Some(client_id)) = (
            &s.authority_host,
            &s.tenant_id,
            &s.federated_token_file,
            client_id.as_ref().or(s.client_id.as_ref()),
        ) {
            return Resolved::Workload {
                client_id: client_id.clone(),
                tenant_id: tenant_id.clone(),
                token_file: token_file.clone(),
            };
        }
    }
    Resolved::Managed { client_id }
}

/// `default`: azure-identity's `DefaultAzureCredential` order without the developer tools. The
/// environment's client secret when `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET`
/// are set; workload identity when `AZURE_AUTHORITY_HOST`, `AZURE_TENANT_ID` and
/// `AZURE_FEDERATED_TOKEN_FILE` are (its `WORKLOAD_IDENTITY_VARS`) with `AZURE_CLIENT_ID`; else
/// managed identity, user-assigned when `AZURE_CLIENT_ID` is set.
fn default_choice(s: &IdentitySettings) -> Resolved {
    if let (Some(tenant_id), Some(client_id), Some(secret)) =
        (&s.tenant_id, &s.client_id, &s.client_secret)
    {
        return Resolved::Secret {
            tenant_id: tenant_id.clone(),
            client_id: client_id.clone(),
            secret: secret.clone(),
        };
    }
    if let (Some(_), Some(tenant_id), Some(token_file), Some(client_id)) = (
        &s.authority_host,
        &s.tenant_id,
        &s.federated_token_file,
        &s.client_id,
    ) {
        return Resolved::Workload {
            client_id: client_id.clone(),
            tenant_id: tenant_id.clone(),
            token_file: token_file.clone(),
        };
    }
    managed_choice(s.client_id.clone(), s)
}

/// The authority as azure-identity normalises `AZURE_AUTHORITY_HOST` (`https://` added when no
/// scheme is given, trailing spaces and `/` stripped); `azure_identity` requires https.
pub(super) fn cloud(s: &IdentitySettings) -> Result<CloudConfiguration, ResolveError> {
    let host = s
        .authority_host
        .as_deref()
        .map(|h| h.trim().trim_end_matches('/'))
        .unwrap_or(PUBLIC_AUTHORITY);
    let host = if host.contains("://") {
        host.to_owned()
    } else {
        format!("https://{host}")
    };
    if !host.starts_with("https://") {
        return Err(ResolveError::AuthorityNotHttps(host));
    }
    let mut custom = CustomConfiguration::default();
    custom.authority_host = host;
    Ok(custom.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> IdentitySettings {
        IdentitySettings::default()
    }

    #[test]
    fn default_takes_the_first_configured_credential_in_azure_identity_order() {
        let mut s = settings();
        assert!(matches!(
            default_choice(&s),
            Resolved::Managed { client_id: None }
        ));
        s.client_id = Some("c".into());
        assert!(matches!(
            default_choice(&s),
            Resolved::Managed { client_id: Some(_) }
        ));
        s.tenant_id = Some("t".into());
        s.federated_token_file = Some("/var/run/token".into());
        // Without AZURE_AUTHORITY_HOST, not workload identity (azure-identity's WORKLOAD_IDENTITY_VARS).
        assert!(matches!(default_choice(&s), Resolved::Managed { .. }));
        s.authority_host = Some("https://login.microsoftonline.com/".into());
        assert!(matches!(default_choice(&s), Resolved::Workload { .. }));
        s.client_secret = Some("s3cret".into());
        assert!(matches!(default_choice(&s), Resolved::Secret { .. }));
    }

    #[test]
    fn managed_identity_on_a_workload_identity_pod_is_workload_identity_as_in_azure_identity() {
        let mut s = settings();
        s.client_id = Some("c".into());
        s.tenant_id = Some("t".into());
        s.federated_token_file = Some("/var/run/token".into());
        assert!(matches!(managed_choice(None, &s), Resolved::Managed { .. }));
        s.authority_host = Some("https://login.microsoftonline.com/".into());
        assert!(matches!(
            managed_choice(None, &s),
            Resolved::Workload { .. }
        ));
        // The App Service endpoint comes first.
        s.identity_endpoint = Some("http://127.0.0.1:41000/msi/token".into());
        s.identity_header = Some("h".into());
        assert!(matches!(managed_choice(None, &s), Resolved::Managed { .. }));
    }

    #[test]
    fn the_authority_is_normalised_and_must_be_https() {
        let mut s = settings();
        s.authority_host = Some("login.microsoftonline.us/ ".into());
        let CloudConfiguration::Custom(c) = cloud(&s).unwrap() else {
            panic!("custom")
        };
        assert_eq!(c.authority_host, "https://login.microsoftonline.us");
        s.authority_host = Some("http://127.0.0.1:1".into());
        assert!(cloud(&s)
            .unwrap_err()
            .to_string()
            .contains("not an https address"));
    }
}
