//! Storage sources (`virStorageSource`) as disks, backing stores, iSCSI host devices and NVRAM
//! images describe them: local paths, network block devices (hosts, authentication, TLS,
//! cookies), storage pool volumes, NVMe namespaces and vhost-user sockets, with the encryption,
//! persistent-reservation, slice and security-label children (`virDomainStorageSourceParse`,
//! `virDomainDiskSourceFormat`, and the helpers of `storage_source_conf.c`,
//! `storage_encryption_conf.c` and `virsecret.c`).

use super::super::buf::Buf;
use super::super::seclabel::{self, DeviceSeclabel};
use super::super::xml::{
    child, children, first, internal, prop, prop_enum, prop_enum_required, prop_uint,
    prop_uint_required, prop_yes_no, report, str_to_uip, str_to_ull, str_to_ullp, unsupported,
    uuid_format, uuid_parse, xattr, xml_enum, xml_error, xpath_ull, yes_no, Node, Result, XmlEnum,
};
use rvirt_proto::error::{code, domain};

xml_enum! {
    /// `virStorageType`.
    pub enum StorageType {
        None = "none", File = "file", Block = "block", Dir = "dir", Network = "network",
        Volume = "volume", Nvme = "nvme", Vhostuser = "vhostuser",
    }
}

xml_enum! {
    /// `virStorageFileFormat`.
    pub enum StorageFormat {
        None = "none", Raw = "raw", Dir = "dir", Bochs = "bochs", Cloop = "cloop", Dmg = "dmg",
        Iso = "iso", Vpc = "vpc", Vdi = "vdi", Fat = "fat", Vhd = "vhd", Ploop = "ploop",
        Cow = "cow", Qcow = "qcow", Qcow2 = "qcow2", Qed = "qed", Vmdk = "vmdk",
    }
}

xml_enum! {
    /// `virStorageNetProtocol`.
    pub enum NetProtocol {
        None = "none", Nbd = "nbd", Rbd = "rbd", Sheepdog = "sheepdog", Gluster = "gluster",
        Iscsi = "iscsi", Http = "http", Https = "https", Ftp = "ftp", Ftps = "ftps",
        Tftp = "tftp", Ssh = "ssh", Vxhs = "vxhs", Nfs = "nfs",
    }
}

xml_enum! {
    /// `virStorageNetHostTransport`.
    pub enum HostTransport { Tcp = "tcp", Unix = "unix", Rdma = "rdma" }
}

xml_enum! {
    /// `virStorageSourcePoolMode`.
    pub enum PoolMode { Default = "default", Host = "host", Direct = "direct" }
}

xml_enum! {
    /// `virStorageAuthType`.
    pub enum AuthType { None = "none", Chap = "chap", Ceph = "ceph" }
}

xml_enum! {
    /// `virStorageEncryptionFormatType`.
    pub enum EncryptionFormat { Default = "default", Qcow = "qcow", Luks = "luks", Luks2 = "luks2" }
}

xml_enum! {
    /// `virStorageEncryptionEngine`.
    pub enum EncryptionEngine { Default = "default", Qemu = "qemu", Librbd = "librbd" }
}

xml_enum! {
    /// `virSecretUsageType`.
    pub enum SecretUsage {
        None = "none", Volume = "volume", Ceph = "ceph", Iscsi = "iscsi", Tls = "tls",
        Vtpm = "vtpm",
    }
}

/// How a secret is found (`virSecretLookupTypeDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretLookup {
    /// `uuid=`.
    Uuid([u8; 16]),
    /// `usage=`.
    Usage(String),
}

/// `virSecretLookupParseSecret`.
pub(crate) fn parse_secret_lookup(n: &Node) -> Result<SecretLookup> {
    let none = |s: &str| report(code::XML_ERROR, domain::NONE, s);
    match (prop(n, "uuid"), prop(n, "usage")) {
        (None, None) => Err(none("missing secret uuid or usage attribute")),
        (Some(_), Some(_)) => Err(none("either secret uuid or usage expected")),
        (Some(u), None) => uuid_parse(&u)
            .map(SecretLookup::Uuid)
            .ok_or_else(|| none(&format!("invalid secret uuid '{u}'"))),
        (None, Some(u)) => Ok(SecretLookup::Usage(u)),
    }
}

/// `virSecretLookupFormatSecret`.
pub(crate) fn format_secret_lookup(b: &mut Buf, type_: Option<&str>, s: &SecretLookup) {
    match type_ {
        Some(t) => b.add(&format!("<secret type='{t}'")),
        None => b.add("<secret"),
    }
    match s {
        SecretLookup::Uuid(u) => b.add(&format!(" uuid='{}'/>\n", uuid_format(u))),
        SecretLookup::Usage(u) => b.esc(" usage='%s'/>\n", Some(u)),
    }
}

/// `<auth>` (`virStorageAuthDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// `username=`.
    pub username: String,
    /// `type=`.
    pub type_: AuthType,
    /// `<secret type=…>`.
    pub secret_type: Option<String>,
    /// `<secret uuid|usage>`.
    pub secret: SecretLookup,
}

fn storage_error(c: i32, detail: impl Into<String>) -> crate::XmlError {
    report(c, domain::STORAGE, detail)
}

/// `virStorageAuthDefParse`.
pub(crate) fn parse_auth(n: Node) -> Result<Auth> {
    let Some(username) = prop(&n, "username").filter(|s| !s.is_empty()) else {
        return Err(storage_error(code::XML_ERROR, "missing username for auth"));
    };
    let type_ = match prop(&n, "type").filter(|s| !s.is_empty()) {
        None => AuthType::None,
        Some(t) => AuthType::parse(&t).ok_or_else(|| {
            storage_error(code::CONFIG_UNSUPPORTED, format!("unknown auth type '{t}'"))
        })?,
    };
    let Some(s) = child(n, "secret") else {
        return Err(storage_error(
            code::XML_ERROR,
            "Missing <secret> element in auth",
        ));
    };
    Ok(Auth {
        username,
        type_,
        secret_type: prop(&s, "type"),
        secret: parse_secret_lookup(&s)?,
    })
}

/// `virStorageAuthDefFormat`.
pub(crate) fn format_auth(b: &mut Buf, a: &Auth) {
    if a.type_ == AuthType::None {
        b.esc("<auth username='%s'>\n", Some(&a.username));
    } else {
        b.add(&format!("<auth type='{}' ", a.type_.as_str()));
        b.esc("username='%s'>\n", Some(&a.username));
    }
    b.adjust(2);
    format_secret_lookup(b, a.secret_type.as_deref(), &a.secret);
    b.adjust(-2);
    b.add("</auth>\n");
}

/// `<encryption>` (`virStorageEncryption`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encryption {
    /// `format=`.
    pub format: EncryptionFormat,
    /// `engine=`.
    pub engine: Option<EncryptionEngine>,
    /// `<secret type='passphrase'>`s.
    pub secrets: Vec<SecretLookup>,
    /// `<cipher name size mode hash>` (LUKS).
    pub cipher: Option<(String, u32, Option<String>, Option<String>)>,
    /// `<ivgen name hash>` (LUKS).
    pub ivgen: Option<(String, Option<String>)>,
}

/// `virStorageEncryptionParseNode`.
pub(crate) fn parse_encryption(n: Node) -> Result<Encryption> {
    let Some(f) = prop(&n, "format").filter(|s| !s.is_empty()) else {
        return Err(storage_error(
            code::XML_ERROR,
            "unknown volume encryption format",
        ));
    };
    let format = EncryptionFormat::parse(&f).ok_or_else(|| {
        storage_error(
            code::CONFIG_UNSUPPORTED,
            format!("unknown volume encryption format type {f}"),
        )
    })?;
    let engine = prop_enum(&n, "engine", true)?;
    let mut secrets = Vec::new();
    for s in children(n, "secret") {
        let Some(t) = prop(&s, "type").filter(|s| !s.is_empty()) else {
            return Err(storage_error(
                code::XML_ERROR,
                "unknown volume encryption secret type",
            ));
        };
        if t != "passphrase" {
            return Err(storage_error(
                code::CONFIG_UNSUPPORTED,
                format!("unknown volume encryption secret type {t}"),
            ));
        }
        secrets.push(parse_secret_lookup(&s)?);
    }
    let mut enc = Encryption {
        format,
        engine,
        secrets,
        cipher: None,
        ivgen: None,
    };
    if format == EncryptionFormat::Luks {
        if let Some(c) = child(n, "cipher") {
            let Some(name) = prop(&c, "name") else {
                return Err(storage_error(
                    code::XML_ERROR,
                    "cipher info missing 'name' attribute",
                ));
            };
            let size = prop_uint_required(&c, "size", 10, false)?;
            enc.cipher = Some((name, size, prop(&c, "mode"), prop(&c, "hash")));
        }
        if let Some(iv) = child(n, "ivgen") {
            if enc.cipher.is_none() {
                return Err(storage_error(
                    code::XML_ERROR,
                    "ivgen element found, but cipher is missing",
                ));
            }
            let Some(name) = prop(&iv, "name") else {
                return Err(storage_error(
                    code::XML_ERROR,
                    "missing ivgen info name string",
                ));
            };
            enc.ivgen = Some((name, prop(&iv, "hash")));
        }
    }
    Ok(enc)
}

/// `virStorageEncryptionFormat`.
pub(crate) fn format_encryption(b: &mut Buf, e: &Encryption) {
    match e.engine.filter(|x| *x != EncryptionEngine::Default) {
        None => b.add(&format!("<encryption format='{}'>\n", e.format.as_str())),
        Some(en) => b.add(&format!(
            "<encryption format='{}' engine='{}'>\n",
            e.format.as_str(),
            en.as_str()
        )),
    }
    b.adjust(2);
    for s in &e.secrets {
        format_secret_lookup(b, Some("passphrase"), s);
    }
    if e.format == EncryptionFormat::Luks {
        if let Some((name, size, mode, hash)) = &e.cipher {
            b.esc("<cipher name='%s'", Some(name));
            b.add(&format!(" size='{size}'"));
            b.esc(" mode='%s'", mode.as_deref());
            b.esc(" hash='%s'", hash.as_deref());
            b.add("/>\n");
            if let Some((name, hash)) = &e.ivgen {
                b.esc("<ivgen name='%s'", Some(name));
                b.esc(" hash='%s'", hash.as_deref());
                b.add("/>\n");
            }
        }
    }
    b.adjust(-2);
    b.add("</encryption>\n");
}

/// A network host (`virStorageNetHostDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetHost {
    /// `name=`.
    pub name: Option<String>,
    /// `port=` (0: unset).
    pub port: u32,
    /// `transport=`.
    pub transport: HostTransport,
    /// `socket=`.
    pub socket: Option<String>,
}

/// `virDomainStorageNetworkParseHost`.
pub(crate) fn parse_host(n: &Node) -> Result<NetHost> {
    let tr = prop(n, "transport");
    let transport = match &tr {
        None => HostTransport::Tcp,
        Some(t) => HostTransport::parse(t)
            .ok_or_else(|| unsupported(format!("unknown protocol transport type '{t}'")))?,
    };
    let socket = prop(n, "socket");
    if transport == HostTransport::Unix && socket.is_none() {
        return Err(xml_error("missing socket for unix transport"));
    }
    if transport != HostTransport::Unix && socket.is_some() {
        return Err(xml_error(format!(
            "transport '{}' does not support socket attribute",
            tr.as_deref().unwrap_or("(null)")
        )));
    }
    let mut h = NetHost {
        name: None,
        port: 0,
        transport,
        socket,
    };
    if transport != HostTransport::Unix {
        let Some(name) = prop(n, "name") else {
            return Err(xml_error("missing name for host"));
        };
        h.name = Some(name);
        if let Some(p) = prop(n, "port") {
            h.port = parse_port(&p)?;
        }
    }
    Ok(h)
}

/// `virStringParsePort`.
pub(crate) fn parse_port(p: &str) -> Result<u32> {
    let v = str_to_uip(p, 10).ok_or_else(|| {
        report(
            code::INVALID_ARG,
            domain::NONE,
            format!("failed to parse port number '{p}'"),
        )
    })?;
    if v > u16::MAX as u32 {
        return Err(report(
            code::INVALID_ARG,
            domain::NONE,
            format!("port '{p}' out of range"),
        ));
    }
    Ok(v)
}

/// `<reconnect>` of a character device or vhost-user socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reconnect {
    /// `enabled=`.
    pub enabled: Option<bool>,
    /// `timeout=` (when enabled).
    pub timeout: u32,
}

/// `virDomainChrSourceReconnectDefParseXML` for the `<reconnect>` child of `n`.
pub(crate) fn parse_reconnect(n: Node) -> Result<Reconnect> {
    let mut r = Reconnect::default();
    if let Some(c) = first(n, "reconnect") {
        r.enabled = prop_yes_no(&c, "enabled")?;
        if r.enabled == Some(true) {
            r.timeout = prop_uint_required(&c, "timeout", 10, false)?;
        }
    }
    Ok(r)
}

/// `virDomainChrSourceReconnectDefFormat`.
pub(crate) fn format_reconnect(b: &mut Buf, r: &Reconnect) {
    let Some(e) = r.enabled else { return };
    b.add(&format!("<reconnect enabled='{}'", yes_no(e)));
    if e {
        b.add(&format!(" timeout='{}'", r.timeout));
    }
    b.add("/>\n");
}

/// A PCI address as `virPCIDeviceAddressParseXML` reads it (host devices, NVMe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PciHostAddr {
    /// Domain.
    pub domain: u32,
    /// Bus.
    pub bus: u32,
    /// Slot.
    pub slot: u32,
    /// Function.
    pub function: u32,
}

/// `virPCIDeviceAddressParseXML` (without zPCI).
pub(crate) fn parse_pci_addr(n: &Node) -> Result<PciHostAddr> {
    let a = PciHostAddr {
        domain: prop_uint(n, "domain", 0, false)?.unwrap_or(0),
        bus: prop_uint(n, "bus", 0, false)?.unwrap_or(0),
        slot: prop_uint(n, "slot", 0, false)?.unwrap_or(0),
        function: prop_uint(n, "function", 0, false)?.unwrap_or(0),
    };
    super::super::xml::prop_on_off(n, "multifunction")?;
    if !(a.domain == 0 && a.bus == 0 && a.slot == 0) {
        super::check_pci_addr(a.domain, a.bus, a.slot, a.function)?;
    }
    // A zPCI extension is read (and checked) but not kept: libvirt does not write it here.
    if let Some(z) = n
        .children()
        .find(|c| c.is_element() && c.tag_name().name() == "zpci")
    {
        prop_uint(&z, "uid", 0, false)?;
        prop_uint(&z, "fid", 0, false)?;
    }
    Ok(a)
}

/// `virPCIDeviceAddressFormat`.
pub(crate) fn format_pci_addr(b: &mut Buf, a: &PciHostAddr, include_type: bool) {
    b.add(&format!(
        "<address {}domain='0x{:04x}' bus='0x{:02x}' slot='0x{:02x}' function='0x{}'/>\n",
        if include_type { "type='pci' " } else { "" },
        a.domain,
        a.bus,
        a.slot,
        a.function
    ));
}

/// Network-specific parts of a source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetSourceInfo {
    /// `protocol=`.
    pub protocol: Option<NetProtocol>,
    /// The pool part of an RBD or Gluster `name=` (`pool/image`).
    pub volume: Option<String>,
    /// `query=` (http, https).
    pub query: Option<String>,
    /// `tls=`.
    pub tls: Option<bool>,
    /// `tlsHostname=`.
    pub tls_hostname: Option<String>,
    /// `<host>`s.
    pub hosts: Vec<NetHost>,
    /// `<snapshot name>`.
    pub snapshot: Option<String>,
    /// `<config file>`.
    pub config_file: Option<String>,
    /// `<identity user group>` (NFS).
    pub nfs_identity: (Option<String>, Option<String>),
    /// `<initiator><iqn name>`.
    pub initiator: Option<String>,
    /// `<ssl verify>`.
    pub sslverify: Option<bool>,
    /// `<cookies>`: (name, value).
    pub cookies: Vec<(String, String)>,
    /// `<readahead size>`.
    pub readahead: u64,
    /// `<timeout seconds>`.
    pub timeout: u64,
}

/// A storage source (`virStorageSource`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskSource {
    /// `type=` of the disk (or backing store).
    pub type_: StorageType,
    /// `file=`, `dev=` or `dir=`, or the image part of a network `name=`.
    pub path: Option<String>,
    /// `fdgroup=` (file sources).
    pub fdgroup: Option<String>,
    /// `<driver type=…>` / `<format type=…>`.
    pub format: Option<StorageFormat>,
    /// `<driver><metadata_cache><max_size>` in bytes.
    pub metadata_cache_max: Option<u64>,
    /// `<backingStore>`: `Some(None)` for the `<backingStore/>` terminator.
    pub backing: Option<Option<Box<DiskSource>>>,
    /// Network source details.
    pub net: NetSourceInfo,
    /// `<source pool volume mode>` (volume sources).
    pub pool: Option<(String, String, Option<PoolMode>)>,
    /// NVMe: (namespace, managed, PCI address).
    pub nvme: Option<(u64, Option<bool>, PciHostAddr)>,
    /// vhost-user socket path and reconnect.
    pub vhostuser: Option<(String, Reconnect)>,
    /// `<auth>`.
    pub auth: Option<Auth>,
    /// `<encryption>`.
    pub encryption: Option<Encryption>,
    /// `<reservations managed>` and its socket path.
    pub pr: Option<(bool, Option<String>)>,
    /// `<slices><slice type='storage' offset size>`.
    pub slice: Option<(u64, u64)>,
    /// `<seclabel>` overrides.
    pub seclabels: Vec<DeviceSeclabel>,
}

impl DiskSource {
    /// An empty source of `type_`.
    pub fn new(type_: StorageType) -> Self {
        Self {
            type_,
            path: None,
            fdgroup: None,
            format: None,
            metadata_cache_max: None,
            backing: None,
            net: NetSourceInfo::default(),
            pool: None,
            nvme: None,
            vhostuser: None,
            auth: None,
            encryption: None,
            pr: None,
            slice: None,
            seclabels: Vec::new(),
        }
    }
}

fn default_port(p: NetProtocol) -> u32 {
    match p {
        NetProtocol::Http => 80,
        NetProtocol::Https => 443,
        NetProtocol::Ftp => 21,
        NetProtocol::Ftps => 990,
        NetProtocol::Tftp => 69,
        NetProtocol::Sheepdog => 7000,
        NetProtocol::Nbd => 10809,
        NetProtocol::Ssh => 22,
        NetProtocol::Iscsi => 3260,
        NetProtocol::Gluster => 24007,
        NetProtocol::Vxhs => 9999,
        _ => 0,
    }
}

/// `virDomainStorageNetworkParseHosts`.
pub(crate) fn parse_hosts(n: Node) -> Result<Vec<NetHost>> {
    children(n, "host").map(|h| parse_host(&h)).collect()
}

fn parse_network(n: Node, s: &mut DiskSource) -> Result<()> {
    let protocol: NetProtocol = prop_enum_required(&n, "protocol", false)?;
    s.net.protocol = Some(protocol);
    s.path = prop(&n, "name");
    if s.path.is_none() && protocol != NetProtocol::Nbd {
        return Err(xml_error("missing name for disk source"));
    }
    s.net.tls = prop_yes_no(&n, "tls")?;
    s.net.tls_hostname = prop(&n, "tlsHostname");
    if let Some(p) = s.path.clone() {
        if matches!(protocol, NetProtocol::Gluster | NetProtocol::Rbd) {
            match p.find('/') {
                Some(i) if i > 0 => {
                    s.net.volume = Some(p[..i].to_string());
                    s.path = Some(p[i + 1..].to_string());
                }
                _ => {
                    return Err(xml_error(format!(
                        "can't split path '{p}' into pool name and image name"
                    )))
                }
            }
        }
    }
    s.net.snapshot = xattr(n, "snapshot", "name");
    s.net.config_file = xattr(n, "config", "file");
    if matches!(protocol, NetProtocol::Http | NetProtocol::Https) {
        s.net.query = prop(&n, "query");
    }
    s.net.hosts = parse_hosts(n)?;
    if protocol == NetProtocol::Nfs {
        if let Some(id) = first(n, "identity") {
            s.net.nfs_identity = (prop(&id, "user"), prop(&id, "group"));
        }
    }
    for h in &mut s.net.hosts {
        if h.transport == HostTransport::Tcp && h.port == 0 {
            h.port = default_port(protocol);
        }
    }
    s.net.initiator = xattr(n, "initiator/iqn", "name");
    if matches!(protocol, NetProtocol::Https | NetProtocol::Ftps) {
        if let Some(ssl) = first(n, "ssl") {
            s.net.sslverify = prop_yes_no(&ssl, "verify")?;
        }
    }
    if matches!(protocol, NetProtocol::Http | NetProtocol::Https) {
        if let Some(c) = first(n, "cookies") {
            parse_cookies(c, s)?;
        }
    }
    if matches!(
        protocol,
        NetProtocol::Http | NetProtocol::Https | NetProtocol::Ftp | NetProtocol::Ftps
    ) {
        let ra = xpath_ull(n, "readahead", Some("size"));
        let to = xpath_ull(n, "timeout", Some("seconds"));
        match (ra, to) {
            (Ok(r), Ok(t)) => {
                s.net.readahead = r.unwrap_or(0);
                s.net.timeout = t.unwrap_or(0);
            }
            _ => return Err(xml_error("invalid readahead size or timeout")),
        }
    }
    Ok(())
}

fn parse_cookies(n: Node, s: &mut DiskSource) -> Result<()> {
    for c in children(n, "cookie") {
        let Some(name) = prop(&c, "name").filter(|x| !x.is_empty()) else {
            return Err(xml_error("missing cookie name"));
        };
        let value = super::super::xml::content(&c);
        if value.is_empty() {
            return Err(xml_error(format!("missing value for cookie '{name}'")));
        }
        s.net.cookies.push((name, value));
    }
    let storage_xml = |d: String| storage_error(code::XML_ERROR, d);
    const VALUE_BAD: &[u8] = b" \",;\\";
    const NAME_BAD: &[u8] = b"()<>@:/[]?={}";
    let bad_value = |c: u8| c < 0x20 || VALUE_BAD.contains(&c);
    for (i, (name, value)) in s.net.cookies.iter().enumerate() {
        if name.bytes().any(|c| bad_value(c) || NAME_BAD.contains(&c)) {
            return Err(storage_xml(format!(
                "cookie name '{name}' contains invalid characters"
            )));
        }
        let mut v = value.as_bytes();
        if v.first() == Some(&b'"') {
            if v.last() != Some(&b'"') || v.len() < 2 {
                return Err(storage_xml(format!(
                    "value of cookie '{name}' contains invalid characters"
                )));
            }
            v = &v[1..v.len() - 1];
        }
        if v.iter().any(|c| bad_value(*c)) {
            return Err(storage_xml(format!(
                "value of cookie '{name}' contains invalid characters"
            )));
        }
        if s.net.cookies[i + 1..].iter().any(|(n2, _)| n2 == name) {
            return Err(storage_xml(format!("duplicate cookie '{name}'")));
        }
    }
    Ok(())
}

/// `virDomainStorageSourceParse`: the `<source>` element `n` for a source whose type is set.
pub(crate) fn parse_source(n: Node, s: &mut DiskSource) -> Result<()> {
    match s.type_ {
        StorageType::File => {
            s.path = prop(&n, "file");
            s.fdgroup = prop(&n, "fdgroup");
        }
        StorageType::Block => s.path = prop(&n, "dev"),
        StorageType::Dir => s.path = prop(&n, "dir"),
        StorageType::Network => parse_network(n, s)?,
        StorageType::Volume => {
            let pool = prop(&n, "pool");
            let volume = prop(&n, "volume");
            let mode = prop(&n, "mode");
            match (pool, volume) {
                (None, None) => {}
                (Some(p), Some(v)) => {
                    let mode = match mode {
                        None => None,
                        Some(m) => Some(PoolMode::parse(&m).filter(|x| x.index() > 0).ok_or_else(
                            || {
                                unsupported(format!(
                                    "unknown source mode '{m}' for volume type disk"
                                ))
                            },
                        )?),
                    };
                    s.pool = Some((p, v, mode));
                }
                _ => {
                    return Err(xml_error(
                        "'pool' and 'volume' must be specified together for 'pool' type source",
                    ))
                }
            }
        }
        StorageType::Nvme => {
            let Some(t) = prop(&n, "type") else {
                return Err(xml_error("missing 'type' attribute to disk source"));
            };
            if t != "pci" {
                return Err(xml_error(format!("unsupported source type '{t}'")));
            }
            let Some(ns) = prop(&n, "namespace") else {
                return Err(xml_error("missing 'namespace' attribute to disk source"));
            };
            let ns = str_to_ull(&ns, 10)
                .ok_or_else(|| xml_error(format!("malformed namespace '{ns}'")))?;
            let managed = prop_yes_no(&n, "managed")?;
            let Some(a) = first(n, "address") else {
                return Err(xml_error("NVMe disk source is missing address"));
            };
            s.nvme = Some((ns, managed, parse_pci_addr(&a)?));
        }
        StorageType::Vhostuser => {
            let t = prop(&n, "type");
            let path = prop(&n, "path");
            let Some(t) = t else {
                return Err(xml_error(
                    "missing 'type' attribute for vhostuser disk source",
                ));
            };
            if t != "unix" {
                return Err(xml_error(
                    "invalid 'type' attribute for vhostuser disk source",
                ));
            }
            let Some(path) = path else {
                return Err(xml_error(
                    "missing 'path' attribute for vhostuser disk source",
                ));
            };
            s.vhostuser = Some((path, parse_reconnect(n)?));
        }
        StorageType::None => {
            return Err(internal("unexpected disk type none"));
        }
    }
    if let Some(a) = first(n, "auth") {
        s.auth = Some(parse_auth(a)?);
    }
    if let Some(e) = first(n, "encryption") {
        s.encryption = Some(parse_encryption(e)?);
    }
    if let Some(r) = first(n, "reservations") {
        s.pr = Some(parse_pr(r)?);
    }
    if let Some(sl) = super::super::xml::select(n, "slices/slice")
        .into_iter()
        .find(|x| x.attribute("type") == Some("storage"))
    {
        let (o, z) = (
            prop(&sl, "offset").filter(|x| !x.is_empty()),
            prop(&sl, "size").filter(|x| !x.is_empty()),
        );
        let (Some(o), Some(z)) = (o, z) else {
            return Err(xml_error("missing offset or size attribute of slice"));
        };
        let off = str_to_ullp(&o, 10).ok_or_else(|| {
            xml_error(format!(
                "malformed value '{o}' of 'offset' attribute of slice"
            ))
        })?;
        let size = str_to_ullp(&z, 10).ok_or_else(|| {
            xml_error(format!(
                "malformed value '{z}' of 'size' attribute of slice"
            ))
        })?;
        s.slice = Some((off, size));
    }
    s.seclabels = seclabel::parse_device(n)?;
    // A bogus empty path means "no source" (libvirt's compatibility rule).
    if s.path.as_deref() == Some("") {
        s.path = None;
    }
    Ok(())
}

/// `virStoragePRDefParseXML`.
fn parse_pr(n: Node) -> Result<(bool, Option<String>)> {
    let Some(managed) = prop_yes_no(&n, "managed")? else {
        return Err(super::super::xml::xml_util_error(
            "Missing required attribute 'managed' in element 'reservations'",
        ));
    };
    let src = child(n, "source");
    let get = |a: &str| src.and_then(|s| prop(&s, a)).filter(|x| !x.is_empty());
    let (t, path, mode) = (get("type"), get("path"), get("mode"));
    let e = |d: String| storage_error(code::XML_ERROR, d);
    if !managed || t.is_some() || path.is_some() || mode.is_some() {
        if t.is_none() {
            return Err(e("missing connection type for <reservations/>".into()));
        }
        if path.is_none() {
            return Err(e("missing path for <reservations/>".into()));
        }
        if mode.is_none() {
            return Err(e("missing connection mode for <reservations/>".into()));
        }
    }
    if let Some(t) = t.filter(|t| t != "unix") {
        return Err(e(format!(
            "unsupported connection type for <reservations/>: {t}"
        )));
    }
    if let Some(m) = mode.filter(|m| m != "client") {
        return Err(e(format!(
            "unsupported connection mode for <reservations/>: {m}"
        )));
    }
    Ok((managed, path))
}

/// `virDomainDiskSourceFormat` into `element`, for an inactive definition.
pub(crate) fn format_source(
    b: &mut Buf,
    s: &DiskSource,
    element: &str,
    policy: Option<&str>,
    skip_auth: bool,
    skip_enc: bool,
) {
    let mut a = Buf::new();
    let mut k = b.child();
    match s.type_ {
        StorageType::File => {
            a.esc(" file='%s'", s.path.as_deref());
            a.esc(" fdgroup='%s'", s.fdgroup.as_deref());
        }
        StorageType::Block => a.esc(" dev='%s'", s.path.as_deref()),
        StorageType::Dir => a.esc(" dir='%s'", s.path.as_deref()),
        StorageType::Network => format_network(&mut a, &mut k, s),
        StorageType::Volume => {
            if let Some((pool, vol, mode)) = &s.pool {
                a.esc(" pool='%s'", Some(pool));
                a.esc(" volume='%s'", Some(vol));
                if let Some(m) = mode {
                    a.add(&format!(" mode='{}'", m.as_str()));
                }
            }
        }
        StorageType::Nvme => {
            if let Some((ns, managed, addr)) = &s.nvme {
                a.add(" type='pci'");
                if let Some(m) = managed {
                    a.add(&format!(" managed='{}'", yes_no(*m)));
                }
                a.add(&format!(" namespace='{ns}'"));
                format_pci_addr(&mut k, addr, false);
            }
        }
        StorageType::Vhostuser => {
            if let Some((path, r)) = &s.vhostuser {
                a.add(" type='unix'");
                a.add(&format!(" path='{path}'"));
                format_reconnect(&mut k, r);
            }
        }
        StorageType::None => {}
    }
    if let Some((off, size)) = s.slice {
        let mut sk = k.child();
        sk.add(&format!(
            "<slice type='storage' offset='{off}' size='{size}'/>\n"
        ));
        k.element("slices", Buf::new(), sk);
    }
    if s.type_ != StorageType::Network {
        seclabel::format_device(&mut k, &s.seclabels);
    }
    if let Some(au) = &s.auth {
        if !skip_auth && s.type_ != StorageType::Volume {
            format_auth(&mut k, au);
        }
    }
    if let Some(e) = &s.encryption {
        if !skip_enc {
            format_encryption(&mut k, e);
        }
    }
    if let Some((managed, path)) = &s.pr {
        k.add(&format!("<reservations managed='{}'", yes_no(*managed)));
        match path {
            Some(p) => {
                k.add(">\n");
                k.adjust(2);
                k.add("<source type='unix'");
                k.esc(" path='%s'", Some(p));
                k.add(" mode='client'/>\n");
                k.adjust(-2);
                k.add("</reservations>\n");
            }
            None => k.add("/>\n"),
        }
    }
    if let Some(p) = policy {
        if s.type_ != StorageType::Network {
            a.add(&format!(" startupPolicy='{p}'"));
        }
    }
    b.element(element, a, k);
}

fn format_network(a: &mut Buf, k: &mut Buf, s: &DiskSource) {
    let n = &s.net;
    a.add(&format!(
        " protocol='{}'",
        n.protocol.unwrap_or(NetProtocol::None).as_str()
    ));
    let name = match &n.volume {
        Some(v) => Some(format!("{v}/{}", s.path.as_deref().unwrap_or("(null)"))),
        None => s.path.clone(),
    };
    a.esc(" name='%s'", name.as_deref());
    a.esc(" query='%s'", n.query.as_deref());
    if let Some(t) = n.tls {
        a.add(&format!(" tls='{}'", yes_no(t)));
    }
    a.esc(" tlsHostname='%s'", n.tls_hostname.as_deref());
    for h in &n.hosts {
        k.add("<host");
        k.esc(" name='%s'", h.name.as_deref());
        if h.port != 0 {
            k.add(&format!(" port='{}'", h.port));
        }
        if h.transport != HostTransport::Tcp {
            k.add(&format!(" transport='{}'", h.transport.as_str()));
        }
        k.esc(" socket='%s'", h.socket.as_deref());
        k.add("/>\n");
    }
    if n.protocol == Some(NetProtocol::Nfs)
        && (n.nfs_identity.0.is_some() || n.nfs_identity.1.is_some())
    {
        k.add("<identity");
        k.esc(" user='%s'", n.nfs_identity.0.as_deref());
        k.esc(" group='%s'", n.nfs_identity.1.as_deref());
        k.add("/>\n");
    }
    k.esc("<snapshot name='%s'/>\n", n.snapshot.as_deref());
    k.esc("<config file='%s'/>\n", n.config_file.as_deref());
    if let Some(iqn) = &n.initiator {
        k.add("<initiator>\n");
        k.adjust(2);
        k.esc("<iqn name='%s'/>\n", Some(iqn));
        k.adjust(-2);
        k.add("</initiator>\n");
    }
    if let Some(v) = n.sslverify {
        k.add(&format!("<ssl verify='{}'/>\n", yes_no(v)));
    }
    // Cookies are secret: only written with VIR_DOMAIN_XML_SECURE.
    if n.readahead != 0 {
        k.add(&format!("<readahead size='{}'/>\n", n.readahead));
    }
    if n.timeout != 0 {
        k.add(&format!("<timeout seconds='{}'/>\n", n.timeout));
    }
}

/// Reads a disk's `<source>` child (or the disk's type when absent) as
/// `virDomainDiskDefParseSourceXML` does, without the backing chain.
pub(crate) fn parse_disk_source(n: Node) -> Result<DiskSource> {
    let t: Option<StorageType> = prop_enum(&n, "type", true)?;
    let mut s = DiskSource::new(t.unwrap_or(StorageType::File));
    match first(n, "source") {
        Some(src) => parse_source(src, &mut s)?,
        None => s.type_ = StorageType::File,
    }
    if let Some(a) = first(n, "auth") {
        if s.auth.is_some() {
            return Err(unsupported(
                "an <auth> definition already found for disk source",
            ));
        }
        s.auth = Some(parse_auth(a)?);
    }
    if let Some(e) = first(n, "encryption") {
        if s.encryption.is_some() {
            return Err(unsupported(
                "an <encryption> definition already found for disk source",
            ));
        }
        s.encryption = Some(parse_encryption(e)?);
    }
    Ok(s)
}

/// `virDomainStorageSourceParseBase` for a backing store.
pub(crate) fn parse_base(type_: &str, format: &str) -> Result<DiskSource> {
    let t = StorageType::parse(type_)
        .filter(|x| x.index() > 0)
        .ok_or_else(|| xml_error(format!("unknown storage source type '{type_}'")))?;
    let f = StorageFormat::parse(format)
        .filter(|x| x.index() > 0)
        .ok_or_else(|| xml_error(format!("unknown storage source format '{format}'")))?;
    let mut s = DiskSource::new(t);
    s.format = Some(f);
    Ok(s)
}

/// `<secret>` usage type of `auth` as `virSecretUsageTypeFromString` reads it.
pub(crate) fn secret_usage(auth: &Auth) -> Option<SecretUsage> {
    auth.secret_type.as_deref().and_then(SecretUsage::parse)
}
