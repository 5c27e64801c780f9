//! XML errors, each mapped to libvirt's error number and domain.

use rvirt_proto::error::{code, domain, format_message};
use thiserror::Error;

/// Why a document was rejected.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum XmlError {
    /// Not well-formed XML (`VIR_ERR_XML_ERROR`... reported by libvirt as `VIR_ERR_XML_DETAIL`).
    #[error("{0}")]
    Malformed(String),
    /// Well-formed but invalid for the schema: `VIR_ERR_XML_ERROR`, detail names the element.
    #[error("{0}")]
    Invalid(String),
    /// A value libvirt does not accept for an attribute: `VIR_ERR_CONFIG_UNSUPPORTED`.
    #[error("{0}")]
    Unsupported(String),
    /// An argument outside its range: `VIR_ERR_INVALID_ARG`.
    #[error("{0}")]
    InvalidArg(String),
    /// Any other libvirt error, with its exact number, domain and detail (`None` gives the
    /// code's bare message, as `virReportError(code, NULL)` does).
    #[error("{}", format_message(*code, detail.as_deref()))]
    Report {
        /// `virErrorNumber`.
        code: i32,
        /// `virErrorDomain`.
        domain: i32,
        /// The detail formatted into the code's message.
        detail: Option<String>,
    },
}

impl XmlError {
    /// libvirt error number.
    pub fn code(&self) -> i32 {
        match self {
            Self::Malformed(_) => code::XML_DETAIL,
            Self::Invalid(_) => code::XML_ERROR,
            Self::Unsupported(_) => code::CONFIG_UNSUPPORTED,
            Self::InvalidArg(_) => code::INVALID_ARG,
            Self::Report { code, .. } => *code,
        }
    }

    /// libvirt error domain.
    pub fn domain(&self) -> i32 {
        match self {
            Self::Malformed(_) => domain::XML,
            Self::Report { domain, .. } => *domain,
            _ => domain::DOMAIN,
        }
    }

    /// The full libvirt-formatted message.
    pub fn message(&self) -> String {
        let detail = match self {
            Self::Malformed(d) | Self::Invalid(d) | Self::Unsupported(d) | Self::InvalidArg(d) => d,
            Self::Report { code, detail, .. } => return format_message(*code, detail.as_deref()),
        };
        format_message(self.code(), Some(detail))
    }
}
