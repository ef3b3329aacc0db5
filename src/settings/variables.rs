//! The list of every variable the process reads: README's configuration table is made from it.

/// One environment variable the process reads: its name, what it does, its default (README's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    /// The variable's name.
    pub name: &'static str,
    /// What it sets.
    pub meaning: &'static str,
    /// What applies when it is unset (empty: nothing).
    pub default: &'static str,
}

const fn var(name: &'static str, meaning: &'static str, default: &'static str) -> Variable {
    Variable {
        name,
        meaning,
        default,
    }
}

/// Every variable [`Settings::from_vars`](super::Settings::from_vars) reads, in README's order.
pub const VARIABLES: &[Variable] = &[
    var(
        "FUNCTIONS_CUSTOMHANDLER_PORT",
        "port (set by the host; its presence also selects JSON log lines)",
        "8080",
    ),
    var(
        "FUNCTIONS_CUSTOMHANDLER_WORKER_ID",
        "set by the host beside the port: the process runs under the Functions host",
        "",
    ),
    var(
        "AML_EVENTS_SERVE_INVOCATIONS",
        "`true`: serve `POST /{FunctionName}` beside a protected webhook door without the host; `false`: never",
        "only without a webhook key or Entra ID, or under the host",
    ),
    var(
        "AML_EVENTS_BIND_ADDRESS",
        "address to listen on (`0.0.0.0` on container hosts)",
        "127.0.0.1",
    ),
    var(
        "RUST_LOG",
        "log level: a default and `target=level` pairs, e.g. `info,aml_events::hooks=debug` (span and field filters are not supported)",
        "`info`",
    ),
    var(
        "AML_EVENTS_MAX_INVOCATION_BYTES",
        "largest invocation body",
        "4194304",
    ),
    var(
        "AML_EVENTS_SHUTDOWN_GRACE_SECS",
        "how long in-flight invocations may finish after SIGTERM",
        "the hooks' deadline + 2",
    ),
    var(
        "AML_EVENTS_HEADER_TIMEOUT_SECS",
        "a request's head must arrive within this long; idle keep-alive connections close after it",
        "10",
    ),
    var(
        "AML_EVENTS_BODY_TIMEOUT_SECS",
        "a request's whole body must arrive within this long (else 408)",
        "30",
    ),
    var(
        "AML_EVENTS_MAX_CONNECTIONS",
        "connections served at once (more wait in the listen backlog)",
        "512",
    ),
    var("AML_EVENTS_HOOKS", "the hooks file", "`hooks.toml`"),
    var(
        "AML_EVENTS_DEDUPE",
        "dedupe store, overrides `settings.dedupe`",
        "",
    ),
    var(
        "AML_EVENTS_DEDUPE_MAX_RECORDS",
        "most records the in-memory dedupe store keeps; at the bound the oldest done ones go first",
        "100000",
    ),
    var(
        "AML_EVENTS_WEBHOOK_PATH",
        "path of the webhook door",
        "`/api/eventgrid`",
    ),
    var(
        "AML_EVENTS_MAX_WEBHOOK_BYTES",
        "largest webhook body (a delivery of one maximal 1 MiB event is larger than 1 MiB)",
        "2097152",
    ),
    var(
        "AML_EVENTS_WEBHOOK_KEY",
        "comma-separated keys for the webhook door",
        "none: no key required",
    ),
    var(
        "AML_EVENTS_ENTRA_AUDIENCE",
        "with `AML_EVENTS_ENTRA_TENANT`: require Entra ID tokens for this audience on the webhook door",
        "off",
    ),
    var(
        "AML_EVENTS_ENTRA_TENANT",
        "the Entra ID tenant whose tokens the webhook door accepts",
        "off",
    ),
    var(
        "AML_EVENTS_ENTRA_JWKS_URL",
        "signing keys address (default: the tenant's)",
        "",
    ),
    var(
        "AML_EVENTS_ENTRA_ISSUER",
        "accepted token issuers, comma-separated (sovereign clouds)",
        "the tenant's v1 and v2 issuers",
    ),
    var(
        "AML_EVENTS_WEBHOOK_INSECURE",
        "`true`: allow an unprotected webhook door on an exposed address",
        "off",
    ),
    var(
        "AML_EVENTS_VALIDATE_URL",
        "`true`: also GET the subscription validation URL",
        "off",
    ),
    var(
        "AML_EVENTS_ARM_ENDPOINT",
        "Azure Resource Manager, where `aml_job` creates jobs (sovereign clouds, tests); https, or http to a loopback address",
        "`https://management.azure.com`",
    ),
    var(
        "AML_EVENTS_STUDIO_URL",
        "the Azure ML studio address that Teams and Slack messages link to, and of job links when Azure's answer carries none (another host in sovereign clouds)",
        "`https://ml.azure.com`",
    ),
    var(
        "AML_EVENTS_EXTRA_CA_CERTS",
        "a PEM file of CA certificates trusted besides the Mozilla roots by hooks and token requests (private clouds, TLS-inspecting proxies)",
        "",
    ),
    var(
        "IDENTITY_ENDPOINT",
        "set by App Service, Functions and Container Apps: with `IDENTITY_HEADER`, `managed_identity` asks this endpoint",
        "the instance metadata service",
    ),
    var(
        "IDENTITY_HEADER",
        "set beside `IDENTITY_ENDPOINT`: sent as `X-IDENTITY-HEADER` (a secret, never shown)",
        "",
    ),
    var(
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        "where instance-metadata token requests go instead of `http://169.254.169.254`",
        "`http://169.254.169.254`",
    ),
    var(
        "AZURE_CLIENT_ID",
        "`workload_identity`'s client id, and `managed_identity`'s on a workload identity pod; `default`'s client id (client secret, workload or user-assigned managed identity)",
        "",
    ),
    var(
        "AZURE_TENANT_ID",
        "`workload_identity`'s tenant; `default`'s tenant",
        "",
    ),
    var(
        "AZURE_CLIENT_SECRET",
        "with `AZURE_TENANT_ID` and `AZURE_CLIENT_ID`: `default` uses this client secret (a secret, never shown)",
        "",
    ),
    var(
        "AZURE_FEDERATED_TOKEN_FILE",
        "`workload_identity`'s projected service-account token (set by the AKS workload identity webhook)",
        "",
    ),
    var(
        "AZURE_AUTHORITY_HOST",
        "the Entra ID authority for `client_secret` and `workload_identity` (https only); set with `AZURE_TENANT_ID` and `AZURE_FEDERATED_TOKEN_FILE` (the AKS webhook sets all three), `managed_identity` and `default` use workload identity",
        "`https://login.microsoftonline.com`",
    ),
    var(
        "AWS_LAMBDA_RUNTIME_API",
        "set by AWS Lambda: serve through the Lambda runtime (feature `lambda`)",
        "",
    ),
];

/// README's configuration table, made from [`VARIABLES`].
pub fn markdown_table() -> String {
    let mut table = String::from("| setting | meaning | default |\n| --- | --- | --- |\n");
    for v in VARIABLES {
        table.push_str(&format!(
            "| `{}` | {} | {} |\n",
            v.name, v.meaning, v.default
        ));
    }
    table
}
