//! Storage pool backends: `dir` (a directory), `fs` (a block device or image file with a file
//! system, mounted on the target), `netfs` (a network export, mounted) and `logical` (an LVM
//! volume group, [`logical`]).
//!
//! This is the layer below [`crate::driver::StorageDriver`]: it knows how to build, start,
//! check, stop, list and delete a pool of a given type, and how to create, describe, clone,
//! wipe, resize and delete its volumes ([`volume`] for files, with `qemu-img` command lines from
//! [`qemu_img`]; [`logical`] for LVM volumes). [`Backend`] picks the implementation per pool
//! type, as libvirt's `virStorageBackend` table does. [`state`] keeps configurations and live
//! state on disk. The driver above holds the pool objects, their state machine, locking and
//! events.

pub mod command;
pub mod dir;
pub mod error;
pub mod file;
pub mod fs;
pub mod logical;
pub mod lvm_output;
pub mod qemu_img;
pub mod state;
pub mod transfer;
pub mod volume;

use rvirt_xml::storage::{PoolDef, PoolType, VolDef};

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
    /// `logical`.
    Logical,
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
            PoolType::Logical => Ok(Backend::Logical),
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
            Backend::Logical => Ok(logical::check(def)),
        }
    }

    /// `buildPool`: makes the target directory; for file-system pools with
    /// [`BUILD_OVERWRITE`] or [`BUILD_NO_OVERWRITE`], also the file system.
    pub fn build(self, def: &PoolDef, flags: u32) -> Result<()> {
        if self == Backend::Logical {
            return logical::build(def, flags);
        }
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
            Backend::Logical => logical::start(def),
        }
    }

    /// `stopPool`: unmounts file-system pools.
    pub fn stop(self, def: &PoolDef) -> Result<()> {
        match self {
            Backend::Dir => Ok(()),
            Backend::Fs | Backend::Netfs => fs::unmount(def),
            Backend::Logical => logical::stop(def),
        }
    }

    /// `refreshPool`: the pool's volumes, and its sizes and target permissions filled in.
    pub fn refresh(self, def: &mut PoolDef) -> Result<Vec<Volume>> {
        match self {
            Backend::Logical => logical::refresh(def),
            _ => dir::refresh(def),
        }
    }

    /// `deletePool`: removes the target directory (the volume group and its physical volumes
    /// for `logical`).
    pub fn delete(self, def: &PoolDef, flags: u32) -> Result<()> {
        match self {
            Backend::Logical => logical::delete(def, flags),
            _ => dir::delete(def, flags),
        }
    }

    /// Whether the backend has a separate step that writes a new volume's data (`buildVol`);
    /// without one, a volume needs a capacity when it is created.
    pub fn builds_volumes(self) -> bool {
        self != Backend::Logical
    }

    /// `createVol`: gives a new volume its type, path and key; `logical` makes the logical
    /// volume here already.
    pub fn vol_create(self, pool: &PoolDef, vol: &mut Volume) -> Result<()> {
        match self {
            Backend::Logical => logical::create_vol(pool, vol),
            _ => volume::create_local(pool, vol),
        }
    }

    /// `buildVol` / `buildVolFrom`: writes the new volume (from `input` when cloning). A
    /// `logical` volume exists already, so only a clone has work to do.
    pub fn vol_build(
        self,
        pool: &PoolDef,
        vol: &VolDef,
        input: Option<&VolDef>,
        flags: u32,
    ) -> Result<()> {
        match (self, input) {
            (Backend::Logical, Some(input)) => logical::build_vol_from(vol, input, flags),
            (Backend::Logical, None) => Ok(()),
            _ => volume::build(pool, vol, input, flags),
        }
    }

    /// `refreshVol`: re-reads a volume's sizes (libvirt's `logical` backend has none: its
    /// volumes are described by pool refreshes).
    pub fn vol_refresh(self, vol: &mut Volume) -> Result<()> {
        match self {
            Backend::Logical => Ok(()),
            _ => volume::refresh(vol),
        }
    }

    /// Describes a volume again after its data was rewritten (wipe, upload): file volumes are
    /// probed anew, as a pool refresh would; a logical volume's description does not depend
    /// on its data.
    pub fn vol_rescan(self, vol: &mut Volume) -> Result<()> {
        match self {
            Backend::Logical => Ok(()),
            _ => volume::probe(vol).map(|_| ()),
        }
    }

    /// `deleteVol`.
    pub fn vol_delete(self, vol: &Volume, flags: u32) -> Result<()> {
        match self {
            Backend::Logical => logical::delete_vol(vol, flags),
            _ => volume::delete(vol, flags),
        }
    }

    /// `wipeVol`.
    pub fn vol_wipe(self, vol: &Volume, algorithm: u32, flags: u32) -> Result<()> {
        match self {
            Backend::Logical => logical::wipe_vol(vol, algorithm, flags),
            _ => volume::wipe(vol, algorithm, flags),
        }
    }

    /// `resizeVol`: libvirt 9.0's `logical` backend has none.
    pub fn vol_resize(self, vol: &Volume, capacity: u64, flags: u32) -> Result<()> {
        match self {
            Backend::Logical => Err(Error::refused(
                rvirt_proto::error::code::NO_SUPPORT,
                "storage pool does not support changing of volume capacity",
            )),
            _ => volume::resize(vol, capacity, flags),
        }
    }
}
