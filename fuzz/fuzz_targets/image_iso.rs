//! Fuzzes the iso header reader on arbitrary bytes (seeded with images qemu-img made, see
//! scripts/fuzz-image.sh): never panics, reports the format it was given, and any backing name
//! it finds fits in the bytes it was allowed to read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvirt_storage::{inspect, Format, MAX_HEADER};

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = inspect(data, Some(Format::Iso)) {
        assert_eq!(info.format, Format::Iso);
        if let Some(b) = &info.backing {
            assert!(
                b.name.len() <= 3 * MAX_HEADER,
                "a backing name comes from the header (lossy UTF-8 at most triples it)"
            );
        }
    }
});
