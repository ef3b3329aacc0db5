//! `hooks.toml` validation: every problem names the hook and the key, secrets never show.

use aml_events::hooks::config::{DedupeSetting, HooksConfig};
use std::time::Duration;

fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |k| {
        pairs
            .iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.to_string())
    }
}

fn parse(text: &str) -> Result<HooksConfig, String> {
    HooksConfig::parse(
        text,
        "hooks.toml",
        &env(&[
            (
                "TEAMS_WEBHOOK_URL",
                "https://contoso.webhook.office.com/webhookb2/SECRET-TEAMS-TOKEN",
            ),
            ("GITHUB_TOKEN", "ghp_SECRETGITHUBTOKEN"),
        ]),
    )
    .map_err(|e| e.to_string())
}

const ISSUE_EXAMPLE: &str = r#"
[settings]
deadline_ms = 20000
dedupe = "memory"
dedupe_ttl_secs = 86400
poison_binding = "poison"

[[hooks]]
name = "deploy-notice"
events = ["ModelDeployed"]
action = "teams"
url = "${env:TEAMS_WEBHOOK_URL}"
template = "Deployed {{ model_ids | join(', ') }} to {{ service_name }} ({{ compute_type }})"
timeout_ms = 5000
retries = 3

[hooks.when]
subject = "endpoints/*"
tags = { stage = "prod" }
run_status = ["Failed", "Canceled"]
drift_above = 0.7
workspace = "my-workspace"

[[hooks]]
name = "retrain-on-register"
events = ["Microsoft.MachineLearningServices.ModelRegistered"]
action = "webhook"
url = "https://api.github.com/repos/contoso/churn/dispatches"
method = "POST"
headers = { Authorization = "Bearer ${env:GITHUB_TOKEN}", Accept = "application/vnd.github+json" }
body = '{"event_type": "model-registered", "client_payload": {"model": {{ model_name }}, "version": {{ model_version }}}}'
"#;

#[test]
fn the_shipped_file_needs_no_secrets() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/hooks.toml")).unwrap();
    let config = HooksConfig::parse(&text, "hooks.toml", &|_| None).unwrap();
    assert_eq!(config.hooks.len(), 2);
    let table = config.table();
    assert!(
        table.contains("log-ml-events") && table.contains("monitor_breach=false"),
        "{table}"
    );
    assert!(
        table.contains("log-monitor-breaches  RunStatusChanged,RunCompleted  log")
            && table.contains("monitor_breach=true"),
        "{table}"
    );
    assert_eq!(config.settings.dedupe, DedupeSetting::Memory);
    assert_eq!(config.settings.deadline, Duration::from_secs(20));
    assert_eq!(
        text,
        aml_events::hooks::config::EMBEDDED_HOOKS_TOML,
        "the embedded default is the shipped file"
    );
}

#[test]
fn the_documented_shape_parses_and_the_table_hides_secrets() {
    let config = parse(ISSUE_EXAMPLE).unwrap();
    assert_eq!(config.hooks.len(), 2);
    assert_eq!(config.settings.poison_binding.as_deref(), Some("poison"));
    let table = config.table();
    assert!(table.contains("deploy-notice"), "{table}");
    assert!(
        table.contains("https://contoso.webhook.office.com/…"),
        "{table}"
    );
    assert!(
        table.contains("subject=endpoints/* tags.stage=prod"),
        "{table}"
    );
    for secret in ["SECRET-TEAMS-TOKEN", "SECRETGITHUBTOKEN", "/repos/contoso"] {
        assert!(!table.contains(secret), "{secret} in {table}");
    }
}

fn error_of(text: &str) -> String {
    parse(text).expect_err("the file is invalid")
}

#[test]
fn errors_name_the_hook_and_the_key() {
    let cases: &[(&str, &str)] = &[
        (
            "[[hooks]]\nname = \"a\"\naction = \"log\"\nurll = \"x\"",
            "hooks.toml: hook `a`: unknown field `urll`",
        ),
        (
            "[[hooks]]\nname = \"a\"\naction = \"teams\"\nurl = \"${env:MISSING_URL}\"",
            "hooks.toml: hook `a`: key `url`: uses ${env:MISSING_URL}, but the setting MISSING_URL is not set",
        ),
        (
            "[[hooks]]\nname = \"a\"\naction = \"log\"\n[hooks.when]\nsubject = \"endpoints/[\"",
            "hooks.toml: hook `a`: key `when.subject`: bad glob",
        ),
        (
            "[[hooks]]\nname = \"a\"\naction = \"log\"\ntemplate = \"{{ model_name \"",
            "hooks.toml: hook `a`: key `template`: template error: syntax error",
        ),
        (
            "[[hooks]]\nname = \"a\"\nevents = [\"ModelDeployed\"]\naction = \"log\"\ntemplate = \"{{ service_nme }}\"",
            "hooks.toml: hook `a`: key `template`: unknown template variable(s): service_nme",
        ),
        (
            "[[hooks]]\nname = \"a\"\nevents = [\"ModelDeleted\"]\naction = \"log\"",
            "hooks.toml: hook `a`: key `events`: unknown event `ModelDeleted`",
        ),
        (
            "[[hooks]]\nname = \"a\"\naction = \"log\"\n[[hooks]]\nname = \"a\"\naction = \"log\"",
            "hooks.toml: hook `a`: key `name`: another hook has the same name",
        ),
        ("[[hooks]]\nname = \"a\"\naction = \"slack\"", "hooks.toml: hook `a`: key `url`: is required by action `slack`"),
        ("[[hooks]]\nname = \"a\"\naction = \"output\"", "hooks.toml: hook `a`: key `binding`: is required"),
        (
            "[[hooks]]\nname = \"a\"\naction = \"log\"\nurl = \"https://x\"",
            "hooks.toml: hook `a`: key `url`: is not used by action `log`",
        ),
        (
            "[[hooks]]\nname = \"a\"\naction = \"webhook\"\nurl = \"https://x.example\"\nheaders = { Host = \"evil.example\" }",
            "hooks.toml: hook `a`: key `headers.Host`: is set by the handler",
        ),
        (
            "[[hooks]]\nname = \"a\"\naction = \"webhook\"\nurl = \"file:///etc/passwd\"",
            "hooks.toml: hook `a`: key `url`: must be an http(s) URL",
        ),
        (
            "[[hooks]]\nname = \"a\"\naction = \"webhook\"\nurl = \"https://x.example\"\nmethod = \"DELETE\"",
            "hooks.toml: hook `a`: key `method`: `DELETE` is not POST or PUT",
        ),
        ("[[hooks]]\nname = \"a\"\naction = \"shout\"", "hooks.toml: hook `a`: unknown variant `shout`"),
        ("[settings]\ndeadline_ms = 60000", "hooks.toml: key `settings.deadline_ms`: must be between 1 and 25000"),
        ("[settings]\ndedupe = \"memcached://x\"", "hooks.toml: key `settings.dedupe`: must be \"memory\" or a redis://"),
        ("[setings]\n", "hooks.toml: unknown field `setings`"),
        (
            "[settings]\ndedupe_ttl_secs = 9223372036854775807",
            "hooks.toml: key `settings.dedupe_ttl_secs`: must be between 1 and 2592000",
        ),
        ("[[hooks]]\naction = \"log\"", "hooks.toml: hook `#1`: missing field `name`"),
        (
            "[[hooks]]\nname = \"a\"\nevents = [\"ModelDeployed\"]\naction = \"log\"\n[hooks.when]\nmonitor_breach = true",
            "hooks.toml: hook `a`: key `when.monitor_breach`: only RunStatusChanged and RunCompleted events carry",
        ),
        (
            "[[hooks]]\nname = \"a\"\naction = \"log\"\n[hooks.when]\nmonitor_breach = \"yes\"",
            "hooks.toml: hook `a`: invalid type: string \"yes\", expected a boolean",
        ),
    ];
    for (text, want) in cases {
        let err = error_of(text);
        assert!(
            err.starts_with(want),
            "for\n{text}\nwant prefix: {want}\ngot:         {err}"
        );
    }
}

#[test]
fn a_missing_secret_names_the_setting_not_a_value() {
    let err = error_of("[[hooks]]\nname = \"n\"\naction = \"webhook\"\nurl = \"https://x.example\"\nheaders = { Authorization = \"Bearer ${env:NOPE}\" }");
    assert!(
        err.contains("key `headers.Authorization`") && err.contains("NOPE"),
        "{err}"
    );
}

#[test]
fn template_variables_are_checked_against_the_events_the_hook_can_see() {
    // `run_id` exists for run and drift events, not for ModelDeployed.
    let err = error_of("[[hooks]]\nname = \"a\"\nevents = [\"ModelDeployed\"]\naction = \"log\"\ntemplate = \"{{ run_id }}\"");
    assert!(
        err.contains("unknown template variable(s): run_id"),
        "{err}"
    );
    // For every event ("*"), any kind's variable may appear (guarded with `default` by the author).
    parse("[[hooks]]\nname = \"a\"\naction = \"log\"\ntemplate = \"{{ run_id | default('-') }}\"")
        .unwrap();
}

#[test]
fn the_dedupe_url_can_come_from_the_environment() {
    // The settings module reads `AML_EVENTS_DEDUPE` and passes it; it wins over the file.
    let config = HooksConfig::parse_with(
        "[settings]\ndedupe = \"memory\"",
        "hooks.toml",
        &|_| None,
        Some("redis://:pw-SECRET@cache.internal:6380/2"),
    )
    .unwrap();
    assert_eq!(
        config.settings.dedupe,
        DedupeSetting::Redis("redis://:pw-SECRET@cache.internal:6380/2".into())
    );
    assert_eq!(config.secrets.redact("pw-SECRET"), "[redacted]");
    // It may use `${env:NAME}` as the file may.
    let config = HooksConfig::parse_with(
        "",
        "hooks.toml",
        &env(&[("REDIS_URL", "rediss://:pw-SECRET@cache.internal:6380/0")]),
        Some("${env:REDIS_URL}"),
    )
    .unwrap();
    assert_eq!(
        config.settings.dedupe,
        DedupeSetting::Redis("rediss://:pw-SECRET@cache.internal:6380/0".into())
    );
    assert_eq!(config.secrets.redact("pw-SECRET"), "[redacted]");
    // A blank override leaves the file's choice; so does a bad one not: it is refused like the file's.
    let config = HooksConfig::parse_with(
        "[settings]\ndedupe = \"redis://cache:6379\"",
        "hooks.toml",
        &|_| None,
        Some("  "),
    )
    .unwrap();
    assert_eq!(
        config.settings.dedupe,
        DedupeSetting::Redis("redis://cache:6379".into())
    );
    let err = HooksConfig::parse_with("", "hooks.toml", &|_| None, Some("memcached://x"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("hooks.toml: key `settings.dedupe`: must be \"memory\" or a redis://"),
        "{err}"
    );
}

#[test]
fn the_hooks_code_reads_no_variable_of_its_own() {
    // `AML_EVENTS_DEDUPE` in the `${env:...}` lookup is just a setting: only the caller's override counts.
    let config = HooksConfig::parse(
        "[settings]\ndedupe = \"memory\"",
        "hooks.toml",
        &env(&[("AML_EVENTS_DEDUPE", "redis://cache.internal:6380/2")]),
    )
    .unwrap();
    assert_eq!(config.settings.dedupe, DedupeSetting::Memory);
}

#[test]
fn the_check_report_ends_with_a_summary_line() {
    let config = parse(ISSUE_EXAMPLE).unwrap();
    let report = config.check_report();
    assert!(report.starts_with(config.table().trim_end()), "{report}");
    assert!(
        report.ends_with("\nhooks.toml: 2 hook(s) OK; deadline 20000 ms; dedupe memory"),
        "{report}"
    );
    // A Redis store is shown by host only.
    let redis = HooksConfig::parse_with(
        "",
        "hooks.toml",
        &|_| None,
        Some("redis://:pw-SECRET@cache.internal:6380/2"),
    )
    .unwrap()
    .check_report();
    assert!(
        redis.ends_with(
            "\nhooks.toml: 0 hook(s) OK; deadline 20000 ms; dedupe redis at cache.internal"
        ),
        "{redis}"
    );
    assert!(!redis.contains("pw-SECRET"), "{redis}");
    // The action column names each action as `hooks.toml` does.
    let cells = |line: &str| {
        line.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(cells(lines[0]), "NAME EVENTS ACTION");
    assert_eq!(cells(lines[1]), "deploy-notice ModelDeployed teams");
    assert_eq!(
        cells(lines[2]),
        "retrain-on-register ModelRegistered webhook"
    );
}

/// `handler send --dry-run` of the ModelRegistered sample through `text` with `pairs` as settings.
fn dry_run(text: &str, pairs: &'static [(&'static str, &'static str)]) -> String {
    use aml_events::event::{EventKind, Schema};
    let config = HooksConfig::parse(text, "hooks.toml", &env(pairs)).unwrap();
    let sample =
        aml_events::samples::sample(EventKind::ModelRegistered, Schema::EventGrid).unwrap();
    let events: serde_json::Value = serde_json::from_str(sample).unwrap();
    let events = match events {
        serde_json::Value::Array(items) => items,
        one => vec![one],
    };
    aml_events::cli::dry_run(&events, &config).unwrap()
}

const BODY_WITH_SECRET: &str = "[[hooks]]\nname = \"w\"\nevents = [\"ModelRegistered\"]\naction = \"webhook\"\nurl = \"https://x.example/h\"\nbody = '{\"token\": \"Bearer ${env:TOKEN}\", \"model\": {{ model_name }}}'";

#[test]
fn a_secret_with_a_quote_keeps_the_body_json_and_is_redacted() {
    let out = dry_run(BODY_WITH_SECRET, &[("TOKEN", r#"Qz7"Zq9\Kx3"#)]);
    assert!(!out.contains("error"), "{out}");
    assert!(out.contains(r#""token": "Bearer [redacted]""#), "{out}");
    assert!(!out.contains("Qz7") && !out.contains("Kx3"), "{out}");
}

#[test]
fn a_secret_with_a_literal_unicode_escape_is_not_decoded_and_is_redacted() {
    // Pasted raw, `\u00e9` was decoded into `é` by the JSON parser, and `Wq8\u00e9` escaped redaction.
    let out = dry_run(BODY_WITH_SECRET, &[("TOKEN", r"Wq8\u00e9")]);
    assert!(out.contains(r#""token": "Bearer [redacted]""#), "{out}");
    assert!(!out.contains("Wq8") && !out.contains('é'), "{out}");
}

#[test]
fn env_references_in_a_message_template_are_refused() {
    let err = error_of(
        "[[hooks]]\nname = \"a\"\naction = \"log\"\ntemplate = \"token ${env:GITHUB_TOKEN}\"",
    );
    assert!(
        err.starts_with("hooks.toml: hook `a`: key `template`: `${env:...}` is not substituted"),
        "{err}"
    );
    assert!(!err.contains("SECRETGITHUBTOKEN"), "{err}");
}

#[test]
fn templates_may_call_minijinja_global_functions() {
    let template = "{% set ns = namespace(n=0) %}{% for i in range(2) %}{{ i }}{% endfor %}\
        {{ dict(a=1).a }}{{ ns.n }}{{ debug() | length > 0 }}";
    let text = format!("[[hooks]]\nname = \"a\"\naction = \"log\"\ntemplate = \"{template}\"");
    assert_eq!(parse(&text).unwrap().hooks.len(), 1);
}

#[test]
fn jinja_functions_minijinja_does_not_ship_are_named_as_such() {
    let err = error_of(
        "[[hooks]]\nname = \"a\"\naction = \"log\"\ntemplate = \"{{ cycler('a') }}{{ nope }}\"",
    );
    assert_eq!(
        err,
        "hooks.toml: hook `a`: key `template`: unknown template variable(s): nope; \
         Jinja function(s) this handler does not provide: cycler"
    );
}

#[test]
fn templates_of_run_hooks_know_the_monitor_view() {
    let run_hook = "[[hooks]]\nname = \"a\"\nevents = [\"RunStatusChanged\", \"RunCompleted\"]\naction = \"log\"\ntemplate = \"{{ monitor.signal }} {% for f in monitor.features %}{{ f.feature }} {{ f.metric }} {{ f.value }} {{ f.threshold }}{% endfor %} {{ monitor.message }} {{ monitor.quoted_signal }} {{ monitor.truncated }}\"\n[hooks.when]\nmonitor_breach = true";
    let config = parse(run_hook).unwrap_or_else(|e| panic!("{e}"));
    assert!(config.table().contains("monitor_breach=true"));
    let deploy_hook = "[[hooks]]\nname = \"a\"\nevents = [\"ModelDeployed\"]\naction = \"log\"\ntemplate = \"{{ monitor.signal }}\"";
    assert!(
        error_of(deploy_hook).contains("unknown template variable(s): monitor"),
        "{}",
        error_of(deploy_hook)
    );
}
