//! Disk image formats, named and numbered as libvirt names them (`virStorageFileFormat`).
//!
//! The names are what appears in `<driver type=…>`, `<format type=…>` and in the qcow2
//! backing-format header extension; the order matters because format probing walks the formats
//! in this order and the first one whose magic and version match wins.

use std::fmt;

/// A disk image format (libvirt's `virStorageFileFormat`, without the `none`/`auto` pseudo values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Format {
    /// Plain bytes; the only format that probing can always trust.
    Raw = 1,
    /// A host directory (exposed to guests as a FAT image by QEMU).
    Dir = 2,
    /// Bochs disk image (no magic in libvirt's table: never probed).
    Bochs = 3,
    /// Compressed loop image (never probed).
    Cloop = 4,
    /// Apple disk image (never probed).
    Dmg = 5,
    /// ISO 9660 image ("CD001" at 32769).
    Iso = 6,
    /// Virtual PC / VHD ("conectix").
    Vpc = 7,
    /// VirtualBox image.
    Vdi = 8,
    /// Directory exported as a FAT volume (`fat:` backing names).
    Fat = 9,
    /// VHD spelled the Hyper-V way (never probed).
    Vhd = 10,
    /// Parallels ploop image.
    Ploop = 11,
    /// User-mode Linux COW image. Formats from here on can have a backing file.
    Cow = 12,
    /// qcow version 1.
    Qcow = 13,
    /// qcow2 (versions 2 and 3).
    Qcow2 = 14,
    /// QEMU enhanced disk.
    Qed = 15,
    /// VMware disk (sparse "KDMV" or text descriptor).
    Vmdk = 16,
}

/// Every format, in libvirt's enum order (the probe order).
pub const ALL: [Format; 16] = [
    Format::Raw,
    Format::Dir,
    Format::Bochs,
    Format::Cloop,
    Format::Dmg,
    Format::Iso,
    Format::Vpc,
    Format::Vdi,
    Format::Fat,
    Format::Vhd,
    Format::Ploop,
    Format::Cow,
    Format::Qcow,
    Format::Qcow2,
    Format::Qed,
    Format::Vmdk,
];

impl Format {
    /// libvirt's name for the format (`virStorageFileFormatTypeToString`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Raw => "raw",
            Format::Dir => "dir",
            Format::Bochs => "bochs",
            Format::Cloop => "cloop",
            Format::Dmg => "dmg",
            Format::Iso => "iso",
            Format::Vpc => "vpc",
            Format::Vdi => "vdi",
            Format::Fat => "fat",
            Format::Vhd => "vhd",
            Format::Ploop => "ploop",
            Format::Cow => "cow",
            Format::Qcow => "qcow",
            Format::Qcow2 => "qcow2",
            Format::Qed => "qed",
            Format::Vmdk => "vmdk",
        }
    }

    /// The format libvirt knows by `name` (exact, case-sensitive match, as
    /// `virStorageFileFormatTypeFromString`). `"none"` and unknown names give `None`.
    pub fn from_name(name: &str) -> Option<Format> {
        ALL.iter().copied().find(|f| f.as_str() == name)
    }

    /// libvirt's enum value (`VIR_STORAGE_FILE_*`).
    pub fn number(self) -> i32 {
        self as i32
    }

    /// Whether images of this format can name a backing file (libvirt: `format >= VIR_STORAGE_FILE_BACKING`).
    pub fn supports_backing(self) -> bool {
        self >= Format::Cow
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::from_name(s).ok_or_else(|| UnknownFormat(s.to_string()))
    }
}

/// A format name libvirt does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown storage format '{0}'")]
pub struct UnknownFormat(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_follow_libvirt() {
        for (i, f) in ALL.iter().enumerate() {
            assert_eq!(f.number(), i as i32 + 1);
            assert_eq!(Format::from_name(f.as_str()), Some(*f));
        }
        assert_eq!(Format::from_name("none"), None);
        assert_eq!(Format::from_name("QCOW2"), None);
        assert_eq!(Format::from_name("vhdx"), None);
        assert!(Format::Cow.supports_backing());
        assert!(!Format::Ploop.supports_backing());
        assert_eq!(Format::Qcow2.number(), 14);
    }
}
