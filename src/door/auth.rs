//! Authentication of the webhook door: shared keys and Microsoft Entra ID bearer tokens.
//!
//! Event Grid can prove itself to a webhook with a secret in the URL's query (`?code=`), a custom
//! delivery header (`x-aml-events-key`), or an Entra ID token for an app role. Keys are compared in
//! constant time and several may be valid at once (rotation). Tokens are RS256 JWTs checked against the
//! tenant's signing keys (fetched once, then refreshed at most every five minutes when an unknown key
//! id appears) for signature, `aud`, `iss`, `exp`, `nbf` and the `AzureEventGridSecureWebhookSubscriber`
//! role; keys are also refetched at least daily, so withdrawn keys stop working. When the signing keys
//! cannot be fetched the answer is 503, not 401: Event Grid retries a 503 but drops a 401. The
//! verification uses `ring` directly, the crypto rustls already links.

use base64::Engine as _;
use serde::Deserialize;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq;
use tokio::sync::RwLock;

/// The app role Event Grid's service principal is given (Azure's secure webhook script).
pub const EVENT_GRID_ROLE: &str = "AzureEventGridSecureWebhookSubscriber";
/// Clock skew tolerated for `exp` and `nbf`.
const LEEWAY_SECS: u64 = 300;
/// Unknown key ids trigger a JWKS refresh at most this often.
const JWKS_REFRESH: Duration = Duration::from_secs(300);

/// Keys are refetched at least this often, so a key the tenant withdrew stops being trusted.
const JWKS_MAX_AGE: Duration = Duration::from_secs(86_400);
/// After a failed fetch, requests are answered "unavailable" for this long before fetching again.
const JWKS_FAILURE_BACKOFF: Duration = Duration::from_secs(30);

/// Why a request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The credentials are missing or wrong: 401.
    Refused(String),
    /// The credentials cannot be checked right now (signing keys unreachable): 503, so Event Grid retries.
    Unavailable(String),
}

fn refused(reason: impl Into<String>) -> AuthError {
    AuthError::Refused(reason.into())
}

/// Shared keys (`AML_EVENTS_WEBHOOK_KEY`, comma-separated).
#[derive(Clone, Default)]
pub struct Keys(Vec<Vec<u8>>);

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys({} configured)", self.0.len())
    }
}

impl Keys {
    /// Keys from a comma-separated list; blanks are ignored.
    pub fn parse(list: &str) -> Self {
        Self(
            list.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(|k| k.as_bytes().to_vec())
                .collect(),
        )
    }

    /// Whether any key is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Checks a presented key. Every configured key is compared (in constant time for equal lengths),
    /// so the time taken does not say which key, or how much of one, matched.
    pub fn check(&self, presented: Option<&str>) -> Result<(), AuthError> {
        let Some(presented) = presented else {
            return Err(refused("missing key: pass it in the `code` query parameter or the `x-aml-events-key` header"));
        };
        let mut ok = subtle::Choice::from(0u8);
        for key in &self.0 {
            let same_len = key.len() == presented.len();
            let eq = if same_len {
                key.as_slice().ct_eq(presented.as_bytes())
            } else {
                // Keep the work the same; the result is discarded.
                key.as_slice().ct_eq(key.as_slice()) & subtle::Choice::from(0u8)
            };
            ok |= eq;
        }
        if bool::from(ok) {
            Ok(())
        } else {
            Err(refused("wrong key"))
        }
    }
}

/// Entra ID token validation settings.
#[derive(Debug)]
pub struct Entra {
    audience: String,
    issuers: Vec<String>,
    jwks_url: String,
    client: reqwest::Client,
    cache: RwLock<JwksCache>,
}

#[derive(Debug, Default)]
struct JwksCache {
    keys: HashMap<String, ring::signature::RsaPublicKeyComponents<Vec<u8>>>,
    fetched: Option<tokio::time::Instant>,
    failed: Option<tokio::time::Instant>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kid: Option<String>,
    kty: String,
    n: Option<String>,
    e: Option<String>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    aud: Option<serde_json::Value>,
    iss: Option<String>,
    exp: Option<u64>,
    nbf: Option<u64>,
    #[serde(default)]
    roles: Vec<String>,
}

fn b64(part: &str) -> Result<Vec<u8>, AuthError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| refused("malformed token: bad base64url"))
}

impl Entra {
    /// Validation for tokens issued by `tenant` (its id, a GUID: token issuers carry the id) for
    /// `audience` (the app id or App ID URI). `jwks_url` overrides the tenant's key address and `issuers`
    /// the accepted issuers (both for sovereign clouds and tests).
    pub fn new(
        audience: String,
        tenant: String,
        jwks_url: Option<String>,
        issuers: Option<Vec<String>>,
    ) -> Result<Self, String> {
        let jwks_url = jwks_url.unwrap_or_else(|| {
            format!("https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys")
        });
        let issuers = issuers.unwrap_or_else(|| {
            vec![
                format!("https://login.microsoftonline.com/{tenant}/v2.0"),
                format!("https://sts.windows.net/{tenant}/"),
            ]
        });
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot create the HTTP client for the Entra ID keys: {e}"))?;
        Ok(Self {
            audience,
            issuers,
            jwks_url,
            client,
            cache: RwLock::new(JwksCache::default()),
        })
    }

    /// Validates an `Authorization` header value.
    pub async fn check(&self, authorization: Option<&str>) -> Result<(), AuthError> {
        let header = authorization.ok_or_else(|| refused("missing bearer token"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| refused("the Authorization header is not a bearer token"))?
            .trim();
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(refused("malformed token: expected three parts"));
        };
        let header: Header =
            serde_json::from_slice(&b64(h)?).map_err(|_| refused("malformed token: bad header"))?;
        // Only RS256: this refuses `none`, HS256 with the public key as secret, and everything else.
        if header.alg != "RS256" {
            return Err(refused(format!(
                "token algorithm `{}` is not accepted (RS256 only)",
                header.alg
            )));
        }
        let kid = header.kid.ok_or_else(|| refused("token has no key id"))?;
        let key = self.key(&kid).await?;
        let signature = b64(s)?;
        let signed = &token[..h.len() + 1 + p.len()];
        key.verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            signed.as_bytes(),
            &signature,
        )
        .map_err(|_| refused("token signature is not valid"))?;

        let claims: Claims =
            serde_json::from_slice(&b64(p)?).map_err(|_| refused("malformed token: bad claims"))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        match claims.exp {
            Some(exp) if now <= exp + LEEWAY_SECS => {}
            Some(_) => return Err(refused("token expired")),
            None => return Err(refused("token has no expiry")),
        }
        if claims.nbf.is_some_and(|nbf| now + LEEWAY_SECS < nbf) {
            return Err(refused("token not valid yet"));
        }
        let audience_ok = match &claims.aud {
            Some(serde_json::Value::String(aud)) => *aud == self.audience,
            Some(serde_json::Value::Array(auds)) => auds
                .iter()
                .any(|a| a.as_str() == Some(self.audience.as_str())),
            _ => false,
        };
        if !audience_ok {
            return Err(refused("token audience is not this application"));
        }
        if !claims
            .iss
            .as_ref()
            .is_some_and(|iss| self.issuers.contains(iss))
        {
            return Err(refused("token issuer is not the configured tenant"));
        }
        if !claims.roles.iter().any(|r| r == EVENT_GRID_ROLE) {
            return Err(refused(format!("token lacks the `{EVENT_GRID_ROLE}` role")));
        }
        Ok(())
    }

    async fn key(
        &self,
        kid: &str,
    ) -> Result<ring::signature::RsaPublicKeyComponents<Vec<u8>>, AuthError> {
        let recent = |at: Option<tokio::time::Instant>, within: Duration| {
            at.is_some_and(|t| t.elapsed() < within)
        };
        {
            let cache = self.cache.read().await;
            let fresh = recent(cache.fetched, JWKS_MAX_AGE);
            if let (Some(key), true) = (cache.keys.get(kid), fresh) {
                return Ok(key.clone());
            }
            if recent(cache.failed, JWKS_FAILURE_BACKOFF) {
                // Keep trusting the last good keys while the tenant's endpoint is unreachable.
                return match cache.keys.get(kid) {
                    Some(key) => Ok(key.clone()),
                    None => Err(AuthError::Unavailable("signing keys unavailable".into())),
                };
            }
            if fresh && recent(cache.fetched, JWKS_REFRESH) {
                return Err(refused("token signed with an unknown key"));
            }
        }
        let mut cache = self.cache.write().await;
        // Another request may have refreshed (or failed) while this one waited for the lock.
        if !recent(cache.fetched, JWKS_REFRESH) && !recent(cache.failed, JWKS_FAILURE_BACKOFF) {
            match self.fetch().await {
                Ok(keys) => {
                    cache.keys = keys;
                    cache.fetched = Some(tokio::time::Instant::now());
                    cache.failed = None;
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot fetch the Entra ID signing keys");
                    cache.failed = Some(tokio::time::Instant::now());
                }
            }
        }
        match cache.keys.get(kid) {
            Some(key) => Ok(key.clone()),
            None if recent(cache.failed, JWKS_FAILURE_BACKOFF) => {
                Err(AuthError::Unavailable("signing keys unavailable".into()))
            }
            None => Err(refused("token signed with an unknown key")),
        }
    }

    async fn fetch(
        &self,
    ) -> Result<HashMap<String, ring::signature::RsaPublicKeyComponents<Vec<u8>>>, String> {
        let jwks: Jwks = self
            .client
            .get(&self.jwks_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| e.without_url().to_string())?
            .json()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let mut keys = HashMap::new();
        for jwk in jwks.keys {
            if let (Some(kid), "RSA", Some(n), Some(e)) = (jwk.kid, jwk.kty.as_str(), jwk.n, jwk.e)
            {
                if let (Ok(n), Ok(e)) = (b64(&n), b64(&e)) {
                    keys.insert(kid, ring::signature::RsaPublicKeyComponents { n, e });
                }
            }
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_configured_key_is_accepted() {
        let keys = Keys::parse("old-key-1234, new-key-5678,");
        assert!(keys.check(Some("old-key-1234")).is_ok());
        assert!(keys.check(Some("new-key-5678")).is_ok());
        assert_eq!(keys.check(Some("new-key-567")), Err(refused("wrong key")));
        assert!(
            matches!(keys.check(None), Err(AuthError::Refused(m)) if m.contains("missing key"))
        );
        assert!(Keys::parse(" , ").is_empty());
    }
}
