//! `<redirdev>` (USB redirection over a character device) and `<redirfilter>`
//! (`virDomainRedirdevDefParseXML`, `virDomainRedirFilterDefParseXML` and their formatters).

use super::super::buf::Buf;
use super::super::xml::{
    children, internal, prop, prop_int, prop_yes_no, unsupported, xml_error, Node, Result, XmlEnum,
};
use super::chr::{self, ChrSource, ChrSourceType};
use super::{format_info, parse_info, AddressType, DeviceInfo};
use crate::domain::FormatOpts;

/// A `<redirdev bus='usb'>` (`virDomainRedirdevDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirdev {
    /// The character device carrying the USB traffic.
    pub source: ChrSource,
    /// Address, alias, boot order.
    pub info: DeviceInfo,
}

/// `virDomainRedirdevDefParseXML`.
pub(super) fn parse(n: Node) -> Result<Redirdev> {
    if let Some(b) = prop(&n, "bus") {
        if b != "usb" {
            return Err(unsupported(format!("unknown redirdev bus '{b}'")));
        }
    }
    let Some(t) = prop(&n, "type") else {
        return Err(internal("missing type in redirdev"));
    };
    let st = ChrSourceType::parse(&t)
        .ok_or_else(|| unsupported(format!("unknown redirdev character device type '{t}'")))?;
    let mut source = ChrSource::new(st);
    chr::parse_source(n, &mut source, false)?;
    if st == ChrSourceType::Dbus && source.channel.is_none() {
        source.channel = Some("org.qemu.usbredir".into());
    }
    let info = parse_info(n, true)?;
    if !matches!(info.address_type(), AddressType::None | AddressType::Usb) {
        return Err(xml_error("Invalid address for a USB device"));
    }
    Ok(Redirdev { source, info })
}

/// `virDomainRedirdevDefFormat`.
pub(super) fn format(b: &mut Buf, r: &Redirdev, opts: FormatOpts) {
    b.add(&format!(
        "<redirdev bus='usb' type='{}'>\n",
        r.source.type_.as_str()
    ));
    b.adjust(2);
    chr::format_source(b, &r.source, opts);
    format_info(b, &r.info, true);
    b.adjust(-2);
    b.add("</redirdev>\n");
}

/// A `<redirfilter><usbdev>` rule (-1: any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsbRule {
    /// `class=`.
    pub class: i32,
    /// `vendor=`.
    pub vendor: i32,
    /// `product=`.
    pub product: i32,
    /// `version=` as 0xJJMN.
    pub version: i32,
    /// `allow=`.
    pub allow: bool,
}

/// A leading unsigned number as `virStrToLong_ui(s, &end, 10)` reads it: the value and the rest.
fn leading_ui(s: &str) -> Option<(u32, &str)> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    if end == 0 {
        return None;
    }
    let v: u64 = t[..end].parse().ok()?;
    let v = u32::try_from(v).ok()?;
    Some((if neg { 0u32.wrapping_sub(v) } else { v }, &t[end..]))
}

fn usb_version(v: &str) -> Result<i32> {
    let bad = || xml_error(format!("Cannot parse USB device version {v}"));
    let (major, rest) = leading_ui(v).ok_or_else(bad)?;
    let rest = rest.strip_prefix('.').ok_or_else(bad)?;
    let mut minor = super::super::xml::str_to_ui(rest, 10).ok_or_else(bad)?;
    if major >= 100 || minor >= 100 {
        return Err(bad());
    }
    if rest.len() == 1 {
        minor *= 10;
    }
    Ok(((major / 10) << 12 | (major % 10) << 8 | (minor / 10) << 4 | (minor % 10)) as i32)
}

/// `virDomainRedirFilterDefParseXML`.
pub(super) fn parse_filter(n: Node) -> Result<Vec<UsbRule>> {
    let mut out = Vec::new();
    for u in children(n, "usbdev") {
        let class = prop_int(&u, "class", 0, false, false)?.unwrap_or(-1);
        if class != -1 && class & !0xff != 0 {
            return Err(internal(format!("Invalid USB Class code 0x{class:x}")));
        }
        let vendor = prop_int(&u, "vendor", 0, false, false)?.unwrap_or(-1);
        let product = prop_int(&u, "product", 0, false, false)?.unwrap_or(-1);
        let version = match prop(&u, "version") {
            None => -1,
            Some(v) if v == "-1" => -1,
            Some(v) => usb_version(&v)?,
        };
        let Some(allow) = prop_yes_no(&u, "allow")? else {
            return Err(super::super::xml::xml_util_error(
                "Missing required attribute 'allow' in element 'usbdev'",
            ));
        };
        out.push(UsbRule {
            class,
            vendor,
            product,
            version,
            allow,
        });
    }
    Ok(out)
}

/// `virDomainRedirFilterDefFormat`.
pub(super) fn format_filter(b: &mut Buf, rules: &[UsbRule]) {
    if rules.is_empty() {
        return;
    }
    b.add("<redirfilter>\n");
    b.adjust(2);
    for r in rules {
        b.add("<usbdev");
        if r.class >= 0 {
            b.add(&format!(" class='0x{:02X}'", r.class));
        }
        if r.vendor >= 0 {
            b.add(&format!(" vendor='0x{:04X}'", r.vendor));
        }
        if r.product >= 0 {
            b.add(&format!(" product='0x{:04X}'", r.product));
        }
        if r.version >= 0 {
            let v = r.version;
            b.add(&format!(
                " version='{}.{:02}'",
                ((v & 0xf000) >> 12) * 10 + ((v & 0x0f00) >> 8),
                ((v & 0x00f0) >> 4) * 10 + (v & 0x000f)
            ));
        }
        b.add(&format!(
            " allow='{}'/>\n",
            if r.allow { "yes" } else { "no" }
        ));
    }
    b.adjust(-2);
    b.add("</redirfilter>\n");
}
