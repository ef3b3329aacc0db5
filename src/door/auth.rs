//! Authentication of the webhook door: shared keys and Microsoft Entra ID bearer tokens.
//!
//! Event Grid can prove itself to a webhook with a secret in the URL's query (`?code=`), a custom
//! delivery header (`x-aml-events-key`), or an Entra ID token for an app role. Keys are compared in
//! constant time and several may be valid at once (rotation). Tokens are RS256 JWTs checked against the
//! tenant's signing keys (fetched once, then refreshed at most every five minutes when an unknown key
//! id appears) for signature, `aud`, `iss`, `exp`, `nbf` and the `AzureEventGridSecureWebhookSubscriber`
//! role; keys are also refetched at least daily, so withdrawn keys stop working. When the signing keys
//! cannot be fetched the answer is 503, not 401: Event Grid retries a 503 but drops a 401.
//!
//! `jsonwebtoken` parses the token and checks its claims; the signature is checked with `ring`, the
//! crypto rustls already links, through a small crypto provider (`ring_jwt`) instead of either of
//! the crate's own (why: there).

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
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
/// The largest key set read (Entra ID's is about 10 KiB).
const JWKS_MAX_BYTES: u64 = 1 << 20;
/// The most keys a key set may hold (Entra ID publishes under 10).
const JWKS_MAX_KEYS: usize = 100;

/// Why a request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The credentials are missing or wrong: 401.
    #[error("{0}")]
    Refused(String),
    /// The credentials cannot be checked right now (signing keys unreachable): 503, so Event Grid retries.
    #[error("{0}")]
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

/// Why the Entra ID validation could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum EntraError {
    /// The signing keys' address is not a URL.
    #[error("the Entra ID signing keys' address {url:?} is not a URL: {source}")]
    JwksUrl {
        /// The address given.
        url: String,
        /// Why it does not parse.
        source: url::ParseError,
    },
    /// The signing keys would be fetched without TLS from another machine.
    #[error(
        "the Entra ID signing keys' address {0:?} must use https (http only on a loopback address)"
    )]
    InsecureJwksUrl(String),
    /// The HTTP client cannot be built (TLS setup).
    #[error("cannot create the HTTP client for the Entra ID keys: {0}")]
    Client(#[source] reqwest::Error),
}

/// Why the signing keys could not be fetched (logged; requests are answered 503 meanwhile).
#[derive(Debug, thiserror::Error)]
enum JwksError {
    #[error("{0}")]
    Http(#[source] reqwest::Error),
    #[error("the key set is over {JWKS_MAX_BYTES} bytes")]
    TooLarge,
    #[error("the key set is not JSON of the JWKS shape: {0}")]
    Json(#[source] serde_json::Error),
    #[error("the key set has {0} keys, more than {JWKS_MAX_KEYS}")]
    TooManyKeys(usize),
}

/// Entra ID token validation settings.
#[derive(Debug)]
pub struct Entra {
    validation: Validation,
    jwks_url: String,
    client: reqwest::Client,
    cache: RwLock<JwksCache>,
}

#[derive(Debug, Default)]
struct JwksCache {
    keys: HashMap<String, Arc<DecodingKey>>,
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

/// The claims checked here; jsonwebtoken checks `exp`, `nbf`, `aud` and `iss`.
#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    roles: Vec<String>,
    /// Only read so that an `iss` that is not one string (jsonwebtoken would take an array with the
    /// configured issuer among others) is refused, as RFC 7519 has it.
    #[serde(default, rename = "iss")]
    _iss: Option<String>,
}

impl Entra {
    /// Validation for tokens issued by `tenant` (its id, a GUID: token issuers carry the id) for
    /// `audience` (the app id or App ID URI). `jwks_url` overrides the tenant's key address and `issuers`
    /// the accepted issuers (both for sovereign clouds and tests); the address must be https, except on
    /// a loopback address.
    pub fn new(
        audience: String,
        tenant: String,
        jwks_url: Option<String>,
        issuers: Option<Vec<String>>,
    ) -> Result<Self, EntraError> {
        ring_jwt::install();
        let jwks_url = jwks_url.unwrap_or_else(|| {
            format!("https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys")
        });
        check_jwks_url(&jwks_url)?;
        let issuers = issuers.unwrap_or_else(|| {
            vec![
                format!("https://login.microsoftonline.com/{tenant}/v2.0"),
                format!("https://sts.windows.net/{tenant}/"),
            ]
        });
        // Only RS256: this refuses `none`, HS256 with the public key as secret, and everything else.
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_audience(&[audience]);
        validation.set_issuer(&issuers);
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(EntraError::Client)?;
        Ok(Self {
            validation,
            jwks_url,
            client,
            cache: RwLock::new(JwksCache::default()),
        })
    }

    /// Validates an `Authorization` header value.
    pub async fn check(&self, authorization: Option<&str>) -> Result<(), AuthError> {
        let header = authorization.ok_or_else(|| refused("missing bearer token"))?;
        let token = bearer_token(header)?;
        let head = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
                refused("malformed token: bad header, or an algorithm other than RS256")
            }
            _ => malformed(&e),
        })?;
        if head.alg != Algorithm::RS256 {
            return Err(refused(format!(
                "token algorithm `{:?}` is not accepted (RS256 only)",
                head.alg
            )));
        }
        let kid = head.kid.ok_or_else(|| refused("token has no key id"))?;
        let key = self.key(&kid).await?;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map_err(|e| refusal(&e))?
            .claims;
        if !claims.roles.iter().any(|r| r == EVENT_GRID_ROLE) {
            return Err(refused(format!("token lacks the `{EVENT_GRID_ROLE}` role")));
        }
        Ok(())
    }

    async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, AuthError> {
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

    /// Downloads the key set: at most [`JWKS_MAX_BYTES`] and [`JWKS_MAX_KEYS`] keys, so that a wrong
    /// address cannot make every instance buffer and parse an unbounded answer. Only RSA keys with an
    /// id are kept.
    async fn fetch(&self) -> Result<HashMap<String, Arc<DecodingKey>>, JwksError> {
        let http = |e: reqwest::Error| JwksError::Http(e.without_url());
        let mut response = self
            .client
            .get(&self.jwks_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(http)?;
        if response
            .content_length()
            .is_some_and(|n| n > JWKS_MAX_BYTES)
        {
            return Err(JwksError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(piece) = response.chunk().await.map_err(http)? {
            if (body.len() + piece.len()) as u64 > JWKS_MAX_BYTES {
                return Err(JwksError::TooLarge);
            }
            body.extend_from_slice(&piece);
        }
        let jwks: Jwks = serde_json::from_slice(&body).map_err(JwksError::Json)?;
        if jwks.keys.len() > JWKS_MAX_KEYS {
            return Err(JwksError::TooManyKeys(jwks.keys.len()));
        }
        let mut keys = HashMap::new();
        for jwk in jwks.keys {
            if let (Some(kid), "RSA", Some(n), Some(e)) = (jwk.kid, jwk.kty.as_str(), jwk.n, jwk.e)
            {
                let unpadded = |s: &str| s.trim_end_matches('=').to_owned();
                if let Ok(key) = DecodingKey::from_rsa_components(&unpadded(&n), &unpadded(&e)) {
                    keys.insert(kid, Arc::new(key));
                }
            }
        }
        Ok(keys)
    }
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive
/// (RFC 9110, section 11.1).
fn bearer_token(header: &str) -> Result<&str, AuthError> {
    match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(token.trim()),
        _ => Err(refused("the Authorization header is not a bearer token")),
    }
}

/// https, or http to a loopback IP address (tests, a local proxy): the keys decide whom to trust.
fn check_jwks_url(url: &str) -> Result<(), EntraError> {
    let parsed = url::Url::parse(url).map_err(|source| EntraError::JwksUrl {
        url: url.to_owned(),
        source,
    })?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(_)) | None => false,
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(EntraError::InsecureJwksUrl(url.to_owned())),
    }
}

/// A token that is not a well-formed JWS.
fn malformed(error: &jsonwebtoken::errors::Error) -> AuthError {
    match error.kind() {
        ErrorKind::Base64(_) => refused("malformed token: bad base64url"),
        ErrorKind::InvalidToken => refused("malformed token: expected three parts"),
        _ => refused(format!("malformed token: {error}")),
    }
}

/// jsonwebtoken's verdict on a token's signature and claims, in this door's words.
fn refusal(error: &jsonwebtoken::errors::Error) -> AuthError {
    const AUDIENCE: &str = "token audience is not this application";
    const ISSUER: &str = "token issuer is not the configured tenant";
    match error.kind() {
        ErrorKind::InvalidSignature => refused("token signature is not valid"),
        ErrorKind::ExpiredSignature => refused("token expired"),
        ErrorKind::ImmatureSignature => refused("token not valid yet"),
        ErrorKind::InvalidAudience => refused(AUDIENCE),
        ErrorKind::InvalidIssuer => refused(ISSUER),
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "exp" => refused("token has no expiry"),
            "aud" => refused(AUDIENCE),
            "iss" => refused(ISSUER),
            other => refused(format!("token has no `{other}` claim")),
        },
        ErrorKind::InvalidClaimFormat(claim) => {
            refused(format!("malformed token: bad `{claim}` claim"))
        }
        ErrorKind::Json(_) | ErrorKind::Utf8(_) => refused("malformed token: bad claims"),
        _ => malformed(error),
    }
}

mod ring_jwt;

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

    fn entra(jwks_url: &str) -> Entra {
        Entra::new(
            "api://aml-events".into(),
            "tenant".into(),
            Some(jwks_url.into()),
            None,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn the_bearer_scheme_is_case_insensitive() {
        // Nothing listens there: these tokens are refused before any key is needed.
        let entra = entra("http://127.0.0.1:9/keys");
        for header in [
            "BEARER a.b.c",
            "bearer a.b.c",
            "Bearer   a.b.c",
            "bEaReR a.b.c",
        ] {
            let answer = entra.check(Some(header)).await;
            assert!(
                matches!(&answer, Err(AuthError::Refused(m)) if m.starts_with("malformed token")),
                "{header}: {answer:?}"
            );
        }
        for header in ["Basic a.b.c", "Bearera.b.c", "Bearer", ""] {
            assert_eq!(
                entra.check(Some(header)).await,
                Err(refused("the Authorization header is not a bearer token")),
                "{header}"
            );
        }
    }

    #[test]
    fn the_key_address_must_be_https_except_on_loopback() {
        let new = |url: &str| {
            Entra::new(
                "api://aml-events".into(),
                "tenant".into(),
                Some(url.into()),
                None,
            )
        };
        for url in [
            "https://login.microsoftonline.com/tenant/discovery/v2.0/keys",
            "http://127.0.0.1:8080/keys",
            "http://127.1.2.3/keys",
            "http://[::1]:8080/keys",
        ] {
            assert!(new(url).is_ok(), "{url}");
        }
        for url in [
            "http://login.microsoftonline.com/tenant/discovery/v2.0/keys",
            "http://localhost/keys",
            "http://10.0.0.1/keys",
            "ftp://127.0.0.1/keys",
            "not a url",
        ] {
            assert!(new(url).is_err(), "{url}");
        }
        let default = Entra::new("api://aml-events".into(), "tenant".into(), None, None);
        assert!(default.is_ok());
    }
}
