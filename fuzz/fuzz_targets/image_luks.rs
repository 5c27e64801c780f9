//! Fuzzes LUKS detection: LUKS is read through the raw format (libvirt reports encryption on a
//! raw volume); never panics, never invents a backing file, and a probe agrees with the header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvirt_storage::{inspect, Format};

fuzz_target!(|data: &[u8]| {
    let info = inspect(data, Some(Format::Raw)).expect("raw never fails");
    assert!(info.backing.is_none(), "raw images have no backing file");
    if let Ok(probed) = inspect(data, None) {
        assert_eq!(probed.format, rvirt_storage::probe::probe(data).format);
    }
});
