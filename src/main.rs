//! `handler`: the Azure Functions custom handler for Azure ML events. Parses the command line and
//! calls the library; all behaviour lives in `aml_events`.

/// The static musl build (what `scripts/package.sh` ships) allocates with mimalloc: musl's allocator
/// takes a lock on every call, which held the handler to about a third of the bare HTTP stack's
/// throughput (BENCHMARKS.md). The glibc build keeps the system allocator.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use aml_events::cli::{self, SendAs};
use aml_events::core::Core;
use aml_events::door::functions::FunctionsDoor;
use aml_events::door::webhook::WebhookDoor;
use aml_events::door::App;
use aml_events::event::Schema;
use aml_events::hooks::config::HooksConfig;
use aml_events::settings::Settings;
use aml_events::{server, telemetry};
use clap::{Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "handler",
    version,
    about = "React to Azure Machine Learning workspace events"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve on $AML_EVENTS_BIND_ADDRESS (127.0.0.1):$FUNCTIONS_CUSTOMHANDLER_PORT (8080); the default.
    Serve {
        /// The hooks file (default: $AML_EVENTS_HOOKS, else ./hooks.toml, else the embedded default).
        #[arg(long, env = "AML_EVENTS_HOOKS")]
        hooks: Option<PathBuf>,
    },
    /// Validate a hooks file and print its hooks.
    Check {
        /// The hooks file (default: $AML_EVENTS_HOOKS, else ./hooks.toml, else the embedded default).
        #[arg(long, env = "AML_EVENTS_HOOKS")]
        hooks: Option<PathBuf>,
    },
    /// Decode events from a file (or - for stdin) and print them as JSON.
    Decode {
        /// A JSON file with one event or an array of events, Event Grid or CloudEvents schema.
        input: String,
    },
    /// Print a bundled sample event (ModelRegistered, ModelDeployed, RunCompleted, RunStatusChanged,
    /// DatasetDriftDetected).
    Sample {
        /// The event name, short (`ModelDeployed`, `model-deployed`) or full.
        name: String,
        /// The envelope schema.
        #[arg(long, value_enum, default_value_t = SchemaArg::Eventgrid)]
        schema: SchemaArg,
    },
    /// Post events to a running handler or to an Event Grid webhook (such as `func start`'s).
    Send {
        /// A JSON file (one event or an array), - for stdin, or sample:NAME.
        input: String,
        /// Where to post. Default: the local handler's function (invocation) or `func start`'s Event
        /// Grid endpoint (webhook).
        #[arg(long)]
        to: Option<String>,
        /// Post as the Functions host does, or as Event Grid does.
        #[arg(long = "as", value_enum, default_value_t = SendAsArg::Invocation)]
        send_as: SendAsArg,
        /// Schema of sample:NAME inputs.
        #[arg(long, value_enum, default_value_t = SchemaArg::Eventgrid)]
        schema: SchemaArg,
        /// Print what each hook would send for each event instead of posting.
        #[arg(long)]
        dry_run: bool,
        /// The hooks file for --dry-run.
        #[arg(long, env = "AML_EVENTS_HOOKS")]
        hooks: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemaArg {
    Eventgrid,
    Cloudevents,
}

impl From<SchemaArg> for Schema {
    fn from(arg: SchemaArg) -> Self {
        match arg {
            SchemaArg::Eventgrid => Schema::EventGrid,
            SchemaArg::Cloudevents => Schema::CloudEvents,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum SendAsArg {
    Invocation,
    Webhook,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Prints `result` (stdout on success, stderr on failure) and turns it into an exit code.
fn finish(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    // The Functions host starts the handler without arguments: that is `serve`, and the command-line
    // parser (its whole command tree, and the code that builds it) is not needed to know it.
    let command = if std::env::args_os().len() > 1 {
        Cli::parse().command
    } else {
        None
    };
    match command.unwrap_or(Command::Serve {
        hooks: env("AML_EVENTS_HOOKS").map(PathBuf::from),
    }) {
        Command::Serve { hooks } => serve(hooks),
        Command::Check { hooks } => finish(cli::check(hooks.as_deref(), &env)),
        Command::Decode { input } => match cli::read_input(&input).map(|text| cli::decode(&text)) {
            Ok(Ok(out)) => finish(Ok(out)),
            Ok(Err((out, errors))) => {
                if !out.is_empty() && out != "null" && out != "[]" {
                    println!("{out}");
                }
                errors.iter().for_each(|e| eprintln!("{e}"));
                ExitCode::FAILURE
            }
            Err(e) => finish(Err(e)),
        },
        Command::Sample { name, schema } => match cli::sample(&name, schema.into()) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => finish(Err(e)),
        },
        Command::Send {
            input,
            to,
            send_as,
            schema,
            dry_run,
            hooks,
        } => {
            let events = match cli::send_input(&input, schema.into()) {
                Ok(events) => events,
                Err(e) => return finish(Err(e)),
            };
            if dry_run {
                let result = HooksConfig::load(hooks.as_deref(), &env)
                    .map_err(|e| e.to_string())
                    .and_then(|config| cli::dry_run(&events, &config));
                return finish(result);
            }
            let (mode, default_to) = match send_as {
                SendAsArg::Invocation => (SendAs::Invocation, "http://127.0.0.1:8080/MlWorkspaceEvents"),
                SendAsArg::Webhook => (
                    SendAs::Webhook,
                    "http://localhost:7071/runtime/webhooks/eventgrid?functionName=MlWorkspaceEvents",
                ),
            };
            let to = to.unwrap_or_else(|| default_to.to_owned());
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => finish(rt.block_on(cli::send(&events, &to, mode))),
                Err(e) => finish(Err(e.to_string())),
            }
        }
    }
}

fn serve(hooks: Option<PathBuf>) -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // Dropped when `serve` returns: the last buffered log lines are written then.
    let output = if in_lambda() {
        telemetry::Output::JsonDirect
    } else if settings.under_functions_host {
        telemetry::Output::JsonBatched
    } else {
        telemetry::Output::Text
    };
    let _log_writer = telemetry::init(output);
    // A broken configuration is never served: the host shows the error and restarts us, or gives up.
    let app = match build_app(hooks, settings) {
        Ok(app) => Arc::new(app),
        Err(e) => {
            tracing::error!("refusing to serve: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        #[cfg(feature = "lambda")]
        if in_lambda() {
            tracing::info!(webhook_path = %app.webhook.path, "aml-events handler running on AWS Lambda");
            return match aml_events::door::lambda::run(app).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "the Lambda runtime stopped");
                    ExitCode::FAILURE
                }
            };
        }
        let addr = SocketAddr::from((app.settings.bind, app.settings.port));
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::error!(%addr, error = %e, "cannot listen");
                return ExitCode::FAILURE;
            }
        };
        let local = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let hooks: Vec<&str> = app.core.dispatcher().hook_names().collect();
        tracing::info!(
            address = %local,
            webhook_path = %app.webhook.path,
            hooks = ?hooks,
            "aml-events handler listening"
        );
        let grace = app.settings.shutdown_grace;
        server::serve(listener, app, server::shutdown_signal(), grace).await;
        tracing::info!("stopped");
        ExitCode::SUCCESS
    })
}

/// Whether the AWS Lambda runtime started us (only acted on with the `lambda` feature).
fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// The hooks, the doors' options and the settings, validated.
fn build_app(hooks: Option<PathBuf>, settings: Settings) -> Result<App, String> {
    let config = HooksConfig::load(hooks.as_deref(), &env).map_err(|e| e.to_string())?;
    let dispatcher = config.dispatcher().map_err(|e| e.to_string())?;
    tracing::info!(hooks_file = %config.file, "hooks loaded");
    let webhook = WebhookDoor::from_vars(env)?;
    let reachable_by_others = !settings.bind.is_loopback() || in_lambda();
    if reachable_by_others
        && !webhook.is_protected()
        && env("AML_EVENTS_WEBHOOK_INSECURE").as_deref() != Some("1")
    {
        return Err("the webhook door is reachable from other hosts but unprotected: set AML_EVENTS_WEBHOOK_KEY or \
             AML_EVENTS_ENTRA_AUDIENCE and AML_EVENTS_ENTRA_TENANT (or AML_EVENTS_WEBHOOK_INSECURE=1 to accept that)"
            .to_owned());
    }
    if config
        .hooks
        .iter()
        .any(|h| h.kind() == aml_events::hooks::action::ActionKind::Output)
        && reachable_by_others
    {
        tracing::warn!("output hooks only take effect under the Functions host; the webhook door drops their messages");
    }
    Ok(App {
        core: Core::new(dispatcher),
        functions: FunctionsDoor {
            poison_binding: config.settings.poison_binding.clone(),
        },
        webhook,
        serve_invocations: !reachable_by_others,
        settings,
    })
}
