//! The application, assembled from typed settings: the hooks, the pipeline, the doors, and the rule
//! for who may reach them. `main` and `examples/code_hook.rs` build it the same way, so both get the
//! same safety checks.

use crate::door::functions::FunctionsDoor;
use crate::door::webhook::{WebhookDoor, WebhookSetupError};
use crate::door::Doors;
use crate::hooks::action::ActionKind;
use crate::hooks::config::{ConfigError, HooksConfig};
use crate::hooks::Hook;
use crate::pipeline::Pipeline;
use crate::server::Stopped;
#[cfg(feature = "lambda")]
use crate::settings::Runtime;
use crate::settings::{Settings, SettingsError};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use thiserror::Error;
use tokio::net::TcpListener;

/// Why the application cannot start. A broken configuration is never served: the Functions host
/// shows the error and restarts the worker, or gives up.
#[derive(Debug, Error)]
pub enum StartupError {
    /// An environment variable has a value the handler cannot use.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The hooks file is invalid.
    #[error(transparent)]
    Hooks(#[from] ConfigError),
    /// The webhook door cannot be set up.
    #[error(transparent)]
    Webhook(#[from] WebhookSetupError),
    /// The webhook door would be open to anyone.
    #[error(
        "the webhook door is reachable from other hosts but unprotected: set AML_EVENTS_WEBHOOK_KEY or \
         AML_EVENTS_ENTRA_AUDIENCE and AML_EVENTS_ENTRA_TENANT (or AML_EVENTS_WEBHOOK_INSECURE=true to accept that)"
    )]
    UnprotectedWebhook,
    /// The listening address cannot be bound.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The Lambda runtime stopped with an error.
    #[error("the Lambda runtime stopped: {0}")]
    Lambda(String),
}

impl StartupError {
    /// The process exit code: 2 for a configuration the handler refuses, 1 when serving failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            StartupError::Listen { .. } | StartupError::Lambda(_) => 1,
            _ => 2,
        }
    }
}

/// Builds an [`App`]: the hooks file from the settings, plus hooks written in code.
pub struct AppBuilder {
    settings: Settings,
    config: Option<HooksConfig>,
    extra: Vec<Arc<dyn Hook>>,
}

impl AppBuilder {
    /// Adds a hook written in code (see `examples/code_hook.rs`), after those of the hooks file.
    pub fn hook(mut self, hook: Arc<dyn Hook>) -> Self {
        self.extra.push(hook);
        self
    }

    /// Uses an already loaded hooks file instead of the one the settings name.
    pub fn hooks_config(mut self, config: HooksConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// Validates everything and assembles the application.
    pub fn build(self) -> Result<App, StartupError> {
        let settings = self.settings;
        let config = match self.config {
            Some(config) => with_settings(config, &settings)?,
            None => load_hooks(&settings)?,
        };
        let mut dispatcher = config.dispatcher()?;
        for hook in self.extra {
            dispatcher = dispatcher.with_hook(hook);
        }
        tracing::info!(hooks_file = %config.file, "hooks loaded");
        for warning in &config.warnings {
            tracing::warn!(hooks_file = %config.file, "{warning}");
        }
        let webhook = WebhookDoor::new(&settings.webhook)?;
        let webhook_protected = webhook.is_protected();
        let exposed = settings.reachable_by_others();
        if exposed && !webhook.is_protected() && !settings.webhook.insecure {
            return Err(StartupError::UnprotectedWebhook);
        }
        if exposed && config.hooks.iter().any(|h| h.kind() == ActionKind::Output) {
            tracing::warn!("output hooks only take effect under the Functions host; the webhook door drops their messages");
        }
        Ok(App {
            doors: Arc::new(Doors {
                pipeline: Pipeline::new(dispatcher),
                functions: FunctionsDoor {
                    poison_binding: config.settings.poison_binding.clone(),
                },
                webhook,
                serve_invocations: serves_invocations(&settings, webhook_protected),
                max_invocation_bytes: settings.max_invocation_bytes,
                body_timeout: settings.body_timeout,
            }),
            settings,
        })
    }
}

/// Builds the application and serves it on a multi-threaded runtime until it is stopped. Returns the
/// process exit code: 0 when every request in flight at shutdown was answered, 1 when serving failed
/// or the grace period cut requests, 2 for a configuration the handler refuses.
pub fn serve_until_stopped(settings: Settings) -> u8 {
    let app = match App::build(settings) {
        Ok(app) => Arc::new(app),
        Err(e) => {
            tracing::error!("refusing to serve: {e}");
            return e.exit_code();
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return 1;
        }
    };
    match runtime.block_on(app.run()) {
        Ok(Stopped::Drained) => 0,
        // Invocations were cut at the end of the grace period: the host should know.
        Ok(Stopped::Cut) => 1,
        Err(e) => {
            tracing::error!("{e}");
            e.exit_code()
        }
    }
}

/// Whether `POST /{FunctionName}` is served. Invocations carry no credentials (the Functions host
/// calls over loopback), so the route exists only where nobody else can reach it, never on an
/// exposed address. Beside a protected webhook door it would be a way around the key (a same-host
/// proxy that forwards only the webhook path still forwards `/api%2Feventgrid`), so there it is
/// served only under the Functions host (which sets `FUNCTIONS_CUSTOMHANDLER_WORKER_ID`) or when
/// `AML_EVENTS_SERVE_INVOCATIONS` says so.
fn serves_invocations(settings: &Settings, webhook_protected: bool) -> bool {
    if settings.reachable_by_others() {
        return false;
    }
    match settings.serve_invocations {
        Some(explicit) => explicit,
        None => !webhook_protected || settings.host_worker_id.is_some(),
    }
}

/// Loads the hooks file the settings name, with `${env:...}` served by the settings and what the
/// file does not hold taken from them ([`with_settings`]).
pub fn load_hooks(settings: &Settings) -> Result<HooksConfig, ConfigError> {
    let config = HooksConfig::load_with(
        settings.hooks_file.as_deref(),
        &|name| settings.lookup(name),
        settings.dedupe.as_deref(),
    )?;
    with_settings(config, settings)
}

/// `config` with what the environment decides beside the file: the Azure addresses of the Azure ML
/// actions, the dedupe store's bound, and the identity variables `auth` reads. One place, so that
/// serving, `handler check` and `check --auth` build the same credentials.
fn with_settings(config: HooksConfig, settings: &Settings) -> Result<HooksConfig, ConfigError> {
    let mut config = config.with_azure(settings.azure.clone())?;
    config.settings.dedupe_max_records = settings.dedupe_max_records;
    config.settings.identity = settings.identity.clone();
    Ok(config)
}

/// The assembled application: the doors (what every request needs) and the settings it was built
/// from (where and how to serve).
#[derive(Debug)]
pub struct App {
    doors: Arc<Doors>,
    settings: Settings,
}

impl App {
    /// The application the settings describe, with the hooks of its hooks file.
    pub fn build(settings: Settings) -> Result<App, StartupError> {
        Self::builder(settings).build()
    }

    /// A builder, to add hooks written in code.
    pub fn builder(settings: Settings) -> AppBuilder {
        AppBuilder {
            settings,
            config: None,
            extra: Vec::new(),
        }
    }

    /// The doors, for [`crate::door::routes`] (the warp routes) or a Lambda runtime.
    pub fn doors(&self) -> Arc<Doors> {
        self.doors.clone()
    }

    /// How long in-flight requests may finish after SIGTERM: the setting, else the hooks' deadline
    /// plus 2 s, so that no invocation that started in time is cut.
    pub fn shutdown_grace(&self) -> std::time::Duration {
        self.settings.shutdown_grace.unwrap_or_else(|| {
            self.doors.pipeline.dispatcher().deadline() + std::time::Duration::from_secs(2)
        })
    }

    /// Serves on `listener` until `shutdown` completes, then lets in-flight requests finish for
    /// the settings' grace period.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Stopped {
        let local = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let hooks: Vec<&str> = self.doors.pipeline.dispatcher().hook_names().collect();
        tracing::info!(
            address = %local,
            webhook_path = %self.doors.webhook.path,
            hooks = ?hooks,
            "aml-events handler listening"
        );
        // From here a log line must never make a tokio worker wait for a pipe.
        crate::telemetry::serving();
        let grace = self.shutdown_grace();
        let limits = crate::server::Limits {
            header_read_timeout: self.settings.header_timeout,
            max_connections: self.settings.max_connections,
        };
        let stopped =
            crate::server::serve(listener, self.doors.clone(), shutdown, grace, limits).await;
        tracing::info!("stopped");
        stopped
    }

    /// Runs where the settings say: under the Lambda runtime (feature `lambda`), or on
    /// `AML_EVENTS_BIND_ADDRESS:FUNCTIONS_CUSTOMHANDLER_PORT` until SIGTERM or SIGINT.
    pub async fn run(self: Arc<Self>) -> Result<Stopped, StartupError> {
        #[cfg(feature = "lambda")]
        if self.settings.runtime == Runtime::Lambda {
            tracing::info!(webhook_path = %self.doors.webhook.path, "aml-events handler running on AWS Lambda");
            return crate::door::lambda::run(self.doors.clone())
                .await
                .map(|()| Stopped::Drained)
                .map_err(|e| StartupError::Lambda(e.to_string()));
        }
        let address = SocketAddr::from((self.settings.bind, self.settings.port));
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| StartupError::Listen { address, source })?;
        Ok(self.serve(listener, crate::server::shutdown_signal()).await)
    }
}
