//! `<features>` (`virDomainFeaturesDefParse`, `virDomainDefFormatFeatures`): hypervisor
//! features, written in libvirt's fixed order whatever the input order.

use super::buf::Buf;
use super::xml::{
    is_el, memory_kib, on_off, parse_scaled, prop, prop_enum, prop_enum_required, prop_on_off,
    prop_uint_required, unsupported, xattr, xml_enum, xml_error, xstring, Node, Result, XmlEnum,
};

xml_enum! {
    /// `virGICVersion`.
    pub enum GicVersion { None = "none", Host = "host", V2 = "2", V3 = "3" }
}

xml_enum! {
    /// `virDomainIOAPIC`.
    pub enum IoApic { None = "none", Qemu = "qemu", Kvm = "kvm" }
}

xml_enum! {
    /// `virDomainMsrsUnknown`.
    pub enum MsrsUnknown { Ignore = "ignore", Fault = "fault" }
}

xml_enum! {
    /// `virDomainCFPC` / `virDomainSBBC` (POWER speculative execution fixes).
    pub enum SpecFix { None = "none", Broken = "broken", Workaround = "workaround", Fixed = "fixed" }
}

xml_enum! {
    /// `virDomainIBS`.
    pub enum Ibs {
        None = "none", Broken = "broken", Workaround = "workaround", FixedIbs = "fixed-ibs",
        FixedCcd = "fixed-ccd", FixedNa = "fixed-na",
    }
}

xml_enum! {
    /// `virDomainHyperVMode`.
    pub enum HypervMode { None = "none", Custom = "custom", Passthrough = "passthrough" }
}

xml_enum! {
    /// `virDomainHPTResizing`.
    pub enum HptResizing { None = "none", Enabled = "enabled", Disabled = "disabled", Required = "required" }
}

xml_enum! {
    /// `virDomainXenPassthroughMode`.
    pub enum XenPassthroughMode { Default = "default", SyncPt = "sync_pt", SharePt = "share_pt" }
}

xml_enum! {
    /// `virDomainCapabilitiesPolicy`.
    pub enum CapsPolicy { Default = "default", Allow = "allow", Deny = "deny" }
}

/// `virDomainHyperv`, in libvirt's order.
pub const HYPERV_FEATURES: &[&str] = &[
    "relaxed",
    "vapic",
    "spinlocks",
    "vpindex",
    "runtime",
    "synic",
    "stimer",
    "reset",
    "vendor_id",
    "frequencies",
    "reenlightenment",
    "tlbflush",
    "ipi",
    "evmcs",
    "avic",
];

/// `virDomainKVM`, in libvirt's order.
pub const KVM_FEATURES: &[&str] = &[
    "hidden",
    "hint-dedicated",
    "poll-control",
    "pv-ipi",
    "dirty-ring",
];

/// `virDomainXen`, in libvirt's order.
pub const XEN_FEATURES: &[&str] = &["e820_host", "passthrough"];

/// `virDomainProcessCapsFeature`, in libvirt's order.
pub const PROCESS_CAPS: &[&str] = &[
    "audit_control",
    "audit_write",
    "block_suspend",
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "ipc_lock",
    "ipc_owner",
    "kill",
    "lease",
    "linux_immutable",
    "mac_admin",
    "mac_override",
    "mknod",
    "net_admin",
    "net_bind_service",
    "net_broadcast",
    "net_raw",
    "setgid",
    "setfcap",
    "setpcap",
    "setuid",
    "sys_admin",
    "sys_boot",
    "sys_chroot",
    "sys_module",
    "sys_nice",
    "sys_pacct",
    "sys_ptrace",
    "sys_rawio",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "syslog",
    "wake_alarm",
];

/// `<hyperv>`: several elements merge, as in libvirt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hyperv {
    /// `mode`.
    pub mode: HypervMode,
    /// Per enlightenment (indexed as [`HYPERV_FEATURES`]): its `state`.
    pub features: Vec<Option<bool>>,
    /// `<spinlocks retries=…>`.
    pub spinlocks: u32,
    /// `<stimer><direct state=…/>`.
    pub stimer_direct: Option<bool>,
    /// `<vendor_id value=…>`.
    pub vendor_id: Option<String>,
}

/// `<kvm>`: the last element wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kvm {
    /// Per feature (indexed as [`KVM_FEATURES`]): its `state`.
    pub features: Vec<Option<bool>>,
    /// `<dirty-ring size=…>`.
    pub dirty_ring_size: u32,
}

/// `<xen>`: several elements merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Xen {
    /// Per feature (indexed as [`XEN_FEATURES`]): its `state`.
    pub features: Vec<Option<bool>>,
    /// `<passthrough mode=…>`.
    pub passthrough_mode: Option<XenPassthroughMode>,
}

/// `<capabilities>`: several elements merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// `policy`.
    pub policy: CapsPolicy,
    /// Per capability (indexed as [`PROCESS_CAPS`]): its `state`.
    pub caps: Vec<Option<bool>>,
}

/// `<features>`. Plain flags are `true` when present; switchable ones carry their state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Features {
    /// `<acpi/>`.
    pub acpi: bool,
    /// `<apic/>`: `Some(eoi)` when present.
    pub apic: Option<Option<bool>>,
    /// `<pae/>`.
    pub pae: bool,
    /// `<hap state=…/>`.
    pub hap: Option<bool>,
    /// `<viridian/>`.
    pub viridian: bool,
    /// `<privnet/>`.
    pub privnet: bool,
    /// `<pvspinlock state=…/>`.
    pub pvspinlock: Option<bool>,
    /// `<pmu state=…/>`.
    pub pmu: Option<bool>,
    /// `<vmport state=…/>`.
    pub vmport: Option<bool>,
    /// `<gic version=…/>`: `Some(version)` when present.
    pub gic: Option<Option<GicVersion>>,
    /// `<smm state=…/>`.
    pub smm: Option<bool>,
    /// `<ioapic driver=…/>`.
    pub ioapic: Option<IoApic>,
    /// `<vmcoreinfo state=…/>`.
    pub vmcoreinfo: Option<bool>,
    /// `<htm state=…/>`.
    pub htm: Option<bool>,
    /// `<nested-hv state=…/>`.
    pub nested_hv: Option<bool>,
    /// `<msrs unknown=…/>`.
    pub msrs: Option<MsrsUnknown>,
    /// `<ccf-assist state=…/>`.
    pub ccf_assist: Option<bool>,
    /// `<cfpc value=…/>`.
    pub cfpc: Option<SpecFix>,
    /// `<sbbc value=…/>`.
    pub sbbc: Option<SpecFix>,
    /// `<ibs value=…/>`.
    pub ibs: Option<Ibs>,
    /// `<hyperv>`.
    pub hyperv: Option<Hyperv>,
    /// `<kvm>`.
    pub kvm: Option<Kvm>,
    /// `<xen>`.
    pub xen: Option<Xen>,
    /// `<capabilities>`.
    pub capabilities: Option<Capabilities>,
    /// `<smm><tseg>`, bytes (only when `smm` is on).
    pub tseg: Option<u64>,
    /// `<hpt resizing=…>` (present when resizing or a page size is set).
    pub hpt: Option<(Option<HptResizing>, u64)>,
    /// `<tcg><tb-cache>`, KiB.
    pub tcg_tb_cache: Option<u64>,
}

const KNOWN: &[&str] = &[
    "acpi",
    "apic",
    "pae",
    "hap",
    "viridian",
    "privnet",
    "hyperv",
    "kvm",
    "pvspinlock",
    "capabilities",
    "pmu",
    "vmport",
    "gic",
    "smm",
    "ioapic",
    "hpt",
    "vmcoreinfo",
    "htm",
    "nested-hv",
    "msrs",
    "ccf-assist",
    "xen",
    "cfpc",
    "sbbc",
    "ibs",
    "tcg",
];

fn state_default_on(n: &Node) -> Result<bool> {
    Ok(prop_on_off(n, "state")?.unwrap_or(true))
}

fn state_required(n: &Node) -> Result<bool> {
    match prop_on_off(n, "state")? {
        Some(v) => Ok(v),
        None => Err(super::xml::xml_util_error(format!(
            "Missing required attribute 'state' in element '{}'",
            n.tag_name().name()
        ))),
    }
}

/// Keeps a non-`none` value of an enum whose first entry means "absent".
fn nonzero<T: XmlEnum>(v: Option<T>) -> Option<T> {
    v.filter(|x| x.index() != 0)
}

pub(super) fn parse(root: Node) -> Result<Features> {
    let mut f = Features::default();
    // libvirt evaluates ./features/* over every <features> element and matches local names.
    let nodes: Vec<Node> = root
        .children()
        .filter(|c| is_el(c, "features"))
        .flat_map(|c| c.children().filter(|k| k.is_element()))
        .collect();
    for n in nodes {
        let name = n.tag_name().name();
        if !KNOWN.contains(&name) {
            return Err(unsupported(format!("unexpected feature '{name}'")));
        }
        match name {
            "acpi" => f.acpi = true,
            "pae" => f.pae = true,
            "viridian" => f.viridian = true,
            "privnet" => f.privnet = true,
            "apic" => f.apic = Some(prop_on_off(&n, "eoi")?),
            "msrs" => f.msrs = Some(prop_enum_required(&n, "unknown", false)?),
            "vmcoreinfo" => f.vmcoreinfo = Some(state_default_on(&n)?),
            "hap" => f.hap = Some(state_default_on(&n)?),
            "pmu" => f.pmu = Some(state_default_on(&n)?),
            "pvspinlock" => f.pvspinlock = Some(state_default_on(&n)?),
            "vmport" => f.vmport = Some(state_default_on(&n)?),
            "smm" => {
                let on = state_default_on(&n)?;
                f.smm = Some(on);
                if on {
                    f.tseg = parse_scaled(
                        xstring(root, "features/smm/tseg"),
                        xattr(root, "features/smm/tseg", "unit"),
                        "string(./features/smm/tseg)",
                        1024 * 1024,
                        u64::MAX,
                        false,
                    )?;
                }
            }
            "hyperv" => parse_hyperv(&mut f, n)?,
            "kvm" => parse_kvm(&mut f, n)?,
            "xen" => parse_xen(&mut f, n)?,
            "capabilities" => parse_caps(&mut f, n)?,
            "hpt" => {
                let resizing: Option<HptResizing> = prop_enum(&n, "resizing", true)?;
                let size = parse_scaled(
                    xstring(root, "features/hpt/maxpagesize"),
                    xattr(root, "features/hpt/maxpagesize", "unit"),
                    "./features/hpt/maxpagesize",
                    1024,
                    u64::MAX,
                    false,
                )
                .map_err(|_| unsupported("Unable to parse HPT maxpagesize setting"))?
                .unwrap_or(0)
                .div_ceil(1024);
                if resizing.is_some() || size > 0 {
                    f.hpt = Some((resizing, size));
                }
            }
            "tcg" => {
                let kib = memory_kib(
                    xstring(n, "tb-cache"),
                    xattr(n, "tb-cache", "unit"),
                    "./tb-cache",
                    false,
                )?
                .unwrap_or(0);
                if kib > 0 {
                    f.tcg_tb_cache = Some(kib);
                }
            }
            "gic" => f.gic = Some(prop_enum(&n, "version", true)?),
            "ioapic" => f.ioapic = nonzero(prop_enum(&n, "driver", true)?),
            "cfpc" => f.cfpc = nonzero(prop_enum(&n, "value", true)?),
            "sbbc" => f.sbbc = nonzero(prop_enum(&n, "value", true)?),
            "ibs" => f.ibs = nonzero(prop_enum(&n, "value", true)?),
            "htm" => f.htm = Some(state_required(&n)?),
            "nested-hv" => f.nested_hv = Some(state_required(&n)?),
            "ccf-assist" => f.ccf_assist = Some(state_required(&n)?),
            _ => unreachable!("every known feature is handled"),
        }
    }
    Ok(f)
}

fn element_children<'a, 'i>(n: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children().filter(|c| c.is_element())
}

fn parse_hyperv(f: &mut Features, n: Node) -> Result<()> {
    let mode = prop_enum(&n, "mode", true)?.unwrap_or(HypervMode::Custom);
    let h = f.hyperv.get_or_insert_with(|| Hyperv {
        mode,
        features: vec![None; HYPERV_FEATURES.len()],
        spinlocks: 0,
        stimer_direct: None,
        vendor_id: None,
    });
    h.mode = mode;
    for c in element_children(n) {
        let name = c.tag_name().name();
        let Some(i) = HYPERV_FEATURES.iter().position(|x| *x == name) else {
            return Err(unsupported(format!(
                "unsupported HyperV Enlightenment feature: {name}"
            )));
        };
        let on = state_required(&c)?;
        h.features[i] = Some(on);
        if !on {
            continue;
        }
        match name {
            "stimer" => {
                for d in element_children(c) {
                    let dn = d.tag_name().name();
                    if dn != "direct" {
                        return Err(unsupported(format!(
                            "unsupported Hyper-V stimer feature: {dn}"
                        )));
                    }
                    h.stimer_direct = Some(state_required(&d)?);
                }
            }
            "spinlocks" => {
                h.spinlocks = prop_uint_required(&c, "retries", 0, false)?;
                if h.spinlocks < 0xFFF {
                    return Err(xml_error(
                        "HyperV spinlock retry count must be at least 4095",
                    ));
                }
            }
            "vendor_id" => {
                let Some(v) = prop(&c, "value") else {
                    return Err(xml_error(
                        "missing 'value' attribute for HyperV feature 'vendor_id'",
                    ));
                };
                if v.len() > 12 {
                    return Err(xml_error(
                        "HyperV vendor_id value must not be more than 12 characters.",
                    ));
                }
                if v.contains(',') {
                    return Err(xml_error("HyperV vendor_id value is invalid"));
                }
                h.vendor_id = Some(v);
            }
            _ => {}
        }
    }
    Ok(())
}

fn parse_kvm(f: &mut Features, n: Node) -> Result<()> {
    let mut k = Kvm {
        features: vec![None; KVM_FEATURES.len()],
        dirty_ring_size: 0,
    };
    for c in element_children(n) {
        let name = c.tag_name().name();
        let Some(i) = KVM_FEATURES.iter().position(|x| *x == name) else {
            return Err(unsupported(format!("unsupported KVM feature: {name}")));
        };
        let on = state_required(&c)?;
        k.features[i] = Some(on);
        if name == "dirty-ring" && on {
            let size = prop_uint_required(&c, "size", 0, false)?;
            if !size.is_power_of_two() || !(1024..=65536).contains(&size) {
                return Err(xml_error(
                    "dirty ring must be power of 2 and ranges [1024, 65536]",
                ));
            }
            k.dirty_ring_size = size;
        }
    }
    f.kvm = Some(k);
    Ok(())
}

fn parse_xen(f: &mut Features, n: Node) -> Result<()> {
    let x = f.xen.get_or_insert_with(|| Xen {
        features: vec![None; XEN_FEATURES.len()],
        passthrough_mode: None,
    });
    for c in element_children(n) {
        let name = c.tag_name().name();
        let Some(i) = XEN_FEATURES.iter().position(|x| *x == name) else {
            return Err(unsupported(format!("unsupported Xen feature: {name}")));
        };
        let on = state_required(&c)?;
        x.features[i] = Some(on);
        if name == "passthrough" && on {
            if let Some(m) = prop_enum(&c, "mode", true)? {
                x.passthrough_mode = Some(m);
            }
        }
    }
    Ok(())
}

fn parse_caps(f: &mut Features, n: Node) -> Result<()> {
    let policy = prop_enum(&n, "policy", false)?.unwrap_or(CapsPolicy::Default);
    let c = f.capabilities.get_or_insert_with(|| Capabilities {
        policy,
        caps: vec![None; PROCESS_CAPS.len()],
    });
    c.policy = policy;
    for k in element_children(n) {
        let name = k.tag_name().name();
        let Some(i) = PROCESS_CAPS.iter().position(|x| *x == name) else {
            return Err(unsupported(format!(
                "unexpected capability feature '{name}'"
            )));
        };
        c.caps[i] = Some(prop_on_off(&k, "state")?.unwrap_or(true));
    }
    Ok(())
}

pub(super) fn format(b: &mut Buf, f: &Features) {
    let mut k = b.child();
    let flag = |k: &mut Buf, on: bool, name: &str| {
        if on {
            k.add(&format!("<{name}/>\n"));
        }
    };
    let state = |k: &mut Buf, v: Option<bool>, name: &str| {
        if let Some(v) = v {
            k.add(&format!("<{name} state='{}'/>\n", on_off(v)));
        }
    };
    flag(&mut k, f.acpi, "acpi");
    if let Some(eoi) = f.apic {
        match eoi {
            Some(e) => k.add(&format!("<apic eoi='{}'/>\n", on_off(e))),
            None => k.add("<apic/>\n"),
        }
    }
    flag(&mut k, f.pae, "pae");
    state(&mut k, f.hap, "hap");
    flag(&mut k, f.viridian, "viridian");
    flag(&mut k, f.privnet, "privnet");
    if let Some(h) = &f.hyperv {
        k.add(&format!("<hyperv mode='{}'>\n", h.mode.as_str()));
        let mut c = k.child();
        for (j, v) in h.features.iter().enumerate() {
            let Some(on) = *v else { continue };
            let name = HYPERV_FEATURES[j];
            c.add(&format!("<{name} state='{}'", on_off(on)));
            match name {
                "spinlocks" if on => c.add(&format!(" retries='{}'/>\n", h.spinlocks as i32)),
                "stimer" if on && h.stimer_direct == Some(true) => {
                    c.add(">\n");
                    c.adjust(2);
                    c.add("<direct state='on'/>\n");
                    c.adjust(-2);
                    c.add("</stimer>\n");
                }
                "vendor_id" if on => match &h.vendor_id {
                    Some(v) => c.esc(" value='%s'/>\n", Some(v)),
                    None => c.add("/>\n"),
                },
                _ => c.add("/>\n"),
            }
        }
        k.append(c);
        k.add("</hyperv>\n");
    }
    if let Some(kv) = &f.kvm {
        k.add("<kvm>\n");
        let mut c = k.child();
        for (j, v) in kv.features.iter().enumerate() {
            let Some(on) = *v else { continue };
            let name = KVM_FEATURES[j];
            c.add(&format!("<{name} state='{}'", on_off(on)));
            if name == "dirty-ring" && kv.dirty_ring_size > 0 {
                c.add(&format!(" size='{}'", kv.dirty_ring_size as i32));
            }
            c.add("/>\n");
        }
        k.append(c);
        k.add("</kvm>\n");
    }
    state(&mut k, f.pvspinlock, "pvspinlock");
    if let Some(cp) = &f.capabilities {
        let mut c = k.child();
        for (j, v) in cp.caps.iter().enumerate() {
            if let Some(on) = v {
                c.add(&format!("<{} state='{}'/>\n", PROCESS_CAPS[j], on_off(*on)));
            }
        }
        let mut a = Buf::new();
        if cp.policy != CapsPolicy::Default || !c.is_empty() {
            a.add(&format!(" policy='{}'", cp.policy.as_str()));
        }
        k.element("capabilities", a, c);
    }
    state(&mut k, f.pmu, "pmu");
    state(&mut k, f.vmport, "vmport");
    if let Some(v) = f.gic {
        match v {
            Some(g) if g != GicVersion::None => {
                k.add(&format!("<gic version='{}'/>\n", g.as_str()))
            }
            _ => k.add("<gic/>\n"),
        }
    }
    if let Some(on) = f.smm {
        let mut c = k.child();
        if let (true, Some(t)) = (on, f.tseg) {
            let (v, unit) = super::tune::pretty(t);
            c.add(&format!("<tseg unit='{unit}'>{v}</tseg>\n"));
        }
        let mut a = Buf::new();
        a.add(&format!(" state='{}'", on_off(on)));
        k.element("smm", a, c);
    }
    if let Some(d) = f.ioapic {
        k.add(&format!("<ioapic driver='{}'/>\n", d.as_str()));
    }
    if let Some((resizing, size)) = f.hpt {
        let mut a = Buf::new();
        if let Some(r) = resizing {
            a.add(&format!(" resizing='{}'", r.as_str()));
        }
        let mut c = k.child();
        if size > 0 {
            c.add(&format!("<maxpagesize unit='KiB'>{size}</maxpagesize>\n"));
        }
        k.element("hpt", a, c);
    }
    state(&mut k, f.vmcoreinfo, "vmcoreinfo");
    state(&mut k, f.htm, "htm");
    state(&mut k, f.nested_hv, "nested-hv");
    if let Some(m) = f.msrs {
        k.add(&format!("<msrs unknown='{}'/>\n", m.as_str()));
    }
    state(&mut k, f.ccf_assist, "ccf-assist");
    if let Some(x) = &f.xen {
        k.add("<xen>\n");
        let mut c = k.child();
        for (j, v) in x.features.iter().enumerate() {
            let Some(on) = *v else { continue };
            let name = XEN_FEATURES[j];
            c.add(&format!("<{name} state='{}'", on_off(on)));
            if let (true, "passthrough", Some(m)) = (on, name, x.passthrough_mode) {
                c.add(&format!(" mode='{}'", m.as_str()));
            }
            c.add("/>\n");
        }
        k.append(c);
        k.add("</xen>\n");
    }
    if let Some(v) = f.cfpc {
        k.add(&format!("<cfpc value='{}'/>\n", v.as_str()));
    }
    if let Some(v) = f.sbbc {
        k.add(&format!("<sbbc value='{}'/>\n", v.as_str()));
    }
    if let Some(v) = f.ibs {
        k.add(&format!("<ibs value='{}'/>\n", v.as_str()));
    }
    if let Some(t) = f.tcg_tb_cache {
        let mut c = k.child();
        c.add(&format!("<tb-cache unit='KiB'>{t}</tb-cache>\n"));
        k.element("tcg", Buf::new(), c);
    }
    b.element("features", Buf::new(), k);
}
