//! Single-image inspection: what one image's header says about itself and the files it refers to.
//!
//! This is libvirt's `virStorageFileProbeGetMetadata` as typed Rust. It reads only the first
//! [`MAX_HEADER`] bytes, never follows a reference, and reports the backing name and any external
//! data file so that the caller (the chain resolver, the storage pool) decides what may be opened.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::{errno_text, Error};
use crate::format::Format;
use crate::header::MAX_HEADER;
use crate::probe::{self, Probe};
use crate::qcow2::Qcow2Header;
use crate::vmdk::Extent;
use crate::{luks, others, qcow2, qed, vmdk};

/// The format a backing reference should be opened with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackingFormat {
    /// Recorded in the overlay: qcow2 extension 0xE2792ACA, or QED's no-probe flag (raw).
    Recorded(Format),
    /// Not recorded (qcow v1, cow, vmdk, qcow2 without the extension): the backing may only be
    /// probed if the probed image has no backing of its own.
    Unrecorded,
    /// QED without the no-probe flag: probed, and libvirt lets the chain continue (`AUTO_SAFE`).
    AutoSafe,
    /// The qcow2 extension names a format libvirt does not know (e.g. "vhdx"); libvirt treats the
    /// backing as unrecorded (and "none" as an error).
    Invalid(String),
}

/// A reference from an image to its backing image, as written in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackingRef {
    /// The name exactly as stored (libvirt's `backingStoreRaw`): a path, relative or absolute,
    /// `json:{…}`, or a network URL.
    pub name: String,
    /// How the backing's format is known.
    pub format: BackingFormat,
}

/// Why a backing reference could not be read; libvirt then treats the image as having none (and
/// stops reading the header there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackingProblem {
    /// The header is too short to hold the backing fields.
    HeaderTooShort,
    /// The name lies beyond the inspected header bytes.
    NameOutsideHeader,
    /// qcow/qcow2 backing names are limited to 1023 bytes.
    NameTooLong,
    /// A VMDK `parentFileNameHint="` without its closing quote.
    UnterminatedName,
    /// The recorded backing format is not one libvirt knows (the name is kept).
    UnknownFormat,
}

/// qcow2's compatibility level (`-o compat=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compat {
    /// Version 2 header.
    V0_10,
    /// Version 3 header.
    V1_1,
}

impl Compat {
    /// The spelling used by qemu-img and libvirt's `<compat>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Compat::V0_10 => "0.10",
            Compat::V1_1 => "1.1",
        }
    }
}

/// The features libvirt reports for a qcow2 v3 image (`<features>` in volume XML).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    /// Compatible bit 0.
    pub lazy_refcounts: bool,
    /// Incompatible bit 4 (subclusters).
    pub extended_l2: bool,
}

/// The encryption scheme of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncryptionFormat {
    /// qcow/qcow2 built-in AES (crypt_method 1).
    Qcow,
    /// LUKS: a raw LUKS volume, or qcow2 crypt_method 2.
    Luks,
}

/// Encryption found in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encryption {
    /// The scheme.
    pub format: EncryptionFormat,
    /// Where guest data starts, in 512-byte sectors (raw LUKS volumes only).
    pub payload_offset: Option<u64>,
}

/// A qcow2 external data file: a file QEMU opens on the image's behalf, so it is reported like a
/// backing reference and never inspected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// The name from the "DATA" header extension (absent if only the feature bit is set: QEMU then
    /// needs the name from its command line).
    pub name: Option<String>,
    /// Autoclear bit `data_file_raw`: the data file is valid as a raw image by itself.
    pub raw: bool,
}

/// What an image's header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// The format the header was read as.
    pub format: Format,
    /// Set when the format was probed rather than given.
    pub probe: Option<Probe>,
    /// Virtual size in bytes from the header (none for formats without one, such as raw).
    pub capacity: Option<u64>,
    /// qcow2 cluster size in bytes.
    pub cluster_size: Option<u64>,
    /// qcow2 compatibility level (v2 → 0.10, v3 → 1.1).
    pub compat: Option<Compat>,
    /// qcow2 v3 features, present exactly where libvirt reports them (v3 images whose backing
    /// information was valid).
    pub features: Option<Features>,
    /// Encryption (qcow AES, qcow2 LUKS, raw LUKS).
    pub encryption: Option<Encryption>,
    /// The backing reference.
    pub backing: Option<BackingRef>,
    /// Why a backing reference could not be read, when that happened.
    pub backing_problem: Option<BackingProblem>,
    /// qcow2 external data file.
    pub data_file: Option<DataFile>,
    /// VMDK descriptor extents (files QEMU opens).
    pub extents: Vec<Extent>,
    /// qcow/qcow2 header details.
    pub qcow2: Option<Qcow2Header>,
}

impl ImageInfo {
    fn new(format: Format, probe: Option<Probe>) -> Self {
        ImageInfo {
            format,
            probe,
            capacity: None,
            cluster_size: None,
            compat: None,
            features: None,
            encryption: None,
            backing: None,
            backing_problem: None,
            data_file: None,
            extents: Vec::new(),
            qcow2: None,
        }
    }

    /// The `<compat>` libvirt 9.0 shows: "1.1" only where it parsed v3 features.
    pub fn libvirt_compat(&self) -> Option<&'static str> {
        (self.format == Format::Qcow2 && self.features.is_some()).then_some("1.1")
    }

    /// Whether the image makes QEMU open files other than itself and its backing chain.
    pub fn has_external_files(&self) -> bool {
        self.data_file.is_some() || self.extents.iter().any(|e| e.file.is_some())
    }
}

/// A header that cannot be read as the format it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// A qcow2 v3 header shorter than its fixed fields.
    #[error("{format} header is truncated ({len} bytes)")]
    Truncated {
        /// The format being read.
        format: Format,
        /// Bytes available.
        len: usize,
    },
}

/// Inspects header bytes `buf` as `format`, or probes the format when `None`.
///
/// Probing is only safe when nothing the result says will be acted on as a reference; see
/// [`crate::chain`] for the rules.
pub fn inspect(buf: &[u8], format: Option<Format>) -> Result<ImageInfo, HeaderError> {
    let buf = &buf[..buf.len().min(MAX_HEADER)];
    let (format, probed) = match format {
        Some(f) => (f, None),
        None => {
            let p = probe::probe(buf);
            (p.format, Some(p))
        }
    };
    let mut info = ImageInfo::new(format, probed);
    info.encryption = match format {
        Format::Raw => luks::encryption(buf),
        Format::Qcow | Format::Qcow2 => qcow2::encryption(buf, format),
        _ => None,
    };
    match format {
        Format::Vpc => others::vpc(buf, &mut info),
        Format::Vdi => others::vdi(buf, &mut info),
        Format::Ploop => others::ploop(buf, &mut info),
        Format::Cow => others::cow(buf, &mut info),
        Format::Qcow | Format::Qcow2 => qcow2::parse(buf, format, &mut info)?,
        Format::Qed => qed::parse(buf, &mut info),
        Format::Vmdk => vmdk::parse(buf, &mut info),
        // No header fields libvirt reads (ISO's capacity is the file size).
        Format::Raw
        | Format::Dir
        | Format::Bochs
        | Format::Cloop
        | Format::Dmg
        | Format::Iso
        | Format::Fat
        | Format::Vhd => {}
    }
    Ok(info)
}

/// Reads up to [`MAX_HEADER`] bytes from the start of `file`.
pub(crate) fn read_header(file: &mut File) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(MAX_HEADER);
    file.take(MAX_HEADER as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Inspects the image at `path` as `format` (probing when `None`; directories are [`Format::Dir`]).
///
/// This is what a storage pool does to describe a volume. It opens only `path`.
pub fn inspect_file(path: &Path, format: Option<Format>) -> Result<ImageInfo, Error> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| Error::Stat {
        path: shown.clone(),
        reason: errno_text(&e),
    })?;
    if meta.is_dir() {
        return Ok(ImageInfo::new(Format::Dir, None));
    }
    let mut file = File::open(path).map_err(|e| Error::Open {
        path: shown.clone(),
        reason: errno_text(&e),
    })?;
    let buf = read_header(&mut file).map_err(|e| Error::Read {
        path: shown.clone(),
        reason: errno_text(&e),
    })?;
    inspect(&buf, format).map_err(|source| Error::Header {
        path: shown,
        source,
    })
}
