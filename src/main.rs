//! `handler`: the Azure Functions custom handler for Azure ML events. Parses the command line and
//! calls the library; all behaviour lives in `aml_events`.

use aml_events::door::App;
use aml_events::event::Schema;
use aml_events::settings::Settings;
use aml_events::{cli, server, telemetry};
use clap::{Parser, Subcommand, ValueEnum};
use std::net::{Ipv4Addr, SocketAddr};
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
    /// Serve on 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT (default 8080); the default command.
    Serve,
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
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemaArg {
    Eventgrid,
    Cloudevents,
}

fn main() -> ExitCode {
    match Cli::parse().command.unwrap_or(Command::Serve) {
        Command::Serve => serve(),
        Command::Decode { input } => match cli::read_input(&input).map(|text| cli::decode(&text)) {
            Ok(Ok(out)) => {
                println!("{out}");
                ExitCode::SUCCESS
            }
            Ok(Err((out, errors))) => {
                if !out.is_empty() && out != "null" && out != "[]" {
                    println!("{out}");
                }
                errors.iter().for_each(|e| eprintln!("{e}"));
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Sample { name, schema } => {
            let schema = match schema {
                SchemaArg::Eventgrid => Schema::EventGrid,
                SchemaArg::Cloudevents => Schema::CloudEvents,
            };
            match cli::sample(&name, schema) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn serve() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.under_functions_host);
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
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, settings.port));
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::error!(%addr, error = %e, "cannot listen");
                return ExitCode::FAILURE;
            }
        };
        let grace = settings.shutdown_grace;
        let app = Arc::new(App {
            settings,
            ..App::default()
        });
        let local = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let hooks: Vec<&str> = app.core.dispatcher().hook_names().collect();
        tracing::info!(address = %local, hooks = ?hooks, "aml-events handler listening");
        server::serve(listener, app, server::shutdown_signal(), grace).await;
        tracing::info!("stopped");
        ExitCode::SUCCESS
    })
}
