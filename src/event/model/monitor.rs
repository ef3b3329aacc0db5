//! Model monitoring (v2) breaches, read from a run's tags: [`MonitorBreach`].
//!
//! Model monitoring does not emit an event type of its own (`DatasetDriftDetected` is data drift v1).
//! When a signal breaches its threshold, the monitor's threshold step writes the run tag
//! [`BREACH_TAG`] and Azure ML emits `RunStatusChanged` (or `RunCompleted`: the step does not raise on
//! a breach) for that run. The tag's text, from `evaluate_metrics_threshold.py` in
//! `Azure/azureml-assets@1165a8fd:assets/model_monitoring/components/src/model_monitor_evaluate_metrics_threshold/`:
//!
//! ```text
//! The signal '{signal_name}' has failed due to one or more features violating metric thresholds.
//! The feature names and their corresponding computed metric values violating the threshold are
//! ['{"group":"age","metric_value":0.31,"metric_name":"jensen_shannon_distance","threshold_value":0.1}', ...]
//! ```
//!
//! The list is Python's `repr` of Spark's `df.select("group", "metric_value", "metric_name",
//! "threshold_value").toJSON().collect()`: one JSON object per row, each in a Python string literal.
//!
//! The tag's presence is the breach (Azure ML writes it only then); nothing in its text is trusted
//! for matching. The same code passes its arguments in the wrong order (`send_email_for_breached(df,
//! emails, signal_name)` against the signature `(df, signal_name, emails)`), so the quoted "signal" can
//! be `None` or the notification e-mail list: it is exposed as written, and an
//! `azureml.modelmonitor.threshold.breached.<signal>` tag, when the run has a plausible one, names the
//! signal instead. Whatever cannot be parsed stays in the message; parsing never fails.
//!
//! Event Grid allows 1 MiB per event, so the work and the sizes are bounded: at most [`SCAN_LIMIT`]
//! bytes of the tag are read, at most [`MAX_FEATURES`] rows kept, and every text is cut to a limit.

use serde::Serialize;
use serde_json::{Map, Value};

/// The run tag the threshold step writes on a breach, as Azure ML spells it.
pub const BREACH_TAG: &str = "azureml_modelmonitor_threshold_breached";
/// The prefix of the tag the e-mail notification writes on the pipeline's root run; the rest is
/// meant to be the signal's name.
pub const SIGNAL_TAG_PREFIX: &str = "azureml.modelmonitor.threshold.breached.";

/// The most bytes of the tag that are read: rows past it are not parsed.
pub const SCAN_LIMIT: usize = 64 * 1024;
/// The most feature rows kept.
pub const MAX_FEATURES: usize = 100;
/// The most bytes of the message kept.
pub const MESSAGE_LIMIT: usize = 2048;
/// The most bytes of a name (signal, feature, metric) kept.
pub const NAME_LIMIT: usize = 256;

/// A model monitor's breach, as the run's tags say it: what templates see as `monitor`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonitorBreach {
    /// The signal's name: from an `azureml.modelmonitor.threshold.breached.<signal>` tag when the
    /// run has a plausible one, else as the message quotes it; `None` when neither says.
    pub signal: Option<String>,
    /// The signal's name as the message quotes it, verbatim: may be `None` or an e-mail list (see the
    /// module docs). Never used for matching.
    pub quoted_signal: Option<String>,
    /// The tag's text without the feature list that was parsed into [`MonitorBreach::features`]:
    /// the whole text (cut to [`MESSAGE_LIMIT`] bytes) when the list could not be parsed.
    pub message: String,
    /// The features that violate their thresholds, in the tag's order (at most [`MAX_FEATURES`]).
    pub features: Vec<FeatureBreach>,
    /// Whether something was left out: the tag was longer than [`SCAN_LIMIT`], it had more rows than
    /// [`MAX_FEATURES`], or the message was cut.
    pub truncated: bool,
}

/// One row of the feature list: a metric of one feature and its threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureBreach {
    /// The feature (Spark's `group` column); a non-text group as JSON text.
    pub feature: Option<String>,
    /// The metric's name, e.g. `jensen_shannon_distance`.
    pub metric: Option<String>,
    /// The computed value.
    pub value: Option<f64>,
    /// The threshold it was compared with.
    pub threshold: Option<f64>,
}

impl MonitorBreach {
    /// Whether `tags` mark a breach: the tag is present, whatever its value.
    pub fn is_marked(tags: &Map<String, Value>) -> bool {
        tags.contains_key(BREACH_TAG)
    }

    /// The breach `tags` carry, or `None` when they carry no [`BREACH_TAG`].
    pub fn from_tags(tags: &Map<String, Value>) -> Option<Self> {
        let mut breach = match tags.get(BREACH_TAG)? {
            Value::String(text) => Self::parse(text),
            Value::Null => Self::parse(""),
            other => Self::parse(&other.to_string()),
        };
        if let Some(name) = signal_from_tags(tags) {
            breach.signal = Some(name);
        }
        Some(breach)
    }

    /// Reads the tag's text; never fails (see the module docs).
    pub fn parse(text: &str) -> Self {
        let scanned = &text[..floor_char_boundary(text, SCAN_LIMIT)];
        let quoted_signal = quoted_signal(scanned).map(|name| bounded(name, NAME_LIMIT));
        let (prose, features, mut truncated) =
            match feature_list(scanned, scanned.len() < text.len()) {
                Some(list) => {
                    let prose = format!(
                        "{} {}",
                        scanned[..list.start].trim(),
                        scanned[list.end..].trim()
                    );
                    (prose.trim().to_owned(), list.rows, list.left_out)
                }
                None => (scanned.to_owned(), Vec::new(), false),
            };
        truncated |= text.len() > scanned.len() || prose.len() > MESSAGE_LIMIT;
        Self {
            signal: quoted_signal.clone().filter(|name| plausible_signal(name)),
            quoted_signal,
            message: bounded(&prose, MESSAGE_LIMIT),
            features,
            truncated,
        }
    }

    /// The first few breaches in words, for a summary line:
    /// `jensen_shannon_distance 0.31 > 0.1 on age, psi 0.4 > 0.2 on income (and 3 more)`, `(and at
    /// least 3 more)` when the tag was not read to its end; empty when no row was parsed.
    pub fn describe_features(&self, most: usize) -> String {
        let mut out = String::new();
        for (i, row) in self.features.iter().take(most).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&row.describe());
        }
        let more = self.features.len().saturating_sub(most);
        if more > 0 || (self.truncated && !self.features.is_empty()) {
            let least = if self.truncated { "at least " } else { "" };
            out.push_str(&format!(" (and {least}{more} more)"));
        }
        out
    }
}

impl FeatureBreach {
    /// `jensen_shannon_distance 0.31 > 0.1 on age`, with as much as the row holds. The comparison is
    /// the one the numbers make: some metrics breach below their threshold, others above.
    pub fn describe(&self) -> String {
        let mut out = self.metric.clone().unwrap_or_else(|| "metric".to_owned());
        if let Some(value) = self.value {
            out.push_str(&format!(" {value}"));
        }
        if let Some(threshold) = self.threshold {
            let relation = match self.value {
                Some(v) if v > threshold => ">",
                Some(v) if v < threshold => "<",
                Some(_) => "=",
                None => "threshold",
            };
            out.push_str(&format!(" {relation} {threshold}"));
        }
        if let Some(feature) = &self.feature {
            out.push_str(&format!(" on {feature}"));
        }
        out
    }
}

/// The signal named by an `azureml.modelmonitor.threshold.breached.<signal>` tag, when plausible.
fn signal_from_tags(tags: &Map<String, Value>) -> Option<String> {
    tags.keys()
        .filter_map(|key| key.strip_prefix(SIGNAL_TAG_PREFIX))
        .find(|name| plausible_signal(name))
        .map(|name| bounded(name, NAME_LIMIT))
}

/// Whether `name` can be a signal's name rather than what the argument-order bug puts there: not
/// empty, not Python's `None`, not an e-mail address or list.
fn plausible_signal(name: &str) -> bool {
    let name = name.trim();
    !name.is_empty() && name != "None" && !name.contains('@')
}

/// The name in `The signal '...' has failed`: the quotes around it are Python's f-string's, so the
/// name itself may hold a `'`; the closing quote is the one before ` has failed`.
fn quoted_signal(text: &str) -> Option<&str> {
    let rest = text.trim_start().strip_prefix("The signal '")?;
    let end = rest.find("' has failed")?;
    Some(&rest[..end])
}

/// The feature list of a tag's text, as far as it was read.
struct FeatureList {
    /// Where the list starts (its `[`).
    start: usize,
    /// Where it ends: after its `]`, or the end of the text read when the list was cut.
    end: usize,
    /// The rows kept.
    rows: Vec<FeatureBreach>,
    /// Whether rows were left out: past [`MAX_FEATURES`], or cut off with the text.
    left_out: bool,
}

/// The feature list after the prose: `[` then Python string literals, each a JSON object, separated
/// by `, `, then `]`. `None` when there is none, or when anything in it is not in that form (the text
/// then stays in the message whole). `cut`: `text` is the start of a longer tag.
fn feature_list(text: &str, cut: bool) -> Option<FeatureList> {
    let marker = "the threshold are";
    let after = text.find(marker).map_or(0, |i| i + marker.len());
    let start = after + text[after..].find('[')?;
    let mut list = FeatureList {
        start,
        end: text.len(),
        rows: Vec::new(),
        left_out: false,
    };
    let mut rest = &text[start + 1..];
    loop {
        rest = rest.trim_start_matches([' ', ',', '\n', '\r', '\t']);
        if let Some(after) = rest.strip_prefix(']') {
            list.end = text.len() - after.len();
            return Some(list);
        }
        if rest.is_empty() {
            // The end of what was read, inside the list.
            list.left_out = true;
            return cut.then_some(list);
        }
        let Some((literal, after)) = python_string(rest) else {
            // A literal cut off with the text is the end of what was read; anything else is not
            // the list's form.
            list.left_out = true;
            return (cut && rest.starts_with(['\'', '"'])).then_some(list);
        };
        rest = after;
        let row = row(&literal)?;
        if list.rows.len() < MAX_FEATURES {
            list.rows.push(row);
        } else {
            list.left_out = true;
        }
    }
}

/// One Python string literal at the start of `text` (as `repr` writes them), decoded, and the text
/// after it.
fn python_string(text: &str) -> Option<(String, &str)> {
    let quote = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let mut out = String::new();
    let mut chars = text[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, escaped) = chars.next()?;
                match escaped {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'x' | 'u' | 'U' => {
                        let digits = match escaped {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = (0..digits)
                            .filter_map(|_| chars.next())
                            .map(|(_, h)| h)
                            .collect();
                        let code = u32::from_str_radix(&hex, 16).ok()?;
                        out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                    }
                    other => out.push(other),
                }
            }
            c if c == quote => return Some((out, &text[1 + i + 1..])),
            c => out.push(c),
        }
    }
    None
}

/// One row's JSON (Spark leaves out null columns); `None` when it is not a JSON object.
fn row(json: &str) -> Option<FeatureBreach> {
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(json) else {
        return None;
    };
    let text = |key: &str| match object.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(bounded(s, NAME_LIMIT)),
        Some(other) => Some(bounded(&other.to_string(), NAME_LIMIT)),
    };
    // Spark writes NaN and infinities as strings; they are no number here.
    let number = |key: &str| match object.get(key) {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
        _ => None,
    };
    Some(FeatureBreach {
        feature: text("group"),
        metric: text("metric_name"),
        value: number("metric_value"),
        threshold: number("threshold_value"),
    })
}

/// The largest char boundary of `text` at or below `limit`.
fn floor_char_boundary(text: &str, limit: usize) -> usize {
    if text.len() <= limit {
        return text.len();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// `text` cut to `limit` bytes on a character boundary, with `…` and its full length when cut (as
/// the log fields are: `telemetry::bounded`, which this module cannot depend on).
fn bounded(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let end = floor_char_boundary(text, limit);
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The tag as `_generate_error_message` writes it for two rows (Python's `repr` of the list).
    const TWO_ROWS: &str = "The signal 'data-drift-signal' has failed due to one or more features violating metric thresholds.\nThe feature names and their corresponding computed metric values violating the threshold are \n['{\"group\":\"age\",\"metric_value\":0.31,\"metric_name\":\"jensen_shannon_distance\",\"threshold_value\":0.1}', '{\"group\":\"income\",\"metric_value\":0.02,\"metric_name\":\"two_sample_kolmogorov_smirnov_test\",\"threshold_value\":0.05}']\n";

    fn tags(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect()
    }

    #[test]
    fn the_rows_azure_writes_are_parsed() {
        let breach = MonitorBreach::parse(TWO_ROWS);
        assert_eq!(breach.signal.as_deref(), Some("data-drift-signal"));
        assert_eq!(breach.quoted_signal.as_deref(), Some("data-drift-signal"));
        assert_eq!(
            breach.features,
            [
                FeatureBreach {
                    feature: Some("age".into()),
                    metric: Some("jensen_shannon_distance".into()),
                    value: Some(0.31),
                    threshold: Some(0.1),
                },
                FeatureBreach {
                    feature: Some("income".into()),
                    metric: Some("two_sample_kolmogorov_smirnov_test".into()),
                    value: Some(0.02),
                    threshold: Some(0.05),
                }
            ]
        );
        assert_eq!(
            breach.message,
            "The signal 'data-drift-signal' has failed due to one or more features violating metric thresholds.\nThe feature names and their corresponding computed metric values violating the threshold are"
        );
        assert!(!breach.truncated);
        assert_eq!(
            breach.describe_features(3),
            "jensen_shannon_distance 0.31 > 0.1 on age, two_sample_kolmogorov_smirnov_test 0.02 < 0.05 on income"
        );
        assert_eq!(
            breach.describe_features(1),
            "jensen_shannon_distance 0.31 > 0.1 on age (and 1 more)"
        );
    }

    #[test]
    fn python_escapes_in_the_literals_are_decoded() {
        // repr escapes `'` and `\`; a JSON `\"` in a feature name becomes `\\"`.
        let text = r#"The signal 's' has failed due to x. the threshold are ['{"group":"it\'s \\"q\\" caf\xe9","metric_value":1,"metric_name":"m","threshold_value":0}']"#;
        let breach = MonitorBreach::parse(text);
        assert_eq!(breach.features.len(), 1, "{breach:?}");
        assert_eq!(
            breach.features[0].feature.as_deref(),
            Some("it's \"q\" café")
        );
    }

    #[test]
    fn a_wrong_signal_is_exposed_but_not_taken_as_the_name() {
        for quoted in ["None", "ops@contoso.com,ml@contoso.com"] {
            let text = TWO_ROWS.replace("data-drift-signal", quoted);
            let breach = MonitorBreach::parse(&text);
            assert_eq!(breach.quoted_signal.as_deref(), Some(quoted));
            assert_eq!(breach.signal, None, "{quoted}");
        }
        let text = TWO_ROWS.replace("data-drift-signal", "None");
        let breach = MonitorBreach::from_tags(&tags(&[
            (BREACH_TAG, &text),
            ("azureml.modelmonitor.threshold.breached.None", "x"),
            (
                "azureml.modelmonitor.threshold.breached.churn_data_drift",
                "x",
            ),
        ]))
        .unwrap();
        assert_eq!(breach.signal.as_deref(), Some("churn_data_drift"));
        assert_eq!(breach.quoted_signal.as_deref(), Some("None"));
    }

    #[test]
    fn the_tag_is_the_marker_whatever_it_says() {
        assert!(MonitorBreach::from_tags(&tags(&[("other", "x")])).is_none());
        assert!(!MonitorBreach::is_marked(&tags(&[(
            "azureml.modelmonitor.threshold.breached.s",
            "x"
        )])));
        let empty = MonitorBreach::from_tags(&tags(&[(BREACH_TAG, "")])).unwrap();
        assert_eq!((empty.signal, empty.message.as_str()), (None, ""));
        let number: Map<String, Value> = [(BREACH_TAG.to_owned(), json!(1))].into_iter().collect();
        assert!(MonitorBreach::is_marked(&number));
        assert_eq!(MonitorBreach::from_tags(&number).unwrap().message, "1");
        let null: Map<String, Value> = [(BREACH_TAG.to_owned(), Value::Null)].into_iter().collect();
        assert_eq!(MonitorBreach::from_tags(&null).unwrap().message, "");
    }

    #[test]
    fn text_not_in_azures_format_stays_in_the_message() {
        for text in [
            "Signal drift exceeded the threshold on [age, income]",
            "The signal 'x' has failed. the threshold are ['not json', '{}']",
            "The signal 'x' has failed. the threshold are ['{\"group\":1}' oops]",
            "The signal 'x' has failed. the threshold are ['{\"group\":\"a\"",
            "[",
        ] {
            let breach = MonitorBreach::parse(text);
            assert_eq!(breach.message, text);
            assert!(breach.features.is_empty(), "{text}: {breach:?}");
            assert!(!breach.truncated, "{text}");
        }
    }

    #[test]
    fn rows_that_spark_writes_oddly_keep_what_they_have() {
        let text = r#"the threshold are ['{"group":"a","metric_value":"NaN","metric_name":"psi"}', '{"metric_value":2.0E-4,"threshold_value":1.0E-4}']"#;
        let breach = MonitorBreach::parse(text);
        assert_eq!(breach.features[0].value, None);
        assert_eq!(breach.features[0].describe(), "psi on a");
        assert_eq!(breach.features[1].describe(), "metric 0.0002 > 0.0001");
        assert_eq!(breach.signal, None);
    }

    #[test]
    fn a_huge_tag_is_read_only_so_far() {
        let row = r#"'{"group":"feature_0000","metric_value":0.5,"metric_name":"jensen_shannon_distance","threshold_value":0.1}'"#;
        let rows: Vec<String> = (0..20_000)
            .map(|i| row.replace("0000", &format!("{i:04}")))
            .collect();
        let text = format!(
            "The signal '{}' has failed due to one or more features violating metric thresholds.\nThe feature names and their corresponding computed metric values violating the threshold are \n[{}]\n",
            "s".repeat(1000),
            rows.join(", ")
        );
        assert!(text.len() > 2_000_000);
        let breach = MonitorBreach::parse(&text);
        assert_eq!(breach.features.len(), MAX_FEATURES);
        assert!(breach.truncated);
        assert!(
            breach.message.len() <= MESSAGE_LIMIT + 32,
            "{}",
            breach.message.len()
        );
        assert!(breach.quoted_signal.as_ref().unwrap().len() <= NAME_LIMIT + 32);
        assert!(breach
            .describe_features(2)
            .ends_with("(and at least 98 more)"));
        // Wherever the scan limit falls (in a literal, between two), the rows read are kept.
        for pad in 0..row.len() + 2 {
            let text = text.replacen("'s", &format!("'{}", "p".repeat(pad)), 1);
            let breach = MonitorBreach::parse(&text[..SCAN_LIMIT + 10_000]);
            assert_eq!(breach.features.len(), MAX_FEATURES, "{pad}");
            assert!(breach.truncated, "{pad}");
        }
        let unicode = "é".repeat(SCAN_LIMIT);
        assert!(MonitorBreach::parse(&unicode).truncated);
    }

    /// Pieces of Azure's format and of what breaks parsers: quotes, escapes cut short, multi-byte
    /// characters, numbers out of range, brackets.
    fn hostile_tag() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let pieces = prop::sample::select(vec![
            "The signal '", "' has failed", " due to x.", "the threshold are", "[", "]", "'", "\"",
            "\\", "\\x", "\\x+f", "\\u12", "\\ud800", "\\U0010ffff", "\\U99999999", "{", "}",
            "{\"group\":\"age\",\"metric_value\":0.31,\"metric_name\":\"m\",\"threshold_value\":0.1}",
            "\"metric_value\":1e400", "\"threshold_value\":\"NaN\"", "\"metric_value\":1e308",
            "\"metric_value\":5e-324", ", ", ",", "\n", "é", "😀", "None", "a@b.c", "x",
        ]);
        prop::collection::vec(pieces, 0..24).prop_map(|p| p.concat())
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 256, failure_persistence: None, ..Default::default() })]

        /// Never a panic, and every size bounded, on any text and on any prefix of it that
        /// ends on a character boundary (where a tag cut by the scan limit ends).
        #[test]
        fn any_tag_parses_within_bounds(text in hostile_tag()) {
            for end in (0..=text.len()).filter(|i| text.is_char_boundary(*i)) {
                let breach = MonitorBreach::parse(&text[..end]);
                proptest::prop_assert!(breach.message.len() <= MESSAGE_LIMIT + 32);
                proptest::prop_assert!(breach.features.len() <= MAX_FEATURES);
                for name in breach.signal.iter().chain(&breach.quoted_signal) {
                    proptest::prop_assert!(name.len() <= NAME_LIMIT + 32);
                }
                let rows = breach.features.iter().map(|r| r.describe().len()).max().unwrap_or(0);
                // A name cut to its limit, twice, and two doubles written out in full (at most
                // 17 significant digits and 324 zeros each).
                proptest::prop_assert!(rows <= 2 * (NAME_LIMIT + 32) + 2 * 330 + 16, "{}", rows);
            }
        }
    }

    #[test]
    fn every_limit_falls_on_a_character_boundary() {
        // A 4-byte character straddling each limit, at each of its byte offsets.
        for limit in [SCAN_LIMIT, MESSAGE_LIMIT, NAME_LIMIT] {
            for shift in 0..4 {
                let name = format!("{}{}", "a".repeat(limit - shift), "😀".repeat(4));
                let text = format!(
                    "The signal '{name}' has failed due to x. {}",
                    "é".repeat(limit)
                );
                let breach = MonitorBreach::parse(&text);
                if limit < SCAN_LIMIT {
                    assert!(breach.quoted_signal.unwrap().len() <= NAME_LIMIT + 32);
                    assert!(breach.message.len() <= MESSAGE_LIMIT + 32);
                }
                let padded = format!("{}{text}", "b".repeat(SCAN_LIMIT - shift - 2));
                assert!(MonitorBreach::parse(&padded).truncated);
            }
        }
    }
}
