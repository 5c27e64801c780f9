//! The test driver's virtual networks: libvirt 9.0's `test_driver.c` network entry points over
//! `virnetworkobj.c`'s object rules (a live and a persistent definition per network, transient
//! networks vanish when stopped), with the same errors and lifecycle events.
//!
//! libvirt quirks kept on purpose: destroying an inactive network succeeds (and raises a
//! "stopped" event); a definition saved while the network runs stays pending after it stops,
//! because the test driver never swaps it in.

use super::host::check_flags;
use super::*;
use rvirt_xml::network::NetworkDef;

/// `virNetworkEventLifecycleType`.
mod ev {
    pub const DEFINED: i32 = 0;
    pub const UNDEFINED: i32 = 1;
    pub const STARTED: i32 = 2;
    pub const STOPPED: i32 = 3;
}

/// One network (`virNetworkObj`).
pub(crate) struct NetObj {
    /// The live definition (the only one while inactive).
    pub(crate) def: NetworkDef,
    /// The persistent definition saved while the network runs.
    pub(crate) new_def: Option<NetworkDef>,
    pub(crate) active: bool,
    pub(crate) persistent: bool,
    pub(crate) autostart: bool,
}

impl NetObj {
    fn identity(&self) -> NetworkRef {
        NetworkRef {
            name: self.def.name.clone(),
            uuid: rvirt_proto::xdr::FixedOpaque(self.def.uuid),
        }
    }
}

/// All networks, in definition order.
#[derive(Default)]
pub(crate) struct Networks {
    pub(crate) objs: Vec<NetObj>,
}

fn no_network_name(name: &str) -> Error {
    Error::new(
        code::NO_NETWORK,
        errdom::TEST,
        format!("no network with matching name '{name}'"),
    )
}

impl Networks {
    fn by_name(&self, name: &str) -> Result<usize> {
        self.objs
            .iter()
            .position(|o| o.def.name == name)
            .ok_or_else(|| no_network_name(name))
    }

    fn by_uuid(&self, uuid: &Uuid) -> Result<usize> {
        self.objs
            .iter()
            .position(|o| o.def.uuid == uuid.0)
            .ok_or_else(|| {
                Error::new(
                    code::NO_NETWORK,
                    errdom::TEST,
                    format!("no network with matching uuid '{}'", uuid_to_string(uuid)),
                )
            })
    }

    /// `virNetworkObjAssignDef`: replaces the matching network's live (`live`) or persistent
    /// definition, or adds a new network; `check_live` refuses to replace a running one.
    fn assign_def(&mut self, def: NetworkDef, live: bool, check_live: bool) -> Result<usize> {
        if let Some(i) = self.objs.iter().position(|o| o.def.uuid == def.uuid) {
            let obj = &mut self.objs[i];
            if obj.def.name != def.name {
                return Err(Error::new(
                    code::OPERATION_FAILED,
                    errdom::NETWORK,
                    format!(
                        "network '{}' is already defined with uuid {}",
                        obj.def.name,
                        rvirt_xml::conf::uuid_format(&obj.def.uuid)
                    ),
                ));
            }
            if check_live && obj.active {
                return Err(Error::new(
                    code::OPERATION_INVALID,
                    errdom::NETWORK,
                    format!("network is already active as '{}'", obj.def.name),
                ));
            }
            if live {
                let old = std::mem::replace(&mut obj.def, def);
                if obj.persistent && obj.new_def.is_none() {
                    obj.new_def = Some(old);
                }
            } else {
                obj.new_def = None;
                if obj.active || !obj.persistent {
                    obj.new_def = Some(def);
                } else {
                    obj.def = def;
                }
                obj.persistent = true;
            }
            return Ok(i);
        }
        if let Some(o) = self.objs.iter().find(|o| o.def.name == def.name) {
            return Err(Error::new(
                code::OPERATION_FAILED,
                errdom::NETWORK,
                format!(
                    "network '{}' already exists with uuid {}",
                    def.name,
                    rvirt_xml::conf::uuid_format(&o.def.uuid)
                ),
            ));
        }
        self.objs.push(NetObj {
            def,
            new_def: None,
            active: false,
            persistent: !live,
            autostart: false,
        });
        Ok(self.objs.len() - 1)
    }
}

/// Adds a network of a node file (`testParseNetworks`): persistent and active.
pub(super) fn load_node_network(state: &mut State, node: rvirt_xml::conf::Node) -> Result<()> {
    let def = NetworkDef::parse_node(node)?;
    let i = state.networks.assign_def(def, false, false)?;
    state.networks.objs[i].active = true;
    Ok(())
}

fn lifecycle(drv: &TestDriver, net: NetworkRef, event: i32) {
    drv.emit(Event::NetworkLifecycle {
        net,
        event,
        detail: 0,
    });
}

/// `VIR_CONNECT_LIST_NETWORKS_FILTERS_ALL`.
const LIST_FILTERS_ALL: u32 = 0x3f;

/// `virNetworkObjMatch`.
fn matches(o: &NetObj, flags: u32) -> bool {
    use list_networks::*;
    let pick = |set: u32, yes: u32, no: u32, v: bool| {
        flags & set == 0 || (flags & yes != 0 && v) || (flags & no != 0 && !v)
    };
    pick(ACTIVE | INACTIVE, ACTIVE, INACTIVE, o.active)
        && pick(PERSISTENT | TRANSIENT, PERSISTENT, TRANSIENT, o.persistent)
        && pick(
            AUTOSTART | NO_AUTOSTART,
            AUTOSTART,
            NO_AUTOSTART,
            o.autostart,
        )
}

pub(super) fn list_all_networks(drv: &TestDriver, flags: u32) -> Result<Vec<NetworkRef>> {
    check_flags(flags, LIST_FILTERS_ALL, "testConnectListAllNetworks")?;
    let st = drv.lock();
    Ok(st
        .networks
        .objs
        .iter()
        .filter(|o| matches(o, flags))
        .map(NetObj::identity)
        .collect())
}

pub(super) fn network_lookup_by_name(drv: &TestDriver, name: &str) -> Result<NetworkRef> {
    let st = drv.lock();
    let i = st.networks.by_name(name)?;
    Ok(st.networks.objs[i].identity())
}

pub(super) fn network_lookup_by_uuid(drv: &TestDriver, uuid: &Uuid) -> Result<NetworkRef> {
    let st = drv.lock();
    let i = st.networks.by_uuid(uuid)?;
    Ok(st.networks.objs[i].identity())
}

pub(super) fn network_define_xml(drv: &TestDriver, xml: &str, flags: u32) -> Result<NetworkRef> {
    // VIR_NETWORK_DEFINE_VALIDATE asks for schema validation, which rvirt does not do; the
    // document is still checked by the parser.
    check_flags(flags, 1, "testNetworkDefineXMLFlags")?;
    let def = NetworkDef::parse(xml)?;
    let r = {
        let mut st = drv.lock();
        let i = st.networks.assign_def(def, false, false)?;
        st.networks.objs[i].identity()
    };
    lifecycle(drv, r.clone(), ev::DEFINED);
    Ok(r)
}

pub(super) fn network_create_xml(drv: &TestDriver, xml: &str, flags: u32) -> Result<NetworkRef> {
    check_flags(flags, 1, "testNetworkCreateXMLFlags")?;
    let def = NetworkDef::parse(xml)?;
    let r = {
        let mut st = drv.lock();
        let i = st.networks.assign_def(def, true, true)?;
        st.networks.objs[i].active = true;
        st.networks.objs[i].identity()
    };
    lifecycle(drv, r.clone(), ev::STARTED);
    Ok(r)
}

pub(super) fn network_create(drv: &TestDriver, net: &NetworkRef) -> Result<()> {
    let r = {
        let mut st = drv.lock();
        let i = st.networks.by_name(&net.name)?;
        let o = &mut st.networks.objs[i];
        if o.active {
            return Err(Error::operation_invalid(
                errdom::TEST,
                format!("Network '{}' is already running", net.name),
            ));
        }
        o.active = true;
        o.identity()
    };
    lifecycle(drv, r, ev::STARTED);
    Ok(())
}

pub(super) fn network_destroy(drv: &TestDriver, net: &NetworkRef) -> Result<()> {
    let r = {
        let mut st = drv.lock();
        let i = st.networks.by_name(&net.name)?;
        let o = &mut st.networks.objs[i];
        o.active = false;
        let r = o.identity();
        if !o.persistent {
            st.networks.objs.remove(i);
        }
        r
    };
    lifecycle(drv, r, ev::STOPPED);
    Ok(())
}

pub(super) fn network_undefine(drv: &TestDriver, net: &NetworkRef) -> Result<()> {
    {
        let mut st = drv.lock();
        let i = st.networks.by_name(&net.name)?;
        if st.networks.objs[i].active {
            return Err(Error::operation_invalid(
                errdom::TEST,
                format!("Network '{}' is still running", net.name),
            ));
        }
        st.networks.objs.remove(i);
    }
    // libvirt raises this event with the caller's handle.
    lifecycle(drv, net.clone(), ev::UNDEFINED);
    Ok(())
}

pub(super) fn network_get_xml_desc(
    drv: &TestDriver,
    net: &NetworkRef,
    flags: u32,
) -> Result<String> {
    check_flags(flags, 0, "testNetworkGetXMLDesc")?;
    let st = drv.lock();
    let i = st.networks.by_name(&net.name)?;
    Ok(st.networks.objs[i].def.format(false))
}

pub(super) fn network_get_autostart(drv: &TestDriver, net: &NetworkRef) -> Result<bool> {
    let st = drv.lock();
    let i = st.networks.by_name(&net.name)?;
    Ok(st.networks.objs[i].autostart)
}

pub(super) fn network_set_autostart(
    drv: &TestDriver,
    net: &NetworkRef,
    autostart: bool,
) -> Result<()> {
    let mut st = drv.lock();
    let i = st.networks.by_name(&net.name)?;
    st.networks.objs[i].autostart = autostart;
    Ok(())
}

pub(super) fn network_is_active(drv: &TestDriver, net: &NetworkRef) -> Result<bool> {
    let st = drv.lock();
    let i = st.networks.by_uuid(&net.uuid)?;
    Ok(st.networks.objs[i].active)
}

pub(super) fn network_is_persistent(drv: &TestDriver, net: &NetworkRef) -> Result<bool> {
    let st = drv.lock();
    let i = st.networks.by_uuid(&net.uuid)?;
    Ok(st.networks.objs[i].persistent)
}

pub(super) fn network_get_bridge_name(drv: &TestDriver, net: &NetworkRef) -> Result<String> {
    let st = drv.lock();
    let i = st.networks.by_name(&net.name)?;
    let def = &st.networks.objs[i].def;
    def.bridge.clone().ok_or_else(|| {
        Error::internal(
            errdom::TEST,
            format!("network '{}' does not have a bridge name.", def.name),
        )
    })
}
