//! The driver behind a host URI (`qemu:///system`, `qemu:///session`, `storage:///…`): one
//! [`Driver`] composed of the daemon's per-group drivers.
//!
//! libvirtd answers a connection with several drivers at once — the hypervisor driver for
//! domains and the host, and the network and storage drivers for their objects. [`HostDriver`]
//! does the same: each method goes to the driver of its group, and a group without a driver
//! yet answers libvirt's "this function is not supported by the connection driver". Groups are
//! filled in as drivers land (the QEMU driver for `hypervisor`, the network driver for
//! `network`); a method this file does not route also answers "not supported", never
//! something wrong. All groups raise their events on one shared channel.

use std::sync::Arc;

use async_trait::async_trait;
use rvirt::types::*;
use rvirt::{Driver, Result};
use tokio::sync::broadcast;

/// A driver that implements nothing: every method answers "not supported".
pub struct Unsupported;

impl Driver for Unsupported {}

/// The drivers of one host, by method group.
#[derive(Clone)]
pub struct Groups {
    /// Connection, host and domain methods (the QEMU driver).
    pub hypervisor: Arc<dyn Driver>,
    /// Network methods.
    pub network: Arc<dyn Driver>,
    /// Storage pool and volume methods.
    pub storage: Arc<dyn Driver>,
    /// The channel every group raises its events on.
    pub events: broadcast::Sender<Event>,
}

/// One connection's view of the host's drivers.
pub struct HostDriver {
    uri: String,
    /// What `virConnectGetType` says when the hypervisor group has no answer (libvirt: the
    /// driver's name, "QEMU" or "storage").
    type_name: &'static str,
    groups: Groups,
}

impl HostDriver {
    /// A connection to `groups` opened as `uri`.
    pub fn new(uri: impl Into<String>, type_name: &'static str, groups: Groups) -> HostDriver {
        HostDriver {
            uri: uri.into(),
            type_name,
            groups,
        }
    }
}

/// `virDriverFeatureIsGlobal`: features every libvirt driver reports as supported
/// (FD passing, string typed parameters, the corrected `virNetworkUpdate` argument order).
fn global_feature(feature: i32) -> bool {
    matches!(feature, 8 | 9 | 16)
}

/// Writes the `Driver` impl: the methods given by hand, then one forwarding method per line
/// `group: name(args) -> Ret;`.
macro_rules! host_driver_impl {
    ({ $($manual:tt)* }
     $( $group:ident : $name:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty ; )*) => {
        #[async_trait]
        impl Driver for HostDriver {
            $($manual)*
            $(
                async fn $name(&self, $($arg: $ty),*) -> Result<$ret> {
                    self.groups.$group.$name($($arg),*).await
                }
            )*
        }
    };
}

host_driver_impl! {
    {
        async fn connect_get_type(&self) -> Result<String> {
            match self.groups.hypervisor.connect_get_type().await {
                Err(e) if e.code == rvirt::error::code::NO_SUPPORT => Ok(self.type_name.into()),
                r => r,
            }
        }
        async fn connect_get_uri(&self) -> Result<String> {
            Ok(self.uri.clone())
        }
        async fn connect_supports_feature(&self, feature: i32) -> Result<bool> {
            if global_feature(feature) {
                return Ok(true);
            }
            self.groups.hypervisor.connect_supports_feature(feature).await
        }
        async fn vol_create_xml_from(
            &self,
            pool: &PoolRef,
            xml: &str,
            clone: &VolRef,
            flags: u32,
        ) -> Result<VolRef> {
            self.groups.storage.vol_create_xml_from(pool, xml, clone, flags).await
        }
        async fn events_enable(&self, kind: EventKind) -> Result<()> {
            match kind {
                EventKind::DomainLifecycle | EventKind::DomainReboot => {
                    self.groups.hypervisor.events_enable(kind).await
                }
                EventKind::NetworkLifecycle => self.groups.network.events_enable(kind).await,
                EventKind::PoolLifecycle | EventKind::PoolRefresh => {
                    self.groups.storage.events_enable(kind).await
                }
            }
        }
        fn subscribe(&self) -> Option<broadcast::Receiver<Event>> {
            Some(self.groups.events.subscribe())
        }
    }
    // ---- connection and host ----
    hypervisor: connect_get_version() -> u64;
    hypervisor: connect_get_lib_version() -> u64;
    hypervisor: connect_get_hostname() -> String;
    hypervisor: connect_get_capabilities() -> String;
    hypervisor: connect_get_domain_capabilities(emulatorbin: Option<&str>, arch: Option<&str>, machine: Option<&str>, virttype: Option<&str>, flags: u32) -> String;
    hypervisor: connect_get_sysinfo(flags: u32) -> String;
    hypervisor: connect_get_max_vcpus(type_: Option<&str>) -> i32;
    hypervisor: connect_is_secure() -> bool;
    hypervisor: connect_is_encrypted() -> bool;
    hypervisor: node_get_info() -> NodeInfo;
    hypervisor: node_get_free_memory() -> u64;
    hypervisor: node_get_security_model() -> SecurityModel;
    hypervisor: connect_close() -> ();
    // ---- domains ----
    hypervisor: list_all_domains(flags: u32) -> Vec<DomainRef>;
    hypervisor: list_domain_ids(max: i32) -> Vec<i32>;
    hypervisor: num_of_domains() -> i32;
    hypervisor: list_defined_domains(max: i32) -> Vec<String>;
    hypervisor: num_of_defined_domains() -> i32;
    hypervisor: domain_lookup_by_id(id: i32) -> DomainRef;
    hypervisor: domain_lookup_by_name(name: &str) -> DomainRef;
    hypervisor: domain_lookup_by_uuid(uuid: &Uuid) -> DomainRef;
    hypervisor: domain_define_xml(xml: &str, flags: u32) -> DomainRef;
    hypervisor: domain_undefine(dom: &DomainRef, flags: u32) -> ();
    hypervisor: domain_create(dom: &DomainRef, flags: u32) -> DomainRef;
    hypervisor: domain_create_xml(xml: &str, flags: u32) -> DomainRef;
    hypervisor: domain_destroy(dom: &DomainRef, flags: u32) -> ();
    hypervisor: domain_shutdown(dom: &DomainRef, flags: u32) -> ();
    hypervisor: domain_reboot(dom: &DomainRef, flags: u32) -> ();
    hypervisor: domain_reset(dom: &DomainRef, flags: u32) -> ();
    hypervisor: domain_suspend(dom: &DomainRef) -> ();
    hypervisor: domain_resume(dom: &DomainRef) -> ();
    hypervisor: domain_get_info(dom: &DomainRef) -> DomainInfo;
    hypervisor: domain_get_state(dom: &DomainRef, flags: u32) -> (i32, i32);
    hypervisor: domain_get_xml_desc(dom: &DomainRef, flags: u32) -> String;
    hypervisor: domain_get_autostart(dom: &DomainRef) -> bool;
    hypervisor: domain_set_autostart(dom: &DomainRef, autostart: bool) -> ();
    hypervisor: domain_get_os_type(dom: &DomainRef) -> String;
    hypervisor: domain_get_max_memory(dom: &DomainRef) -> u64;
    hypervisor: domain_get_vcpus_flags(dom: &DomainRef, flags: u32) -> i32;
    hypervisor: domain_is_active(dom: &DomainRef) -> bool;
    hypervisor: domain_is_persistent(dom: &DomainRef) -> bool;
    hypervisor: domain_is_updated(dom: &DomainRef) -> bool;
    hypervisor: domain_has_managed_save_image(dom: &DomainRef, flags: u32) -> bool;
    hypervisor: domain_get_security_label(dom: &DomainRef) -> SecurityLabel;
    hypervisor: domain_get_security_label_list(dom: &DomainRef) -> Vec<SecurityLabel>;
    // ---- networks ----
    network: list_all_networks(flags: u32) -> Vec<NetworkRef>;
    network: network_lookup_by_name(name: &str) -> NetworkRef;
    network: network_lookup_by_uuid(uuid: &Uuid) -> NetworkRef;
    network: network_define_xml(xml: &str, flags: u32) -> NetworkRef;
    network: network_create_xml(xml: &str, flags: u32) -> NetworkRef;
    network: network_create(net: &NetworkRef) -> ();
    network: network_destroy(net: &NetworkRef) -> ();
    network: network_undefine(net: &NetworkRef) -> ();
    network: network_get_xml_desc(net: &NetworkRef, flags: u32) -> String;
    network: network_get_autostart(net: &NetworkRef) -> bool;
    network: network_set_autostart(net: &NetworkRef, autostart: bool) -> ();
    network: network_is_active(net: &NetworkRef) -> bool;
    network: network_is_persistent(net: &NetworkRef) -> bool;
    network: network_get_bridge_name(net: &NetworkRef) -> String;
    // ---- storage ----
    storage: list_all_pools(flags: u32) -> Vec<PoolRef>;
    storage: pool_lookup_by_name(name: &str) -> PoolRef;
    storage: pool_lookup_by_uuid(uuid: &Uuid) -> PoolRef;
    storage: pool_lookup_by_volume(vol: &VolRef) -> PoolRef;
    storage: pool_define_xml(xml: &str, flags: u32) -> PoolRef;
    storage: pool_create_xml(xml: &str, flags: u32) -> PoolRef;
    storage: pool_create(pool: &PoolRef, flags: u32) -> ();
    storage: pool_build(pool: &PoolRef, flags: u32) -> ();
    storage: pool_destroy(pool: &PoolRef) -> ();
    storage: pool_delete(pool: &PoolRef, flags: u32) -> ();
    storage: pool_undefine(pool: &PoolRef) -> ();
    storage: pool_refresh(pool: &PoolRef, flags: u32) -> ();
    storage: pool_get_info(pool: &PoolRef) -> PoolInfo;
    storage: pool_get_xml_desc(pool: &PoolRef, flags: u32) -> String;
    storage: pool_get_autostart(pool: &PoolRef) -> bool;
    storage: pool_set_autostart(pool: &PoolRef, autostart: bool) -> ();
    storage: pool_is_active(pool: &PoolRef) -> bool;
    storage: pool_is_persistent(pool: &PoolRef) -> bool;
    storage: pool_list_all_volumes(pool: &PoolRef, flags: u32) -> Vec<VolRef>;
    storage: pool_num_of_volumes(pool: &PoolRef) -> i32;
    storage: vol_lookup_by_name(pool: &PoolRef, name: &str) -> VolRef;
    storage: vol_lookup_by_key(key: &str) -> VolRef;
    storage: vol_lookup_by_path(path: &str) -> VolRef;
    storage: vol_create_xml(pool: &PoolRef, xml: &str, flags: u32) -> VolRef;
    storage: vol_delete(vol: &VolRef, flags: u32) -> ();
    storage: vol_get_info(vol: &VolRef) -> VolInfo;
    storage: vol_get_info_flags(vol: &VolRef, flags: u32) -> VolInfo;
    storage: vol_get_xml_desc(vol: &VolRef, flags: u32) -> String;
    storage: vol_get_path(vol: &VolRef) -> String;
    storage: vol_resize(vol: &VolRef, capacity: u64, flags: u32) -> ();
    storage: vol_wipe(vol: &VolRef, flags: u32) -> ();
    storage: vol_wipe_pattern(vol: &VolRef, algorithm: u32, flags: u32) -> ();
    storage: vol_upload(vol: &VolRef, offset: u64, length: u64, flags: u32) -> rvirt::stream::StreamSink;
    storage: vol_download(vol: &VolRef, offset: u64, length: u64, flags: u32) -> rvirt::stream::StreamSource;
    hypervisor: domain_open_console(dom: &DomainRef, dev_name: Option<&str>, flags: u32) -> rvirt::stream::DuplexStream;
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvirt::error::code;

    /// A storage group that knows one pool name.
    struct OnePool;

    #[async_trait]
    impl Driver for OnePool {
        async fn pool_lookup_by_name(&self, name: &str) -> Result<PoolRef> {
            Ok(PoolRef {
                name: name.into(),
                uuid: Default::default(),
            })
        }
    }

    fn host(storage: Arc<dyn Driver>) -> (HostDriver, broadcast::Sender<Event>) {
        let (events, _) = broadcast::channel(8);
        let groups = Groups {
            hypervisor: Arc::new(Unsupported),
            network: Arc::new(Unsupported),
            storage,
            events: events.clone(),
        };
        (HostDriver::new("qemu:///session", "QEMU", groups), events)
    }

    #[tokio::test]
    async fn methods_go_to_their_group() {
        let (h, events) = host(Arc::new(OnePool));
        assert_eq!(h.pool_lookup_by_name("p").await.unwrap().name, "p");
        let e = h.list_all_domains(0).await.unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                code::NO_SUPPORT,
                "this function is not supported by the connection driver: virConnectListAllDomains"
            )
        );
        let e = h.list_all_networks(0).await.unwrap_err();
        assert_eq!(e.code, code::NO_SUPPORT);
        assert_eq!(h.connect_get_uri().await.unwrap(), "qemu:///session");
        assert_eq!(h.connect_get_type().await.unwrap(), "QEMU");
        assert!(h.connect_supports_feature(9).await.unwrap());
        assert!(!h.connect_supports_feature(4).await.unwrap());
        let mut rx = h.subscribe().unwrap();
        events
            .send(Event::PoolRefresh {
                pool: PoolRef {
                    name: "p".into(),
                    uuid: Default::default(),
                },
            })
            .unwrap();
        assert!(matches!(
            rx.recv().await.unwrap(),
            Event::PoolRefresh { .. }
        ));
    }
}
