//! `<metadata>`: application data kept verbatim, re-serialized the way libvirt does it.
//!
//! libvirt copies the element with libxml2 (`xmlCopyNode`), removes children without a
//! namespace and repeated namespaces (`virXMLNodeSanitizeNamespaces`), and dumps it with
//! `xmlNodeDump(format=1)`. The document was read with `xmlKeepBlanksDefault(0)`, whose
//! heuristic drops whitespace-only text in element-only content. This module reproduces those
//! three steps on the `roxmltree` tree so the output bytes match.

use super::buf::Buf;
use super::xml::Node;

/// A `<metadata>` element, stored as libvirt formats it at the top level of `<domain>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// The serialized element, without leading indentation and without the final newline.
    xml: String,
}

/// A copied element.
#[derive(Debug, Clone)]
struct El {
    qname: String,
    prefix: Option<String>,
    ns: Option<String>,
    /// Namespace declarations written on this element, in order: (prefix, uri).
    decls: Vec<(Option<String>, String)>,
    /// Attributes: (qname, value).
    attrs: Vec<(String, String)>,
    kids: Vec<Item>,
}

#[derive(Debug, Clone)]
enum Item {
    El(El),
    Text(String),
    Comment(String),
    Pi(String, Option<String>),
}

impl Metadata {
    /// Copies a `<metadata>` element as libvirt does.
    pub(crate) fn from_node(n: &Node) -> Self {
        let input = n.document().input_text();
        let mut root = copy_el(n, input);
        // xmlCopyNode declares, on the copy's root, namespaces used inside it but declared
        // outside it.
        let mut extra = Vec::new();
        collect_outside_ns(n, &root, &mut Vec::new(), &mut extra);
        for d in extra {
            if !root.decls.iter().any(|x| x.0 == d.0) {
                root.decls.push(d);
            }
        }
        // virXMLNodeSanitizeNamespaces.
        let mut seen: Vec<String> = Vec::new();
        root.kids.retain(|k| match k {
            Item::El(e) => match &e.ns {
                Some(ns) if !seen.contains(ns) => {
                    seen.push(ns.clone());
                    true
                }
                _ => false,
            },
            _ => false,
        });
        let mut out = String::new();
        dump(&root, 1, true, &mut out, true);
        Self { xml: out }
    }

    /// The serialized element as libvirt writes it (at the domain's top level).
    pub fn as_str(&self) -> &str {
        &self.xml
    }

    pub(super) fn format(&self, b: &mut Buf) {
        b.add(&self.xml);
        b.add("\n");
    }
}

/// The raw start tag's attribute names in source order (including `xmlns` declarations).
fn raw_attr_names(n: &Node, input: &str) -> Vec<String> {
    let r = n.range();
    let b = &input.as_bytes()[r.start..r.end];
    let mut i = 1;
    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' && b[i] != b'/' {
        i += 1;
    }
    let mut names = Vec::new();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() || b[i] == b'>' || b[i] == b'/' {
            break;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        names.push(String::from_utf8_lossy(&b[start..i]).into_owned());
        while i < b.len() && b[i] != b'\'' && b[i] != b'"' {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let q = b[i];
        i += 1;
        while i < b.len() && b[i] != q {
            i += 1;
        }
        i += 1;
    }
    names
}

fn raw_qname(n: &Node, input: &str) -> String {
    let r = n.range();
    let b = &input.as_bytes()[r.start..r.end];
    let mut i = 1;
    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' && b[i] != b'/' {
        i += 1;
    }
    String::from_utf8_lossy(&b[1..i]).into_owned()
}

fn split_prefix(q: &str) -> Option<String> {
    q.split_once(':').map(|(p, _)| p.to_string())
}

fn copy_el(n: &Node, input: &str) -> El {
    let qname = raw_qname(n, input);
    let prefix = split_prefix(&qname);
    let mut decls = Vec::new();
    let names = raw_attr_names(n, input);
    let mut attr_qnames = Vec::new();
    for name in &names {
        if name == "xmlns" {
            let uri = n.lookup_namespace_uri(None).unwrap_or("").to_string();
            decls.push((None, uri));
        } else if let Some(p) = name.strip_prefix("xmlns:") {
            let uri = n.lookup_namespace_uri(Some(p)).unwrap_or("").to_string();
            decls.push((Some(p.to_string()), uri));
        } else {
            attr_qnames.push(name.clone());
        }
    }
    let attrs = n
        .attributes()
        .zip(attr_qnames)
        .map(|(a, q)| (q, a.value().to_string()))
        .collect();
    let mut el = El {
        qname,
        prefix,
        ns: n.tag_name().namespace().map(str::to_string),
        decls,
        attrs,
        kids: Vec::new(),
    };
    // xmlKeepBlanksDefault(0): decide, in document order, which text survives.
    let mut text_seen = false; // libxml2's `*ctxt->space == -2`
    for c in n.children() {
        if c.is_element() {
            el.kids.push(Item::El(copy_el(&c, input)));
        } else if c.is_comment() {
            el.kids
                .push(Item::Comment(c.text().unwrap_or("").to_string()));
        } else if c.is_pi() {
            if let Some(pi) = c.pi() {
                el.kids.push(Item::Pi(
                    pi.target.to_string(),
                    pi.value.map(str::to_string),
                ));
            }
        } else if c.is_text() {
            let t = c.text().unwrap_or("");
            let blank = t.chars().all(|ch| matches!(ch, ' ' | '\t' | '\n' | '\r'));
            if blank {
                let only_child = el.kids.is_empty() && c.next_sibling().is_none();
                let last_is_text = matches!(el.kids.last(), Some(Item::Text(_)));
                let first_is_text = matches!(el.kids.first(), Some(Item::Text(_)));
                let keep = text_seen || only_child || last_is_text || first_is_text;
                if keep {
                    el.kids.push(Item::Text(t.to_string()));
                }
            } else {
                if sets_text_seen(&input[c.range()]) {
                    text_seen = true;
                }
                el.kids.push(Item::Text(t.to_string()));
            }
        }
    }
    el
}

/// Whether libxml2's character-data reader marks the element as holding text for this raw
/// text: a chunk (between entity references) that starts with a blank but is not all blank,
/// or one holding non-ASCII characters, does.
fn sets_text_seen(raw: &str) -> bool {
    let mut rest = raw;
    loop {
        let (chunk, after) = match rest.find('&') {
            Some(i) => {
                let end = rest[i..].find(';').map(|j| i + j + 1).unwrap_or(rest.len());
                (&rest[..i], Some(&rest[end..]))
            }
            None => (rest, None),
        };
        if !chunk.is_empty() {
            let starts_blank = chunk.starts_with([' ', '\t', '\n', '\r']);
            if starts_blank || !chunk.is_ascii() {
                return true;
            }
        }
        match after {
            Some(a) => rest = a,
            None => return false,
        }
    }
}

/// Namespaces used by the copy but declared outside the copied subtree, in document order.
fn collect_outside_ns(
    orig: &Node,
    el: &El,
    scope: &mut Vec<Option<String>>,
    out: &mut Vec<(Option<String>, String)>,
) {
    let depth = scope.len();
    for d in &el.decls {
        scope.push(d.0.clone());
    }
    let mut need = |prefix: &Option<String>, uri: Option<&str>| {
        if prefix.as_deref() == Some("xml") {
            return;
        }
        if scope.contains(prefix) || out.iter().any(|o| &o.0 == prefix) {
            return;
        }
        if let Some(u) = uri {
            out.push((prefix.clone(), u.to_string()));
        }
    };
    if el.ns.is_some() {
        need(&el.prefix, el.ns.as_deref());
    }
    for (q, _) in &el.attrs {
        if let Some(p) = split_prefix(q) {
            let uri = orig.lookup_namespace_uri(Some(&p));
            need(&Some(p), uri);
        }
    }
    let mut origs = orig.children().filter(|c| c.is_element());
    for k in &el.kids {
        if let Item::El(e) = k {
            if let Some(o) = origs.next() {
                collect_outside_ns(&o, e, scope, out);
            }
        }
    }
    scope.truncate(depth);
}

fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) >= 0x80 => out.push_str(&format!("&#x{:X};", c as u32)),
            c => out.push(c),
        }
    }
}

fn indent(level: usize, out: &mut String) {
    for _ in 0..level.min(30) {
        out.push_str("  ");
    }
}

/// `xmlNodeDumpOutput` with `format=1`, `xmlIndentTreeOutput=1`.
fn dump(el: &El, level: usize, format: bool, out: &mut String, is_root: bool) {
    if !is_root && format {
        indent(level, out);
    }
    out.push('<');
    out.push_str(&el.qname);
    for (p, uri) in &el.decls {
        match p {
            Some(p) => out.push_str(&format!(" xmlns:{p}=\"")),
            None => out.push_str(" xmlns=\""),
        }
        escape_attr(uri, out);
        out.push('"');
    }
    for (q, v) in &el.attrs {
        out.push(' ');
        out.push_str(q);
        out.push_str("=\"");
        escape_attr(v, out);
        out.push('"');
    }
    if el.kids.is_empty() {
        out.push_str("/>");
        return;
    }
    let inner_format = format && !el.kids.iter().any(|k| matches!(k, Item::Text(_)));
    out.push('>');
    if inner_format {
        out.push('\n');
    }
    for k in &el.kids {
        match k {
            Item::El(e) => dump(e, level + 1, inner_format, out, false),
            Item::Text(t) => escape_text(t, out),
            Item::Comment(c) => {
                if inner_format {
                    indent(level + 1, out);
                }
                out.push_str("<!--");
                out.push_str(c);
                out.push_str("-->");
            }
            Item::Pi(t, v) => {
                if inner_format {
                    indent(level + 1, out);
                }
                out.push_str("<?");
                out.push_str(t);
                if let Some(v) = v {
                    out.push(' ');
                    out.push_str(v);
                }
                out.push_str("?>");
            }
        }
        if inner_format {
            out.push('\n');
        }
    }
    if inner_format {
        indent(level, out);
    }
    out.push_str("</");
    out.push_str(&el.qname);
    out.push('>');
}
