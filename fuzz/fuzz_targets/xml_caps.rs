//! Fuzzes the host capabilities model: parse; when a document is accepted, its formatted output
//! must parse again to the same model and format to the same bytes (format ∘ parse is a fixed
//! point).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvirt_xml::capabilities::Capabilities;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(caps) = Capabilities::parse(s) else {
        return;
    };
    let out = caps.format();
    let again = match Capabilities::parse(&out) {
        Ok(c) => c,
        Err(e) => panic!("own output refused: {e}\n{out}"),
    };
    assert_eq!(again.format(), out, "format is not a fixed point");
    assert_eq!(again, caps, "the model changed on reading its own output");
});
