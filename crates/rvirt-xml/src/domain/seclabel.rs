//! Security labels: the domain's `<seclabel>`s (`virSecurityLabelDefsParseXML`,
//! `virSecurityLabelDefFormat`) and the per-device overrides inside disk and character device
//! sources (`virSecurityDeviceLabelDefParseXML`, `virSecurityDeviceLabelDefFormat`).

use super::buf::Buf;
use super::xml::{
    children, prop, prop_enum, prop_yes_no, report, unsupported, xml_enum, xml_error, xstring,
    Node, Result,
};
use rvirt_proto::error::{code, domain};

/// `VIR_SECURITY_MODEL_BUFLEN - 1`.
const MODEL_MAX: usize = 256;
/// `VIR_SECURITY_LABEL_BUFLEN - 1`.
const LABEL_MAX: usize = 4096;

xml_enum! {
    /// `virDomainSeclabelType`.
    pub enum SeclabelType { Default = "default", None = "none", Dynamic = "dynamic", Static = "static" }
}

/// A domain `<seclabel>` (`virSecurityLabelDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seclabel {
    /// `model=`.
    pub model: Option<String>,
    /// `type=`.
    pub type_: SeclabelType,
    /// `relabel=`.
    pub relabel: bool,
    /// `<label>`.
    pub label: Option<String>,
    /// `<imagelabel>`.
    pub imagelabel: Option<String>,
    /// `<baselabel>`.
    pub baselabel: Option<String>,
}

/// `virSecurityLabelDefParseXML` for an inactive definition.
fn parse_one(n: Node) -> Result<Seclabel> {
    let model = prop(&n, "model").filter(|m| m.len() <= MODEL_MAX);
    let type_ = prop_enum(&n, "type", true)?.unwrap_or(SeclabelType::Dynamic);
    let mut relabel = !matches!(type_, SeclabelType::Static | SeclabelType::None);
    if let Some(r) = prop_yes_no(&n, "relabel")? {
        relabel = r;
    }
    if type_ == SeclabelType::Dynamic && !relabel {
        return Err(unsupported(
            "dynamic label type must use resource relabeling",
        ));
    }
    if type_ == SeclabelType::None && relabel {
        return Err(unsupported(
            "resource relabeling is not compatible with 'none' label type",
        ));
    }
    let mut s = Seclabel {
        model,
        type_,
        relabel,
        label: None,
        imagelabel: None,
        baselabel: None,
    };
    if s.model.as_deref() == Some("none") {
        // Older configurations: an inactive parse forces type none.
        s.type_ = SeclabelType::None;
        s.relabel = false;
        return Ok(s);
    }
    if s.type_ == SeclabelType::Static {
        match xstring(n, "label") {
            Some(l) if l.len() <= LABEL_MAX => s.label = Some(l),
            _ => return Err(xml_error("security label is missing")),
        }
    }
    if s.type_ == SeclabelType::Dynamic {
        s.baselabel = xstring(n, "baselabel").filter(|l| l.len() <= LABEL_MAX);
    }
    Ok(s)
}

/// `virSecurityLabelDefsParseXML` (the test driver has no default security model).
pub(super) fn parse(root: Node) -> Result<Vec<Seclabel>> {
    let mut out: Vec<Seclabel> = Vec::new();
    for n in children(root, "seclabel") {
        let s = parse_one(n)?;
        if out.iter().any(|x| x.model == s.model) {
            return Err(report(
                code::XML_DETAIL,
                domain::DOMAIN,
                format!(
                    "seclabel for model {} is already provided",
                    s.model.as_deref().unwrap_or("(null)")
                ),
            ));
        }
        out.push(s);
    }
    if out.len() > 1 && out.iter().any(|s| s.model.is_none()) {
        return Err(xml_error(
            "missing security model when using multiple labels",
        ));
    }
    Ok(out)
}

/// `virSecurityLabelDefFormat`.
pub(super) fn format(b: &mut Buf, s: &Seclabel) {
    if s.type_ == SeclabelType::Default {
        return;
    }
    b.add(&format!("<seclabel type='{}'", s.type_.as_str()));
    b.esc(" model='%s'", s.model.as_deref());
    if s.type_ == SeclabelType::None {
        b.add("/>\n");
        return;
    }
    b.add(&format!(
        " relabel='{}'",
        if s.relabel { "yes" } else { "no" }
    ));
    if s.label.is_some() || s.imagelabel.is_some() || s.baselabel.is_some() {
        b.add(">\n");
        b.adjust(2);
        b.esc("<label>%s</label>\n", s.label.as_deref());
        if s.relabel {
            b.esc("<imagelabel>%s</imagelabel>\n", s.imagelabel.as_deref());
        }
        if s.type_ == SeclabelType::Dynamic {
            b.esc("<baselabel>%s</baselabel>\n", s.baselabel.as_deref());
        }
        b.adjust(-2);
        b.add("</seclabel>\n");
    } else {
        b.add("/>\n");
    }
}

/// A device's `<seclabel>` override (`virSecurityDeviceLabelDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSeclabel {
    /// `model=`.
    pub model: Option<String>,
    /// `relabel=`.
    pub relabel: bool,
    /// `<label>`.
    pub label: Option<String>,
}

/// `virSecurityDeviceLabelDefParseXML` for the `<seclabel>` children of `n`.
pub(crate) fn parse_device(n: Node) -> Result<Vec<DeviceSeclabel>> {
    let mut out: Vec<DeviceSeclabel> = Vec::new();
    for s in children(n, "seclabel") {
        let model = prop(&s, "model");
        if let Some(m) = &model {
            if out.iter().any(|x| x.model.as_deref() == Some(m)) {
                return Err(report(
                    code::XML_DETAIL,
                    domain::DOMAIN,
                    format!("seclabel for model {m} is already provided"),
                ));
            }
        }
        let relabel = prop_yes_no(&s, "relabel")?.unwrap_or(true);
        let label = xstring(s, "label").filter(|l| l.len() <= LABEL_MAX);
        if label.is_some() && !relabel {
            return Err(xml_error(format!(
                "Cannot specify a label if relabelling is turned off. model={}",
                model.as_deref().unwrap_or("<null>")
            )));
        }
        out.push(DeviceSeclabel {
            model,
            relabel,
            label,
        });
    }
    Ok(out)
}

/// `virSecurityDeviceLabelDefFormat` for an inactive definition.
pub(crate) fn format_device(b: &mut Buf, list: &[DeviceSeclabel]) {
    for s in list {
        if s.label.is_none() && s.relabel {
            continue;
        }
        b.add("<seclabel");
        b.esc(" model='%s'", s.model.as_deref());
        b.add(&format!(
            " relabel='{}'",
            if s.relabel { "yes" } else { "no" }
        ));
        match &s.label {
            Some(l) => {
                b.add(">\n");
                b.adjust(2);
                b.esc("<label>%s</label>\n", Some(l));
                b.adjust(-2);
                b.add("</seclabel>\n");
            }
            None => b.add("/>\n"),
        }
    }
}

/// `virSecurityDeviceLabelDefValidate`.
pub(crate) fn validate_device(list: &[DeviceSeclabel], vm: &[Seclabel]) -> Result<()> {
    for s in list {
        for v in vm {
            if v.model != s.model {
                continue;
            }
            if !v.relabel {
                return Err(unsupported(
                    "label overrides require relabeling to be enabled at the domain level",
                ));
            }
        }
    }
    Ok(())
}
