//! Fuzzes format probing and inspection of whatever the probe detects: never panics, and a
//! probed format re-inspected as given yields the same result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvirt_storage::{inspect, probe::probe};

fuzz_target!(|data: &[u8]| {
    let p = probe(data);
    if let Ok(info) = inspect(data, None) {
        assert_eq!(info.format, p.format);
        let again = inspect(data, Some(p.format)).expect("same bytes, same format");
        assert_eq!(again.backing, info.backing);
        assert_eq!(again.capacity, info.capacity);
    }
});
