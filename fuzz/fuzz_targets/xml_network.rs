//! Fuzzes the network XML model: parse, format (live and inactive), parse the output again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvirt_xml::network::NetworkDef;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(def) = NetworkDef::parse(s) else {
        return;
    };
    let _ = def.format(false);
    let out = def.format(true);
    let _ = NetworkDef::parse(&out).map(|d| d.format(true));
});
