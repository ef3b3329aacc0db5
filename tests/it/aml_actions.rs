//! The Azure ML actions end to end: the built `handler` run as the Functions host runs it, with a
//! managed identity (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`, as a Function App sets them, answered
//! by the [`TokenService`]; read by `azure_identity` from the process environment, hence a process
//! per instance) and Resource Manager and a batch endpoint stood in for by [`AzureMl`] (the
//! documented shapes, cited there).

use super::support::azure_ml::AzureMl;
use super::support::token_service::{TokenService, APP_SERVICE_PATH};
use super::support::{fixture_events, invocation, Handler};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const ARM: &str = "https://management.azure.com";
const AZURE_ML: &str = "https://ml.azure.com";

const FUNCTION: &str = "MlWorkspaceEvents";
/// A breach-like run event from a real workspace topic.
const RUN_EVENT: &str = "eventgrid-run-status-changed-live.json";
const MODEL_EVENT: &str = "eventgrid-model-registered-live.json";

/// The job template the tests use: the template's own tag must survive beside the handler's.
const JOB_TEMPLATE: &str = r#"{
  "properties": {
    "jobType": "Command",
    "experimentName": "aml-events-retrain",
    "description": {{ "triggered by run " ~ run_id }},
    "tags": {"trigger": "model-monitor"},
    "command": "python train.py --data {% raw %}${{inputs.data}}{% endraw %}"
  }
}"#;

const RETRAIN_HOOK: &str = r#"
[[hooks]]
name = "retrain-on-breach"
events = ["RunStatusChanged"]
action = "aml_job"
job = "jobs/retrain.json"
auth = { type = "managed_identity" }
retries = 1
timeout_ms = 5000
"#;

/// A function app folder (hooks.toml, jobs/retrain.json), the identity's token service and Azure,
/// which accepts the tokens the service issued.
struct Azure {
    dir: tempfile::TempDir,
    tokens: Arc<TokenService>,
    ml: AzureMl,
}

impl Azure {
    async fn start(hooks: &str) -> Azure {
        let tokens = Arc::new(TokenService::start().await);
        let issued = tokens.clone();
        let ml = AzureMl::start(Arc::new(move |t| issued.issued().iter().any(|i| i == t))).await;
        Self::with(hooks, tokens, ml)
    }

    fn with(hooks: &str, tokens: Arc<TokenService>, ml: AzureMl) -> Azure {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("jobs")).unwrap();
        std::fs::write(dir.path().join("jobs/retrain.json"), JOB_TEMPLATE).unwrap();
        let hooks = hooks.replace("{SCORING_URI}", &ml.scoring_uri("churn-batch"));
        std::fs::write(dir.path().join("hooks.toml"), hooks).unwrap();
        Azure { dir, tokens, ml }
    }

    /// What the handler process gets: the Function App's identity and this test's Resource Manager.
    fn env(&self) -> Vec<(String, String)> {
        let mut env = self.tokens.function_app_env();
        env.push(("AML_EVENTS_ARM_ENDPOINT".into(), self.ml.base.clone()));
        env
    }

    /// A handler process in the app folder. A process, not `spawn_app`: `azure_identity` reads
    /// `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` from the process environment itself.
    async fn handler(&self) -> Handler {
        let env = self.env();
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Handler::start_in(self.dir.path(), &pairs).await
    }

    /// The one token issued so far, for `audience`, as the `Authorization` header carries it.
    fn bearer(&self, audience: &str) -> String {
        let requests = self.tokens.requests();
        assert_eq!(requests.len(), 1, "one token request: {requests:#?}");
        assert_eq!(requests[0].path, APP_SERVICE_PATH);
        assert_eq!(requests[0].query["resource"], audience);
        format!("Bearer {}", self.tokens.issued()[0])
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }
}

async fn deliver(handler: &Handler, fixture: &str) -> (u16, Value) {
    let event = &fixture_events(fixture)[0];
    let response = handler
        .invoke(FUNCTION, "inv-1", invocation(event).to_string())
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn logs(answer: &Value) -> String {
    answer["Logs"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// What the process wrote, after it stopped; neither a token nor the identity header is in it.
fn stopped_output(handler: Handler, azure: &Azure) -> (String, String) {
    handler.terminate();
    let (_, stdout, stderr) = handler.wait(Duration::from_secs(20));
    azure.tokens.assert_no_secret_in("stdout", &stdout);
    azure.tokens.assert_no_secret_in("stderr", &stderr);
    (stdout, stderr)
}

#[tokio::test]
async fn a_breach_starts_one_job_with_the_token_the_tags_and_a_studio_link() {
    let azure = Azure::start(RETRAIN_HOOK).await;
    let handler = azure.handler().await;
    let (status, answer) = deliver(&handler, RUN_EVENT).await;
    assert_eq!(status, 200, "{answer}");
    let jobs = azure.ml.jobs();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let (key, job) = jobs.iter().next().unwrap();
    let name = aml_events::hooks::action::job_name(
        "/subscriptions/5f0a8e51-7c3b-4e2a-9d51-2b6f0c1d9e07/resourceGroups/ml-platform-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-ws",
        "8d3f0a4e-31b0-4a7c-9b55-0c6a2f7e9d11",
        "retrain-on-breach",
    );
    assert_eq!(key, &format!("ml-prod-ws/{name}"));
    // The GET came first and found nothing; then one PUT with the ARM token.
    let (gets, puts) = (azure.ml.seen("GET"), azure.ml.seen("PUT"));
    assert_eq!(gets.len(), 1);
    assert_eq!(gets[0].answered, 404);
    assert_eq!(puts.len(), 1);
    assert_eq!(
        puts[0].path,
        format!("/subscriptions/5f0a8e51-7c3b-4e2a-9d51-2b6f0c1d9e07/resourceGroups/ml-platform-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-ws/jobs/{name}")
    );
    assert_eq!(puts[0].query, "api-version=2025-12-01");
    assert_eq!(puts[0].headers["authorization"], azure.bearer(ARM).as_str());
    let tags = &puts[0].json["properties"]["tags"];
    assert_eq!(
        tags,
        &json!({
            "trigger": "model-monitor",
            "aml_events.event_id": "8d3f0a4e-31b0-4a7c-9b55-0c6a2f7e9d11",
            "aml_events.event_type": "Microsoft.MachineLearningServices.RunStatusChanged",
            "aml_events.hook": "retrain-on-breach",
            "aml_events.run_id": "c7f5b2a1-9e2d-4d9b-8f1e-0a1b2c3d4e5f",
        })
    );
    assert_eq!(
        puts[0].json["properties"]["description"],
        "triggered by run c7f5b2a1-9e2d-4d9b-8f1e-0a1b2c3d4e5f"
    );
    assert_eq!(
        puts[0].json["properties"]["command"],
        "python train.py --data ${{inputs.data}}"
    );
    assert_eq!(job["properties"]["status"], "NotStarted");
    let logs = logs(&answer);
    let link = job["properties"]["services"]["Studio"]["endpoint"]
        .as_str()
        .unwrap();
    assert!(logs.contains(&name) && logs.contains(link), "{logs}");
    assert!(logs.contains("submitted (201 Created)"), "{logs}");
    azure.tokens.assert_no_secret_in("Logs", &logs);
    let (stdout, _) = stopped_output(handler, &azure);
    let line = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["job"] == name.as_str())
        .unwrap_or_else(|| panic!("no structured line names the job: {stdout}"));
    assert_eq!(line["studio_url"], link);
}

#[tokio::test]
async fn a_redelivery_to_a_fresh_process_finds_the_job_and_starts_no_second() {
    let azure = Azure::start(RETRAIN_HOOK).await;
    let first = azure.handler().await;
    let (status, answer) = deliver(&first, RUN_EVENT).await;
    assert_eq!(status, 200, "{answer}");
    stopped_output(first, &azure);
    // A new process: its dedupe store is empty.
    let second = azure.handler().await;
    let (status, answer) = deliver(&second, RUN_EVENT).await;
    assert_eq!(status, 200, "{answer}");
    assert!(logs(&answer).contains("already submitted"), "{answer}");
    assert_eq!(azure.ml.seen("PUT").len(), 1);
    assert_eq!(azure.ml.jobs().len(), 1);
    stopped_output(second, &azure);
}

#[tokio::test]
async fn two_instances_racing_on_one_event_create_one_job() {
    let azure = Azure::start(RETRAIN_HOOK).await;
    let (a, b) = tokio::join!(azure.handler(), azure.handler());
    // Both look before either creates: each GET waits until both have arrived.
    azure.ml.hold_gets_until(2);
    let ((status_a, answer_a), (status_b, answer_b)) =
        tokio::join!(deliver(&a, RUN_EVENT), deliver(&b, RUN_EVENT));
    assert_eq!((status_a, status_b), (200, 200), "{answer_a} {answer_b}");
    assert_eq!(azure.ml.jobs().len(), 1);
    let puts: Vec<u16> = azure.ml.seen("PUT").iter().map(|p| p.answered).collect();
    assert_eq!(puts.len(), 2, "both tried: {puts:?}");
    assert!(puts.contains(&201) && puts.contains(&409), "{puts:?}");
    let both = format!("{}\n{}", logs(&answer_a), logs(&answer_b));
    assert!(both.contains("submitted (201 Created)"), "{both}");
    assert!(
        both.contains("submitted by a concurrent delivery"),
        "{both}"
    );
    stopped_output(a, &azure);
    stopped_output(b, &azure);
}

#[tokio::test]
async fn a_400_from_resource_manager_fails_the_hook_permanently_with_its_code_and_message() {
    let azure = Azure::start(RETRAIN_HOOK).await;
    azure.ml.script_put(
        400,
        json!({"error": {"code": "UserError", "message": "Compute cpu-cluster not found in workspace ml-prod-ws."}}),
    );
    let handler = azure.handler().await;
    let (status, answer) = deliver(&handler, RUN_EVENT).await;
    // Permanent: answered 200 (Event Grid would only meet the same refusal), error in Logs.
    assert_eq!(status, 200, "{answer}");
    let logs = logs(&answer);
    assert!(
        logs.contains("UserError: Compute cpu-cluster not found in workspace ml-prod-ws."),
        "{logs}"
    );
    assert!(azure.ml.jobs().is_empty());
    // The refused PUT was checked with a GET, which found nothing.
    assert_eq!(azure.ml.seen("GET").len(), 2);
    let (_, stderr) = stopped_output(handler, &azure);
    assert!(
        stderr.contains("UserError: Compute cpu-cluster not found"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_busy_resource_manager_is_retried_and_then_the_invocation_answers_500() {
    let azure = Azure::start(RETRAIN_HOOK).await;
    for _ in 0..2 {
        azure.ml.script_put(
            503,
            json!({"error": {"code": "ServiceUnavailable", "message": "busy"}}),
        );
    }
    let handler = azure.handler().await;
    let (status, _) = deliver(&handler, RUN_EVENT).await;
    assert_eq!(
        status, 500,
        "retries = 1: two attempts, then Event Grid redelivers"
    );
    assert_eq!(azure.ml.seen("PUT").len(), 2);
    // The redelivery creates the job: the failure released the lease.
    let (status, answer) = deliver(&handler, RUN_EVENT).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(azure.ml.jobs().len(), 1);
    stopped_output(handler, &azure);
}

#[tokio::test]
async fn a_batch_endpoint_job_is_posted_once_per_event_and_its_name_logged() {
    let hooks = r#"
[[hooks]]
name = "score-new-model"
events = ["ModelRegistered"]
action = "aml_batch_endpoint"
url = "{SCORING_URI}"
deployment = "churn-v2"
body = '''{"properties": {"InputData": {"input": {"JobInputType": "UriFolder", "Uri": "azureml://datastores/workspaceblobstore/paths/churn/latest/"}}, "properties": {"model": {{ model_name }}}}}'''
auth = { type = "managed_identity" }
"#;
    let azure = Azure::start(hooks).await;
    let handler = azure.handler().await;
    let (status, answer) = deliver(&handler, MODEL_EVENT).await;
    assert_eq!(status, 200, "{answer}");
    let logs_first = logs(&answer);
    assert!(
        logs_first.contains("batch endpoint job batchjob-0001 started"),
        "{logs_first}"
    );
    assert!(
        logs_first.contains("https://ml.azure.com/runs/batchjob-0001?wsid="),
        "{logs_first}"
    );
    let (status, answer) = deliver(&handler, MODEL_EVENT).await;
    assert_eq!(status, 200, "{answer}");
    assert!(logs(&answer).contains("already done"), "{answer}");
    let posts = azure.ml.seen("POST");
    assert_eq!(posts.len(), 1, "once per event");
    assert_eq!(posts[0].path, "/batch/churn-batch/jobs");
    // The data plane's token.
    assert_eq!(
        posts[0].headers["authorization"],
        azure.bearer(AZURE_ML).as_str()
    );
    assert_eq!(posts[0].headers["azureml-model-deployment"], "churn-v2");
    assert_eq!(
        posts[0].json["properties"]["properties"]["model"],
        "ncd-sklearn-model"
    );
    stopped_output(handler, &azure);
}

/// Every `toml` block of README's recipes (`### Recipe: ...`), with the files their steps name,
/// passes `handler check`: the documentation cannot drift from what the handler accepts.
#[test]
fn the_readme_recipes_pass_handler_check() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let recipes: Vec<&str> = readme.split("\n### Recipe: ").skip(1).collect();
    assert!(!recipes.is_empty(), "README has no recipes");
    for recipe in recipes {
        let recipe = recipe.split("\n## ").next().unwrap();
        let recipe = recipe.split("\n### ").next().unwrap();
        let title = recipe.lines().next().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut hooks = String::new();
        let mut previous = "";
        for (i, block) in recipe.split("```").enumerate() {
            if i % 2 == 1 {
                let (lang, body) = block.split_once('\n').unwrap();
                let body = dedent(body);
                match lang.trim() {
                    "toml" => hooks.push_str(&body),
                    "json" => {
                        let file = previous
                            .split('`')
                            .nth(1)
                            .unwrap_or_else(|| panic!("{title}: a json block names no file"));
                        let path = dir.path().join(file);
                        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                        std::fs::write(path, body).unwrap();
                    }
                    _ => {}
                }
            } else {
                previous = block;
            }
        }
        std::fs::write(dir.path().join("hooks.toml"), &hooks).unwrap();
        // The settings a recipe names (`${env:NAME}`) are set, as the app's settings would be.
        let names: Vec<&str> = hooks
            .split("${env:")
            .skip(1)
            .filter_map(|rest| rest.split('}').next())
            .collect();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
            .arg("check")
            .current_dir(dir.path())
            .env_remove("AML_EVENTS_HOOKS")
            .envs(names.iter().map(|n| (*n, "https://example.test/setting")))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{title}: handler check failed:\n{stdout}\n{stderr}\n--- hooks.toml:\n{hooks}"
        );
        assert!(stdout.contains("hook(s) OK"), "{title}: {stdout}");
    }
}

/// `handler ARGS` in the app folder with the test's environment: its stdout and stderr, which must
/// hold no secret. Awaited (not blocking), so the token service on this thread can answer it.
async fn run(azure: &Azure, args: &[&str]) -> String {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .args(args)
        .current_dir(azure.dir())
        .envs(azure.env())
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{args:?}: {text}");
    azure.tokens.assert_no_secret_in("output", &text);
    text
}

/// A fenced block's lines without the indentation of a list item.
fn dedent(block: &str) -> String {
    let indent = block
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    block
        .lines()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// `handler check` lists the Azure ML hooks; `handler send --dry-run` shows the job request (its
/// address, the job's name, the tags) and fetches no token; `handler check --auth` fetches one for
/// each implied audience.
#[tokio::test]
async fn check_lists_them_and_a_dry_run_previews_the_requests_without_a_token() {
    let hooks = format!(
        "{RETRAIN_HOOK}{}",
        r#"
[[hooks]]
name = "score-new-model"
events = ["ModelRegistered"]
action = "aml_batch_endpoint"
url = "https://churn-batch.eastus.inference.ml.azure.com"
body = '{"properties": {"InputData": {}}}'
auth = { type = "managed_identity" }
"#
    );
    let azure = Azure::start(&hooks).await;
    let table = run(&azure, &["check"]).await;
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row {name}: {table}"))
            .to_owned()
    };
    assert!(row("retrain-on-breach").contains("aml_job"), "{table}");
    assert!(
        row("retrain-on-breach").contains("(the event's workspace)"),
        "{table}"
    );
    let batch = row("score-new-model");
    assert!(batch.contains("aml_batch_endpoint"), "{table}");
    assert!(
        batch.contains("https://churn-batch.eastus.inference.ml.azure.com/…"),
        "{table}"
    );
    let event = azure.dir().join("event.json");
    std::fs::write(&event, super::support::fixture(RUN_EVENT)).unwrap();
    let preview: Value =
        serde_json::from_str(&run(&azure, &["send", event.to_str().unwrap(), "--dry-run"]).await)
            .unwrap();
    let hook = &preview[0]["hooks"][0];
    assert_eq!(hook["action"], "aml_job");
    assert_eq!(hook["method"], "PUT");
    let destination = hook["destination"].as_str().unwrap();
    assert!(
        destination.starts_with(&format!("{}/subscriptions/5f0a8e51-7c3b-4e2a-9d51-2b6f0c1d9e07/resourceGroups/ml-platform-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-ws/jobs/retrain-on-breach-8d3f0a4e-31b0-4a7c-9b55-0c6a2f7e9d11-", azure.ml.base)),
        "{destination}"
    );
    assert_eq!(
        hook["payload"]["properties"]["tags"]["aml_events.hook"],
        "retrain-on-breach"
    );
    assert_eq!(
        hook["auth"],
        "managed_identity token for https://management.azure.com in `Authorization`"
    );
    assert_eq!(
        preview[0]["hooks"].as_array().unwrap().len(),
        1,
        "{preview}"
    );
    assert!(azure.tokens.requests().is_empty(), "no token for a dry run");
    assert!(azure.ml.seen("GET").is_empty() && azure.ml.seen("PUT").is_empty());
    // `check --auth`: one token per audience the actions imply, shown without the token.
    let auth = run(&azure, &["check", "--auth"]).await;
    for audience in [ARM, AZURE_ML] {
        assert!(
            auth.lines()
                .any(|l| l.starts_with("OK") && l.contains(&format!("audience {audience}"))),
            "{auth}"
        );
    }
    assert!(auth.contains("2 of 2 token(s) obtained"), "{auth}");
    let audiences: Vec<String> = azure
        .tokens
        .requests()
        .iter()
        .map(|r| r.query["resource"].clone())
        .collect();
    assert_eq!(audiences.len(), 2, "{audiences:?}");
    azure.tokens.assert_no_secret_in("check --auth", &auth);
}

/// The webhook door (Event Grid posting to the handler directly) runs the same hook: a delivery
/// and its redelivery, one job.
#[tokio::test]
async fn through_the_webhook_door_a_redelivery_starts_no_second_job() {
    let azure = Azure::start(RETRAIN_HOOK).await;
    let handler = azure.handler().await;
    let client = reqwest::Client::new();
    let batch = Value::Array(fixture_events(RUN_EVENT));
    for attempt in 0..2 {
        let response = client
            .post(format!("{}/api/eventgrid", handler.base))
            .header("aeg-event-type", "Notification")
            .header("content-type", "application/json")
            .body(batch.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "delivery {attempt}");
    }
    assert_eq!(azure.ml.jobs().len(), 1);
    assert_eq!(azure.ml.seen("PUT").len(), 1);
    let (stdout, _) = stopped_output(handler, &azure);
    assert!(stdout.contains("already done"), "{stdout}");
}

#[tokio::test]
async fn a_refused_identity_fails_permanently_naming_the_role() {
    // Resource Manager takes no token the service issues: it answers 401, as to a token for the
    // wrong audience.
    let tokens = Arc::new(TokenService::start().await);
    let azure = Azure::with(
        RETRAIN_HOOK,
        tokens,
        AzureMl::start(Arc::new(|_| false)).await,
    );
    let handler = azure.handler().await;
    let (status, answer) = deliver(&handler, RUN_EVENT).await;
    assert_eq!(status, 200, "permanent: {answer}");
    let logs = logs(&answer);
    assert!(
        logs.contains("it must be issued for https://management.azure.com"),
        "{logs}"
    );
    assert!(logs.contains("\"AzureML Data Scientist\""), "{logs}");
    assert!(logs.contains("InvalidAuthenticationToken"), "{logs}");
    assert!(
        azure.ml.seen("PUT").is_empty(),
        "nothing is sent after the refusal"
    );
    stopped_output(handler, &azure);
}

/// The keys of the Azure ML actions, checked when the file is read: each problem names the hook
/// and the key.
mod config {
    use aml_events::hooks::config::HooksConfig;

    /// Validates `hooks` as `{dir}/hooks.toml`, beside a `jobs/retrain.json`.
    fn check(hooks: &str) -> Result<HooksConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("jobs")).unwrap();
        std::fs::write(dir.path().join("jobs/retrain.json"), super::JOB_TEMPLATE).unwrap();
        let file = dir.path().join("hooks.toml");
        HooksConfig::parse(hooks, file.to_str().unwrap(), &|_| None).map_err(|e| {
            e.to_string()
                .replace(&format!("{}/", dir.path().display()), "")
        })
    }

    fn job_hook(extra: &str) -> String {
        format!(
            "[[hooks]]\nname = \"retrain\"\nevents = [\"RunStatusChanged\"]\naction = \"aml_job\"\n{extra}\n"
        )
    }

    #[test]
    fn aml_job_needs_a_readable_template_and_auth() {
        let auth = "auth = { type = \"managed_identity\" }";
        let cases = [
            (
                job_hook(auth),
                "hook `retrain`: key `job`: is required by action `aml_job`",
            ),
            (
                job_hook("job = \"jobs/retrain.json\""),
                "hook `retrain`: key `auth`: is required by action `aml_job`",
            ),
            (
                job_hook(&format!("job = \"jobs/missing.json\"\n{auth}")),
                "hook `retrain`: key `job`: cannot read the job template jobs/missing.json",
            ),
            (
                job_hook(&format!(
                    "job = \"jobs/retrain.json\"\nworkspace = \"ml-prod-ws\"\n{auth}"
                )),
                "hook `retrain`: key `workspace`: must be \"event\" or a workspace resource id",
            ),
            (
                job_hook(&format!(
                    "job = \"jobs/retrain.json\"\napi_version = \"latest\"\n{auth}"
                )),
                "hook `retrain`: key `api_version`: must look like 2025-12-01",
            ),
            (
                job_hook(&format!(
                    "job = \"jobs/retrain.json\"\nurl = \"https://x.example\"\n{auth}"
                )),
                "hook `retrain`: key `url`: is not used by action `aml_job`",
            ),
        ];
        for (hooks, expected) in cases {
            let err = check(&hooks).unwrap_err();
            assert!(err.contains(expected), "{err}\n--- expected: {expected}");
        }
        let fixed = job_hook(&format!(
            "job = \"jobs/retrain.json\"\nworkspace = \"/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w\"\napi_version = \"2024-10-01\"\n{auth}"
        ));
        let config = check(&fixed).unwrap();
        assert!(
            config.table().contains("(workspace w)"),
            "{}",
            config.table()
        );
    }

    #[test]
    fn a_template_that_reads_an_unknown_variable_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("job.json"),
            r#"{"properties": {"displayName": {{ modle_name }}}}"#,
        )
        .unwrap();
        let hooks = "[[hooks]]\nname = \"retrain\"\nevents = [\"ModelRegistered\"]\naction = \"aml_job\"\njob = \"job.json\"\nauth = { type = \"managed_identity\" }\n";
        let file = dir.path().join("hooks.toml");
        let err = HooksConfig::parse(hooks, file.to_str().unwrap(), &|_| None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("key `job`: unknown template variable(s): modle_name"),
            "{err}"
        );
    }

    #[test]
    fn aml_batch_endpoint_needs_a_body_a_deployment_name_and_https() {
        let hook = |extra: &str| {
            format!("[[hooks]]\nname = \"score\"\nevents = [\"ModelRegistered\"]\naction = \"aml_batch_endpoint\"\nauth = {{ type = \"managed_identity\" }}\n{extra}\n")
        };
        let body = "body = '{\"properties\": {}}'";
        let cases = [
            (
                hook("url = \"https://e.eastus.inference.ml.azure.com/jobs\""),
                "hook `score`: key `body`: is required by action `aml_batch_endpoint`",
            ),
            (
                hook(&format!("url = \"http://e.example/jobs\"\n{body}")),
                "hook `score`: key `url`:",
            ),
            (
                hook(&format!(
                    "url = \"https://e.example/jobs\"\n{body}\ndeployment = \"a b\""
                )),
                "hook `score`: key `deployment`: must be a deployment name",
            ),
            (
                hook(&format!(
                    "url = \"https://e.example/jobs\"\n{body}\njob = \"x.json\""
                )),
                "hook `score`: key `job`: is not used by action `aml_batch_endpoint`",
            ),
        ];
        for (hooks, expected) in cases {
            let err = check(&hooks).unwrap_err();
            assert!(err.contains(expected), "{err}\n--- expected: {expected}");
        }
    }

    /// A scoring URI written in the file is no secret (it holds no credential), so `check` shows its
    /// host even when it has no path; one from `${env:...}` is a secret like every setting.
    #[test]
    fn a_scoring_uri_is_shown_unless_it_comes_from_a_setting() {
        let hook = |url: &str| {
            format!("[[hooks]]\nname = \"score\"\nevents = [\"ModelRegistered\"]\naction = \"aml_batch_endpoint\"\nauth = {{ type = \"managed_identity\" }}\nurl = \"{url}\"\nbody = '{{\"properties\": {{}}}}'\n")
        };
        let env = |name: &str| {
            (name == "SCORING_URI")
                .then(|| "https://secret-ep.eastus.inference.ml.azure.com/jobs".to_owned())
        };
        let shown = HooksConfig::parse(
            &hook("https://churn.eastus.inference.ml.azure.com"),
            "hooks.toml",
            &env,
        )
        .unwrap();
        assert!(
            shown
                .table()
                .contains("https://churn.eastus.inference.ml.azure.com/…"),
            "{}",
            shown.table()
        );
        assert_eq!(
            shown
                .secrets
                .redact("https://churn.eastus.inference.ml.azure.com"),
            "https://churn.eastus.inference.ml.azure.com"
        );
        let hidden = HooksConfig::parse(&hook("${env:SCORING_URI}"), "hooks.toml", &env).unwrap();
        assert_eq!(
            hidden
                .secrets
                .redact("https://secret-ep.eastus.inference.ml.azure.com/jobs"),
            "[redacted]"
        );
    }

    /// A Resource Manager address over plain http to another host would carry the token in clear:
    /// the handler refuses to start with it.
    #[test]
    fn resource_manager_over_plain_http_is_refused_at_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("jobs")).unwrap();
        std::fs::write(dir.path().join("jobs/retrain.json"), super::JOB_TEMPLATE).unwrap();
        std::fs::write(dir.path().join("hooks.toml"), super::RETRAIN_HOOK).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
            .arg("check")
            .current_dir(dir.path())
            .env("AML_EVENTS_ARM_ENDPOINT", "http://management.example")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            stderr.contains("AML_EVENTS_ARM_ENDPOINT is http://management.example/…: a token is sent to Resource Manager"),
            "{stderr}"
        );
    }
}
