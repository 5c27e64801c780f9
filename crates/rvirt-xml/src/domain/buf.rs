//! An output buffer with libvirt's `virBuffer` indentation rules and `virXMLFormatElement`'s
//! element assembly, so the formatter can follow libvirt's code shape and produce the same
//! bytes.
//!
//! `virBuffer` indents text only when it starts a line; a child buffer starts two spaces deeper;
//! an element whose attribute and child buffers are both empty is omitted entirely.

pub(crate) use crate::writer::escape;

/// A `virBuffer`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Buf {
    s: String,
    indent: usize,
}

impl Buf {
    /// An empty buffer at indentation 0 (also used for attribute lists).
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// `VIR_BUFFER_INIT_CHILD`: an empty buffer two spaces deeper than `self`.
    pub(crate) fn child(&self) -> Self {
        Self {
            s: String::new(),
            indent: self.indent + 2,
        }
    }

    /// Whether nothing was written (`virBufferUse(buf) == 0`).
    pub(crate) fn is_empty(&self) -> bool {
        self.s.is_empty()
    }

    /// The text.
    pub(crate) fn finish(self) -> String {
        self.s
    }

    /// `virBufferAdjustIndent`.
    pub(crate) fn adjust(&mut self, by: isize) {
        self.indent = self.indent.saturating_add_signed(by);
    }

    /// `virBufferAdd*`: appends, indenting first if at the start of a line.
    pub(crate) fn add(&mut self, text: &str) {
        if self.indent > 0 && (self.s.is_empty() || self.s.ends_with('\n')) {
            for _ in 0..self.indent {
                self.s.push(' ');
            }
        }
        self.s.push_str(text);
    }

    /// `virBufferEscapeString(buf, fmt, value)` for a `fmt` with one `%s`: nothing when the value
    /// is absent.
    pub(crate) fn esc(&mut self, fmt: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.add(&fmt.replacen("%s", &escape(v), 1));
        }
    }

    /// `virBufferAddBuffer`: appends another buffer's text as is.
    pub(crate) fn append(&mut self, other: Buf) {
        self.s.push_str(&other.s);
    }

    /// `virXMLFormatElement`: `<name attrs/>`, `<name attrs>\n…</name>`, or nothing when both
    /// are empty.
    pub(crate) fn element(&mut self, name: &str, attrs: Buf, children: Buf) {
        if attrs.is_empty() && children.is_empty() {
            return;
        }
        self.element_empty(name, attrs, children);
    }

    /// `virXMLFormatElementEmpty`: like [`Buf::element`] but writes `<name/>` when both are empty.
    pub(crate) fn element_empty(&mut self, name: &str, attrs: Buf, children: Buf) {
        self.add("<");
        self.s.push_str(name);
        self.s.push_str(&attrs.s);
        if children.is_empty() {
            self.s.push_str("/>\n");
        } else {
            self.s.push_str(">\n");
            self.s.push_str(&children.s);
            self.add(&format!("</{name}>\n"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indents_like_vir_buffer() {
        let mut b = Buf::new();
        b.add("<a>\n");
        b.adjust(2);
        let mut attrs = Buf::new();
        attrs.add(" x='1'");
        let mut kids = b.child();
        kids.add("<c/>\n");
        b.element("b", attrs, kids);
        b.element("empty", Buf::new(), b.child());
        b.element_empty("e", Buf::new(), b.child());
        b.esc("<t>%s</t>\n", Some("a&b"));
        b.esc("<t>%s</t>\n", None);
        b.adjust(-2);
        b.add("</a>\n");
        assert_eq!(
            b.finish(),
            "<a>\n  <b x='1'>\n    <c/>\n  </b>\n  <e/>\n  <t>a&amp;b</t>\n</a>\n"
        );
    }
}
