//! `<memballoon>` (`virDomainMemballoonDefParseXML`, `virDomainMemballoonDefFormat`).

use super::super::buf::Buf;
use super::super::xml::{
    child, on_off, prop_enum_required, prop_int, prop_on_off, xml_enum, Node, Result,
};
use super::{format_info, parse_info, DeviceInfo, VirtioOptions};
use crate::domain::FormatOpts;

xml_enum! {
    /// `virDomainMemballoonModel`.
    pub enum MemballoonModel {
        Virtio = "virtio", Xen = "xen", None = "none",
        VirtioTransitional = "virtio-transitional",
        VirtioNonTransitional = "virtio-non-transitional",
    }
}

/// The memory balloon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memballoon {
    /// `model=`.
    pub model: MemballoonModel,
    /// `autodeflate=`.
    pub autodeflate: Option<bool>,
    /// `freePageReporting=`.
    pub free_page_reporting: Option<bool>,
    /// `<stats period=…>` seconds (0: unset).
    pub period: i32,
    /// `<driver>` virtio options.
    pub virtio: VirtioOptions,
    /// Address and alias (ignored for model `none`).
    pub info: DeviceInfo,
}

pub(super) fn parse(n: Node) -> Result<Memballoon> {
    let model: MemballoonModel = prop_enum_required(&n, "model", false)?;
    let autodeflate = prop_on_off(&n, "autodeflate")?;
    let free_page_reporting = prop_on_off(&n, "freePageReporting")?;
    let period = match child(n, "stats") {
        Some(s) => prop_int(&s, "period", 0, false, false)?.unwrap_or(0).max(0),
        None => 0,
    };
    let info = if model == MemballoonModel::None {
        DeviceInfo::default()
    } else {
        parse_info(n, false)?
    };
    let virtio = match child(n, "driver") {
        Some(d) => VirtioOptions::parse(&d)?,
        None => VirtioOptions::default(),
    };
    Ok(Memballoon {
        model,
        autodeflate,
        free_page_reporting,
        period,
        virtio,
        info,
    })
}

pub(super) fn format(b: &mut Buf, m: &Memballoon, _opts: FormatOpts) {
    let mut attrs = Buf::new();
    let mut k = b.child();
    attrs.add(&format!(" model='{}'", m.model.as_str()));
    if let Some(v) = m.autodeflate {
        attrs.add(&format!(" autodeflate='{}'", on_off(v)));
    }
    if let Some(v) = m.free_page_reporting {
        attrs.add(&format!(" freePageReporting='{}'", on_off(v)));
    }
    if m.period != 0 {
        k.add(&format!("<stats period='{}'/>\n", m.period));
    }
    format_info(&mut k, &m.info, false);
    let mut da = Buf::new();
    m.virtio.format(&mut da);
    k.element("driver", da, Buf::new());
    b.element("memballoon", attrs, k);
}
