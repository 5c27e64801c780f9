//! Fuzzes LUKS detection on raw images.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvirt_storage::{inspect, Format};

fuzz_target!(|data: &[u8]| {
    let mut buf = b"LUKS\xba\xbe\0\x01".to_vec();
    buf.extend_from_slice(data);
    let info = inspect(&buf, Some(Format::Raw)).expect("raw never fails");
    assert!(info.backing.is_none());
});
