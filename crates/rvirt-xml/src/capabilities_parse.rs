//! Reading a host capabilities document (`virsh capabilities`, `virConnectGetCapabilities`)
//! back into [`Capabilities`], so that a client can inspect what a libvirtd (or rvirtd)
//! reports. libvirt only writes this document, so the rules come from its schema
//! (`capability.rng`) and from what the model can hold; the host `<cpu>` follows libvirt's own
//! CPU reader (`virCPUDefParseXML` for a host CPU: its checks and its messages, in
//! `VIR_FROM_CPU`).
//!
//! What the schema requires and libvirt always prints is required (naming the element or
//! attribute); what older libvirt versions left out is read with libvirt's meaning (`dies`
//! of a `<topology>` is 1, `die_id` of a NUMA CPU is 0, no `<iommu>` is "not reported").
//! Values the formatter cannot print back are refused rather than dropped (a `<monitor>`
//! without features, a sibling list without the other CPU attributes, two `<control>`s of one
//! memory bandwidth node); values libvirt's own model treats as absent (microcode 0, memory
//! 0, distance 0, an all-equal UUID) are read as absent; unknown elements are ignored.
//! Enumerations the model keeps as strings (`os_type`, architectures, domain types, cache
//! types) are not checked against libvirt 9.0's lists, so a newer libvirt's values are read.
//! Errors are `VIR_ERR_XML_ERROR` in `VIR_FROM_CAPABILITIES`; syntax errors and attribute
//! errors are reported as libvirt's XML layer reports them.

use crate::capabilities::*;
use crate::conf::{
    child, children, err, parse_document, prop_enum, prop_int, prop_required, prop_tristate_bool,
    prop_tristate_switch, prop_uint, prop_ull, str_to_u32_pos, str_to_u32_wrap, str_to_u64_pos,
    text_content, uuid_parse, xpath_text, Node, Tristate,
};
use crate::domain::Bitmap;
use crate::XmlError;
use rvirt_proto::error::{code, domain};

type Result<T> = std::result::Result<T, XmlError>;

/// The document name virsh gives it (`virsh-host.c`).
const DOCNAME: &str = "(capabilities)";

/// CPU numbers in sibling and cache CPU lists stay below this (libvirt's
/// `VIR_DOMAIN_CPUMASK_LEN`), which bounds what a hostile list can make us allocate.
const MAX_CPUS: u32 = 16384;

fn invalid(detail: impl Into<String>) -> XmlError {
    err(code::XML_ERROR, domain::CAPABILITIES, detail)
}

fn cpu_error(detail: impl Into<String>) -> XmlError {
    err(code::XML_ERROR, domain::CPU, detail)
}

impl Capabilities {
    /// Reads a `<capabilities>` document, such as `virsh capabilities` prints.
    pub fn parse(xml: &str) -> Result<Capabilities> {
        let doc = parse_document(xml, DOCNAME, "capabilities", domain::CAPABILITIES)?;
        let root = doc.root_element();
        let host = child(root, "host").ok_or_else(|| invalid("missing <host> in capabilities"))?;
        let host = parse_host(host)?;
        let guests = children(root, "guest")
            .map(parse_guest)
            .collect::<Result<Vec<_>>>()?;
        let pool_types = child(root, "pool")
            .and_then(|p| children(p, "enum").find(|e| e.attribute("name") == Some("type")))
            .map(|e| children(e, "value").map(text_content).collect())
            .unwrap_or_default();
        Ok(Capabilities {
            host,
            guests,
            pool_types,
        })
    }
}

/// The names of the element children of `n` (`<power_management>`, host `<features>`).
fn element_names(n: Node) -> Vec<String> {
    n.children()
        .filter(|c| c.is_element() && c.tag_name().namespace().is_none())
        .map(|c| c.tag_name().name().to_string())
        .collect()
}

fn parse_host(h: Node) -> Result<Host> {
    let uuid = match xpath_text(h, &["uuid"]) {
        None => None,
        Some(s) => {
            let u =
                uuid_parse(&s).ok_or_else(|| invalid(format!("malformed uuid '{s}' in <host>")))?;
            // virUUIDIsValid: sixteen equal bytes are no UUID, and libvirt prints none.
            u.iter().any(|b| *b != u[0]).then_some(u)
        }
    };
    let cpu = child(h, "cpu").ok_or_else(|| invalid("missing <cpu> in <host>"))?;
    let arch = xpath_text(cpu, &["arch"]).ok_or_else(|| cpu_error("Missing CPU architecture"))?;
    let features = child(cpu, "features")
        .map(element_names)
        .unwrap_or_default();
    let page_sizes = children(cpu, "pages")
        .map(|p| {
            let size = prop_uint(Some(p), "size", 10, true, false)?.unwrap_or(0);
            scaled_u32(
                size as u64,
                p.attribute("unit"),
                KIB,
                KIB,
                "size of <pages> in <cpu>",
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let iommu = match child(h, "iommu") {
        None => None,
        Some(i) => Some(prop_tristate_bool(Some(i), "support")? == Tristate::Yes),
    };
    let migration = child(h, "migration_features").map(|m| Migration {
        live: child(m, "live").is_some(),
        uri_transports: child(m, "uri_transports")
            .map(|t| children(t, "uri_transport").map(text_content).collect())
            .unwrap_or_default(),
    });
    let (numa, interconnects) = match child(h, "topology") {
        None => (None, Vec::new()),
        Some(t) => {
            let (cells, ic) = parse_topology(t)?;
            (Some(cells), ic)
        }
    };
    let (caches, cache_monitor) = match child(h, "cache") {
        None => (Vec::new(), None),
        Some(c) => (
            children(c, "bank")
                .map(parse_bank)
                .collect::<Result<Vec<_>>>()?,
            child(c, "monitor").map(parse_monitor).transpose()?,
        ),
    };
    let memory_bandwidth = match child(h, "memory_bandwidth") {
        None => MemoryBandwidth::default(),
        Some(m) => MemoryBandwidth {
            nodes: children(m, "node")
                .map(parse_membw_node)
                .collect::<Result<Vec<_>>>()?,
            monitor: child(m, "monitor").map(parse_monitor).transpose()?,
        },
    };
    let secmodels = children(h, "secmodel")
        .map(parse_secmodel)
        .collect::<Result<Vec<_>>>()?;
    Ok(Host {
        uuid,
        arch: Some(arch),
        features,
        cpu: parse_host_cpu(cpu)?,
        page_sizes,
        power_management: child(h, "power_management")
            .map(element_names)
            .unwrap_or_default(),
        iommu,
        migration,
        netprefix: xpath_text(h, &["netprefix"]),
        numa,
        interconnects,
        caches,
        cache_monitor,
        memory_bandwidth,
        secmodels,
    })
}

/// The host `<cpu>` as `virCPUDefParseXML` reads a host CPU, except that a model name is
/// optional (drivers report a host CPU without one).
fn parse_host_cpu(c: Node) -> Result<HostCpuDef> {
    let microcode = match child(c, "microcode").and_then(|m| m.attribute("version")) {
        None => None,
        Some(v) => {
            let v = str_to_u32_wrap(v, 10).ok_or_else(|| {
                err(
                    code::CONFIG_UNSUPPORTED,
                    domain::CPU,
                    "invalid microcode version",
                )
            })?;
            // libvirt prints no <microcode> for version 0.
            (v != 0).then_some(v as u64)
        }
    };
    let signature = match child(c, "signature") {
        None => None,
        Some(s) => Some((
            prop_uint(Some(s), "family", 10, true, true)?.unwrap_or(0),
            prop_uint(Some(s), "model", 10, true, false)?.unwrap_or(0),
            prop_uint(Some(s), "stepping", 10, true, false)?.unwrap_or(0),
        )),
    };
    // XPath `./counter[@name='tsc']`: counters of other names are not read.
    let tsc = match children(c, "counter").find(|n| n.attribute("name") == Some("tsc")) {
        None => None,
        Some(t) => {
            prop_required(t, "frequency")?;
            Some(TscCounter {
                frequency: prop_ull(Some(t), "frequency", 10)?.unwrap_or(0),
                scaling: match prop_tristate_bool(Some(t), "scaling")? {
                    Tristate::Absent => None,
                    v => Some(v == Tristate::Yes),
                },
            })
        }
    };
    let topology = match child(c, "topology") {
        None => None,
        Some(t) => Some((
            prop_uint(Some(t), "sockets", 10, true, true)?.unwrap_or(0),
            // Before libvirt 6.0 there were no dies; virCPUDefParseXML reads them as 1.
            prop_uint(Some(t), "dies", 10, false, true)?.unwrap_or(1),
            prop_uint(Some(t), "cores", 10, true, true)?.unwrap_or(0),
            prop_uint(Some(t), "threads", 10, true, true)?.unwrap_or(0),
        )),
    };
    let maxphysaddr = match child(c, "maxphysaddr") {
        None => None,
        Some(m) => {
            let mode = prop_enum(
                Some(m),
                "mode",
                |v| match v {
                    "emulate" => Some(0),
                    "passthrough" => Some(1),
                    _ => None,
                },
                true,
                false,
            )?;
            let mode = if mode == Some(1) {
                MaxPhysAddrMode::Passthrough
            } else {
                MaxPhysAddrMode::Emulate
            };
            let bits = match prop_int(Some(m), "bits", 10)? {
                None => None,
                Some(b) if b < 0 => {
                    return Err(err(
                        code::XML_ERROR,
                        domain::XML,
                        format!(
                            "Invalid value for attribute 'bits' in element 'maxphysaddr': \
                             '{}'. Expected non-negative value",
                            m.attribute("bits").unwrap_or_default()
                        ),
                    ))
                }
                Some(b) => Some(b as u32),
            };
            Some((mode, bits))
        }
    };
    let mut features: Vec<String> = Vec::new();
    for f in children(c, "feature") {
        let name = f
            .attribute("name")
            .filter(|n| !n.is_empty())
            .ok_or_else(|| cpu_error("Invalid CPU feature name"))?;
        if features.iter().any(|x| x == name) {
            return Err(cpu_error(format!(
                "CPU feature '{name}' specified more than once"
            )));
        }
        features.push(name.to_string());
    }
    Ok(HostCpuDef {
        model: xpath_text(c, &["model"]),
        vendor: xpath_text(c, &["vendor"]),
        microcode,
        signature,
        tsc,
        topology,
        maxphysaddr,
        features,
    })
}

fn parse_topology(t: Node) -> Result<(Vec<NumaCell>, Vec<Interconnect>)> {
    let cells_node = child(t, "cells").ok_or_else(|| invalid("missing <cells> in <topology>"))?;
    let num = prop_uint(Some(cells_node), "num", 10, true, false)?.unwrap_or(0);
    let cells = children(cells_node, "cell")
        .map(parse_cell)
        .collect::<Result<Vec<_>>>()?;
    if num as usize != cells.len() {
        return Err(invalid(format!(
            "<cells num='{num}'> lists {} cells",
            cells.len()
        )));
    }
    let mut interconnects = Vec::new();
    if let Some(ic) = child(t, "interconnects") {
        for n in ic.children().filter(|n| n.is_element()) {
            let kind = match n.tag_name() {
                t if t.namespace().is_some() => continue,
                t if t.name() == "latency" => InterconnectKind::Latency,
                t if t.name() == "bandwidth" => InterconnectKind::Bandwidth,
                _ => continue,
            };
            interconnects.push(parse_interconnect(n, kind)?);
        }
    }
    Ok((cells, interconnects))
}

fn parse_interconnect(n: Node, kind: InterconnectKind) -> Result<Interconnect> {
    let access = prop_enum(
        Some(n),
        "type",
        |v| {
            ["none", "access", "read", "write"]
                .iter()
                .position(|x| *x == v)
                .map(|i| i as u32)
        },
        true,
        false,
    )?;
    let access = match access {
        Some(1) => MemoryAccess::Access,
        Some(2) => MemoryAccess::Read,
        Some(3) => MemoryAccess::Write,
        _ => MemoryAccess::None,
    };
    prop_required(n, "value")?;
    let raw = prop_ull(Some(n), "value", 10)?.unwrap_or(0);
    let value = match kind {
        InterconnectKind::Latency => raw,
        InterconnectKind::Bandwidth => scaled_u64(
            raw,
            n.attribute("unit"),
            KIB,
            KIB,
            "value of <bandwidth> in <interconnects>",
        )?,
    };
    Ok(Interconnect {
        kind,
        initiator: prop_uint(Some(n), "initiator", 10, true, false)?.unwrap_or(0),
        target: prop_uint(Some(n), "target", 10, true, false)?.unwrap_or(0),
        cache: prop_uint(Some(n), "cache", 10, false, false)?.unwrap_or(0),
        access,
        value,
    })
}

fn parse_cell(c: Node) -> Result<NumaCell> {
    let id = prop_uint(Some(c), "id", 10, true, false)?.unwrap_or(0);
    let what = |elem: &str| format!("<{elem}> of NUMA cell {id}");
    let memory_kib = match child(c, "memory") {
        None => 0,
        Some(m) => {
            let t = text_content(m);
            let v = number(&t, &what("memory"), str_to_u64_pos)?;
            scaled_u64(v, m.attribute("unit"), KIB, KIB, &what("memory"))?
        }
    };
    let pages = children(c, "pages")
        .map(|p| {
            let size = prop_uint(Some(p), "size", 10, true, false)?.unwrap_or(0);
            let size = scaled_u32(size as u64, p.attribute("unit"), KIB, KIB, &what("pages"))?;
            let avail = number(&text_content(p), &what("pages"), str_to_u64_pos)?;
            Ok((size, avail))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut distances = Vec::new();
    if let Some(d) = child(c, "distances") {
        for s in children(d, "sibling") {
            let sib = prop_uint(Some(s), "id", 10, true, false)?.unwrap_or(0);
            let value = prop_uint(Some(s), "value", 10, true, false)?.unwrap_or(0);
            // A distance of 0 is "unknown" to libvirt, which prints none.
            if value != 0 {
                distances.push((sib, value));
            }
        }
    }
    let caches = children(c, "cache")
        .map(|n| parse_numa_cache(n, id))
        .collect::<Result<Vec<_>>>()?;
    let mut cpus = Vec::new();
    if let Some(list) = child(c, "cpus") {
        let num = prop_uint(Some(list), "num", 10, true, false)?.unwrap_or(0);
        for cpu in children(list, "cpu") {
            cpus.push(parse_cell_cpu(cpu)?);
        }
        if num as usize != cpus.len() {
            return Err(invalid(format!(
                "<cpus num='{num}'> of NUMA cell {id} lists {} CPUs",
                cpus.len()
            )));
        }
    }
    Ok(NumaCell {
        id,
        memory_kib,
        pages,
        distances,
        caches,
        cpus,
    })
}

fn parse_cell_cpu(n: Node) -> Result<CellCpu> {
    let id = prop_uint(Some(n), "id", 10, true, false)?.unwrap_or(0);
    let topo = ["socket_id", "die_id", "core_id", "siblings"];
    if !topo.iter().any(|a| n.attribute(*a).is_some()) {
        return Ok(CellCpu {
            id,
            socket_id: 0,
            die_id: 0,
            core_id: 0,
            siblings: None,
        });
    }
    // libvirt prints these with %d; before libvirt 6.0 there was no die_id (read as 0).
    let int = |attr: &str, required: bool| -> Result<i32> {
        if required {
            prop_required(n, attr)?;
        }
        Ok(prop_int(Some(n), attr, 10)?.unwrap_or(0))
    };
    let socket_id = int("socket_id", true)?;
    let die_id = int("die_id", false)?;
    let core_id = int("core_id", true)?;
    let siblings = cpu_list(&prop_required(n, "siblings")?)?;
    Ok(CellCpu {
        id,
        socket_id,
        die_id,
        core_id,
        siblings: Some(siblings),
    })
}

fn parse_numa_cache(n: Node, cell: u32) -> Result<NumaCache> {
    let level = prop_uint(Some(n), "level", 10, true, false)?.unwrap_or(0);
    let associativity = match prop_enum(
        Some(n),
        "associativity",
        |v| {
            ["none", "direct", "full"]
                .iter()
                .position(|x| *x == v)
                .map(|i| i as u32)
        },
        false,
        false,
    )? {
        Some(1) => CacheAssociativity::Direct,
        Some(2) => CacheAssociativity::Full,
        _ => CacheAssociativity::None,
    };
    let policy = match prop_enum(
        Some(n),
        "policy",
        |v| {
            ["none", "writeback", "writethrough"]
                .iter()
                .position(|x| *x == v)
                .map(|i| i as u32)
        },
        false,
        false,
    )? {
        Some(1) => CachePolicy::Writeback,
        Some(2) => CachePolicy::Writethrough,
        _ => CachePolicy::None,
    };
    let what = |elem: &str| format!("<{elem}> of the level {level} cache of NUMA cell {cell}");
    let size = child(n, "size").ok_or_else(|| invalid(format!("missing {}", what("size"))))?;
    let v = prop_ull(Some(size), "value", 10)?.ok_or_else(|| missing_attr("value", "size"))?;
    let size_kib = scaled_u64(v, size.attribute("unit"), KIB, KIB, &what("size"))?;
    let line_bytes = match child(n, "line") {
        None => 0,
        Some(l) => {
            let v = prop_ull(Some(l), "value", 10)?.ok_or_else(|| missing_attr("value", "line"))?;
            scaled_u32(v, l.attribute("unit"), 1, 1, &what("line"))?
        }
    };
    Ok(NumaCache {
        level,
        associativity,
        policy,
        size_kib,
        line_bytes,
    })
}

fn parse_bank(b: Node) -> Result<CacheBank> {
    let id = prop_uint(Some(b), "id", 10, true, false)?.unwrap_or(0);
    let level = prop_uint(Some(b), "level", 10, true, false)?.unwrap_or(0);
    let type_ = prop_required(b, "type")?;
    prop_required(b, "size")?;
    let size = prop_ull(Some(b), "size", 10)?.unwrap_or(0);
    let unit = prop_required(b, "unit")?;
    let what = format!("size of cache bank {id}");
    let size_bytes = scaled_u64(size, Some(&unit), 1, 1, &what)?;
    let cpus = cpu_list(&prop_required(b, "cpus")?)?;
    let mut controls = Vec::new();
    for c in children(b, "control") {
        prop_required(c, "granularity")?;
        let gran = prop_ull(Some(c), "granularity", 10)?.unwrap_or(0);
        let min = prop_ull(Some(c), "min", 10)?.unwrap_or(0);
        let unit = prop_required(c, "unit")?;
        let what = format!("<control> of cache bank {id}");
        controls.push(CacheControl {
            granularity_bytes: scaled_u64(gran, Some(&unit), 1, 1, &what)?,
            min_bytes: scaled_u64(min, Some(&unit), 1, 1, &what)?,
            type_: prop_required(c, "type")?,
            max_allocs: prop_uint(Some(c), "maxAllocs", 10, true, false)?.unwrap_or(0),
        });
    }
    Ok(CacheBank {
        id,
        level,
        type_,
        size_bytes,
        cpus,
        controls,
    })
}

fn parse_monitor(m: Node) -> Result<ResctrlMonitor> {
    let level = prop_uint(Some(m), "level", 10, false, false)?;
    let reuse = prop_uint(Some(m), "reuseThreshold", 10, false, false)?;
    let cache = match (level, reuse) {
        (Some(l), Some(r)) => Some((l, r)),
        (None, None) => None,
        (Some(_), None) => return Err(missing_attr("reuseThreshold", "monitor")),
        (None, Some(_)) => return Err(missing_attr("level", "monitor")),
    };
    let max_monitors = prop_uint(Some(m), "maxMonitors", 10, true, false)?.unwrap_or(0);
    let features = children(m, "feature")
        .map(|f| prop_required(f, "name"))
        .collect::<Result<Vec<_>>>()?;
    if features.is_empty() {
        // libvirt prints no monitor without features: one would be lost.
        return Err(invalid("a resctrl <monitor> lists no <feature>"));
    }
    Ok(ResctrlMonitor {
        cache,
        max_monitors,
        features,
    })
}

fn parse_membw_node(n: Node) -> Result<MemBwNode> {
    let id = prop_uint(Some(n), "id", 10, true, false)?.unwrap_or(0);
    let cpus = cpu_list(&prop_required(n, "cpus")?)?;
    let mut controls = children(n, "control");
    let c = controls
        .next()
        .ok_or_else(|| invalid(format!("missing <control> in memory bandwidth node {id}")))?;
    if controls.next().is_some() {
        return Err(invalid(format!(
            "memory bandwidth node {id} has more than one <control>"
        )));
    }
    Ok(MemBwNode {
        id,
        cpus,
        granularity: prop_uint(Some(c), "granularity", 10, true, false)?.unwrap_or(0),
        min: prop_uint(Some(c), "min", 10, false, false)?.unwrap_or(0),
        max_allocs: prop_uint(Some(c), "maxAllocs", 10, true, false)?.unwrap_or(0),
    })
}

fn parse_secmodel(s: Node) -> Result<SecModel> {
    let model = child(s, "model")
        .map(text_content)
        .ok_or_else(|| invalid("missing <model> in <secmodel>"))?;
    let doi = child(s, "doi")
        .map(text_content)
        .ok_or_else(|| invalid(format!("missing <doi> in <secmodel> '{model}'")))?;
    let base_labels = children(s, "baselabel")
        .map(|b| Ok((prop_required(b, "type")?, text_content(b))))
        .collect::<Result<Vec<_>>>()?;
    Ok(SecModel {
        model,
        doi,
        base_labels,
    })
}

fn parse_guest(g: Node) -> Result<Guest> {
    let os_type =
        xpath_text(g, &["os_type"]).ok_or_else(|| invalid("missing <os_type> in <guest>"))?;
    let a = child(g, "arch")
        .ok_or_else(|| invalid(format!("missing <arch> in the '{os_type}' <guest>")))?;
    let arch = prop_required(a, "name")?;
    let what = format!("guest arch '{arch}'");
    let wordsize = xpath_text(a, &["wordsize"])
        .ok_or_else(|| invalid(format!("missing <wordsize> in {what}")))?;
    let wordsize = number(&wordsize, &format!("<wordsize> of {what}"), str_to_u32_pos)?;
    let machines = children(a, "machine")
        .map(|m| parse_machine(m, &what, true))
        .collect::<Result<Vec<_>>>()?;
    let domains = children(a, "domain")
        .map(|d| {
            let type_ = prop_required(d, "type")?;
            let what = format!("<domain type='{type_}'> of {what}");
            Ok(GuestDomain {
                emulator: xpath_text(d, &["emulator"]),
                loader: xpath_text(d, &["loader"]),
                machines: children(d, "machine")
                    .map(|m| parse_machine(m, &what, false))
                    .collect::<Result<Vec<_>>>()?,
                type_,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut features: Vec<GuestFeature> = Vec::new();
    if let Some(f) = child(g, "features") {
        for n in f
            .children()
            .filter(|c| c.is_element() && c.tag_name().namespace().is_none())
        {
            let name = n.tag_name().name();
            if features.iter().any(|x| x.name == name) {
                return Err(invalid(format!(
                    "guest feature <{name}> appears twice in {what}"
                )));
            }
            features.push(GuestFeature {
                name: name.to_string(),
                default_on: match prop_tristate_switch(Some(n), "default")? {
                    Tristate::Absent => None,
                    v => Some(v == Tristate::Yes),
                },
                toggle: match prop_tristate_bool(Some(n), "toggle")? {
                    Tristate::Absent => None,
                    v => Some(v == Tristate::Yes),
                },
            });
        }
    }
    // libvirt keeps guest features in a fixed order (older versions printed another one).
    features.sort_by_key(|f| guest_feature_rank(&f.name));
    Ok(Guest {
        os_type,
        emulator: xpath_text(a, &["emulator"]),
        loader: xpath_text(a, &["loader"]),
        arch,
        wordsize,
        machines,
        domains,
        features,
    })
}

/// A `<machine>`; `deprecated` is printed (and so read) only for a guest arch's own list.
fn parse_machine(m: Node, what: &str, with_deprecated: bool) -> Result<Machine> {
    let name = text_content(m);
    if name.is_empty() {
        return Err(invalid(format!("a <machine> of {what} has no name")));
    }
    let max_cpus = match prop_uint(Some(m), "maxCpus", 10, false, false)? {
        None => 0,
        Some(v) => i32::try_from(v).map_err(|_| {
            invalid(format!(
                "maxCpus '{v}' of machine '{name}' of {what} is too large"
            ))
        })?,
    };
    let deprecated = prop_tristate_bool(Some(m), "deprecated")? == Tristate::Yes;
    Ok(Machine {
        canonical: m.attribute("canonical").map(str::to_string),
        max_cpus,
        deprecated: with_deprecated && deprecated,
        name,
    })
}

// ---- shared value readers ----

const KIB: u128 = 1024;

fn missing_attr(attr: &str, elem: &str) -> XmlError {
    err(
        code::XML_ERROR,
        domain::XML,
        format!("Missing required attribute '{attr}' in element '{elem}'"),
    )
}

/// A number in element text.
fn number<T>(s: &str, what: &str, conv: impl Fn(&str, u32) -> Option<T>) -> Result<T> {
    conv(s, 10).ok_or_else(|| {
        invalid(format!(
            "invalid value '{s}' of {what}: expected a non-negative integer"
        ))
    })
}

/// CPU numbers (`virBitmapParse`, up to [`MAX_CPUS`]); libvirt prints an empty set as `''`.
fn cpu_list(s: &str) -> Result<Vec<u32>> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    Ok(Bitmap::parse(s, MAX_CPUS)?.iter().collect())
}

/// The bytes of a unit, with `virScaleInteger`'s suffixes (`b`, `KiB`, `k`, `KB`, `MiB`, …).
fn unit_bytes(unit: &str) -> Result<u128> {
    if ["b", "byte", "bytes"]
        .iter()
        .any(|b| unit.eq_ignore_ascii_case(b))
    {
        return Ok(1);
    }
    let unknown = || {
        err(
            code::INVALID_ARG,
            domain::NONE,
            format!("unknown suffix '{unit}'"),
        )
    };
    let mut chars = unit.chars();
    let first = chars.next().ok_or_else(unknown)?;
    let rest = chars.as_str();
    let base: u128 = if rest.is_empty() || rest.eq_ignore_ascii_case("iB") {
        1024
    } else if rest.eq_ignore_ascii_case("b") {
        1000
    } else {
        return Err(unknown());
    };
    let power = match first.to_ascii_lowercase() {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        _ => return Err(unknown()),
    };
    Ok(base.pow(power))
}

/// `value` in `unit` (default `default` bytes), as a whole number of `target` bytes: the
/// model keeps one unit, so a value it cannot hold exactly is refused.
fn scaled_u64(
    value: u64,
    unit: Option<&str>,
    default: u128,
    target: u128,
    what: &str,
) -> Result<u64> {
    let scale = match unit {
        None => default,
        Some(u) => unit_bytes(u)?,
    };
    let bytes = value as u128 * scale;
    if !bytes.is_multiple_of(target) {
        return Err(invalid(format!(
            "{what} ({value} {}) is not a whole number of {}",
            unit.unwrap_or("units"),
            if target == 1 { "bytes" } else { "KiB" }
        )));
    }
    u64::try_from(bytes / target).map_err(|_| {
        err(
            code::OVERFLOW,
            domain::NONE,
            format!("value too large: {value}{}", unit.unwrap_or("")),
        )
    })
}

fn scaled_u32(
    value: u64,
    unit: Option<&str>,
    default: u128,
    target: u128,
    what: &str,
) -> Result<u32> {
    let v = scaled_u64(value, unit, default, target, what)?;
    u32::try_from(v).map_err(|_| {
        err(
            code::OVERFLOW,
            domain::NONE,
            format!("value too large: {value}{}", unit.unwrap_or("")),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small document in libvirt 9.0's layout.
    const DOC: &str = "<capabilities>

  <host>
    <uuid>a25c794c-34ad-11b2-a85c-b030533115b8</uuid>
    <cpu>
      <arch>x86_64</arch>
      <model>Haswell-noTSX</model>
      <vendor>Intel</vendor>
      <microcode version='45'/>
      <signature family='6' model='63' stepping='2'/>
      <counter name='tsc' frequency='2596991000' scaling='no'/>
      <topology sockets='1' dies='1' cores='8' threads='1'/>
      <maxphysaddr mode='passthrough'/>
      <feature name='vme'/>
      <pages unit='KiB' size='4'/>
    </cpu>
    <power_management>
      <suspend_mem/>
    </power_management>
    <iommu support='yes'/>
    <topology>
      <cells num='1'>
        <cell id='0'>
          <memory unit='KiB'>16175540</memory>
          <pages unit='KiB' size='4'>4043885</pages>
          <distances>
            <sibling id='0' value='10'/>
          </distances>
          <cpus num='2'>
            <cpu id='0' socket_id='0' die_id='0' core_id='0' siblings='0-1'/>
            <cpu id='1' socket_id='0' die_id='0' core_id='0' siblings='0-1'/>
          </cpus>
        </cell>
      </cells>
    </topology>
    <secmodel>
      <model>dac</model>
      <doi>0</doi>
      <baselabel type='kvm'>+107:+107</baselabel>
    </secmodel>
  </host>

  <guest>
    <os_type>hvm</os_type>
    <arch name='x86_64'>
      <wordsize>64</wordsize>
      <emulator>/usr/bin/qemu-system-x86_64</emulator>
      <machine maxCpus='255'>pc-i440fx-7.2</machine>
      <machine canonical='pc-i440fx-7.2' maxCpus='255'>pc</machine>
      <machine maxCpus='255' deprecated='yes'>pc-i440fx-2.0</machine>
      <domain type='qemu'/>
      <domain type='kvm'>
        <emulator>/usr/bin/kvm</emulator>
        <machine maxCpus='288'>q35</machine>
      </domain>
    </arch>
    <features>
      <acpi default='on' toggle='yes'/>
      <cpuselection/>
    </features>
  </guest>

</capabilities>
";

    fn msg(xml: &str) -> String {
        Capabilities::parse(xml).unwrap_err().message()
    }

    #[test]
    fn reads_every_part_and_formats_it_back() {
        let c = Capabilities::parse(DOC).unwrap();
        assert_eq!(c.format(), DOC);
        let h = &c.host;
        assert_eq!(h.iommu, Some(true));
        assert_eq!(h.cpu.signature, Some((6, 63, 2)));
        assert_eq!(
            h.cpu.tsc,
            Some(TscCounter {
                frequency: 2596991000,
                scaling: Some(false)
            })
        );
        assert_eq!(
            h.cpu.maxphysaddr,
            Some((MaxPhysAddrMode::Passthrough, None))
        );
        let cell = &h.numa.as_ref().unwrap()[0];
        assert_eq!(cell.cpus[1].siblings, Some(vec![0, 1]));
        assert_eq!(h.secmodels[0].base_labels[0].1, "+107:+107");
        let g = &c.guests[0];
        assert_eq!(g.machines[1].canonical.as_deref(), Some("pc-i440fx-7.2"));
        assert!(g.machines[2].deprecated);
        assert_eq!(g.domains[1].machines[0].max_cpus, 288);
        assert_eq!(g.features[0].default_on, Some(true));
    }

    #[test]
    fn the_test_drivers_document_round_trips() {
        let cpus = vec![CellCpu {
            id: 0,
            socket_id: 0,
            die_id: 0,
            core_id: 0,
            siblings: Some(vec![0]),
        }];
        let c = Capabilities::test_driver(&[(cpus, 2 << 20)], false);
        let x = c.format();
        assert_eq!(Capabilities::parse(&x).unwrap(), c);
    }

    #[test]
    fn older_layouts_read_with_libvirts_meaning() {
        let old = DOC
            .replace(" dies='1'", "")
            .replace(" die_id='0'", "")
            .replace("    <iommu support='yes'/>\n", "")
            .replace(
                "      <acpi default='on' toggle='yes'/>\n      <cpuselection/>\n",
                "      <cpuselection/>\n      <acpi default='on' toggle='yes'/>\n",
            );
        let c = Capabilities::parse(&old).unwrap();
        assert_eq!(c.host.iommu, None);
        assert_eq!(c.host.cpu.topology, Some((1, 1, 8, 1)));
        let want = DOC.replace("    <iommu support='yes'/>\n", "");
        assert_eq!(c.format(), want);
        let bare_iommu = DOC.replace("<iommu support='yes'/>", "<iommu/>");
        assert_eq!(
            Capabilities::parse(&bare_iommu).unwrap().host.iommu,
            Some(false)
        );
    }

    #[test]
    fn values_libvirt_treats_as_absent_are_absent() {
        let doc = DOC
            .replace(
                "a25c794c-34ad-11b2-a85c-b030533115b8",
                "00000000-0000-0000-0000-000000000000",
            )
            .replace("version='45'", "version='0'")
            .replace("value='10'", "value='0'")
            .replace(
                "<memory unit='KiB'>16175540</memory>",
                "<memory unit='KiB'>0</memory>",
            )
            .replace(
                "<machine maxCpus='288'>q35",
                "<machine maxCpus='288' deprecated='yes'>q35",
            );
        let c = Capabilities::parse(&doc).unwrap();
        assert_eq!(c.host.uuid, None);
        assert_eq!(c.host.cpu.microcode, None);
        let cell = &c.host.numa.as_ref().unwrap()[0];
        assert!(cell.distances.is_empty() && cell.memory_kib == 0);
        // deprecated= is printed only for a guest arch's own machines.
        assert!(!c.guests[0].domains[1].machines[0].deprecated);
        assert_eq!(Capabilities::parse(&c.format()).unwrap(), c);
    }

    #[test]
    fn units_are_scaled_and_must_fit() {
        let doc = DOC
            .replace(
                "<memory unit='KiB'>16175540</memory>",
                "<memory unit='MiB'>2</memory>",
            )
            .replace(
                "<pages unit='KiB' size='4'/>",
                "<pages unit='b' size='8192'/>",
            );
        let c = Capabilities::parse(&doc).unwrap();
        assert_eq!(c.host.numa.as_ref().unwrap()[0].memory_kib, 2048);
        assert_eq!(c.host.page_sizes, vec![8]);
        let odd = DOC.replace(
            "<memory unit='KiB'>16175540</memory>",
            "<memory unit='bytes'>1000</memory>",
        );
        assert_eq!(
            msg(&odd),
            "XML error: <memory> of NUMA cell 0 (1000 bytes) is not a whole number of KiB"
        );
        let unknown = DOC.replace("<pages unit='KiB' size='4'/>", "<pages unit='X' size='4'/>");
        let e = Capabilities::parse(&unknown).unwrap_err();
        assert_eq!(e.code(), code::INVALID_ARG);
        assert_eq!(e.message(), "invalid argument: unknown suffix 'X'");
    }

    #[test]
    fn errors_name_the_element() {
        let e = Capabilities::parse("<capabilities><guest/></capabilities>").unwrap_err();
        assert_eq!(
            (e.code(), e.domain()),
            (code::XML_ERROR, domain::CAPABILITIES)
        );
        assert_eq!(e.message(), "XML error: missing <host> in capabilities");
        let e = Capabilities::parse(&DOC.replace("<arch>x86_64</arch>", "")).unwrap_err();
        assert_eq!(e.domain(), domain::CPU);
        assert_eq!(e.message(), "XML error: Missing CPU architecture");
        assert_eq!(
            msg(&DOC.replace("<cpus num='2'>", "<cpus num='3'>")),
            "XML error: <cpus num='3'> of NUMA cell 0 lists 2 CPUs"
        );
        assert_eq!(
            msg(&DOC.replace(
                " siblings='0-1'/>\n            <cpu id='1'",
                "/>\n            <cpu id='1'"
            )),
            "XML error: Missing required attribute 'siblings' in element 'cpu'"
        );
        assert_eq!(
            msg(&DOC.replace("siblings='0-1'", "siblings='1-x'")),
            "invalid argument: Failed to parse bitmap '1-x'"
        );
        assert_eq!(
            msg(&DOC.replace("cores='8'", "cores='0'")),
            "XML error: Invalid value for attribute 'cores' in element 'topology': Zero is not permitted"
        );
        assert_eq!(
            msg(&DOC.replace("mode='passthrough'", "mode='host'")),
            "XML error: Invalid value for attribute 'mode' in element 'maxphysaddr': 'host'."
        );
        assert_eq!(
            msg(&DOC.replace(
                "<feature name='vme'/>",
                "<feature name='vme'/><feature name='vme'/>"
            )),
            "XML error: CPU feature 'vme' specified more than once"
        );
        assert_eq!(
            msg(&DOC.replace("<cpuselection/>", "<cpuselection/><acpi/>")),
            "XML error: guest feature <acpi> appears twice in guest arch 'x86_64'"
        );
        assert_eq!(
            msg(&DOC.replace("toggle='yes'", "toggle='maybe'")),
            "XML error: Invalid value for attribute 'toggle' in element 'acpi': 'maybe'."
        );
        assert_eq!(
            msg(&DOC.replace("<wordsize>64</wordsize>", "<wordsize>wide</wordsize>")),
            "XML error: invalid value 'wide' of <wordsize> of guest arch 'x86_64': expected a \
             non-negative integer"
        );
        assert_eq!(
            msg(&DOC.replace("<doi>0</doi>", "")),
            "XML error: missing <doi> in <secmodel> 'dac'"
        );
        let e = Capabilities::parse("<capabilities>").unwrap_err();
        assert_eq!(
            (e.code(), e.domain()),
            (code::XML_DETAIL, domain::CAPABILITIES)
        );
        assert!(
            e.message().starts_with("(capabilities):1: "),
            "{}",
            e.message()
        );
        assert_eq!(
            msg("<domainCapabilities/>"),
            "XML error: expecting root element of 'capabilities', not 'domainCapabilities'"
        );
    }

    #[test]
    fn resctrl_and_hmat_parts_round_trip() {
        let doc = DOC
            .replace(
                "          <cpus num='2'>",
                "          <cache level='1' associativity='direct' policy='writeback'>
            <size value='10' unit='KiB'/>
            <line value='8' unit='B'/>
          </cache>
          <cpus num='2'>",
            )
            .replace(
                "      </cells>\n",
                "      </cells>
      <interconnects>
        <latency initiator='0' target='0' cache='1' type='read' value='6'/>
        <bandwidth initiator='0' target='0' type='access' value='205824' unit='KiB'/>
      </interconnects>\n",
            )
            .replace(
                "    <secmodel>",
                "    <cache>
      <bank id='0' level='3' type='both' size='15' unit='MiB' cpus='0-1'>
        <control granularity='768' min='1536' unit='KiB' type='both' maxAllocs='4'/>
      </bank>
      <monitor level='3' reuseThreshold='270336' maxMonitors='176'>
        <feature name='llc_occupancy'/>
      </monitor>
    </cache>
    <memory_bandwidth>
      <node id='0' cpus='0-1'>
        <control granularity='10' min='10' maxAllocs='4'/>
      </node>
      <monitor maxMonitors='176'>
        <feature name='mbm_total_bytes'/>
      </monitor>
    </memory_bandwidth>
    <secmodel>",
            );
        let c = Capabilities::parse(&doc).unwrap();
        assert_eq!(c.format(), doc);
        assert_eq!(c.host.caches[0].controls[0].granularity_bytes, 768 * 1024);
        assert_eq!(c.host.interconnects[0].cache, 1);
        assert_eq!(c.host.memory_bandwidth.nodes[0].min, 10);
        assert_eq!(
            msg(&doc.replace("        <feature name='mbm_total_bytes'/>\n", "")),
            "XML error: a resctrl <monitor> lists no <feature>"
        );
        assert_eq!(
            msg(&doc.replace(
                "<control granularity='10' min='10' maxAllocs='4'/>",
                "<control granularity='10' maxAllocs='4'/><control granularity='20' maxAllocs='4'/>"
            )),
            "XML error: memory bandwidth node 0 has more than one <control>"
        );
        assert_eq!(
            msg(&doc.replace("reuseThreshold='270336' ", "")),
            "XML error: Missing required attribute 'reuseThreshold' in element 'monitor'"
        );
    }

    #[test]
    fn control_units_follow_libvirt() {
        let ctl = |g: u64, m: u64| {
            crate::capabilities::tests_support::control(CacheControl {
                granularity_bytes: g,
                min_bytes: m,
                type_: "both".into(),
                max_allocs: 4,
            })
        };
        assert_eq!(
            ctl(768 << 10, 1536 << 10),
            "<control granularity='768' min='1536' unit='KiB' type='both' maxAllocs='4'/>"
        );
        // The smaller unit wins.
        assert_eq!(
            ctl(3 << 20, 512 << 10),
            "<control granularity='3072' min='512' unit='KiB' type='both' maxAllocs='4'/>"
        );
        assert_eq!(
            ctl(1 << 10, 2 << 20),
            "<control granularity='1' min='2048' unit='KiB' type='both' maxAllocs='4'/>"
        );
        // libvirt would divide by zero here; the output still reads back.
        assert_eq!(
            ctl(0, 3 << 10),
            "<control granularity='0' min='3072' unit='B' type='both' maxAllocs='4'/>"
        );
    }

    #[test]
    fn strings_are_escaped_and_read_back() {
        let doc = DOC
            .replace(">pc<", ">p&amp;c&#13;<")
            .replace("canonical='pc-i440fx-7.2'", "canonical='a&apos;b&#10;'")
            .replace(">+107:+107<", ">&lt;x&gt;<");
        let c = Capabilities::parse(&doc).unwrap();
        assert_eq!(c.guests[0].machines[1].name, "p&c\r");
        assert_eq!(c.guests[0].machines[1].canonical.as_deref(), Some("a'b\n"));
        let x = c.format();
        assert!(
            x.contains("<machine canonical='a&apos;b&#10;' maxCpus='255'>p&amp;c&#13;</machine>"),
            "{x}"
        );
        assert_eq!(Capabilities::parse(&x).unwrap(), c);
    }
}
