//! Keeping secrets out of logs and errors.
//!
//! Every value that came from `${env:NAME}` and every hook URL (Teams, Slack and most webhook URLs carry
//! their credential in the URL) is a secret. Anything a hook reports passes through [`Secrets::redact`].

use std::sync::Arc;

/// The replacement for a secret in text.
pub(crate) const REDACTED: &str = "[redacted]";

/// The set of secret strings of a configuration.
#[derive(Clone, Default)]
pub struct Secrets(Arc<Vec<String>>);

/// Counts the secrets and shows none: a configuration (and every hook, which holds these) may be
/// printed with `{:?}` by a library user or a test.
impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} values)", self.0.len())
    }
}

impl Secrets {
    /// A set holding `values`; values shorter than 4 characters are ignored (they would redact
    /// ordinary words and carry no secret worth the name).
    pub(crate) fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut values: Vec<String> = values.into_iter().filter(|v| v.len() >= 4).collect();
        // Also their JSON-escaped form, as they appear inside serialised payloads.
        let escaped: Vec<String> = values
            .iter()
            .filter_map(|v| serde_json::to_string(v).ok())
            .map(|quoted| quoted[1..quoted.len() - 1].to_owned())
            .filter(|e| !values.contains(e))
            .collect();
        values.extend(escaped);
        // Longest first, so a secret that contains another is replaced whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Self(Arc::new(values))
    }

    /// `text` with every secret replaced by `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in self.0.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }
}

/// A URL shown without its secrets: scheme and host only (`https://example.webhook.office.com/…`).
pub(crate) fn describe_url(url: &reqwest::Url) -> String {
    match url.host_str() {
        Some(host) => match url.port() {
            Some(port) => format!("{}://{host}:{port}/…", url.scheme()),
            None => format!("{}://{host}/…", url.scheme()),
        },
        None => format!("{}:…", url.scheme()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_shows_no_secret() {
        let secrets = Secrets::new(["sp-secret-value".to_owned()]);
        assert_eq!(format!("{secrets:?}"), "Secrets(1 values)");
    }

    #[test]
    fn secrets_are_replaced_longest_first() {
        let secrets = Secrets::new([
            "abcd".to_owned(),
            "https://h/abcd/x".to_owned(),
            "no".to_owned(),
        ]);
        assert_eq!(
            secrets.redact("posting to https://h/abcd/x failed"),
            "posting to [redacted] failed"
        );
        assert_eq!(secrets.redact("token abcd"), "token [redacted]");
        assert_eq!(secrets.redact("no change"), "no change");
        let quoted = Secrets::new(["a\"b\\c".to_owned()]);
        assert_eq!(quoted.redact(r#"{"k":"a\"b\\c"}"#), r#"{"k":"[redacted]"}"#);
    }

    #[test]
    fn a_literal_unicode_escape_is_redacted_raw_and_escaped() {
        let secrets = Secrets::new([r"Wq8\u00e9".to_owned()]);
        assert_eq!(secrets.redact(r"raw Wq8\u00e9"), "raw [redacted]");
        assert_eq!(
            secrets.redact(r#"{"k":"Wq8\\u00e9"}"#),
            r#"{"k":"[redacted]"}"#
        );
    }

    #[test]
    fn urls_are_described_by_host_only() {
        let url =
            reqwest::Url::parse("https://contoso.webhook.office.com/webhookb2/secret-token?sig=x")
                .unwrap();
        assert_eq!(describe_url(&url), "https://contoso.webhook.office.com/…");
        let url = reqwest::Url::parse("http://127.0.0.1:9000/hook").unwrap();
        assert_eq!(describe_url(&url), "http://127.0.0.1:9000/…");
    }
}
