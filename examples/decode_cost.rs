//! Runs one decoding path N times, for counting instructions with callgrind: the difference between a
//! run and a dry run (`DRY=1`: everything but the measured loop), divided by N, is the cost of one
//! call, whatever the load on the machine (BENCHMARKS.md, "Decoding" and "In-process invocation
//! path").
//!
//! ```sh
//! cargo build --release --example decode_cost
//! bin=target/release/examples/decode_cost f=tests/fixtures/eventgrid-model-deployed.json
//! for mode in typed value invoke; do
//!   a=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null $bin $f $mode 2000 2>&1 | grep -o 'refs: *[0-9,]*' | tr -dc 0-9)
//!   b=$(DRY=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null $bin $f $mode 2000 2>&1 | grep -o 'refs: *[0-9,]*' | tr -dc 0-9)
//!   echo "$mode $(( (a - b) / 2000 )) instructions per call"
//! done
//! ```
//!
//! Modes: `typed` (`Event::<MlEvent>::from_json` of the fixture's first event, then drop), `value`
//! (`serde_json::from_str::<Value>` of the same bytes, then drop), `events` (`decode(Body::Events)` of
//! the whole fixture file), `invocation` (`decode(Body::Invocation)` of the body `invoke` sends, the
//! decoding alone), `invoke` (the Functions door with
//! the shipped `hooks.toml` and the handler's JSON log lines, formatted and discarded; each iteration
//! gets a fresh event id), `invoke-nolog` (the same without a subscriber).

use aml_events::door::functions::FunctionsDoor;
use aml_events::event::{decode, split_batch, Body, Event, MlEvent};
use aml_events::hooks::config::HooksConfig;
use aml_events::pipeline::Pipeline;
use aml_events::telemetry::json_layer;
use std::hint::black_box;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, fixture, mode, n] = args.as_slice() else {
        eprintln!("usage: decode_cost FIXTURE typed|value|invoke|invoke-nolog N");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("N is a number");
    let dry = std::env::var_os("DRY").is_some_and(|v| v == "1");
    let whole = std::fs::read_to_string(fixture).expect("readable fixture");
    let event = split_batch(&whole).expect("an event or an array")[0].to_owned();
    match mode.as_str() {
        _ if dry && !mode.starts_with("invoke") => {}
        "typed" => {
            for _ in 0..n {
                black_box(Event::<MlEvent>::from_json(black_box(&event)).expect("decodes"));
            }
        }
        "value" => {
            for _ in 0..n {
                black_box(
                    serde_json::from_str::<serde_json::Value>(black_box(&event)).expect("JSON"),
                );
            }
        }
        "events" => {
            for _ in 0..n {
                black_box(decode(Body::Events(black_box(whole.as_bytes()))).expect("decodes"));
            }
        }
        "invocation" => {
            let body = invocation_body(&event, 0);
            for _ in 0..n {
                black_box(decode(Body::Invocation(black_box(&body))).expect("decodes"));
            }
        }
        "invoke" | "invoke-nolog" => invoke(&event, mode == "invoke", n, dry),
        other => panic!("unknown mode {other}"),
    }
}

fn invoke(event: &str, logs: bool, n: usize, dry: bool) {
    if logs {
        let filter = tracing_subscriber::filter::Targets::new()
            .with_default(tracing::level_filters::LevelFilter::INFO);
        let subscriber =
            tracing_subscriber::registry().with(json_layer(std::io::sink).with_filter(filter));
        tracing::subscriber::set_global_default(subscriber).expect("first subscriber");
    }
    let shipped = include_str!("../hooks.toml");
    let config = HooksConfig::parse(shipped, "hooks.toml", &|_| None).expect("hooks.toml");
    let core = Pipeline::new(config.dispatcher().expect("dispatcher"));
    let door = FunctionsDoor::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let bodies: Vec<Vec<u8>> = (0..n).map(|i| invocation_body(event, i)).collect();
    for body in bodies.iter().filter(|_| !dry) {
        let (status, response) = runtime.block_on(door.invoke(&core, "MlWorkspaceEvents", body));
        black_box((status, serde_json::to_vec(&response).expect("serialises")));
    }
}

/// As the host sends it (built where the tests, the CLI and the load scripts build it): the event at
/// Data.event, its members in Azure's order, with a fresh first member `x-bench` so that dedupe sees
/// a new event each time.
fn invocation_body(event: &str, i: usize) -> Vec<u8> {
    let fresh = event.replacen('{', &format!("{{\"x-bench\":{i},"), 1);
    let event: Box<serde_json::value::RawValue> = serde_json::from_str(&fresh).expect("JSON");
    aml_events::cli::invocation_text(&event).into_bytes()
}
