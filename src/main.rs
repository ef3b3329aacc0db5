//! `handler`: the Azure Functions custom handler for Azure ML events. Parses the command line, starts
//! telemetry and calls the library; all behaviour lives in `aml_events`.

/// The static musl build (what `scripts/package.sh` ships) allocates with mimalloc: musl's allocator
/// takes a lock on every call (`aml_events::allocator` says more). The glibc build keeps the system
/// allocator.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: aml_events::allocator::MiMalloc = aml_events::allocator::MiMalloc;

use aml_events::app;
use aml_events::cli::{self, Cli, Command};
use aml_events::settings::{Runtime, Settings};
use aml_events::telemetry;
use clap::Parser;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    // The Functions host starts the handler without arguments: that is `serve`, and the command-line
    // parser (its whole command tree, and the code that builds it) is not needed to know it.
    let command = if std::env::args_os().len() > 1 {
        Cli::parse().command
    } else {
        None
    };
    match command {
        None => serve(None),
        Some(Command::Serve { hooks }) => serve(hooks),
        Some(command) => cli::run(command),
    }
}

fn serve(hooks: Option<PathBuf>) -> ExitCode {
    let mut settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            // Not `eprintln!`, which panics when stderr is closed.
            let _ = writeln!(std::io::stderr(), "error: {e}");
            return ExitCode::from(2);
        }
    };
    settings.hooks_file = hooks.or(settings.hooks_file);
    // Dropped when `serve` returns: the last buffered log lines are written then.
    let output = match settings.runtime {
        Runtime::FunctionsHost => telemetry::Output::JsonBatched,
        Runtime::Lambda => telemetry::Output::JsonDirect,
        Runtime::Standalone => telemetry::Output::Text,
    };
    let _telemetry = telemetry::init(output, settings.log_filter.as_deref());
    // A broken configuration is never served; exit codes as `app::serve_until_stopped` says.
    ExitCode::from(app::serve_until_stopped(settings))
}
