//! The ADMIN program on the admin socket (`virt-admin`): enough to connect, ask the library
//! version and disconnect. The server and client management procedures answer
//! "unknown procedure" for now.

use crate::client::{Client, Outcome};
use crate::wire_error::rpc;
use rvirt_proto::error::{code, domain};
use rvirt_proto::remote::{FlagsArgs, RemoteError, UHyperRet, ERROR_LEVEL_ERROR};
use rvirt_proto::xdr::{Decoder, Xdr};

/// `ADMIN_PROC_CONNECT_OPEN`.
const CONNECT_OPEN: i32 = 1;
/// `ADMIN_PROC_CONNECT_CLOSE`.
const CONNECT_CLOSE: i32 = 2;
/// `ADMIN_PROC_CONNECT_GET_LIB_VERSION`.
const CONNECT_GET_LIB_VERSION: i32 = 3;

/// Runs one call of the ADMIN program.
pub(crate) fn call(_client: &Client, proc_: i32, payload: &[u8]) -> Outcome {
    match proc_ {
        CONNECT_OPEN => {
            let Ok(a) = FlagsArgs::decode(&mut Decoder::new(payload)) else {
                return Outcome::err(rpc("Unable to decode message payload"));
            };
            if a.flags != 0 {
                // virCheckFlags: virReportInvalidArg fills str1/str2 with function and argument.
                return Outcome::err(RemoteError {
                    code: code::INVALID_ARG,
                    domain: domain::ADMIN,
                    message: Some(format!(
                        "unsupported flags (0x{:x}) in function adminDispatchConnectOpen",
                        a.flags
                    )),
                    level: ERROR_LEVEL_ERROR,
                    str1: Some("adminDispatchConnectOpen".into()),
                    str2: Some("flags".into()),
                    ..Default::default()
                });
            }
            Outcome::ok(&())
        }
        CONNECT_CLOSE => Outcome {
            result: Ok(Vec::new()),
            close_after: true,
        },
        CONNECT_GET_LIB_VERSION => Outcome::ok(&UHyperRet {
            value: rvirt::LIB_VERSION,
        }),
        _ => Outcome::err(rpc(&format!("unknown procedure: {proc_}"))),
    }
}
