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
    /// Any error exactly as libvirt reports it: its number, its domain (the subsystem that raised
    /// it, e.g. `VIR_FROM_NETWORK` for network_conf.c, `VIR_FROM_XML` for virxml.c) and its
    /// detail (`None` for libvirt's bare message, as `virReportError(code, NULL)`).
    #[error("{}", format_message(*.code, .detail.as_deref()))]
    Libvirt {
        /// `virErrorNumber`.
        code: i32,
        /// `virErrorDomain`.
        domain: i32,
        /// The detail that the code's format wraps.
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
            Self::Libvirt { code, .. } => *code,
        }
    }

    /// libvirt error domain.
    pub fn domain(&self) -> i32 {
        match self {
            Self::Malformed(_) => domain::XML,
            Self::Libvirt { domain, .. } => *domain,
            _ => domain::DOMAIN,
        }
    }

    /// The full libvirt-formatted message.
    pub fn message(&self) -> String {
        let detail = match self {
            Self::Malformed(d) | Self::Invalid(d) | Self::Unsupported(d) | Self::InvalidArg(d) => d,
            Self::Libvirt { code, detail, .. } => return format_message(*code, detail.as_deref()),
        };
        format_message(self.code(), Some(detail))
    }
}
