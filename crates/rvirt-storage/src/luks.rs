//! LUKS detection: a LUKS volume is a raw image whose first bytes are a LUKS header.
//!
//! libvirt reports such an image as format raw with `<encryption format='luks'>`; only LUKS
//! version 1 headers are recognised (as in libvirt 9.0), and the payload offset tells how much of
//! the image is header rather than guest data.

use crate::header::{be16, be32, bytes};
use crate::inspect::{Encryption, EncryptionFormat};

const MAGIC: &[u8] = b"LUKS\xba\xbe";
/// magic (6) + version (2) + cipher name (32) + cipher mode (32) + hash spec (32).
const PAYLOAD_OFFSET: usize = 6 + 2 + 32 + 32 + 32;

/// The LUKS encryption of a raw image, if its header is a LUKS v1 header.
pub fn encryption(buf: &[u8]) -> Option<Encryption> {
    if bytes(buf, 0, MAGIC.len()) != Some(MAGIC) || be16(buf, 6) != Some(1) {
        return None;
    }
    Some(Encryption {
        format: EncryptionFormat::Luks,
        payload_offset: be32(buf, PAYLOAD_OFFSET).map(u64::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luks1_only() {
        let mut b = vec![0u8; 512];
        b[..6].copy_from_slice(MAGIC);
        b[6..8].copy_from_slice(&1u16.to_be_bytes());
        b[104..108].copy_from_slice(&4096u32.to_be_bytes());
        let e = encryption(&b).unwrap();
        assert_eq!(e.format, EncryptionFormat::Luks);
        assert_eq!(e.payload_offset, Some(4096));
        b[6..8].copy_from_slice(&2u16.to_be_bytes());
        assert_eq!(encryption(&b), None);
        assert_eq!(encryption(&b[..5]), None);
    }
}
