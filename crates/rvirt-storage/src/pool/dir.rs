//! The directory part every file-based pool shares (libvirt's `virStorageBackendBuildLocal`,
//! `DeleteLocal`, `RefreshLocal`): making the target directory with the configured owner and
//! mode, removing it, and listing it — every entry becomes a volume — with the file system's
//! size as the pool's capacity. A `dir` pool is only this.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rvirt_proto::error::code;
use rvirt_xml::conf::Tristate;
use rvirt_xml::storage::{PoolDef, PoolType};

use super::error::{Error, Result};
use super::file::{self, DEFAULT_POOL_PERM_MODE};
use super::volume::{self, Volume};

fn target(def: &PoolDef) -> &str {
    def.target_path.as_deref().unwrap_or("")
}

/// `virStorageBackendBuildLocal`: creates the target directory (and its parents), or fixes
/// the owner and mode of an existing one, then applies the `cow` feature.
pub fn build(def: &PoolDef) -> Result<()> {
    let path = target(def);
    let Some(slash) = path.rfind('/') else {
        return Err(Error::refused(
            code::INVALID_ARG,
            format!("path '{path}' is not absolute"),
        ));
    };
    if slash > 0 {
        let parent = &path[..slash];
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::sys(format!("cannot create path '{parent}'"), &e))?;
    }
    let p = &def.target_perms;
    let needs_create_as_uid = def.type_ == PoolType::Netfs;
    let mut mode = p.mode;
    if mode.is_none() && (needs_create_as_uid || !Path::new(path).exists()) {
        mode = Some(DEFAULT_POOL_PERM_MODE);
    }
    file::dir_create(Path::new(path), mode, p.uid, p.gid, true)?;
    let cow = match def.cow {
        Tristate::Absent => None,
        Tristate::Yes => Some(true),
        Tristate::No => Some(false),
    };
    file::set_cow(Path::new(path), cow)
}

/// `virStorageBackendDeleteLocal`: removes the (empty) target directory.
pub fn delete(def: &PoolDef, flags: u32) -> Result<()> {
    if flags != 0 {
        return Err(Error::refused(
            code::INVALID_ARG,
            format!("unsupported flags (0x{flags:x}) in function virStorageBackendDeleteLocal"),
        ));
    }
    let path = target(def);
    std::fs::remove_dir(path).map_err(|e| Error::sys(format!("failed to remove pool '{path}'"), &e))
}

/// Whether a `dir` pool's directory exists (`virStorageBackendFileSystemCheck`).
pub fn exists(def: &PoolDef) -> bool {
    Path::new(target(def)).exists()
}

/// `virStorageBackendRefreshLocal`: every entry of the target directory that can be a volume
/// (regular file, block device, directory; names without control characters), in name order;
/// the pool's capacity, allocation and free space from `statvfs`, and the directory's owner and
/// mode as the target's permissions.
pub fn refresh(def: &mut PoolDef) -> Result<Vec<Volume>> {
    let path = target(def).to_string();
    let rd = std::fs::read_dir(&path)
        .map_err(|e| Error::sys(format!("cannot open directory '{path}'"), &e))?;
    let mut names = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| Error::sys(format!("Unable to read directory '{path}'"), &e))?;
        let name = ent.file_name().to_string_lossy().into_owned();
        if name.bytes().any(|c| (1..0x20).contains(&c)) {
            continue;
        }
        names.push(name);
    }
    names.sort();
    let mut vols = Vec::with_capacity(names.len());
    for name in names {
        if let Some(v) = volume::scan(def.type_, &path, &name)? {
            vols.push(v);
        }
    }
    let meta = std::fs::metadata(&path)
        .map_err(|e| Error::sys(format!("cannot stat path '{path}'"), &e))?;
    let (capacity, available) = file::fs_space(Path::new(&path))?;
    def.capacity = capacity;
    def.available = available;
    def.allocation = capacity - available;
    def.target_perms.mode = Some(meta.mode() & 0o777);
    def.target_perms.uid = Some(meta.uid());
    def.target_perms.gid = Some(meta.gid());
    def.target_perms.label = None;
    Ok(vols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_targets_are_refused() {
        let def = PoolDef::parse(
            "<pool type='dir'><name>p</name><target><path>rel</path></target></pool>",
        )
        .unwrap();
        let e = build(&def).unwrap_err();
        assert_eq!(e.message(), "invalid argument: path 'rel' is not absolute");
    }

    #[test]
    fn build_refresh_delete() {
        let dir = std::env::temp_dir().join(format!("rvirt-dirpool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let t = dir.join("a/b");
        let mut def = PoolDef::parse(&format!(
            "<pool type='dir'><name>p</name><target><path>{}</path></target></pool>",
            t.display()
        ))
        .unwrap();
        build(&def).unwrap();
        assert_eq!(std::fs::metadata(&t).unwrap().mode() & 0o777, 0o711);
        std::fs::write(t.join("v1"), b"hello").unwrap();
        std::fs::write(t.join("bad\x01name"), b"").unwrap();
        let vols = refresh(&mut def).unwrap();
        assert_eq!(vols.len(), 1);
        assert_eq!(vols[0].def.capacity, 5);
        assert_eq!(def.target_perms.mode, Some(0o711));
        assert!(def.capacity >= def.available && def.capacity > 0);
        let e = delete(&def, 0).unwrap_err();
        assert!(
            e.message().starts_with("failed to remove pool"),
            "{}",
            e.message()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
