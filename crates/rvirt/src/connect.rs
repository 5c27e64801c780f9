//! The public API: [`Connect`] and the object handles [`Domain`], [`Network`], [`StoragePool`] and
//! [`StorageVol`].
//!
//! A handle is an identity (as on the wire) plus the connection it came from; every method is a
//! thin call into the connection's [`Driver`]. As in libvirt's `libvirt-*.c` entry points, mutating
//! calls on a read-only connection fail here with `VIR_ERR_OPERATION_DENIED` before reaching the
//! driver.

use crate::auth::Auth;
use crate::driver::Driver;
use crate::error::{domain as errdom, Error, Result};
use crate::stream::{DuplexStream, StreamSink, StreamSource};
use crate::types::*;
use std::sync::Arc;
use tokio::sync::broadcast;

struct Inner {
    driver: Arc<dyn Driver>,
    read_only: bool,
}

/// A connection to a hypervisor driver (`virConnectPtr`). Cheap to clone; clones share the
/// connection.
#[derive(Clone)]
pub struct Connect {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Connect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connect")
            .field("read_only", &self.inner.read_only)
            .finish_non_exhaustive()
    }
}

/// The read-only refusal of `api`, in the error domain of the file defining it (the procedure
/// table's; every API checked here has a procedure).
fn read_only_error(api: &str) -> Error {
    Error::read_only(
        rvirt_proto::procedure::api_error_domain(api).unwrap_or(errdom::NONE),
        api,
    )
}

macro_rules! check_rw {
    ($self:expr, $api:literal) => {
        if $self.inner.read_only {
            return Err(read_only_error($api));
        }
    };
    // libvirt has a flag-less entry point beside the Flags one; C clients such as virsh call the
    // flag-less one when they pass no flags, so the error names that one then.
    ($self:expr, $flags:expr, $plain:literal, $api:literal) => {
        if $self.inner.read_only {
            return Err(read_only_error(if $flags == 0 { $plain } else { $api }));
        }
    };
}

impl Connect {
    /// Opens a read-write connection to `uri` (`virConnectOpen`). `None` uses
    /// `LIBVIRT_DEFAULT_URI`, then the session/system default, as libvirt does.
    pub async fn open(uri: Option<&str>) -> Result<Self> {
        crate::open::open(uri, false, None).await
    }

    /// Opens a read-only connection (`virConnectOpenReadOnly`).
    pub async fn open_read_only(uri: Option<&str>) -> Result<Self> {
        crate::open::open(uri, true, None).await
    }

    /// Opens a connection with an authentication callback (`virConnectOpenAuth`).
    pub async fn open_auth(uri: Option<&str>, auth: &Auth, read_only: bool) -> Result<Self> {
        crate::open::open(uri, read_only, Some(auth)).await
    }

    /// Wraps a driver in a connection. Drivers' `open` functions and the daemon use this.
    pub fn from_driver(driver: Arc<dyn Driver>, read_only: bool) -> Self {
        Self {
            inner: Arc::new(Inner { driver, read_only }),
        }
    }

    /// The driver behind this connection.
    pub fn driver(&self) -> &Arc<dyn Driver> {
        &self.inner.driver
    }

    /// Whether the connection is read-only.
    pub fn is_read_only(&self) -> bool {
        self.inner.read_only
    }

    /// Closes the connection (`virConnectClose`).
    pub async fn close(self) -> Result<()> {
        self.inner.driver.connect_close().await
    }

    /// `virConnectGetType`.
    pub async fn get_type(&self) -> Result<String> {
        self.inner.driver.connect_get_type().await
    }
    /// `virConnectGetVersion`.
    pub async fn get_version(&self) -> Result<u64> {
        self.inner.driver.connect_get_version().await
    }
    /// `virConnectGetLibVersion`.
    pub async fn get_lib_version(&self) -> Result<u64> {
        self.inner.driver.connect_get_lib_version().await
    }
    /// `virConnectGetHostname`.
    pub async fn get_hostname(&self) -> Result<String> {
        self.inner.driver.connect_get_hostname().await
    }
    /// `virConnectGetURI`.
    pub async fn get_uri(&self) -> Result<String> {
        self.inner.driver.connect_get_uri().await
    }
    /// `virConnectGetCapabilities`.
    pub async fn get_capabilities(&self) -> Result<String> {
        self.inner.driver.connect_get_capabilities().await
    }
    /// `virConnectGetCapabilities`, read into the typed model: the host (CPU, NUMA topology,
    /// caches, security models, …) and the guests it can run. A document the model cannot read
    /// fails with `VIR_ERR_XML_ERROR` naming the element.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let conn = rvirt::Connect::open(Some("test:///default")).await.unwrap();
    /// let caps = conn.capabilities().await.unwrap();
    /// assert_eq!(caps.host.arch.as_deref(), Some("i686"));
    /// assert_eq!(caps.host.numa.as_ref().map(Vec::len), Some(2));
    /// assert_eq!(caps.guests[0].os_type, "hvm");
    /// // The model formats back to the daemon's bytes.
    /// assert_eq!(caps.format(), conn.get_capabilities().await.unwrap());
    /// # }
    /// ```
    pub async fn capabilities(&self) -> Result<rvirt_xml::capabilities::Capabilities> {
        let xml = self.get_capabilities().await?;
        Ok(rvirt_xml::capabilities::Capabilities::parse(&xml)?)
    }
    /// `virConnectGetSysinfo`.
    pub async fn get_sysinfo(&self, flags: u32) -> Result<String> {
        self.inner.driver.connect_get_sysinfo(flags).await
    }
    /// `virConnectGetMaxVcpus`.
    pub async fn get_max_vcpus(&self, type_: Option<&str>) -> Result<i32> {
        self.inner.driver.connect_get_max_vcpus(type_).await
    }
    /// `virConnectGetDomainCapabilities`: the domain capabilities XML (parse it with
    /// `rvirt_xml::domcaps::DomainCaps::parse`).
    pub async fn get_domain_capabilities(
        &self,
        emulatorbin: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virttype: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        check_rw!(self, "virConnectGetDomainCapabilities");
        self.inner
            .driver
            .connect_get_domain_capabilities(emulatorbin, arch, machine, virttype, flags)
            .await
    }
    /// `virConnectIsSecure`.
    pub async fn is_secure(&self) -> Result<bool> {
        self.inner.driver.connect_is_secure().await
    }
    /// `virNodeGetInfo`.
    pub async fn node_info(&self) -> Result<NodeInfo> {
        self.inner.driver.node_get_info().await
    }
    /// `virNodeGetFreeMemory` (bytes). 0 is the API's failure value: a driver answering 0
    /// without an error fails with libvirt's generic "cause is unknown" error, as libvirt does.
    pub async fn node_free_memory(&self) -> Result<u64> {
        match self.inner.driver.node_get_free_memory().await? {
            0 => Err(Error::unknown()),
            n => Ok(n),
        }
    }
    /// `virNodeGetSecurityModel`.
    pub async fn node_security_model(&self) -> Result<SecurityModel> {
        self.inner.driver.node_get_security_model().await
    }

    // ---- domains ----

    fn dom(&self, r: DomainRef) -> Domain {
        Domain {
            conn: self.clone(),
            r,
        }
    }

    /// `virConnectListAllDomains`.
    pub async fn list_all_domains(&self, flags: u32) -> Result<Vec<Domain>> {
        let v = self.inner.driver.list_all_domains(flags).await?;
        Ok(v.into_iter().map(|r| self.dom(r)).collect())
    }
    /// `virConnectListDomains`.
    pub async fn list_domain_ids(&self, max: i32) -> Result<Vec<i32>> {
        self.inner.driver.list_domain_ids(max).await
    }
    /// `virConnectNumOfDomains`.
    pub async fn num_of_domains(&self) -> Result<i32> {
        self.inner.driver.num_of_domains().await
    }
    /// `virConnectListDefinedDomains`.
    pub async fn list_defined_domains(&self, max: i32) -> Result<Vec<String>> {
        self.inner.driver.list_defined_domains(max).await
    }
    /// `virConnectNumOfDefinedDomains`.
    pub async fn num_of_defined_domains(&self) -> Result<i32> {
        self.inner.driver.num_of_defined_domains().await
    }
    /// `virDomainLookupByID`.
    pub async fn domain_lookup_by_id(&self, id: i32) -> Result<Domain> {
        Ok(self.dom(self.inner.driver.domain_lookup_by_id(id).await?))
    }
    /// `virDomainLookupByName`.
    pub async fn domain_lookup_by_name(&self, name: &str) -> Result<Domain> {
        Ok(self.dom(self.inner.driver.domain_lookup_by_name(name).await?))
    }
    /// `virDomainLookupByUUID`.
    pub async fn domain_lookup_by_uuid(&self, uuid: &Uuid) -> Result<Domain> {
        Ok(self.dom(self.inner.driver.domain_lookup_by_uuid(uuid).await?))
    }
    /// `virDomainLookupByUUIDString`.
    pub async fn domain_lookup_by_uuid_string(&self, uuid: &str) -> Result<Domain> {
        let u = uuid_parse(uuid)
            .ok_or_else(|| Error::invalid_arg(errdom::DOM, "uuid must be a valid UUID string"))?;
        self.domain_lookup_by_uuid(&u).await
    }
    /// `virDomainDefineXMLFlags`.
    pub async fn domain_define_xml(&self, xml: &str, flags: u32) -> Result<Domain> {
        check_rw!(self, flags, "virDomainDefineXML", "virDomainDefineXMLFlags");
        Ok(self.dom(self.inner.driver.domain_define_xml(xml, flags).await?))
    }
    /// `virDomainCreateXML`.
    pub async fn domain_create_xml(&self, xml: &str, flags: u32) -> Result<Domain> {
        check_rw!(self, "virDomainCreateXML");
        Ok(self.dom(self.inner.driver.domain_create_xml(xml, flags).await?))
    }

    // ---- networks ----

    fn net(&self, r: NetworkRef) -> Network {
        Network {
            conn: self.clone(),
            r,
        }
    }

    /// `virConnectListAllNetworks`.
    pub async fn list_all_networks(&self, flags: u32) -> Result<Vec<Network>> {
        let v = self.inner.driver.list_all_networks(flags).await?;
        Ok(v.into_iter().map(|r| self.net(r)).collect())
    }
    /// `virNetworkLookupByName`.
    pub async fn network_lookup_by_name(&self, name: &str) -> Result<Network> {
        Ok(self.net(self.inner.driver.network_lookup_by_name(name).await?))
    }
    /// `virNetworkLookupByUUID`.
    pub async fn network_lookup_by_uuid(&self, uuid: &Uuid) -> Result<Network> {
        Ok(self.net(self.inner.driver.network_lookup_by_uuid(uuid).await?))
    }
    /// `virNetworkDefineXMLFlags`.
    pub async fn network_define_xml(&self, xml: &str, flags: u32) -> Result<Network> {
        check_rw!(
            self,
            flags,
            "virNetworkDefineXML",
            "virNetworkDefineXMLFlags"
        );
        Ok(self.net(self.inner.driver.network_define_xml(xml, flags).await?))
    }
    /// `virNetworkCreateXMLFlags`.
    pub async fn network_create_xml(&self, xml: &str, flags: u32) -> Result<Network> {
        check_rw!(
            self,
            flags,
            "virNetworkCreateXML",
            "virNetworkCreateXMLFlags"
        );
        Ok(self.net(self.inner.driver.network_create_xml(xml, flags).await?))
    }

    // ---- storage ----

    fn pool(&self, r: PoolRef) -> StoragePool {
        StoragePool {
            conn: self.clone(),
            r,
        }
    }

    fn vol(&self, r: VolRef) -> StorageVol {
        StorageVol {
            conn: self.clone(),
            r,
        }
    }

    /// `virConnectListAllStoragePools`.
    pub async fn list_all_storage_pools(&self, flags: u32) -> Result<Vec<StoragePool>> {
        let v = self.inner.driver.list_all_pools(flags).await?;
        Ok(v.into_iter().map(|r| self.pool(r)).collect())
    }
    /// `virStoragePoolLookupByName`.
    pub async fn storage_pool_lookup_by_name(&self, name: &str) -> Result<StoragePool> {
        Ok(self.pool(self.inner.driver.pool_lookup_by_name(name).await?))
    }
    /// `virStoragePoolLookupByUUID`.
    pub async fn storage_pool_lookup_by_uuid(&self, uuid: &Uuid) -> Result<StoragePool> {
        Ok(self.pool(self.inner.driver.pool_lookup_by_uuid(uuid).await?))
    }
    /// `virStoragePoolDefineXML`.
    pub async fn storage_pool_define_xml(&self, xml: &str, flags: u32) -> Result<StoragePool> {
        check_rw!(self, "virStoragePoolDefineXML");
        Ok(self.pool(self.inner.driver.pool_define_xml(xml, flags).await?))
    }
    /// `virStoragePoolCreateXML`.
    pub async fn storage_pool_create_xml(&self, xml: &str, flags: u32) -> Result<StoragePool> {
        check_rw!(self, "virStoragePoolCreateXML");
        Ok(self.pool(self.inner.driver.pool_create_xml(xml, flags).await?))
    }
    /// `virStorageVolLookupByKey`.
    pub async fn storage_vol_lookup_by_key(&self, key: &str) -> Result<StorageVol> {
        Ok(self.vol(self.inner.driver.vol_lookup_by_key(key).await?))
    }
    /// `virStorageVolLookupByPath`.
    pub async fn storage_vol_lookup_by_path(&self, path: &str) -> Result<StorageVol> {
        Ok(self.vol(self.inner.driver.vol_lookup_by_path(path).await?))
    }

    // ---- events ----

    /// Subscribes to events of `kind` (`virConnectDomainEventRegisterAny` and friends). The
    /// receiver sees every event of every kind the connection has enabled; filter with
    /// [`Event::kind`].
    pub async fn events(&self, kind: EventKind) -> Result<broadcast::Receiver<Event>> {
        let rx = self
            .inner
            .driver
            .subscribe()
            .ok_or_else(|| Error::no_support("virConnectDomainEventRegisterAny"))?;
        self.inner.driver.events_enable(kind).await?;
        Ok(rx)
    }
}

/// A domain handle (`virDomainPtr`).
#[derive(Clone, Debug)]
pub struct Domain {
    conn: Connect,
    r: DomainRef,
}

impl Domain {
    /// The identity (name, UUID, id) as last seen.
    pub fn identity(&self) -> &DomainRef {
        &self.r
    }
    /// The name.
    pub fn name(&self) -> &str {
        &self.r.name
    }
    /// The UUID.
    pub fn uuid(&self) -> &Uuid {
        &self.r.uuid
    }
    /// The UUID as text.
    pub fn uuid_string(&self) -> String {
        uuid_to_string(&self.r.uuid)
    }
    /// The id, or -1 when inactive.
    pub fn id(&self) -> i32 {
        self.r.id
    }
    fn d(&self) -> &Arc<dyn Driver> {
        &self.conn.inner.driver
    }

    /// `virDomainOpenConsole`: a bidirectional stream to a console (the first when `dev_name` is
    /// `None`).
    pub async fn open_console(&self, dev_name: Option<&str>, flags: u32) -> Result<DuplexStream> {
        check_rw!(self.conn, "virDomainOpenConsole");
        self.d().domain_open_console(&self.r, dev_name, flags).await
    }

    /// `virDomainCreateWithFlags`; refreshes the handle's id.
    pub async fn create(&mut self, flags: u32) -> Result<()> {
        check_rw!(
            self.conn,
            flags,
            "virDomainCreate",
            "virDomainCreateWithFlags"
        );
        self.r = self.d().domain_create(&self.r, flags).await?;
        Ok(())
    }
    /// `virDomainUndefineFlags`.
    pub async fn undefine(&self, flags: u32) -> Result<()> {
        check_rw!(self.conn, "virDomainUndefineFlags");
        self.d().domain_undefine(&self.r, flags).await
    }
    /// `virDomainDestroyFlags`.
    pub async fn destroy(&self, flags: u32) -> Result<()> {
        check_rw!(
            self.conn,
            flags,
            "virDomainDestroy",
            "virDomainDestroyFlags"
        );
        self.d().domain_destroy(&self.r, flags).await
    }
    /// `virDomainShutdownFlags`.
    pub async fn shutdown(&self, flags: u32) -> Result<()> {
        check_rw!(
            self.conn,
            flags,
            "virDomainShutdown",
            "virDomainShutdownFlags"
        );
        self.d().domain_shutdown(&self.r, flags).await
    }
    /// `virDomainReboot`.
    pub async fn reboot(&self, flags: u32) -> Result<()> {
        check_rw!(self.conn, "virDomainReboot");
        self.d().domain_reboot(&self.r, flags).await
    }
    /// `virDomainReset`.
    pub async fn reset(&self, flags: u32) -> Result<()> {
        check_rw!(self.conn, "virDomainReset");
        self.d().domain_reset(&self.r, flags).await
    }
    /// `virDomainSuspend`.
    pub async fn suspend(&self) -> Result<()> {
        check_rw!(self.conn, "virDomainSuspend");
        self.d().domain_suspend(&self.r).await
    }
    /// `virDomainResume`.
    pub async fn resume(&self) -> Result<()> {
        check_rw!(self.conn, "virDomainResume");
        self.d().domain_resume(&self.r).await
    }
    /// `virDomainGetInfo`.
    pub async fn info(&self) -> Result<DomainInfo> {
        self.d().domain_get_info(&self.r).await
    }
    /// `virDomainGetState`: (state, reason).
    pub async fn state(&self, flags: u32) -> Result<(i32, i32)> {
        self.d().domain_get_state(&self.r, flags).await
    }
    /// `virDomainGetXMLDesc`.
    pub async fn xml_desc(&self, flags: u32) -> Result<String> {
        if self.conn.inner.read_only && flags & domain_flags::XML_SECURE != 0 {
            return Err(Error::new(
                crate::error::code::OPERATION_DENIED,
                errdom::DOM,
                "virDomainGetXMLDesc with secure flag",
            ));
        }
        self.d().domain_get_xml_desc(&self.r, flags).await
    }
    /// `virDomainGetAutostart`.
    pub async fn autostart(&self) -> Result<bool> {
        self.d().domain_get_autostart(&self.r).await
    }
    /// `virDomainSetAutostart`.
    pub async fn set_autostart(&self, autostart: bool) -> Result<()> {
        check_rw!(self.conn, "virDomainSetAutostart");
        self.d().domain_set_autostart(&self.r, autostart).await
    }
    /// `virDomainGetOSType`.
    pub async fn os_type(&self) -> Result<String> {
        self.d().domain_get_os_type(&self.r).await
    }
    /// `virDomainGetMaxMemory` (KiB).
    pub async fn max_memory(&self) -> Result<u64> {
        self.d().domain_get_max_memory(&self.r).await
    }
    /// `virDomainGetVcpusFlags`.
    pub async fn vcpus_flags(&self, flags: u32) -> Result<i32> {
        self.d().domain_get_vcpus_flags(&self.r, flags).await
    }
    /// `virDomainIsActive`.
    pub async fn is_active(&self) -> Result<bool> {
        self.d().domain_is_active(&self.r).await
    }
    /// `virDomainIsPersistent`.
    pub async fn is_persistent(&self) -> Result<bool> {
        self.d().domain_is_persistent(&self.r).await
    }
    /// `virDomainIsUpdated`.
    pub async fn is_updated(&self) -> Result<bool> {
        self.d().domain_is_updated(&self.r).await
    }
    /// `virDomainHasManagedSaveImage`.
    pub async fn has_managed_save_image(&self, flags: u32) -> Result<bool> {
        self.d().domain_has_managed_save_image(&self.r, flags).await
    }
    /// `virDomainGetSecurityLabel`.
    pub async fn security_label(&self) -> Result<SecurityLabel> {
        self.d().domain_get_security_label(&self.r).await
    }
    /// `virDomainGetSecurityLabelList`.
    pub async fn security_labels(&self) -> Result<Vec<SecurityLabel>> {
        self.d().domain_get_security_label_list(&self.r).await
    }
}

/// A virtual network handle (`virNetworkPtr`).
#[derive(Clone, Debug)]
pub struct Network {
    conn: Connect,
    r: NetworkRef,
}

impl Network {
    /// The identity.
    pub fn identity(&self) -> &NetworkRef {
        &self.r
    }
    /// The name.
    pub fn name(&self) -> &str {
        &self.r.name
    }
    /// The UUID as text.
    pub fn uuid_string(&self) -> String {
        uuid_to_string(&self.r.uuid)
    }
    fn d(&self) -> &Arc<dyn Driver> {
        &self.conn.inner.driver
    }
    /// `virNetworkCreate`.
    pub async fn create(&self) -> Result<()> {
        check_rw!(self.conn, "virNetworkCreate");
        self.d().network_create(&self.r).await
    }
    /// `virNetworkDestroy`.
    pub async fn destroy(&self) -> Result<()> {
        check_rw!(self.conn, "virNetworkDestroy");
        self.d().network_destroy(&self.r).await
    }
    /// `virNetworkUndefine`.
    pub async fn undefine(&self) -> Result<()> {
        check_rw!(self.conn, "virNetworkUndefine");
        self.d().network_undefine(&self.r).await
    }
    /// `virNetworkGetXMLDesc`.
    pub async fn xml_desc(&self, flags: u32) -> Result<String> {
        self.d().network_get_xml_desc(&self.r, flags).await
    }
    /// `virNetworkGetAutostart`.
    pub async fn autostart(&self) -> Result<bool> {
        self.d().network_get_autostart(&self.r).await
    }
    /// `virNetworkSetAutostart`.
    pub async fn set_autostart(&self, autostart: bool) -> Result<()> {
        check_rw!(self.conn, "virNetworkSetAutostart");
        self.d().network_set_autostart(&self.r, autostart).await
    }
    /// `virNetworkIsActive`.
    pub async fn is_active(&self) -> Result<bool> {
        self.d().network_is_active(&self.r).await
    }
    /// `virNetworkIsPersistent`.
    pub async fn is_persistent(&self) -> Result<bool> {
        self.d().network_is_persistent(&self.r).await
    }
    /// `virNetworkGetBridgeName`.
    pub async fn bridge_name(&self) -> Result<String> {
        self.d().network_get_bridge_name(&self.r).await
    }
}

/// A storage pool handle (`virStoragePoolPtr`).
#[derive(Clone, Debug)]
pub struct StoragePool {
    conn: Connect,
    r: PoolRef,
}

impl StoragePool {
    /// The identity.
    pub fn identity(&self) -> &PoolRef {
        &self.r
    }
    /// The name.
    pub fn name(&self) -> &str {
        &self.r.name
    }
    /// The UUID as text.
    pub fn uuid_string(&self) -> String {
        uuid_to_string(&self.r.uuid)
    }
    fn d(&self) -> &Arc<dyn Driver> {
        &self.conn.inner.driver
    }
    /// `virStoragePoolCreate`.
    pub async fn create(&self, flags: u32) -> Result<()> {
        check_rw!(self.conn, "virStoragePoolCreate");
        self.d().pool_create(&self.r, flags).await
    }
    /// `virStoragePoolBuild`.
    pub async fn build(&self, flags: u32) -> Result<()> {
        check_rw!(self.conn, "virStoragePoolBuild");
        self.d().pool_build(&self.r, flags).await
    }
    /// `virStoragePoolDestroy`.
    pub async fn destroy(&self) -> Result<()> {
        check_rw!(self.conn, "virStoragePoolDestroy");
        self.d().pool_destroy(&self.r).await
    }
    /// `virStoragePoolDelete`.
    pub async fn delete(&self, flags: u32) -> Result<()> {
        check_rw!(self.conn, "virStoragePoolDelete");
        self.d().pool_delete(&self.r, flags).await
    }
    /// `virStoragePoolUndefine`.
    pub async fn undefine(&self) -> Result<()> {
        check_rw!(self.conn, "virStoragePoolUndefine");
        self.d().pool_undefine(&self.r).await
    }
    /// `virStoragePoolRefresh`.
    pub async fn refresh(&self, flags: u32) -> Result<()> {
        check_rw!(self.conn, "virStoragePoolRefresh");
        self.d().pool_refresh(&self.r, flags).await
    }
    /// `virStoragePoolGetInfo`.
    pub async fn info(&self) -> Result<PoolInfo> {
        self.d().pool_get_info(&self.r).await
    }
    /// `virStoragePoolGetXMLDesc`.
    pub async fn xml_desc(&self, flags: u32) -> Result<String> {
        self.d().pool_get_xml_desc(&self.r, flags).await
    }
    /// `virStoragePoolGetAutostart`.
    pub async fn autostart(&self) -> Result<bool> {
        self.d().pool_get_autostart(&self.r).await
    }
    /// `virStoragePoolSetAutostart`.
    pub async fn set_autostart(&self, autostart: bool) -> Result<()> {
        check_rw!(self.conn, "virStoragePoolSetAutostart");
        self.d().pool_set_autostart(&self.r, autostart).await
    }
    /// `virStoragePoolIsActive`.
    pub async fn is_active(&self) -> Result<bool> {
        self.d().pool_is_active(&self.r).await
    }
    /// `virStoragePoolIsPersistent`.
    pub async fn is_persistent(&self) -> Result<bool> {
        self.d().pool_is_persistent(&self.r).await
    }
    /// `virStoragePoolListAllVolumes`.
    pub async fn list_all_volumes(&self, flags: u32) -> Result<Vec<StorageVol>> {
        let v = self.d().pool_list_all_volumes(&self.r, flags).await?;
        Ok(v.into_iter().map(|r| self.conn.vol(r)).collect())
    }
    /// `virStoragePoolNumOfVolumes`.
    pub async fn num_of_volumes(&self) -> Result<i32> {
        self.d().pool_num_of_volumes(&self.r).await
    }
    /// `virStorageVolLookupByName`.
    pub async fn volume_lookup_by_name(&self, name: &str) -> Result<StorageVol> {
        Ok(self
            .conn
            .vol(self.d().vol_lookup_by_name(&self.r, name).await?))
    }
    /// `virStorageVolCreateXML`.
    pub async fn volume_create_xml(&self, xml: &str, flags: u32) -> Result<StorageVol> {
        check_rw!(self.conn, "virStorageVolCreateXML");
        Ok(self
            .conn
            .vol(self.d().vol_create_xml(&self.r, xml, flags).await?))
    }
    /// `virStorageVolCreateXMLFrom`.
    pub async fn volume_create_xml_from(
        &self,
        xml: &str,
        clone: &StorageVol,
        flags: u32,
    ) -> Result<StorageVol> {
        check_rw!(self.conn, "virStorageVolCreateXMLFrom");
        Ok(self.conn.vol(
            self.d()
                .vol_create_xml_from(&self.r, xml, &clone.r, flags)
                .await?,
        ))
    }
}

/// A storage volume handle (`virStorageVolPtr`).
#[derive(Clone, Debug)]
pub struct StorageVol {
    conn: Connect,
    r: VolRef,
}

impl StorageVol {
    /// The identity (pool, name, key).
    pub fn identity(&self) -> &VolRef {
        &self.r
    }
    /// The name.
    pub fn name(&self) -> &str {
        &self.r.name
    }
    /// The key.
    pub fn key(&self) -> &str {
        &self.r.key
    }
    fn d(&self) -> &Arc<dyn Driver> {
        &self.conn.inner.driver
    }
    /// `virStoragePoolLookupByVolume`.
    pub async fn pool(&self) -> Result<StoragePool> {
        Ok(self
            .conn
            .pool(self.d().pool_lookup_by_volume(&self.r).await?))
    }
    /// `virStorageVolDelete`.
    pub async fn delete(&self, flags: u32) -> Result<()> {
        check_rw!(self.conn, "virStorageVolDelete");
        self.d().vol_delete(&self.r, flags).await
    }
    /// `virStorageVolGetInfo`.
    pub async fn info(&self) -> Result<VolInfo> {
        self.d().vol_get_info(&self.r).await
    }
    /// `virStorageVolGetXMLDesc`.
    pub async fn xml_desc(&self, flags: u32) -> Result<String> {
        self.d().vol_get_xml_desc(&self.r, flags).await
    }
    /// `virStorageVolGetPath`.
    pub async fn path(&self) -> Result<String> {
        self.d().vol_get_path(&self.r).await
    }
    /// `virStorageVolGetInfoFlags`.
    pub async fn info_flags(&self, flags: u32) -> Result<VolInfo> {
        self.d().vol_get_info_flags(&self.r, flags).await
    }
    /// `virStorageVolResize` to `capacity` bytes.
    pub async fn resize(&self, capacity: u64, flags: u32) -> Result<()> {
        check_rw!(self.conn, "virStorageVolResize");
        self.d().vol_resize(&self.r, capacity, flags).await
    }
    /// `virStorageVolWipe`.
    pub async fn wipe(&self, flags: u32) -> Result<()> {
        check_rw!(self.conn, "virStorageVolWipe");
        self.d().vol_wipe(&self.r, flags).await
    }
    /// `virStorageVolWipePattern`.
    pub async fn wipe_pattern(&self, algorithm: u32, flags: u32) -> Result<()> {
        check_rw!(self.conn, "virStorageVolWipePattern");
        self.d().vol_wipe_pattern(&self.r, algorithm, flags).await
    }
    /// `virStorageVolUpload`: send the data into the returned sink, then `finish()` it.
    pub async fn upload(&self, offset: u64, length: u64, flags: u32) -> Result<StreamSink> {
        check_rw!(self.conn, "virStorageVolUpload");
        self.d().vol_upload(&self.r, offset, length, flags).await
    }
    /// `virStorageVolDownload`: read the returned source to its end, then `complete(Ok(()))` it.
    pub async fn download(&self, offset: u64, length: u64, flags: u32) -> Result<StreamSource> {
        check_rw!(self.conn, "virStorageVolDownload");
        self.d().vol_download(&self.r, offset, length, flags).await
    }
}
