//! File-level operations the pool backends share: what `stat` says about a volume (sizes,
//! owner, mode, times), file system space (`statvfs`), creating files and directories with a
//! given owner and mode, preallocation, the btrfs copy-on-write flag, atomic file replacement,
//! and finding helper programs. These are libvirt's `virfile.c` helpers as the storage driver
//! uses them, with the same error texts.

use std::ffi::CString;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rvirt_xml::storage::vol::Timestamps;
use rvirt_xml::storage::Perms;

use super::error::{Error, Result};

/// libvirt's `VIR_STORAGE_DEFAULT_POOL_PERM_MODE`.
pub const DEFAULT_POOL_PERM_MODE: u32 = 0o711;
/// libvirt's `VIR_STORAGE_DEFAULT_VOL_PERM_MODE`.
pub const DEFAULT_VOL_PERM_MODE: u32 = 0o600;

/// Sizes of a storage source (`virStorageSourceUpdateBackingSizes`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sizes {
    /// Bytes allocated on disk.
    pub allocation: u64,
    /// Logical size.
    pub capacity: u64,
    /// Offset of the end of the file.
    pub physical: u64,
}

/// Sizes as libvirt derives them from `stat` (and, for block devices, the device's end).
pub fn sizes(meta: &Metadata, file: Option<&mut File>) -> Result<Sizes, std::io::Error> {
    let ft = meta.file_type();
    if ft.is_file() {
        Ok(Sizes {
            allocation: meta.blocks() * 512,
            capacity: meta.size(),
            physical: meta.size(),
        })
    } else if ft.is_dir() {
        Ok(Sizes::default())
    } else if let Some(f) = file {
        let end = f.seek(SeekFrom::End(0))?;
        Ok(Sizes {
            allocation: end,
            capacity: end,
            physical: end,
        })
    } else {
        Ok(Sizes::default())
    }
}

/// The permissions libvirt reports for a file: mode bits, owner and group (no label: rvirt
/// does not read SELinux contexts).
pub fn perms(meta: &Metadata) -> Perms {
    Perms {
        mode: Some(meta.mode() & 0o777),
        uid: Some(meta.uid()),
        gid: Some(meta.gid()),
        label: None,
    }
}

/// The times libvirt reports (`btime` is always 0 on Linux).
pub fn timestamps(meta: &Metadata) -> Timestamps {
    Timestamps {
        atime: (meta.atime(), meta.atime_nsec()),
        mtime: (meta.mtime(), meta.mtime_nsec()),
        ctime: (meta.ctime(), meta.ctime_nsec()),
        btime: (0, 0),
    }
}

/// Whether `meta` is a block device.
pub fn is_block(meta: &Metadata) -> bool {
    meta.file_type().is_block_device()
}

fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::errno(format!("invalid path '{}'", path.display()), libc::EINVAL))
}

/// File system capacity and free bytes of the file system holding `path` (`statvfs`), as the
/// pool's capacity/available.
pub fn fs_space(path: &Path) -> Result<(u64, u64)> {
    let c = c_path(path)?;
    // SAFETY: an all-zero statvfs is a valid value of this plain C struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` a valid, writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } < 0 {
        return Err(Error::sys(
            format!("cannot statvfs path '{}'", path.display()),
            &std::io::Error::last_os_error(),
        ));
    }
    let frsize = st.f_frsize as u64;
    Ok((frsize * st.f_blocks as u64, frsize * st.f_bfree as u64))
}

/// Allocates `len` bytes from `offset` (`fallocate`), returning the raw error so callers can
/// fall back where the file system does not support it.
pub fn fallocate(file: &File, offset: u64, len: u64) -> std::io::Result<()> {
    // SAFETY: fallocate on an open descriptor with plain integer arguments.
    let r = unsafe { libc::fallocate(file.as_raw_fd(), 0, offset as i64, len as i64) };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Writes `len` zero bytes from `offset` (libvirt's `safezero` fallback).
pub fn write_zeroes(file: &mut File, offset: u64, len: u64) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(offset))?;
    let buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        file.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// `safezero`: allocate with `fallocate`, or write zeroes where that is not supported.
pub fn safezero(file: &mut File, offset: u64, len: u64) -> std::io::Result<()> {
    match fallocate(file, offset, len) {
        Ok(()) => Ok(()),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS)
            ) =>
        {
            write_zeroes(file, offset, len)
        }
        Err(e) => Err(e),
    }
}

const BTRFS_SUPER_MAGIC: i64 = 0x9123_683E;
const FS_NOCOW_FL: libc::c_long = 0x0080_0000;

/// `virFileSetCOW`: sets or clears btrfs's no-copy-on-write flag. `None` (libvirt's "absent")
/// only tries to turn copy-on-write off on btrfs and ignores failure; an explicit request on
/// another file system is an error.
pub fn set_cow(path: &Path, state: Option<bool>) -> Result<()> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| Error::sys(format!("unable to open '{}'", path.display()), &e))?;
    // SAFETY: an all-zero statfs is a valid value of this plain C struct.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor and a writable statfs.
    if unsafe { libc::fstatfs(file.as_raw_fd(), &mut st) } < 0 {
        return Err(Error::sys(
            format!("unable query filesystem type on '{}'", path.display()),
            &std::io::Error::last_os_error(),
        ));
    }
    if st.f_type as i64 != BTRFS_SUPER_MAGIC {
        if state.is_some() {
            return Err(Error::errno(
                format!(
                    "unable to control COW flag on '{}', not btrfs",
                    path.display()
                ),
                libc::ENOSYS,
            ));
        }
        return Ok(());
    }
    let mut flags: libc::c_long = 0;
    // SAFETY: FS_IOC_GETFLAGS writes one long into `flags`.
    if unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) } < 0 {
        return Err(Error::sys(
            format!("unable get directory flags on '{}'", path.display()),
            &std::io::Error::last_os_error(),
        ));
    }
    if state == Some(true) {
        flags &= !FS_NOCOW_FL;
    } else {
        flags |= FS_NOCOW_FL;
    }
    // SAFETY: FS_IOC_SETFLAGS reads one long from `flags`.
    if unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_SETFLAGS, &flags) } < 0
        && state.is_some()
    {
        return Err(Error::sys(
            format!("unable control COW flag on '{}'", path.display()),
            &std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

fn chown(path: &Path, uid: Option<u32>, gid: Option<u32>) -> std::io::Result<()> {
    std::os::unix::fs::chown(path, uid, gid)
}

/// `virDirCreate` without forking: makes `path` (or accepts an existing one when
/// `allow_exist`), then gives it the owner and mode asked for. A directory it made is removed
/// again on failure.
pub fn dir_create(
    path: &Path,
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    allow_exist: bool,
) -> Result<()> {
    let shown = path.display();
    let mut created = false;
    if !(allow_exist && path.exists()) {
        let mut b = std::fs::DirBuilder::new();
        std::os::unix::fs::DirBuilderExt::mode(&mut b, mode.unwrap_or(0o777));
        b.create(path)
            .map_err(|e| Error::sys(format!("failed to create directory '{shown}'"), &e))?;
        created = true;
    }
    let result = (|| {
        let meta = std::fs::metadata(path)
            .map_err(|e| Error::sys(format!("stat of '{shown}' failed"), &e))?;
        if uid.is_some_and(|u| u != meta.uid()) || gid.is_some_and(|g| g != meta.gid()) {
            chown(path, uid, gid).map_err(|e| {
                Error::sys(
                    format!(
                        "cannot chown '{shown}' to ({}, {})",
                        uid.unwrap_or(u32::MAX),
                        gid.unwrap_or(u32::MAX)
                    ),
                    &e,
                )
            })?;
        }
        if let Some(m) = mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(m))
                .map_err(|e| Error::sys(format!("cannot set mode of '{shown}' to {m:04o}"), &e))?;
        }
        Ok(())
    })();
    if result.is_err() && created {
        let _ = std::fs::remove_dir(path);
    }
    result
}

/// `virFileOpenAs(path, O_RDWR|O_CREAT|O_EXCL, mode, uid, gid, FORCE_MODE|FORCE_OWNER)`:
/// creates a new file and gives it exactly the owner and mode asked for (unset owner or group
/// means this process's).
pub fn create_file(
    path: &Path,
    mode: u32,
    uid: Option<u32>,
    gid: Option<u32>,
) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    let fix = || -> std::io::Result<()> {
        let meta = file.metadata()?;
        // SAFETY: geteuid/getegid have no preconditions.
        let (me_u, me_g) = unsafe { (libc::geteuid(), libc::getegid()) };
        let (u, g) = (uid.unwrap_or(me_u), gid.unwrap_or(me_g));
        if meta.uid() != u || meta.gid() != g {
            std::os::unix::fs::fchown(&file, Some(u), Some(g))?;
        }
        if meta.mode() & 0o777 != mode & 0o777 {
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        Ok(())
    };
    if let Err(e) = fix() {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(file)
}

/// `virFileRemove` without NFS root-squash handling: `rmdir` for a directory, `unlink`
/// otherwise.
pub fn remove(path: &Path) -> std::io::Result<()> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        std::fs::remove_dir(path)
    } else {
        std::fs::remove_file(path)
    }
}

/// Replaces `path` with `contents` atomically: a temporary file in the same directory is
/// written, synced, given `mode` and renamed over `path`, then the directory is synced. A crash
/// leaves either the old or the new file, never a partial one.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.new",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let shown = path.display();
    let write = || -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(contents)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::sys(format!("cannot write data to file '{shown}'"), &e)
    })
}

/// `virFindFileInPath`: the program's path in `$PATH` (plus the sbin directories, where
/// `mkfs` and `mount` helpers live and a user's `$PATH` often does not reach).
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
}

/// `virFileComparePaths`: whether two paths name the same file once symlinks are resolved
/// (paths that cannot be resolved are compared as written).
pub fn same_path(a: &Path, b: &Path) -> bool {
    let ra = std::fs::canonicalize(a).unwrap_or_else(|_| a.to_path_buf());
    let rb = std::fs::canonicalize(b).unwrap_or_else(|_| b.to_path_buf());
    ra == rb
}

/// `virFileLinkPointsTo`: whether `link` resolves to the same file as `target`.
pub fn link_points_to(link: &Path, target: &Path) -> bool {
    match (std::fs::metadata(link), std::fs::metadata(target)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("rvirt-file-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    #[test]
    fn created_files_get_the_mode_asked_for_whatever_the_umask() {
        let d = tmp("create");
        let p = d.join("f");
        let f = create_file(&p, 0o640, None, None).unwrap();
        assert_eq!(f.metadata().unwrap().mode() & 0o777, 0o640);
        let e = create_file(&p, 0o600, None, None).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn directories_and_atomic_writes() {
        let d = tmp("dir");
        let sub = d.join("a");
        dir_create(&sub, Some(0o711), None, None, true).unwrap();
        assert_eq!(std::fs::metadata(&sub).unwrap().mode() & 0o777, 0o711);
        dir_create(&sub, Some(0o755), None, None, true).unwrap();
        assert_eq!(std::fs::metadata(&sub).unwrap().mode() & 0o777, 0o755);
        let e = dir_create(&sub, None, None, None, false).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "failed to create directory '{}': File exists",
                sub.display()
            )
        );
        let f = d.join("cfg.xml");
        write_atomic(&f, b"one", 0o600).unwrap();
        write_atomic(&f, b"two", 0o600).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"two");
        assert_eq!(std::fs::metadata(&f).unwrap().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 2);
        let (cap, avail) = fs_space(&d).unwrap();
        assert!(cap >= avail && cap > 0);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn sparse_file_sizes() {
        let d = tmp("sizes");
        let p = d.join("s");
        let mut f = create_file(&p, 0o600, None, None).unwrap();
        f.set_len(1 << 20).unwrap();
        safezero(&mut f, 0, 8192).unwrap();
        let s = sizes(&f.metadata().unwrap(), None).unwrap();
        assert_eq!((s.capacity, s.physical), (1 << 20, 1 << 20));
        assert!(s.allocation >= 8192 && s.allocation < 1 << 20, "{s:?}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
