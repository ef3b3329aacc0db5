//! The command line: `serve` (the default) and the offline commands `check`, `decode`, `sample` and
//! `send`. Each offline command returns its output so it can be tested; [`run`] prints it.

use crate::app::{load_hooks, App};
use crate::event::{EventKind, JsonPath, MlEvent, Schema};
use crate::hooks::config::{ConfigError, DedupeSetting, HooksConfig};
use crate::pipeline::{decode as decode_body, Body};
use crate::settings::{Settings, SettingsError};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};
use std::io::Read;
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
    /// Output could not be rendered.
    #[error("cannot render the output: {0}")]
    Render(#[from] serde_json::Error),
}

/// Runs an offline command (everything but `serve`) and prints its output; errors go to stderr.
pub fn run(command: Command) -> ExitCode {
    let result = match command {
        Command::Serve { .. } => return ExitCode::FAILURE,
        Command::Check { hooks } => settings_with(hooks).and_then(|settings| check(&settings)),
        Command::Decode { input } => {
            return match read_input(&input).map(|text| decode(&text)) {
                Ok(Ok(out)) => finish(Ok(out)),
                Ok(Err((out, errors))) => {
                    if !out.is_empty() && out != "null" && out != "[]" {
                        println!("{out}");
                    }
                    errors.iter().for_each(|e| eprintln!("{e}"));
                    ExitCode::FAILURE
                }
                Err(e) => finish(Err(e)),
            }
        }
        Command::Sample { name, schema } => {
            return match sample(&name, schema.into()) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => finish(Err(e)),
            }
        }
        Command::Send {
            input,
            to,
            send_as,
            schema,
            dry_run: true,
            hooks,
        } => {
            let _ = (to, send_as);
            send_input(&input, schema.into()).and_then(|events| {
                let config = load_hooks(&settings_with(hooks)?)?;
                dry_run(&events, &config)
            })
        }
        Command::Send {
            input,
            to,
            send_as,
            schema,
            ..
        } => return post(&input, to, send_as, schema),
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
        println!("{}", report.text);
        ExitCode::SUCCESS
    } else {
        eprintln!("error: {}", report.text);
        ExitCode::FAILURE
    }
}

/// Prints `result` (stdout on success, stderr on failure) and turns it into an exit code.
fn finish(result: Result<String, CliError>) -> ExitCode {
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

/// Reads `path`, or standard input for `-`.
pub fn read_input(path: &str) -> Result<String, CliError> {
    let mut text = String::new();
    let read = if path == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    read.map_err(|source| CliError::Read {
        what: if path == "-" {
            "standard input".to_owned()
        } else {
            path.to_owned()
        },
        source,
    })?;
    Ok(text)
}

/// What `handler decode` shows for one event: its kind, summary, parsed helpers and the normalised
/// event (data in the service's camelCase).
pub fn describe(event: &crate::event::Event<MlEvent>) -> Value {
    let mut data_view = json!({
        "kind": event.kind().short_name(),
        "summary": event.summary(),
        "workspace": event.workspace(),
        "subject": event.parsed_subject(),
    });
    if let MlEvent::ModelDeployed(d) = &event.data {
        data_view["model_ids"] = json!(d.model_ids());
    }
    data_view["event"] = json!(event);
    data_view
}

/// `handler decode`: every event of `text` described as pretty JSON (an array when the input is an
/// array). `Err` holds the output for the good events and one line per error; the exit code is then 1.
pub fn decode(text: &str) -> Result<String, (String, Vec<String>)> {
    let results = decode_body(Body::Events(text.as_bytes()))
        .map_err(|e| (String::new(), vec![format!("error: {}", e.error)]))?;
    let mut described = Vec::new();
    let mut errors = Vec::new();
    for result in results {
        match result.event {
            Ok(event) => described.push(describe(&event)),
            Err(e) => errors.push(format!("error: {e}")),
        }
    }
    let out = if text.trim_start().starts_with('[') {
        Value::Array(described)
    } else {
        described.pop().unwrap_or(Value::Null)
    };
    let pretty = serde_json::to_string_pretty(&out).unwrap_or_default();
    if errors.is_empty() {
        Ok(pretty)
    } else {
        Err((pretty, errors))
    }
}

/// `handler sample NAME --schema S`: the bundled sample's text.
pub fn sample(name: &str, schema: Schema) -> Result<&'static str, CliError> {
    let unknown = || CliError::UnknownSample {
        name: name.to_owned(),
        choices: crate::samples::names().join(", "),
    };
    let kind = EventKind::from_name(name)
        .filter(|k| k.is_ml())
        .ok_or_else(unknown)?;
    crate::samples::sample(kind, schema).ok_or_else(unknown)
}

/// `handler check`: validates the hooks file (and builds the application from it, as `serve`
/// would) and returns the hooks table and a summary line.
pub fn check(settings: &Settings) -> Result<String, CliError> {
    let config = load_hooks(settings)?;
    App::builder(settings.clone())
        .hooks_config(config.clone())
        .build()?;
    let dedupe = match &config.settings.dedupe {
        DedupeSetting::Memory => "memory".to_owned(),
        DedupeSetting::Redis(url) => match reqwest::Url::parse(url) {
            Ok(u) => format!("redis at {}", u.host_str().unwrap_or("?")),
            Err(_) => "redis".to_owned(),
        },
    };
    Ok(format!(
        "{}\n{}: {} hook(s) OK; deadline {} ms; dedupe {dedupe}",
        config.table().trim_end(),
        config.file,
        config.hooks.len(),
        config.settings.deadline.as_millis()
    ))
}

/// The events of a `send` input: a file, `-`, or `sample:NAME` (Event Grid schema unless `schema`).
pub fn send_input(input: &str, schema: Schema) -> Result<Vec<Value>, CliError> {
    let text = match input.strip_prefix("sample:") {
        Some(name) => sample(name, schema)?.to_owned(),
        None => read_input(input)?,
    };
    match serde_json::from_str::<Value>(&text).map_err(|source| CliError::NotJson {
        input: input.to_owned(),
        source,
    })? {
        Value::Array(items) => Ok(items),
        single => Ok(vec![single]),
    }
}

/// `handler send --dry-run`: what every matching hook would send for each event, as pretty JSON.
pub fn dry_run(events: &[Value], config: &HooksConfig) -> Result<String, CliError> {
    let mut out = Vec::new();
    for (index, raw) in events.iter().enumerate() {
        let text = raw.to_string();
        let event = decode_body(Body::Events(text.as_bytes()))
            .map_err(|e| e.error)
            .and_then(|mut events| match events.pop() {
                Some(decoded) => decoded.event,
                None => Err(crate::event::DecodeError::new(JsonPath::root(), "no event")),
            })
            .map_err(|e| CliError::Event {
                index,
                error: e.within(&JsonPath::root().index(index)),
            })?;
        let mut hooks = Vec::new();
        for hook in config
            .hooks
            .iter()
            .filter(|h| crate::hooks::Hook::matches(*h, &event))
        {
            match hook.prepare(&event) {
                Ok((preview, _)) => hooks.push(json!(preview)),
                Err(e) => hooks.push(json!({"hook": hook.name, "error": e.message})),
            }
        }
        out.push(json!({"event": event.id, "kind": event.kind().short_name(), "hooks": hooks}));
    }
    let text = serde_json::to_string_pretty(&out)?;
    Ok(config.secrets.redact(&text))
}

/// What `handler send` did: one line per request (status and body), and whether all were 2xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReport {
    /// The lines.
    pub text: String,
    /// Whether every request was answered 2xx.
    pub ok: bool,
}

/// The body the Functions host POSTs for an Event Grid trigger named `event` (`function.json`): the
/// event under `Data`, its data again under `Metadata`. Tests, benchmarks and `send` build it here.
pub fn invocation_body(event: &Value) -> Value {
    json!({
        "Data": {"event": event},
        "Metadata": {"data": event.get("data").cloned().unwrap_or(Value::Null),
                     "sys": {"MethodName": "MlWorkspaceEvents", "UtcNow": "2026-11-25T10:00:00.1234567Z",
                             "RandGuid": "0f8fad5b-d9cb-469f-a165-70867728950e"}}
    })
}

/// `handler send`: posts `events` to `to`.
pub async fn send(events: &[Value], to: &str, mode: SendAs) -> SendReport {
    let client = reqwest::Client::new();
    let mut lines = Vec::new();
    let mut ok = true;
    let requests: Vec<reqwest::RequestBuilder> = match mode {
        SendAs::Invocation => events
            .iter()
            .map(|event| {
                client
                    .post(to)
                    .header("Content-Type", "application/json")
                    .header(
                        "X-Azure-Functions-InvocationId",
                        format!("send-{:016x}", fastrand::u64(..)),
                    )
                    .body(invocation_body(event).to_string())
            })
            .collect(),
        SendAs::Webhook => vec![client
            .post(to)
            .header("Content-Type", "application/json")
            .header("aeg-event-type", "Notification")
            .body(Value::Array(events.to_vec()).to_string())],
    };
    for request in requests {
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                ok &= status.is_success();
                let body = response.text().await.unwrap_or_default();
                lines.push(format!("{} {body}", status.as_u16()));
            }
            Err(e) => {
                ok = false;
                lines.push(format!("error: {}", e.without_url()));
            }
        }
    }
    SendReport {
        text: lines.join("\n"),
        ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_describes_the_sample() {
        let text = sample("model-deployed", Schema::EventGrid).unwrap();
        let out = decode(text).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v[0]["kind"], "ModelDeployed");
        assert_eq!(v[0]["model_ids"][1]["version"], "2");
        assert_eq!(v[0]["event"]["data"]["serviceName"], "my-sklearn-service");
    }

    #[test]
    fn decode_reports_errors_with_their_path() {
        let (_, errors) = decode(r#"[{"id":"1","eventType":"X"},{"eventType":"X"}]"#).unwrap_err();
        assert_eq!(errors, vec!["error: missing `id` at $[1].id".to_owned()]);
    }

    #[test]
    fn unknown_sample_names_list_the_choices() {
        let err = sample("nope", Schema::EventGrid).unwrap_err().to_string();
        assert!(err.contains("ModelRegistered"), "{err}");
    }
}
