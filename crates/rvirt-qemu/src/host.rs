//! What the host looks like, read from `/proc` and `/sys`, for the `<host>` part of the
//! `capabilities` XML: the host UUID, CPU identity and topology, page sizes, NUMA cells with
//! their memory, pages, distances and CPUs, the L3 cache banks, and whether an IOMMU is active.
//!
//! Everything is read once per call of [`HostInfo::probe`]; the files are small and the daemon
//! asks only when a client requests `capabilities`. Missing files (containers, unusual kernels)
//! leave the corresponding parts out rather than failing.

use std::fs;
use std::path::Path;

/// One CPU inside a NUMA cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCpu {
    /// Logical CPU number.
    pub id: u32,
    /// `physical_package_id`.
    pub socket_id: u32,
    /// `die_id`.
    pub die_id: u32,
    /// `core_id`.
    pub core_id: u32,
    /// `thread_siblings_list`, as the kernel prints it (e.g. `0,4` or `0-1`).
    pub siblings: String,
}

/// A NUMA cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumaCell {
    /// Node number.
    pub id: u32,
    /// Total memory in KiB.
    pub memory_kib: u64,
    /// (page size in KiB, number of pages) for every page size the host has.
    pub pages: Vec<(u64, u64)>,
    /// (node, distance) pairs.
    pub distances: Vec<(u32, u32)>,
    /// The node's CPUs.
    pub cpus: Vec<HostCpu>,
}

/// An L3 (or higher) cache bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheBank {
    /// Cache id.
    pub id: u32,
    /// Cache level.
    pub level: u32,
    /// `both`, `data` or `code`.
    pub kind: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// CPUs sharing it (the kernel's list form).
    pub cpus: String,
}

/// The host facts the capabilities XML reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostInfo {
    /// Host UUID.
    pub uuid: String,
    /// Architecture name as libvirt spells it (`x86_64`, `aarch64`, …).
    pub arch: String,
    /// CPU vendor as libvirt names it (`Intel`, `AMD`, …), when known.
    pub vendor: Option<String>,
    /// (family, model, stepping) from /proc/cpuinfo.
    pub signature: Option<(u32, u32, u32)>,
    /// Microcode revision.
    pub microcode: Option<u64>,
    /// Physical address bits.
    pub phys_bits: Option<u32>,
    /// (sockets, dies, cores, threads) per NUMA node, as libvirt counts them.
    pub topology: (u32, u32, u32, u32),
    /// Page sizes in KiB: the base page first, then huge page sizes ascending.
    pub page_sizes: Vec<u64>,
    /// NUMA cells.
    pub cells: Vec<NumaCell>,
    /// L3+ cache banks.
    pub caches: Vec<CacheBank>,
    /// Whether an IOMMU is active (any IOMMU group exists).
    pub iommu: bool,
}

fn read(p: impl AsRef<Path>) -> Option<String> {
    fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

fn read_num<T: std::str::FromStr>(p: impl AsRef<Path>) -> Option<T> {
    read(p)?.parse().ok()
}

/// Expands a kernel CPU list (`0-3,8`) into numbers.
pub fn parse_cpu_list(s: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                    out.extend(a..=b);
                }
            }
            None => {
                if let Ok(n) = part.parse() {
                    out.push(n);
                }
            }
        }
    }
    out
}

/// libvirt's architecture name for the machine we run on.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86" => "i686",
        "powerpc64" => "ppc64",
        other => other,
    }
}

impl HostInfo {
    /// Reads the host's facts.
    pub fn probe() -> HostInfo {
        let cpuinfo = read("/proc/cpuinfo").unwrap_or_default();
        let field = |name: &str| {
            cpuinfo.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == name).then(|| v.trim().to_string())
            })
        };
        let vendor = field("vendor_id").map(|v| match v.as_str() {
            "GenuineIntel" => "Intel".to_string(),
            "AuthenticAMD" => "AMD".to_string(),
            "HygonGenuine" => "Hygon".to_string(),
            "CentaurHauls" => "VIA".to_string(),
            _ => v,
        });
        let signature = match (field("cpu family"), field("model"), field("stepping")) {
            (Some(f), Some(m), Some(s)) => match (f.parse(), m.parse(), s.parse()) {
                (Ok(f), Ok(m), Ok(s)) => Some((f, m, s)),
                _ => None,
            },
            _ => None,
        };
        let microcode = field("microcode").and_then(|m| {
            let m = m.trim_start_matches("0x");
            u64::from_str_radix(m, 16).ok()
        });
        let phys_bits = field("address sizes")
            .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()));

        let base_kib = page_size_kib();
        let mut page_sizes = vec![base_kib];
        let mut huge: Vec<u64> = fs::read_dir("/sys/kernel/mm/hugepages")
            .map(|d| {
                d.filter_map(|e| {
                    let n = e.ok()?.file_name().into_string().ok()?;
                    n.strip_prefix("hugepages-")?
                        .strip_suffix("kB")?
                        .parse()
                        .ok()
                })
                .collect()
            })
            .unwrap_or_default();
        huge.sort_unstable();
        page_sizes.extend(huge);

        let cells = numa_cells(&page_sizes);
        let topology = topology(&cells);
        HostInfo {
            uuid: host_uuid(),
            arch: host_arch().to_string(),
            vendor,
            signature,
            microcode,
            phys_bits,
            topology,
            page_sizes,
            cells,
            caches: caches(),
            iommu: fs::read_dir("/sys/kernel/iommu_groups")
                .map(|mut d| d.next().is_some())
                .unwrap_or(false),
        }
    }
}

fn page_size_kib() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let sz = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if sz > 0 {
        sz as u64 / 1024
    } else {
        4
    }
}

/// The host UUID: the firmware's (SMBIOS) when it is a real one, else derived from
/// /etc/machine-id, so it is stable across daemon restarts (libvirt makes up a random one per
/// start in that case).
fn host_uuid() -> String {
    for p in [
        "/sys/devices/virtual/dmi/id/product_uuid",
        "/sys/class/dmi/id/product_uuid",
    ] {
        if let Some(u) = read(p) {
            let hex: String = u.chars().filter(|c| c.is_ascii_hexdigit()).collect();
            let all_same = hex.chars().all(|c| hex.starts_with(c));
            if hex.len() == 32 && !all_same {
                return u.to_lowercase();
            }
        }
    }
    if let Some(id) = read("/etc/machine-id") {
        if id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()) {
            return format!(
                "{}-{}-{}-{}-{}",
                &id[0..8],
                &id[8..12],
                &id[12..16],
                &id[16..20],
                &id[20..32]
            );
        }
    }
    "00000000-0000-0000-0000-000000000000".to_string()
}

fn numa_cells(page_sizes: &[u64]) -> Vec<NumaCell> {
    let mut nodes: Vec<u32> = fs::read_dir("/sys/devices/system/node")
        .map(|d| {
            d.filter_map(|e| {
                let n = e.ok()?.file_name().into_string().ok()?;
                n.strip_prefix("node")?.parse().ok()
            })
            .collect()
        })
        .unwrap_or_default();
    nodes.sort_unstable();
    if nodes.is_empty() {
        // No NUMA information: one cell with all memory and online CPUs.
        let mem = read("/proc/meminfo")
            .and_then(|m| meminfo_total(&m))
            .unwrap_or(0);
        let cpus = parse_cpu_list(&read("/sys/devices/system/cpu/online").unwrap_or_default());
        return vec![cell(0, mem, cpus, vec![(0, 10)], page_sizes, None)];
    }
    nodes
        .iter()
        .map(|&n| {
            let base = format!("/sys/devices/system/node/node{n}");
            let mem = read(format!("{base}/meminfo"))
                .and_then(|m| meminfo_total(&m))
                .unwrap_or(0);
            let cpus = parse_cpu_list(&read(format!("{base}/cpulist")).unwrap_or_default());
            let distances = read(format!("{base}/distance"))
                .map(|d| {
                    d.split_whitespace()
                        .zip(nodes.iter())
                        .filter_map(|(v, &id)| Some((id, v.parse().ok()?)))
                        .collect()
                })
                .unwrap_or_default();
            cell(n, mem, cpus, distances, page_sizes, Some(&base))
        })
        .collect()
}

fn meminfo_total(m: &str) -> Option<u64> {
    m.lines().find_map(|l| {
        let i = l.find("MemTotal:")?;
        l[i + 9..].split_whitespace().next()?.parse().ok()
    })
}

fn cell(
    id: u32,
    memory_kib: u64,
    cpu_ids: Vec<u32>,
    distances: Vec<(u32, u32)>,
    page_sizes: &[u64],
    node_dir: Option<&str>,
) -> NumaCell {
    let mut pages = Vec::new();
    let mut huge_kib = 0;
    for &size in page_sizes.iter().skip(1) {
        let n: u64 = node_dir
            .and_then(|d| read_num(format!("{d}/hugepages/hugepages-{size}kB/nr_hugepages")))
            .or_else(|| {
                read_num(format!(
                    "/sys/kernel/mm/hugepages/hugepages-{size}kB/nr_hugepages"
                ))
            })
            .unwrap_or(0);
        huge_kib += n * size;
        pages.push((size, n));
    }
    // Base pages: what is not reserved as huge pages (libvirt's arithmetic).
    let base = page_sizes.first().copied().unwrap_or(4);
    pages.insert(0, (base, memory_kib.saturating_sub(huge_kib) / base));
    let cpus = cpu_ids
        .into_iter()
        .map(|c| {
            let t = format!("/sys/devices/system/cpu/cpu{c}/topology");
            HostCpu {
                id: c,
                socket_id: read_num(format!("{t}/physical_package_id")).unwrap_or(0),
                die_id: read_num(format!("{t}/die_id")).unwrap_or(0),
                core_id: read_num(format!("{t}/core_id")).unwrap_or(c),
                siblings: read(format!("{t}/thread_siblings_list"))
                    .unwrap_or_else(|| c.to_string()),
            }
        })
        .collect();
    NumaCell {
        id,
        memory_kib,
        pages,
        distances,
        cpus,
    }
}

/// libvirt's host CPU topology: sockets per node, dies per socket, cores per die, threads per
/// core, from the first cell's CPUs.
fn topology(cells: &[NumaCell]) -> (u32, u32, u32, u32) {
    let Some(cell) = cells.first() else {
        return (1, 1, 1, 1);
    };
    let mut sockets: Vec<u32> = cell.cpus.iter().map(|c| c.socket_id).collect();
    sockets.sort_unstable();
    sockets.dedup();
    let mut dies: Vec<(u32, u32)> = cell.cpus.iter().map(|c| (c.socket_id, c.die_id)).collect();
    dies.sort_unstable();
    dies.dedup();
    let mut cores: Vec<(u32, u32, u32)> = cell
        .cpus
        .iter()
        .map(|c| (c.socket_id, c.die_id, c.core_id))
        .collect();
    cores.sort_unstable();
    cores.dedup();
    let n_sockets = sockets.len().max(1) as u32;
    let n_dies = (dies.len() as u32 / n_sockets).max(1);
    let n_cores = (cores.len() as u32 / (n_sockets * n_dies)).max(1);
    let n_threads = (cell.cpus.len() as u32 / (n_sockets * n_dies * n_cores)).max(1);
    (n_sockets, n_dies, n_cores, n_threads)
}

fn caches() -> Vec<CacheBank> {
    let mut banks: Vec<CacheBank> = Vec::new();
    let cpus = parse_cpu_list(&read("/sys/devices/system/cpu/online").unwrap_or_default());
    for c in cpus {
        let Ok(dir) = fs::read_dir(format!("/sys/devices/system/cpu/cpu{c}/cache")) else {
            continue;
        };
        for e in dir.flatten() {
            let p = e.path();
            if !e.file_name().to_string_lossy().starts_with("index") {
                continue;
            }
            let Some(level) = read_num::<u32>(p.join("level")) else {
                continue;
            };
            // libvirt reports only the caches it can allocate from: level 3 and up.
            if level < 3 {
                continue;
            }
            let kind = match read(p.join("type")).as_deref() {
                Some("Unified") => "both",
                Some("Data") => "data",
                Some("Instruction") => "code",
                _ => continue,
            };
            let id = read_num(p.join("id")).unwrap_or(0);
            let size = read(p.join("size"))
                .and_then(|s| parse_size(&s))
                .unwrap_or(0);
            let shared = read(p.join("shared_cpu_list")).unwrap_or_default();
            if !banks
                .iter()
                .any(|b| b.id == id && b.level == level && b.kind == kind)
            {
                banks.push(CacheBank {
                    id,
                    level,
                    kind: kind.into(),
                    size_bytes: size,
                    cpus: shared,
                });
            }
        }
    }
    banks.sort_by_key(|b| (b.level, b.id));
    banks
}

fn parse_size(s: &str) -> Option<u64> {
    let (num, mult) = match s.chars().last()? {
        'K' => (&s[..s.len() - 1], 1024),
        'M' => (&s[..s.len() - 1], 1024 * 1024),
        'G' => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    num.parse::<u64>().ok().map(|n| n * mult)
}

/// A byte size in the largest unit that divides it exactly, as libvirt's cache banks print it.
pub fn scaled_size(bytes: u64) -> (u64, &'static str) {
    for (unit, div) in [
        ("TiB", 1u64 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ] {
        if bytes >= div && bytes % div == 0 {
            return (bytes / div, unit);
        }
    }
    (bytes, "B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,8,10-11\n"), vec![0, 1, 2, 3, 8, 10, 11]);
        assert_eq!(parse_cpu_list(""), Vec::<u32>::new());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("107520K"), Some(107520 * 1024));
        assert_eq!(scaled_size(107520 * 1024), (105, "MiB"));
        assert_eq!(scaled_size(1536 * 1024), (1536, "KiB"));
    }

    #[test]
    fn probes_this_host() {
        let h = HostInfo::probe();
        assert_eq!(h.arch, host_arch());
        assert_eq!(h.uuid.len(), 36);
        assert!(!h.cells.is_empty());
        let ncpus: usize = h.cells.iter().map(|c| c.cpus.len()).sum();
        // SAFETY: sysconf has no memory-safety preconditions.
        let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) } as usize;
        assert_eq!(ncpus, online);
        let (s, d, c, t) = h.topology;
        assert_eq!((s * d * c * t) as usize * h.cells.len(), online);
        assert!(h.cells[0].memory_kib > 0);
        assert_eq!(h.page_sizes[0], 4);
    }
}
