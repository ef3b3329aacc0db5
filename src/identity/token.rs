//! What a credential gives (an [`AccessToken`]) or why it gave none (a [`TokenError`]).

use reqwest::header::HeaderValue;
use std::fmt;
use std::time::SystemTime;
use thiserror::Error;

/// An Entra ID access token. Neither `Debug` nor `Display` shows it: only its expiry.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct AccessToken {
    secret: String,
    expires_on: SystemTime,
}

impl AccessToken {
    /// A token `secret` valid until `expires_on`.
    pub(crate) fn new(secret: impl Into<String>, expires_on: SystemTime) -> Self {
        Self {
            secret: secret.into(),
            expires_on,
        }
    }

    /// The token itself: only for an `Authorization` header.
    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }

    /// When it expires.
    pub(crate) fn expires_on(&self) -> SystemTime {
        self.expires_on
    }

    /// The expiry as RFC 3339 UTC (`2026-12-02T07:40:00Z`), for `check --auth` and logs.
    pub(crate) fn expiry_text(&self) -> String {
        chrono::DateTime::<chrono::Utc>::from(self.expires_on)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    /// `Authorization: Bearer …`, marked sensitive (hyper and reqwest leave such values out of
    /// their debug output).
    pub(crate) fn bearer(&self) -> Option<HeaderValue> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.secret())).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}

/// Who a token was issued to, read from its (unverified) claims: for `handler check --auth`, which
/// shows the identity even when the configuration does not name it (a system-assigned identity).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TokenClaims {
    /// `appid` (v1 tokens) or `azp` (v2): the client id.
    pub(crate) client_id: Option<String>,
    /// `oid`: the principal's object id.
    pub(crate) object_id: Option<String>,
    /// `tid`: the tenant.
    pub(crate) tenant_id: Option<String>,
}

impl AccessToken {
    /// The identity claims of a JWT access token; `None` when it is not one (Microsoft documents
    /// access tokens as opaque to clients, so this is only ever shown, never relied on).
    pub(crate) fn claims(&self) -> Option<TokenClaims> {
        use base64::Engine as _;
        let payload = self.secret.split('.').nth(1)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?;
        let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let text = |name: &str| claims.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        Some(TokenClaims {
            client_id: text("appid").or_else(|| text("azp")),
            object_id: text("oid"),
            tenant_id: text("tid"),
        })
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessToken(expires {})", self.expiry_text())
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an access token expiring {}", self.expiry_text())
    }
}

/// No token. Two classes, because the door's answer depends on them: [`TokenError::Unavailable`] a
/// retry may cure (the hook is retried, the invocation answers 500, Event Grid redelivers);
/// [`TokenError::Refused`] it will not (the hook fails permanently, with what to configure).
/// The texts name the credential and the audience and never a token, secret or identity header.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum TokenError {
    /// The token endpoint could not be reached, timed out, or answered 5xx, 429 (or 404/410 from the
    /// instance metadata service, which it documents as transient).
    #[error("{credential} could not get a token for audience `{audience}`: {reason}")]
    Unavailable {
        /// The credential, as [`super::Credential::describe`] says it.
        credential: String,
        /// The audience.
        audience: String,
        /// What happened.
        reason: String,
    },
    /// The endpoint refused (`invalid_client`, an unknown client id, no identity assigned).
    #[error("{credential} was refused a token for audience `{audience}`: {reason}; {remedy}")]
    Refused {
        /// The credential.
        credential: String,
        /// The audience.
        audience: String,
        /// What the endpoint (or the configuration) said.
        reason: String,
        /// What to configure.
        remedy: String,
    },
    /// The credential cannot be built as configured (a missing token file or tenant, an http
    /// authority): found when the hooks are loaded, so `handler check` reports it before deployment.
    #[error("auth type `{credential}` cannot be used: {reason}; {remedy}")]
    Unusable {
        /// The `type` of `auth`.
        credential: String,
        /// What is missing or wrong.
        reason: String,
        /// What to configure.
        remedy: String,
    },
}

impl TokenError {
    /// Whether a retry would meet the same refusal (a permanent hook failure).
    pub(crate) fn is_permanent(&self) -> bool {
        matches!(self, Self::Refused { .. } | Self::Unusable { .. })
    }

    /// The same error with each of `secrets` replaced by `[redacted]` in its reason: the reason
    /// quotes the token endpoint's answer, and nothing says an endpoint never repeats what it was
    /// sent. Some of these errors reach a log line that no hook's redaction passes through (a failed
    /// refresh while the old token is kept).
    pub(crate) fn without(mut self, secrets: &[String]) -> Self {
        let (Self::Unavailable { reason, .. }
        | Self::Refused { reason, .. }
        | Self::Unusable { reason, .. }) = &mut self;
        for secret in secrets {
            if reason.contains(secret.as_str()) {
                *reason = reason.replace(secret.as_str(), "[redacted]");
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn a_token_never_shows_itself() {
        let token = AccessToken::new(
            "eyJ-secret-token",
            UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        );
        for shown in [format!("{token:?}"), token.to_string()] {
            assert!(!shown.contains("eyJ"), "{shown}");
            assert!(shown.contains("2027-01-15T08:00:00Z"), "{shown}");
        }
        let header = token.bearer().unwrap();
        assert!(header.is_sensitive());
        assert!(!format!("{header:?}").contains("eyJ"));
    }
}

#[cfg(test)]
mod claims_tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn the_identity_is_read_from_a_jwt_and_nothing_from_an_opaque_token() {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let token = format!(
            "{}.{}.sig",
            b64(r#"{"typ":"JWT"}"#),
            b64(r#"{"appid":"c1","oid":"o1","tid":"t1"}"#)
        );
        let claims = AccessToken::new(token, SystemTime::now()).claims().unwrap();
        assert_eq!(claims.client_id.as_deref(), Some("c1"));
        assert_eq!(claims.object_id.as_deref(), Some("o1"));
        assert_eq!(claims.tenant_id.as_deref(), Some("t1"));
        assert_eq!(AccessToken::new("opaque", SystemTime::now()).claims(), None);
    }
}
