//! `<interface>` (`virDomainNetDefParseXML`, `virDomainNetDefFormat`) for the common
//! connection types: libvirt network, host bridge, user mode, ethernet (tap) and macvtap.
//! Missing MAC addresses are generated with libvirt's `52:54:00` prefix.

use super::super::buf::Buf;
use super::super::xml::{
    child, first, not_modelled, on_off, prop, prop_enum, prop_on_off, prop_required, prop_uint,
    prop_yes_no, random_bytes, unsupported, xattr, xml_enum, xml_error, xpath_ull, Node, Result,
    XmlEnum,
};
use super::{format_info, parse_info, DeviceInfo, VirtioOptions};
use crate::domain::FormatOpts;

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
    /// `type='user'` (optionally `<source dev>` for passt, not written by libvirt 9.0's
    /// default backend).
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
    /// Address, alias, boot order.
    pub info: DeviceInfo,
}

impl Net {
    /// The `type=` value.
    pub fn type_(&self) -> NetType {
        match self.source {
            NetSource::User { .. } => NetType::User,
            NetSource::Ethernet => NetType::Ethernet,
            NetSource::Network { .. } => NetType::Network,
            NetSource::Bridge { .. } => NetType::Bridge,
            NetSource::Direct { .. } => NetType::Direct,
        }
    }

    fn is_virtio(&self) -> bool {
        matches!(
            self.model.as_deref(),
            Some("virtio" | "virtio-transitional" | "virtio-non-transitional")
        )
    }
}

const NOT_MODELLED: &[&str] = &[
    "virtualport",
    "bandwidth",
    "vlan",
    "filterref",
    "coalesce",
    "teaming",
    "ip",
    "route",
    "portForward",
    "backend",
    "port",
    "rom",
];

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

pub(super) fn parse(n: Node) -> Result<Net> {
    for c in n.children().filter(|c| c.is_element()) {
        if NOT_MODELLED.contains(&c.tag_name().name()) {
            return Err(not_modelled(format!(
                "<interface><{}>",
                c.tag_name().name()
            )));
        }
    }
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
                    return Err(super::super::xml::report(
                        rvirt_proto::error::code::INVALID_ARG,
                        rvirt_proto::error::domain::DOMAIN,
                        "Model name contains invalid characters",
                    ));
                }
                Some(m)
            }
        },
    };
    let src = child(n, "source");
    if let Some(s) = src {
        if child(s, "ip").is_some() || child(s, "route").is_some() {
            return Err(not_modelled("<interface><source><ip>"));
        }
    }
    let source = match t {
        NetType::Network => {
            let s = require_source(src, t)?;
            NetSource::Network {
                network: prop_required(&s, "network")?,
                portgroup: prop(&s, "portgroup"),
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
        NetType::User => NetSource::User {
            dev: src.and_then(|s| prop(&s, "dev")),
        },
        other => {
            return Err(not_modelled(format!(
                "<interface type='{}'>",
                other.as_str()
            )))
        }
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
    let info = parse_info(n, true)?;
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
        info,
    };
    if let Some(d) = child(n, "driver") {
        net.driver.virtio = VirtioOptions::parse(&d)?;
        if net.is_virtio() {
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
    if let Some(l) = link {
        net.link_state = match LinkState::parse(&l) {
            Some(s) if s != LinkState::Default => Some(s),
            _ => return Err(unsupported(format!("unknown interface link state '{l}'"))),
        };
    }
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
    Ok(net)
}

pub(super) fn format(b: &mut Buf, n: &Net, opts: FormatOpts) {
    b.add(&format!("<interface type='{}'", n.type_().as_str()));
    if let Some(t) = n.trust_guest_rx_filters {
        b.add(&format!(
            " trustGuestRxFilters='{}'",
            super::super::xml::yes_no(t)
        ));
    }
    b.add(">\n");
    b.adjust(2);
    b.add(&format!("<mac address='{}'", n.mac));
    if let Some(t) = n.mac_type {
        b.add(&format!(" type='{}'", t.as_str()));
    }
    if let Some(c) = n.mac_check {
        b.add(&format!(" check='{}'", super::super::xml::yes_no(c)));
    }
    b.add("/>\n");
    match &n.source {
        NetSource::Network { network, portgroup } => {
            b.esc("<source network='%s'", Some(network));
            b.esc(" portgroup='%s'", portgroup.as_deref());
            b.add("/>\n");
        }
        NetSource::Bridge { bridge } => {
            b.esc("<source bridge='%s'", Some(bridge));
            b.add("/>\n");
        }
        NetSource::Direct { dev, mode } => {
            b.esc("<source dev='%s'", Some(dev));
            b.add(&format!(" mode='{}'", mode.as_str()));
            b.add("/>\n");
        }
        NetSource::Ethernet | NetSource::User { .. } => {}
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
        ta.add(&format!(" managed='{}'", super::super::xml::yes_no(m)));
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
    if let Some(s) = n.sndbuf {
        b.add("<tune>\n");
        b.adjust(2);
        b.add(&format!("<sndbuf>{s}</sndbuf>\n"));
        b.adjust(-2);
        b.add("</tune>\n");
    }
    if let Some(l) = n.link_state {
        b.add(&format!("<link state='{}'/>\n", l.as_str()));
    }
    if n.mtu != 0 {
        b.add(&format!("<mtu size='{}'/>\n", n.mtu));
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
