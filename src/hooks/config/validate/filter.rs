//! `[[hooks.filters]]`: Event Grid advanced filters as ARM and Bicep spell them (`operatorType`,
//! `key`, `value` or `values`), checked against the operator's operand and Event Grid's limits. Every
//! error names the hook and the key (`filters[2].values[0]`); a data key that no event kind of the
//! hook has is a warning, since data is open-ended.

use super::Validator;
use crate::event::{data_members, EventKind};
use crate::hooks::config::file::{toml_message, RawFilter};
use crate::hooks::config::{ConfigError, ConfigWarning};
use crate::hooks::filter::{
    AdvancedFilter, Key, Operand, Operator, Shape, MAX_FILTERS, MAX_STRING_CHARS, MAX_VALUES,
};
use serde::Deserialize;

/// Why Event Grid's limits apply to one hook: a hook's filters are what a subscription would hold.
const LIMIT_REASON: &str = "as in one Event Grid subscription, so that the filters can move there";

impl Validator<'_> {
    /// The hook's filters; `kinds` are the event kinds it can match, for the data-key warnings.
    pub(super) fn filters(
        &mut self,
        h: Option<&str>,
        raw: &[toml::Value],
        kinds: &[EventKind],
    ) -> Result<Vec<AdvancedFilter>, ConfigError> {
        if raw.len() > MAX_FILTERS {
            return Err(self.err(
                h,
                Some(&format!("filters[{MAX_FILTERS}]")),
                format!("a hook takes at most {MAX_FILTERS} filters, {LIMIT_REASON}"),
            ));
        }
        let mut filters = Vec::new();
        let mut values = 0;
        for (i, value) in raw.iter().enumerate() {
            let filter = self.filter(h, i, value.clone())?;
            values += filter.operand().count();
            if values > MAX_VALUES {
                return Err(self.err(
                    h,
                    Some(&format!("filters[{i}].values")),
                    format!(
                        "brings the hook's filters to {values} values; at most {MAX_VALUES} across all filters, {LIMIT_REASON}"
                    ),
                ));
            }
            if let Some(message) = data_key_warning(&filter, kinds) {
                self.warnings.push(ConfigWarning {
                    hook: h.map(str::to_owned),
                    key: Some(format!("filters[{i}].key")),
                    message,
                });
            }
            filters.push(filter);
        }
        Ok(filters)
    }

    /// One `[[hooks.filters]]` table, at index `i`.
    fn filter(
        &self,
        h: Option<&str>,
        i: usize,
        value: toml::Value,
    ) -> Result<AdvancedFilter, ConfigError> {
        let at = format!("filters[{i}]");
        let raw =
            RawFilter::deserialize(value).map_err(|e| self.err(h, Some(&at), toml_message(&e)))?;
        let operator = Operator::from_name(&raw.operator_type).ok_or_else(|| {
            self.err(
                h,
                Some(&format!("{at}.operatorType")),
                unknown_operator(&raw.operator_type),
            )
        })?;
        let key = Key::parse(&raw.key)
            .map_err(|e| self.err(h, Some(&format!("{at}.key")), e.to_string()))?;
        let operand = self.operand(h, &at, operator, raw.value, raw.values)?;
        AdvancedFilter::new(operator, key, operand)
            .map_err(|e| self.err(h, Some(&at), e.to_string()))
    }

    /// `value` or `values`, as the operator takes them.
    fn operand(
        &self,
        h: Option<&str>,
        at: &str,
        op: Operator,
        value: Option<toml::Value>,
        values: Option<toml::Value>,
    ) -> Result<Operand, ConfigError> {
        let key = |member: &str| format!("{at}.{member}");
        let single = matches!(op.shape(), Shape::Number | Shape::Bool);
        match (op.shape(), value, values) {
            (Shape::Nothing, None, None) => Ok(Operand::Nothing),
            (Shape::Nothing, value, _) => {
                let member = if value.is_some() { "value" } else { "values" };
                Err(self.err(h, Some(&key(member)), format!("`{op}` takes no value")))
            }
            (_, _, Some(_)) if single => Err(self.err(
                h,
                Some(&key("values")),
                format!("`{op}` takes one `value`, not `values`"),
            )),
            (_, None, None) if single => {
                Err(self.err(h, Some(&key("value")), format!("is required by `{op}`")))
            }
            (Shape::Number, Some(v), None) => number(&v).map(Operand::Number).ok_or_else(|| {
                self.err(
                    h,
                    Some(&key("value")),
                    format!("`{op}` compares with a number (finite; an integer within ±2^53)"),
                )
            }),
            (Shape::Bool, Some(v), None) => v.as_bool().map(Operand::Bool).ok_or_else(|| {
                self.err(
                    h,
                    Some(&key("value")),
                    "`BoolEquals` compares with true or false",
                )
            }),
            (_, Some(_), _) => Err(self.err(
                h,
                Some(&key("value")),
                format!("`{op}` takes `values` (a list), not `value`"),
            )),
            (_, None, None) => {
                Err(self.err(h, Some(&key("values")), format!("is required by `{op}`")))
            }
            (shape, None, Some(list)) => self.list(h, &key("values"), op, shape, &list),
        }
    }

    /// `values` of a list operator: numbers, ranges or strings.
    fn list(
        &self,
        h: Option<&str>,
        at: &str,
        op: Operator,
        shape: Shape,
        list: &toml::Value,
    ) -> Result<Operand, ConfigError> {
        let items = list
            .as_array()
            .ok_or_else(|| self.err(h, Some(at), format!("`{op}` takes a list of values")))?;
        if items.is_empty() {
            return Err(self.err(h, Some(at), "needs at least one value"));
        }
        let item = |j: usize| format!("{at}[{j}]");
        let bad =
            |j: usize, what: &str| self.err(h, Some(&item(j)), format!("`{op}` takes {what}"));
        match shape {
            Shape::Numbers => items
                .iter()
                .enumerate()
                .map(|(j, v)| {
                    number(v).ok_or_else(|| bad(j, "numbers (finite; integers within ±2^53)"))
                })
                .collect::<Result<_, _>>()
                .map(Operand::Numbers),
            Shape::Ranges => items
                .iter()
                .enumerate()
                .map(|(j, v)| range(v).ok_or_else(|| bad(j, "ranges [low, high] of two numbers, low ≤ high")))
                .collect::<Result<_, _>>()
                .map(Operand::Ranges),
            _ => items
                .iter()
                .enumerate()
                .map(|(j, v)| {
                    let text = v.as_str().ok_or_else(|| bad(j, "strings"))?;
                    if text.contains("${env:") {
                        return Err(self.err(
                            h,
                            Some(&item(j)),
                            "`${env:...}` is not substituted in filters: a subscription's filter values are readable by anyone who can read the subscription, so write the value itself",
                        ));
                    }
                    let chars = text.chars().count();
                    if chars > MAX_STRING_CHARS {
                        return Err(self.err(
                            h,
                            Some(&item(j)),
                            format!("has {chars} characters; Event Grid takes at most {MAX_STRING_CHARS} per value"),
                        ));
                    }
                    Ok(text.to_owned())
                })
                .collect::<Result<_, _>>()
                .map(Operand::Strings),
        }
    }
}

/// The largest integer a double holds exactly, with every integer below it: beyond it a value
/// would be compared (and printed into a subscription) as another number than the one written.
const MAX_EXACT_INTEGER: u64 = 1 << 53;

/// An integer a double holds exactly, or a finite float.
fn number(value: &toml::Value) -> Option<f64> {
    match value {
        toml::Value::Integer(i) if i.unsigned_abs() <= MAX_EXACT_INTEGER => Some(*i as f64),
        toml::Value::Float(f) if f.is_finite() => Some(*f),
        _ => None,
    }
}

/// `[low, high]`, two numbers in order.
fn range(value: &toml::Value) -> Option<(f64, f64)> {
    match value.as_array()?.as_slice() {
        [low, high] => {
            let (low, high) = (number(low)?, number(high)?);
            (low <= high).then_some((low, high))
        }
        _ => None,
    }
}

/// "unknown operatorType", with the right spelling when only the letter case is wrong.
fn unknown_operator(name: &str) -> String {
    match Operator::from_name_any_case(name) {
        Some(op) => format!("unknown operatorType `{name}`; ARM and Bicep spell it `{op}`"),
        None => {
            let all: Vec<&str> = Operator::ALL.iter().map(|op| op.name()).collect();
            format!(
                "unknown operatorType `{name}`; use one of {}",
                all.join(", ")
            )
        }
    }
}

/// Members that hold free-form objects (tags and properties), whose own members nobody can list.
fn is_open_object(member: &str) -> bool {
    let lower = member.to_ascii_lowercase();
    lower.ends_with("tags") || lower.ends_with("properties")
}

/// A warning when `filter`'s data key is not a member that any of `kinds` has (it may still be sent:
/// data keeps members this crate does not know), or names a member inside a text member, or a
/// Number operator reads `modelVersion`, which the handler holds as text.
fn data_key_warning(filter: &AdvancedFilter, kinds: &[EventKind]) -> Option<String> {
    let path = filter.key().data_path()?;
    let first = &path[0];
    let known: Vec<&str> = kinds
        .iter()
        .flat_map(|k| data_members(*k).iter().copied())
        .collect();
    let member = known.iter().find(|m| m.eq_ignore_ascii_case(first));
    let names: Vec<&str> = kinds.iter().map(|k| k.short_name()).collect();
    let Some(member) = member else {
        let mut listed = known.clone();
        listed.sort_unstable();
        listed.dedup();
        return Some(format!(
            "`{first}` is not a data member of {} ({}); the filter only matches if the service sends it",
            names.join(", "),
            listed.join(", ")
        ));
    };
    if path.len() > 1 && !is_open_object(member) {
        return Some(format!(
            "`{member}` holds a single value, not members: `{}` is never there",
            filter.key()
        ));
    }
    let numeric = matches!(
        filter.operator().shape(),
        Shape::Number | Shape::Numbers | Shape::Ranges
    );
    if numeric && member.eq_ignore_ascii_case("modelVersion") {
        return Some(format!(
            "the handler holds `modelVersion` as text (the service has sent it as a number and as a string): `{}` never matches it here; use StringIn",
            filter.operator()
        ));
    }
    None
}
