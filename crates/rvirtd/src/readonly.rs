//! Read-only connections: which calls are refused, with libvirt's exact error.
//!
//! libvirtd (with its default access driver) refuses a call on a read-only connection in the
//! public API function the call lands in: `virCheckReadOnlyGoto` reports
//! `VIR_ERR_OPERATION_DENIED` "read only access prevents virDomainCreate" from that function's
//! error domain (`VIR_FROM_DOMAIN`, `VIR_FROM_NETWORK`, …). Which procedures do so is a column
//! of rvirt-proto's procedure table, generated from libvirt's sources. A few calls are refused
//! only with certain flags (`readonly_unless_flags`); those flags are listed here by hand.

use crate::wire_error::report;
use rvirt_proto::error::{code, domain};
use rvirt_proto::procedure::{remote_proc as p, remote_procedure};
use rvirt_proto::remote::RemoteError;

/// `VIR_DOMAIN_XML_SECURE` (and the snapshot, checkpoint and save-image twins).
const XML_SECURE: u32 = 1 << 0;
/// `VIR_DOMAIN_XML_MIGRATABLE`.
const XML_MIGRATABLE: u32 = 1 << 3;
/// `VIR_DOMAIN_VCPU_GUEST`.
const VCPU_GUEST: u32 = 1 << 3;

/// The error a read-only client gets for procedure `proc_` called with `flags` (0 when the
/// procedure has none), or `None` when the call is allowed.
pub fn denial(proc_: u32, flags: u32) -> Option<RemoteError> {
    let secure_flag = |mask: u32, api: &str, dom: i32| {
        (flags & mask != 0).then(|| {
            report(
                code::OPERATION_DENIED,
                dom,
                &format!("{api} with secure flag"),
            )
        })
    };
    match proc_ {
        p::DOMAIN_GET_XML_DESC => secure_flag(
            XML_SECURE | XML_MIGRATABLE,
            "virDomainGetXMLDesc",
            domain::DOMAIN,
        ),
        p::DOMAIN_SNAPSHOT_GET_XML_DESC => secure_flag(
            XML_SECURE,
            "virDomainSnapshotGetXMLDesc",
            domain::DOMAIN_SNAPSHOT,
        ),
        p::DOMAIN_MANAGED_SAVE_GET_XML_DESC => {
            secure_flag(XML_SECURE, "virDomainManagedSaveGetXMLDesc", domain::DOMAIN)
        }
        p::DOMAIN_CHECKPOINT_GET_XML_DESC => secure_flag(
            XML_SECURE,
            "virDomainCheckpointGetXMLDesc",
            domain::DOMAIN_CHECKPOINT,
        ),
        p::DOMAIN_GET_VCPUS_FLAGS if flags & VCPU_GUEST != 0 => {
            Some(prevents("virDomainGetVcpusFlags", domain::DOMAIN))
        }
        _ => remote_procedure(proc_ as i32)
            .filter(|row| !row.readonly)
            .map(|row| prevents(row.api, row.error_domain)),
    }
}

fn prevents(api: &str, dom: i32) -> RemoteError {
    report(
        code::OPERATION_DENIED,
        dom,
        &format!("read only access prevents {api}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_libvirt_public_api_checks() {
        let e = denial(p::DOMAIN_CREATE, 0).unwrap();
        assert_eq!(
            e.message.as_deref(),
            Some("operation forbidden: read only access prevents virDomainCreate")
        );
        assert_eq!((e.code, e.domain), (29, 20));
        assert_eq!(
            denial(p::NETWORK_DESTROY, 0).unwrap().domain,
            domain::NETWORK
        );
        assert_eq!(
            denial(p::STORAGE_POOL_DESTROY, 0).unwrap().domain,
            domain::STORAGE
        );
        // Allowed by libvirtd although the polkit permissions call them writes.
        assert!(denial(p::STORAGE_POOL_LIST_ALL_VOLUMES, 0).is_none());
        assert!(denial(p::STORAGE_POOL_NUM_OF_VOLUMES, 0).is_none());
        assert!(denial(p::NODE_DEVICE_GET_XML_DESC, 0).is_none());
        // Refused by libvirtd although the permissions allow it.
        assert!(denial(p::DOMAIN_SET_SCHEDULER_PARAMETERS, 0).is_some());
        // Reads and event registration are fine.
        assert!(denial(p::DOMAIN_GET_INFO, 0).is_none());
        assert!(denial(p::CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, 0).is_none());
        // Flag-dependent.
        assert!(denial(p::DOMAIN_GET_XML_DESC, 0).is_none());
        assert_eq!(
            denial(p::DOMAIN_GET_XML_DESC, XML_MIGRATABLE)
                .unwrap()
                .message
                .as_deref(),
            Some("operation forbidden: virDomainGetXMLDesc with secure flag")
        );
        assert!(denial(p::DOMAIN_GET_VCPUS_FLAGS, 1).is_none());
        assert!(denial(p::DOMAIN_GET_VCPUS_FLAGS, VCPU_GUEST).is_some());
        // The API name is libvirt's spelling, not one derived from the procedure name.
        assert!(denial(p::DOMAIN_OPEN_GRAPHICS_FD, 0)
            .unwrap()
            .message
            .unwrap()
            .ends_with("virDomainOpenGraphicsFD"));
    }
}
