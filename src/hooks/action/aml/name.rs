//! The name of the Azure ML job that one (event, hook) starts: what makes `aml_job` at most once per
//! event even when the dedupe store is lost (a fresh process, a second instance).

use std::fmt::Write as _;

/// How many characters of the hook name and of the event id the readable part keeps.
const PART_LIMIT: usize = 80;

/// The job name for `hook` and the event `id` of `source` (its topic; empty when it has none).
///
/// The rule, fixed (changing it would start a second job for a redelivered event, so a new rule
/// needs a new prefix, never an edit):
/// `{hook}-{id}-{hash}`, where `hook` and `id` keep their first 80 characters with every character
/// outside `[A-Za-z0-9_-]` replaced by `_`, and `hash` is the first 16 hex digits (64 bits) of the
/// SHA-256 of `aml-events job v1\0` followed by `source`, `id` and `hook`, each preceded by its
/// length as 8 bytes big-endian. A name that would start with `-` or `_` gets a leading `j`.
///
/// So it always matches Azure's rule `^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$` (at most 179 characters),
/// the readable part says where the job came from, and the hash keeps apart what the readable part
/// merges (ids that differ only in replaced characters or past 80 characters, other topics). Names
/// are case-sensitive in Azure; the hash is lower case and the rest keeps the case it was given.
pub fn job_name(source: &str, id: &str, hook: &str) -> String {
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    digest.update(b"aml-events job v1\0");
    for field in [source, id, hook] {
        digest.update(&(field.len() as u64).to_be_bytes());
        digest.update(field.as_bytes());
    }
    let mut name = String::with_capacity(2 * PART_LIMIT + 20);
    push_readable(&mut name, hook);
    name.push('-');
    push_readable(&mut name, id);
    name.push('-');
    for byte in &digest.finish().as_ref()[..8] {
        // Writing to a String cannot fail.
        let _ = write!(name, "{byte:02x}");
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        name.insert(0, 'j');
    }
    name
}

fn push_readable(out: &mut String, text: &str) {
    out.extend(text.chars().take(PART_LIMIT).map(|c| {
        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            c
        } else {
            '_'
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn valid(name: &str) -> bool {
        let mut chars = name.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
            && name.len() <= 255
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }

    #[test]
    fn the_name_is_readable_and_pinned() {
        let name = job_name(
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w",
            "831e1650-001e-001b-66ab-eeb76e069631",
            "retrain-on-breach",
        );
        // Pinned: a job started by one version must be found by the next. Computed independently:
        // sha256(b"aml-events job v1\0" + for each of source, id, hook its length as 8 bytes
        // big-endian, then its UTF-8 bytes), the first 8 bytes in hex.
        assert_eq!(
            name,
            "retrain-on-breach-831e1650-001e-001b-66ab-eeb76e069631-fe3cfc73542695bf"
        );
        assert_eq!(job_name("", "e.1", ".hook"), "j_hook-e_1-720e3ac7ef1ba847");
    }

    #[test]
    fn fields_that_read_the_same_make_different_names() {
        assert_ne!(job_name("t", "a.b", "h"), job_name("t", "a_b", "h"));
        assert_ne!(job_name("t1", "e", "h"), job_name("t2", "e", "h"));
        let long = "x".repeat(200);
        assert_ne!(job_name("t", &long, "h"), job_name("t", &long[..199], "h"));
    }

    proptest! {
        #[test]
        fn every_name_is_valid_for_azure(source in ".{0,40}", id in ".{0,300}", hook in "[A-Za-z0-9._-]{1,100}") {
            let name = job_name(&source, &id, &hook);
            prop_assert!(valid(&name), "{name}");
        }
    }
}
