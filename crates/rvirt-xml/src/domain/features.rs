//! `<features>` (`virDomainFeaturesDefParse`, `virDomainDefFormatFeatures`): hypervisor
//! features, written in libvirt's fixed order whatever the input order.

use super::buf::Buf;
use super::xml::{
    child, is_el, not_modelled, on_off, prop_enum, prop_enum_required, prop_on_off, unsupported,
    xml_enum, Node, Result, XmlEnum,
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
                if on && child(n, "tseg").is_some() {
                    return Err(not_modelled("<features><smm><tseg>"));
                }
                f.smm = Some(on);
            }
            "gic" => f.gic = Some(prop_enum(&n, "version", true)?),
            "ioapic" => f.ioapic = nonzero(prop_enum(&n, "driver", true)?),
            "cfpc" => f.cfpc = nonzero(prop_enum(&n, "value", true)?),
            "sbbc" => f.sbbc = nonzero(prop_enum(&n, "value", true)?),
            "ibs" => f.ibs = nonzero(prop_enum(&n, "value", true)?),
            "htm" => f.htm = Some(state_required(&n)?),
            "nested-hv" => f.nested_hv = Some(state_required(&n)?),
            "ccf-assist" => f.ccf_assist = Some(state_required(&n)?),
            other => return Err(not_modelled(format!("<features><{other}>"))),
        }
    }
    Ok(f)
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
    state(&mut k, f.pvspinlock, "pvspinlock");
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
    state(&mut k, f.smm, "smm");
    if let Some(d) = f.ioapic {
        k.add(&format!("<ioapic driver='{}'/>\n", d.as_str()));
    }
    state(&mut k, f.vmcoreinfo, "vmcoreinfo");
    state(&mut k, f.htm, "htm");
    state(&mut k, f.nested_hv, "nested-hv");
    if let Some(m) = f.msrs {
        k.add(&format!("<msrs unknown='{}'/>\n", m.as_str()));
    }
    state(&mut k, f.ccf_assist, "ccf-assist");
    if let Some(v) = f.cfpc {
        k.add(&format!("<cfpc value='{}'/>\n", v.as_str()));
    }
    if let Some(v) = f.sbbc {
        k.add(&format!("<sbbc value='{}'/>\n", v.as_str()));
    }
    if let Some(v) = f.ibs {
        k.add(&format!("<ibs value='{}'/>\n", v.as_str()));
    }
    b.element("features", Buf::new(), k);
}
