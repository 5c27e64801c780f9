//! Fuzzes the secret model: parse; when a document is accepted, its formatted output must parse
//! again to the same definition and format to the same bytes (format ∘ parse is a fixed point).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvirt_xml::secret::SecretDef;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(def) = SecretDef::parse(s) else {
        return;
    };
    let out = def.format();
    let again = match SecretDef::parse(&out) {
        Ok(d) => d,
        Err(e) => panic!("own output refused: {e}\n{out}"),
    };
    assert_eq!(
        again, def,
        "the definition changed on reading its own output"
    );
    assert_eq!(again.format(), out, "format is not a fixed point");
});
