//! `${env:NAME}` in `hooks.toml`: secrets stay in app settings, the file holds the rules.
//!
//! The values come from a lookup the caller passes (the settings module gives the process
//! environment; tests give a table), so nothing here reads the environment.

use thiserror::Error;

/// How a substituted value is inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Insert {
    /// As it is (URLs, the dedupe store).
    Plain,
    /// Inside `{% raw %}`, because the field is a template and the value must not be read as one.
    Raw,
    /// Inside `{% raw %}` and escaped as the content of a JSON string, because the field is a JSON
    /// body template: a `"` or `\` in a secret must not end the string or be decoded (`\u00e9` in a
    /// secret stays those six characters, so the redaction of the value still finds it).
    JsonString,
}

/// A `${env:...}` that cannot be resolved. The texts are part of `handler check`'s output.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(super) enum SubstituteError {
    /// `${env:` without its `}`.
    #[error("unterminated `${{env:`; write `${{env:NAME}}`")]
    Unterminated,
    /// A name that is not a setting name.
    #[error("`${{env:{0}}}` is not a valid setting name")]
    BadName(String),
    /// The setting is unset or empty.
    #[error("uses ${{env:{0}}}, but the setting {0} is not set")]
    Unset(String),
}

/// Replaces every `${env:NAME}` in `text` with `env(NAME)`, pushing each value onto `secrets`.
pub(super) fn substitute(
    text: &str,
    insert: Insert,
    env: &dyn Fn(&str) -> Option<String>,
    secrets: &mut Vec<String>,
) -> Result<String, SubstituteError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${env:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 6..];
        let end = after.find('}').ok_or(SubstituteError::Unterminated)?;
        let name = &after[..end];
        if !is_setting_name(name) {
            return Err(SubstituteError::BadName(name.to_owned()));
        }
        let value = env(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| SubstituteError::Unset(name.to_owned()))?;
        match insert {
            Insert::Plain => out.push_str(&value),
            Insert::Raw => push_raw(&mut out, &value),
            Insert::JsonString => push_raw(&mut out, &json_string_content(&value)),
        }
        secrets.push(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `value` as template text printed as it is: inside `{% raw %}`, which ends at the first `{%`, so
/// every `{%` of the value is split across two raw blocks (`{{% endraw %}{% raw %}%`).
fn push_raw(out: &mut String, value: &str) {
    out.push_str("{% raw %}");
    out.push_str(&value.replace("{%", "{{% endraw %}{% raw %}%"));
    out.push_str("{% endraw %}");
}

/// `value` escaped as the content of a JSON string, without the quotes.
fn json_string_content(value: &str) -> String {
    let quoted = serde_json::Value::String(value.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// Letters, digits and `_`, not starting with a digit: what app settings allow everywhere.
fn is_setting_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cret".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn values_are_inserted_and_remembered_as_secrets() {
        let mut secrets = Vec::new();
        let text = substitute("Bearer ${env:TOKEN}!", Insert::Plain, &env, &mut secrets);
        assert_eq!(text.as_deref(), Ok("Bearer s3cret!"));
        let text = substitute("{{ x }} ${env:TOKEN}", Insert::Raw, &env, &mut secrets);
        assert_eq!(text.as_deref(), Ok("{{ x }} {% raw %}s3cret{% endraw %}"));
        assert_eq!(secrets, ["s3cret", "s3cret"]);
    }

    fn lookup(name: &str) -> Option<String> {
        match name {
            "QUOTE" => Some(r#"a"b\c"#.to_owned()),
            "UNICODE" => Some(r"x\u00e9y".to_owned()),
            "TAGS" => Some("{%endraw%}{{ 7 * 7 }}{% raw %}{".to_owned()),
            _ => None,
        }
    }

    /// What the template `text` renders to after substitution, in a `.json` template.
    fn rendered(text: &str, insert: Insert) -> String {
        let source = substitute(text, insert, &lookup, &mut Vec::new()).unwrap();
        let mut env = minijinja::Environment::new();
        env.add_template_owned("t.json", source).unwrap();
        env.get_template("t.json").unwrap().render(()).unwrap()
    }

    #[test]
    fn values_in_json_bodies_are_json_string_content() {
        let body = rendered(r#"{"k": "Bearer ${env:QUOTE}"}"#, Insert::JsonString);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["k"], r#"Bearer a"b\c"#);
        // A literal `\u00e9` is not decoded into `é`: the secret stays as it was.
        let body = rendered(r#"{"k": "${env:UNICODE}"}"#, Insert::JsonString);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["k"], r"x\u00e9y");
    }

    #[test]
    fn values_cannot_end_their_raw_block() {
        for insert in [Insert::Raw, Insert::JsonString] {
            assert_eq!(
                rendered("<${env:TAGS}>", insert),
                "<{%endraw%}{{ 7 * 7 }}{% raw %}{>"
            );
        }
    }

    #[test]
    fn unresolvable_references_say_why() {
        let mut secrets = Vec::new();
        let mut error = |text: &str| {
            substitute(text, Insert::Plain, &env, &mut secrets)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error("${env:TOKEN"),
            "unterminated `${env:`; write `${env:NAME}`"
        );
        assert_eq!(
            error("${env:1X}"),
            "`${env:1X}` is not a valid setting name"
        );
        assert_eq!(
            error("${env:EMPTY}"),
            "uses ${env:EMPTY}, but the setting EMPTY is not set"
        );
    }
}
