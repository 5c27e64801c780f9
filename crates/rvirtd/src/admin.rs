//! The ADMIN program on the admin socket (`virt-admin`): connect, library version, the list of
//! servers and server lookup, disconnect. The thread-pool, client-management, logging and TLS
//! procedures answer "unknown procedure" for now.
//!
//! The daemon presents libvirtd's two servers, `libvirtd` (the main sockets) and `admin`, under
//! those names, so that scripts written for libvirtd (`virt-admin srv-clients-list libvirtd`)
//! address it unchanged.

use crate::client::{Client, Outcome};
use crate::wire_error::{report, rpc};
use rvirt_proto::error::{code, domain};
use rvirt_proto::remote::{FlagsArgs, RemoteError, UHyperRet, ERROR_LEVEL_ERROR};
use rvirt_proto::xdr::{Decoder, Xdr};
use rvirt_proto::xdr_struct;

/// `ADMIN_PROC_CONNECT_OPEN`.
const CONNECT_OPEN: i32 = 1;
/// `ADMIN_PROC_CONNECT_CLOSE`.
const CONNECT_CLOSE: i32 = 2;
/// `ADMIN_PROC_CONNECT_GET_LIB_VERSION`.
const CONNECT_GET_LIB_VERSION: i32 = 3;
/// `ADMIN_PROC_CONNECT_LIST_SERVERS`.
const CONNECT_LIST_SERVERS: i32 = 4;
/// `ADMIN_PROC_CONNECT_LOOKUP_SERVER`.
const CONNECT_LOOKUP_SERVER: i32 = 5;

/// The daemon's servers, in libvirtd's order.
const SERVERS: &[&str] = &["libvirtd", "admin"];

xdr_struct! {
    /// `admin_nonnull_server`.
    struct Server { name: String }
}
xdr_struct! {
    /// `admin_connect_list_servers_args`.
    struct ListServersArgs { need_results: u32, flags: u32 }
}
xdr_struct! {
    /// `admin_connect_list_servers_ret`.
    struct ListServersRet { servers: Vec<Server>, ret: u32 }
}
xdr_struct! {
    /// `admin_connect_lookup_server_args`.
    struct LookupServerArgs { name: String, flags: u32 }
}

fn decode<T: Xdr>(payload: &[u8]) -> Result<T, Box<RemoteError>> {
    T::decode(&mut Decoder::new(payload))
        .map_err(|_| Box::new(rpc("Unable to decode message payload")))
}

/// virCheckFlags(0) in `function`: virReportInvalidArg's shape (no message prefix, `str1` the
/// function, `str2` the argument, `int1`/`int2` 0).
fn check_no_flags(flags: u32, function: &str) -> Result<(), Box<RemoteError>> {
    if flags == 0 {
        return Ok(());
    }
    Err(Box::new(RemoteError {
        code: code::INVALID_ARG,
        domain: domain::ADMIN,
        message: Some(format!(
            "unsupported flags (0x{flags:x}) in function {function}"
        )),
        level: ERROR_LEVEL_ERROR,
        str1: Some(function.into()),
        str2: Some("flags".into()),
        ..Default::default()
    }))
}

fn answer(proc_: i32, payload: &[u8]) -> Result<Outcome, Box<RemoteError>> {
    Ok(match proc_ {
        CONNECT_OPEN => {
            let a: FlagsArgs = decode(payload)?;
            check_no_flags(a.flags, "adminDispatchConnectOpen")?;
            Outcome::ok(&())
        }
        CONNECT_CLOSE => Outcome {
            result: Ok(crate::client::Body::empty()),
            close_after: true,
            stream: None,
        },
        CONNECT_GET_LIB_VERSION => Outcome::ok(&UHyperRet {
            value: rvirt::LIB_VERSION,
        }),
        CONNECT_LIST_SERVERS => {
            let a: ListServersArgs = decode(payload)?;
            check_no_flags(a.flags, "adminConnectListServers")?;
            let servers = if a.need_results != 0 {
                SERVERS
                    .iter()
                    .map(|s| Server {
                        name: s.to_string(),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            Outcome::ok(&ListServersRet {
                servers,
                ret: SERVERS.len() as u32,
            })
        }
        CONNECT_LOOKUP_SERVER => {
            // libvirt accepts any flags here (virCheckFlags(flags, …)).
            let a: LookupServerArgs = decode(payload)?;
            if !SERVERS.contains(&a.name.as_str()) {
                return Err(Box::new(report(
                    code::NO_SERVER,
                    domain::RPC,
                    &format!("No server named '{}'", a.name),
                )));
            }
            Outcome::ok(&Server { name: a.name })
        }
        _ => return Err(Box::new(rpc(&format!("unknown procedure: {proc_}")))),
    })
}

/// Runs one call of the ADMIN program.
pub(crate) fn call(_client: &Client, proc_: i32, payload: &[u8]) -> Outcome {
    answer(proc_, payload).unwrap_or_else(|e| Outcome::err(*e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn body(o: Outcome) -> Vec<u8> {
        match o.result {
            Ok(b) => b.payload().to_vec(),
            Err(e) => rvirt_proto::xdr::to_bytes(&e),
        }
    }

    #[test]
    fn replies_match_libvirtd() {
        // Recorded from libvirtd 9.0's admin socket.
        assert_eq!(
            body(answer(CONNECT_LIST_SERVERS, &hex("0000000100000000")).unwrap()),
            hex("0000000200000008")
                .into_iter()
                .chain(b"libvirtd".iter().copied())
                .chain(hex("0000000561646d696e00000000000002"))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            body(answer(CONNECT_LIST_SERVERS, &hex("0000000000000000")).unwrap()),
            hex("0000000000000002")
        );
        assert_eq!(
            rvirt_proto::xdr::to_bytes(answer(CONNECT_LIST_SERVERS, &hex("0000000100000001")).err().unwrap().as_ref()),
            hex("00000008 0000003e 00000001 0000003b 756e737570706f7274656420666c61677320283078312920696e2066756e6374696f6e2061646d696e436f6e6e6563744c697374536572766572730000000002000000000000000100000017 61646d696e436f6e6e6563744c69737453657276657273000000000100000005666c61677300000000000000000000000000000000000000".replace(' ', "").as_str())
        );
        assert_eq!(
            rvirt_proto::xdr::to_bytes(answer(CONNECT_LOOKUP_SERVER, &hex("000000066e6f7375636800000000000000")[..16]).err().unwrap().as_ref()),
            hex("0000005f00000007000000010000002a536572766572206e6f7420666f756e643a204e6f20736572766572206e616d656420276e6f7375636827000000000002000000000000000100000014536572766572206e6f7420666f756e643a20257300000001000000184e6f20736572766572206e616d656420276e6f737563682700000000ffffffffffffffff00000000")
        );
        assert_eq!(
            body(
                answer(
                    CONNECT_LOOKUP_SERVER,
                    &hex("0000000561646d696e00000000000007")
                )
                .unwrap()
            ),
            hex("0000000561646d696e000000")
        );
    }
}
