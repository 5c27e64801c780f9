//! libvirt's error numbers and domains, and the message formats that go with them.
//!
//! A libvirt error message is built from the number's format and an optional detail:
//! `VIR_ERR_NO_DOMAIN` + "no domain with matching name 'x'" gives
//! "Domain not found: no domain with matching name 'x'". Clients print that text, and scripts
//! match on it, so servers must build it the same way.

pub use crate::error_codes::{code, domain, ERROR_MESSAGES};

/// The formatted message for error `code` with optional `detail`, as `virErrorMsg` builds it.
pub fn format_message(code: i32, detail: Option<&str>) -> String {
    let row = ERROR_MESSAGES.iter().find(|r| r.0 == code);
    match (row, detail) {
        (Some((_, _, _, Some(fmt))), Some(d)) => fmt.replacen("%s", d, 1),
        (Some((_, _, Some(plain), _)), None) => (*plain).to_string(),
        (_, Some(d)) => d.to_string(),
        (_, None) => "unknown error".to_string(),
    }
}

/// The `VIR_ERR_*` name of an error number.
pub fn code_name(code: i32) -> Option<&'static str> {
    ERROR_MESSAGES.iter().find(|r| r.0 == code).map(|r| r.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_libvirt() {
        assert_eq!(format_message(code::NO_DOMAIN, None), "Domain not found");
        assert_eq!(
            format_message(code::NO_DOMAIN, Some("no domain with matching name 'x'")),
            "Domain not found: no domain with matching name 'x'"
        );
        assert_eq!(
            format_message(
                code::OPERATION_DENIED,
                Some("read only access prevents virDomainCreate")
            ),
            "operation forbidden: read only access prevents virDomainCreate"
        );
        assert_eq!(code_name(code::RPC), Some("VIR_ERR_RPC"));
        assert_eq!(code::AUTH_FAILED, 45);
        assert_eq!(domain::TEST, 12);
        assert_eq!(domain::REMOTE, 13);
    }
}
