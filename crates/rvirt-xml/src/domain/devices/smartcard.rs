//! `<smartcard>`: host smartcard, host certificates, or a passthrough character device
//! (`virDomainSmartcardDefParseXML`, `virDomainSmartcardDefFormat`), on a CCID controller.

use super::super::buf::Buf;
use super::super::xml::{
    children, content, first, prop, prop_enum_required, unsupported, xml_enum, xml_error, xstring,
    Node, Result, XmlEnum,
};
use super::chr::{self, ChrSource, ChrSourceType};
use super::{format_info, parse_info, AddressType, DeviceInfo};
use crate::domain::FormatOpts;

xml_enum! {
    /// `virDomainSmartcardType`.
    pub enum SmartcardMode { Host = "host", HostCertificates = "host-certificates", Passthrough = "passthrough" }
}

/// What the smartcard reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmartcardSource {
    /// `mode='host'`.
    Host,
    /// `mode='host-certificates'`: three certificates and an optional database.
    Certificates([String; 3], Option<String>),
    /// `mode='passthrough'`.
    Passthrough(ChrSource),
}

/// A `<smartcard>` (`virDomainSmartcardDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smartcard {
    /// The source.
    pub source: SmartcardSource,
    /// Address (CCID) and alias.
    pub info: DeviceInfo,
}

/// `virDomainSmartcardDefParseXML`.
pub(super) fn parse(n: Node) -> Result<Smartcard> {
    let mode: SmartcardMode = prop_enum_required(&n, "mode", false)?;
    let source = match mode {
        SmartcardMode::Host => SmartcardSource::Host,
        SmartcardMode::HostCertificates => {
            let certs: Vec<_> = children(n, "certificate").collect();
            if certs.len() != 3 {
                return Err(xml_error(
                    "host-certificates mode needs exactly three certificates",
                ));
            }
            let files = [content(&certs[0]), content(&certs[1]), content(&certs[2])];
            let mut db = None;
            if first(n, "database").is_some() {
                // libvirt reads `string(./database/text())`: the first text node.
                let d = first(n, "database")
                    .and_then(|d| d.children().find(|c| c.is_text()))
                    .and_then(|t| t.text().map(str::to_string))
                    .filter(|s| !s.is_empty());
                let Some(d) = d else {
                    return Err(super::super::xml::unknown_cause());
                };
                if !d.starts_with('/') {
                    return Err(xml_error(format!("expecting absolute path: {d}")));
                }
                db = Some(d);
            }
            SmartcardSource::Certificates(files, db)
        }
        SmartcardMode::Passthrough => {
            let Some(t) = prop(&n, "type") else {
                return Err(xml_error(
                    "passthrough mode requires a character device type attribute",
                ));
            };
            let st = ChrSourceType::parse(&t).ok_or_else(|| {
                unsupported(format!(
                    "unknown type presented to host for character device: {t}"
                ))
            })?;
            let mut src = ChrSource::new(st);
            chr::parse_source(n, &mut src, false)?;
            SmartcardSource::Passthrough(src)
        }
    };
    let _ = xstring;
    Ok(Smartcard {
        source,
        info: parse_info(n, false)?,
    })
}

/// `virDomainSmartcardDefFormat`.
pub(super) fn format(b: &mut Buf, s: &Smartcard, opts: FormatOpts) {
    let mut a = Buf::new();
    let mut k = b.child();
    let mode = match &s.source {
        SmartcardSource::Host => SmartcardMode::Host,
        SmartcardSource::Certificates(files, db) => {
            for f in files {
                k.esc("<certificate>%s</certificate>\n", Some(f));
            }
            k.esc("<database>%s</database>\n", db.as_deref());
            SmartcardMode::HostCertificates
        }
        SmartcardSource::Passthrough(src) => {
            chr::format_source(&mut k, src, opts);
            SmartcardMode::Passthrough
        }
    };
    format_info(&mut k, &s.info, false);
    a.add(&format!(" mode='{}'", mode.as_str()));
    if let SmartcardSource::Passthrough(src) = &s.source {
        a.add(&format!(" type='{}'", src.type_.as_str()));
    }
    b.element("smartcard", a, k);
}

/// `virDomainSmartcardDefValidate` (the address part).
pub(crate) fn validate(s: &Smartcard) -> Result<()> {
    if !matches!(s.info.address_type(), AddressType::None | AddressType::Ccid) {
        return Err(unsupported("Controllers must use the 'ccid' address type"));
    }
    Ok(())
}
