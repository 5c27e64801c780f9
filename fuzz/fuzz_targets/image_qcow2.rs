//! Fuzzes the qcow/qcow2 header parser (backing name, extensions, features) on arbitrary bytes
//! prefixed with a qcow2 magic so the interesting paths are reached.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvirt_storage::{inspect, Format};

fuzz_target!(|data: &[u8]| {
    let mut buf = b"QFI\xfb".to_vec();
    buf.extend_from_slice(data);
    for f in [Format::Qcow2, Format::Qcow] {
        if let Ok(info) = inspect(&buf, Some(f)) {
            if let Some(b) = &info.backing {
                assert!(b.name.len() <= 1023 * 3, "names are bounded by the header");
            }
        }
    }
});
