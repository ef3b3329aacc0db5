//! From a validated [`HooksConfig`] to the runtime [`Dispatcher`]: the HTTP client (only when a hook
//! sends HTTP), the credentials of hooks with `auth`, and the dedupe store. The only part of
//! `config` that creates anything that connects.

use super::{ConfigError, DedupeSetting, HooksConfig};
use crate::hooks::dedupe::{DedupeStore, MemoryStore};
use crate::hooks::delivery::Transport;
use crate::hooks::{Dispatcher, Hook};
use crate::identity::{AuthConfig, Credentials, HookAuth, TokenError};
use std::sync::Arc;

impl HooksConfig {
    /// Builds the dispatcher: these hooks (HTTP ones sending with reqwest), the dedupe store, deadline
    /// and TTL.
    pub fn dispatcher(&self) -> Result<Dispatcher, ConfigError> {
        // Only configurations that send HTTP get a client: building one loads the TLS roots, which
        // is most of a log-only handler's start-up time and memory.
        if !self.sends_http() {
            return self.build(None, None);
        }
        let client = self.http_client()?;
        let credentials = self.credentials(&client)?;
        self.build(Some(Arc::new(client) as Arc<dyn Transport>), credentials)
    }

    /// [`HooksConfig::dispatcher`] with HTTP hooks sending through `transport` instead of reqwest:
    /// tests deliver in process, under paused time.
    pub fn dispatcher_with(
        &self,
        transport: Arc<dyn Transport>,
    ) -> Result<Dispatcher, ConfigError> {
        // Token requests still go over real HTTP: tests point them at a local token service.
        let credentials = match self.hooks.iter().any(|h| h.auth.is_some()) {
            true => self.credentials(&self.http_client()?)?,
            false => None,
        };
        self.build(Some(transport), credentials)
    }

    /// One credential handle per distinct (credential, audience) of the hooks with `auth`, with the
    /// names of the hooks that use it: what `handler check --auth` asks for a token.
    pub(crate) fn token_checks(&self) -> Result<Vec<(Vec<String>, HookAuth)>, ConfigError> {
        let Some(credentials) = self.credentials(&self.http_client()?)? else {
            return Ok(Vec::new());
        };
        let mut checks: Vec<(&AuthConfig, Vec<String>, HookAuth)> = Vec::new();
        for hook in &self.hooks {
            let Some(auth) = &hook.auth else { continue };
            if let Some((_, names, _)) = checks.iter_mut().find(|(seen, _, _)| *seen == auth) {
                names.push(hook.name.clone());
                continue;
            }
            let handle = credentials
                .handle(auth)
                .map_err(|e| self.auth_error(&hook.name, &e))?;
            checks.push((auth, vec![hook.name.clone()], handle));
        }
        Ok(checks
            .into_iter()
            .map(|(_, names, handle)| (names, handle))
            .collect())
    }

    /// A credential that cannot be built, as a configuration error at the hook's `auth`.
    fn auth_error(&self, hook: &str, error: &TokenError) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            hook: Some(hook.to_owned()),
            key: Some("auth".into()),
            message: self.secrets.redact(&error.to_string()),
        }
    }

    fn sends_http(&self) -> bool {
        self.hooks.iter().any(|h| h.kind().sends_http())
    }

    /// The client for every delivery and token request (connection reuse): no redirects (one could
    /// take a notification, or a token, to a host the file does not name), the Mozilla roots and
    /// the certificates of `AML_EVENTS_EXTRA_CA_CERTS`.
    fn http_client(&self) -> Result<reqwest::Client, ConfigError> {
        let error = |message: String| ConfigError::file(&self.file, message);
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("aml-events/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &self.settings.identity.extra_ca_certificates {
            let shown = path.display();
            let pem = std::fs::read(path).map_err(|e| {
                error(format!(
                    "AML_EVENTS_EXTRA_CA_CERTS: cannot read {shown}: {e}"
                ))
            })?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                error(format!(
                    "AML_EVENTS_EXTRA_CA_CERTS: {shown} is not PEM certificates: {e}"
                ))
            })?;
            if certificates.is_empty() {
                return Err(error(format!(
                    "AML_EVENTS_EXTRA_CA_CERTS: {shown} holds no certificate"
                )));
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        builder
            .build()
            .map_err(|e| error(format!("cannot create the HTTP client: {e}")))
    }

    /// One credential per distinct `auth`, shared by all hooks; `None` when no hook has `auth`. A
    /// credential that cannot be built (no token file, no tenant) fails here, naming the hook.
    fn credentials(
        &self,
        client: &reqwest::Client,
    ) -> Result<Option<Arc<Credentials>>, ConfigError> {
        if self.hooks.iter().all(|h| h.auth.is_none()) {
            return Ok(None);
        }
        Ok(Some(Arc::new(Credentials::new(
            self.settings.identity.clone(),
            client.clone(),
        ))))
    }

    fn build(
        &self,
        transport: Option<Arc<dyn Transport>>,
        credentials: Option<Arc<Credentials>>,
    ) -> Result<Dispatcher, ConfigError> {
        let mut hooks: Vec<Arc<dyn Hook>> = Vec::new();
        for hook in &self.hooks {
            let credential = match (&hook.auth, &credentials) {
                (Some(auth), Some(credentials)) => Some(
                    credentials
                        .handle(auth)
                        .map_err(|e| self.auth_error(&hook.name, &e))?,
                ),
                _ => None,
            };
            hooks.push(Arc::new(hook.with_transport(transport.clone(), credential)) as Arc<dyn Hook>);
        }
        Ok(Dispatcher::new(hooks)
            .with_store(self.store()?)
            .with_deadline(self.settings.deadline)
            .with_dedupe_ttl(self.settings.dedupe_ttl))
    }

    /// The dedupe store of `settings.dedupe`. Redis is connected lazily, on first use.
    fn store(&self) -> Result<Arc<dyn DedupeStore>, ConfigError> {
        let error = |message: String| ConfigError {
            key: Some("settings.dedupe".into()),
            ..ConfigError::file(&self.file, message)
        };
        match &self.settings.dedupe {
            DedupeSetting::Memory => Ok(Arc::new(MemoryStore::with_max_records(
                self.settings.dedupe_max_records,
            ))),
            #[cfg(feature = "redis")]
            DedupeSetting::Redis(url) => match crate::hooks::dedupe::RedisStore::new(url) {
                Ok(store) => Ok(Arc::new(store)),
                Err(e) => Err(error(self.secrets.redact(&e.to_string()))),
            },
            #[cfg(not(feature = "redis"))]
            DedupeSetting::Redis(_) => Err(error(
                "a Redis dedupe store needs a handler built with the `redis` feature".into(),
            )),
        }
    }
}
