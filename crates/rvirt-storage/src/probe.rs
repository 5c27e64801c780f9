//! Format detection by magic and version, in libvirt's order (`virStorageFileProbeFormatFromBuf`).
//!
//! Probing is the dangerous operation this crate exists to contain: a guest that can write to a
//! raw disk can make it look like any format. The chain resolver only probes where libvirt's rules
//! allow it; this module just answers "what does this header claim to be".
//!
//! Formats are tried in enum order; the first whose magic and version both match wins. A magic
//! match with a wrong version is remembered and reported, but the answer is then raw. Text VMDK
//! descriptors have no magic and are therefore raw here, as in libvirt.

use crate::format::Format;
use crate::header::{be32, bytes, le32};

/// How a format's version field is checked.
#[derive(Clone, Copy)]
enum Version {
    /// Unversioned format: any version passes.
    Any,
    Be32(usize, &'static [u32]),
    Le32(usize, &'static [u32]),
}

/// libvirt's magic table, restricted to the formats that have a magic, in probe order.
const MAGIC: &[(Format, usize, &[u8], Version)] = &[
    (Format::Iso, 32769, b"CD001", Version::Any),
    (
        Format::Vpc,
        0,
        b"conectix",
        Version::Be32(12, &[0x0001_0000]),
    ),
    (
        Format::Vdi,
        64,
        b"\x7f\x10\xda\xbe",
        Version::Le32(68, &[0x0001_0001]),
    ),
    (Format::Ploop, 0, b"WithouFreSpacExt", Version::Any),
    (Format::Cow, 0, b"OOOM", Version::Be32(4, &[2])),
    // libvirt compares only "QFI" (not the fourth magic byte 0xfb) for both qcow versions.
    (Format::Qcow, 0, b"QFI", Version::Be32(4, &[1])),
    (Format::Qcow2, 0, b"QFI", Version::Be32(4, &[2, 3])),
    // Likewise only "QED", not the trailing NUL.
    (Format::Qed, 0, b"QED", Version::Any),
    (Format::Vmdk, 0, b"KDMV", Version::Le32(4, &[1, 2, 3])),
];

/// The result of probing a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// The detected format; raw when nothing matched.
    pub format: Format,
    /// The last format whose magic matched but whose version did not, when nothing matched fully
    /// (libvirt warns "File … matches … magic, but version is wrong").
    pub wrong_version: Option<Format>,
}

fn version_matches(buf: &[u8], v: Version) -> bool {
    match v {
        Version::Any => true,
        Version::Be32(off, ok) => be32(buf, off).is_some_and(|x| ok.contains(&x)),
        Version::Le32(off, ok) => le32(buf, off).is_some_and(|x| ok.contains(&x)),
    }
}

/// Detects the format `buf` (the first bytes of an image, up to [`crate::MAX_HEADER`]) claims.
pub fn probe(buf: &[u8]) -> Probe {
    let mut wrong_version = None;
    for &(format, off, magic, version) in MAGIC {
        if bytes(buf, off, magic.len()) != Some(magic) {
            continue;
        }
        if version_matches(buf, version) {
            return Probe {
                format,
                wrong_version: None,
            };
        }
        wrong_version = Some(format);
    }
    Probe {
        format: Format::Raw,
        wrong_version,
    }
}

/// Whether `format` has a magic libvirt can detect (others are never the result of a probe).
pub fn has_magic(format: Format) -> bool {
    MAGIC.iter().any(|m| m.0 == format)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qfi(version: u32) -> Vec<u8> {
        let mut b = vec![0u8; 512];
        b[..4].copy_from_slice(b"QFI\xfb");
        b[4..8].copy_from_slice(&version.to_be_bytes());
        b
    }

    #[test]
    fn qcow_versions() {
        assert_eq!(probe(&qfi(1)).format, Format::Qcow);
        assert_eq!(probe(&qfi(2)).format, Format::Qcow2);
        assert_eq!(probe(&qfi(3)).format, Format::Qcow2);
        let p = probe(&qfi(4));
        assert_eq!(
            p,
            Probe {
                format: Format::Raw,
                wrong_version: Some(Format::Qcow2)
            }
        );
    }

    #[test]
    fn short_and_empty_buffers_are_raw() {
        assert_eq!(probe(&[]).format, Format::Raw);
        assert_eq!(probe(b"QFI").format, Format::Raw);
        assert_eq!(probe(b"QFI").wrong_version, Some(Format::Qcow2));
        assert_eq!(probe(b"QED").format, Format::Qed);
    }

    #[test]
    fn iso_wins_over_header_magic() {
        let mut b = qfi(3);
        b.resize(0x8200, 0);
        b[32769..32774].copy_from_slice(b"CD001");
        assert_eq!(probe(&b).format, Format::Iso);
    }

    #[test]
    fn descriptor_vmdk_is_raw() {
        assert_eq!(
            probe(b"# Disk DescriptorFile\nversion=1\n").format,
            Format::Raw
        );
    }
}
