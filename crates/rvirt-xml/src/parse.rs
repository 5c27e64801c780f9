//! Shared helpers for reading XML documents with `roxmltree`.

use crate::XmlError;

/// Parses text into a document, mapping syntax errors to libvirt's XML error.
pub fn document(text: &str) -> Result<roxmltree::Document<'_>, XmlError> {
    roxmltree::Document::parse(text).map_err(|e| XmlError::Malformed(format!("(unknown):{e}")))
}
