//! The source layout DESIGN.md promises, held by tests so that it stays true: no modules import
//! each other in a cycle, only the settings module reads the environment, and no file's code (its
//! tests aside) runs past about 400 lines without saying why at its top.
//!
//! The source is read as text: paths that start with `crate::`, `super::` or `self::` (single or
//! grouped, `super::{a, b::c}`), outside comments and outside a file's `#[cfg(test)] mod tests { .. }`
//! block. A path that names an item a module re-exports (`pub use`) counts as a use of the module the
//! item comes from. Two limits, neither met in the code today: a line's text from `//` on is taken
//! for a comment, even inside a string; and a path inside an inline `mod x { .. }` is resolved from
//! its file's module. `the_paths_are_read_as_the_compiler_resolves_them` checks the reading.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module's path below the crate root (`["hooks", "config", "build"]`).
type ModPath = Vec<String>;

struct Module {
    file: PathBuf,
    /// The code before the file's test block, comments removed.
    code: String,
    /// Lines of that code, comments included (what a reader scrolls through).
    code_lines: usize,
    /// The file's first 20 lines.
    head: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every file under src/ by its module path; `main.rs`, the binary's root, as `["<main>"]`.
fn modules() -> BTreeMap<ModPath, Module> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .into_iter()
        .map(|file| {
            let relative = file
                .strip_prefix(&src)
                .expect("under src/")
                .with_extension("");
            let mut path: ModPath = relative
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect();
            if path == ["main"] {
                path = vec!["<main>".to_owned()];
            } else if matches!(path.last().map(String::as_str), Some("mod" | "lib")) {
                path.pop();
            }
            let text = std::fs::read_to_string(&file).expect("a source file is readable");
            // The test block, by convention the file's last item; `mod tests;` (tests in a file of
            // their own) is a declaration, not the end of the code.
            let before_tests = match text.find("#[cfg(test)]\nmod tests {") {
                Some(at) => &text[..at],
                None => &text[..],
            };
            let code = before_tests
                .lines()
                .map(|line| line.split("//").next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n");
            let head = text.lines().take(20).collect::<Vec<_>>().join("\n");
            let module = Module {
                code_lines: before_tests.lines().count(),
                file,
                code,
                head,
            };
            (path, module)
        })
        .collect()
}

/// Every `crate::a::b`, `super::x` and `self::y` path in `code`, as its segments; a group
/// (`super::{a, b::c}`) gives one path per member.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for start in ["crate::", "super::", "self::"] {
        for (at, _) in code.match_indices(start) {
            if at_boundary(code, at) {
                expand(Vec::new(), &code[at..], &mut found);
            }
        }
    }
    found.into_iter().map(|(path, _)| path).collect()
}

fn at_boundary(code: &str, at: usize) -> bool {
    let before = code[..at].chars().next_back();
    !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A path and the name it is given with `as`, if any.
type Leaf = (Vec<String>, Option<String>);

/// Reads the path at the start of `text` (segments joined by `::`, perhaps ending in a group, a leaf
/// perhaps renamed with `as`), adding each full path to `out`.
fn expand(mut prefix: Vec<String>, text: &str, out: &mut Vec<Leaf>) {
    let mut rest = text.trim_start();
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item_start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth > 0 => depth -= 1,
                    ',' | '}' if depth == 0 => {
                        expand(prefix.clone(), &group[item_start..i], out);
                        item_start = i + 1;
                        if c == '}' {
                            return;
                        }
                    }
                    _ => {}
                }
            }
            return;
        }
        let end = identifier_end(rest);
        if end > 0 {
            prefix.push(rest[..end].to_owned());
        }
        match rest[end..].strip_prefix("::") {
            Some(next) if end > 0 => rest = next.trim_start(),
            _ => {
                rest = &rest[end..];
                break;
            }
        }
    }
    let alias = rest.trim_start().strip_prefix("as ").map(|name| {
        let name = name.trim_start();
        name[..identifier_end(name)].to_owned()
    });
    if !prefix.is_empty() {
        out.push((prefix, alias));
    }
}

fn identifier_end(text: &str) -> usize {
    text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len())
}

/// What each module re-exports: (module, the name it gives) → the path it names, from its
/// `pub use` and `pub(…) use` items. A path without `crate`/`super`/`self` is its own child's.
fn reexports(modules: &BTreeMap<ModPath, Module>) -> BTreeMap<(ModPath, String), Vec<String>> {
    let mut map = BTreeMap::new();
    for (module, m) in modules {
        for (at, _) in m.code.match_indices("use ") {
            let head = m.code[..at].trim_end();
            if !(head.ends_with("pub") || head.ends_with(')')) || !head.contains("pub") {
                continue;
            }
            let statement = m.code[at + 4..].trim_start();
            let statement = &statement[..statement.find(';').unwrap_or(statement.len())];
            let relative = !["crate::", "super::", "self::"]
                .iter()
                .any(|p| statement.starts_with(p));
            let prefix = if relative {
                vec!["self".to_owned()]
            } else {
                Vec::new()
            };
            let mut leaves = Vec::new();
            expand(prefix, statement, &mut leaves);
            for (path, alias) in leaves {
                let name = alias.or_else(|| path.last().cloned()).unwrap_or_default();
                map.insert((module.clone(), name), path);
            }
        }
    }
    map
}

/// The module a path names: the longest prefix of it that is a module of the crate, or, when the
/// rest names an item that module re-exports, the module the item comes from.
fn target(
    from: &ModPath,
    path: &[String],
    modules: &BTreeMap<ModPath, Module>,
    reexported: &BTreeMap<(ModPath, String), Vec<String>>,
) -> Option<ModPath> {
    let mut from = from.clone();
    let mut path = path.to_vec();
    for _ in 0..8 {
        let (mut full, mut rest): (ModPath, &[String]) = match path.first()?.as_str() {
            "crate" => (Vec::new(), &path[1..]),
            "self" => (from.clone(), &path[1..]),
            _ => (from.clone(), &path[..]),
        };
        while rest.first().map(String::as_str) == Some("super") {
            full.pop();
            rest = &rest[1..];
        }
        full.extend(rest.iter().cloned());
        let module = (1..=full.len())
            .rev()
            .map(|n| full[..n].to_vec())
            .find(|prefix| modules.contains_key(prefix))?;
        match full.get(module.len()) {
            Some(item) if reexported.contains_key(&(module.clone(), item.clone())) => {
                path = reexported[&(module.clone(), item.clone())].clone();
                from = module;
            }
            _ => return Some(module),
        }
    }
    None
}

/// The two sibling modules (children of one parent) under which `a` and `b` sit; `None` when one
/// contains the other (a parent may use its children, and children their parent).
fn siblings(a: &ModPath, b: &ModPath) -> Option<(ModPath, ModPath)> {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    (common < a.len() && common < b.len()).then(|| (a[..=common].to_vec(), b[..=common].to_vec()))
}

/// Sibling → the siblings it depends on → the uses that make each dependency.
type Graph = BTreeMap<ModPath, BTreeMap<ModPath, BTreeSet<String>>>;

fn dependencies() -> Graph {
    let modules = modules();
    let reexported = reexports(&modules);
    // Test modules in files of their own (`filter/tests.rs`) may use anything.
    let is_test = |path: &ModPath| path.last().is_some_and(|last| last == "tests");
    let mut graph = Graph::new();
    for (from, module) in modules.iter().filter(|(path, _)| !is_test(path)) {
        for path in paths(&module.code) {
            let Some(to) = target(from, &path, &modules, &reexported) else {
                continue;
            };
            if let Some((a, b)) = siblings(from, &to) {
                graph
                    .entry(a)
                    .or_default()
                    .entry(b)
                    .or_default()
                    .insert(format!("{} uses {}", from.join("::"), path.join("::")));
            }
        }
    }
    graph
}

/// The strongly connected components of more than one module (Tarjan's algorithm): the cycles.
fn cycles(graph: &Graph) -> Vec<Vec<ModPath>> {
    struct Search<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g ModPath, usize>,
        low: BTreeMap<&'g ModPath, usize>,
        stack: Vec<&'g ModPath>,
        found: Vec<Vec<ModPath>>,
    }
    impl<'g> Search<'g> {
        fn visit(&mut self, node: &'g ModPath) {
            let n = self.index.len();
            self.index.insert(node, n);
            self.low.insert(node, n);
            self.stack.push(node);
            for next in self.graph.get(node).into_iter().flat_map(|d| d.keys()) {
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.stack.contains(&next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = Vec::new();
                while let Some(top) = self.stack.pop() {
                    component.push(top.clone());
                    if top == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut search = Search {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !search.index.contains_key(node) {
            search.visit(node);
        }
    }
    search.found
}

#[test]
fn no_modules_import_each_other_in_a_cycle() {
    let graph = dependencies();
    let found: Vec<String> = cycles(&graph)
        .iter()
        .map(|cycle| {
            let names: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
            let uses: Vec<&String> = cycle
                .iter()
                .filter_map(|m| graph.get(m))
                .flat_map(|d| d.iter().filter(|(to, _)| cycle.contains(to)))
                .flat_map(|(_, why)| why)
                .collect();
            format!("{}: {uses:?}", names.join(" <-> "))
        })
        .collect();
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

#[test]
fn the_paths_are_read_as_the_compiler_resolves_them() {
    let modules = modules();
    let reexported = reexports(&modules);
    let from: ModPath = vec!["hooks".into(), "action".into()];
    let seen: Vec<ModPath> = paths(&modules[&from].code)
        .iter()
        .filter_map(|p| target(&from, p, &modules, &reexported))
        .collect();
    // A path, a group, and items re-exported from elsewhere: `settings::AzureSettings` is
    // `settings::azure`'s, `delivery::Transport` is `transport`'s, `hooks::EventView` is
    // `hooks::filter::view`'s.
    for expected in [
        vec!["settings", "azure"],
        vec!["hooks", "delivery"],
        vec!["hooks", "transport"],
        vec!["hooks", "rule"],
        vec!["hooks", "filter", "view"],
    ] {
        let expected: ModPath = expected.into_iter().map(str::to_owned).collect();
        assert!(
            seen.contains(&expected),
            "hooks::action's use of {expected:?} was not seen: {seen:?}"
        );
    }
    let group = paths("use super::{slack, teams::{card, Fact}, Action};");
    assert_eq!(
        group,
        [
            vec!["super", "slack"],
            vec!["super", "teams", "card"],
            vec!["super", "teams", "Fact"],
            vec!["super", "Action"]
        ]
    );
    // A re-export under another name, and a child's items re-exported in a group.
    let module = |code: &str| Module {
        file: PathBuf::from("x.rs"),
        code: code.to_owned(),
        code_lines: 1,
        head: String::new(),
    };
    let synthetic = BTreeMap::from([(
        vec!["a".to_owned()],
        module("pub use crate::b::C as D;\npub(crate) use child::{E, f::G};\nuse crate::h::I;"),
    )]);
    let found = reexports(&synthetic);
    let names: Vec<(&str, String)> = found
        .iter()
        .map(|((_, name), path)| (name.as_str(), path.join("::")))
        .collect();
    assert_eq!(
        names,
        [
            ("D", "crate::b::C".to_owned()),
            ("E", "self::child::E".to_owned()),
            ("G", "self::child::f::G".to_owned())
        ]
    );
    // The code after `mod tests;` counts; a test block does not.
    let subscription = &modules[&vec!["subscription".to_owned()]];
    assert!(subscription.code_lines > 100, "{}", subscription.code_lines);
    let from: ModPath = vec!["hooks".into(), "config".into(), "build".into()];
    assert_eq!(
        siblings(&from, &vec!["settings".into()]),
        Some((vec!["hooks".into()], vec!["settings".into()]))
    );
    assert_eq!(siblings(&from, &vec!["hooks".into()]), None);
    assert!(modules.contains_key(&vec!["<main>".to_owned()]));
    assert!(modules.contains_key(&Vec::new()), "lib.rs");
}

#[test]
fn a_cycle_through_three_modules_is_found() {
    let module = |name: &str| vec![name.to_owned()];
    let mut graph = Graph::new();
    for (a, b) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        graph
            .entry(module(a))
            .or_default()
            .insert(module(b), BTreeSet::new());
    }
    assert_eq!(
        cycles(&graph),
        [vec![module("a"), module("b"), module("c")]]
    );
}

#[test]
fn only_the_settings_module_reads_the_environment() {
    let readers: Vec<String> = modules()
        .iter()
        .filter(|(path, _)| path.first().map(String::as_str) != Some("settings"))
        .filter(|(_, m)| {
            [
                "env::var",
                "env::vars",
                "var_os(",
                "env::set_var",
                "env::remove_var",
            ]
            .iter()
            .any(|call| m.code.contains(call))
        })
        .map(|(_, m)| m.file.display().to_string())
        .collect();
    assert!(
        readers.is_empty(),
        "environment read outside settings: {readers:?}"
    );
}

#[test]
fn long_files_say_why_they_are_long() {
    let unexplained: Vec<String> = modules()
        .values()
        .filter(|m| m.code_lines > 400 && !m.head.to_lowercase().contains("over 400 lines"))
        .map(|m| format!("{} ({} lines of code)", m.file.display(), m.code_lines))
        .collect();
    assert!(
        unexplained.is_empty(),
        "over 400 lines of code with no word at the top on why (\"over 400 lines ...\"): {unexplained:?}"
    );
}
