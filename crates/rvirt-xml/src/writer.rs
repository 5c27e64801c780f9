//! Writing XML the way libvirt's `virBuffer`/`virXMLFormatElement` do: two-space indentation,
//! single-quoted attributes, `<x/>` for empty elements, and libvirt's escaping of `<>&'"`.

/// Escapes text or an attribute value as `virBufferEscapeString` does.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// An indenting XML writer.
#[derive(Debug, Default)]
pub struct XmlWriter {
    out: String,
    indent: usize,
}

impl XmlWriter {
    /// A writer starting at indentation 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer whose lines start `indent` spaces in (for embedding documents).
    pub fn with_indent(indent: usize) -> Self {
        Self {
            out: String::new(),
            indent,
        }
    }

    /// The text written so far.
    pub fn finish(self) -> String {
        self.out
    }

    fn pad(&mut self) {
        for _ in 0..self.indent {
            self.out.push(' ');
        }
    }

    fn attrs(&mut self, attrs: &[(&str, &str)]) {
        for (k, v) in attrs {
            self.out.push(' ');
            self.out.push_str(k);
            self.out.push_str("='");
            self.out.push_str(&escape(v));
            self.out.push('\'');
        }
    }

    /// `<name attrs>` and indents what follows.
    pub fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.pad();
        self.out.push('<');
        self.out.push_str(name);
        self.attrs(attrs);
        self.out.push_str(">\n");
        self.indent += 2;
    }

    /// `</name>` after un-indenting.
    pub fn close(&mut self, name: &str) {
        self.indent = self.indent.saturating_sub(2);
        self.pad();
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    /// `<name attrs/>`.
    pub fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.pad();
        self.out.push('<');
        self.out.push_str(name);
        self.attrs(attrs);
        self.out.push_str("/>\n");
    }

    /// `<name attrs>text</name>` with the text escaped.
    pub fn text(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.pad();
        self.out.push('<');
        self.out.push_str(name);
        self.attrs(attrs);
        self.out.push('>');
        self.out.push_str(&escape(text));
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    /// A raw line (already formatted, e.g. preserved metadata), indented at the current level.
    pub fn raw_line(&mut self, line: &str) {
        self.pad();
        self.out.push_str(line);
        self.out.push('\n');
    }

    /// Raw text appended as is.
    pub fn raw(&mut self, text: &str) {
        self.out.push_str(text);
    }

    /// Current indentation.
    pub fn indent(&self) -> usize {
        self.indent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_libvirt() {
        let mut w = XmlWriter::new();
        w.open("domain", &[("type", "test")]);
        w.text("name", &[], "a<b>&'\"");
        w.empty("boot", &[("dev", "hd")]);
        w.close("domain");
        assert_eq!(
            w.finish(),
            "<domain type='test'>\n  <name>a&lt;b&gt;&amp;&apos;&quot;</name>\n  <boot dev='hd'/>\n</domain>\n"
        );
    }
}
