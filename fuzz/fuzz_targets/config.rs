//! The configuration parser and validator (`rebound serve --config`, `ConfigService.Reload`
//! with inline content, `Validate`): any text gives a config or errors with field paths,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rebound::config::{Source, parse_str};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_str(text, Source::Inline, Vec::<(String, String)>::new());
    }
});
