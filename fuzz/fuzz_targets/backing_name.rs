//! Fuzzes backing-name parsing: paths, URLs, QEMU colon syntax and `json:{…}` (JSON reader,
//! deflattening, every driver).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvirt_storage::backing::parse;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = parse(s);
        let _ = parse(&format!("json:{s}"));
    }
});
