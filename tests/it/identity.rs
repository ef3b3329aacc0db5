//! Entra ID tokens for hooks (`auth`), end to end: the real app (in process where the credential
//! takes everything from typed settings, as a child process where `azure_identity` reads the
//! environment itself: the App Service endpoint) against a local token service that speaks the
//! documented protocols (`support/token_service.rs`, sources cited there), and a receiver that sees
//! the Bearer token arrive.

use crate::functions_door::json_answer;
use crate::support::receiver::Receiver;
use crate::support::token_service::{Answer, TokenService, APP_SERVICE_PATH, IMDS_PATH};
use crate::support::{fixture_events, invocation, spawn_app, Handler};
use serde_json::{json, Value};
use std::time::Duration;

const FUNCTION: &str = "MlWorkspaceEvents";
const DEVOPS: &str = "499b84ac-1321-427f-aa17-267ca6975798";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT: &str = "0d4a7a2e-3c47-4e3b-9a3f-2f1d8c0b5e61";

/// A ModelRegistered event with id `id`.
fn event(id: &str) -> Value {
    let mut event = fixture_events("eventgrid-model-registered.json").remove(0);
    event["id"] = json!(id);
    event
}

/// A webhook hook to `${env:HOOK_URL}` with `auth`, for Azure DevOps' audience.
fn hook(name: &str, auth: &str) -> String {
    format!(
        "[[hooks]]\nname = \"{name}\"\nevents = [\"ModelRegistered\"]\naction = \"webhook\"\nurl = \"${{env:HOOK_URL}}\"\nretries = 1\nauth = {auth}\nresource = \"{DEVOPS}\"\n"
    )
}

fn pairs(list: &[(String, String)]) -> Vec<(&str, &str)> {
    list.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The `Authorization` headers the receiver got at `/hook`.
fn bearers(receiver: &Receiver) -> Vec<String> {
    receiver
        .requests("/hook")
        .iter()
        .map(|r| {
            r.headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        })
        .collect()
}

/// An app with one managed-identity webhook hook (`devops`) to a new receiver, whose identity is
/// the instance metadata service of `service` (through `AZURE_POD_IDENTITY_AUTHORITY_HOST`).
async fn imds_app(service: &TokenService) -> (Receiver, crate::support::app::TestApp) {
    let receiver = Receiver::start().await;
    let mut env = service.imds_env();
    env.push(("HOOK_URL".into(), receiver.url("/hook")));
    let app = spawn_app(
        &pairs(&env),
        Some(&hook("devops", r#"{ type = "managed_identity" }"#)),
    )
    .await;
    (receiver, app)
}

/// The same with a client secret (`sp-secret-value~42`, from `${env:AML_SP_SECRET}`) at the
/// service's Entra ID endpoint, and the settings `extra`.
async fn client_secret_app(
    service: &TokenService,
    extra: &[(&str, &str)],
) -> (Receiver, crate::support::app::TestApp) {
    let receiver = Receiver::start().await;
    let mut env = service.entra_env();
    env.push(("HOOK_URL".into(), receiver.url("/hook")));
    env.push(("AML_SP_SECRET".into(), "sp-secret-value~42".into()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let auth = format!(
        r#"{{ type = "client_secret", tenant_id = "{TENANT}", client_id = "{CLIENT}", secret = "${{env:AML_SP_SECRET}}" }}"#
    );
    let app = spawn_app(&pairs(&env), Some(&hook("devops", &auth))).await;
    (receiver, app)
}

/// Invokes `app` with a ModelRegistered event per id, in turn; each must answer 200. The answers.
async fn invoke_each(app: &crate::support::app::TestApp, ids: &[&str]) -> Vec<Value> {
    let mut answers = Vec::new();
    for id in ids {
        let (status, answer) = json_answer(
            app.invoke(FUNCTION, id, invocation(&event(id)).to_string())
                .await,
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        answers.push(answer);
    }
    answers
}

/// Managed identity on a Function App: `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` in the handler's
/// environment (a child process, since `azure_identity` reads them itself). The exact request, the
/// token cached across events per (credential, audience), a user-assigned identity by client id,
/// and neither the token nor the identity header in stdout, stderr or `Logs`.
#[tokio::test]
async fn a_function_app_identity_is_asked_once_and_its_token_reaches_the_webhook() {
    let service = TokenService::start().await;
    let receiver = Receiver::start().await;
    let hooks = format!(
        "{}{}",
        hook("devops", r#"{ type = "managed_identity" }"#),
        hook(
            "devops-user-assigned",
            &format!(r#"{{ type = "managed_identity", client_id = "{CLIENT}" }}"#)
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hooks.toml"), hooks).unwrap();
    let mut env = service.function_app_env();
    env.push(("HOOK_URL".into(), receiver.url("/hook")));
    // Every crate logs, azure_identity's App Service credential among them: none shows the header.
    env.push(("RUST_LOG".into(), "trace".into()));
    let handler = Handler::start_in(dir.path(), &pairs(&env)).await;
    let mut logs = String::new();
    for id in ["mi-1", "mi-2", "mi-3"] {
        let (status, answer) = json_answer(
            handler
                .invoke(FUNCTION, id, invocation(&event(id)).to_string())
                .await,
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        logs.push_str(&answer["Logs"].to_string());
    }
    let requests = service.requests();
    assert_eq!(requests.len(), 2, "one request per identity: {requests:#?}");
    for request in &requests {
        assert_eq!(request.method, "GET");
        assert_eq!(request.path, APP_SERVICE_PATH);
        assert_eq!(request.query["api-version"], "2019-08-01");
        assert_eq!(request.query["resource"], DEVOPS);
        assert_eq!(
            request.header("x-identity-header"),
            Some(service.identity_header.as_str())
        );
    }
    let client_ids: Vec<Option<&String>> =
        requests.iter().map(|r| r.query.get("client_id")).collect();
    assert!(
        client_ids.contains(&None),
        "system-assigned: {client_ids:?}"
    );
    assert!(
        client_ids.contains(&Some(&CLIENT.to_owned())),
        "{client_ids:?}"
    );
    let issued = service.issued();
    let got = bearers(&receiver);
    assert_eq!(got.len(), 6, "two hooks, three events");
    for bearer in &got {
        assert!(
            issued.iter().any(|t| *bearer == format!("Bearer {t}")),
            "{bearer}"
        );
    }
    assert!(
        logs.contains("with a token for 499b84ac-1321-427f-aa17-267ca6975798"),
        "{logs}"
    );
    handler.terminate();
    let (_, stdout, stderr) = handler.wait(Duration::from_secs(10));
    assert!(stdout.contains("azure_identity::"), "trace lines: {stdout}");
    service.assert_no_secret_in("Logs", &logs);
    service.assert_no_secret_in("stdout", &stdout);
    service.assert_no_secret_in("stderr", &stderr);
}

/// The instance metadata service through `AZURE_POD_IDENTITY_AUTHORITY_HOST` (azure-identity's
/// variable; `azure_identity` itself always asks 169.254.169.254): `Metadata: true`, the resource,
/// and a refresh when the token is within azure-identity's 300 s margin (the service issues a
/// 120 s token first), then the fresh token from the cache.
#[tokio::test]
async fn the_metadata_service_is_reached_through_the_pod_identity_host_and_refreshed_in_the_margin()
{
    let service = TokenService::start().await;
    service.answer(vec![Answer::token(120)]);
    let (receiver, app) = imds_app(&service).await;
    for answer in invoke_each(&app, &["imds-1", "imds-2", "imds-3"]).await {
        service.assert_no_secret_in("Logs", &answer["Logs"].to_string());
    }
    let requests = service.requests();
    assert_eq!(
        requests.len(),
        2,
        "the 120 s token is refreshed, the fresh one cached"
    );
    for request in &requests {
        assert_eq!(request.method, "GET");
        assert_eq!(request.path, IMDS_PATH);
        assert_eq!(request.query["api-version"], "2019-08-01");
        assert_eq!(request.query["resource"], DEVOPS);
        assert_eq!(request.header("metadata"), Some("true"));
        assert_eq!(request.header("x-identity-header"), None);
    }
    let issued = service.issued();
    assert_eq!(
        bearers(&receiver),
        vec![
            format!("Bearer {}", issued[0]),
            format!("Bearer {}", issued[1]),
            format!("Bearer {}", issued[1]),
        ]
    );
    service.assert_no_secret_in("stdout", &app.logs().stdout());
    service.assert_no_secret_in("stderr", &app.logs().stderr());
}

/// A client secret at Entra ID's v2 endpoint (over TLS, trusted through
/// `AML_EVENTS_EXTRA_CA_CERTS`): the exact form, and no secret or token in any output.
#[tokio::test]
async fn a_client_secret_is_exchanged_at_the_v2_token_endpoint() {
    let service = TokenService::start().await;
    let (receiver, app) = client_secret_app(&service, &[]).await;
    let (status, answer) = json_answer(
        app.invoke(FUNCTION, "cs-1", invocation(&event("cs-1")).to_string())
            .await,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let requests = service.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let request = &requests[0];
    assert!(request.tls);
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, format!("/{TENANT}/oauth2/v2.0/token"));
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form: Vec<(&str, &str)> = request
        .form
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        form,
        [
            ("client_id", CLIENT),
            ("client_secret", "sp-secret-value~42"),
            ("grant_type", "client_credentials"),
            ("scope", "499b84ac-1321-427f-aa17-267ca6975798/.default"),
        ]
    );
    assert_eq!(
        bearers(&receiver),
        [format!("Bearer {}", service.issued()[0])]
    );
    for (what, text) in [
        ("Logs", answer["Logs"].to_string()),
        ("stdout", app.logs().stdout()),
        ("stderr", app.logs().stderr()),
    ] {
        service.assert_no_secret_in(what, &text);
        assert!(!text.contains("sp-secret-value"), "{what}: {text}");
    }
}

/// Workload identity: `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`, `AZURE_FEDERATED_TOKEN_FILE` as the AKS
/// webhook sets them; the file's JWT goes as the client assertion.
#[tokio::test]
async fn a_workload_identity_sends_the_federated_token_as_its_assertion() {
    let service = TokenService::start().await;
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("azure-identity-token");
    std::fs::write(&token_file, "eyJhbGciOiJSUzI1NiJ9.federated.sig").unwrap();
    let mut env = service.entra_env();
    env.extend([
        ("HOOK_URL".into(), receiver.url("/hook")),
        ("AZURE_CLIENT_ID".into(), CLIENT.into()),
        ("AZURE_TENANT_ID".into(), TENANT.into()),
        (
            "AZURE_FEDERATED_TOKEN_FILE".into(),
            token_file.to_string_lossy().into_owned(),
        ),
    ]);
    let app = spawn_app(
        &pairs(&env),
        Some(&hook("devops", r#"{ type = "workload_identity" }"#)),
    )
    .await;
    let (status, answer) = json_answer(
        app.invoke(FUNCTION, "wi-1", invocation(&event("wi-1")).to_string())
            .await,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let requests = service.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let request = &requests[0];
    assert_eq!(request.path, format!("/{TENANT}/oauth2/v2.0/token"));
    let form: Vec<(&str, &str)> = request
        .form
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        form,
        [
            ("client_assertion", "eyJhbGciOiJSUzI1NiJ9.federated.sig"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            ),
            ("client_id", CLIENT),
            ("grant_type", "client_credentials"),
            ("scope", "499b84ac-1321-427f-aa17-267ca6975798/.default"),
        ]
    );
    assert_eq!(bearers(&receiver).len(), 1);
}

/// 50 events at once, while the first token request is in flight (the service takes 300 ms): one
/// request, and every webhook carries that token.
#[tokio::test]
async fn fifty_concurrent_events_share_one_token_request() {
    let service = TokenService::start().await;
    service.answer(vec![Answer::delayed(
        Duration::from_millis(300),
        Answer::token(3600),
    )]);
    let (receiver, app) = imds_app(&service).await;
    let invocations = (0..50).map(|i| {
        let id = format!("many-{i}");
        let body = invocation(&event(&id)).to_string();
        let app = &app;
        async move { json_answer(app.invoke(FUNCTION, &id, body).await).await }
    });
    for (status, answer) in futures_util::future::join_all(invocations).await {
        assert_eq!(status, 200, "{answer}");
    }
    assert_eq!(service.requests().len(), 1);
    let token = format!("Bearer {}", service.issued()[0]);
    let got = bearers(&receiver);
    assert_eq!(got.len(), 50);
    assert!(got.iter().all(|b| *b == token));
}

/// The token endpoint unwell (503) or unreachable: the hook is retried (its `retries`) and the
/// invocation answers 500, so Event Grid redelivers; nothing reaches the webhook without a token.
#[tokio::test]
async fn an_unavailable_token_endpoint_retries_the_hook_and_answers_500() {
    let service = TokenService::start().await;
    service.answer(vec![Answer::status(503), Answer::status(429)]);
    let hooks = hook("devops", r#"{ type = "managed_identity" }"#);
    let (receiver, app) = imds_app(&service).await;
    let (status, answer) = json_answer(
        app.invoke(FUNCTION, "down-1", invocation(&event("down-1")).to_string())
            .await,
    )
    .await;
    assert_eq!(status, 500, "{answer}");
    assert_eq!(service.requests().len(), 2, "retries = 1");
    assert!(receiver.requests("/hook").is_empty());
    let stderr = app.logs().stderr();
    assert!(
        stderr.contains("managed_identity (instance metadata service")
            && stderr.contains(
                "could not get a token for audience `499b84ac-1321-427f-aa17-267ca6975798`"
            )
            && stderr.contains("429 Too Many Requests"),
        "{stderr}"
    );
    drop(app);
    // Nothing listens where the token service was: a connection error, retried, then 500.
    let closed = format!("http://127.0.0.1:{}", crate::support::free_port());
    let env = [
        ("AZURE_POD_IDENTITY_AUTHORITY_HOST", closed.as_str()),
        ("HOOK_URL", &receiver.url("/hook")),
    ];
    let app = spawn_app(&env, Some(&hooks)).await;
    let (status, answer) = json_answer(
        app.invoke(FUNCTION, "down-2", invocation(&event("down-2")).to_string())
            .await,
    )
    .await;
    assert_eq!(status, 500, "{answer}");
    assert!(
        app.logs().stderr().contains("could not connect"),
        "{}",
        app.logs().stderr()
    );
    drop(app);
    // An endpoint that does not answer within the attempt's `timeout_ms`: the same.
    service.answer(vec![
        Answer::delayed(Duration::from_secs(30), Answer::token(3600)),
        Answer::delayed(Duration::from_secs(30), Answer::token(3600)),
    ]);
    let mut env = service.imds_env();
    env.push(("HOOK_URL".into(), receiver.url("/hook")));
    let slow = format!("{hooks}timeout_ms = 300\n");
    let app = spawn_app(&pairs(&env), Some(&slow)).await;
    let (status, answer) = json_answer(
        app.invoke(FUNCTION, "down-3", invocation(&event("down-3")).to_string())
            .await,
    )
    .await;
    assert_eq!(status, 500, "{answer}");
    assert_eq!(service.requests().len(), 4, "two more attempts");
    assert!(
        app.logs().stderr().contains("no answer within 300 ms"),
        "{}",
        app.logs().stderr()
    );
}

/// A refusal (no identity assigned; a wrong client secret) is a permanent failure: not retried,
/// answered 200 with the error in `Logs`, naming the credential type, the audience and what to
/// configure.
#[tokio::test]
async fn a_refused_token_fails_the_hook_permanently_naming_credential_and_audience() {
    let service = TokenService::start().await;
    service.answer(vec![Answer::no_identity()]);
    let receiver = Receiver::start().await;
    let mut env = service.imds_env();
    env.push(("HOOK_URL".into(), receiver.url("/hook")));
    env.push(("AZURE_CLIENT_ID".into(), CLIENT.into()));
    // A client id from the settings is an identifier, shown (not redacted as a secret would be).
    let user_assigned = r#"{ type = "managed_identity", client_id = "${env:AZURE_CLIENT_ID}" }"#;
    let app = spawn_app(&pairs(&env), Some(&hook("devops", user_assigned))).await;
    let (status, answer) = json_answer(
        app.invoke(FUNCTION, "no-mi", invocation(&event("no-mi")).to_string())
            .await,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let logs = answer["Logs"].to_string();
    assert!(
        logs.contains("hook devops failed permanently")
            && logs.contains(&format!(
                "managed_identity (instance metadata service at {}, client id {CLIENT})",
                service.http_base
            ))
            && logs.contains(
                "was refused a token for audience `499b84ac-1321-427f-aa17-267ca6975798`"
            )
            && logs.contains("400 Bad Request: invalid_request: Identity not found")
            && logs.contains("turn on the resource's system-assigned identity"),
        "{logs}"
    );
    assert_eq!(service.requests().len(), 1, "not retried");
    drop(app);

    service.answer(vec![Answer::invalid_client()]);
    let mut env = service.entra_env();
    env.push(("HOOK_URL".into(), receiver.url("/hook")));
    let auth = format!(
        r#"{{ type = "client_secret", tenant_id = "{TENANT}", client_id = "{CLIENT}", secret = "expired-secret" }}"#
    );
    let app = spawn_app(&pairs(&env), Some(&hook("devops", &auth))).await;
    let (status, answer) = json_answer(
        app.invoke(FUNCTION, "bad-sp", invocation(&event("bad-sp")).to_string())
            .await,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let logs = answer["Logs"].to_string();
    assert!(
        logs.contains(&format!(
            "client_secret (client id {CLIENT}, tenant {TENANT})"
        )) && logs.contains("invalid_client: AADSTS7000215")
            && logs.contains("check `tenant_id`, `client_id` and `secret`")
            && !logs.contains("expired-secret"),
        "{logs}"
    );
    assert_eq!(service.requests().len(), 2);
    assert!(receiver.requests("/hook").is_empty());
}

/// Runs `handler ARGS` in `dir` with `env` (and none of the credential variables of this machine),
/// returning the exit code, stdout and stderr. Asynchronous: the token service runs on this test's
/// runtime.
async fn run_handler(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(String, String)],
) -> (i32, String, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_handler"));
    command.current_dir(dir).args(args);
    for name in [
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_AUTHORITY_HOST",
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        "AML_EVENTS_HOOKS",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("handler finished within 60 s")
        .expect("run handler");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `handler check --auth` on a Function App: a token per (credential, audience), shown by identity
/// (the client id from the token when the file names none), audience and expiry, never the token;
/// a refused credential is a FAILED line and exit code 1.
#[tokio::test]
async fn check_auth_shows_whose_token_for_which_audience_until_when() {
    use crate::support::token_service::SYSTEM_ASSIGNED_CLIENT_ID;
    let service = TokenService::start().await;
    let dir = tempfile::tempdir().unwrap();
    let hooks = format!(
        "{}{}",
        hook("devops", r#"{ type = "managed_identity" }"#),
        hook("devops-again", r#"{ type = "managed_identity" }"#),
    );
    std::fs::write(dir.path().join("hooks.toml"), hooks).unwrap();
    let mut env = service.function_app_env();
    env.push((
        "HOOK_URL".into(),
        "https://dev.azure.com/contoso/_apis/x".into(),
    ));
    let (code, stdout, stderr) = run_handler(dir.path(), &["check", "--auth"], &env).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(service.requests().len(), 1, "one credential and audience");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("OK"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        line.contains("managed_identity (App Service endpoint, system-assigned)")
            && line.contains(&format!("audience {DEVOPS}"))
            && line.contains(&format!("client id {SYSTEM_ASSIGNED_CLIENT_ID}"))
            && line.contains("expires 20")
            && line.contains("(hooks: devops, devops-again)"),
        "{stdout}"
    );
    assert!(stdout.contains("1 of 1 token(s) obtained"), "{stdout}");
    service.assert_no_secret_in("stdout", &stdout);
    service.assert_no_secret_in("stderr", &stderr);

    service.answer(vec![Answer::no_identity()]);
    let (code, stdout, stderr) = run_handler(dir.path(), &["check", "--auth"], &env).await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "FAILED  managed_identity (App Service endpoint, system-assigned) was refused a token"
        ) && stdout.contains("0 of 1 token(s) obtained"),
        "{stdout}"
    );
}

/// `handler check` (no token requested) reports before deployment what would make `auth` fail: a
/// workload identity without `AZURE_FEDERATED_TOKEN_FILE` or with a file that is not there, and an
/// unset `${env:...}` in `auth`.
#[tokio::test]
async fn check_reports_a_missing_token_file_and_unset_settings_before_deployment() {
    let dir = tempfile::tempdir().unwrap();
    let write = |text: &str| std::fs::write(dir.path().join("hooks.toml"), text).unwrap();
    let base: Vec<(String, String)> = vec![
        (
            "HOOK_URL".into(),
            "https://dev.azure.com/contoso/_apis/x".into(),
        ),
        ("AZURE_CLIENT_ID".into(), CLIENT.into()),
        ("AZURE_TENANT_ID".into(), TENANT.into()),
    ];
    write(&hook("aks", r#"{ type = "workload_identity" }"#));
    let (code, _, stderr) = run_handler(dir.path(), &["check"], &base).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("hook `aks`: key `auth`: auth type `workload_identity` cannot be used: no token file: set `token_file` or AZURE_FEDERATED_TOKEN_FILE"),
        "{stderr}"
    );
    let mut env = base.clone();
    env.push((
        "AZURE_FEDERATED_TOKEN_FILE".into(),
        "/var/run/secrets/azure/tokens/azure-identity-token".into(),
    ));
    let (code, _, stderr) = run_handler(dir.path(), &["check"], &env).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "failed to read federated token from file /var/run/secrets/azure/tokens/azure-identity-token"
        ),
        "{stderr}"
    );
    write(&hook(
        "sp",
        &format!(
            r#"{{ type = "client_secret", tenant_id = "{TENANT}", client_id = "{CLIENT}", secret = "${{env:AML_SP_SECRET}}" }}"#
        ),
    ));
    let (code, _, stderr) = run_handler(dir.path(), &["check"], &base).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("hook `sp`: key `auth.secret`: uses ${env:AML_SP_SECRET}, but the setting AML_SP_SECRET is not set"),
        "{stderr}"
    );
}

/// Where `auth` and `resource` may go, and where a token may be sent.
#[test]
fn auth_is_validated_with_the_hook() {
    use aml_events::hooks::config::HooksConfig;
    let env = |name: &str| (name == "HOOK_URL").then(|| "https://example.test/x".to_owned());
    let error = |text: &str| {
        HooksConfig::parse(text, "hooks.toml", &env)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let webhook = |url: &str, extra: &str| {
        format!("[[hooks]]\nname = \"w\"\naction = \"webhook\"\nurl = \"{url}\"\n{extra}\n")
    };
    let mi = r#"auth = { type = "managed_identity" }"#;
    let mi_devops = format!("{mi}\nresource = \"{DEVOPS}\"");
    assert_eq!(
        error(&format!(
            "[[hooks]]\nname = \"t\"\naction = \"teams\"\nurl = \"${{env:HOOK_URL}}\"\n{mi}\n"
        )),
        "hooks.toml: hook `t`: key `auth`: is not used by action `teams`"
    );
    let missing = error(&webhook("${env:HOOK_URL}", mi));
    assert!(
        missing.starts_with("hooks.toml: hook `w`: key `resource`: is required with `auth` by action `webhook`: the audience of the token, e.g. \"499b84ac-1321-427f-aa17-267ca6975798\" for Azure DevOps"),
        "{missing}"
    );
    assert_eq!(
        error(&webhook(
            "${env:HOOK_URL}",
            "resource = \"https://management.azure.com\""
        )),
        "hooks.toml: hook `w`: key `resource`: is the audience of `auth`'s tokens; set `auth` too"
    );
    assert_eq!(
        error(&webhook("http://dev.azure.com/x", &mi_devops)),
        "hooks.toml: hook `w`: key `url`: must be https with `auth` (a token is sent over http only to a loopback address), not http://dev.azure.com/…"
    );
    let unknown = error(&webhook(
        "${env:HOOK_URL}",
        &format!("auth = {{ type = \"certificate\" }}\nresource = \"{DEVOPS}\""),
    ));
    assert!(
        unknown.contains("unknown variant `certificate`"),
        "{unknown}"
    );
    for url in [
        "http://127.0.0.1:7071/x",
        "http://localhost/x",
        "https://dev.azure.com/x",
    ] {
        let text = webhook(url, &mi_devops);
        assert!(
            HooksConfig::parse(&text, "hooks.toml", &env).is_ok(),
            "{url}"
        );
    }
}

/// A refresh that fails while the token is still valid keeps that token (azure-identity's and MSAL's
/// behaviour; `azure_identity` alone would fail the hook): the event is delivered with it, and the
/// next refresh waits azure-identity's 30 s retry delay instead of asking on every event.
#[tokio::test]
async fn a_failed_refresh_keeps_the_still_valid_token() {
    let service = TokenService::start().await;
    // 200 s: valid, but within the 300 s refresh margin from the start.
    service.answer(vec![Answer::token(200), Answer::status(503)]);
    let (receiver, app) = imds_app(&service).await;
    invoke_each(&app, &["keep-1", "keep-2", "keep-3"]).await;
    assert_eq!(
        service.requests().len(),
        2,
        "the first token, one failed refresh, then no request within 30 s"
    );
    let first = format!("Bearer {}", service.issued()[0]);
    assert_eq!(
        bearers(&receiver),
        vec![first.clone(), first.clone(), first]
    );
    let stdout = app.logs().stdout();
    assert!(
        stdout.contains("the current token is used until it expires"),
        "{stdout}"
    );
}

/// `handler send --dry-run` says which credential and audience a hook would add, and shows neither
/// a token (none is fetched) nor the client secret.
#[test]
fn a_dry_run_names_the_credential_and_audience_but_no_secret() {
    use aml_events::hooks::config::HooksConfig;
    let env = |name: &str| match name {
        "HOOK_URL" => Some("https://dev.azure.com/contoso/_apis/x".to_owned()),
        "AML_SP_SECRET" => Some("sp-secret-value~42".to_owned()),
        _ => None,
    };
    let auth = format!(
        r#"{{ type = "client_secret", tenant_id = "{TENANT}", client_id = "{CLIENT}", secret = "${{env:AML_SP_SECRET}}" }}"#
    );
    let hooks = format!(
        "{}body = '{{\"note\": \"${{env:AML_SP_SECRET}}\"}}'\n",
        hook("devops", &auth)
    );
    let config = HooksConfig::parse(&hooks, "hooks.toml", &env).unwrap();
    let out = aml_events::cli::dry_run(&[event("dry-1")], &config).unwrap();
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        shown[0]["hooks"][0]["auth"],
        format!("client_secret token for {DEVOPS} in `Authorization`")
    );
    assert!(!out.contains("sp-secret-value"), "{out}");
    // Nor does the configuration's debug output (a library user may print it), nor a Teams URL's
    // credential, nor a Redis password.
    let teams = "[[hooks]]\nname = \"t\"\naction = \"teams\"\nurl = \"https://contoso.webhook.office.com/webhookb2/sig-TEAMS-SECRET\"\n";
    let redis = "[settings]\ndedupe = \"redis://:REDIS-SECRET@cache.example:6380/0\"\n";
    let text = format!("{redis}{}{teams}", hook("devops", &auth));
    let config = HooksConfig::parse(&text, "hooks.toml", &env).unwrap();
    let debug = format!("{config:?}");
    assert!(debug.contains("ClientSecret"), "{debug}");
    assert!(debug.contains("contoso.webhook.office.com"), "{debug}");
    assert!(!debug.contains("sp-secret-value"), "{debug}");
    assert!(!debug.contains("TEAMS-SECRET"), "{debug}");
    assert!(debug.contains("redis at cache.example"), "{debug}");
    assert!(!debug.contains("REDIS-SECRET"), "{debug}");
}

/// The `hooks.toml` block of a README section (the first ```toml block after `heading`).
fn readme_toml(heading: &str) -> String {
    let readme = include_str!("../../README.md");
    let start = readme
        .find(heading)
        .unwrap_or_else(|| panic!("README has {heading}"));
    let rest = &readme[start..];
    let block = rest.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = rest[block..].find("```").expect("the block ends") + block;
    rest[block..end].to_owned()
}

/// README's Azure DevOps recipe passes `handler check`, and its dry run adds the managed identity's
/// token for Azure DevOps.
#[tokio::test]
async fn the_readme_azure_devops_recipe_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hooks.toml"),
        readme_toml("### Recipe: run an Azure DevOps pipeline when a model is registered"),
    )
    .unwrap();
    let env: Vec<(String, String)> = [
        ("ADO_ORG", "contoso"),
        ("ADO_PROJECT", "churn"),
        ("ADO_PIPELINE_ID", "42"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let (code, stdout, stderr) = run_handler(dir.path(), &["check"], &env).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("model-to-devops  ModelRegistered  webhook  https://dev.azure.com/…"),
        "{stdout}"
    );
    let mut candidate = event("candidate-1");
    candidate["data"]["ModelTags"]["stage"] = json!("candidate");
    std::fs::write(dir.path().join("event.json"), candidate.to_string()).unwrap();
    let (code, stdout, stderr) =
        run_handler(dir.path(), &["send", "event.json", "--dry-run"], &env).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("managed_identity token for 499b84ac-1321-427f-aa17-267ca6975798"),
        "{stdout}"
    );
}

/// `type = "default"` takes the first configured credential in azure-identity's order: here the
/// environment's client secret (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`), which
/// no output shows, even when the endpoint refuses it.
#[tokio::test]
async fn default_uses_the_environment_client_secret_first_and_never_shows_it() {
    let service = TokenService::start().await;
    service.answer(vec![Answer::token(3600), Answer::invalid_client()]);
    let receiver = Receiver::start().await;
    let mut env = service.entra_env();
    env.extend([
        ("HOOK_URL".into(), receiver.url("/hook")),
        ("AZURE_TENANT_ID".into(), TENANT.into()),
        ("AZURE_CLIENT_ID".into(), CLIENT.into()),
        ("AZURE_CLIENT_SECRET".into(), "env-secret~value".into()),
    ]);
    let hooks = format!(
        "{}{}",
        hook("devops", r#"{ type = "default" }"#),
        // Another audience: a second token request; the service refuses whichever comes second.
        hook("arm", r#"{ type = "default" }"#).replace(DEVOPS, "https://management.azure.com"),
    );
    let app = spawn_app(&pairs(&env), Some(&hooks)).await;
    let (status, answer) = json_answer(
        app.invoke(FUNCTION, "def-1", invocation(&event("def-1")).to_string())
            .await,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let requests = service.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    for request in &requests {
        assert_eq!(request.form["client_secret"], "env-secret~value");
        assert_eq!(request.form["client_id"], CLIENT);
    }
    let logs = answer["Logs"].to_string();
    assert!(
        logs.contains(&format!(
            "default → client_secret (client id {CLIENT}, tenant {TENANT}) was refused a token for audience `"
        )),
        "{logs}"
    );
    assert_eq!(bearers(&receiver).len(), 1, "the refused hook sent nothing");
    for (what, text) in [
        ("Logs", logs),
        ("stdout", app.logs().stdout()),
        ("stderr", app.logs().stderr()),
    ] {
        service.assert_no_secret_in(what, &text);
        assert!(!text.contains("env-secret"), "{what}: {text}");
    }
}

/// A token that has expired (here: one issued for 5 s, inside the 10 s the handler never hands a
/// token out in) is not sent: the next event waits for one new request and carries the new token,
/// which the event after it takes from the cache.
#[tokio::test]
async fn an_expired_token_is_replaced_before_the_next_event_is_delivered() {
    let service = TokenService::start().await;
    service.answer(vec![Answer::token(5)]);
    let (receiver, app) = imds_app(&service).await;
    invoke_each(&app, &["expiry-1", "expiry-2", "expiry-3"]).await;
    let issued = service.issued();
    assert_eq!(
        issued.len(),
        2,
        "one request after the expiry, then the cache"
    );
    assert_eq!(
        bearers(&receiver),
        vec![
            format!("Bearer {}", issued[0]),
            format!("Bearer {}", issued[1]),
            format!("Bearer {}", issued[1]),
        ]
    );
}

/// A token endpoint that repeats the client secret in its refusal of a refresh: the warning that
/// the still-valid token is kept (a log line no hook error passes through) does not show it.
#[tokio::test]
async fn a_refused_refresh_that_echoes_the_secret_logs_no_secret() {
    let service = TokenService::start().await;
    service.answer(vec![
        Answer::token(200),
        Answer::Error {
            status: 401,
            body: json!({
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided: sp-secret-value~42",
            }),
        },
    ]);
    let (receiver, app) = client_secret_app(&service, &[]).await;
    for answer in invoke_each(&app, &["echo-1", "echo-2"]).await {
        assert!(!answer.to_string().contains("sp-secret-value"), "{answer}");
    }
    assert_eq!(
        service.requests().len(),
        2,
        "the token and one refused refresh"
    );
    let kept = format!("Bearer {}", service.issued()[0]);
    assert_eq!(bearers(&receiver), [kept.clone(), kept], "the kept token");
    let stdout = app.logs().stdout();
    assert!(stdout.contains("AADSTS7000215"), "{stdout}");
    for (what, text) in [("stdout", stdout), ("stderr", app.logs().stderr())] {
        service.assert_no_secret_in(what, &text);
        assert!(!text.contains("sp-secret-value"), "{what}: {text}");
    }
}

/// At `RUST_LOG=trace` every crate on the token's path logs (reqwest, hyper, azure_core,
/// azure_identity): neither the client secret it sends nor the token it gets is among their lines.
#[tokio::test]
async fn at_trace_level_no_crate_logs_the_secret_or_the_token() {
    let service = TokenService::start().await;
    let (receiver, app) = client_secret_app(&service, &[("RUST_LOG", "trace")]).await;
    invoke_each(&app, &["trace-1"]).await;
    assert_eq!(bearers(&receiver).len(), 1);
    let (stdout, stderr) = (app.logs().stdout(), app.logs().stderr());
    let targets: std::collections::BTreeSet<String> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|line| line["target"].as_str().map(str::to_owned))
        .collect();
    for logger in [
        "azure_identity::cache",
        "typespec_client_core::http::policies::logging",
        "hyper_util::client::legacy::client",
    ] {
        assert!(
            targets.contains(logger),
            "{logger} wrote no line: {targets:?}"
        );
    }
    for (what, text) in [("stdout", stdout), ("stderr", stderr)] {
        service.assert_no_secret_in(what, &text);
        assert!(!text.contains("sp-secret-value"), "{what}: {text}");
    }
}
