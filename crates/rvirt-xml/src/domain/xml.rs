//! Reading helpers for the domain parser: libvirt's XPath idioms over a `roxmltree` node, its
//! attribute readers (`virXMLProp*`) with their exact error texts, C-style number parsing
//! (`virStrToLong_*`), scaled sizes (`virScaleInteger`), and the error constructors used by every
//! domain submodule.
//!
//! libvirt reads a document with XPath expressions such as `string(./os/type[1]/@arch)`; the
//! functions here reproduce the handful of shapes it uses, including their corner cases (an
//! empty string counts as absent for `virXPathString`, but not for `virXMLPropString`).

use crate::XmlError;
use rvirt_proto::error::{code, domain};

/// A node of the parsed document.
pub(crate) type Node<'a, 'i> = roxmltree::Node<'a, 'i>;

/// Result of every reading step.
pub(crate) type Result<T, E = XmlError> = std::result::Result<T, E>;

// ---- errors ------------------------------------------------------------------------------

/// An error with an explicit number and domain.
pub(crate) fn report(code: i32, domain: i32, detail: impl Into<String>) -> XmlError {
    XmlError::Libvirt {
        code,
        domain,
        detail: Some(detail.into()),
    }
}

/// An error with the code's bare message.
pub(crate) fn bare(code: i32, domain: i32) -> XmlError {
    XmlError::Libvirt {
        code,
        domain,
        detail: None,
    }
}

/// `VIR_ERR_XML_ERROR` raised by `domain_conf.c` (domain `VIR_FROM_DOMAIN`).
pub(crate) fn xml_error(detail: impl Into<String>) -> XmlError {
    report(code::XML_ERROR, domain::DOMAIN, detail)
}

/// `VIR_ERR_XML_ERROR` raised by `virxml.c` (domain `VIR_FROM_XML`).
pub(crate) fn xml_util_error(detail: impl Into<String>) -> XmlError {
    report(code::XML_ERROR, domain::XML, detail)
}

/// `VIR_ERR_CONFIG_UNSUPPORTED` raised by `domain_conf.c`.
pub(crate) fn unsupported(detail: impl Into<String>) -> XmlError {
    report(code::CONFIG_UNSUPPORTED, domain::DOMAIN, detail)
}

/// `VIR_ERR_INTERNAL_ERROR` raised by `domain_conf.c`.
pub(crate) fn internal(detail: impl Into<String>) -> XmlError {
    report(code::INTERNAL_ERROR, domain::DOMAIN, detail)
}

/// Where libvirt fails without reporting an error (its public API then reports
/// "An error occurred, but the cause is unknown" with no "internal error: " prefix, which
/// `XmlError` cannot carry; the code and domain match).
pub(crate) fn unknown_cause() -> XmlError {
    report(
        code::INTERNAL_ERROR,
        domain::NONE,
        "An error occurred, but the cause is unknown",
    )
}

/// A part of the schema libvirt accepts but rvirt does not model yet. Refused loudly rather than
/// dropped, so that no configuration is silently lost; the text names the element.
pub(crate) fn not_modelled(what: impl std::fmt::Display) -> XmlError {
    unsupported(format!(
        "{what} is not supported by rvirt yet; remove it from the domain XML or use libvirt"
    ))
}

// ---- node access -------------------------------------------------------------------------

/// Whether `n` is an element named `name` in no namespace (what an unprefixed XPath name test
/// matches).
pub(crate) fn is_el(n: &Node, name: &str) -> bool {
    n.is_element() && n.tag_name().namespace().is_none() && n.tag_name().name() == name
}

/// The element's local name, for messages (libvirt prints `node->name`).
pub(crate) fn name_of<'a>(n: &Node<'a, '_>) -> &'a str {
    n.tag_name().name()
}

/// Child elements named `name`, in document order.
pub(crate) fn children<'a, 'i: 'a>(
    n: Node<'a, 'i>,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    n.children().filter(move |c| is_el(c, name))
}

/// The first child element named `name` (`./name` or `./name[1]`).
pub(crate) fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children().find(|c| is_el(c, name))
}

/// Every element matched by the relative path `a/b/c` (`*` matches any unprefixed element), in
/// document order, like the XPath `./a/b/c`.
pub(crate) fn select<'a, 'i>(n: Node<'a, 'i>, path: &str) -> Vec<Node<'a, 'i>> {
    let mut cur = vec![n];
    for step in path.split('/') {
        let mut next = Vec::new();
        for c in &cur {
            for k in c.children() {
                if step == "*" {
                    if k.is_element() && k.tag_name().namespace().is_none() {
                        next.push(k);
                    }
                } else if is_el(&k, step) {
                    next.push(k);
                }
            }
        }
        cur = next;
    }
    cur
}

/// The first element matched by `path` (`virXPathNode`).
pub(crate) fn first<'a, 'i>(n: Node<'a, 'i>, path: &str) -> Option<Node<'a, 'i>> {
    find_map(n, path, &mut Some)
}

/// The first `Some` that `f` returns for the elements matched by `path`, in document order:
/// a depth-first search taking children in order, without collecting the matches.
pub(crate) fn find_map<'a, 'i, T>(
    n: Node<'a, 'i>,
    path: &str,
    f: &mut impl FnMut(Node<'a, 'i>) -> Option<T>,
) -> Option<T> {
    let (step, rest) = match path.split_once('/') {
        Some((s, r)) => (s, Some(r)),
        None => (path, None),
    };
    for k in n.children() {
        let matches = if step == "*" {
            k.is_element() && k.tag_name().namespace().is_none()
        } else {
            is_el(&k, step)
        };
        if !matches {
            continue;
        }
        let found = match rest {
            None => f(k),
            Some(r) => find_map(k, r, f),
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// The string value of an element: its descendant text, concatenated (XPath `string()`).
pub(crate) fn content(n: &Node) -> String {
    // Most elements hold a single text node: borrow-free fast path.
    if let Some(c) = n.first_child() {
        if c.next_sibling().is_none() && c.is_text() {
            return c.text().unwrap_or("").to_string();
        }
    }
    let mut s = String::new();
    for d in n.descendants() {
        if d.is_text() {
            s.push_str(d.text().unwrap_or(""));
        }
    }
    s
}

/// `virXPathString("string(./path)")`: the string value of the first match; `None` when there is
/// no match or the value is empty.
pub(crate) fn xstring(n: Node, path: &str) -> Option<String> {
    let f = first(n, path)?;
    let s = content(&f);
    (!s.is_empty()).then_some(s)
}

/// `virXPathString("string(./path/@attr)")`: the first such attribute in document order;
/// `None` when absent or empty.
pub(crate) fn xattr(n: Node, path: &str, attr: &str) -> Option<String> {
    let v = if path.is_empty() {
        n.attribute(attr).map(str::to_string)
    } else {
        find_map(n, path, &mut |e| e.attribute(attr).map(str::to_string))
    }?;
    (!v.is_empty()).then_some(v)
}

/// `virXMLPropString`: the attribute, even when empty.
pub(crate) fn prop(n: &Node, name: &str) -> Option<String> {
    n.attribute(name).map(str::to_string)
}

/// `virXMLPropStringRequired`.
pub(crate) fn prop_required(n: &Node, name: &str) -> Result<String> {
    prop(n, name).ok_or_else(|| missing_attr(n, name))
}

fn missing_attr(n: &Node, name: &str) -> XmlError {
    xml_util_error(format!(
        "Missing required attribute '{name}' in element '{}'",
        name_of(n)
    ))
}

fn invalid_attr(n: &Node, name: &str, value: &str) -> XmlError {
    xml_util_error(format!(
        "Invalid value for attribute '{name}' in element '{}': '{value}'.",
        name_of(n)
    ))
}

// ---- enums -------------------------------------------------------------------------------

/// A libvirt `VIR_ENUM`: a closed list of strings, indexed from 0.
pub(crate) trait XmlEnum: Sized + Copy {
    /// The value for `s`, if it is in the list.
    fn parse(s: &str) -> Option<Self>;
    /// The value's position in libvirt's list (0 is usually "none"/"default").
    fn index(self) -> usize;
}

/// Declares a public enum with libvirt's strings, in libvirt's order.
macro_rules! xml_enum {
    ($(#[$m:meta])* pub enum $name:ident { $($var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[allow(clippy::enum_variant_names)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $(#[doc = concat!("`", $s, "`")] $var),+
        }
        impl $name {
            /// The XML spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }
        }
        impl $crate::domain::xml::XmlEnum for $name {
            fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$var),)+ _ => None }
            }
            fn index(self) -> usize {
                const ALL: &[$name] = &[$($name::$var),+];
                ALL.iter().position(|v| *v == self).unwrap_or(0)
            }
        }
    };
}
pub(crate) use xml_enum;

/// `virXMLPropEnum`: `Ok(None)` when absent; with `nonzero`, the list's first entry is refused.
pub(crate) fn prop_enum<T: XmlEnum>(n: &Node, name: &str, nonzero: bool) -> Result<Option<T>> {
    let Some(v) = prop(n, name) else {
        return Ok(None);
    };
    match T::parse(&v) {
        Some(t) if !(nonzero && t.index() == 0) => Ok(Some(t)),
        _ => Err(invalid_attr(n, name, &v)),
    }
}

/// `virXMLPropEnum` with `VIR_XML_PROP_REQUIRED`.
pub(crate) fn prop_enum_required<T: XmlEnum>(n: &Node, name: &str, nonzero: bool) -> Result<T> {
    prop_enum(n, name, nonzero)?.ok_or_else(|| missing_attr(n, name))
}

/// `virXMLPropTristateBool`: `yes`/`no`.
pub(crate) fn prop_yes_no(n: &Node, name: &str) -> Result<Option<bool>> {
    let Some(v) = prop(n, name) else {
        return Ok(None);
    };
    match v.as_str() {
        "yes" => Ok(Some(true)),
        "no" => Ok(Some(false)),
        _ => Err(invalid_attr(n, name, &v)),
    }
}

/// `virXMLPropTristateSwitch`: `on`/`off`.
pub(crate) fn prop_on_off(n: &Node, name: &str) -> Result<Option<bool>> {
    let Some(v) = prop(n, name) else {
        return Ok(None);
    };
    match v.as_str() {
        "on" => Ok(Some(true)),
        "off" => Ok(Some(false)),
        _ => Err(invalid_attr(n, name, &v)),
    }
}

/// `yes`/`no` spelling.
pub(crate) fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// `on`/`off` spelling.
pub(crate) fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

// ---- numbers -----------------------------------------------------------------------------

/// What `strtoull(s, &end, base)` reads when it must consume the whole string: the sign and
/// the magnitude. `None` for no digits, trailing text or overflow (all errors in libvirt).
fn c_integer(s: &str, base: u32) -> Option<(bool, u64)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let mut base = base;
    let has_hex_prefix = i + 1 < b.len()
        && b[i] == b'0'
        && (b[i + 1] == b'x' || b[i + 1] == b'X')
        && i + 2 < b.len()
        && (b[i + 2] as char).is_ascii_hexdigit();
    if base == 0 {
        base = if has_hex_prefix {
            16
        } else if i < b.len() && b[i] == b'0' {
            8
        } else {
            10
        };
    }
    if base == 16 && has_hex_prefix {
        i += 2;
    }
    let start = i;
    let mut val: u64 = 0;
    let mut overflow = false;
    while i < b.len() {
        let Some(d) = (b[i] as char).to_digit(base) else {
            break;
        };
        match val
            .checked_mul(base as u64)
            .and_then(|v| v.checked_add(d as u64))
        {
            Some(v) => val = v,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start || i != b.len() || overflow {
        return None;
    }
    Some((neg, val))
}

/// `virStrToLong_uip`: unsigned int, no minus sign.
pub(crate) fn str_to_uip(s: &str, base: u32) -> Option<u32> {
    let (neg, v) = c_integer(s, base)?;
    if neg && v != 0 {
        return None;
    }
    // libvirt refuses any '-' in the parsed text, even "-0".
    if neg {
        return None;
    }
    u32::try_from(v).ok()
}

/// `virStrToLong_ui`: unsigned int; "-1" wraps to `UINT_MAX` as in libvirt.
pub(crate) fn str_to_ui(s: &str, base: u32) -> Option<u32> {
    let (neg, v) = c_integer(s, base)?;
    let v = u32::try_from(v).ok()?;
    Some(if neg { 0u32.wrapping_sub(v) } else { v })
}

/// `virStrToLong_ull`: unsigned long long; a minus sign wraps as in C.
pub(crate) fn str_to_ull(s: &str, base: u32) -> Option<u64> {
    let (neg, v) = c_integer(s, base)?;
    Some(if neg { 0u64.wrapping_sub(v) } else { v })
}

/// `virStrToLong_ullp`: unsigned long long, no minus sign.
pub(crate) fn str_to_ullp(s: &str, base: u32) -> Option<u64> {
    match c_integer(s, base)? {
        (false, v) => Some(v),
        (true, _) => None,
    }
}

/// `virStrToLong_ll`.
pub(crate) fn str_to_ll(s: &str, base: u32) -> Option<i64> {
    let (neg, v) = c_integer(s, base)?;
    if neg {
        if v > 1u64 << 63 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// `virStrToLong_i`.
pub(crate) fn str_to_i(s: &str, base: u32) -> Option<i32> {
    str_to_ll(s, base).and_then(|v| i32::try_from(v).ok())
}

/// `virXMLPropUInt`: `Ok(None)` when absent.
pub(crate) fn prop_uint(n: &Node, name: &str, base: u32, nonzero: bool) -> Result<Option<u32>> {
    let Some(v) = prop(n, name) else {
        return Ok(None);
    };
    let Some(x) = str_to_uip(&v, base) else {
        return Err(xml_util_error(format!(
            "Invalid value for attribute '{name}' in element '{}': '{v}'. Expected non-negative integer value",
            name_of(n)
        )));
    };
    if nonzero && x == 0 {
        return Err(zero_attr(n, name));
    }
    Ok(Some(x))
}

/// `virXMLPropUInt` with `VIR_XML_PROP_REQUIRED`.
pub(crate) fn prop_uint_required(n: &Node, name: &str, base: u32, nonzero: bool) -> Result<u32> {
    prop_uint(n, name, base, nonzero)?.ok_or_else(|| missing_attr(n, name))
}

/// `virXMLPropULongLong`.
pub(crate) fn prop_ull(n: &Node, name: &str, base: u32, nonzero: bool) -> Result<Option<u64>> {
    let Some(v) = prop(n, name) else {
        return Ok(None);
    };
    let Some(x) = str_to_ullp(&v, base) else {
        return Err(xml_util_error(format!(
            "Invalid value for attribute '{name}' in element '{}': '{v}'. Expected non-negative integer value",
            name_of(n)
        )));
    };
    if nonzero && x == 0 {
        return Err(zero_attr(n, name));
    }
    Ok(Some(x))
}

/// `virXMLPropULongLong` with `VIR_XML_PROP_REQUIRED`.
pub(crate) fn prop_ull_required(n: &Node, name: &str, base: u32) -> Result<u64> {
    prop_ull(n, name, base, false)?.ok_or_else(|| missing_attr(n, name))
}

/// `virXMLPropInt`.
pub(crate) fn prop_int(
    n: &Node,
    name: &str,
    base: u32,
    nonnegative: bool,
    nonzero: bool,
) -> Result<Option<i32>> {
    let Some(v) = prop(n, name) else {
        return Ok(None);
    };
    let Some(x) = str_to_i(&v, base) else {
        return Err(xml_util_error(format!(
            "Invalid value for attribute '{name}' in element '{}': '{v}'. Expected integer value",
            name_of(n)
        )));
    };
    if nonnegative && x < 0 {
        return Err(xml_util_error(format!(
            "Invalid value for attribute '{name}' in element '{}': '{v}'. Expected non-negative value",
            name_of(n)
        )));
    }
    if nonzero && x == 0 {
        return Err(zero_attr(n, name));
    }
    Ok(Some(x))
}

fn zero_attr(n: &Node, name: &str) -> XmlError {
    xml_util_error(format!(
        "Invalid value for attribute '{name}' in element '{}': Zero is not permitted",
        name_of(n)
    ))
}

/// `virXPathUInt`-style read of `string(path)`: `Ok(None)` absent, `Err(())` malformed.
pub(crate) fn xpath_uint(n: Node, path: &str, attr: Option<&str>) -> Result<Option<u32>, ()> {
    let s = match attr {
        Some(a) => xattr(n, path, a),
        None => xstring(n, path),
    };
    match s {
        None => Ok(None),
        Some(s) => str_to_uip(&s, 10).map(Some).ok_or(()),
    }
}

/// `virXPathLongLong`-style read of an element's text: `Ok(None)` absent, `Err(())` malformed.
pub(crate) fn xpath_ll(n: Node, path: &str) -> Result<Option<i64>, ()> {
    match xstring(n, path) {
        None => Ok(None),
        Some(s) => str_to_ll(&s, 10).map(Some).ok_or(()),
    }
}

/// `virXPathULongLong`-style read: `Ok(None)` absent, `Err(())` malformed.
pub(crate) fn xpath_ull(n: Node, path: &str, attr: Option<&str>) -> Result<Option<u64>, ()> {
    let s = match attr {
        Some(a) => xattr(n, path, a),
        None => xstring(n, path),
    };
    match s {
        None => Ok(None),
        Some(s) => str_to_ullp(&s, 10).map(Some).ok_or(()),
    }
}

// ---- scaled sizes ------------------------------------------------------------------------

/// `virScaleInteger`: multiplies `value` by the unit named by `suffix` (default `scale`),
/// refusing results above `limit`. Errors are raised from `virutil.c` (domain `VIR_FROM_NONE`).
pub(crate) fn scale_integer(
    value: u64,
    suffix: Option<&str>,
    scale: u64,
    limit: u64,
) -> Result<u64> {
    let suffix = suffix.unwrap_or("");
    let scale = if suffix.is_empty() {
        scale
    } else if ["b", "byte", "bytes"]
        .iter()
        .any(|u| u.eq_ignore_ascii_case(suffix))
    {
        1
    } else {
        let s = suffix.as_bytes();
        let base: u64 = if s.len() == 1 || suffix[1..].eq_ignore_ascii_case("iB") {
            1024
        } else if s.len() == 2 && s[1].eq_ignore_ascii_case(&b'b') {
            1000
        } else {
            return Err(unknown_suffix(suffix));
        };
        let power = match s[0].to_ascii_lowercase() {
            b'k' => 1,
            b'm' => 2,
            b'g' => 3,
            b't' => 4,
            b'p' => 5,
            b'e' => 6,
            _ => return Err(unknown_suffix(suffix)),
        };
        base.pow(power)
    };
    if value != 0 && value > limit / scale {
        return Err(report(
            code::OVERFLOW,
            domain::NONE,
            format!("value too large: {value}{suffix}"),
        ));
    }
    Ok(value * scale)
}

fn unknown_suffix(suffix: &str) -> XmlError {
    report(
        code::INVALID_ARG,
        domain::NONE,
        format!("unknown suffix '{suffix}'"),
    )
}

/// `virParseScaledValue` for an element's text and its `unit` attribute (or `unit_attr` of
/// another path): `Ok(None)` when absent and not `required`.
///
/// `xpath_text` is libvirt's XPath spelling, used verbatim in messages.
pub(crate) fn parse_scaled(
    value: Option<String>,
    unit: Option<String>,
    xpath_text: &str,
    scale: u64,
    max: u64,
    required: bool,
) -> Result<Option<u64>> {
    let Some(v) = value else {
        if required {
            return Err(xml_util_error(format!(
                "missing element or attribute '{xpath_text}'"
            )));
        }
        return Ok(None);
    };
    let Some(n) = str_to_ullp(&v, 10) else {
        return Err(xml_util_error(format!(
            "Invalid value '{v}' for element or attribute '{xpath_text}'"
        )));
    };
    scale_integer(n, unit.as_deref(), scale, max).map(Some)
}

/// The largest memory size libvirt accepts (`virMemoryMaxValue(true)` on 64-bit hosts),
/// in bytes.
pub(crate) const MEMORY_MAX_BYTES: u64 = i64::MAX as u64;

/// `virDomainParseMemory` for element `path` (text plus `unit`): KiB, rounded up.
pub(crate) fn parse_memory(
    n: Node,
    path: &str,
    xpath_text: &str,
    required: bool,
) -> Result<Option<u64>> {
    memory_kib(
        xstring(n, path),
        xattr(n, path, "unit"),
        xpath_text,
        required,
    )
}

/// `virDomainParseMemory` for an already-read value and unit: KiB, rounded up.
pub(crate) fn memory_kib(
    value: Option<String>,
    unit: Option<String>,
    xpath_text: &str,
    required: bool,
) -> Result<Option<u64>> {
    let max = MEMORY_MAX_BYTES;
    let Some(bytes) = parse_scaled(value, unit, xpath_text, 1024, max, required)? else {
        return Ok(None);
    };
    let kib = bytes.div_ceil(1024);
    if kib >= max.div_ceil(1024) {
        return Err(report(
            code::OVERFLOW,
            domain::DOMAIN,
            "size value too large",
        ));
    }
    Ok(Some(kib))
}

// ---- UUIDs and randomness ----------------------------------------------------------------

/// `virUUIDParse`: 32 hex digits; `-` and spaces allowed between pairs, blanks around.
pub fn uuid_parse(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    let blank = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let mut i = 0;
    while i < b.len() && blank(b[i]) {
        i += 1;
    }
    let mut out = [0u8; 16];
    let mut n = 0;
    while n < 16 {
        let c = *b.get(i)?;
        if c == b'-' || c == b' ' {
            i += 1;
            continue;
        }
        let hi = (c as char).to_digit(16)?;
        let lo = (*b.get(i + 1)? as char).to_digit(16)?;
        out[n] = (hi * 16 + lo) as u8;
        n += 1;
        i += 2;
    }
    if b[i..].iter().all(|c| blank(*c)) {
        Some(out)
    } else {
        None
    }
}

/// `virUUIDFormat`.
pub fn uuid_format(u: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Random bytes from the kernel (`/dev/urandom`), as `virRandomBytes` reads them. Falls back to
/// the standard library's per-process random keys if the device cannot be read.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    use std::io::Read;
    let mut out = [0u8; N];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        if f.read_exact(&mut out).is_ok() {
            return out;
        }
    }
    use std::hash::{BuildHasher, Hasher};
    let state = std::collections::hash_map::RandomState::new();
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = state.build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        let v = h.finish().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
    out
}

/// `virUUIDGenerate`: a random version-4 UUID.
pub fn uuid_generate() -> [u8; 16] {
    let mut b: [u8; 16] = random_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_numbers_follow_strtoul() {
        assert_eq!(str_to_uip("  42", 10), Some(42));
        assert_eq!(str_to_uip("42 ", 10), None);
        assert_eq!(str_to_uip("-1", 10), None);
        assert_eq!(str_to_ui("-1", 10), Some(u32::MAX));
        assert_eq!(str_to_uip("0x1f", 0), Some(31));
        assert_eq!(str_to_uip("0x1f", 16), Some(31));
        assert_eq!(str_to_uip("1f", 16), Some(31));
        assert_eq!(str_to_uip("010", 0), Some(8));
        assert_eq!(str_to_uip("4294967296", 10), None);
        assert_eq!(str_to_ullp("18446744073709551615", 10), Some(u64::MAX));
        assert_eq!(str_to_ullp("18446744073709551616", 10), None);
        assert_eq!(str_to_i("-5", 10), Some(-5));
        assert_eq!(str_to_uip("", 10), None);
    }

    #[test]
    fn units_scale_like_libvirt() {
        let max = u64::MAX;
        assert_eq!(scale_integer(1, None, 1024, max).unwrap(), 1024);
        assert_eq!(scale_integer(1, Some("KiB"), 1024, max).unwrap(), 1024);
        assert_eq!(scale_integer(1, Some("k"), 1024, max).unwrap(), 1024);
        assert_eq!(scale_integer(1, Some("KB"), 1024, max).unwrap(), 1000);
        assert_eq!(scale_integer(1, Some("MiB"), 1024, max).unwrap(), 1 << 20);
        assert_eq!(scale_integer(1, Some("G"), 1024, max).unwrap(), 1 << 30);
        assert_eq!(scale_integer(3, Some("bytes"), 1024, max).unwrap(), 3);
        assert_eq!(scale_integer(1, Some("e"), 1024, max).unwrap(), 1 << 60);
        let e = scale_integer(1, Some("XB"), 1024, max).unwrap_err();
        assert_eq!(e.message(), "invalid argument: unknown suffix 'XB'");
        assert_eq!(e.domain(), 0);
        let e = scale_integer(u64::MAX, None, 1024, max).unwrap_err();
        assert_eq!(
            e.message(),
            "numerical overflow: value too large: 18446744073709551615"
        );
    }

    #[test]
    fn uuids() {
        let u = uuid_parse("6695eb01-f6a4-8304-79aa-97f2502e193f").unwrap();
        assert_eq!(uuid_format(&u), "6695eb01-f6a4-8304-79aa-97f2502e193f");
        assert_eq!(uuid_parse("6695eb01f6a4830479aa97f2502e193f"), Some(u));
        assert!(uuid_parse("zzz").is_none());
        assert_ne!(uuid_generate(), uuid_generate());
    }
}
