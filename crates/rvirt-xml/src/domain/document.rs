//! Reading the XML text, with libvirt's wording for syntax errors.
//!
//! libvirt parses with libxml2 and reports the first fatal error as `VIR_ERR_XML_DETAIL`:
//! `"<url>:<line>: <libxml2 message>\n<context line>\n<caret line>"` (`catchXMLError`). The
//! common cases — an empty document, a document cut short, a mismatched end tag — get
//! libxml2's exact messages here; other syntax errors get the same shape with our parser's
//! description.

use super::xml::{report, Result};
use rvirt_proto::error::code;

/// Parses `text`; `url` is the name libvirt gives the document in messages
/// (`(domain_definition)`), `domcode` the error domain of the caller.
pub(crate) fn parse<'i>(text: &'i str, url: &str, domcode: i32) -> Result<roxmltree::Document<'i>> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(text, opts).map_err(|e| {
        let (line, msg, pos) = describe(text, &e);
        report(
            code::XML_DETAIL,
            domcode,
            detail(text, url, line, &msg, pos),
        )
    })
}

/// The open elements at the end of the text, innermost last: (name, line).
fn open_elements(text: &str) -> Vec<(String, usize)> {
    let b = text.as_bytes();
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'<' => {
                let rest = &text[i..];
                let skip_to = |pat: &str| rest.find(pat).map(|j| j + pat.len());
                let len = if rest.starts_with("<!--") {
                    skip_to("-->")
                } else if rest.starts_with("<![CDATA[") {
                    skip_to("]]>")
                } else if rest.starts_with("<?") {
                    skip_to("?>")
                } else if rest.starts_with("<!") {
                    skip_to(">")
                } else {
                    // A tag: find its end outside quotes.
                    let tb = rest.as_bytes();
                    let mut j = 1;
                    let mut quote = None;
                    while j < tb.len() {
                        match (quote, tb[j]) {
                            (None, b'\'' | b'"') => quote = Some(tb[j]),
                            (Some(q), c) if c == q => quote = None,
                            (None, b'>') => break,
                            _ => {}
                        }
                        j += 1;
                    }
                    if j >= tb.len() {
                        None
                    } else {
                        let tag = &rest[1..j];
                        if let Some(name) = tag.strip_prefix('/') {
                            let name = name.trim();
                            if let Some(pos) = stack.iter().rposition(|(n, _)| n == name) {
                                stack.truncate(pos);
                            }
                        } else if !tag.ends_with('/') {
                            let name: String = tag
                                .chars()
                                .take_while(|c| !c.is_whitespace() && *c != '/')
                                .collect();
                            stack.push((name, line));
                        }
                        Some(j + 1)
                    }
                };
                let Some(len) = len else { break };
                line += text[i..i + len].matches('\n').count();
                i += len;
            }
            _ => i += 1,
        }
    }
    stack
}

fn line_at(text: &str, pos: usize) -> usize {
    text[..pos.min(text.len())].matches('\n').count() + 1
}

fn offset_of(text: &str, row: u32, col: u32) -> usize {
    let mut off = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == row as usize {
            let c = (col as usize).saturating_sub(1);
            return off + l.char_indices().nth(c).map(|(k, _)| k).unwrap_or(l.len());
        }
        off += l.len();
    }
    text.len()
}

/// libxml2's line, message (with its trailing newline) and position for an error.
fn describe(text: &str, e: &roxmltree::Error) -> (usize, String, usize) {
    use roxmltree::Error as E;
    let end = text.len();
    let eof_line = line_at(text, end);
    match e {
        E::NoRootNode if text.trim().is_empty() || !text.trim_start().starts_with('<') => {
            (eof_line, "Start tag expected, '<' not found\n".into(), end)
        }
        E::UnexpectedEndOfStream | E::UnclosedRootNode | E::NoRootNode => {
            match open_elements(text).last() {
                Some((name, l)) => (
                    eof_line,
                    format!("Premature end of data in tag {name} line {l}\n"),
                    end,
                ),
                None => (
                    eof_line,
                    "Extra content at the end of the document\n".into(),
                    end,
                ),
            }
        }
        E::UnexpectedCloseTag(expected, actual, p) => {
            let off = offset_of(text, p.row, p.col);
            // libxml2 reports after consuming the end tag.
            let after = text[off..].find('>').map(|j| off + j + 1).unwrap_or(end);
            let open_line = open_elements(&text[..off])
                .iter()
                .rev()
                .find(|(n, _)| n == expected)
                .map(|(_, l)| *l)
                .unwrap_or(p.row as usize);
            (
                line_at(text, off),
                format!(
                    "Opening and ending tag mismatch: {expected} line {open_line} and {actual}\n"
                ),
                after,
            )
        }
        other => {
            let p = other.pos();
            let off = offset_of(text, p.row, p.col);
            (p.row as usize, format!("{other}\n"), off)
        }
    }
}

/// `catchXMLError`'s message: location, libxml2 message, the line's text and a caret.
fn detail(text: &str, url: &str, line: usize, msg: &str, pos: usize) -> String {
    let b = text.as_bytes();
    let pos = pos.min(b.len());
    let mut cur = pos;
    // Step back over line ends at the position, then to the start of the line.
    while cur > 0 && cur < b.len() && (b[cur] == b'\n' || b[cur] == b'\r') {
        cur -= 1;
    }
    while cur > 0 && (cur >= b.len() || (b[cur] != b'\n' && b[cur] != b'\r')) {
        cur -= 1;
    }
    if cur < b.len() && (b[cur] == b'\n' || b[cur] == b'\r') {
        cur += 1;
    }
    let col = pos.saturating_sub(cur);
    let mut end = cur;
    while end < b.len() && b[end] != b'\n' && b[end] != b'\r' {
        end += 1;
    }
    let context = &text[cur..end];
    let mut pointer = String::new();
    for c in context.bytes().take(col) {
        pointer.push(if c == b'\t' { '\t' } else { '-' });
    }
    pointer.push('^');
    let context = if context.is_empty() {
        "(null)"
    } else {
        context
    };
    format!("{url}:{line}: {msg}{context}\n{pointer}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvirt_proto::error::domain;

    fn msg(text: &str) -> String {
        parse(text, "(domain_definition)", domain::DOMAIN)
            .unwrap_err()
            .message()
    }

    #[test]
    fn libxml2_messages_for_common_errors() {
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
    }
}
