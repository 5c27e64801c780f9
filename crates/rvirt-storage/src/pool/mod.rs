//! Storage pool backends on real files: `dir` (a directory), `fs` (a block device or image
//! file with a file system, mounted on the target) and `netfs` (a network export, mounted).
//!
//! This is the layer below [`crate::driver::StorageDriver`]: it knows how to build, start,
//! check, stop, list and delete a pool of a given type, and how to create, describe, clone,
//! wipe, resize and delete its volumes ([`volume`], with `qemu-img` command lines from
//! [`qemu_img`]). [`state`] keeps configurations and live state on disk. The driver above holds
//! the pool objects, their state machine, locking and events.

pub mod command;
pub mod dir;
pub mod error;
pub mod file;
pub mod fs;
pub mod qemu_img;
pub mod state;
pub mod transfer;
pub mod volume;

use rvirt_xml::storage::{PoolDef, PoolType};

pub use error::Error;
use error::Result;
pub use volume::Volume;

/// A pool type rvirt can serve (`virStorageBackend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `dir`.
    Dir,
    /// `fs`.
    Fs,
    /// `netfs`.
    Netfs,
}

/// `VIR_STORAGE_POOL_BUILD_*` flags the file-system backends accept.
pub use fs::{BUILD_NO_OVERWRITE, BUILD_OVERWRITE};

impl Backend {
    /// `virStorageBackendForType`: the backend of a pool type, or libvirt's error for a type
    /// this build does not serve.
    pub fn for_type(t: PoolType) -> Result<Backend> {
        match t {
            PoolType::Dir => Ok(Backend::Dir),
            PoolType::Fs => Ok(Backend::Fs),
            PoolType::Netfs => Ok(Backend::Netfs),
            _ => Err(Error::internal(format!(
                "missing backend for pool type {} ({})",
                t.index(),
                t.as_str()
            ))),
        }
    }

    /// `checkPool`: whether a pool found defined at driver start is running (its directory
    /// exists; its file system is mounted).
    pub fn check(self, def: &PoolDef) -> Result<bool> {
        match self {
            Backend::Dir => Ok(dir::exists(def)),
            Backend::Fs | Backend::Netfs => fs::is_active(def),
        }
    }

    /// `buildPool`: makes the target directory; for file-system pools with
    /// [`BUILD_OVERWRITE`] or [`BUILD_NO_OVERWRITE`], also the file system.
    pub fn build(self, def: &PoolDef, flags: u32) -> Result<()> {
        let allowed = BUILD_OVERWRITE | BUILD_NO_OVERWRITE;
        if flags & !allowed != 0 {
            return Err(Error::refused(
                rvirt_proto::error::code::INVALID_ARG,
                format!(
                    "unsupported flags (0x{:x}) in function virStorageBackendFileSystemBuild",
                    flags & !allowed
                ),
            ));
        }
        if flags & allowed == allowed {
            return Err(Error::refused(
                rvirt_proto::error::code::INVALID_ARG,
                "Flags 'VIR_STORAGE_POOL_BUILD_OVERWRITE' and \
                 'VIR_STORAGE_POOL_BUILD_NO_OVERWRITE' are mutually exclusive",
            ));
        }
        dir::build(def)?;
        if flags != 0 {
            // The dir backend shares this function in libvirt: asked to format, it looks for
            // a `<source><device>`, which a dir pool does not have, and says so.
            return fs::make_filesystem(def, flags);
        }
        Ok(())
    }

    /// `startPool`: mounts file-system pools.
    pub fn start(self, def: &PoolDef) -> Result<()> {
        match self {
            Backend::Dir => Ok(()),
            Backend::Fs | Backend::Netfs => fs::mount(def),
        }
    }

    /// `stopPool`: unmounts file-system pools.
    pub fn stop(self, def: &PoolDef) -> Result<()> {
        match self {
            Backend::Dir => Ok(()),
            Backend::Fs | Backend::Netfs => fs::unmount(def),
        }
    }

    /// `refreshPool`: the pool's volumes, and its sizes and target permissions filled in.
    pub fn refresh(self, def: &mut PoolDef) -> Result<Vec<Volume>> {
        dir::refresh(def)
    }

    /// `deletePool`: removes the target directory.
    pub fn delete(self, def: &PoolDef, flags: u32) -> Result<()> {
        dir::delete(def, flags)
    }
}
