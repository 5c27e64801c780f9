//! Character devices: `<serial>`, `<console>`, `<parallel>`, `<channel>`
//! (`virDomainChrDefParseXML`, `virDomainChrDefFormat`, `virDomainChrDefPostParse`).

use super::super::buf::Buf;
use super::super::seclabel::{self, DeviceSeclabel};
use super::super::xml::{
    children, first, prop, prop_enum_required, prop_on_off, prop_uint_required, prop_yes_no,
    str_to_ui, unsupported, xattr, xml_enum, xml_error, yes_no, Node, Result, XmlEnum,
};
use super::storage_source::{self as ss, Reconnect};
use super::{format_info, parse_info, DeviceInfo};
use crate::domain::FormatOpts;
use crate::network::addr::{Family, SockAddr};

xml_enum! {
    /// `virDomainChrDeviceType`: which element.
    pub enum ChrDeviceType {
        Parallel = "parallel", Serial = "serial", Console = "console", Channel = "channel",
    }
}

xml_enum! {
    /// `virDomainChrType`: the host side.
    pub enum ChrSourceType {
        Null = "null", Vc = "vc", Pty = "pty", Dev = "dev", File = "file", Pipe = "pipe",
        Stdio = "stdio", Udp = "udp", Tcp = "tcp", Unix = "unix", Spicevmc = "spicevmc",
        Spiceport = "spiceport", Nmdm = "nmdm", QemuVdagent = "qemu-vdagent", Dbus = "dbus",
    }
}

xml_enum! {
    /// `virDomainChrTcpProtocol`.
    pub enum TcpProtocol { Raw = "raw", Telnet = "telnet", Telnets = "telnets", Tls = "tls" }
}

xml_enum! {
    /// `virDomainMouseMode`.
    pub enum MouseMode { Default = "default", Server = "server", Client = "client" }
}

/// The guest side of a character device (one list for all four device kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChrTargetType {
    /// No type (`none`).
    None,
    /// Serial `isa-serial`.
    IsaSerial,
    /// Serial `usb-serial`.
    UsbSerial,
    /// Serial `pci-serial`.
    PciSerial,
    /// Serial `spapr-vio-serial`.
    SpaprVioSerial,
    /// Serial `system-serial`.
    SystemSerial,
    /// Serial `sclp-serial`.
    SclpSerial,
    /// Serial `isa-debug`.
    IsaDebug,
    /// Channel `guestfwd`.
    Guestfwd,
    /// Channel or console `virtio`.
    Virtio,
    /// Channel or console `xen`.
    Xen,
    /// Console `serial`.
    Serial,
    /// Console `uml`.
    Uml,
    /// Console `lxc`.
    Lxc,
    /// Console `openvz`.
    Openvz,
    /// Console `sclp`.
    Sclp,
    /// Console `sclplm`.
    Sclplm,
}

use ChrTargetType as T;

const SERIAL_TARGETS: &[(&str, ChrTargetType)] = &[
    ("none", T::None),
    ("isa-serial", T::IsaSerial),
    ("usb-serial", T::UsbSerial),
    ("pci-serial", T::PciSerial),
    ("spapr-vio-serial", T::SpaprVioSerial),
    ("system-serial", T::SystemSerial),
    ("sclp-serial", T::SclpSerial),
    ("isa-debug", T::IsaDebug),
];
const CHANNEL_TARGETS: &[(&str, ChrTargetType)] = &[
    ("none", T::None),
    ("guestfwd", T::Guestfwd),
    ("virtio", T::Virtio),
    ("xen", T::Xen),
];
const CONSOLE_TARGETS: &[(&str, ChrTargetType)] = &[
    ("none", T::None),
    ("serial", T::Serial),
    ("xen", T::Xen),
    ("uml", T::Uml),
    ("virtio", T::Virtio),
    ("lxc", T::Lxc),
    ("openvz", T::Openvz),
    ("sclp", T::Sclp),
    ("sclplm", T::Sclplm),
];
const SERIAL_MODELS: &[&str] = &[
    "none",
    "isa-serial",
    "usb-serial",
    "pci-serial",
    "spapr-vty",
    "pl011",
    "sclpconsole",
    "sclplmconsole",
    "16550a",
    "isa-debugcon",
];

fn targets_for(d: ChrDeviceType) -> &'static [(&'static str, ChrTargetType)] {
    match d {
        ChrDeviceType::Serial => SERIAL_TARGETS,
        ChrDeviceType::Channel => CHANNEL_TARGETS,
        ChrDeviceType::Console => CONSOLE_TARGETS,
        ChrDeviceType::Parallel => &[],
    }
}

/// The host side (`virDomainChrSourceDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChrSource {
    /// `type=`.
    pub type_: ChrSourceType,
    /// `path=` (dev, file, pipe, unix).
    pub path: Option<String>,
    /// `append=` (file).
    pub append: Option<bool>,
    /// `mode='bind'` (tcp, unix; udp: the bind side).
    pub listen: bool,
    /// `host=` (tcp; udp connect side).
    pub host: Option<String>,
    /// `service=` (tcp; udp connect side).
    pub service: Option<String>,
    /// udp bind side `host=`.
    pub bind_host: Option<String>,
    /// udp bind side `service=`.
    pub bind_service: Option<String>,
    /// `tls=` (tcp).
    pub tls: Option<bool>,
    /// `<protocol type=…>` (tcp).
    pub protocol: TcpProtocol,
    /// `channel=` (spiceport).
    pub channel: Option<String>,
    /// `<log file=…>`.
    pub logfile: Option<String>,
    /// `<log append=…>`.
    pub logappend: Option<bool>,
    /// `<source><reconnect>` (tcp, unix).
    pub reconnect: Reconnect,
    /// `<source><seclabel>` overrides.
    pub seclabels: Vec<DeviceSeclabel>,
    /// `<source master slave>` (nmdm).
    pub nmdm: (Option<String>, Option<String>),
    /// `<source><clipboard copypaste>` (qemu-vdagent).
    pub clipboard: Option<bool>,
    /// `<source><mouse mode>` (qemu-vdagent).
    pub mouse: Option<MouseMode>,
}

impl ChrSource {
    pub(super) fn new(type_: ChrSourceType) -> Self {
        Self {
            type_,
            path: None,
            append: None,
            listen: false,
            host: None,
            service: None,
            bind_host: None,
            bind_service: None,
            tls: None,
            protocol: TcpProtocol::Raw,
            channel: None,
            logfile: None,
            logappend: None,
            reconnect: Reconnect::default(),
            seclabels: Vec::new(),
            nmdm: (None, None),
            clipboard: None,
            mouse: None,
        }
    }
}

/// A character device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chr {
    /// Which element.
    pub device: ChrDeviceType,
    /// Host side.
    pub source: ChrSource,
    /// `<target type=…>`.
    pub target_type: ChrTargetType,
    /// `<target><model name=…>` (serial).
    pub target_model: Option<String>,
    /// `<target port=…>` (serial, console, parallel); assigned when absent.
    pub port: Option<i64>,
    /// `<target name=…>` (virtio and xen channels).
    pub target_name: Option<String>,
    /// `<target address port>` (guestfwd channels).
    pub guestfwd: Option<(SockAddr, u32)>,
    /// Address and alias.
    pub info: DeviceInfo,
}

impl Chr {
    /// A console that stands for the first serial port (`virDomainDefAddConsoleCompat`).
    pub(crate) fn console_stub() -> Self {
        Self {
            device: ChrDeviceType::Console,
            source: ChrSource::new(ChrSourceType::Null),
            target_type: ChrTargetType::Serial,
            target_model: None,
            port: None,
            target_name: None,
            guestfwd: None,
            info: DeviceInfo::default(),
        }
    }

    fn target_str(&self) -> &'static str {
        targets_for(self.device)
            .iter()
            .find(|(_, t)| *t == self.target_type)
            .map(|(s, _)| *s)
            .unwrap_or("none")
    }
}

/// `virDomainChrSourceDefParseXML`; `with_seclabels` for real character devices (others do
/// not read `<source><seclabel>`).
pub(crate) fn parse_source(n: Node, src: &mut ChrSource, with_seclabels: bool) -> Result<()> {
    let sources: Vec<Node> = children(n, "source").collect();
    if !sources.is_empty() {
        if sources.len() > 1 && src.type_ != ChrSourceType::Udp {
            return Err(xml_error(
                "only one source element is allowed for character device",
            ));
        }
        if sources.len() > 2 {
            return Err(xml_error(
                "only two source elements are allowed for character device",
            ));
        }
        let s = sources[0];
        let bind = |s: &Node| -> Result<bool> {
            match prop(s, "mode").as_deref() {
                None | Some("connect") => Ok(false),
                Some("bind") => Ok(true),
                Some(v) => Err(super::super::xml::xml_util_error(format!(
                    "Invalid value for attribute 'mode' in element '{}': '{v}'.",
                    s.tag_name().name()
                ))),
            }
        };
        match src.type_ {
            ChrSourceType::File => {
                src.path = prop(&s, "path");
                src.append = prop_on_off(&s, "append")?;
            }
            // A pty's path is only read from live XML.
            ChrSourceType::Pty => {}
            ChrSourceType::Dev | ChrSourceType::Pipe => src.path = prop(&s, "path"),
            ChrSourceType::Unix => {
                src.listen = bind(&s)?;
                src.path = prop(&s, "path");
                src.reconnect = ss::parse_reconnect(s)?;
            }
            ChrSourceType::Tcp => {
                src.listen = bind(&s)?;
                src.host = prop(&s, "host");
                src.service = prop(&s, "service");
                src.tls = prop_yes_no(&s, "tls")?;
                src.reconnect = ss::parse_reconnect(s)?;
            }
            ChrSourceType::Udp => {
                for s in &sources {
                    if bind(s)? {
                        if src.bind_host.is_none() && src.bind_service.is_none() {
                            src.bind_host = prop(s, "host");
                            src.bind_service = prop(s, "service");
                        }
                    } else if src.host.is_none() && src.service.is_none() {
                        src.host = prop(s, "host");
                        src.service = prop(s, "service");
                    }
                }
            }
            ChrSourceType::Spiceport | ChrSourceType::Dbus => src.channel = prop(&s, "channel"),
            ChrSourceType::Nmdm => src.nmdm = (prop(&s, "master"), prop(&s, "slave")),
            ChrSourceType::QemuVdagent => {
                if let Some(c) = first(s, "clipboard") {
                    match prop_yes_no(&c, "copypaste")? {
                        Some(v) => src.clipboard = Some(v),
                        None => {
                            return Err(super::super::xml::xml_util_error(
                                "Missing required attribute 'copypaste' in element 'clipboard'",
                            ))
                        }
                    }
                }
                if let Some(m) = first(s, "mouse") {
                    src.mouse = Some(prop_enum_required(&m, "mode", true)?);
                }
            }
            _ => {}
        }
        if with_seclabels {
            src.seclabels = seclabel::parse_device(s)?;
        }
    }
    let logs: Vec<Node> = children(n, "log").collect();
    if logs.len() > 1 {
        return Err(xml_error(
            "only one log element is allowed for character device",
        ));
    }
    if let Some(l) = logs.first() {
        src.logfile = prop(l, "file");
        src.logappend = prop_on_off(l, "append")?;
    }
    let protocols: Vec<Node> = children(n, "protocol").collect();
    if protocols.len() > 1 {
        return Err(xml_error(
            "only one protocol element is allowed for character device",
        ));
    }
    if let (Some(p), ChrSourceType::Tcp) = (protocols.first(), src.type_) {
        if let Some(t) = prop(p, "type") {
            src.protocol = TcpProtocol::parse(&t)
                .ok_or_else(|| unsupported(format!("Unknown protocol '{t}'")))?;
        }
    }
    Ok(())
}

pub(super) fn parse(n: Node) -> Result<Chr> {
    let type_ = match prop(&n, "type") {
        None => ChrSourceType::Pty,
        Some(t) => ChrSourceType::parse(&t).ok_or_else(|| {
            unsupported(format!(
                "unknown type presented to host for character device: {t}"
            ))
        })?,
    };
    let name = n.tag_name().name();
    let device = ChrDeviceType::parse(name)
        .ok_or_else(|| unsupported(format!("unknown character device type: {name}")))?;
    let mut chr = Chr {
        device,
        source: ChrSource::new(type_),
        target_type: ChrTargetType::None,
        target_model: None,
        port: None,
        target_name: None,
        guestfwd: None,
        info: DeviceInfo::default(),
    };
    match super::super::xml::child(n, "target") {
        Some(t) => {
            match prop(&t, "type") {
                None => {
                    if device == ChrDeviceType::Channel {
                        return Err(xml_error(
                            "target type must be specified for channel device",
                        ));
                    }
                }
                Some(tt) => {
                    if device != ChrDeviceType::Parallel {
                        chr.target_type = targets_for(device)
                            .iter()
                            .find(|(s, _)| *s == tt)
                            .map(|(_, t)| *t)
                            .ok_or_else(|| {
                                unsupported(format!(
                                    "unknown target type '{tt}' specified for character device"
                                ))
                            })?;
                    }
                }
            }
            let model = xattr(t, "model", "name");
            if let (Some(m), ChrDeviceType::Serial) = (&model, device) {
                if !SERIAL_MODELS.contains(&m.as_str()) {
                    return Err(unsupported(format!(
                        "unknown target model '{m}' specified for character device"
                    )));
                }
                if m != "none" {
                    chr.target_model = Some(m.clone());
                }
            }
            if device == ChrDeviceType::Channel {
                match chr.target_type {
                    ChrTargetType::Guestfwd => {
                        let Some(a) = prop(&t, "address") else {
                            return Err(xml_error(
                                "guestfwd channel does not define a target address",
                            ));
                        };
                        let addr = SockAddr::parse(&a, Family::Any)?;
                        if !addr.is_v4() {
                            return Err(unsupported(
                                "guestfwd channel only supports IPv4 addresses",
                            ));
                        }
                        let port = prop_uint_required(&t, "port", 10, false)?;
                        chr.guestfwd = Some((addr, port));
                    }
                    ChrTargetType::Xen | ChrTargetType::Virtio => {
                        chr.target_name = prop(&t, "name");
                    }
                    _ => {}
                }
            } else if let Some(p) = prop(&t, "port") {
                let v = str_to_ui(&p, 10)
                    .ok_or_else(|| xml_error(format!("Invalid port number: {p}")))?;
                // libvirt stores the unsigned value in an int.
                chr.port = Some(v as i32 as i64);
            }
        }
        None => {
            if device == ChrDeviceType::Channel {
                return Err(xml_error(
                    "target type must be specified for channel device",
                ));
            }
        }
    }
    parse_source(n, &mut chr.source, true)?;
    if type_ == ChrSourceType::Spicevmc && chr.target_type != ChrTargetType::Virtio {
        return Err(unsupported("spicevmc device type only supports virtio"));
    }
    chr.info = parse_info(n, false)?;
    if device == ChrDeviceType::Serial
        && chr.target_type == ChrTargetType::UsbSerial
        && !matches!(
            chr.info.address_type(),
            super::AddressType::None | super::AddressType::Usb
        )
    {
        return Err(unsupported("usb-serial requires address of usb type"));
    }
    Ok(chr)
}

/// `virDomainChrDefPostParse` for `list[i]`: console target default and port numbering.
pub(crate) fn post_parse(list: &mut [Chr], i: usize) {
    if list[i].device == ChrDeviceType::Console && list[i].target_type == ChrTargetType::None {
        list[i].target_type = ChrTargetType::Serial;
    }
    if list[i].port.is_none() && list[i].device != ChrDeviceType::Channel {
        let max = list.iter().filter_map(|c| c.port).max().unwrap_or(-1);
        list[i].port = Some(max + 1);
    }
}

/// `virDomainChrSourceDefFormat` for an inactive definition.
pub(crate) fn format_source(b: &mut Buf, s: &ChrSource, opts: FormatOpts) {
    use ChrSourceType as S;
    match s.type_ {
        S::Null | S::Vc | S::Stdio | S::Spicevmc => {}
        // A pty's path is what the running QEMU allocated: live XML only.
        S::Pty if s.path.is_none() || opts.inactive => {}
        S::QemuVdagent => {
            if s.mouse.is_some_and(|m| m != MouseMode::Default) || s.clipboard.is_some() {
                b.add("<source>\n");
                b.adjust(2);
                if let Some(c) = s.clipboard {
                    b.add(&format!("<clipboard copypaste='{}'/>\n", yes_no(c)));
                }
                if let Some(m) = s.mouse.filter(|m| *m != MouseMode::Default) {
                    b.add(&format!("<mouse mode='{}'/>\n", m.as_str()));
                }
                b.adjust(-2);
                b.add("</source>\n");
            }
        }
        S::Dev | S::File | S::Pipe | S::Pty => {
            let mut a = Buf::new();
            a.esc(" path='%s'", s.path.as_deref());
            if s.type_ == S::File {
                if let Some(ap) = s.append {
                    a.add(&format!(" append='{}'", super::super::xml::on_off(ap)));
                }
            }
            let mut k = b.child();
            seclabel::format_device(&mut k, &s.seclabels);
            b.element("source", a, k);
        }
        S::Nmdm => {
            b.esc("<source master='%s' ", s.nmdm.0.as_deref());
            b.esc("slave='%s'/>\n", s.nmdm.1.as_deref());
        }
        S::Udp => {
            if s.bind_service.is_some() || s.bind_host.is_some() {
                b.add("<source mode='bind'");
                b.esc(" host='%s'", s.bind_host.as_deref());
                b.esc(" service='%s'", s.bind_service.as_deref());
                b.add("/>\n");
            }
            if s.service.is_some() || s.host.is_some() {
                b.add("<source mode='connect'");
                b.esc(" host='%s'", s.host.as_deref());
                b.esc(" service='%s'", s.service.as_deref());
                b.add("/>\n");
            }
        }
        S::Tcp => {
            let mut a = Buf::new();
            a.add(&format!(
                " mode='{}' ",
                if s.listen { "bind" } else { "connect" }
            ));
            a.esc("host='%s' ", s.host.as_deref());
            a.esc("service='%s'", s.service.as_deref());
            if let Some(t) = s.tls {
                a.add(&format!(" tls='{}'", yes_no(t)));
            }
            let mut k = b.child();
            ss::format_reconnect(&mut k, &s.reconnect);
            b.element("source", a, k);
            b.add(&format!("<protocol type='{}'/>\n", s.protocol.as_str()));
        }
        S::Unix => {
            if let Some(p) = &s.path {
                let mut a = Buf::new();
                a.add(&format!(
                    " mode='{}'",
                    if s.listen { "bind" } else { "connect" }
                ));
                a.esc(" path='%s'", Some(p));
                let mut k = b.child();
                seclabel::format_device(&mut k, &s.seclabels);
                ss::format_reconnect(&mut k, &s.reconnect);
                b.element("source", a, k);
            }
        }
        S::Spiceport | S::Dbus => b.esc("<source channel='%s'/>\n", s.channel.as_deref()),
    }
    if let Some(l) = &s.logfile {
        b.esc("<log file='%s'", Some(l));
        if let Some(a) = s.logappend {
            b.add(&format!(" append='{}'", super::super::xml::on_off(a)));
        }
        b.add("/>\n");
    }
}

pub(super) fn format(b: &mut Buf, c: &Chr, opts: FormatOpts) {
    let name = c.device.as_str();
    b.add(&format!("<{name}"));
    b.adjust(2);
    b.add(&format!(" type='{}'", c.source.type_.as_str()));
    // libvirt's compatibility with the legacy `<console tty='/dev/pts/N'/>` syntax.
    if c.device == ChrDeviceType::Console
        && c.port == Some(0)
        && c.source.type_ == ChrSourceType::Pty
        && !opts.inactive
    {
        b.esc(" tty='%s'", c.source.path.as_deref());
    }
    b.add(">\n");
    format_source(b, &c.source, opts);
    let port = c.port.unwrap_or(-1);
    match c.device {
        ChrDeviceType::Channel => {
            b.add(&format!("<target type='{}'", c.target_str()));
            if matches!(c.target_type, ChrTargetType::Virtio | ChrTargetType::Xen) {
                b.esc(" name='%s'", c.target_name.as_deref());
            }
            if let Some((a, p)) = &c.guestfwd {
                b.add(&format!(" address='{}' port='{p}'", a.format()));
            }
            b.add("/>\n");
        }
        ChrDeviceType::Console => {
            b.add(&format!(
                "<target type='{}' port='{port}'/>\n",
                c.target_str()
            ));
        }
        ChrDeviceType::Serial => {
            b.add("<target ");
            if c.target_type != ChrTargetType::None {
                b.add(&format!("type='{}' ", c.target_str()));
            }
            b.add(&format!("port='{port}'"));
            match &c.target_model {
                Some(m) => {
                    b.add(">\n");
                    b.adjust(2);
                    b.add(&format!("<model name='{m}'/>\n"));
                    b.adjust(-2);
                    b.add("</target>\n");
                }
                None => b.add("/>\n"),
            }
        }
        ChrDeviceType::Parallel => b.add(&format!("<target port='{port}'/>\n")),
    }
    format_info(b, &c.info, false);
    b.adjust(-2);
    b.add(&format!("</{name}>\n"));
}
