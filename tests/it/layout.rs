//! The source layout DESIGN.md promises, held by tests so that it stays true: no module imports a
//! module that imports it back, only the settings module reads the environment, and no file's code
//! (its tests aside) runs past about 400 lines without saying why at its top.
//!
//! The source is read as text: `use` paths and qualified paths that start with `crate::`, `super::`
//! or `self::`, outside comments and outside a file's `#[cfg(test)] mod tests`. A line's text from
//! `//` on is taken for a comment, even inside a string (`"https://..."`): a path after such a string
//! on the same line would be missed. `the_paths_are_read_as_the_compiler_resolves_them` checks that
//! known dependencies, single and grouped, are seen.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module's path below the crate root (`["hooks", "config", "build"]`).
type ModPath = Vec<String>;

struct Module {
    file: PathBuf,
    /// The code before the file's test module, comments removed.
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
            if matches!(
                path.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                path.pop();
            }
            let text = std::fs::read_to_string(&file).expect("a source file is readable");
            let before_tests = match text.find("#[cfg(test)]\nmod tests") {
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
    let bytes = code.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        for (at, _) in code.match_indices(start) {
            let boundary =
                at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
            if boundary {
                expand(Vec::new(), &code[at..], &mut found);
            }
        }
    }
    found
}

/// Reads the path at the start of `text` (segments joined by `::`, perhaps ending in a group),
/// adding each full path to `out`.
fn expand(mut prefix: Vec<String>, text: &str, out: &mut Vec<Vec<String>>) {
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
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end > 0 {
            prefix.push(rest[..end].to_owned());
        }
        match rest[end..].strip_prefix("::") {
            Some(next) if end > 0 => rest = next.trim_start(),
            _ => break,
        }
    }
    if !prefix.is_empty() {
        out.push(prefix);
    }
}

/// The module a path names: the longest prefix of it that is a module of the crate.
fn target(from: &ModPath, path: &[String], modules: &BTreeMap<ModPath, Module>) -> Option<ModPath> {
    let (mut full, mut rest): (ModPath, &[String]) = match path.first()?.as_str() {
        "crate" => (Vec::new(), &path[1..]),
        "self" => (from.clone(), &path[1..]),
        _ => (from.clone(), path),
    };
    while rest.first().map(String::as_str) == Some("super") {
        full.pop();
        rest = &rest[1..];
    }
    full.extend(rest.iter().cloned());
    (1..=full.len())
        .rev()
        .map(|n| full[..n].to_vec())
        .find(|prefix| modules.contains_key(prefix))
}

/// The two sibling modules (children of one parent) under which `a` and `b` sit; `None` when one
/// contains the other (a parent may use its children, and children their parent).
fn siblings(a: &ModPath, b: &ModPath) -> Option<(ModPath, ModPath)> {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    (common < a.len() && common < b.len()).then(|| (a[..=common].to_vec(), b[..=common].to_vec()))
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let modules = modules();
    // sibling -> sibling it depends on -> the modules whose paths make that dependency.
    let mut depends: BTreeMap<ModPath, BTreeMap<ModPath, BTreeSet<String>>> = BTreeMap::new();
    // Test modules in files of their own (`filter/tests.rs`) may use anything.
    let is_test = |path: &ModPath| path.last().is_some_and(|last| last == "tests");
    for (from, module) in modules.iter().filter(|(path, _)| !is_test(path)) {
        for path in paths(&module.code) {
            let Some(to) = target(from, &path, &modules) else {
                continue;
            };
            if let Some((a, b)) = siblings(from, &to) {
                depends
                    .entry(a)
                    .or_default()
                    .entry(b)
                    .or_default()
                    .insert(format!("{} uses {}", from.join("::"), path.join("::")));
            }
        }
    }
    let mut cycles = Vec::new();
    for (a, uses) in &depends {
        for (b, why) in uses {
            if let Some(back) = depends.get(b).and_then(|d| d.get(a)) {
                if a < b {
                    cycles.push(format!(
                        "{} <-> {}: {why:?} / {back:?}",
                        a.join("::"),
                        b.join("::")
                    ));
                }
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_paths_are_read_as_the_compiler_resolves_them() {
    // The check above is only as good as this reading: known one-way dependencies must be seen,
    // written as a path and in a group.
    let modules = modules();
    let from: ModPath = vec!["hooks".into(), "action".into()];
    let seen: Vec<ModPath> = paths(&modules[&from].code)
        .iter()
        .filter_map(|p| target(&from, p, &modules))
        .collect();
    for expected in [
        vec!["settings"],
        vec!["hooks", "delivery"],
        vec!["hooks", "rule"],
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
    assert_eq!(
        siblings(&from, &vec!["settings".into()]),
        Some((vec!["hooks".into()], vec!["settings".into()]))
    );
    assert_eq!(siblings(&from, &vec!["hooks".into()]), None);
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
