//! One credential of `azure_identity`, built from an [`AuthSpec`] and the environment's settings,
//! and what its failures mean.

use super::resolve::{cloud, resolve, Resolved, WORKLOAD_REMEDY};
use super::spec::AuthSpec;
use super::token::{AccessToken, TokenError};
use super::transport::{ReqwestTransport, Unanswered};
use crate::settings::IdentitySettings;
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::error::ErrorKind;
use azure_core::http::{ClientOptions, RetryOptions, StatusCode, Transport};
use azure_identity::{
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
    WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use std::path::PathBuf;
use std::sync::Arc;

/// Which credential a spec resolved to (`default` resolves to one of the others).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CredentialKind {
    /// The App Service / Functions / Container Apps endpoint.
    AppService,
    /// The instance metadata service.
    Imds,
    /// Workload identity federation.
    WorkloadIdentity,
    /// A client secret.
    ClientSecret,
}

/// A built credential: `azure_identity`'s, with how to name it in messages.
pub(crate) struct Credential {
    inner: Arc<dyn TokenCredential>,
    kind: CredentialKind,
    /// `managed_identity (App Service endpoint, system-assigned)`: type, source and identity.
    description: String,
    /// The client id, when the configuration names one.
    client_id: Option<String>,
    /// What it sends that no message may show (a client secret, the identity header): redacted
    /// from the token endpoint's words in its errors.
    secrets: Vec<String>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// Builds the credential `spec` names. Nothing is sent yet; a configuration that cannot work
    /// (no tenant, an unreadable token file, an http authority) is refused here, so that
    /// `handler check` reports it before deployment.
    pub(super) fn build(
        spec: &AuthSpec,
        settings: &IdentitySettings,
        transport: &ReqwestTransport,
    ) -> Result<Self, TokenError> {
        let unusable = |reason: String, remedy: &str| TokenError::Unusable {
            credential: spec.type_name().to_owned(),
            reason,
            remedy: remedy.to_owned(),
        };
        let refused = |e: super::resolve::ResolveError| unusable(e.to_string(), e.remedy());
        let resolved = resolve(spec, settings).map_err(refused)?;
        let options = ClientOptions {
            transport: Some(Transport::new(Arc::new(transport.clone()))),
            // The hook's own retries and deadline decide: a token request is one attempt of it.
            retry: RetryOptions::none(),
            cloud: Some(Arc::new(cloud(settings).map_err(refused)?)),
            ..ClientOptions::default()
        };
        if let (Resolved::Managed { .. }, Some(host)) =
            (&resolved, &settings.pod_identity_authority_host)
        {
            if reqwest::Url::parse(host).map_or(true, |u| !u.has_host()) {
                return Err(unusable(
                    format!("AZURE_POD_IDENTITY_AUTHORITY_HOST {host:?} is not a URL"),
                    "set it to the metadata service's address, such as http://127.0.0.1:2579, or unset it",
                ));
            }
        }
        let mut credential = match resolved {
            Resolved::Managed { client_id } => managed(client_id, settings, options),
            Resolved::Workload {
                client_id,
                tenant_id,
                token_file,
            } => workload(client_id, tenant_id, token_file, options),
            Resolved::Secret {
                tenant_id,
                client_id,
                secret,
            } => client_secret(tenant_id, client_id, secret, options),
        }
        .map_err(|e| {
            unusable(
                first_line(&e.to_string()),
                remedy(spec_kind(spec, settings)),
            )
        })?;
        match (spec, credential.kind) {
            (AuthSpec::Default, _) => {
                credential.description = format!("default → {}", credential.description);
            }
            (AuthSpec::ManagedIdentity { .. }, CredentialKind::WorkloadIdentity) => {
                credential.description = format!("managed_identity → {}", credential.description);
            }
            _ => {}
        }
        credential.secrets = settings
            .secrets()
            .chain(spec.secret())
            .filter(|secret| !secret.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(credential)
    }

    /// How messages and `check --auth` name it.
    pub(crate) fn describe(&self) -> &str {
        &self.description
    }

    /// The client id, when known from the configuration.
    pub(crate) fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// One token request for `audience` through `azure_identity` (its cache answers when it holds a
    /// token more than 5 minutes from expiry).
    pub(crate) async fn fetch(&self, audience: &str) -> Result<AccessToken, TokenError> {
        let scope = format!("{}/.default", audience.trim_end_matches('/'));
        match self.inner.get_token(&[scope.as_str()], None).await {
            Ok(token) => Ok(AccessToken::new(
                token.token.secret(),
                std::time::SystemTime::from(token.expires_on),
            )),
            Err(e) => Err(self.classify(&e, audience).without(&self.secrets)),
        }
    }

    /// A failure as one of the two classes: transient (unreachable, 5xx, 429, and the metadata
    /// service's documented 404 and 410) or a refusal.
    fn classify(&self, error: &azure_core::Error, audience: &str) -> TokenError {
        let credential = self.description.clone();
        let audience = audience.to_owned();
        let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(e) = current {
            if let Some(unanswered) = e.downcast_ref::<Unanswered>() {
                return TokenError::Unavailable {
                    credential,
                    audience,
                    reason: unanswered.to_string(),
                };
            }
            if let Some(azure) = e.downcast_ref::<azure_core::Error>() {
                match azure.kind() {
                    ErrorKind::HttpResponse {
                        status,
                        raw_response,
                        ..
                    } => {
                        let body = raw_response
                            .as_ref()
                            .map(|r| r.body().as_ref())
                            .unwrap_or_default();
                        let reason = describe_answer(*status, body);
                        return if self.is_transient(*status) {
                            TokenError::Unavailable {
                                credential,
                                audience,
                                reason,
                            }
                        } else {
                            TokenError::Refused {
                                credential,
                                audience,
                                reason,
                                remedy: self.remedy().to_owned(),
                            }
                        };
                    }
                    ErrorKind::Connection | ErrorKind::Io | ErrorKind::DataConversion => {
                        return TokenError::Unavailable {
                            credential,
                            audience,
                            reason: first_line(&azure.to_string()),
                        }
                    }
                    _ => {}
                }
            }
            current = e.source();
        }
        TokenError::Refused {
            credential,
            audience,
            reason: first_line(&error.to_string()),
            remedy: self.remedy().to_owned(),
        }
    }

    fn is_transient(&self, status: StatusCode) -> bool {
        let code = u16::from(status);
        code == 408
            || code == 429
            || code >= 500
            || (self.kind == CredentialKind::Imds && (code == 404 || code == 410))
    }

    fn remedy(&self) -> &'static str {
        remedy(self.kind)
    }
}

/// What to configure when a credential of `kind` is refused.
fn remedy(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::AppService | CredentialKind::Imds => MANAGED_REMEDY,
        CredentialKind::WorkloadIdentity => WORKLOAD_REMEDY,
        CredentialKind::ClientSecret => SECRET_REMEDY,
    }
}

/// The kind a spec resolves to, for the remedy of a credential that cannot be built.
fn spec_kind(spec: &AuthSpec, settings: &IdentitySettings) -> CredentialKind {
    match resolve(spec, settings) {
        Ok(Resolved::Workload { .. }) => CredentialKind::WorkloadIdentity,
        Ok(Resolved::Secret { .. }) => CredentialKind::ClientSecret,
        _ => managed_kind(settings),
    }
}

/// The managed-identity source `azure_identity` picks: the App Service endpoint when both of its
/// variables are set, else the instance metadata service.
fn managed_kind(settings: &IdentitySettings) -> CredentialKind {
    if settings.has_app_service_endpoint() {
        CredentialKind::AppService
    } else {
        CredentialKind::Imds
    }
}

/// A managed identity: system-assigned, or user-assigned by `client_id`.
fn managed(
    client_id: Option<String>,
    settings: &IdentitySettings,
    client_options: ClientOptions,
) -> azure_core::Result<Credential> {
    let kind = managed_kind(settings);
    let source = match (kind, &settings.pod_identity_authority_host) {
        (CredentialKind::AppService, _) => "App Service endpoint".to_owned(),
        (_, Some(host)) => format!("instance metadata service at {host}"),
        _ => "instance metadata service".to_owned(),
    };
    let who = client_id.as_ref().map_or_else(
        || "system-assigned".to_owned(),
        |id| format!("client id {id}"),
    );
    let inner = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
        user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
        client_options,
    }))?;
    Ok(Credential {
        inner,
        kind,
        description: format!("managed_identity ({source}, {who})"),
        client_id,
        secrets: Vec::new(),
    })
}

/// Workload identity federation with the given ids and token file.
fn workload(
    client_id: String,
    tenant_id: String,
    token_file: PathBuf,
    client_options: ClientOptions,
) -> azure_core::Result<Credential> {
    let inner = WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
        credential_options: ClientAssertionCredentialOptions { client_options },
        client_id: Some(client_id.clone()),
        tenant_id: Some(tenant_id.clone()),
        token_file_path: Some(token_file),
    }))?;
    Ok(Credential {
        inner,
        kind: CredentialKind::WorkloadIdentity,
        description: format!("workload_identity (client id {client_id}, tenant {tenant_id})"),
        client_id: Some(client_id),
        secrets: Vec::new(),
    })
}

/// A client secret of an app registration.
fn client_secret(
    tenant_id: String,
    client_id: String,
    secret: String,
    client_options: ClientOptions,
) -> azure_core::Result<Credential> {
    let inner = ClientSecretCredential::new(
        &tenant_id,
        client_id.clone(),
        Secret::new(secret),
        Some(ClientSecretCredentialOptions { client_options }),
    )?;
    Ok(Credential {
        inner,
        kind: CredentialKind::ClientSecret,
        description: format!("client_secret (client id {client_id}, tenant {tenant_id})"),
        client_id: Some(client_id),
        secrets: Vec::new(),
    })
}

const MANAGED_REMEDY: &str = "turn on the resource's system-assigned identity, or assign the user-assigned identity to it and set `client_id` to its client id";
const SECRET_REMEDY: &str = "check `tenant_id`, `client_id` and `secret` (secrets expire: create a new one under the app registration's Certificates & secrets)";

/// The first line of a message (azure_identity appends a troubleshooting link on another line).
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_owned()
}

/// `400 Bad Request: invalid_client: AADSTS7000215: Invalid client secret provided.` from a token
/// endpoint's error answer (Entra ID and IMDS: `error`, `error_description`; App Service: `message`).
fn describe_answer(status: StatusCode, body: &[u8]) -> String {
    let code = u16::from(status);
    let status_text = reqwest::StatusCode::from_u16(code)
        .map(|s| s.to_string())
        .unwrap_or_else(|_| code.to_string());
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return format!("the token endpoint answered {status_text}");
    };
    let field = |name: &str| value.get(name).and_then(serde_json::Value::as_str);
    let detail: Vec<&str> = [
        field("error"),
        field("error_description").or(field("message")),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut detail = first_line(&detail.join(": "));
    if detail.len() > 300 {
        let cut = (0..=300)
            .rev()
            .find(|i| detail.is_char_boundary(*i))
            .unwrap_or(0);
        detail.truncate(cut);
        detail.push('…');
    }
    if detail.is_empty() {
        format!("the token endpoint answered {status_text}")
    } else {
        format!("the token endpoint answered {status_text}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> IdentitySettings {
        IdentitySettings::default()
    }

    #[test]
    fn error_answers_are_described_by_their_code_and_first_line() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x"}"#;
        assert_eq!(
            describe_answer(StatusCode::from(400), body),
            "the token endpoint answered 400 Bad Request: invalid_client: AADSTS7000215: Invalid client secret provided."
        );
        assert_eq!(
            describe_answer(StatusCode::from(503), b"busy"),
            "the token endpoint answered 503 Service Unavailable"
        );
    }

    #[test]
    fn a_pod_identity_host_that_is_not_a_url_is_refused() {
        let transport = ReqwestTransport::new(reqwest::Client::new(), None);
        let mut s = settings();
        s.pod_identity_authority_host = Some("127.0.0.1:2579".into());
        let spec = AuthSpec::ManagedIdentity { client_id: None };
        let e = Credential::build(&spec, &s, &transport).unwrap_err();
        assert!(e.to_string().contains("is not a URL"), "{e}");
        s.pod_identity_authority_host = Some("http://127.0.0.1:2579".into());
        let built = Credential::build(&spec, &s, &transport).unwrap();
        assert_eq!(
            built.describe(),
            "managed_identity (instance metadata service at http://127.0.0.1:2579, system-assigned)"
        );
    }

    #[test]
    fn a_workload_identity_without_its_file_is_refused_before_any_request() {
        let transport = ReqwestTransport::new(reqwest::Client::new(), None);
        let mut s = settings();
        s.client_id = Some("c".into());
        s.tenant_id = Some("t".into());
        let spec = AuthSpec::WorkloadIdentity {
            client_id: None,
            tenant_id: None,
            token_file: None,
        };
        let e = Credential::build(&spec, &s, &transport).unwrap_err();
        assert!(e.is_permanent());
        assert!(e.to_string().contains("AZURE_FEDERATED_TOKEN_FILE"), "{e}");
        s.federated_token_file = Some("/nonexistent/token".into());
        let e = Credential::build(&spec, &s, &transport).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/token"), "{e}");
    }
}
