//! The in-memory test driver (`test:///default`, `test:///path/to/node.xml`).
//!
//! It reproduces libvirt 9.0's `test` driver: the same default objects, the same state machine and
//! the same error numbers and messages, so that scripts and differential tests see no difference.
//! `test:///default` state is shared by every connection in the process while at least one is
//! open, and starts afresh once the last one closes (libvirt's refcounted `defaultPrivconn`); a
//! custom node file gives each connection its own private state.
//!
//! Layout: this file holds the driver object, the shared state and the [`Driver`] impl, which only
//! delegates; the behaviour lives in `domain.rs`, `network.rs`, `storage.rs` and `host.rs`.

mod domain;
mod host;
mod network;
mod storage;

use crate::auth::Auth;
use crate::driver::Driver;
use crate::error::{code, domain as errdom, Error, Result};
use crate::types::*;
use crate::uri::Uri;
use async_trait::async_trait;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use tokio::sync::broadcast;

/// The in-memory test driver.
pub struct TestDriver {
    state: Mutex<State>,
    events: broadcast::Sender<Event>,
    uri: String,
}

/// Everything the driver knows. One lock for all of it: operations are short and never block.
pub(crate) struct State {
    pub(crate) host: host::Host,
    pub(crate) domains: domain::Domains,
    pub(crate) networks: network::Networks,
    pub(crate) storage: storage::Storage,
}

static DEFAULT: Mutex<Weak<TestDriver>> = Mutex::new(Weak::new());

/// Opens the test driver for `uri`: the shared default instance for `test:///default`, a private
/// instance loaded from the node file otherwise. A node file with `<auth>` asks `auth` for the
/// username and password it lists.
pub fn open(uri: &Uri, auth: Option<&Auth>) -> Result<Arc<dyn Driver>> {
    if uri.path == "/default" {
        let mut shared = DEFAULT.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = shared.upgrade() {
            return Ok(d);
        }
        let d = Arc::new(TestDriver::new(
            host::default_state()?,
            "test:///default".into(),
        ));
        *shared = Arc::downgrade(&d);
        return Ok(d);
    }
    if uri.path.is_empty() || uri.path == "/" {
        return Err(Error::new(
            code::INVALID_ARG,
            errdom::TEST,
            "testOpen: supply a path or use test:///default",
        ));
    }
    let state = host::load_node_file(&uri.path, auth)?;
    Ok(Arc::new(TestDriver::new(
        state,
        format!("test://{}", uri.path),
    )))
}

impl TestDriver {
    fn new(state: State, uri: String) -> Self {
        let (events, _) = broadcast::channel(1024);
        Self {
            state: Mutex::new(state),
            events,
            uri,
        }
    }

    /// Locks the state. A panic while holding the lock cannot leave it half-updated in a way
    /// that matters more than losing the driver, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Raises an event to every subscriber.
    pub(crate) fn emit(&self, ev: Event) {
        let _ = self.events.send(ev);
    }

    /// The URI this instance was opened with.
    pub(crate) fn uri(&self) -> &str {
        &self.uri
    }
}

#[async_trait]
impl Driver for TestDriver {
    async fn connect_get_type(&self) -> Result<String> {
        host::connect_get_type(self)
    }
    async fn connect_get_version(&self) -> Result<u64> {
        host::connect_get_version(self)
    }
    async fn connect_get_hostname(&self) -> Result<String> {
        host::connect_get_hostname(self)
    }
    async fn connect_get_uri(&self) -> Result<String> {
        host::connect_get_uri(self)
    }
    async fn connect_get_capabilities(&self) -> Result<String> {
        host::connect_get_capabilities(self)
    }
    async fn connect_get_sysinfo(&self, flags: u32) -> Result<String> {
        host::connect_get_sysinfo(self, flags)
    }
    async fn connect_get_max_vcpus(&self, type_: Option<&str>) -> Result<i32> {
        host::connect_get_max_vcpus(self, type_)
    }
    async fn node_get_info(&self) -> Result<NodeInfo> {
        host::node_get_info(self)
    }
    async fn node_get_free_memory(&self) -> Result<u64> {
        host::node_get_free_memory(self)
    }
    async fn node_get_security_model(&self) -> Result<SecurityModel> {
        host::node_get_security_model(self)
    }
    async fn list_all_domains(&self, flags: u32) -> Result<Vec<DomainRef>> {
        domain::list_all_domains(self, flags)
    }
    async fn list_domain_ids(&self, max: i32) -> Result<Vec<i32>> {
        domain::list_domain_ids(self, max)
    }
    async fn num_of_domains(&self) -> Result<i32> {
        domain::num_of_domains(self)
    }
    async fn list_defined_domains(&self, max: i32) -> Result<Vec<String>> {
        domain::list_defined_domains(self, max)
    }
    async fn num_of_defined_domains(&self) -> Result<i32> {
        domain::num_of_defined_domains(self)
    }
    async fn domain_lookup_by_id(&self, id: i32) -> Result<DomainRef> {
        domain::domain_lookup_by_id(self, id)
    }
    async fn domain_lookup_by_name(&self, name: &str) -> Result<DomainRef> {
        domain::domain_lookup_by_name(self, name)
    }
    async fn domain_lookup_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        domain::domain_lookup_by_uuid(self, uuid)
    }
    async fn domain_define_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        domain::domain_define_xml(self, xml, flags)
    }
    async fn domain_undefine(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        domain::domain_undefine(self, dom, flags)
    }
    async fn domain_create(&self, dom: &DomainRef, flags: u32) -> Result<DomainRef> {
        domain::domain_create(self, dom, flags)
    }
    async fn domain_create_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        domain::domain_create_xml(self, xml, flags)
    }
    async fn domain_destroy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        domain::domain_destroy(self, dom, flags)
    }
    async fn domain_shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        domain::domain_shutdown(self, dom, flags)
    }
    async fn domain_reboot(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        domain::domain_reboot(self, dom, flags)
    }
    async fn domain_reset(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        domain::domain_reset(self, dom, flags)
    }
    async fn domain_suspend(&self, dom: &DomainRef) -> Result<()> {
        domain::domain_suspend(self, dom)
    }
    async fn domain_resume(&self, dom: &DomainRef) -> Result<()> {
        domain::domain_resume(self, dom)
    }
    async fn domain_get_info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        domain::domain_get_info(self, dom)
    }
    async fn domain_get_state(&self, dom: &DomainRef, flags: u32) -> Result<(i32, i32)> {
        domain::domain_get_state(self, dom, flags)
    }
    async fn domain_get_xml_desc(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        domain::domain_get_xml_desc(self, dom, flags)
    }
    async fn domain_get_autostart(&self, dom: &DomainRef) -> Result<bool> {
        domain::domain_get_autostart(self, dom)
    }
    async fn domain_set_autostart(&self, dom: &DomainRef, autostart: bool) -> Result<()> {
        domain::domain_set_autostart(self, dom, autostart)
    }
    async fn domain_get_os_type(&self, dom: &DomainRef) -> Result<String> {
        domain::domain_get_os_type(self, dom)
    }
    async fn domain_get_max_memory(&self, dom: &DomainRef) -> Result<u64> {
        domain::domain_get_max_memory(self, dom)
    }
    async fn domain_get_vcpus_flags(&self, dom: &DomainRef, flags: u32) -> Result<i32> {
        domain::domain_get_vcpus_flags(self, dom, flags)
    }
    async fn domain_is_active(&self, dom: &DomainRef) -> Result<bool> {
        domain::domain_is_active(self, dom)
    }
    async fn domain_is_persistent(&self, dom: &DomainRef) -> Result<bool> {
        domain::domain_is_persistent(self, dom)
    }
    async fn domain_is_updated(&self, dom: &DomainRef) -> Result<bool> {
        domain::domain_is_updated(self, dom)
    }
    async fn domain_has_managed_save_image(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        domain::domain_has_managed_save_image(self, dom, flags)
    }
    async fn domain_get_security_label(&self, dom: &DomainRef) -> Result<SecurityLabel> {
        domain::domain_get_security_label(self, dom)
    }
    // No virDomainGetSecurityLabelList, as libvirt's test driver has none: in-process callers
    // get "not supported"; through a daemon the reply is libvirtd's ret = -1 with no labels.
    async fn list_all_networks(&self, flags: u32) -> Result<Vec<NetworkRef>> {
        network::list_all_networks(self, flags)
    }
    async fn network_lookup_by_name(&self, name: &str) -> Result<NetworkRef> {
        network::network_lookup_by_name(self, name)
    }
    async fn network_lookup_by_uuid(&self, uuid: &Uuid) -> Result<NetworkRef> {
        network::network_lookup_by_uuid(self, uuid)
    }
    async fn network_define_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        network::network_define_xml(self, xml, flags)
    }
    async fn network_create_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        network::network_create_xml(self, xml, flags)
    }
    async fn network_create(&self, net: &NetworkRef) -> Result<()> {
        network::network_create(self, net)
    }
    async fn network_destroy(&self, net: &NetworkRef) -> Result<()> {
        network::network_destroy(self, net)
    }
    async fn network_undefine(&self, net: &NetworkRef) -> Result<()> {
        network::network_undefine(self, net)
    }
    async fn network_get_xml_desc(&self, net: &NetworkRef, flags: u32) -> Result<String> {
        network::network_get_xml_desc(self, net, flags)
    }
    async fn network_get_autostart(&self, net: &NetworkRef) -> Result<bool> {
        network::network_get_autostart(self, net)
    }
    async fn network_set_autostart(&self, net: &NetworkRef, autostart: bool) -> Result<()> {
        network::network_set_autostart(self, net, autostart)
    }
    async fn network_is_active(&self, net: &NetworkRef) -> Result<bool> {
        network::network_is_active(self, net)
    }
    async fn network_is_persistent(&self, net: &NetworkRef) -> Result<bool> {
        network::network_is_persistent(self, net)
    }
    async fn network_get_bridge_name(&self, net: &NetworkRef) -> Result<String> {
        network::network_get_bridge_name(self, net)
    }
    async fn list_all_pools(&self, flags: u32) -> Result<Vec<PoolRef>> {
        storage::list_all_pools(self, flags)
    }
    async fn pool_lookup_by_name(&self, name: &str) -> Result<PoolRef> {
        storage::pool_lookup_by_name(self, name)
    }
    async fn pool_lookup_by_uuid(&self, uuid: &Uuid) -> Result<PoolRef> {
        storage::pool_lookup_by_uuid(self, uuid)
    }
    async fn pool_lookup_by_volume(&self, vol: &VolRef) -> Result<PoolRef> {
        storage::pool_lookup_by_volume(self, vol)
    }
    async fn pool_define_xml(&self, xml: &str, flags: u32) -> Result<PoolRef> {
        storage::pool_define_xml(self, xml, flags)
    }
    async fn pool_create_xml(&self, xml: &str, flags: u32) -> Result<PoolRef> {
        storage::pool_create_xml(self, xml, flags)
    }
    async fn pool_create(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        storage::pool_create(self, pool, flags)
    }
    async fn pool_build(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        storage::pool_build(self, pool, flags)
    }
    async fn pool_destroy(&self, pool: &PoolRef) -> Result<()> {
        storage::pool_destroy(self, pool)
    }
    async fn pool_delete(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        storage::pool_delete(self, pool, flags)
    }
    async fn pool_undefine(&self, pool: &PoolRef) -> Result<()> {
        storage::pool_undefine(self, pool)
    }
    async fn pool_refresh(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        storage::pool_refresh(self, pool, flags)
    }
    async fn pool_get_info(&self, pool: &PoolRef) -> Result<PoolInfo> {
        storage::pool_get_info(self, pool)
    }
    async fn pool_get_xml_desc(&self, pool: &PoolRef, flags: u32) -> Result<String> {
        storage::pool_get_xml_desc(self, pool, flags)
    }
    async fn pool_get_autostart(&self, pool: &PoolRef) -> Result<bool> {
        storage::pool_get_autostart(self, pool)
    }
    async fn pool_set_autostart(&self, pool: &PoolRef, autostart: bool) -> Result<()> {
        storage::pool_set_autostart(self, pool, autostart)
    }
    async fn pool_is_active(&self, pool: &PoolRef) -> Result<bool> {
        storage::pool_is_active(self, pool)
    }
    async fn pool_is_persistent(&self, pool: &PoolRef) -> Result<bool> {
        storage::pool_is_persistent(self, pool)
    }
    async fn pool_list_all_volumes(&self, pool: &PoolRef, flags: u32) -> Result<Vec<VolRef>> {
        storage::pool_list_all_volumes(self, pool, flags)
    }
    async fn pool_num_of_volumes(&self, pool: &PoolRef) -> Result<i32> {
        storage::pool_num_of_volumes(self, pool)
    }
    async fn vol_lookup_by_name(&self, pool: &PoolRef, name: &str) -> Result<VolRef> {
        storage::vol_lookup_by_name(self, pool, name)
    }
    async fn vol_lookup_by_key(&self, key: &str) -> Result<VolRef> {
        storage::vol_lookup_by_key(self, key)
    }
    async fn vol_lookup_by_path(&self, path: &str) -> Result<VolRef> {
        storage::vol_lookup_by_path(self, path)
    }
    async fn vol_create_xml(&self, pool: &PoolRef, xml: &str, flags: u32) -> Result<VolRef> {
        storage::vol_create_xml(self, pool, xml, flags)
    }
    async fn vol_create_xml_from(
        &self,
        pool: &PoolRef,
        xml: &str,
        clone: &VolRef,
        flags: u32,
    ) -> Result<VolRef> {
        storage::vol_create_xml_from(self, pool, xml, clone, flags)
    }

    async fn vol_delete(&self, vol: &VolRef, flags: u32) -> Result<()> {
        storage::vol_delete(self, vol, flags)
    }
    async fn vol_get_info(&self, vol: &VolRef) -> Result<VolInfo> {
        storage::vol_get_info(self, vol)
    }
    async fn vol_get_xml_desc(&self, vol: &VolRef, flags: u32) -> Result<String> {
        storage::vol_get_xml_desc(self, vol, flags)
    }
    async fn vol_get_path(&self, vol: &VolRef) -> Result<String> {
        storage::vol_get_path(self, vol)
    }

    async fn connect_supports_feature(&self, feature: i32) -> Result<bool> {
        host::connect_supports_feature(self, feature)
    }

    fn subscribe(&self) -> Option<broadcast::Receiver<Event>> {
        Some(self.events.subscribe())
    }
}
