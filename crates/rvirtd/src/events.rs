//! Event callbacks: registration, deregistration and delivery of driver events to clients.
//!
//! A client registers callbacks (modern `*_REGISTER_ANY` calls with a callback id, or the legacy
//! domain calls without one); the first registration subscribes the client to its driver's event
//! stream and starts one forwarder task, which matches each event against the client's callbacks
//! (event id and optional object filter, by UUID) and sends a MESSAGE packet per match, serial 1,
//! as libvirtd's `remoteDispatchObjectEventSend` does. Callback ids come from one daemon-wide
//! counter, like the ids of libvirt's per-driver event state. Error messages are libvirtd's.

use crate::client::Client;
use crate::wire_error::{internal, report};
use rvirt::{Driver, Event, EventKind, Uuid};
use rvirt_proto::error::{code, domain};
use rvirt_proto::packet::{Header, MessageType, Packet, Status, REMOTE_PROGRAM};
use rvirt_proto::procedure::remote_proc as p;
use rvirt_proto::remote::*;
use rvirt_proto::xdr::{to_bytes, Xdr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

/// The kind of object a callback watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Domains (`VIR_DOMAIN_EVENT_ID_*`).
    Domain,
    /// Networks (`VIR_NETWORK_EVENT_ID_*`).
    Network,
    /// Storage pools (`VIR_STORAGE_POOL_EVENT_ID_*`).
    Pool,
}

/// `VIR_DOMAIN_EVENT_ID_LAST`.
pub(crate) const DOMAIN_EVENT_ID_LAST: i32 = 27;
/// Legacy register-any accepts ids up to `VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED`.
pub(crate) const DOMAIN_EVENT_ID_LEGACY_MAX: i32 = 15;
/// `VIR_NETWORK_EVENT_ID_LAST`.
pub(crate) const NETWORK_EVENT_ID_LAST: i32 = 1;
/// `VIR_STORAGE_POOL_EVENT_ID_LAST`.
pub(crate) const POOL_EVENT_ID_LAST: i32 = 2;

/// One registered callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Callback {
    pub(crate) id: i32,
    pub(crate) class: Class,
    pub(crate) event_id: i32,
    /// Only events of this object (by UUID).
    pub(crate) filter: Option<Uuid>,
    /// Registered with the legacy domain calls: events go without a callback id.
    pub(crate) legacy: bool,
}

/// A client's callbacks.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    callbacks: Vec<Callback>,
    forwarding: bool,
}

impl Registry {
    /// Adds a callback unless an identical one exists (libvirt refuses the same event id and
    /// filter twice on one connection, whichever call style registered it).
    fn add(
        &mut self,
        class: Class,
        event_id: i32,
        filter: Option<Uuid>,
        legacy: bool,
        next_id: impl FnOnce() -> i32,
    ) -> Result<i32, Box<RemoteError>> {
        if self
            .callbacks
            .iter()
            .any(|c| c.class == class && c.event_id == event_id && c.filter == filter)
        {
            return Err(Box::new(report(
                code::INVALID_ARG,
                domain::NONE,
                "event callback already tracked",
            )));
        }
        let id = next_id();
        self.callbacks.push(Callback {
            id,
            class,
            event_id,
            filter,
            legacy,
        });
        Ok(id)
    }

    fn remove_where(&mut self, f: impl Fn(&Callback) -> bool) -> bool {
        match self.callbacks.iter().position(f) {
            Some(i) => {
                self.callbacks.remove(i);
                true
            }
            None => false,
        }
    }
}

/// The MESSAGE packet for `ev` delivered to callback `cb`, if it matches.
pub(crate) fn encode(cb: &Callback, ev: &Event) -> Option<Vec<u8>> {
    fn msg<T: Xdr>(proc_: u32, body: &T) -> Vec<u8> {
        Packet {
            header: Header::new(
                REMOTE_PROGRAM,
                proc_ as i32,
                MessageType::Message,
                1,
                Status::Ok,
            ),
            payload: to_bytes(body),
        }
        .encode()
    }
    let wants = |class: Class, event_id: i32, uuid: &Uuid| {
        let object_matches = match &cb.filter {
            Some(f) => f == uuid,
            None => true,
        };
        cb.class == class && cb.event_id == event_id && object_matches
    };
    match ev {
        Event::DomainLifecycle { dom, event, detail } if wants(Class::Domain, 0, &dom.uuid) => {
            let m = DomainEventLifecycleMsg {
                dom: dom.clone(),
                event: *event,
                detail: *detail,
            };
            Some(if cb.legacy {
                msg(p::DOMAIN_EVENT_LIFECYCLE, &m)
            } else {
                msg(
                    p::DOMAIN_EVENT_CALLBACK_LIFECYCLE,
                    &DomainEventCallbackLifecycleMsg {
                        callback_id: cb.id,
                        msg: m,
                    },
                )
            })
        }
        Event::DomainReboot { dom } if wants(Class::Domain, 1, &dom.uuid) => {
            let m = DomainEventRebootMsg { dom: dom.clone() };
            Some(if cb.legacy {
                msg(p::DOMAIN_EVENT_REBOOT, &m)
            } else {
                msg(
                    p::DOMAIN_EVENT_CALLBACK_REBOOT,
                    &DomainEventCallbackRebootMsg {
                        callback_id: cb.id,
                        msg: m,
                    },
                )
            })
        }
        Event::NetworkLifecycle { net, event, detail } if wants(Class::Network, 0, &net.uuid) => {
            Some(msg(
                p::NETWORK_EVENT_LIFECYCLE,
                &NetworkEventLifecycleMsg {
                    callback_id: cb.id,
                    net: net.clone(),
                    event: *event,
                    detail: *detail,
                },
            ))
        }
        Event::PoolLifecycle {
            pool,
            event,
            detail,
        } if wants(Class::Pool, 0, &pool.uuid) => Some(msg(
            p::STORAGE_POOL_EVENT_LIFECYCLE,
            &PoolEventLifecycleMsg {
                callback_id: cb.id,
                pool: pool.clone(),
                event: *event,
                detail: *detail,
            },
        )),
        Event::PoolRefresh { pool } if wants(Class::Pool, 1, &pool.uuid) => Some(msg(
            p::STORAGE_POOL_EVENT_REFRESH,
            &PoolEventRefreshMsg {
                callback_id: cb.id,
                pool: pool.clone(),
            },
        )),
        _ => None,
    }
}

/// The driver event kind a callback needs, if rvirt's drivers raise it.
fn kind_of(class: Class, event_id: i32) -> Option<EventKind> {
    Some(match (class, event_id) {
        (Class::Domain, 0) => EventKind::DomainLifecycle,
        (Class::Domain, 1) => EventKind::DomainReboot,
        (Class::Network, 0) => EventKind::NetworkLifecycle,
        (Class::Pool, 0) => EventKind::PoolLifecycle,
        (Class::Pool, 1) => EventKind::PoolRefresh,
        _ => return None,
    })
}

/// Registers a callback for `client` on `driver`; returns its id.
pub(crate) async fn register(
    client: &Arc<Client>,
    driver: &Arc<dyn Driver>,
    class: Class,
    event_id: i32,
    filter: Option<Uuid>,
    legacy: bool,
) -> Result<i32, Box<RemoteError>> {
    let (id, start) = {
        let mut reg = client.events.lock().unwrap_or_else(|p| p.into_inner());
        let id = reg.add(class, event_id, filter, legacy, || {
            client.shared.next_callback_id(driver)
        })?;
        debug!(
            "events",
            "client {}: callback {id} for {class:?} event {event_id}", client.id
        );
        (id, !std::mem::replace(&mut reg.forwarding, true))
    };
    if let Some(kind) = kind_of(class, event_id) {
        if let Err(e) = driver.events_enable(kind).await {
            warn!(
                "events",
                "client {}: enabling {kind:?} events: {e}", client.id
            );
        }
    }
    if start {
        if let Some(rx) = driver.subscribe() {
            client.own_task(tokio::spawn(forward(client.clone(), rx)));
        }
    }
    Ok(id)
}

/// Removes the callback with `id` of `class`.
pub(crate) fn deregister_id(
    client: &Client,
    class: Class,
    id: i32,
) -> Result<(), Box<RemoteError>> {
    let mut reg = client.events.lock().unwrap_or_else(|p| p.into_inner());
    if reg.remove_where(|c| c.class == class && c.id == id) {
        return Ok(());
    }
    let what = match class {
        Class::Domain => "domain",
        Class::Network => "network",
        Class::Pool => "storage pool",
    };
    Err(Box::new(internal(&format!(
        "{what} event callback {id} not registered"
    ))))
}

/// Removes the first domain callback for `event_id` (the legacy deregister calls).
pub(crate) fn deregister_event(client: &Client, event_id: i32) -> Result<(), Box<RemoteError>> {
    let mut reg = client.events.lock().unwrap_or_else(|p| p.into_inner());
    if reg.remove_where(|c| c.class == Class::Domain && c.event_id == event_id) {
        return Ok(());
    }
    Err(Box::new(internal(&format!(
        "domain event {event_id} not registered"
    ))))
}

fn deliver(client: &Client, ev: &Event) {
    let frames: Vec<Vec<u8>> = {
        let reg = client.events.lock().unwrap_or_else(|p| p.into_inner());
        reg.callbacks
            .iter()
            .filter_map(|cb| encode(cb, ev))
            .collect()
    };
    for f in frames {
        client.send_async(f);
    }
}

fn lagged(client: &Client, n: u64) {
    warn!(
        "events",
        "client {}: {n} events lost (event queue overflow)", client.id
    );
}

/// How long an event waits for the client's running calls to be answered.
const REPLY_FIRST_WAIT: Duration = Duration::from_millis(200);

async fn forward(client: Arc<Client>, mut rx: tokio::sync::broadcast::Receiver<Event>) {
    loop {
        let ev = tokio::select! {
            r = rx.recv() => r,
            _ = client.closing() => return,
        };
        match ev {
            Ok(ev) => {
                // An event raised by one of this client's calls goes out after that call's
                // reply, as libvirtd (which relays events from its event loop) almost always
                // orders them; the wait is bounded so a busy client still gets its events.
                let _ = tokio::time::timeout(REPLY_FIRST_WAIT, client.calls_done()).await;
                deliver(&client, &ev);
                // Whatever queued up meanwhile goes out now, without waiting again.
                loop {
                    match rx.try_recv() {
                        Ok(ev) => deliver(&client, &ev),
                        Err(TryRecvError::Lagged(n)) => lagged(&client, n),
                        Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                    }
                }
            }
            Err(RecvError::Lagged(n)) => lagged(&client, n),
            Err(RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvirt_proto::xdr::FixedOpaque;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn d3(id: i32) -> NonnullDomain {
        let mut u = [0u8; 16];
        u.copy_from_slice(&hex("4dea22b31d52d8f32516782e98ab3fa0"));
        NonnullDomain {
            name: "d3".into(),
            uuid: FixedOpaque(u),
            id,
        }
    }

    #[test]
    fn lifecycle_message_matches_capture() {
        // virsh-lifecycle-events.log: the "started" event sent to callback 0.
        let cb = Callback {
            id: 0,
            class: Class::Domain,
            event_id: 0,
            filter: None,
            legacy: false,
        };
        let ev = Event::DomainLifecycle {
            dom: d3(2),
            event: 2,
            detail: 0,
        };
        assert_eq!(
            encode(&cb, &ev).unwrap(),
            hex("0000004420008086000000010000013e0000000200000001000000000000000000000002643300004dea22b31d52d8f32516782e98ab3fa0000000020000000200000000")
        );
        // Legacy: proc 107, no callback id.
        let legacy = Callback {
            legacy: true,
            ..cb.clone()
        };
        let f = encode(&legacy, &ev).unwrap();
        assert_eq!(&f[12..16], &107u32.to_be_bytes());
        assert_eq!(f.len(), 0x44 - 4);
        // Filters: another domain's UUID, another event id, another class.
        let other = Callback {
            filter: Some(FixedOpaque([9; 16])),
            ..cb.clone()
        };
        assert!(encode(&other, &ev).is_none());
        let reboot = Callback {
            event_id: 1,
            ..cb.clone()
        };
        assert!(encode(&reboot, &ev).is_none());
        assert!(encode(&reboot, &Event::DomainReboot { dom: d3(2) }).is_some());
        let net = Callback {
            class: Class::Network,
            ..cb
        };
        assert!(encode(&net, &ev).is_none());
    }

    #[test]
    fn duplicate_registrations_are_refused() {
        let mut r = Registry::default();
        let mut n = 0;
        let mut next = || {
            n += 1;
            n - 1
        };
        assert_eq!(r.add(Class::Domain, 0, None, true, &mut next).unwrap(), 0);
        let e = r.add(Class::Domain, 0, None, false, &mut next).unwrap_err();
        assert_eq!(
            e.message.as_deref(),
            Some("invalid argument: event callback already tracked")
        );
        assert_eq!(r.add(Class::Network, 0, None, false, &mut next).unwrap(), 1);
        let u = FixedOpaque([1; 16]);
        assert_eq!(
            r.add(Class::Domain, 0, Some(u), false, &mut next).unwrap(),
            2
        );
    }
}
