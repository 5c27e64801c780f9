//! The storage driver: libvirt 9.0's `storage_driver.c` over real files, as an
//! [`rvirt::Driver`] (its storage pool and volume methods; everything else answers "not
//! supported" through the trait's defaults).
//!
//! It owns the pool objects (`virStoragePoolObj`: live and pending definition, active /
//! starting flags, autostart, volumes) and their state machine, with libvirt's checks, error
//! codes and messages and storage pool events. The work on files is done by [`crate::pool`].
//! State on disk is the truth: persistent pools are configuration files, running pools have a
//! state file, and [`StorageDriver::open`] rebuilds everything from them — pools that were
//! running and still are (directory present, file system mounted) come back running.
//!
//! Every call runs on a blocking thread, never on the caller's task. One lock guards all pools;
//! it is not held while a volume's data is written (`qemu-img`, copies, wiping) or while a file
//! system is mounted or made: the volume is marked "building" / "in use", or the pool
//! "starting", so conflicting calls are refused meanwhile, as in libvirt.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use rvirt::error::{code, domain as errdom};
use rvirt::types::*;
use rvirt::{Driver, Error, Result};
use rvirt_xml::conf::{sanitize_path, uuid_format};
use rvirt_xml::storage::vol::parse_flags;
use rvirt_xml::storage::{PoolDef, PoolType, VolDef};
use tokio::sync::broadcast;

use crate::pool::state::{self, Dirs, DriverLock};
use crate::pool::transfer;
use crate::pool::volume::{Volume, RESIZE_ALLOCATE, RESIZE_DELTA, RESIZE_SHRINK};
use crate::pool::{self, Backend};
use rvirt::driver::vol_stream;
use rvirt::stream::{self, StreamSink, StreamSource};

/// `virStoragePoolEventLifecycleType`.
pub mod pool_event {
    /// Defined.
    pub const DEFINED: i32 = 0;
    /// Undefined.
    pub const UNDEFINED: i32 = 1;
    /// Started.
    pub const STARTED: i32 = 2;
    /// Stopped.
    pub const STOPPED: i32 = 3;
    /// Built.
    pub const CREATED: i32 = 4;
    /// Deleted.
    pub const DELETED: i32 = 5;
}

/// `VIR_STORAGE_POOL_CREATE_WITH_BUILD*`.
const CREATE_WITH_BUILD: u32 = 1 << 0;
const CREATE_WITH_BUILD_OVERWRITE: u32 = 1 << 1;
const CREATE_WITH_BUILD_NO_OVERWRITE: u32 = 1 << 2;
/// `VIR_STORAGE_POOL_DEFINE_VALIDATE`.
const DEFINE_VALIDATE: u32 = 1 << 0;
/// `VIR_STORAGE_XML_INACTIVE`.
const XML_INACTIVE: u32 = 1 << 0;
/// `VIR_STORAGE_VOL_CREATE_*`.
const VOL_CREATE_PREALLOC_METADATA: u32 = 1 << 0;
const VOL_CREATE_REFLINK: u32 = 1 << 1;
const VOL_CREATE_VALIDATE: u32 = 1 << 2;
/// `VIR_STORAGE_VOL_GET_PHYSICAL`.
const VOL_GET_PHYSICAL: u32 = 1 << 0;
/// `VIR_CONNECT_LIST_STORAGE_POOLS_FILTERS_ALL`.
const LIST_FILTERS_ALL: u32 = 0xfffff;
/// `VIR_STORAGE_VOL_WIPE_ALG_LAST`.
const WIPE_ALG_LAST: u32 = 10;

/// One volume of a running pool.
struct VolObj {
    vol: Volume,
    /// Its file is being written by a create call.
    building: bool,
    /// Other calls read or write its data (clone source, wipe).
    in_use: u32,
}

impl VolObj {
    /// libvirt's refusal while a create call is still writing the volume.
    fn ensure_built(&self, name: &str) -> Result<()> {
        if self.building {
            return Err(Error::operation_invalid(
                errdom::STORAGE,
                format!("volume '{name}' is still being allocated."),
            ));
        }
        Ok(())
    }

    /// libvirt's refusals while another call uses the volume's data or it is being built.
    fn ensure_idle(&self, name: &str) -> Result<()> {
        if self.in_use > 0 {
            return Err(Error::operation_invalid(
                errdom::STORAGE,
                format!("volume '{name}' is still in use."),
            ));
        }
        self.ensure_built(name)
    }
}

/// One pool (`virStoragePoolObj`).
struct PoolObj {
    def: PoolDef,
    /// A definition saved while the pool runs, used once it stops.
    new_def: Option<PoolDef>,
    config_file: Option<PathBuf>,
    autostart_link: Option<PathBuf>,
    active: bool,
    starting: bool,
    autostart: bool,
    /// Calls working on volumes without the lock.
    asyncjobs: u32,
    vols: Vec<VolObj>,
}

impl PoolObj {
    fn new(def: PoolDef) -> PoolObj {
        PoolObj {
            def,
            new_def: None,
            config_file: None,
            autostart_link: None,
            active: false,
            starting: false,
            autostart: false,
            asyncjobs: 0,
            vols: Vec::new(),
        }
    }

    fn identity(&self) -> PoolRef {
        PoolRef {
            name: self.def.name.clone(),
            uuid: rvirt_proto::xdr::FixedOpaque(self.def.uuid),
        }
    }

    fn vol_ref(&self, v: &VolObj) -> VolRef {
        VolRef {
            pool: self.def.name.clone(),
            name: v.vol.def.name.clone(),
            key: v.vol.def.key.clone().unwrap_or_default(),
        }
    }

    fn is_autostart(&self) -> bool {
        self.config_file.is_some() && self.autostart
    }

    fn vol_index(&self, name: &str) -> Option<usize> {
        self.vols.iter().position(|v| v.vol.def.name == name)
    }

    fn backend(&self) -> Result<Backend> {
        Ok(Backend::for_type(self.def.type_)?)
    }
}

/// The driver's configuration: where it keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Configuration, autostart and state directories.
    pub dirs: Dirs,
    /// Start autostart pools when the driver starts (once per boot, as libvirt).
    pub autostart: bool,
}

struct Inner {
    dirs: Dirs,
    pools: Mutex<Vec<PoolObj>>,
    events: broadcast::Sender<Event>,
    warnings: Mutex<Vec<String>>,
    _lock: DriverLock,
}

/// The storage driver over real files. Cheap to clone; all clones share one state.
#[derive(Clone)]
pub struct StorageDriver {
    inner: Arc<Inner>,
}

fn not_active(name: &str) -> Error {
    Error::operation_invalid(
        errdom::STORAGE,
        format!("storage pool '{name}' is not active"),
    )
}

fn check_flags(flags: u32, allowed: u32, func: &str) -> Result<()> {
    if flags & !allowed != 0 {
        return Err(Error::invalid_arg(
            errdom::STORAGE,
            format!(
                "unsupported flags (0x{:x}) in function {func}",
                flags & !allowed
            ),
        ));
    }
    Ok(())
}

fn uuid_str(u: &Uuid) -> String {
    uuid_to_string(u)
}

fn no_pool_uuid(uuid: &Uuid, name: Option<&str>) -> Error {
    let detail = match name {
        Some(n) => format!(
            "no storage pool with matching uuid '{}' ({n})",
            uuid_str(uuid)
        ),
        None => format!("no storage pool with matching uuid '{}'", uuid_str(uuid)),
    };
    Error::new(code::NO_STORAGE_POOL, errdom::STORAGE, detail)
}

fn no_pool_name(name: &str) -> Error {
    Error::new(
        code::NO_STORAGE_POOL,
        errdom::STORAGE,
        format!("no storage pool with matching name '{name}'"),
    )
}

fn no_vol_name(name: &str) -> Error {
    Error::new(
        code::NO_STORAGE_VOL,
        errdom::STORAGE,
        format!("no storage vol with matching name '{name}'"),
    )
}

fn still(what: &str, name: &str) -> Error {
    Error::operation_invalid(errdom::STORAGE, format!("storage pool '{name}' is {what}"))
}

fn async_jobs(name: &str) -> Error {
    Error::internal(
        errdom::STORAGE,
        format!("pool '{name}' has asynchronous jobs running."),
    )
}

fn by_uuid(pools: &[PoolObj], uuid: &Uuid, name: Option<&str>) -> Result<usize> {
    pools
        .iter()
        .position(|p| p.def.uuid == uuid.0)
        .ok_or_else(|| no_pool_uuid(uuid, name))
}

fn by_name(pools: &[PoolObj], name: &str) -> Result<usize> {
    pools
        .iter()
        .position(|p| p.def.name == name)
        .ok_or_else(|| no_pool_name(name))
}

/// `virStoragePoolObjFromStoragePool`.
fn from_ref(pools: &[PoolObj], r: &PoolRef) -> Result<usize> {
    by_uuid(pools, &r.uuid, Some(&r.name))
}

/// `virStorageVolDefFromVol`: the running pool named by the volume and the volume in it.
fn vol_of(pools: &[PoolObj], v: &VolRef) -> Result<(usize, usize)> {
    let i = by_name(pools, &v.pool)?;
    let p = &pools[i];
    if !p.active {
        return Err(not_active(&p.def.name));
    }
    let j = p.vol_index(&v.name).ok_or_else(|| no_vol_name(&v.name))?;
    Ok((i, j))
}

/// `storageVolLookupByPath` over the running pools.
fn vol_by_path(pools: &[PoolObj], path: &str) -> Result<VolRef> {
    let clean = sanitize_path(path);
    for p in pools.iter().filter(|p| p.active) {
        if let Some(v) = p.vols.iter().find(|v| v.vol.path() == clean) {
            return Ok(p.vol_ref(v));
        }
    }
    let detail = if clean == path {
        format!("no storage vol with matching path '{path}'")
    } else {
        format!("no storage vol with matching path '{path}' ({clean})")
    };
    Err(Error::new(code::NO_STORAGE_VOL, errdom::STORAGE, detail))
}

fn single_host_match(a: &PoolDef, b: &PoolDef) -> bool {
    let (pa, pb) = (&a.source.hosts, &b.source.hosts);
    if pa.len() != 1 && pb.len() != 1 {
        return false;
    }
    let (Some(ha), Some(hb)) = (pa.first(), pb.first()) else {
        return false;
    };
    if hb.port != 0 && ha.port != hb.port {
        return false;
    }
    ha.name == hb.name
}

/// `virStoragePoolObjSourceFindDuplicateCb` for the types this driver serves and those that
/// might be defined beside them.
fn same_source(obj: &PoolDef, def: &PoolDef) -> bool {
    use PoolType::*;
    let devices = || {
        obj.source
            .devices
            .iter()
            .any(|x| def.source.devices.iter().any(|y| x.path == y.path))
    };
    match obj.type_ {
        Dir if def.type_ == Dir => obj.target_path == def.target_path,
        Netfs if def.type_ == Netfs => {
            obj.source.dir == def.source.dir && single_host_match(obj, def)
        }
        Iscsi | Fs | Logical | Disk | Zfs
            if matches!(def.type_, Iscsi | Fs | Logical | Disk | Zfs) =>
        {
            if obj.type_ == Iscsi || def.type_ == Iscsi {
                false
            } else {
                devices()
            }
        }
        Mpath => def.type_ == Mpath,
        _ => false,
    }
}

/// The `VIR_CONNECT_LIST_STORAGE_POOLS_<TYPE>` bit of a pool type.
fn type_flag(t: PoolType) -> u32 {
    use PoolType::*;
    1 << match t {
        Dir => 6,
        Fs => 7,
        Netfs => 8,
        Logical => 9,
        Disk => 10,
        Iscsi => 11,
        Scsi => 12,
        Mpath => 13,
        Rbd => 14,
        Sheepdog => 15,
        Gluster => 16,
        Zfs => 17,
        Vstorage => 18,
        IscsiDirect => 19,
    }
}

/// `virStoragePoolObjMatch`.
fn matches(p: &PoolObj, flags: u32) -> bool {
    use list_pools::*;
    let pick = |set: u32, yes: u32, no: u32, v: bool| {
        flags & set == 0 || (flags & yes != 0 && v) || (flags & no != 0 && !v)
    };
    let types = LIST_FILTERS_ALL & !0x3f;
    pick(ACTIVE | INACTIVE, ACTIVE, INACTIVE, p.active)
        && pick(
            PERSISTENT | TRANSIENT,
            PERSISTENT,
            TRANSIENT,
            p.config_file.is_some(),
        )
        && pick(
            AUTOSTART | NO_AUTOSTART,
            AUTOSTART,
            NO_AUTOSTART,
            p.is_autostart(),
        )
        && (flags & types == 0 || flags & type_flag(p.def.type_) != 0)
}

/// How [`list_add`] treats a definition.
#[derive(Clone, Copy, PartialEq, Eq)]
struct AddFlags {
    /// The definition is a live one (keep an inactive definition aside).
    live: bool,
    /// Refuse if the pool runs.
    check_live: bool,
}

/// `virStoragePoolObjListAdd`: adds a pool or gives an existing one (same name and UUID) its
/// new definition — pending in `new_def` while it runs.
fn list_add(pools: &mut Vec<PoolObj>, def: PoolDef, f: AddFlags) -> Result<usize> {
    if let Some(o) = pools
        .iter()
        .find(|o| o.def.name != def.name && same_source(&o.def, &def))
    {
        return Err(Error::new(
            code::OPERATION_FAILED,
            errdom::STORAGE,
            format!("Storage source conflict with pool: '{}'", o.def.name),
        ));
    }
    if let Some(i) = pools.iter().position(|o| o.def.uuid == def.uuid) {
        let o = &mut pools[i];
        if o.def.name != def.name {
            return Err(Error::new(
                code::OPERATION_FAILED,
                errdom::STORAGE,
                format!(
                    "pool '{}' is already defined with uuid {}",
                    o.def.name,
                    uuid_format(&o.def.uuid)
                ),
            ));
        }
        if f.check_live {
            if o.active {
                return Err(Error::operation_invalid(
                    errdom::STORAGE,
                    format!("pool is already active as '{}'", o.def.name),
                ));
            }
            if o.starting {
                return Err(Error::operation_invalid(
                    errdom::STORAGE,
                    format!("pool '{}' is starting up", o.def.name),
                ));
            }
        }
        if o.active || o.starting {
            o.new_def = Some(def);
        } else {
            let old = std::mem::replace(&mut o.def, def);
            if o.new_def.is_none() && f.live {
                o.new_def = Some(old);
            }
        }
        return Ok(i);
    }
    if let Some(o) = pools.iter().find(|o| o.def.name == def.name) {
        return Err(Error::new(
            code::OPERATION_FAILED,
            errdom::STORAGE,
            format!(
                "pool '{}' already exists with uuid {}",
                def.name,
                uuid_format(&o.def.uuid)
            ),
        ));
    }
    pools.push(PoolObj::new(def));
    Ok(pools.len() - 1)
}

/// `virStoragePoolUpdateInactive`: a stopped transient pool goes away; a persistent one takes
/// its pending definition. Returns whether the pool was removed.
fn update_inactive(pools: &mut Vec<PoolObj>, i: usize) -> bool {
    let p = &mut pools[i];
    if p.config_file.is_none() {
        pools.remove(i);
        return true;
    }
    if let Some(d) = p.new_def.take() {
        p.def = d;
    }
    false
}

impl StorageDriver {
    /// Starts the driver on `config`'s directories (`storageStateInitialize`): takes the
    /// state-directory lock, loads the state of running pools and the persistent
    /// configurations, checks which pools still run (refreshing them), and starts autostart
    /// pools once per boot. Problems with single pools are collected as warnings
    /// ([`StorageDriver::take_warnings`]), as libvirt logs them, and do not fail the start.
    pub fn open(config: Config, events: Option<broadcast::Sender<Event>>) -> Result<StorageDriver> {
        let lock = DriverLock::acquire(&config.dirs)?;
        let events = events.unwrap_or_else(|| broadcast::channel(1024).0);
        let drv = StorageDriver {
            inner: Arc::new(Inner {
                dirs: config.dirs.clone(),
                pools: Mutex::new(Vec::new()),
                events,
                warnings: Mutex::new(Vec::new()),
                _lock: lock,
            }),
        };
        drv.load();
        if config.autostart && state::should_autostart(&config.dirs)? {
            drv.autostart_all();
        }
        Ok(drv)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<PoolObj>> {
        self.inner.pools.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn warn(&self, w: String) {
        self.inner
            .warnings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(w);
    }

    /// Problems met while starting (files skipped, pools that could not be restarted).
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .inner
                .warnings
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        )
    }

    fn emit(&self, ev: Event) {
        let _ = self.inner.events.send(ev);
    }

    fn lifecycle(&self, pool: PoolRef, event: i32) {
        self.emit(Event::PoolLifecycle {
            pool,
            event,
            detail: 0,
        });
    }

    /// The sender the driver raises events on.
    pub fn events(&self) -> broadcast::Sender<Event> {
        self.inner.events.clone()
    }

    fn load(&self) {
        let dirs = &self.inner.dirs;
        let mut warnings = Vec::new();
        let states = state::load_states(dirs, &mut |w| warnings.push(w));
        let configs = state::load_configs(dirs, &mut |w| warnings.push(w));
        let mut pools = self.lock();
        for def in states {
            let live = AddFlags {
                live: true,
                check_live: true,
            };
            match list_add(&mut pools, def, live) {
                Ok(i) => pools[i].active = true,
                Err(e) => warnings.push(e.message),
            }
        }
        for c in configs {
            let none = AddFlags {
                live: false,
                check_live: false,
            };
            match list_add(&mut pools, c.def, none) {
                Ok(i) => {
                    let p = &mut pools[i];
                    p.config_file = Some(c.config_file);
                    p.autostart_link = Some(c.autostart_link);
                    p.autostart = c.autostart;
                }
                Err(e) => warnings.push(e.message),
            }
        }
        // storagePoolUpdateAllState
        let mut i = 0;
        while i < pools.len() {
            let mut active = false;
            let name = pools[i].def.name.clone();
            match pools[i].backend() {
                Err(e) => warnings.push(e.message),
                Ok(b) => match b.check(&pools[i].def) {
                    Ok(a) => active = a,
                    Err(e) => {
                        warnings.push(format!(
                            "internal error: Failed to initialize storage pool '{name}': {}",
                            e.message()
                        ));
                        state::remove_state(dirs, &name);
                    }
                },
            }
            if active {
                if let Err(e) = self.refresh_impl(&mut pools[i]) {
                    warnings.push(format!(
                        "internal error: Failed to restart storage pool '{name}': {}",
                        e.message
                    ));
                    active = false;
                }
            }
            pools[i].active = active;
            if !active && update_inactive(&mut pools, i) {
                continue;
            }
            i += 1;
        }
        drop(pools);
        for w in warnings {
            self.warn(w);
        }
    }

    /// `storageDriverAutostart`.
    fn autostart_all(&self) {
        let mut pools = self.lock();
        let mut i = 0;
        while i < pools.len() {
            if !pools[i].is_autostart() || pools[i].active {
                i += 1;
                continue;
            }
            let name = pools[i].def.name.clone();
            let r = pools[i]
                .backend()
                .and_then(|b| Ok(b.start(&pools[i].def)?))
                .and_then(|_| {
                    state::save_state(&self.inner.dirs, &pools[i].def)?;
                    self.refresh_impl(&mut pools[i])
                });
            match r {
                Ok(()) => pools[i].active = true,
                Err(e) => {
                    self.warn(format!(
                        "internal error: Failed to autostart storage pool '{name}': {}",
                        e.message
                    ));
                    if update_inactive(&mut pools, i) {
                        continue;
                    }
                }
            }
            i += 1;
        }
    }

    /// `storagePoolRefreshImpl`: lists the pool's volumes again; on failure the pool is
    /// cleaned up (volumes dropped, state file removed, backend stopped).
    fn refresh_impl(&self, p: &mut PoolObj) -> Result<()> {
        p.vols.clear();
        let b = p.backend()?;
        match b.refresh(&mut p.def) {
            Ok(vols) => {
                p.vols = vols
                    .into_iter()
                    .map(|vol| VolObj {
                        vol,
                        building: false,
                        in_use: 0,
                    })
                    .collect();
                Ok(())
            }
            Err(e) => {
                p.vols.clear();
                state::remove_state(&self.inner.dirs, &p.def.name);
                let _ = b.stop(&p.def);
                Err(e.into())
            }
        }
    }

    /// Runs `f` on a blocking thread: file and process work never runs on the caller's task.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&StorageDriver) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || f(&me))
            .await
            .map_err(|e| {
                Error::internal(errdom::STORAGE, format!("storage driver task failed: {e}"))
            })?
    }

    /// Runs a short look at the pools: directly when the lock is free, else on a blocking
    /// thread, so an async worker never waits for a long pool operation.
    async fn quick<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Vec<PoolObj>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        if let Ok(mut pools) = self.inner.pools.try_lock() {
            return f(&mut pools);
        }
        self.blocking(move |d| f(&mut d.lock())).await
    }

    // ---- pools ----

    fn pool_create_xml_sync(&self, xml: &str, flags: u32) -> Result<PoolRef> {
        check_flags(
            flags,
            CREATE_WITH_BUILD | CREATE_WITH_BUILD_OVERWRITE | CREATE_WITH_BUILD_NO_OVERWRITE,
            "storagePoolCreateXML",
        )?;
        let def = PoolDef::parse(xml)?;
        let backend = Backend::for_type(def.type_)?;
        let uuid = def.uuid;
        let (snapshot, r) = {
            let mut pools = self.lock();
            let i = list_add(
                &mut pools,
                def,
                AddFlags {
                    live: true,
                    check_live: true,
                },
            )?;
            pools[i].starting = true;
            (pools[i].def.clone(), pools[i].identity())
        };
        let build_flags = build_flags(flags);
        let outside = (|| -> Result<()> {
            if build_flags != 0 || flags & CREATE_WITH_BUILD != 0 {
                backend.build(&snapshot, build_flags)?;
            }
            backend.start(&snapshot)?;
            Ok(())
        })();
        let mut pools = self.lock();
        let i = pools
            .iter()
            .position(|p| p.def.uuid == uuid)
            .expect("a starting pool stays listed");
        let result = outside.and_then(|_| {
            state::save_state(&self.inner.dirs, &pools[i].def)?;
            self.refresh_impl(&mut pools[i])
        });
        match result {
            Ok(()) => {
                pools[i].active = true;
                pools[i].starting = false;
                drop(pools);
                self.lifecycle(r.clone(), pool_event::STARTED);
                Ok(r)
            }
            Err(e) => {
                pools[i].starting = false;
                update_inactive(&mut pools, i);
                Err(e)
            }
        }
    }

    fn pool_define_xml_sync(&self, xml: &str, flags: u32) -> Result<PoolRef> {
        // VIR_STORAGE_POOL_DEFINE_VALIDATE asks for schema validation, which rvirt does not
        // do; the parser still checks the document.
        check_flags(flags, DEFINE_VALIDATE, "storagePoolDefineXML")?;
        let def = PoolDef::parse(xml)?;
        if let Some(c) = def.name.bytes().find(|c| *c == b'\n') {
            return Err(Error::new(
                code::XML_DETAIL,
                errdom::STORAGE,
                format!("invalid char in name: 0x{c:02x}"),
            ));
        }
        Backend::for_type(def.type_)?;
        let mut pools = self.lock();
        let existed = pools.iter().any(|p| p.def.uuid == def.uuid);
        let i = list_add(
            &mut pools,
            def,
            AddFlags {
                live: false,
                check_live: false,
            },
        )?;
        let p = &mut pools[i];
        let to_save = p.new_def.as_ref().unwrap_or(&p.def).clone();
        match state::save_config(&self.inner.dirs, &to_save) {
            Ok(path) => {
                if p.config_file.is_none() {
                    p.autostart_link = Some(self.inner.dirs.autostart_link(&to_save.name));
                    p.config_file = Some(path);
                }
            }
            Err(e) => {
                if !existed {
                    pools.remove(i);
                }
                return Err(e.into());
            }
        }
        let r = pools[i].identity();
        drop(pools);
        self.lifecycle(r.clone(), pool_event::DEFINED);
        Ok(r)
    }

    fn pool_undefine_sync(&self, pool: &PoolRef) -> Result<()> {
        let mut pools = self.lock();
        let i = by_uuid(&pools, &pool.uuid, Some(&pool.name))?;
        let p = &pools[i];
        let name = p.def.name.clone();
        if p.active {
            return Err(still("still active", &name));
        }
        if p.starting {
            return Err(still("starting up", &name));
        }
        if p.asyncjobs > 0 {
            return Err(async_jobs(&name));
        }
        let Some(cfg) = p.config_file.clone() else {
            return Err(Error::internal(
                errdom::STORAGE,
                format!("no config file for {name}"),
            ));
        };
        state::delete_config(&cfg, &name)?;
        if let Some(link) = &p.autostart_link {
            let _ = state::set_autostart(&self.inner.dirs, &cfg, link, false);
        }
        let r = p.identity();
        pools.remove(i);
        drop(pools);
        self.lifecycle(r, pool_event::UNDEFINED);
        Ok(())
    }

    fn pool_create_sync(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        check_flags(
            flags,
            CREATE_WITH_BUILD | CREATE_WITH_BUILD_OVERWRITE | CREATE_WITH_BUILD_NO_OVERWRITE,
            "storagePoolCreate",
        )?;
        let (backend, snapshot, r) = {
            let mut pools = self.lock();
            let i = from_ref(&pools, pool)?;
            let p = &mut pools[i];
            let backend = p.backend()?;
            if p.active {
                return Err(still("already active", &p.def.name));
            }
            if p.starting {
                return Err(still("starting up", &p.def.name));
            }
            p.starting = true;
            (backend, p.def.clone(), p.identity())
        };
        let build_flags = build_flags(flags);
        let outside = (|| -> Result<()> {
            if build_flags != 0 || flags & CREATE_WITH_BUILD != 0 {
                backend.build(&snapshot, build_flags)?;
            }
            backend.start(&snapshot)?;
            Ok(())
        })();
        let mut pools = self.lock();
        let i = by_uuid(&pools, &pool.uuid, Some(&pool.name))?;
        let result = outside.and_then(|_| {
            state::save_state(&self.inner.dirs, &pools[i].def)?;
            self.refresh_impl(&mut pools[i])
        });
        pools[i].starting = false;
        match result {
            Ok(()) => {
                pools[i].active = true;
                drop(pools);
                self.lifecycle(r, pool_event::STARTED);
                Ok(())
            }
            Err(e) => {
                update_inactive(&mut pools, i);
                Err(e)
            }
        }
    }

    fn pool_build_sync(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        let (backend, snapshot, r) = {
            let mut pools = self.lock();
            let i = from_ref(&pools, pool)?;
            let p = &mut pools[i];
            let backend = p.backend()?;
            if p.active {
                return Err(still("already active", &p.def.name));
            }
            if p.starting {
                return Err(still("starting up", &p.def.name));
            }
            p.starting = true;
            (backend, p.def.clone(), p.identity())
        };
        let result = backend.build(&snapshot, flags);
        let mut pools = self.lock();
        if let Ok(i) = by_uuid(&pools, &pool.uuid, Some(&pool.name)) {
            pools[i].starting = false;
            update_inactive(&mut pools, i);
        }
        drop(pools);
        result?;
        self.lifecycle(r, pool_event::CREATED);
        Ok(())
    }

    fn pool_destroy_sync(&self, pool: &PoolRef) -> Result<()> {
        let mut pools = self.lock();
        let i = by_uuid(&pools, &pool.uuid, Some(&pool.name))?;
        let p = &mut pools[i];
        let backend = p.backend()?;
        if !p.active {
            return Err(not_active(&p.def.name));
        }
        if p.starting {
            return Err(still("starting up", &p.def.name));
        }
        if p.asyncjobs > 0 {
            return Err(async_jobs(&p.def.name));
        }
        state::remove_state(&self.inner.dirs, &p.def.name);
        backend.stop(&p.def)?;
        p.vols.clear();
        p.active = false;
        let r = p.identity();
        update_inactive(&mut pools, i);
        drop(pools);
        self.lifecycle(r, pool_event::STOPPED);
        Ok(())
    }

    fn pool_delete_sync(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        let pools = self.lock();
        let i = from_ref(&pools, pool)?;
        let p = &pools[i];
        let backend = p.backend()?;
        if p.active {
            return Err(still("still active", &p.def.name));
        }
        if p.starting {
            return Err(still("starting up", &p.def.name));
        }
        if p.asyncjobs > 0 {
            return Err(async_jobs(&p.def.name));
        }
        state::remove_state(&self.inner.dirs, &p.def.name);
        backend.delete(&p.def, flags)?;
        let r = p.identity();
        drop(pools);
        self.lifecycle(r, pool_event::DELETED);
        Ok(())
    }

    fn pool_refresh_sync(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "storagePoolRefresh")?;
        let mut pools = self.lock();
        let i = by_uuid(&pools, &pool.uuid, Some(&pool.name))?;
        let p = &mut pools[i];
        p.backend()?;
        if !p.active {
            return Err(not_active(&p.def.name));
        }
        if p.starting {
            return Err(still("starting up", &p.def.name));
        }
        if p.asyncjobs > 0 {
            return Err(async_jobs(&p.def.name));
        }
        let r = p.identity();
        if let Err(e) = self.refresh_impl(p) {
            p.active = false;
            update_inactive(&mut pools, i);
            drop(pools);
            self.lifecycle(r, pool_event::STOPPED);
            return Err(e);
        }
        drop(pools);
        self.emit(Event::PoolRefresh { pool: r });
        Ok(())
    }

    fn pool_set_autostart_sync(&self, pool: &PoolRef, autostart: bool) -> Result<()> {
        let mut pools = self.lock();
        let i = by_uuid(&pools, &pool.uuid, Some(&pool.name))?;
        let p = &mut pools[i];
        let Some(cfg) = p.config_file.clone() else {
            return Err(Error::internal(errdom::STORAGE, "pool has no config file"));
        };
        if p.is_autostart() != autostart {
            let link = p
                .autostart_link
                .clone()
                .unwrap_or_else(|| self.inner.dirs.autostart_link(&p.def.name));
            state::set_autostart(&self.inner.dirs, &cfg, &link, autostart)?;
            p.autostart = autostart;
        }
        Ok(())
    }

    // ---- volumes ----

    fn vol_create_xml_sync(&self, pool: &PoolRef, xml: &str, flags: u32) -> Result<VolRef> {
        check_flags(
            flags,
            VOL_CREATE_PREALLOC_METADATA | VOL_CREATE_VALIDATE,
            "storageVolCreateXML",
        )?;
        let build_flags = flags & VOL_CREATE_PREALLOC_METADATA;
        let (pool_def, def, r, backend) = {
            let mut pools = self.lock();
            let i = from_ref(&pools, pool)?;
            let p = &mut pools[i];
            if !p.active {
                return Err(not_active(&p.def.name));
            }
            let backend = p.backend()?;
            let def = VolDef::parse_with_flags(p.def.type_, xml, parse_flags::OPT_CAPACITY)?;
            if def.capacity == 0 && !backend.builds_volumes() {
                return Err(Error::new(
                    code::NO_SUPPORT,
                    errdom::STORAGE,
                    "volume capacity required for this storage pool",
                ));
            }
            if p.vol_index(&def.name).is_some() {
                return Err(Error::new(
                    code::STORAGE_VOL_EXIST,
                    errdom::STORAGE,
                    format!("'{}'", def.name),
                ));
            }
            let mut vol = Volume {
                def,
                backing_local: true,
                payload_offset: None,
                sparse: false,
            };
            vol.def.key = None;
            backend.vol_create(&p.def, &mut vol)?;
            let def = vol.def.clone();
            let obj = VolObj {
                vol,
                building: true,
                in_use: 0,
            };
            let r = p.vol_ref(&obj);
            p.vols.push(obj);
            p.asyncjobs += 1;
            (p.def.clone(), def, r, backend)
        };
        let built = backend.vol_build(&pool_def, &def, None, build_flags);
        self.finish_create(pool, &r, built, None)
    }

    /// The part of volume creation after the file was (or failed to be) written: clear the
    /// building marks, refresh the new volume's sizes and add them to the pool's allocation.
    fn finish_create(
        &self,
        pool: &PoolRef,
        r: &VolRef,
        built: pool::error::Result<()>,
        source: Option<(&str, &str)>,
    ) -> Result<VolRef> {
        let mut pools = self.lock();
        if let Some((spool, sname)) = source {
            if let Ok(si) = by_name(&pools, spool) {
                if let Some(sj) = pools[si].vol_index(sname) {
                    pools[si].vols[sj].in_use -= 1;
                }
                if spool != pool.name {
                    pools[si].asyncjobs -= 1;
                }
            }
        }
        let i = by_uuid(&pools, &pool.uuid, Some(&pool.name))?;
        let p = &mut pools[i];
        let backend = p.backend()?;
        p.asyncjobs -= 1;
        let j = p
            .vol_index(&r.name)
            .expect("a building volume stays listed");
        p.vols[j].building = false;
        if let Err(e) = built {
            p.vols.remove(j);
            return Err(e.into());
        }
        if let Err(e) = backend.vol_refresh(&mut p.vols[j].vol) {
            let _ = backend.vol_delete(&p.vols[j].vol, 0);
            p.vols.remove(j);
            return Err(e.into());
        }
        let alloc = p.vols[j].vol.def.allocation;
        p.def.allocation = p.def.allocation.wrapping_add(alloc);
        p.def.available = p.def.available.wrapping_sub(alloc);
        Ok(p.vol_ref(&p.vols[j]))
    }

    fn vol_create_xml_from_sync(
        &self,
        pool: &PoolRef,
        xml: &str,
        src: &VolRef,
        flags: u32,
    ) -> Result<VolRef> {
        check_flags(
            flags,
            VOL_CREATE_PREALLOC_METADATA | VOL_CREATE_REFLINK | VOL_CREATE_VALIDATE,
            "storageVolCreateXMLFrom",
        )?;
        let build_flags = flags & (VOL_CREATE_PREALLOC_METADATA | VOL_CREATE_REFLINK);
        let (pool_def, def, input, r, backend) = {
            let mut pools = self.lock();
            let i = pools
                .iter()
                .position(|p| p.def.uuid == pool.uuid.0)
                .ok_or_else(|| no_pool_uuid(&pool.uuid, Some(&pool.name)))?;
            let si = if pool.name != src.pool {
                Some(by_name(&pools, &src.pool)?)
            } else {
                None
            };
            if !pools[i].active {
                return Err(not_active(&pools[i].def.name));
            }
            if let Some(si) = si {
                if !pools[si].active {
                    return Err(not_active(&pools[si].def.name));
                }
            }
            let backend = pools[i].backend()?;
            let si = si.unwrap_or(i);
            let sj = pools[si]
                .vol_index(&src.name)
                .ok_or_else(|| no_vol_name(&src.name))?;
            let mut def =
                VolDef::parse_with_flags(pools[i].def.type_, xml, parse_flags::NO_CAPACITY)?;
            if pools[i].vol_index(&def.name).is_some() {
                return Err(Error::internal(
                    errdom::STORAGE,
                    format!("storage volume name '{}' already in use.", def.name),
                ));
            }
            let src_cap = pools[si].vols[sj].vol.def.capacity;
            if def.capacity < src_cap {
                def.capacity = src_cap;
            }
            if !def.has_allocation {
                def.allocation = def.capacity;
            }
            pools[si].vols[sj].ensure_built(&src.name)?;
            pools[si]
                .backend()?
                .vol_refresh(&mut pools[si].vols[sj].vol)?;
            let input = pools[si].vols[sj].vol.def.clone();
            let mut vol = Volume {
                def,
                backing_local: true,
                payload_offset: None,
                sparse: false,
            };
            vol.def.key = None;
            backend.vol_create(&pools[i].def, &mut vol)?;
            let def = vol.def.clone();
            let obj = VolObj {
                vol,
                building: true,
                in_use: 0,
            };
            let r = pools[i].vol_ref(&obj);
            pools[i].vols.push(obj);
            pools[i].asyncjobs += 1;
            pools[si].vols[sj].in_use += 1;
            if si != i {
                pools[si].asyncjobs += 1;
            }
            (pools[i].def.clone(), def, input, r, backend)
        };
        let built = backend.vol_build(&pool_def, &def, Some(&input), build_flags);
        self.finish_create(pool, &r, built, Some((&src.pool, &src.name)))
    }

    fn vol_delete_sync(&self, v: &VolRef, flags: u32) -> Result<()> {
        let mut pools = self.lock();
        let (i, j) = vol_of(&pools, v)?;
        let p = &mut pools[i];
        let o = &p.vols[j];
        o.ensure_idle(&v.name)?;
        p.backend()?.vol_delete(&o.vol, flags)?;
        let alloc = o.vol.def.allocation;
        p.def.allocation = p.def.allocation.wrapping_sub(alloc);
        p.def.available = p.def.available.wrapping_add(alloc);
        p.vols.remove(j);
        Ok(())
    }

    /// The file an upload or download (`what`) of `v` reads or writes, after libvirt's checks
    /// (`storageVolUpload`/`storageVolDownload`).
    async fn transfer_target(&self, v: &VolRef, what: &'static str) -> Result<String> {
        let v = v.clone();
        self.quick(move |pools| {
            let (i, j) = vol_of(pools, &v)?;
            let o = &pools[i].vols[j];
            if what == "upload" {
                o.ensure_idle(&v.name)?;
            } else {
                o.ensure_built(&v.name)?;
            }
            Ok(o.vol.path().to_string())
        })
        .await
    }

    fn vol_wipe_sync(&self, v: &VolRef, algorithm: u32, flags: u32) -> Result<()> {
        check_flags(flags, 0, "storageVolWipePattern")?;
        if algorithm >= WIPE_ALG_LAST {
            return Err(Error::invalid_arg(
                errdom::STORAGE,
                format!("wiping algorithm {algorithm} not supported"),
            ));
        }
        let (vol, backend) = {
            let mut pools = self.lock();
            let (i, j) = vol_of(&pools, v)?;
            let p = &mut pools[i];
            let backend = p.backend()?;
            let o = &mut p.vols[j];
            o.ensure_idle(&v.name)?;
            o.in_use += 1;
            let vol = o.vol.clone();
            p.asyncjobs += 1;
            (vol, backend)
        };
        let wiped = backend.vol_wipe(&vol, algorithm, 0);
        let mut pools = self.lock();
        let (i, j) = vol_of(&pools, v)?;
        let p = &mut pools[i];
        p.asyncjobs -= 1;
        p.vols[j].in_use -= 1;
        wiped?;
        // Much may have changed: describe the volume again, as a pool refresh would.
        backend.vol_rescan(&mut p.vols[j].vol)?;
        Ok(())
    }

    fn vol_resize_sync(&self, v: &VolRef, capacity: u64, flags: u32) -> Result<()> {
        check_flags(
            flags,
            RESIZE_ALLOCATE | RESIZE_DELTA | RESIZE_SHRINK,
            "storageVolResize",
        )?;
        let mut pools = self.lock();
        let (i, j) = vol_of(&pools, v)?;
        let p = &mut pools[i];
        let o = &p.vols[j];
        o.ensure_idle(&v.name)?;
        let cur = o.vol.def.capacity;
        let mut flags = flags;
        let abs = if flags & RESIZE_DELTA != 0 {
            flags &= !RESIZE_DELTA;
            if flags & RESIZE_SHRINK != 0 {
                cur - capacity.min(cur)
            } else {
                cur.wrapping_add(capacity)
            }
        } else {
            capacity
        };
        if abs < o.vol.def.allocation {
            return Err(Error::invalid_arg(
                errdom::STORAGE,
                "can't shrink capacity below existing allocation",
            ));
        }
        if abs < cur && flags & RESIZE_SHRINK == 0 {
            return Err(Error::invalid_arg(
                errdom::STORAGE,
                "Can't shrink capacity below current capacity unless shrink flag explicitly specified",
            ));
        }
        let delta = if flags & RESIZE_ALLOCATE != 0 {
            abs.wrapping_sub(o.vol.def.allocation)
        } else {
            0
        };
        if delta > p.def.available {
            return Err(Error::new(
                code::OPERATION_FAILED,
                errdom::STORAGE,
                "Not enough space left in storage pool",
            ));
        }
        p.backend()?.vol_resize(&o.vol, abs, flags)?;
        let o = &mut p.vols[j];
        o.vol.def.capacity = abs;
        if flags & RESIZE_ALLOCATE != 0 {
            o.vol.def.allocation = abs;
            p.def.allocation = p.def.allocation.wrapping_add(delta);
            p.def.available = p.def.available.wrapping_sub(delta);
        }
        Ok(())
    }

    fn vol_get_info_sync(&self, v: &VolRef, flags: u32) -> Result<VolInfo> {
        check_flags(flags, VOL_GET_PHYSICAL, "storageVolGetInfoFlags")?;
        let mut pools = self.lock();
        let (i, j) = vol_of(&pools, v)?;
        let backend = pools[i].backend()?;
        let vol = &mut pools[i].vols[j].vol;
        backend.vol_refresh(vol)?;
        Ok(VolInfo {
            type_: vol.def.type_ as i8,
            capacity: vol.def.capacity,
            allocation: if flags & VOL_GET_PHYSICAL != 0 {
                vol.def.physical
            } else {
                vol.def.allocation
            },
        })
    }

    fn vol_get_xml_desc_sync(&self, v: &VolRef, flags: u32) -> Result<String> {
        check_flags(flags, 0, "storageVolGetXMLDesc")?;
        let mut pools = self.lock();
        let (i, j) = vol_of(&pools, v)?;
        let t = pools[i].def.type_;
        let backend = pools[i].backend()?;
        let vol = &mut pools[i].vols[j].vol;
        backend.vol_refresh(vol)?;
        Ok(vol.def.format(t))
    }
}

/// `VIR_STORAGE_POOL_BUILD_*` flags from `VIR_STORAGE_POOL_CREATE_WITH_BUILD_*`.
fn build_flags(flags: u32) -> u32 {
    if flags & CREATE_WITH_BUILD_OVERWRITE != 0 {
        pool::BUILD_OVERWRITE
    } else if flags & CREATE_WITH_BUILD_NO_OVERWRITE != 0 {
        pool::BUILD_NO_OVERWRITE
    } else {
        0
    }
}

macro_rules! blocking {
    ($self:ident, |$d:ident| $body:expr, $($arg:ident),*) => {{
        $(let $arg = $arg.to_owned();)*
        $self.blocking(move |$d| { $(let $arg = &$arg;)* $body }).await
    }};
}

#[async_trait]
impl Driver for StorageDriver {
    async fn list_all_pools(&self, flags: u32) -> Result<Vec<PoolRef>> {
        check_flags(flags, LIST_FILTERS_ALL, "storageConnectListAllStoragePools")?;
        self.quick(move |pools| {
            Ok(pools
                .iter()
                .filter(|p| matches(p, flags))
                .map(PoolObj::identity)
                .collect())
        })
        .await
    }
    async fn pool_lookup_by_name(&self, name: &str) -> Result<PoolRef> {
        let name = name.to_owned();
        self.quick(move |pools| Ok(pools[by_name(pools, &name)?].identity()))
            .await
    }
    async fn pool_lookup_by_uuid(&self, uuid: &Uuid) -> Result<PoolRef> {
        let uuid = *uuid;
        self.quick(move |pools| Ok(pools[by_uuid(pools, &uuid, None)?].identity()))
            .await
    }
    async fn pool_lookup_by_volume(&self, vol: &VolRef) -> Result<PoolRef> {
        let name = vol.pool.clone();
        self.quick(move |pools| Ok(pools[by_name(pools, &name)?].identity()))
            .await
    }
    async fn pool_define_xml(&self, xml: &str, flags: u32) -> Result<PoolRef> {
        blocking!(self, |d| d.pool_define_xml_sync(xml, flags), xml)
    }
    async fn pool_create_xml(&self, xml: &str, flags: u32) -> Result<PoolRef> {
        blocking!(self, |d| d.pool_create_xml_sync(xml, flags), xml)
    }
    async fn pool_create(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        blocking!(self, |d| d.pool_create_sync(pool, flags), pool)
    }
    async fn pool_build(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        blocking!(self, |d| d.pool_build_sync(pool, flags), pool)
    }
    async fn pool_destroy(&self, pool: &PoolRef) -> Result<()> {
        blocking!(self, |d| d.pool_destroy_sync(pool), pool)
    }
    async fn pool_delete(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        blocking!(self, |d| d.pool_delete_sync(pool, flags), pool)
    }
    async fn pool_undefine(&self, pool: &PoolRef) -> Result<()> {
        blocking!(self, |d| d.pool_undefine_sync(pool), pool)
    }
    async fn pool_refresh(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        blocking!(self, |d| d.pool_refresh_sync(pool, flags), pool)
    }
    async fn pool_get_info(&self, pool: &PoolRef) -> Result<PoolInfo> {
        let pool = pool.clone();
        self.quick(move |pools| {
            let p = &pools[from_ref(pools, &pool)?];
            p.backend()?;
            Ok(PoolInfo {
                state: if p.active {
                    pool_state::RUNNING
                } else {
                    pool_state::INACTIVE
                },
                capacity: p.def.capacity,
                allocation: p.def.allocation,
                available: p.def.available,
            })
        })
        .await
    }
    async fn pool_get_xml_desc(&self, pool: &PoolRef, flags: u32) -> Result<String> {
        check_flags(flags, XML_INACTIVE, "storagePoolGetXMLDesc")?;
        let pool = pool.clone();
        self.quick(move |pools| {
            let p = &pools[from_ref(pools, &pool)?];
            let def = match (&p.new_def, flags & XML_INACTIVE != 0) {
                (Some(n), true) => n,
                _ => &p.def,
            };
            Ok(def.format())
        })
        .await
    }
    async fn pool_get_autostart(&self, pool: &PoolRef) -> Result<bool> {
        let pool = pool.clone();
        self.quick(move |pools| Ok(pools[from_ref(pools, &pool)?].is_autostart()))
            .await
    }
    async fn pool_set_autostart(&self, pool: &PoolRef, autostart: bool) -> Result<()> {
        blocking!(self, |d| d.pool_set_autostart_sync(pool, autostart), pool)
    }
    async fn pool_is_active(&self, pool: &PoolRef) -> Result<bool> {
        let pool = pool.clone();
        self.quick(move |pools| Ok(pools[from_ref(pools, &pool)?].active))
            .await
    }
    async fn pool_is_persistent(&self, pool: &PoolRef) -> Result<bool> {
        let pool = pool.clone();
        self.quick(move |pools| Ok(pools[from_ref(pools, &pool)?].config_file.is_some()))
            .await
    }
    async fn pool_list_all_volumes(&self, pool: &PoolRef, flags: u32) -> Result<Vec<VolRef>> {
        check_flags(flags, 0, "storagePoolListAllVolumes")?;
        let pool = pool.clone();
        self.quick(move |pools| {
            let p = &pools[from_ref(pools, &pool)?];
            if !p.active {
                return Err(not_active(&p.def.name));
            }
            Ok(p.vols.iter().map(|v| p.vol_ref(v)).collect())
        })
        .await
    }
    async fn pool_num_of_volumes(&self, pool: &PoolRef) -> Result<i32> {
        let pool = pool.clone();
        self.quick(move |pools| {
            let p = &pools[from_ref(pools, &pool)?];
            if !p.active {
                return Err(not_active(&p.def.name));
            }
            Ok(p.vols.len() as i32)
        })
        .await
    }
    async fn vol_lookup_by_name(&self, pool: &PoolRef, name: &str) -> Result<VolRef> {
        let (pool, name) = (pool.clone(), name.to_owned());
        self.quick(move |pools| {
            let p = &pools[from_ref(pools, &pool)?];
            if !p.active {
                return Err(not_active(&p.def.name));
            }
            let j = p.vol_index(&name).ok_or_else(|| no_vol_name(&name))?;
            Ok(p.vol_ref(&p.vols[j]))
        })
        .await
    }
    async fn vol_lookup_by_key(&self, key: &str) -> Result<VolRef> {
        let key = key.to_owned();
        self.quick(move |pools| {
            for p in pools.iter().filter(|p| p.active) {
                if let Some(v) = p
                    .vols
                    .iter()
                    .find(|v| v.vol.def.key.as_deref() == Some(&*key))
                {
                    return Ok(p.vol_ref(v));
                }
            }
            Err(Error::new(
                code::NO_STORAGE_VOL,
                errdom::STORAGE,
                format!("no storage vol with matching key {key}"),
            ))
        })
        .await
    }
    async fn vol_lookup_by_path(&self, path: &str) -> Result<VolRef> {
        let path = path.to_owned();
        self.quick(move |pools| vol_by_path(pools, &path)).await
    }
    async fn vol_create_xml(&self, pool: &PoolRef, xml: &str, flags: u32) -> Result<VolRef> {
        blocking!(self, |d| d.vol_create_xml_sync(pool, xml, flags), pool, xml)
    }
    async fn vol_create_xml_from(
        &self,
        pool: &PoolRef,
        xml: &str,
        clone: &VolRef,
        flags: u32,
    ) -> Result<VolRef> {
        blocking!(
            self,
            |d| d.vol_create_xml_from_sync(pool, xml, clone, flags),
            pool,
            xml,
            clone
        )
    }
    async fn vol_delete(&self, vol: &VolRef, flags: u32) -> Result<()> {
        blocking!(self, |d| d.vol_delete_sync(vol, flags), vol)
    }
    async fn vol_get_info(&self, vol: &VolRef) -> Result<VolInfo> {
        blocking!(self, |d| d.vol_get_info_sync(vol, 0), vol)
    }
    async fn vol_get_info_flags(&self, vol: &VolRef, flags: u32) -> Result<VolInfo> {
        blocking!(self, |d| d.vol_get_info_sync(vol, flags), vol)
    }
    async fn vol_get_xml_desc(&self, vol: &VolRef, flags: u32) -> Result<String> {
        blocking!(self, |d| d.vol_get_xml_desc_sync(vol, flags), vol)
    }
    async fn vol_get_path(&self, vol: &VolRef) -> Result<String> {
        let vol = vol.clone();
        self.quick(move |pools| {
            let (i, j) = vol_of(pools, &vol)?;
            Ok(pools[i].vols[j].vol.path().to_string())
        })
        .await
    }
    async fn vol_resize(&self, vol: &VolRef, capacity: u64, flags: u32) -> Result<()> {
        blocking!(self, |d| d.vol_resize_sync(vol, capacity, flags), vol)
    }
    async fn vol_wipe(&self, vol: &VolRef, flags: u32) -> Result<()> {
        blocking!(self, |d| d.vol_wipe_sync(vol, 0, flags), vol)
    }
    async fn vol_wipe_pattern(&self, vol: &VolRef, algorithm: u32, flags: u32) -> Result<()> {
        blocking!(self, |d| d.vol_wipe_sync(vol, algorithm, flags), vol)
    }
    async fn vol_upload(
        &self,
        vol: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> Result<StreamSink> {
        check_flags(flags, vol_stream::SPARSE, "storageVolUpload")?;
        let path = self.transfer_target(vol, "upload").await?;
        let (sink, source) = stream::channel(stream::DEFAULT_DEPTH);
        let (me, v) = (self.clone(), vol.clone());
        tokio::task::spawn_blocking(move || {
            if transfer::upload(
                &path,
                offset,
                length,
                flags & vol_stream::SPARSE != 0,
                source,
            )
            .is_ok()
            {
                // The volume's sizes changed: describe it again, as libvirt's refresh after an
                // upload does.
                let mut pools = me.lock();
                if let Ok((i, j)) = vol_of(&pools, &v) {
                    if let Ok(b) = pools[i].backend() {
                        let _ = b.vol_rescan(&mut pools[i].vols[j].vol);
                    }
                }
            }
        });
        Ok(sink)
    }
    async fn vol_download(
        &self,
        vol: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> Result<StreamSource> {
        check_flags(flags, vol_stream::SPARSE, "storageVolDownload")?;
        let path = self.transfer_target(vol, "download").await?;
        let (sink, source) = stream::channel(stream::DEFAULT_DEPTH);
        tokio::task::spawn_blocking(move || {
            let _ =
                transfer::download(&path, offset, length, flags & vol_stream::SPARSE != 0, sink);
        });
        Ok(source)
    }
    fn subscribe(&self) -> Option<broadcast::Receiver<Event>> {
        Some(self.inner.events.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &str, uuid: u8, path: &str) -> PoolDef {
        let mut d = PoolDef::parse(&format!(
            "<pool type='dir'><name>{name}</name><target><path>{path}</path></target></pool>"
        ))
        .unwrap();
        d.uuid = [uuid; 16];
        d
    }

    const PLAIN: AddFlags = AddFlags {
        live: false,
        check_live: false,
    };

    #[test]
    fn object_list_rules_follow_libvirt() {
        let mut pools = Vec::new();
        assert_eq!(list_add(&mut pools, def("a", 1, "/a"), PLAIN).unwrap(), 0);
        let e = list_add(&mut pools, def("b", 2, "/a"), PLAIN).unwrap_err();
        assert_eq!(
            e.message,
            "operation failed: Storage source conflict with pool: 'a'"
        );
        let e = list_add(&mut pools, def("b", 1, "/b"), PLAIN).unwrap_err();
        assert_eq!(
            e.message,
            "operation failed: pool 'a' is already defined with uuid 01010101-0101-0101-0101-010101010101"
        );
        let e = list_add(&mut pools, def("a", 3, "/c"), PLAIN).unwrap_err();
        assert_eq!(
            e.message,
            "operation failed: pool 'a' already exists with uuid 01010101-0101-0101-0101-010101010101"
        );
        // A running pool keeps its definition; the new one waits.
        pools[0].active = true;
        list_add(&mut pools, def("a", 1, "/a2"), PLAIN).unwrap();
        assert_eq!(pools[0].def.target_path.as_deref(), Some("/a"));
        let live = AddFlags {
            live: true,
            check_live: true,
        };
        let e = list_add(&mut pools, def("a", 1, "/a"), live).unwrap_err();
        assert_eq!(
            e.message,
            "Requested operation is not valid: pool is already active as 'a'"
        );
        // Stopping: a persistent pool takes the pending definition, a transient one goes.
        pools[0].active = false;
        pools[0].config_file = Some("/cfg/a.xml".into());
        assert!(!update_inactive(&mut pools, 0));
        assert_eq!(pools[0].def.target_path.as_deref(), Some("/a2"));
        list_add(&mut pools, def("t", 4, "/t"), live).unwrap();
        assert!(update_inactive(&mut pools, 1));
        assert_eq!(pools.len(), 1);
    }

    #[test]
    fn list_filters() {
        let mut p = PoolObj::new(def("a", 1, "/a"));
        use list_pools::*;
        assert!(matches(&p, 0));
        assert!(matches(&p, INACTIVE | TRANSIENT | NO_AUTOSTART | DIR));
        assert!(!matches(&p, ACTIVE));
        assert!(!matches(&p, 1 << 7));
        p.autostart = true;
        assert!(
            !matches(&p, AUTOSTART),
            "autostart counts only for persistent pools"
        );
        p.config_file = Some("/c".into());
        assert!(matches(&p, AUTOSTART | PERSISTENT));
    }
}
