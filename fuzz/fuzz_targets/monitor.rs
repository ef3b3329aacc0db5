//! Arbitrary text (lossy UTF-8) as a model monitor's breach tag: `MonitorBreach::parse` never
//! panics, and every size it produces stays within its limits.
#![no_main]

use aml_events::event::monitor::{MonitorBreach, MAX_FEATURES, MESSAGE_LIMIT, NAME_LIMIT};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let breach = MonitorBreach::parse(&text);
    // The cut note (`… (N bytes in all)`) comes on top of each limit.
    assert!(breach.message.len() <= MESSAGE_LIMIT + 32);
    assert!(breach.features.len() <= MAX_FEATURES);
    for name in breach.signal.iter().chain(&breach.quoted_signal) {
        assert!(name.len() <= NAME_LIMIT + 32);
    }
    let _ = breach.describe_features(3);
});
