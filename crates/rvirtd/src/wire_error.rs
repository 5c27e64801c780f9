//! Building the `remote_error` bodies the daemon sends, field for field as libvirtd fills them.
//!
//! libvirt's `virReportError(code, fmt, …)` keeps three strings: the full message, `str1` = the
//! code's message format (e.g. `"internal error: %s"`, or `"%s"` for `VIR_ERR_RPC`) and
//! `str2` = the detail, with `int1`/`int2` = -1. Clients mostly print the message, but the other
//! fields travel on the wire too, and a byte-exact daemon must fill them the same way. Every error
//! reply of the daemon is built here: [`report`] for errors the daemon raises itself,
//! [`from_driver`] for errors coming back from a driver, [`unset`] for libvirt's "no error was set"
//! fallback.

use rvirt_proto::error::{code, domain, ERROR_MESSAGES};
use rvirt_proto::remote::{RemoteError, ERROR_LEVEL_ERROR};

/// The message format of `code` when a detail is given (`virErrorMsg(code, info)`).
fn detail_format(code: i32) -> &'static str {
    match ERROR_MESSAGES.iter().find(|r| r.0 == code) {
        Some((_, _, _, Some(fmt))) => fmt,
        // Codes whose libvirt format is the bare detail ("%s"): RPC, XML_DETAIL, SYSTEM_ERROR, …
        _ => "%s",
    }
}

/// The message of `code` without detail (`virErrorMsg(code, NULL)`).
fn plain_message(code: i32) -> Option<&'static str> {
    ERROR_MESSAGES
        .iter()
        .find(|r| r.0 == code)
        .and_then(|r| r.2)
}

/// The error `virReportError(code, "%s", detail)` raised in `domain` puts on the wire.
pub fn report(code: i32, domain: i32, detail: &str) -> RemoteError {
    let fmt = detail_format(code);
    RemoteError {
        code,
        domain,
        message: Some(fmt.replacen("%s", detail, 1)),
        level: ERROR_LEVEL_ERROR,
        dom: None,
        str1: Some(fmt.to_string()),
        str2: Some(detail.to_string()),
        str3: None,
        int1: -1,
        int2: -1,
        net: None,
    }
}

/// `VIR_ERR_RPC` from the RPC layer, the shape of "unknown procedure: N" and friends.
pub fn rpc(detail: &str) -> RemoteError {
    report(code::RPC, domain::RPC, detail)
}

/// `VIR_ERR_INTERNAL_ERROR` raised by the daemon's dispatch code (domain RPC).
pub fn internal(detail: &str) -> RemoteError {
    report(code::INTERNAL_ERROR, domain::RPC, detail)
}

/// What libvirtd sends when a handler failed without reporting an error
/// (`virNetMessageSaveError` with no last error): no `str1`, `int1`/`int2` 0.
pub fn unset() -> RemoteError {
    RemoteError {
        code: code::INTERNAL_ERROR,
        domain: domain::RPC,
        message: Some("Library function returned error but did not set virError".into()),
        level: ERROR_LEVEL_ERROR,
        ..Default::default()
    }
}

/// The wire form of a driver's error. [`rvirt::Error`] keeps only the formatted message; the
/// format and detail are recovered from it when it was built the usual way (`Error::new` /
/// `Error::bare`), so that `str1`/`str2` match what libvirtd would send. Messages built some
/// other way travel with `str1` = the message, as `RemoteError::from` does.
pub fn from_driver(e: &rvirt::Error) -> RemoteError {
    if let Some(r) = invalid_flags(e) {
        return r;
    }
    let fmt = detail_format(e.code);
    if let Some((prefix, suffix)) = fmt.split_once("%s") {
        if e.message.len() >= prefix.len() + suffix.len()
            && e.message.starts_with(prefix)
            && e.message.ends_with(suffix)
            && Some(e.message.as_str()) != plain_message(e.code)
        {
            let detail = &e.message[prefix.len()..e.message.len() - suffix.len()];
            return report(e.code, e.domain, detail);
        }
    }
    if Some(e.message.as_str()) == plain_message(e.code) {
        return RemoteError::new(e.code, e.domain, e.message.clone());
    }
    RemoteError::from(e)
}

/// libvirt's `virCheckFlags` failure (`virReportInvalidArg`): the message has no
/// "invalid argument: " prefix, `str1` is the function, `str2` the argument name, and
/// `int1`/`int2` are 0.
fn invalid_flags(e: &rvirt::Error) -> Option<RemoteError> {
    if e.code != code::INVALID_ARG {
        return None;
    }
    let func = e
        .message
        .strip_prefix("unsupported flags (0x")
        .and_then(|r| r.split_once(") in function "))
        .filter(|(hex, _)| hex.chars().all(|c| c.is_ascii_hexdigit()))
        .map(|(_, f)| f)
        .or_else(|| {
            e.message
                .strip_prefix("unsupported use of long flags in function ")
        })?;
    if func.is_empty() || func.contains(' ') {
        return None;
    }
    Some(RemoteError {
        code: e.code,
        domain: e.domain,
        message: Some(e.message.clone()),
        level: ERROR_LEVEL_ERROR,
        str1: Some(func.to_string()),
        str2: Some("flags".into()),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvirt_proto::xdr::to_bytes;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn unknown_procedure_matches_libvirtd_bytes() {
        // libvirtd 9.0's reply body to proc 500 (recorded from the reference daemon).
        let want = hex("00000027000000070000000100000016756e6b6e6f776e2070726f6365647572653a20353030000000000002000000000000000100000002257300000000000100000016756e6b6e6f776e2070726f6365647572653a20353030000000000000ffffffffffffffff00000000");
        assert_eq!(to_bytes(&rpc("unknown procedure: 500")), want);
    }

    #[test]
    fn internal_error_has_prefix_format() {
        let e = internal("hypervisor connection not open");
        assert_eq!(
            e.message.as_deref(),
            Some("internal error: hypervisor connection not open")
        );
        assert_eq!(e.str1.as_deref(), Some("internal error: %s"));
        assert_eq!(e.str2.as_deref(), Some("hypervisor connection not open"));
    }

    #[test]
    fn unset_error_matches_libvirtd_bytes() {
        // libvirtd's answer to AUTH_POLKIT on a socket without polkit auth.
        let want = hex("000000010000000700000001000000384c6962726172792066756e6374696f6e2072657475726e6564206572726f722062757420646964206e6f7420736574207669724572726f720000000200000000000000000000000000000000000000000000000000000000");
        assert_eq!(to_bytes(&unset()), want);
    }

    #[test]
    fn driver_errors_recover_their_detail() {
        let e = rvirt::Error::new(
            code::NO_DOMAIN,
            domain::TEST,
            "no domain with matching name 'x'",
        );
        let w = from_driver(&e);
        assert_eq!(w.message.as_deref(), Some(e.message.as_str()));
        assert_eq!(w.str1.as_deref(), Some("Domain not found: %s"));
        assert_eq!(w.str2.as_deref(), Some("no domain with matching name 'x'"));

        let bare = rvirt::Error::bare(code::NO_DOMAIN, domain::TEST);
        let w = from_driver(&bare);
        assert_eq!(w.str1.as_deref(), Some("Domain not found"));
        assert_eq!(w.str2, None);

        // virCheckFlags, as libvirtd sent it for virNetworkGetXMLDesc(flags=1).
        let flags = rvirt::Error::raw(
            code::INVALID_ARG,
            domain::TEST,
            "unsupported flags (0x1) in function testNetworkGetXMLDesc",
        );
        assert_eq!(
            to_bytes(&from_driver(&flags)),
            hex("000000080000000c0000000100000039756e737570706f7274656420666c61677320283078312920696e2066756e6374696f6e20746573744e6574776f726b476574584d4c4465736300000000000002000000000000000100000015746573744e6574776f726b476574584d4c446573630000000000000100000005666c61677300000000000000000000000000000000000000")
        );

        let raw = rvirt::Error::raw(code::NO_DOMAIN, domain::TEST, "something else");
        assert_eq!(from_driver(&raw), RemoteError::from(&raw));
    }
}
