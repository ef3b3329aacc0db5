//! Event Grid advanced filters, evaluated here with Event Grid's documented semantics, so that a
//! filter copied from a subscription (portal, Bicep, ARM, az) behaves the same in `hooks.toml`, and a
//! filter of `hooks.toml` can be pushed into the subscription that `handler subscription` prints.
//!
//! Plain data and evaluation, no I/O. Semantics, from
//! `MicrosoftDocs/azure-docs@aa803038:articles/event-grid/event-filtering.md` (2022-09):
//! - the values of one filter are OR-ed; the filters of a hook are AND-ed (with `[hooks.when]`);
//! - "All string comparisons aren't case-sensitive";
//! - a key holding an array is tested element by element: a positive operator holds when any element
//!   matches any value, a `Not` form fails when any element matches any value; elements of another
//!   type than the operator's (and arrays of objects) are ignored (the pseudo code of every operator;
//!   arrays need `enableAdvancedFilteringOnArrays`, which the generated subscription sets);
//! - an absent key: see [`Operator::matches_absent`];
//! - limits: 25 filters and 25 values across the filters of a subscription, 512 characters per string
//!   value (the "Limitations" section); the key depth bound is ours ([`MAX_DATA_DEPTH`]).
//!
//! Types are never converted: a number is not a string to `StringIn`, nor `"5"` a number to
//! `NumberIn`. (The page's CloudEvents example applies `StringBeginsWith` to the number 5, against its
//! own pseudo code; the pseudo code, stated for every operator, is what is followed.)

mod key;
mod operator;
mod view;

pub use key::{Key, KeyError, Target, MAX_DATA_DEPTH};
pub use operator::{Operator, Shape};
pub use view::EventView;

use serde_json::Value;
use thiserror::Error;
use view::Found;

/// Most advanced filters, and most values across them, in one Event Grid subscription.
pub const MAX_FILTERS: usize = 25;
/// See [`MAX_FILTERS`].
pub const MAX_VALUES: usize = 25;
/// Longest string value, in characters.
pub const MAX_STRING_CHARS: usize = 512;

/// What a filter compares with, typed by its operator's [`Shape`].
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// No operand (`IsNullOrUndefined`, `IsNotNull`).
    Nothing,
    /// `value`: a number.
    Number(f64),
    /// `value`: a boolean.
    Bool(bool),
    /// `values`: numbers.
    Numbers(Vec<f64>),
    /// `values`: inclusive ranges.
    Ranges(Vec<(f64, f64)>),
    /// `values`: strings, as written.
    Strings(Vec<String>),
}

impl Operand {
    fn shape(&self) -> Shape {
        match self {
            Operand::Nothing => Shape::Nothing,
            Operand::Number(_) => Shape::Number,
            Operand::Bool(_) => Shape::Bool,
            Operand::Numbers(_) => Shape::Numbers,
            Operand::Ranges(_) => Shape::Ranges,
            Operand::Strings(_) => Shape::Strings,
        }
    }

    /// How many values Event Grid counts against [`MAX_VALUES`]: one for `value`, each element of
    /// `values` (a range is one value).
    pub fn count(&self) -> usize {
        match self {
            Operand::Nothing => 0,
            Operand::Number(_) | Operand::Bool(_) => 1,
            Operand::Numbers(v) => v.len(),
            Operand::Ranges(v) => v.len(),
            Operand::Strings(v) => v.len(),
        }
    }
}

/// The operand does not fit the operator.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{operator} takes {expected:?}, not {found:?}")]
pub struct ShapeError {
    /// The operator.
    pub operator: Operator,
    /// What it takes.
    pub expected: Shape,
    /// What it was given.
    pub found: Shape,
}

/// One advanced filter: `operatorType`, `key`, and `value` or `values`.
#[derive(Debug, Clone, PartialEq)]
pub struct AdvancedFilter {
    operator: Operator,
    key: Key,
    operand: Operand,
    /// String values lower-cased once, for the case-insensitive comparisons.
    folded: Vec<String>,
}

impl AdvancedFilter {
    /// A filter; the operand must have the operator's shape. Limits on values are the caller's
    /// (they count across the filters of a hook or a subscription).
    pub fn new(operator: Operator, key: Key, operand: Operand) -> Result<Self, ShapeError> {
        if operand.shape() != operator.shape() {
            return Err(ShapeError {
                operator,
                expected: operator.shape(),
                found: operand.shape(),
            });
        }
        let folded = match &operand {
            Operand::Strings(values) => values.iter().map(|v| v.to_lowercase()).collect(),
            _ => Vec::new(),
        };
        Ok(Self {
            operator,
            key,
            operand,
            folded,
        })
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The key.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The operand.
    pub fn operand(&self) -> &Operand {
        &self.operand
    }

    /// Whether the event passes this filter.
    pub fn matches(&self, view: &EventView<'_>) -> bool {
        let Some(found) = self.key.find(view) else {
            return self.operator.matches_absent();
        };
        match self.operator {
            Operator::IsNullOrUndefined => false,
            Operator::IsNotNull => true,
            op => {
                let hit = any_element(found, |element| self.hits(element, view));
                hit != op.is_negated()
            }
        }
    }

    /// Whether the filter is the same test as `other`: the same operator, the same target (keys in
    /// any letter case, both spellings of an envelope member) and the same values (strings in any
    /// case, since they compare so), in the same order.
    pub fn same_as(&self, other: &AdvancedFilter) -> bool {
        let same_target = match (self.key.target(), other.key.target()) {
            (Target::Data(a), Target::Data(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y))
            }
            (a, b) => a == b,
        };
        let same_values = match (&self.operand, &other.operand) {
            (Operand::Strings(_), Operand::Strings(_)) => self.folded == other.folded,
            (a, b) => a == b,
        };
        self.operator == other.operator && same_target && same_values
    }

    /// Whether one element of the key matches one value, ignoring elements of another type.
    fn hits(&self, element: Element<'_>, view: &EventView<'_>) -> bool {
        use Operator::*;
        match (&self.operand, element) {
            (Operand::Number(x), Element::Number(v)) => match self.operator {
                NumberGreaterThan => v > *x,
                NumberGreaterThanOrEquals => v >= *x,
                NumberLessThan => v < *x,
                NumberLessThanOrEquals => v <= *x,
                _ => false,
            },
            (Operand::Numbers(xs), Element::Number(v)) => xs.contains(&v),
            (Operand::Ranges(ranges), Element::Number(v)) => {
                ranges.iter().any(|(low, high)| *low <= v && v <= *high)
            }
            (Operand::Bool(b), Element::Bool(v)) => *b == v,
            (Operand::Strings(_), Element::Text(text)) => {
                let text = view.lowercase(text);
                let test: fn(&str, &str) -> bool = match self.operator {
                    StringContains | StringNotContains => |t, v| t.contains(v),
                    StringBeginsWith | StringNotBeginsWith => |t, v| t.starts_with(v),
                    StringEndsWith | StringNotEndsWith => |t, v| t.ends_with(v),
                    _ => |t, v| t == v,
                };
                self.folded.iter().any(|value| test(&text, value))
            }
            _ => false,
        }
    }
}

/// One element of a key's value, by type; anything else (objects, nested arrays, `null`) is
/// [`Element::Other`], which no operator matches.
#[derive(Debug, Clone, Copy)]
enum Element<'v> {
    Number(f64),
    Bool(bool),
    Text(&'v str),
    Other,
}

impl<'v> Element<'v> {
    fn of(value: &'v Value) -> Self {
        match value {
            Value::Number(n) => n.as_f64().map_or(Element::Other, Element::Number),
            Value::Bool(b) => Element::Bool(*b),
            Value::String(s) => Element::Text(s),
            _ => Element::Other,
        }
    }
}

/// Whether `test` holds for one element the filter tests: each element of an array, or the value
/// itself.
fn any_element(found: Found<'_>, mut test: impl FnMut(Element<'_>) -> bool) -> bool {
    match found {
        Found::Text(text) => test(Element::Text(text)),
        Found::Json(Value::Array(items)) => items.iter().any(|v| test(Element::of(v))),
        Found::Json(value) => test(Element::of(value)),
    }
}

#[cfg(test)]
mod tests;
