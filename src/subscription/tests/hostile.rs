//! Hostile text in a hooks file (filter keys and values), in the endpoint and in the file's name:
//! the printed subscription must say exactly what the file says, in every format, and nothing
//! else. The az form is run by a real bash with `az` as a function that records its arguments, so
//! quoting is checked by the shell that will run it, not by reading the text.

use super::{config, options};
use crate::subscription::{DoorAuth, Endpoint, Format, Subscription};
use proptest::prelude::*;
use serde_json::Value;
use std::process::Command;

/// A hook with one StringIn filter on `data.x` holding `values` (TOML-escaped here).
fn one_filter(values: &[&str]) -> String {
    let values: Vec<String> = values
        .iter()
        // A JSON string is a TOML basic string (the same escapes).
        .map(|v| serde_json::to_string(v).unwrap())
        .collect();
    format!(
        "[[hooks]]\nname = \"h\"\nevents = [\"RunStatusChanged\"]\naction = \"log\"\n[[hooks.filters]]\noperatorType = \"StringIn\"\nkey = \"data.x\"\nvalues = [{}]\n",
        values.join(", ")
    )
}

fn webhook(format: Format) -> crate::subscription::Options {
    let mut opts = options(format);
    opts.endpoint = Endpoint::parse("https://h.example/api/eventgrid").unwrap();
    opts.auth = DoorAuth {
        key: true,
        entra: None,
    };
    opts
}

/// The arguments bash passes to `az` when it runs `script`, with the variables it reads set.
fn az_arguments(script: &str) -> Vec<String> {
    let prelude = "set -eu\nws_id=WS; fn_id=FN; deadletter_id=DL; AML_EVENTS_WEBHOOK_KEY=KEY\naz() { printf '%s\\0' \"$@\"; }\n";
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("{prelude}{script}"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}\n{script}");
    // Nothing the output holds may run: a `$(touch pwned)` or a `;` would leave a file.
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "the command ran something:\n{script}"
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split_terminator('\0')
        .map(str::to_owned)
        .collect()
}

/// The values az receives for the `--advanced-filter` of `key`.
fn filter_values(args: &[String], key: &str) -> Option<Vec<String>> {
    let at = args
        .windows(2)
        .position(|w| w[0] == "--advanced-filter" && w[1] == key)?;
    Some(
        args[at + 3..]
            .iter()
            .take_while(|a| !a.starts_with("--"))
            .cloned()
            .collect(),
    )
}

#[test]
fn filter_values_are_never_template_expressions_in_arm_or_bicep() {
    // ARM evaluates a string that starts with `[` and ends with `]` as an expression: a filter value
    // could read the key's secure parameter or call listKeys. Bicep must not turn it into a
    // parameter reference either.
    let hostile = [
        "[parameters('webhookKey')]",
        "[listKeys(resourceId('Microsoft.Storage/storageAccounts', 'a'), '2023-01-01').keys[0].value]",
        "[[already]",
    ];
    let cfg = config(&one_filter(&hostile));
    let arm = Subscription::plan(&cfg, webhook(Format::Arm))
        .unwrap()
        .render();
    let arm: Value = serde_json::from_str(&arm).unwrap();
    let values = &arm["resources"][0]["properties"]["filter"]["advancedFilters"][0]["values"];
    // learn.microsoft.com azure-resource-manager/templates/template-expressions, "Escape
    // characters": a literal that starts with `[` and ends with `]` is written starting with `[[`.
    assert_eq!(
        values,
        &serde_json::json!([
            "[[parameters('webhookKey')]",
            "[[listKeys(resourceId('Microsoft.Storage/storageAccounts', 'a'), '2023-01-01').keys[0].value]",
            "[[[already]"
        ])
    );
    let bicep = Subscription::plan(&cfg, webhook(Format::Bicep))
        .unwrap()
        .render();
    assert!(
        bicep.contains("'[parameters(\\'webhookKey\\')]'"),
        "a Bicep string literal, not the parameter:\n{bicep}"
    );
    assert!(bicep.contains("'[[already]'"), "{bicep}");
    assert_eq!(
        bicep.matches("value: webhookKey").count(),
        1,
        "only the key header reads the parameter:\n{bicep}"
    );
}

#[test]
fn az_reads_no_filter_value_as_an_option_or_a_file() {
    // argparse takes a word that starts with `-` (and is no negative number) as an option, so
    // `--endpoint=...` would replace the destination and send the key header there; azure-cli
    // replaces a word that starts with `@`, or whose text after its first `=` does, with a file's
    // content (`_expand_file_prefixed_files`, azure-cli `azure/cli/core/commands/__init__.py`).
    for value in [
        "--endpoint=https://evil.example/x",
        "-o",
        "@/etc/hostname",
        "x=@/etc/hostname",
    ] {
        let cfg = config(&one_filter(&[value]));
        let az = Subscription::plan(&cfg, webhook(Format::Az)).unwrap();
        assert!(az.filters().is_empty(), "{value}");
        let text = az.render();
        assert!(
            text.contains("# Not pushed: StringIn data.x, az would read a value"),
            "{value}\n{text}"
        );
        let args = az_arguments(&text);
        assert!(
            args.iter().all(|a| !a.contains("evil") && !a.contains('@')),
            "{args:?}"
        );
        let bicep = Subscription::plan(&cfg, webhook(Format::Bicep)).unwrap();
        assert_eq!(bicep.filters().len(), 1, "{value}: Bicep can hold it");
    }
    let negative_range = "[[hooks]]\nname = \"h\"\nevents = [\"RunStatusChanged\"]\naction = \"log\"\n[[hooks.filters]]\noperatorType = \"NumberInRange\"\nkey = \"data.n\"\nvalues = [[-5, 3]]\n";
    let az = Subscription::plan(&config(negative_range), webhook(Format::Az)).unwrap();
    assert!(az.filters().is_empty(), "`-5,3` is an option to argparse");
    let negative = negative_range
        .replace("NumberInRange", "NumberIn")
        .replace("[[-5, 3]]", "[-5, -0.5]");
    let az = Subscription::plan(&config(&negative), webhook(Format::Az)).unwrap();
    assert_eq!(az.filters().len(), 1, "negative numbers are arguments");
    let args = az_arguments(&az.render());
    assert_eq!(filter_values(&args, "data.n").unwrap(), ["-5", "-0.5"]);
}

#[test]
fn az_refuses_an_endpoint_or_entra_setting_it_would_read_as_a_file() {
    let cfg = config(&one_filter(&["a"]));
    let mut opts = webhook(Format::Az);
    // A query's `@` is written `%40` when the `code` parameter is dropped; a path keeps it.
    let Endpoint::Webhook(query) = Endpoint::parse("https://h.example/api?x=@/etc/h").unwrap()
    else {
        panic!("a webhook")
    };
    assert_eq!(query.query(), Some("x=%40%2Fetc%2Fh"));
    opts.endpoint = Endpoint::parse("https://h.example/api=@/etc/hostname").unwrap();
    let err = Subscription::plan(&cfg, opts.clone()).unwrap_err();
    assert!(err.to_string().contains("as a file"), "{err}");
    opts.format = Format::Arm;
    assert!(
        Subscription::plan(&cfg, opts).is_ok(),
        "ARM holds it as text"
    );
    let mut opts = webhook(Format::Az);
    opts.auth.entra = Some(("@/etc/hostname".into(), "api://x".into()));
    assert!(Subscription::plan(&cfg, opts).is_err());
}

#[test]
fn comments_hold_no_line_break_from_the_files_name() {
    let text = one_filter(&["a"]);
    let name = "hooks.toml\ntouch pwned\r\u{2028}// x";
    let cfg = crate::hooks::config::HooksConfig::parse(&text, name, &|_| None).unwrap();
    for format in [Format::Az, Format::Bicep] {
        let out = Subscription::plan(&cfg, webhook(format)).unwrap().render();
        let prefix = if format == Format::Az { "#" } else { "//" };
        let comments: Vec<&str> = out
            .split(['\n', '\r', '\u{2028}', '\u{2029}', '\u{85}'])
            .take_while(|l| !l.is_empty() && !l.starts_with("az ") && !l.starts_with('@'))
            .collect();
        assert!(
            comments.iter().all(|l| l.starts_with(prefix)),
            "{comments:?}"
        );
        if format == Format::Az {
            az_arguments(&out);
        }
    }
}

#[test]
fn endpoints_with_credentials_are_refused_without_showing_them() {
    let err = Endpoint::parse("https://user:SECRET-PW@h.example/api/eventgrid").unwrap_err();
    assert!(!err.to_string().contains("SECRET-PW"), "{err}");
    assert!(err.to_string().contains("credentials"), "{err}");
}

/// Text az and bash must pass through unchanged: quotes, expansions, line breaks, globs.
fn hostile_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "'",
        "\"",
        "$(touch pwned)",
        "`touch pwned`",
        "${HOME}",
        "$HOME",
        "\n",
        "\r\n",
        "\\",
        "*",
        "?",
        "[a]",
        "; touch pwned",
        "&",
        "|",
        "#",
        "!",
        "~",
        " ",
        "\t",
        "é",
        "=",
        "a",
        "-",
        "@",
        "%",
        "{",
        "}",
    ]);
    prop::collection::vec(pieces, 1..8).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever a value holds, bash passes it to az as one word, unchanged, and runs nothing else;
    /// or the filter is not pushed (with a note) because az itself would misread it.
    #[test]
    fn az_passes_every_pushed_value_unchanged(values in prop::collection::vec(hostile_text(), 1..4)) {
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let cfg = config(&one_filter(&refs));
        let az = Subscription::plan(&cfg, webhook(Format::Az)).unwrap();
        let args = az_arguments(&az.render());
        match filter_values(&args, "data.x") {
            Some(got) => prop_assert_eq!(got, values.clone()),
            None => prop_assert!(az.filters().is_empty()),
        }
        prop_assert_eq!(args.iter().filter(|a| *a == "--endpoint").count(), 1);
        let arm: Value = serde_json::from_str(
            &Subscription::plan(&cfg, webhook(Format::Arm)).unwrap().render(),
        ).unwrap();
        let got = &arm["resources"][0]["properties"]["filter"]["advancedFilters"][0]["values"];
        for (got, want) in got.as_array().unwrap().iter().zip(&values) {
            let got = got.as_str().unwrap();
            let unescaped = if got.starts_with("[[") && got.ends_with(']') { &got[1..] } else { got };
            prop_assert_eq!(unescaped, want.as_str());
        }
    }
}
