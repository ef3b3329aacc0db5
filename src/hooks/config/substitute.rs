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
            Insert::Raw => {
                out.push_str("{% raw %}");
                out.push_str(&value);
                out.push_str("{% endraw %}");
            }
        }
        secrets.push(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
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
