//! Fuzzes the storage pool XML model: parse, format, parse the output again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvirt_xml::storage::PoolDef;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(def) = PoolDef::parse(s) else {
        return;
    };
    let out = def.format();
    let _ = PoolDef::parse(&out).map(|d| d.format());
});
