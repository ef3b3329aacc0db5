//! From a validated [`HooksConfig`] to the runtime [`Dispatcher`]: the HTTP client (only when a hook
//! sends HTTP) and the dedupe store. The only part of `config` that creates anything that connects.

use super::{ConfigError, DedupeSetting, HooksConfig};
use crate::hooks::dedupe::{DedupeStore, MemoryStore};
use crate::hooks::delivery::Transport;
use crate::hooks::{Dispatcher, Hook};
use std::sync::Arc;

impl HooksConfig {
    /// Builds the dispatcher: these hooks (HTTP ones sending with reqwest), the dedupe store, deadline
    /// and TTL.
    pub fn dispatcher(&self) -> Result<Dispatcher, ConfigError> {
        // Only configurations that send HTTP get a client: building one loads the TLS roots, which
        // is most of a log-only handler's start-up time and memory.
        let transport = if self.sends_http() {
            let client = http_client().map_err(|e| {
                ConfigError::file(&self.file, format!("cannot create the HTTP client: {e}"))
            })?;
            Some(Arc::new(client) as Arc<dyn Transport>)
        } else {
            None
        };
        self.build(transport)
    }

    /// [`HooksConfig::dispatcher`] with HTTP hooks sending through `transport` instead of reqwest:
    /// tests deliver in process, under paused time.
    pub fn dispatcher_with(
        &self,
        transport: Arc<dyn Transport>,
    ) -> Result<Dispatcher, ConfigError> {
        self.build(Some(transport))
    }

    fn sends_http(&self) -> bool {
        self.hooks.iter().any(|h| h.kind().sends_http())
    }

    fn build(&self, transport: Option<Arc<dyn Transport>>) -> Result<Dispatcher, ConfigError> {
        let hooks: Vec<Arc<dyn Hook>> = self
            .hooks
            .iter()
            .map(|h| Arc::new(h.with_transport(transport.clone())) as Arc<dyn Hook>)
            .collect();
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

/// The client for every delivery (connection reuse).
fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        // A redirect could take a notification to a host the file does not name.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("aml-events/", env!("CARGO_PKG_VERSION")))
        .build()
}
