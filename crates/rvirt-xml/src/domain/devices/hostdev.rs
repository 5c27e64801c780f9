//! `<hostdev>`: host devices passed to the guest — PCI, USB, SCSI (adapter or iSCSI),
//! vhost-scsi, mediated devices, and the container capabilities (block, char, net)
//! (`virDomainHostdevDefParseXML`, `virDomainHostdevDefFormat`, their post-parse address
//! assignment and checks).

use super::super::buf::Buf;
use super::super::xml::{
    first, internal, prop, prop_enum, prop_enum_required, prop_on_off, prop_uint_required,
    prop_ull, prop_yes_no, report, unsupported, uuid_format, uuid_parse, xattr, xml_enum,
    xml_error, xml_util_error, xstring, yes_no, Node, Result, XmlEnum,
};
use super::disk::StartupPolicy;
use super::storage_source::{self as ss, Auth, NetHost, PciHostAddr, SecretUsage};
use super::{format_info, Address, AddressType, DeviceInfo};
use crate::domain::FormatOpts;
use crate::network::addr::{Family, SockAddr};
use crate::network::netdev::Route;
use rvirt_proto::error::{code, domain};

xml_enum! {
    /// `virDomainHostdevSubsysPCIBackend`.
    pub enum PciBackend { Default = "default", Kvm = "kvm", Vfio = "vfio", Xen = "xen" }
}

xml_enum! {
    /// `virDomainHostdevSubsysUSBGuestReset`.
    pub enum UsbGuestReset { Default = "default", Off = "off", Uninitialized = "uninitialized", On = "on" }
}

xml_enum! {
    /// `virDomainHostdevSubsysSCSIVHostModel`.
    pub enum ScsiHostModel {
        Default = "default", Virtio = "virtio", VirtioTransitional = "virtio-transitional",
        VirtioNonTransitional = "virtio-non-transitional",
    }
}

xml_enum! {
    /// `virMediatedDeviceModel`.
    pub enum MdevModel { VfioPci = "vfio-pci", VfioCcw = "vfio-ccw", VfioAp = "vfio-ap" }
}

xml_enum! {
    /// `virDomainDeviceSGIO`.
    pub enum HostdevSgio { Default = "default", Filtered = "filtered", Unfiltered = "unfiltered" }
}

xml_enum! {
    /// `virDomainNetTeamingType`.
    pub enum TeamingType { None = "none", Persistent = "persistent", Transient = "transient" }
}

/// An IP address of a container interface (`virNetDevIPAddr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpAddr {
    /// The address.
    pub address: SockAddr,
    /// `prefix=` (0: unset).
    pub prefix: u32,
    /// `peer=`.
    pub peer: Option<SockAddr>,
}

/// `<ip>`s and `<route>`s (`virNetDevIPInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpInfo {
    /// Addresses.
    pub ips: Vec<IpAddr>,
    /// Routes.
    pub routes: Vec<Route>,
}

/// `virDomainNetIPParseXML`.
fn parse_ip(n: &Node) -> Result<IpAddr> {
    let Some(address) = prop(n, "address") else {
        return Err(xml_error("Missing required address in <ip>"));
    };
    let family = match prop(n, "family").as_deref() {
        Some("ipv4") => Family::V4,
        Some("ipv6") => Family::V6,
        _ if address.contains(':') => Family::V6,
        _ => {
            if SockAddr::parse(&address, Family::V4).is_ok() {
                Family::V4
            } else if SockAddr::parse(&address, Family::V6).is_ok() {
                Family::V6
            } else {
                Family::Any
            }
        }
    };
    let addr = SockAddr::parse(&address, family)
        .map_err(|_| xml_error(format!("Invalid address '{address}' in <ip>")))?;
    let mut prefix = 0;
    if let Some(p) = prop(n, "prefix") {
        let v = super::super::xml::str_to_ui(&p, 10);
        match v {
            Some(v) if !((family == Family::V6 && v > 128) || (family == Family::V4 && v > 32)) => {
                prefix = v
            }
            _ => return Err(xml_error(format!("Invalid prefix value '{p}' in <ip>"))),
        }
    }
    let peer = match prop(n, "peer") {
        None => None,
        Some(p) => Some(SockAddr::parse(&p, family).map_err(|_| {
            report(
                code::INVALID_ARG,
                domain::DOMAIN,
                format!("Invalid peer '{p}' in <ip>"),
            )
        })?),
    };
    Ok(IpAddr {
        address: addr,
        prefix,
        peer,
    })
}

/// `virDomainNetIPInfoParseXML` over the `<ip>` and `<route>` children of `n`.
pub(crate) fn parse_ip_info(detail: &str, n: Node) -> Result<IpInfo> {
    let mut info = IpInfo::default();
    for ip in super::super::xml::children(n, "ip") {
        info.ips.push(parse_ip(&ip)?);
    }
    for r in super::super::xml::children(n, "route") {
        info.routes.push(Route::parse(detail, r)?);
    }
    Ok(info)
}

/// `virDomainNetIPInfoFormat`.
pub(crate) fn format_ip_info(b: &mut Buf, info: &IpInfo) {
    for ip in &info.ips {
        b.add(&format!("<ip address='{}'", ip.address.format()));
        b.add(if ip.address.is_v6() {
            " family='ipv6'"
        } else {
            " family='ipv4'"
        });
        if ip.prefix != 0 {
            b.add(&format!(" prefix='{}'", ip.prefix));
        }
        if let Some(p) = &ip.peer {
            b.add(&format!(" peer='{}'", p.format()));
        }
        b.add("/>\n");
    }
    for r in &info.routes {
        let mut w = crate::conf::Buf::new();
        r.format(&mut w);
        super::embed(b, &w.finish());
    }
}

/// What the host device is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostdevSource {
    /// `type='pci'`.
    Pci {
        /// `<source><address>`.
        addr: PciHostAddr,
        /// `<driver name=…>`.
        backend: Option<PciBackend>,
        /// `<source writeFiltering=…>`.
        write_filtering: Option<bool>,
    },
    /// `type='usb'`.
    Usb {
        /// `<vendor id>` (0: unset).
        vendor: u32,
        /// `<product id>`.
        product: u32,
        /// `<address bus>`.
        bus: u32,
        /// `<address device>`.
        device: u32,
        /// `guestReset=`.
        guest_reset: Option<UsbGuestReset>,
        /// `startupPolicy=`.
        startup_policy: Option<StartupPolicy>,
        /// `autoAddress='yes'`: the bus/device address was looked up from vendor/product
        /// (written only into migratable XML).
        auto_address: bool,
    },
    /// `type='scsi'` through a host adapter.
    ScsiHost {
        /// `<adapter name>`.
        adapter: String,
        /// `<address bus>`.
        bus: u32,
        /// `<address target>`.
        target: u32,
        /// `<address unit>`.
        unit: u64,
        /// `sgio=`.
        sgio: Option<HostdevSgio>,
        /// `rawio=`.
        rawio: Option<bool>,
    },
    /// `type='scsi'` over iSCSI.
    ScsiIscsi {
        /// `name=` (target IQN and LUN).
        path: String,
        /// The one `<host>`.
        host: NetHost,
        /// `<auth>`.
        auth: Option<Auth>,
        /// `<initiator><iqn name>`.
        initiator: Option<String>,
        /// `sgio=`.
        sgio: Option<HostdevSgio>,
        /// `rawio=`.
        rawio: Option<bool>,
    },
    /// `type='scsi_host'` (vhost-scsi).
    VhostScsi {
        /// `wwpn=`.
        wwpn: String,
        /// `model=`.
        model: Option<ScsiHostModel>,
    },
    /// `type='mdev'`.
    Mdev {
        /// `model=`.
        model: MdevModel,
        /// `<address uuid>`.
        uuid: [u8; 16],
        /// `display=`.
        display: Option<bool>,
        /// `ramfb=`.
        ramfb: Option<bool>,
    },
    /// `mode='capabilities' type='storage'`.
    CapsStorage(String),
    /// `mode='capabilities' type='misc'`.
    CapsMisc(String),
    /// `mode='capabilities' type='net'`.
    CapsNet {
        /// `<interface>`.
        ifname: String,
        /// `<ip>`s and `<route>`s.
        ip: IpInfo,
    },
}

/// A `<hostdev>` (`virDomainHostdevDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hostdev {
    /// The source.
    pub source: HostdevSource,
    /// `managed=` (subsystem mode).
    pub managed: bool,
    /// `<readonly/>` (SCSI).
    pub readonly: bool,
    /// `<shareable/>` (SCSI).
    pub shareable: bool,
    /// `<teaming type persistent>`.
    pub teaming: Option<(TeamingType, Option<String>)>,
    /// Address, alias, boot order.
    pub info: DeviceInfo,
}

impl Hostdev {
    /// Whether this is a subsystem (not capabilities) device.
    pub fn is_subsys(&self) -> bool {
        !matches!(
            self.source,
            HostdevSource::CapsStorage(_)
                | HostdevSource::CapsMisc(_)
                | HostdevSource::CapsNet { .. }
        )
    }

    /// A SCSI host device (`virHostdevIsSCSIDevice`).
    pub fn is_scsi(&self) -> bool {
        matches!(
            self.source,
            HostdevSource::ScsiHost { .. } | HostdevSource::ScsiIscsi { .. }
        )
    }

    /// The drive address, for SCSI devices that have one.
    pub fn drive_address(&self) -> Option<(u32, u32, u32, u32)> {
        match self.info.address {
            Some(Address::Drive {
                controller,
                bus,
                target,
                unit,
            }) if self.is_scsi() => Some((controller, bus, target, unit)),
            _ => None,
        }
    }
}

/// `virDomainHostdevDefParseXMLSubsys` for `<hostdev>` (`node`) or an `<interface
/// type='hostdev'>` (`type_` then comes from its `<source><address type>`).
pub(crate) fn parse_subsys(node: Node, type_: Option<&str>) -> Result<(HostdevSource, bool)> {
    let managed = prop_yes_no(&node, "managed")
        .ok()
        .flatten()
        .unwrap_or(false);
    let model = prop(&node, "model");
    let Some(t) = type_ else {
        return Err(xml_error("missing source address type"));
    };
    const TYPES: [&str; 5] = ["usb", "pci", "scsi", "scsi_host", "mdev"];
    if !TYPES.contains(&t) {
        return Err(unsupported(format!(
            "unknown host device source address type '{t}'"
        )));
    }
    let Some(src) = first(node, "source") else {
        return Err(xml_error("Missing <source> element in hostdev device"));
    };
    if t != "usb" && xattr(node, "source", "startupPolicy").is_some() {
        return Err(unsupported(
            "Setting startupPolicy is only allowed for USB devices",
        ));
    }
    let sgio: Option<HostdevSgio> = prop_enum(&node, "sgio", true)?;
    if sgio.is_some() && t != "scsi" {
        return Err(xml_error("sgio is only supported for scsi host device"));
    }
    let rawio = prop_yes_no(&node, "rawio")?;
    if rawio.is_some() && t != "scsi" {
        return Err(xml_error("rawio is only supported for scsi host device"));
    }
    if t != "mdev" && t != "scsi_host" && model.is_some() {
        return Err(xml_error(format!(
            "'model' attribute in <hostdev> is only supported when type='{t}'"
        )));
    }
    let source = match t {
        "pci" => {
            let write_filtering = prop_yes_no(&src, "writeFiltering")?;
            let addr = match first(src, "address") {
                Some(a) => ss::parse_pci_addr(&a)?,
                None => PciHostAddr::default(),
            };
            let backend = match first(node, "driver") {
                Some(d) => prop_enum(&d, "name", true)?,
                None => None,
            };
            HostdevSource::Pci {
                addr,
                backend,
                write_filtering,
            }
        }
        "usb" => parse_usb(src)?,
        "scsi" => parse_scsi(src, sgio, rawio)?,
        "scsi_host" => {
            let model = prop_enum(&node, "model", false)?;
            let Some(p) = prop(&src, "protocol") else {
                return Err(xml_error("Missing scsi_host subsystem protocol"));
            };
            if p != "vhost" {
                return Err(unsupported(format!(
                    "Unknown scsi_host subsystem protocol '{p}'"
                )));
            }
            let Some(wwpn) = prop(&src, "wwpn") else {
                return Err(xml_error("missing vhost-scsi hostdev source wwpn"));
            };
            let ok = wwpn.strip_prefix("naa.").is_some_and(|h| {
                let h = h.strip_prefix("0x").unwrap_or(h);
                h.len() == 16 && h.bytes().all(|c| c.is_ascii_hexdigit())
            });
            if !ok {
                if let Some(rest) = wwpn.strip_prefix("naa.") {
                    return Err(report(
                        code::INTERNAL_ERROR,
                        domain::NONE,
                        format!("Malformed wwn: {rest}"),
                    ));
                }
                return Err(xml_error("malformed 'wwpn' value"));
            }
            HostdevSource::VhostScsi { wwpn, model }
        }
        _ => {
            let model = prop_enum_required(&node, "model", false)?;
            let display = prop_on_off(&node, "display")?;
            let ramfb = prop_on_off(&node, "ramfb")?;
            let Some(a) = first(node, "source/address") else {
                return Err(unsupported("Missing <address> element"));
            };
            let Some(u) = prop(&a, "uuid") else {
                return Err(unsupported(
                    "Missing 'uuid' attribute for element <address>",
                ));
            };
            let uuid = uuid_parse(&u)
                .ok_or_else(|| internal("Cannot parse uuid attribute of element <address>"))?;
            HostdevSource::Mdev {
                model,
                uuid,
                display,
                ramfb,
            }
        }
    };
    Ok((source, managed))
}

fn parse_usb(src: Node) -> Result<HostdevSource> {
    let startup_policy = prop_enum(&src, "startupPolicy", true)?;
    let auto_address = prop_yes_no(&src, "autoAddress")?.unwrap_or(false);
    let guest_reset = prop_enum(&src, "guestReset", true)?;
    let vendor_n = first(src, "vendor");
    let product_n = first(src, "product");
    let (mut vendor, mut product, mut bus, mut device) = (0, 0, 0, 0);
    if let Some(v) = vendor_n {
        vendor = prop_uint_required(&v, "id", 0, true)?;
        if product_n.is_none() {
            return Err(internal("missing product"));
        }
    }
    if let Some(p) = product_n {
        product = prop_uint_required(&p, "id", 0, false)?;
        if vendor_n.is_none() {
            return Err(internal("missing vendor"));
        }
    }
    if let Some(a) = first(src, "address") {
        bus = prop_uint_required(&a, "bus", 0, false)?;
        device = prop_uint_required(&a, "device", 0, false)?;
    }
    Ok(HostdevSource::Usb {
        vendor,
        product,
        bus,
        device,
        guest_reset,
        startup_policy,
        auto_address,
    })
}

fn parse_scsi(src: Node, sgio: Option<HostdevSgio>, rawio: Option<bool>) -> Result<HostdevSource> {
    let protocol = match prop(&src, "protocol") {
        None => "adapter".to_string(),
        Some(p) if p == "adapter" || p == "iscsi" => p,
        Some(p) => {
            return Err(unsupported(format!(
                "Unknown SCSI subsystem protocol '{p}'"
            )))
        }
    };
    if protocol == "adapter" {
        let Some(a) = first(src, "address") else {
            return Err(xml_error(
                "'address' must be specified for scsi hostdev source",
            ));
        };
        let bus = prop_uint_required(&a, "bus", 0, false)?;
        let target = prop_uint_required(&a, "target", 0, false)?;
        let Some(unit) = prop_ull(&a, "unit", 0, false)? else {
            return Err(xml_util_error(
                "Missing required attribute 'unit' in element 'address'",
            ));
        };
        let Some(adapter) = xattr(src, "adapter", "name") else {
            return Err(xml_error(
                "'adapter' name must be specified for scsi hostdev source",
            ));
        };
        return Ok(HostdevSource::ScsiHost {
            adapter,
            bus,
            target,
            unit,
            sgio,
            rawio,
        });
    }
    let Some(path) = prop(&src, "name") else {
        return Err(xml_error("missing iSCSI hostdev source path name"));
    };
    let mut hosts = ss::parse_hosts(src)?;
    if hosts.is_empty() {
        return Err(xml_error("missing the host address for the iSCSI hostdev"));
    }
    if hosts.len() > 1 {
        return Err(xml_error(
            "only one source host address may be specified for the iSCSI hostdev",
        ));
    }
    let auth = match first(src, "auth") {
        None => None,
        Some(a) => {
            let a = ss::parse_auth(a)?;
            match ss::secret_usage(&a) {
                None => {
                    return Err(unsupported(format!(
                        "invalid secret type {}",
                        a.secret_type.as_deref().unwrap_or("(null)")
                    )))
                }
                Some(SecretUsage::Iscsi) => {}
                Some(_) => {
                    return Err(internal(format!(
                        "hostdev invalid secret type '{}'",
                        a.secret_type.as_deref().unwrap_or("")
                    )))
                }
            }
            Some(a)
        }
    };
    Ok(HostdevSource::ScsiIscsi {
        path,
        host: hosts.remove(0),
        auth,
        initiator: xattr(src, "initiator/iqn", "name"),
        sgio,
        rawio,
    })
}

/// `virDomainHostdevDefParseXMLCaps`.
fn parse_caps(node: Node, type_: Option<&str>) -> Result<HostdevSource> {
    let Some(t) = type_ else {
        return Err(xml_error("missing source address type"));
    };
    if !["storage", "misc", "net"].contains(&t) {
        return Err(unsupported(format!(
            "unknown host device source address type '{t}'"
        )));
    }
    if first(node, "source").is_none() {
        return Err(xml_error("Missing <source> element in hostdev device"));
    }
    Ok(match t {
        "storage" => HostdevSource::CapsStorage(
            xstring(node, "source/block")
                .ok_or_else(|| xml_error("Missing <block> element in hostdev storage device"))?,
        ),
        "misc" => HostdevSource::CapsMisc(
            xstring(node, "source/char")
                .ok_or_else(|| xml_error("Missing <char> element in hostdev character device"))?,
        ),
        _ => {
            let ifname = xstring(node, "source/interface")
                .ok_or_else(|| xml_error("Missing <interface> element in hostdev net device"))?;
            HostdevSource::CapsNet {
                ifname,
                ip: parse_ip_info("Domain hostdev device", node)?,
            }
        }
    })
}

/// `virDomainNetTeamingInfoParseXML`.
pub(crate) fn parse_teaming(n: Node) -> Result<Option<(TeamingType, Option<String>)>> {
    let t = xattr(n, "teaming", "type");
    let p = xattr(n, "teaming", "persistent");
    if t.is_none() && p.is_none() {
        return Ok(None);
    }
    let ty = t
        .as_deref()
        .and_then(TeamingType::parse)
        .filter(|x| x.index() > 0)
        .ok_or_else(|| {
            unsupported(format!(
                "unknown teaming type '{}'",
                t.as_deref().unwrap_or("(null)")
            ))
        })?;
    Ok(Some((ty, p)))
}

/// `virDomainNetTeamingInfoFormat`.
pub(crate) fn format_teaming(b: &mut Buf, t: &Option<(TeamingType, Option<String>)>) {
    if let Some((ty, p)) = t {
        if *ty != TeamingType::None {
            b.add(&format!("<teaming type='{}'", ty.as_str()));
            b.esc(" persistent='%s'", p.as_deref());
            b.add("/>\n");
        }
    }
}

/// `virDomainHostdevDefParseXML`.
pub(super) fn parse(n: Node) -> Result<Hostdev> {
    let mode = prop(&n, "mode");
    let type_ = prop(&n, "type");
    let caps = match mode.as_deref() {
        None | Some("subsystem") => false,
        Some("capabilities") => true,
        Some(m) => return Err(unsupported(format!("unknown hostdev mode '{m}'"))),
    };
    let (source, managed) = if caps {
        (parse_caps(n, type_.as_deref())?, false)
    } else {
        parse_subsys(n, type_.as_deref())?
    };
    let info = super::parse_info_ext(n, true, true)?;
    let scsi = matches!(
        source,
        HostdevSource::ScsiHost { .. } | HostdevSource::ScsiIscsi { .. }
    );
    let readonly = scsi && first(n, "readonly").is_some();
    let shareable = scsi && first(n, "shareable").is_some();
    Ok(Hostdev {
        source,
        managed,
        readonly,
        shareable,
        teaming: parse_teaming(n)?,
        info,
    })
}

fn type_name(s: &HostdevSource) -> &'static str {
    match s {
        HostdevSource::Pci { .. } => "pci",
        HostdevSource::Usb { .. } => "usb",
        HostdevSource::ScsiHost { .. } | HostdevSource::ScsiIscsi { .. } => "scsi",
        HostdevSource::VhostScsi { .. } => "scsi_host",
        HostdevSource::Mdev { .. } => "mdev",
        HostdevSource::CapsStorage(_) => "storage",
        HostdevSource::CapsMisc(_) => "misc",
        HostdevSource::CapsNet { .. } => "net",
    }
}

/// `virDomainHostdevDefFormatSubsys` (also used inside `<interface type='hostdev'>`).
pub(crate) fn format_subsys(b: &mut Buf, h: &Hostdev, include_type: bool, migratable: bool) {
    match &h.source {
        HostdevSource::Usb {
            vendor,
            product,
            bus,
            device,
            guest_reset,
            startup_policy,
            auto_address,
        } => {
            let mut a = Buf::new();
            let mut k = b.child();
            if let Some(p) = startup_policy {
                a.add(&format!(" startupPolicy='{}'", p.as_str()));
            }
            if *auto_address && migratable {
                a.add(" autoAddress='yes'");
            }
            if let Some(g) = guest_reset {
                a.add(&format!(" guestReset='{}'", g.as_str()));
            }
            if *vendor != 0 {
                k.add(&format!("<vendor id='0x{vendor:04x}'/>\n"));
                k.add(&format!("<product id='0x{product:04x}'/>\n"));
            }
            if *bus != 0 || *device != 0 {
                k.add(&format!(
                    "<address {}bus='{bus}' device='{device}'/>\n",
                    if include_type { "type='usb' " } else { "" }
                ));
            }
            b.element("source", a, k);
        }
        HostdevSource::Pci {
            addr,
            backend,
            write_filtering,
        } => {
            let mut a = Buf::new();
            let mut k = b.child();
            if let Some(w) = write_filtering {
                a.add(&format!(" writeFiltering='{}'", yes_no(*w)));
            }
            if let Some(bk) = backend {
                b.add(&format!("<driver name='{}'/>\n", bk.as_str()));
            }
            ss::format_pci_addr(&mut k, addr, include_type);
            b.element("source", a, k);
        }
        HostdevSource::ScsiIscsi {
            path,
            host,
            auth,
            initiator,
            ..
        } => {
            let mut a = Buf::new();
            let mut k = b.child();
            a.add(&format!(" protocol='iscsi' name='{path}'"));
            k.add("<host");
            k.esc(" name='%s'", host.name.as_deref());
            if host.port != 0 {
                k.add(&format!(" port='{}'", host.port));
            }
            k.add("/>\n");
            if let Some(au) = auth {
                ss::format_auth(&mut k, au);
            }
            if let Some(iqn) = initiator {
                k.add("<initiator>\n");
                k.adjust(2);
                k.esc("<iqn name='%s'/>\n", Some(iqn));
                k.adjust(-2);
                k.add("</initiator>\n");
            }
            b.element("source", a, k);
        }
        HostdevSource::ScsiHost {
            adapter,
            bus,
            target,
            unit,
            ..
        } => {
            let mut k = b.child();
            k.add(&format!("<adapter name='{adapter}'/>\n"));
            k.add("<address");
            if include_type {
                k.add(" type='scsi'");
            }
            k.add(&format!(" bus='{bus}' target='{target}' unit='{unit}'/>\n"));
            b.element("source", Buf::new(), k);
        }
        HostdevSource::VhostScsi { wwpn, .. } => {
            let mut a = Buf::new();
            a.add(&format!(" protocol='vhost' wwpn='{wwpn}'"));
            b.element("source", a, Buf::new());
        }
        HostdevSource::Mdev { uuid, .. } => {
            let mut k = b.child();
            k.add(&format!("<address uuid='{}'/>\n", uuid_format(uuid)));
            b.element("source", Buf::new(), k);
        }
        _ => {}
    }
}

/// `virDomainHostdevDefFormat`.
pub(super) fn format(b: &mut Buf, h: &Hostdev, opts: FormatOpts) {
    let mode = if h.is_subsys() {
        "subsystem"
    } else {
        "capabilities"
    };
    b.add(&format!(
        "<hostdev mode='{mode}' type='{}'",
        type_name(&h.source)
    ));
    if h.is_subsys() {
        b.add(&format!(" managed='{}'", yes_no(h.managed)));
        match &h.source {
            HostdevSource::ScsiHost { sgio, rawio, .. }
            | HostdevSource::ScsiIscsi { sgio, rawio, .. } => {
                if let Some(s) = sgio {
                    b.add(&format!(" sgio='{}'", s.as_str()));
                }
                if let Some(r) = rawio {
                    b.add(&format!(" rawio='{}'", yes_no(*r)));
                }
            }
            HostdevSource::VhostScsi { model: Some(m), .. } => {
                b.add(&format!(" model='{}'", m.as_str()));
            }
            HostdevSource::Mdev {
                model,
                display,
                ramfb,
                ..
            } => {
                b.add(&format!(" model='{}'", model.as_str()));
                if let Some(d) = display {
                    b.add(&format!(" display='{}'", super::super::xml::on_off(*d)));
                }
                if let Some(r) = ramfb {
                    b.add(&format!(" ramfb='{}'", super::super::xml::on_off(*r)));
                }
            }
            _ => {}
        }
    }
    b.add(">\n");
    b.adjust(2);
    match &h.source {
        HostdevSource::CapsStorage(blk) => caps_source(
            b,
            &format!("<block>{}</block>\n", super::super::buf::escape(blk)),
        ),
        HostdevSource::CapsMisc(c) => caps_source(
            b,
            &format!("<char>{}</char>\n", super::super::buf::escape(c)),
        ),
        HostdevSource::CapsNet { ifname, ip } => {
            caps_source(
                b,
                &format!(
                    "<interface>{}</interface>\n",
                    super::super::buf::escape(ifname)
                ),
            );
            format_ip_info(b, ip);
        }
        _ => format_subsys(b, h, false, opts.migratable),
    }
    format_teaming(b, &h.teaming);
    if h.readonly {
        b.add("<readonly/>\n");
    }
    if h.shareable {
        b.add("<shareable/>\n");
    }
    format_info(b, &h.info, true);
    b.adjust(-2);
    b.add("</hostdev>\n");
}

fn caps_source(b: &mut Buf, line: &str) {
    b.add("<source>\n");
    b.adjust(2);
    b.add(line);
    b.adjust(-2);
    b.add("</source>\n");
}

/// `virDomainHostdevDefPostParse`; `disks` are the SCSI disks' drive addresses and `others`
/// the drive addresses of the SCSI host devices (for finding a free unit).
pub(crate) fn post_parse(
    h: &mut Hostdev,
    disk_drives: &[(u32, u32, u32, u32)],
    used: &[(u32, u32, u32, u32)],
    controller_max_unit: &dyn Fn(u32, u32) -> bool,
) -> Result<()> {
    if !h.is_subsys() {
        return Ok(());
    }
    match &mut h.source {
        HostdevSource::ScsiHost { .. } | HostdevSource::ScsiIscsi { .. } => {
            if let HostdevSource::ScsiIscsi { path, .. } = &mut h.source {
                if !path.contains('/') {
                    *path = format!("{path}/0");
                }
            }
            if h.info.address.is_none() {
                // virDomainHostdevAssignAddress: the first free unit, controller by
                // controller.
                let mut controller = 0;
                loop {
                    let free = (0..7u32).find(|u| {
                        let a = (controller, 0, 0, *u);
                        !controller_max_unit(controller, *u)
                            && !disk_drives.contains(&a)
                            && !used.contains(&a)
                    });
                    if let Some(unit) = free {
                        h.info.address = Some(Address::Drive {
                            controller,
                            bus: 0,
                            target: 0,
                            unit,
                        });
                        break;
                    }
                    controller += 1;
                }
            }
            if let Some(Address::Drive {
                controller,
                bus,
                target,
                unit,
            }) = h.info.address
            {
                if disk_drives.contains(&(controller, bus, target, unit)) {
                    return Err(xml_error(format!(
                        "SCSI host address controller='{controller}' bus='{bus}' target='{target}' unit='{unit}' in use by a SCSI disk"
                    )));
                }
            }
        }
        HostdevSource::Mdev { model, .. } => {
            let at = h.info.address_type();
            if at != AddressType::None
                && ((*model == MdevModel::VfioPci && at != AddressType::Pci)
                    || (*model == MdevModel::VfioCcw && at != AddressType::Ccw))
            {
                return Err(xml_error(format!(
                    "Unsupported address type '{}' with mediated device model '{}'",
                    at.as_str(),
                    model.as_str()
                )));
            }
        }
        _ => {}
    }
    Ok(())
}

/// `virDomainHostdevDefValidate`.
pub(crate) fn validate(h: &Hostdev) -> Result<()> {
    let at = h.info.address_type();
    match &h.source {
        HostdevSource::Pci { .. }
            if !matches!(
                at,
                AddressType::None | AddressType::Unassigned | AddressType::Pci
            ) =>
        {
            return Err(internal(
                "PCI host devices must use 'pci' or 'unassigned' address type",
            ));
        }
        HostdevSource::ScsiHost { sgio, .. } | HostdevSource::ScsiIscsi { sgio, .. } => {
            if !matches!(at, AddressType::None | AddressType::Drive) {
                return Err(unsupported(
                    "SCSI host device must use 'drive' address type",
                ));
            }
            if *sgio == Some(HostdevSgio::Unfiltered) {
                return Err(unsupported("unfiltered sgio is no longer supported"));
            }
        }
        HostdevSource::VhostScsi { .. }
            if !matches!(at, AddressType::None | AddressType::Pci | AddressType::Ccw) =>
        {
            return Err(unsupported(
                "SCSI_host host device must use 'pci' or 'ccw' address type",
            ));
        }
        HostdevSource::Usb { .. } if !matches!(at, AddressType::None | AddressType::Usb) => {
            return Err(unsupported("USB host device must use 'usb' address type"));
        }
        _ => {}
    }
    if let Some((ty, persistent)) = &h.teaming {
        if *ty != TeamingType::Transient {
            return Err(unsupported(
                "teaming hostdev devices must have type='transient'",
            ));
        }
        if persistent.is_none() {
            return Err(unsupported(
                "missing required persistent attribute in hostdev teaming element",
            ));
        }
        if !matches!(h.source, HostdevSource::Pci { .. }) {
            return Err(unsupported(
                "teaming is only supported for pci hostdev devices",
            ));
        }
    }
    Ok(())
}

/// `virDomainHostdevMatch`: whether two host devices name the same host resource.
pub(crate) fn same_device(a: &Hostdev, b: &Hostdev) -> bool {
    use HostdevSource as S;
    match (&a.source, &b.source) {
        (S::Pci { addr: x, .. }, S::Pci { addr: y, .. }) => x == y,
        (
            S::Usb {
                vendor: v1,
                product: p1,
                bus: b1,
                device: d1,
                ..
            },
            S::Usb {
                vendor: v2,
                product: p2,
                bus: b2,
                device: d2,
                ..
            },
        ) => {
            if *b1 != 0 && *d1 != 0 {
                b1 == b2 && d1 == d2
            } else {
                p1 == p2 && v1 == v2
            }
        }
        (
            S::ScsiHost {
                adapter: a1,
                bus: b1,
                target: t1,
                unit: u1,
                ..
            },
            S::ScsiHost {
                adapter: a2,
                bus: b2,
                target: t2,
                unit: u2,
                ..
            },
        ) => a1 == a2 && b1 == b2 && t1 == t2 && u1 == u2,
        (
            S::ScsiIscsi {
                path: p1, host: h1, ..
            },
            S::ScsiIscsi {
                path: p2, host: h2, ..
            },
        ) => h1.name == h2.name && h1.port == h2.port && p1 == p2,
        (S::VhostScsi { wwpn: w1, .. }, S::VhostScsi { wwpn: w2, .. }) => w1 == w2,
        (S::Mdev { uuid: u1, .. }, S::Mdev { uuid: u2, .. }) => u1 == u2,
        (S::CapsStorage(x), S::CapsStorage(y)) | (S::CapsMisc(x), S::CapsMisc(y)) => x == y,
        (S::CapsNet { ifname: x, .. }, S::CapsNet { ifname: y, .. }) => x == y,
        _ => false,
    }
}
