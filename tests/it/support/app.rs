//! The library's app served in this process, on a listener the test binds itself (`127.0.0.1:0`):
//! no process to start, no port picked, released and picked up again (the bind-drop-rebind race), and
//! the log lines the app writes captured for the test that served it.
//!
//! Tests that use it run on `#[tokio::test]`'s current-thread runtime: the app's tasks are polled on
//! the test's thread, which is what lets [`TestApp::logs`] and [`panics_on_this_thread`] see only
//! this test's app while other tests run in parallel.

use aml_events::app::{App, StartupError};
use aml_events::settings::Settings;
use aml_events::telemetry::json_layer;
use serde_json::Value;
use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

/// The variables `support::Handler` gives the process, before the test's own.
fn host_vars(port: u16) -> Vec<(String, String)> {
    vec![
        ("FUNCTIONS_CUSTOMHANDLER_PORT".into(), port.to_string()),
        (
            "FUNCTIONS_CUSTOMHANDLER_WORKER_ID".into(),
            "worker-1".into(),
        ),
        ("RUST_LOG".into(), "info".into()),
    ]
}

/// Settings read from `pairs` (later pairs win), as `Settings::from_env` reads the environment.
pub fn settings(pairs: &[(String, String)]) -> Settings {
    try_settings(pairs).unwrap_or_else(|e| panic!("settings: {e}"))
}

fn try_settings(
    pairs: &[(String, String)],
) -> Result<Settings, aml_events::settings::SettingsError> {
    let pairs = pairs.to_vec();
    Settings::from_vars(move |name| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    })
}

fn owned(env: &[(&str, &str)]) -> Vec<(String, String)> {
    env.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A hooks file written for one app, with the variable that names it.
struct HooksFile {
    dir: tempfile::TempDir,
    path: String,
}

impl HooksFile {
    fn write(text: &str) -> HooksFile {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("hooks.toml");
        std::fs::write(&path, text).expect("write hooks.toml");
        let path = path.to_string_lossy().into_owned();
        HooksFile { dir, path }
    }
}

/// Builds the app `spawn_app` would serve, without serving it: for startup refusals.
/// `hooks`: the text of the hooks file; `None` loads what the settings name (as the process does,
/// from the repository root: `./hooks.toml`).
pub fn build_app(env: &[(&str, &str)], hooks: Option<&str>) -> Result<App, StartupError> {
    let mut pairs = host_vars(0);
    let file = hooks.map(HooksFile::write);
    if let Some(file) = &file {
        pairs.push(("AML_EVENTS_HOOKS".into(), file.path.clone()));
    }
    pairs.extend(owned(env));
    App::build(try_settings(&pairs)?)
}

/// The log lines an app wrote: each a JSON object, as under the Functions host, with whether it went
/// to the error stream (stderr).
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<(String, bool)>>>);

/// One log line's writer: errors are what the process writes to stderr, the rest stdout.
pub struct CaptureWriter {
    capture: LogCapture,
    error: bool,
}

impl std::io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut lines = self.capture.0.lock().unwrap_or_else(|e| e.into_inner());
        for line in String::from_utf8_lossy(buf).lines() {
            lines.push((line.trim_end().to_owned(), self.error));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogCapture {
    type Writer = CaptureWriter;

    fn make_writer(&'a self) -> CaptureWriter {
        CaptureWriter {
            capture: self.clone(),
            error: false,
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> CaptureWriter {
        CaptureWriter {
            capture: self.clone(),
            error: *meta.level() == tracing::Level::ERROR,
        }
    }
}

impl LogCapture {
    /// Every line so far, in order.
    pub fn lines(&self) -> Vec<(String, bool)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The lines the host would read on stdout, joined by newlines.
    pub fn stdout(&self) -> String {
        self.join(false)
    }

    /// The lines the host would read on stderr (its error logs), joined by newlines.
    pub fn stderr(&self) -> String {
        self.join(true)
    }

    fn join(&self, error: bool) -> String {
        self.lines()
            .into_iter()
            .filter(|(_, e)| *e == error)
            .map(|(l, _)| l)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The stdout lines parsed as JSON.
    pub fn json(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .filter(|(_, error)| !error)
            .filter_map(|(l, _)| serde_json::from_str(l).ok())
            .collect()
    }
}

thread_local! {
    static PANICS: Cell<usize> = const { Cell::new(0) };
}

/// Counts panics per thread (then reports them as before), so a test can tell that nothing it served
/// on its own thread panicked, whatever other tests do meanwhile.
fn watch_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.with(|p| p.set(p.get() + 1));
            previous(info);
        }));
    });
}

/// How many panics happened on this thread since the watch was installed (by [`spawn_app`]).
pub fn panics_on_this_thread() -> usize {
    PANICS.with(Cell::get)
}

/// The app served in this process; stops when dropped or on [`TestApp::shutdown`]. Its log capture is
/// the thread's default subscriber while it lives: serve one app per test, or drop them in the reverse
/// order of their creation.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The listening address.
    pub addr: SocketAddr,
    /// The port.
    pub port: u16,
    /// The app being served.
    pub app: Arc<App>,
    logs: LogCapture,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<aml_events::server::Stopped>>,
    _log_scope: tracing::subscriber::DefaultGuard,
    hooks_file: Option<HooksFile>,
}

/// Serves the app that `env` (the variables the process would get, after those `support::Handler`
/// sets) and `hooks` (the text of the hooks file; `None`: the settings' own, `./hooks.toml` here)
/// describe, in this process, on `127.0.0.1:0`.
pub async fn spawn_app(env: &[(&str, &str)], hooks: Option<&str>) -> TestApp {
    watch_panics();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    let hooks = hooks.map(HooksFile::write);
    let mut pairs = host_vars(addr.port());
    if let Some(file) = &hooks {
        pairs.push(("AML_EVENTS_HOOKS".into(), file.path.clone()));
    }
    pairs.extend(owned(env));
    // The JSON lines the process writes under the host, at its RUST_LOG, kept for this test.
    let logs = LogCapture::default();
    let settings = settings(&pairs);
    let filter = aml_events::telemetry::parse_filter(settings.log_filter.as_deref())
        .unwrap_or_else(|_| Targets::new().with_default(LevelFilter::INFO));
    let subscriber =
        tracing_subscriber::registry().with(json_layer(logs.clone()).with_filter(filter));
    let log_scope = tracing::subscriber::set_default(subscriber);
    let app = Arc::new(App::build(settings).unwrap_or_else(|e| panic!("startup: {e}")));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(app.clone().serve(listener, async move {
        let _ = stopped.await;
    }));
    TestApp {
        base: format!("http://{addr}"),
        addr,
        port: addr.port(),
        app,
        logs,
        stop: Some(stop),
        served: Some(served),
        _log_scope: log_scope,
        hooks_file: hooks,
    }
}

impl TestApp {
    /// `base` followed by `path_and_query`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }

    /// The log lines the app wrote so far.
    pub fn logs(&self) -> &LogCapture {
        &self.logs
    }

    /// The hooks file the app serves, when [`spawn_app`] wrote one: for the CLI (`handler check`,
    /// `handler send --dry-run`) to read the same file.
    pub fn hooks_path(&self) -> Option<&std::path::Path> {
        self.hooks_file
            .as_ref()
            .map(|file| std::path::Path::new(&file.path))
    }

    /// POSTs an invocation body to `/{function}` with the host's headers, as `Handler::invoke`.
    pub async fn invoke(
        &self,
        function: &str,
        invocation_id: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        super::host_request(&self.base, function, invocation_id, body).await
    }

    /// Stops accepting, lets in-flight requests finish (the settings' grace) and waits until the
    /// server has stopped, at most `within`. Panics if serving panicked.
    pub async fn shutdown(mut self, within: Duration) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            tokio::time::timeout(within, served)
                .await
                .unwrap_or_else(|_| panic!("the app did not stop within {within:?}"))
                .expect("the server task ended without panicking");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            served.abort();
        }
    }
}
