//! `<interface>` (`virDomainNetDefParseXML`, `virDomainNetDefFormat`, `virDomainNetDefValidate`)
//! for every connection type: libvirt network, host bridge, user mode, ethernet (tap), macvtap,
//! vhost-user, vDPA, sockets, host devices. Missing MAC addresses are generated with libvirt's
//! `52:54:00` prefix. VLAN and bandwidth fragments are the network half's (`network::netdev`).

use super::super::buf::Buf;
use super::super::xml::{
    child, children, first, on_off, prop, prop_enum, prop_int, prop_on_off, prop_required,
    prop_uint, prop_yes_no, random_bytes, report, unsupported, uuid_format, uuid_generate,
    uuid_parse, xattr, xml_enum, xml_error, xpath_ull, yes_no, Node, Result, XmlEnum,
};
use super::hostdev::{self, Hostdev, IpInfo, TeamingType};
use super::storage_source::{self as ss, Reconnect};
use super::{embed, format_info, parse_info_ext, DeviceInfo, VirtioOptions};
use crate::domain::FormatOpts;
use crate::network::addr::{Family, SockAddr};
use crate::network::netdev::{Bandwidth, VPortProfile, VPortType, Vlan};
use rvirt_proto::error::{code, domain};

xml_enum! {
    /// `virDomainNetType`.
    pub enum NetType {
        User = "user", Ethernet = "ethernet", Vhostuser = "vhostuser", Server = "server",
        Client = "client", Mcast = "mcast", Network = "network", Bridge = "bridge",
        Internal = "internal", Direct = "direct", Hostdev = "hostdev", Udp = "udp",
        Vdpa = "vdpa", Null = "null", Vds = "vds",
    }
}

xml_enum! {
    /// `virDomainNetMacType`.
    pub enum MacType { None = "", Generated = "generated", Static = "static" }
}

xml_enum! {
    /// `virDomainNetDriverType` (virtio backend).
    pub enum NetDriverName { Default = "default", Qemu = "qemu", Vhost = "vhost" }
}

xml_enum! {
    /// `virDomainNetVirtioTxModeType`.
    pub enum TxMode { Default = "default", Iothread = "iothread", Timer = "timer" }
}

xml_enum! {
    /// `virDomainNetInterfaceLinkState`.
    pub enum LinkState { Default = "default", Up = "up", Down = "down" }
}

xml_enum! {
    /// `virNetDevMacVLanMode` (macvtap `mode=`).
    pub enum MacvlanMode {
        Vepa = "vepa", Private = "private", Bridge = "bridge", Passthrough = "passthrough",
    }
}

/// Models libvirt knows by name (`virDomainNetModel`); others are kept as free text.
const KNOWN_MODELS: &[&str] = &[
    "netfront",
    "rtl8139",
    "virtio",
    "e1000",
    "e1000e",
    "virtio-transitional",
    "virtio-non-transitional",
    "usb-net",
    "spapr-vlan",
    "lan9118",
    "scm91c111",
    "vlance",
    "vmxnet",
    "vmxnet2",
    "vmxnet3",
    "Am79C970A",
    "Am79C973",
    "82540EM",
    "82545EM",
    "82543GC",
];

/// A MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// `virMacAddrParse`: six hex pairs separated by colons (one-digit pairs allowed).
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let mut out = [0u8; 6];
        let mut i = 0;
        for (k, slot) in out.iter_mut().enumerate() {
            if i >= b.len() || !b[i].is_ascii_hexdigit() {
                return None;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_hexdigit() {
                i += 1;
            }
            if i - start > 2 {
                return None;
            }
            *slot = u8::from_str_radix(&s[start..i], 16).ok()?;
            if k == 5 {
                return (i >= b.len() || b[i] <= b' ').then_some(Mac(out));
            }
            if i >= b.len() || b[i] != b':' {
                return None;
            }
            i += 1;
        }
        None
    }

    /// `virMacAddrGenerate` with libvirt's default `52:54:00` prefix.
    pub fn generate() -> Self {
        let r: [u8; 3] = random_bytes();
        Mac([0x52, 0x54, 0x00, r[0], r[1], r[2]])
    }

    /// Whether the multicast bit is set.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }
}

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// Where an interface connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetSource {
    /// `type='user'` (`<source dev>` is kept but only written for the passt backend).
    User {
        /// `<source dev=…>`.
        dev: Option<String>,
    },
    /// `type='ethernet'`.
    Ethernet,
    /// `type='network'`.
    Network {
        /// `network=`.
        network: String,
        /// `portgroup=`.
        portgroup: Option<String>,
    },
    /// `type='bridge'`.
    Bridge {
        /// `bridge=`.
        bridge: String,
    },
    /// `type='direct'` (macvtap).
    Direct {
        /// `dev=`.
        dev: String,
        /// `mode=`.
        mode: MacvlanMode,
    },
    /// `type='vhostuser'`.
    Vhostuser {
        /// `path=`.
        path: String,
        /// `mode='server'`.
        server: bool,
        /// `<reconnect>`.
        reconnect: Reconnect,
    },
    /// `type='vdpa'`.
    Vdpa {
        /// `dev=`.
        dev: String,
    },
    /// `type='server'`, `'client'`, `'mcast'` or `'udp'`.
    Socket {
        /// Which socket type.
        kind: NetType,
        /// `address=`.
        address: Option<String>,
        /// `port=`.
        port: i32,
        /// `<local address port>` (udp).
        local: Option<(String, i32)>,
    },
    /// `type='internal'`.
    Internal {
        /// `name=`.
        name: String,
    },
    /// `type='hostdev'`.
    Hostdev(Box<Hostdev>),
    /// `type='vds'`.
    Vds {
        /// `switchid=`.
        switch_id: [u8; 16],
        /// `portid=`.
        port_id: i64,
        /// `portgroupid=`.
        portgroup_id: String,
        /// `connectionid=`.
        connection_id: i64,
    },
    /// `type='null'`.
    Null,
}

/// `<backend tap vhost logFile>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetBackend {
    /// `tap=`.
    pub tap: Option<String>,
    /// `vhost=` (virtio only).
    pub vhost: Option<String>,
    /// `logFile=`.
    pub logfile: Option<String>,
}

/// A `<portForward><range>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PortRange {
    /// `start=` (0: unset).
    pub start: u32,
    /// `end=`.
    pub end: u32,
    /// `to=`.
    pub to: u32,
    /// `exclude=`.
    pub exclude: Option<bool>,
}

/// A `<portForward>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortForward {
    /// `proto=` (tcp or udp).
    pub proto: String,
    /// `address=`.
    pub address: Option<SockAddr>,
    /// `dev=`.
    pub dev: Option<String>,
    /// `<range>`s.
    pub ranges: Vec<PortRange>,
}

/// Virtio-net `<driver>` options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetDriver {
    /// `name=`.
    pub name: Option<NetDriverName>,
    /// `txmode=`.
    pub txmode: Option<TxMode>,
    /// `ioeventfd=`.
    pub ioeventfd: Option<bool>,
    /// `event_idx=`.
    pub event_idx: Option<bool>,
    /// `queues=` (0 and 1: unset).
    pub queues: u32,
    /// `rx_queue_size=`.
    pub rx_queue_size: u32,
    /// `tx_queue_size=`.
    pub tx_queue_size: u32,
    /// `rss=`.
    pub rss: Option<bool>,
    /// `rss_hash_report=`.
    pub rss_hash_report: Option<bool>,
    /// `<host csum gso tso4 tso6 ecn ufo mrg_rxbuf>`.
    pub host: [Option<bool>; 7],
    /// `<guest csum tso4 tso6 ecn ufo>`.
    pub guest: [Option<bool>; 5],
    /// Generic virtio options.
    pub virtio: VirtioOptions,
}

const HOST_OPTS: [&str; 7] = ["csum", "gso", "tso4", "tso6", "ecn", "ufo", "mrg_rxbuf"];
const GUEST_OPTS: [&str; 5] = ["csum", "tso4", "tso6", "ecn", "ufo"];

/// `<filterref filter>` and its parameters (name → values, names sorted).
pub type FilterRef = (Option<String>, Vec<(String, Vec<String>)>);

/// An `<interface>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Net {
    /// `type=` and `<source>`.
    pub source: NetSource,
    /// `trustGuestRxFilters=`.
    pub trust_guest_rx_filters: Option<bool>,
    /// `<mac address=…>`.
    pub mac: Mac,
    /// Whether the MAC was generated (not given).
    pub mac_generated: bool,
    /// `<mac type=…>`.
    pub mac_type: Option<MacType>,
    /// `<mac check=…>`.
    pub mac_check: Option<bool>,
    /// `<target dev=…>`.
    pub ifname: Option<String>,
    /// `<target managed=…>`.
    pub managed_tap: Option<bool>,
    /// `<guest dev=…>`.
    pub guest_dev: Option<String>,
    /// `<model type=…>`.
    pub model: Option<String>,
    /// `<driver>` (virtio models only).
    pub driver: NetDriver,
    /// `<script path=…>`.
    pub script: Option<String>,
    /// `<downscript path=…>`.
    pub downscript: Option<String>,
    /// `<backenddomain name=…>`.
    pub backend_domain: Option<String>,
    /// `<link state=…>`.
    pub link_state: Option<LinkState>,
    /// `<mtu size=…>` (0: unset).
    pub mtu: u32,
    /// `<tune><sndbuf>`.
    pub sndbuf: Option<u64>,
    /// `<source><ip>`/`<route>`: host side addresses (ethernet).
    pub host_ip: IpInfo,
    /// `<ip>`/`<route>`: guest side addresses.
    pub guest_ip: IpInfo,
    /// `<portForward>`s.
    pub port_forwards: Vec<PortForward>,
    /// `<virtualport>`.
    pub virtualport: Option<VPortProfile>,
    /// `<vlan>`.
    pub vlan: Option<Vlan>,
    /// `<bandwidth>`.
    pub bandwidth: Option<Bandwidth>,
    /// `<filterref filter>` and its parameters (name → values), names sorted.
    pub filterref: Option<FilterRef>,
    /// `<backend>`.
    pub backend: NetBackend,
    /// `<teaming type persistent>`.
    pub teaming: Option<(TeamingType, Option<String>)>,
    /// `<coalesce><rx><frames max>`.
    pub coalesce: Option<u32>,
    /// `<port isolated>`.
    pub isolated_port: Option<bool>,
    /// Address, alias, boot order, ROM.
    pub info: DeviceInfo,
}

impl Net {
    /// The `type=` value.
    pub fn type_(&self) -> NetType {
        match &self.source {
            NetSource::User { .. } => NetType::User,
            NetSource::Ethernet => NetType::Ethernet,
            NetSource::Network { .. } => NetType::Network,
            NetSource::Bridge { .. } => NetType::Bridge,
            NetSource::Direct { .. } => NetType::Direct,
            NetSource::Vhostuser { .. } => NetType::Vhostuser,
            NetSource::Vdpa { .. } => NetType::Vdpa,
            NetSource::Socket { kind, .. } => *kind,
            NetSource::Internal { .. } => NetType::Internal,
            NetSource::Hostdev(_) => NetType::Hostdev,
            NetSource::Vds { .. } => NetType::Vds,
            NetSource::Null => NetType::Null,
        }
    }

    /// The host device of a `type='hostdev'` interface.
    pub fn hostdev(&self) -> Option<&Hostdev> {
        match &self.source {
            NetSource::Hostdev(h) => Some(h),
            _ => None,
        }
    }

    fn is_virtio(&self) -> bool {
        matches!(
            self.model.as_deref(),
            Some("virtio" | "virtio-transitional" | "virtio-non-transitional")
        )
    }
}

/// Auto-generated tap names that an inactive definition forgets.
fn generated_ifname(name: &str) -> bool {
    ["vnet", "macvtap", "macvlan"]
        .iter()
        .any(|p| name.starts_with(p))
}

fn require_source<'a, 'i>(src: Option<Node<'a, 'i>>, t: NetType) -> Result<Node<'a, 'i>> {
    src.ok_or_else(|| {
        xml_error(format!(
            "interface type='{}' requires a 'source' element",
            t.as_str()
        ))
    })
}

/// `virNetDevVPortProfileParse` with the flags an interface of `t` uses (`None`: the type
/// takes no `<virtualport>`).
fn parse_virtualport(node: Node, t: NetType) -> Result<VPortProfile> {
    // (generate missing defaults, require all attributes + type)
    let strict = match t {
        NetType::Network => false,
        NetType::Bridge | NetType::Direct | NetType::Hostdev => true,
        _ => {
            return Err(unsupported(format!(
                "<virtualport> element unsupported for <interface type='{}'>",
                t.as_str()
            )))
        }
    };
    let none_err = |c: i32, m: String| report(c, domain::NONE, m);
    let mut v = VPortProfile::default();
    if let Some(ty) = prop(&node, "type") {
        v.type_ = match ty.as_str() {
            "802.1Qbg" => VPortType::Qbg,
            "802.1Qbh" => VPortType::Qbh,
            "openvswitch" => VPortType::OpenVSwitch,
            "midonet" => VPortType::Midonet,
            _ => {
                return Err(none_err(
                    code::CONFIG_UNSUPPORTED,
                    format!("unknown virtualport type {ty}"),
                ))
            }
        };
    }
    if v.type_ == VPortType::None && strict {
        return Err(none_err(
            code::XML_ERROR,
            "missing required virtualport type".into(),
        ));
    }
    let params = node
        .children()
        .find(|c| c.is_element() && c.tag_name().name() == "parameters");
    let get = |a: &str| params.and_then(|p| prop(&p, a));
    let xerr = |m: &str| none_err(code::XML_ERROR, m.to_string());
    let num = |s: &str| super::super::xml::str_to_ui(s, 0);
    if let Some(s) = get("managerid") {
        let val = num(&s).ok_or_else(|| xerr("cannot parse value of managerid parameter"))?;
        if val > 0xff {
            return Err(xerr("value of managerid out of range"));
        }
        v.manager_id = Some(val as u8);
    }
    if let Some(s) = get("typeid") {
        let val = num(&s).ok_or_else(|| xerr("cannot parse value of typeid parameter"))?;
        if val > 0xff_ffff {
            return Err(xerr("value for typeid out of range"));
        }
        v.type_id = Some(val);
    }
    if let Some(s) = get("typeidversion") {
        let val = num(&s).ok_or_else(|| xerr("cannot parse value of typeidversion parameter"))?;
        if val > 0xff {
            return Err(xerr("value of typeidversion out of range"));
        }
        v.type_id_version = Some(val as u8);
    }
    if let Some(s) = get("instanceid") {
        v.instance_id = Some(
            uuid_parse(&s).ok_or_else(|| xerr("cannot parse instanceid parameter as a uuid"))?,
        );
    }
    if let Some(s) = get("profileid") {
        // The profile id lives in a 40-byte C buffer.
        if s.len() >= 40 {
            return Err(xerr("profileid parameter too long"));
        }
        v.profile_id = s;
    }
    if let Some(s) = get("interfaceid") {
        v.interface_id = Some(
            uuid_parse(&s).ok_or_else(|| xerr("cannot parse interfaceid parameter as a uuid"))?,
        );
    }
    // VIR_VPORT_XML_GENERATE_MISSING_DEFAULTS (every interface type that takes one).
    if v.instance_id.is_none() && matches!(v.type_, VPortType::Qbg | VPortType::None) {
        v.instance_id = Some(uuid_generate());
    }
    if v.interface_id.is_none() && matches!(v.type_, VPortType::OpenVSwitch | VPortType::None) {
        v.interface_id = Some(uuid_generate());
    }
    let tname = match v.type_ {
        VPortType::None => "none",
        VPortType::Qbg => "802.1Qbg",
        VPortType::Qbh => "802.1Qbh",
        VPortType::OpenVSwitch => "openvswitch",
        VPortType::Midonet => "midonet",
    };
    if strict {
        let missing = match v.type_ {
            VPortType::Qbg if v.manager_id.is_none() => Some("managerid"),
            VPortType::Qbg if v.type_id.is_none() => Some("typeid"),
            VPortType::Qbg if v.type_id_version.is_none() => Some("typeidversion"),
            VPortType::Qbg if v.instance_id.is_none() => Some("instanceid"),
            VPortType::Qbh if v.profile_id.is_empty() => Some("profileid"),
            VPortType::OpenVSwitch if v.interface_id.is_none() => Some("interfaceid"),
            VPortType::Midonet if v.interface_id.is_none() => Some("interfaceid"),
            _ => None,
        };
        if let Some(m) = missing {
            return Err(xerr(&format!(
                "missing {m} in <virtualport type='{tname}'>"
            )));
        }
    }
    let extra = match v.type_ {
        VPortType::Qbg if !v.profile_id.is_empty() => Some("profileid"),
        VPortType::Qbg if v.interface_id.is_some() => Some("interfaceid"),
        VPortType::Qbh | VPortType::OpenVSwitch if v.manager_id.is_some() => Some("managerid"),
        VPortType::Qbh | VPortType::OpenVSwitch if v.type_id.is_some() => Some("typeid"),
        VPortType::Qbh | VPortType::OpenVSwitch if v.type_id_version.is_some() => {
            Some("typeidversion")
        }
        VPortType::Qbh | VPortType::OpenVSwitch if v.instance_id.is_some() => Some("instanceid"),
        VPortType::Qbh if v.interface_id.is_some() => Some("interfaceid"),
        _ => None,
    };
    if let Some(x) = extra {
        return Err(xerr(&format!(
            "extra {x} unsupported in <virtualport type='{tname}'>"
        )));
    }
    Ok(v)
}

/// `virNWFilterParseParamAttributes`: valid parameters, grouped by name (sorted).
fn parse_filter_params(n: Node) -> Vec<(String, Vec<String>)> {
    const NAME: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for p in n.children().filter(|c| c.is_element()) {
        if p.tag_name().name() != "parameter" {
            continue;
        }
        let (Some(name), Some(val)) = (prop(&p, "name"), prop(&p, "value")) else {
            continue;
        };
        let name_ok = name.bytes().all(|c| NAME.contains(&c));
        let val_ok = !val.is_empty()
            && val
                .bytes()
                .all(|c| NAME.contains(&c) || c == b'.' || c == b':');
        if !name_ok || !val_ok {
            continue;
        }
        match out.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => v.push(val),
            None => out.push((name, vec![val])),
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn parse_port_forwards(n: Node) -> Result<Vec<PortForward>> {
    let mut out = Vec::new();
    for pf in children(n, "portForward") {
        let proto = match prop(&pf, "proto") {
            None => {
                return Err(super::super::xml::xml_util_error(
                    "Missing required attribute 'proto' in element 'portForward'",
                ))
            }
            Some(p) if p == "tcp" || p == "udp" => p,
            Some(p) => {
                return Err(super::super::xml::xml_util_error(format!(
                    "Invalid value for attribute 'proto' in element 'portForward': '{p}'."
                )))
            }
        };
        let address = match prop(&pf, "address") {
            None => None,
            Some(a) => Some(
                SockAddr::parse(&a, Family::Any)
                    .map_err(|_| xml_error(format!("Invalid address '{a}' in <portForward>")))?,
            ),
        };
        let mut ranges = Vec::new();
        for r in children(pf, "range") {
            ranges.push(PortRange {
                start: prop_uint(&r, "start", 10, true)?.unwrap_or(0),
                end: prop_uint(&r, "end", 10, true)?.unwrap_or(0),
                to: prop_uint(&r, "to", 10, true)?.unwrap_or(0),
                exclude: prop_yes_no(&r, "exclude")?,
            });
        }
        out.push(PortForward {
            proto,
            address,
            dev: prop(&pf, "dev"),
            ranges,
        });
    }
    Ok(out)
}

pub(super) fn parse(n: Node) -> Result<Net> {
    let t: NetType = prop_enum(&n, "type", false)?.unwrap_or(NetType::User);
    let trust_guest_rx_filters = prop_yes_no(&n, "trustGuestRxFilters")?;
    let model = match xattr(n, "model", "type") {
        None => None,
        Some(m) => match KNOWN_MODELS.iter().find(|k| k.eq_ignore_ascii_case(&m)) {
            Some(k) => Some(k.to_string()),
            None => {
                if !m
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
                {
                    return Err(report(
                        code::INVALID_ARG,
                        domain::DOMAIN,
                        "Model name contains invalid characters",
                    ));
                }
                Some(m)
            }
        },
    };
    let src = first(n, "source");
    let host_ip = match src {
        Some(s) => hostdev::parse_ip_info("interface host IP", s)?,
        None => IpInfo::default(),
    };
    let source = match t {
        NetType::Network => {
            let s = require_source(src, t)?;
            NetSource::Network {
                network: prop_required(&s, "network")?,
                portgroup: prop(&s, "portgroup"),
            }
        }
        NetType::Vds => {
            let s = require_source(src, t)?;
            let sw = prop_required(&s, "switchid")?;
            let switch_id = uuid_parse(&sw).ok_or_else(|| {
                super::super::xml::xml_util_error(format!(
                    "Invalid value for attribute 'switchid' in element 'source': '{sw}'."
                ))
            })?;
            let ll = |a: &str| -> Result<i64> {
                let v = prop_required(&s, a)?;
                super::super::xml::str_to_ll(&v, 0).ok_or_else(|| {
                    super::super::xml::xml_util_error(format!(
                        "Invalid value for attribute '{a}' in element 'source': '{v}'. Expected integer value"
                    ))
                })
            };
            let port_id = ll("portid")?;
            let portgroup_id = prop_required(&s, "portgroupid")?;
            let connection_id = ll("connectionid")?;
            NetSource::Vds {
                switch_id,
                port_id,
                portgroup_id,
                connection_id,
            }
        }
        NetType::Internal => {
            let s = require_source(src, t)?;
            NetSource::Internal {
                name: prop_required(&s, "name")?,
            }
        }
        NetType::Bridge => {
            let s = require_source(src, t)?;
            NetSource::Bridge {
                bridge: prop_required(&s, "bridge")?,
            }
        }
        NetType::Direct => {
            let s = require_source(src, t)?;
            NetSource::Direct {
                dev: prop_required(&s, "dev")?,
                mode: prop_enum(&s, "mode", false)?.unwrap_or(MacvlanMode::Vepa),
            }
        }
        NetType::Ethernet => NetSource::Ethernet,
        NetType::Vhostuser => {
            let s = require_source(src, t)?;
            let ty = prop_required(&s, "type")?;
            if ty != "unix" {
                return Err(unsupported(format!(
                    "Type='{ty}' unsupported for <interface type='vhostuser'>"
                )));
            }
            let path = prop_required(&s, "path")?;
            let server = match prop(&s, "mode").as_deref() {
                Some("client") => false,
                Some("server") => true,
                None => {
                    return Err(super::super::xml::xml_util_error(
                        "Missing required attribute 'mode' in element 'source'",
                    ))
                }
                Some(v) => {
                    return Err(super::super::xml::xml_util_error(format!(
                        "Invalid value for attribute 'mode' in element 'source': '{v}'."
                    )))
                }
            };
            NetSource::Vhostuser {
                path,
                server,
                reconnect: ss::parse_reconnect(s)?,
            }
        }
        NetType::Vdpa => {
            let s = require_source(src, t)?;
            NetSource::Vdpa {
                dev: prop_required(&s, "dev")?,
            }
        }
        NetType::Client | NetType::Server | NetType::Mcast | NetType::Udp => {
            let s = require_source(src, t)?;
            let address = if t != NetType::Server {
                Some(prop_required(&s, "address")?)
            } else {
                prop(&s, "address")
            };
            let port = match prop_int(&s, "port", 10, false, false)? {
                Some(p) => p,
                None => {
                    return Err(super::super::xml::xml_util_error(
                        "Missing required attribute 'port' in element 'source'",
                    ))
                }
            };
            let mut local = None;
            if t == NetType::Udp {
                let Some(l) = first(s, "local") else {
                    return Err(xml_error(
                        "'<local>' element missing for 'udp' socket interface",
                    ));
                };
                let a = prop_required(&l, "address")?;
                let p = match prop_int(&l, "port", 10, false, false)? {
                    Some(p) => p,
                    None => {
                        return Err(super::super::xml::xml_util_error(
                            "Missing required attribute 'port' in element 'local'",
                        ))
                    }
                };
                local = Some((a, p));
            }
            NetSource::Socket {
                kind: t,
                address,
                port,
                local,
            }
        }
        NetType::Hostdev => {
            let mut addrtype = xattr(n, "source/address", "type");
            if addrtype.is_none() && first(n, "source/vendor").is_some() {
                addrtype = Some("usb".into());
            }
            let (source, managed) = hostdev::parse_subsys(n, addrtype.as_deref())?;
            NetSource::Hostdev(Box::new(Hostdev {
                source,
                managed,
                readonly: false,
                shareable: false,
                teaming: None,
                info: DeviceInfo::default(),
            }))
        }
        NetType::User => NetSource::User {
            dev: src.and_then(|s| prop(&s, "dev")),
        },
        NetType::Null => NetSource::Null,
    };
    let virtualport = match first(n, "virtualport") {
        Some(v) => Some(parse_virtualport(v, t)?),
        None => None,
    };
    let (mut ifname, mut managed_tap) = (None, None);
    if let Some(tg) = child(n, "target") {
        ifname = prop(&tg, "dev");
        managed_tap = prop_yes_no(&tg, "managed")?;
    }
    let guest_dev = xattr(n, "guest", "dev");
    let link = xattr(n, "link", "state");
    let script = xattr(n, "script", "path");
    let downscript = xattr(n, "downscript", "path");
    let backend_domain = xattr(n, "backenddomain", "name");
    let filterref = if matches!(t, NetType::Network | NetType::Bridge | NetType::Ethernet) {
        first(n, "filterref").map(|f| (prop(&f, "filter"), parse_filter_params(f)))
    } else {
        None
    };
    let bandwidth = match first(n, "bandwidth") {
        Some(b) => Bandwidth::parse(b, t == NetType::Network)?,
        None => None,
    };
    let vlan = match first(n, "vlan") {
        Some(v) => Some(Vlan::parse(v)?),
        None => None,
    };

    let (mut mac, mut mac_generated, mut mac_type, mut mac_check) = (None, false, None, None);
    if let Some(m) = child(n, "mac") {
        if let Some(a) = prop(&m, "address") {
            let parsed = Mac::parse(&a)
                .ok_or_else(|| xml_error(format!("unable to parse mac address '{a}'")))?;
            if parsed.is_multicast() {
                return Err(xml_error(format!(
                    "expected unicast mac address, found multicast '{a}'"
                )));
            }
            mac = Some(parsed);
        }
        mac_type = prop_enum(&m, "type", true)?;
        mac_check = prop_yes_no(&m, "check")?;
    }
    let mac = mac.unwrap_or_else(|| {
        mac_generated = true;
        Mac::generate()
    });
    let info = parse_info_ext(n, true, true)?;
    let guest_ip = hostdev::parse_ip_info("guest interface", n)?;
    let port_forwards = parse_port_forwards(n)?;
    if managed_tap != Some(false) && ifname.as_deref().is_some_and(generated_ifname) {
        ifname = None;
    }
    let mut net = Net {
        source,
        trust_guest_rx_filters,
        mac,
        mac_generated,
        mac_type,
        mac_check,
        ifname,
        managed_tap,
        guest_dev,
        model,
        driver: NetDriver::default(),
        script,
        downscript,
        backend_domain,
        link_state: None,
        mtu: 0,
        sndbuf: None,
        host_ip,
        guest_ip,
        port_forwards,
        virtualport,
        vlan,
        bandwidth,
        filterref,
        backend: NetBackend::default(),
        teaming: None,
        coalesce: None,
        isolated_port: None,
        info,
    };
    if let Some(d) = child(n, "driver") {
        net.driver.virtio = VirtioOptions::parse(&d)?;
        if t != NetType::Hostdev && net.is_virtio() {
            let dr = &mut net.driver;
            dr.name = prop_enum(&d, "name", true)?;
            dr.txmode = prop_enum(&d, "txmode", true)?;
            dr.ioeventfd = prop_on_off(&d, "ioeventfd")?;
            dr.event_idx = prop_on_off(&d, "event_idx")?;
            dr.queues = prop_uint(&d, "queues", 10, false)?.unwrap_or(0);
            if dr.queues == 1 {
                dr.queues = 0;
            }
            dr.rx_queue_size = prop_uint(&d, "rx_queue_size", 10, false)?.unwrap_or(0);
            dr.tx_queue_size = prop_uint(&d, "tx_queue_size", 10, false)?.unwrap_or(0);
            dr.rss = prop_on_off(&d, "rss")?;
            dr.rss_hash_report = prop_on_off(&d, "rss_hash_report")?;
            if let Some(h) = first(n, "driver/host") {
                for (i, o) in HOST_OPTS.iter().enumerate() {
                    dr.host[i] = prop_on_off(&h, o)?;
                }
            }
            if let Some(g) = first(n, "driver/guest") {
                for (i, o) in GUEST_OPTS.iter().enumerate() {
                    dr.guest[i] = prop_on_off(&g, o)?;
                }
            }
        }
    }
    if let Some(be) = first(n, "backend") {
        if let Some(bt) = prop(&be, "type") {
            // Debian builds libvirt 9.0 without passt: only the default is known.
            let msg = format!("Invalid value for attribute 'type' in element 'backend': '{bt}'.");
            if bt == "passt" {
                return Err(xml_error(msg));
            }
            return Err(super::super::xml::xml_util_error(msg));
        }
        net.backend.logfile = prop(&be, "logFile");
        net.backend.tap = prop(&be, "tap").map(|p| crate::conf::sanitize_path(&p));
        if t != NetType::Hostdev && net.is_virtio() {
            net.backend.vhost = prop(&be, "vhost").map(|p| crate::conf::sanitize_path(&p));
        }
    }
    if let Some(l) = link {
        net.link_state = match LinkState::parse(&l) {
            Some(s) if s != LinkState::Default => Some(s),
            _ => return Err(unsupported(format!("unknown interface link state '{l}'"))),
        };
    }
    net.teaming = hostdev::parse_teaming(n)?;
    net.sndbuf = match xpath_ull(n, "tune/sndbuf", None) {
        Ok(v) => v,
        Err(()) => return Err(xml_error("sndbuf must be a positive integer")),
    };
    net.mtu = match xattr(n, "mtu", "size") {
        None => 0,
        Some(s) => {
            super::super::xml::str_to_uip(&s, 10).ok_or_else(|| xml_error("malformed mtu size"))?
        }
    };
    if let Some(c) = first(n, "coalesce") {
        if let Some(s) = xattr(c, "rx/frames", "max") {
            let v = super::super::xml::str_to_ullp(&s, 10).ok_or_else(|| {
                report(
                    code::XML_DETAIL,
                    domain::DOMAIN,
                    format!("cannot parse value '{s}' for coalesce parameter"),
                )
            })?;
            if v > u32::MAX as u64 {
                return Err(report(
                    code::OVERFLOW,
                    domain::DOMAIN,
                    format!(
                        "value '{v}' is too big for coalesce parameter, maximum is '{}'",
                        u32::MAX
                    ),
                ));
            }
            net.coalesce = Some(v as u32);
        }
    }
    if let Some(p) = first(n, "port") {
        net.isolated_port = prop_yes_no(&p, "isolated")?;
    }
    Ok(net)
}

pub(super) fn format(b: &mut Buf, n: &Net, opts: FormatOpts) {
    b.add(&format!("<interface type='{}'", n.type_().as_str()));
    if n.hostdev().is_some_and(|h| h.managed) {
        b.add(" managed='yes'");
    }
    if let Some(t) = n.trust_guest_rx_filters {
        b.add(&format!(" trustGuestRxFilters='{}'", yes_no(t)));
    }
    b.add(">\n");
    b.adjust(2);
    b.add(&format!("<mac address='{}'", n.mac));
    if let Some(t) = n.mac_type {
        b.add(&format!(" type='{}'", t.as_str()));
    }
    if let Some(c) = n.mac_check {
        b.add(&format!(" check='{}'", yes_no(c)));
    }
    b.add("/>\n");
    // 0: nothing written; 1: "<source ..." open without ">"; 2+: element open with children.
    let mut lines = 0;
    match &n.source {
        NetSource::Network { network, portgroup } => {
            b.esc("<source network='%s'", Some(network));
            b.esc(" portgroup='%s'", portgroup.as_deref());
            lines += 1;
        }
        NetSource::Ethernet | NetSource::Null => {}
        NetSource::Vhostuser {
            path,
            server,
            reconnect,
        } => {
            b.add("<source type='unix'");
            b.esc(" path='%s'", Some(path));
            b.add(&format!(
                " mode='{}'",
                if *server { "server" } else { "client" }
            ));
            lines += 1;
            if reconnect.enabled.is_some() {
                b.add(">\n");
                lines += 1;
                b.adjust(2);
                ss::format_reconnect(b, reconnect);
                b.adjust(-2);
            }
        }
        NetSource::Bridge { bridge } => {
            b.esc("<source bridge='%s'", Some(bridge));
            lines += 1;
        }
        NetSource::Socket {
            kind,
            address,
            port,
            local,
        } => {
            match address {
                Some(a) => b.add(&format!("<source address='{a}' port='{port}'")),
                None => b.add(&format!("<source port='{port}'")),
            }
            lines += 1;
            if *kind == NetType::Udp {
                b.add(">\n");
                lines += 1;
                b.adjust(2);
                let (la, lp) = local.clone().unwrap_or_default();
                b.add(&format!("<local address='{la}' port='{lp}'/>\n"));
                b.adjust(-2);
            }
        }
        NetSource::Internal { name } => {
            b.esc("<source name='%s'", Some(name));
            lines += 1;
        }
        NetSource::Direct { dev, mode } => {
            b.esc("<source dev='%s'", Some(dev));
            b.add(&format!(" mode='{}'", mode.as_str()));
            lines += 1;
        }
        NetSource::Hostdev(h) => hostdev::format_subsys(b, h, true, opts.migratable),
        NetSource::Vdpa { dev } => {
            b.esc("<source dev='%s'", Some(dev));
            lines += 1;
        }
        NetSource::Vds {
            switch_id,
            port_id,
            portgroup_id,
            connection_id,
        } => {
            b.add(&format!("<source switchid='{}'", uuid_format(switch_id)));
            b.add(&format!(" portid='{port_id}'"));
            b.esc(" portgroupid='%s'", Some(portgroup_id));
            b.add(&format!(" connectionid='{connection_id}'"));
            lines += 1;
        }
        // The source device is only written for the passt backend, which this libvirt
        // build does not have.
        NetSource::User { .. } => {}
    }
    if !n.host_ip.ips.is_empty() || !n.host_ip.routes.is_empty() {
        if lines == 0 {
            b.add("<source>\n");
            lines += 2;
        } else if lines == 1 {
            b.add(">\n");
            lines += 1;
        }
        b.adjust(2);
        hostdev::format_ip_info(b, &n.host_ip);
        b.adjust(-2);
    }
    if lines == 1 {
        b.add("/>\n");
    } else if lines > 1 {
        b.add("</source>\n");
    }
    let mut w = crate::conf::Buf::new();
    if let Some(v) = &n.vlan {
        v.format(&mut w);
    }
    if let Some(v) = &n.virtualport {
        v.format(&mut w);
    }
    if let Some(bw) = &n.bandwidth {
        bw.format(&mut w);
    }
    embed(b, &w.finish());
    if let Some(i) = n.isolated_port {
        b.add(&format!("<port isolated='{}'/>\n", yes_no(i)));
    }
    hostdev::format_ip_info(b, &n.guest_ip);
    for pf in &n.port_forwards {
        let mut a = Buf::new();
        a.add(&format!(" proto='{}'", pf.proto));
        if let Some(ad) = &pf.address {
            a.add(&format!(" address='{}'", ad.format()));
        }
        a.esc(" dev='%s'", pf.dev.as_deref());
        let mut k = b.child();
        for r in &pf.ranges {
            let mut ra = Buf::new();
            if r.start != 0 {
                ra.add(&format!(" start='{}'", r.start));
                if r.end != 0 {
                    ra.add(&format!(" end='{}'", r.end));
                }
                if r.to != 0 {
                    ra.add(&format!(" to='{}'", r.to));
                }
            }
            if let Some(e) = r.exclude {
                ra.add(&format!(" exclude='{}'", yes_no(e)));
            }
            k.element("range", ra, Buf::new());
        }
        b.element_empty("portForward", a, k);
    }
    b.esc("<script path='%s'/>\n", n.script.as_deref());
    b.esc("<downscript path='%s'/>\n", n.downscript.as_deref());
    b.esc("<backenddomain name='%s'/>\n", n.backend_domain.as_deref());
    let mut ta = Buf::new();
    if let Some(ifn) = &n.ifname {
        if n.managed_tap == Some(false) || !(opts.inactive && generated_ifname(ifn)) {
            ta.esc(" dev='%s'", Some(ifn));
        }
    }
    if let Some(m) = n.managed_tap {
        ta.add(&format!(" managed='{}'", yes_no(m)));
    }
    b.element("target", ta, Buf::new());
    if let Some(g) = &n.guest_dev {
        b.esc("<guest dev='%s'", Some(g));
        b.add("/>\n");
    }
    if let Some(m) = &n.model {
        b.esc("<model type='%s'/>\n", Some(m));
        if n.is_virtio() {
            let dr = &n.driver;
            let mut da = Buf::new();
            if let Some(v) = dr.name {
                da.add(&format!(" name='{}'", v.as_str()));
            }
            if let Some(v) = dr.txmode {
                da.add(&format!(" txmode='{}'", v.as_str()));
            }
            if let Some(v) = dr.ioeventfd {
                da.add(&format!(" ioeventfd='{}'", on_off(v)));
            }
            if let Some(v) = dr.event_idx {
                da.add(&format!(" event_idx='{}'", on_off(v)));
            }
            if dr.queues != 0 {
                da.add(&format!(" queues='{}'", dr.queues));
            }
            if dr.rx_queue_size != 0 {
                da.add(&format!(" rx_queue_size='{}'", dr.rx_queue_size));
            }
            if dr.tx_queue_size != 0 {
                da.add(&format!(" tx_queue_size='{}'", dr.tx_queue_size));
            }
            if let Some(v) = dr.rss {
                da.add(&format!(" rss='{}'", on_off(v)));
            }
            if let Some(v) = dr.rss_hash_report {
                da.add(&format!(" rss_hash_report='{}'", on_off(v)));
            }
            dr.virtio.format(&mut da);
            let mut dk = b.child();
            let mut ha = Buf::new();
            for (i, o) in HOST_OPTS.iter().enumerate() {
                if let Some(v) = dr.host[i] {
                    ha.add(&format!(" {o}='{}'", on_off(v)));
                }
            }
            let mut ga = Buf::new();
            for (i, o) in GUEST_OPTS.iter().enumerate() {
                if let Some(v) = dr.guest[i] {
                    ga.add(&format!(" {o}='{}'", on_off(v)));
                }
            }
            dk.element("host", ha, Buf::new());
            dk.element("guest", ga, Buf::new());
            b.element("driver", da, dk);
        }
    }
    let mut ba = Buf::new();
    ba.esc(" tap='%s'", n.backend.tap.as_deref());
    ba.esc(" vhost='%s'", n.backend.vhost.as_deref());
    ba.esc(" logFile='%s'", n.backend.logfile.as_deref());
    b.element("backend", ba, Buf::new());
    if let Some((Some(filter), params)) = &n.filterref {
        b.add(&format!("<filterref filter='{filter}'"));
        if params.is_empty() {
            b.add("/>\n");
        } else {
            b.add(">\n");
            b.adjust(2);
            for (name, values) in params {
                for v in values {
                    b.add(&format!("<parameter name='{name}' value='{v}'/>\n"));
                }
            }
            b.adjust(-2);
            b.add("</filterref>\n");
        }
    }
    if let Some(s) = n.sndbuf {
        b.add("<tune>\n");
        b.adjust(2);
        b.add(&format!("<sndbuf>{s}</sndbuf>\n"));
        b.adjust(-2);
        b.add("</tune>\n");
    }
    hostdev::format_teaming(b, &n.teaming);
    if let Some(l) = n.link_state {
        b.add(&format!("<link state='{}'/>\n", l.as_str()));
    }
    if n.mtu != 0 {
        b.add(&format!("<mtu size='{}'/>\n", n.mtu));
    }
    if let Some(c) = n.coalesce.filter(|c| *c != 0) {
        b.add("<coalesce>\n");
        b.adjust(2);
        b.add("<rx>\n");
        b.adjust(2);
        b.add(&format!("<frames max='{c}'/>\n"));
        b.adjust(-2);
        b.add("</rx>\n");
        b.adjust(-2);
        b.add("</coalesce>\n");
    }
    format_info(b, &n.info, true);
    b.adjust(-2);
    b.add("</interface>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_addresses() {
        assert_eq!(
            Mac::parse("aa:bb:cc:dd:ee:ff").unwrap().to_string(),
            "aa:bb:cc:dd:ee:ff"
        );
        assert_eq!(
            Mac::parse("a:b:c:d:e:f").unwrap().to_string(),
            "0a:0b:0c:0d:0e:0f"
        );
        assert!(Mac::parse("zz").is_none());
        assert!(Mac::parse("aa:bb:cc:dd:ee").is_none());
        assert!(Mac::parse("aaa:bb:cc:dd:ee:ff").is_none());
        let g = Mac::generate();
        assert_eq!(&g.0[..3], &[0x52, 0x54, 0x00]);
    }
}
