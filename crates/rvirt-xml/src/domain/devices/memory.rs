//! `<memory>` devices: DIMMs, NVDIMMs, virtio-pmem, virtio-mem and SGX EPC sections
//! (`virDomainMemoryDefParseXML`, `virDomainMemoryDefFormat`, `virDomainMemoryDefPostParse`,
//! `virDomainMemoryDefValidate`).

use super::super::bitmap::Bitmap;
use super::super::buf::Buf;
use super::super::cpu::CPUMASK_LEN;
use super::super::tune::MemoryAccess;
use super::super::xml::{
    first, internal, memory_kib, prop, prop_enum, prop_enum_required, prop_yes_no, report,
    unsupported, uuid_format, uuid_generate, uuid_parse, xml_enum, xml_error, xstring, yes_no,
    Node, Result,
};
use super::{format_info, parse_info, AddressType, DeviceInfo};
use rvirt_proto::error::{code, domain};

xml_enum! {
    /// `virDomainMemoryModel`.
    pub enum MemoryModel {
        None = "", Dimm = "dimm", Nvdimm = "nvdimm", VirtioPmem = "virtio-pmem",
        VirtioMem = "virtio-mem", SgxEpc = "sgx-epc",
    }
}

/// A `<memory>` device (`virDomainMemoryDef`); sizes in KiB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryDevice {
    /// `model=`.
    pub model: MemoryModel,
    /// `access=`.
    pub access: Option<MemoryAccess>,
    /// `discard=`.
    pub discard: Option<bool>,
    /// `<uuid>` (NVDIMM).
    pub uuid: Option<[u8; 16]>,
    /// `<source><pagesize>`.
    pub pagesize: u64,
    /// `<source><nodemask>`.
    pub source_nodes: Option<Bitmap>,
    /// `<source><path>`.
    pub path: Option<String>,
    /// `<source><alignsize>`.
    pub alignsize: u64,
    /// `<source><pmem/>`.
    pub pmem: bool,
    /// `<target><size>`.
    pub size: u64,
    /// `<target><node>` (-1: unset).
    pub target_node: i32,
    /// `<target><label><size>`.
    pub labelsize: u64,
    /// `<target><readonly/>`.
    pub readonly: bool,
    /// `<target><block>`.
    pub blocksize: u64,
    /// `<target><requested>`.
    pub requested: u64,
    /// Address and alias.
    pub info: DeviceInfo,
}

fn mem(n: Node, path: &str, xpath: &str, required: bool) -> Result<u64> {
    Ok(memory_kib(
        xstring(n, path),
        super::super::xml::xattr(n, path, "unit"),
        xpath,
        required,
    )?
    .unwrap_or(0))
}

fn nodemask(n: Node) -> Result<Option<Bitmap>> {
    match xstring(n, "nodemask") {
        None => Ok(None),
        Some(s) => {
            let b = Bitmap::parse(&s, CPUMASK_LEN)?;
            if b.is_all_clear() {
                return Err(unsupported(format!("Invalid value of 'nodemask': {s}")));
            }
            Ok(Some(b))
        }
    }
}

/// `virDomainMemoryDefParseXML`.
pub(super) fn parse(n: Node) -> Result<MemoryDevice> {
    let model: MemoryModel = prop_enum_required(&n, "model", true)?;
    let mut m = MemoryDevice {
        model,
        access: prop_enum(&n, "access", true)?,
        discard: prop_yes_no(&n, "discard")?,
        uuid: None,
        pagesize: 0,
        source_nodes: None,
        path: None,
        alignsize: 0,
        pmem: false,
        size: 0,
        target_node: -1,
        labelsize: 0,
        readonly: false,
        blocksize: 0,
        requested: 0,
        info: DeviceInfo::default(),
    };
    if model == MemoryModel::Nvdimm {
        if let Some(u) = xstring(n, "uuid") {
            m.uuid = Some(uuid_parse(&u).ok_or_else(|| internal("malformed uuid element"))?);
        }
    }
    if let Some(s) = first(n, "source") {
        match model {
            MemoryModel::Dimm | MemoryModel::VirtioMem => {
                m.pagesize = mem(s, "pagesize", "./pagesize", false)?;
                m.source_nodes = nodemask(s)?;
            }
            MemoryModel::Nvdimm => {
                m.path = xstring(s, "path");
                m.alignsize = mem(s, "alignsize", "./alignsize", false)?;
                m.pmem = first(s, "pmem").is_some();
            }
            MemoryModel::VirtioPmem => m.path = xstring(s, "path"),
            MemoryModel::SgxEpc => m.source_nodes = nodemask(s)?,
            MemoryModel::None => {}
        }
    }
    let Some(t) = first(n, "target") else {
        return Err(xml_error("missing <target> element for <memory> device"));
    };
    if let Some(s) = xstring(t, "node") {
        match super::super::xml::str_to_i(&s, 10) {
            Some(v) if v >= 0 => m.target_node = v,
            _ => return Err(xml_error("invalid value of memory device node")),
        }
    }
    m.size = mem(t, "size", "./size", true)?;
    match model {
        MemoryModel::Nvdimm => {
            m.labelsize = mem(t, "label/size", "./label/size", false)?;
            if m.labelsize != 0 && m.labelsize < 128 {
                return Err(xml_error("nvdimm label must be at least 128KiB"));
            }
            if m.labelsize >= m.size {
                return Err(xml_error("label size must be smaller than NVDIMM size"));
            }
            m.readonly = first(t, "readonly").is_some();
        }
        MemoryModel::VirtioMem => {
            m.blocksize = mem(t, "block", "./block", false)?;
            m.requested = mem(t, "requested", "./requested", false)?;
        }
        _ => {}
    }
    m.info = parse_info(n, false)?;
    let _ = prop;
    Ok(m)
}

/// `virDomainMemoryDefFormat` for an inactive definition.
pub(super) fn format(b: &mut Buf, m: &MemoryDevice) {
    b.add(&format!("<memory model='{}'", m.model.as_str()));
    if let Some(a) = m.access.filter(|a| *a != MemoryAccess::Default) {
        b.add(&format!(" access='{}'", a.as_str()));
    }
    if let Some(d) = m.discard {
        b.add(&format!(" discard='{}'", yes_no(d)));
    }
    b.add(">\n");
    b.adjust(2);
    if let Some(u) = &m.uuid {
        b.add(&format!("<uuid>{}</uuid>\n", uuid_format(u)));
    }
    let mut k = b.child();
    match m.model {
        MemoryModel::Dimm | MemoryModel::VirtioMem => {
            if let Some(n) = &m.source_nodes {
                k.add(&format!("<nodemask>{}</nodemask>\n", n.format()));
            }
            if m.pagesize != 0 {
                k.add(&format!("<pagesize unit='KiB'>{}</pagesize>\n", m.pagesize));
            }
        }
        MemoryModel::Nvdimm => {
            k.esc("<path>%s</path>\n", m.path.as_deref());
            if m.alignsize != 0 {
                k.add(&format!(
                    "<alignsize unit='KiB'>{}</alignsize>\n",
                    m.alignsize
                ));
            }
            if m.pmem {
                k.add("<pmem/>\n");
            }
        }
        MemoryModel::VirtioPmem => k.esc("<path>%s</path>\n", m.path.as_deref()),
        MemoryModel::SgxEpc => {
            if let Some(n) = &m.source_nodes {
                k.add(&format!("<nodemask>{}</nodemask>\n", n.format()));
            }
        }
        MemoryModel::None => {}
    }
    b.element("source", Buf::new(), k);
    let mut k = b.child();
    k.add(&format!("<size unit='KiB'>{}</size>\n", m.size));
    if m.target_node >= 0 {
        k.add(&format!("<node>{}</node>\n", m.target_node));
    }
    if m.labelsize != 0 {
        let mut lk = k.child();
        lk.add(&format!("<size unit='KiB'>{}</size>\n", m.labelsize));
        k.element("label", Buf::new(), lk);
    }
    if m.readonly {
        k.add("<readonly/>\n");
    }
    if m.blocksize != 0 {
        k.add(&format!("<block unit='KiB'>{}</block>\n", m.blocksize));
        k.add(&format!(
            "<requested unit='KiB'>{}</requested>\n",
            m.requested
        ));
    }
    b.element("target", Buf::new(), k);
    format_info(b, &m.info, false);
    b.adjust(-2);
    b.add("</memory>\n");
}

/// `virDomainMemoryDefPostParse`.
pub(crate) fn post_parse(m: &mut MemoryDevice, ppc64: bool) {
    match m.model {
        MemoryModel::VirtioPmem if m.access.is_none_or(|a| a == MemoryAccess::Default) => {
            m.access = Some(MemoryAccess::Shared);
        }
        MemoryModel::Nvdimm if ppc64 && m.uuid.is_none() => m.uuid = Some(uuid_generate()),
        _ => {}
    }
}

/// The host's transparent huge page size in KiB (`virHostMemGetTHPSize`; 2 MiB when unknown).
fn thp_size_kib() -> u64 {
    std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(|b| b / 1024)
        .unwrap_or(2048)
}

/// `virDomainMemoryDefValidate`.
pub(crate) fn validate(m: &MemoryDevice, numa_cells: usize, ppc64: bool) -> Result<()> {
    let detail = |s: String| report(code::XML_DETAIL, domain::DOMAIN, s);
    if m.target_node != -1 {
        if numa_cells == 0 {
            return Err(detail(
                "can't add memory backend as guest has no NUMA nodes configured".into(),
            ));
        }
        if m.target_node as usize >= numa_cells {
            return Err(detail(format!(
                "can't add memory backend for guest node '{}' as the guest has only '{numa_cells}' NUMA nodes configured",
                m.target_node
            )));
        }
    }
    match m.model {
        MemoryModel::Nvdimm => {
            if m.path.is_none() {
                return Err(detail("path is required for model 'nvdimm'".into()));
            }
            if m.discard == Some(true) {
                return Err(unsupported("discard is not supported for nvdimms"));
            }
            if ppc64 {
                if m.labelsize == 0 {
                    return Err(unsupported("label size is required for NVDIMM device"));
                }
            } else if m.uuid.is_some() {
                return Err(unsupported("UUID is not supported for NVDIMM device"));
            }
        }
        MemoryModel::VirtioPmem => {
            if m.path.is_none() {
                return Err(detail("path is required for model 'virtio-pmem'".into()));
            }
            if m.discard == Some(true) {
                return Err(unsupported(
                    "discard is not supported for model 'virtio-pmem'",
                ));
            }
            if m.access != Some(MemoryAccess::Shared) {
                return Err(unsupported(
                    "shared access mode required for virtio-pmem device",
                ));
            }
            if m.target_node != -1 {
                return Err(unsupported("virtio-pmem does not support NUMA nodes"));
            }
        }
        MemoryModel::VirtioMem => {
            if m.requested > m.size {
                return Err(detail(format!(
                    "requested size must be smaller than or equal to @size ({}KiB)",
                    m.size
                )));
            }
            if !m.blocksize.is_power_of_two() {
                return Err(detail("block size must be a power of two".into()));
            }
            let thp = thp_size_kib();
            if m.blocksize < thp {
                return Err(detail(format!(
                    "block size too small, must be at least {thp}KiB"
                )));
            }
            if !m.requested.is_multiple_of(m.blocksize) {
                return Err(detail(
                    "requested size must be an integer multiple of block size".into(),
                ));
            }
        }
        MemoryModel::SgxEpc => {
            if m.info.address_type() != AddressType::None {
                return Err(unsupported(
                    "memory device address is not supported for model 'sgx-epc'",
                ));
            }
        }
        MemoryModel::Dimm | MemoryModel::None => {}
    }
    Ok(())
}
