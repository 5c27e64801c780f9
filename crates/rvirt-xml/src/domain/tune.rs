//! Host resource tuning of a domain: `<blkiotune>`, `<memtune>`, `<memoryBacking>`,
//! `<iothreads>`/`<iothreadids>`/`<defaultiothread>`, `<cputune>` (with `<cachetune>` and
//! `<memorytune>` resource-control groups), `<resource>`, `<perf>` and `<idmap>`
//! (`virDomainDefTunablesParse`, `virDomainDefParseMemory` and their formatters in
//! `domain_conf.c`, `virresctrl.c` for the allocation bookkeeping).

use super::bitmap::Bitmap;
use super::buf::Buf;
use super::cpu::{Vcpus, CPUMASK_LEN};
use super::xml::{
    child, first, memory_kib, parse_scaled, prop, prop_enum_required, prop_int, prop_uint_required,
    prop_yes_no, report, select, str_to_ui, str_to_ull, unsupported, xml_enum, xml_error,
    xml_util_error, xpath_ll, xpath_ull, xstring, Node, Result, XmlEnum,
};
use rvirt_proto::error::{code, domain};
use std::collections::BTreeMap;

/// `VIR_DOMAIN_MEMORY_PARAM_UNLIMITED`: a memory limit that is not set.
pub const MEMORY_UNLIMITED: u64 = 9_007_199_254_740_991;

// ---- blkiotune ------------------------------------------------------------------------------

/// `<blkiotune><device>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlkioDevice {
    /// `<path>`.
    pub path: String,
    /// `<weight>`.
    pub weight: u32,
    /// `<read_iops_sec>`.
    pub riops: u32,
    /// `<write_iops_sec>`.
    pub wiops: u32,
    /// `<read_bytes_sec>`.
    pub rbps: u64,
    /// `<write_bytes_sec>`.
    pub wbps: u64,
}

/// `<blkiotune>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Blkiotune {
    /// `<weight>` (0: unset).
    pub weight: u32,
    /// `<device>`s.
    pub devices: Vec<BlkioDevice>,
}

pub(super) fn parse_blkiotune(root: Node) -> Result<Blkiotune> {
    // libvirt ignores a malformed weight.
    let weight = xpath_uint_or_zero(root, "blkiotune/weight");
    let mut devices = Vec::new();
    for n in select(root, "blkiotune/device") {
        let Some(path) = xstring(n, "path") else {
            return Err(unsupported("missing per-device path"));
        };
        let mut d = BlkioDevice {
            path,
            ..Default::default()
        };
        let ui = |name: &str, what: &str| -> Result<u32> {
            match xstring(n, name) {
                None => Ok(0),
                Some(s) => str_to_ui(&s, 10)
                    .ok_or_else(|| unsupported(format!("could not parse {what} {s}"))),
            }
        };
        let ull = |name: &str, what: &str| -> Result<u64> {
            match xstring(n, name) {
                None => Ok(0),
                Some(s) => str_to_ull(&s, 10)
                    .ok_or_else(|| unsupported(format!("could not parse {what} {s}"))),
            }
        };
        d.weight = ui("weight", "weight")?;
        d.rbps = ull("read_bytes_sec", "read bytes sec")?;
        d.wbps = ull("write_bytes_sec", "write bytes sec")?;
        d.riops = ui("read_iops_sec", "read iops sec")?;
        d.wiops = ui("write_iops_sec", "write iops sec")?;
        devices.push(d);
    }
    Ok(Blkiotune { weight, devices })
}

fn xpath_uint_or_zero(n: Node, path: &str) -> u32 {
    super::xml::xpath_uint(n, path, None)
        .ok()
        .flatten()
        .unwrap_or(0)
}

pub(super) fn format_blkiotune(b: &mut Buf, t: &Blkiotune) {
    let mut k = b.child();
    if t.weight != 0 {
        k.add(&format!("<weight>{}</weight>\n", t.weight));
    }
    for d in &t.devices {
        if d.weight == 0 && d.riops == 0 && d.wiops == 0 && d.rbps == 0 && d.wbps == 0 {
            continue;
        }
        k.add("<device>\n");
        k.adjust(2);
        k.esc("<path>%s</path>\n", Some(&d.path));
        if d.weight != 0 {
            k.add(&format!("<weight>{}</weight>\n", d.weight));
        }
        if d.riops != 0 {
            k.add(&format!("<read_iops_sec>{}</read_iops_sec>\n", d.riops));
        }
        if d.wiops != 0 {
            k.add(&format!("<write_iops_sec>{}</write_iops_sec>\n", d.wiops));
        }
        if d.rbps != 0 {
            k.add(&format!("<read_bytes_sec>{}</read_bytes_sec>\n", d.rbps));
        }
        if d.wbps != 0 {
            k.add(&format!("<write_bytes_sec>{}</write_bytes_sec>\n", d.wbps));
        }
        k.adjust(-2);
        k.add("</device>\n");
    }
    b.element("blkiotune", Buf::new(), k);
}

pub(super) fn validate_blkiotune(t: &Blkiotune) -> Result<()> {
    for (i, d) in t.devices.iter().enumerate() {
        if t.devices[..i].iter().any(|e| e.path == d.path) {
            return Err(unsupported(format!(
                "duplicate blkio device path '{}'",
                d.path
            )));
        }
    }
    Ok(())
}

// ---- memtune --------------------------------------------------------------------------------

/// `<memtune>`, in KiB ([`MEMORY_UNLIMITED`]: not set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memtune {
    /// `<hard_limit>`.
    pub hard_limit: u64,
    /// `<soft_limit>`.
    pub soft_limit: u64,
    /// `<min_guarantee>` (0: not set).
    pub min_guarantee: u64,
    /// `<swap_hard_limit>`.
    pub swap_hard_limit: u64,
}

impl Default for Memtune {
    fn default() -> Self {
        Self {
            hard_limit: MEMORY_UNLIMITED,
            soft_limit: MEMORY_UNLIMITED,
            min_guarantee: 0,
            swap_hard_limit: MEMORY_UNLIMITED,
        }
    }
}

/// `virDomainParseMemoryLimit`.
fn memory_limit(root: Node, path: &str, xpath_text: &str) -> Result<u64> {
    let v = parse_scaled(
        xstring(root, path),
        super::xml::xattr(root, path, "unit"),
        xpath_text,
        1024,
        MEMORY_UNLIMITED << 10,
        false,
    )?;
    Ok(match v {
        None => MEMORY_UNLIMITED,
        Some(bytes) => bytes.div_ceil(1024).min(MEMORY_UNLIMITED),
    })
}

pub(super) fn parse_memtune(root: Node) -> Result<Memtune> {
    Ok(Memtune {
        hard_limit: memory_limit(root, "memtune/hard_limit", "./memtune/hard_limit[1]")?,
        soft_limit: memory_limit(root, "memtune/soft_limit", "./memtune/soft_limit[1]")?,
        min_guarantee: super::xml::parse_memory(
            root,
            "memtune/min_guarantee",
            "./memtune/min_guarantee[1]",
            false,
        )?
        .unwrap_or(0),
        swap_hard_limit: memory_limit(
            root,
            "memtune/swap_hard_limit",
            "./memtune/swap_hard_limit[1]",
        )?,
    })
}

pub(super) fn format_memtune(b: &mut Buf, m: &Memtune) {
    let mut k = b.child();
    if m.hard_limit < MEMORY_UNLIMITED {
        k.add(&format!(
            "<hard_limit unit='KiB'>{}</hard_limit>\n",
            m.hard_limit
        ));
    }
    if m.soft_limit < MEMORY_UNLIMITED {
        k.add(&format!(
            "<soft_limit unit='KiB'>{}</soft_limit>\n",
            m.soft_limit
        ));
    }
    if m.min_guarantee != 0 {
        k.add(&format!(
            "<min_guarantee unit='KiB'>{}</min_guarantee>\n",
            m.min_guarantee
        ));
    }
    if m.swap_hard_limit < MEMORY_UNLIMITED {
        k.add(&format!(
            "<swap_hard_limit unit='KiB'>{}</swap_hard_limit>\n",
            m.swap_hard_limit
        ));
    }
    b.element("memtune", Buf::new(), k);
}

// ---- memoryBacking --------------------------------------------------------------------------

xml_enum! {
    /// `virDomainMemorySource`.
    pub enum MemorySource { None = "none", File = "file", Anonymous = "anonymous", Memfd = "memfd" }
}

xml_enum! {
    /// `virDomainMemoryAccess`.
    pub enum MemoryAccess { Default = "default", Shared = "shared", Private = "private" }
}

xml_enum! {
    /// `virDomainMemoryAllocation`.
    pub enum MemoryAllocation { None = "none", Immediate = "immediate", Ondemand = "ondemand" }
}

/// `<hugepages><page>`: size 0 stands for `<hugepages/>` without pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HugePage {
    /// `size=` in KiB.
    pub size: u64,
    /// `nodeset=`.
    pub nodemask: Option<Bitmap>,
}

/// `<memoryBacking>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemoryBacking {
    /// `<hugepages>` (empty: none).
    pub hugepages: Vec<HugePage>,
    /// `<nosharepages/>`.
    pub nosharepages: bool,
    /// `<locked/>`.
    pub locked: bool,
    /// `<source type=…>`.
    pub source: Option<MemorySource>,
    /// `<access mode=…>`.
    pub access: Option<MemoryAccess>,
    /// `<allocation mode=…>`.
    pub allocation: Option<MemoryAllocation>,
    /// `<allocation threads=…>` (0: unset).
    pub allocation_threads: u32,
    /// `<discard/>`.
    pub discard: bool,
}

/// The `<memoryBacking>` part of `virDomainDefParseMemory`.
pub(super) fn parse_memory_backing(root: Node) -> Result<MemoryBacking> {
    let mut m = MemoryBacking::default();
    fn nonzero<T: XmlEnum>(root: Node, elem: &str, attr: &str) -> Result<Option<T>> {
        let Some(s) = super::xml::xattr(root, &format!("memoryBacking/{elem}"), attr) else {
            return Ok(None);
        };
        match T::parse(&s) {
            Some(v) if v.index() > 0 => Ok(Some(v)),
            _ => Err(unsupported(format!(
                "unknown memoryBacking/{elem}/{attr} '{s}'"
            ))),
        }
    }
    m.source = nonzero(root, "source", "type")?;
    m.access = nonzero(root, "access", "mode")?;
    m.allocation = nonzero(root, "allocation", "mode")?;
    match super::xml::xpath_uint(root, "memoryBacking/allocation", Some("threads")) {
        Ok(v) => m.allocation_threads = v.unwrap_or(0),
        Err(()) => return Err(xml_error("Failed to parse memory allocation threads")),
    }
    if first(root, "memoryBacking/hugepages").is_some() {
        let pages = select(root, "memoryBacking/hugepages/page");
        if pages.is_empty() {
            m.hugepages.push(HugePage {
                size: 0,
                nodemask: None,
            });
        }
        for p in pages {
            let size =
                memory_kib(prop(&p, "size"), prop(&p, "unit"), "./@size", true)?.unwrap_or(0);
            if size == 0 {
                return Err(report(
                    code::XML_DETAIL,
                    domain::DOMAIN,
                    "hugepage size can't be zero",
                ));
            }
            let nodemask = match prop(&p, "nodeset") {
                None => None,
                Some(s) => {
                    let b = Bitmap::parse(&s, CPUMASK_LEN)?;
                    if b.is_all_clear() {
                        return Err(unsupported(format!("Invalid value of 'nodeset': {s}")));
                    }
                    Some(b)
                }
            };
            m.hugepages.push(HugePage { size, nodemask });
        }
    }
    m.nosharepages = first(root, "memoryBacking/nosharepages").is_some();
    m.locked = first(root, "memoryBacking/locked").is_some();
    m.discard = first(root, "memoryBacking/discard").is_some();
    Ok(m)
}

pub(super) fn format_memory_backing(b: &mut Buf, m: &MemoryBacking) {
    let mut k = b.child();
    if !m.hugepages.is_empty() {
        let mut pk = k.child();
        if m.hugepages.len() != 1 || m.hugepages[0].size != 0 {
            for p in &m.hugepages {
                pk.add(&format!("<page size='{}' unit='KiB'", p.size));
                if let Some(n) = &p.nodemask {
                    pk.add(&format!(" nodeset='{}'", n.format()));
                }
                pk.add("/>\n");
            }
        }
        k.element_empty("hugepages", Buf::new(), pk);
    }
    if m.nosharepages {
        k.add("<nosharepages/>\n");
    }
    if m.locked {
        k.add("<locked/>\n");
    }
    if let Some(s) = m.source {
        k.add(&format!("<source type='{}'/>\n", s.as_str()));
    }
    if let Some(a) = m.access {
        k.add(&format!("<access mode='{}'/>\n", a.as_str()));
    }
    let mut aa = Buf::new();
    if let Some(a) = m.allocation {
        aa.add(&format!(" mode='{}'", a.as_str()));
    }
    if m.allocation_threads > 0 {
        aa.add(&format!(" threads='{}'", m.allocation_threads));
    }
    k.element("allocation", aa, Buf::new());
    if m.discard {
        k.add("<discard/>\n");
    }
    b.element("memoryBacking", Buf::new(), k);
}

/// `virDomainDefPostParseMemtune`: without guest NUMA, a page bound to node 0 only applies to
/// all memory.
pub(super) fn post_parse_hugepages(m: &mut MemoryBacking, numa_cells: usize) {
    if numa_cells == 0 {
        for p in &mut m.hugepages {
            if p.nodemask
                .as_ref()
                .is_some_and(|n| n.next_set_after(0).is_none())
            {
                p.nodemask = None;
            }
        }
    }
}

/// `virDomainDefMemtuneValidate`.
pub(super) fn validate_hugepages(m: &MemoryBacking, numa_cells: usize) -> Result<()> {
    let detail = |s: String| report(code::XML_DETAIL, domain::DOMAIN, s);
    let pos = numa_cells as i64 - 1;
    for (i, p) in m.hugepages.iter().enumerate() {
        for q in &m.hugepages[..i] {
            match (&p.nodemask, &q.nodemask) {
                (Some(a), Some(b)) if a.overlaps(b) => {
                    return Err(detail(format!(
                        "nodeset attribute of hugepages of sizes {} and {} intersect",
                        p.size, q.size
                    )))
                }
                (None, None) => {
                    return Err(detail(format!(
                        "two master hugepages detected: {} and {}",
                        p.size, q.size
                    )))
                }
                _ => {}
            }
        }
        if let Some(n) = &p.nodemask {
            if let Some(bit) = n.next_set_after(pos) {
                return Err(detail(format!("hugepages: node {bit} not found")));
            }
        }
    }
    Ok(())
}

// ---- iothreads ------------------------------------------------------------------------------

xml_enum! {
    /// `virProcessSchedPolicy`.
    pub enum SchedPolicy { None = "none", Batch = "batch", Idle = "idle", Fifo = "fifo", Rr = "rr" }
}

/// A thread's scheduler (`virDomainThreadSchedParam`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sched {
    /// `scheduler=`.
    pub policy: SchedPolicy,
    /// `priority=` (fifo and rr).
    pub priority: i32,
}

/// An I/O thread (`<iothreadids><iothread>`, `virDomainIOThreadIDDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoThread {
    /// `id=`.
    pub id: u32,
    /// Added to reach the `<iothreads>` count rather than listed.
    pub autofill: bool,
    /// `thread_pool_min=` (-1: unset).
    pub pool_min: i32,
    /// `thread_pool_max=` (-1: unset).
    pub pool_max: i32,
    /// `<cputune><iothreadpin>`.
    pub cpumask: Option<Bitmap>,
    /// `<cputune><iothreadsched>`.
    pub sched: Option<Sched>,
}

/// I/O threads and the default thread pool.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IoThreads {
    /// The threads, in definition order (listed ones first, then filled-in ones).
    pub threads: Vec<IoThread>,
    /// `<defaultiothread thread_pool_min thread_pool_max>`.
    pub default_pool: Option<(i32, i32)>,
}

fn pool_attrs(n: &Node) -> Result<(i32, i32)> {
    Ok((
        prop_int(n, "thread_pool_min", 10, true, false)?.unwrap_or(-1),
        prop_int(n, "thread_pool_max", 10, true, false)?.unwrap_or(-1),
    ))
}

/// `virDomainDefParseIOThreads`.
pub(super) fn parse_iothreads(root: Node) -> Result<IoThreads> {
    let mut count = match xstring(root, "iothreads") {
        None => 0,
        Some(s) => super::xml::str_to_uip(&s, 10)
            .ok_or_else(|| xml_error(format!("invalid iothreads count '{s}'")))?,
    };
    let mut t = IoThreads::default();
    if let Some(d) = child(root, "defaultiothread") {
        let p = pool_attrs(&d)?;
        if p != (-1, -1) {
            t.default_pool = Some(p);
        }
    }
    let nodes = select(root, "iothreadids/iothread");
    count = count.max(nodes.len() as u32);
    for n in nodes {
        let id = prop_uint_required(&n, "id", 10, true)?;
        let (pool_min, pool_max) = pool_attrs(&n)?;
        if t.threads.iter().any(|x| x.id == id) {
            return Err(xml_error(format!("duplicate iothread id '{id}' found")));
        }
        t.threads.push(IoThread {
            id,
            autofill: false,
            pool_min,
            pool_max,
            cpumask: None,
            sched: None,
        });
    }
    // virDomainIOThreadIDDefArrayInit: fill in the lowest unused ids.
    let mut next = 1u32;
    while (t.threads.len() as u32) < count {
        while t.threads.iter().any(|x| x.id == next) {
            next += 1;
        }
        t.threads.push(IoThread {
            id: next,
            autofill: true,
            pool_min: -1,
            pool_max: -1,
            cpumask: None,
            sched: None,
        });
        next += 1;
    }
    Ok(t)
}

pub(super) fn format_iothreads(b: &mut Buf, t: &IoThreads) {
    if !t.threads.is_empty() {
        b.add(&format!("<iothreads>{}</iothreads>\n", t.threads.len()));
    }
    if t.threads
        .iter()
        .any(|x| !x.autofill || x.pool_min >= 0 || x.pool_max >= 0)
    {
        let mut k = b.child();
        for x in &t.threads {
            let mut a = Buf::new();
            a.add(&format!(" id='{}'", x.id));
            pool_format(&mut a, x.pool_min, x.pool_max);
            k.element("iothread", a, Buf::new());
        }
        b.element("iothreadids", Buf::new(), k);
    }
    if let Some((min, max)) = t.default_pool {
        let mut a = Buf::new();
        pool_format(&mut a, min, max);
        b.element("defaultiothread", a, Buf::new());
    }
}

fn pool_format(a: &mut Buf, min: i32, max: i32) {
    if min >= 0 {
        a.add(&format!(" thread_pool_min='{min}'"));
    }
    if max >= 0 {
        a.add(&format!(" thread_pool_max='{max}'"));
    }
}

/// `virDomainDefValidateIOThreads`.
pub(super) fn validate_iothreads(t: &IoThreads) -> Result<()> {
    let check = |min: i32, max: i32| -> Result<()> {
        if max == 0 {
            return Err(unsupported("thread_pool_max must be a positive integer"));
        }
        if min > max {
            return Err(unsupported(
                "thread_pool_min must be smaller or equal to thread_pool_max",
            ));
        }
        Ok(())
    };
    for x in &t.threads {
        check(x.pool_min, x.pool_max)?;
    }
    if let Some((min, max)) = t.default_pool {
        check(min, max)?;
    }
    Ok(())
}

// ---- cputune --------------------------------------------------------------------------------

xml_enum! {
    /// `virCacheType`.
    pub enum CacheType { Both = "both", Code = "code", Data = "data" }
}

/// A resource-control monitor (`<cachetune><monitor>`, `<memorytune><monitor>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResctrlMonitor {
    /// Whether it monitors the cache (else memory bandwidth).
    pub cache: bool,
    /// `vcpus=`.
    pub vcpus: Bitmap,
}

/// A resource-control group shared by `<cachetune>` and `<memorytune>` with the same vCPUs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resctrl {
    /// The vCPUs.
    pub vcpus: Bitmap,
    /// Cache sizes in bytes by (level, type, cache id).
    pub caches: BTreeMap<(u32, usize, u32), u64>,
    /// Memory bandwidth percentages by node id; `Some` once any was set.
    pub mem_bw: Option<BTreeMap<u32, u32>>,
    /// Monitors.
    pub monitors: Vec<ResctrlMonitor>,
}

impl Resctrl {
    fn is_empty(&self) -> bool {
        self.mem_bw.is_none() && self.caches.is_empty()
    }
}

/// `<cputune>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cputune {
    /// `<shares>`.
    pub shares: Option<u64>,
    /// `<period>`.
    pub period: u64,
    /// `<quota>`.
    pub quota: i64,
    /// `<global_period>`.
    pub global_period: u64,
    /// `<global_quota>`.
    pub global_quota: i64,
    /// `<emulator_period>`.
    pub emulator_period: u64,
    /// `<emulator_quota>`.
    pub emulator_quota: i64,
    /// `<iothread_period>`.
    pub iothread_period: u64,
    /// `<iothread_quota>`.
    pub iothread_quota: i64,
    /// `<emulatorpin cpuset>`.
    pub emulatorpin: Option<Bitmap>,
    /// `<emulatorsched>`.
    pub emulatorsched: Option<Sched>,
    /// `<cachetune>`/`<memorytune>` groups.
    pub resctrls: Vec<Resctrl>,
}

fn sched_common(n: &Node) -> Result<Sched> {
    let policy: SchedPolicy = prop_enum_required(n, "scheduler", true)?;
    let priority = if matches!(policy, SchedPolicy::Fifo | SchedPolicy::Rr) {
        match prop_int(n, "priority", 10, false, false)? {
            Some(p) => p,
            None => {
                return Err(xml_util_error(format!(
                    "Missing required attribute 'priority' in element '{}'",
                    n.tag_name().name()
                )))
            }
        }
    } else {
        0
    };
    Ok(Sched { policy, priority })
}

/// `virDomainSchedulerParse`: the thread set and the scheduler.
fn sched_threads(n: &Node, element: &str, attr: &str) -> Result<(Bitmap, Sched)> {
    let Some(s) = prop(n, attr) else {
        return Err(xml_error(format!(
            "Missing attribute '{attr}' in element '{element}'"
        )));
    };
    let map = Bitmap::parse(&s, CPUMASK_LEN)?;
    if map.is_all_clear() {
        return Err(unsupported(format!(
            "'{attr}' scheduler bitmap '{s}' is empty"
        )));
    }
    Ok((map, sched_common(n)?))
}

fn cpuset_attr(n: &Node, what: &str) -> Result<Bitmap> {
    let Some(s) = prop(n, "cpuset") else {
        return Err(super::xml::internal(format!("missing cpuset for {what}")));
    };
    let b = Bitmap::parse(&s, CPUMASK_LEN)?;
    if b.is_all_clear() {
        return Err(unsupported(format!("Invalid value of 'cpuset': {s}")));
    }
    Ok(b)
}

/// The `<cputune>` part of `virDomainDefTunablesParse`; pins and schedulers of vCPUs and I/O
/// threads are stored in `vcpus` and `iothreads`.
pub(super) fn parse_cputune(
    root: Node,
    vcpus: &mut Vcpus,
    iothreads: &mut IoThreads,
) -> Result<Cputune> {
    let mut t = Cputune::default();
    match xpath_ull(root, "cputune/shares", None) {
        Ok(v) => t.shares = v,
        Err(()) => return Err(xml_error("can't parse cputune shares value")),
    }
    let ull = |path: &str, what: &str| -> Result<u64> {
        xpath_ull(root, path, None)
            .map(|v| v.unwrap_or(0))
            .map_err(|()| xml_error(format!("can't parse cputune {what} value")))
    };
    let ll = |path: &str, what: &str| -> Result<i64> {
        xpath_ll(root, path)
            .map(|v| v.unwrap_or(0))
            .map_err(|()| xml_error(format!("can't parse cputune {what} value")))
    };
    t.period = ull("cputune/period", "period")?;
    t.quota = ll("cputune/quota", "quota")?;
    t.global_period = ull("cputune/global_period", "global period")?;
    t.global_quota = ll("cputune/global_quota", "global quota")?;
    t.emulator_period = ull("cputune/emulator_period", "emulator period")?;
    t.emulator_quota = ll("cputune/emulator_quota", "emulator quota")?;
    t.iothread_period = ull("cputune/iothread_period", "iothread period")?;
    t.iothread_quota = ll("cputune/iothread_quota", "iothread quota")?;

    for n in select(root, "cputune/vcpupin") {
        let id = prop_uint_required(&n, "vcpu", 10, false)?;
        let Some(v) = vcpus.per.get_mut(id as usize) else {
            continue;
        };
        let Some(s) = prop(&n, "cpuset") else {
            return Err(super::xml::internal("missing cpuset for vcpupin"));
        };
        if v.cpumask.is_some() {
            return Err(super::xml::internal(format!(
                "duplicate vcpupin for vcpu '{id}'"
            )));
        }
        let b = Bitmap::parse(&s, CPUMASK_LEN)?;
        if b.is_all_clear() {
            return Err(unsupported(format!("Invalid value of 'cpuset': {s}")));
        }
        v.cpumask = Some(b);
    }
    let pins = select(root, "cputune/emulatorpin");
    if pins.len() > 1 {
        return Err(xml_error("only one emulatorpin is supported"));
    }
    if let Some(n) = pins.first() {
        t.emulatorpin = Some(cpuset_attr(n, "emulatorpin")?);
    }
    for n in select(root, "cputune/iothreadpin") {
        let id = prop_uint_required(&n, "iothread", 10, true)?;
        let Some(i) = iothreads.threads.iter().position(|x| x.id == id) else {
            return Err(unsupported(format!("Cannot find 'iothread' : {id}")));
        };
        let mask = cpuset_attr(&n, "iothreadpin")?;
        if iothreads.threads[i].cpumask.is_some() {
            return Err(super::xml::internal(format!(
                "duplicate iothreadpin for same iothread '{id}'"
            )));
        }
        iothreads.threads[i].cpumask = Some(mask);
    }
    for n in select(root, "cputune/vcpusched") {
        let (map, sched) = sched_threads(&n, "vcpusched", "vcpus")?;
        for id in map.iter() {
            let Some(v) = vcpus.per.get_mut(id as usize) else {
                return Err(unsupported(format!(
                    "vCPU '{id}' is not present in domain definition"
                )));
            };
            if v.sched.is_some() {
                return Err(report(
                    code::XML_DETAIL,
                    domain::DOMAIN,
                    "'vcpusched' attributes 'vcpus' must not overlap",
                ));
            }
            v.sched = Some(sched);
        }
    }
    for n in select(root, "cputune/iothreadsched") {
        let (map, sched) = sched_threads(&n, "iothreadsched", "iothreads")?;
        for id in map.iter() {
            let Some(x) = iothreads.threads.iter_mut().find(|x| x.id == id) else {
                return Err(unsupported(format!("Cannot find 'iothread' : {id}")));
            };
            if x.sched.is_some() {
                return Err(report(
                    code::XML_DETAIL,
                    domain::DOMAIN,
                    "'iothreadsched' attributes 'iothreads' must not overlap",
                ));
            }
            x.sched = Some(sched);
        }
    }
    let scheds = select(root, "cputune/emulatorsched");
    if scheds.len() > 1 {
        return Err(xml_error("only one emulatorsched is supported"));
    }
    if let Some(n) = scheds.first() {
        t.emulatorsched = Some(sched_common(n)?);
    }
    for n in select(root, "cputune/cachetune") {
        parse_cachetune(&mut t.resctrls, n, vcpus.max)?;
    }
    for n in select(root, "cputune/memorytune") {
        parse_memorytune(&mut t.resctrls, n, vcpus.max)?;
    }
    Ok(t)
}

/// `virDomainResctrlParseVcpus`.
fn resctrl_vcpus(n: &Node, max: u32) -> Result<Bitmap> {
    let el = n.tag_name().name();
    let Some(s) = prop(n, "vcpus") else {
        return Err(xml_error(format!("Missing {el} attribute 'vcpus'")));
    };
    let b = Bitmap::parse(&s, CPUMASK_LEN)
        .map_err(|_| xml_error(format!("Invalid {el} attribute 'vcpus' value '{s}'")))?;
    Ok(Bitmap::from_bits(b.iter().filter(|v| *v < max), max))
}

/// `virDomainResctrlVcpuMatch`: the group with exactly these vCPUs.
fn resctrl_match(groups: &[Resctrl], vcpus: &Bitmap) -> Result<Option<usize>> {
    for (i, g) in groups.iter().enumerate() {
        if same_bits(&g.vcpus, vcpus) {
            return Ok(Some(i));
        }
        if g.vcpus.overlaps(vcpus) {
            return Err(xml_error("Overlapping vcpus in resctrls"));
        }
    }
    Ok(None)
}

fn same_bits(a: &Bitmap, b: &Bitmap) -> bool {
    a.iter().eq(b.iter())
}

/// `VIR_ERR_XML_ERROR` raised by `virresctrl.c` (domain `VIR_FROM_RESCTRL`).
fn resctrl_error(detail: String) -> crate::XmlError {
    report(code::XML_ERROR, domain::RESCTRL, detail)
}

fn parse_cachetune(groups: &mut Vec<Resctrl>, n: Node, max: u32) -> Result<()> {
    let vcpus = resctrl_vcpus(&n, max)?;
    if vcpus.is_all_clear() {
        return Ok(());
    }
    let caches = super::xml::children(n, "cache").collect::<Vec<_>>();
    if resctrl_match(groups, &vcpus)?.is_some() {
        return Err(xml_error("Identical vcpus in cachetunes found"));
    }
    let mut g = Resctrl {
        vcpus,
        caches: BTreeMap::new(),
        mem_bw: None,
        monitors: Vec::new(),
    };
    for c in &caches {
        let id = prop_uint_required(c, "id", 10, false)?;
        let level = prop_uint_required(c, "level", 10, false)?;
        let type_: CacheType = prop_enum_required(c, "type", false)?;
        let size = parse_scaled(
            prop(c, "size"),
            prop(c, "unit"),
            "./@size",
            1024,
            u64::MAX,
            true,
        )?
        .unwrap_or(0);
        let t = type_.index();
        let collides = g.caches.contains_key(&(level, 0, id))
            || if type_ == CacheType::Both {
                g.caches.contains_key(&(level, 1, id)) || g.caches.contains_key(&(level, 2, id))
            } else {
                g.caches.contains_key(&(level, t, id))
            };
        if collides {
            return Err(resctrl_error(format!(
                "Colliding cache allocations for cache level '{level}' id '{id}', type '{}'",
                type_.as_str()
            )));
        }
        g.caches.insert((level, t, id), size);
    }
    parse_monitors(&mut g, n, true, max)?;
    if g.monitors.is_empty() && caches.is_empty() {
        return Ok(());
    }
    groups.push(g);
    Ok(())
}

fn parse_memorytune(groups: &mut Vec<Resctrl>, n: Node, max: u32) -> Result<()> {
    let vcpus = resctrl_vcpus(&n, max)?;
    if vcpus.is_all_clear() {
        return Ok(());
    }
    let nodes = super::xml::children(n, "node").collect::<Vec<_>>();
    let existing = resctrl_match(groups, &vcpus)?;
    let mut g = match existing {
        Some(i) => groups[i].clone(),
        None => Resctrl {
            vcpus,
            caches: BTreeMap::new(),
            mem_bw: None,
            monitors: Vec::new(),
        },
    };
    for x in &nodes {
        let id = prop_uint_required(x, "id", 10, false)?;
        let bw = prop_uint_required(x, "bandwidth", 10, false)?;
        if bw > 100 {
            return Err(resctrl_error(
                "Memory Bandwidth value exceeding 100 is invalid.".into(),
            ));
        }
        let map = g.mem_bw.get_or_insert_with(BTreeMap::new);
        if map.contains_key(&id) {
            return Err(resctrl_error(format!(
                "Memory Bandwidth already defined for node {id}"
            )));
        }
        map.insert(id, bw);
    }
    let before = g.monitors.len();
    parse_monitors(&mut g, n, false, max)?;
    let added = g.monitors.len() - before;
    match existing {
        Some(i) => groups[i] = g,
        None if added > 0 || !nodes.is_empty() => groups.push(g),
        None => {}
    }
    Ok(())
}

/// `virDomainResctrlMonDefParse` with `virDomainResctrlValidateMonitor`.
fn parse_monitors(g: &mut Resctrl, n: Node, cache: bool, max: u32) -> Result<()> {
    let invalid = |s: &str| report(code::INVALID_ARG, domain::DOMAIN, s);
    for m in super::xml::children(n, "monitor") {
        if cache {
            let level = prop_uint_required(&m, "level", 10, false)?;
            if level != 3 {
                return Err(xml_error(format!("Invalid monitor cache level '{level}'")));
            }
        }
        let vcpus = resctrl_vcpus(&m, max)?;
        if vcpus.is_all_clear() {
            return Err(invalid("vcpus is empty"));
        }
        if vcpus.iter().any(|v| !g.vcpus.contains(v)) {
            return Err(invalid("Monitor vcpus conflicts with allocation"));
        }
        let default_alloc = g.is_empty();
        let equal_to_group = same_bits(&vcpus, &g.vcpus);
        let (mut overlap_any, mut overlap_no_group) = (false, false);
        for x in &g.monitors {
            if same_bits(&vcpus, &x.vcpus) {
                if x.cache != cache {
                    continue;
                }
                return Err(invalid("Identical vcpus found in same type monitors"));
            }
            if vcpus.overlaps(&x.vcpus) {
                overlap_any = true;
            }
            if equal_to_group || same_bits(&x.vcpus, &g.vcpus) {
                continue;
            }
            if vcpus.overlaps(&x.vcpus) {
                overlap_no_group = true;
            }
        }
        if overlap_no_group || (default_alloc && overlap_any) {
            return Err(invalid("vcpus overlaps in resctrl groups"));
        }
        g.monitors.push(ResctrlMonitor { cache, vcpus });
    }
    Ok(())
}

/// `virFormatIntPretty`.
pub(super) fn pretty(v: u64) -> (u64, &'static str) {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if !v.is_multiple_of(1024) || v == 0 {
        return (v, "B");
    }
    let mut limit: u64 = 1024;
    for u in UNITS.iter().take(4) {
        let next = limit.saturating_mul(1024);
        if !v.is_multiple_of(next) {
            return (v / limit, u);
        }
        limit = next;
    }
    (v / limit, UNITS[4])
}

/// `virDomainCputuneDefFormat`.
pub(super) fn format_cputune(b: &mut Buf, t: &Cputune, vcpus: &Vcpus, io: &IoThreads) {
    let mut k = b.child();
    if let Some(s) = t.shares {
        k.add(&format!("<shares>{s}</shares>\n"));
    }
    let u = |k: &mut Buf, name: &str, v: u64| {
        if v != 0 {
            k.add(&format!("<{name}>{v}</{name}>\n"));
        }
    };
    let i = |k: &mut Buf, name: &str, v: i64| {
        if v != 0 {
            k.add(&format!("<{name}>{v}</{name}>\n"));
        }
    };
    u(&mut k, "period", t.period);
    i(&mut k, "quota", t.quota);
    u(&mut k, "global_period", t.global_period);
    i(&mut k, "global_quota", t.global_quota);
    u(&mut k, "emulator_period", t.emulator_period);
    i(&mut k, "emulator_quota", t.emulator_quota);
    u(&mut k, "iothread_period", t.iothread_period);
    i(&mut k, "iothread_quota", t.iothread_quota);
    for (n, v) in vcpus.per.iter().enumerate() {
        if let Some(m) = &v.cpumask {
            k.add(&format!("<vcpupin vcpu='{n}' cpuset='{}'/>\n", m.format()));
        }
    }
    if let Some(m) = &t.emulatorpin {
        k.add(&format!("<emulatorpin cpuset='{}'/>\n", m.format()));
    }
    for x in &io.threads {
        if let Some(m) = &x.cpumask {
            k.add(&format!(
                "<iothreadpin iothread='{}' cpuset='{}'/>\n",
                x.id,
                m.format()
            ));
        }
    }
    if let Some(s) = &t.emulatorsched {
        format_sched(&mut k, "emulator", s, None);
    }
    for (n, v) in vcpus.per.iter().enumerate() {
        if let Some(s) = &v.sched {
            format_sched(&mut k, "vcpu", s, Some(n as u32));
        }
    }
    for x in &io.threads {
        if let Some(s) = &x.sched {
            format_sched(&mut k, "iothread", s, Some(x.id));
        }
    }
    for g in &t.resctrls {
        let mut gk = k.child();
        for ((level, ty, id), size) in &g.caches {
            let (v, unit) = pretty(*size);
            let ty = [CacheType::Both, CacheType::Code, CacheType::Data][*ty];
            gk.add(&format!(
                "<cache id='{id}' level='{level}' type='{}' size='{v}' unit='{unit}'/>\n",
                ty.as_str()
            ));
        }
        for m in g.monitors.iter().filter(|m| m.cache) {
            gk.add(&format!(
                "<monitor level='3' vcpus='{}'/>\n",
                m.vcpus.format()
            ));
        }
        if !gk.is_empty() {
            let mut a = Buf::new();
            a.add(&format!(" vcpus='{}'", g.vcpus.format()));
            k.element("cachetune", a, gk);
        }
    }
    for g in &t.resctrls {
        let mut gk = k.child();
        for (id, bw) in g.mem_bw.iter().flatten() {
            gk.add(&format!("<node id='{id}' bandwidth='{bw}'/>\n"));
        }
        for m in g.monitors.iter().filter(|m| !m.cache) {
            gk.add(&format!("<monitor vcpus='{}'/>\n", m.vcpus.format()));
        }
        if !gk.is_empty() {
            let mut a = Buf::new();
            a.add(&format!(" vcpus='{}'", g.vcpus.format()));
            k.element("memorytune", a, gk);
        }
    }
    b.element("cputune", Buf::new(), k);
}

fn format_sched(k: &mut Buf, name: &str, s: &Sched, id: Option<u32>) {
    if s.policy == SchedPolicy::None {
        return;
    }
    k.add(&format!("<{name}sched"));
    if let Some(id) = id {
        k.add(&format!(" {name}s='{id}'"));
    }
    k.add(&format!(" scheduler='{}'", s.policy.as_str()));
    if matches!(s.policy, SchedPolicy::Fifo | SchedPolicy::Rr) {
        k.add(&format!(" priority='{}'", s.priority));
    }
    k.add("/>\n");
}

/// `virDomainDefCputuneValidate`.
pub(super) fn validate_cputune(t: &Cputune) -> Result<()> {
    const PERIOD: (u64, u64) = (1000, 1_000_000);
    const QUOTA: (i64, i64) = (1000, 17_592_186_044_415);
    if let Some(s) = t.shares.filter(|s| *s > 0) {
        if !(2..=262_144).contains(&s) {
            return Err(unsupported(
                "Value of cputune 'shares' must be in range [2, 262144]",
            ));
        }
    }
    for (name, v) in [
        ("period", t.period),
        ("global_period", t.global_period),
        ("emulator_period", t.emulator_period),
        ("iothread_period", t.iothread_period),
    ] {
        if v > 0 && !(PERIOD.0..=PERIOD.1).contains(&v) {
            return Err(unsupported(format!(
                "Value of cputune '{name}' must be in range [{}, {}]",
                PERIOD.0, PERIOD.1
            )));
        }
    }
    for (name, v) in [
        ("quota", t.quota),
        ("global_quota", t.global_quota),
        ("emulator_quota", t.emulator_quota),
        ("iothread_quota", t.iothread_quota),
    ] {
        if v > 0 && !(QUOTA.0..=QUOTA.1).contains(&v) {
            return Err(unsupported(format!(
                "Value of cputune '{name}' must be in range [{}, {}]",
                QUOTA.0, QUOTA.1
            )));
        }
    }
    Ok(())
}

// ---- resource, perf, idmap ------------------------------------------------------------------

/// `<resource>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resource {
    /// `<partition>`.
    pub partition: Option<String>,
    /// `<fibrechannel appid=…>`.
    pub appid: Option<String>,
}

pub(super) fn parse_resource(root: Node) -> Result<Option<Resource>> {
    let nodes: Vec<_> = super::xml::children(root, "resource").collect();
    if nodes.len() > 1 {
        return Err(xml_error("only one resource element is supported"));
    }
    let Some(n) = nodes.first() else {
        return Ok(None);
    };
    let r = Resource {
        partition: xstring(*n, "partition"),
        appid: super::xml::xattr(*n, "fibrechannel", "appid"),
    };
    Ok((r.partition.is_some() || r.appid.is_some()).then_some(r))
}

pub(super) fn format_resource(b: &mut Buf, r: &Resource) {
    let mut k = b.child();
    k.esc("<partition>%s</partition>\n", r.partition.as_deref());
    k.esc("<fibrechannel appid='%s'/>\n", r.appid.as_deref());
    b.element("resource", Buf::new(), k);
}

/// `virDomainDefResourceValidate`.
pub(super) fn validate_resource(r: Option<&Resource>) -> Result<()> {
    let Some(a) = r.and_then(|r| r.appid.as_ref()) else {
        return Ok(());
    };
    if !a.bytes().all(|c| (0x20..0x7f).contains(&c)) {
        return Err(xml_error("Fibre Channel 'appid' is not a printable string"));
    }
    if a.is_empty() || a.len() > 128 {
        return Err(report(
            code::INVALID_ARG,
            domain::DOMAIN,
            "Fibre Channel 'appid' string length must be between [1, 128]",
        ));
    }
    Ok(())
}

xml_enum! {
    /// `virPerfEvent`.
    pub enum PerfEvent {
        Cmt = "cmt", Mbmt = "mbmt", Mbml = "mbml", CpuCycles = "cpu_cycles",
        Instructions = "instructions", CacheReferences = "cache_references",
        CacheMisses = "cache_misses", BranchInstructions = "branch_instructions",
        BranchMisses = "branch_misses", BusCycles = "bus_cycles",
        StalledCyclesFrontend = "stalled_cycles_frontend",
        StalledCyclesBackend = "stalled_cycles_backend", RefCpuCycles = "ref_cpu_cycles",
        CpuClock = "cpu_clock", TaskClock = "task_clock", PageFaults = "page_faults",
        ContextSwitches = "context_switches", CpuMigrations = "cpu_migrations",
        PageFaultsMin = "page_faults_min", PageFaultsMaj = "page_faults_maj",
        AlignmentFaults = "alignment_faults", EmulationFaults = "emulation_faults",
    }
}

/// `<perf>`: event states by event.
pub type Perf = BTreeMap<usize, (PerfEvent, bool)>;

pub(super) fn parse_perf(root: Node) -> Result<Perf> {
    let mut p = Perf::new();
    for n in select(root, "perf/event") {
        let name: PerfEvent = prop_enum_required(&n, "name", false)?;
        let Some(enabled) = prop_yes_no(&n, "enabled")? else {
            return Err(xml_util_error(
                "Missing required attribute 'enabled' in element 'event'",
            ));
        };
        if p.contains_key(&name.index()) {
            return Err(xml_error(format!(
                "perf event '{}' was already specified",
                name.as_str()
            )));
        }
        p.insert(name.index(), (name, enabled));
    }
    Ok(p)
}

pub(super) fn format_perf(b: &mut Buf, p: &Perf) {
    if p.is_empty() {
        return;
    }
    b.add("<perf>\n");
    b.adjust(2);
    for (e, on) in p.values() {
        b.add(&format!(
            "<event name='{}' enabled='{}'/>\n",
            e.as_str(),
            super::xml::yes_no(*on)
        ));
    }
    b.adjust(-2);
    b.add("</perf>\n");
}

/// One `<idmap>` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMapEntry {
    /// `start=`.
    pub start: u32,
    /// `target=`.
    pub target: u32,
    /// `count=`.
    pub count: u32,
}

/// `<idmap>`: user and group id maps, sorted by start.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdMap {
    /// `<uid>`s.
    pub uid: Vec<IdMapEntry>,
    /// `<gid>`s.
    pub gid: Vec<IdMapEntry>,
}

pub(super) fn parse_idmap(root: Node) -> Result<IdMap> {
    let list = |path: &str| -> Result<Vec<IdMapEntry>> {
        let mut v = Vec::new();
        for n in select(root, path) {
            let a = |name: &str| {
                prop(&n, name)
                    .filter(|s| !s.is_empty())
                    .and_then(|s| super::xml::str_to_uip(&s, 10))
            };
            match (a("start"), a("target"), a("count")) {
                (Some(start), Some(target), Some(count)) => v.push(IdMapEntry {
                    start,
                    target,
                    count,
                }),
                _ => return Err(xml_error("invalid idmap start/target/count settings")),
            }
        }
        v.sort_by_key(|e| e.start);
        Ok(v)
    };
    Ok(IdMap {
        uid: list("idmap/uid")?,
        gid: list("idmap/gid")?,
    })
}

pub(super) fn format_idmap(b: &mut Buf, m: &IdMap) {
    if m.uid.is_empty() {
        return;
    }
    b.add("<idmap>\n");
    b.adjust(2);
    for e in &m.uid {
        b.add(&format!(
            "<uid start='{}' target='{}' count='{}'/>\n",
            e.start, e.target, e.count
        ));
    }
    for e in &m.gid {
        b.add(&format!(
            "<gid start='{}' target='{}' count='{}'/>\n",
            e.start, e.target, e.count
        ));
    }
    b.adjust(-2);
    b.add("</idmap>\n");
}

/// `virDomainDefIdMapValidate`.
pub(super) fn validate_idmap(m: &IdMap) -> Result<()> {
    if m.uid.is_empty() != m.gid.is_empty() {
        return Err(unsupported("uid and gid should be mapped both"));
    }
    if m.uid.first().is_some_and(|e| e.start != 0) || m.gid.first().is_some_and(|e| e.start != 0) {
        return Err(unsupported("You must map the root user of container"));
    }
    Ok(())
}
