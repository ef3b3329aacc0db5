//! The subscription as a Bicep file: the ARM form's parameters and `properties`, written as Bicep
//! (parameter references become the parameters' names), the subscription scoped to the workspace.

use super::arm::{parameters, properties, API_VERSION, RESOURCE_TYPE, WORKSPACE_TYPE};
use super::{comment, Subscription, SUBSCRIPTION_NAME};
use serde_json::Value;

/// The workspace's API version for the `existing` reference (any version that has the type reads it).
const WORKSPACE_API: &str = "2024-04-01";

/// The Bicep file.
pub(super) fn render(s: &Subscription) -> String {
    let mut out = comment(&s.explanation(), "// ");
    out.push('\n');
    for p in parameters(s) {
        out.push_str(&format!("@description({})\n", string(p.description)));
        if p.secure {
            out.push_str("@secure()\n");
        }
        out.push_str(&format!("param {} string", p.name));
        if let Some(default) = p.default {
            out.push_str(&format!(" = {}", string(default)));
        }
        out.push_str("\n\n");
    }
    out.push_str(&format!(
        "resource workspace '{WORKSPACE_TYPE}@{WORKSPACE_API}' existing = {{\n  name: workspaceName\n}}\n\n"
    ));
    out.push_str(&format!(
        "resource subscription '{RESOURCE_TYPE}@{API_VERSION}' = {{\n  name: {}\n  scope: workspace\n  properties: ",
        string(SUBSCRIPTION_NAME)
    ));
    write_value(&mut out, &properties(s), 1);
    out.push_str("\n}\n");
    out
}

/// `value` as a Bicep expression, nested objects and arrays one item per line.
fn write_value(out: &mut String, value: &Value, depth: usize) {
    let indent = "  ".repeat(depth + 1);
    let close = "  ".repeat(depth);
    match value {
        Value::Object(map) => {
            out.push_str("{\n");
            for (k, v) in map {
                out.push_str(&format!("{indent}{k}: "));
                write_value(out, v, depth + 1);
                out.push('\n');
            }
            out.push_str(&format!("{close}}}"));
        }
        Value::Array(items) => {
            out.push_str("[\n");
            for v in items {
                out.push_str(&indent);
                write_value(out, v, depth + 1);
                out.push('\n');
            }
            out.push_str(&format!("{close}]"));
        }
        // The ARM form escapes literals that look like expressions (`arm::literal`), so only
        // `arm::reference` writes `[parameters('…')]`; Bicep needs no such escape.
        Value::String(text) => match parameter_name(text) {
            Some(name) => out.push_str(name),
            None if text.starts_with("[[") && text.ends_with(']') => {
                out.push_str(&string(&text[1..]))
            }
            None => out.push_str(&string(text)),
        },
        other => out.push_str(&other.to_string()),
    }
}

/// `[parameters('name')]` → `name`.
fn parameter_name(text: &str) -> Option<&str> {
    text.strip_prefix("[parameters('")?.strip_suffix("')]")
}

/// A Bicep string literal: single quotes, with `\`, `'`, `${`, line breaks and other control
/// characters escaped (`\u{…}`).
fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{{{:X}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}
