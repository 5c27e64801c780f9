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

#[cfg(test)]
mod tests {
    use super::*;

    const NODE: &str = "<node><network><name>default</name>\
        <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid><bridge name='virbr0'/><forward/>\
        <ip address='192.168.122.1' netmask='255.255.255.0'/></network></node>";

    fn driver() -> TestDriver {
        TestDriver::new(
            super::super::host::state_from_text(NODE).unwrap(),
            "test:///t".into(),
        )
    }

    fn net(name: &str) -> NetworkRef {
        NetworkRef {
            name: name.into(),
            uuid: Default::default(),
        }
    }

    fn events(rx: &mut broadcast::Receiver<Event>) -> Vec<(String, i32)> {
        let mut v = Vec::new();
        while let Ok(Event::NetworkLifecycle { net, event, .. }) = rx.try_recv() {
            v.push((net.name, event));
        }
        v
    }

    #[test]
    fn lifecycle_matches_libvirt() {
        let d = driver();
        let mut rx = d.events.subscribe();
        let n = network_define_xml(
            &d,
            "<network><name>n1</name><uuid>11111111-2222-3333-4444-555555555555</uuid>\
             <bridge name='b1'/></network>",
            0,
        )
        .unwrap();
        assert!(!network_is_active(&d, &n).unwrap());
        assert!(network_is_persistent(&d, &n).unwrap());
        network_create(&d, &net("n1")).unwrap();
        let e = network_create(&d, &net("n1")).unwrap_err();
        assert_eq!(
            (e.code, e.domain, e.message.as_str()),
            (
                code::OPERATION_INVALID,
                errdom::TEST,
                "Requested operation is not valid: Network 'n1' is already running"
            )
        );
        let e = network_undefine(&d, &net("n1")).unwrap_err();
        assert_eq!(
            e.message,
            "Requested operation is not valid: Network 'n1' is still running"
        );
        // A definition saved while running stays pending (libvirt's test driver never swaps it).
        network_define_xml(
            &d,
            "<network><name>n1</name><uuid>11111111-2222-3333-4444-555555555555</uuid>\
             <bridge name='b2'/></network>",
            0,
        )
        .unwrap();
        assert_eq!(network_get_bridge_name(&d, &net("n1")).unwrap(), "b1");
        network_destroy(&d, &net("n1")).unwrap();
        assert_eq!(network_get_bridge_name(&d, &net("n1")).unwrap(), "b1");
        // Destroying an inactive network succeeds, as in libvirt 9.0's test driver.
        network_destroy(&d, &net("n1")).unwrap();
        network_undefine(&d, &n).unwrap();
        let e = network_undefine(&d, &net("n1")).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                code::NO_NETWORK,
                "Network not found: no network with matching name 'n1'"
            )
        );
        assert_eq!(
            events(&mut rx),
            vec![
                ("n1".into(), ev::DEFINED),
                ("n1".into(), ev::STARTED),
                ("n1".into(), ev::DEFINED),
                ("n1".into(), ev::STOPPED),
                ("n1".into(), ev::STOPPED),
                ("n1".into(), ev::UNDEFINED),
            ]
        );
    }

    #[test]
    fn transient_networks_vanish_when_stopped() {
        let d = driver();
        let t = network_create_xml(
            &d,
            "<network><name>t</name><ip address='10.0.0.1'/><forward/></network>",
            0,
        )
        .unwrap();
        assert!(network_is_active(&d, &t).unwrap());
        assert!(!network_is_persistent(&d, &t).unwrap());
        use list_networks::*;
        let names = |f| {
            list_all_networks(&d, f)
                .unwrap()
                .into_iter()
                .map(|n| n.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(TRANSIENT), vec!["t"]);
        assert_eq!(names(PERSISTENT | ACTIVE), vec!["default"]);
        assert_eq!(names(INACTIVE), Vec::<String>::new());
        network_destroy(&d, &net("t")).unwrap();
        assert_eq!(
            network_is_active(&d, &t).unwrap_err().code,
            code::NO_NETWORK
        );
        let e = list_all_networks(&d, 0x40).unwrap_err();
        assert_eq!(
            e.message,
            "unsupported flags (0x40) in function testConnectListAllNetworks"
        );
    }

    #[test]
    fn clashes_and_missing_bridge() {
        let d = driver();
        let e = network_define_xml(&d, "<network><name>default</name></network>", 0).unwrap_err();
        assert_eq!(
            (e.code, e.domain, e.message.as_str()),
            (
                code::OPERATION_FAILED,
                errdom::NETWORK,
                "operation failed: network 'default' already exists with uuid dd8fe884-6c02-601e-7551-cca97df1c5df"
            )
        );
        let e = network_create_xml(
            &d,
            "<network><name>default</name><uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid></network>",
            0,
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "Requested operation is not valid: network is already active as 'default'"
        );
        network_define_xml(&d, "<network><name>nb</name></network>", 0).unwrap();
        let e = network_get_bridge_name(&d, &net("nb")).unwrap_err();
        assert_eq!(
            e.message,
            "internal error: network 'nb' does not have a bridge name."
        );
        let e = network_get_xml_desc(&d, &net("default"), 1).unwrap_err();
        assert_eq!(
            e.message,
            "unsupported flags (0x1) in function testNetworkGetXMLDesc"
        );
        network_set_autostart(&d, &net("default"), true).unwrap();
        assert!(network_get_autostart(&d, &net("default")).unwrap());
        assert_eq!(
            list_all_networks(&d, list_networks::AUTOSTART).unwrap()[0].name,
            "default"
        );
    }
}
