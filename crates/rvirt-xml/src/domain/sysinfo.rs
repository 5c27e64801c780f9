//! `<sysinfo>` (`virSysinfoParseXML` in domain_conf.c, `virSysinfoFormat` in virsysinfo.c):
//! SMBIOS tables and firmware configuration entries.

use super::buf::Buf;
use super::xml::{
    child, children, content, is_el, prop, prop_enum_required, xml_enum, xml_error, Node, Result,
};
use rvirt_proto::error::{code, domain};

xml_enum! {
    /// `virSysinfoType`.
    pub enum SysinfoType { Smbios = "smbios", Fwcfg = "fwcfg" }
}

/// A block of named entries (`<bios>`, `<system>`, `<baseBoard>`, `<chassis>`), in libvirt's
/// field order; `None` where the entry is absent or empty.
pub type Entries = Vec<Option<String>>;

/// `<entry name=…>` of `<sysinfo type='fwcfg'>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FwCfg {
    /// `name`.
    pub name: String,
    /// The text (absent when blank).
    pub value: Option<String>,
    /// `file` (sanitized).
    pub file: Option<String>,
}

/// One `<sysinfo>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysinfo {
    /// `type`.
    pub kind: SysinfoType,
    /// `<bios>` ([`BIOS_FIELDS`]).
    pub bios: Option<Entries>,
    /// `<system>` ([`SYSTEM_FIELDS`]).
    pub system: Option<Entries>,
    /// `<baseBoard>`s ([`BASEBOARD_FIELDS`]).
    pub base_boards: Vec<Entries>,
    /// `<chassis>` ([`CHASSIS_FIELDS`]).
    pub chassis: Option<Entries>,
    /// `<oemStrings>`.
    pub oem_strings: Option<Vec<String>>,
    /// fwcfg entries.
    pub fw_cfgs: Vec<FwCfg>,
}

/// `<bios>` entry names.
pub const BIOS_FIELDS: &[&str] = &["vendor", "version", "date", "release"];
/// `<system>` entry names.
pub const SYSTEM_FIELDS: &[&str] = &[
    "manufacturer",
    "product",
    "version",
    "serial",
    "uuid",
    "sku",
    "family",
];
/// `<baseBoard>` entry names.
pub const BASEBOARD_FIELDS: &[&str] = &[
    "manufacturer",
    "product",
    "version",
    "serial",
    "asset",
    "location",
];
/// `<chassis>` entry names.
pub const CHASSIS_FIELDS: &[&str] = &["manufacturer", "version", "serial", "asset", "sku"];

fn detail(msg: &str) -> crate::error::XmlError {
    super::xml::report(code::XML_DETAIL, domain::DOMAIN, msg)
}

/// `string(entry[@name='…'])`.
fn entry(n: Node, name: &str) -> Option<String> {
    let e = n
        .children()
        .find(|c| is_el(c, "entry") && c.attribute("name") == Some(name))?;
    let s = content(&e);
    (!s.is_empty()).then_some(s)
}

fn entries(n: Node, fields: &[&str]) -> Option<Entries> {
    let v: Entries = fields.iter().map(|f| entry(n, f)).collect();
    v.iter().any(Option::is_some).then_some(v)
}

/// `virStrToLong_i` with an end pointer: a C `strtol` prefix; `None` without digits or on
/// overflow.
fn strtol_prefix(s: &str) -> Option<(i64, &str)> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let mut v: i64 = 0;
    for d in rest[..digits].bytes() {
        v = v.checked_mul(10)?.checked_add((d - b'0') as i64)?;
    }
    let v = if neg { -v } else { v };
    i32::try_from(v).ok()?;
    Some((v, &rest[digits..]))
}

fn valid_date(d: &str) -> bool {
    let Some((month, r)) = strtol_prefix(d) else {
        return false;
    };
    let Some(r) = r.strip_prefix('/') else {
        return false;
    };
    let Some((day, r)) = strtol_prefix(r) else {
        return false;
    };
    let Some(r) = r.strip_prefix('/') else {
        return false;
    };
    let Some((year, r)) = strtol_prefix(r) else {
        return false;
    };
    r.is_empty()
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && !(year < 0 || (100..1900).contains(&year))
}

/// Parses every `<sysinfo>`; a `<system>` UUID becomes the domain's when it had none, and must
/// match it otherwise.
pub(super) fn parse(root: Node, uuid: &mut [u8; 16], uuid_generated: bool) -> Result<Vec<Sysinfo>> {
    let mut out = Vec::new();
    for n in children(root, "sysinfo") {
        let kind: SysinfoType = prop_enum_required(&n, "type", false)?;
        let mut s = Sysinfo {
            kind,
            bios: None,
            system: None,
            base_boards: Vec::new(),
            chassis: None,
            oem_strings: None,
            fw_cfgs: Vec::new(),
        };
        match kind {
            SysinfoType::Smbios => {
                if let Some(b) = child(n, "bios") {
                    let e = entries(b, BIOS_FIELDS);
                    if let Some(d) = e.as_ref().and_then(|e| e[2].as_deref()) {
                        if !valid_date(d) {
                            return Err(detail("Invalid BIOS 'date' format"));
                        }
                    }
                    s.bios = e;
                }
                if let Some(sys) = child(n, "system") {
                    let mut v: Entries = SYSTEM_FIELDS.iter().map(|f| entry(sys, f)).collect();
                    if let Some(u) = v[4].take() {
                        let Some(parsed) = super::xml::uuid_parse(&u) else {
                            return Err(detail("malformed <sysinfo> uuid element"));
                        };
                        if uuid_generated {
                            *uuid = parsed;
                        } else if *uuid != parsed {
                            return Err(detail("UUID mismatch between <uuid> and <sysinfo>"));
                        }
                        v[4] = Some(super::xml::uuid_format(&parsed));
                    }
                    s.system = v.iter().any(Option::is_some).then_some(v);
                }
                s.base_boards = children(n, "baseBoard")
                    .filter_map(|b| entries(b, BASEBOARD_FIELDS))
                    .collect();
                if let Some(c) = child(n, "chassis") {
                    s.chassis = entries(c, CHASSIS_FIELDS);
                }
                if let Some(o) = child(n, "oemStrings") {
                    let v: Vec<String> = children(o, "entry").map(|e| content(&e)).collect();
                    if !v.is_empty() {
                        s.oem_strings = Some(v);
                    }
                }
            }
            SysinfoType::Fwcfg => {
                for e in children(n, "entry") {
                    let Some(name) = prop(&e, "name") else {
                        return Err(xml_error("Firmware entry is missing 'name' attribute"));
                    };
                    let value = Some(content(&e)).filter(|v| {
                        !v.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c'])
                            .is_empty()
                    });
                    let file = prop(&e, "file");
                    if value.is_none() && file.is_none() {
                        return Err(xml_error(
                            "Firmware entry must have either value or 'file' attribute",
                        ));
                    }
                    s.fw_cfgs.push(FwCfg {
                        name,
                        value,
                        file: file.map(|f| crate::conf::sanitize_path(&f)),
                    });
                }
            }
        }
        out.push(s);
    }
    Ok(out)
}

fn format_block(b: &mut Buf, tag: &str, fields: &[&str], v: &Entries) {
    b.add(&format!("<{tag}>\n"));
    b.adjust(2);
    for (f, val) in fields.iter().zip(v) {
        b.esc(&format!("<entry name='{f}'>%s</entry>\n"), val.as_deref());
    }
    b.adjust(-2);
    b.add(&format!("</{tag}>\n"));
}

/// `virSysinfoFormat`.
pub(super) fn format(b: &mut Buf, s: &Sysinfo) {
    let mut c = b.child();
    match s.kind {
        SysinfoType::Smbios => {
            if let Some(v) = &s.bios {
                format_block(&mut c, "bios", BIOS_FIELDS, v);
            }
            if let Some(v) = &s.system {
                format_block(&mut c, "system", SYSTEM_FIELDS, v);
            }
            for v in &s.base_boards {
                format_block(&mut c, "baseBoard", BASEBOARD_FIELDS, v);
            }
            if let Some(v) = &s.chassis {
                format_block(&mut c, "chassis", CHASSIS_FIELDS, v);
            }
            if let Some(o) = &s.oem_strings {
                c.add("<oemStrings>\n");
                c.adjust(2);
                for e in o {
                    c.esc("<entry>%s</entry>\n", Some(e));
                }
                c.adjust(-2);
                c.add("</oemStrings>\n");
            }
        }
        SysinfoType::Fwcfg => {
            for f in &s.fw_cfgs {
                c.add(&format!("<entry name='{}'", f.name));
                match &f.file {
                    Some(file) => c.esc(" file='%s'/>\n", Some(file)),
                    None => c.esc(">%s</entry>\n", f.value.as_deref()),
                }
            }
        }
    }
    let mut a = Buf::new();
    a.add(&format!(" type='{}'", s.kind.as_str()));
    b.element("sysinfo", a, c);
}
