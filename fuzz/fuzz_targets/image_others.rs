//! Fuzzes the vpc, vdi, ploop, cow and ISO readers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvirt_storage::{inspect, Format};

fuzz_target!(|data: &[u8]| {
    for f in [
        Format::Vpc,
        Format::Vdi,
        Format::Ploop,
        Format::Cow,
        Format::Iso,
    ] {
        let _ = inspect(data, Some(f));
    }
});
