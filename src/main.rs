//! `handler`: the Azure Functions custom handler for Azure ML events. Parses the command line, starts
//! telemetry and calls the library; all behaviour lives in `aml_events`.

/// The static musl build (what `scripts/package.sh` ships) allocates with mimalloc: musl's allocator
/// takes a lock on every call, which held the handler to about a third of the bare HTTP stack's
/// throughput (BENCHMARKS.md). The glibc build keeps the system allocator.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use aml_events::app::App;
use aml_events::cli::{self, Cli, Command};
use aml_events::server::Stopped;
use aml_events::settings::{Runtime, Settings};
use aml_events::telemetry;
use clap::Parser;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

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
    let app = match App::build(settings) {
        Ok(app) => Arc::new(app),
        Err(e) => {
            tracing::error!("refusing to serve: {e}");
            return ExitCode::from(e.exit_code());
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(app.run()) {
        Ok(Stopped::Drained) => ExitCode::SUCCESS,
        // Invocations were cut at the end of the grace period: the host should know.
        Ok(Stopped::Cut) => ExitCode::FAILURE,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}
