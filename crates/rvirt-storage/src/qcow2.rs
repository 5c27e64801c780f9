//! qcow (version 1) and qcow2 (versions 2 and 3) headers: capacity, cluster size, encryption,
//! backing name, header extensions (backing format, feature names, external data file) and
//! feature bits.
//!
//! The decisions follow libvirt's `qcowXGetBackingStore`/`qcow2GetExtensions`/`qcow2GetFeatures`:
//! a backing name longer than 1023 bytes or outside the header buffer is ignored, an unknown
//! backing-format string leaves the format unrecorded, and feature bits are only reported for v3
//! images whose backing information was valid. Extensions are walked the way QEMU writes them
//! (each padded to 8 bytes), which libvirt 9.0 does not do; for images written by QEMU the backing
//! format comes out the same because QEMU always writes that extension first.

use crate::header::{be32, be64, bytes, name};
use crate::inspect::{
    BackingFormat, BackingProblem, BackingRef, Compat, DataFile, Encryption, EncryptionFormat,
    Features, HeaderError, ImageInfo,
};
use crate::others::{read_capacity, Capacity};
use crate::Format;

const VERSION: usize = 4;
const BACKING_OFFSET: usize = 8;
const BACKING_SIZE: usize = 16;
const CLUSTER_BITS: usize = 20;
const SIZE: usize = 24;
const QCOW1_CRYPT: usize = 36;
const QCOW2_CRYPT: usize = 32;
/// Length of the version 2 header, where extensions start for v2 images.
const V2_HEADER_LEN: usize = 72;
const INCOMPATIBLE: usize = 72;
const COMPATIBLE: usize = 80;
const AUTOCLEAR: usize = 88;
const HEADER_LENGTH: usize = 100;
const BACKING_NAME_MAX: u32 = 1023;

/// Header extension magics.
pub const EXT_END: u32 = 0;
/// Backing file format name.
pub const EXT_BACKING_FORMAT: u32 = 0xE279_2ACA;
/// Feature name table.
pub const EXT_FEATURE_TABLE: u32 = 0x6803_f857;
/// Full disk encryption (LUKS) header pointer.
pub const EXT_CRYPTO: u32 = 0x0537_be77;
/// Persistent dirty bitmaps.
pub const EXT_BITMAPS: u32 = 0x2385_2875;
/// External data file name ("DATA").
pub const EXT_DATA_FILE: u32 = 0x4441_5441;

/// Incompatible feature bits.
const INCOMPAT_DIRTY: u64 = 1 << 0;
const INCOMPAT_CORRUPT: u64 = 1 << 1;
const INCOMPAT_DATA_FILE: u64 = 1 << 2;
const INCOMPAT_COMPRESSION: u64 = 1 << 3;
const INCOMPAT_EXTL2: u64 = 1 << 4;
/// Compatible feature bits.
const COMPAT_LAZY_REFCOUNTS: u64 = 1 << 0;
/// Autoclear feature bits.
const AUTOCLEAR_BITMAPS: u64 = 1 << 0;
const AUTOCLEAR_DATA_FILE_RAW: u64 = 1 << 1;

/// What a qcow2 header says beyond what libvirt reports: the raw feature words and extensions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Qcow2Header {
    /// 1 (qcow), 2 or 3.
    pub version: u32,
    /// Incompatible feature bits (v3).
    pub incompatible: u64,
    /// Compatible feature bits (v3).
    pub compatible: u64,
    /// Autoclear feature bits (v3).
    pub autoclear: u64,
    /// Header extensions found, in order: (magic, length).
    pub extensions: Vec<(u32, u32)>,
    /// The feature name table (type 0 incompatible, 1 compatible, 2 autoclear; bit; name).
    pub feature_names: Vec<(u8, u8, String)>,
    /// The header's crypt_method (0 none, 1 AES, 2 LUKS).
    pub crypt_method: u32,
}

impl Qcow2Header {
    /// Whether the image is marked dirty (lazy refcounts not yet flushed).
    pub fn dirty(&self) -> bool {
        self.incompatible & INCOMPAT_DIRTY != 0
    }
    /// Whether QEMU marked the image corrupt.
    pub fn corrupt(&self) -> bool {
        self.incompatible & INCOMPAT_CORRUPT != 0
    }
    /// Whether clusters use a compression type other than zlib (zstd).
    pub fn compression_type(&self) -> bool {
        self.incompatible & INCOMPAT_COMPRESSION != 0
    }
    /// Whether persistent bitmaps are in use.
    pub fn bitmaps(&self) -> bool {
        self.autoclear & AUTOCLEAR_BITMAPS != 0
    }
}

/// Encryption as libvirt reads it: crypt_method 1 is qcow's AES, 2 (qcow2 only) LUKS.
pub(crate) fn encryption(buf: &[u8], format: Format) -> Option<Encryption> {
    let off = if format == Format::Qcow {
        QCOW1_CRYPT
    } else {
        QCOW2_CRYPT
    };
    let format = match (be32(buf, off)?, format) {
        (1, _) => EncryptionFormat::Qcow,
        (2, Format::Qcow2) => EncryptionFormat::Luks,
        _ => return None,
    };
    Some(Encryption {
        format,
        payload_offset: None,
    })
}

/// Parses a qcow (v1) or qcow2 header whose format is already decided.
pub(crate) fn parse(buf: &[u8], format: Format, info: &mut ImageInfo) -> Result<(), HeaderError> {
    let version = be32(buf, VERSION).unwrap_or(0);
    let mut hdr = Qcow2Header {
        version,
        crypt_method: be32(
            buf,
            if format == Format::Qcow {
                QCOW1_CRYPT
            } else {
                QCOW2_CRYPT
            },
        )
        .unwrap_or(0),
        ..Default::default()
    };
    if version >= 3 {
        hdr.incompatible = be64(buf, INCOMPATIBLE).unwrap_or(0);
        hdr.compatible = be64(buf, COMPATIBLE).unwrap_or(0);
        hdr.autoclear = be64(buf, AUTOCLEAR).unwrap_or(0);
    }
    if format == Format::Qcow2 {
        info.compat = match version {
            2 => Some(Compat::V0_10),
            3 => Some(Compat::V1_1),
            _ => None,
        };
    }
    let ext = if format == Format::Qcow2 && version >= 2 {
        extensions(buf, version, &mut hdr)
    } else {
        Extensions::default()
    };
    if hdr.incompatible & INCOMPAT_DATA_FILE != 0 || ext.data_file.is_some() {
        info.data_file = Some(DataFile {
            name: ext.data_file.clone(),
            raw: hdr.autoclear & AUTOCLEAR_DATA_FILE_RAW != 0,
        });
    }
    let compatible = hdr.compatible;
    let incompatible = hdr.incompatible;
    info.qcow2 = Some(hdr);

    if !read_capacity(buf, info, Capacity::Be(SIZE, 1)) {
        return Ok(());
    }
    if format == Format::Qcow2 {
        info.cluster_size = be32(buf, CLUSTER_BITS)
            .map(|b| b as i32)
            .filter(|&b| b > 0 && b < 64)
            .map(|b| 1u64 << b);
    }
    if let Err(problem) = backing(buf, format, version, &ext, info) {
        info.backing_problem = Some(problem);
        return Ok(());
    }
    if format == Format::Qcow2 && version == 3 {
        if buf.len() < HEADER_LENGTH {
            return Err(HeaderError::Truncated {
                format,
                len: buf.len(),
            });
        }
        info.features = Some(Features {
            lazy_refcounts: compatible & COMPAT_LAZY_REFCOUNTS != 0,
            extended_l2: incompatible & INCOMPAT_EXTL2 != 0,
        });
    }
    Ok(())
}

/// `qcowXGetBackingStore`: the backing name and, for qcow2, its recorded format.
fn backing(
    buf: &[u8],
    format: Format,
    version: u32,
    ext: &Extensions,
    info: &mut ImageInfo,
) -> Result<(), BackingProblem> {
    if buf.len() < BACKING_SIZE + 4 {
        return Err(BackingProblem::HeaderTooShort);
    }
    let offset = be64(buf, BACKING_OFFSET).unwrap_or(0);
    if offset > buf.len() as u64 {
        return Err(BackingProblem::NameOutsideHeader);
    }
    let size = be32(buf, BACKING_SIZE).unwrap_or(0);
    if offset == 0 || size == 0 {
        return Ok(());
    }
    if size > BACKING_NAME_MAX {
        return Err(BackingProblem::NameTooLong);
    }
    let Some(raw) = bytes(buf, offset as usize, size as usize) else {
        return Err(BackingProblem::NameOutsideHeader);
    };
    let mut backing = BackingRef {
        name: name(raw),
        format: BackingFormat::Unrecorded,
    };
    if format == Format::Qcow2 && version >= 2 {
        if let Some(f) = &ext.backing_format {
            match Format::from_name(f) {
                Some(f) => backing.format = BackingFormat::Recorded(f),
                None => {
                    backing.format = BackingFormat::Invalid(f.clone());
                    info.backing = Some(backing);
                    return Err(BackingProblem::UnknownFormat);
                }
            }
        }
    }
    info.backing = Some(backing);
    Ok(())
}

#[derive(Default)]
struct Extensions {
    backing_format: Option<String>,
    data_file: Option<String>,
}

/// Walks the header extensions between the header and the backing name (or the end of the first
/// cluster), within the buffer.
fn extensions(buf: &[u8], version: u32, hdr: &mut Qcow2Header) -> Extensions {
    let mut out = Extensions::default();
    let start = if version == 2 {
        V2_HEADER_LEN
    } else {
        match be32(buf, HEADER_LENGTH) {
            Some(l) => l as usize,
            None => return out,
        }
    };
    let backing_offset = be64(buf, BACKING_OFFSET).unwrap_or(0);
    let cluster_end = be32(buf, CLUSTER_BITS)
        .filter(|&b| b > 0 && b < 63)
        .map_or(u64::MAX, |b| 1u64 << b);
    let end = if backing_offset != 0 {
        backing_offset
    } else {
        cluster_end
    };
    let end = end.min(buf.len() as u64) as usize;
    let mut off = start;
    while off.saturating_add(8) <= end {
        let magic = be32(buf, off).unwrap_or(0);
        let len = be32(buf, off + 4).unwrap_or(0);
        off += 8;
        if magic == EXT_END {
            break;
        }
        let Some(data) = bytes(buf, off, len as usize).filter(|_| off + len as usize <= end) else {
            break;
        };
        hdr.extensions.push((magic, len));
        match magic {
            EXT_BACKING_FORMAT if out.backing_format.is_none() => {
                out.backing_format = Some(name(data));
            }
            EXT_DATA_FILE => out.data_file = Some(name(data)),
            EXT_FEATURE_TABLE => {
                for entry in data.chunks_exact(48) {
                    hdr.feature_names
                        .push((entry[0], entry[1], name(&entry[2..])));
                }
            }
            _ => {}
        }
        off += (len as usize).div_ceil(8) * 8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::inspect;

    /// A minimal v3 qcow2 header with a backing name and optional backing-format extension.
    fn image(backing: Option<&str>, fmt: Option<&str>, incompat: u64) -> Vec<u8> {
        let mut b = vec![0u8; 0x8200];
        b[..4].copy_from_slice(b"QFI\xfb");
        b[4..8].copy_from_slice(&3u32.to_be_bytes());
        b[20..24].copy_from_slice(&16u32.to_be_bytes());
        b[24..32].copy_from_slice(&(1u64 << 30).to_be_bytes());
        b[72..80].copy_from_slice(&incompat.to_be_bytes());
        b[80..88].copy_from_slice(&1u64.to_be_bytes());
        b[100..104].copy_from_slice(&112u32.to_be_bytes());
        let mut off = 112;
        if let Some(f) = fmt {
            b[off..off + 4].copy_from_slice(&EXT_BACKING_FORMAT.to_be_bytes());
            b[off + 4..off + 8].copy_from_slice(&(f.len() as u32).to_be_bytes());
            b[off + 8..off + 8 + f.len()].copy_from_slice(f.as_bytes());
            off += 8 + f.len().div_ceil(8) * 8;
        }
        off += 8; // end marker
        if let Some(n) = backing {
            b[8..16].copy_from_slice(&(off as u64).to_be_bytes());
            b[16..20].copy_from_slice(&(n.len() as u32).to_be_bytes());
            b[off..off + n.len()].copy_from_slice(n.as_bytes());
        }
        b
    }

    #[test]
    fn recorded_backing_format_and_features() {
        let i = inspect(&image(Some("base.img"), Some("raw"), 1 << 4), None).unwrap();
        assert_eq!(i.format, Format::Qcow2);
        assert_eq!(i.capacity, Some(1 << 30));
        assert_eq!(i.cluster_size, Some(65536));
        assert_eq!(i.compat, Some(Compat::V1_1));
        let b = i.backing.unwrap();
        assert_eq!(b.name, "base.img");
        assert_eq!(b.format, BackingFormat::Recorded(Format::Raw));
        let f = i.features.unwrap();
        assert!(f.lazy_refcounts && f.extended_l2);
    }

    #[test]
    fn unknown_backing_format_string_is_invalid_and_hides_features() {
        let i = inspect(&image(Some("b"), Some("vhdx"), 0), None).unwrap();
        assert_eq!(
            i.backing.unwrap().format,
            BackingFormat::Invalid("vhdx".into())
        );
        assert_eq!(i.backing_problem, Some(BackingProblem::UnknownFormat));
        assert_eq!(i.features, None);
    }

    #[test]
    fn unrecorded_and_absent_backing() {
        let i = inspect(&image(Some("b"), None, 0), None).unwrap();
        assert_eq!(i.backing.unwrap().format, BackingFormat::Unrecorded);
        let i = inspect(&image(None, None, 0), None).unwrap();
        assert!(i.backing.is_none());
        assert!(i.features.is_some());
    }

    #[test]
    fn oversized_or_outside_backing_name_is_dropped() {
        let mut b = image(Some("b"), None, 0);
        b[16..20].copy_from_slice(&1024u32.to_be_bytes());
        let i = inspect(&b, None).unwrap();
        assert!(i.backing.is_none());
        assert_eq!(i.backing_problem, Some(BackingProblem::NameTooLong));
        b[8..16].copy_from_slice(&0x9000u64.to_be_bytes());
        let i = inspect(&b, None).unwrap();
        assert_eq!(i.backing_problem, Some(BackingProblem::NameOutsideHeader));
    }

    #[test]
    fn truncated_v3_header_is_an_error() {
        let b = image(None, None, 0);
        assert!(matches!(
            inspect(&b[..90], None),
            Err(HeaderError::Truncated { .. })
        ));
    }
}
