//! Bounds-checked field reads from an image header buffer.
//!
//! Every parser reads at most [`MAX_HEADER`] bytes of an image and never trusts an offset found in
//! it: each read returns `None` instead of reaching past the buffer.

/// How many bytes of an image are read for inspection (libvirt's `VIR_STORAGE_MAX_HEADER`).
pub const MAX_HEADER: usize = 0x8200;

pub(crate) fn bytes(buf: &[u8], off: usize, len: usize) -> Option<&[u8]> {
    buf.get(off..off.checked_add(len)?)
}

pub(crate) fn be16(buf: &[u8], off: usize) -> Option<u16> {
    bytes(buf, off, 2).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

pub(crate) fn be32(buf: &[u8], off: usize) -> Option<u32> {
    bytes(buf, off, 4).map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
}

pub(crate) fn le32(buf: &[u8], off: usize) -> Option<u32> {
    bytes(buf, off, 4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
}

pub(crate) fn be64(buf: &[u8], off: usize) -> Option<u64> {
    bytes(buf, off, 8).map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
}

pub(crate) fn le64(buf: &[u8], off: usize) -> Option<u64> {
    bytes(buf, off, 8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
}

/// The bytes up to (not including) the first NUL, as C string functions would see them.
pub(crate) fn until_nul(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(n) => &b[..n],
        None => b,
    }
}

/// A name stored in a header, as text (lossy for bytes that are not UTF-8).
pub(crate) fn name(b: &[u8]) -> String {
    String::from_utf8_lossy(until_nul(b)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_never_pass_the_end() {
        let b = [1u8, 2, 3, 4, 5];
        assert_eq!(be32(&b, 0), Some(0x01020304));
        assert_eq!(le32(&b, 1), Some(0x05040302));
        assert_eq!(be32(&b, 2), None);
        assert_eq!(be64(&b, usize::MAX - 2), None);
        assert_eq!(name(b"ab\0cd"), "ab");
    }
}
