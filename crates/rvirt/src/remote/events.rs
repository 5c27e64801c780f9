//! Events over RPC: registering with the daemon, and decoding the event MESSAGEs it sends.
//!
//! As libvirt's client does, the server is asked once per kind of event, the first time a local
//! subscriber wants it; afterwards the daemon pushes MESSAGE packets (serial 1) which the
//! engine's reader decodes here into [`Event`]s for the connection's broadcast channel. Servers
//! with `REMOTE_EVENT_CALLBACK` (feature 14, libvirt ≥ 1.2.1) get the callback procedures
//! (316/313/368, events carrying a callbackID); older servers get the legacy domain registration
//! (167, events without one).

use super::client::Client;
use crate::error::{Error, Result};
use crate::types::{Event, EventKind};
use rvirt_proto::procedure::remote_proc as rp;
use rvirt_proto::remote::{
    CallbackIdArgs, DomainEventCallbackLifecycleMsg, DomainEventCallbackRebootMsg,
    DomainEventCallbackRegisterArgs, DomainEventLifecycleMsg, DomainEventRebootMsg, EventIdArgs,
    NetworkEventLifecycleMsg, NetworkEventRegisterArgs, PoolEventLifecycleMsg, PoolEventRefreshMsg,
    PoolEventRegisterArgs,
};
use rvirt_proto::xdr::{from_bytes, Xdr};
use std::collections::HashMap;
use tokio::sync::Mutex;

/// `VIR_DOMAIN_EVENT_ID_LIFECYCLE` and the other event ids are per object type; the ones used
/// here.
const DOMAIN_EVENT_ID_LIFECYCLE: i32 = 0;
const DOMAIN_EVENT_ID_REBOOT: i32 = 1;
const NETWORK_EVENT_ID_LIFECYCLE: i32 = 0;
const POOL_EVENT_ID_LIFECYCLE: i32 = 0;
const POOL_EVENT_ID_REFRESH: i32 = 1;

fn body<T: Xdr>(payload: &[u8]) -> Option<T> {
    from_bytes(payload).ok()
}

/// Decodes an event MESSAGE of the REMOTE program. Procedures that carry no event rvirt models,
/// and payloads that do not decode, give `None` (libvirt drops them the same way).
pub fn decode(proc_: i32, payload: &[u8]) -> Option<Event> {
    let proc_ = u32::try_from(proc_).ok()?;
    Some(match proc_ {
        rp::DOMAIN_EVENT_CALLBACK_LIFECYCLE => {
            let m: DomainEventCallbackLifecycleMsg = body(payload)?;
            Event::DomainLifecycle {
                dom: m.msg.dom,
                event: m.msg.event,
                detail: m.msg.detail,
            }
        }
        rp::DOMAIN_EVENT_LIFECYCLE => {
            let m: DomainEventLifecycleMsg = body(payload)?;
            Event::DomainLifecycle {
                dom: m.dom,
                event: m.event,
                detail: m.detail,
            }
        }
        rp::DOMAIN_EVENT_CALLBACK_REBOOT => {
            let m: DomainEventCallbackRebootMsg = body(payload)?;
            Event::DomainReboot { dom: m.msg.dom }
        }
        rp::DOMAIN_EVENT_REBOOT => {
            let m: DomainEventRebootMsg = body(payload)?;
            Event::DomainReboot { dom: m.dom }
        }
        rp::NETWORK_EVENT_LIFECYCLE => {
            let m: NetworkEventLifecycleMsg = body(payload)?;
            Event::NetworkLifecycle {
                net: m.net,
                event: m.event,
                detail: m.detail,
            }
        }
        rp::STORAGE_POOL_EVENT_LIFECYCLE => {
            let m: PoolEventLifecycleMsg = body(payload)?;
            Event::PoolLifecycle {
                pool: m.pool,
                event: m.event,
                detail: m.detail,
            }
        }
        rp::STORAGE_POOL_EVENT_REFRESH => {
            let m: PoolEventRefreshMsg = body(payload)?;
            Event::PoolRefresh { pool: m.pool }
        }
        _ => return None,
    })
}

/// Which kinds of events the daemon was asked to send, and the callback id it gave each.
#[derive(Default)]
pub struct Registry {
    registered: Mutex<HashMap<EventKind, i32>>,
}

impl Registry {
    /// Asks the daemon for events of `kind` unless that was done already. `callback_api` says
    /// whether the server supports `REMOTE_EVENT_CALLBACK` (feature 14).
    pub async fn enable(&self, client: &Client, kind: EventKind, callback_api: bool) -> Result<()> {
        // Held across the call so that two tasks asking at once register only once.
        let mut reg = self.registered.lock().await;
        if reg.contains_key(&kind) {
            return Ok(());
        }
        let id = if callback_api {
            let ret: CallbackIdArgs = match kind {
                EventKind::DomainLifecycle | EventKind::DomainReboot => {
                    let event_id = if kind == EventKind::DomainLifecycle {
                        DOMAIN_EVENT_ID_LIFECYCLE
                    } else {
                        DOMAIN_EVENT_ID_REBOOT
                    };
                    let args = DomainEventCallbackRegisterArgs {
                        event_id,
                        dom: None,
                    };
                    client
                        .call(rp::CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, &args)
                        .await?
                }
                EventKind::NetworkLifecycle => {
                    let args = NetworkEventRegisterArgs {
                        event_id: NETWORK_EVENT_ID_LIFECYCLE,
                        net: None,
                    };
                    client
                        .call(rp::CONNECT_NETWORK_EVENT_REGISTER_ANY, &args)
                        .await?
                }
                EventKind::PoolLifecycle | EventKind::PoolRefresh => {
                    let event_id = if kind == EventKind::PoolLifecycle {
                        POOL_EVENT_ID_LIFECYCLE
                    } else {
                        POOL_EVENT_ID_REFRESH
                    };
                    let args = PoolEventRegisterArgs {
                        event_id,
                        pool: None,
                    };
                    client
                        .call(rp::CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY, &args)
                        .await?
                }
            };
            ret.callback_id
        } else {
            // A server older than libvirt 1.2.1 knows only the per-connection domain events.
            let event_id = match kind {
                EventKind::DomainLifecycle => DOMAIN_EVENT_ID_LIFECYCLE,
                EventKind::DomainReboot => DOMAIN_EVENT_ID_REBOOT,
                _ => {
                    return Err(Error::no_support(match kind {
                        EventKind::NetworkLifecycle => "virConnectNetworkEventRegisterAny",
                        _ => "virConnectStoragePoolEventRegisterAny",
                    }))
                }
            };
            client
                .call::<_, ()>(
                    rp::CONNECT_DOMAIN_EVENT_REGISTER_ANY,
                    &EventIdArgs { event_id },
                )
                .await?;
            -1
        };
        reg.insert(kind, id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testpeer::hex;
    use super::*;
    use crate::types::uuid_to_string;
    use rvirt_proto::packet::Packet;

    #[test]
    fn decodes_captured_lifecycle_event() {
        // libvirtd → virsh, 'virsh event --all --loop' while 'virsh start d3' ran
        // (virsh-lifecycle-events.log): callback 0, d3 started (2) booted (0).
        let p = Packet::decode(&hex("0000004420008086000000010000013e0000000200000001000000000000000000000002643300004dea22b31d52d8f32516782e98ab3fa0000000020000000200000000")).unwrap();
        assert_eq!(p.header.serial, 1);
        match decode(p.header.proc_, &p.payload).unwrap() {
            Event::DomainLifecycle { dom, event, detail } => {
                assert_eq!(dom.name, "d3");
                assert_eq!(dom.id, 2);
                assert_eq!(
                    uuid_to_string(&dom.uuid),
                    "4dea22b3-1d52-d8f3-2516-782e98ab3fa0"
                );
                assert_eq!((event, detail), (2, 0));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(decode(p.header.proc_, &p.payload[..8]).is_none());
        assert!(decode(9999, &p.payload).is_none());
    }
}
