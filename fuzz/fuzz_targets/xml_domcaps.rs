//! Fuzzes the domain capabilities model: parse; when a document is accepted, its formatted
//! output must parse again and format to the same bytes (format ∘ parse is a fixed point), and
//! the model read back must equal the first one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvirt_xml::domcaps::DomainCaps;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(caps) = DomainCaps::parse(s) else {
        return;
    };
    let out = caps.format();
    let again = match DomainCaps::parse(&out) {
        Ok(c) => c,
        Err(e) => panic!("own output refused: {e}\n{out}"),
    };
    assert_eq!(again.format(), out, "format is not a fixed point");
    assert_eq!(again, caps, "the model changed on reading its own output");
});
