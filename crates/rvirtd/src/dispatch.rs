//! The REMOTE program: each procedure mapped onto the [`rvirt::Driver`] trait.
//!
//! Every procedure goes through the same steps, in libvirtd's order: decode the arguments
//! (undecodable → "Unable to decode message payload", the connection stays up); find the
//! connection's driver (not open → "hypervisor connection not open" / "connection not open");
//! refuse it on a read-only connection where libvirt's public API does ([`crate::readonly`]);
//! call the driver and encode its answer. The mapping is the `procedures!` table below, one line
//! per procedure. Procedures that steer the connection itself (open, close, auth, features,
//! event registration) are written out by hand after it. A procedure of libvirt's table that
//! rvirtd does not implement gets the same checks and then libvirt's `VIR_ERR_NO_SUPPORT` "this
//! function is not supported by the connection driver: virXxx".

use crate::client::{Body, Client, Outcome};
use crate::events::{self, Class};
use crate::paths::SocketKind;
use crate::readonly;
use crate::stream;
use crate::wire_error::{self, internal, report, rpc};
use rvirt::{Driver, NodeInfo};
use rvirt_proto::error::{code, domain};
use rvirt_proto::procedure::{remote_proc as p, remote_procedure};
use rvirt_proto::remote::*;
use rvirt_proto::xdr::{Decoder, Xdr};
use rvirt_proto::xdr_struct;
use std::sync::Arc;

xdr_struct! {
    /// `{remote_nonnull_string xml}`: define/create calls without flags.
    struct XmlArgs { xml: String }
}
xdr_struct! {
    /// `remote_auth_sasl_start_args`.
    struct SaslStartArgs { mech: String, nil: i32, data: Vec<i8> [AUTH_SASL_DATA_MAX] }
}
xdr_struct! {
    /// `remote_auth_sasl_step_args`.
    struct SaslStepArgs { nil: i32, data: Vec<i8> [AUTH_SASL_DATA_MAX] }
}

/// A failed call: the `remote_error` to send (boxed: it is large and errors are rare).
pub(crate) struct Fail(Box<RemoteError>);

impl From<RemoteError> for Fail {
    fn from(e: RemoteError) -> Self {
        Fail(Box::new(e))
    }
}

impl From<Box<RemoteError>> for Fail {
    fn from(e: Box<RemoteError>) -> Self {
        Fail(e)
    }
}

impl From<rvirt::Error> for Fail {
    fn from(e: rvirt::Error) -> Self {
        Fail(Box::new(wire_error::from_driver(&e)))
    }
}

/// Which of libvirtd's per-client connections a procedure uses; only the error text differs.
#[derive(Clone, Copy)]
enum Conn {
    /// The hypervisor connection ("hypervisor connection not open").
    Hypervisor,
    /// The network, storage, … connections ("connection not open").
    Secondary,
}

/// Decodes arguments as libvirt's XDR filters do: trailing bytes are ignored.
fn decode<T: Xdr>(payload: &[u8]) -> Result<T, Fail> {
    T::decode(&mut Decoder::new(payload))
        .map_err(|_| rpc("Unable to decode message payload").into())
}

fn driver(client: &Client, conn: Conn) -> Result<Arc<dyn Driver>, Fail> {
    match client.session().driver.clone() {
        Some(d) => Ok(d),
        None => Err(internal(match conn {
            Conn::Hypervisor => "hypervisor connection not open",
            Conn::Secondary => "connection not open",
        })
        .into()),
    }
}

/// Refuses `proc_` called with `flags` if the connection is read-only and libvirt would.
fn deny(client: &Client, proc_: u32, flags: u32) -> Result<(), Fail> {
    match client
        .read_only()
        .then(|| readonly::denial(proc_, flags))
        .flatten()
    {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// The connection libvirtd's generated dispatcher would use for a procedure it has
/// (`get_conn_method` in gendispatch.pl, by name).
fn conn_of(name: &str) -> Conn {
    const SECONDARY: &[&str] = &["NETWORK", "STORAGE", "INTERFACE", "NWFILTER", "SECRET"];
    let node_device = name.contains("NODE")
        && name.contains("DEVICE")
        && !matches!(
            name,
            "NODE_DEVICE_RESET"
                | "NODE_DEVICE_RE_ATTACH"
                | "NODE_DEVICE_DETTACH"
                | "NODE_DEVICE_DETACH_FLAGS"
        );
    let object = SECONDARY.iter().any(|s| {
        name.starts_with(&format!("{s}_")) || (name.starts_with("CONNECT_") && name.contains(s))
    });
    if node_device || object {
        Conn::Secondary
    } else {
        Conn::Hypervisor
    }
}

/// A `char<N>` array holding a C string: its bytes and the terminating NUL (libvirtd sends
/// `strlen + 1` chars).
fn c_chars(s: &str, max: usize) -> Vec<i8> {
    let b = s.as_bytes();
    let b = &b[..b.len().min(max - 1)];
    b.iter()
        .map(|&c| c as i8)
        .chain(std::iter::once(0))
        .collect()
}

fn node_info(i: NodeInfo) -> NodeGetInfoRet {
    let mut model = [0i8; 32];
    for (dst, src) in model.iter_mut().zip(i.model.bytes().take(31)) {
        *dst = src as i8;
    }
    NodeGetInfoRet {
        model,
        memory: i.memory,
        cpus: i.cpus as i32,
        mhz: i.mhz as i32,
        nodes: i.nodes as i32,
        sockets: i.sockets as i32,
        cores: i.cores as i32,
        threads: i.threads as i32,
    }
}

/// A list-all result: the objects if asked for, and their count.
fn listed<T>(items: Vec<T>, need_results: i32, what: &str) -> Result<(Vec<T>, u32), Fail> {
    if items.len() > LIST_MAX {
        return Err(internal(&format!(
            "Too many {what}s '{}' for limit '{LIST_MAX}'",
            items.len()
        ))
        .into());
    }
    let n = items.len() as u32;
    Ok((if need_results != 0 { items } else { Vec::new() }, n))
}

/// Argument checks of the legacy list calls (`maxids`, `maxnames`).
fn check_max(value: i32, what: &str) -> Result<(), Fail> {
    if value < 0 {
        return Err(rpc(&format!("{what} must be non-negative")).into());
    }
    if value as usize > LIST_MAX {
        return Err(rpc(&format!("{what} > REMOTE_DOMAIN_LIST_MAX")).into());
    }
    Ok(())
}

fn event_id_in(id: i32, last: i32, what: &str) -> Result<(), Fail> {
    if (0..last).contains(&id) {
        Ok(())
    } else {
        Err(internal(&format!("unsupported {what}event ID {id}")).into())
    }
}

/// One line per procedure: `NAME [connection] |driver, args: ArgsType| return value;`. The
/// body may `.await` and `?` driver calls. Arguments are decoded, the connection checked and
/// read-only access enforced before the body runs.
macro_rules! procedures {
    ($client:ident, $num:expr, $payload:ident, $other:expr;
     $( $name:ident [$conn:ident] |$d:ident, $a:ident : $args:ty| $body:expr ; )*) => {
        match $num {
            $( p::$name => {
                #[allow(unused_variables)]
                let $a: $args = decode($payload)?;
                let $d = driver($client, Conn::$conn)?;
                deny($client, p::$name, 0)?;
                #[allow(clippy::let_unit_value, clippy::unit_arg)]
                let ret = $body;
                Ok(Body::of(&ret))
            } )*
            _ => $other,
        }
    };
}

async fn driver_call(
    client: &Arc<Client>,
    num: u32,
    name: &str,
    payload: &[u8],
) -> Result<Body, Fail> {
    procedures! { client, num, payload, not_implemented(client, num, name);
        // ---- connection and host ----
        CONNECT_GET_TYPE [Hypervisor] |d, a: ()| StringRet { value: d.connect_get_type().await? };
        CONNECT_GET_VERSION [Hypervisor] |d, a: ()| UHyperRet { value: d.connect_get_version().await? };
        CONNECT_GET_LIB_VERSION [Hypervisor] |d, a: ()| UHyperRet { value: d.connect_get_lib_version().await? };
        CONNECT_GET_HOSTNAME [Hypervisor] |d, a: ()| StringRet { value: d.connect_get_hostname().await? };
        CONNECT_GET_URI [Hypervisor] |d, a: ()| StringRet { value: d.connect_get_uri().await? };
        CONNECT_GET_CAPABILITIES [Hypervisor] |d, a: ()| StringRet { value: d.connect_get_capabilities().await? };
        CONNECT_GET_SYSINFO [Hypervisor] |d, a: FlagsArgs| StringRet { value: d.connect_get_sysinfo(a.flags).await? };
        CONNECT_GET_MAX_VCPUS [Hypervisor] |d, a: OptStringArgs| IntRet { value: d.connect_get_max_vcpus(a.value.as_deref()).await? };
        CONNECT_GET_DOMAIN_CAPABILITIES [Hypervisor] |d, a: ConnectGetDomainCapabilitiesArgs| StringRet {
            value: d.connect_get_domain_capabilities(
                a.emulatorbin.as_deref(), a.arch.as_deref(), a.machine.as_deref(), a.virttype.as_deref(), a.flags,
            ).await?
        };
        CONNECT_IS_SECURE [Hypervisor] |d, a: ()| IntRet { value: d.connect_is_secure().await?.into() };
        NODE_GET_INFO [Hypervisor] |d, a: ()| node_info(d.node_get_info().await?);
        NODE_GET_FREE_MEMORY [Hypervisor] |d, a: ()| {
            // 0 is virNodeGetFreeMemory's failure value: libvirtd fails the call, and when the
            // driver set no error (the test driver on a node without cells), libvirt's API layer
            // reports its generic failure.
            let value = d.node_get_free_memory().await?;
            if value == 0 {
                return Err(wire_error::from_driver(&rvirt::Error::unknown()).into());
            }
            UHyperRet { value }
        };
        NODE_GET_SECURITY_MODEL [Hypervisor] |d, a: ()| {
            let m = d.node_get_security_model().await?;
            NodeGetSecurityModelRet {
                model: c_chars(&m.model, SECURITY_MODEL_MAX),
                doi: c_chars(&m.doi, SECURITY_DOI_MAX),
            }
        };

        // ---- domains ----
        CONNECT_LIST_ALL_DOMAINS [Hypervisor] |d, a: ListAllArgs| {
            let (domains, ret) = listed(d.list_all_domains(a.flags).await?, a.need_results, "domain")?;
            ListAllDomainsRet { domains, ret }
        };
        CONNECT_LIST_DOMAINS [Hypervisor] |d, a: IntArgs| {
            check_max(a.value, "maxids")?;
            ListIdsRet { ids: d.list_domain_ids(a.value).await? }
        };
        CONNECT_NUM_OF_DOMAINS [Hypervisor] |d, a: ()| IntRet { value: d.num_of_domains().await? };
        CONNECT_LIST_DEFINED_DOMAINS [Hypervisor] |d, a: IntArgs| {
            check_max(a.value, "maxnames")?;
            ListNamesRet { names: d.list_defined_domains(a.value).await? }
        };
        CONNECT_NUM_OF_DEFINED_DOMAINS [Hypervisor] |d, a: ()| IntRet { value: d.num_of_defined_domains().await? };
        DOMAIN_LOOKUP_BY_ID [Hypervisor] |d, a: IntArgs| DomainRet { dom: d.domain_lookup_by_id(a.value).await? };
        DOMAIN_LOOKUP_BY_NAME [Hypervisor] |d, a: NameArgs| DomainRet { dom: d.domain_lookup_by_name(&a.name).await? };
        DOMAIN_LOOKUP_BY_UUID [Hypervisor] |d, a: UuidArgs| DomainRet { dom: d.domain_lookup_by_uuid(&a.uuid).await? };
        DOMAIN_DEFINE_XML [Hypervisor] |d, a: XmlArgs| DomainRet { dom: d.domain_define_xml(&a.xml, 0).await? };
        DOMAIN_DEFINE_XML_FLAGS [Hypervisor] |d, a: XmlFlagsArgs| DomainRet { dom: d.domain_define_xml(&a.xml, a.flags).await? };
        DOMAIN_UNDEFINE [Hypervisor] |d, a: DomainArgs| d.domain_undefine(&a.dom, 0).await?;
        DOMAIN_UNDEFINE_FLAGS [Hypervisor] |d, a: DomainFlagsArgs| d.domain_undefine(&a.dom, a.flags).await?;
        DOMAIN_CREATE [Hypervisor] |d, a: DomainArgs| { d.domain_create(&a.dom, 0).await?; };
        DOMAIN_CREATE_WITH_FLAGS [Hypervisor] |d, a: DomainFlagsArgs| DomainRet { dom: d.domain_create(&a.dom, a.flags).await? };
        DOMAIN_CREATE_XML [Hypervisor] |d, a: XmlFlagsArgs| DomainRet { dom: d.domain_create_xml(&a.xml, a.flags).await? };
        DOMAIN_DESTROY [Hypervisor] |d, a: DomainArgs| d.domain_destroy(&a.dom, 0).await?;
        DOMAIN_DESTROY_FLAGS [Hypervisor] |d, a: DomainFlagsArgs| d.domain_destroy(&a.dom, a.flags).await?;
        DOMAIN_SHUTDOWN [Hypervisor] |d, a: DomainArgs| d.domain_shutdown(&a.dom, 0).await?;
        DOMAIN_SHUTDOWN_FLAGS [Hypervisor] |d, a: DomainFlagsArgs| d.domain_shutdown(&a.dom, a.flags).await?;
        DOMAIN_REBOOT [Hypervisor] |d, a: DomainFlagsArgs| d.domain_reboot(&a.dom, a.flags).await?;
        DOMAIN_RESET [Hypervisor] |d, a: DomainFlagsArgs| d.domain_reset(&a.dom, a.flags).await?;
        DOMAIN_SUSPEND [Hypervisor] |d, a: DomainArgs| d.domain_suspend(&a.dom).await?;
        DOMAIN_RESUME [Hypervisor] |d, a: DomainArgs| d.domain_resume(&a.dom).await?;
        DOMAIN_GET_INFO [Hypervisor] |d, a: DomainArgs| {
            let i = d.domain_get_info(&a.dom).await?;
            DomainGetInfoRet {
                state: i.state,
                max_mem: i.max_mem,
                memory: i.memory,
                nr_virt_cpu: i.nr_virt_cpu,
                cpu_time: i.cpu_time,
            }
        };
        DOMAIN_GET_STATE [Hypervisor] |d, a: DomainFlagsArgs| {
            let (state, reason) = d.domain_get_state(&a.dom, a.flags).await?;
            DomainGetStateRet { state, reason }
        };
        DOMAIN_GET_XML_DESC [Hypervisor] |d, a: DomainFlagsArgs| {
            deny(client, p::DOMAIN_GET_XML_DESC, a.flags)?;
            StringRet { value: d.domain_get_xml_desc(&a.dom, a.flags).await? }
        };
        DOMAIN_GET_AUTOSTART [Hypervisor] |d, a: DomainArgs| IntRet { value: d.domain_get_autostart(&a.dom).await?.into() };
        DOMAIN_SET_AUTOSTART [Hypervisor] |d, a: DomainIntArgs| d.domain_set_autostart(&a.dom, a.value != 0).await?;
        DOMAIN_GET_OS_TYPE [Hypervisor] |d, a: DomainArgs| StringRet { value: d.domain_get_os_type(&a.dom).await? };
        DOMAIN_GET_MAX_MEMORY [Hypervisor] |d, a: DomainArgs| UHyperRet { value: d.domain_get_max_memory(&a.dom).await? };
        DOMAIN_GET_VCPUS_FLAGS [Hypervisor] |d, a: DomainFlagsArgs| {
            deny(client, p::DOMAIN_GET_VCPUS_FLAGS, a.flags)?;
            IntRet { value: d.domain_get_vcpus_flags(&a.dom, a.flags).await? }
        };
        DOMAIN_IS_ACTIVE [Hypervisor] |d, a: DomainArgs| IntRet { value: d.domain_is_active(&a.dom).await?.into() };
        DOMAIN_IS_PERSISTENT [Hypervisor] |d, a: DomainArgs| IntRet { value: d.domain_is_persistent(&a.dom).await?.into() };
        DOMAIN_IS_UPDATED [Hypervisor] |d, a: DomainArgs| IntRet { value: d.domain_is_updated(&a.dom).await?.into() };
        DOMAIN_HAS_MANAGED_SAVE_IMAGE [Hypervisor] |d, a: DomainFlagsArgs| IntRet { value: d.domain_has_managed_save_image(&a.dom, a.flags).await?.into() };
        DOMAIN_GET_SECURITY_LABEL [Hypervisor] |d, a: DomainArgs| {
            let l = d.domain_get_security_label(&a.dom).await?;
            SecurityLabel { label: c_chars(&l.label, SECURITY_LABEL_MAX), enforcing: l.enforcing.into() }
        };
        DOMAIN_GET_SECURITY_LABEL_LIST [Hypervisor] |d, a: DomainArgs| {
            // libvirtd quirk: a failure is not reported; the reply says ret = -1 with no labels.
            match d.domain_get_security_label_list(&a.dom).await {
                Ok(labels) => SecurityLabelListRet {
                    ret: labels.len() as i32,
                    labels: labels.into_iter().take(SECURITY_LABEL_LIST_MAX)
                        .map(|l| SecurityLabel { label: c_chars(&l.label, SECURITY_LABEL_MAX), enforcing: l.enforcing.into() })
                        .collect(),
                },
                Err(_) => SecurityLabelListRet { labels: Vec::new(), ret: -1 },
            }
        };

        // ---- networks ----
        CONNECT_LIST_ALL_NETWORKS [Secondary] |d, a: ListAllArgs| {
            let (nets, ret) = listed(d.list_all_networks(a.flags).await?, a.need_results, "network")?;
            ListAllNetworksRet { nets, ret }
        };
        NETWORK_LOOKUP_BY_NAME [Secondary] |d, a: NameArgs| NetworkRet { net: d.network_lookup_by_name(&a.name).await? };
        NETWORK_LOOKUP_BY_UUID [Secondary] |d, a: UuidArgs| NetworkRet { net: d.network_lookup_by_uuid(&a.uuid).await? };
        NETWORK_DEFINE_XML [Secondary] |d, a: XmlArgs| NetworkRet { net: d.network_define_xml(&a.xml, 0).await? };
        NETWORK_DEFINE_XML_FLAGS [Secondary] |d, a: XmlFlagsArgs| NetworkRet { net: d.network_define_xml(&a.xml, a.flags).await? };
        NETWORK_CREATE_XML [Secondary] |d, a: XmlArgs| NetworkRet { net: d.network_create_xml(&a.xml, 0).await? };
        NETWORK_CREATE_XML_FLAGS [Secondary] |d, a: XmlFlagsArgs| NetworkRet { net: d.network_create_xml(&a.xml, a.flags).await? };
        NETWORK_CREATE [Secondary] |d, a: NetworkArgs| d.network_create(&a.net).await?;
        NETWORK_DESTROY [Secondary] |d, a: NetworkArgs| d.network_destroy(&a.net).await?;
        NETWORK_UNDEFINE [Secondary] |d, a: NetworkArgs| d.network_undefine(&a.net).await?;
        NETWORK_GET_XML_DESC [Secondary] |d, a: NetworkFlagsArgs| StringRet { value: d.network_get_xml_desc(&a.net, a.flags).await? };
        NETWORK_GET_AUTOSTART [Secondary] |d, a: NetworkArgs| IntRet { value: d.network_get_autostart(&a.net).await?.into() };
        NETWORK_SET_AUTOSTART [Secondary] |d, a: NetworkIntArgs| d.network_set_autostart(&a.net, a.value != 0).await?;
        NETWORK_IS_ACTIVE [Secondary] |d, a: NetworkArgs| IntRet { value: d.network_is_active(&a.net).await?.into() };
        NETWORK_IS_PERSISTENT [Secondary] |d, a: NetworkArgs| IntRet { value: d.network_is_persistent(&a.net).await?.into() };
        NETWORK_GET_BRIDGE_NAME [Secondary] |d, a: NetworkArgs| StringRet { value: d.network_get_bridge_name(&a.net).await? };

        // ---- storage pools ----
        CONNECT_LIST_ALL_STORAGE_POOLS [Secondary] |d, a: ListAllArgs| {
            let (pools, ret) = listed(d.list_all_pools(a.flags).await?, a.need_results, "storage_pool")?;
            ListAllPoolsRet { pools, ret }
        };
        STORAGE_POOL_LOOKUP_BY_NAME [Secondary] |d, a: NameArgs| PoolRet { pool: d.pool_lookup_by_name(&a.name).await? };
        STORAGE_POOL_LOOKUP_BY_UUID [Secondary] |d, a: UuidArgs| PoolRet { pool: d.pool_lookup_by_uuid(&a.uuid).await? };
        STORAGE_POOL_LOOKUP_BY_VOLUME [Secondary] |d, a: VolArgs| PoolRet { pool: d.pool_lookup_by_volume(&a.vol).await? };
        STORAGE_POOL_DEFINE_XML [Secondary] |d, a: XmlFlagsArgs| PoolRet { pool: d.pool_define_xml(&a.xml, a.flags).await? };
        STORAGE_POOL_CREATE_XML [Secondary] |d, a: XmlFlagsArgs| PoolRet { pool: d.pool_create_xml(&a.xml, a.flags).await? };
        STORAGE_POOL_CREATE [Secondary] |d, a: PoolFlagsArgs| d.pool_create(&a.pool, a.flags).await?;
        STORAGE_POOL_BUILD [Secondary] |d, a: PoolFlagsArgs| d.pool_build(&a.pool, a.flags).await?;
        STORAGE_POOL_DESTROY [Secondary] |d, a: PoolArgs| d.pool_destroy(&a.pool).await?;
        STORAGE_POOL_DELETE [Secondary] |d, a: PoolFlagsArgs| d.pool_delete(&a.pool, a.flags).await?;
        STORAGE_POOL_UNDEFINE [Secondary] |d, a: PoolArgs| d.pool_undefine(&a.pool).await?;
        STORAGE_POOL_REFRESH [Secondary] |d, a: PoolFlagsArgs| d.pool_refresh(&a.pool, a.flags).await?;
        STORAGE_POOL_GET_INFO [Secondary] |d, a: PoolArgs| {
            let i = d.pool_get_info(&a.pool).await?;
            PoolGetInfoRet { state: i.state, capacity: i.capacity, allocation: i.allocation, available: i.available }
        };
        STORAGE_POOL_GET_XML_DESC [Secondary] |d, a: PoolFlagsArgs| StringRet { value: d.pool_get_xml_desc(&a.pool, a.flags).await? };
        STORAGE_POOL_GET_AUTOSTART [Secondary] |d, a: PoolArgs| IntRet { value: d.pool_get_autostart(&a.pool).await?.into() };
        STORAGE_POOL_SET_AUTOSTART [Secondary] |d, a: PoolIntArgs| d.pool_set_autostart(&a.pool, a.value != 0).await?;
        STORAGE_POOL_IS_ACTIVE [Secondary] |d, a: PoolArgs| IntRet { value: d.pool_is_active(&a.pool).await?.into() };
        STORAGE_POOL_IS_PERSISTENT [Secondary] |d, a: PoolArgs| IntRet { value: d.pool_is_persistent(&a.pool).await?.into() };
        STORAGE_POOL_LIST_ALL_VOLUMES [Secondary] |d, a: PoolListAllVolumesArgs| {
            let (vols, ret) = listed(d.pool_list_all_volumes(&a.pool, a.flags).await?, a.need_results, "storage_vol")?;
            ListAllVolumesRet { vols, ret }
        };
        STORAGE_POOL_NUM_OF_VOLUMES [Secondary] |d, a: PoolArgs| IntRet { value: d.pool_num_of_volumes(&a.pool).await? };

        // ---- storage volumes ----
        STORAGE_VOL_LOOKUP_BY_NAME [Secondary] |d, a: VolLookupByNameArgs| VolRet { vol: d.vol_lookup_by_name(&a.pool, &a.name).await? };
        STORAGE_VOL_LOOKUP_BY_KEY [Secondary] |d, a: NameArgs| VolRet { vol: d.vol_lookup_by_key(&a.name).await? };
        STORAGE_VOL_LOOKUP_BY_PATH [Secondary] |d, a: NameArgs| VolRet { vol: d.vol_lookup_by_path(&a.name).await? };
        STORAGE_VOL_CREATE_XML [Secondary] |d, a: VolCreateXmlArgs| VolRet { vol: d.vol_create_xml(&a.pool, &a.xml, a.flags).await? };
        STORAGE_VOL_CREATE_XML_FROM [Secondary] |d, a: VolCreateXmlFromArgs| VolRet { vol: d.vol_create_xml_from(&a.pool, &a.xml, &a.clonevol, a.flags).await? };
        STORAGE_VOL_DELETE [Secondary] |d, a: VolFlagsArgs| d.vol_delete(&a.vol, a.flags).await?;
        STORAGE_VOL_GET_INFO [Secondary] |d, a: VolArgs| {
            let i = d.vol_get_info(&a.vol).await?;
            VolGetInfoRet { type_: i.type_, capacity: i.capacity, allocation: i.allocation }
        };
        STORAGE_VOL_GET_INFO_FLAGS [Secondary] |d, a: VolFlagsArgs| {
            let i = d.vol_get_info_flags(&a.vol, a.flags).await?;
            VolGetInfoRet { type_: i.type_, capacity: i.capacity, allocation: i.allocation }
        };
        STORAGE_VOL_RESIZE [Secondary] |d, a: VolResizeArgs| d.vol_resize(&a.vol, a.capacity, a.flags).await?;
        STORAGE_VOL_WIPE [Secondary] |d, a: VolFlagsArgs| d.vol_wipe(&a.vol, a.flags).await?;
        STORAGE_VOL_WIPE_PATTERN [Secondary] |d, a: VolWipePatternArgs| d.vol_wipe_pattern(&a.vol, a.algorithm, a.flags).await?;
        STORAGE_VOL_GET_XML_DESC [Secondary] |d, a: VolFlagsArgs| StringRet { value: d.vol_get_xml_desc(&a.vol, a.flags).await? };
        STORAGE_VOL_GET_PATH [Secondary] |d, a: VolArgs| StringRet { value: d.vol_get_path(&a.vol).await? };
    }
}

/// A procedure of libvirt's table that rvirtd does not implement: libvirtd's connection and
/// read-only checks, then what libvirt answers for a driver without that function: "this
/// function is not supported by the connection driver: virXxx", in the API's error domain.
/// Event messages (DOMAIN_EVENT_LIFECYCLE, …), which no client may call, stay "unknown
/// procedure", as in libvirtd.
fn not_implemented(client: &Client, num: u32, name: &str) -> Result<Body, Fail> {
    let dispatchable = !name.contains("_EVENT_") || name.contains("REGISTER");
    if !dispatchable {
        return Err(rpc(&format!("unknown procedure: {num}")).into());
    }
    driver(client, conn_of(name))?;
    deny(client, num, 0)?;
    let api = remote_procedure(num as i32).map_or(name, |i| i.api);
    Err(wire_error::from_driver(&rvirt::Error::no_support(api)).into())
}

/// Procedures that steer the connection: open, close, auth, features, close callbacks and
/// event (de)registration.
async fn connection_call(
    client: &Arc<Client>,
    num: u32,
    name: &str,
    payload: &[u8],
) -> Result<Body, Fail> {
    let auth_failed = || report(code::AUTH_FAILED, domain::RPC, "authentication failed");
    Ok(match num {
        p::AUTH_LIST => Body::of(&AuthListRet { types: vec![0] }),
        // Only "none" is configured: every other auth step fails as libvirtd's does.
        p::AUTH_SASL_INIT => return Err(auth_failed().into()),
        p::AUTH_SASL_START => {
            decode::<SaslStartArgs>(payload)?;
            return Err(auth_failed().into());
        }
        p::AUTH_SASL_STEP => {
            decode::<SaslStepArgs>(payload)?;
            return Err(auth_failed().into());
        }
        // libvirtd fails this without setting an error when polkit is not the socket's auth.
        p::AUTH_POLKIT => return Err(wire_error::unset().into()),
        p::CONNECT_OPEN => {
            let a: ConnectOpenArgs = decode(payload)?;
            if client.session().driver.is_some() {
                return Err(internal("connection already open").into());
            }
            // VIR_CONNECT_RO; a read-only socket forces it.
            let read_only = a.flags & 1 != 0 || client.kind == SocketKind::ReadOnly;
            let name = a.name.unwrap_or_default();
            // Opening may read files (a test node file, a driver's state): keep it off the
            // async workers so a slow disk, or a FIFO, stalls only this connection.
            let mode = client.shared.mode;
            let drv = tokio::task::spawn_blocking(move || crate::drivers::open(&name, mode))
                .await
                .map_err(|e| internal(&format!("opening the driver failed: {e}")))??;
            let mut s = client.session();
            s.driver = Some(drv);
            s.read_only = read_only;
            Body::empty()
        }
        p::CONNECT_SUPPORTS_FEATURE => {
            let a: IntArgs = decode(payload)?;
            // VIR_DRV_FEATURE_PROGRAM_KEEPALIVE is asked before CONNECT_OPEN.
            if a.value == 10 {
                client.start_keepalive();
                return Ok(Body::of(&IntRet { value: 1 }));
            }
            let d = driver(client, Conn::Hypervisor)?;
            let supported = match a.value {
                // FD_PASSING, REMOTE_EVENT_CALLBACK, REMOTE_CLOSE_CALLBACK: the daemon's own.
                8 | 14 | 15 => 1,
                f => i32::from(d.connect_supports_feature(f).await?),
            };
            Body::of(&IntRet { value: supported })
        }
        p::CONNECT_REGISTER_CLOSE_CALLBACK | p::CONNECT_UNREGISTER_CLOSE_CALLBACK => {
            driver(client, Conn::Hypervisor)?;
            client.session().close_callback = num == p::CONNECT_REGISTER_CLOSE_CALLBACK;
            Body::empty()
        }
        p::CONNECT_DOMAIN_EVENT_REGISTER => {
            let d = driver(client, Conn::Hypervisor)?;
            events::register(client, &d, Class::Domain, 0, None, true).await?;
            // cb_registered is left 0 by libvirtd.
            Body::of(&IntRet { value: 0 })
        }
        p::CONNECT_DOMAIN_EVENT_DEREGISTER => {
            driver(client, Conn::Hypervisor)?;
            events::deregister_event(client, 0)?;
            Body::of(&IntRet { value: 0 })
        }
        p::CONNECT_DOMAIN_EVENT_REGISTER_ANY => {
            let a: EventIdArgs = decode(payload)?;
            let d = driver(client, Conn::Hypervisor)?;
            event_id_in(a.event_id, events::DOMAIN_EVENT_ID_LEGACY_MAX + 1, "")?;
            events::register(client, &d, Class::Domain, a.event_id, None, true).await?;
            Body::empty()
        }
        p::CONNECT_DOMAIN_EVENT_DEREGISTER_ANY => {
            let a: EventIdArgs = decode(payload)?;
            driver(client, Conn::Hypervisor)?;
            event_id_in(a.event_id, events::DOMAIN_EVENT_ID_LEGACY_MAX + 1, "")?;
            events::deregister_event(client, a.event_id)?;
            Body::empty()
        }
        p::CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY => {
            let a: DomainEventCallbackRegisterArgs = decode(payload)?;
            let d = driver(client, Conn::Hypervisor)?;
            event_id_in(a.event_id, events::DOMAIN_EVENT_ID_LAST, "")?;
            let filter = a.dom.map(|d| d.uuid);
            let id = events::register(client, &d, Class::Domain, a.event_id, filter, false).await?;
            Body::of(&CallbackIdArgs { callback_id: id })
        }
        p::CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY => {
            let a: CallbackIdArgs = decode(payload)?;
            driver(client, Conn::Hypervisor)?;
            events::deregister_id(client, Class::Domain, a.callback_id)?;
            Body::empty()
        }
        p::CONNECT_NETWORK_EVENT_REGISTER_ANY => {
            let a: NetworkEventRegisterArgs = decode(payload)?;
            let d = driver(client, Conn::Secondary)?;
            event_id_in(a.event_id, events::NETWORK_EVENT_ID_LAST, "network ")?;
            let filter = a.net.map(|n| n.uuid);
            let id =
                events::register(client, &d, Class::Network, a.event_id, filter, false).await?;
            Body::of(&CallbackIdArgs { callback_id: id })
        }
        p::CONNECT_NETWORK_EVENT_DEREGISTER_ANY => {
            let a: CallbackIdArgs = decode(payload)?;
            driver(client, Conn::Secondary)?;
            events::deregister_id(client, Class::Network, a.callback_id)?;
            Body::empty()
        }
        p::CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY => {
            let a: PoolEventRegisterArgs = decode(payload)?;
            let d = driver(client, Conn::Secondary)?;
            event_id_in(a.event_id, events::POOL_EVENT_ID_LAST, "storage pool ")?;
            let filter = a.pool.map(|p| p.uuid);
            let id = events::register(client, &d, Class::Pool, a.event_id, filter, false).await?;
            Body::of(&CallbackIdArgs { callback_id: id })
        }
        p::CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY => {
            let a: CallbackIdArgs = decode(payload)?;
            driver(client, Conn::Secondary)?;
            events::deregister_id(client, Class::Pool, a.callback_id)?;
            Body::empty()
        }
        _ => return driver_call(client, num, name, payload).await,
    })
}

/// Procedures that open a data stream: libvirtd's checks, the driver's call, then the
/// stream's route, opened before the reply is queued so that nothing the client sends right
/// after REPLY OK is lost. `None` for every other procedure.
async fn stream_call(
    client: &Client,
    num: u32,
    serial: u32,
    payload: &[u8],
) -> Result<Option<stream::Pending>, Fail> {
    let ends = match num {
        p::STORAGE_VOL_UPLOAD | p::STORAGE_VOL_DOWNLOAD => {
            let a: VolStreamArgs = decode(payload)?;
            let d = driver(client, Conn::Secondary)?;
            deny(client, num, a.flags)?;
            let sparse = a.flags & rvirt::driver::vol_stream::SPARSE != 0;
            if num == p::STORAGE_VOL_UPLOAD {
                let sink = d.vol_upload(&a.vol, a.offset, a.length, a.flags).await?;
                stream::Ends {
                    incoming: Some(sink),
                    outgoing: None,
                    sparse,
                }
            } else {
                let source = d.vol_download(&a.vol, a.offset, a.length, a.flags).await?;
                stream::Ends {
                    incoming: None,
                    outgoing: Some(source),
                    sparse,
                }
            }
        }
        p::DOMAIN_OPEN_CONSOLE => {
            let a: DomainOpenConsoleArgs = decode(payload)?;
            let d = driver(client, Conn::Hypervisor)?;
            deny(client, num, a.flags)?;
            let console = d
                .domain_open_console(&a.dom, a.dev_name.as_deref(), a.flags)
                .await?;
            // What the client types goes to the console; its output to the client.
            stream::Ends {
                incoming: Some(console.tx),
                outgoing: Some(console.rx),
                sparse: false,
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(stream::Pending {
        rx: client.streams.open(serial),
        ends,
    }))
}

/// Runs one call of the REMOTE program (`serial` names the stream a call may open).
pub(crate) async fn call(client: &Arc<Client>, proc_: i32, serial: u32, payload: &[u8]) -> Outcome {
    let Some(info) = remote_procedure(proc_) else {
        return Outcome::err(rpc(&format!("unknown procedure: {proc_}")));
    };
    if info.number == p::CONNECT_CLOSE {
        // Answered, then the connection is closed once the reply is out.
        return Outcome {
            result: Ok(Body::empty()),
            close_after: true,
            stream: None,
        };
    }
    if info.stream != rvirt_proto::procedure::StreamDir::None {
        match stream_call(client, info.number, serial, payload).await {
            Ok(Some(pending)) => {
                return Outcome {
                    result: Ok(Body::empty()),
                    close_after: false,
                    stream: Some(pending),
                }
            }
            Err(Fail(e)) => return Outcome::err(*e),
            Ok(None) => {}
        }
    }
    match connection_call(client, info.number, info.name, payload).await {
        Ok(body) => Outcome {
            result: Ok(body),
            close_after: false,
            stream: None,
        },
        Err(Fail(e)) => Outcome::err(*e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_kinds_follow_gendispatch() {
        assert!(matches!(conn_of("DOMAIN_GET_INFO"), Conn::Hypervisor));
        assert!(matches!(
            conn_of("DOMAIN_INTERFACE_ADDRESSES"),
            Conn::Hypervisor
        ));
        assert!(matches!(conn_of("NETWORK_UPDATE"), Conn::Secondary));
        assert!(matches!(
            conn_of("CONNECT_LIST_ALL_STORAGE_POOLS"),
            Conn::Secondary
        ));
        assert!(matches!(
            conn_of("CONNECT_NUM_OF_INTERFACES"),
            Conn::Secondary
        ));
        assert!(matches!(conn_of("NODE_NUM_OF_DEVICES"), Conn::Secondary));
        assert!(matches!(
            conn_of("NODE_DEVICE_DETACH_FLAGS"),
            Conn::Hypervisor
        ));
        assert!(matches!(conn_of("NODE_GET_INFO"), Conn::Hypervisor));
        assert!(matches!(conn_of("SECRET_GET_VALUE"), Conn::Secondary));
    }

    #[test]
    fn c_strings_carry_their_nul() {
        assert_eq!(c_chars("ab", 257), vec![b'a' as i8, b'b' as i8, 0]);
        assert_eq!(c_chars("", 257), vec![0]);
        assert_eq!(c_chars("abcdef", 4).len(), 4);
    }

    #[test]
    fn list_limits() {
        assert!(check_max(-1, "maxids").is_err());
        assert!(check_max(16385, "maxids").is_err());
        assert!(check_max(16384, "maxids").is_ok());
        let (v, n) = listed(vec![1, 2, 3], 0, "domain").ok().unwrap();
        assert!(v.is_empty());
        assert_eq!(n, 3);
    }

    #[test]
    fn trailing_bytes_are_ignored_like_libvirt() {
        let a: IntArgs = decode(&[0, 0, 0, 5, 9, 9, 9, 9]).ok().unwrap();
        assert_eq!(a.value, 5);
        assert!(decode::<IntArgs>(&[0, 0]).is_err());
    }
}
