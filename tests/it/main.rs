//! The integration tests, one binary: one module per area, with the shared support under `support/`.
//! Most tests serve the library's app in this process ([`support::spawn_app`]); `process` keeps the
//! few that need the built `handler` binary (signals, exit codes, the host's view of stdout/stderr).

mod aml_actions;
mod cards;
mod decode_fixtures;
mod entra_auth;
mod event_filters;
mod function_app;
mod functions_door;
mod hooks_config;
mod hooks_delivery;
mod hostile_input;
mod identity;
#[cfg(feature = "lambda")]
mod lambda_door;
mod layout;
mod monitor;
mod process;
mod properties;
#[cfg(feature = "redis")]
mod redis_dedupe;
mod routes;
mod server;
mod support;
mod webhook_door;
