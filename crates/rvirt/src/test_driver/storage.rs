//! The test driver's storage pools and volumes: libvirt 9.0's `test_driver.c` storage entry
//! points over `virstorageobj.c`'s object rules, with the same errors and events.
//!
//! Every pool the driver accepts gets a fixed 100 GiB capacity; volumes live only in memory,
//! their key and path are `<pool target path>/<volume name>`, and the pool's allocation and
//! available space follow the volumes created and deleted. libvirt quirks kept on purpose:
//! redefining an active pool resets its live allocation to zero, and a pool created from XML
//! over an inactive persistent one makes it transient.

use super::host::check_flags;
use super::*;
use rvirt_xml::conf::{uuid_format, Node};
use rvirt_xml::storage::pool::Adapter;
use rvirt_xml::storage::{PoolDef, PoolType, VolDef};

/// `virStoragePoolEventLifecycleType`.
mod ev {
    pub const DEFINED: i32 = 0;
    pub const UNDEFINED: i32 = 1;
    pub const STARTED: i32 = 2;
    pub const STOPPED: i32 = 3;
    pub const CREATED: i32 = 4;
    pub const DELETED: i32 = 5;
}

/// The test driver's capacity of every pool (`defaultPoolCap`): 100 GiB.
const DEFAULT_POOL_CAP: u64 = 100 * 1024 * 1024 * 1024;

/// One pool (`virStoragePoolObj`).
pub(crate) struct PoolObj {
    /// The live definition.
    pub(crate) def: PoolDef,
    /// A definition saved while the pool runs.
    pub(crate) new_def: Option<PoolDef>,
    pub(crate) active: bool,
    /// libvirt's `configFile` (set means persistent).
    pub(crate) config_file: bool,
    pub(crate) autostart: bool,
    /// Volumes, in creation order.
    pub(crate) vols: Vec<VolDef>,
}

impl PoolObj {
    fn identity(&self) -> PoolRef {
        PoolRef {
            name: self.def.name.clone(),
            uuid: rvirt_proto::xdr::FixedOpaque(self.def.uuid),
        }
    }

    fn vol_ref(&self, v: &VolDef) -> VolRef {
        VolRef {
            pool: self.def.name.clone(),
            name: v.name.clone(),
            key: v.key.clone().unwrap_or_default(),
        }
    }

    /// `testStoragePoolObjSetDefaults`: fixed capacity, nothing allocated, persistent.
    fn set_defaults(&mut self) {
        self.def.capacity = DEFAULT_POOL_CAP;
        self.def.allocation = 0;
        self.def.available = DEFAULT_POOL_CAP;
        self.config_file = true;
    }

    fn vol_by_name(&self, name: &str) -> Result<usize> {
        self.vols
            .iter()
            .position(|v| v.name == name)
            .ok_or_else(|| no_vol("name", name))
    }
}

/// All pools, in definition order.
#[derive(Default)]
pub(crate) struct Storage {
    pub(crate) pools: Vec<PoolObj>,
}

fn no_vol(what: &str, v: &str) -> Error {
    Error::new(
        code::NO_STORAGE_VOL,
        errdom::TEST,
        format!("no storage vol with matching {what} '{v}'"),
    )
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

fn shares_device(a: &PoolDef, b: &PoolDef) -> bool {
    a.source
        .devices
        .iter()
        .any(|x| b.source.devices.iter().any(|y| x.path == y.path))
}

/// `virStoragePoolObjSourceFindDuplicateCb`: whether `def` would use the same storage as the
/// existing pool `obj` (the rules that need the host's SCSI sysfs are not applied).
fn same_source(obj: &PoolDef, def: &PoolDef) -> bool {
    use PoolType::*;
    match obj.type_ {
        Dir | Gluster | Netfs if def.type_ == obj.type_ => match obj.type_ {
            Dir => obj.target_path == def.target_path,
            Gluster => {
                obj.source.name == def.source.name
                    && obj.source.dir == def.source.dir
                    && single_host_match(obj, def)
            }
            _ => obj.source.dir == def.source.dir && single_host_match(obj, def),
        },
        Scsi if def.type_ == Scsi => match (&obj.source.adapter, &def.source.adapter) {
            (
                Some(Adapter::FcHost {
                    wwnn: a, wwpn: b, ..
                }),
                Some(Adapter::FcHost {
                    wwnn: c, wwpn: d, ..
                }),
            ) => a == c && b == d,
            (
                Some(Adapter::ScsiHost {
                    parent: Some((pa, ua)),
                    ..
                }),
                Some(Adapter::ScsiHost {
                    parent: Some((pb, ub)),
                    ..
                }),
            ) => pa.same(pb) && ua == ub,
            _ => false,
        },
        Iscsi | Fs | Logical | Disk | Zfs
            if matches!(def.type_, Iscsi | Fs | Logical | Disk | Zfs) =>
        {
            if obj.type_ == Iscsi {
                def.type_ == Iscsi
                    && shares_device(obj, def)
                    && obj.source.initiator_iqn == def.source.initiator_iqn
            } else {
                def.type_ != Iscsi && shares_device(obj, def)
            }
        }
        Sheepdog if def.type_ == Sheepdog => single_host_match(obj, def),
        Mpath => def.type_ == Mpath,
        Vstorage if def.type_ == Vstorage => obj.source.name == def.source.name,
        _ => false,
    }
}

impl Storage {
    fn by_name(&self, name: &str) -> Result<usize> {
        self.pools
            .iter()
            .position(|p| p.def.name == name)
            .ok_or_else(|| {
                Error::new(
                    code::NO_STORAGE_POOL,
                    errdom::TEST,
                    format!("no storage pool with matching name '{name}'"),
                )
            })
    }

    fn active_by_name(&self, name: &str) -> Result<usize> {
        let i = self.by_name(name)?;
        if !self.pools[i].active {
            return Err(Error::operation_invalid(
                errdom::TEST,
                format!("storage pool '{name}' is not active"),
            ));
        }
        Ok(i)
    }

    fn inactive_by_name(&self, name: &str) -> Result<usize> {
        let i = self.by_name(name)?;
        if self.pools[i].active {
            return Err(Error::operation_invalid(
                errdom::TEST,
                format!("storage pool '{name}' is active"),
            ));
        }
        Ok(i)
    }

    fn by_uuid(&self, uuid: &Uuid) -> Result<usize> {
        self.pools
            .iter()
            .position(|p| p.def.uuid == uuid.0)
            .ok_or_else(|| {
                Error::new(
                    code::NO_STORAGE_POOL,
                    errdom::TEST,
                    format!(
                        "no storage pool with matching uuid '{}'",
                        uuid_to_string(uuid)
                    ),
                )
            })
    }

    /// `virStoragePoolObjListAdd`: refuses a definition whose storage another pool uses or
    /// whose name/UUID clash; replaces the matching pool's definition (`live` keeps the old one
    /// aside) or adds a new pool.
    fn list_add(&mut self, def: PoolDef, live: bool, check_live: bool) -> Result<usize> {
        if let Some(o) = self
            .pools
            .iter()
            .find(|o| o.def.name != def.name && same_source(&o.def, &def))
        {
            return Err(Error::new(
                code::OPERATION_FAILED,
                errdom::STORAGE,
                format!("Storage source conflict with pool: '{}'", o.def.name),
            ));
        }
        if let Some(i) = self.pools.iter().position(|o| o.def.uuid == def.uuid) {
            let o = &mut self.pools[i];
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
            if check_live && o.active {
                return Err(Error::operation_invalid(
                    errdom::STORAGE,
                    format!("pool is already active as '{}'", o.def.name),
                ));
            }
            if o.active {
                o.new_def = Some(def);
            } else {
                let old = std::mem::replace(&mut o.def, def);
                if o.new_def.is_none() && live {
                    o.new_def = Some(old);
                }
            }
            return Ok(i);
        }
        if let Some(o) = self.pools.iter().find(|o| o.def.name == def.name) {
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
        self.pools.push(PoolObj {
            def,
            new_def: None,
            active: false,
            config_file: false,
            autostart: false,
            vols: Vec::new(),
        });
        Ok(self.pools.len() - 1)
    }

    /// Finds a volume of an active pool by `pred` (`virStoragePoolObjListSearch`).
    fn find_vol(&self, pred: impl Fn(&VolDef) -> bool) -> Option<VolRef> {
        self.pools
            .iter()
            .filter(|p| p.active)
            .find_map(|p| p.vols.iter().find(|v| pred(v)).map(|v| p.vol_ref(v)))
    }
}

/// Adds a pool of a node file (`testParseStorage`): persistent, active, with default sizes.
/// Returns its name and type for its volumes.
pub(super) fn load_node_pool(state: &mut State, node: Node) -> Result<(String, PoolType)> {
    let def = PoolDef::parse_node(node)?;
    let i = state.storage.list_add(def, false, false)?;
    let p = &mut state.storage.pools[i];
    p.set_defaults();
    p.active = true;
    Ok((p.def.name.clone(), p.def.type_))
}

/// Adds a volume of a node file (`testOpenVolumesForPool`): path and key default to
/// `<pool path>/<name>` and the pool's allocation grows by the volume's.
pub(super) fn load_node_volume(state: &mut State, pool: &str, mut vol: VolDef) -> Result<()> {
    let i = state.storage.by_name(pool)?;
    let p = &mut state.storage.pools[i];
    if vol.target.path.is_none() {
        vol.target.path = Some(vol_path(&p.def, &vol.name));
    }
    if vol.key.is_none() {
        vol.key = vol.target.path.clone();
    }
    add_vol(p, vol)
}

fn vol_path(pool: &PoolDef, name: &str) -> String {
    format!(
        "{}/{}",
        pool.target_path.as_deref().unwrap_or("(null)"),
        name
    )
}

/// `virStoragePoolObjAddVol` plus the test driver's size bookkeeping.
fn add_vol(p: &mut PoolObj, vol: VolDef) -> Result<()> {
    if p.vols
        .iter()
        .any(|v| v.name == vol.name || v.key == vol.key || v.target.path == vol.target.path)
    {
        // libvirt fails without reporting why when a volume's key or path is already taken.
        return Err(Error::unknown());
    }
    p.def.allocation = p.def.allocation.wrapping_add(vol.allocation);
    p.def.available = p.def.capacity.wrapping_sub(p.def.allocation);
    p.vols.push(vol);
    Ok(())
}

fn lifecycle(drv: &TestDriver, pool: PoolRef, event: i32) {
    drv.emit(Event::PoolLifecycle {
        pool,
        event,
        detail: 0,
    });
}

/// `VIR_CONNECT_LIST_STORAGE_POOLS_FILTERS_ALL`.
const LIST_FILTERS_ALL: u32 = 0xfffff;

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
        && pick(PERSISTENT | TRANSIENT, PERSISTENT, TRANSIENT, p.config_file)
        && pick(
            AUTOSTART | NO_AUTOSTART,
            AUTOSTART,
            NO_AUTOSTART,
            p.autostart,
        )
        && (flags & types == 0 || flags & type_flag(p.def.type_) != 0)
}

pub(super) fn list_all_pools(drv: &TestDriver, flags: u32) -> Result<Vec<PoolRef>> {
    check_flags(flags, LIST_FILTERS_ALL, "testConnectListAllStoragePools")?;
    let st = drv.lock();
    Ok(st
        .storage
        .pools
        .iter()
        .filter(|p| matches(p, flags))
        .map(PoolObj::identity)
        .collect())
}

pub(super) fn pool_lookup_by_name(drv: &TestDriver, name: &str) -> Result<PoolRef> {
    let st = drv.lock();
    let i = st.storage.by_name(name)?;
    Ok(st.storage.pools[i].identity())
}

pub(super) fn pool_lookup_by_uuid(drv: &TestDriver, uuid: &Uuid) -> Result<PoolRef> {
    let st = drv.lock();
    let i = st.storage.by_uuid(uuid)?;
    Ok(st.storage.pools[i].identity())
}

pub(super) fn pool_lookup_by_volume(drv: &TestDriver, vol: &VolRef) -> Result<PoolRef> {
    pool_lookup_by_name(drv, &vol.pool)
}

pub(super) fn pool_define_xml(drv: &TestDriver, xml: &str, flags: u32) -> Result<PoolRef> {
    // VIR_STORAGE_POOL_DEFINE_VALIDATE asks for schema validation, which rvirt does not do; the
    // document is still checked by the parser.
    check_flags(flags, 1, "testStoragePoolDefineXML")?;
    let mut def = PoolDef::parse(xml)?;
    def.capacity = DEFAULT_POOL_CAP;
    def.allocation = 0;
    def.available = DEFAULT_POOL_CAP;
    let r = {
        let mut st = drv.lock();
        let i = st.storage.list_add(def, false, false)?;
        let p = &mut st.storage.pools[i];
        p.set_defaults();
        p.identity()
    };
    lifecycle(drv, r.clone(), ev::DEFINED);
    Ok(r)
}

pub(super) fn pool_create_xml(drv: &TestDriver, xml: &str, flags: u32) -> Result<PoolRef> {
    check_flags(flags, 0, "testStoragePoolCreateXML")?;
    let def = PoolDef::parse(xml)?;
    let r = {
        let mut st = drv.lock();
        let i = st.storage.list_add(def, false, true)?;
        if matches!(
            st.storage.pools[i].def.source.adapter,
            Some(Adapter::FcHost { .. })
        ) {
            // libvirt creates a vHBA node device here; rvirt's test driver has no node devices.
            st.storage.pools.remove(i);
            return Err(Error::new(
                code::NO_SUPPORT,
                errdom::TEST,
                "starting fc_host adapter pools needs node devices, which rvirt's test driver does not have",
            ));
        }
        let p = &mut st.storage.pools[i];
        p.set_defaults();
        p.config_file = false;
        p.active = true;
        p.identity()
    };
    lifecycle(drv, r.clone(), ev::STARTED);
    Ok(r)
}

pub(super) fn pool_create(drv: &TestDriver, pool: &PoolRef, flags: u32) -> Result<()> {
    check_flags(flags, 0, "testStoragePoolCreate")?;
    {
        let mut st = drv.lock();
        let i = st.storage.inactive_by_name(&pool.name)?;
        st.storage.pools[i].active = true;
    }
    lifecycle(drv, pool.clone(), ev::STARTED);
    Ok(())
}

pub(super) fn pool_build(drv: &TestDriver, pool: &PoolRef, flags: u32) -> Result<()> {
    check_flags(flags, 0, "testStoragePoolBuild")?;
    drv.lock().storage.inactive_by_name(&pool.name)?;
    lifecycle(drv, pool.clone(), ev::CREATED);
    Ok(())
}

pub(super) fn pool_destroy(drv: &TestDriver, pool: &PoolRef) -> Result<()> {
    let r = {
        let mut st = drv.lock();
        let i = st.storage.active_by_name(&pool.name)?;
        let p = &mut st.storage.pools[i];
        p.active = false;
        if matches!(p.def.source.adapter, Some(Adapter::FcHost { .. })) {
            // libvirt removes the vHBA node device `scsi_host12`, which never exists here.
            return Err(Error::new(
                code::NO_NODE_DEVICE,
                errdom::TEST,
                "no node device with matching name 'scsi_host12'",
            ));
        }
        let r = p.identity();
        if !p.config_file {
            st.storage.pools.remove(i);
        }
        r
    };
    lifecycle(drv, r, ev::STOPPED);
    Ok(())
}

pub(super) fn pool_delete(drv: &TestDriver, pool: &PoolRef, flags: u32) -> Result<()> {
    check_flags(flags, 0, "testStoragePoolDelete")?;
    drv.lock().storage.inactive_by_name(&pool.name)?;
    lifecycle(drv, pool.clone(), ev::DELETED);
    Ok(())
}

pub(super) fn pool_undefine(drv: &TestDriver, pool: &PoolRef) -> Result<()> {
    {
        let mut st = drv.lock();
        let i = st.storage.inactive_by_name(&pool.name)?;
        st.storage.pools.remove(i);
    }
    lifecycle(drv, pool.clone(), ev::UNDEFINED);
    Ok(())
}

pub(super) fn pool_refresh(drv: &TestDriver, pool: &PoolRef, flags: u32) -> Result<()> {
    check_flags(flags, 0, "testStoragePoolRefresh")?;
    drv.lock().storage.active_by_name(&pool.name)?;
    drv.emit(Event::PoolRefresh { pool: pool.clone() });
    Ok(())
}

pub(super) fn pool_get_info(drv: &TestDriver, pool: &PoolRef) -> Result<PoolInfo> {
    let st = drv.lock();
    let p = &st.storage.pools[st.storage.by_name(&pool.name)?];
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
}

pub(super) fn pool_get_xml_desc(drv: &TestDriver, pool: &PoolRef, flags: u32) -> Result<String> {
    check_flags(flags, 0, "testStoragePoolGetXMLDesc")?;
    let st = drv.lock();
    let i = st.storage.by_name(&pool.name)?;
    Ok(st.storage.pools[i].def.format())
}

pub(super) fn pool_get_autostart(drv: &TestDriver, pool: &PoolRef) -> Result<bool> {
    let st = drv.lock();
    let p = &st.storage.pools[st.storage.by_name(&pool.name)?];
    Ok(p.config_file && p.autostart)
}

pub(super) fn pool_set_autostart(drv: &TestDriver, pool: &PoolRef, autostart: bool) -> Result<()> {
    let mut st = drv.lock();
    let i = st.storage.by_name(&pool.name)?;
    let p = &mut st.storage.pools[i];
    if !p.config_file {
        return Err(Error::invalid_arg(errdom::TEST, "pool has no config file"));
    }
    p.autostart = autostart;
    Ok(())
}

pub(super) fn pool_is_active(drv: &TestDriver, pool: &PoolRef) -> Result<bool> {
    let st = drv.lock();
    Ok(st.storage.pools[st.storage.by_uuid(&pool.uuid)?].active)
}

pub(super) fn pool_is_persistent(drv: &TestDriver, pool: &PoolRef) -> Result<bool> {
    let st = drv.lock();
    Ok(st.storage.pools[st.storage.by_uuid(&pool.uuid)?].config_file)
}

pub(super) fn pool_list_all_volumes(
    drv: &TestDriver,
    pool: &PoolRef,
    flags: u32,
) -> Result<Vec<VolRef>> {
    check_flags(flags, 0, "testStoragePoolListAllVolumes")?;
    let st = drv.lock();
    let p = &st.storage.pools[st.storage.by_uuid(&pool.uuid)?];
    if !p.active {
        return Err(Error::operation_invalid(
            errdom::TEST,
            "storage pool is not active",
        ));
    }
    Ok(p.vols.iter().map(|v| p.vol_ref(v)).collect())
}

pub(super) fn pool_num_of_volumes(drv: &TestDriver, pool: &PoolRef) -> Result<i32> {
    let st = drv.lock();
    let p = &st.storage.pools[st.storage.active_by_name(&pool.name)?];
    Ok(p.vols.len() as i32)
}

pub(super) fn vol_lookup_by_name(drv: &TestDriver, pool: &PoolRef, name: &str) -> Result<VolRef> {
    let st = drv.lock();
    let p = &st.storage.pools[st.storage.active_by_name(&pool.name)?];
    let v = &p.vols[p.vol_by_name(name)?];
    Ok(p.vol_ref(v))
}

pub(super) fn vol_lookup_by_key(drv: &TestDriver, key: &str) -> Result<VolRef> {
    drv.lock()
        .storage
        .find_vol(|v| v.key.as_deref() == Some(key))
        .ok_or_else(|| no_vol("key", key))
}

pub(super) fn vol_lookup_by_path(drv: &TestDriver, path: &str) -> Result<VolRef> {
    drv.lock()
        .storage
        .find_vol(|v| v.target.path.as_deref() == Some(path))
        .ok_or_else(|| no_vol("path", path))
}

/// `VIR_STORAGE_VOL_CREATE_VALIDATE`.
const VOL_CREATE_VALIDATE: u32 = 1 << 2;

/// The shared part of `testStorageVolCreateXML[From]`: parse in the pool's context, refuse a
/// taken name or a pool without room, place the volume under the pool's target path.
fn create_vol(
    drv: &TestDriver,
    pool: &PoolRef,
    xml: &str,
    clone: Option<&VolRef>,
) -> Result<VolRef> {
    let mut st = drv.lock();
    let i = st.storage.active_by_name(&pool.name)?;
    let p = &mut st.storage.pools[i];
    let mut vol = VolDef::parse(p.def.type_, xml)?;
    if p.vols.iter().any(|v| v.name == vol.name) {
        return Err(Error::new(
            code::OPERATION_FAILED,
            errdom::TEST,
            "storage vol already exists",
        ));
    }
    if let Some(c) = clone {
        // libvirt looks the source volume up by name in the target pool.
        p.vol_by_name(&c.name)?;
    }
    if p.def.allocation.wrapping_add(vol.allocation) > p.def.capacity {
        return Err(Error::internal(
            errdom::TEST,
            format!("Not enough free space in pool for volume '{}'", vol.name),
        ));
    }
    let path = vol_path(&p.def, &vol.name);
    vol.target.path = Some(path.clone());
    vol.key = Some(path);
    let r = p.vol_ref(&vol);
    add_vol(p, vol)?;
    Ok(r)
}

pub(super) fn vol_create_xml(
    drv: &TestDriver,
    pool: &PoolRef,
    xml: &str,
    flags: u32,
) -> Result<VolRef> {
    check_flags(flags, VOL_CREATE_VALIDATE, "testStorageVolCreateXML")?;
    create_vol(drv, pool, xml, None)
}

pub(super) fn vol_create_xml_from(
    drv: &TestDriver,
    pool: &PoolRef,
    xml: &str,
    clone: &VolRef,
    flags: u32,
) -> Result<VolRef> {
    check_flags(flags, VOL_CREATE_VALIDATE, "testStorageVolCreateXMLFrom")?;
    create_vol(drv, pool, xml, Some(clone))
}

pub(super) fn vol_delete(drv: &TestDriver, vol: &VolRef, flags: u32) -> Result<()> {
    check_flags(flags, 0, "testStorageVolDelete")?;
    let mut st = drv.lock();
    let i = st.storage.active_by_name(&vol.pool)?;
    let p = &mut st.storage.pools[i];
    let j = p.vol_by_name(&vol.name)?;
    let v = p.vols.remove(j);
    p.def.allocation = p.def.allocation.wrapping_sub(v.allocation);
    p.def.available = p.def.capacity.wrapping_sub(p.def.allocation);
    Ok(())
}

pub(super) fn vol_get_info(drv: &TestDriver, vol: &VolRef) -> Result<VolInfo> {
    let st = drv.lock();
    let p = &st.storage.pools[st.storage.active_by_name(&vol.pool)?];
    let v = &p.vols[p.vol_by_name(&vol.name)?];
    Ok(VolInfo {
        type_: p.def.type_.volume_type(),
        capacity: v.capacity,
        allocation: v.allocation,
    })
}

pub(super) fn vol_get_xml_desc(drv: &TestDriver, vol: &VolRef, flags: u32) -> Result<String> {
    check_flags(flags, 0, "testStorageVolGetXMLDesc")?;
    let st = drv.lock();
    let p = &st.storage.pools[st.storage.active_by_name(&vol.pool)?];
    let v = &p.vols[p.vol_by_name(&vol.name)?];
    Ok(v.format(p.def.type_))
}

pub(super) fn vol_get_path(drv: &TestDriver, vol: &VolRef) -> Result<String> {
    let st = drv.lock();
    let p = &st.storage.pools[st.storage.active_by_name(&vol.pool)?];
    let v = &p.vols[p.vol_by_name(&vol.name)?];
    Ok(v.target.path.clone().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE: &str = "<node><pool type='dir'><name>default-pool</name>\
        <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid><target><path>/default-pool</path></target>\
        <volume><name>v0</name><capacity>1000</capacity><allocation>400</allocation></volume>\
        </pool></node>";

    fn driver() -> TestDriver {
        TestDriver::new(
            super::super::host::state_from_text(NODE).unwrap(),
            "test:///t".into(),
        )
    }

    fn pool(name: &str) -> PoolRef {
        PoolRef {
            name: name.into(),
            uuid: Default::default(),
        }
    }

    fn vol(pool: &str, name: &str) -> VolRef {
        VolRef {
            pool: pool.into(),
            name: name.into(),
            key: String::new(),
        }
    }

    #[test]
    fn volumes_account_for_pool_space() {
        let d = driver();
        let info = pool_get_info(&d, &pool("default-pool")).unwrap();
        assert_eq!(
            (info.capacity, info.allocation, info.available),
            (DEFAULT_POOL_CAP, 400, DEFAULT_POOL_CAP - 400)
        );
        let v = vol_create_xml(
            &d,
            &pool("default-pool"),
            "<volume><name>a</name><capacity unit='KiB'>4</capacity></volume>",
            0,
        )
        .unwrap();
        assert_eq!(v.key, "/default-pool/a");
        assert_eq!(vol_get_path(&d, &v).unwrap(), "/default-pool/a");
        assert_eq!(
            pool_get_info(&d, &pool("default-pool")).unwrap().allocation,
            4496
        );
        let e = vol_create_xml(
            &d,
            &pool("default-pool"),
            "<volume><name>a</name><capacity>1</capacity></volume>",
            0,
        )
        .unwrap_err();
        assert_eq!(e.message, "operation failed: storage vol already exists");
        let e = vol_create_xml(
            &d,
            &pool("default-pool"),
            "<volume><name>big</name><capacity unit='G'>101</capacity></volume>",
            0,
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "internal error: Not enough free space in pool for volume 'big'"
        );
        assert_eq!(
            vol_lookup_by_key(&d, "/default-pool/v0").unwrap().name,
            "v0"
        );
        assert_eq!(vol_lookup_by_path(&d, "/default-pool/a").unwrap().name, "a");
        let c = vol_create_xml_from(
            &d,
            &pool("default-pool"),
            "<volume><name>c</name><capacity>10</capacity></volume>",
            &vol("other", "a"),
            0,
        )
        .unwrap();
        assert_eq!(c.name, "c");
        assert_eq!(
            vol_get_info(&d, &c).unwrap(),
            VolInfo {
                type_: 0,
                capacity: 10,
                allocation: 10
            }
        );
        vol_delete(&d, &v, 0).unwrap();
        let e = vol_delete(&d, &v, 0).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                code::NO_STORAGE_VOL,
                "Storage volume not found: no storage vol with matching name 'a'"
            )
        );
        assert_eq!(
            pool_get_info(&d, &pool("default-pool")).unwrap().allocation,
            410
        );
        assert_eq!(pool_num_of_volumes(&d, &pool("default-pool")).unwrap(), 2);
    }

    #[test]
    fn pool_state_machine_and_events() {
        let d = driver();
        let mut rx = d.events.subscribe();
        let p = pool_define_xml(
            &d,
            "<pool type='dir'><name>p2</name><target><path>/p2</path></target></pool>",
            0,
        )
        .unwrap();
        assert!(!pool_is_active(&d, &p).unwrap());
        assert!(pool_is_persistent(&d, &p).unwrap());
        let e = vol_lookup_by_name(&d, &p, "x").unwrap_err();
        assert_eq!(
            e.message,
            "Requested operation is not valid: storage pool 'p2' is not active"
        );
        let e = pool_list_all_volumes(&d, &p, 0).unwrap_err();
        assert_eq!(
            e.message,
            "Requested operation is not valid: storage pool is not active"
        );
        pool_build(&d, &p, 0).unwrap();
        pool_create(&d, &p, 0).unwrap();
        let e = pool_undefine(&d, &p).unwrap_err();
        assert_eq!(
            e.message,
            "Requested operation is not valid: storage pool 'p2' is active"
        );
        pool_refresh(&d, &p, 0).unwrap();
        pool_destroy(&d, &p).unwrap();
        pool_delete(&d, &p, 0).unwrap();
        pool_undefine(&d, &p).unwrap();
        let mut seen = Vec::new();
        while let Ok(ev) = rx.try_recv() {
            seen.push(match ev {
                Event::PoolLifecycle { event, .. } => event,
                Event::PoolRefresh { .. } => -1,
                _ => -2,
            });
        }
        assert_eq!(
            seen,
            vec![
                ev::DEFINED,
                ev::CREATED,
                ev::STARTED,
                -1,
                ev::STOPPED,
                ev::DELETED,
                ev::UNDEFINED
            ]
        );
        let e = pool_lookup_by_name(&d, "p2").unwrap_err();
        assert_eq!(
            e.message,
            "Storage pool not found: no storage pool with matching name 'p2'"
        );
    }

    #[test]
    fn transient_pools_and_conflicts() {
        let d = driver();
        let e = pool_define_xml(
            &d,
            "<pool type='dir'><name>q</name><target><path>/default-pool/</path></target></pool>",
            0,
        )
        .unwrap_err();
        assert_eq!(
            (e.code, e.domain, e.message.as_str()),
            (
                code::OPERATION_FAILED,
                errdom::STORAGE,
                "operation failed: Storage source conflict with pool: 'default-pool'"
            )
        );
        let t = pool_create_xml(
            &d,
            "<pool type='dir'><name>t</name><target><path>/t</path></target></pool>",
            0,
        )
        .unwrap();
        assert!(!pool_is_persistent(&d, &t).unwrap());
        assert!(!pool_get_autostart(&d, &t).unwrap());
        let e = pool_set_autostart(&d, &t, true).unwrap_err();
        assert_eq!(e.message, "invalid argument: pool has no config file");
        use list_pools::*;
        let names = |f| {
            list_all_pools(&d, f)
                .unwrap()
                .into_iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(TRANSIENT), vec!["t"]);
        assert_eq!(names(DIR | PERSISTENT), vec!["default-pool"]);
        assert_eq!(names(1 << 9), Vec::<String>::new());
        pool_destroy(&d, &t).unwrap();
        assert_eq!(
            pool_is_active(&d, &t).unwrap_err().code,
            code::NO_STORAGE_POOL
        );
        assert_eq!(
            list_all_pools(&d, 1 << 20).unwrap_err().message,
            "unsupported flags (0x100000) in function testConnectListAllStoragePools"
        );
    }

    #[test]
    fn node_file_volumes_get_default_paths_and_duplicates_fail() {
        let dup = "<node><pool type='dir'><name>p</name><target><path>/p</path></target>\
            <volume><name>v</name><capacity>1</capacity></volume>\
            <volume><name>v</name><capacity>1</capacity></volume></pool></node>";
        let e = super::super::host::state_from_text(dup).err().unwrap();
        assert_eq!(
            (e.code, e.domain, e.message.as_str()),
            (
                code::INTERNAL_ERROR,
                errdom::NONE,
                "An error occurred, but the cause is unknown"
            )
        );
        let d = driver();
        let x = vol_get_xml_desc(&d, &vol("default-pool", "v0"), 0).unwrap();
        assert_eq!(
            x,
            "<volume type='file'>\n  <name>v0</name>\n  <key>/default-pool/v0</key>\n  \
             <capacity unit='bytes'>1000</capacity>\n  <allocation unit='bytes'>400</allocation>\n  \
             <target>\n    <path>/default-pool/v0</path>\n    <format type='raw'/>\n  </target>\n</volume>\n"
        );
    }
}
