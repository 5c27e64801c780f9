//! Guest NUMA topology (`<cpu><numa>`: cells, distances, caches, interconnects) and the
//! per-cell host binding (`<numatune><memnode>`), as `numa_conf.c` reads, checks and writes
//! them.

use super::bitmap::Bitmap;
use super::buf::Buf;
use super::cpu::{Numatune, NumatuneMode, NumatunePlacement, CPUMASK_LEN};
use super::tune::MemoryAccess;
use super::xml::{
    children, first, internal, memory_kib, parse_scaled, prop, prop_enum, prop_enum_required,
    prop_uint, prop_uint_required, prop_yes_no, select, str_to_uip, unsupported, xml_enum,
    xml_error, yes_no, Node, Result, XmlEnum,
};
use std::collections::BTreeMap;

xml_enum! {
    /// `virNumaCacheAssociativity`.
    pub enum CacheAssociativity { None = "none", Direct = "direct", Full = "full" }
}

xml_enum! {
    /// `virNumaCachePolicy`.
    pub enum CachePolicy { None = "none", Writeback = "writeback", Writethrough = "writethrough" }
}

xml_enum! {
    /// `virMemoryLatency`.
    pub enum MemoryLatency { None = "none", Access = "access", Read = "read", Write = "write" }
}

/// A memory-side cache of a cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumaCache {
    /// `level=`.
    pub level: u32,
    /// `<size>` in KiB.
    pub size: u64,
    /// `<line>` in bytes.
    pub line: u64,
    /// `associativity=`.
    pub associativity: CacheAssociativity,
    /// `policy=`.
    pub policy: CachePolicy,
}

/// A guest NUMA cell.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NumaCell {
    /// `cpus=`.
    pub cpus: Option<Bitmap>,
    /// `memory=` in KiB.
    pub memory: u64,
    /// `memAccess=`.
    pub mem_access: Option<MemoryAccess>,
    /// `discard=`.
    pub discard: Option<bool>,
    /// `<distances>`: (cell, value) for every cell once any is given (value 0: unset).
    pub distances: Vec<(u32, u32)>,
    /// `<cache>`s.
    pub caches: Vec<NumaCache>,
}

/// An `<interconnects>` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interconnect {
    /// `<latency>` (else `<bandwidth>`).
    pub latency: bool,
    /// `initiator=`.
    pub initiator: u32,
    /// `target=`.
    pub target: u32,
    /// `cache=` (0: none).
    pub cache: u32,
    /// `type=`.
    pub access: MemoryLatency,
    /// `value=` (KiB for bandwidth).
    pub value: u64,
}

/// `<cpu><numa>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Numa {
    /// The cells, by id.
    pub cells: Vec<NumaCell>,
    /// `<interconnects>`.
    pub interconnects: Vec<Interconnect>,
}

impl Numa {
    /// Total memory of the cells (`virDomainNumaGetMemorySize`).
    pub fn memory(&self) -> u64 {
        self.cells.iter().map(|c| c.memory).sum()
    }

    /// `virDomainNumaGetCPUCountTotal`.
    pub fn cpu_count(&self) -> usize {
        self.cells
            .iter()
            .filter_map(|c| c.cpus.as_ref())
            .map(Bitmap::count)
            .sum()
    }

    /// `virDomainNumaGetMaxCPUID`.
    pub fn max_cpu_id(&self) -> u32 {
        self.cells
            .iter()
            .filter_map(|c| c.cpus.as_ref().and_then(Bitmap::last))
            .max()
            .unwrap_or(0)
    }
}

const LOCAL_DISTANCE: u32 = 10;
const UNREACHABLE: u32 = 255;

/// `virDomainNumaDefParseXML`.
pub(super) fn parse(root: Node) -> Result<Numa> {
    let mut numa = Numa::default();
    let Some(numa_node) = first(root, "cpu/numa") else {
        return Ok(numa);
    };
    let cells: Vec<_> = children(numa_node, "cell").collect();
    if cells.is_empty() {
        return Err(xml_error("NUMA topology defined without NUMA cells"));
    }
    let n = cells.len();
    numa.cells = vec![NumaCell::default(); n];
    for (i, c) in cells.iter().enumerate() {
        let cur = prop_uint(c, "id", 10, false)?.unwrap_or(i as u32) as usize;
        if cur >= n {
            return Err(xml_error(
                "Exactly one 'cell' element per guest NUMA cell allowed, non-contiguous ranges or ranges not starting from 0 are not allowed",
            ));
        }
        if numa.cells[cur].memory != 0 {
            return Err(xml_error(format!(
                "Duplicate NUMA cell info for cell id '{cur}'"
            )));
        }
        if let Some(s) = prop(c, "cpus") {
            let b = Bitmap::parse(&s, CPUMASK_LEN)?;
            if !b.is_all_clear() {
                numa.cells[cur].cpus = Some(b);
            }
        }
        for j in 0..n {
            if j == cur {
                continue;
            }
            if let (Some(a), Some(b)) = (&numa.cells[j].cpus, &numa.cells[cur].cpus) {
                if a.overlaps(b) {
                    return Err(unsupported(format!(
                        "NUMA cells {cur} and {j} have overlapping vCPU ids"
                    )));
                }
            }
        }
        numa.cells[cur].memory =
            memory_kib(prop(c, "memory"), prop(c, "unit"), "./@memory", true)?.unwrap_or(0);
        numa.cells[cur].mem_access = prop_enum(c, "memAccess", true)?;
        numa.cells[cur].discard = prop_yes_no(c, "discard")?;
        parse_distances(&mut numa, *c, cur)?;
        parse_caches(&mut numa.cells[cur], *c, cur)?;
    }
    if let Some(ic) = first(numa_node, "interconnects") {
        for x in ic.children().filter(|x| x.is_element()) {
            let latency = match x.tag_name().name() {
                "latency" if x.tag_name().namespace().is_none() => true,
                "bandwidth" if x.tag_name().namespace().is_none() => false,
                _ => continue,
            };
            let value = if latency {
                super::xml::prop_ull_required(&x, "value", 10)?
            } else {
                memory_kib(prop(&x, "value"), prop(&x, "unit"), "./@value", true)?.unwrap_or(0)
            };
            let initiator = prop_uint_required(&x, "initiator", 10, false)?;
            let target = prop_uint_required(&x, "target", 10, false)?;
            let cache = prop_uint(&x, "cache", 10, false)?.unwrap_or(0);
            let access = prop_enum_required(&x, "type", true)?;
            numa.interconnects.push(Interconnect {
                latency,
                initiator,
                target,
                cache,
                access,
                value,
            });
        }
    }
    Ok(numa)
}

fn parse_distances(numa: &mut Numa, cell: Node, cur: usize) -> Result<()> {
    let n = numa.cells.len();
    let Some(d) = first(cell, "distances") else {
        return Ok(());
    };
    let siblings: Vec<_> = children(d, "sibling").collect();
    if siblings.is_empty() {
        return Err(xml_error("NUMA distances defined without siblings"));
    }
    for s in siblings {
        let id = prop_uint_required(&s, "id", 10, false)?;
        if id as usize >= n {
            return Err(xml_error(format!(
                "'sibling_id {id}' does not refer to a valid cell within NUMA 'cell id {cur}'"
            )));
        }
        let value = prop_uint_required(&s, "value", 10, false)?;
        if !(LOCAL_DISTANCE..=UNREACHABLE).contains(&value)
            || (id as usize == cur && value != LOCAL_DISTANCE)
            || (id as usize != cur && value == LOCAL_DISTANCE)
        {
            return Err(xml_error(format!(
                "'value {value}' is invalid for 'sibling id {id}' under NUMA 'cell id {cur}'"
            )));
        }
        let init = |numa: &mut Numa, c: usize| {
            if numa.cells[c].distances.is_empty() {
                let mut v = vec![(0u32, 0u32); n];
                v[c] = (c as u32, LOCAL_DISTANCE);
                numa.cells[c].distances = v;
            }
        };
        init(numa, cur);
        numa.cells[cur].distances[id as usize] = (id, value);
        init(numa, id as usize);
        let r = &mut numa.cells[id as usize].distances[cur];
        r.0 = cur as u32;
        if r.1 == 0 {
            r.1 = value;
        }
    }
    Ok(())
}

fn parse_caches(cell: &mut NumaCell, node: Node, cur: usize) -> Result<()> {
    for c in children(node, "cache") {
        let Some(l) = prop(&c, "level") else {
            return Err(xml_error(format!(
                "Missing 'level' attribute in cache element for NUMA node {cur}"
            )));
        };
        let level = str_to_uip(&l, 10).filter(|l| *l != 0).ok_or_else(|| {
            xml_error(format!(
                "Invalid 'level' attribute in cache element for NUMA node {cur}"
            ))
        })?;
        let Some(a) = prop(&c, "associativity") else {
            return Err(xml_error(format!(
                "Missing 'associativity' attribute in cache element for NUMA node {cur}"
            )));
        };
        let associativity = CacheAssociativity::parse(&a)
            .ok_or_else(|| xml_error(format!("Invalid cache associativity '{a}'")))?;
        // libvirt reports a missing policy but goes on to fail on the (null) value.
        let p = prop(&c, "policy");
        let policy = p.as_deref().and_then(CachePolicy::parse).ok_or_else(|| {
            xml_error(format!(
                "Invalid cache policy '{}'",
                p.as_deref().unwrap_or("(null)")
            ))
        })?;
        let size_node = first(c, "size");
        // libvirt reads the unit from a `<unit>` child of `<size>`, which the schema does
        // not have, so sizes are always in KiB.
        let size = memory_kib(
            size_node
                .and_then(|s| prop(&s, "value"))
                .filter(|s| !s.is_empty()),
            size_node.and_then(|s| super::xml::xstring(s, "unit")),
            "./size/@value",
            true,
        )?
        .unwrap_or(0);
        let line_node = first(c, "line");
        let line = parse_scaled(
            line_node
                .and_then(|s| prop(&s, "value"))
                .filter(|s| !s.is_empty()),
            line_node.and_then(|s| super::xml::xstring(s, "unit")),
            "./line/@value",
            1,
            u64::MAX,
            true,
        )?
        .unwrap_or(0);
        cell.caches.push(NumaCache {
            level,
            size,
            line,
            associativity,
            policy,
        });
    }
    Ok(())
}

/// `virDomainNumaDefFormatXML` (inside `<cpu>`).
pub(super) fn format(b: &mut Buf, numa: &Numa) {
    if numa.cells.is_empty() {
        return;
    }
    b.add("<numa>\n");
    b.adjust(2);
    for (i, c) in numa.cells.iter().enumerate() {
        let mut a = Buf::new();
        let mut k = b.child();
        a.add(&format!(" id='{i}'"));
        if let Some(cpus) = &c.cpus {
            a.add(&format!(" cpus='{}'", cpus.format()));
        }
        a.add(&format!(" memory='{}' unit='KiB'", c.memory));
        if let Some(m) = c.mem_access.filter(|m| *m != MemoryAccess::Default) {
            a.add(&format!(" memAccess='{}'", m.as_str()));
        }
        if let Some(d) = c.discard {
            a.add(&format!(" discard='{}'", yes_no(d)));
        }
        let mut dk = k.child();
        for (id, v) in &c.distances {
            if *v != 0 {
                dk.add(&format!("<sibling id='{id}' value='{v}'/>\n"));
            }
        }
        k.element("distances", Buf::new(), dk);
        for x in &c.caches {
            let mut ca = Buf::new();
            ca.add(&format!(" level='{}'", x.level));
            if x.associativity != CacheAssociativity::None {
                ca.add(&format!(" associativity='{}'", x.associativity.as_str()));
            }
            if x.policy != CachePolicy::None {
                ca.add(&format!(" policy='{}'", x.policy.as_str()));
            }
            let mut ck = k.child();
            ck.add(&format!("<size value='{}' unit='KiB'/>\n", x.size));
            if x.line != 0 {
                // libvirt prints the line size with %u.
                ck.add(&format!("<line value='{}' unit='B'/>\n", x.line as u32));
            }
            k.element("cache", ca, ck);
        }
        b.element("cell", a, k);
    }
    let mut ik = b.child();
    for x in &numa.interconnects {
        let mut a = Buf::new();
        a.add(&format!(
            " initiator='{}' target='{}'",
            x.initiator, x.target
        ));
        if x.cache > 0 {
            a.add(&format!(" cache='{}'", x.cache));
        }
        a.add(&format!(
            " type='{}' value='{}'",
            x.access.as_str(),
            x.value
        ));
        if !x.latency {
            a.add(" unit='KiB'");
        }
        ik.element(
            if x.latency { "latency" } else { "bandwidth" },
            a,
            Buf::new(),
        );
    }
    b.element("interconnects", Buf::new(), ik);
    b.adjust(-2);
    b.add("</numa>\n");
}

/// `virDomainNumaDefValidate`.
pub(super) fn validate(numa: &Numa) -> Result<()> {
    for c in &numa.cells {
        let mut seen = Vec::new();
        for x in &c.caches {
            if x.level > 3 {
                return Err(xml_error("Ain't nobody heard of that much cache level"));
            }
            if seen.contains(&x.level) {
                return Err(xml_error(format!(
                    "Cache level '{}' already defined",
                    x.level
                )));
            }
            seen.push(x.level);
        }
    }
    let n = numa.cells.len() as u32;
    for (i, l) in numa.interconnects.iter().enumerate() {
        if l.initiator >= n {
            return Err(xml_error("'initiator' refers to a non-existent NUMA node"));
        }
        if l.target >= n {
            return Err(xml_error("'target' refers to a non-existent NUMA node"));
        }
        if numa.cells[l.initiator as usize].cpus.is_none() {
            return Err(xml_error("NUMA nodes without CPUs can't be initiator"));
        }
        if l.cache > 0
            && !numa.cells[l.target as usize]
                .caches
                .iter()
                .any(|c| c.level == l.cache)
        {
            return Err(xml_error(
                "'cache' refers to a non-existent NUMA node cache",
            ));
        }
        for ll in &numa.interconnects[..i] {
            if l.latency == ll.latency
                && l.initiator == ll.initiator
                && l.target == ll.target
                && l.cache == ll.cache
                && l.access == ll.access
            {
                return Err(xml_error("Duplicate info for NUMA latencies"));
            }
            if l.initiator != l.target && l.initiator == ll.target && l.target == ll.initiator {
                return Err(xml_error("Link already defined"));
            }
        }
    }
    Ok(())
}

/// `<numatune><memnode>`s: cell id → (mode, host nodes).
pub type MemNodes = BTreeMap<u32, (NumatuneMode, Bitmap)>;

/// `virDomainNumatuneNodeParseXML`.
pub(super) fn parse_memnodes(
    root: Node,
    memory: Option<&Numatune>,
    ncells: usize,
) -> Result<MemNodes> {
    let mut out = MemNodes::new();
    let nodes = select(root, "numatune/memnode");
    if nodes.is_empty() {
        return Ok(out);
    }
    if memory.is_some_and(|m| m.placement == NumatunePlacement::Auto) {
        return Err(unsupported(
            "Per-node binding is not compatible with automatic NUMA placement.",
        ));
    }
    if ncells == 0 {
        return Err(xml_error(
            "Element 'memnode' is invalid without any guest NUMA cells",
        ));
    }
    for n in nodes {
        let cellid = prop_uint_required(&n, "cellid", 10, false)?;
        if cellid as usize >= ncells {
            return Err(xml_error(
                "Argument 'cellid' in memnode element must correspond to existing guest's NUMA cell",
            ));
        }
        if out.contains_key(&cellid) {
            return Err(xml_error(format!(
                "Multiple memnode elements with cellid {cellid}"
            )));
        }
        let mode = prop_enum(&n, "mode", false)?.unwrap_or(NumatuneMode::Strict);
        if memory.is_some_and(|m| m.mode == NumatuneMode::Restrictive)
            && mode != NumatuneMode::Restrictive
        {
            return Err(xml_error(
                "'restrictive' mode is required in memnode element when mode is 'restrictive' in memory element",
            ));
        }
        let Some(s) = prop(&n, "nodeset") else {
            return Err(xml_error(
                "Missing required nodeset attribute in memnode element",
            ));
        };
        let b = Bitmap::parse(&s, CPUMASK_LEN)?;
        if b.is_all_clear() {
            return Err(unsupported(format!("Invalid value of 'nodeset': {s}")));
        }
        out.insert(cellid, (mode, b));
    }
    Ok(out)
}

/// The `<memnode>` lines of `virDomainNumatuneFormatXML`.
pub(super) fn format_memnodes(b: &mut Buf, m: &MemNodes) {
    for (id, (mode, ns)) in m {
        b.add(&format!(
            "<memnode cellid='{id}' mode='{}' nodeset='{}'/>\n",
            mode.as_str(),
            ns.format()
        ));
    }
}

/// The checks `virDomainDefParseXML` makes right after reading the cells.
pub(super) fn check_vcpus(numa: &Numa, max_vcpus: u32) -> Result<()> {
    if numa.cpu_count() > max_vcpus as usize {
        return Err(internal(
            "Number of CPUs in <numa> exceeds the <vcpu> count",
        ));
    }
    if numa.max_cpu_id() >= max_vcpus {
        return Err(internal("CPU IDs in <numa> exceed the <vcpu> count"));
    }
    Ok(())
}
