//! The one driver interface.
//!
//! Every driver — the in-memory test driver, the remote (RPC client) driver, and the daemon's QEMU,
//! network and storage drivers — implements [`Driver`]. The public API ([`crate::Connect`]) calls it
//! in-process; `rvirtd` calls the same methods on behalf of remote clients, with a mechanical
//! procedure → method mapping. Objects are passed as identities (name, UUID, id); drivers look them
//! up by UUID on every call, as libvirt does.
//!
//! Each method's default answers `VIR_ERR_NO_SUPPORT` naming the public API, which is what libvirt
//! reports for a driver without that entry point.

use crate::error::{Error, Result};
use crate::stream::{DuplexStream, StreamSink, StreamSource};
use crate::types::*;
use async_trait::async_trait;
use tokio::sync::broadcast;

macro_rules! unsupported {
    ($api:literal) => {
        Err(Error::no_support($api))
    };
}

/// A connection-level driver. Implementations are shared (`Arc<dyn Driver>`) and must be safe to
/// call from many tasks at once.
#[allow(unused_variables)]
#[async_trait]
pub trait Driver: Send + Sync {
    // ---- connection and host ----

    /// `virConnectGetType`: hypervisor type name ("TEST", "QEMU").
    async fn connect_get_type(&self) -> Result<String> {
        unsupported!("virConnectGetType")
    }
    /// `virConnectGetVersion`: hypervisor version (major*1e6 + minor*1e3 + micro).
    async fn connect_get_version(&self) -> Result<u64> {
        unsupported!("virConnectGetVersion")
    }
    /// `virConnectGetLibVersion`: version of the library serving the connection.
    async fn connect_get_lib_version(&self) -> Result<u64> {
        Ok(crate::LIB_VERSION)
    }
    /// `virConnectGetHostname`.
    async fn connect_get_hostname(&self) -> Result<String> {
        unsupported!("virConnectGetHostname")
    }
    /// `virConnectGetURI`: the canonical URI of this connection.
    async fn connect_get_uri(&self) -> Result<String> {
        unsupported!("virConnectGetURI")
    }
    /// `virConnectGetCapabilities`: host capabilities XML.
    async fn connect_get_capabilities(&self) -> Result<String> {
        unsupported!("virConnectGetCapabilities")
    }
    /// `virConnectGetSysinfo`: host SMBIOS information as XML.
    async fn connect_get_sysinfo(&self, flags: u32) -> Result<String> {
        unsupported!("virConnectGetSysinfo")
    }
    /// `virConnectGetMaxVcpus` for a guest type.
    async fn connect_get_max_vcpus(&self, type_: Option<&str>) -> Result<i32> {
        unsupported!("virConnectGetMaxVcpus")
    }
    /// `virConnectGetDomainCapabilities`: what an emulator binary, architecture, machine type
    /// and virtualization type can do (domain capabilities XML). libvirt's test driver does
    /// not implement it.
    async fn connect_get_domain_capabilities(
        &self,
        emulatorbin: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virttype: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        // Reported from libvirt-domain.c, hence in VIR_FROM_DOMAIN.
        use crate::error::{code, domain};
        Err(Error::new(
            code::NO_SUPPORT,
            domain::DOMAIN,
            "virConnectGetDomainCapabilities",
        ))
    }
    /// `virConnectSupportsFeature` (internal feature numbers).
    async fn connect_supports_feature(&self, feature: i32) -> Result<bool> {
        Ok(false)
    }
    /// `virConnectIsSecure`.
    async fn connect_is_secure(&self) -> Result<bool> {
        Ok(true)
    }
    /// `virConnectIsEncrypted`.
    async fn connect_is_encrypted(&self) -> Result<bool> {
        Ok(false)
    }
    /// `virNodeGetInfo`.
    async fn node_get_info(&self) -> Result<NodeInfo> {
        unsupported!("virNodeGetInfo")
    }
    /// `virNodeGetFreeMemory` in bytes.
    async fn node_get_free_memory(&self) -> Result<u64> {
        unsupported!("virNodeGetFreeMemory")
    }
    /// `virNodeGetSecurityModel`.
    async fn node_get_security_model(&self) -> Result<SecurityModel> {
        unsupported!("virNodeGetSecurityModel")
    }
    /// Closes the driver-side connection (`virConnectClose`).
    async fn connect_close(&self) -> Result<()> {
        Ok(())
    }

    // ---- domains ----

    /// `virConnectListAllDomains` with [`list_domains`] filter flags.
    async fn list_all_domains(&self, flags: u32) -> Result<Vec<DomainRef>> {
        unsupported!("virConnectListAllDomains")
    }
    /// `virConnectListDomains`: ids of running domains (at most `max`).
    async fn list_domain_ids(&self, max: i32) -> Result<Vec<i32>> {
        unsupported!("virConnectListDomains")
    }
    /// `virConnectNumOfDomains`.
    async fn num_of_domains(&self) -> Result<i32> {
        unsupported!("virConnectNumOfDomains")
    }
    /// `virConnectListDefinedDomains`: names of inactive domains (at most `max`).
    async fn list_defined_domains(&self, max: i32) -> Result<Vec<String>> {
        unsupported!("virConnectListDefinedDomains")
    }
    /// `virConnectNumOfDefinedDomains`.
    async fn num_of_defined_domains(&self) -> Result<i32> {
        unsupported!("virConnectNumOfDefinedDomains")
    }
    /// `virDomainLookupByID`.
    async fn domain_lookup_by_id(&self, id: i32) -> Result<DomainRef> {
        unsupported!("virDomainLookupByID")
    }
    /// `virDomainLookupByName`.
    async fn domain_lookup_by_name(&self, name: &str) -> Result<DomainRef> {
        unsupported!("virDomainLookupByName")
    }
    /// `virDomainLookupByUUID`.
    async fn domain_lookup_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        unsupported!("virDomainLookupByUUID")
    }
    /// `virDomainDefineXMLFlags`.
    async fn domain_define_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        unsupported!("virDomainDefineXMLFlags")
    }
    /// `virDomainUndefineFlags`.
    async fn domain_undefine(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        unsupported!("virDomainUndefineFlags")
    }
    /// `virDomainCreateWithFlags`: start a defined domain; returns its new identity (with id).
    async fn domain_create(&self, dom: &DomainRef, flags: u32) -> Result<DomainRef> {
        unsupported!("virDomainCreateWithFlags")
    }
    /// `virDomainCreateXML`: start a transient domain.
    async fn domain_create_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        unsupported!("virDomainCreateXML")
    }
    /// `virDomainDestroyFlags`.
    async fn domain_destroy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        unsupported!("virDomainDestroyFlags")
    }
    /// `virDomainShutdownFlags`.
    async fn domain_shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        unsupported!("virDomainShutdownFlags")
    }
    /// `virDomainReboot`.
    async fn domain_reboot(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        unsupported!("virDomainReboot")
    }
    /// `virDomainReset`.
    async fn domain_reset(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        unsupported!("virDomainReset")
    }
    /// `virDomainSuspend`.
    async fn domain_suspend(&self, dom: &DomainRef) -> Result<()> {
        unsupported!("virDomainSuspend")
    }
    /// `virDomainResume`.
    async fn domain_resume(&self, dom: &DomainRef) -> Result<()> {
        unsupported!("virDomainResume")
    }
    /// `virDomainGetInfo`.
    async fn domain_get_info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        unsupported!("virDomainGetInfo")
    }
    /// `virDomainGetState`: (state, reason).
    async fn domain_get_state(&self, dom: &DomainRef, flags: u32) -> Result<(i32, i32)> {
        unsupported!("virDomainGetState")
    }
    /// `virDomainGetXMLDesc`.
    async fn domain_get_xml_desc(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        unsupported!("virDomainGetXMLDesc")
    }
    /// `virDomainGetAutostart`.
    async fn domain_get_autostart(&self, dom: &DomainRef) -> Result<bool> {
        unsupported!("virDomainGetAutostart")
    }
    /// `virDomainSetAutostart`.
    async fn domain_set_autostart(&self, dom: &DomainRef, autostart: bool) -> Result<()> {
        unsupported!("virDomainSetAutostart")
    }
    /// `virDomainGetOSType`.
    async fn domain_get_os_type(&self, dom: &DomainRef) -> Result<String> {
        unsupported!("virDomainGetOSType")
    }
    /// `virDomainGetMaxMemory` in KiB.
    async fn domain_get_max_memory(&self, dom: &DomainRef) -> Result<u64> {
        unsupported!("virDomainGetMaxMemory")
    }
    /// `virDomainGetVcpusFlags`.
    async fn domain_get_vcpus_flags(&self, dom: &DomainRef, flags: u32) -> Result<i32> {
        unsupported!("virDomainGetVcpusFlags")
    }
    /// `virDomainIsActive`.
    async fn domain_is_active(&self, dom: &DomainRef) -> Result<bool> {
        unsupported!("virDomainIsActive")
    }
    /// `virDomainIsPersistent`.
    async fn domain_is_persistent(&self, dom: &DomainRef) -> Result<bool> {
        unsupported!("virDomainIsPersistent")
    }
    /// `virDomainIsUpdated`.
    async fn domain_is_updated(&self, dom: &DomainRef) -> Result<bool> {
        unsupported!("virDomainIsUpdated")
    }
    /// `virDomainHasManagedSaveImage`.
    async fn domain_has_managed_save_image(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        unsupported!("virDomainHasManagedSaveImage")
    }
    /// `virDomainGetSecurityLabel`: the domain's (first) security label.
    async fn domain_get_security_label(&self, dom: &DomainRef) -> Result<SecurityLabel> {
        unsupported!("virDomainGetSecurityLabel")
    }
    /// `virDomainOpenConsole`: a bidirectional stream to the console `dev_name` (the first
    /// console when `None`); `flags` are `VIR_DOMAIN_CONSOLE_FORCE`/`SAFE`.
    async fn domain_open_console(
        &self,
        dom: &DomainRef,
        dev_name: Option<&str>,
        flags: u32,
    ) -> Result<DuplexStream> {
        unsupported!("virDomainOpenConsole")
    }
    /// `virDomainGetSecurityLabelList`.
    async fn domain_get_security_label_list(&self, dom: &DomainRef) -> Result<Vec<SecurityLabel>> {
        unsupported!("virDomainGetSecurityLabelList")
    }

    // ---- networks ----

    /// `virConnectListAllNetworks` with [`list_networks`] flags.
    async fn list_all_networks(&self, flags: u32) -> Result<Vec<NetworkRef>> {
        unsupported!("virConnectListAllNetworks")
    }
    /// `virNetworkLookupByName`.
    async fn network_lookup_by_name(&self, name: &str) -> Result<NetworkRef> {
        unsupported!("virNetworkLookupByName")
    }
    /// `virNetworkLookupByUUID`.
    async fn network_lookup_by_uuid(&self, uuid: &Uuid) -> Result<NetworkRef> {
        unsupported!("virNetworkLookupByUUID")
    }
    /// `virNetworkDefineXMLFlags`.
    async fn network_define_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        unsupported!("virNetworkDefineXMLFlags")
    }
    /// `virNetworkCreateXMLFlags`: start a transient network.
    async fn network_create_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        unsupported!("virNetworkCreateXMLFlags")
    }
    /// `virNetworkCreate`: start a defined network.
    async fn network_create(&self, net: &NetworkRef) -> Result<()> {
        unsupported!("virNetworkCreate")
    }
    /// `virNetworkDestroy`.
    async fn network_destroy(&self, net: &NetworkRef) -> Result<()> {
        unsupported!("virNetworkDestroy")
    }
    /// `virNetworkUndefine`.
    async fn network_undefine(&self, net: &NetworkRef) -> Result<()> {
        unsupported!("virNetworkUndefine")
    }
    /// `virNetworkGetXMLDesc`.
    async fn network_get_xml_desc(&self, net: &NetworkRef, flags: u32) -> Result<String> {
        unsupported!("virNetworkGetXMLDesc")
    }
    /// `virNetworkGetAutostart`.
    async fn network_get_autostart(&self, net: &NetworkRef) -> Result<bool> {
        unsupported!("virNetworkGetAutostart")
    }
    /// `virNetworkSetAutostart`.
    async fn network_set_autostart(&self, net: &NetworkRef, autostart: bool) -> Result<()> {
        unsupported!("virNetworkSetAutostart")
    }
    /// `virNetworkIsActive`.
    async fn network_is_active(&self, net: &NetworkRef) -> Result<bool> {
        unsupported!("virNetworkIsActive")
    }
    /// `virNetworkIsPersistent`.
    async fn network_is_persistent(&self, net: &NetworkRef) -> Result<bool> {
        unsupported!("virNetworkIsPersistent")
    }
    /// `virNetworkGetBridgeName`.
    async fn network_get_bridge_name(&self, net: &NetworkRef) -> Result<String> {
        unsupported!("virNetworkGetBridgeName")
    }

    // ---- storage pools ----

    /// `virConnectListAllStoragePools` with [`list_pools`] flags.
    async fn list_all_pools(&self, flags: u32) -> Result<Vec<PoolRef>> {
        unsupported!("virConnectListAllStoragePools")
    }
    /// `virStoragePoolLookupByName`.
    async fn pool_lookup_by_name(&self, name: &str) -> Result<PoolRef> {
        unsupported!("virStoragePoolLookupByName")
    }
    /// `virStoragePoolLookupByUUID`.
    async fn pool_lookup_by_uuid(&self, uuid: &Uuid) -> Result<PoolRef> {
        unsupported!("virStoragePoolLookupByUUID")
    }
    /// `virStoragePoolLookupByVolume`.
    async fn pool_lookup_by_volume(&self, vol: &VolRef) -> Result<PoolRef> {
        unsupported!("virStoragePoolLookupByVolume")
    }
    /// `virStoragePoolDefineXML`.
    async fn pool_define_xml(&self, xml: &str, flags: u32) -> Result<PoolRef> {
        unsupported!("virStoragePoolDefineXML")
    }
    /// `virStoragePoolCreateXML`: start a transient pool.
    async fn pool_create_xml(&self, xml: &str, flags: u32) -> Result<PoolRef> {
        unsupported!("virStoragePoolCreateXML")
    }
    /// `virStoragePoolCreate`: start a defined pool.
    async fn pool_create(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        unsupported!("virStoragePoolCreate")
    }
    /// `virStoragePoolBuild`.
    async fn pool_build(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        unsupported!("virStoragePoolBuild")
    }
    /// `virStoragePoolDestroy`.
    async fn pool_destroy(&self, pool: &PoolRef) -> Result<()> {
        unsupported!("virStoragePoolDestroy")
    }
    /// `virStoragePoolDelete`.
    async fn pool_delete(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        unsupported!("virStoragePoolDelete")
    }
    /// `virStoragePoolUndefine`.
    async fn pool_undefine(&self, pool: &PoolRef) -> Result<()> {
        unsupported!("virStoragePoolUndefine")
    }
    /// `virStoragePoolRefresh`.
    async fn pool_refresh(&self, pool: &PoolRef, flags: u32) -> Result<()> {
        unsupported!("virStoragePoolRefresh")
    }
    /// `virStoragePoolGetInfo`.
    async fn pool_get_info(&self, pool: &PoolRef) -> Result<PoolInfo> {
        unsupported!("virStoragePoolGetInfo")
    }
    /// `virStoragePoolGetXMLDesc`.
    async fn pool_get_xml_desc(&self, pool: &PoolRef, flags: u32) -> Result<String> {
        unsupported!("virStoragePoolGetXMLDesc")
    }
    /// `virStoragePoolGetAutostart`.
    async fn pool_get_autostart(&self, pool: &PoolRef) -> Result<bool> {
        unsupported!("virStoragePoolGetAutostart")
    }
    /// `virStoragePoolSetAutostart`.
    async fn pool_set_autostart(&self, pool: &PoolRef, autostart: bool) -> Result<()> {
        unsupported!("virStoragePoolSetAutostart")
    }
    /// `virStoragePoolIsActive`.
    async fn pool_is_active(&self, pool: &PoolRef) -> Result<bool> {
        unsupported!("virStoragePoolIsActive")
    }
    /// `virStoragePoolIsPersistent`.
    async fn pool_is_persistent(&self, pool: &PoolRef) -> Result<bool> {
        unsupported!("virStoragePoolIsPersistent")
    }
    /// `virStoragePoolListAllVolumes`.
    async fn pool_list_all_volumes(&self, pool: &PoolRef, flags: u32) -> Result<Vec<VolRef>> {
        unsupported!("virStoragePoolListAllVolumes")
    }
    /// `virStoragePoolNumOfVolumes`.
    async fn pool_num_of_volumes(&self, pool: &PoolRef) -> Result<i32> {
        unsupported!("virStoragePoolNumOfVolumes")
    }

    // ---- storage volumes ----

    /// `virStorageVolLookupByName`.
    async fn vol_lookup_by_name(&self, pool: &PoolRef, name: &str) -> Result<VolRef> {
        unsupported!("virStorageVolLookupByName")
    }
    /// `virStorageVolLookupByKey`.
    async fn vol_lookup_by_key(&self, key: &str) -> Result<VolRef> {
        unsupported!("virStorageVolLookupByKey")
    }
    /// `virStorageVolLookupByPath`.
    async fn vol_lookup_by_path(&self, path: &str) -> Result<VolRef> {
        unsupported!("virStorageVolLookupByPath")
    }
    /// `virStorageVolCreateXML`.
    async fn vol_create_xml(&self, pool: &PoolRef, xml: &str, flags: u32) -> Result<VolRef> {
        unsupported!("virStorageVolCreateXML")
    }
    /// `virStorageVolCreateXMLFrom`.
    async fn vol_create_xml_from(
        &self,
        pool: &PoolRef,
        xml: &str,
        clone: &VolRef,
        flags: u32,
    ) -> Result<VolRef> {
        unsupported!("virStorageVolCreateXMLFrom")
    }
    /// `virStorageVolDelete`.
    async fn vol_delete(&self, vol: &VolRef, flags: u32) -> Result<()> {
        unsupported!("virStorageVolDelete")
    }
    /// `virStorageVolGetInfo`.
    async fn vol_get_info(&self, vol: &VolRef) -> Result<VolInfo> {
        unsupported!("virStorageVolGetInfo")
    }
    /// `virStorageVolGetXMLDesc`.
    async fn vol_get_xml_desc(&self, vol: &VolRef, flags: u32) -> Result<String> {
        unsupported!("virStorageVolGetXMLDesc")
    }
    /// `virStorageVolGetPath`.
    async fn vol_get_path(&self, vol: &VolRef) -> Result<String> {
        unsupported!("virStorageVolGetPath")
    }
    /// `virStorageVolGetInfoFlags` (`VIR_STORAGE_VOL_GET_PHYSICAL` reports the physical size
    /// as allocation).
    async fn vol_get_info_flags(&self, vol: &VolRef, flags: u32) -> Result<VolInfo> {
        unsupported!("virStorageVolGetInfoFlags")
    }
    /// `virStorageVolResize` to `capacity` bytes (`VIR_STORAGE_VOL_RESIZE_*` flags).
    async fn vol_resize(&self, vol: &VolRef, capacity: u64, flags: u32) -> Result<()> {
        unsupported!("virStorageVolResize")
    }
    /// `virStorageVolWipe`.
    async fn vol_wipe(&self, vol: &VolRef, flags: u32) -> Result<()> {
        unsupported!("virStorageVolWipe")
    }
    /// `virStorageVolWipePattern` with a `virStorageVolWipeAlgorithm`.
    async fn vol_wipe_pattern(&self, vol: &VolRef, algorithm: u32, flags: u32) -> Result<()> {
        unsupported!("virStorageVolWipePattern")
    }
    /// `virStorageVolUpload`: a sink for `length` bytes (0 = to the end) written at `offset`.
    /// `flags` may hold [`vol_stream::SPARSE`] (holes allowed in the stream). The driver's verdict
    /// on the data arrives through [`StreamSink::finish`].
    async fn vol_upload(
        &self,
        vol: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> Result<StreamSink> {
        unsupported!("virStorageVolUpload")
    }
    /// `virStorageVolDownload`: a source of `length` bytes (0 = to the end) from `offset`; with
    /// [`vol_stream::SPARSE`] the source yields holes instead of zeroes where the file has them.
    async fn vol_download(
        &self,
        vol: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> Result<StreamSource> {
        unsupported!("virStorageVolDownload")
    }

    // ---- events ----

    /// Starts delivery of one kind of event. Local drivers always deliver and need nothing; the
    /// remote driver registers a callback with the server the first time each kind is asked for.
    async fn events_enable(&self, kind: EventKind) -> Result<()> {
        Ok(())
    }

    /// Subscribes to every event this driver raises. Callers filter by event id and object.
    /// `None` when the driver raises no events.
    fn subscribe(&self) -> Option<broadcast::Receiver<Event>> {
        None
    }
}

/// `virStorageVolUploadFlags` / `virStorageVolDownloadFlags`.
pub mod vol_stream {
    /// `VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM` = `VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM`.
    pub const SPARSE: u32 = 1;
}

/// `virDomainConsoleFlags`.
pub mod console_flags {
    /// `VIR_DOMAIN_CONSOLE_FORCE`: take the console over from another client.
    pub const FORCE: u32 = 1;
    /// `VIR_DOMAIN_CONSOLE_SAFE`: only open if the driver can guarantee exclusive access.
    pub const SAFE: u32 = 2;
}
