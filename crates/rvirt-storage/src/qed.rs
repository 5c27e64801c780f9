//! QED headers (little-endian): capacity, backing name, and the flag that records a raw backing.
//!
//! QED has no backing-format field. Its "backing format is raw, do not probe" feature flag (0x04)
//! is the only recorded format; without it libvirt probes the backing (`AUTO_SAFE`), without the
//! rule that a probed image must not have a backing of its own.

use crate::header::{bytes, le32, le64, name};
use crate::inspect::{BackingFormat, BackingProblem, BackingRef, ImageInfo};
use crate::others::{read_capacity, Capacity};
use crate::Format;

const FEATURES: usize = 16;
const IMAGE_SIZE: usize = 48;
const BACKING_OFFSET: usize = 56;
const BACKING_SIZE: usize = 60;
/// The image has a backing file.
pub const F_BACKING_FILE: u64 = 0x01;
/// The backing file is raw and must not be probed.
pub const F_BACKING_FORMAT_NO_PROBE: u64 = 0x04;

pub(crate) fn parse(buf: &[u8], info: &mut ImageInfo) {
    if !read_capacity(buf, info, Capacity::Le(IMAGE_SIZE, 1)) {
        return;
    }
    if let Err(p) = backing(buf, info) {
        info.backing_problem = Some(p);
    }
}

fn backing(buf: &[u8], info: &mut ImageInfo) -> Result<(), BackingProblem> {
    let flags = le64(buf, FEATURES).ok_or(BackingProblem::HeaderTooShort)?;
    if flags & F_BACKING_FILE == 0 {
        return Ok(());
    }
    let offset = le32(buf, BACKING_OFFSET).ok_or(BackingProblem::HeaderTooShort)?;
    let size = le32(buf, BACKING_SIZE).ok_or(BackingProblem::HeaderTooShort)?;
    if offset as usize > buf.len() {
        return Err(BackingProblem::NameOutsideHeader);
    }
    if size == 0 {
        return Ok(());
    }
    let raw =
        bytes(buf, offset as usize, size as usize).ok_or(BackingProblem::NameOutsideHeader)?;
    let format = if flags & F_BACKING_FORMAT_NO_PROBE != 0 {
        BackingFormat::Recorded(Format::Raw)
    } else {
        BackingFormat::AutoSafe
    };
    info.backing = Some(BackingRef {
        name: name(raw),
        format,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::inspect;

    fn image(flags: u64) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        b[..4].copy_from_slice(b"QED\0");
        b[16..24].copy_from_slice(&flags.to_le_bytes());
        b[48..56].copy_from_slice(&1024u64.to_le_bytes());
        b[56..60].copy_from_slice(&512u32.to_le_bytes());
        b[60..64].copy_from_slice(&3u32.to_le_bytes());
        b[512..515].copy_from_slice(b"raw");
        b
    }

    #[test]
    fn no_probe_flag_records_raw() {
        let i = inspect(&image(F_BACKING_FILE | F_BACKING_FORMAT_NO_PROBE), None).unwrap();
        assert_eq!(i.format, Format::Qed);
        assert_eq!(i.capacity, Some(1024));
        assert_eq!(
            i.backing.unwrap().format,
            BackingFormat::Recorded(Format::Raw)
        );
        let i = inspect(&image(F_BACKING_FILE), None).unwrap();
        assert_eq!(i.backing.unwrap().format, BackingFormat::AutoSafe);
        let i = inspect(&image(0), None).unwrap();
        assert!(i.backing.is_none());
    }
}
