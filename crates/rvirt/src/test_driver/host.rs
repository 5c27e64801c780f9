//! The test driver's host half: what `test:///default` contains, how a test node file
//! (`test:///path/node.xml`) is loaded, the fake authentication such a file can ask for, and the
//! connection-level answers (type, version, hostname, capabilities, node info, sysinfo, …),
//! all as libvirt 9.0's `test_driver.c` gives them.
//!
//! A node file is a `<node>` element holding `<cpu>` and `<memory>` (node info), `<domain>`,
//! `<network>` and `<pool>` (with `<volume>`) objects, each inline or as `<x file='…'/>`
//! relative to the node file, and `<auth><user password='…'>name</user></auth>`.
//! `test:///default` is the same format: [`DEFAULT_NODE`] is our own statement of libvirt's
//! default objects, loaded through the same path.

use super::*;
use crate::auth::{self, Credential, CredentialType};
use rvirt_xml::capabilities::{Capabilities, CellCpu};
use rvirt_xml::conf::{self as xconf, Node};
use std::path::{Path, PathBuf};

/// Host facts of one driver instance.
#[derive(Default)]
pub(crate) struct Host {
    /// `virNodeInfo`.
    pub(crate) node_info: NodeInfo,
    /// NUMA cells: memory and free memory in KiB.
    pub(crate) cells: Vec<Cell>,
    /// The capabilities document, built before the node file is read (as libvirt does).
    pub(crate) caps: Capabilities,
    /// `<auth>` users and their optional passwords.
    pub(crate) auths: Vec<(String, Option<String>)>,
}

/// A NUMA cell of the fake host.
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    pub(crate) mem: u64,
    pub(crate) free_mem: u64,
}

/// libvirt's `defaultNodeInfo`: i686, 3 GiB, 16 CPUs at 1400 MHz in 2 nodes × 2 sockets ×
/// 2 cores × 2 threads.
fn default_node_info() -> NodeInfo {
    NodeInfo {
        model: "i686".into(),
        memory: 3 * 1024 * 1024,
        cpus: 16,
        mhz: 1400,
        nodes: 2,
        sockets: 2,
        cores: 2,
        threads: 2,
    }
}

/// Whether the real host has IOMMU groups; libvirt's test driver reports the host's answer.
fn host_has_iommu() -> bool {
    std::fs::read_dir("/sys/kernel/iommu_groups/")
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
}

/// The objects of `test:///default`, written for rvirt: a running domain `test`, an active NAT
/// network `default` on `virbr0` with DHCP, and an active directory pool `default-pool`.
/// (libvirt's default also has an interface `eth1` and node devices; rvirt's test driver has no
/// interface or node-device API, so they are not listed.)
pub(crate) const DEFAULT_NODE: &str = r#"<?xml version="1.0"?>
<node>
  <domain type="test">
    <name>test</name>
    <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
    <memory>8388608</memory>
    <currentMemory>2097152</currentMemory>
    <vcpu>2</vcpu>
    <os><type>hvm</type></os>
    <devices>
      <disk type="file" device="disk">
        <source file="/guest/diskimage1"/>
        <target dev="vda" bus="virtio"/>
        <address type="pci" domain="0x0000" bus="0x01" slot="0x00" function="0x0"/>
      </disk>
      <interface type="network">
        <mac address="aa:bb:cc:dd:ee:ff"/>
        <source network="default" bridge="virbr0"/>
        <address type="pci" domain="0x0000" bus="0x00" slot="0x1" function="0x0"/>
      </interface>
      <memballoon model="virtio">
        <address type="pci" domain="0x0000" bus="0x00" slot="0x2" function="0x0"/>
      </memballoon>
    </devices>
  </domain>
  <network>
    <name>default</name>
    <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
    <bridge name="virbr0"/>
    <forward/>
    <ip address="192.168.122.1" netmask="255.255.255.0">
      <dhcp><range start="192.168.122.2" end="192.168.122.254"/></dhcp>
    </ip>
  </network>
  <pool type="dir">
    <name>default-pool</name>
    <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>
    <target><path>/default-pool</path></target>
  </pool>
</node>
"#;

fn new_state(host: Host) -> State {
    State {
        host,
        domains: Default::default(),
        networks: Default::default(),
        storage: Default::default(),
    }
}

/// The host of `test:///default` (`testOpenDefault`): two NUMA cells of eight CPUs, cell `i`
/// with `(i+1)·2 GiB` of memory and `(i+1)·1 GiB` free.
fn default_host(iommu: bool) -> Host {
    let cells: Vec<Cell> = (0..2u64)
        .map(|i| Cell {
            mem: (i + 1) * 2048 * 1024,
            free_mem: (i + 1) * 1024 * 1024,
        })
        .collect();
    let cap_cells: Vec<(Vec<CellCpu>, u64)> = cells
        .iter()
        .enumerate()
        .map(|(c, cell)| {
            let cpus = (0..8u32)
                .map(|j| {
                    let id = c as u32 * 8 + j;
                    CellCpu {
                        id,
                        socket_id: (id / 8) as i32,
                        die_id: 0,
                        core_id: (id % 8) as i32,
                        siblings: Some(vec![id]),
                    }
                })
                .collect();
            (cpus, cell.mem)
        })
        .collect();
    Host {
        node_info: default_node_info(),
        caps: Capabilities::test_driver(&cap_cells, iommu),
        cells,
        auths: Vec::new(),
    }
}

/// Builds `test:///default`: the default host, then the default node document.
pub(super) fn default_state() -> Result<State> {
    let mut state = new_state(default_host(host_has_iommu()));
    let doc = xconf::parse_document(DEFAULT_NODE, "(test driver)", "node", errdom::TEST)?;
    parse_node(&mut state, doc.root_element(), None)?;
    Ok(state)
}

/// Loads a test node file (`testOpenFromFile`) and, when it lists `<auth>` users, asks `auth`
/// for a username and password (`testConnectAuthenticate`).
pub(super) fn load_node_file(path: &str, auth: Option<&Auth>) -> Result<State> {
    let host = Host {
        node_info: default_node_info(),
        caps: Capabilities::test_driver(&[], host_has_iommu()),
        cells: Vec::new(),
        auths: Vec::new(),
    };
    let mut state = new_state(host);
    let text = read_xml_file(Path::new(path))?;
    let doc = xconf::parse_document(&text, path, "node", errdom::TEST)?;
    parse_node(&mut state, doc.root_element(), Some(Path::new(path)))?;
    authenticate(&state.host.auths, auth)?;
    Ok(state)
}

/// A driver state from node-document text, as a node file would give (for tests).
#[cfg(test)]
pub(super) fn state_from_text(xml: &str) -> Result<State> {
    let host = Host {
        node_info: default_node_info(),
        caps: Capabilities::test_driver(&[], false),
        cells: Vec::new(),
        auths: Vec::new(),
    };
    let mut state = new_state(host);
    let doc = xconf::parse_document(xml, "(test)", "node", errdom::TEST)?;
    parse_node(&mut state, doc.root_element(), None)?;
    Ok(state)
}

fn read_xml_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|_| {
        Error::new(
            code::XML_ERROR,
            errdom::TEST,
            format!("failed to parse xml document '{}'", path.display()),
        )
    })
}

/// `testBuildFilename`: a `file=` attribute relative to the node file's directory.
fn build_filename(node_file: Option<&Path>, rel: &str) -> PathBuf {
    let p = Path::new(rel);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    let dir = node_file
        .and_then(|f| f.parent())
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".".into());
    let dir = if dir.is_empty() { ".".into() } else { dir };
    PathBuf::from(format!("{dir}/{rel}"))
}

/// `testParseXMLDocFromFile`: runs `f` on the element itself, or on the root of the file its
/// `file` attribute names (which must have the same element name). `f` also gets the element's
/// XML text.
fn with_element<T>(
    node: Node,
    node_file: Option<&Path>,
    f: impl FnOnce(Node, &str) -> Result<T>,
) -> Result<T> {
    match node.attribute("file") {
        Some(rel) => {
            let path = build_filename(node_file, rel);
            let text = read_xml_file(&path)?;
            let doc = xconf::parse_document(
                &text,
                &path.to_string_lossy(),
                node.tag_name().name(),
                errdom::TEST,
            )?;
            let root = doc.root_element();
            f(root, &text[root.range()])
        }
        None => f(node, &node.document().input_text()[node.range()]),
    }
}

fn xml_error(detail: &str) -> Error {
    Error::new(code::XML_ERROR, errdom::TEST, detail)
}

/// `virXPathUInt("string(/node/cpu/<name>[1])")`: `None` when absent or empty, an error when
/// present but not a non-negative integer.
fn cpu_uint(root: Node, name: &str) -> Result<Option<u32>> {
    match xconf::xpath_text(root, &["cpu", name]) {
        None => Ok(None),
        Some(v) => xconf::str_to_u32_pos(&v, 10)
            .map(Some)
            .ok_or_else(|| xml_error(&format!("invalid node cpu {name} value"))),
    }
}

/// `testParseNodeInfo`.
fn parse_node_info(info: &mut NodeInfo, root: Node) -> Result<()> {
    if let Some(v) = cpu_uint(root, "nodes")? {
        info.nodes = v;
    }
    if let Some(v) = cpu_uint(root, "sockets")? {
        info.sockets = v;
    }
    if let Some(v) = cpu_uint(root, "cores")? {
        info.cores = v;
    }
    if let Some(v) = cpu_uint(root, "threads")? {
        info.threads = v;
    }
    info.cpus = info
        .cores
        .wrapping_mul(info.threads)
        .wrapping_mul(info.sockets)
        .wrapping_mul(info.nodes);
    if let Some(active) = cpu_uint(root, "active")? {
        if active < info.cpus {
            info.cpus = active;
        }
    }
    if let Some(v) = cpu_uint(root, "mhz")? {
        info.mhz = v;
    }
    if let Some(model) = xconf::xpath_text(root, &["cpu", "model"]) {
        // The model lives in a 32-byte C buffer.
        if model.len() >= 32 {
            return Err(Error::internal(
                errdom::TEST,
                format!("Model {model} too big for destination"),
            ));
        }
        info.model = model;
    }
    if let Some(m) = xconf::xpath_text(root, &["memory"]) {
        info.memory =
            xconf::str_to_u64_pos(&m, 10).ok_or_else(|| xml_error("invalid node memory value"))?;
    }
    Ok(())
}

/// `testOpenParse`: node info, domains, networks, pools with their volumes, auth users.
fn parse_node(state: &mut State, root: Node, node_file: Option<&Path>) -> Result<()> {
    parse_node_info(&mut state.host.node_info, root)?;
    for d in xconf::children(root, "domain") {
        with_element(d, node_file, |_, xml| load_domain(state, xml))?;
    }
    for n in xconf::children(root, "network") {
        with_element(n, node_file, |node, _| {
            network::load_node_network(state, node)
        })?;
    }
    for p in xconf::children(root, "pool") {
        with_element(p, node_file, |node, _| {
            let (name, pool_type) = storage::load_node_pool(state, node)?;
            // The volumes are the children of the element actually parsed: those of a
            // `<pool file=…>` element itself are dropped, as in libvirt.
            for v in xconf::children(node, "volume") {
                with_element(v, node_file, |vn, _| {
                    let def = rvirt_xml::storage::VolDef::parse_node(pool_type, vn)?;
                    storage::load_node_volume(state, &name, def)
                })?;
            }
            Ok(())
        })?;
    }
    for u in xconf::children(root, "auth").flat_map(|a| xconf::children(a, "user")) {
        let name = xconf::text_content(u);
        if name.is_empty() {
            return Err(xml_error("missing username in /node/auth/user field"));
        }
        state
            .host
            .auths
            .push((name, u.attribute("password").map(str::to_string)));
    }
    Ok(())
}

/// Loads one node-file domain into the domain half of the driver.
fn load_domain(state: &mut State, xml: &str) -> Result<()> {
    super::domain::load(state, xml)
}

/// `testConnectAuthenticate`: username first, then (unless the user exists without a
/// password) the password, each through the caller's callback.
fn authenticate(users: &[(String, Option<String>)], auth: Option<&Auth>) -> Result<()> {
    if users.is_empty() {
        return Ok(());
    }
    let missing = |what: &str| Error::new(code::AUTH_FAILED, errdom::AUTH, what);
    let has = |t: CredentialType| auth.is_some_and(|a| a.cred_types.contains(&t));
    if auth.is_some() && !has(CredentialType::Authname) {
        return Err(missing("Missing VIR_CRED_AUTHNAME credential type"));
    }
    let mut user = [Credential {
        challenge: Some("localhost".into()),
        ..Credential::new(CredentialType::Authname, "Enter username for localhost")
    }];
    auth::ask(auth, &mut user)?;
    let username = user[0].result.take().unwrap_or_default();
    let found = users.iter().find(|(u, _)| *u == username);
    let mut password = None;
    if found.is_none_or(|(_, p)| p.is_some()) {
        let pw_type = auth.and_then(|a| {
            a.cred_types
                .iter()
                .copied()
                .find(|t| matches!(t, CredentialType::Passphrase | CredentialType::NoEchoPrompt))
        });
        let Some(pw_type) = pw_type else {
            return Err(missing(
                "Missing VIR_CRED_PASSPHRASE or VIR_CRED_NOECHOPROMPT credential type",
            ));
        };
        let mut pw = [Credential {
            challenge: Some("localhost".into()),
            ..Credential::new(
                pw_type,
                format!("Enter {username}'s password for localhost"),
            )
        }];
        auth::ask(auth, &mut pw)?;
        password = pw[0].result.take();
    }
    match found {
        Some((_, expected)) if password.is_none() || *expected == password => Ok(()),
        _ => Err(Error::new(
            code::AUTH_FAILED,
            errdom::TEST,
            "authentication failed, see test XML for the correct username/password",
        )),
    }
}

pub(super) fn connect_get_type(_drv: &TestDriver) -> Result<String> {
    Ok("TEST".into())
}

pub(super) fn connect_get_version(_drv: &TestDriver) -> Result<u64> {
    Ok(2)
}

/// `virGetHostname`: the kernel's host name, canonicalised through the resolver unless it is
/// already qualified or starts with `localhost`.
pub(super) fn connect_get_hostname(_drv: &TestDriver) -> Result<String> {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is a valid writable buffer of the length passed; gethostname writes at most
    // that many bytes.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return Err(Error::new(
            code::SYSTEM_ERROR,
            errdom::NONE,
            format!(
                "failed to determine host name: {}",
                std::io::Error::last_os_error()
            ),
        ));
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len() - 1);
    let name = String::from_utf8_lossy(&buf[..end]).into_owned();
    if name.starts_with("localhost") || name.contains('.') {
        return Ok(name);
    }
    Ok(canonical_name(&name).unwrap_or(name))
}

/// The resolver's canonical name for `host` (`getaddrinfo` with `AI_CANONNAME`), unless it is
/// missing or a `localhost` name.
fn canonical_name(host: &str) -> Option<String> {
    let c_host = std::ffi::CString::new(host).ok()?;
    // SAFETY: an all-zero addrinfo is a valid "no hints" value that we then fill in.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_flags = libc::AI_CANONNAME;
    hints.ai_family = libc::AF_UNSPEC;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid NUL-terminated host, null service, valid hints and result pointer.
    let r = unsafe { libc::getaddrinfo(c_host.as_ptr(), std::ptr::null(), &hints, &mut res) };
    if r != 0 || res.is_null() {
        return None;
    }
    // SAFETY: getaddrinfo succeeded, so `res` points to a valid list whose canonname, when set,
    // is a NUL-terminated string; the list is freed exactly once below.
    let out = unsafe {
        let cn = (*res).ai_canonname;
        let s =
            (!cn.is_null()).then(|| std::ffi::CStr::from_ptr(cn).to_string_lossy().into_owned());
        libc::freeaddrinfo(res);
        s
    };
    out.filter(|s| !s.starts_with("localhost"))
}

pub(super) fn connect_get_uri(drv: &TestDriver) -> Result<String> {
    Ok(drv.uri().to_string())
}

pub(super) fn connect_get_capabilities(drv: &TestDriver) -> Result<String> {
    Ok(drv.lock().host.caps.format())
}

/// libvirt's test driver answers a fixed SMBIOS document.
const SYSINFO: &str = "<sysinfo type='smbios'>
  <bios>
    <entry name='vendor'>LENOVO</entry>
    <entry name='version'>G4ETA1WW (2.61 )</entry>
    <entry name='date'>05/07/2014</entry>
    <entry name='release'>2.61</entry>
  </bios>
</sysinfo>
";

/// `virCheckFlags` for a test-driver function: unsupported bits are `VIR_ERR_INVALID_ARG`.
pub(super) fn check_flags(flags: u32, supported: u32, func: &str) -> Result<()> {
    let bad = flags & !supported;
    if bad != 0 {
        return Err(Error::raw(
            code::INVALID_ARG,
            errdom::TEST,
            format!("unsupported flags (0x{bad:x}) in function {func}"),
        ));
    }
    Ok(())
}

pub(super) fn connect_get_sysinfo(_drv: &TestDriver, flags: u32) -> Result<String> {
    check_flags(flags, 0, "testConnectGetSysinfo")?;
    Ok(SYSINFO.into())
}

pub(super) fn connect_get_max_vcpus(_drv: &TestDriver, _type_: Option<&str>) -> Result<i32> {
    Ok(32)
}

pub(super) fn node_get_info(drv: &TestDriver) -> Result<NodeInfo> {
    Ok(drv.lock().host.node_info.clone())
}

/// `testNodeGetFreeMemory`: the cells' free memory summed in a C `unsigned int`.
pub(super) fn node_get_free_memory(drv: &TestDriver) -> Result<u64> {
    let st = drv.lock();
    let sum = st
        .host
        .cells
        .iter()
        .fold(0u32, |acc, c| acc.wrapping_add(c.free_mem as u32));
    Ok(sum as u64)
}

pub(super) fn node_get_security_model(drv: &TestDriver) -> Result<SecurityModel> {
    let st = drv.lock();
    Ok(st
        .host
        .caps
        .host
        .secmodels
        .first()
        .map(|s| SecurityModel {
            model: s.model.clone(),
            doi: s.doi.clone(),
        })
        .unwrap_or_default())
}

/// `testConnectSupportsFeature`: file-descriptor passing, string typed parameters and the
/// corrected `virNetworkUpdate` argument order; nothing else.
pub(super) fn connect_supports_feature(_drv: &TestDriver, feature: i32) -> Result<bool> {
    Ok(matches!(feature, 8 | 9 | 16))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn auth_with(answers: Vec<Option<&'static str>>) -> Auth {
        let answers = Arc::new(Mutex::new(answers));
        Auth {
            cred_types: vec![CredentialType::Authname, CredentialType::Passphrase],
            callback: Box::new(move |creds| {
                let mut a = answers.lock().unwrap();
                for c in creds.iter_mut() {
                    c.result = a.remove(0).map(str::to_string);
                }
                Ok(())
            }),
        }
    }

    #[test]
    fn auth_follows_test_driver_rules() {
        let users = vec![
            ("alice".to_string(), Some("secret".to_string())),
            ("bob".to_string(), None),
        ];
        authenticate(
            &users,
            Some(&auth_with(vec![Some("alice"), Some("secret")])),
        )
        .unwrap();
        authenticate(&users, Some(&auth_with(vec![Some("bob")]))).unwrap();
        let e =
            authenticate(&users, Some(&auth_with(vec![Some("alice"), Some("wrong")]))).unwrap_err();
        assert_eq!(
            e.message,
            "authentication failed: authentication failed, see test XML for the correct username/password"
        );
        let e = authenticate(&users, Some(&auth_with(vec![Some("eve"), Some("x")]))).unwrap_err();
        assert_eq!(e.code, code::AUTH_FAILED);
        let e = authenticate(&users, Some(&auth_with(vec![None]))).unwrap_err();
        assert_eq!(e.message, "authentication failed: Username request failed");
        let e = authenticate(&users, Some(&auth_with(vec![Some("alice"), None]))).unwrap_err();
        assert_eq!(e.message, "authentication failed: Password request failed");
        let e = authenticate(&users, None).unwrap_err();
        assert_eq!(
            (e.code, e.domain, e.message.as_str()),
            (
                code::INVALID_ARG,
                errdom::AUTH,
                "invalid argument: Missing authentication credentials"
            )
        );
        authenticate(&[], None).unwrap();
        let mut only_pw = auth_with(vec![Some("pw")]);
        only_pw.cred_types = vec![CredentialType::Passphrase];
        assert_eq!(
            authenticate(&users, Some(&only_pw)).unwrap_err().message,
            "authentication failed: Missing VIR_CRED_AUTHNAME credential type"
        );
        let mut only_user = auth_with(vec![Some("alice")]);
        only_user.cred_types = vec![CredentialType::Authname];
        assert_eq!(
            authenticate(&users, Some(&only_user)).unwrap_err().message,
            "authentication failed: Missing VIR_CRED_PASSPHRASE or VIR_CRED_NOECHOPROMPT credential type"
        );
    }

    #[test]
    fn capabilities_match_libvirt() {
        // Expected documents captured from libvirtd 9.0 (a host without IOMMU groups).
        assert_eq!(
            default_host(false).caps.format(),
            include_str!("../../../rvirt-xml/tests/data/caps/test-default.out.xml")
        );
        assert_eq!(
            Capabilities::test_driver(&[], false).format(),
            include_str!("../../../rvirt-xml/tests/data/caps/test-nodefile.out.xml")
        );
        let h = default_host(false);
        assert_eq!(
            h.cells.iter().fold(0u32, |a, c| a + c.free_mem as u32),
            3145728
        );
    }

    #[tokio::test]
    async fn domain_capabilities_are_not_supported_as_in_libvirt() {
        // libvirt's test driver has no connectGetDomainCapabilities: the API reports
        // VIR_ERR_NO_SUPPORT from libvirt-domain.c, and a read-only connection is refused first.
        let c = crate::Connect::open(Some("test:///default")).await.unwrap();
        let e = c
            .get_domain_capabilities(None, None, None, Some("kvm"), 0)
            .await
            .unwrap_err();
        assert_eq!((e.code, e.domain), (code::NO_SUPPORT, errdom::DOMAIN));
        assert_eq!(
            e.message,
            "this function is not supported by the connection driver: virConnectGetDomainCapabilities"
        );
        let ro = crate::Connect::open_read_only(Some("test:///default"))
            .await
            .unwrap();
        let e = ro
            .get_domain_capabilities(None, None, None, None, 0)
            .await
            .unwrap_err();
        assert_eq!((e.code, e.domain), (code::OPERATION_DENIED, errdom::DOMAIN));
        assert_eq!(
            e.message,
            "operation forbidden: read only access prevents virConnectGetDomainCapabilities"
        );
    }

    #[test]
    fn node_info_from_cpu_element() {
        let doc = xconf::parse_document(
            "<node><cpu><mhz>6000</mhz><model>i986</model><active>50</active><nodes>4</nodes><sockets>4</sockets><cores>4</cores><threads>2</threads></cpu><memory>8192000</memory></node>",
            "(test)",
            "node",
            errdom::TEST,
        )
        .unwrap();
        let mut info = default_node_info();
        parse_node_info(&mut info, doc.root_element()).unwrap();
        assert_eq!(info.cpus, 50);
        assert_eq!(info.mhz, 6000);
        assert_eq!(info.model, "i986");
        assert_eq!(info.memory, 8192000);
        let bad = xconf::parse_document(
            "<node><cpu><nodes>x</nodes></cpu></node>",
            "(test)",
            "node",
            errdom::TEST,
        )
        .unwrap();
        let e = parse_node_info(&mut info, bad.root_element()).unwrap_err();
        assert_eq!(e.message, "XML error: invalid node cpu nodes value");
    }
}
