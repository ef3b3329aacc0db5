//! The nineteen operators of Event Grid advanced filters, the operand each one takes, and what each
//! answers when the key is absent.
//!
//! Source: `MicrosoftDocs/azure-docs@aa803038:articles/event-grid/event-filtering.md` (2022-09), the
//! "Advanced filtering" section and its note on absent keys; summarised with the other sources in
//! `../shared/reference/acting-in-azure.md` section 5.

use std::fmt;

/// An Event Grid advanced filter operator, named as ARM, Bicep and the portal spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `NumberGreaterThan`: a number above `value`.
    NumberGreaterThan,
    /// `NumberGreaterThanOrEquals`: a number at or above `value`.
    NumberGreaterThanOrEquals,
    /// `NumberLessThan`: a number below `value`.
    NumberLessThan,
    /// `NumberLessThanOrEquals`: a number at or below `value`.
    NumberLessThanOrEquals,
    /// `NumberIn`: a number equal to one of `values`.
    NumberIn,
    /// `NumberNotIn`: no number equal to any of `values`.
    NumberNotIn,
    /// `NumberInRange`: a number within one of the inclusive ranges `values`.
    NumberInRange,
    /// `NumberNotInRange`: no number within any of the ranges `values`.
    NumberNotInRange,
    /// `BoolEquals`: a boolean equal to `value`.
    BoolEquals,
    /// `StringContains`: a string containing one of `values`.
    StringContains,
    /// `StringNotContains`: no string containing any of `values`.
    StringNotContains,
    /// `StringBeginsWith`: a string beginning with one of `values`.
    StringBeginsWith,
    /// `StringNotBeginsWith`: no string beginning with any of `values`.
    StringNotBeginsWith,
    /// `StringEndsWith`: a string ending with one of `values`.
    StringEndsWith,
    /// `StringNotEndsWith`: no string ending with any of `values`.
    StringNotEndsWith,
    /// `StringIn`: a string equal to one of `values`.
    StringIn,
    /// `StringNotIn`: no string equal to any of `values`.
    StringNotIn,
    /// `IsNullOrUndefined`: the key is absent or `null`.
    IsNullOrUndefined,
    /// `IsNotNull`: the key holds something other than `null`.
    IsNotNull,
}

/// What an operator compares with: the member (`value` or `values`) and its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Neither `value` nor `values`.
    Nothing,
    /// `value`: one number.
    Number,
    /// `value`: one boolean.
    Bool,
    /// `values`: numbers.
    Numbers,
    /// `values`: ranges `[low, high]` of two numbers.
    Ranges,
    /// `values`: strings.
    Strings,
}

impl Operator {
    /// Every operator, in the order Event Grid's page documents them.
    pub const ALL: [Operator; 19] = [
        Operator::NumberIn,
        Operator::NumberNotIn,
        Operator::NumberLessThan,
        Operator::NumberGreaterThan,
        Operator::NumberLessThanOrEquals,
        Operator::NumberGreaterThanOrEquals,
        Operator::NumberInRange,
        Operator::NumberNotInRange,
        Operator::BoolEquals,
        Operator::StringContains,
        Operator::StringNotContains,
        Operator::StringBeginsWith,
        Operator::StringNotBeginsWith,
        Operator::StringEndsWith,
        Operator::StringNotEndsWith,
        Operator::StringIn,
        Operator::StringNotIn,
        Operator::IsNullOrUndefined,
        Operator::IsNotNull,
    ];

    /// The `operatorType` as ARM spells it.
    pub fn name(self) -> &'static str {
        match self {
            Operator::NumberGreaterThan => "NumberGreaterThan",
            Operator::NumberGreaterThanOrEquals => "NumberGreaterThanOrEquals",
            Operator::NumberLessThan => "NumberLessThan",
            Operator::NumberLessThanOrEquals => "NumberLessThanOrEquals",
            Operator::NumberIn => "NumberIn",
            Operator::NumberNotIn => "NumberNotIn",
            Operator::NumberInRange => "NumberInRange",
            Operator::NumberNotInRange => "NumberNotInRange",
            Operator::BoolEquals => "BoolEquals",
            Operator::StringContains => "StringContains",
            Operator::StringNotContains => "StringNotContains",
            Operator::StringBeginsWith => "StringBeginsWith",
            Operator::StringNotBeginsWith => "StringNotBeginsWith",
            Operator::StringEndsWith => "StringEndsWith",
            Operator::StringNotEndsWith => "StringNotEndsWith",
            Operator::StringIn => "StringIn",
            Operator::StringNotIn => "StringNotIn",
            Operator::IsNullOrUndefined => "IsNullOrUndefined",
            Operator::IsNotNull => "IsNotNull",
        }
    }

    /// The operator spelled exactly `name` (ARM's discriminator is exact).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.name() == name)
    }

    /// The operator `name` spells in another letter case, for a "did you mean" (the az CLI takes any
    /// case, ARM and Bicep do not).
    pub fn from_name_any_case(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|op| op.name().eq_ignore_ascii_case(name))
    }

    /// What the operator compares with.
    pub fn shape(self) -> Shape {
        use Operator::*;
        match self {
            NumberGreaterThan
            | NumberGreaterThanOrEquals
            | NumberLessThan
            | NumberLessThanOrEquals => Shape::Number,
            NumberIn | NumberNotIn => Shape::Numbers,
            NumberInRange | NumberNotInRange => Shape::Ranges,
            BoolEquals => Shape::Bool,
            StringContains | StringNotContains | StringBeginsWith | StringNotBeginsWith
            | StringEndsWith | StringNotEndsWith | StringIn | StringNotIn => Shape::Strings,
            IsNullOrUndefined | IsNotNull => Shape::Nothing,
        }
    }

    /// Whether this is a `Not` form: it fails as soon as one element of the key matches one value
    /// (the docs' `FOR_EACH filter … FOR_EACH key … FAIL_MATCH`), and holds otherwise.
    pub fn is_negated(self) -> bool {
        use Operator::*;
        matches!(
            self,
            NumberNotIn
                | NumberNotInRange
                | StringNotContains
                | StringNotBeginsWith
                | StringNotEndsWith
                | StringNotIn
        )
    }

    /// What the filter answers when the event has no such key (or `null` there).
    ///
    /// The docs' note: "not matched" for the Number comparisons, NumberIn, BoolEquals and every String
    /// operator but StringNotIn, including StringNotContains, StringNotBeginsWith and
    /// StringNotEndsWith; "matched" for NumberNotIn and StringNotIn. The docs name neither range
    /// operator: NumberInRange is taken as not matched like NumberIn and NumberNotInRange as matched
    /// like NumberNotIn (inferred; the Azure Event Grid simulator, pm7y/AzureEventGridSimulator pull
    /// request 287, does the same). `null` counts as absent: IsNullOrUndefined treats both alike.
    pub fn matches_absent(self) -> bool {
        use Operator::*;
        matches!(
            self,
            NumberNotIn | NumberNotInRange | StringNotIn | IsNullOrUndefined
        )
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_exact() {
        for op in Operator::ALL {
            assert_eq!(Operator::from_name(op.name()), Some(op));
        }
        assert_eq!(Operator::from_name("stringcontains"), None);
        assert_eq!(
            Operator::from_name_any_case("stringcontains"),
            Some(Operator::StringContains)
        );
    }

    #[test]
    fn absent_keys_follow_the_documented_note() {
        let matched: Vec<&str> = Operator::ALL
            .into_iter()
            .filter(|op| op.matches_absent())
            .map(Operator::name)
            .collect();
        assert_eq!(
            matched,
            [
                "NumberNotIn",
                "NumberNotInRange",
                "StringNotIn",
                "IsNullOrUndefined"
            ]
        );
    }
}
