//! `<os>`: guest OS type and architecture, firmware loader and NVRAM, direct kernel boot, boot
//! devices, boot menu and BIOS options (`virDomainDefParseCaps`, `virDomainDefParseBootOptions`
//! and the `<os>` part of `virDomainDefFormatInternal`).

use super::buf::Buf;
use super::xml::{
    first, prop, prop_enum, prop_int, prop_uint, prop_yes_no, select, unsupported, xattr, xml_enum,
    xml_error, xstring, yes_no, Node, Result, XmlEnum,
};
use super::{DomainDef, FormatOpts, VirtType};

xml_enum! {
    /// `virDomainOSType`.
    pub enum OsType {
        Hvm = "hvm", Xen = "xen", Linux = "linux", Exe = "exe", Uml = "uml", XenPvh = "xenpvh",
    }
}

xml_enum! {
    /// `virArch`: guest architectures libvirt knows.
    pub enum Arch {
        None = "none", Alpha = "alpha", Armv6l = "armv6l", Armv7l = "armv7l",
        Armv7b = "armv7b", Aarch64 = "aarch64", Cris = "cris", I686 = "i686", Ia64 = "ia64",
        Lm32 = "lm32", M68k = "m68k", Microblaze = "microblaze", Microblazeel = "microblazeel",
        Mips = "mips", Mipsel = "mipsel", Mips64 = "mips64", Mips64el = "mips64el",
        Openrisc = "openrisc", Parisc = "parisc", Parisc64 = "parisc64", Ppc = "ppc",
        Ppcle = "ppcle", Ppc64 = "ppc64", Ppc64le = "ppc64le", Ppcemb = "ppcemb",
        Riscv32 = "riscv32", Riscv64 = "riscv64", S390 = "s390", S390x = "s390x", Sh4 = "sh4",
        Sh4eb = "sh4eb", Sparc = "sparc", Sparc64 = "sparc64", Unicore32 = "unicore32",
        X86_64 = "x86_64", Xtensa = "xtensa", Xtensaeb = "xtensaeb",
    }
}

xml_enum! {
    /// `virDomainBootOrder` (`<boot dev=…>`).
    pub enum BootDev { Fd = "fd", Cdrom = "cdrom", Hd = "hd", Network = "network" }
}

xml_enum! {
    /// `virDomainLoader` (`<loader type=…>`).
    pub enum LoaderType { None = "none", Rom = "rom", Pflash = "pflash" }
}

xml_enum! {
    /// `virDomainSmbiosMode`.
    pub enum SmbiosMode { None = "none", Emulate = "emulate", Host = "host", Sysinfo = "sysinfo" }
}

/// `<loader>` and `<nvram>` (`virDomainLoaderDef`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loader {
    /// The firmware image path.
    pub path: Option<String>,
    /// `readonly=`.
    pub readonly: Option<bool>,
    /// `secure=`.
    pub secure: Option<bool>,
    /// `stateless=`.
    pub stateless: Option<bool>,
    /// `type=` (defaults to `rom` when a path is given).
    pub type_: Option<LoaderType>,
    /// `<nvram>`.
    pub nvram: Option<Nvram>,
    /// `<nvram template=…>`.
    pub nvram_template: Option<String>,
}

/// `<nvram>`: the variable store, either a path as text (old style) or a typed storage
/// source (`<nvram type=…><source …/></nvram>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nvram {
    /// The path (old style).
    pub path: String,
    /// The storage source (new style).
    pub source: Option<super::devices::DiskSource>,
}

xml_enum! {
    /// `virDomainOsDefFirmware`.
    pub enum Firmware { None = "none", Bios = "bios", Efi = "efi" }
}

xml_enum! {
    /// `virDomainOsDefFirmwareFeature`.
    pub enum FirmwareFeature { EnrolledKeys = "enrolled-keys", SecureBoot = "secure-boot" }
}

/// `<bios>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BiosOpts {
    /// `useserial=`.
    pub useserial: Option<bool>,
    /// `rebootTimeout=`.
    pub reboot_timeout: Option<i32>,
}

/// `<os>` (`virDomainOSDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Os {
    /// `<type>`.
    pub type_: OsType,
    /// `<type arch=…>` (the driver's default architecture when absent: i686 for the test
    /// driver).
    pub arch: Arch,
    /// `<type machine=…>`.
    pub machine: Option<String>,
    /// `<loader>`/`<nvram>`.
    pub loader: Option<Loader>,
    /// `<kernel>`.
    pub kernel: Option<String>,
    /// `<initrd>`.
    pub initrd: Option<String>,
    /// `<cmdline>`.
    pub cmdline: Option<String>,
    /// `<dtb>`.
    pub dtb: Option<String>,
    /// `<root>`.
    pub root: Option<String>,
    /// `<acpi><table type='slic'>`.
    pub slic_table: Option<String>,
    /// `<init>` (containers).
    pub init: Option<String>,
    /// `<boot dev=…>`, in order.
    pub boot_devs: Vec<BootDev>,
    /// `<bootmenu enable=…>`.
    pub bootmenu: Option<bool>,
    /// `<bootmenu timeout=…>`.
    pub bootmenu_timeout: Option<u32>,
    /// `<bios>`.
    pub bios: BiosOpts,
    /// `<smbios mode=…>`.
    pub smbios: Option<SmbiosMode>,
    /// `<os firmware=…>`.
    pub firmware: Option<Firmware>,
    /// `<firmware><feature>` states (enrolled-keys, secure-boot), when any is given.
    pub firmware_features: Option<[Option<bool>; 2]>,
    /// `<initarg>`s.
    pub initargs: Vec<String>,
    /// `<initenv name>`s.
    pub initenv: Vec<(String, String)>,
    /// `<initdir>`.
    pub initdir: Option<String>,
    /// `<inituser>`.
    pub inituser: Option<String>,
    /// `<initgroup>`.
    pub initgroup: Option<String>,
}

/// The part of `virDomainDefParseCaps` that concerns `<os>`.
pub(super) fn parse_caps(root: Node, virt: VirtType, has_bootloader: bool) -> Result<Os> {
    let ostype = xstring(root, "os/type");
    let arch = xattr(root, "os/type", "arch");
    let machine = xattr(root, "os/type", "machine");
    let mut type_ = match ostype {
        None if has_bootloader => OsType::Xen,
        None => return Err(xml_error("an os <type> must be specified")),
        Some(t) => {
            OsType::parse(&t).ok_or_else(|| unsupported(format!("unknown OS type '{t}'")))?
        }
    };
    // libvirt's Xen back-compat: "linux" means a PV guest.
    if type_ == OsType::Linux && virt == VirtType::Xen {
        type_ = OsType::Xen;
    }
    let arch = match arch {
        None => Arch::I686,
        Some(a) => match Arch::parse(&a) {
            Some(x) if x != Arch::None => x,
            _ => return Err(unsupported(format!("Unknown architecture {a}"))),
        },
    };
    Ok(Os {
        type_,
        arch,
        machine,
        loader: None,
        kernel: None,
        initrd: None,
        cmdline: None,
        dtb: None,
        root: None,
        slic_table: None,
        init: None,
        boot_devs: Vec::new(),
        bootmenu: None,
        bootmenu_timeout: None,
        bios: BiosOpts::default(),
        smbios: None,
        firmware: None,
        firmware_features: None,
        initargs: Vec::new(),
        initenv: Vec::new(),
        initdir: None,
        inituser: None,
        initgroup: None,
    })
}

/// `virDomainDefParseBootOptions`.
pub(super) fn parse_boot(root: Node, os: &mut Os) -> Result<()> {
    match os.type_ {
        OsType::Hvm => {
            parse_kernel(root, os);
            parse_firmware(root, os)?;
            parse_loader(root, os)?;
            parse_acpi(root, os)?;
            parse_boot_xml(root, os)?;
        }
        OsType::Xen | OsType::XenPvh | OsType::Uml => {
            parse_kernel(root, os);
            parse_loader(root, os)?;
        }
        OsType::Exe => parse_init(root, os)?,
        OsType::Linux => {}
    }
    Ok(())
}

/// `virDomainDefParseBootInitOptions`.
fn parse_init(root: Node, os: &mut Os) -> Result<()> {
    os.init = xstring(root, "os/init");
    os.cmdline = xstring(root, "os/cmdline");
    os.initdir = xstring(root, "os/initdir");
    os.inituser = xstring(root, "os/inituser");
    os.initgroup = xstring(root, "os/initgroup");
    // libvirt reads the first child node's text only.
    let first_text = |n: &Node| {
        n.first_child()
            .filter(|c| c.is_text())
            .and_then(|c| c.text())
            .map(str::to_string)
    };
    for n in select(root, "os/initarg") {
        let Some(t) = first_text(&n) else {
            return Err(xml_error("No data supplied for <initarg> element"));
        };
        os.initargs.push(t);
    }
    for n in select(root, "os/initenv") {
        let Some(name) = prop(&n, "name") else {
            return Err(xml_error("No name supplied for <initenv> element"));
        };
        let Some(v) = first_text(&n) else {
            return Err(xml_error(format!(
                "No value supplied for <initenv name='{name}'> element"
            )));
        };
        os.initenv.push((name, v));
    }
    Ok(())
}

/// `virDomainDefParseBootFirmwareOptions` for a new definition.
fn parse_firmware(root: Node, os: &mut Os) -> Result<()> {
    let fw = xattr(root, "os", "firmware");
    let nodes = select(root, "os/firmware/feature");
    if !nodes.is_empty() && fw.is_none() {
        return Ok(());
    }
    if !nodes.is_empty() {
        let mut f = [None, None];
        for n in nodes {
            let name: FirmwareFeature = super::xml::prop_enum_required(&n, "name", false)?;
            let Some(en) = prop_yes_no(&n, "enabled")? else {
                return Err(super::xml::xml_util_error(
                    "Missing required attribute 'enabled' in element 'feature'",
                ));
            };
            f[name.index()] = Some(en);
        }
        os.firmware_features = Some(f);
    }
    if let Some(fw) = fw {
        os.firmware = Some(
            Firmware::parse(&fw)
                .filter(|f| f.index() > 0)
                .ok_or_else(|| xml_error(format!("unknown firmware value {fw}")))?,
        );
    }
    Ok(())
}

fn parse_kernel(root: Node, os: &mut Os) {
    os.kernel = xstring(root, "os/kernel");
    os.initrd = xstring(root, "os/initrd");
    os.cmdline = xstring(root, "os/cmdline");
    os.dtb = xstring(root, "os/dtb");
    os.root = xstring(root, "os/root");
}

fn parse_loader(root: Node, os: &mut Os) -> Result<()> {
    let loader_node = first(root, "os/loader");
    let nvram_node = first(root, "os/nvram");
    if loader_node.is_none() && nvram_node.is_none() {
        return Ok(());
    }
    let mut l = Loader::default();
    if let Some(n) = nvram_node {
        l.nvram_template = prop(&n, "template");
        let t: Option<super::devices::StorageType> = prop_enum(&n, "type", false)?;
        match t {
            None => {
                let path = super::xml::content(&n);
                if !path.is_empty() {
                    l.nvram = Some(Nvram { path, source: None });
                }
            }
            Some(t) => {
                let Some(src) = first(n, "source") else {
                    return Err(super::xml::unknown_cause());
                };
                let mut s = super::devices::DiskSource::new(t);
                s.format = Some(super::devices::StorageFormat::Raw);
                super::devices::parse_storage_source(src, &mut s)?;
                l.nvram = Some(Nvram {
                    path: String::new(),
                    source: Some(s),
                });
            }
        }
    }
    if let Some(n) = loader_node {
        l.readonly = prop_yes_no(&n, "readonly")?;
        l.type_ = prop_enum(&n, "type", true)?;
        let path = super::xml::content(&n);
        l.path = (!path.is_empty()).then_some(path);
        l.secure = prop_yes_no(&n, "secure")?;
        l.stateless = prop_yes_no(&n, "stateless")?;
    }
    os.loader = Some(l);
    Ok(())
}

fn parse_acpi(root: Node, os: &mut Os) -> Result<()> {
    let tables = select(root, "os/acpi/table");
    if tables.len() > 1 {
        return Err(xml_error("Only one acpi table is supported"));
    }
    if let Some(t) = tables.first() {
        match prop(t, "type").as_deref() {
            None => return Err(xml_error("Missing acpi table type")),
            Some("slic") => {
                os.slic_table = Some(sanitize_path(&super::xml::content(t)));
            }
            Some(other) => {
                return Err(xml_error(format!("Unknown acpi table type: {other}")));
            }
        }
    }
    Ok(())
}

/// `virFileSanitizePath`: collapses repeated slashes and drops a trailing one (URIs and a
/// leading `//` are kept).
fn sanitize_path(p: &str) -> String {
    if let Some(u) = p.find("://") {
        if p.find('/').is_some_and(|s| s > u) {
            return p.to_string();
        }
    }
    let b = p.as_bytes();
    let mut out = String::with_capacity(p.len());
    let mut i = 0;
    if b.len() >= 2 && b[0] == b'/' && b[1] == b'/' && b.get(2) != Some(&b'/') {
        out.push_str("//");
        i = 2;
    }
    while i < b.len() {
        if b[i] != b'/' {
            let start = i;
            while i < b.len() && b[i] != b'/' {
                i += 1;
            }
            out.push_str(&p[start..i]);
            continue;
        }
        while i < b.len() && b[i] == b'/' {
            i += 1;
        }
        if !out.is_empty() && i == b.len() {
            break;
        }
        out.push('/');
    }
    out
}

fn parse_boot_xml(root: Node, os: &mut Os) -> Result<()> {
    for n in select(root, "os/boot").into_iter().take(4) {
        let Some(dev) = prop(&n, "dev") else {
            return Err(super::xml::xml_util_error(
                "Missing required attribute 'dev' in element 'boot'",
            ));
        };
        let d = BootDev::parse(&dev).ok_or_else(|| {
            super::xml::xml_util_error(format!(
                "Invalid value for attribute 'dev' in element 'boot': '{dev}'."
            ))
        })?;
        os.boot_devs.push(d);
    }
    if let Some(n) = first(root, "os/bootmenu") {
        os.bootmenu = prop_yes_no(&n, "enable")?;
        if os.bootmenu == Some(true) {
            os.bootmenu_timeout = prop_uint(&n, "timeout", 10, false)?;
        }
    }
    if let Some(n) = first(root, "os/bios") {
        // libvirt reports an invalid useserial but carries on with "no".
        os.bios.useserial = prop_yes_no(&n, "useserial").unwrap_or(Some(false));
        os.bios.reboot_timeout = prop_int(&n, "rebootTimeout", 10, false, false)?;
    }
    Ok(())
}

/// The `<os>` element.
pub(super) fn format(b: &mut Buf, def: &DomainDef, _opts: FormatOpts) {
    let os = &def.os;
    b.add("<os");
    if let Some(f) = os.firmware {
        b.add(&format!(" firmware='{}'", f.as_str()));
    }
    b.add(">\n");
    b.adjust(2);
    b.add("<type");
    if os.arch != Arch::None {
        b.add(&format!(" arch='{}'", os.arch.as_str()));
    }
    if let Some(m) = &os.machine {
        b.add(&format!(" machine='{m}'"));
    }
    // libvirt's Xen back-compat: PV guests are written as "linux".
    let t = if def.virt_type == VirtType::Xen && os.type_ == OsType::Xen {
        "linux"
    } else {
        os.type_.as_str()
    };
    b.add(&format!(">{t}</type>\n"));
    if let Some(f) = &os.firmware_features {
        b.add("<firmware>\n");
        b.adjust(2);
        for (i, v) in f.iter().enumerate() {
            if let Some(v) = v {
                let name = [FirmwareFeature::EnrolledKeys, FirmwareFeature::SecureBoot][i];
                b.add(&format!(
                    "<feature enabled='{}' name='{}'/>\n",
                    yes_no(*v),
                    name.as_str()
                ));
            }
        }
        b.adjust(-2);
        b.add("</firmware>\n");
    }
    b.esc("<init>%s</init>\n", os.init.as_deref());
    for a in &os.initargs {
        b.esc("<initarg>%s</initarg>\n", Some(a));
    }
    for (n, v) in &os.initenv {
        b.add(&format!("<initenv name='{n}'>{v}</initenv>\n"));
    }
    b.esc("<initdir>%s</initdir>\n", os.initdir.as_deref());
    if let Some(u) = &os.inituser {
        b.add(&format!("<inituser>{u}</inituser>\n"));
    }
    if let Some(g) = &os.initgroup {
        b.add(&format!("<initgroup>{g}</initgroup>\n"));
    }
    if let Some(l) = &os.loader {
        format_loader(b, l);
    }
    b.esc("<kernel>%s</kernel>\n", os.kernel.as_deref());
    b.esc("<initrd>%s</initrd>\n", os.initrd.as_deref());
    b.esc("<cmdline>%s</cmdline>\n", os.cmdline.as_deref());
    b.esc("<dtb>%s</dtb>\n", os.dtb.as_deref());
    b.esc("<root>%s</root>\n", os.root.as_deref());
    if let Some(t) = &os.slic_table {
        b.add("<acpi>\n");
        b.adjust(2);
        b.esc("<table type='slic'>%s</table>\n", Some(t));
        b.adjust(-2);
        b.add("</acpi>\n");
    }
    if def.bootloader.is_none() {
        for d in &os.boot_devs {
            b.add(&format!("<boot dev='{}'/>\n", d.as_str()));
        }
        if let Some(enable) = os.bootmenu {
            b.add(&format!("<bootmenu enable='{}'", yes_no(enable)));
            if let Some(t) = os.bootmenu_timeout {
                b.add(&format!(" timeout='{t}'"));
            }
            b.add("/>\n");
        }
        if os.bios.useserial.is_some() || os.bios.reboot_timeout.is_some() {
            b.add("<bios");
            if let Some(u) = os.bios.useserial {
                b.add(&format!(" useserial='{}'", yes_no(u)));
            }
            if let Some(t) = os.bios.reboot_timeout {
                b.add(&format!(" rebootTimeout='{t}'"));
            }
            b.add("/>\n");
        }
    }
    if let Some(m) = os.smbios {
        if m != SmbiosMode::None {
            b.add(&format!("<smbios mode='{}'/>\n", m.as_str()));
        }
    }
    b.adjust(-2);
    b.add("</os>\n");
}

fn format_loader(b: &mut Buf, l: &Loader) {
    let mut attrs = Buf::new();
    if let Some(r) = l.readonly {
        attrs.add(&format!(" readonly='{}'", yes_no(r)));
    }
    if let Some(s) = l.secure {
        attrs.add(&format!(" secure='{}'", yes_no(s)));
    }
    if let Some(t) = l.type_ {
        if t != LoaderType::None {
            attrs.add(&format!(" type='{}'", t.as_str()));
        }
    }
    if let Some(s) = l.stateless {
        attrs.add(&format!(" stateless='{}'", yes_no(s)));
    }
    inline_element(b, "loader", attrs, l.path.as_deref());
    let mut attrs = Buf::new();
    attrs.esc(" template='%s'", l.nvram_template.as_deref());
    match l.nvram.as_ref().and_then(|n| n.source.as_ref()) {
        Some(src) => {
            attrs.add(&format!(" type='{}'", src.type_.as_str()));
            let mut k = b.child();
            super::devices::format_storage_source(&mut k, src, "source");
            b.add("<nvram");
            b.append(attrs);
            if k.is_empty() {
                b.add("/>\n");
            } else {
                b.add(">\n");
                b.append(k);
                b.add("</nvram>\n");
            }
        }
        None => inline_element(b, "nvram", attrs, l.nvram.as_ref().map(|n| n.path.as_str())),
    }
}

/// `virXMLFormatElementInternal(…, childNewline=false)` with escaped text content.
fn inline_element(b: &mut Buf, name: &str, attrs: Buf, text: Option<&str>) {
    let text = text.map(super::buf::escape).unwrap_or_default();
    if attrs.is_empty() && text.is_empty() {
        return;
    }
    b.add(&format!("<{name}"));
    b.append(attrs);
    if text.is_empty() {
        b.add("/>\n");
    } else {
        b.add(&format!(">{text}</{name}>\n"));
    }
}
