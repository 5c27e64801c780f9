//! File-system pools (`fs`: a block device or image holding a file system; `netfs`: an NFS,
//! GlusterFS or CIFS export), mounted on the pool's target directory while the pool runs —
//! libvirt's `storage_backend_fs.c`. Starting mounts (`mount -o nodev,nosuid,noexec -t TYPE
//! SOURCE TARGET`), stopping unmounts, building makes the directory and, only when asked with
//! the overwrite flags, a file system (`mkfs`). Volumes are the files in the mounted directory
//! ([`super::dir`]).

use std::path::Path;

use rvirt_proto::error::code;
use rvirt_xml::storage::{PoolDef, PoolType};

use super::command::Cmd;
use super::error::{Error, Result};
use super::file::same_path;

/// `VIR_STORAGE_POOL_BUILD_NO_OVERWRITE`.
pub const BUILD_NO_OVERWRITE: u32 = 1 << 2;
/// `VIR_STORAGE_POOL_BUILD_OVERWRITE`.
pub const BUILD_OVERWRITE: u32 = 1 << 3;

/// libvirt's mount options on Linux, always given first.
const DEFAULT_MOUNT_OPTS: &str = "nodev,nosuid,noexec";

/// Where the kernel lists mounts (libvirt reads `_PATH_MOUNTED`, a link to this).
const MOUNTS: &str = "/proc/self/mounts";

fn fs_format_name(def: &PoolDef) -> &'static str {
    def.type_
        .pool_formats()
        .and_then(|f| f.name_of(def.source.format))
        .unwrap_or("auto")
}

/// `virStorageBackendFileSystemIsValid`: exactly one device (fs) or one host and a directory
/// (netfs).
pub fn check_valid(def: &PoolDef) -> Result<()> {
    if def.type_ == PoolType::Netfs {
        if def.source.hosts.len() != 1 {
            return Err(Error::refused(
                code::CONFIG_UNSUPPORTED,
                "expected exactly 1 host for the storage pool",
            ));
        }
        if def.source.dir.is_none() {
            return Err(Error::internal("missing source path"));
        }
    } else if def.source.devices.len() != 1 {
        if def.source.devices.is_empty() {
            return Err(Error::internal("missing source device"));
        }
        return Err(Error::refused(
            code::CONFIG_UNSUPPORTED,
            "expected exactly 1 device for the storage pool",
        ));
    }
    Ok(())
}

/// `virStorageBackendFileSystemGetPoolSource`: what is mounted.
pub fn source(def: &PoolDef) -> String {
    if def.type_ == PoolType::Netfs {
        let host = def
            .source
            .hosts
            .first()
            .map(|h| h.name.as_str())
            .unwrap_or("");
        let dir = def.source.dir.as_deref().unwrap_or("");
        if fs_format_name(def) == "cifs" {
            format!("//{host}/{dir}")
        } else {
            format!("{host}:{dir}")
        }
    } else {
        def.source
            .devices
            .first()
            .map(|d| d.path.clone())
            .unwrap_or_default()
    }
}

/// `virStorageBackendFileSystemMountCmd`: the `mount` arguments.
pub fn mount_args(def: &PoolDef, src: &str) -> Vec<String> {
    let target = def.target_path.clone().unwrap_or_default();
    let format = fs_format_name(def);
    let netfs = def.type_ == PoolType::Netfs;
    let nfs_vers = if netfs {
        def.source
            .protocol_ver
            .as_ref()
            .map(|v| format!("nfsvers={v}"))
    } else {
        None
    };
    let (provided, with_type) = match (netfs, format) {
        (true, "auto") => (nfs_vers, false),
        (true, "glusterfs") => (Some("direct-io-mode=1".to_string()), true),
        (true, "cifs") => (Some("guest".to_string()), true),
        _ => (nfs_vers, true),
    };
    let mut opts = vec![DEFAULT_MOUNT_OPTS.to_string()];
    opts.extend(provided);
    opts.extend(def.mount_opts.iter().flatten().cloned());
    let mut args = vec!["-o".to_string(), opts.join(",")];
    if with_type {
        args.extend(["-t".to_string(), format.to_string()]);
    }
    args.extend([src.to_string(), target]);
    args
}

/// Undoes `getmntent`'s octal escapes (`\040` for a space).
fn unescape_mount_field(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                out.push(
                    oct.iter()
                        .fold(0u8, |v, c| v.wrapping_mul(8).wrapping_add(c - b'0')),
                );
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `virStorageBackendFileSystemIsMounted`: whether the pool's source is mounted on its target.
pub fn is_mounted(def: &PoolDef) -> Result<bool> {
    let text = std::fs::read_to_string(MOUNTS)
        .map_err(|e| Error::sys(format!("cannot read mount list '{MOUNTS}'"), &e))?;
    let src = source(def);
    let target = def.target_path.as_deref().unwrap_or("");
    Ok(text.lines().any(|l| {
        let mut f = l.split(' ');
        let (Some(fsname), Some(dir)) = (f.next(), f.next()) else {
            return false;
        };
        same_path(Path::new(&unescape_mount_field(dir)), Path::new(target))
            && same_path(Path::new(&unescape_mount_field(fsname)), Path::new(&src))
    }))
}

/// `virStorageBackendFileSystemMount`: mounts the source unless it already is.
pub fn mount(def: &PoolDef) -> Result<()> {
    check_valid(def)?;
    if is_mounted(def)? {
        return Ok(());
    }
    let src = source(def);
    Cmd::new("mount")?.args(mount_args(def, &src)).run()?;
    Ok(())
}

/// `virStorageBackendFileSystemStop`: unmounts the target if the source is mounted there.
pub fn unmount(def: &PoolDef) -> Result<()> {
    check_valid(def)?;
    if !is_mounted(def)? {
        return Ok(());
    }
    Cmd::new("umount")?
        .args([def.target_path.clone().unwrap_or_default()])
        .run()?;
    Ok(())
}

/// `virStorageBackendFileSystemCheck` for fs/netfs: active when mounted.
pub fn is_active(def: &PoolDef) -> Result<bool> {
    check_valid(def)?;
    is_mounted(def)
}

/// What `blkid` finds on a device (`virStorageBackendBLKIDFindEmpty` with `writelabel`): `Ok`
/// when there is nothing, libvirt's refusal when there is a file system or partition table.
pub(super) fn device_is_empty(device: &str, format: &str) -> Result<()> {
    let Ok(blkid) = Cmd::new("blkid") else {
        return Err(Error::refused(
            code::OPERATION_INVALID,
            format!("Unable to probe '{device}' for existing data, forced overwrite is necessary"),
        ));
    };
    let (out, _) = blkid.args(["-p", "-o", "export", device]).run_status()?;
    // blkid exits with 2 when it finds nothing.
    if out.status == 2 {
        return Ok(());
    }
    if out.status != 0 {
        return Err(Error::refused(
            code::STORAGE_PROBE_FAILED,
            format!("Failed to probe for format type '{format}'"),
        ));
    }
    let value = |k: &str| {
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
            .map(str::to_string)
    };
    let found = value("TYPE").or_else(|| value("PTTYPE"));
    match found {
        None => Ok(()),
        Some(t) if t == format => Err(Error::refused(
            code::STORAGE_POOL_BUILT,
            format!("Device '{device}' already formatted using '{format}'"),
        )),
        Some(_) => Err(Error::refused(
            code::STORAGE_POOL_BUILT,
            format!(
                "Format of device '{device}' does not match the expected format '{format}', \
                 forced overwrite is necessary"
            ),
        )),
    }
}

/// `virStorageBackendExecuteMKFS`.
fn mkfs(device: &str, format: &str) -> Result<()> {
    let cmd = Cmd::find("mkfs", || {
        Error::internal(format!(
            "mkfs is not available on this platform: Failed to make filesystem of type \
             '{format}' on device '{device}'"
        ))
    })?;
    let mut args = vec!["-t".to_string(), format.to_string()];
    match format {
        "xfs" => args.push("-f".into()),
        "ext2" | "ext3" | "ext4" => args.push("-F".into()),
        "vfat" => args.push("-I".into()),
        _ => {}
    }
    args.push(device.to_string());
    cmd.args(args).run()?;
    Ok(())
}

/// `virStorageBackendMakeFileSystem`: `mkfs` on the source device, unconditionally with
/// [`BUILD_OVERWRITE`], only on an empty device with [`BUILD_NO_OVERWRITE`].
pub fn make_filesystem(def: &PoolDef, flags: u32) -> Result<()> {
    let Some(dev) = def.source.devices.first() else {
        return Err(Error::refused(
            code::OPERATION_INVALID,
            format!(
                "No source device specified when formatting pool '{}'",
                def.name
            ),
        ));
    };
    let format = fs_format_name(def);
    if !Path::new(&dev.path).exists() {
        return Err(Error::refused(
            code::OPERATION_INVALID,
            format!(
                "Source device does not exist when formatting pool '{}'",
                def.name
            ),
        ));
    }
    if flags & BUILD_OVERWRITE == 0 {
        device_is_empty(&dev.path, format)?;
    }
    mkfs(&dev.path, format)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(xml: &str) -> PoolDef {
        PoolDef::parse(xml).unwrap()
    }

    #[test]
    fn mount_arguments_follow_libvirt() {
        let d = def(
            "<pool type='fs'><name>f</name><source><device path='/dev/loop3'/>\
                     <format type='ext4'/></source><target><path>/mnt/f</path></target></pool>",
        );
        assert_eq!(
            mount_args(&d, &source(&d)),
            [
                "-o",
                "nodev,nosuid,noexec",
                "-t",
                "ext4",
                "/dev/loop3",
                "/mnt/f"
            ]
        );
        let d = def(
            "<pool type='netfs' xmlns:fs='http://libvirt.org/schemas/storagepool/fs/1.0'>\
                     <name>n</name><source><host name='srv'/><dir path='/exp'/>\
                     <protocol ver='4'/></source><target><path>/mnt/n</path></target>\
                     <fs:mount_opts><fs:option name='sync'/></fs:mount_opts></pool>",
        );
        assert_eq!(source(&d), "srv:/exp");
        assert_eq!(
            mount_args(&d, &source(&d)),
            [
                "-o",
                "nodev,nosuid,noexec,nfsvers=4,sync",
                "srv:/exp",
                "/mnt/n"
            ]
        );
        let d = def(
            "<pool type='netfs'><name>c</name><source><host name='srv'/><dir path='share'/>\
                     <format type='cifs'/></source><target><path>/mnt/c</path></target></pool>",
        );
        assert_eq!(
            mount_args(&d, &source(&d)),
            [
                "-o",
                "nodev,nosuid,noexec,guest",
                "-t",
                "cifs",
                "//srv/share",
                "/mnt/c"
            ]
        );
    }

    #[test]
    fn validity_and_mount_table_parsing() {
        let d = def(
            "<pool type='fs'><name>f</name><source><device path='/a'/><device path='/b'/>\
                     </source><target><path>/mnt/f</path></target></pool>",
        );
        assert_eq!(
            check_valid(&d).unwrap_err().message(),
            "unsupported configuration: expected exactly 1 device for the storage pool"
        );
        assert_eq!(unescape_mount_field("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape_mount_field("/x\\"), "/x\\");
        let d = def(
            "<pool type='fs'><name>f</name><source><device path='/dev/none-rvirt'/>\
                     </source><target><path>/mnt/none-rvirt</path></target></pool>",
        );
        assert!(!is_mounted(&d).unwrap());
        let e = make_filesystem(&d, BUILD_OVERWRITE).unwrap_err();
        assert_eq!(
            e.message(),
            "Requested operation is not valid: Source device does not exist when formatting pool 'f'"
        );
    }
}
