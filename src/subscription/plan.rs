//! Which event types and advanced filters the subscription holds, and why the others stay in the
//! handler.

use super::Format;
use crate::event::EventKind;
use crate::hooks::action::ConfiguredHook;
use crate::hooks::filter::{AdvancedFilter, Operand, Operator, Target, MAX_FILTERS, MAX_VALUES};

/// The subscription's content, with the reasons as comment lines.
pub(super) struct Plan {
    pub(super) kinds: Vec<EventKind>,
    pub(super) filters: Vec<AdvancedFilter>,
    pub(super) notes: Vec<String>,
}

/// The event types and filters for `hooks` (those that can match nothing are left out).
pub(super) fn plan(hooks: &[ConfiguredHook], format: Format) -> Plan {
    let live: Vec<&ConfiguredHook> = hooks
        .iter()
        .filter(|h| !h.rule.matchable_kinds().is_empty())
        .collect();
    let kinds: Vec<EventKind> = EventKind::ML
        .into_iter()
        .filter(|k| live.iter().any(|h| h.rule.matchable_kinds().contains(k)))
        .collect();
    let mut notes = Vec::new();
    let Some((first, others)) = live.split_first() else {
        return Plan {
            kinds,
            filters: Vec::new(),
            notes,
        };
    };
    let shared: Vec<&AdvancedFilter> = first
        .rule
        .filters
        .iter()
        .filter(|f| {
            others
                .iter()
                .all(|h| h.rule.filters.iter().any(|g| g.same_as(f)))
        })
        .collect();
    let mut filters: Vec<AdvancedFilter> = Vec::new();
    let mut values = 0;
    for filter in shared {
        let shown = format!("{} {}", filter.operator(), filter.key());
        if filters.iter().any(|f| f.same_as(filter)) {
            continue;
        }
        if let Some(why) = unpushable(filter, format) {
            notes.push(format!("Not pushed: {shown}, {why}."));
            continue;
        }
        let count = filter.operand().count();
        if filters.len() == MAX_FILTERS || values + count > MAX_VALUES {
            notes.push(format!(
                "Not pushed: {shown}, beyond Event Grid's {MAX_FILTERS} filters and {MAX_VALUES} values per subscription."
            ));
            continue;
        }
        values += count;
        filters.push(filter.clone());
    }
    notes.insert(0, pushed_note(&live, &filters));
    Plan {
        kinds,
        filters,
        notes,
    }
}

/// Why a filter that every hook has still cannot go upstream, if it cannot.
fn unpushable(filter: &AdvancedFilter, format: Format) -> Option<&'static str> {
    if filter.key().normalised() {
        return Some("the handler normalises this member, so Event Grid may see another value than the hooks do");
    }
    match filter.key().target() {
        Target::Id | Target::Subject | Target::Data(_) => {}
        _ => return Some("the two schemas spell this envelope member differently"),
    }
    // azure-cli's --advanced-filter reads BoolEquals' value with Python's bool(text), which is true
    // for "false" (src/azure-cli/azure/cli/command_modules/eventgrid/advanced_filter.py).
    if format == Format::Az
        && filter.operator() == Operator::BoolEquals
        && *filter.operand() == Operand::Bool(false)
    {
        return Some("az reads every BoolEquals value as true (use --format bicep or arm)");
    }
    if format == Format::Az {
        return super::az::filter_words(filter)
            .iter()
            .find_map(|word| super::az::misread(word));
    }
    None
}

/// The first note: what was pushed, or why nothing was.
fn pushed_note(hooks: &[&ConfiguredHook], filters: &[AdvancedFilter]) -> String {
    if !filters.is_empty() {
        return format!(
            "Advanced filters: the {} that every hook has, so Event Grid drops only events no hook wants.",
            if filters.len() == 1 { "one" } else { "ones" }
        );
    }
    let names = |list: Vec<&str>| {
        list.iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let bare: Vec<&str> = hooks
        .iter()
        .filter(|h| h.rule.filters.is_empty())
        .map(|h| h.name.as_str())
        .collect();
    if !bare.is_empty() {
        let which = match bare.len() {
            1 => format!("hook {} has none", names(bare)),
            _ => format!("hooks {} have none", names(bare)),
        };
        return format!(
            "No advanced filter: {which}, and Event Grid ANDs a subscription's filters (hooks are OR-ed)."
        );
    }
    format!(
        "No advanced filter: no filter that Event Grid can evaluate alike is in every hook ({}), and Event Grid ANDs a subscription's filters (hooks are OR-ed).",
        names(hooks.iter().map(|h| h.name.as_str()).collect())
    )
}
