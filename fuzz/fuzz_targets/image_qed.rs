//! Fuzzes the QED header parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvirt_storage::{inspect, Format};

fuzz_target!(|data: &[u8]| {
    let mut buf = b"QED\0".to_vec();
    buf.extend_from_slice(data);
    let _ = inspect(&buf, Some(Format::Qed));
});
