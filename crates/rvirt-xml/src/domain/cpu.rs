//! `<vcpu>` (`virDomainVcpuParse`, `virDomainCpuDefFormat`) and the guest `<cpu>` element
//! (`virCPUDefParseXML`, `virCPUDefFormatBufFull` in `cpu_conf.c`).

use super::bitmap::Bitmap;
use super::buf::Buf;
use super::xml::{
    child, children, prop, prop_enum, prop_on_off, prop_uint, prop_uint_required, unsupported,
    xattr, xml_enum, xml_error, xstring, Node, Result, XmlEnum,
};

/// `VIR_DOMAIN_CPUMASK_LEN`.
pub(crate) const CPUMASK_LEN: u32 = 16384;

/// The most vCPUs rvirt accepts in a definition.
const MAX_VCPUS: u32 = 1 << 20;

xml_enum! {
    /// `virDomainCpuPlacementMode`.
    pub enum Placement { Static = "static", Auto = "auto" }
}

/// One virtual CPU (`virDomainVcpuDef`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Vcpu {
    /// Online at boot.
    pub online: bool,
    /// `<vcpus><vcpu hotpluggable=…>` (filled in by post-parse).
    pub hotpluggable: Option<bool>,
    /// `<vcpus><vcpu order=…>` (0: unset).
    pub order: u32,
    /// `<cputune><vcpupin>`.
    pub cpumask: Option<Bitmap>,
    /// `<cputune><vcpusched>`.
    pub sched: Option<super::tune::Sched>,
}

/// `<vcpu>`: virtual CPU counts and host CPU affinity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vcpus {
    /// The element's value: maximum vCPUs.
    pub max: u32,
    /// `current=`: vCPUs online at boot (defaults to `max`).
    pub current: u32,
    /// `placement=`.
    pub placement: Placement,
    /// `cpuset=`.
    pub cpuset: Option<Bitmap>,
    /// Each vCPU's state, `max` entries.
    pub per: Vec<Vcpu>,
    /// States given per vCPU (`<vcpus>`).
    pub individual: bool,
}

impl Default for Vcpus {
    fn default() -> Self {
        Self {
            max: 1,
            current: 1,
            placement: Placement::Static,
            cpuset: None,
            per: vec![Vcpu {
                online: true,
                ..Default::default()
            }],
            individual: false,
        }
    }
}

impl Vcpus {
    /// Recomputes `current` from the per-vCPU states.
    pub fn sync_current(&mut self) {
        self.current = self.per.iter().filter(|v| v.online).count() as u32;
    }
}

/// `virDomainVcpuParse`.
pub(super) fn parse_vcpus(root: Node) -> Result<Vcpus> {
    let mut v = Vcpus::default();
    if let Some(n) = child(root, "vcpu") {
        let text = super::xml::content(&n);
        v.max = super::xml::str_to_ui(&text, 10)
            .ok_or_else(|| xml_error("maximum vcpus count must be an integer"))?;
        v.current = prop_uint(&n, "current", 10, false)?.unwrap_or(v.max);
        v.placement = prop_enum(&n, "placement", false)?.unwrap_or(Placement::Static);
        if v.placement != Placement::Auto {
            if let Some(s) = prop(&n, "cpuset") {
                let b = Bitmap::parse(&s, CPUMASK_LEN)?;
                if b.is_all_clear() {
                    return Err(unsupported(format!("Invalid value of 'cpuset': {s}")));
                }
                v.cpuset = Some(b);
            }
        }
    }
    // libvirt allocates one structure per vCPU whatever the count; rvirt refuses counts no
    // host could run rather than allocate billions of them.
    if v.max > MAX_VCPUS {
        return Err(unsupported(format!(
            "vcpu count {} exceeds rvirt's limit of {MAX_VCPUS}",
            v.max
        )));
    }
    v.per = vec![Vcpu::default(); v.max as usize];
    let nodes = super::xml::select(root, "vcpus/vcpu");
    if nodes.is_empty() {
        if v.current > v.max {
            return Err(unsupported(
                "maximum vCPU count must not be less than current vCPU count",
            ));
        }
        for (i, x) in v.per.iter_mut().enumerate() {
            x.online = (i as u32) < v.current;
        }
    } else {
        v.individual = true;
        for n in nodes {
            let id = super::xml::prop_uint_required(&n, "id", 10, false)?;
            if id >= v.max {
                return Err(xml_error(format!(
                    "vcpu id '{id}' is out of range of maximum vcpu count"
                )));
            }
            let Some(on) = super::xml::prop_yes_no(&n, "enabled")? else {
                return Err(super::xml::xml_util_error(
                    "Missing required attribute 'enabled' in element 'vcpu'",
                ));
            };
            let x = &mut v.per[id as usize];
            x.online = on;
            x.hotpluggable = super::xml::prop_yes_no(&n, "hotpluggable")?;
            x.order = prop_uint(&n, "order", 10, false)?.unwrap_or(0);
        }
    }
    v.sync_current();
    Ok(v)
}

/// `virDomainVcpuDefPostParse`.
pub(super) fn post_parse_vcpus(v: &mut Vcpus) -> Result<()> {
    for (i, x) in v.per.iter_mut().enumerate() {
        match x.hotpluggable {
            None => x.hotpluggable = Some(!x.online),
            Some(false) if !x.online => {
                return Err(unsupported(format!(
                    "vcpu '{i}' is both offline and not hotpluggable"
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

pub(super) fn format_vcpus(b: &mut Buf, v: &Vcpus) {
    b.add("<vcpu");
    b.add(&format!(" placement='{}'", v.placement.as_str()));
    if let Some(c) = &v.cpuset {
        if !c.is_all_set() {
            b.add(&format!(" cpuset='{}'", c.format()));
        }
    }
    if v.per.iter().any(|x| !x.online) {
        b.add(&format!(" current='{}'", v.current));
    }
    b.add(&format!(">{}</vcpu>\n", v.max));
    if v.individual {
        b.add("<vcpus>\n");
        b.adjust(2);
        for (i, x) in v.per.iter().enumerate() {
            b.add(&format!(
                "<vcpu id='{i}' enabled='{}'",
                if x.online { "yes" } else { "no" }
            ));
            if let Some(h) = x.hotpluggable {
                b.add(&format!(" hotpluggable='{}'", super::xml::yes_no(h)));
            }
            if x.order != 0 {
                b.add(&format!(" order='{}'", x.order));
            }
            b.add("/>\n");
        }
        b.adjust(-2);
        b.add("</vcpus>\n");
    }
}

xml_enum! {
    /// `virCPUMode`.
    pub enum CpuMode {
        Custom = "custom", HostModel = "host-model", HostPassthrough = "host-passthrough",
        Maximum = "maximum",
    }
}

xml_enum! {
    /// `virCPUMatch`.
    pub enum CpuMatch { Exact = "exact", Minimum = "minimum", Strict = "strict" }
}

xml_enum! {
    /// `virCPUCheck`.
    pub enum CpuCheck { Default = "default", None = "none", Partial = "partial", Full = "full" }
}

xml_enum! {
    /// `virCPUFallback`.
    pub enum CpuFallback { Allow = "allow", Forbid = "forbid" }
}

xml_enum! {
    /// `virCPUFeaturePolicy`.
    pub enum CpuFeaturePolicy {
        Force = "force", Require = "require", Optional = "optional", Disable = "disable",
        Forbid = "forbid",
    }
}

/// `<cpu><feature>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuFeature {
    /// `name=`.
    pub name: String,
    /// `policy=` (default `require`).
    pub policy: CpuFeaturePolicy,
}

/// `<cpu>`: the guest CPU model (`virCPUDef`, guest type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpu {
    /// `mode=` (default `custom`).
    pub mode: CpuMode,
    /// `match=` (default `exact`).
    pub match_: CpuMatch,
    /// `check=`.
    pub check: CpuCheck,
    /// `migratable=` (host-passthrough and maximum only).
    pub migratable: Option<bool>,
    /// `<model>`.
    pub model: Option<String>,
    /// `<model fallback=…>` (default `allow`).
    pub fallback: CpuFallback,
    /// `<model vendor_id=…>`.
    pub vendor_id: Option<String>,
    /// `<vendor>`.
    pub vendor: Option<String>,
    /// `<topology sockets dies cores threads>` (all zero when absent).
    pub topology: Option<(u32, u32, u32, u32)>,
    /// `<feature>`s, in order.
    pub features: Vec<CpuFeature>,
    /// `<cache level mode>` (level -1: unset).
    pub cache: Option<(i32, CpuCacheMode)>,
    /// `<maxphysaddr mode bits>` (bits -1: unset).
    pub maxphysaddr: Option<(MaxPhysAddrMode, i32)>,
}

xml_enum! {
    /// `virCPUCacheMode`.
    pub enum CpuCacheMode { Emulate = "emulate", Passthrough = "passthrough", Disable = "disable" }
}

xml_enum! {
    /// `virCPUMaxPhysAddrMode`.
    pub enum MaxPhysAddrMode { Emulate = "emulate", Passthrough = "passthrough" }
}

pub(super) fn parse_cpu(root: Node) -> Result<Option<Cpu>> {
    let Some(n) = child(root, "cpu") else {
        return Ok(None);
    };
    let mode = match prop(&n, "mode") {
        None => CpuMode::Custom,
        Some(m) => CpuMode::parse(&m)
            .ok_or_else(|| unsupported(format!("Invalid mode attribute '{m}'")))?,
    };
    let migratable = prop_on_off(&n, "migratable")?;
    if migratable.is_some() && !matches!(mode, CpuMode::HostPassthrough | CpuMode::Maximum) {
        return Err(unsupported(
            "Attribute migratable is only allowed for 'host-passthrough' / 'maximum' CPU mode",
        ));
    }
    let match_ = prop_enum(&n, "match", false)?.unwrap_or(CpuMatch::Exact);
    let check = prop_enum(&n, "check", false)?.unwrap_or(CpuCheck::Default);
    let model = xstring(n, "model");
    let mut fallback = CpuFallback::Allow;
    let mut vendor_id = None;
    if !matches!(mode, CpuMode::HostPassthrough | CpuMode::Maximum) {
        if let Some(f) = xattr(n, "model", "fallback") {
            fallback =
                CpuFallback::parse(&f).ok_or_else(|| unsupported("Invalid fallback attribute"))?;
        }
        if let Some(v) = xattr(n, "model", "vendor_id") {
            if v.len() != 12 {
                return Err(xml_error("vendor_id must be exactly 12 characters long"));
            }
            if v.contains(',') {
                return Err(xml_error("vendor id is invalid"));
            }
            vendor_id = Some(v);
        }
    }
    let vendor = xstring(n, "vendor");
    if vendor.is_some() && model.is_none() {
        return Err(xml_error("CPU vendor specified without CPU model"));
    }
    let topology = match child(n, "topology") {
        None => None,
        Some(t) => {
            let sockets = prop_uint_required(&t, "sockets", 10, true)?;
            let dies = prop_uint(&t, "dies", 10, true)?.unwrap_or(1);
            let cores = prop_uint_required(&t, "cores", 10, true)?;
            let threads = prop_uint_required(&t, "threads", 10, true)?;
            Some((sockets, dies, cores, threads))
        }
    };
    let nodes: Vec<_> = children(n, "feature").collect();
    if !nodes.is_empty() && model.is_none() && mode == CpuMode::Custom {
        return Err(xml_error(
            "Non-empty feature list specified without CPU model",
        ));
    }
    let mut features: Vec<CpuFeature> = Vec::new();
    for f in nodes {
        let policy = match prop(&f, "policy") {
            None => CpuFeaturePolicy::Require,
            Some(p) => CpuFeaturePolicy::parse(&p)
                .ok_or_else(|| unsupported("Invalid CPU feature policy"))?,
        };
        let name = prop(&f, "name")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| xml_error("Invalid CPU feature name"))?;
        if features.iter().any(|x| x.name == name) {
            return Err(xml_error(format!(
                "CPU feature '{name}' specified more than once"
            )));
        }
        features.push(CpuFeature { name, policy });
    }
    let caches: Vec<_> = children(n, "cache").collect();
    if caches.len() > 1 {
        return Err(xml_error("at most one CPU cache element may be specified"));
    }
    let cache = match caches.first() {
        None => None,
        Some(c) => {
            let level = super::xml::prop_int(c, "level", 10, true, false)?;
            if let Some(l) = level {
                if !(1..=3).contains(&l) {
                    return Err(xml_error("invalid CPU cache level, must be in range [1,3]"));
                }
            }
            let mode = super::xml::prop_enum_required(c, "mode", false)?;
            Some((level.unwrap_or(-1), mode))
        }
    };
    let maxphysaddr = match child(n, "maxphysaddr") {
        None => None,
        Some(m) => {
            let mode = super::xml::prop_enum_required(&m, "mode", false)?;
            let bits = super::xml::prop_int(&m, "bits", 10, true, false)?.unwrap_or(-1);
            Some((mode, bits))
        }
    };
    Ok(Some(Cpu {
        mode,
        match_,
        check,
        migratable,
        model,
        fallback,
        vendor_id,
        vendor,
        topology,
        features,
        cache,
        maxphysaddr,
    }))
}

pub(super) fn format_cpu(b: &mut Buf, c: &Cpu, numa: &super::Numa) {
    let mut attrs = Buf::new();
    let mut kids = b.child();
    if c.mode != CpuMode::Custom || c.model.is_some() {
        attrs.add(&format!(" mode='{}'", c.mode.as_str()));
        if c.mode == CpuMode::Custom {
            attrs.add(&format!(" match='{}'", c.match_.as_str()));
        }
        if c.check != CpuCheck::Default {
            attrs.add(&format!(" check='{}'", c.check.as_str()));
        }
        if matches!(c.mode, CpuMode::HostPassthrough | CpuMode::Maximum) {
            if let Some(m) = c.migratable {
                attrs.add(&format!(" migratable='{}'", super::xml::on_off(m)));
            }
        }
    }
    let format_model = matches!(c.mode, CpuMode::Custom | CpuMode::HostModel);
    if format_model && (c.model.is_some() || c.vendor_id.is_some()) {
        kids.add("<model");
        if c.model.is_some() {
            kids.add(&format!(" fallback='{}'", c.fallback.as_str()));
        }
        kids.esc(" vendor_id='%s'", c.vendor_id.as_deref());
        match &c.model {
            Some(m) => kids.esc(">%s</model>\n", Some(m)),
            None => kids.add("/>\n"),
        }
    }
    if format_model {
        kids.esc("<vendor>%s</vendor>\n", c.vendor.as_deref());
    }
    if let Some((s, d, co, t)) = c.topology {
        kids.add(&format!(
            "<topology sockets='{s}' dies='{d}' cores='{co}' threads='{t}'/>\n"
        ));
    }
    if let Some((level, mode)) = c.cache {
        kids.add("<cache ");
        if level != -1 {
            kids.add(&format!("level='{level}' "));
        }
        kids.add(&format!("mode='{}'/>\n", mode.as_str()));
    }
    if let Some((mode, bits)) = c.maxphysaddr {
        kids.add(&format!("<maxphysaddr mode='{}'", mode.as_str()));
        if bits != -1 {
            kids.add(&format!(" bits='{bits}'"));
        }
        kids.add("/>\n");
    }
    for f in &c.features {
        kids.add(&format!(
            "<feature policy='{}' name='{}'/>\n",
            f.policy.as_str(),
            f.name
        ));
    }
    super::numa::format(&mut kids, numa);
    b.element("cpu", attrs, kids);
}

xml_enum! {
    /// `virDomainNumatuneMemMode`.
    pub enum NumatuneMode {
        Strict = "strict", Preferred = "preferred", Interleave = "interleave",
        Restrictive = "restrictive",
    }
}

xml_enum! {
    /// `virDomainNumatunePlacement`.
    pub enum NumatunePlacement { Default = "default", Static = "static", Auto = "auto" }
}

/// `<numatune><memory>`: host NUMA memory policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numatune {
    /// `mode=` (default strict).
    pub mode: NumatuneMode,
    /// `placement=` (static or auto after defaults).
    pub placement: NumatunePlacement,
    /// `nodeset=` (static placement).
    pub nodeset: Option<Bitmap>,
}

/// `virDomainNumatuneParseXML` (without per-cell `<memnode>`s) and `virDomainNumatuneSet`.
pub(super) fn parse_numatune(root: Node, placement_static: bool) -> Result<Option<Numatune>> {
    if children(root, "numatune").count() > 1 {
        return Err(xml_error("only one numatune is supported"));
    }
    let node = super::xml::first(root, "numatune/memory");
    let (mut mode, mut placement, mut nodeset) = (None, None, None);
    if node.is_none() && !placement_static {
        placement = Some(NumatunePlacement::Auto);
    }
    if let Some(m) = node {
        if let Some(s) = prop(&m, "mode") {
            mode = Some(NumatuneMode::parse(&s).ok_or_else(|| {
                unsupported(format!("Unsupported NUMA memory tuning mode '{s}'"))
            })?);
        }
        if let Some(s) = prop(&m, "placement") {
            placement = Some(NumatunePlacement::parse(&s).ok_or_else(|| {
                unsupported(format!("Unsupported NUMA memory placement mode '{s}'"))
            })?);
        }
        if let Some(s) = prop(&m, "nodeset") {
            let b = Bitmap::parse(&s, CPUMASK_LEN)?;
            if b.is_all_clear() {
                return Err(unsupported(format!("Invalid value of 'nodeset': {s}")));
            }
            nodeset = Some(b);
        }
    }
    if mode.is_none() && placement.is_none() && nodeset.is_none() {
        return Ok(None);
    }
    let mode = mode.unwrap_or(NumatuneMode::Strict);
    let mut placement = placement.unwrap_or(NumatunePlacement::Default);
    if nodeset.is_some() && placement == NumatunePlacement::Default {
        placement = NumatunePlacement::Static;
    }
    if placement == NumatunePlacement::Default {
        placement = if nodeset.is_some() || placement_static {
            NumatunePlacement::Static
        } else {
            NumatunePlacement::Auto
        };
    }
    if placement == NumatunePlacement::Static && nodeset.is_none() {
        return Err(unsupported(
            "nodeset for NUMA memory tuning must be set if 'placement' is 'static'",
        ));
    }
    if placement == NumatunePlacement::Auto {
        nodeset = None;
    }
    Ok(Some(Numatune {
        mode,
        placement,
        nodeset,
    }))
}

pub(super) fn format_numatune_memory(b: &mut Buf, n: &Numatune) {
    b.add(&format!("<memory mode='{}' ", n.mode.as_str()));
    match (n.placement, &n.nodeset) {
        (NumatunePlacement::Static, Some(ns)) => b.add(&format!("nodeset='{}'/>\n", ns.format())),
        (p, _) => b.add(&format!("placement='{}'/>\n", p.as_str())),
    }
}
