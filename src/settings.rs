//! Process settings read from the environment (app settings under the Functions host).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use thiserror::Error;

/// Default port when `FUNCTIONS_CUSTOMHANDLER_PORT` is unset (running by hand).
pub const DEFAULT_PORT: u16 = 8080;
/// An invocation carries the event twice (`Data.event` and `Metadata.data`), so twice Event Grid's
/// 1 MiB event limit plus room for the envelope.
pub const DEFAULT_MAX_INVOCATION_BYTES: u64 = 4 * 1024 * 1024;
/// How long in-flight invocations may run after SIGTERM before the process exits anyway.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Settings for the `serve` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// TCP port (`FUNCTIONS_CUSTOMHANDLER_PORT`, default 8080; 0 picks a free port).
    pub port: u16,
    /// Address to listen on (`AML_EVENTS_BIND_ADDRESS`): 127.0.0.1, where the Functions host calls;
    /// `0.0.0.0` on a container host whose ingress must reach the webhook door.
    pub bind: IpAddr,
    /// Whether the Functions host started us (it sets the port), which selects JSON log lines.
    pub under_functions_host: bool,
    /// Largest accepted invocation body (`AML_EVENTS_MAX_INVOCATION_BYTES`).
    pub max_invocation_bytes: u64,
    /// Grace period for in-flight invocations at shutdown (`AML_EVENTS_SHUTDOWN_GRACE_SECS`).
    pub shutdown_grace: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            port: DEFAULT_PORT,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            under_functions_host: false,
            max_invocation_bytes: DEFAULT_MAX_INVOCATION_BYTES,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// A setting has a value the handler cannot use; startup stops with this message.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{name}={value:?} is not valid: {expected}")]
pub struct SettingsError {
    /// The variable's name.
    pub name: &'static str,
    /// The value it had.
    pub value: String,
    /// What it should be.
    pub expected: &'static str,
}

impl Settings {
    /// Reads settings through `var` (use `|k| std::env::var(k).ok()` for the process environment).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut settings = Settings::default();
        if let Some(port) = var("FUNCTIONS_CUSTOMHANDLER_PORT") {
            settings.under_functions_host = true;
            settings.port = parse(
                &port,
                "FUNCTIONS_CUSTOMHANDLER_PORT",
                "a TCP port number (0-65535)",
            )?;
        }
        if let Some(v) = var("AML_EVENTS_BIND_ADDRESS") {
            settings.bind = parse(
                &v,
                "AML_EVENTS_BIND_ADDRESS",
                "an IP address such as 127.0.0.1 or 0.0.0.0",
            )?;
        }
        if let Some(v) = var("AML_EVENTS_MAX_INVOCATION_BYTES") {
            settings.max_invocation_bytes =
                parse(&v, "AML_EVENTS_MAX_INVOCATION_BYTES", "a byte count")?;
        }
        if let Some(v) = var("AML_EVENTS_SHUTDOWN_GRACE_SECS") {
            settings.shutdown_grace = Duration::from_secs(parse(
                &v,
                "AML_EVENTS_SHUTDOWN_GRACE_SECS",
                "a number of seconds",
            )?);
        }
        Ok(settings)
    }

    /// Reads settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_vars(|k| std::env::var(k).ok())
    }
}

fn parse<T: std::str::FromStr>(
    value: &str,
    name: &'static str,
    expected: &'static str,
) -> Result<T, SettingsError> {
    value.trim().parse().map_err(|_| SettingsError {
        name,
        value: value.to_owned(),
        expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| {
            pairs
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let s = Settings::from_vars(vars(&[])).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.port, 8080);
        assert!(!s.under_functions_host);
    }

    #[test]
    fn the_host_port_selects_host_mode() {
        let s = Settings::from_vars(vars(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "43117")])).unwrap();
        assert_eq!(s.port, 43117);
        assert!(s.under_functions_host);
    }

    #[test]
    fn the_bind_address_can_open_up_for_containers() {
        let s = Settings::from_vars(vars(&[("AML_EVENTS_BIND_ADDRESS", "0.0.0.0")])).unwrap();
        assert_eq!(s.bind.to_string(), "0.0.0.0");
        assert!(Settings::from_vars(vars(&[("AML_EVENTS_BIND_ADDRESS", "everywhere")])).is_err());
    }

    #[test]
    fn a_non_numeric_port_is_a_clear_error() {
        let err =
            Settings::from_vars(vars(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "eighty")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "FUNCTIONS_CUSTOMHANDLER_PORT=\"eighty\" is not valid: a TCP port number (0-65535)"
        );
    }
}
