//! The outputs pinned in `tests/fixtures/subscription/`, and README showing them.

use super::options;
use crate::hooks::config::HooksConfig;
use crate::subscription::{Endpoint, Format, Subscription};

/// The pinned outputs: `tests/fixtures/subscription/NAME`, for the shipped hooks file and the
/// README's filter example. A change to the output shows here with the text to paste.
fn assert_pinned(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/subscription")
        .join(name);
    let pinned = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        pinned == actual,
        "{} differs from the output; if the change is meant, write this there:\n{actual}",
        path.display()
    );
}

#[test]
fn the_output_for_the_shipped_hooks_file_is_pinned() {
    let shipped = HooksConfig::parse(
        crate::hooks::config::EMBEDDED_HOOKS_TOML,
        "hooks.toml",
        &|_| None,
    )
    .unwrap();
    for (format, name) in [
        (Format::Az, "shipped.az.sh"),
        (Format::Bicep, "shipped.bicep"),
        (Format::Arm, "shipped.arm.json"),
    ] {
        let text = Subscription::plan(&shipped, options(format))
            .unwrap()
            .render();
        assert_pinned(name, &text);
    }
    let mut webhook = options(Format::Az);
    webhook.endpoint = Endpoint::parse("https://aml-events.example.com/api/eventgrid").unwrap();
    webhook.auth.key = true;
    let text = Subscription::plan(&shipped, webhook).unwrap().render();
    assert_pinned("shipped-webhook.az.sh", &text);
}

/// README's commands are the pinned outputs, and its filter example's subscription is pinned too.
#[test]
fn readme_shows_the_pinned_commands() {
    let readme = include_str!("../../../README.md");
    for name in [
        "shipped.az.sh",
        "shipped-webhook.az.sh",
        "readme-monitor-breach.az.sh",
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/subscription")
            .join(name);
        let pinned = std::fs::read_to_string(&path).unwrap();
        // In a numbered list the block is indented by three spaces.
        let indented: String = pinned.lines().map(|l| format!("   {l}\n")).collect();
        assert!(
            readme.contains(&pinned) || readme.contains(&indented),
            "README lacks {name}:\n{pinned}"
        );
    }
    let start = readme
        .find("name = \"monitor-breach\"")
        .expect("README's filter example");
    let block = &readme[..start];
    let from = block.rfind("```toml\n").expect("its toml block") + "```toml\n".len();
    let to = start + readme[start..].find("```").expect("the block's end");
    let example = HooksConfig::parse(&readme[from..to], "README.md", &|_| None).unwrap();
    assert!(example.warnings.is_empty(), "{:?}", example.warnings);
    let text = Subscription::plan(&example, options(Format::Az))
        .unwrap()
        .render();
    assert_pinned("readme-monitor-breach.az.sh", &text);
}
