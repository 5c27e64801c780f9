//! Network-device fragments shared by network definitions and (later) domain interfaces:
//! `<vlan>`, `<bandwidth>`, `<virtualport>`, `<route>` and a PCI `<address>`, parsed and
//! formatted as libvirt's netdev_*_conf.c, networkcommon_conf.c and device_conf.c do.

use super::addr::{ip_prefix, Family, SockAddr};
use crate::conf::Buf;
use crate::conf::{
    self, child, children, err, prop, prop_enum, prop_tristate_switch, prop_uint, str_to_u32_wrap,
    str_to_u64_pos, uuid_format, uuid_parse, Node, Tristate,
};
use crate::XmlError;
use rvirt_proto::error::{code, domain};

// ---- <vlan> ----

/// `virNativeVlanMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NativeVlanMode {
    /// Not set.
    #[default]
    Default,
    /// `tagged`.
    Tagged,
    /// `untagged`.
    Untagged,
}

/// `<vlan>` (`virNetDevVlan`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Vlan {
    /// Whether the port is a trunk.
    pub trunk: bool,
    /// Tag ids.
    pub tags: Vec<u32>,
    /// Native mode of `native_tag`.
    pub native_mode: NativeVlanMode,
    /// The native tag.
    pub native_tag: u32,
}

impl Vlan {
    /// `virNetDevVlanParse`.
    pub fn parse(node: Node) -> Result<Vlan, XmlError> {
        let tags: Vec<Node> = children(node, "tag").collect();
        if tags.is_empty() {
            return Err(err(
                code::XML_ERROR,
                domain::NONE,
                "missing tag id - each <vlan> must have at least one <tag id='n'/> subelement",
            ));
        }
        let mut v = Vlan::default();
        for t in &tags {
            let id = prop_uint(Some(*t), "id", 10, true, false)?.unwrap_or(0);
            if id > 4095 {
                return Err(err(
                    code::XML_ERROR,
                    domain::NONE,
                    format!("vlan tag id {id} too large (maximum 4095)"),
                ));
            }
            v.tags.push(id);
            let mode = prop_enum(
                Some(*t),
                "nativeMode",
                |s| match s {
                    "default" => Some(0),
                    "tagged" => Some(1),
                    "untagged" => Some(2),
                    _ => None,
                },
                false,
                true,
            )?;
            if let Some(m) = mode {
                if v.native_mode != NativeVlanMode::Default {
                    return Err(err(
                        code::XML_ERROR,
                        domain::NONE,
                        "duplicate native vlan setting",
                    ));
                }
                v.native_mode = if m == 1 {
                    NativeVlanMode::Tagged
                } else {
                    NativeVlanMode::Untagged
                };
                v.native_tag = id;
            }
        }
        v.trunk = tags.len() > 1;
        if let Some(trunk) = conf::xpath_attr(node, &[], "trunk") {
            v.trunk = trunk.eq_ignore_ascii_case("yes");
            if !v.trunk {
                if tags.len() > 1 {
                    return Err(err(
                        code::XML_ERROR,
                        domain::NONE,
                        format!("invalid \"trunk='{trunk}'\" in <vlan> - trunk='yes' is required for more than one vlan tag"),
                    ));
                }
                if v.native_mode != NativeVlanMode::Default {
                    return Err(err(
                        code::XML_ERROR,
                        domain::NONE,
                        "invalid configuration in <vlan> - \"trunk='no'\" is not allowed with a native vlan id",
                    ));
                }
                if !trunk.eq_ignore_ascii_case("no") {
                    return Err(err(
                        code::XML_ERROR,
                        domain::NONE,
                        format!("invalid \"trunk='{trunk}'\" in <vlan> - must be yes or no"),
                    ));
                }
            }
        }
        Ok(v)
    }

    /// `virNetDevVlanFormat`.
    pub fn format(&self, w: &mut Buf) {
        if self.tags.is_empty() {
            return;
        }
        w.open(if self.trunk {
            "<vlan trunk='yes'>"
        } else {
            "<vlan>"
        });
        for t in &self.tags {
            let id = t.to_string();
            if self.native_mode != NativeVlanMode::Default && self.native_tag == *t {
                let m = match self.native_mode {
                    NativeVlanMode::Tagged => "tagged",
                    _ => "untagged",
                };
                w.line(&format!("<tag id='{id}' nativeMode='{m}'/>"));
            } else {
                w.line(&format!("<tag id='{id}'/>"));
            }
        }
        w.close("vlan");
    }
}

// ---- <bandwidth> ----

/// One direction of `<bandwidth>` (`virNetDevBandwidthRate`), in kilobytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rate {
    /// Average rate.
    pub average: u64,
    /// Peak rate.
    pub peak: u64,
    /// Guaranteed minimum (inbound only).
    pub floor: u64,
    /// Burst size.
    pub burst: u64,
}

/// `<bandwidth>` (`virNetDevBandwidth`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bandwidth {
    /// `<inbound>`.
    pub inbound: Option<Rate>,
    /// `<outbound>`.
    pub outbound: Option<Rate>,
}

fn parse_rate(node: Node) -> Result<Rate, XmlError> {
    let average = prop(Some(node), "average");
    let peak = prop(Some(node), "peak");
    let burst = prop(Some(node), "burst");
    let floor = prop(Some(node), "floor");
    let conv = |what: &str, v: &str| {
        str_to_u64_pos(v, 10).ok_or_else(|| {
            err(
                code::CONFIG_UNSUPPORTED,
                domain::NONE,
                format!("could not convert bandwidth {what} value '{v}'"),
            )
        })
    };
    let mut r = Rate::default();
    if let Some(a) = &average {
        r.average = conv("average", a)?;
    } else if floor.is_none() {
        return Err(err(
            code::XML_DETAIL,
            domain::NONE,
            "Missing mandatory average or floor attributes",
        ));
    }
    if (peak.is_some() || burst.is_some()) && average.is_none() {
        return Err(err(
            code::CONFIG_UNSUPPORTED,
            domain::NONE,
            "'peak' and 'burst' require 'average' attribute",
        ));
    }
    if let Some(p) = &peak {
        r.peak = conv("peak", p)?;
    }
    if let Some(b) = &burst {
        r.burst = conv("burst", b)?;
    }
    if let Some(f) = &floor {
        r.floor = conv("floor", f)?;
    }
    Ok(r)
}

impl Bandwidth {
    /// `virNetDevBandwidthParse(.., class_id = NULL, node, allow_floor)`; `None` when neither
    /// direction is given.
    pub fn parse(node: Node, allow_floor: bool) -> Result<Option<Bandwidth>, XmlError> {
        if node.attribute("classID").is_some() {
            return Err(err(
                code::XML_DETAIL,
                domain::NONE,
                "classID attribute not supported on <bandwidth> in this usage context",
            ));
        }
        let (mut inb, mut outb) = (None, None);
        for c in node.children().filter(|c| c.is_element()) {
            match c.tag_name().name() {
                "inbound" => {
                    if inb.is_some() {
                        return Err(err(
                            code::XML_DETAIL,
                            domain::NONE,
                            "Only one child <inbound> element allowed",
                        ));
                    }
                    inb = Some(c);
                }
                "outbound" => {
                    if outb.is_some() {
                        return Err(err(
                            code::XML_DETAIL,
                            domain::NONE,
                            "Only one child <outbound> element allowed",
                        ));
                    }
                    outb = Some(c);
                }
                _ => {}
            }
        }
        let mut bw = Bandwidth::default();
        if let Some(n) = inb {
            let r = parse_rate(n)?;
            if r.floor != 0 && !allow_floor {
                return Err(err(
                    code::CONFIG_UNSUPPORTED,
                    domain::NONE,
                    "floor attribute is not supported for this config",
                ));
            }
            bw.inbound = Some(r);
        }
        if let Some(n) = outb {
            let r = parse_rate(n)?;
            if r.floor != 0 {
                return Err(err(
                    code::CONFIG_UNSUPPORTED,
                    domain::NONE,
                    "'floor' attribute allowed only in <inbound> element",
                ));
            }
            bw.outbound = Some(r);
        }
        Ok((bw.inbound.is_some() || bw.outbound.is_some()).then_some(bw))
    }

    /// `virNetDevBandwidthFormat(def, 0, buf)`.
    pub fn format(&self, w: &mut Buf) {
        w.open("<bandwidth>");
        for (name, r) in [("inbound", &self.inbound), ("outbound", &self.outbound)] {
            let Some(r) = r else { continue };
            if r.average == 0 && r.floor == 0 {
                continue;
            }
            let mut attrs: Vec<(&str, String)> = Vec::new();
            if r.average != 0 {
                attrs.push(("average", r.average.to_string()));
            }
            if r.peak != 0 {
                attrs.push(("peak", r.peak.to_string()));
            }
            if r.floor != 0 {
                attrs.push(("floor", r.floor.to_string()));
            }
            if r.burst != 0 {
                attrs.push(("burst", r.burst.to_string()));
            }
            let mut l = format!("<{name}");
            for (k, v) in &attrs {
                l.push_str(&format!(" {k}='{v}'"));
            }
            l.push_str("/>");
            w.line(&l);
        }
        w.close("bandwidth");
    }
}

// ---- <virtualport> ----

/// `virNetDevVPortProfile` type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VPortType {
    /// No type given.
    #[default]
    None,
    /// `802.1Qbg`.
    Qbg,
    /// `802.1Qbh`.
    Qbh,
    /// `openvswitch`.
    OpenVSwitch,
    /// `midonet`.
    Midonet,
}

impl VPortType {
    fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Qbg => "802.1Qbg",
            Self::Qbh => "802.1Qbh",
            Self::OpenVSwitch => "openvswitch",
            Self::Midonet => "midonet",
        }
    }
}

/// `<virtualport>` (`virNetDevVPortProfile`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VPortProfile {
    /// Type.
    pub type_: VPortType,
    /// `managerid`.
    pub manager_id: Option<u8>,
    /// `typeid`.
    pub type_id: Option<u32>,
    /// `typeidversion`.
    pub type_id_version: Option<u8>,
    /// `instanceid`.
    pub instance_id: Option<[u8; 16]>,
    /// `profileid` (empty when not given).
    pub profile_id: String,
    /// `interfaceid`.
    pub interface_id: Option<[u8; 16]>,
}

impl VPortProfile {
    /// `virNetDevVPortProfileParse(node, flags)` with `require_type` =
    /// `VIR_VPORT_XML_REQUIRE_TYPE` (the other flags are not used by networks).
    pub fn parse(node: Node, require_type: bool) -> Result<VPortProfile, XmlError> {
        let mut v = VPortProfile::default();
        if let Some(t) = node.attribute("type") {
            v.type_ = match t {
                "802.1Qbg" => VPortType::Qbg,
                "802.1Qbh" => VPortType::Qbh,
                "openvswitch" => VPortType::OpenVSwitch,
                "midonet" => VPortType::Midonet,
                _ => {
                    return Err(err(
                        code::CONFIG_UNSUPPORTED,
                        domain::NONE,
                        format!("unknown virtualport type {t}"),
                    ))
                }
            };
        }
        if v.type_ == VPortType::None && require_type {
            return Err(err(
                code::XML_ERROR,
                domain::NONE,
                "missing required virtualport type",
            ));
        }
        let params = node
            .children()
            .find(|c| c.is_element() && c.tag_name().name() == "parameters");
        let get = |a: &str| prop(params, a);
        let xerr = |m: &str| err(code::XML_ERROR, domain::NONE, m.to_string());
        if let Some(s) = get("managerid") {
            let val = str_to_u32_wrap(&s, 0)
                .ok_or_else(|| xerr("cannot parse value of managerid parameter"))?;
            if val > 0xff {
                return Err(xerr("value of managerid out of range"));
            }
            v.manager_id = Some(val as u8);
        }
        if let Some(s) = get("typeid") {
            let val = str_to_u32_wrap(&s, 0)
                .ok_or_else(|| xerr("cannot parse value of typeid parameter"))?;
            if val > 0xff_ffff {
                return Err(xerr("value for typeid out of range"));
            }
            v.type_id = Some(val);
        }
        if let Some(s) = get("typeidversion") {
            let val = str_to_u32_wrap(&s, 0)
                .ok_or_else(|| xerr("cannot parse value of typeidversion parameter"))?;
            if val > 0xff {
                return Err(xerr("value of typeidversion out of range"));
            }
            v.type_id_version = Some(val as u8);
        }
        if let Some(s) = get("instanceid") {
            v.instance_id = Some(
                uuid_parse(&s)
                    .ok_or_else(|| xerr("cannot parse instanceid parameter as a uuid"))?,
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
                uuid_parse(&s)
                    .ok_or_else(|| xerr("cannot parse interfaceid parameter as a uuid"))?,
            );
        }
        let extra = match v.type_ {
            VPortType::Qbg if !v.profile_id.is_empty() => Some("profileid"),
            VPortType::Qbg if v.interface_id.is_some() => Some("interfaceid"),
            VPortType::Qbh | VPortType::OpenVSwitch if v.manager_id.is_some() => Some("managerid"),
            VPortType::Qbh | VPortType::OpenVSwitch if v.type_id.is_some() => Some("typeid"),
            VPortType::Qbh | VPortType::OpenVSwitch if v.type_id_version.is_some() => {
                Some("typeidversion")
            }
            VPortType::Qbh | VPortType::OpenVSwitch if v.instance_id.is_some() => {
                Some("instanceid")
            }
            VPortType::Qbh if v.interface_id.is_some() => Some("interfaceid"),
            _ => None,
        };
        if let Some(x) = extra {
            return Err(err(
                code::XML_ERROR,
                domain::NET,
                format!(
                    "extra {x} unsupported in <virtualport type='{}'>",
                    v.type_.as_str()
                ),
            ));
        }
        Ok(v)
    }

    /// `virNetDevVPortProfileFormat`.
    pub fn format(&self, w: &mut Buf) {
        let no_params = self.manager_id.is_none()
            && self.type_id.is_none()
            && self.type_id_version.is_none()
            && self.instance_id.is_none()
            && self.profile_id.is_empty()
            && self.interface_id.is_none();
        let t = self.type_;
        if t == VPortType::None {
            if no_params {
                return;
            }
            w.open("<virtualport>");
        } else if no_params {
            w.line(&format!("<virtualport type='{}'/>", t.as_str()));
            return;
        } else {
            w.open(&format!("<virtualport type='{}'>", t.as_str()));
        }
        let qbg = matches!(t, VPortType::Qbg | VPortType::None);
        let mut attrs: Vec<(&str, String)> = Vec::new();
        if let (Some(m), true) = (self.manager_id, qbg) {
            attrs.push(("managerid", m.to_string()));
        }
        if let (Some(m), true) = (self.type_id, qbg) {
            attrs.push(("typeid", m.to_string()));
        }
        if let (Some(m), true) = (self.type_id_version, qbg) {
            attrs.push(("typeidversion", m.to_string()));
        }
        if let (Some(m), true) = (&self.instance_id, qbg) {
            attrs.push(("instanceid", uuid_format(m)));
        }
        if let Some(m) = &self.interface_id {
            if matches!(
                t,
                VPortType::Midonet | VPortType::OpenVSwitch | VPortType::None
            ) {
                attrs.push(("interfaceid", uuid_format(m)));
            }
        }
        if !self.profile_id.is_empty()
            && matches!(t, VPortType::OpenVSwitch | VPortType::Qbh | VPortType::None)
        {
            attrs.push(("profileid", self.profile_id.clone()));
        }
        // libvirt prints these values unescaped.
        let mut line = String::from("<parameters");
        for (k, v) in &attrs {
            line.push_str(&format!(" {k}='{v}'"));
        }
        line.push_str("/>");
        w.line(&line);
        w.close("virtualport");
    }
}

// ---- <route> ----

/// A static `<route>` (`virNetDevIPRoute`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `family` as written.
    pub family: Option<String>,
    /// Destination network.
    pub address: SockAddr,
    /// Netmask, if given.
    pub netmask: Option<SockAddr>,
    /// Prefix, if given.
    pub prefix: Option<u32>,
    /// Gateway.
    pub gateway: SockAddr,
    /// Metric, if given.
    pub metric: Option<u32>,
}

impl Route {
    /// `virNetDevIPRouteParseXML(error_detail, node)`.
    pub fn parse(detail: &str, node: Node) -> Result<Route, XmlError> {
        let family = prop(Some(node), "family");
        let address = prop(Some(node), "address");
        let netmask = prop(Some(node), "netmask");
        let gateway = prop(Some(node), "gateway");
        let prefix = prop_uint(Some(node), "prefix", 10, false, false)?;
        let metric = prop_uint(Some(node), "metric", 10, false, true)?;
        let xe = |m: String| err(code::XML_ERROR, domain::NETWORK, m);
        let Some(address) = address else {
            return Err(xe(format!(
                "{detail}: Missing required address attribute in route definition"
            )));
        };
        let Some(gateway) = gateway else {
            return Err(xe(format!(
                "{detail}: Missing required gateway attribute in route definition"
            )));
        };
        let addr = SockAddr::parse(&address, Family::Any).map_err(|_| {
            xe(format!(
                "{detail}: Bad network address '{address}' in route definition"
            ))
        })?;
        let gw = SockAddr::parse(&gateway, Family::Any).map_err(|_| {
            xe(format!(
                "{detail}: Bad gateway address '{gateway}' in route definition"
            ))
        })?;
        let pfx = prefix.unwrap_or(0);
        let mut mask = None;
        match family.as_deref() {
            None | Some("ipv4") => {
                let nofam = family.is_none();
                if !addr.is_v4() {
                    return Err(xe(if nofam {
                        format!("{detail}: No family specified for non-IPv4 address '{address}' in route definition")
                    } else {
                        format!("{detail}: IPv4 family specified for non-IPv4 address '{address}' in route definition")
                    }));
                }
                if !gw.is_v4() {
                    return Err(xe(if nofam {
                        format!("{detail}: No family specified for non-IPv4 gateway '{address}' in route definition")
                    } else {
                        format!("{detail}: IPv4 family specified for non-IPv4 gateway '{address}' in route definition")
                    }));
                }
                if let Some(nm) = &netmask {
                    let m = SockAddr::parse(nm, Family::Any).map_err(|_| {
                        xe(format!(
                            "{detail}: Bad netmask address '{nm}' in route definition"
                        ))
                    })?;
                    if !m.is_v4() {
                        return Err(xe(format!("{detail}: Invalid netmask '{nm}' for address '{address}' (both must be IPv4)")));
                    }
                    if prefix.is_some() {
                        return Err(xe(format!(
                            "{detail}: Route definition cannot have both a prefix and a netmask"
                        )));
                    }
                    mask = Some(m);
                }
                if pfx > 32 {
                    return Err(xe(format!("{detail}: Invalid prefix {pfx} specified in route definition, must be 0 - 32")));
                }
            }
            Some("ipv6") => {
                if !addr.is_v6() {
                    return Err(xe(format!("{detail}: ipv6 family specified for non-IPv6 address '{address}' in route definition")));
                }
                if netmask.is_some() {
                    return Err(xe(format!("{detail}: Specifying netmask invalid for IPv6 address '{address}' in route definition")));
                }
                if !gw.is_v6() {
                    return Err(xe(format!("{detail}: ipv6 specified for non-IPv6 gateway address '{gateway}' in route definition")));
                }
                if pfx > 128 {
                    return Err(xe(format!("{detail}: Invalid prefix {pfx} specified in route definition, must be 0 - 128")));
                }
            }
            Some(f) => {
                return Err(xe(format!(
                    "{detail}: Unrecognized family '{f}' in route definition"
                )))
            }
        }
        let test = match &mask {
            Some(m) => addr.masked(m),
            None => addr.netmask_of(pfx).and_then(|m| addr.masked(&m)),
        };
        if !test.is_some_and(|t| t.same_addr(&addr)) {
            return Err(xe(format!(
                "{detail}: Address '{address}' in route definition is not a network address"
            )));
        }
        Ok(Route {
            family,
            address: addr,
            netmask: mask,
            prefix,
            gateway: gw,
            metric,
        })
    }

    /// `virNetDevIPRouteFormat`.
    pub fn format(&self, w: &mut Buf) {
        let mut line = String::from("<route");
        if let Some(f) = &self.family {
            line.push_str(&format!(" family='{f}'"));
        }
        line.push_str(&format!(" address='{}'", self.address.format()));
        if let Some(m) = &self.netmask {
            line.push_str(&format!(" netmask='{}'", m.format()));
        }
        if let Some(p) = self.prefix {
            line.push_str(&format!(" prefix='{p}'"));
        }
        line.push_str(&format!(" gateway='{}'", self.gateway.format()));
        if let Some(m) = self.metric.filter(|m| *m > 0) {
            line.push_str(&format!(" metric='{m}'"));
        }
        line.push_str("/>");
        w.line(&line);
    }

    /// The prefix used to test gateway reachability (`virNetworkIPDefPrefix` of the route is not
    /// used; this is the network side's).
    pub fn prefix_for(address: &SockAddr, netmask: Option<&SockAddr>, prefix: u32) -> i64 {
        ip_prefix(Some(address), netmask, prefix)
    }
}

// ---- PCI address ----

/// A PCI address (`virPCIDeviceAddress`), as used by `<forward><address type='pci'/>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PciAddr {
    /// Domain.
    pub domain: u32,
    /// Bus.
    pub bus: u32,
    /// Slot.
    pub slot: u32,
    /// Function.
    pub function: u32,
    /// `multifunction`.
    pub multi: Tristate,
}

impl PciAddr {
    /// `virPCIDeviceAddressParseXML` (the s390 `<zpci>` child is not supported).
    pub fn parse(node: Node) -> Result<PciAddr, XmlError> {
        let n = Some(node);
        let a = PciAddr {
            domain: prop_uint(n, "domain", 0, false, false)?.unwrap_or(0),
            bus: prop_uint(n, "bus", 0, false, false)?.unwrap_or(0),
            slot: prop_uint(n, "slot", 0, false, false)?.unwrap_or(0),
            function: prop_uint(n, "function", 0, false, false)?.unwrap_or(0),
            multi: prop_tristate_switch(n, "multifunction")?,
        };
        let empty = a.domain == 0 && a.bus == 0 && a.slot == 0;
        if !empty {
            let xe = |m: String| err(code::XML_ERROR, domain::NONE, m);
            if a.bus > 0xff {
                return Err(xe(format!(
                    "Invalid PCI address bus='0x{:x}', must be <= 0xFF",
                    a.bus
                )));
            }
            if a.slot > 0x1f {
                return Err(xe(format!(
                    "Invalid PCI address slot='0x{:x}', must be <= 0x1F",
                    a.slot
                )));
            }
            if a.function > 7 {
                return Err(xe(format!(
                    "Invalid PCI address function=0x{:x}, must be <= 7",
                    a.function
                )));
            }
        }
        if child(node, "zpci").is_some() {
            return Err(err(
                code::CONFIG_UNSUPPORTED,
                domain::NONE,
                "zpci addresses are not supported by rvirt",
            ));
        }
        Ok(a)
    }

    /// Same device (`virPCIDeviceAddressEqual`).
    pub fn same(&self, o: &PciAddr) -> bool {
        self.domain == o.domain
            && self.bus == o.bus
            && self.slot == o.slot
            && self.function == o.function
    }

    /// `virPCIDeviceAddressFormat(buf, addr, include_type)`.
    pub fn format(&self, w: &mut Buf, include_type: bool) {
        w.line(&format!(
            "<address {}domain='0x{:04x}' bus='0x{:02x}' slot='0x{:02x}' function='0x{}'/>",
            if include_type { "type='pci' " } else { "" },
            self.domain,
            self.bus,
            self.slot,
            self.function
        ));
    }
}
