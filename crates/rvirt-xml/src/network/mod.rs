//! Virtual network definitions (`<network>`), parsed, validated and formatted exactly as
//! libvirt 9.0's `network_conf.c` does: the same defaults (a UUID is generated when none is
//! given, `<forward/>` means NAT, bridges get `stp='on' delay='0'`), the same checks in the same
//! order, and the same error numbers, domains and texts, so that `net-define` followed by
//! `net-dumpxml` gives byte-identical output and invalid documents fail with libvirt's message.
//!
//! Submodules: [`addr`] (IP addresses as `virSocketAddr`), [`netdev`] (`<vlan>`,
//! `<bandwidth>`, `<virtualport>`, `<route>`, PCI addresses).

pub mod addr;
pub mod netdev;

use crate::conf::Buf;
use crate::conf::{
    self, child, children, err, err_bare, mac_format, mac_parse, prop, prop_tristate_bool,
    prop_uint, str_to_u32_wrap, str_to_u64_pos, uuid_format, uuid_generate, uuid_parse, xpath_attr,
    xpath_text, Node, Tristate,
};
use crate::writer::escape;
use crate::XmlError;
use addr::{ip_prefix, range_size, Family, SockAddr};
use netdev::{Bandwidth, PciAddr, Route, VPortProfile, Vlan};
use rvirt_proto::error::{code, domain};

/// `virNetworkForwardType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardType {
    /// Isolated (no `<forward>`).
    #[default]
    None,
    /// `nat`.
    Nat,
    /// `route`.
    Route,
    /// `open`.
    Open,
    /// `bridge`.
    Bridge,
    /// `private`.
    Private,
    /// `vepa`.
    Vepa,
    /// `passthrough`.
    Passthrough,
    /// `hostdev`.
    Hostdev,
}

impl ForwardType {
    /// The `mode` attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Nat => "nat",
            Self::Route => "route",
            Self::Open => "open",
            Self::Bridge => "bridge",
            Self::Private => "private",
            Self::Vepa => "vepa",
            Self::Passthrough => "passthrough",
            Self::Hostdev => "hostdev",
        }
    }

    fn from_str(s: &str) -> Option<Self> {
        Some(match s {
            "none" => Self::None,
            "nat" => Self::Nat,
            "route" => Self::Route,
            "open" => Self::Open,
            "bridge" => Self::Bridge,
            "private" => Self::Private,
            "vepa" => Self::Vepa,
            "passthrough" => Self::Passthrough,
            "hostdev" => Self::Hostdev,
            _ => return None,
        })
    }

    /// Modes whose network has a host bridge with stp/delay (`hasbridge` in libvirt).
    pub fn has_bridge(self) -> bool {
        matches!(self, Self::None | Self::Nat | Self::Route | Self::Open)
    }
}

/// One device of a `<forward>` pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardIf {
    /// `<interface dev='…'/>` or `<forward dev='…'>`.
    Netdev(String),
    /// `<address type='pci' …/>`.
    Pci(PciAddr),
}

/// `<forward>` (`virNetworkForwardDef`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Forward {
    /// Mode.
    pub type_: ForwardType,
    /// `managed='yes'` (hostdev).
    pub managed: bool,
    /// `<driver name='kvm|vfio'/>`.
    pub driver_name: Option<String>,
    /// Devices.
    pub ifs: Vec<ForwardIf>,
    /// `<pf dev='…'/>` (at most one).
    pub pfs: Vec<String>,
    /// `<nat><address start end/>`.
    pub nat_addr: Option<(SockAddr, SockAddr)>,
    /// `<nat><port start end/>` (0 when not given).
    pub nat_port: (u32, u32),
    /// `<nat ipv6='yes|no'>`.
    pub nat_ipv6: Tristate,
}

/// `<lease>` of a DHCP range or host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Expiry; 0 is infinite.
    pub expiry: u64,
    /// `seconds`, `minutes` or `hours`.
    pub unit: &'static str,
}

/// `<dhcp><range>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpRange {
    /// First address.
    pub start: SockAddr,
    /// Last address.
    pub end: SockAddr,
    /// Lease time.
    pub lease: Option<Lease>,
}

/// `<dhcp><host>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DhcpHost {
    /// MAC address as written.
    pub mac: Option<String>,
    /// DHCPv6 client id.
    pub id: Option<String>,
    /// Host name.
    pub name: Option<String>,
    /// Address.
    pub ip: Option<SockAddr>,
    /// Lease time.
    pub lease: Option<Lease>,
}

/// `<ip>` (`virNetworkIPDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpDef {
    /// `family` as written (`ipv4`/`ipv6`).
    pub family: Option<String>,
    /// Address of the host side.
    pub address: SockAddr,
    /// Netmask (IPv4).
    pub netmask: Option<SockAddr>,
    /// Prefix; 0 when not given.
    pub prefix: u32,
    /// `localPtr`.
    pub local_ptr: Tristate,
    /// DHCP ranges.
    pub ranges: Vec<DhcpRange>,
    /// DHCP static hosts.
    pub hosts: Vec<DhcpHost>,
    /// `<tftp root>`.
    pub tftproot: Option<String>,
    /// `<bootp file>`.
    pub bootfile: Option<String>,
    /// `<bootp server>`.
    pub bootserver: Option<SockAddr>,
}

impl IpDef {
    /// `virNetworkIPDefPrefix`.
    pub fn effective_prefix(&self) -> i64 {
        ip_prefix(Some(&self.address), self.netmask.as_ref(), self.prefix)
    }
}

/// `<dns><host>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsHost {
    /// Address.
    pub ip: Option<SockAddr>,
    /// Host names.
    pub names: Vec<String>,
}

/// `<dns><srv>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsSrv {
    /// Service.
    pub service: Option<String>,
    /// Protocol.
    pub protocol: Option<String>,
    /// Domain.
    pub domain: Option<String>,
    /// Target.
    pub target: Option<String>,
    /// Port (0 when not given).
    pub port: u32,
    /// Priority.
    pub priority: u32,
    /// Weight.
    pub weight: u32,
}

/// `<dns><txt>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsTxt {
    /// Name.
    pub name: String,
    /// Value.
    pub value: Option<String>,
}

/// `<dns><forwarder>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsForwarder {
    /// Domain.
    pub domain: Option<String>,
    /// Address.
    pub addr: Option<SockAddr>,
}

/// `<dns>` (`virNetworkDNSDef`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dns {
    /// `enable`.
    pub enable: Tristate,
    /// `forwardPlainNames`.
    pub forward_plain_names: Tristate,
    /// Forwarders.
    pub forwarders: Vec<DnsForwarder>,
    /// Hosts.
    pub hosts: Vec<DnsHost>,
    /// SRV records.
    pub srvs: Vec<DnsSrv>,
    /// TXT records.
    pub txts: Vec<DnsTxt>,
}

/// `<portgroup>` (`virPortGroupDef`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortGroup {
    /// Name.
    pub name: String,
    /// `default='yes'`.
    pub is_default: bool,
    /// `trustGuestRxFilters`.
    pub trust_guest_rx_filters: Tristate,
    /// `<virtualport>`.
    pub virt_port: Option<VPortProfile>,
    /// `<bandwidth>`.
    pub bandwidth: Option<Bandwidth>,
    /// `<vlan>`.
    pub vlan: Vlan,
}

/// A network definition (`virNetworkDef`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkDef {
    /// Name.
    pub name: String,
    /// UUID.
    pub uuid: [u8; 16],
    /// Whether the UUID came from the document (not generated).
    pub uuid_specified: bool,
    /// `ipv6='yes'` (guest-to-guest IPv6 without a gateway).
    pub ipv6nogw: bool,
    /// `trustGuestRxFilters`.
    pub trust_guest_rx_filters: Tristate,
    /// Preserved `<metadata>` element, formatted the way libvirt re-serializes it (first line
    /// unindented, inner lines indented for the network's top level).
    pub metadata: Option<String>,
    /// `<forward>`.
    pub forward: Forward,
    /// `<bridge name>`.
    pub bridge: Option<String>,
    /// `<bridge zone>`.
    pub bridge_zone: Option<String>,
    /// `<bridge stp>` (on unless `off`).
    pub stp: bool,
    /// `<bridge delay>`.
    pub delay: u64,
    /// `<bridge macTableManager>`: 1 `kernel`, 2 `libvirt`, 0 not given.
    pub mac_table_manager: u32,
    /// `<mac address>`.
    pub mac: Option<[u8; 6]>,
    /// `<mtu size>` (0 when not given).
    pub mtu: u32,
    /// `<domain name>`.
    pub domain: Option<String>,
    /// `<domain localOnly>`.
    pub domain_local_only: Tristate,
    /// `<dns>`.
    pub dns: Dns,
    /// `<vlan>`.
    pub vlan: Vlan,
    /// `<bandwidth>`.
    pub bandwidth: Option<Bandwidth>,
    /// `<port isolated>`.
    pub isolated_port: Tristate,
    /// `<ip>` elements.
    pub ips: Vec<IpDef>,
    /// `<route>` elements.
    pub routes: Vec<Route>,
    /// `<virtualport>`.
    pub virt_port: Option<VPortProfile>,
    /// `<portgroup>` elements.
    pub port_groups: Vec<PortGroup>,
}

fn net_err(code: i32, detail: String) -> XmlError {
    err(code, domain::NETWORK, detail)
}

fn xml_err(detail: String) -> XmlError {
    net_err(code::XML_ERROR, detail)
}

impl NetworkDef {
    /// `virNetworkDefParse(xml, NULL, NULL, validate=false)`: parses and validates a network
    /// document. A missing UUID is generated.
    pub fn parse(xml: &str) -> Result<NetworkDef, XmlError> {
        let doc = conf::parse_document(xml, "(network_definition)", "network", domain::NETWORK)?;
        Self::parse_node(doc.root_element())
    }

    /// `virNetworkDefParseXML` on a `<network>` element of a larger document (test-driver node
    /// files).
    pub fn parse_node(root: Node) -> Result<NetworkDef, XmlError> {
        let mut def = NetworkDef {
            stp: true,
            ..Default::default()
        };
        def.name =
            xpath_text(root, &["name"]).ok_or_else(|| err_bare(code::NO_NAME, domain::NETWORK))?;
        if let Some(c) = def.name.chars().find(|c| *c == '/') {
            return Err(err(
                code::XML_DETAIL,
                domain::XML,
                format!("invalid char in name: {c}"),
            ));
        }
        match xpath_text(root, &["uuid"]) {
            None => def.uuid = uuid_generate(),
            Some(u) => {
                def.uuid = uuid_parse(&u).ok_or_else(|| {
                    net_err(code::INTERNAL_ERROR, "malformed uuid element".into())
                })?;
                def.uuid_specified = true;
            }
        }
        if let Some(v) = xpath_attr(root, &[], "ipv6") {
            def.ipv6nogw = match v.as_str() {
                "yes" => true,
                "no" => false,
                _ => {
                    return Err(xml_err(format!(
                        "Invalid ipv6 setting '{v}' in network '{}'",
                        def.name
                    )))
                }
            };
        }
        def.trust_guest_rx_filters = prop_tristate_bool(Some(root), "trustGuestRxFilters")?;
        let domain_node = child(root, "domain");
        def.domain = prop(domain_node, "name");
        def.domain_local_only = prop_tristate_bool(domain_node, "localOnly")?;
        if let Some(bw) = child(root, "bandwidth") {
            def.bandwidth = Bandwidth::parse(bw, false)?;
        }
        if let Some(v) = child(root, "vlan") {
            def.vlan = Vlan::parse(v)?;
        }
        def.isolated_port = prop_tristate_bool(child(root, "port"), "isolated")?;

        def.bridge = xpath_attr(root, &["bridge"], "name");
        def.bridge_zone = xpath_attr(root, &["bridge"], "zone");
        let stp = xpath_attr(root, &["bridge"], "stp");
        def.stp = stp.as_deref() != Some("off");
        if let Some(d) = xpath_attr(root, &["bridge"], "delay") {
            def.delay = str_to_u64_pos(&d, 10)
                .ok_or_else(|| xml_err(format!("Invalid delay value in network '{}'", def.name)))?;
        }
        if let Some(m) = xpath_attr(root, &["bridge"], "macTableManager") {
            def.mac_table_manager = match m.as_str() {
                "kernel" => 1,
                "libvirt" => 2,
                _ => {
                    return Err(xml_err(format!(
                        "Invalid macTableManager setting '{m}' in network '{}'",
                        def.name
                    )))
                }
            };
        }
        if let Some(m) = xpath_attr(root, &["mac"], "address") {
            let mac = mac_parse(&m).ok_or_else(|| {
                xml_err(format!(
                    "Invalid bridge mac address '{m}' in network '{}'",
                    def.name
                ))
            })?;
            if mac[0] & 1 != 0 {
                return Err(xml_err(format!(
                    "Invalid multicast bridge mac address '{m}' in network '{}'",
                    def.name
                )));
            }
            def.mac = Some(mac);
        }
        if let Some(m) = xpath_attr(root, &["mtu"], "size") {
            def.mtu = str_to_u32_wrap(&m, 10).ok_or_else(|| {
                xml_err(format!("Invalid mtu size '{m}' in network '{}'", def.name))
            })?;
        }
        if let Some(d) = child(root, "dns") {
            def.dns = parse_dns(&def.name, d)?;
        }
        if let Some(v) = child(root, "virtualport") {
            def.virt_port = Some(VPortProfile::parse(v, true)?);
        }
        for pg in children(root, "portgroup") {
            def.port_groups.push(parse_portgroup(pg)?);
        }
        for ip in children(root, "ip") {
            def.ips.push(parse_ip(&def.name, ip)?);
        }
        for r in children(root, "route") {
            def.routes.push(Route::parse(&def.name, r)?);
        }
        for r in &def.routes {
            let gw = &r.gateway;
            let reachable = def.ips.iter().any(|ip| {
                if ip.address.is_v4() != gw.is_v4() {
                    return false;
                }
                let prefix = ip.effective_prefix();
                if prefix < 0 {
                    return false;
                }
                let (Some(a), Some(g)) = (
                    ip.address
                        .netmask_of(prefix as u32)
                        .and_then(|m| ip.address.masked(&m)),
                    gw.netmask_of(prefix as u32).and_then(|m| gw.masked(&m)),
                ) else {
                    return false;
                };
                a.same_addr(&g)
            });
            if !reachable {
                return Err(net_err(
                    code::CONFIG_UNSUPPORTED,
                    format!(
                        "unreachable static route gateway '{}' specified for network '{}'",
                        gw.format(),
                        def.name
                    ),
                ));
            }
        }
        if let Some(f) = child(root, "forward") {
            def.forward = parse_forward(&def.name, f)?;
        }
        def.check_forward_mode(stp.is_some())?;
        if let Some(md) = child(root, "metadata") {
            def.metadata = Some(conf::format_metadata(md, 2));
        }
        Ok(def)
    }

    fn check_forward_mode(&self, stp_given: bool) -> Result<(), XmlError> {
        let t = self.forward.type_;
        let mode = t.as_str();
        let name = &self.name;
        match t {
            ForwardType::None => {}
            ForwardType::Route | ForwardType::Nat | ForwardType::Open => {
                if self.ips.is_empty() {
                    return Err(xml_err(format!(
                        "{mode} forwarding requested, but no IP address provided for network '{name}'"
                    )));
                }
                if self.forward.ifs.len() > 1 {
                    return Err(xml_err(format!(
                        "multiple forwarding interfaces specified for network '{name}', only one is supported"
                    )));
                }
                if t == ForwardType::Open && !self.forward.ifs.is_empty() {
                    return Err(xml_err(format!(
                        "forward dev not allowed for network '{name}' with forward mode='{mode}'"
                    )));
                }
            }
            _ => {
                if t != ForwardType::Bridge {
                    if self.bridge.is_some() {
                        return Err(xml_err(format!(
                            "bridge name not allowed in {mode} mode (network '{name}')"
                        )));
                    }
                    if self.bridge_zone.is_some() {
                        return Err(xml_err(format!(
                            "bridge zone not allowed in {mode} mode (network '{name}')"
                        )));
                    }
                    if self.mac_table_manager != 0 {
                        return Err(xml_err(format!(
                            "bridge macTableManager setting not allowed in {mode} mode (network '{name}')"
                        )));
                    }
                }
                if self.delay != 0 || stp_given || self.bridge_zone.is_some() {
                    return Err(xml_err(format!(
                        "bridge delay/stp/zone options only allowed in route, nat, and isolated mode, not in {mode} (network '{name}')"
                    )));
                }
                if self.bridge.is_some()
                    && (!self.forward.ifs.is_empty() || !self.forward.pfs.is_empty())
                {
                    return Err(xml_err(format!(
                        "A network with forward mode='{mode}' can specify a bridge name or a forward dev, but not both (network '{name}')"
                    )));
                }
            }
        }
        if self.mtu != 0 && !t.has_bridge() {
            return Err(xml_err(format!(
                "mtu size only allowed in open, route, nat, and isolated mode, not in {mode} (network '{name}')"
            )));
        }
        Ok(())
    }

    /// The first forward device name, if it is a netdev (`virNetworkDefForwardIf(def, 0)`).
    pub fn forward_dev(&self) -> Option<&str> {
        match self.forward.ifs.first() {
            Some(ForwardIf::Netdev(d)) => Some(d),
            _ => None,
        }
    }

    /// `virNetworkDefFormat(def, NULL, flags)`: `inactive` is `VIR_NETWORK_XML_INACTIVE`.
    pub fn format(&self, inactive: bool) -> String {
        let mut w = Buf::new();
        let mut top = String::from("<network");
        if self.ipv6nogw {
            top.push_str(" ipv6='yes'");
        }
        if self.trust_guest_rx_filters.is_set() {
            top.push_str(&format!(
                " trustGuestRxFilters='{}'",
                self.trust_guest_rx_filters.as_bool_str()
            ));
        }
        top.push('>');
        w.line(&top);
        w.indent();
        w.text("name", &self.name);
        w.line(&format!("<uuid>{}</uuid>", uuid_format(&self.uuid)));
        if let Some(md) = &self.metadata {
            w.line(md);
        }
        self.format_forward(&mut w, inactive);
        if self.forward.type_.has_bridge() || self.bridge.is_some() || self.mac_table_manager != 0 {
            let mut b = String::from("<bridge");
            if let Some(n) = &self.bridge {
                b.push_str(&format!(" name='{}'", escape(n)));
            }
            if let Some(z) = &self.bridge_zone {
                b.push_str(&format!(" zone='{}'", escape(z)));
            }
            if self.forward.type_.has_bridge() {
                b.push_str(&format!(
                    " stp='{}' delay='{}'",
                    if self.stp { "on" } else { "off" },
                    self.delay as i64
                ));
            }
            if self.mac_table_manager != 0 {
                b.push_str(&format!(
                    " macTableManager='{}'",
                    if self.mac_table_manager == 1 {
                        "kernel"
                    } else {
                        "libvirt"
                    }
                ));
            }
            b.push_str("/>");
            w.line(&b);
        }
        if self.mtu != 0 {
            w.line(&format!("<mtu size='{}'/>", self.mtu));
        }
        if let Some(m) = &self.mac {
            w.line(&format!("<mac address='{}'/>", mac_format(m)));
        }
        if let Some(d) = &self.domain {
            // libvirt prints the domain name unescaped.
            let mut l = format!("<domain name='{d}'");
            if self.domain_local_only.is_set() {
                l.push_str(&format!(
                    " localOnly='{}'",
                    self.domain_local_only.as_bool_str()
                ));
            }
            l.push_str("/>");
            w.line(&l);
        }
        format_dns(&mut w, &self.dns);
        self.vlan.format(&mut w);
        if let Some(bw) = &self.bandwidth {
            bw.format(&mut w);
        }
        if self.isolated_port.is_set() {
            w.line(&format!(
                "<port isolated='{}'/>",
                self.isolated_port.as_bool_str()
            ));
        }
        for ip in &self.ips {
            format_ip(&mut w, ip);
        }
        for r in &self.routes {
            r.format(&mut w);
        }
        if let Some(v) = &self.virt_port {
            v.format(&mut w);
        }
        for pg in &self.port_groups {
            format_portgroup(&mut w, pg);
        }
        w.close("network");
        w.finish()
    }

    fn format_forward(&self, w: &mut Buf, inactive: bool) {
        let f = &self.forward;
        if f.type_ == ForwardType::None {
            return;
        }
        let dev = if f.pfs.is_empty() {
            self.forward_dev()
        } else {
            None
        };
        let mut l = String::from("<forward");
        if let Some(d) = dev {
            l.push_str(&format!(" dev='{}'", escape(d)));
        }
        l.push_str(&format!(" mode='{}'", f.type_.as_str()));
        if f.type_ == ForwardType::Hostdev {
            l.push_str(if f.managed {
                " managed='yes'"
            } else {
                " managed='no'"
            });
        }
        let short = f.ifs.is_empty()
            && f.pfs.is_empty()
            && f.nat_addr.is_none()
            && f.nat_port == (0, 0)
            && f.driver_name.is_none()
            && !f.nat_ipv6.is_set();
        l.push_str(if short { "/>" } else { ">" });
        w.line(&l);
        if short {
            return;
        }
        w.indent();
        if let Some(d) = &f.driver_name {
            w.line(&format!("<driver name='{d}'/>"));
        }
        if f.type_ == ForwardType::Nat {
            format_nat(w, f);
        }
        if let Some(pf) = f.pfs.first() {
            w.line(&format!("<pf dev='{}'/>", escape(pf)));
        }
        if !f.ifs.is_empty() && (f.pfs.is_empty() || !inactive) {
            for i in &f.ifs {
                match i {
                    ForwardIf::Netdev(d) => w.line(&format!("<interface dev='{}'/>", escape(d))),
                    ForwardIf::Pci(a) => a.format(w, true),
                }
            }
        }
        w.close("forward");
    }
}

fn format_nat(w: &mut Buf, f: &Forward) {
    if f.nat_addr.is_none() && f.nat_port == (0, 0) && !f.nat_ipv6.is_set() {
        return;
    }
    let mut l = String::from("<nat");
    if f.nat_ipv6.is_set() {
        l.push_str(&format!(" ipv6='{}'", f.nat_ipv6.as_bool_str()));
    }
    if f.nat_addr.is_none() && f.nat_port == (0, 0) {
        l.push_str("/>");
        w.line(&l);
        return;
    }
    l.push('>');
    w.line(&l);
    w.indent();
    if let Some((s, e)) = &f.nat_addr {
        w.line(&format!(
            "<address start='{}' end='{}'/>",
            s.format(),
            e.format()
        ));
    }
    if f.nat_port != (0, 0) {
        let mut p = format!("<port start='{}'", f.nat_port.0 as i32);
        if f.nat_port.1 != 0 {
            p.push_str(&format!(" end='{}'", f.nat_port.1 as i32));
        }
        p.push_str("/>");
        w.line(&p);
    }
    w.close("nat");
}

fn format_lease(w: &mut Buf, l: &Lease) {
    if l.expiry == 0 {
        w.line("<lease expiry='0'/>");
    } else {
        w.line(&format!("<lease expiry='{}' unit='{}'/>", l.expiry, l.unit));
    }
}

fn format_ip(w: &mut Buf, ip: &IpDef) {
    let mut l = String::from("<ip");
    if let Some(f) = &ip.family {
        l.push_str(&format!(" family='{f}'"));
    }
    l.push_str(&format!(" address='{}'", ip.address.format()));
    if let Some(m) = &ip.netmask {
        l.push_str(&format!(" netmask='{}'", m.format()));
    }
    if ip.prefix > 0 {
        l.push_str(&format!(" prefix='{}'", ip.prefix));
    }
    if ip.local_ptr.is_set() {
        l.push_str(&format!(" localPtr='{}'", ip.local_ptr.as_bool_str()));
    }
    l.push('>');
    w.line(&l);
    w.indent();
    if let Some(t) = &ip.tftproot {
        w.line(&format!("<tftp root='{}'/>", escape(t)));
    }
    if !ip.ranges.is_empty() || !ip.hosts.is_empty() {
        w.open("<dhcp>");
        for r in &ip.ranges {
            let l = format!(
                "<range start='{}' end='{}'",
                r.start.format(),
                r.end.format()
            );
            match &r.lease {
                Some(lease) => {
                    w.line(&format!("{l}>"));
                    w.indent();
                    format_lease(w, lease);
                    w.close("range");
                }
                None => w.line(&format!("{l}/>")),
            }
        }
        for h in &ip.hosts {
            // libvirt prints mac, id and name unescaped.
            let mut l = String::from("<host");
            if let Some(m) = &h.mac {
                l.push_str(&format!(" mac='{m}'"));
            }
            if let Some(i) = &h.id {
                l.push_str(&format!(" id='{i}'"));
            }
            if let Some(n) = &h.name {
                l.push_str(&format!(" name='{n}'"));
            }
            if let Some(a) = &h.ip {
                l.push_str(&format!(" ip='{}'", a.format()));
            }
            match &h.lease {
                Some(lease) => {
                    w.line(&format!("{l}>"));
                    w.indent();
                    format_lease(w, lease);
                    w.close("host");
                }
                None => w.line(&format!("{l}/>")),
            }
        }
        if let Some(f) = &ip.bootfile {
            let mut l = format!("<bootp file='{}'", escape(f));
            if let Some(s) = &ip.bootserver {
                l.push_str(&format!(" server='{}'", escape(&s.format())));
            }
            l.push_str("/>");
            w.line(&l);
        }
        w.close("dhcp");
    }
    w.close("ip");
}

fn format_dns(w: &mut Buf, d: &Dns) {
    let has_records =
        !d.forwarders.is_empty() || !d.hosts.is_empty() || !d.srvs.is_empty() || !d.txts.is_empty();
    if !(d.enable.is_set() || d.forward_plain_names.is_set() || has_records) {
        return;
    }
    let mut l = String::from("<dns");
    if d.enable.is_set() {
        l.push_str(&format!(" enable='{}'", d.enable.as_bool_str()));
    }
    if d.forward_plain_names.is_set() {
        l.push_str(&format!(
            " forwardPlainNames='{}'",
            d.forward_plain_names.as_bool_str()
        ));
    }
    if !has_records {
        l.push_str("/>");
        w.line(&l);
        return;
    }
    l.push('>');
    w.line(&l);
    w.indent();
    for f in &d.forwarders {
        let mut l = String::from("<forwarder");
        if let Some(dom) = &f.domain {
            l.push_str(&format!(" domain='{}'", escape(dom)));
        }
        if let Some(a) = &f.addr {
            l.push_str(&format!(" addr='{}'", a.format()));
        }
        l.push_str("/>");
        w.line(&l);
    }
    for t in &d.txts {
        let mut l = format!("<txt name='{}' ", escape(&t.name));
        if let Some(v) = &t.value {
            l.push_str(&format!("value='{}'/>", escape(v)));
        }
        w.line(&l);
    }
    for s in &d.srvs {
        let (Some(svc), Some(proto)) = (&s.service, &s.protocol) else {
            continue;
        };
        let mut l = format!(
            "<srv service='{}' protocol='{}'",
            escape(svc),
            escape(proto)
        );
        if let Some(x) = &s.domain {
            l.push_str(&format!(" domain='{}'", escape(x)));
        }
        if let Some(x) = &s.target {
            l.push_str(&format!(" target='{}'", escape(x)));
        }
        if s.port != 0 {
            l.push_str(&format!(" port='{}'", s.port as i32));
        }
        if s.priority != 0 {
            l.push_str(&format!(" priority='{}'", s.priority as i32));
        }
        if s.weight != 0 {
            l.push_str(&format!(" weight='{}'", s.weight as i32));
        }
        l.push_str("/>");
        w.line(&l);
    }
    for h in &d.hosts {
        let ip = h.ip.as_ref().map(|a| a.format()).unwrap_or_default();
        w.line(&format!("<host ip='{ip}'>"));
        w.indent();
        for n in &h.names {
            w.text("hostname", n);
        }
        w.close("host");
    }
    w.close("dns");
}

fn format_portgroup(w: &mut Buf, pg: &PortGroup) {
    // libvirt prints the portgroup name unescaped.
    let mut l = format!("<portgroup name='{}'", pg.name);
    if pg.is_default {
        l.push_str(" default='yes'");
    }
    if pg.trust_guest_rx_filters.is_set() {
        l.push_str(&format!(
            " trustGuestRxFilters='{}'",
            pg.trust_guest_rx_filters.as_bool_str()
        ));
    }
    l.push('>');
    w.line(&l);
    w.indent();
    pg.vlan.format(w);
    if let Some(v) = &pg.virt_port {
        v.format(w);
    }
    if let Some(b) = &pg.bandwidth {
        b.format(w);
    }
    w.close("portgroup");
}

// ---- parsing helpers, one per element, in libvirt's order of checks ----

fn parse_lease(node: Node) -> Result<Option<Lease>, XmlError> {
    let Some(expiry) = conf::prop_ull(Some(node), "expiry", 0)? else {
        return Ok(None);
    };
    let unit = conf::prop_enum(
        Some(node),
        "unit",
        |s| match s {
            "seconds" => Some(0),
            "minutes" => Some(1),
            "hours" => Some(2),
            _ => None,
        },
        false,
        false,
    )?
    .unwrap_or(1);
    if expiry > 0 && ((unit == 0 && expiry < 120) || (unit == 1 && expiry < 2)) {
        return Err(net_err(
            code::CONFIG_UNSUPPORTED,
            "The minimum lease time should be greater than 2 minutes".into(),
        ));
    }
    Ok(Some(Lease {
        expiry,
        unit: ["seconds", "minutes", "hours"][unit as usize],
    }))
}

fn first_lease(node: Node) -> Result<Option<Lease>, XmlError> {
    let mut lease = None;
    for c in node
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == "lease")
    {
        if let Some(l) = parse_lease(c)? {
            lease = Some(l);
        }
    }
    Ok(lease)
}

fn parse_dhcp_range(net: &str, ip: &IpDef, node: Node) -> Result<DhcpRange, XmlError> {
    let start = prop(Some(node), "start").ok_or_else(|| {
        xml_err(format!(
            "Missing 'start' attribute in dhcp range for network '{net}'"
        ))
    })?;
    let start = SockAddr::parse(&start, Family::Any)?;
    let end = prop(Some(node), "end").ok_or_else(|| {
        xml_err(format!(
            "Missing 'end' attribute in dhcp range for network '{net}'"
        ))
    })?;
    let end = SockAddr::parse(&end, Family::Any)?;
    range_size(&start, &end, Some((&ip.address, ip.effective_prefix())))?;
    Ok(DhcpRange {
        start,
        end,
        lease: first_lease(node)?,
    })
}

fn parse_dhcp_host(net: &str, ip: &IpDef, node: Node) -> Result<DhcpHost, XmlError> {
    let mac = prop(Some(node), "mac");
    if let Some(m) = &mac {
        if ip.address.is_v6() {
            return Err(xml_err(format!(
                "Invalid to specify MAC address '{m}' in network '{net}' IPv6 static host definition"
            )));
        }
        let parsed = mac_parse(m)
            .ok_or_else(|| xml_err(format!("Cannot parse MAC address '{m}' in network '{net}'")))?;
        if parsed[0] & 1 != 0 {
            return Err(xml_err(format!(
                "expected unicast mac address, found multicast '{m}' in network '{net}'"
            )));
        }
    }
    let id = prop(Some(node), "id");
    if let Some(i) = &id {
        if let Some(c) = i.chars().find(|c| !(c.is_ascii_hexdigit() || *c == ':')) {
            return Err(xml_err(format!(
                "Invalid character '{c}' in id '{i}' of network '{net}'"
            )));
        }
    }
    let name = prop(Some(node), "name");
    if let Some(n) = &name {
        if !n.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()) {
            return Err(xml_err(format!(
                "Cannot use host name '{n}' in network '{net}'"
            )));
        }
    }
    let ipaddr = match prop(Some(node), "ip") {
        Some(s) => Some(SockAddr::parse(&s, Family::Any).map_err(|_| {
            xml_err(format!(
                "Invalid IP address in static host definition for network '{net}'"
            ))
        })?),
        None => None,
    };
    if ip.address.is_v6() {
        if id.is_none() && name.is_none() {
            return Err(xml_err(format!(
                "Static host definition in IPv6 network '{net}' must have id or name attribute"
            )));
        }
    } else if mac.is_none() && name.is_none() {
        return Err(xml_err(format!(
            "Static host definition in IPv4 network '{net}' must have mac or name attribute"
        )));
    }
    if ipaddr.is_none() {
        return Err(xml_err(format!(
            "Missing IP address in static host definition for network '{net}'"
        )));
    }
    Ok(DhcpHost {
        mac,
        id,
        name,
        ip: ipaddr,
        lease: first_lease(node)?,
    })
}

fn parse_ip(net: &str, node: Node) -> Result<IpDef, XmlError> {
    let family = xpath_attr(node, &[], "family");
    let address_s = xpath_attr(node, &[], "address").ok_or_else(|| {
        xml_err(format!(
            "Missing required address attribute in network '{net}'"
        ))
    })?;
    let address = SockAddr::parse(&address_s, Family::Any)
        .map_err(|_| xml_err(format!("Invalid address '{address_s}' in network '{net}'")))?;
    let netmask_s = xpath_attr(node, &[], "netmask");
    let netmask = match &netmask_s {
        Some(m) => Some(
            SockAddr::parse(m, Family::Any)
                .map_err(|_| xml_err(format!("Invalid netmask '{m}' in network '{net}'")))?,
        ),
        None => None,
    };
    let prefix = prop_uint(Some(node), "prefix", 10, false, false)?.unwrap_or(0);
    let local_ptr = prop_tristate_bool(Some(node), "localPtr")?;
    let cu = |m: String| net_err(code::CONFIG_UNSUPPORTED, m);
    match family.as_deref() {
        None | Some("ipv4") => {
            if !address.is_v4() {
                return Err(cu(format!(
                    "{} family specified for non-IPv4 address '{address_s}' in network '{net}'",
                    if family.is_none() { "no" } else { "ipv4" }
                )));
            }
            if let (Some(m), Some(ms)) = (&netmask, &netmask_s) {
                if !m.is_v4() {
                    return Err(cu(format!(
                        "Invalid netmask '{ms}' for address '{address_s}' in network '{net}' (both must be IPv4)"
                    )));
                }
                if prefix > 0 {
                    return Err(cu(format!(
                        "Network '{net}' IP address cannot have both a prefix and a netmask"
                    )));
                }
            } else if prefix > 32 {
                return Err(cu(format!(
                    "Invalid IPv4 prefix '{prefix}' in network '{net}'"
                )));
            }
        }
        Some("ipv6") => {
            if !address.is_v6() {
                return Err(cu(format!(
                    "Family 'ipv6' specified for non-IPv6 address '{address_s}' in network '{net}'"
                )));
            }
            if netmask.is_some() {
                return Err(cu(format!(
                    "netmask not allowed for IPv6 address '{address_s}' in network '{net}'"
                )));
            }
            if prefix > 128 {
                return Err(cu(format!(
                    "Invalid IPv6 prefix '{prefix}' in network '{net}'"
                )));
            }
        }
        Some(f) => {
            return Err(xml_err(format!(
                "Unrecognized family '{f}' in network '{net}'"
            )))
        }
    }
    let mut ip = IpDef {
        family,
        address,
        netmask,
        prefix,
        local_ptr,
        ranges: Vec::new(),
        hosts: Vec::new(),
        tftproot: None,
        bootfile: None,
        bootserver: None,
    };
    if let Some(dhcp) = child(node, "dhcp") {
        for c in dhcp.children().filter(|c| c.is_element()) {
            match c.tag_name().name() {
                "range" => {
                    let r = parse_dhcp_range(net, &ip, c)?;
                    ip.ranges.push(r);
                }
                "host" => {
                    let h = parse_dhcp_host(net, &ip, c)?;
                    ip.hosts.push(h);
                }
                "bootp" if ip.address.is_v4() => {
                    let Some(file) = prop(Some(c), "file") else {
                        continue;
                    };
                    let server = match prop(Some(c), "server") {
                        Some(s) => Some(SockAddr::parse(&s, Family::Any)?),
                        None => None,
                    };
                    ip.bootfile = Some(file);
                    ip.bootserver = server;
                }
                _ => {}
            }
        }
    }
    if child(node, "tftp").is_some() {
        if !ip.address.is_v4() {
            return Err(cu(format!(
                "Unsupported <tftp> element in an IPv6 element in network '{net}'"
            )));
        }
        ip.tftproot = xpath_attr(node, &["tftp"], "root");
    }
    Ok(ip)
}

fn parse_portgroup(node: Node) -> Result<PortGroup, XmlError> {
    let name = xpath_attr(node, &[], "name")
        .ok_or_else(|| xml_err("Missing required name attribute in portgroup".into()))?;
    let is_default =
        xpath_attr(node, &[], "default").is_some_and(|d| d.eq_ignore_ascii_case("yes"));
    let trust = prop_tristate_bool(Some(node), "trustGuestRxFilters")?;
    let virt_port = match child(node, "virtualport") {
        Some(v) => Some(VPortProfile::parse(v, false)?),
        None => None,
    };
    let bandwidth = match child(node, "bandwidth") {
        Some(b) => Bandwidth::parse(b, false)?,
        None => None,
    };
    let vlan = match child(node, "vlan") {
        Some(v) => Vlan::parse(v)?,
        None => Vlan::default(),
    };
    Ok(PortGroup {
        name,
        is_default,
        trust_guest_rx_filters: trust,
        virt_port,
        bandwidth,
        vlan,
    })
}

fn parse_nat(net: &str, node: Node, f: &mut Forward) -> Result<(), XmlError> {
    if f.type_ != ForwardType::Nat {
        return Err(xml_err(format!(
            "The <nat> element can only be used when <forward> 'mode' is 'nat' in network {net}"
        )));
    }
    f.nat_ipv6 = prop_tristate_bool(Some(node), "ipv6")?;
    let addrs: Vec<Node> = children(node, "address").collect();
    let (mut start, mut end) = (None, None);
    if addrs.len() > 1 {
        return Err(xml_err(format!(
            "Only one <address> element is allowed in <nat> in <forward> in network {net}"
        )));
    } else if let Some(a) = addrs.first() {
        start = Some(prop(Some(*a), "start").ok_or_else(|| {
            xml_err(format!("missing 'start' attribute in <address> element in <nat> in <forward> in network {net}"))
        })?);
        end = Some(prop(Some(*a), "end").ok_or_else(|| {
            xml_err(format!("missing 'end' attribute in <address> element in <nat> in <forward> in network {net}"))
        })?);
    }
    if let (Some(s), Some(e)) = (&start, &end) {
        let sa = SockAddr::parse(s, Family::V4).map_err(|_| {
            xml_err(format!(
                "Bad ipv4 start address '{s}' in <nat> in <forward> in network '{net}'"
            ))
        })?;
        let ea = SockAddr::parse(e, Family::V4).map_err(|_| {
            xml_err(format!(
                "Bad ipv4 end address '{e}' in <nat> in <forward> in network '{net}'"
            ))
        })?;
        range_size(&sa, &ea, None)?;
        f.nat_addr = Some((sa, ea));
    }
    let ports: Vec<Node> = children(node, "port").collect();
    if ports.len() > 1 {
        return Err(xml_err(format!(
            "Only one <port> element is allowed in <nat> in <forward> in network {net}"
        )));
    } else if let Some(p) = ports.first() {
        let get = |a: &str| xpath_attr(*p, &[], a).and_then(|v| conf::str_to_u32_pos(&v, 10));
        let s = get("start").filter(|s| *s <= 65535).ok_or_else(|| {
            net_err(
                code::XML_DETAIL,
                format!("Missing or invalid 'start' attribute in <port> in <nat> in <forward> in network {net}"),
            )
        })?;
        let e = get("end").filter(|e| *e <= 65535 && *e >= s).ok_or_else(|| {
            net_err(
                code::XML_DETAIL,
                format!("Missing or invalid 'end' attribute in <port> in <nat> in <forward> in network {net}"),
            )
        })?;
        f.nat_port = (s, e);
    }
    Ok(())
}

fn parse_forward(net: &str, node: Node) -> Result<Forward, XmlError> {
    let type_ = match xpath_attr(node, &[], "mode") {
        None => ForwardType::Nat,
        Some(m) => ForwardType::from_str(&m).ok_or_else(|| {
            net_err(
                code::CONFIG_UNSUPPORTED,
                format!("unknown forwarding type '{m}'"),
            )
        })?,
    };
    let mut f = Forward {
        type_,
        ..Default::default()
    };
    f.managed = xpath_attr(node, &[], "managed").is_some_and(|m| m.eq_ignore_ascii_case("yes"));
    if let Some(d) = xpath_attr(node, &["driver"], "name") {
        if d != "kvm" && d != "vfio" {
            return Err(net_err(
                code::CONFIG_UNSUPPORTED,
                format!("Unknown forward <driver name='{d}'/> in network {net}"),
            ));
        }
        f.driver_name = Some(d);
    }
    let ifs: Vec<Node> = children(node, "interface").collect();
    let addrs: Vec<Node> = children(node, "address").collect();
    let pfs: Vec<Node> = children(node, "pf").collect();
    let nats: Vec<Node> = children(node, "nat").collect();
    if nats.len() > 1 {
        return Err(xml_err(format!(
            "Only one <nat> element is allowed in <forward> of network {net}"
        )));
    } else if let Some(n) = nats.first() {
        parse_nat(net, *n, &mut f)?;
    }
    let dev = xpath_attr(node, &[], "dev");
    if dev.is_some() && (!addrs.is_empty() || !pfs.is_empty()) {
        // libvirt passes this format string without its argument, so "%s" stays literal.
        return Err(xml_err(
            "the <forward> 'dev' attribute cannot be used when <address> or <pf> sub-elements are present in network %s".into(),
        ));
    }
    if !ifs.is_empty() || dev.is_some() {
        if let Some(d) = &dev {
            f.ifs.push(ForwardIf::Netdev(d.clone()));
        }
        for (i, n) in ifs.iter().enumerate() {
            let d = prop(Some(*n), "dev").ok_or_else(|| {
                xml_err(format!(
                    "Missing required dev attribute in <forward> <interface> element of network {net}"
                ))
            })?;
            if i == 0 && dev.is_some() {
                let fd = dev.as_deref().unwrap_or_default();
                if d != fd {
                    return Err(xml_err(format!(
                        "<forward dev='{fd}'> must match first <interface dev='{d}'/> in network {net}"
                    )));
                }
                continue;
            }
            // libvirt compares against the slots before this index only.
            if f.ifs
                .iter()
                .take(i)
                .any(|x| *x == ForwardIf::Netdev(d.clone()))
            {
                return Err(xml_err(format!(
                    "interface '{d}' can only be listed once in network {net}"
                )));
            }
            f.ifs.push(ForwardIf::Netdev(d));
        }
    } else if !addrs.is_empty() {
        for a in &addrs {
            let t = prop(Some(*a), "type")
                .ok_or_else(|| xml_err(format!("missing address type in network {net}")))?;
            match t.as_str() {
                "pci" => {
                    let pci = PciAddr::parse(*a)?;
                    if f.ifs
                        .iter()
                        .any(|x| matches!(x, ForwardIf::Pci(p) if p.same(&pci)))
                    {
                        return Err(xml_err(format!(
                            "PCI device '{:04x}:{:02x}:{:02x}.{:x}' can only be listed once in network {net}",
                            pci.domain, pci.bus, pci.slot, pci.function
                        )));
                    }
                    f.ifs.push(ForwardIf::Pci(pci));
                }
                "none" | "netdev" => {
                    return Err(xml_err(format!(
                        "unsupported address type '{t}' in network {net}"
                    )))
                }
                _ => {
                    return Err(net_err(
                        code::CONFIG_UNSUPPORTED,
                        format!("unknown address type '{t}' in network {net}"),
                    ))
                }
            }
        }
    } else if pfs.len() > 1 {
        return Err(xml_err(format!(
            "Only one <pf> element is allowed in <forward> of network {net}"
        )));
    } else if let Some(p) = pfs.first() {
        let d = prop(Some(*p), "dev").ok_or_else(|| {
            xml_err(format!(
                "Missing required dev attribute in <pf> element of network '{net}'"
            ))
        })?;
        f.pfs.push(d);
    }
    Ok(f)
}

fn dns_err(detail: String) -> XmlError {
    net_err(code::XML_DETAIL, detail)
}

fn parse_dns(net: &str, node: Node) -> Result<Dns, XmlError> {
    let mut d = Dns {
        enable: prop_tristate_bool(Some(node), "enable")?,
        forward_plain_names: prop_tristate_bool(Some(node), "forwardPlainNames")?,
        ..Default::default()
    };
    for f in children(node, "forwarder") {
        let addr_s = prop(Some(f), "addr");
        let addr = match &addr_s {
            Some(a) => Some(SockAddr::parse(a, Family::Any).map_err(|_| {
                xml_err(format!(
                    "Invalid forwarder IP address '{a}' in network '{net}'"
                ))
            })?),
            None => None,
        };
        let domain = prop(Some(f), "domain");
        if addr.is_none() && domain.is_none() {
            return Err(xml_err(
                "Invalid forwarder element, must contain at least one of addr or domain".into(),
            ));
        }
        d.forwarders.push(DnsForwarder { domain, addr });
    }
    for h in children(node, "host") {
        let ip_s = prop(Some(h), "ip");
        let Some(ip_s) = ip_s else {
            return Err(dns_err(format!(
                "Missing IP address in network '{net}' DNS HOST record"
            )));
        };
        let ip = SockAddr::parse(&ip_s, Family::Any).map_err(|_| {
            dns_err(format!(
                "Invalid IP address in network '{net}' DNS HOST record"
            ))
        })?;
        let mut names = Vec::new();
        for hn in h
            .children()
            .filter(|c| c.is_element() && c.tag_name().name() == "hostname")
        {
            if hn.first_child().is_some() {
                let name = conf::text_content(hn);
                if name.is_empty() {
                    return Err(dns_err(format!(
                        "Missing hostname in network '{net}' DNS HOST record"
                    )));
                }
                names.push(name);
            }
        }
        if names.is_empty() {
            return Err(dns_err(format!(
                "Missing hostname in network '{net}' DNS HOST record"
            )));
        }
        d.hosts.push(DnsHost {
            ip: Some(ip),
            names,
        });
    }
    for s in children(node, "srv") {
        d.srvs.push(parse_srv(net, s)?);
    }
    for t in children(node, "txt") {
        let name = prop(Some(t), "name").ok_or_else(|| {
            dns_err(format!(
                "missing required name attribute in DNS TXT record of network {net}"
            ))
        })?;
        if name.contains([' ', ',']) {
            return Err(dns_err(format!(
                "prohibited character in DNS TXT record name '{name}' of network {net}"
            )));
        }
        let value = prop(Some(t), "value").ok_or_else(|| {
            dns_err(format!(
                "missing required value attribute in DNS TXT record named '{name}' of network {net}"
            ))
        })?;
        d.txts.push(DnsTxt {
            name,
            value: Some(value),
        });
    }
    if d.enable == Tristate::No
        && !(d.forwarders.is_empty()
            && d.hosts.is_empty()
            && d.srvs.is_empty()
            && d.txts.is_empty())
    {
        return Err(xml_err(format!("Extra data in disabled network '{net}'")));
    }
    Ok(d)
}

const PROTOCOL_CHARS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-+/";
const SERVICE_CHARS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+/*";

fn parse_srv(net: &str, node: Node) -> Result<DnsSrv, XmlError> {
    let mut s = DnsSrv {
        service: prop(Some(node), "service"),
        ..Default::default()
    };
    let Some(service) = s.service.clone() else {
        return Err(dns_err(format!(
            "missing required service attribute in DNS SRV record of network '{net}'"
        )));
    };
    if service.len() > 482 {
        return Err(dns_err(format!(
            "service attribute '{service}' in network '{net}' is too long, limit is 482 bytes"
        )));
    }
    if !service.chars().all(|c| SERVICE_CHARS.contains(c)) {
        return Err(dns_err(format!(
            "invalid character in service attribute '{service}' in DNS SRV record of network '{net}'"
        )));
    }
    s.protocol = prop(Some(node), "protocol");
    let Some(protocol) = s.protocol.clone() else {
        return Err(dns_err(format!(
            "missing required protocol attribute in DNS SRV record '{service}' of network '{net}'"
        )));
    };
    if !protocol.chars().all(|c| PROTOCOL_CHARS.contains(c)) {
        return Err(dns_err(format!(
            "invalid character in protocol attribute '{protocol}' in DNS SRV record of network '{net}'"
        )));
    }
    s.domain = prop(Some(node), "domain");
    s.target = prop(Some(node), "target");
    // virXPathUInt: absent or empty is "not given", anything else must parse.
    let num = |a: &str| -> Option<Result<u32, ()>> {
        xpath_attr(node, &[], a).map(|v| conf::str_to_u32_pos(&v, 10).ok_or(()))
    };
    let fields: [(&str, &str, u32, &str); 3] = [
        ("port", "port", 65535, "invalid DNS SRV port attribute"),
        (
            "priority",
            "priority",
            65535,
            "Invalid DNS SRV priority attribute",
        ),
        (
            "weight",
            "weight",
            65535,
            "invalid DNS SRV weight attribute",
        ),
    ];
    for (attr, what, max, bad) in fields {
        let Some(r) = num(attr) else { continue };
        if r.is_ok() && s.target.is_none() {
            return Err(dns_err(format!(
                "DNS SRV {what} attribute not permitted without target for service '{service}' in network '{net}'"
            )));
        }
        let v = match r {
            Ok(v) if v <= max && !(attr == "port" && v < 1) => v,
            _ => {
                return Err(dns_err(format!(
                    "{bad} for service '{service}' in network '{net}'"
                )))
            }
        };
        match attr {
            "port" => s.port = v,
            "priority" => s.priority = v,
            _ => s.weight = v,
        }
    }
    Ok(s)
}
