//! The subscription as one `az eventgrid event-subscription create` command (azure-cli's
//! `command_modules/eventgrid`: `--advanced-filter KEY OPERATOR VALUE…` with ranges as `low,high`,
//! `--delivery-attribute-mapping NAME static VALUE true`, `--event-ttl` in minutes).

use super::{
    comment, schema_name, Endpoint, Subscription, KEY_HEADER, MAX_DELIVERY_ATTEMPTS,
    SUBSCRIPTION_NAME,
};
use crate::hooks::filter::{AdvancedFilter, Operand};

/// The command, after comment lines that explain it and name the variables it reads.
pub(super) fn render(s: &Subscription) -> String {
    let mut out = comment(&s.explanation(), "# ");
    let mut variables = vec!["ws_id (the workspace's resource id)"];
    let mut args: Vec<String> = vec![
        format!("az eventgrid event-subscription create --name {SUBSCRIPTION_NAME}"),
        "--source-resource-id \"$ws_id\"".to_owned(),
    ];
    match &s.options.endpoint {
        Endpoint::Functions => {
            variables.push("fn_id (the function's resource id)");
            args.push("--endpoint-type azurefunction --endpoint \"$fn_id\"".to_owned());
        }
        Endpoint::Webhook(url) => {
            args.push(format!(
                "--endpoint-type webhook --endpoint {}",
                quote(url.as_str())
            ));
            if s.options.auth.key || s.options.auth.entra.is_none() {
                variables.push("AML_EVENTS_WEBHOOK_KEY (a key of the handler)");
                args.push(format!(
                    "--delivery-attribute-mapping {KEY_HEADER} static \"$AML_EVENTS_WEBHOOK_KEY\" true"
                ));
            }
            if let Some((tenant, audience)) = &s.options.auth.entra {
                args.push(format!(
                    "--azure-active-directory-tenant-id {} --azure-active-directory-application-id-or-uri {}",
                    quote(tenant),
                    quote(audience)
                ));
            }
        }
    }
    args.push(format!(
        "--event-delivery-schema {}",
        schema_name(s.options.schema).to_ascii_lowercase()
    ));
    let types: Vec<&str> = s.kinds.iter().map(|k| k.type_name()).collect();
    args.push(format!(
        "--included-event-types {}",
        types.join(" \\\n        ")
    ));
    for filter in &s.filters {
        args.push(advanced_filter(filter));
    }
    if !s.filters.is_empty() {
        args.push("--enable-advanced-filtering-on-arrays true".to_owned());
    }
    args.push(format!(
        "--max-delivery-attempts {MAX_DELIVERY_ATTEMPTS} --event-ttl {}",
        s.ttl_minutes
    ));
    variables.push("deadletter_id (a blob container: <storage account id>/blobServices/default/containers/<name>)");
    args.push("--deadletter-endpoint \"$deadletter_id\"".to_owned());
    out.push_str(&comment(
        &[format!("Set first: {}.", variables.join(", "))],
        "# ",
    ));
    out.push_str(&args.join(" \\\n    "));
    out.push('\n');
    out
}

/// `--advanced-filter KEY OPERATOR VALUE…`.
fn advanced_filter(f: &AdvancedFilter) -> String {
    let mut line = format!(
        "--advanced-filter {} {}",
        quote(f.key().as_str()),
        f.operator()
    );
    for value in values(f) {
        line.push_str(" \\\n        ");
        line.push_str(&quote(&value));
    }
    line
}

/// A filter's values as az reads them (before shell quoting).
fn values(f: &AdvancedFilter) -> Vec<String> {
    match f.operand() {
        Operand::Nothing => Vec::new(),
        Operand::Number(n) => vec![number(*n)],
        Operand::Bool(b) => vec![b.to_string()],
        Operand::Numbers(ns) => ns.iter().map(|n| number(*n)).collect(),
        Operand::Ranges(rs) => rs
            .iter()
            .map(|(low, high)| format!("{},{}", number(*low), number(*high)))
            .collect(),
        Operand::Strings(ss) => ss.clone(),
    }
}

/// A number as az reads it (`float(text)`): integers without a fraction.
pub(super) fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Why az would not receive `text` as the argument it is, if it would not (after the shell has
/// removed the quotes, which [`quote`] makes safe):
/// - argparse takes a word that starts with `-` as an option unless it looks like a negative number
///   (`^-\d+$|^-\d*\.\d+$`, Python's `argparse._negative_number_matcher`), so a value
///   `--endpoint=https://…` would replace the destination;
/// - azure-cli replaces a word that starts with `@`, or whose text after its first `=` does, by the
///   content of that file (`_expand_file_prefixed_files`, `azure/cli/core/commands/__init__.py`),
///   so a value could copy a local file (a token cache) into the subscription.
pub(super) fn misread(text: &str) -> Option<&'static str> {
    if text.starts_with('-') && !negative_number(text) {
        return Some("az would read a value starting with `-` as an option");
    }
    let tail = text.split_once('=').map_or(text, |(_, tail)| tail);
    if tail.len() > 1 && tail.starts_with('@') {
        return Some("az would read a value starting with `@` (or `=@`) as a file to load");
    }
    None
}

/// argparse's negative number: `-` then digits, with at most one `.` before the last digit.
fn negative_number(text: &str) -> bool {
    let digits = &text[1..];
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if digits.contains('.') {
        !frac.is_empty() && all(int) && all(frac)
    } else {
        !int.is_empty() && all(int)
    }
}

/// The words of a filter as az receives them, for [`misread`]: its key and each value.
pub(super) fn filter_words(f: &AdvancedFilter) -> Vec<String> {
    let mut words = vec![f.key().as_str().to_owned()];
    words.extend(values(f));
    words
}

/// `text` as one shell word: as is when it is plain, else in single quotes.
fn quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@,+=".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
