//! [`Credentials`]: one credential per distinct `auth`, shared by every hook and event, with a token
//! per (credential, audience) kept until shortly before it expires.
//!
//! `azure_identity` caches tokens too, but it holds a write lock while it refreshes (so callers wait
//! even while the old token is still good) and returns the error when a refresh fails, where
//! azure-identity (Python) and MSAL keep serving the still-valid token. So each (credential,
//! audience) has a slot here: a token more than [`REFRESH_MARGIN`] from expiry is served at once; a
//! token within the margin is served while one caller refreshes it; a failed refresh is retried no
//! sooner than [`REFRESH_RETRY_DELAY`] later, and only an expired token makes callers wait, for one
//! request whose result (token or error) they all share.

use super::credential::Credential;
use super::spec::{AuthConfig, AuthSpec};
use super::token::{AccessToken, TokenError};
use super::transport::ReqwestTransport;
use crate::settings::IdentitySettings;
use reqwest::Url;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// azure-identity's `DEFAULT_REFRESH_OFFSET`: a token this close to expiry is refreshed.
pub(crate) const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// azure-identity's `DEFAULT_TOKEN_REFRESH_RETRY_DELAY`: after a failed refresh, how long the old
/// token is served before the next attempt.
pub(crate) const REFRESH_RETRY_DELAY: Duration = Duration::from_secs(30);
/// A token is not handed out in its last seconds: a request may take that long to arrive.
const MIN_VALIDITY: Duration = Duration::from_secs(10);

/// The credentials of a configuration, built once when the dispatcher is.
#[derive(Debug)]
pub(crate) struct Credentials {
    settings: IdentitySettings,
    transport: ReqwestTransport,
    built: Mutex<Built>,
}

/// The credentials built so far and their token slots.
#[derive(Debug, Default)]
struct Built {
    credentials: HashMap<AuthSpec, Arc<Credential>>,
    slots: HashMap<(AuthSpec, String), Arc<Slot>>,
}

impl Credentials {
    /// A registry whose credentials send with `client` and read their defaults from `settings`.
    pub(crate) fn new(settings: IdentitySettings, client: reqwest::Client) -> Self {
        let imds_authority = settings
            .pod_identity_authority_host
            .as_deref()
            .and_then(|host| Url::parse(host.trim_end_matches('/')).ok());
        Self {
            transport: ReqwestTransport::new(client, imds_authority),
            settings,
            built: Mutex::new(Built::default()),
        }
    }

    /// The handle a hook keeps: the credential of `config.spec` (built on first use, shared after)
    /// and a token slot for `config.audience`. Fails when the credential cannot be built.
    pub(crate) fn handle(&self, config: &AuthConfig) -> Result<HookAuth, TokenError> {
        let mut built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        let credential = match built.credentials.get(&config.spec) {
            Some(credential) => credential.clone(),
            None => {
                let credential = Arc::new(Credential::build(
                    &config.spec,
                    &self.settings,
                    &self.transport,
                )?);
                built
                    .credentials
                    .insert(config.spec.clone(), credential.clone());
                credential
            }
        };
        let slot = built
            .slots
            .entry((config.spec.clone(), config.audience.clone()))
            .or_default()
            .clone();
        Ok(HookAuth {
            slot,
            credential,
            audience: config.audience.clone(),
        })
    }
}

/// What a hook with `auth` holds: cheap to clone, shared with every hook of the same credential
/// and audience.
#[derive(Debug, Clone)]
pub(crate) struct HookAuth {
    credential: Arc<Credential>,
    slot: Arc<Slot>,
    audience: String,
}

impl HookAuth {
    /// The audience its tokens are for.
    pub(crate) fn audience(&self) -> &str {
        &self.audience
    }

    /// The credential, for messages and `check --auth`.
    pub(crate) fn credential(&self) -> &Credential {
        &self.credential
    }

    /// A token, from the slot or one request, within `limit` (a timeout is
    /// [`TokenError::Unavailable`]).
    pub(crate) async fn token(&self, limit: Duration) -> Result<AccessToken, TokenError> {
        match tokio::time::timeout(limit, self.slot.token(&self.credential, &self.audience)).await {
            Ok(result) => result,
            Err(_) => Err(TokenError::Unavailable {
                credential: self.credential.describe().to_owned(),
                audience: self.audience.clone(),
                reason: format!("no answer within {} ms", limit.as_millis()),
            }),
        }
    }
}

/// One (credential, audience): the current token and the single request in flight.
#[derive(Debug, Default)]
struct Slot {
    current: Mutex<Option<AccessToken>>,
    /// Held while a request is in flight; records how the last one failed, and when.
    refresh: tokio::sync::Mutex<Option<(Instant, TokenError)>>,
}

impl Slot {
    fn cached(&self) -> Option<AccessToken> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn token(
        &self,
        credential: &Credential,
        audience: &str,
    ) -> Result<AccessToken, TokenError> {
        let now = SystemTime::now();
        let cached = self.cached().filter(|t| lasts(t, now, MIN_VALIDITY));
        if let Some(token) = &cached {
            if lasts(token, now, REFRESH_MARGIN) {
                return Ok(token.clone());
            }
            // Within the margin but valid: refresh unless someone is, or a refresh just failed.
            let Ok(mut last_failure) = self.refresh.try_lock() else {
                return Ok(token.clone());
            };
            if last_failure
                .as_ref()
                .is_some_and(|(at, _)| at.elapsed() < REFRESH_RETRY_DELAY)
            {
                return Ok(token.clone());
            }
            return match self.fetch(credential, audience, &mut last_failure).await {
                Ok(fresh) => Ok(fresh),
                Err(e) => {
                    tracing::warn!(audience, "{e}; the current token is used until it expires");
                    Ok(token.clone())
                }
            };
        }
        let asked = Instant::now();
        let mut last_failure = self.refresh.lock().await;
        // Another caller's request may have ended while this one waited: share its result.
        if let Some(token) = self
            .cached()
            .filter(|t| lasts(t, SystemTime::now(), MIN_VALIDITY))
        {
            return Ok(token);
        }
        if let Some((at, error)) = last_failure.as_ref() {
            if *at >= asked {
                return Err(error.clone());
            }
        }
        self.fetch(credential, audience, &mut last_failure).await
    }

    async fn fetch(
        &self,
        credential: &Credential,
        audience: &str,
        last_failure: &mut Option<(Instant, TokenError)>,
    ) -> Result<AccessToken, TokenError> {
        match credential.fetch(audience).await {
            Ok(token) => {
                *last_failure = None;
                *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(token.clone());
                Ok(token)
            }
            Err(e) => {
                *last_failure = Some((Instant::now(), e.clone()));
                Err(e)
            }
        }
    }
}

/// Whether `token` is still valid `margin` after `now`.
fn lasts(token: &AccessToken, now: SystemTime, margin: Duration) -> bool {
    token
        .expires_on()
        .duration_since(now)
        .is_ok_and(|left| left > margin)
}
