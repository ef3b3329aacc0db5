//! Every setting the process reads from its environment, read once, here, into typed values.
//!
//! Under the Functions host these are the Function App's application settings; on a container host
//! or AWS Lambda, the environment. Nothing else in the crate calls `std::env`: the application is
//! built from a [`Settings`], so every behaviour can be tested with settings made in code. The one
//! other use of the environment, `${env:NAME}` in `hooks.toml`, goes through [`Settings::lookup`].
//!
//! [`VARIABLES`] lists every variable with its meaning and default; README's configuration table is
//! tested against it, and [`Settings::from_vars`] reads exactly those names.

mod azure;
mod identity;
mod raw;
mod variables;
mod webhook;

pub use azure::{AzureSettings, DEFAULT_ARM_ENDPOINT};
pub use identity::IdentitySettings;
pub use webhook::{EntraSettings, WebhookSettings};

pub use variables::{markdown_table, Variable, VARIABLES};

use azure::azure_settings;
use raw::RawVars;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use webhook::webhook_settings;

/// The memory dedupe store's default bound on records (`AML_EVENTS_DEDUPE_MAX_RECORDS`): about
/// 45 MB when full (measured: 444 bytes of RSS a record, with 71-byte keys, the map's spare capacity
/// and the done queue), and a full day's dedupe window up to about one event a second per hook
/// (Event Grid retries for at most 24 h).
pub const DEFAULT_DEDUPE_MAX_RECORDS: NonZeroUsize = match NonZeroUsize::new(100_000) {
    Some(n) => n,
    None => unreachable!(),
};

/// Default port when `FUNCTIONS_CUSTOMHANDLER_PORT` is unset (running by hand).
pub const DEFAULT_PORT: u16 = 8080;
/// An invocation carries the event twice (`Data.event` and `Metadata.data`), so twice Event Grid's
/// 1 MiB event limit plus room for the envelope.
pub const DEFAULT_MAX_INVOCATION_BYTES: u64 = 4 * 1024 * 1024;
/// A request's head must arrive within this long (slowloris); also the keep-alive idle timeout.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// A request's whole body must arrive within this long: Event Grid waits 30 s for an answer.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once: well under the usual 1,024 file descriptors.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Default path of the webhook door.
pub const DEFAULT_WEBHOOK_PATH: &str = "/api/eventgrid";
/// Event Grid's limit is 1 MiB per *event*, and a delivery is larger than the event it carries, so a
/// 1 MiB limit refused maximal deliveries with a 413, which Event Grid dead-letters without retry.
pub const DEFAULT_MAX_WEBHOOK_BYTES: u64 = 2 * 1024 * 1024;

/// A setting has a value the handler cannot use; startup stops with this message.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{name}={value:?} is not valid: {expected}")]
pub struct SettingsError {
    /// The variable's name.
    pub name: &'static str,
    /// The value it had (never a secret: key variables are reported without their value).
    pub value: String,
    /// What it should be.
    pub expected: &'static str,
}

/// Where the process runs, which decides the log format and who can reach it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Runtime {
    /// Started by hand or by a container host.
    #[default]
    Standalone,
    /// Started by the Azure Functions host (it set `FUNCTIONS_CUSTOMHANDLER_PORT`).
    FunctionsHost,
    /// Started by the AWS Lambda runtime (`AWS_LAMBDA_RUNTIME_API`).
    Lambda,
}

/// A variable lookup: the process environment, or a map in tests.
pub type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Everything the process takes from its environment.
#[derive(Clone)]
pub struct Settings {
    /// TCP port (`FUNCTIONS_CUSTOMHANDLER_PORT`, default 8080; 0 picks a free port).
    pub port: u16,
    /// Address to listen on (`AML_EVENTS_BIND_ADDRESS`): 127.0.0.1, where the Functions host calls;
    /// `0.0.0.0` on a container host whose ingress must reach the webhook door.
    pub bind: IpAddr,
    /// Who started the process.
    pub runtime: Runtime,
    /// Largest accepted invocation body (`AML_EVENTS_MAX_INVOCATION_BYTES`).
    pub max_invocation_bytes: u64,
    /// Grace period for in-flight invocations at shutdown (`AML_EVENTS_SHUTDOWN_GRACE_SECS`);
    /// unset: the hooks' deadline plus 2 s, so an invocation that started is never cut.
    pub shutdown_grace: Option<Duration>,
    /// Header-read and keep-alive idle timeout (`AML_EVENTS_HEADER_TIMEOUT_SECS`).
    pub header_timeout: Duration,
    /// Connections served at once (`AML_EVENTS_MAX_CONNECTIONS`).
    pub max_connections: usize,
    /// A request's whole body must arrive within this long (`AML_EVENTS_BODY_TIMEOUT_SECS`).
    pub body_timeout: Duration,
    /// The hooks file (`AML_EVENTS_HOOKS`); unset: `./hooks.toml`, else the embedded default.
    pub hooks_file: Option<PathBuf>,
    /// The dedupe store, overriding the hooks file's `settings.dedupe` (`AML_EVENTS_DEDUPE`).
    pub dedupe: Option<String>,
    /// The in-memory dedupe store's bound on records (`AML_EVENTS_DEDUPE_MAX_RECORDS`).
    pub dedupe_max_records: NonZeroUsize,
    /// The webhook door.
    pub webhook: WebhookSettings,
    /// The Azure addresses the Azure ML actions use.
    pub azure: AzureSettings,
    /// The log filter (`RUST_LOG`); unset: `info`.
    pub log_filter: Option<String>,
    /// The host's worker id (`FUNCTIONS_CUSTOMHANDLER_WORKER_ID`): set only by the Functions host.
    pub host_worker_id: Option<String>,
    /// Whether to serve invocations beside a protected webhook door (`AML_EVENTS_SERVE_INVOCATIONS`);
    /// `None`: only under the Functions host (the application's rule).
    pub serve_invocations: Option<bool>,
    /// Entra ID credentials (`AZURE_*`, `IDENTITY_*`) and extra trusted CA certificates.
    pub identity: IdentitySettings,
    lookup: Lookup,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("port", &self.port)
            .field("bind", &self.bind)
            .field("runtime", &self.runtime)
            .field("max_invocation_bytes", &self.max_invocation_bytes)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("header_timeout", &self.header_timeout)
            .field("max_connections", &self.max_connections)
            .field("body_timeout", &self.body_timeout)
            .field("hooks_file", &self.hooks_file)
            .field("dedupe", &self.dedupe.as_ref().map(|_| "(set)"))
            .field("dedupe_max_records", &self.dedupe_max_records)
            .field("webhook", &self.webhook)
            .field("azure", &self.azure)
            .field("log_filter", &self.log_filter)
            .field("host_worker_id", &self.host_worker_id)
            .field("serve_invocations", &self.serve_invocations)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Default for Settings {
    /// The settings of an empty environment.
    fn default() -> Self {
        Self {
            port: DEFAULT_PORT,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            runtime: Runtime::Standalone,
            max_invocation_bytes: DEFAULT_MAX_INVOCATION_BYTES,
            shutdown_grace: None,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            hooks_file: None,
            dedupe: None,
            dedupe_max_records: DEFAULT_DEDUPE_MAX_RECORDS,
            webhook: WebhookSettings::default(),
            azure: AzureSettings::default(),
            log_filter: None,
            host_worker_id: None,
            serve_invocations: None,
            identity: IdentitySettings::default(),
            lookup: Arc::new(|_| None),
        }
    }
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, which also serves `${env:NAME}` in the hooks file.
    pub fn from_vars(
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Result<Self, SettingsError> {
        let lookup: Lookup = Arc::new(lookup);
        let raw = RawVars::read(&lookup);
        let port = raw.get("FUNCTIONS_CUSTOMHANDLER_PORT");
        let runtime = if raw.get("AWS_LAMBDA_RUNTIME_API").is_some() {
            Runtime::Lambda
        } else if port.is_some() {
            Runtime::FunctionsHost
        } else {
            Runtime::Standalone
        };
        Ok(Settings {
            port: raw.parse_or(
                "FUNCTIONS_CUSTOMHANDLER_PORT",
                "a TCP port number (0-65535)",
                DEFAULT_PORT,
            )?,
            bind: raw.parse_or(
                "AML_EVENTS_BIND_ADDRESS",
                "an IP address such as 127.0.0.1 or 0.0.0.0",
                IpAddr::V4(Ipv4Addr::LOCALHOST),
            )?,
            runtime,
            max_invocation_bytes: raw.parse_or(
                "AML_EVENTS_MAX_INVOCATION_BYTES",
                "a byte count",
                DEFAULT_MAX_INVOCATION_BYTES,
            )?,
            shutdown_grace: raw
                .parse_optional::<u64>("AML_EVENTS_SHUTDOWN_GRACE_SECS", "a number of seconds")?
                .map(Duration::from_secs),
            header_timeout: Duration::from_secs(raw.parse_or(
                "AML_EVENTS_HEADER_TIMEOUT_SECS",
                "a number of seconds",
                DEFAULT_HEADER_TIMEOUT.as_secs(),
            )?),
            body_timeout: Duration::from_secs(raw.parse_or(
                "AML_EVENTS_BODY_TIMEOUT_SECS",
                "a number of seconds",
                DEFAULT_BODY_TIMEOUT.as_secs(),
            )?),
            max_connections: raw.parse_or(
                "AML_EVENTS_MAX_CONNECTIONS",
                "a number of connections (1 or more)",
                DEFAULT_MAX_CONNECTIONS,
            )?,
            hooks_file: raw.text("AML_EVENTS_HOOKS").map(PathBuf::from),
            dedupe: raw.text("AML_EVENTS_DEDUPE").map(str::to_owned),
            dedupe_max_records: raw.parse_or(
                "AML_EVENTS_DEDUPE_MAX_RECORDS",
                "a number of records (1 or more)",
                DEFAULT_DEDUPE_MAX_RECORDS,
            )?,
            webhook: webhook_settings(&raw)?,
            azure: azure_settings(&raw)?,
            log_filter: raw.text("RUST_LOG").map(str::to_owned),
            host_worker_id: raw
                .text("FUNCTIONS_CUSTOMHANDLER_WORKER_ID")
                .map(str::to_owned),
            serve_invocations: raw.optional_flag("AML_EVENTS_SERVE_INVOCATIONS")?,
            identity: IdentitySettings::read(&raw),
            lookup: lookup.clone(),
        })
    }

    /// Settings made in code (tests, examples) whose `${env:NAME}` lookups go to `lookup`.
    pub fn with_lookup(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.lookup = Arc::new(lookup);
        self
    }

    /// The value of any variable, for `${env:NAME}` in the hooks file.
    pub fn lookup(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    /// Whether the Functions host started the process (JSON log lines, `Logs` in answers).
    pub fn under_functions_host(&self) -> bool {
        self.runtime == Runtime::FunctionsHost
    }

    /// Whether hosts other than this one can reach the doors: a non-loopback address, or Lambda.
    pub fn reachable_by_others(&self) -> bool {
        !self.bind.is_loopback() || self.runtime == Runtime::Lambda
    }
}

fn split_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::studio::StudioBase;
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_vars(move |k| {
            pairs
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn azure_addresses_default_to_public_azure_and_a_token_goes_only_over_https_or_loopback() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.azure, AzureSettings::default());
        assert_eq!(
            s.azure.arm_endpoint.as_str(),
            "https://management.azure.com/"
        );
        let s = settings(&[
            ("AML_EVENTS_ARM_ENDPOINT", "http://127.0.0.1:9000/"),
            ("AML_EVENTS_STUDIO_URL", "https://ml.azure.us/"),
        ])
        .unwrap();
        assert_eq!(s.azure.arm_endpoint.as_str(), "http://127.0.0.1:9000/");
        assert_eq!(s.azure.studio_url.to_string(), "https://ml.azure.us");
        for refused in ["ftp://x", "not a url", "https://m.example/?q=1"] {
            let err = settings(&[("AML_EVENTS_ARM_ENDPOINT", refused)]).unwrap_err();
            assert_eq!(err.name, "AML_EVENTS_ARM_ENDPOINT", "{refused}");
        }
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.port, 8080);
        assert_eq!(s.bind, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(s.runtime, Runtime::Standalone);
        assert_eq!(s.max_invocation_bytes, DEFAULT_MAX_INVOCATION_BYTES);
        assert_eq!(s.shutdown_grace, None);
        assert_eq!(s.header_timeout, DEFAULT_HEADER_TIMEOUT);
        assert_eq!(s.max_connections, DEFAULT_MAX_CONNECTIONS);
        assert_eq!(s.dedupe_max_records, DEFAULT_DEDUPE_MAX_RECORDS);
        assert_eq!(s.webhook, WebhookSettings::default());
        assert!(!s.under_functions_host());
        assert!(!s.reachable_by_others());
    }

    #[test]
    fn the_dedupe_bound_is_a_positive_number_of_records() {
        let s = settings(&[("AML_EVENTS_DEDUPE_MAX_RECORDS", " 250 ")]).unwrap();
        assert_eq!(s.dedupe_max_records.get(), 250);
        for bad in ["0", "-1", "many"] {
            let e = settings(&[("AML_EVENTS_DEDUPE_MAX_RECORDS", bad)]).unwrap_err();
            assert_eq!(e.name, "AML_EVENTS_DEDUPE_MAX_RECORDS", "{bad}");
        }
    }

    #[test]
    fn the_host_port_selects_host_mode() {
        let s = settings(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "43117")]).unwrap();
        assert_eq!(s.port, 43117);
        assert!(s.under_functions_host());
    }

    #[test]
    fn lambda_is_reachable_by_others_even_on_loopback() {
        let s = settings(&[("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")]).unwrap();
        assert_eq!(s.runtime, Runtime::Lambda);
        assert!(s.reachable_by_others());
    }

    #[test]
    fn the_bind_address_can_open_up_for_containers() {
        let s = settings(&[("AML_EVENTS_BIND_ADDRESS", "0.0.0.0")]).unwrap();
        assert_eq!(s.bind.to_string(), "0.0.0.0");
        assert!(s.reachable_by_others());
        assert!(settings(&[("AML_EVENTS_BIND_ADDRESS", "everywhere")]).is_err());
    }

    #[test]
    fn a_non_numeric_port_is_a_clear_error() {
        let err = settings(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "eighty")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "FUNCTIONS_CUSTOMHANDLER_PORT=\"eighty\" is not valid: a TCP port number (0-65535)"
        );
    }

    #[test]
    fn booleans_have_one_spelling_for_every_variable() {
        for yes in ["1", "true", "TRUE", "Yes", " yes "] {
            let s = settings(&[
                ("AML_EVENTS_WEBHOOK_INSECURE", yes),
                ("AML_EVENTS_VALIDATE_URL", yes),
            ])
            .unwrap();
            assert!(
                s.webhook.insecure && s.webhook.follow_validation_url,
                "{yes}"
            );
        }
        for no in ["0", "false", "No", ""] {
            let s = settings(&[
                ("AML_EVENTS_WEBHOOK_INSECURE", no),
                ("AML_EVENTS_VALIDATE_URL", no),
            ])
            .unwrap();
            assert!(
                !s.webhook.insecure && !s.webhook.follow_validation_url,
                "{no}"
            );
        }
        let err = settings(&[("AML_EVENTS_VALIDATE_URL", "maybe")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "AML_EVENTS_VALIDATE_URL=\"maybe\" is not valid: 1, true or yes; or 0, false or no"
        );
    }

    #[test]
    fn webhook_settings_are_read_and_checked() {
        let s = settings(&[
            ("AML_EVENTS_WEBHOOK_PATH", "hooks/eg/"),
            ("AML_EVENTS_MAX_WEBHOOK_BYTES", "2048"),
            ("AML_EVENTS_WEBHOOK_KEY", " k1 , k2,"),
            ("AML_EVENTS_ENTRA_AUDIENCE", "api://aml-events"),
            ("AML_EVENTS_ENTRA_TENANT", "contoso"),
            ("AML_EVENTS_ENTRA_ISSUER", "https://a/, https://b/"),
        ])
        .unwrap();
        assert_eq!(s.webhook.path, "/hooks/eg");
        assert_eq!(s.webhook.max_bytes, 2048);
        assert_eq!(s.webhook.keys, ["k1", "k2"]);
        let entra = s.webhook.entra.unwrap();
        assert_eq!(entra.audience, "api://aml-events");
        assert_eq!(
            entra.issuers.unwrap(),
            ["https://a/".to_owned(), "https://b/".to_owned()]
        );
        assert!(settings(&[("AML_EVENTS_WEBHOOK_PATH", "/a b")]).is_err());
        assert!(settings(&[("AML_EVENTS_WEBHOOK_KEY", " , ")]).is_err());
        let half = settings(&[("AML_EVENTS_ENTRA_AUDIENCE", "x")]).unwrap_err();
        assert_eq!(half.name, "AML_EVENTS_ENTRA_TENANT");
    }

    #[test]
    fn secrets_stay_out_of_errors_and_debug_output() {
        let err = settings(&[("AML_EVENTS_WEBHOOK_KEY", ",")]).unwrap_err();
        assert!(!err.to_string().contains(','), "{err}");
        let s = settings(&[
            ("AML_EVENTS_WEBHOOK_KEY", "s3cret-key"),
            ("AML_EVENTS_DEDUPE", "redis://:pw@cache:6380"),
        ])
        .unwrap();
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("pw@"),
            "{shown}"
        );
    }

    #[test]
    fn every_variable_read_is_listed_and_every_listed_variable_is_read() {
        let asked = Arc::new(Mutex::new(BTreeSet::new()));
        let record = asked.clone();
        Settings::from_vars(move |name| {
            record.lock().unwrap().insert(name.to_owned());
            None
        })
        .unwrap();
        let listed: BTreeSet<String> = VARIABLES.iter().map(|v| v.name.to_owned()).collect();
        assert_eq!(*asked.lock().unwrap(), listed);
    }

    /// README's configuration table is exactly [`markdown_table`]: a variable added to the code and
    /// not to README (or the other way round) fails here.
    #[test]
    fn readme_configuration_table_is_the_variables_list() {
        let readme = include_str!("../README.md");
        let header = "| setting | meaning | default |";
        let start = readme
            .find(header)
            .expect("README has the configuration table");
        let table: Vec<&str> = readme[start..]
            .lines()
            .take_while(|l| l.starts_with('|'))
            .collect();
        let expected = markdown_table();
        assert_eq!(
            table.join("\n"),
            expected.trim_end(),
            "README's configuration table differs from settings::VARIABLES; paste:\n{expected}"
        );
    }

    #[test]
    fn the_studio_address_defaults_to_public_azure_and_is_checked() {
        assert_eq!(
            settings(&[]).unwrap().azure.studio_url.to_string(),
            "https://ml.azure.com"
        );
        let s = settings(&[("AML_EVENTS_STUDIO_URL", " https://studio.ml.azure.us/ ")]).unwrap();
        assert_eq!(s.azure.studio_url.to_string(), "https://studio.ml.azure.us");
        assert_eq!(
            settings(&[("AML_EVENTS_STUDIO_URL", "")])
                .unwrap()
                .azure
                .studio_url,
            StudioBase::default()
        );
        let e = settings(&[("AML_EVENTS_STUDIO_URL", "ml.azure.com")]).unwrap_err();
        assert_eq!(e.name, "AML_EVENTS_STUDIO_URL");
    }

    #[test]
    fn identity_variables_are_read_with_azure_identity_names_and_secrets_hidden() {
        let s = settings(&[
            ("AZURE_CLIENT_ID", " c1 "),
            ("AZURE_TENANT_ID", "t1"),
            ("AZURE_CLIENT_SECRET", "sp-s3cret"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token"),
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:41000/msi/token"),
            ("IDENTITY_HEADER", "idh-s3cret"),
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", ""),
            ("AML_EVENTS_EXTRA_CA_CERTS", "/etc/ssl/proxy-ca.pem"),
        ])
        .unwrap();
        let id = &s.identity;
        assert_eq!(id.client_id.as_deref(), Some("c1"));
        assert_eq!(id.tenant_id.as_deref(), Some("t1"));
        assert_eq!(id.pod_identity_authority_host, None, "blank is unset");
        assert_eq!(
            id.extra_ca_certificates.as_deref(),
            Some(std::path::Path::new("/etc/ssl/proxy-ca.pem"))
        );
        assert_eq!(
            id.secrets().collect::<Vec<_>>(),
            ["sp-s3cret", "idh-s3cret"]
        );
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("/var/run/token"),
            "{shown}"
        );
    }

    #[test]
    fn lookups_serve_env_references_in_the_hooks_file() {
        let s = settings(&[("TEAMS_URL", "https://example.invalid/x")]).unwrap();
        assert_eq!(
            s.lookup("TEAMS_URL").as_deref(),
            Some("https://example.invalid/x")
        );
        assert_eq!(Settings::default().lookup("TEAMS_URL"), None);
    }
}
