//! Storage pool (`<pool>`) and volume (`<volume>`) definitions, parsed, validated and formatted
//! exactly as libvirt 9.0's `storage_conf.c` does, with the per-pool-type rules of its
//! `poolTypeInfo` table (which source parts a type uses, its source and volume formats), the
//! same defaults and the same error numbers, domains and texts.
//!
//! [`pool`] holds the pool document, [`vol`] the volume document; this file holds what both use:
//! pool types and their options, permissions and size units.

pub mod pool;
pub mod vol;

use crate::conf::{self, err, path, str_to_i32, str_to_i64, Buf, Node};
use crate::XmlError;
use rvirt_proto::error::{code, domain};

pub use pool::PoolDef;
pub use vol::VolDef;

/// `virStoragePoolType`, in libvirt's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolType {
    /// `dir`.
    Dir,
    /// `fs`.
    Fs,
    /// `netfs`.
    Netfs,
    /// `logical`.
    Logical,
    /// `disk`.
    Disk,
    /// `iscsi`.
    Iscsi,
    /// `iscsi-direct`.
    IscsiDirect,
    /// `scsi`.
    Scsi,
    /// `mpath`.
    Mpath,
    /// `rbd`.
    Rbd,
    /// `sheepdog`.
    Sheepdog,
    /// `gluster`.
    Gluster,
    /// `zfs`.
    Zfs,
    /// `vstorage`.
    Vstorage,
}

const POOL_TYPES: [(PoolType, &str); 14] = [
    (PoolType::Dir, "dir"),
    (PoolType::Fs, "fs"),
    (PoolType::Netfs, "netfs"),
    (PoolType::Logical, "logical"),
    (PoolType::Disk, "disk"),
    (PoolType::Iscsi, "iscsi"),
    (PoolType::IscsiDirect, "iscsi-direct"),
    (PoolType::Scsi, "scsi"),
    (PoolType::Mpath, "mpath"),
    (PoolType::Rbd, "rbd"),
    (PoolType::Sheepdog, "sheepdog"),
    (PoolType::Gluster, "gluster"),
    (PoolType::Zfs, "zfs"),
    (PoolType::Vstorage, "vstorage"),
];

/// Source parts a pool type uses (`VIR_STORAGE_POOL_SOURCE_*`).
pub mod source_flags {
    /// `<host>`.
    pub const HOST: u32 = 1 << 0;
    /// `<device>`.
    pub const DEVICE: u32 = 1 << 1;
    /// `<dir>`.
    pub const DIR: u32 = 1 << 2;
    /// `<adapter>`.
    pub const ADAPTER: u32 = 1 << 3;
    /// `<name>`.
    pub const NAME: u32 = 1 << 4;
    /// `<initiator><iqn>`.
    pub const INITIATOR_IQN: u32 = 1 << 5;
    /// Network pool without a local target.
    pub const NETWORK: u32 = 1 << 6;
}

/// `virStorageFileFormat` names, in order (index 0 `none` is not a valid volume format).
pub const FILE_FORMATS: [&str; 17] = [
    "none", "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd", "ploop",
    "cow", "qcow", "qcow2", "qed", "vmdk",
];
const FS_FORMATS: [&str; 14] = [
    "auto", "ext2", "ext3", "ext4", "ufs", "iso9660", "udf", "gfs", "gfs2", "vfat", "hfs+", "xfs",
    "ocfs2", "vmfs",
];
/// `virStoragePoolFormatFileSystemNet` names.
pub const NETFS_FORMATS: [&str; 4] = ["auto", "nfs", "glusterfs", "cifs"];
const DISK_FORMATS: [&str; 9] = [
    "unknown", "dos", "dvh", "gpt", "mac", "bsd", "pc98", "sun", "lvm2",
];
const LOGICAL_FORMATS: [&str; 2] = ["unknown", "lvm2"];
const VOL_DISK_FORMATS: [&str; 8] = [
    "none",
    "linux",
    "fat16",
    "fat32",
    "linux-swap",
    "linux-lvm",
    "linux-raid",
    "extended",
];

/// A format enum: its names and default index; `skip_zero` refuses index 0 when parsing
/// (`virStorageVolumeFormatFromString` refuses `none`).
#[derive(Debug, Clone, Copy)]
pub struct FormatEnum {
    names: &'static [&'static str],
    default: u32,
    skip_zero: bool,
}

impl FormatEnum {
    /// The index of `s`, if the enum accepts it.
    pub fn index_of(&self, s: &str) -> Option<u32> {
        let i = self.names.iter().position(|n| *n == s)? as u32;
        (!(self.skip_zero && i == 0)).then_some(i)
    }
    /// The name of index `i`.
    pub fn name_of(&self, i: u32) -> Option<&'static str> {
        self.names.get(i as usize).copied()
    }
    /// The default index.
    pub fn default_index(&self) -> u32 {
        self.default
    }
}

const FILE_FMT: FormatEnum = FormatEnum {
    names: &FILE_FORMATS,
    default: 1,
    skip_zero: true,
};

impl PoolType {
    /// The `type` attribute value.
    pub fn as_str(self) -> &'static str {
        POOL_TYPES
            .iter()
            .find(|(t, _)| *t == self)
            .map(|(_, s)| *s)
            .unwrap_or("")
    }

    /// Parses a `type` attribute value.
    pub fn from_name(s: &str) -> Option<PoolType> {
        POOL_TYPES.iter().find(|(_, n)| *n == s).map(|(t, _)| *t)
    }

    /// Index in libvirt's enum (the bit of `VIR_CONNECT_LIST_STORAGE_POOLS_*` type filters is
    /// assigned separately).
    pub fn index(self) -> usize {
        POOL_TYPES.iter().position(|(t, _)| *t == self).unwrap_or(0)
    }

    /// The source parts this type uses.
    pub fn source_flags(self) -> u32 {
        use source_flags::*;
        match self {
            PoolType::Logical => NAME | DEVICE,
            PoolType::Dir | PoolType::Mpath => 0,
            PoolType::Fs => DEVICE,
            PoolType::Netfs => HOST | DIR,
            PoolType::Iscsi => HOST | DEVICE | INITIATOR_IQN,
            PoolType::IscsiDirect => HOST | DEVICE | NETWORK | INITIATOR_IQN,
            PoolType::Scsi => ADAPTER,
            PoolType::Rbd | PoolType::Sheepdog => HOST | NETWORK | NAME,
            PoolType::Gluster => HOST | NETWORK | NAME | DIR,
            PoolType::Disk => DEVICE,
            PoolType::Zfs => NAME | DEVICE,
            PoolType::Vstorage => NAME,
        }
    }

    /// The pool source `<format>` enum, for the types that have one.
    pub fn pool_formats(self) -> Option<FormatEnum> {
        let (names, default): (&'static [&'static str], u32) = match self {
            PoolType::Logical => (&LOGICAL_FORMATS, 1),
            PoolType::Fs => (&FS_FORMATS, 0),
            PoolType::Netfs => (&NETFS_FORMATS, 0),
            PoolType::Disk => (&DISK_FORMATS, 0),
            _ => return None,
        };
        Some(FormatEnum {
            names,
            default,
            skip_zero: false,
        })
    }

    /// The volume target `<format>` enum, for the pool types that have one.
    pub fn vol_formats(self) -> Option<FormatEnum> {
        match self {
            PoolType::Dir
            | PoolType::Fs
            | PoolType::Netfs
            | PoolType::Gluster
            | PoolType::Vstorage
            | PoolType::Rbd => Some(FILE_FMT),
            PoolType::Disk => Some(FormatEnum {
                names: &VOL_DISK_FORMATS,
                default: 0,
                skip_zero: false,
            }),
            _ => None,
        }
    }

    /// `virStorageVolType` of the volumes of this pool type, as the test driver reports it
    /// (`testStorageVolumeTypeForPool`): 0 file, 1 block, 3 network.
    pub fn volume_type(self) -> i8 {
        match self {
            PoolType::Dir | PoolType::Fs | PoolType::Netfs | PoolType::Vstorage => 0,
            PoolType::Sheepdog | PoolType::IscsiDirect | PoolType::Gluster | PoolType::Rbd => 3,
            _ => 1,
        }
    }
}

/// `virStoragePerms`: `None` means "not set" (libvirt's `-1`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Perms {
    /// Mode bits.
    pub mode: Option<u32>,
    /// Owner uid.
    pub uid: Option<u32>,
    /// Group gid.
    pub gid: Option<u32>,
    /// Security label.
    pub label: Option<String>,
}

impl Perms {
    /// `virStorageDefParsePerms(ctxt, perms, xpath)` for the `<permissions>` element at `steps`.
    pub fn parse(node: Node, steps: &[&str]) -> Result<Perms, XmlError> {
        let Some(p) = path(node, steps) else {
            return Ok(Perms::default());
        };
        let xe = |m: &str| err(code::XML_ERROR, domain::STORAGE, m.to_string());
        let mut perms = Perms::default();
        if let Some(m) = conf::xpath_text(p, &["mode"]) {
            match str_to_i32(&m, 8) {
                Some(v) if v & !0o777 == 0 => perms.mode = Some(v as u32),
                _ => return Err(xe("malformed octal mode")),
            }
        }
        let id = |name: &str, msg: &str| -> Result<Option<u32>, XmlError> {
            if conf::child(p, name).is_none() {
                return Ok(None);
            }
            let v = conf::xpath_text(p, &[name])
                .and_then(|t| str_to_i64(&t, 10))
                .ok_or_else(|| xe(msg))?;
            // -1 and (uid_t)-1 both mean "not set", as libvirt stores them the same way.
            if v == -1 || v == u32::MAX as i64 {
                return Ok(None);
            }
            u32::try_from(v).map(Some).map_err(|_| xe(msg))
        };
        perms.uid = id("owner", "malformed owner element")?;
        perms.gid = id("group", "malformed group element")?;
        perms.label = conf::xpath_text(p, &["label"]);
        Ok(perms)
    }

    /// Whether anything is set (libvirt omits `<permissions>` otherwise).
    pub fn is_set(&self) -> bool {
        self.mode.is_some() || self.uid.is_some() || self.gid.is_some() || self.label.is_some()
    }

    /// The `<permissions>` element.
    pub fn format(&self, w: &mut Buf) {
        if !self.is_set() {
            return;
        }
        w.open("<permissions>");
        if let Some(m) = self.mode {
            w.line(&format!("<mode>0{m:o}</mode>"));
        }
        if let Some(u) = self.uid {
            w.line(&format!("<owner>{}</owner>", u as i32));
        }
        if let Some(g) = self.gid {
            w.line(&format!("<group>{}</group>", g as i32));
        }
        if let Some(l) = &self.label {
            w.text("label", l);
        }
        w.close("permissions");
    }
}

/// `virScaleInteger(value, suffix, scale, limit)`: applies a unit suffix (`b`, `KiB`, `kB`,
/// `M`, …) with libvirt's errors.
pub fn scale_integer(
    value: u64,
    suffix: Option<&str>,
    scale: u64,
    limit: u64,
) -> Result<u64, XmlError> {
    let (scale, suffix) = match suffix.filter(|s| !s.is_empty()) {
        None => (scale, ""),
        Some(s)
            if ["b", "byte", "bytes"]
                .iter()
                .any(|b| s.eq_ignore_ascii_case(b)) =>
        {
            (1, s)
        }
        Some(s) => {
            let unknown = || {
                err(
                    code::INVALID_ARG,
                    domain::NONE,
                    format!("unknown suffix '{s}'"),
                )
            };
            let rest = &s[s.chars().next().map_or(0, |c| c.len_utf8())..];
            let base: u64 = if rest.is_empty() || rest.eq_ignore_ascii_case("iB") {
                1024
            } else if rest.len() == 1 && rest.eq_ignore_ascii_case("b") {
                1000
            } else {
                return Err(unknown());
            };
            let power = match s.chars().next().map(|c| c.to_ascii_lowercase()) {
                Some('k') => 1,
                Some('m') => 2,
                Some('g') => 3,
                Some('t') => 4,
                Some('p') => 5,
                Some('e') => 6,
                _ => return Err(unknown()),
            };
            (base.pow(power), s)
        }
    };
    if value != 0 && value > limit / scale {
        return Err(err(
            code::OVERFLOW,
            domain::NONE,
            format!("value too large: {value}{suffix}"),
        ));
    }
    Ok(value * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_like_libvirt() {
        assert_eq!(scale_integer(1, Some("KiB"), 1, u64::MAX).unwrap(), 1024);
        assert_eq!(scale_integer(1, Some("kb"), 1, u64::MAX).unwrap(), 1000);
        assert_eq!(scale_integer(2, Some("G"), 1, u64::MAX).unwrap(), 2 << 30);
        assert_eq!(scale_integer(5, None, 1024, u64::MAX).unwrap(), 5120);
        assert_eq!(scale_integer(5, Some("bytes"), 1024, u64::MAX).unwrap(), 5);
        assert_eq!(
            scale_integer(5, Some("xB"), 1, u64::MAX)
                .unwrap_err()
                .message(),
            "invalid argument: unknown suffix 'xB'"
        );
        assert_eq!(
            scale_integer(9, Some("E"), 1, i64::MAX as u64)
                .unwrap_err()
                .message(),
            "numerical overflow: value too large: 9E"
        );
    }
}
