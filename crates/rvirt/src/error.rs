//! The error every rvirt API returns: libvirt's `(code, domain, message)` triple.
//!
//! Drivers keep their own `thiserror` enums where they have internal structure; at the API boundary
//! each converts into this type (one `From` impl per enum), so that the remote protocol, `rvsh` and
//! language bindings see exactly the numbers libvirt would send.

use rvirt_proto::error::format_message;
pub use rvirt_proto::error::{code, domain};
use rvirt_proto::remote::RemoteError;
use std::fmt;

/// A libvirt-style error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// `virErrorNumber` (see [`code`]).
    pub code: i32,
    /// `virErrorDomain` (see [`domain`]): the subsystem that raised it.
    pub domain: i32,
    /// The full message, as libvirt formats it.
    pub message: String,
}

/// Result type of every rvirt API.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error whose message is built from the code's libvirt format and `detail`, exactly as
    /// `virReportError(code, "%s", detail)` would render it.
    pub fn new(code: i32, domain: i32, detail: impl AsRef<str>) -> Self {
        Self {
            code,
            domain,
            message: format_message(code, Some(detail.as_ref())),
        }
    }

    /// An error with the code's bare message (`virReportError(code, NULL)`).
    pub fn bare(code: i32, domain: i32) -> Self {
        Self {
            code,
            domain,
            message: format_message(code, None),
        }
    }

    /// An error whose message is used verbatim (already formatted elsewhere, e.g. received over RPC).
    pub fn raw(code: i32, domain: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            domain,
            message: message.into(),
        }
    }

    /// What a libvirt API reports when its driver failed without setting an error
    /// (`virErrorGenericFailure`): `VIR_ERR_INTERNAL_ERROR` from no domain, no prefix.
    pub fn unknown() -> Self {
        Self::raw(
            code::INTERNAL_ERROR,
            domain::NONE,
            "An error occurred, but the cause is unknown",
        )
    }

    /// `VIR_ERR_NO_SUPPORT` for an API the connection's driver does not implement, in the error
    /// domain of the file that defines the API (as `virReportUnsupportedError` reports it).
    pub fn no_support(api: &str) -> Self {
        let dom = rvirt_proto::procedure::api_error_domain(api).unwrap_or(domain::NONE);
        Self::new(code::NO_SUPPORT, dom, api)
    }

    /// `VIR_ERR_OPERATION_DENIED` for a mutating API on a read-only connection.
    pub fn read_only(domain: i32, api: &str) -> Self {
        Self::new(
            code::OPERATION_DENIED,
            domain,
            format!("read only access prevents {api}"),
        )
    }

    /// `VIR_ERR_INTERNAL_ERROR` with detail.
    pub fn internal(domain: i32, detail: impl AsRef<str>) -> Self {
        Self::new(code::INTERNAL_ERROR, domain, detail)
    }

    /// `VIR_ERR_RPC` (domain RPC) with detail.
    pub fn rpc(detail: impl AsRef<str>) -> Self {
        Self::new(code::RPC, domain::RPC, detail)
    }

    /// `VIR_ERR_INVALID_ARG` with detail.
    pub fn invalid_arg(domain: i32, detail: impl AsRef<str>) -> Self {
        Self::new(code::INVALID_ARG, domain, detail)
    }

    /// `VIR_ERR_OPERATION_INVALID` with detail.
    pub fn operation_invalid(domain: i32, detail: impl AsRef<str>) -> Self {
        Self::new(code::OPERATION_INVALID, domain, detail)
    }

    /// The `VIR_ERR_*` name of the code.
    pub fn code_name(&self) -> &'static str {
        rvirt_proto::error::code_name(self.code).unwrap_or("VIR_ERR_UNKNOWN")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<RemoteError> for Error {
    fn from(e: RemoteError) -> Self {
        Self {
            code: e.code,
            domain: e.domain,
            message: e.message.unwrap_or_else(|| format_message(e.code, None)),
        }
    }
}

impl From<&Error> for RemoteError {
    fn from(e: &Error) -> Self {
        RemoteError::new(e.code, e.domain, e.message.clone())
    }
}

impl From<rvirt_xml::XmlError> for Error {
    fn from(e: rvirt_xml::XmlError) -> Self {
        Self::raw(e.code(), e.domain(), e.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_libvirt_messages() {
        let e = Error::new(
            code::NO_DOMAIN,
            domain::TEST,
            "no domain with matching name 'x'",
        );
        assert_eq!(
            e.message,
            "Domain not found: no domain with matching name 'x'"
        );
        assert_eq!(e.code_name(), "VIR_ERR_NO_DOMAIN");
        let r = Error::read_only(domain::DOM, "virDomainCreate");
        assert_eq!(
            r.message,
            "operation forbidden: read only access prevents virDomainCreate"
        );
        let wire = RemoteError::from(&r);
        assert_eq!(Error::from(wire), r);
    }
}
