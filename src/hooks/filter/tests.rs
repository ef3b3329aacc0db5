//! The semantics on small events; the operators against the documentation's examples on the
//! fixtures are in `tests/it/event_filters.rs`.

use super::*;
use crate::event::{Event, MlEvent};
use serde_json::json;

fn event(data: Value) -> Event<MlEvent> {
    let json = json!({"id": "e1", "topic": "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w",
        "subject": "experiments/x/runs/r", "eventType": "Microsoft.MachineLearningServices.RunStatusChanged",
        "dataVersion": "2", "data": data});
    Event::from_json(&json.to_string()).unwrap()
}

fn filter(op: Operator, key: &str, operand: Operand) -> AdvancedFilter {
    AdvancedFilter::new(op, Key::parse(key).unwrap(), operand).unwrap()
}

fn strings(values: &[&str]) -> Operand {
    Operand::Strings(values.iter().map(|v| (*v).to_owned()).collect())
}

fn passes(f: &AdvancedFilter, data: Value) -> bool {
    f.matches(&EventView::new(&event(data)))
}

#[test]
fn operands_must_fit_the_operator() {
    let key = Key::parse("data.x").unwrap();
    let err = AdvancedFilter::new(Operator::NumberIn, key, Operand::Number(1.0)).unwrap_err();
    assert_eq!(err.expected, Shape::Numbers);
    assert_eq!(err.found, Shape::Number);
}

#[test]
fn arrays_match_when_any_element_matches_and_not_forms_fail_on_any() {
    let within = filter(Operator::NumberIn, "data.n", Operand::Numbers(vec![5.0]));
    let without = filter(Operator::NumberNotIn, "data.n", Operand::Numbers(vec![5.0]));
    assert!(passes(&within, json!({"n": [1, 5, 9]})));
    assert!(!passes(&without, json!({"n": [1, 5, 9]})));
    assert!(!passes(&within, json!({"n": [1, 9]})));
    assert!(passes(&without, json!({"n": [1, 9]})));
    // Elements of another type are ignored: nothing to match, so the Not form holds.
    assert!(!passes(&within, json!({"n": ["5", true, {"v": 5}]})));
    assert!(passes(&without, json!({"n": ["5", true, {"v": 5}]})));
    assert!(passes(&without, json!({"n": []})));
}

#[test]
fn types_are_never_converted() {
    let number = filter(Operator::NumberIn, "data.v", Operand::Numbers(vec![5.0]));
    let text = filter(Operator::StringIn, "data.v", strings(&["5"]));
    let boolean = filter(Operator::BoolEquals, "data.v", Operand::Bool(true));
    assert!(passes(&number, json!({"v": 5.0})));
    assert!(!passes(&number, json!({"v": "5"})));
    assert!(passes(&text, json!({"v": "5"})));
    assert!(!passes(&text, json!({"v": 5})));
    assert!(!passes(&boolean, json!({"v": "true"})));
}

#[test]
fn absent_and_null_keys_answer_per_operator() {
    for (op, operand, absent) in [
        (Operator::NumberGreaterThan, Operand::Number(1.0), false),
        (Operator::NumberIn, Operand::Numbers(vec![1.0]), false),
        (Operator::NumberNotIn, Operand::Numbers(vec![1.0]), true),
        (
            Operator::NumberInRange,
            Operand::Ranges(vec![(0.0, 1.0)]),
            false,
        ),
        (
            Operator::NumberNotInRange,
            Operand::Ranges(vec![(0.0, 1.0)]),
            true,
        ),
        (Operator::BoolEquals, Operand::Bool(false), false),
        (Operator::StringNotContains, strings(&["a"]), false),
        (Operator::StringNotBeginsWith, strings(&["a"]), false),
        (Operator::StringNotEndsWith, strings(&["a"]), false),
        (Operator::StringNotIn, strings(&["a"]), true),
        (Operator::IsNullOrUndefined, Operand::Nothing, true),
        (Operator::IsNotNull, Operand::Nothing, false),
    ] {
        let f = filter(op, "data.missing", operand);
        assert_eq!(passes(&f, json!({"other": 1})), absent, "{op} absent");
        assert_eq!(passes(&f, json!({"missing": null})), absent, "{op} null");
    }
}

#[test]
fn strings_compare_in_any_case_including_non_ascii() {
    let f = filter(Operator::StringContains, "data.s", strings(&["ÉTÉ"]));
    assert!(passes(&f, json!({"s": "un été chaud"})));
    let f = filter(
        Operator::StringIn,
        "Subject",
        strings(&["EXPERIMENTS/X/RUNS/R"]),
    );
    assert!(passes(&f, json!({})));
}

#[test]
fn envelope_keys_read_the_envelope() {
    let f = filter(
        Operator::StringEndsWith,
        "topic",
        strings(&["/workspaces/w"]),
    );
    assert!(passes(&f, json!({})));
    let f = filter(Operator::StringIn, "dataVersion", strings(&["2"]));
    assert!(passes(&f, json!({})));
    let f = filter(Operator::IsNullOrUndefined, "specversion", Operand::Nothing);
    assert!(
        passes(&f, json!({})),
        "no specversion in the Event Grid schema"
    );
}

#[test]
fn the_data_view_is_made_once_per_event() {
    let e = event(json!({"runTags": {"a": "x"}}));
    let view = EventView::new(&e);
    let f = filter(Operator::StringIn, "data.RunTags.a", strings(&["X"]));
    assert!(f.matches(&view));
    let first: *const Value = view.data();
    assert!(f.matches(&view));
    assert!(std::ptr::eq(first, view.data()));
}

#[test]
fn the_same_test_in_other_spellings_is_the_same_filter() {
    let a = filter(
        Operator::StringContains,
        "data.RunTags.k",
        strings(&["Has Failed"]),
    );
    let b = filter(
        Operator::StringContains,
        "Data.runTags.K",
        strings(&["has failed"]),
    );
    let c = filter(
        Operator::StringContains,
        "data.runTags.k",
        strings(&["other"]),
    );
    assert!(a.same_as(&b));
    assert!(!a.same_as(&c));
    let t = filter(Operator::StringIn, "topic", strings(&["x"]));
    let s = filter(Operator::StringIn, "source", strings(&["X"]));
    assert!(t.same_as(&s));
}
