//! `auth = { type = "..." }` of a hook: which credential, as `hooks.toml` names it.

use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;

/// A hook's `auth` table. Unset optional fields take their defaults from the environment when the
/// credential is built, as azure-identity does (`AZURE_CLIENT_ID`, `AZURE_TENANT_ID`,
/// `AZURE_FEDERATED_TOKEN_FILE`). After validation every `${env:...}` in it is resolved.
///
/// Equal specs share one credential (and so one token cache) across hooks: it is the registry's key.
#[derive(Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum AuthSpec {
    /// The resource's managed identity: the App Service endpoint when `IDENTITY_ENDPOINT` and
    /// `IDENTITY_HEADER` are set, else workload identity when its variables are (as
    /// azure-identity's `ManagedIdentityCredential`), else the instance metadata service.
    ManagedIdentity {
        /// A user-assigned identity's client id; `None`: the system-assigned identity.
        #[serde(default)]
        client_id: Option<String>,
    },
    /// Workload identity federation: a projected token file exchanged at Entra ID.
    WorkloadIdentity {
        /// Default `AZURE_CLIENT_ID`.
        #[serde(default)]
        client_id: Option<String>,
        /// Default `AZURE_TENANT_ID`.
        #[serde(default)]
        tenant_id: Option<String>,
        /// Default `AZURE_FEDERATED_TOKEN_FILE`.
        #[serde(default)]
        token_file: Option<PathBuf>,
    },
    /// A service principal's client secret.
    ClientSecret {
        /// The tenant (directory) id.
        tenant_id: String,
        /// The application (client) id.
        client_id: String,
        /// The secret (write `${env:NAME}`; never shown).
        secret: String,
    },
    /// The first configured of: an environment client secret (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
    /// `AZURE_CLIENT_SECRET`), workload identity (`AZURE_AUTHORITY_HOST`, `AZURE_TENANT_ID`,
    /// `AZURE_FEDERATED_TOKEN_FILE`), managed identity (`AZURE_CLIENT_ID` as its client id):
    /// azure-identity's `DefaultAzureCredential` order, without the developer tools.
    Default,
}

impl AuthSpec {
    /// The `type` as written in `hooks.toml`.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Self::ManagedIdentity { .. } => "managed_identity",
            Self::WorkloadIdentity { .. } => "workload_identity",
            Self::ClientSecret { .. } => "client_secret",
            Self::Default => "default",
        }
    }

    /// Every text field, mutably: validation resolves `${env:...}` in each (`key` names it).
    pub(crate) fn fields_mut(&mut self) -> Vec<(&'static str, &mut String)> {
        let mut fields: Vec<(&'static str, &mut String)> = Vec::new();
        match self {
            Self::ManagedIdentity { client_id } => {
                fields.extend(client_id.as_mut().map(|v| ("client_id", v)))
            }
            Self::WorkloadIdentity {
                client_id,
                tenant_id,
                token_file: _,
            } => {
                fields.extend(client_id.as_mut().map(|v| ("client_id", v)));
                fields.extend(tenant_id.as_mut().map(|v| ("tenant_id", v)));
            }
            Self::ClientSecret {
                tenant_id,
                client_id,
                secret,
            } => {
                fields.push(("tenant_id", tenant_id));
                fields.push(("client_id", client_id));
                fields.push(("secret", secret));
            }
            Self::Default => {}
        }
        fields
    }

    /// The token file path, for `${env:...}` resolution (a path, not a string field).
    pub(crate) fn token_file_mut(&mut self) -> Option<&mut PathBuf> {
        match self {
            Self::WorkloadIdentity { token_file, .. } => token_file.as_mut(),
            _ => None,
        }
    }

    /// The secret value written in the file, if any: validation adds it to the redacted values.
    pub(crate) fn secret(&self) -> Option<&str> {
        match self {
            Self::ClientSecret { secret, .. } => Some(secret),
            _ => None,
        }
    }
}

/// Never shows the client secret.
impl fmt::Debug for AuthSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ManagedIdentity { client_id } => f
                .debug_struct("ManagedIdentity")
                .field("client_id", client_id)
                .finish(),
            Self::WorkloadIdentity {
                client_id,
                tenant_id,
                token_file,
            } => f
                .debug_struct("WorkloadIdentity")
                .field("client_id", client_id)
                .field("tenant_id", tenant_id)
                .field("token_file", token_file)
                .finish(),
            Self::ClientSecret {
                tenant_id,
                client_id,
                ..
            } => f
                .debug_struct("ClientSecret")
                .field("tenant_id", tenant_id)
                .field("client_id", client_id)
                .field("secret", &"[redacted]")
                .finish(),
            Self::Default => f.write_str("Default"),
        }
    }
}

/// A hook's `auth` with the audience its tokens are for (`resource`, or the one its action implies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthConfig {
    /// The credential.
    pub(crate) spec: AuthSpec,
    /// The audience (resource) the token is for, e.g. [`super::ARM`].
    pub(crate) audience: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AuthSpec, toml::de::Error> {
        #[derive(Deserialize)]
        struct Wrapper {
            auth: AuthSpec,
        }
        toml::from_str::<Wrapper>(text).map(|w| w.auth)
    }

    #[test]
    fn the_issue_examples_parse() {
        assert_eq!(
            parse(r#"auth = { type = "managed_identity" }"#).unwrap(),
            AuthSpec::ManagedIdentity { client_id: None }
        );
        assert_eq!(
            parse(r#"auth = { type = "managed_identity", client_id = "${env:AZURE_CLIENT_ID}" }"#)
                .unwrap(),
            AuthSpec::ManagedIdentity {
                client_id: Some("${env:AZURE_CLIENT_ID}".into())
            }
        );
        assert_eq!(
            parse(r#"auth = { type = "workload_identity" }"#).unwrap(),
            AuthSpec::WorkloadIdentity {
                client_id: None,
                tenant_id: None,
                token_file: None
            }
        );
        let secret = parse(
            r#"auth = { type = "client_secret", tenant_id = "t", client_id = "c", secret = "${env:AML_SP_SECRET}" }"#,
        )
        .unwrap();
        assert_eq!(secret.type_name(), "client_secret");
        assert!(!format!("{secret:?}").contains("AML_SP_SECRET"));
        assert_eq!(
            parse(r#"auth = { type = "default" }"#).unwrap(),
            AuthSpec::Default
        );
    }

    #[test]
    fn unknown_types_and_keys_are_refused() {
        let e = parse(r#"auth = { type = "certificate" }"#).unwrap_err();
        assert!(e.message().contains("certificate"), "{e}");
        let e = parse(r#"auth = { type = "managed_identity", object_id = "x" }"#).unwrap_err();
        assert!(e.message().contains("object_id"), "{e}");
        let e = parse(r#"auth = { type = "client_secret", tenant_id = "t" }"#).unwrap_err();
        assert!(e.message().contains("client_id"), "{e}");
    }
}
