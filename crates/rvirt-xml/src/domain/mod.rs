//! The domain XML document (`<domain>`): typed model, parser and formatter reproducing libvirt
//! 9.0's `domain_conf.c` byte for byte, with the defaults its test driver fills in on define.
//!
//! [`parse`] reads a document the way `virDomainDefParseString(…, VIR_DOMAIN_DEF_PARSE_INACTIVE)`
//! does for the test driver: it reads the elements, then applies libvirt's post-parse defaults
//! (generated UUID and MAC addresses, `currentMemory`, boot device, bus and drive addresses,
//! implicit controllers, console/serial aliasing, video defaults) and its validation checks.
//! [`format`] writes a definition as `virDomainDefFormat` does. Errors carry libvirt's error
//! number, domain and message text.
//!
//! Elements that libvirt does not know are dropped, as libvirt drops them. Elements libvirt
//! knows but rvirt does not model yet are refused with `VIR_ERR_CONFIG_UNSUPPORTED` naming the
//! element, so that nothing is silently lost; the model is laid out like libvirt's structures
//! so those elements can be added one by one.
//!
//! Layout: this file holds the top-level definition; `os`, `cpu` (vcpus and `<cpu>`),
//! `features`, `clock` and `devices` hold the sections; `postparse` the defaults and checks;
//! `metadata` the verbatim `<metadata>` serializer; `document` the XML reader with libvirt's
//! syntax error messages; `xml`, `buf` and `bitmap` the shared helpers.

mod bitmap;
mod buf;
mod clock;
mod cpu;
pub mod devices;
mod features;
mod metadata;
mod numa;
mod os;
mod postparse;
mod seclabel;
pub mod sysinfo;
mod tune;
pub(crate) mod xml;

pub use bitmap::Bitmap;
pub use clock::{Clock, ClockOffset, Timer, TimerMode, TimerName, TimerTickpolicy, TimerTrack};
pub use cpu::{
    Cpu, CpuCheck, CpuFallback, CpuFeature, CpuFeaturePolicy, CpuMatch, CpuMode, Numatune,
    NumatuneMode, NumatunePlacement, Placement, Vcpus,
};
pub use devices::Devices;
pub use features::{Features, GicVersion, IoApic, MsrsUnknown, SpecFix};
pub use metadata::Metadata;
pub use numa::{Numa, NumaCell};
pub use os::{Arch, BiosOpts, BootDev, Loader, LoaderType, Nvram, Os, OsType, SmbiosMode};
pub use seclabel::{DeviceSeclabel, Seclabel, SeclabelType};
pub use tune::{
    Blkiotune, Cputune, IdMap, IoThread, IoThreads, MemoryBacking, Memtune, Perf, Resource,
};
pub use xml::{uuid_format, uuid_generate, uuid_parse};

use crate::XmlError;
use buf::Buf;
use rvirt_proto::error::{code, domain};
use xml::{
    child, children, internal, is_el, not_modelled, prop, unsupported, xml_enum, xml_error,
    xstring, Node, Result, XmlEnum,
};

xml_enum! {
    /// `virDomainVirtType`: the hypervisor the definition is for (`<domain type=…>`).
    pub enum VirtType {
        None = "none", Qemu = "qemu", Kqemu = "kqemu", Kvm = "kvm", Xen = "xen", Lxc = "lxc",
        Uml = "uml", Openvz = "openvz", Test = "test", Vmware = "vmware", Hyperv = "hyperv",
        Vbox = "vbox", Phyp = "phyp", Parallels = "parallels", Bhyve = "bhyve", Vz = "vz",
        Hvf = "hvf",
    }
}

xml_enum! {
    /// `virDomainLifecycleAction`: what `on_poweroff`, `on_reboot` and `on_crash` do.
    pub enum LifecycleAction {
        Destroy = "destroy", Restart = "restart", RenameRestart = "rename-restart",
        Preserve = "preserve", CoredumpDestroy = "coredump-destroy",
        CoredumpRestart = "coredump-restart",
    }
}

xml_enum! {
    /// `virDomainLockFailureAction` (`on_lockfailure`).
    pub enum LockFailureAction {
        Default = "default", Poweroff = "poweroff", Restart = "restart", Pause = "pause",
        Ignore = "ignore",
    }
}

/// How to format a definition (`virDomainXMLFlags`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FormatOpts {
    /// `VIR_DOMAIN_XML_INACTIVE`: the persistent view (no `id`, no live-only data).
    pub inactive: bool,
    /// `VIR_DOMAIN_XML_SECURE`: include secrets such as graphics passwords.
    pub secure: bool,
    /// `VIR_DOMAIN_XML_MIGRATABLE`.
    pub migratable: bool,
}

impl FormatOpts {
    /// From `virDomainGetXMLDesc` flags.
    pub fn from_flags(flags: u32) -> Self {
        Self {
            secure: flags & 1 != 0,
            inactive: flags & 2 != 0,
            migratable: flags & 8 != 0,
        }
    }
}

/// Memory sizing (`<memory>`, `<currentMemory>`, `<maxMemory>`), all in KiB.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Memory {
    /// `<memory>`: maximum allocation at boot.
    pub total: u64,
    /// `<currentMemory>`: the balloon target; defaults to `total`.
    pub current: u64,
    /// `<maxMemory>`: the hotplug ceiling (0: none).
    pub max_memory: u64,
    /// `<maxMemory slots=…>` (0: none).
    pub slots: u32,
    /// `<memory dumpCore=…>`.
    pub dump_core: Option<bool>,
}

/// `<pm>`: guest power management.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pm {
    /// `<suspend-to-mem enabled=…>`.
    pub suspend_to_mem: Option<bool>,
    /// `<suspend-to-disk enabled=…>`.
    pub suspend_to_disk: Option<bool>,
}

/// A domain definition (`virDomainDef`).
#[derive(Debug, Clone, PartialEq)]
pub struct DomainDef {
    /// `<domain type=…>`.
    pub virt_type: VirtType,
    /// The running id (`<domain id=…>`); `None` for an inactive definition.
    pub id: Option<i32>,
    /// `<name>`.
    pub name: String,
    /// `<uuid>` (generated when absent).
    pub uuid: [u8; 16],
    /// `<genid>`: `Some` when requested; the value is generated when the element is empty.
    pub genid: Option<[u8; 16]>,
    /// `<title>`.
    pub title: Option<String>,
    /// `<description>`.
    pub description: Option<String>,
    /// `<metadata>`, kept as libvirt re-serializes it.
    pub metadata: Option<Metadata>,
    /// Memory sizes.
    pub memory: Memory,
    /// `<vcpu>`.
    pub vcpus: Vcpus,
    /// `<numatune><memory>`.
    pub numatune: Option<Numatune>,
    /// `<numatune><memnode>`s.
    pub memnodes: numa::MemNodes,
    /// `<cpu><numa>`.
    pub numa: Numa,
    /// `<blkiotune>`.
    pub blkiotune: Blkiotune,
    /// `<memtune>`.
    pub memtune: Memtune,
    /// `<memoryBacking>`.
    pub memory_backing: MemoryBacking,
    /// I/O threads.
    pub iothreads: IoThreads,
    /// `<cputune>` (vCPU pins and schedulers live in `vcpus`).
    pub cputune: Cputune,
    /// `<resource>`.
    pub resource: Option<Resource>,
    /// `<perf>`.
    pub perf: Perf,
    /// `<idmap>`.
    pub idmap: IdMap,
    /// `<sysinfo>`s.
    pub sysinfo: Vec<sysinfo::Sysinfo>,
    /// `<seclabel>`s.
    pub seclabels: Vec<seclabel::Seclabel>,
    /// `<bootloader>` (Xen PV).
    pub bootloader: Option<String>,
    /// `<bootloader_args>`.
    pub bootloader_args: Option<String>,
    /// `<os>`.
    pub os: Os,
    /// `<features>`.
    pub features: Features,
    /// `<cpu>`.
    pub cpu: Option<Cpu>,
    /// `<clock>`.
    pub clock: Clock,
    /// `<on_poweroff>`.
    pub on_poweroff: LifecycleAction,
    /// `<on_reboot>`.
    pub on_reboot: LifecycleAction,
    /// `<on_crash>`.
    pub on_crash: LifecycleAction,
    /// `<on_lockfailure>`.
    pub on_lockfailure: LockFailureAction,
    /// `<pm>`.
    pub pm: Pm,
    /// `<devices>`.
    pub devices: Devices,
    /// `<launchSecurity>`.
    pub launch_security: Option<LaunchSecurity>,
    /// `<keywrap>`: s390 key wrapping, (aes, dea) cipher states.
    pub keywrap: Option<(Option<bool>, Option<bool>)>,
    /// The test driver's `<test:…>` namespace data (node files only).
    pub test_ns: TestNamespace,
}

impl DomainDef {
    /// Names every interface without a `<target dev>` `testnetN` (lowest unused N), as libvirt's
    /// test driver does on define (`testDomainGenerateIfnames`). Returns `false` when 1024
    /// names are taken (libvirt's limit).
    pub fn assign_test_ifnames(&mut self) -> bool {
        for i in 0..self.devices.nets.len() {
            if self.devices.nets[i].ifname.is_some() {
                continue;
            }
            let free = (0..1024).map(|n| format!("testnet{n}")).find(|name| {
                !self
                    .devices
                    .nets
                    .iter()
                    .any(|x| x.ifname.as_deref() == Some(name.as_str()))
            });
            match free {
                Some(name) => self.devices.nets[i].ifname = Some(name),
                None => return false,
            }
        }
        true
    }
}

/// libvirt's test driver namespace (`xmlns:test='http://libvirt.org/schemas/domain/test/1.0'`),
/// which node files use to set a domain's initial state. It is read but never formatted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TestNamespace {
    /// `<test:transient/>`.
    pub transient: bool,
    /// `<test:hasmanagedsave/>`.
    pub has_managed_save: bool,
    /// `<test:runstate>N</test:runstate>` (`virDomainState`; running when absent).
    pub runstate: Option<u32>,
}

/// The test driver namespace URI.
pub const TEST_NS_URI: &str = "http://libvirt.org/schemas/domain/test/1.0";

/// Parses a domain document as libvirt's test driver does on define (inactive parse, post-parse
/// defaults and validation). `<domain id=…>` is ignored, as in any inactive parse.
pub fn parse(text: &str) -> Result<DomainDef, XmlError> {
    let doc = crate::conf::parse_text(text, "(domain_definition)", domain::DOMAIN)?;
    parse_node(doc.root_element())
}

/// Parses a `<domain>` element already read as part of a larger document (a test driver node
/// file); same rules as [`parse`].
pub fn parse_element(text: &str) -> Result<DomainDef, XmlError> {
    parse(text)
}

/// Writes `def` as libvirt's `virDomainDefFormat` does.
pub fn format(def: &DomainDef, opts: FormatOpts) -> String {
    let mut b = Buf::new();
    format_into(&mut b, def, opts);
    b.finish()
}

fn parse_node(root: Node) -> Result<DomainDef> {
    if !is_el(&root, "domain") {
        return Err(xml::xml_util_error(format!(
            "expecting root element of 'domain', not '{}'",
            root.tag_name().name()
        )));
    }
    // virDomainDefParseIDs
    let Some(name) = xstring(root, "name") else {
        return Err(xml::bare(code::NO_NAME, domain::DOMAIN));
    };
    let uuid_generated = xstring(root, "uuid").is_none();
    let mut uuid = match xstring(root, "uuid") {
        None => xml::uuid_generate(),
        Some(s) => xml::uuid_parse(&s).ok_or_else(|| internal("malformed uuid element"))?,
    };
    let genids: Vec<_> = children(root, "genid").collect();
    let genid = match genids.len() {
        0 => None,
        1 => Some(match xstring(root, "genid") {
            None => xml::uuid_generate(),
            Some(s) => xml::uuid_parse(&s).ok_or_else(|| internal("malformed genid element"))?,
        }),
        _ => return Err(xml_error("element 'genid' can only appear once")),
    };

    // virDomainDefParseCaps
    let Some(virt) = prop(&root, "type").filter(|s| !s.is_empty()) else {
        return Err(internal("missing domain type attribute"));
    };
    let virt_type =
        VirtType::parse(&virt).ok_or_else(|| unsupported(format!("invalid domain type {virt}")))?;
    let bootloader = xstring(root, "bootloader");
    let bootloader_args = xstring(root, "bootloader_args");
    let mut os = os::parse_caps(root, virt_type, bootloader.is_some())?;

    let title = xstring(root, "title");
    if title.as_deref().is_some_and(|t| t.contains('\n')) {
        return Err(xml_error("Domain title can't contain newlines"));
    }
    let description = xstring(root, "description");
    let seclabels = seclabel::parse(root)?;

    let memory = parse_memory(root)?;
    let memory_backing = tune::parse_memory_backing(root)?;
    // virDomainDefTunablesParse
    let blkiotune = tune::parse_blkiotune(root)?;
    let memtune = tune::parse_memtune(root)?;
    let mut vcpus = cpu::parse_vcpus(root)?;
    let mut iothreads = tune::parse_iothreads(root)?;
    let cputune = tune::parse_cputune(root, &mut vcpus, &mut iothreads)?;
    let cpu = cpu::parse_cpu(root)?;
    let numa = numa::parse(root)?;
    numa::check_vcpus(&numa, vcpus.max)?;
    let numatune = cpu::parse_numatune(root, vcpus.placement == cpu::Placement::Static)?;
    let memnodes = numa::parse_memnodes(root, numatune.as_ref(), numa.cells.len())?;
    if numatune
        .as_ref()
        .is_some_and(|n| n.placement == cpu::NumatunePlacement::Auto)
        && vcpus.cpuset.is_none()
        && !vcpus.per.iter().any(|v| v.cpumask.is_some())
        && cputune.emulatorpin.is_none()
        && !iothreads.threads.iter().any(|t| t.cpumask.is_some())
    {
        vcpus.placement = cpu::Placement::Auto;
    }
    let resource = tune::parse_resource(root)?;
    let features = features::parse(root)?;
    let (on_poweroff, on_reboot, on_crash, on_lockfailure, pm) = parse_lifecycle(root)?;
    let perf = tune::parse_perf(root)?;
    let clock = clock::parse(root)?;
    os::parse_boot(root, &mut os)?;
    let launch_security = parse_launch_security(root)?;
    let devices = devices::parse(root, &os, virt_type)?;

    let idmap = tune::parse_idmap(root)?;
    let sysinfo = sysinfo::parse(root, &mut uuid, uuid_generated)?;
    if let Some(mode) = xml::xattr(root, "os/smbios", "mode") {
        os.smbios = Some(
            SmbiosMode::parse(&mode)
                .ok_or_else(|| unsupported(format!("unknown smbios mode '{mode}'")))?,
        );
    }

    let keywrap = parse_keywrap(root)?;
    let metadata = child(root, "metadata").map(|m| Metadata::from_node(&m));
    let test_ns = parse_test_namespace(root)?;

    let mut def = DomainDef {
        virt_type,
        id: None,
        name,
        uuid,
        genid,
        title,
        description,
        metadata,
        memory,
        vcpus,
        numatune,
        memnodes,
        numa,
        blkiotune,
        memtune,
        memory_backing,
        iothreads,
        cputune,
        resource,
        perf,
        idmap,
        sysinfo,
        seclabels,
        bootloader,
        bootloader_args,
        os,
        features,
        cpu,
        clock,
        on_poweroff,
        on_reboot,
        on_crash,
        on_lockfailure,
        pm,
        devices,
        keywrap,
        launch_security,
        test_ns,
    };
    postparse::run(&mut def)?;
    Ok(def)
}

fn parse_memory(root: Node) -> Result<Memory> {
    let total = xml::parse_memory(root, "memory", "./memory[1]", false)?.unwrap_or(0);
    let current =
        xml::parse_memory(root, "currentMemory", "./currentMemory[1]", false)?.unwrap_or(0);
    let max_memory = xml::parse_memory(root, "maxMemory", "./maxMemory[1]", false)?.unwrap_or(0);
    let slots = match xml::xpath_uint(root, "maxMemory", Some("slots")) {
        Ok(v) => v.unwrap_or(0),
        Err(()) => return Err(xml_error("Failed to parse memory slot count")),
    };
    let dump_core = match child(root, "memory") {
        Some(m) => xml::prop_on_off(&m, "dumpCore")?,
        None => None,
    };
    Ok(Memory {
        total,
        current,
        max_memory,
        slots,
        dump_core,
    })
}

type Lifecycle = (
    LifecycleAction,
    LifecycleAction,
    LifecycleAction,
    LockFailureAction,
    Pm,
);

fn parse_lifecycle(root: Node) -> Result<Lifecycle> {
    fn action(root: Node, name: &str, default: LifecycleAction) -> Result<LifecycleAction> {
        match xstring(root, name) {
            None => Ok(default),
            Some(s) => LifecycleAction::parse(&s)
                .ok_or_else(|| unsupported(format!("unknown {name} action: {s}"))),
        }
    }
    let on_reboot = action(root, "on_reboot", LifecycleAction::Restart)?;
    let on_poweroff = action(root, "on_poweroff", LifecycleAction::Destroy)?;
    let on_crash = action(root, "on_crash", LifecycleAction::Destroy)?;
    let on_lockfailure = match xstring(root, "on_lockfailure") {
        None => LockFailureAction::Default,
        Some(s) => LockFailureAction::parse(&s)
            .ok_or_else(|| unsupported(format!("unknown on_lockfailure action: {s}")))?,
    };
    let pm_state = |path: &str| -> Result<Option<bool>> {
        match xml::first(root, path) {
            Some(n) => xml::prop_yes_no(&n, "enabled"),
            None => Ok(None),
        }
    };
    let pm = Pm {
        suspend_to_mem: pm_state("pm/suspend-to-mem")?,
        suspend_to_disk: pm_state("pm/suspend-to-disk")?,
    };
    Ok((on_poweroff, on_reboot, on_crash, on_lockfailure, pm))
}

/// `virDomainKeyWrapDefParseXML`.
fn parse_keywrap(root: Node) -> Result<Option<(Option<bool>, Option<bool>)>> {
    let (mut aes, mut dea) = (None, None);
    for c in xml::select(root, "keywrap/cipher") {
        let name = xml::prop_required(&c, "name")?;
        let slot = match name.as_str() {
            "aes" => &mut aes,
            "dea" => &mut dea,
            other => {
                return Err(xml::xml_util_error(format!(
                    "Invalid value for attribute 'name' in element 'cipher': '{other}'."
                )))
            }
        };
        let Some(state) = xml::prop_on_off(&c, "state")? else {
            return Err(xml::xml_util_error(
                "Missing required attribute 'state' in element 'cipher'",
            ));
        };
        if slot.is_some() {
            return Err(internal(format!(
                "A domain definition can have no more than one cipher node with name {name}"
            )));
        }
        *slot = Some(state);
    }
    Ok((aes.is_some() || dea.is_some()).then_some((aes, dea)))
}

/// `testDomainDefNamespaceParse`.
fn parse_test_namespace(root: Node) -> Result<TestNamespace> {
    let in_ns = |n: &Node, local: &str| {
        n.is_element()
            && n.tag_name().namespace() == Some(TEST_NS_URI)
            && n.tag_name().name() == local
    };
    let mut ns = TestNamespace::default();
    let mut runstate_text = None;
    for c in root.children() {
        if in_ns(&c, "transient") {
            ns.transient = true;
        } else if in_ns(&c, "hasmanagedsave") {
            ns.has_managed_save = true;
        } else if in_ns(&c, "runstate") && runstate_text.is_none() {
            runstate_text = Some(xml::content(&c));
        } else if in_ns(&c, "domainsnapshot") {
            return Err(not_modelled("<test:domainsnapshot>"));
        }
    }
    if let Some(t) = runstate_text.filter(|t| !t.is_empty()) {
        let v = xml::str_to_uip(&t, 10).ok_or_else(|| xml_error("invalid runstate"))?;
        if v >= 8 {
            return Err(xml_error(format!("runstate '{v}' out of range'")));
        }
        ns.runstate = Some(v);
    }
    let runstate = ns.runstate.unwrap_or(1);
    if ns.transient && runstate == 5 {
        return Err(xml_error("transient domain cannot have runstate 'shutoff'"));
    }
    if ns.has_managed_save && runstate != 5 {
        return Err(xml_error(
            "domain with managedsave data can only have runstate 'shutoff'",
        ));
    }
    Ok(ns)
}

fn format_into(b: &mut Buf, def: &DomainDef, opts: FormatOpts) {
    let inactive = opts.inactive || def.id.is_none();
    let opts = FormatOpts { inactive, ..opts };
    b.add(&format!("<domain type='{}'", def.virt_type.as_str()));
    if !inactive {
        b.add(&format!(" id='{}'", def.id.unwrap_or(-1)));
    }
    b.add(">\n");
    b.adjust(2);
    b.esc("<name>%s</name>\n", Some(&def.name));
    b.add(&format!("<uuid>{}</uuid>\n", uuid_format(&def.uuid)));
    if let Some(g) = &def.genid {
        b.add(&format!("<genid>{}</genid>\n", uuid_format(g)));
    }
    b.esc("<title>%s</title>\n", def.title.as_deref());
    b.esc(
        "<description>%s</description>\n",
        def.description.as_deref(),
    );
    if let Some(m) = &def.metadata {
        m.format(b);
    }
    let mem = &def.memory;
    if mem.slots > 0 || mem.max_memory > 0 {
        b.add(&format!(
            "<maxMemory slots='{}' unit='KiB'>{}</maxMemory>\n",
            mem.slots, mem.max_memory
        ));
    }
    b.add("<memory");
    if let Some(d) = mem.dump_core {
        b.add(&format!(" dumpCore='{}'", xml::on_off(d)));
    }
    b.add(&format!(" unit='KiB'>{}</memory>\n", mem.total));
    b.add(&format!(
        "<currentMemory unit='KiB'>{}</currentMemory>\n",
        mem.current
    ));
    tune::format_blkiotune(b, &def.blkiotune);
    tune::format_memtune(b, &def.memtune);
    tune::format_memory_backing(b, &def.memory_backing);
    cpu::format_vcpus(b, &def.vcpus);
    tune::format_iothreads(b, &def.iothreads);
    tune::format_cputune(b, &def.cputune, &def.vcpus, &def.iothreads);
    if def.numatune.is_some() || !def.memnodes.is_empty() {
        b.add("<numatune>\n");
        b.adjust(2);
        if let Some(n) = &def.numatune {
            cpu::format_numatune_memory(b, n);
        }
        numa::format_memnodes(b, &def.memnodes);
        b.adjust(-2);
        b.add("</numatune>\n");
    }
    if let Some(r) = &def.resource {
        tune::format_resource(b, r);
    }
    for s in &def.sysinfo {
        sysinfo::format(b, s);
    }
    if let Some(bl) = &def.bootloader {
        b.esc("<bootloader>%s</bootloader>\n", Some(bl));
        b.esc(
            "<bootloader_args>%s</bootloader_args>\n",
            def.bootloader_args.as_deref(),
        );
    }
    os::format(b, def, opts);
    tune::format_idmap(b, &def.idmap);
    features::format(b, &def.features);
    if let Some(c) = &def.cpu {
        cpu::format_cpu(b, c, &def.numa);
    }
    clock::format(b, &def.clock);
    b.add(&format!(
        "<on_poweroff>{}</on_poweroff>\n",
        def.on_poweroff.as_str()
    ));
    b.add(&format!(
        "<on_reboot>{}</on_reboot>\n",
        def.on_reboot.as_str()
    ));
    b.add(&format!("<on_crash>{}</on_crash>\n", def.on_crash.as_str()));
    if def.on_lockfailure != LockFailureAction::Default {
        b.add(&format!(
            "<on_lockfailure>{}</on_lockfailure>\n",
            def.on_lockfailure.as_str()
        ));
    }
    if def.pm.suspend_to_mem.is_some() || def.pm.suspend_to_disk.is_some() {
        b.add("<pm>\n");
        b.adjust(2);
        if let Some(v) = def.pm.suspend_to_mem {
            b.add(&format!("<suspend-to-mem enabled='{}'/>\n", xml::yes_no(v)));
        }
        if let Some(v) = def.pm.suspend_to_disk {
            b.add(&format!(
                "<suspend-to-disk enabled='{}'/>\n",
                xml::yes_no(v)
            ));
        }
        b.adjust(-2);
        b.add("</pm>\n");
    }
    tune::format_perf(b, &def.perf);
    devices::format(b, def, opts);
    for s in &def.seclabels {
        seclabel::format(b, s);
    }
    if let Some((aes, dea)) = def.keywrap {
        b.add("<keywrap>\n");
        b.adjust(2);
        if let Some(v) = aes {
            b.add(&format!(
                "<cipher name='aes' state='{}'/>\n",
                xml::on_off(v)
            ));
        }
        if let Some(v) = dea {
            b.add(&format!(
                "<cipher name='dea' state='{}'/>\n",
                xml::on_off(v)
            ));
        }
        b.adjust(-2);
        b.add("</keywrap>\n");
    }
    if let Some(sec) = &def.launch_security {
        format_launch_security(b, sec);
    }
    b.adjust(-2);
    b.add("</domain>\n");
}

xml_enum! {
    /// `virDomainLaunchSecurity` (without its empty first entry).
    pub enum LaunchSecurityType { None = "", Sev = "sev", S390Pv = "s390-pv" }
}

/// `<launchSecurity>` (`virDomainSecDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchSecurity {
    /// `type`.
    pub kind: LaunchSecurityType,
    /// SEV: `kernelHashes`.
    pub kernel_hashes: Option<bool>,
    /// SEV: `<policy>` (hexadecimal).
    pub policy: u32,
    /// SEV: `<cbitpos>`.
    pub cbitpos: Option<u32>,
    /// SEV: `<reducedPhysBits>`.
    pub reduced_phys_bits: Option<u32>,
    /// SEV: `<dhCert>`.
    pub dh_cert: Option<String>,
    /// SEV: `<session>`.
    pub session: Option<String>,
}

/// `virDomainSecDefParseXML`.
fn parse_launch_security(root: Node) -> Result<Option<LaunchSecurity>> {
    let Some(n) = child(root, "launchSecurity") else {
        return Ok(None);
    };
    let kind: LaunchSecurityType = xml::prop_enum_required(&n, "type", true)?;
    let mut sec = LaunchSecurity {
        kind,
        kernel_hashes: None,
        policy: 0,
        cbitpos: None,
        reduced_phys_bits: None,
        dh_cert: None,
        session: None,
    };
    if kind == LaunchSecurityType::Sev {
        sec.kernel_hashes = xml::prop_yes_no(&n, "kernelHashes")?;
        sec.policy = xstring(n, "policy")
            .and_then(|p| xml::str_to_uip(&p, 16))
            .ok_or_else(|| xml_error("failed to get launch security policy"))?;
        sec.cbitpos = xml::xpath_uint(n, "cbitpos", None)
            .map_err(|()| xml_error("Invalid format for launch security cbitpos"))?;
        sec.reduced_phys_bits = xml::xpath_uint(n, "reducedPhysBits", None)
            .map_err(|()| xml_error("Invalid format for launch security reduced-phys-bits"))?;
        sec.dh_cert = xstring(n, "dhCert");
        sec.session = xstring(n, "session");
    }
    Ok(Some(sec))
}

/// `virDomainSecDefFormat`.
fn format_launch_security(b: &mut Buf, sec: &LaunchSecurity) {
    let mut a = Buf::new();
    a.add(&format!(" type='{}'", sec.kind.as_str()));
    let mut c = b.child();
    if sec.kind == LaunchSecurityType::Sev {
        if let Some(k) = sec.kernel_hashes {
            a.add(&format!(" kernelHashes='{}'", xml::yes_no(k)));
        }
        if let Some(v) = sec.cbitpos {
            c.add(&format!("<cbitpos>{}</cbitpos>\n", v as i32));
        }
        if let Some(v) = sec.reduced_phys_bits {
            c.add(&format!(
                "<reducedPhysBits>{}</reducedPhysBits>\n",
                v as i32
            ));
        }
        c.add(&format!("<policy>0x{:04x}</policy>\n", sec.policy));
        c.esc("<dhCert>%s</dhCert>\n", sec.dh_cert.as_deref());
        c.esc("<session>%s</session>\n", sec.session.as_deref());
    }
    b.element("launchSecurity", a, c);
}

#[cfg(test)]
mod tests;
