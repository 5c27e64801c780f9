//! The procedure table's row type and lookups. The table itself is generated data
//! (`procedures.rs`); the daemon enforces read-only connections and stream setup from it
//! generically instead of per procedure.

pub use crate::procedures::{remote_proc, REMOTE_PROCEDURES, REMOTE_PROC_COUNT};

/// Which way a procedure's stream carries data, seen from the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamDir {
    /// Not a stream procedure.
    None,
    /// Daemon → client (`@readstream`: download, console, screenshot).
    Read,
    /// Client → daemon (`@writestream`: upload, tunnelled migration).
    Write,
}

/// One row of the procedure table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcInfo {
    /// Procedure number.
    pub number: u32,
    /// Name without the `REMOTE_PROC_` prefix.
    pub name: &'static str,
    /// The public API function it serves, as named in libvirt's error messages.
    pub api: &'static str,
    /// Whether a read-only connection may call it: libvirtd refuses the call in the public API
    /// function (`virCheckReadOnlyGoto`) unless this is set.
    pub readonly: bool,
    /// Allowed read-only only when certain flags are absent (e.g. `VIR_DOMAIN_XML_SECURE` for
    /// `virDomainGetXMLDesc`); the daemon knows which flags.
    pub readonly_unless_flags: bool,
    /// The error domain of the public API function (used in its read-only refusal).
    pub error_domain: i32,
    /// Whether libvirt runs it on the high-priority workers (never blocks on a guest).
    pub high_priority: bool,
    /// Stream direction, if it opens a stream.
    pub stream: StreamDir,
}

/// Looks up a REMOTE procedure by number.
pub fn remote_procedure(number: i32) -> Option<&'static ProcInfo> {
    if number < 1 {
        return None;
    }
    REMOTE_PROCEDURES.get(number as usize - 1)
}

/// The error domain of the public API function `api` (e.g. `virDomainCreate` → `VIR_FROM_DOMAIN`),
/// which its "not supported" and read-only errors carry; `None` for a function no procedure
/// serves.
pub fn api_error_domain(api: &str) -> Option<i32> {
    REMOTE_PROCEDURES
        .iter()
        .find(|p| p.api == api)
        .map(|p| p.error_domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_dense_and_consistent() {
        assert_eq!(REMOTE_PROC_COUNT, 443);
        for (i, p) in REMOTE_PROCEDURES.iter().enumerate() {
            assert_eq!(p.number as usize, i + 1);
        }
        use crate::error::domain;
        assert_eq!(api_error_domain("virDomainCreate"), Some(domain::DOMAIN));
        assert_eq!(api_error_domain("virConnectGetType"), Some(domain::DOMAIN));
        assert_eq!(api_error_domain("virConnectClose"), Some(domain::NONE));
        assert_eq!(api_error_domain("virNetworkCreate"), Some(domain::NETWORK));
        assert_eq!(api_error_domain("virNoSuchFunction"), None);
        let open = remote_procedure(1).unwrap();
        assert_eq!(open.name, "CONNECT_OPEN");
        assert!(open.readonly);
        let define = remote_procedure(remote_proc::DOMAIN_DEFINE_XML as i32).unwrap();
        assert_eq!(define.api, "virDomainDefineXML");
        assert!(!define.readonly);
        assert!(
            remote_procedure(remote_proc::DOMAIN_GET_INFO as i32)
                .unwrap()
                .readonly
        );
        assert_eq!(
            remote_procedure(remote_proc::STORAGE_VOL_UPLOAD as i32)
                .unwrap()
                .stream,
            StreamDir::Write
        );
        assert_eq!(
            remote_procedure(remote_proc::STORAGE_VOL_DOWNLOAD as i32)
                .unwrap()
                .stream,
            StreamDir::Read
        );
        assert!(remote_procedure(0).is_none());
        assert!(remote_procedure(444).is_none());
    }
}
