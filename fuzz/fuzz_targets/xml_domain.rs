//! Fuzzes the domain XML model: parse (with post-parse defaults and validation), then format
//! the result under every flag combination and parse that again. Only panics, hangs and
//! excessive allocation are findings; refusals are normal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvirt_xml::domain::{format, parse, FormatOpts};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut def) = parse(s) else {
        return;
    };
    let _ = def.assign_test_ifnames();
    for flags in [0u32, 1, 2, 8, 11] {
        let out = format(&def, FormatOpts::from_flags(flags));
        if flags == 0 {
            let _ = parse(&out).map(|d| format(&d, FormatOpts::default()));
        }
    }
});
