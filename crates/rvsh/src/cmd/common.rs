//! Command bodies that virsh repeats per object type, written once: defining or creating an
//! object from an XML file (`define`, `create`, `net-define`, `net-create`, `pool-define`,
//! `pool-create`), and collecting the objects a `net-list`/`pool-list` shows when the daemon
//! cannot filter by persistence or autostart itself (virsh's fallback in
//! `virshNetworkListCollect` and `virshStoragePoolListCollect`).

use crate::ctl::Ctl;
use rvirt::error::code;
use rvirt::{Connect, Network, Result, StoragePool};
use std::future::Future;

/// Reads the XML file `from`, passes it to `call` with the connection and, as virsh does,
/// reports `Failed to {action} from FILE` on failure or prints `done(&object)` on success.
pub fn object_from_file<T, Fut>(
    ctl: &mut Ctl,
    from: &str,
    call: impl FnOnce(Connect, String) -> Fut,
    action: &str,
    done: impl FnOnce(&T) -> String,
) -> bool
where
    Fut: Future<Output = Result<T>>,
{
    let Some(xml) = super::read_file(ctl, from) else {
        return false;
    };
    let conn = ctl.conn();
    let Some(obj) = ctl.call(call(conn, xml)) else {
        ctl.error(&format!("Failed to {action} from {from}"));
        return false;
    };
    ctl.print_extra(&done(&obj));
    true
}

/// An object `net-list`/`pool-list` can filter on the client side.
pub trait Listed: Sized {
    /// The noun in virsh's messages ("network", "pool").
    const NOUN: &'static str;
    /// The object's name.
    fn name(&self) -> &str;
    /// Whether it is persistent.
    fn is_persistent(&self) -> impl Future<Output = Result<bool>>;
    /// Whether it starts automatically.
    fn autostart(&self) -> impl Future<Output = Result<bool>>;
}

impl Listed for Network {
    const NOUN: &'static str = "network";
    fn name(&self) -> &str {
        Network::name(self)
    }
    fn is_persistent(&self) -> impl Future<Output = Result<bool>> {
        Network::is_persistent(self)
    }
    fn autostart(&self) -> impl Future<Output = Result<bool>> {
        Network::autostart(self)
    }
}

impl Listed for StoragePool {
    const NOUN: &'static str = "pool";
    fn name(&self) -> &str {
        StoragePool::name(self)
    }
    fn is_persistent(&self) -> impl Future<Output = Result<bool>> {
        StoragePool::is_persistent(self)
    }
    fn autostart(&self) -> impl Future<Output = Result<bool>> {
        StoragePool::autostart(self)
    }
}

// The list flags networks and pools share (VIR_CONNECT_LIST_{NETWORKS,STORAGE_POOLS}_*).
const ACTIVE_INACTIVE: u32 = 0x3;
const PERSISTENT: u32 = 1 << 2;
const TRANSIENT: u32 = 1 << 3;
const AUTOSTART: u32 = 1 << 4;
const NO_AUTOSTART: u32 = 1 << 5;

/// Lists the objects matching `flags` through `list_all`, sorted by name. A daemon too old to
/// filter (`VIR_ERR_INVALID_ARG`) is asked for active/inactive only and the persistence and
/// autostart filters are applied here, with virsh's messages.
pub fn collect<T: Listed, Fut>(
    ctl: &mut Ctl,
    flags: u32,
    list_all: impl Fn(Connect, u32) -> Fut,
) -> Option<Vec<T>>
where
    Fut: Future<Output = Result<Vec<T>>>,
{
    let conn = ctl.conn();
    let failed = format!("Failed to list {}s", T::NOUN);
    let mut list = match ctl.block_on(list_all(conn.clone(), flags)) {
        Ok(v) => v,
        Err(e) if e.code == code::INVALID_ARG => {
            ctl.reset_error();
            let Some(v) = ctl.call(list_all(conn, flags & ACTIVE_INACTIVE)) else {
                ctl.error(&failed);
                return None;
            };
            let mut kept = Vec::new();
            for obj in v {
                if flags & (PERSISTENT | TRANSIENT) != 0 {
                    let Some(p) = ctl.call(obj.is_persistent()) else {
                        ctl.error(&format!("Failed to get {} persistence info", T::NOUN));
                        return None;
                    };
                    if !((flags & PERSISTENT != 0 && p) || (flags & TRANSIENT != 0 && !p)) {
                        continue;
                    }
                }
                if flags & (AUTOSTART | NO_AUTOSTART) != 0 {
                    let Some(a) = ctl.call(obj.autostart()) else {
                        ctl.error(&format!("Failed to get {} autostart state", T::NOUN));
                        return None;
                    };
                    if !((flags & AUTOSTART != 0 && a) || (flags & NO_AUTOSTART != 0 && !a)) {
                        continue;
                    }
                }
                kept.push(obj);
            }
            kept
        }
        Err(e) => {
            ctl.save_error(e);
            ctl.error(&failed);
            return None;
        }
    };
    list.sort_by(|a, b| super::monitor::strcasecmp(a.name(), b.name()));
    Some(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_flags_are_the_same_for_networks_and_pools() {
        use rvirt::{list_networks as n, list_pools as p};
        assert_eq!(ACTIVE_INACTIVE, n::ACTIVE | n::INACTIVE);
        assert_eq!(ACTIVE_INACTIVE, p::ACTIVE | p::INACTIVE);
        for (ours, net, pool) in [
            (PERSISTENT, n::PERSISTENT, p::PERSISTENT),
            (TRANSIENT, n::TRANSIENT, p::TRANSIENT),
            (AUTOSTART, n::AUTOSTART, p::AUTOSTART),
            (NO_AUTOSTART, n::NO_AUTOSTART, p::NO_AUTOSTART),
        ] {
            assert_eq!((ours, ours), (net, pool));
        }
    }
}
