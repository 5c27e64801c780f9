//! libvirt's conventions for reading configuration documents, shared by the network, storage and
//! capabilities models: how a document is parsed and its root checked (`virXMLParse`), how
//! elements and attributes are read (`virXPathString` treats an empty result as absent,
//! `virXMLPropString` does not), how numbers are converted (`virStrToLong_*`, i.e. C `strtoul`
//! with libvirt's extra checks), and the exact errors each of those reports.
//!
//! Everything here returns [`XmlError::Libvirt`] carrying libvirt's error number and domain,
//! so callers can surface byte-identical messages.

use crate::XmlError;
use rvirt_proto::error::{code, domain};
use std::fmt::Write as _;

/// An XML element (or other node) of a parsed document.
pub type Node<'a, 'i> = roxmltree::Node<'a, 'i>;

/// Builds an error with libvirt's number, domain and detail.
pub fn err(code: i32, domain: i32, detail: impl Into<String>) -> XmlError {
    XmlError::Libvirt {
        code,
        domain,
        detail: Some(detail.into()),
    }
}

/// An error with the code's bare message (`virReportError(code, NULL)`).
pub fn err_bare(code: i32, domain: i32) -> XmlError {
    XmlError::Libvirt {
        code,
        domain,
        detail: None,
    }
}

/// Parses `text` as libvirt's `virXMLParse` does, without checking the root element: a syntax
/// error is `VIR_ERR_XML_DETAIL` with libxml2's message, the offending line and a pointer.
/// `docname` is the name libvirt gives the document (`(domain_definition)`), `domcode` the
/// caller's error domain.
pub fn parse_text<'i>(
    text: &'i str,
    docname: &str,
    domcode: i32,
) -> Result<roxmltree::Document<'i>, XmlError> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(text, opts)
        .map_err(|e| syntax_error(text, docname, domcode, &e))
}

/// Parses `text` as libvirt's `virXMLParse` does for a document named `docname` (e.g.
/// `(network_definition)`) whose root must be `root`. Syntax errors are reported in domain
/// `domcode` (the caller's subsystem) as `VIR_ERR_XML_DETAIL` with libxml2's layout: the
/// document name and line, the message, the offending line and a pointer to the column.
pub fn parse_document<'i>(
    text: &'i str,
    docname: &str,
    root: &str,
    domcode: i32,
) -> Result<roxmltree::Document<'i>, XmlError> {
    let doc = parse_text(text, docname, domcode)?;
    let name = doc.root_element().tag_name().name();
    if name != root {
        return Err(err(
            code::XML_ERROR,
            domain::XML,
            format!("expecting root element of '{root}', not '{name}'"),
        ));
    }
    Ok(doc)
}

/// The error libvirt reports for a document libxml2 refuses: libxml2's message, then the line
/// holding the position where the parser stopped and a pointer to its column.
fn syntax_error(text: &str, docname: &str, domcode: i32, e: &roxmltree::Error) -> XmlError {
    let (pos, msg) = diagnose_syntax(text).unwrap_or_else(|| {
        // A document libxml2 would accept but roxmltree refuses (e.g. an undeclared
        // namespace prefix): report roxmltree's reason at its position.
        let p = e.pos();
        let s = e.to_string();
        let s = match s.find(" at ") {
            Some(i) => s[..i].to_string(),
            None => s,
        };
        (byte_offset(text, p.row as usize, p.col as usize), s)
    });
    // Positions are byte offsets that may point into a multi-byte character (or past the end);
    // slicing there would panic, so step back to the character's start.
    let pos = floor_char_boundary(text, pos);
    let line_no = text[..pos].matches('\n').count() + 1;
    let mut cur = pos;
    let b = text.as_bytes();
    while cur > 0 && cur < b.len() && (b[cur] == b'\n' || b[cur] == b'\r') {
        cur -= 1;
    }
    let cur = floor_char_boundary(text, cur);
    let line_start = text[..cur].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find(['\n', '\r'])
        .map_or(text.len(), |i| line_start + i);
    let line = &text[line_start..line_end];
    let col = pos.saturating_sub(line_start);
    let mut pointer = String::new();
    for c in line.bytes().take(col) {
        pointer.push(if c == b'\t' { '\t' } else { '-' });
    }
    pointer.push('^');
    // libvirt prints an empty context line through "%s" of NULL.
    let context = if line.is_empty() { "(null)" } else { line };
    err(
        code::XML_DETAIL,
        domcode,
        format!("{docname}:{line_no}: {msg}\n{context}\n{pointer}"),
    )
}

/// The largest character boundary of `text` at or before byte `i`.
fn floor_char_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn byte_offset(text: &str, row: usize, col: usize) -> usize {
    let mut off = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == row {
            return off
                + l.char_indices()
                    .nth(col.saturating_sub(1))
                    .map_or(l.len(), |(j, _)| j);
        }
        off += l.len();
    }
    text.len()
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':' || c >= 0x80
}

fn is_name_char(c: u8) -> bool {
    is_name_start(c) || c.is_ascii_digit() || c == b'-' || c == b'.'
}

/// Finds the first well-formedness error the way libxml2 reports it: `(byte offset where the
/// parser stopped, message)`. `None` if the scanner sees no error.
fn diagnose_syntax(text: &str) -> Option<(usize, String)> {
    let b = text.as_bytes();
    let n = b.len();
    let line_of = |p: usize| text[..p.min(n)].matches('\n').count() + 1;
    let ws = |i: &mut usize| {
        while *i < n && matches!(b[*i], b' ' | b'\t' | b'\n' | b'\r') {
            *i += 1;
        }
    };
    let name = |i: &mut usize| -> Option<String> {
        if *i < n && is_name_start(b[*i]) {
            let s = *i;
            while *i < n && is_name_char(b[*i]) {
                *i += 1;
            }
            Some(text[s..*i].to_string())
        } else {
            None
        }
    };
    // Skips a comment, PI or declaration starting at `i` ('<!' or '<?'); Err on an unterminated one.
    let misc = |i: &mut usize| -> Result<bool, (usize, String)> {
        if text[*i..].starts_with("<!--") {
            match text[*i + 4..].find("-->") {
                Some(e) => *i += 4 + e + 3,
                None => return Err((n, "Comment not terminated".into())),
            }
            return Ok(true);
        }
        if text[*i..].starts_with("<?") {
            match text[*i + 2..].find("?>") {
                Some(e) => *i += 2 + e + 2,
                None => {
                    let mut j = *i + 2;
                    let pi = name(&mut j).unwrap_or_default();
                    return Err((n, format!("ParsePI: PI {pi} never end ...")));
                }
            }
            return Ok(true);
        }
        if text[*i..].starts_with("<!DOCTYPE") {
            let mut depth = 0;
            let mut j = *i;
            while j < n {
                match b[j] {
                    b'[' => depth += 1,
                    b']' => depth -= 1,
                    b'>' if depth == 0 => break,
                    _ => {}
                }
                j += 1;
            }
            *i = (j + 1).min(n);
            return Ok(true);
        }
        Ok(false)
    };
    let mut i = 0;
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut seen_root = false;
    // Prolog.
    loop {
        ws(&mut i);
        if i >= n {
            if text.is_empty() {
                return Some((0, "Document is empty".into()));
            }
            return Some((n, "Start tag expected, '<' not found".into()));
        }
        match misc(&mut i) {
            Err(e) => return Some(e),
            Ok(true) => continue,
            Ok(false) => {}
        }
        if b[i] != b'<' {
            return Some((i, "Start tag expected, '<' not found".into()));
        }
        break;
    }
    loop {
        if stack.is_empty() && seen_root {
            // Epilog: only blanks, comments and PIs.
            ws(&mut i);
            if i >= n {
                return None;
            }
            match misc(&mut i) {
                Err(e) => return Some(e),
                Ok(true) => continue,
                Ok(false) => return Some((i, "Extra content at the end of the document".into())),
            }
        }
        if i >= n {
            let (open, at) = stack.last().cloned().unwrap_or_default();
            return Some((
                n,
                format!("Premature end of data in tag {open} line {}", line_of(at)),
            ));
        }
        if b[i] == b'<' {
            if text[i..].starts_with("</") {
                let mut j = i + 2;
                let nm = name(&mut j).unwrap_or_default();
                ws(&mut j);
                if j >= n || b[j] != b'>' {
                    return Some((j, "expected '>'".into()));
                }
                j += 1;
                let (open, at) = stack.pop().unwrap_or_default();
                if open != nm {
                    return Some((
                        j,
                        format!(
                            "Opening and ending tag mismatch: {open} line {} and {nm}",
                            line_of(at)
                        ),
                    ));
                }
                i = j;
                continue;
            }
            if text[i..].starts_with("<![CDATA[") {
                match text[i + 9..].find("]]>") {
                    Some(e) => i += 9 + e + 3,
                    None => return Some((n, "CData section not finished".into())),
                }
                continue;
            }
            match misc(&mut i) {
                Err(e) => return Some(e),
                Ok(true) => continue,
                Ok(false) => {}
            }
            let start = i;
            let mut j = i + 1;
            let Some(nm) = name(&mut j) else {
                return Some((i + 1, "StartTag: invalid element name".into()));
            };
            let mut attrs: Vec<String> = Vec::new();
            let mut after_last = j;
            loop {
                let had_ws = j < n && matches!(b[j], b' ' | b'\t' | b'\n' | b'\r');
                ws(&mut j);
                if j >= n {
                    return Some(if attrs.is_empty() && after_last == start + 1 + nm.len() {
                        (
                            n,
                            format!(
                                "Couldn't find end of Start Tag {nm} line {}",
                                line_of(start)
                            ),
                        )
                    } else {
                        (after_last, "attributes construct error".into())
                    });
                }
                if b[j] == b'>' {
                    j += 1;
                    stack.push((nm.clone(), start));
                    seen_root = true;
                    break;
                }
                if b[j] == b'/' {
                    if j + 1 < n && b[j + 1] == b'>' {
                        j += 2;
                        seen_root = true;
                        break;
                    }
                    return Some((after_last, "attributes construct error".into()));
                }
                if !had_ws {
                    return Some((after_last, "attributes construct error".into()));
                }
                let Some(an) = name(&mut j) else {
                    return Some((j, "error parsing attribute name".into()));
                };
                ws(&mut j);
                if j >= n || b[j] != b'=' {
                    return Some((
                        j,
                        format!("Specification mandates value for attribute {an}"),
                    ));
                }
                j += 1;
                ws(&mut j);
                if j >= n || (b[j] != b'\'' && b[j] != b'"') {
                    return Some((j, "AttValue: \" or ' expected".into()));
                }
                let q = b[j];
                j += 1;
                let vs = j;
                while j < n && b[j] != q {
                    if b[j] == b'<' {
                        return Some((j, "Unescaped '<' not allowed in attributes values".into()));
                    }
                    j += 1;
                }
                if j >= n {
                    return Some((n, format!("AttValue: {} expected", q as char)));
                }
                if let Some(e) = check_refs(text, vs, j) {
                    return Some(e);
                }
                j += 1;
                if attrs.contains(&an) {
                    return Some((j, format!("Attribute {an} redefined")));
                }
                attrs.push(an);
                after_last = j;
            }
            i = j;
            continue;
        }
        // Character data up to the next markup.
        let e = text[i..].find('<').map_or(n, |k| i + k);
        if let Some(err) = check_refs(text, i, e) {
            return Some(err);
        }
        i = e;
    }
}

/// Entity and character references in `text[from..to]`, as libxml2 checks them.
fn check_refs(text: &str, from: usize, to: usize) -> Option<(usize, String)> {
    let b = text.as_bytes();
    let mut i = from;
    while i < to {
        if b[i] != b'&' {
            i += 1;
            continue;
        }
        if text[i..].starts_with("&#") {
            let hex = text[i..].starts_with("&#x");
            let mut j = i + if hex { 3 } else { 2 };
            let s = j;
            while j < to && b[j] != b';' {
                j += 1;
            }
            let digits = &text[s..j];
            let ok = !digits.is_empty()
                && if hex {
                    u32::from_str_radix(digits, 16).is_ok()
                } else {
                    digits.parse::<u32>().is_ok()
                };
            if !ok || j >= to {
                let mut k = s;
                let radix = if hex { 16 } else { 10 };
                while k < to && (b[k] as char).is_digit(radix) {
                    k += 1;
                }
                return Some((
                    k,
                    format!(
                        "CharRef: invalid {} value",
                        if hex { "hexadecimal" } else { "decimal" }
                    ),
                ));
            }
            i = j + 1;
            continue;
        }
        let mut j = i + 1;
        while j < to && is_name_char(b[j]) {
            j += 1;
        }
        if j == i + 1 {
            return Some((j, "xmlParseEntityRef: no name".into()));
        }
        if j >= to || b[j] != b';' {
            return Some((j, "EntityRef: expecting ';'".into()));
        }
        let nm = &text[i + 1..j];
        if !matches!(nm, "lt" | "gt" | "amp" | "apos" | "quot") {
            return Some((j + 1, format!("Entity '{nm}' not defined")));
        }
        i = j + 1;
    }
    None
}

fn is_plain(n: &Node, name: &str) -> bool {
    n.is_element() && n.tag_name().name() == name && n.tag_name().namespace().is_none()
}

/// The first child element called `name` (XPath `./name[1]`).
pub fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| is_plain(c, name))
}

/// All child elements called `name` (XPath `./name`).
pub fn children<'a, 'i: 'a>(
    node: Node<'a, 'i>,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children().filter(move |c| is_plain(c, name))
}

/// Follows a path of child element names (`./a/b/c`), taking the first match at each step.
pub fn path<'a, 'i>(node: Node<'a, 'i>, steps: &[&str]) -> Option<Node<'a, 'i>> {
    let mut n = node;
    for s in steps {
        n = child(n, s)?;
    }
    Some(n)
}

/// The XPath string value of an element: all its descendant text, concatenated.
pub fn text_content(node: Node) -> String {
    let mut s = String::new();
    for d in node.descendants() {
        if d.is_text() {
            s.push_str(d.text().unwrap_or(""));
        }
    }
    s
}

/// `virXPathString("string(./a/b)")`: the text of the element at `steps`, `None` when the
/// element is missing or its text is empty.
pub fn xpath_text(node: Node, steps: &[&str]) -> Option<String> {
    let n = path(node, steps)?;
    let t = text_content(n);
    (!t.is_empty()).then_some(t)
}

/// `virXPathString("string(./a/@attr)")`: the attribute of the element at `steps`, `None` when
/// it is missing or empty.
pub fn xpath_attr(node: Node, steps: &[&str], attr: &str) -> Option<String> {
    let n = path(node, steps)?;
    n.attribute(attr)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// `virXMLPropString`: the attribute as written (an empty value is a value).
pub fn prop(node: Option<Node>, attr: &str) -> Option<String> {
    node?.attribute(attr).map(str::to_string)
}

/// libvirt's tristate (`virTristateBool` / `virTristateSwitch`): absent, yes/on, no/off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Tristate {
    /// Not specified.
    #[default]
    Absent,
    /// `yes` / `on`.
    Yes,
    /// `no` / `off`.
    No,
}

impl Tristate {
    /// `yes`/`no` (`virTristateBoolTypeToString`); `default` when absent.
    pub fn as_bool_str(self) -> &'static str {
        match self {
            Self::Absent => "default",
            Self::Yes => "yes",
            Self::No => "no",
        }
    }
    /// `on`/`off` (`virTristateSwitchTypeToString`); `default` when absent.
    pub fn as_switch_str(self) -> &'static str {
        match self {
            Self::Absent => "default",
            Self::Yes => "on",
            Self::No => "off",
        }
    }
    /// Whether a value was given.
    pub fn is_set(self) -> bool {
        self != Self::Absent
    }
}

fn element_name(node: Node) -> String {
    node.tag_name().name().to_string()
}

/// Missing-attribute error of the `virXMLProp*` family.
fn missing_attr(node: Node, attr: &str) -> XmlError {
    err(
        code::XML_ERROR,
        domain::XML,
        format!(
            "Missing required attribute '{attr}' in element '{}'",
            element_name(node)
        ),
    )
}

/// `virXMLPropString` that reports a missing attribute (`virXMLPropStringRequired`).
pub fn prop_required(node: Node, attr: &str) -> Result<String, XmlError> {
    node.attribute(attr)
        .map(str::to_string)
        .ok_or_else(|| missing_attr(node, attr))
}

/// `virXMLPropEnum` (with `VIR_XML_PROP_NONZERO` when `nonzero`): looks the value up with
/// `from_str`, which returns the enum's index.
pub fn prop_enum(
    node: Option<Node>,
    attr: &str,
    from_str: impl Fn(&str) -> Option<u32>,
    required: bool,
    nonzero: bool,
) -> Result<Option<u32>, XmlError> {
    let Some(n) = node else { return Ok(None) };
    let Some(v) = n.attribute(attr) else {
        if required {
            return Err(missing_attr(n, attr));
        }
        return Ok(None);
    };
    match from_str(v) {
        Some(i) if !(nonzero && i == 0) => Ok(Some(i)),
        _ => Err(err(
            code::XML_ERROR,
            domain::XML,
            format!(
                "Invalid value for attribute '{attr}' in element '{}': '{v}'.",
                element_name(n)
            ),
        )),
    }
}

/// `virXMLPropTristateBool`: `yes`/`no`; `default` and anything else are refused.
pub fn prop_tristate_bool(node: Option<Node>, attr: &str) -> Result<Tristate, XmlError> {
    let idx = prop_enum(
        node,
        attr,
        |v| match v {
            "default" => Some(0),
            "yes" => Some(1),
            "no" => Some(2),
            _ => None,
        },
        false,
        true,
    )?;
    Ok(match idx {
        Some(1) => Tristate::Yes,
        Some(2) => Tristate::No,
        _ => Tristate::Absent,
    })
}

/// `virXMLPropTristateSwitch`: `on`/`off`.
pub fn prop_tristate_switch(node: Option<Node>, attr: &str) -> Result<Tristate, XmlError> {
    let idx = prop_enum(
        node,
        attr,
        |v| match v {
            "default" => Some(0),
            "on" => Some(1),
            "off" => Some(2),
            _ => None,
        },
        false,
        true,
    )?;
    Ok(match idx {
        Some(1) => Tristate::Yes,
        Some(2) => Tristate::No,
        _ => Tristate::Absent,
    })
}

/// `virXMLPropUInt(node, attr, base, flags)`: `Ok(None)` when absent and not required.
pub fn prop_uint(
    node: Option<Node>,
    attr: &str,
    base: u32,
    required: bool,
    nonzero: bool,
) -> Result<Option<u32>, XmlError> {
    let Some(n) = node else { return Ok(None) };
    let Some(v) = n.attribute(attr) else {
        if required {
            return Err(missing_attr(n, attr));
        }
        return Ok(None);
    };
    let Some(val) = str_to_u32_pos(v, base) else {
        return Err(err(
            code::XML_ERROR,
            domain::XML,
            format!(
                "Invalid value for attribute '{attr}' in element '{}': '{v}'. Expected non-negative integer value",
                element_name(n)
            ),
        ));
    };
    if nonzero && val == 0 {
        return Err(err(
            code::XML_ERROR,
            domain::XML,
            format!(
                "Invalid value for attribute '{attr}' in element '{}': Zero is not permitted",
                element_name(n)
            ),
        ));
    }
    Ok(Some(val))
}

/// `virXMLPropInt(node, attr, base, VIR_XML_PROP_NONE)`.
pub fn prop_int(node: Option<Node>, attr: &str, base: u32) -> Result<Option<i32>, XmlError> {
    let Some(n) = node else { return Ok(None) };
    let Some(v) = n.attribute(attr) else {
        return Ok(None);
    };
    match str_to_i32(v, base) {
        Some(val) => Ok(Some(val)),
        None => Err(err(
            code::XML_ERROR,
            domain::XML,
            format!(
                "Invalid value for attribute '{attr}' in element '{}': '{v}'. Expected integer value",
                element_name(n)
            ),
        )),
    }
}

/// `virXMLPropULongLong(node, attr, base, VIR_XML_PROP_NONE)`.
pub fn prop_ull(node: Option<Node>, attr: &str, base: u32) -> Result<Option<u64>, XmlError> {
    let Some(n) = node else { return Ok(None) };
    let Some(v) = n.attribute(attr) else {
        return Ok(None);
    };
    match str_to_u64_pos(v, base) {
        Some(val) => Ok(Some(val)),
        None => Err(err(
            code::XML_ERROR,
            domain::XML,
            format!(
                "Invalid value for attribute '{attr}' in element '{}': '{v}'. Expected non-negative integer value",
                element_name(n)
            ),
        )),
    }
}

// ---- output ----

/// An output buffer following `virBuffer`'s rules: each line is indented by the current level,
/// which callers move by two spaces around nested elements. Values are escaped only where the
/// caller asks ([`Buf::text`], [`crate::writer::escape`]), because libvirt leaves many of them
/// unescaped and so must we.
#[derive(Debug, Default)]
pub struct Buf {
    out: String,
    indent: usize,
}

impl Buf {
    /// An empty buffer at indentation 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// One line at the current indentation.
    pub fn line(&mut self, s: &str) {
        pad(&mut self.out, self.indent);
        self.out.push_str(s);
        self.out.push('\n');
    }

    /// A line that opens an element; what follows is indented one level more.
    pub fn open(&mut self, s: &str) {
        self.line(s);
        self.indent += 2;
    }

    /// Back one level, then `</name>`.
    pub fn close(&mut self, name: &str) {
        self.indent = self.indent.saturating_sub(2);
        self.line(&format!("</{name}>"));
    }

    /// One level deeper.
    pub fn indent(&mut self) {
        self.indent += 2;
    }

    /// One level back.
    pub fn dedent(&mut self) {
        self.indent = self.indent.saturating_sub(2);
    }

    /// `<name>value</name>` with the value escaped (`virBufferEscapeString`).
    pub fn text(&mut self, name: &str, value: &str) {
        self.line(&format!(
            "<{name}>{}</{name}>",
            crate::writer::escape(value)
        ));
    }

    /// A bare newline, not indented (libvirt's blank separator lines).
    pub fn blank(&mut self) {
        self.out.push('\n');
    }

    /// The current indentation in spaces.
    pub fn current_indent(&self) -> usize {
        self.indent
    }

    /// The text written.
    pub fn finish(self) -> String {
        self.out
    }
}

// ---- C number conversion, as glibc's strtoul/strtol and libvirt's virStrToLong_* wrappers ----

/// What C `strtoull`/`strtoll` saw: the magnitude, whether a minus sign was consumed, how many
/// bytes were consumed (0 when no digits) and whether the magnitude overflowed 64 bits.
#[derive(Debug, Clone, Copy)]
struct CNum {
    magnitude: u64,
    negative: bool,
    consumed: usize,
    overflow: bool,
}

fn c_strto(s: &str, base: u32) -> CNum {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        i += 1;
    }
    let mut negative = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        negative = b[i] == b'-';
        i += 1;
    }
    let mut base = base;
    let hex_prefix = i + 1 < b.len()
        && b[i] == b'0'
        && (b[i + 1] == b'x' || b[i + 1] == b'X')
        && i + 2 < b.len()
        && (b[i + 2] as char).is_ascii_hexdigit();
    if (base == 0 || base == 16) && hex_prefix {
        i += 2;
        base = 16;
    } else if base == 0 {
        base = if i < b.len() && b[i] == b'0' { 8 } else { 10 };
    }
    let start = i;
    let mut mag: u64 = 0;
    let mut overflow = false;
    while i < b.len() {
        let Some(d) = (b[i] as char).to_digit(base) else {
            break;
        };
        match mag
            .checked_mul(base as u64)
            .and_then(|m| m.checked_add(d as u64))
        {
            Some(m) => mag = m,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start {
        return CNum {
            magnitude: 0,
            negative: false,
            consumed: 0,
            overflow: false,
        };
    }
    CNum {
        magnitude: mag,
        negative,
        consumed: i,
        overflow,
    }
}

/// `virStrToLong_i`: a whole-string C `strtol` that fits in an `int`.
pub fn str_to_i32(s: &str, base: u32) -> Option<i32> {
    str_to_i64(s, base).and_then(|v| i32::try_from(v).ok())
}

/// `virStrToLong_ll`: a whole-string C `strtoll`.
pub fn str_to_i64(s: &str, base: u32) -> Option<i64> {
    let n = c_strto(s, base);
    if n.consumed == 0 || n.consumed != s.len() || n.overflow {
        return None;
    }
    if n.negative {
        if n.magnitude > i64::MAX as u64 + 1 {
            return None;
        }
        Some((n.magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(n.magnitude).ok()
    }
}

/// `virStrToLong_ui`: C `strtoul` into an `unsigned int`, allowing `-1` as `UINT_MAX`.
pub fn str_to_u32_wrap(s: &str, base: u32) -> Option<u32> {
    let n = c_strto(s, base);
    if n.consumed == 0 || n.consumed != s.len() || n.overflow {
        return None;
    }
    if n.negative {
        if n.magnitude > u32::MAX as u64 {
            return None;
        }
        return Some((n.magnitude as u32).wrapping_neg());
    }
    u32::try_from(n.magnitude).ok()
}

/// `virStrToLong_uip`: C `strtoul` into an `unsigned int`, refusing any minus sign.
pub fn str_to_u32_pos(s: &str, base: u32) -> Option<u32> {
    str_to_u64_pos(s, base).and_then(|v| u32::try_from(v).ok())
}

/// `virStrToLong_ullp` / `virStrToLong_ulp`: C `strtoull`, refusing any minus sign.
pub fn str_to_u64_pos(s: &str, base: u32) -> Option<u64> {
    let n = c_strto(s, base);
    if n.consumed == 0 || n.consumed != s.len() || n.overflow || n.negative {
        return None;
    }
    Some(n.magnitude)
}

/// `virStrToLong_ull`: C `strtoull` with two's-complement wrap of negative numbers.
pub fn str_to_u64_wrap(s: &str, base: u32) -> Option<u64> {
    let n = c_strto(s, base);
    if n.consumed == 0 || n.consumed != s.len() || n.overflow {
        return None;
    }
    Some(if n.negative {
        n.magnitude.wrapping_neg()
    } else {
        n.magnitude
    })
}

// ---- UUIDs and MAC addresses ----

/// `virUUIDParse`: 32 hex digits with `-` or blanks anywhere between pairs, blanks around.
pub fn uuid_parse(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    let mut out = [0u8; 16];
    let mut n = 0;
    while n < 16 {
        if i >= b.len() {
            return None;
        }
        if b[i] == b'-' || b[i] == b' ' {
            i += 1;
            continue;
        }
        let hi = (b[i] as char).to_digit(16)?;
        i += 1;
        let lo = (*b.get(i)? as char).to_digit(16)?;
        i += 1;
        out[n] = (hi * 16 + lo) as u8;
        n += 1;
    }
    if b[i..].iter().all(|c| c.is_ascii_whitespace()) {
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
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A random (version 4) UUID, as `virUUIDGenerate` makes.
pub fn uuid_generate() -> [u8; 16] {
    let mut b = [0u8; 16];
    fill_random(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

/// Fills `buf` from the kernel's random source, falling back to a time-seeded generator.
fn fill_random(buf: &mut [u8]) {
    use std::io::Read;
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        if f.read_exact(buf).is_ok() {
            return;
        }
    }
    let mut x = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9e37_79b9_7f4a_7c15)
        | 1;
    for b in buf.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
}

/// `virMacAddrParse`: six colon-separated groups of one or two hex digits; anything after the
/// sixth group must start with a character at or below a blank.
pub fn mac_parse(s: &str) -> Option<[u8; 6]> {
    let b = s.as_bytes();
    let mut out = [0u8; 6];
    let mut i = 0;
    for (n, slot) in out.iter_mut().enumerate() {
        if i >= b.len() || !b[i].is_ascii_hexdigit() {
            return None;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_hexdigit() {
            i += 1;
        }
        let len = i - start;
        if !(1..=2).contains(&len) {
            return None;
        }
        *slot = u8::from_str_radix(&s[start..i], 16).ok()?;
        if n == 5 {
            return if i >= b.len() || b[i] <= b' ' {
                Some(out)
            } else {
                None
            };
        }
        if b.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
    }
    None
}

/// `virMacAddrFormat`.
pub fn mac_format(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

// ---- paths ----

/// `virFileSanitizePath`: collapses repeated slashes and drops a trailing one; a leading `//`
/// (but not `///`) is kept, and URIs are left alone.
pub fn sanitize_path(path: &str) -> String {
    if let Some(uri) = path.find("://") {
        if path.find('/').is_some_and(|slash| slash > uri) {
            return path.to_string();
        }
    }
    let b = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    if b.len() >= 2 && b[0] == b'/' && b[1] == b'/' && b.get(2) != Some(&b'/') {
        out.push_str("//");
        i = 2;
    }
    while i < b.len() {
        if b[i] != b'/' {
            let start = i;
            while i < b.len() && b[i] != b'/' {
                i += 1;
            }
            out.push_str(&path[start..i]);
            continue;
        }
        while i < b.len() && b[i] == b'/' {
            i += 1;
        }
        if !out.is_empty() && i >= b.len() {
            break;
        }
        out.push('/');
    }
    out
}

// ---- metadata ----

/// Formats a preserved `<metadata>` element the way libvirt does: `xmlCopyNode` (namespaces
/// the subtree uses but declares outside it are declared on the copy's top), then
/// `virXMLNodeSanitizeNamespaces` (children without a namespace are dropped, and only the first
/// child of each namespace is kept), then libxml2's indenting `xmlNodeDump`: elements whose
/// children include no text are indented two spaces per level, mixed content is written as is,
/// attributes use double quotes. Returns the text to place at `indent` spaces (its first line
/// unindented).
pub fn format_metadata(node: Node, indent: usize) -> String {
    let mut kept: Vec<Node> = Vec::new();
    for c in node.children().filter(|c| c.is_element()) {
        let Some(ns) = c.tag_name().namespace() else {
            continue;
        };
        if kept.iter().any(|k| k.tag_name().namespace() == Some(ns)) {
            continue;
        }
        kept.push(c);
    }
    let mut out = String::from("<metadata");
    // The metadata element's own declarations, then those reconciled from outside the copy.
    let mut declared: Vec<(Option<String>, String)> = own_namespaces(node);
    for (p, u) in &declared {
        push_ns_decl(&mut out, p.as_deref(), u);
    }
    let inherited: Vec<(Option<String>, String)> = node
        .parent_element()
        .map(|p| {
            p.namespaces()
                .map(|n| (n.name().map(str::to_string), n.uri().to_string()))
                .collect()
        })
        .unwrap_or_default();
    for d in node
        .children()
        .filter(|c| c.is_element())
        .flat_map(|c| c.descendants())
    {
        if !d.is_element() {
            continue;
        }
        let mut uses: Vec<&str> = Vec::new();
        uses.extend(d.tag_name().namespace());
        uses.extend(d.attributes().filter_map(|a| a.namespace()));
        for uri in uses {
            let Some(decl) = inherited.iter().find(|(_, u)| u == uri) else {
                continue;
            };
            if !declared.iter().any(|(_, u)| u == uri) {
                push_ns_decl(&mut out, decl.0.as_deref(), &decl.1);
                declared.push(decl.clone());
            }
        }
    }
    if kept.is_empty() {
        out.push_str("/>");
        return out;
    }
    out.push_str(">\n");
    for k in &kept {
        pad(&mut out, indent + 2);
        dump_element(&mut out, *k, indent + 2, true);
        out.push('\n');
    }
    pad(&mut out, indent);
    out.push_str("</metadata>");
    out
}

fn pad(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn push_ns_decl(out: &mut String, prefix: Option<&str>, uri: &str) {
    match prefix {
        Some(p) => {
            let _ = write!(out, " xmlns:{p}=\"{}\"", escape_attr_dq(uri));
        }
        None => {
            let _ = write!(out, " xmlns=\"{}\"", escape_attr_dq(uri));
        }
    }
}

/// Namespace declarations written on this element itself (roxmltree lists inherited ones too).
fn own_namespaces(node: Node) -> Vec<(Option<String>, String)> {
    let parent: Vec<(Option<String>, String)> = node
        .parent_element()
        .map(|p| {
            p.namespaces()
                .map(|n| (n.name().map(str::to_string), n.uri().to_string()))
                .collect()
        })
        .unwrap_or_default();
    node.namespaces()
        .map(|n| (n.name().map(str::to_string), n.uri().to_string()))
        .filter(|d| !parent.contains(d))
        .collect()
}

/// libxml2 drops whitespace-only text between elements when blanks are not kept; comments stay.
fn significant_children<'a, 'i>(node: Node<'a, 'i>) -> Vec<Node<'a, 'i>> {
    let all: Vec<Node> = node
        .children()
        .filter(|c| c.is_element() || c.is_text() || c.is_comment())
        .collect();
    let has_markup = all.iter().any(|c| !c.is_text());
    all.into_iter()
        .filter(|c| !(has_markup && c.is_text() && c.text().unwrap_or("").trim().is_empty()))
        .collect()
}

fn qualified_name(node: Node) -> String {
    let tn = node.tag_name();
    match tn.namespace().and_then(|ns| node.lookup_prefix(ns)) {
        Some(p) if !p.is_empty() => format!("{p}:{}", tn.name()),
        _ => tn.name().to_string(),
    }
}

fn dump_element(out: &mut String, node: Node, indent: usize, format: bool) {
    out.push('<');
    out.push_str(&qualified_name(node));
    for (p, u) in own_namespaces(node) {
        push_ns_decl(out, p.as_deref(), &u);
    }
    for a in node.attributes() {
        let name = match a.namespace().and_then(|ns| node.lookup_prefix(ns)) {
            Some(p) if !p.is_empty() => format!("{p}:{}", a.name()),
            _ => a.name().to_string(),
        };
        let _ = write!(out, " {name}=\"{}\"", escape_attr_dq(a.value()));
    }
    let kids = significant_children(node);
    if kids.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    let fmt = format && !kids.iter().any(|k| k.is_text());
    for k in &kids {
        if fmt {
            out.push('\n');
            pad(out, indent + 2);
        }
        if k.is_text() {
            out.push_str(&escape_text_libxml(k.text().unwrap_or("")));
        } else if k.is_comment() {
            let _ = write!(out, "<!--{}-->", k.text().unwrap_or(""));
        } else {
            dump_element(out, *k, indent + 2, fmt);
        }
    }
    if fmt {
        out.push('\n');
        pad(out, indent);
    }
    out.push_str("</");
    out.push_str(&qualified_name(node));
    out.push('>');
}

fn escape_text_libxml(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '\r' => o.push_str("&#13;"),
            c => o.push(c),
        }
    }
    o
}

fn escape_attr_dq(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\n' => o.push_str("&#10;"),
            '\r' => o.push_str("&#13;"),
            '\t' => o.push_str("&#9;"),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_next_to_multibyte_characters_do_not_panic() {
        // Found by the xml_network fuzz target: an error position inside U+FEFF.
        let doc = "<nepwork>&\u{feff}\r\r<\r</nztw9.765d736edbk>\n";
        let e = parse_text(doc, "(network_definition)", domain::NETWORK).unwrap_err();
        assert_eq!(e.code(), code::XML_DETAIL);
        for doc in [
            "<a>\u{e9}\n<",
            "<a b='\u{e9}\n",
            "<\u{feff}",
            "<a>&\u{e9}\r\n</b>",
        ] {
            assert!(parse_text(doc, "(t)", domain::NETWORK).is_err());
        }
    }

    #[test]
    fn domain_documents_get_libxml2_messages() {
        let msg = |text: &str| {
            parse_text(text, "(domain_definition)", domain::DOMAIN)
                .unwrap_err()
                .message()
        };
        assert_eq!(
            msg("\n"),
            "(domain_definition):2: Start tag expected, '<' not found\n(null)\n^"
        );
        assert_eq!(
            msg("<domain type='test'><name>x</name><memory>1</memory><os><type>hvm</type></os>\n"),
            "(domain_definition):2: Premature end of data in tag domain line 1\n(null)\n^"
        );
        assert_eq!(
            msg("<domain type='test'>\n<name>x</name>\n<memory>1</memory>\n<os><type>hvm</type></os>\n<foo>\n</domain>\n"),
            "(domain_definition):6: Opening and ending tag mismatch: foo line 5 and domain\n</domain>\n---------^"
        );
        assert_eq!(
            msg("<domain type=test><name>x</name>\n"),
            "(domain_definition):1: AttValue: \" or ' expected\n<domain type=test><name>x</name>\n-------------^"
        );
    }

    #[test]
    fn strtol_family_matches_c() {
        assert_eq!(str_to_u32_pos("42", 10), Some(42));
        assert_eq!(str_to_u32_pos(" 42", 10), Some(42));
        assert_eq!(str_to_u32_pos("+42", 10), Some(42));
        assert_eq!(str_to_u32_pos("-1", 10), None);
        assert_eq!(str_to_u32_pos("42 ", 10), None);
        assert_eq!(str_to_u32_pos("", 10), None);
        assert_eq!(str_to_u32_pos("4294967296", 10), None);
        assert_eq!(str_to_u32_wrap("-1", 10), Some(u32::MAX));
        assert_eq!(str_to_u32_wrap("0x10", 0), Some(16));
        assert_eq!(str_to_u32_wrap("010", 0), Some(8));
        assert_eq!(str_to_i32("-5", 10), Some(-5));
        assert_eq!(str_to_i32("2147483648", 10), None);
        assert_eq!(str_to_i32("0777", 8), Some(0o777));
        assert_eq!(str_to_u64_pos("18446744073709551615", 10), Some(u64::MAX));
        assert_eq!(str_to_u64_pos("18446744073709551616", 10), None);
        assert_eq!(str_to_i64("-1", 10), Some(-1));
        assert_eq!(str_to_u32_pos("0x", 16), None);
    }

    #[test]
    fn uuid_and_mac() {
        let u = uuid_parse(" dd8fe884-6c02-601e-7551-cca97df1c5df ").unwrap();
        assert_eq!(uuid_format(&u), "dd8fe884-6c02-601e-7551-cca97df1c5df");
        assert_eq!(
            uuid_parse("004b22212d78c30f5aa5f03c87d21e69").map(|u| uuid_format(&u)),
            Some("004b2221-2d78-c30f-5aa5-f03c87d21e69".into())
        );
        assert!(uuid_parse("zz").is_none());
        assert!(uuid_parse("004b22212d78c30f5aa5f03c87d21e6").is_none());
        let g = uuid_generate();
        assert_eq!(g[6] >> 4, 4);
        assert_eq!(
            mac_parse("52:54:0:A:bb:cc"),
            Some([0x52, 0x54, 0, 0xa, 0xbb, 0xcc])
        );
        assert_eq!(
            mac_parse("52:54:00:0a:bb:cc x"),
            Some([0x52, 0x54, 0, 0xa, 0xbb, 0xcc])
        );
        assert!(mac_parse("52:54:00:0a:bb").is_none());
        assert!(mac_parse("52:54:00:0a:bb:ccc").is_none());
        assert_eq!(
            mac_format(&[0x52, 0x54, 0, 0xa, 0xbb, 0xcc]),
            "52:54:00:0a:bb:cc"
        );
    }

    #[test]
    fn paths_are_sanitized_like_libvirt() {
        assert_eq!(sanitize_path("/foo///bar/"), "/foo/bar");
        assert_eq!(sanitize_path("//foo"), "//foo");
        assert_eq!(sanitize_path("///foo"), "/foo");
        assert_eq!(sanitize_path("/"), "/");
        assert_eq!(sanitize_path("foo/"), "foo");
        assert_eq!(sanitize_path("gluster://host//x"), "gluster://host//x");
    }

    #[test]
    fn syntax_errors_look_like_libxml2() {
        let e = parse_document(
            "<network><name>a</name",
            "(network_definition)",
            "network",
            19,
        )
        .unwrap_err();
        assert_eq!(e.code(), code::XML_DETAIL);
        assert_eq!(e.domain(), 19);
        assert!(e.message().starts_with("(network_definition):1: "));
        let e = parse_document("<net/>", "(network_definition)", "network", 19).unwrap_err();
        assert_eq!(
            e.message(),
            "XML error: expecting root element of 'network', not 'net'"
        );
    }

    #[test]
    fn syntax_diagnosis_never_panics() {
        let doc = "<?xml version='1.0'?>\n<network a=\"x&amp;y\">\n  <name>Zoë &#233;</name>\n  \
                   <!-- ç --><b:x xmlns:b='urn:b' k='é'/><![CDATA[<>]]>\n</network>\n";
        let cut: Vec<usize> = (0..=doc.len())
            .filter(|i| doc.is_char_boundary(*i))
            .collect();
        for &i in &cut {
            let _ = parse_document(&doc[..i], "(t)", "network", 19);
            if let Some(&j) = cut.iter().find(|&&j| j > i) {
                let dropped = format!("{}{}", &doc[..i], &doc[j..]);
                let _ = parse_document(&dropped, "(t)", "network", 19);
            }
        }
        assert!(parse_document(doc, "(t)", "network", 19).is_ok());
    }

    #[test]
    fn metadata_formats_like_libxml2() {
        let doc = roxmltree::Document::parse(
            "<m><metadata>\n <a:foo xmlns:a='urn:a'>x</a:foo>\n <b:bar xmlns:b='urn:b' k='v&amp;'><b:baz/><b:q>t</b:q></b:bar><plain/><a:dup xmlns:a='urn:a'/></metadata></m>",
        )
        .unwrap();
        let md = child(doc.root_element(), "metadata").unwrap();
        assert_eq!(
            format_metadata(md, 2),
            "<metadata>\n    <a:foo xmlns:a=\"urn:a\">x</a:foo>\n    <b:bar xmlns:b=\"urn:b\" k=\"v&amp;\">\n      <b:baz/>\n      <b:q>t</b:q>\n    </b:bar>\n  </metadata>"
        );
    }
}
