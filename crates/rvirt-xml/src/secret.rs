//! The secret document (`<secret>`, `virSecretDefineXML` / `virSecretGetXMLDesc`): typed model,
//! parser and formatter reproducing libvirt 9.0's `src/conf/secret_conf.c` — the same accepted
//! documents, the same refusals (error number, domain and text) and byte-identical output.
//!
//! The secret's value is not part of the document (`virSecretSetValue` carries it), so nothing
//! here ever holds key material.
//!
//! libvirt reads the document with XPath `string(…)` lookups: an element or attribute that is
//! present but empty counts as absent, and where several `<usage>` elements are given the first
//! match in document order wins. Both rules are kept.

use crate::conf::{
    child, children, err, parse_document, text_content, uuid_format, uuid_generate, uuid_parse,
    xpath_text, Node,
};
use crate::domcaps::esc_text;
use crate::XmlError;
use rvirt_proto::error::{code, domain};

/// What a secret is for (`virSecretUsageType` with its usage id). A secret without `<usage>`
/// (or with `<usage type='none'>`) has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretUsage {
    /// `type='volume'`: the path of the encrypted volume (`<volume>`).
    Volume(String),
    /// `type='ceph'`: the Ceph client name (`<name>`).
    Ceph(String),
    /// `type='iscsi'`: the iSCSI target (`<target>`).
    Iscsi(String),
    /// `type='tls'`: the TLS credential name (`<name>`).
    Tls(String),
    /// `type='vtpm'`: the vTPM name (`<name>`).
    Vtpm(String),
}

impl SecretUsage {
    /// `virSecretUsageType` number (`VIR_SECRET_USAGE_TYPE_VOLUME` = 1 … `VTPM` = 5).
    pub fn type_number(&self) -> i32 {
        match self {
            Self::Volume(_) => 1,
            Self::Ceph(_) => 2,
            Self::Iscsi(_) => 3,
            Self::Tls(_) => 4,
            Self::Vtpm(_) => 5,
        }
    }

    /// The `type=` spelling.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Volume(_) => "volume",
            Self::Ceph(_) => "ceph",
            Self::Iscsi(_) => "iscsi",
            Self::Tls(_) => "tls",
            Self::Vtpm(_) => "vtpm",
        }
    }

    /// The usage id (`virSecretGetUsageID`): the volume path, Ceph/TLS/vTPM name or target.
    pub fn id(&self) -> &str {
        match self {
            Self::Volume(s) | Self::Ceph(s) | Self::Iscsi(s) | Self::Tls(s) | Self::Vtpm(s) => s,
        }
    }

    /// The child element that holds the id.
    fn element(&self) -> &'static str {
        match self {
            Self::Volume(_) => "volume",
            Self::Iscsi(_) => "target",
            Self::Ceph(_) | Self::Tls(_) | Self::Vtpm(_) => "name",
        }
    }
}

/// A secret definition (`virSecretDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretDef {
    /// `ephemeral='yes'`: kept in memory only, never written to disk.
    pub ephemeral: bool,
    /// `private='yes'`: the value can not be read back through the API.
    pub private: bool,
    /// `<uuid>` (generated when the document has none).
    pub uuid: [u8; 16],
    /// `<description>`.
    pub description: Option<String>,
    /// `<usage>`.
    pub usage: Option<SecretUsage>,
}

/// The document name libvirt gives the secret XML in syntax errors.
const DOCNAME: &str = "(definition_of_secret)";

fn secret_err(code: i32, detail: impl Into<String>) -> XmlError {
    err(code, domain::SECRET, detail)
}

/// `virXPathString("string(./@attr)")` on the root: empty counts as absent.
fn root_attr(root: Node, attr: &str) -> Option<String> {
    root.attribute(attr)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// `virStringParseYesNo` of an optional root attribute.
fn yes_no(root: Node, attr: &str) -> Result<bool, XmlError> {
    match root_attr(root, attr).as_deref() {
        None | Some("no") => Ok(false),
        Some("yes") => Ok(true),
        Some(_) => Err(secret_err(
            code::XML_ERROR,
            format!("invalid value of '{attr}'"),
        )),
    }
}

/// `virXPathString("string(./usage/@type)")`: the first `<usage>` that has the attribute.
fn usage_type(root: Node) -> Option<String> {
    children(root, "usage")
        .find_map(|u| u.attribute("type"))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// `virXPathString("string(./usage/NAME)")`: the first such element under any `<usage>`.
fn usage_text(root: Node, name: &str) -> Option<String> {
    children(root, "usage")
        .find_map(|u| child(u, name))
        .map(text_content)
        .filter(|v| !v.is_empty())
}

/// `virSecretDefParseUsage`.
fn parse_usage(root: Node) -> Result<Option<SecretUsage>, XmlError> {
    let Some(t) = usage_type(root) else {
        return Err(secret_err(code::XML_ERROR, "unknown secret usage type"));
    };
    let (make, element, what): (fn(String) -> SecretUsage, &str, &str) = match t.as_str() {
        "none" => return Ok(None),
        "volume" => (
            SecretUsage::Volume,
            "volume",
            "volume usage specified, but volume path is missing",
        ),
        "ceph" => (
            SecretUsage::Ceph,
            "name",
            "Ceph usage specified, but name is missing",
        ),
        "iscsi" => (
            SecretUsage::Iscsi,
            "target",
            "iSCSI usage specified, but target is missing",
        ),
        "tls" => (
            SecretUsage::Tls,
            "name",
            "TLS usage specified, but name is missing",
        ),
        "vtpm" => (
            SecretUsage::Vtpm,
            "name",
            "vTPM usage specified, but name is missing",
        ),
        other => {
            return Err(secret_err(
                code::CONFIG_UNSUPPORTED,
                format!("unknown secret usage type {other}"),
            ))
        }
    };
    match usage_text(root, element) {
        Some(id) => Ok(Some(make(id))),
        None => Err(secret_err(code::INTERNAL_ERROR, what)),
    }
}

impl SecretDef {
    /// `virSecretDefParseString`: reads a `<secret>` document. A missing `<uuid>` is generated.
    pub fn parse(xml: &str) -> Result<SecretDef, XmlError> {
        let doc = parse_document(xml, DOCNAME, "secret", domain::SECRET)?;
        let root = doc.root_element();
        let ephemeral = yes_no(root, "ephemeral")?;
        let private = yes_no(root, "private")?;
        let uuid = match xpath_text(root, &["uuid"]) {
            None => uuid_generate(),
            Some(s) => uuid_parse(&s)
                .ok_or_else(|| secret_err(code::INTERNAL_ERROR, "malformed uuid element"))?,
        };
        let description = xpath_text(root, &["description"]);
        let usage = if child(root, "usage").is_some() {
            parse_usage(root)?
        } else {
            None
        };
        Ok(SecretDef {
            ephemeral,
            private,
            uuid,
            description,
            usage,
        })
    }

    /// `virSecretDefFormat`.
    pub fn format(&self) -> String {
        let yn = |b: bool| if b { "yes" } else { "no" };
        let mut out = format!(
            "<secret ephemeral='{}' private='{}'>\n  <uuid>{}</uuid>\n",
            yn(self.ephemeral),
            yn(self.private),
            uuid_format(&self.uuid)
        );
        if let Some(d) = &self.description {
            out.push_str(&format!("  <description>{}</description>\n", esc_text(d)));
        }
        if let Some(u) = &self.usage {
            out.push_str(&format!(
                "  <usage type='{}'>\n    <{el}>{}</{el}>\n  </usage>\n",
                u.type_name(),
                esc_text(u.id()),
                el = u.element()
            ));
        }
        out.push_str("</secret>\n");
        out
    }

    /// `virSecretGetUsageType`: 0 (`VIR_SECRET_USAGE_TYPE_NONE`) without a usage.
    pub fn usage_type(&self) -> i32 {
        self.usage.as_ref().map_or(0, SecretUsage::type_number)
    }

    /// `virSecretGetUsageID`.
    pub fn usage_id(&self) -> Option<&str> {
        self.usage.as_ref().map(SecretUsage::id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOLUME: &str = "<secret ephemeral='yes' private='yes'>
  <uuid>22e1353d-c27e-4d6d-bf15-465053e6ba0b</uuid>
  <description>Ephemeral Private Secret</description>
  <usage type='volume'>
    <volume>/var/lib/libvirt/images/image.img</volume>
  </usage>
</secret>
";

    fn refusal(xml: &str) -> (i32, i32, String) {
        let e = SecretDef::parse(xml).unwrap_err();
        (e.code(), e.domain(), e.message())
    }

    #[test]
    fn formats_like_libvirt() {
        let d = SecretDef::parse(VOLUME).unwrap();
        assert_eq!(d.usage_type(), 1);
        assert_eq!(d.usage_id(), Some("/var/lib/libvirt/images/image.img"));
        assert_eq!(d.format(), VOLUME);
    }

    #[test]
    fn defaults_and_generated_uuid() {
        let d = SecretDef::parse("<secret><usage type='none'/></secret>").unwrap();
        assert!(!d.ephemeral && !d.private && d.usage.is_none() && d.description.is_none());
        let x = d.format();
        assert!(x.starts_with("<secret ephemeral='no' private='no'>\n  <uuid>"));
        assert!(x.ends_with("</uuid>\n</secret>\n"));
        // Empty attributes and elements count as absent, as virXPathString makes them.
        let e = SecretDef::parse(
            "<secret ephemeral='' private=''><uuid></uuid><description/></secret>",
        )
        .unwrap();
        assert!(!e.ephemeral && e.description.is_none());
        assert_ne!(e.uuid, d.uuid);
    }

    #[test]
    fn refusals_match_libvirt() {
        use code::*;
        let s = domain::SECRET;
        assert_eq!(
            refusal("<secret ephemeral='maybe'/>"),
            (
                XML_ERROR,
                s,
                "XML error: invalid value of 'ephemeral'".into()
            )
        );
        assert_eq!(
            refusal("<secret private='1'/>"),
            (XML_ERROR, s, "XML error: invalid value of 'private'".into())
        );
        assert_eq!(
            refusal("<secret><uuid>not-a-uuid</uuid></secret>"),
            (
                INTERNAL_ERROR,
                s,
                "internal error: malformed uuid element".into()
            )
        );
        assert_eq!(
            refusal("<secret><usage/></secret>"),
            (XML_ERROR, s, "XML error: unknown secret usage type".into())
        );
        assert_eq!(
            refusal("<secret><usage type=''/></secret>"),
            (XML_ERROR, s, "XML error: unknown secret usage type".into())
        );
        assert_eq!(
            refusal("<secret><usage type='nvme'/></secret>"),
            (
                CONFIG_UNSUPPORTED,
                s,
                "unsupported configuration: unknown secret usage type nvme".into()
            )
        );
        for (t, msg) in [
            (
                "volume",
                "volume usage specified, but volume path is missing",
            ),
            ("ceph", "Ceph usage specified, but name is missing"),
            ("iscsi", "iSCSI usage specified, but target is missing"),
            ("tls", "TLS usage specified, but name is missing"),
            ("vtpm", "vTPM usage specified, but name is missing"),
        ] {
            assert_eq!(
                refusal(&format!("<secret><usage type='{t}'><x/></usage></secret>")),
                (INTERNAL_ERROR, s, format!("internal error: {msg}"))
            );
        }
        let (c, d, m) = refusal("<volume/>");
        assert_eq!((c, d), (XML_ERROR, domain::XML));
        assert_eq!(
            m,
            "XML error: expecting root element of 'secret', not 'volume'"
        );
        let (c, d, m) = refusal("<secret>");
        assert_eq!((c, d), (XML_DETAIL, s));
        assert_eq!(
            m,
            "(definition_of_secret):1: Premature end of data in tag secret line 1\n<secret>\n--------^"
        );
    }

    #[test]
    fn accepted_documents_format_as_libvirtd_does() {
        // secretDefineXML + XMLDesc answers of libvirtd 9.0's secret driver.
        for (input, want) in [
            (
                "<secret ephemeral='' private=''><uuid>11111111-2222-3333-4444-555555555555</uuid><description/><usage type='none'/></secret>",
                "<secret ephemeral='no' private='no'>\n  <uuid>11111111-2222-3333-4444-555555555555</uuid>\n</secret>\n",
            ),
            (
                "<secret><uuid> 11111111 2222-3333-4444-555555555557 </uuid><description>d&lt;&apos;</description><usage type='ceph'><name>x</name><name>y</name></usage></secret>",
                "<secret ephemeral='no' private='no'>\n  <uuid>11111111-2222-3333-4444-555555555557</uuid>\n  <description>d&lt;&apos;</description>\n  <usage type='ceph'>\n    <name>x</name>\n  </usage>\n</secret>\n",
            ),
        ] {
            assert_eq!(SecretDef::parse(input).unwrap().format(), want);
        }
    }

    #[test]
    fn first_usage_match_wins_and_text_is_escaped() {
        let d = SecretDef::parse(
            "<secret><usage/><usage type='iscsi'><target>a&amp;b</target></usage>\
             <usage type='tls'><target>other</target></usage></secret>",
        )
        .unwrap();
        assert_eq!(d.usage, Some(SecretUsage::Iscsi("a&b".into())));
        // A carriage return read from a character reference is written back as one (a literal
        // one would read back as a line feed).
        let cr = SecretDef::parse("<secret><description>a&#13;b</description></secret>").unwrap();
        assert_eq!(cr.description.as_deref(), Some("a\rb"));
        assert_eq!(SecretDef::parse(&cr.format()).unwrap(), cr);
        assert!(d.format().contains("    <target>a&amp;b</target>\n"));
    }
}
