//! Fuzzes the VMDK parser: sparse headers with embedded descriptors, and text descriptors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvirt_storage::{inspect, Format};

fuzz_target!(|data: &[u8]| {
    let _ = inspect(data, Some(Format::Vmdk));
    let mut sparse = b"KDMV\x01\0\0\0".to_vec();
    sparse.extend_from_slice(data);
    let _ = inspect(&sparse, Some(Format::Vmdk));
});
