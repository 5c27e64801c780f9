//! The simple formats: vpc, vdi, ploop (capacity only), ISO (nothing in the header) and UML cow
//! (capacity and a backing name whose format is never recorded).

use crate::header::{be64, bytes, le64, name};
use crate::inspect::{BackingFormat, BackingProblem, BackingRef, ImageInfo};

/// Where a format keeps its capacity.
#[derive(Clone, Copy)]
pub(crate) enum Capacity {
    Be(usize, u64),
    Le(usize, u64),
}

/// Reads the capacity field. `false` means the header is too short to hold it; libvirt stops
/// reading the header there (no cluster size, backing or features either).
pub(crate) fn read_capacity(buf: &[u8], info: &mut ImageInfo, field: Capacity) -> bool {
    let (raw, mult) = match field {
        Capacity::Be(off, m) => (be64(buf, off), m),
        Capacity::Le(off, m) => (le64(buf, off), m),
    };
    let Some(raw) = raw else { return false };
    // libvirt quirk: on overflow the unscaled value is kept and parsing stops.
    match raw.checked_mul(mult) {
        Some(c) => {
            info.capacity = Some(c);
            true
        }
        None => {
            info.capacity = Some(raw);
            false
        }
    }
}

/// vpc: "conectix" footer copy at 0, big-endian current size at 40.
pub(crate) fn vpc(buf: &[u8], info: &mut ImageInfo) {
    read_capacity(buf, info, Capacity::Be(40, 1));
}

/// vdi: little-endian disk size at 368.
pub(crate) fn vdi(buf: &[u8], info: &mut ImageInfo) {
    read_capacity(buf, info, Capacity::Le(368, 1));
}

/// ploop: little-endian sector count at 36.
pub(crate) fn ploop(buf: &[u8], info: &mut ImageInfo) {
    read_capacity(buf, info, Capacity::Le(36, 512));
}

const COW_NAME_OFFSET: usize = 8;
const COW_NAME_MAX: usize = 1024;

/// UML cow v2: backing name at 8 (1024 bytes, NUL padded), big-endian size at 1036.
pub(crate) fn cow(buf: &[u8], info: &mut ImageInfo) {
    if !read_capacity(buf, info, Capacity::Be(4 + 4 + COW_NAME_MAX + 4, 1)) {
        return;
    }
    match bytes(buf, COW_NAME_OFFSET, COW_NAME_MAX) {
        None => info.backing_problem = Some(BackingProblem::HeaderTooShort),
        Some(n) if n[0] == 0 => {}
        Some(n) => {
            info.backing = Some(BackingRef {
                name: name(n),
                format: BackingFormat::Unrecorded,
            })
        }
    }
}
