//! Host capabilities (`virConnectGetCapabilities`): the typed model of `virCaps` and its
//! formatting, byte for byte as libvirt 9.0's `virCapabilitiesFormatXML` (including its blank
//! separator lines). Drivers build the model; [`Capabilities::test_driver`] builds the one
//! libvirt's test driver reports; clients read a document they received with
//! [`Capabilities::parse`] (`capabilities_parse.rs`).
//!
//! Everything libvirt 9.0 prints is modelled, including resctrl cache controls and monitors,
//! memory bandwidth, and HMAT NUMA caches and interconnects. libvirt prints most strings
//! without escaping; we escape them (`<>&'"`, and line breaks where a parser would fold them),
//! so that the output is always well-formed, which changes bytes only for such strings.

use crate::conf::{uuid_format, Buf};
use crate::domcaps::{esc_attr, esc_text};

/// One CPU of a NUMA cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellCpu {
    /// CPU id.
    pub id: u32,
    /// Socket.
    pub socket_id: i32,
    /// Die.
    pub die_id: i32,
    /// Core.
    pub core_id: i32,
    /// Sibling CPU ids; `None` prints only the id (libvirt's "no topology").
    pub siblings: Option<Vec<u32>>,
}

/// A NUMA cell (`virCapsHostNUMACell`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumaCell {
    /// Cell id.
    pub id: u32,
    /// Memory in KiB (0 omits `<memory>`).
    pub memory_kib: u64,
    /// `(page size KiB, available pages)`.
    pub pages: Vec<(u32, u64)>,
    /// `(sibling cell id, distance)`; zero distances are omitted.
    pub distances: Vec<(u32, u32)>,
    /// Memory-side caches (HMAT, `<cache level=…>`).
    pub caches: Vec<NumaCache>,
    /// CPUs.
    pub cpus: Vec<CellCpu>,
}

/// `associativity=` of a NUMA cell cache (`virNumaCacheAssociativity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheAssociativity {
    /// `none` (not printed).
    #[default]
    None,
    /// `direct`.
    Direct,
    /// `full`.
    Full,
}

/// `policy=` of a NUMA cell cache (`virNumaCachePolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CachePolicy {
    /// `none` (not printed).
    #[default]
    None,
    /// `writeback`.
    Writeback,
    /// `writethrough`.
    Writethrough,
}

/// A memory-side cache of a NUMA cell (`virNumaCache`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NumaCache {
    /// `level=`.
    pub level: u32,
    /// `associativity=`.
    pub associativity: CacheAssociativity,
    /// `policy=`.
    pub policy: CachePolicy,
    /// `<size>` in KiB.
    pub size_kib: u64,
    /// `<line>` in bytes (0 omits it).
    pub line_bytes: u32,
}

/// Whether an interconnect entry is a `<latency>` or a `<bandwidth>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterconnectKind {
    /// `<latency>` (nanoseconds).
    Latency,
    /// `<bandwidth>` (KiB per second).
    Bandwidth,
}

/// `type=` of an interconnect entry (`virMemoryLatency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryAccess {
    /// `none` (libvirt's unset value).
    None,
    /// `access`.
    Access,
    /// `read`.
    Read,
    /// `write`.
    Write,
}

/// One HMAT `<interconnects>` entry (`virNumaInterconnect`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interconnect {
    /// Latency or bandwidth.
    pub kind: InterconnectKind,
    /// `initiator=` cell.
    pub initiator: u32,
    /// `target=` cell.
    pub target: u32,
    /// `cache=` level (0 omits it).
    pub cache: u32,
    /// `type=`.
    pub access: MemoryAccess,
    /// `value=` (nanoseconds, or KiB/s for bandwidth).
    pub value: u64,
}

/// A security model (`virCapsHostSecModel`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecModel {
    /// Model name.
    pub model: String,
    /// Domain of interpretation.
    pub doi: String,
    /// `(virt type, base label)`.
    pub base_labels: Vec<(String, String)>,
}

/// `<migration_features>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Migration {
    /// `<live/>`.
    pub live: bool,
    /// URI transports.
    pub uri_transports: Vec<String>,
}

/// `<maxphysaddr mode=…>` (`virCPUMaxPhysAddrMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxPhysAddrMode {
    /// `emulate`.
    Emulate,
    /// `passthrough`.
    Passthrough,
}

/// `<counter name='tsc'>` (`virHostCPUTscInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TscCounter {
    /// `frequency=` in Hz.
    pub frequency: u64,
    /// `scaling='yes|no'`.
    pub scaling: Option<bool>,
}

/// The host CPU definition (`virCPUDef` of the host type) as `virCPUDefFormatBuf` prints it
/// inside `<host><cpu>`, after `<arch>` and `<features>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostCpuDef {
    /// `<model>`.
    pub model: Option<String>,
    /// `<vendor>`.
    pub vendor: Option<String>,
    /// `<microcode version=…>` (0 leaves it out, as libvirt does).
    pub microcode: Option<u64>,
    /// `<signature family model stepping>` (family 0 leaves it out).
    pub signature: Option<(u32, u32, u32)>,
    /// `<counter name='tsc'>`.
    pub tsc: Option<TscCounter>,
    /// `<topology sockets dies cores threads>` (left out when any is 0).
    pub topology: Option<(u32, u32, u32, u32)>,
    /// `<maxphysaddr mode bits>`.
    pub maxphysaddr: Option<(MaxPhysAddrMode, Option<u32>)>,
    /// `<feature name=…>`s.
    pub features: Vec<String>,
}

/// A resctrl allocation `<control>` of a cache bank (`virResctrlInfoPerCache`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheControl {
    /// Allocation granularity in bytes.
    pub granularity_bytes: u64,
    /// Minimal allocation in bytes (0 omits `min=`).
    pub min_bytes: u64,
    /// `type=` (`both`, `code`, `data`).
    pub type_: String,
    /// `maxAllocs=`.
    pub max_allocs: u32,
}

/// A resctrl `<monitor>` (`virResctrlInfoMon`) of the caches or of memory bandwidth.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResctrlMonitor {
    /// `(level, reuseThreshold)`: only cache monitors have them.
    pub cache: Option<(u32, u32)>,
    /// `maxMonitors=`.
    pub max_monitors: u32,
    /// Feature names (`llc_occupancy`, `mbm_total_bytes`, …); none omits the monitor.
    pub features: Vec<String>,
}

/// A memory bandwidth `<node>` (`virCapsHostMemBWNode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemBwNode {
    /// `id=`.
    pub id: u32,
    /// The node's CPUs.
    pub cpus: Vec<u32>,
    /// `<control granularity=…>` in percent.
    pub granularity: u32,
    /// `<control min=…>` in percent.
    pub min: u32,
    /// `<control maxAllocs=…>`.
    pub max_allocs: u32,
}

/// `<memory_bandwidth>` (`virCapsHostMemBW`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemoryBandwidth {
    /// Nodes.
    pub nodes: Vec<MemBwNode>,
    /// Monitor.
    pub monitor: Option<ResctrlMonitor>,
}

/// A host cache bank (`virCapsHostCacheBank`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheBank {
    /// `id=`.
    pub id: u32,
    /// `level=`.
    pub level: u32,
    /// `type=` (`both`, `code`, `data`).
    pub type_: String,
    /// Size in bytes (printed in the largest unit that divides it).
    pub size_bytes: u64,
    /// The CPUs sharing it.
    pub cpus: Vec<u32>,
    /// resctrl allocation controls.
    pub controls: Vec<CacheControl>,
}

/// `<host>` (`virCapsHost`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Host {
    /// Host UUID.
    pub uuid: Option<[u8; 16]>,
    /// Architecture name (`i686`, `x86_64`).
    pub arch: Option<String>,
    /// CPU features listed under `<features>` (`pae`, `vmx`, …).
    pub features: Vec<String>,
    /// The host CPU definition.
    pub cpu: HostCpuDef,
    /// Page sizes in KiB.
    pub page_sizes: Vec<u32>,
    /// Power management targets (`suspend_mem`, `suspend_disk`, `suspend_hybrid`).
    pub power_management: Vec<String>,
    /// Whether the host has an IOMMU; `None` leaves `<iommu>` out (libvirt before 4.5 did
    /// not report it).
    pub iommu: Option<bool>,
    /// Migration support.
    pub migration: Option<Migration>,
    /// `<netprefix>`.
    pub netprefix: Option<String>,
    /// NUMA topology; `Some(vec![])` prints an empty `<cells num='0'>`.
    pub numa: Option<Vec<NumaCell>>,
    /// HMAT `<interconnects>` of the NUMA topology (printed only with `numa`).
    pub interconnects: Vec<Interconnect>,
    /// Cache banks (`<cache>`).
    pub caches: Vec<CacheBank>,
    /// The cache monitor (`<cache><monitor>`).
    pub cache_monitor: Option<ResctrlMonitor>,
    /// `<memory_bandwidth>`.
    pub memory_bandwidth: MemoryBandwidth,
    /// Security models.
    pub secmodels: Vec<SecModel>,
}

/// A machine type (`virCapsGuestMachine`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// Name.
    pub name: String,
    /// Canonical name.
    pub canonical: Option<String>,
    /// Maximum CPUs (0 omits).
    pub max_cpus: i32,
    /// Deprecated.
    pub deprecated: bool,
}

/// `<domain type>` of a guest arch (`virCapsGuestDomain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestDomain {
    /// Virtualization type (`qemu`, `kvm`, `test`).
    pub type_: String,
    /// Emulator override.
    pub emulator: Option<String>,
    /// Loader override.
    pub loader: Option<String>,
    /// Machines override.
    pub machines: Vec<Machine>,
}

/// A guest feature (`virCapsGuestFeature`), in libvirt's fixed order of names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestFeature {
    /// Name (`pae`, `nonpae`, `ia64_be`, `acpi`, `apic`, `cpuselection`, `deviceboot`,
    /// `disksnapshot`, `hap`).
    pub name: String,
    /// `default='on|off'`.
    pub default_on: Option<bool>,
    /// `toggle='yes|no'`.
    pub toggle: Option<bool>,
}

const GUEST_FEATURE_ORDER: [&str; 9] = [
    "pae",
    "nonpae",
    "ia64_be",
    "acpi",
    "apic",
    "cpuselection",
    "deviceboot",
    "disksnapshot",
    "hap",
];

/// `<guest>` (`virCapsGuest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guest {
    /// OS type (`hvm`, `xen`, `exe`).
    pub os_type: String,
    /// Architecture.
    pub arch: String,
    /// Word size in bits.
    pub wordsize: u32,
    /// Default emulator.
    pub emulator: Option<String>,
    /// Default loader.
    pub loader: Option<String>,
    /// Default machines.
    pub machines: Vec<Machine>,
    /// Domain types.
    pub domains: Vec<GuestDomain>,
    /// Features.
    pub features: Vec<GuestFeature>,
}

/// The capabilities document (`virCaps`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Host.
    pub host: Host,
    /// Guests.
    pub guests: Vec<Guest>,
    /// Storage pool types (`<pool><enum name='type'>`).
    pub pool_types: Vec<String>,
}

/// `virBitmapFormat`: `0-3,5,7-8`.
pub fn format_id_list(ids: &[u32]) -> String {
    let mut v: Vec<u32> = ids.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let start = v[i];
        let mut end = start;
        while i + 1 < v.len() && v[i + 1] == end + 1 {
            i += 1;
            end = v[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    out.join(",")
}

/// `<name>value</name>`, the value escaped.
fn text(w: &mut Buf, name: &str, value: &str) {
    w.line(&format!("<{name}>{}</{name}>", esc_text(value)));
}

fn format_machine(w: &mut Buf, m: &Machine, with_deprecated: bool) {
    let mut l = String::from("<machine");
    if let Some(c) = &m.canonical {
        l.push_str(&format!(" canonical='{}'", esc_attr(c)));
    }
    if m.max_cpus > 0 {
        l.push_str(&format!(" maxCpus='{}'", m.max_cpus));
    }
    if with_deprecated && m.deprecated {
        l.push_str(" deprecated='yes'");
    }
    l.push_str(&format!(">{}</machine>", esc_text(&m.name)));
    w.line(&l);
}

impl Capabilities {
    /// `virCapabilitiesFormatXML`.
    pub fn format(&self) -> String {
        let mut w = Buf::new();
        w.line("<capabilities>");
        w.blank();
        w.indent();
        self.format_host(&mut w);
        for g in &self.guests {
            format_guest(&mut w, g);
        }
        if !self.pool_types.is_empty() {
            w.open("<pool>");
            w.open("<enum name='type'>");
            for t in &self.pool_types {
                text(&mut w, "value", t);
            }
            w.close("enum");
            w.close("pool");
            w.blank();
        }
        w.dedent();
        w.line("</capabilities>");
        w.finish()
    }

    fn format_host(&self, w: &mut Buf) {
        let h = &self.host;
        // virUUIDIsValid: a UUID of sixteen equal bytes is "none".
        let uuid = h.uuid.filter(|u| u.iter().any(|b| *b != u[0]));
        if uuid.is_none()
            && h.arch.is_none()
            && h.power_management.is_empty()
            && h.iommu != Some(true)
        {
            return;
        }
        w.open("<host>");
        if let Some(u) = &uuid {
            w.line(&format!("<uuid>{}</uuid>", uuid_format(u)));
        }
        w.open("<cpu>");
        if let Some(a) = &h.arch {
            text(w, "arch", a);
        }
        if !h.features.is_empty() {
            w.open("<features>");
            for f in &h.features {
                w.line(&format!("<{f}/>"));
            }
            w.close("features");
        }
        format_host_cpu(w, &h.cpu);
        for p in &h.page_sizes {
            w.line(&format!("<pages unit='KiB' size='{p}'/>"));
        }
        w.close("cpu");
        if h.power_management.is_empty() {
            w.line("<power_management/>");
        } else {
            w.open("<power_management>");
            for p in &h.power_management {
                w.line(&format!("<{p}/>"));
            }
            w.close("power_management");
        }
        if let Some(iommu) = h.iommu {
            w.line(&format!(
                "<iommu support='{}'/>",
                if iommu { "yes" } else { "no" }
            ));
        }
        if let Some(m) = &h.migration {
            w.open("<migration_features>");
            if m.live {
                w.line("<live/>");
            }
            if !m.uri_transports.is_empty() {
                w.open("<uri_transports>");
                for t in &m.uri_transports {
                    text(w, "uri_transport", t);
                }
                w.close("uri_transports");
            }
            w.close("migration_features");
        }
        if let Some(n) = &h.netprefix {
            text(w, "netprefix", n);
        }
        if let Some(cells) = &h.numa {
            w.open("<topology>");
            w.open(&format!("<cells num='{}'>", cells.len()));
            for c in cells {
                format_cell(w, c);
            }
            w.close("cells");
            format_interconnects(w, &h.interconnects);
            w.close("topology");
        }
        if !h.caches.is_empty() || h.cache_monitor.is_some() {
            w.open("<cache>");
            for b in &h.caches {
                let (size, unit) = format_int_pretty(b.size_bytes);
                let attrs = format!(
                    "id='{}' level='{}' type='{}' size='{size}' unit='{unit}' cpus='{}'",
                    b.id,
                    b.level,
                    esc_attr(&b.type_),
                    format_id_list(&b.cpus)
                );
                if b.controls.is_empty() {
                    w.line(&format!("<bank {attrs}/>"));
                    continue;
                }
                w.open(&format!("<bank {attrs}>"));
                for c in &b.controls {
                    w.line(&format_cache_control(c));
                }
                w.close("bank");
            }
            if let Some(m) = &h.cache_monitor {
                format_monitor(w, m);
            }
            w.close("cache");
        }
        let bw = &h.memory_bandwidth;
        if !bw.nodes.is_empty() || bw.monitor.is_some() {
            w.open("<memory_bandwidth>");
            for n in &bw.nodes {
                w.open(&format!(
                    "<node id='{}' cpus='{}'>",
                    n.id,
                    format_id_list(&n.cpus)
                ));
                w.line(&format!(
                    "<control granularity='{}' min='{}' maxAllocs='{}'/>",
                    n.granularity, n.min, n.max_allocs
                ));
                w.close("node");
            }
            if let Some(m) = &bw.monitor {
                format_monitor(w, m);
            }
            w.close("memory_bandwidth");
        }
        for s in &h.secmodels {
            w.open("<secmodel>");
            text(w, "model", &s.model);
            text(w, "doi", &s.doi);
            for (t, l) in &s.base_labels {
                w.line(&format!(
                    "<baselabel type='{}'>{}</baselabel>",
                    esc_attr(t),
                    esc_text(l)
                ));
            }
            w.close("secmodel");
        }
        w.close("host");
        w.blank();
    }

    /// The capabilities libvirt's test driver reports (`testBuildCapabilities`): an i686 host
    /// with `pae`/`nonpae`, four page sizes, the given NUMA `cells` (each `(cpu ids, memory
    /// KiB)`), the `testSecurity` model, and `hvm` and `xen` guests on `/usr/bin/test-hv`.
    /// `iommu` is whether the host has IOMMU groups (libvirt probes the real host).
    pub fn test_driver(cells: &[(Vec<CellCpu>, u64)], iommu: bool) -> Capabilities {
        let page_sizes = vec![4, 8, 2048, 1024 * 1024];
        let numa = cells
            .iter()
            .enumerate()
            .map(|(i, (cpus, mem))| {
                // libvirt's quirk: the second cell's first page size is 8 KiB, not 4.
                let first = if i == 1 { page_sizes[1] } else { page_sizes[0] };
                let mut pages = vec![(first, mem / first as u64)];
                pages.extend(page_sizes[2..].iter().map(|s| (*s, 0)));
                NumaCell {
                    id: i as u32,
                    memory_kib: *mem,
                    pages,
                    distances: Vec::new(),
                    caches: Vec::new(),
                    cpus: cpus.clone(),
                }
            })
            .collect();
        let guest = |os: &str| Guest {
            os_type: os.into(),
            arch: "i686".into(),
            wordsize: 32,
            emulator: Some("/usr/bin/test-hv".into()),
            loader: None,
            machines: Vec::new(),
            domains: vec![GuestDomain {
                type_: "test".into(),
                emulator: None,
                loader: None,
                machines: Vec::new(),
            }],
            features: ["pae", "nonpae"]
                .iter()
                .map(|n| GuestFeature {
                    name: (*n).into(),
                    default_on: None,
                    toggle: None,
                })
                .collect(),
        };
        Capabilities {
            host: Host {
                arch: Some("i686".into()),
                features: vec!["pae".into(), "nonpae".into()],
                page_sizes,
                iommu: Some(iommu),
                numa: Some(numa),
                secmodels: vec![SecModel {
                    model: "testSecurity".into(),
                    doi: String::new(),
                    base_labels: Vec::new(),
                }],
                ..Default::default()
            },
            guests: vec![guest("hvm"), guest("xen")],
            pool_types: Vec::new(),
        }
    }
}

/// One `<cell>` of `virCapabilitiesHostNUMAFormat`.
fn format_cell(w: &mut Buf, c: &NumaCell) {
    w.open(&format!("<cell id='{}'>", c.id));
    if c.memory_kib != 0 {
        w.line(&format!("<memory unit='KiB'>{}</memory>", c.memory_kib));
    }
    for (size, avail) in &c.pages {
        w.line(&format!("<pages unit='KiB' size='{size}'>{avail}</pages>"));
    }
    let d: Vec<&(u32, u32)> = c.distances.iter().filter(|d| d.1 != 0).collect();
    if !d.is_empty() {
        w.open("<distances>");
        for (id, v) in d {
            w.line(&format!("<sibling id='{id}' value='{v}'/>"));
        }
        w.close("distances");
    }
    for cache in &c.caches {
        format_numa_cache(w, cache);
    }
    if c.cpus.is_empty() {
        w.line("<cpus num='0'/>");
    } else {
        w.open(&format!("<cpus num='{}'>", c.cpus.len()));
        for cpu in &c.cpus {
            match &cpu.siblings {
                Some(s) => w.line(&format!(
                    "<cpu id='{}' socket_id='{}' die_id='{}' core_id='{}' siblings='{}'/>",
                    cpu.id,
                    cpu.socket_id,
                    cpu.die_id,
                    cpu.core_id,
                    format_id_list(s)
                )),
                None => w.line(&format!("<cpu id='{}'/>", cpu.id)),
            }
        }
        w.close("cpus");
    }
    w.close("cell");
}

/// `virNumaCacheFormat` for one cache.
fn format_numa_cache(w: &mut Buf, c: &NumaCache) {
    let mut l = format!("<cache level='{}'", c.level);
    match c.associativity {
        CacheAssociativity::None => {}
        CacheAssociativity::Direct => l.push_str(" associativity='direct'"),
        CacheAssociativity::Full => l.push_str(" associativity='full'"),
    }
    match c.policy {
        CachePolicy::None => {}
        CachePolicy::Writeback => l.push_str(" policy='writeback'"),
        CachePolicy::Writethrough => l.push_str(" policy='writethrough'"),
    }
    l.push('>');
    w.open(&l);
    w.line(&format!("<size value='{}' unit='KiB'/>", c.size_kib));
    if c.line_bytes != 0 {
        w.line(&format!("<line value='{}' unit='B'/>", c.line_bytes));
    }
    w.close("cache");
}

/// `virNumaInterconnectFormat`.
fn format_interconnects(w: &mut Buf, list: &[Interconnect]) {
    if list.is_empty() {
        return;
    }
    w.open("<interconnects>");
    for i in list {
        let elem = match i.kind {
            InterconnectKind::Latency => "latency",
            InterconnectKind::Bandwidth => "bandwidth",
        };
        let mut l = format!("<{elem} initiator='{}' target='{}'", i.initiator, i.target);
        if i.cache > 0 {
            l.push_str(&format!(" cache='{}'", i.cache));
        }
        let access = match i.access {
            MemoryAccess::None => "none",
            MemoryAccess::Access => "access",
            MemoryAccess::Read => "read",
            MemoryAccess::Write => "write",
        };
        l.push_str(&format!(" type='{access}' value='{}'", i.value));
        if i.kind == InterconnectKind::Bandwidth {
            l.push_str(" unit='KiB'");
        }
        l.push_str("/>");
        w.line(&l);
    }
    w.close("interconnects");
}

/// A cache bank's `<control>`: granularity and minimum share one unit, the smaller of their
/// two pretty-printed units (libvirt's `virCapabilitiesFormatCaches`).
fn format_cache_control(c: &CacheControl) -> String {
    let (mut gran, mut unit) = format_int_pretty(c.granularity_bytes);
    let (mut min, min_unit) = format_int_pretty(c.min_bytes);
    // Only with a minimum (libvirt: "if (min_short_size)").
    if let Some(min_div) = c.min_bytes.checked_div(min) {
        // libvirt divides by the granularity's short size; a zero granularity (which libvirt
        // would divide by) counts as bytes here.
        let gran_div = c.granularity_bytes.checked_div(gran).unwrap_or(1);
        if min_div > gran_div {
            min *= min_div / gran_div;
        } else if min_div < gran_div {
            unit = min_unit;
            gran *= gran_div / min_div;
        }
    }
    let mut l = format!("<control granularity='{gran}'");
    if min != 0 {
        l.push_str(&format!(" min='{min}'"));
    }
    l.push_str(&format!(
        " unit='{unit}' type='{}' maxAllocs='{}'/>",
        esc_attr(&c.type_),
        c.max_allocs
    ));
    l
}

/// `virCapabilitiesFormatResctrlMonitor`: nothing without features.
fn format_monitor(w: &mut Buf, m: &ResctrlMonitor) {
    if m.features.is_empty() {
        return;
    }
    let mut l = String::from("<monitor ");
    if let Some((level, reuse)) = m.cache {
        l.push_str(&format!("level='{level}' reuseThreshold='{reuse}' "));
    }
    l.push_str(&format!("maxMonitors='{}'>", m.max_monitors));
    w.open(&l);
    for f in &m.features {
        w.line(&format!("<feature name='{}'/>", esc_attr(f)));
    }
    w.close("monitor");
}

/// `virFormatIntPretty`: a byte count in the largest binary unit that divides it.
pub fn format_int_pretty(val: u64) -> (u64, &'static str) {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if val == 0 || !val.is_multiple_of(1024) {
        return (val, "B");
    }
    let mut v = val / 1024;
    for unit in &UNITS[..4] {
        if !v.is_multiple_of(1024) {
            return (v, unit);
        }
        v /= 1024;
    }
    (v, UNITS[4])
}

/// `virCPUDefFormatBuf` for a host-type CPU definition.
fn format_host_cpu(w: &mut Buf, c: &HostCpuDef) {
    if let Some(m) = &c.model {
        text(w, "model", m);
    }
    if let Some(v) = &c.vendor {
        text(w, "vendor", v);
    }
    if let Some(m) = c.microcode.filter(|m| *m != 0) {
        w.line(&format!("<microcode version='{m}'/>"));
    }
    if let Some((f, m, s)) = c.signature.filter(|s| s.0 != 0) {
        w.line(&format!(
            "<signature family='{f}' model='{m}' stepping='{s}'/>"
        ));
    }
    if let Some(t) = &c.tsc {
        let mut l = format!("<counter name='tsc' frequency='{}'", t.frequency);
        if let Some(s) = t.scaling {
            l.push_str(if s { " scaling='yes'" } else { " scaling='no'" });
        }
        l.push_str("/>");
        w.line(&l);
    }
    if let Some((s, d, co, t)) = c
        .topology
        .filter(|t| t.0 != 0 && t.1 != 0 && t.2 != 0 && t.3 != 0)
    {
        w.line(&format!(
            "<topology sockets='{s}' dies='{d}' cores='{co}' threads='{t}'/>"
        ));
    }
    if let Some((mode, bits)) = c.maxphysaddr {
        let mode = match mode {
            MaxPhysAddrMode::Emulate => "emulate",
            MaxPhysAddrMode::Passthrough => "passthrough",
        };
        match bits {
            Some(b) => w.line(&format!("<maxphysaddr mode='{mode}' bits='{b}'/>")),
            None => w.line(&format!("<maxphysaddr mode='{mode}'/>")),
        }
    }
    for f in &c.features {
        w.line(&format!("<feature name='{}'/>", esc_attr(f)));
    }
}

/// The position of a guest feature in libvirt's fixed order (unknown names last).
pub(crate) fn guest_feature_rank(name: &str) -> usize {
    GUEST_FEATURE_ORDER
        .iter()
        .position(|n| *n == name)
        .unwrap_or(usize::MAX)
}

fn format_guest(w: &mut Buf, g: &Guest) {
    w.open("<guest>");
    text(w, "os_type", &g.os_type);
    w.line(&format!("<arch name='{}'>", esc_attr(&g.arch)));
    w.indent();
    w.line(&format!("<wordsize>{}</wordsize>", g.wordsize));
    if let Some(e) = &g.emulator {
        w.line(&format!("<emulator>{}</emulator>", esc_text(e)));
    }
    if let Some(l) = &g.loader {
        w.line(&format!("<loader>{}</loader>", esc_text(l)));
    }
    for m in &g.machines {
        format_machine(w, m, true);
    }
    for d in &g.domains {
        let t = esc_attr(&d.type_);
        if d.emulator.is_none() && d.loader.is_none() && d.machines.is_empty() {
            w.line(&format!("<domain type='{t}'/>"));
            continue;
        }
        w.open(&format!("<domain type='{t}'>"));
        if let Some(e) = &d.emulator {
            w.line(&format!("<emulator>{}</emulator>", esc_text(e)));
        }
        if let Some(l) = &d.loader {
            w.line(&format!("<loader>{}</loader>", esc_text(l)));
        }
        for m in &d.machines {
            format_machine(w, m, false);
        }
        w.close("domain");
    }
    w.close("arch");
    let mut feats: Vec<&GuestFeature> = g.features.iter().collect();
    feats.sort_by_key(|f| guest_feature_rank(&f.name));
    if !feats.is_empty() {
        w.open("<features>");
        for f in feats {
            let mut l = format!("<{}", f.name);
            if let Some(d) = f.default_on {
                l.push_str(if d { " default='on'" } else { " default='off'" });
            }
            if let Some(t) = f.toggle {
                l.push_str(if t { " toggle='yes'" } else { " toggle='no'" });
            }
            l.push_str("/>");
            w.line(&l);
        }
        w.close("features");
    }
    w.close("guest");
    w.blank();
}

/// Internals the parser's tests check directly.
#[cfg(test)]
pub(crate) mod tests_support {
    /// One `<control>` line.
    pub(crate) fn control(c: super::CacheControl) -> String {
        super::format_cache_control(&c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lists_compress_ranges() {
        assert_eq!(format_id_list(&[0, 1, 2, 3, 5, 7, 8]), "0-3,5,7-8");
        assert_eq!(format_id_list(&[4]), "4");
        assert_eq!(format_id_list(&[]), "");
    }

    #[test]
    fn sizes_print_in_the_largest_dividing_unit() {
        assert_eq!(format_int_pretty(0), (0, "B"));
        assert_eq!(format_int_pretty(1000), (1000, "B"));
        assert_eq!(format_int_pretty(32 * 1024 * 1024), (32, "MiB"));
        assert_eq!(format_int_pretty(1536 * 1024), (1536, "KiB"));
        assert_eq!(format_int_pretty(1 << 50), (1, "PiB"));
        assert_eq!(format_int_pretty(3 << 40), (3, "TiB"));
    }

    #[test]
    fn host_cpu_and_caches_follow_libvirt() {
        let mut c = Capabilities::test_driver(&[], false);
        c.host.uuid = Some([0; 16]);
        c.host.cpu = HostCpuDef {
            vendor: Some("AMD".into()),
            microcode: Some(0),
            signature: Some((25, 1, 1)),
            topology: Some((1, 1, 4, 2)),
            maxphysaddr: Some((MaxPhysAddrMode::Emulate, Some(48))),
            ..Default::default()
        };
        c.host.caches = vec![CacheBank {
            id: 0,
            level: 3,
            type_: "both".into(),
            size_bytes: 32 << 20,
            cpus: vec![0, 1, 2, 3],
            controls: Vec::new(),
        }];
        let x = c.format();
        // An all-equal UUID is not a UUID (virUUIDIsValid); microcode 0 is not printed.
        assert!(!x.contains("<uuid>") && !x.contains("microcode"), "{x}");
        assert!(x.contains(
            "      </features>\n      <vendor>AMD</vendor>\n      <signature family='25' model='1' stepping='1'/>\n      <topology sockets='1' dies='1' cores='4' threads='2'/>\n      <maxphysaddr mode='emulate' bits='48'/>\n      <pages unit='KiB' size='4'/>\n"
        ));
        assert!(x.contains(
            "    </topology>\n    <cache>\n      <bank id='0' level='3' type='both' size='32' unit='MiB' cpus='0-3'/>\n    </cache>\n    <secmodel>\n"
        ));
    }

    #[test]
    fn empty_numa_prints_zero_cells() {
        let c = Capabilities::test_driver(&[], false);
        let x = c.format();
        assert!(x.starts_with("<capabilities>\n\n  <host>\n    <cpu>\n      <arch>i686</arch>\n"));
        assert!(
            x.contains("    <topology>\n      <cells num='0'>\n      </cells>\n    </topology>\n")
        );
        assert!(x.ends_with("  </guest>\n\n</capabilities>\n"));
    }
}
