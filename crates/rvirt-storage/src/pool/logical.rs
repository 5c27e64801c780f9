//! `logical` pools: an LVM volume group whose logical volumes are the pool's volumes —
//! libvirt 9.0's `storage_backend_logical.c`, driving the same LVM commands with the same
//! arguments and reading their output the same way ([`super::lvm_output`]).
//!
//! Building runs `pvcreate` on each source device (after zeroing its first and last MiB, and,
//! unless told to overwrite, refusing a device that already holds something) and `vgcreate`;
//! starting and stopping are `vgchange -aly` / `-aln`; deleting is `vgremove -f` and `pvremove`.
//! A refresh lists the active volumes with `lvs` (key: the LV's UUID; path
//! `<target>/<name>`, block type; a snapshot's origin as its backing store; sparse
//! `--virtualsize` volumes marked) and the group's size and free space with `vgs`. Volumes are
//! made with `lvcreate` when they are defined (no separate build step, as in libvirt), filled
//! from another volume by copying its bytes, wiped and transferred like any local block device.
//! libvirt has no resize for logical volumes, and neither has rvirt.
//!
//! The LVM tools are looked up where libvirt's build found them (`/sbin`, `/usr/sbin`,
//! `/usr/local/sbin`), then in `$PATH`, and run with the caller's environment plus
//! `LVM_SUPPRESS_FD_WARNINGS=1` (libvirt closes all other descriptors before running a program,
//! so LVM has none to warn about; Rust's children may inherit some from the daemon's parent).
//! LVM needs no udev: without a running udev it creates the `/dev/VG/LV` links itself.
//! Configuration beyond that goes through LVM's own environment (`LVM_SYSTEM_DIR` for another
//! `lvm.conf`), never through extra arguments, so the command lines stay libvirt's.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rvirt_proto::error::code;
use rvirt_xml::storage::pool::{PoolSource, SourceDevice};
use rvirt_xml::storage::vol::VolTarget;
use rvirt_xml::storage::{PoolDef, PoolType, VolDef};

use super::command::Cmd;
use super::error::{Error, Result};
use super::file::{find_in_path, DEFAULT_VOL_PERM_MODE};
use super::fs::{BUILD_NO_OVERWRITE, BUILD_OVERWRITE};
use super::lvm_output::{parse_lvs, parse_pvs, parse_vgs, LvRow};
use super::qemu_img::{self, fmt, vol_type};
use super::volume::{self, Volume, CREATE_REFLINK};

/// `VIR_STORAGE_POOL_LOGICAL_LVM2`: the pool's only source format, and (libvirt's quirk) the
/// format number it gives a snapshot's backing store, which is `raw`'s.
const LVM2: u32 = 1;
/// `VIR_STORAGE_ENCRYPTION_FORMAT_LUKS`.
const ENCRYPTION_LUKS: u32 = 2;
/// How much of each end of a device is zeroed before `pvcreate`.
const ZERO_LEN: u64 = 1024 * 1024;

/// The fields `lvs` is asked for, in libvirt's order.
const LVS_FIELDS: &str =
    "lv_name,origin,uuid,devices,segtype,stripes,seg_size,vg_extent_size,size,lv_attr";

/// An LVM tool, found where libvirt's build looks for it first.
fn tool(name: &str) -> Result<Cmd> {
    let program = ["/sbin", "/usr/sbin", "/usr/local/sbin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0))
        .or_else(|| find_in_path(name))
        .ok_or_else(|| Error::errno(format!("Cannot find '{name}' in path"), libc::ENOENT))?;
    Ok(Cmd {
        program,
        args: Vec::new(),
        env: Vec::new(),
    }
    .env("LVM_SUPPRESS_FD_WARNINGS", "1"))
}

fn vg_name(def: &PoolDef) -> &str {
    def.source.name.as_deref().unwrap_or("")
}

fn target(def: &PoolDef) -> &str {
    def.target_path.as_deref().unwrap_or("")
}

fn unsupported_flags(flags: u32, func: &str) -> Error {
    Error::refused(
        code::INVALID_ARG,
        format!("unsupported flags (0x{flags:x}) in function {func}"),
    )
}

// ---- pools ----

/// The volume groups in `pvs --noheadings -o pv_name,vg_name` output, each with its physical
/// volumes, in the order `pvs` lists them (`virStorageBackendLogicalFindPoolSourcesFunc`).
pub fn sources_from_pvs(out: &str) -> Vec<PoolSource> {
    let mut sources: Vec<PoolSource> = Vec::new();
    for (pv, vg) in parse_pvs(out) {
        let i = match sources.iter().position(|s| s.name.as_deref() == Some(&vg)) {
            Some(i) => i,
            None => {
                sources.push(PoolSource {
                    name: Some(vg),
                    ..Default::default()
                });
                sources.len() - 1
            }
        };
        sources[i].format = LVM2;
        sources[i].devices.push(SourceDevice {
            path: pv,
            part_separator: rvirt_xml::conf::Tristate::Absent,
            free_extents: Vec::new(),
        });
    }
    sources
}

/// `virStorageBackendLogicalGetPoolSources`: `vgscan` (its failure only makes the scan less
/// complete, as in libvirt), then the volume groups `pvs` reports.
pub fn pool_sources() -> Result<Vec<PoolSource>> {
    if let Ok(vgscan) = tool("vgscan") {
        let _ = vgscan.run();
    }
    let out = tool("pvs")?
        .args(["--noheadings", "-o", "pv_name,vg_name"])
        .run()?;
    Ok(sources_from_pvs(&out.stdout))
}

/// `virStoragePoolSourceListFormat` for logical pools: the `<sources>` document.
pub fn format_sources(sources: &[PoolSource]) -> String {
    let mut w = rvirt_xml::conf::Buf::new();
    w.open("<sources>");
    for s in sources {
        rvirt_xml::storage::pool::format_source(&mut w, PoolType::Logical, s);
    }
    w.close("sources");
    w.finish()
}

/// `virStorageBackendLogicalFindPoolSources`: the `<sources>` document listing every volume
/// group with its devices. (The driver interface has no `virConnectFindStoragePoolSources` yet;
/// this is what it will call.)
pub fn find_pool_sources(flags: u32) -> Result<String> {
    if flags != 0 {
        return Err(unsupported_flags(
            flags,
            "virStorageBackendLogicalFindPoolSources",
        ));
    }
    Ok(format_sources(&pool_sources()?))
}

/// `virStorageBackendLogicalMatchPoolSource`: the pool's volume group exists and, if the pool
/// names devices, at least one of them belongs to it.
pub fn match_pool_source(def: &PoolDef) -> Result<()> {
    let sources = pool_sources()?;
    let vg = vg_name(def);
    let Some(found) = sources.iter().find(|s| s.name.as_deref() == Some(vg)) else {
        return Err(Error::refused(
            code::CONFIG_UNSUPPORTED,
            format!("cannot find logical volume group name '{vg}'"),
        ));
    };
    if def.source.devices.is_empty() {
        return Ok(());
    }
    let matched = def
        .source
        .devices
        .iter()
        .any(|d| found.devices.iter().any(|f| f.path == d.path));
    if !matched {
        return Err(Error::refused(
            code::CONFIG_UNSUPPORTED,
            format!("cannot find any matching source devices for logical volume group '{vg}'"),
        ));
    }
    Ok(())
}

/// `virStorageBackendLogicalCheckPool`: running when the target directory exists and the group
/// is there with the pool's devices. A failed match only means "not running".
pub fn check(def: &PoolDef) -> bool {
    Path::new(target(def)).exists() && match_pool_source(def).is_ok()
}

/// `vgchange -aly|-aln VG`.
fn set_active(def: &PoolDef, on: bool) -> Result<()> {
    tool("vgchange")?
        .args([if on { "-aly" } else { "-aln" }, vg_name(def)])
        .run()?;
    Ok(())
}

/// `virStorageBackendLogicalStartPool`: checks the group and activates its volumes.
pub fn start(def: &PoolDef) -> Result<()> {
    match_pool_source(def)?;
    set_active(def, true)
}

/// `virStorageBackendLogicalStopPool`: deactivates the group's volumes (LVM refuses while one
/// is open).
pub fn stop(def: &PoolDef) -> Result<()> {
    set_active(def, false)
}

/// `storageBackendVolWipeLocalFile(path, ZERO, len, zero_end)`: writes `len` zero bytes at the
/// start (or the end) of `path`; a sparse regular file is truncated instead.
fn zero_region(path: &str, len: u64, zero_end: bool) -> Result<()> {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| {
            Error::sys(
                format!("Failed to open storage volume with path '{path}'"),
                &e,
            )
        })?;
    let meta = f.metadata().map_err(|e| {
        Error::sys(
            format!("Failed to stat storage volume with path '{path}'"),
            &e,
        )
    })?;
    if meta.is_file() && meta.blocks() < meta.size() / 512 {
        let size = meta.size();
        f.set_len(0).map_err(|e| {
            Error::sys(
                format!("Failed to truncate volume with path '{path}' to 0 bytes"),
                &e,
            )
        })?;
        return f.set_len(size).map_err(|e| {
            Error::sys(
                format!("Failed to truncate volume with path '{path}' to {size} bytes"),
                &e,
            )
        });
    }
    if zero_end {
        f.seek(SeekFrom::End(-(len as i64))).map_err(|e| {
            Error::sys(
                format!("Failed to seek to {len} bytes to the end in volume with path '{path}'"),
                &e,
            )
        })?;
    } else {
        f.seek(SeekFrom::Start(0)).map_err(|e| {
            Error::sys(
                format!("Failed to seek to the start in volume with path '{path}'"),
                &e,
            )
        })?;
    }
    super::volume::write_zeroes(&mut f, path, len, (meta.blksize() as usize).max(512))
}

/// `virStorageBackendLogicalInitializeDevice`: blanks both ends of the device (old partition
/// tables and LVM labels) and makes it a physical volume.
fn initialize_device(path: &str) -> Result<()> {
    zero_region(path, ZERO_LEN, false)?;
    zero_region(path, ZERO_LEN, true)?;
    tool("pvcreate")?.args([path]).run()?;
    Ok(())
}

/// `virStorageBackendLogicalRemoveDevice`: `pvremove`, whose failure is only logged.
fn remove_device(path: &str) {
    if let Ok(c) = tool("pvremove") {
        let _ = c.args([path]).run();
    }
}

/// `virStorageBackendLogicalBuildPool`: each device checked (unless [`BUILD_OVERWRITE`]),
/// blanked and made a physical volume, then the group created on all of them. On failure the
/// devices already initialized are released again (`pvremove`), so that a later build does
/// not need to force anything.
pub fn build(def: &PoolDef, flags: u32) -> Result<()> {
    let allowed = BUILD_OVERWRITE | BUILD_NO_OVERWRITE;
    if flags & !allowed != 0 {
        return Err(unsupported_flags(
            flags & !allowed,
            "virStorageBackendLogicalBuildPool",
        ));
    }
    if flags & allowed == allowed {
        return Err(Error::refused(
            code::INVALID_ARG,
            "Flags 'VIR_STORAGE_POOL_BUILD_OVERWRITE' and \
             'VIR_STORAGE_POOL_BUILD_NO_OVERWRITE' are mutually exclusive",
        ));
    }
    let devices: Vec<&str> = def.source.devices.iter().map(|d| d.path.as_str()).collect();
    let mut done = 0;
    let result = (|| -> Result<()> {
        let vgcreate = tool("vgcreate")?;
        for path in &devices {
            // blkid knows the label as "LVM2_member", not as the pool format "lvm2".
            if flags & BUILD_OVERWRITE == 0 {
                super::fs::device_is_empty(path, "LVM2_member")?;
            }
            initialize_device(path)?;
            done += 1;
        }
        vgcreate
            .args(std::iter::once(vg_name(def)).chain(devices.iter().copied()))
            .run()?;
        Ok(())
    })();
    if result.is_err() {
        for path in &devices[..done] {
            remove_device(path);
        }
    }
    result
}

/// `virStorageBackendLogicalDeletePool`: removes the group, then releases its devices.
pub fn delete(def: &PoolDef, flags: u32) -> Result<()> {
    if flags != 0 {
        return Err(unsupported_flags(
            flags,
            "virStorageBackendLogicalDeletePool",
        ));
    }
    tool("vgremove")?.args(["-f", vg_name(def)]).run()?;
    for d in &def.source.devices {
        remove_device(&d.path);
    }
    Ok(())
}

/// A volume of this pool as a refresh first meets it.
fn new_volume(name: &str) -> Volume {
    Volume {
        def: VolDef {
            name: name.to_string(),
            key: None,
            type_: vol_type::BLOCK,
            capacity: 0,
            allocation: 0,
            has_allocation: false,
            physical: 0,
            target: VolTarget::default(),
            backing: None,
            extents: Vec::new(),
        },
        backing_local: false,
        payload_offset: None,
        sparse: false,
    }
}

/// `virStorageBackendLogicalMakeVol` for one row that concerns `vol`: path, sparseness,
/// origin as backing store, key, what `stat` says about the device, the allocation LVM
/// reports, and the row's extents.
fn apply_row(pool: &PoolDef, row: &LvRow, vol: &mut Volume) -> Result<()> {
    let d = &mut vol.def;
    if d.target.path.is_none() {
        d.target.path = Some(format!("{}/{}", target(pool), d.name));
    }
    if row.attr.starts_with('s') {
        vol.sparse = true;
    }
    // A `--virtualsize` volume's origin is LVM-internal (`[name_vorigin]`): not a backing store.
    if !row.origin.is_empty() && !row.origin.starts_with('[') {
        d.backing = Some(VolTarget {
            path: Some(format!("{}/{}", target(pool), row.origin)),
            format: LVM2,
            ..Default::default()
        });
        vol.backing_local = true;
    }
    if d.key.is_none() {
        d.key = Some(row.uuid.clone());
    }
    volume::refresh(vol)?;
    vol.def.allocation = row
        .size
        .parse()
        .map_err(|_| Error::internal("malformed volume allocation value"))?;
    let extents = row.extents()?;
    vol.def.extents.extend(extents);
    Ok(())
}

/// `virStorageBackendLogicalFindLVs`: runs `lvs` on the group and applies its active rows
/// (thin pools left out) either to `only` (the rows named like it) or to `vols`, adding the
/// volumes met for the first time.
fn find_lvs(pool: &PoolDef, mut only: Option<&mut Volume>, vols: &mut Vec<Volume>) -> Result<()> {
    let out = tool("lvs")?
        .args([
            "--separator",
            "#",
            "--noheadings",
            "--units",
            "b",
            "--unbuffered",
            "--nosuffix",
            "--options",
            LVS_FIELDS,
            vg_name(pool),
        ])
        .run()?;
    for row in parse_lvs(&out.stdout) {
        let attr = row.attr.as_bytes();
        // Inactive volumes have no device; thin pools (`t`) have none either.
        if attr.get(4) != Some(&b'a') || attr.first() == Some(&b't') {
            continue;
        }
        if let Some(v) = only.as_deref_mut() {
            if v.def.name == row.name {
                apply_row(pool, &row, v)?;
            }
            continue;
        }
        match vols.iter_mut().find(|v| v.def.name == row.name) {
            Some(v) => apply_row(pool, &row, v)?,
            None => {
                let mut v = new_volume(&row.name);
                apply_row(pool, &row, &mut v)?;
                vols.push(v);
            }
        }
    }
    Ok(())
}

/// `virStorageBackendLogicalRefreshPool`: the active volumes, and the group's size (capacity),
/// free space (available) and the difference (allocation).
pub fn refresh(def: &mut PoolDef) -> Result<Vec<Volume>> {
    let mut vols = Vec::new();
    find_lvs(def, None, &mut vols)?;
    let out = tool("vgs")?
        .args([
            "--separator",
            ":",
            "--noheadings",
            "--units",
            "b",
            "--unbuffered",
            "--nosuffix",
            "--options",
            "vg_size,vg_free",
            vg_name(def),
        ])
        .run()?;
    for (size, free) in parse_vgs(&out.stdout)? {
        def.capacity = size;
        def.available = free;
        def.allocation = size.wrapping_sub(free);
    }
    Ok(vols)
}

// ---- volumes ----

/// The `lvcreate` arguments of `virStorageBackendLogicalLVCreate`: a volume whose allocation
/// differs from its capacity is a sparse snapshot of a virtual origin (`--type snapshot
/// --virtualsize`); one with a backing store is a snapshot of it (`-s`); sizes in KiB, rounded
/// up; a LUKS volume gets 2 MiB more for its header.
pub fn lvcreate_args(pool: &PoolDef, vol: &VolDef) -> Vec<String> {
    let mut args = vec!["--name".to_string(), vol.name.clone(), "-L".to_string()];
    let mut capacity = vol.capacity;
    if capacity != vol.allocation {
        args.push(format!("{}K", vol.allocation.max(1).div_ceil(1024)));
        args.extend(["--type", "snapshot", "--virtualsize"].map(String::from));
    }
    if vol.target.encryption.is_some() {
        capacity = capacity.wrapping_add(2 * 1024 * 1024);
    }
    args.push(format!("{}K", capacity.div_ceil(1024)));
    match vol.backing.as_ref().and_then(|b| b.path.as_deref()) {
        Some(b) => args.extend(["-s".to_string(), b.to_string()]),
        None => args.push(vg_name(pool).to_string()),
    }
    args.push("--yes".to_string());
    args
}

/// `virStorageBackendLogicalCreateVol`: makes the logical volume (`lvcreate`), gives its device
/// the owner and mode asked for, and describes it from `lvs`. A volume made here is removed
/// again if a later step fails.
pub fn create_vol(pool: &PoolDef, vol: &mut Volume) -> Result<()> {
    let d = &mut vol.def;
    d.type_ = vol_type::BLOCK;
    let path = format!("{}/{}", target(pool), d.name);
    d.target.path = Some(path.clone());
    if let Some(e) = &d.target.encryption {
        if e.format != ENCRYPTION_LUKS {
            return Err(Error::refused(
                code::CONFIG_UNSUPPORTED,
                "storage pool only supports LUKS encrypted volumes",
            ));
        }
        // libvirt formats the LUKS header with qemu-img and a secret from its secret driver.
        return Err(Error::refused(
            code::NO_SUPPORT,
            "encrypted volumes need the secret driver, which rvirt does not provide yet",
        ));
    }
    tool("lvcreate")?.args(lvcreate_args(pool, d)).run()?;
    let describe = |vol: &mut Volume| -> Result<()> {
        let f = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(&path)
            .map_err(|e| Error::sys(format!("cannot open volume '{path}'"), &e))?;
        let meta = f
            .metadata()
            .map_err(|e| Error::sys(format!("cannot stat file '{path}'"), &e))?;
        let ft = meta.file_type();
        if !ft.is_block_device() && !ft.is_file() {
            return Err(Error::internal(format!(
                "unexpected storage mode for '{path}'"
            )));
        }
        let p = &vol.def.target.perms;
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let uid = p.uid.unwrap_or(u32::MAX);
            let gid = p.gid.unwrap_or(u32::MAX);
            // SAFETY: fchown on a descriptor we own, with plain integer ids.
            if unsafe { libc::fchown(f.as_raw_fd(), uid, gid) } < 0 {
                return Err(Error::sys(
                    format!("cannot set file owner '{path}'"),
                    &std::io::Error::last_os_error(),
                ));
            }
        }
        let mode = p.mode.unwrap_or(DEFAULT_VOL_PERM_MODE);
        // SAFETY: fchmod on a descriptor we own.
        if unsafe { libc::fchmod(f.as_raw_fd(), mode as libc::mode_t) } < 0 {
            return Err(Error::sys(
                format!("cannot set file mode '{path}'"),
                &std::io::Error::last_os_error(),
            ));
        }
        drop(f);
        find_lvs(pool, Some(vol), &mut Vec::new()).map_err(|e| Error::System {
            what: format!("cannot find newly created volume '{path}'"),
            reason: e.to_string(),
        })
    };
    describe(vol).inspect_err(|_| {
        let _ = delete_vol(vol, 0);
    })
}

/// `storageBackendCreateBlockFrom`: copies `input`'s bytes (up to the new volume's capacity)
/// onto the new volume's device, then sets its owner and mode.
fn create_block_from(vol: &VolDef, input: &VolDef, flags: u32) -> Result<()> {
    let allowed = qemu_img::CREATE_PREALLOC_METADATA | CREATE_REFLINK;
    if flags & !allowed != 0 {
        return Err(unsupported_flags(
            flags & !allowed,
            "storageBackendCreateBlockFrom",
        ));
    }
    if flags & qemu_img::CREATE_PREALLOC_METADATA != 0 {
        return Err(Error::refused(
            code::CONFIG_UNSUPPORTED,
            "metadata preallocation is not supported for block volumes",
        ));
    }
    let path = vol.target.path.as_deref().unwrap_or("");
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::sys(format!("cannot create path '{path}'"), &e))?;
    let ipath = input.target.path.as_deref().unwrap_or("");
    volume::copy_to(
        &mut f,
        path,
        ipath,
        vol.capacity,
        false,
        flags & CREATE_REFLINK != 0,
    )?;
    let meta = f
        .metadata()
        .map_err(|e| Error::sys(format!("stat of '{path}' failed"), &e))?;
    let p = &vol.target.perms;
    let uid = p.uid.filter(|u| *u != meta.uid());
    let gid = p.gid.filter(|g| *g != meta.gid());
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::fchown(&f, uid, gid).map_err(|e| {
            Error::sys(
                format!(
                    "cannot chown '{path}' to ({}, {})",
                    uid.unwrap_or(u32::MAX),
                    gid.unwrap_or(u32::MAX)
                ),
                &e,
            )
        })?;
    }
    let mode = p.mode.unwrap_or(DEFAULT_VOL_PERM_MODE);
    // SAFETY: fchmod on a descriptor we own.
    if unsafe { libc::fchmod(f.as_raw_fd(), mode as libc::mode_t) } < 0 {
        return Err(Error::sys(
            format!("cannot set mode of '{path}' to {mode:04o}"),
            &std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// `virStorageBackendLogicalBuildVolFrom`: fills a new logical volume from `input`. Raw data
/// (block devices, raw files) is copied; converting another format would need `qemu-img` to
/// write into the device, which rvirt does not do.
pub fn build_vol_from(vol: &VolDef, input: &VolDef, flags: u32) -> Result<()> {
    let converts = input.type_ == vol_type::FILE
        && (input.target.format != fmt::RAW || input.target.encryption.is_some());
    if converts {
        return Err(Error::refused(
            code::NO_SUPPORT,
            format!(
                "cloning '{}' (format {}) into a logical volume needs a conversion, which rvirt \
                 does not support; convert it to raw first",
                input.name,
                qemu_img::format_name(input.target.format).unwrap_or("none")
            ),
        ));
    }
    create_block_from(vol, input, flags)
}

/// `virStorageBackendLogicalDeleteVol`: `lvremove -f`; if that fails, deactivates the volume
/// (`lvchange -aln`) and tries once more.
pub fn delete_vol(vol: &Volume, flags: u32) -> Result<()> {
    if flags != 0 {
        return Err(unsupported_flags(
            flags,
            "virStorageBackendLogicalDeleteVol",
        ));
    }
    let path = vol.path();
    let lvremove = tool("lvremove")?.args(["-f", path]);
    if lvremove.run().is_err() {
        tool("lvchange")?.args(["-aln", path]).run()?;
        lvremove.run()?;
    }
    Ok(())
}

/// `virStorageBackendLogicalVolWipe`: a sparse volume cannot be wiped (writing would fill its
/// snapshot store and invalidate it); any other is wiped like a local block device.
pub fn wipe_vol(vol: &Volume, algorithm: u32, flags: u32) -> Result<()> {
    if !vol.sparse {
        return volume::wipe(vol, algorithm, flags);
    }
    Err(Error::refused(
        code::NO_SUPPORT,
        format!(
            "logical volume '{}' is sparse, volume wipe not supported",
            vol.path()
        ),
    ))
}

/// Where the tools this backend runs were found (for messages and tests).
pub fn tool_path(name: &str) -> Option<PathBuf> {
    tool(name).ok().map(|c| c.program)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> PoolDef {
        PoolDef::parse(
            "<pool type='logical'><name>p</name><source><device path='/dev/loop9'/>\
             <name>vg0</name></source></pool>",
        )
        .unwrap()
    }

    fn vol(xml: &str) -> VolDef {
        VolDef::parse_with_flags(
            PoolType::Logical,
            xml,
            rvirt_xml::storage::vol::parse_flags::OPT_CAPACITY,
        )
        .unwrap()
    }

    #[test]
    fn defaults_follow_libvirt() {
        let p = pool();
        assert_eq!(p.target_path.as_deref(), Some("/dev/vg0"));
        assert_eq!(vg_name(&p), "vg0");
        let p = PoolDef::parse("<pool type='logical'><name>q</name></pool>").unwrap();
        assert_eq!(vg_name(&p), "q");
        assert_eq!(p.target_path.as_deref(), Some("/dev/q"));
    }

    #[test]
    fn lvcreate_arguments_follow_libvirt() {
        let p = pool();
        let v = vol("<volume><name>v1</name><capacity unit='M'>8</capacity></volume>");
        assert_eq!(
            lvcreate_args(&p, &v),
            ["--name", "v1", "-L", "8192K", "vg0", "--yes"]
        );
        let v = vol("<volume><name>v2</name><capacity unit='M'>8</capacity>\
             <allocation unit='b'>1000</allocation></volume>");
        assert_eq!(
            lvcreate_args(&p, &v),
            [
                "--name",
                "v2",
                "-L",
                "1K",
                "--type",
                "snapshot",
                "--virtualsize",
                "8192K",
                "vg0",
                "--yes"
            ]
        );
        let v = vol("<volume><name>v3</name><capacity unit='b'>1025</capacity>\
             <allocation>0</allocation></volume>");
        assert_eq!(
            lvcreate_args(&p, &v)[3..9],
            ["1K", "--type", "snapshot", "--virtualsize", "2K", "vg0"]
        );
        let v = vol("<volume><name>s</name><capacity unit='M'>4</capacity>\
             <backingStore><path>/dev/vg0/v1</path></backingStore></volume>");
        assert_eq!(
            lvcreate_args(&p, &v),
            ["--name", "s", "-L", "4096K", "-s", "/dev/vg0/v1", "--yes"]
        );
        let v = vol(
            "<volume><name>e</name><capacity unit='M'>4</capacity><target><encryption format='luks'/>\
             </target></volume>",
        );
        assert_eq!(lvcreate_args(&p, &v)[3], "6144K");
    }

    #[test]
    fn refusals_read_like_libvirt() {
        let p = pool();
        assert_eq!(
            build(&p, BUILD_OVERWRITE | BUILD_NO_OVERWRITE)
                .unwrap_err()
                .message(),
            "invalid argument: Flags 'VIR_STORAGE_POOL_BUILD_OVERWRITE' and \
             'VIR_STORAGE_POOL_BUILD_NO_OVERWRITE' are mutually exclusive"
        );
        assert_eq!(
            build(&p, 1).unwrap_err().message(),
            "invalid argument: unsupported flags (0x1) in function \
             virStorageBackendLogicalBuildPool"
        );
        assert_eq!(
            delete(&p, 2).unwrap_err().message(),
            "invalid argument: unsupported flags (0x2) in function \
             virStorageBackendLogicalDeletePool"
        );
        let mut v = new_volume("x");
        v.def.target.path = Some("/dev/vg0/x".into());
        v.sparse = true;
        let e = wipe_vol(&v, 0, 0).unwrap_err();
        assert_eq!(
            e.message(),
            "this function is not supported by the connection driver: \
             logical volume '/dev/vg0/x' is sparse, volume wipe not supported"
        );
        let mut v = vol(
            "<volume><name>e</name><capacity unit='M'>4</capacity><target><encryption format='qcow'/>\
             </target></volume>",
        );
        let mut vv = Volume {
            def: v.clone(),
            backing_local: false,
            payload_offset: None,
            sparse: false,
        };
        assert_eq!(
            create_vol(&p, &mut vv).unwrap_err().message(),
            "unsupported configuration: storage pool only supports LUKS encrypted volumes"
        );
        v.target.path = Some("/nonexistent-rvirt/v".into());
        let mut input = v.clone();
        input.type_ = vol_type::FILE;
        input.target.format = 14;
        input.target.encryption = None;
        assert!(build_vol_from(&v, &input, 0)
            .unwrap_err()
            .message()
            .contains("format qcow2"));
        input.target.format = fmt::RAW;
        assert_eq!(
            build_vol_from(&v, &input, 1).unwrap_err().message(),
            "unsupported configuration: metadata preallocation is not supported for block \
             volumes"
        );
        assert_eq!(
            build_vol_from(&v, &input, 0).unwrap_err().message(),
            "cannot create path '/nonexistent-rvirt/v': No such file or directory"
        );
    }

    /// `lvs` rows applied to volumes as a refresh applies them, with regular files standing in
    /// for the devices (no device-mapper needed).
    #[test]
    fn rows_make_volumes_like_libvirt() {
        let dir = std::env::temp_dir().join(format!("rvirt-logical-rows-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (n, size) in [("data", 8u64 << 20), ("snap", 8 << 20), ("sp", 16 << 20)] {
            std::fs::File::create(dir.join(n))
                .unwrap()
                .set_len(size)
                .unwrap();
        }
        let mut pool = pool();
        pool.target_path = Some(dir.display().to_string());
        let out = "  data##AAAAAA-2rhb-w3Bo-3mdR-WeoL-pytO-SAa2ky#/dev/loop9(0)#linear#1#4194304#4194304#8388608#owi-a-----\n\
                   data##AAAAAA-2rhb-w3Bo-3mdR-WeoL-pytO-SAa2ky#/dev/loop9(5)#linear#1#4194304#4194304#8388608#owi-a-----\n\
                   snap#data#BBBBBB-2rhb-w3Bo-3mdR-WeoL-pytO-SAa2ky#/dev/loop9(2)#linear#1#4194304#4194304#4194304#swi-a-s---\n\
                   sp#[sp_vorigin]#CCCCCC-2rhb-w3Bo-3mdR-WeoL-pytO-SAa2ky#/dev/loop9(3)#linear#1#4194304#4194304#4194304#swi-a-s---\n\
                   tp##DDDDDD-2rhb-w3Bo-3mdR-WeoL-pytO-SAa2ky#tp_tdata(0)#thin-pool#1#4194304#4194304#4194304#twi-a-tz--\n\
                   off##EEEEEE-2rhb-w3Bo-3mdR-WeoL-pytO-SAa2ky#/dev/loop9(9)#linear#1#4194304#4194304#4194304#-wi-------\n";
        let mut vols: Vec<Volume> = Vec::new();
        for row in parse_lvs(out) {
            let attr = row.attr.as_bytes();
            if attr.get(4) != Some(&b'a') || attr.first() == Some(&b't') {
                continue;
            }
            match vols.iter_mut().find(|v| v.def.name == row.name) {
                Some(v) => apply_row(&pool, &row, v).unwrap(),
                None => {
                    let mut v = new_volume(&row.name);
                    apply_row(&pool, &row, &mut v).unwrap();
                    vols.push(v);
                }
            }
        }
        assert_eq!(vols.len(), 3);
        let data = &vols[0];
        assert_eq!(data.path(), format!("{}/data", dir.display()));
        assert_eq!(
            data.def.key.as_deref(),
            Some("AAAAAA-2rhb-w3Bo-3mdR-WeoL-pytO-SAa2ky")
        );
        assert_eq!((data.def.capacity, data.def.allocation), (8 << 20, 8 << 20));
        assert_eq!(
            data.def.extents,
            [
                ("/dev/loop9".to_string(), 0, 4 << 20),
                ("/dev/loop9".to_string(), 20 << 20, 24 << 20)
            ]
        );
        assert!(!data.sparse && data.def.backing.is_none());
        let snap = &vols[1];
        assert_eq!((snap.def.capacity, snap.def.allocation), (8 << 20, 4 << 20));
        let b = snap.def.backing.as_ref().unwrap();
        assert_eq!(b.path, Some(format!("{}/data", dir.display())));
        assert_eq!(b.format, LVM2);
        assert!(b.perms.mode.is_some(), "the backing store is stat'ed");
        assert!(snap.sparse);
        let sp = &vols[2];
        assert!(sp.sparse && sp.def.backing.is_none());
        assert_eq!((sp.def.capacity, sp.def.allocation), (16 << 20, 4 << 20));
        let x = sp.def.format(PoolType::Logical);
        assert!(
            x.starts_with("<volume type='block'>\n  <name>sp</name>\n  <key>CCCCCC-"),
            "{x}"
        );
        assert!(!x.contains("<format"), "{x}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn pool_sources_format_like_libvirt() {
        let out = "  /dev/loop0 vga\n  /dev/loop3          \n  /dev/loop1 vgb\n  /dev/loop2 vga\n";
        // What Debian's libvirtd printed for `virsh find-storage-pool-sources logical` with the
        // first line alone.
        assert_eq!(
            format_sources(&sources_from_pvs(&out[..19])),
            "<sources>\n  <source>\n    <device path='/dev/loop0'/>\n    <name>vga</name>\n    \
             <format type='lvm2'/>\n  </source>\n</sources>\n"
        );
        let s = sources_from_pvs(out);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name.as_deref(), Some("vga"));
        let devs: Vec<&str> = s[0].devices.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(devs, ["/dev/loop0", "/dev/loop2"]);
        assert_eq!(s[1].devices[0].path, "/dev/loop1");
    }

    /// Cloning into a logical volume copies the bytes onto the device and sets its mode (a
    /// regular file stands in for the device).
    #[test]
    fn clone_copies_bytes_and_sets_the_mode() {
        let dir = std::env::temp_dir().join(format!("rvirt-logical-clone-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 249) as u8).collect();
        std::fs::write(dir.join("in"), &data).unwrap();
        std::fs::write(dir.join("out"), vec![0xeeu8; 400_000]).unwrap();
        let mut input = new_volume("in").def;
        input.type_ = vol_type::FILE;
        input.target.format = fmt::RAW;
        input.target.path = Some(dir.join("in").display().to_string());
        input.capacity = data.len() as u64;
        let mut out = new_volume("out").def;
        out.target.path = Some(dir.join("out").display().to_string());
        out.capacity = 400_000;
        out.target.perms.mode = Some(0o640);
        build_vol_from(&out, &input, 0).unwrap();
        let got = std::fs::read(dir.join("out")).unwrap();
        assert_eq!(&got[..data.len()], &data[..]);
        assert!(
            got[data.len()..].iter().all(|b| *b == 0xee),
            "the rest is untouched"
        );
        let mode = std::fs::metadata(dir.join("out")).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o640);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn zeroing_both_ends() {
        let p = std::env::temp_dir().join(format!("rvirt-logical-zero-{}", std::process::id()));
        std::fs::write(&p, vec![0xffu8; 3 << 20]).unwrap();
        let s = p.to_str().unwrap();
        zero_region(s, ZERO_LEN, false).unwrap();
        zero_region(s, ZERO_LEN, true).unwrap();
        let b = std::fs::read(&p).unwrap();
        assert_eq!(b.len(), 3 << 20);
        assert!(b[..1 << 20].iter().all(|x| *x == 0));
        assert!(b[1 << 20..2 << 20].iter().all(|x| *x == 0xff));
        assert!(b[2 << 20..].iter().all(|x| *x == 0));
        std::fs::remove_file(&p).unwrap();
    }
}
