//! The command line: `serve` (the default) and the offline commands `check`, `decode`, `sample`,
//! `send` and `subscription`. Each offline command returns its output so it can be tested; [`run`] prints it.

mod auth;
mod offline;
mod print;
mod send;
mod subscription;

pub use auth::check_auth;
pub use offline::{
    check, decode, describe, dry_run, read_input, sample, send_input, PartlyDecoded,
};
pub use send::{invocation_body, invocation_text, invocations, send, SendReport};
pub use subscription::subscription;

use crate::app::load_hooks;
use crate::event::Schema;
use crate::hooks::config::ConfigError;
use crate::settings::{Settings, SettingsError};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use thiserror::Error;

/// `handler`'s command line.
#[derive(Debug, Parser)]
#[command(
    name = "handler",
    version,
    about = "React to Azure Machine Learning workspace events"
)]
pub struct Cli {
    /// What to do; `serve` when absent (the Functions host passes no arguments).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve on $AML_EVENTS_BIND_ADDRESS (127.0.0.1):$FUNCTIONS_CUSTOMHANDLER_PORT (8080); the default.
    Serve {
        /// The hooks file (default: $AML_EVENTS_HOOKS, else ./hooks.toml, else the embedded default).
        #[arg(long)]
        hooks: Option<PathBuf>,
    },
    /// Validate a hooks file and print its hooks.
    Check {
        /// The hooks file (default: $AML_EVENTS_HOOKS, else ./hooks.toml, else the embedded default).
        #[arg(long)]
        hooks: Option<PathBuf>,
        /// Also get a token for every `auth` of the file, now, and print whose it is, its audience
        /// and its expiry (never the token): tests the identity from a console.
        #[arg(long)]
        auth: bool,
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
    /// Print the body the Functions host POSTs for each event of a file, one JSON line per event
    /// (for curl, wrk and the load scripts; `send` posts the same bodies).
    Invocation {
        /// A JSON file (one event or an array), - for stdin, or sample:NAME.
        input: String,
        /// Schema of sample:NAME inputs.
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
        #[arg(long = "as", value_enum, default_value_t = SendAs::Invocation)]
        send_as: SendAs,
        /// Schema of sample:NAME inputs.
        #[arg(long, value_enum, default_value_t = SchemaArg::Eventgrid)]
        schema: SchemaArg,
        /// Print what each hook would send for each event instead of posting.
        #[arg(long)]
        dry_run: bool,
        /// The hooks file for --dry-run.
        #[arg(long)]
        hooks: Option<PathBuf>,
    },
    /// Print what creates the Event Grid subscription on the workspace for a hooks file: the event
    /// types and the filters every hook shares, delivery schema, retries, dead-letter, and the
    /// webhook door's key header or Entra ID.
    Subscription {
        /// The output: an az command, a Bicep file or an ARM template.
        #[arg(long, value_enum, default_value_t = FormatArg::Az)]
        format: FormatArg,
        /// `functions` (the Event Grid trigger) or the webhook door's https URL.
        #[arg(long, default_value = "functions")]
        endpoint: String,
        /// The delivery schema.
        #[arg(long, value_enum, default_value_t = SchemaArg::Eventgrid)]
        schema: SchemaArg,
        /// The hooks file (default: $AML_EVENTS_HOOKS, else ./hooks.toml, else the embedded default).
        #[arg(long)]
        hooks: Option<PathBuf>,
    },
}

/// `handler subscription`'s output forms.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// `az eventgrid event-subscription create`.
    Az,
    /// A Bicep file.
    Bicep,
    /// An ARM template.
    Arm,
}

impl From<FormatArg> for crate::subscription::Format {
    fn from(arg: FormatArg) -> Self {
        match arg {
            FormatArg::Az => Self::Az,
            FormatArg::Bicep => Self::Bicep,
            FormatArg::Arm => Self::Arm,
        }
    }
}

/// The envelope schema, as the command line spells it.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SchemaArg {
    /// The Event Grid schema.
    Eventgrid,
    /// CloudEvents 1.0.
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

/// How `handler send` delivers events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SendAs {
    /// As the Functions host: `POST /{FunctionName}` with `{"Data": {"event": ...}}`, one per event.
    Invocation,
    /// As Event Grid: one `POST` with `aeg-event-type: Notification` and all events in an array.
    Webhook,
}

/// Why a command failed.
#[derive(Debug, Error)]
pub enum CliError {
    /// A setting is invalid.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The hooks file is invalid.
    #[error(transparent)]
    Hooks(#[from] ConfigError),
    /// The application cannot be assembled.
    #[error(transparent)]
    Startup(#[from] crate::app::StartupError),
    /// An input cannot be read.
    #[error("cannot read {what}: {source}")]
    Read {
        /// The file, or standard input.
        what: String,
        /// Why.
        source: std::io::Error,
    },
    /// An input is not JSON.
    #[error("{input}: not JSON: {source}")]
    NotJson {
        /// The input's name.
        input: String,
        /// Why.
        source: serde_json::Error,
    },
    /// An event cannot be decoded.
    #[error("event {index}: {error}")]
    Event {
        /// Its index in the input.
        index: usize,
        /// What is wrong, and where.
        error: crate::event::DecodeError,
    },
    /// No bundled sample has this name.
    #[error("no sample named `{name}`; choose one of: {choices}")]
    UnknownSample {
        /// The name asked for.
        name: String,
        /// The names there are.
        choices: String,
    },
    /// The async runtime cannot start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// `serve` is not an offline command: the `handler` binary serves.
    #[error("`serve` is run by the handler binary, not as an offline command")]
    NotOffline,
    /// Output could not be rendered.
    #[error("cannot render the output: {0}")]
    Render(#[from] serde_json::Error),
    /// No subscription can be made.
    #[error(transparent)]
    Subscription(#[from] crate::subscription::SubscriptionError),
}

/// Runs an offline command (everything but `serve`) and prints its output; errors go to stderr.
pub fn run(command: Command) -> ExitCode {
    let result = match command {
        // `handler` serves itself (main starts telemetry first); here it is a caller's mistake.
        Command::Serve { .. } => Err(CliError::NotOffline),
        Command::Check { hooks, auth: false } => {
            settings_with(hooks).and_then(|settings| check(&settings))
        }
        Command::Check { hooks, auth: true } => {
            let report = settings_with(hooks).and_then(|settings| {
                let table = check(&settings)?;
                let (tokens, ok) = check_auth(&settings)?;
                Ok((format!("{table}\n{tokens}"), ok))
            });
            return match report {
                Ok((out, true)) => finish(Ok(out)),
                Ok((out, false)) => print::exit(print::out(&out, true), ExitCode::FAILURE),
                Err(e) => finish(Err(e)),
            };
        }
        Command::Decode { input } => {
            return match read_input(&input).map(|text| decode(&text)) {
                Ok(Ok(out)) => finish(Ok(out)),
                Ok(Err(PartlyDecoded { output, errors })) => {
                    let printed = output.is_empty()
                        || output == "null"
                        || output == "[]"
                        || print::out(&output, true);
                    errors
                        .iter()
                        .for_each(|e| print::err(&format!("error: {e}")));
                    print::exit(printed, ExitCode::FAILURE)
                }
                Err(e) => finish(Err(e)),
            }
        }
        Command::Sample { name, schema } => {
            return match sample(&name, schema.into()) {
                Ok(text) => print::exit(print::out(text, false), ExitCode::SUCCESS),
                Err(e) => finish(Err(e)),
            }
        }
        Command::Invocation { input, schema } => {
            send_input(&input, schema.into()).map(|events| invocations(&events))
        }
        Command::Send {
            input,
            schema,
            dry_run: true,
            hooks,
            ..
        } => send_input(&input, schema.into()).and_then(|events| {
            let config = load_hooks(&settings_with(hooks)?)?;
            dry_run(&events, &config)
        }),
        Command::Send {
            input,
            to,
            send_as,
            schema,
            ..
        } => return post(&input, to, send_as, schema),
        Command::Subscription {
            format,
            endpoint,
            schema,
            hooks,
        } => settings_with(hooks)
            .and_then(|settings| subscription(&settings, format.into(), &endpoint, schema.into())),
    };
    finish(result)
}

fn settings_with(hooks: Option<PathBuf>) -> Result<Settings, CliError> {
    let mut settings = Settings::from_env()?;
    if hooks.is_some() {
        settings.hooks_file = hooks;
    }
    Ok(settings)
}

fn post(input: &str, to: Option<String>, send_as: SendAs, schema: SchemaArg) -> ExitCode {
    let events = match send_input(input, schema.into()) {
        Ok(events) => events,
        Err(e) => return finish(Err(e)),
    };
    let default_to = match send_as {
        SendAs::Invocation => "http://127.0.0.1:8080/MlWorkspaceEvents",
        SendAs::Webhook => {
            "http://localhost:7071/runtime/webhooks/eventgrid?functionName=MlWorkspaceEvents"
        }
    };
    let to = to.unwrap_or_else(|| default_to.to_owned());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return finish(Err(CliError::Runtime(e))),
    };
    let report = runtime.block_on(send(&events, &to, send_as));
    if report.ok {
        print::exit(print::out(&report.text, true), ExitCode::SUCCESS)
    } else {
        print::err(&format!("error: {}", report.text));
        ExitCode::FAILURE
    }
}

/// Prints `result` (stdout on success, stderr on failure) and turns it into an exit code.
fn finish(result: Result<String, CliError>) -> ExitCode {
    match result {
        Ok(out) => print::exit(print::out(&out, true), ExitCode::SUCCESS),
        Err(e) => {
            print::err(&format!("error: {e}"));
            ExitCode::FAILURE
        }
    }
}
