//! Backing names: what the string an overlay stores as its backing file refers to.
//!
//! A name is a local file (relative to the overlay's directory, or absolute), a `fat:` directory,
//! a network source given as a URL (`nbd://`, `gluster+tcp://`, `iscsi://`, `http://`, …), as
//! QEMU's legacy colon syntax (`nbd:host:port`, `rbd:pool/image:opts`), or as QEMU's `json:{…}`
//! pseudo-protocol. The rules and error texts are libvirt's (`virStorageSourceNewFromBacking*`,
//! `storage_source_backingstore.c`). A name containing a colon before its first slash is never a
//! file: write `./a:b` for such a file.

use rvirt_proto::error::code;

use crate::json::{self, Value};
use crate::uri;

/// A network storage protocol (libvirt's `virStorageNetProtocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Protocol {
    Nbd,
    Rbd,
    Sheepdog,
    Gluster,
    Iscsi,
    Http,
    Https,
    Ftp,
    Ftps,
    Tftp,
    Ssh,
    Vxhs,
    Nfs,
}

const PROTOCOLS: [(Protocol, &str); 13] = [
    (Protocol::Nbd, "nbd"),
    (Protocol::Rbd, "rbd"),
    (Protocol::Sheepdog, "sheepdog"),
    (Protocol::Gluster, "gluster"),
    (Protocol::Iscsi, "iscsi"),
    (Protocol::Http, "http"),
    (Protocol::Https, "https"),
    (Protocol::Ftp, "ftp"),
    (Protocol::Ftps, "ftps"),
    (Protocol::Tftp, "tftp"),
    (Protocol::Ssh, "ssh"),
    (Protocol::Vxhs, "vxhs"),
    (Protocol::Nfs, "nfs"),
];

impl Protocol {
    /// libvirt's name (`<source protocol=…>`).
    pub fn as_str(self) -> &'static str {
        PROTOCOLS
            .iter()
            .find(|p| p.0 == self)
            .map(|p| p.1)
            .unwrap_or("none")
    }
    /// The protocol libvirt knows by `name`.
    pub fn from_name(name: &str) -> Option<Protocol> {
        PROTOCOLS.iter().find(|p| p.1 == name).map(|p| p.0)
    }
    /// libvirt's default port for TCP hosts (0: none).
    pub fn default_port(self) -> u16 {
        match self {
            Protocol::Http => 80,
            Protocol::Https => 443,
            Protocol::Ftp => 21,
            Protocol::Ftps => 990,
            Protocol::Tftp => 69,
            Protocol::Sheepdog => 7000,
            Protocol::Nbd => 10809,
            Protocol::Ssh => 22,
            Protocol::Iscsi => 3260,
            Protocol::Gluster => 24007,
            Protocol::Vxhs => 9999,
            Protocol::Rbd | Protocol::Nfs => 0,
        }
    }
}

/// How a host is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub enum Transport {
    #[default]
    Tcp,
    Unix,
    Rdma,
}

impl Transport {
    /// libvirt's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Unix => "unix",
            Transport::Rdma => "rdma",
        }
    }
    fn from_name(s: &str) -> Option<Transport> {
        [Transport::Tcp, Transport::Unix, Transport::Rdma]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// One server of a network source (`<host>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Host {
    /// Transport.
    pub transport: Transport,
    /// Host name or address (TCP/RDMA).
    pub name: Option<String>,
    /// Port; 0 when none.
    pub port: u16,
    /// Socket path (unix).
    pub socket: Option<String>,
}

/// A network storage source (`<source protocol=…>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSource {
    /// Protocol.
    pub protocol: Protocol,
    /// The image name on the server (NBD export, RBD image, path, iSCSI target/lun, …).
    pub path: Option<String>,
    /// Gluster volume or RBD pool.
    pub volume: Option<String>,
    /// Servers.
    pub hosts: Vec<Host>,
    /// RBD snapshot.
    pub snapshot: Option<String>,
    /// RBD config file.
    pub config_file: Option<String>,
    /// HTTP(S) query string.
    pub query: Option<String>,
    /// HTTP(S) cookies (name, value).
    pub cookies: Vec<(String, String)>,
    /// HTTPS/FTPS certificate verification.
    pub ssl_verify: Option<bool>,
    /// curl readahead bytes.
    pub readahead: Option<u64>,
    /// curl timeout seconds.
    pub timeout: Option<u64>,
    /// NFS user and group ("+uid", "+gid").
    pub nfs_ids: Option<(String, String)>,
    /// SSH user.
    pub ssh_user: Option<String>,
    /// SSH `host_key_check: "no"`.
    pub ssh_host_key_check_disabled: bool,
}

impl NetworkSource {
    fn new(protocol: Protocol) -> Self {
        NetworkSource {
            protocol,
            path: None,
            volume: None,
            hosts: Vec::new(),
            snapshot: None,
            config_file: None,
            query: None,
            cookies: Vec::new(),
            ssl_verify: None,
            readahead: None,
            timeout: None,
            nfs_ids: None,
            ssh_user: None,
            ssh_host_key_check_disabled: false,
        }
    }

    /// The `name` libvirt shows: `volume/path` when there is a volume.
    pub fn name(&self) -> Option<String> {
        match (&self.volume, &self.path) {
            (Some(v), Some(p)) => Some(format!("{v}/{p}")),
            (Some(v), None) => Some(v.clone()),
            (None, p) => p.clone(),
        }
    }
}

/// What a backing name refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackingTarget {
    /// A regular file (or a block device found by `stat`).
    File(String),
    /// A block device named by `json:{"driver":"host_device"|"host_cdrom"}`.
    Block(String),
    /// A directory (`fat:` names).
    Dir(String),
    /// A network source.
    Network(Box<NetworkSource>),
    /// An NVMe namespace (`json:{"driver":"nvme"}`).
    Nvme {
        /// PCI address as written (domain:bus:slot.function).
        device: String,
        /// Namespace, > 0.
        namespace: u64,
    },
}

/// A byte range of the backing image (`json:{"driver":"raw","offset":…,"size":…}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    /// Start offset in bytes.
    pub offset: u64,
    /// Length in bytes (0: to the end).
    pub size: u64,
}

/// A parsed backing name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedBacking {
    /// What it refers to.
    pub target: BackingTarget,
    /// The name was relative to the overlay's directory (the path is still as written).
    pub relative: bool,
    /// Slice of the target.
    pub slice: Option<Slice>,
    /// The name carries data libvirt cannot represent (inline credentials): libvirt then leaves
    /// the backing out of the chain instead of using it.
    pub unrepresentable: bool,
}

/// A backing name that cannot be understood (libvirt's texts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackingError {
    /// Not a URI.
    #[error("failed to parse backing file location '{0}'")]
    UriParse(String),
    /// Unknown protocol name.
    #[error("invalid backing protocol '{0}'")]
    InvalidProtocol(String),
    /// Unknown transport after `+`.
    #[error("invalid protocol transport type '{0}'")]
    InvalidTransport(String),
    /// A colon-syntax name without a colon.
    #[error("invalid backing protocol string '{0}'")]
    InvalidProtocolString(String),
    /// A known protocol with no colon-syntax parser.
    #[error("backing store parser is not implemented for protocol {0}")]
    NotImplemented(String),
    /// A URL protocol written in colon syntax.
    #[error("malformed backing store path for protocol {0}")]
    MalformedPath(String),
    /// Bad `nbd:` string.
    #[error("malformed nbd string '{0}'")]
    MalformedNbd(String),
    /// Gluster URL without volume and path.
    #[error("missing volume name and path for gluster volume")]
    GlusterNoPath,
    /// Gluster URL path without a volume/file split.
    #[error("missing volume name or file name in gluster source path '{0}'")]
    GlusterPath(String),
    /// Port not a number.
    #[error("failed to parse port number '{0}'")]
    PortParse(String),
    /// Port above 65535.
    #[error("port '{0}' out of range")]
    PortRange(String),
    /// Two `id=` options in an RBD string.
    #[error("duplicate 'id' found in '{0}'")]
    RbdDuplicateId(String),
    /// `json:` text that is not JSON.
    #[error("cannot parse json {text}: {reason}")]
    JsonSyntax {
        /// The text after `json:`.
        text: String,
        /// What is wrong.
        reason: String,
    },
    /// A JSON definition missing or misusing a field (libvirt: invalid argument).
    #[error("{0}")]
    JsonInvalid(String),
    /// A JSON driver or address type libvirt has no parser for.
    #[error("{0}")]
    JsonUnsupported(String),
}

impl BackingError {
    /// libvirt's error code for this failure.
    pub fn code(&self) -> i32 {
        match self {
            BackingError::GlusterNoPath | BackingError::GlusterPath(_) => code::CONFIG_UNSUPPORTED,
            BackingError::PortParse(_)
            | BackingError::PortRange(_)
            | BackingError::JsonInvalid(_) => code::INVALID_ARG,
            _ => code::INTERNAL_ERROR,
        }
    }
}

type Result<T> = std::result::Result<T, BackingError>;

/// Whether `name` names a local file: no colon before the first slash (so not `nbd:` etc.).
pub fn is_file(name: &str) -> bool {
    match (name.find(':'), name.find('/')) {
        (Some(c), Some(s)) => s < c,
        (Some(_), None) => false,
        _ => true,
    }
}

/// Whether `name` is a file name relative to its overlay's directory.
pub fn is_relative(name: &str) -> bool {
    !name.starts_with('/') && is_file(name)
}

/// Parses a backing name as written in an overlay.
pub fn parse(name: &str) -> Result<ParsedBacking> {
    let mut out = ParsedBacking {
        target: BackingTarget::File(name.to_string()),
        relative: is_relative(name),
        slice: None,
        unrepresentable: false,
    };
    if is_file(name) {
        return Ok(out);
    }
    if let Some(dir) = name.strip_prefix("fat:") {
        out.target = BackingTarget::Dir(dir.to_string());
        return Ok(out);
    }
    if let Some(text) = name.strip_prefix("json:") {
        parse_json(text, &mut out)?;
    } else if name.contains("://") {
        let (src, unrep) = parse_uri(name)?;
        out.target = BackingTarget::Network(Box::new(src));
        out.unrepresentable = unrep;
    } else {
        out.target = BackingTarget::Network(Box::new(parse_colon(name)?));
    }
    if let BackingTarget::Network(src) = &mut out.target {
        for h in &mut src.hosts {
            if h.transport == Transport::Tcp && h.port == 0 {
                h.port = src.protocol.default_port();
            }
        }
    }
    Ok(out)
}

fn parse_port(s: Option<&str>) -> Result<u16> {
    let Some(s) = s else { return Ok(0) };
    let p: u64 = s
        .parse()
        .map_err(|_| BackingError::PortParse(s.to_string()))?;
    u16::try_from(p).map_err(|_| BackingError::PortRange(s.to_string()))
}

/// `virStorageSourceParseBackingURI`: returns the source and whether it had inline credentials.
fn parse_uri(text: &str) -> Result<(NetworkSource, bool)> {
    let u = uri::parse(text).ok_or_else(|| BackingError::UriParse(text.to_string()))?;
    let (proto, transport) = match u.scheme.split_once('+') {
        Some((p, t)) => (p, Some(t)),
        None => (u.scheme.as_str(), None),
    };
    let protocol = Protocol::from_name(proto)
        .ok_or_else(|| BackingError::InvalidProtocol(proto.to_string()))?;
    let mut host = Host::default();
    if let Some(t) = transport {
        host.transport =
            Transport::from_name(t).ok_or_else(|| BackingError::InvalidTransport(t.to_string()))?;
    }
    let mut src = NetworkSource::new(protocol);
    if let Some(q) = &u.query {
        if matches!(protocol, Protocol::Http | Protocol::Https) {
            src.query = Some(q.clone());
        } else if let Some(sock) = q.strip_prefix("socket=") {
            host.socket = Some(sock.to_string());
        }
    }
    let path = u.path.as_deref().unwrap_or("");
    let path = path.strip_prefix('/').unwrap_or(path);
    src.path = if protocol == Protocol::Nbd && path.is_empty() {
        None
    } else {
        Some(path.to_string())
    };
    if protocol == Protocol::Gluster {
        let p = src.path.take().ok_or(BackingError::GlusterNoPath)?;
        match p.find('/') {
            Some(i) if i > 0 => {
                src.volume = Some(p[..i].to_string());
                src.path = Some(p[i + 1..].to_string());
            }
            _ => return Err(BackingError::GlusterPath(p)),
        }
    }
    host.port = u16::try_from(u.port).map_err(|_| BackingError::PortRange(u.port.to_string()))?;
    host.name = u.server.clone();
    src.hosts.push(host);
    Ok((src, u.user.is_some()))
}

/// QEMU's legacy `proto:…` syntax (only nbd and rbd are understood, as in libvirt).
fn parse_colon(text: &str) -> Result<NetworkSource> {
    let Some((proto, _)) = text.split_once(':') else {
        return Err(BackingError::InvalidProtocolString(text.to_string()));
    };
    let protocol = Protocol::from_name(proto)
        .ok_or_else(|| BackingError::InvalidProtocol(proto.to_string()))?;
    match protocol {
        Protocol::Nbd => parse_nbd_colon(text),
        Protocol::Rbd => parse_rbd_colon(text),
        Protocol::Sheepdog => Err(BackingError::NotImplemented(proto.to_string())),
        _ => Err(BackingError::MalformedPath(proto.to_string())),
    }
}

/// `nbd:unix:/sock[:exportname=E]` or `nbd:host:port[:exportname=E]`.
fn parse_nbd_colon(text: &str) -> Result<NetworkSource> {
    let malformed = || BackingError::MalformedNbd(text.to_string());
    let mut src = NetworkSource::new(Protocol::Nbd);
    let mut nbd = text;
    if let Some(i) = text.find(":exportname=") {
        src.path = Some(text[i + ":exportname=".len()..].to_string());
        nbd = &text[..i];
    }
    let spec = nbd
        .strip_prefix("nbd:")
        .filter(|s| !s.is_empty())
        .ok_or_else(malformed)?;
    let mut host = Host::default();
    if let Some(sock) = spec.strip_prefix("unix:") {
        if sock.is_empty() {
            return Err(malformed());
        }
        host.transport = Transport::Unix;
        host.socket = Some(sock.to_string());
    } else {
        let (name, port) = if spec.starts_with(':') {
            return Err(malformed());
        } else if let Some(v6) = spec.strip_prefix('[') {
            let (h, p) = v6.split_once("]:").ok_or_else(malformed)?;
            if h.is_empty() {
                return Err(malformed());
            }
            (h, p)
        } else {
            spec.split_once(':').ok_or_else(malformed)?
        };
        host.port = parse_port(Some(port))?;
        host.name = Some(name.to_string());
    }
    src.hosts.push(host);
    Ok(src)
}

/// `rbd:pool/image@snap:opt=val:…` (options split at unescaped colons).
fn parse_rbd_colon(text: &str) -> Result<NetworkSource> {
    let mut src = NetworkSource::new(Protocol::Rbd);
    let body = text.strip_prefix("rbd:").unwrap_or(text);
    let (mut path, options) = match body.split_once(':') {
        Some((p, o)) => (p.to_string(), Some(o)),
        None => (body.to_string(), None),
    };
    if let Some(i) = path.find('@') {
        src.snapshot = Some(path[i + 1..].to_string());
        path.truncate(i);
    }
    if let Some(i) = path.find('/') {
        src.volume = Some(path[..i].to_string());
        path = path[i + 1..].to_string();
    }
    src.path = Some(path);
    let Some(options) = options else {
        return Ok(src);
    };
    let mut seen_id = false;
    for opt in split_unescaped(options, b':') {
        if opt.starts_with("id=") {
            if seen_id {
                return Err(BackingError::RbdDuplicateId(
                    src.path.clone().unwrap_or_default(),
                ));
            }
            // Credentials are dropped for backing stores, as libvirt does.
            seen_id = true;
        }
        if let Some(hosts) = opt.strip_prefix("mon_host=") {
            for h in split_mon_hosts(hosts) {
                src.hosts.push(rbd_host(&h)?);
            }
        }
        if let Some(conf) = opt.strip_prefix("conf=") {
            src.config_file = Some(conf.to_string());
        }
    }
    Ok(src)
}

/// Splits at `sep` not preceded by a backslash (the backslashes are kept).
fn split_unescaped(s: &str, sep: u8) -> Vec<&str> {
    let b = s.as_bytes();
    let mut parts = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == sep {
            parts.push(&s[start..i]);
            start = i + 1;
        }
        i += 1;
    }
    parts.push(&s[start.min(s.len())..]);
    parts
}

/// mon_host entries are separated by `\,`, `\;` or `\ `.
fn split_mon_hosts(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\\' && matches!(it.peek(), Some(',' | ';' | ' ')) {
            it.next();
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

fn rbd_host(hostport: &str) -> Result<Host> {
    let (name, port) = if let Some(i) = hostport.find(']') {
        let name = hostport.get(1..i).unwrap_or("");
        (name.to_string(), hostport.get(i + 3..).map(str::to_string))
    } else if let Some(i) = hostport.find("\\:") {
        (
            hostport[..i].to_string(),
            Some(hostport[i + 2..].to_string()),
        )
    } else {
        (hostport.to_string(), None)
    };
    Ok(Host {
        transport: Transport::Tcp,
        name: Some(name.replace("\\:", ":")),
        port: parse_port(port.as_deref())?,
        socket: None,
    })
}

fn invalid(msg: impl Into<String>) -> BackingError {
    BackingError::JsonInvalid(msg.into())
}

/// `virStorageSourceParseBackingJSON`.
fn parse_json(text: &str, out: &mut ParsedBacking) -> Result<()> {
    let root = json::parse(text).map_err(|reason| BackingError::JsonSyntax {
        text: text.to_string(),
        reason,
    })?;
    if !matches!(root, Value::Object(_)) {
        return Err(BackingError::JsonSyntax {
            text: text.to_string(),
            reason: "not a JSON object".into(),
        });
    }
    let root = json::deflatten(&root).map_err(BackingError::JsonInvalid)?;
    // json:{"file":{"driver":…}} or json:{"driver":…}
    let file = if root.has("driver") {
        &root
    } else {
        root.object("file").unwrap_or(&root)
    };
    json_driver(file, text, true, out)
}

fn json_driver(j: &Value, text: &str, allow_format: bool, out: &mut ParsedBacking) -> Result<()> {
    let Some(driver) = j.str("driver") else {
        return Err(invalid(format!(
            "JSON backing volume definition '{text}' lacks driver name"
        )));
    };
    let net = |p: Protocol| NetworkSource::new(p);
    let target = match driver {
        "file" | "host_device" | "host_cdrom" => {
            let path = j.str("filename").ok_or_else(|| {
                invalid("missing 'filename' field in JSON backing volume definition")
            })?;
            if driver == "file" {
                BackingTarget::File(path.to_string())
            } else {
                BackingTarget::Block(path.to_string())
            }
        }
        "http" | "https" | "ftp" | "ftps" | "tftp" => {
            let protocol = Protocol::from_name(driver).expect("listed protocol");
            BackingTarget::Network(Box::new(json_url(j, text, protocol, out)?))
        }
        "gluster" => {
            if let Some(u) = j.str("filename") {
                BackingTarget::Network(Box::new(uri_of(u, Protocol::Gluster, out)?))
            } else {
                let (Some(volume), Some(path), Some(servers)) =
                    (j.str("volume"), j.str("path"), j.array("server"))
                else {
                    return Err(invalid(
                        "missing 'volume', 'path' or 'server' attribute in JSON backing \
                         definition for gluster volume",
                    ));
                };
                if servers.is_empty() {
                    return Err(invalid(
                        "at least 1 server is necessary in JSON backing definition for gluster volume",
                    ));
                }
                let mut src = net(Protocol::Gluster);
                src.volume = Some(volume.to_string());
                src.path = Some(path.to_string());
                for s in servers {
                    src.hosts.push(socket_address(Some(s))?);
                }
                BackingTarget::Network(Box::new(src))
            }
        }
        "iscsi" => {
            if let Some(u) = j.str("filename") {
                BackingTarget::Network(Box::new(uri_of(u, Protocol::Iscsi, out)?))
            } else {
                let mut src = net(Protocol::Iscsi);
                let lun = j.str_or_number("lun").unwrap_or("0");
                if j.str("transport") != Some("tcp") {
                    return Err(invalid("only TCP transport is supported for iSCSI volumes"));
                }
                let portal = j.str("portal").ok_or_else(|| {
                    invalid("missing 'portal' address in iSCSI backing definition")
                })?;
                let target = j
                    .str("target")
                    .ok_or_else(|| invalid("missing 'target' in iSCSI backing definition"))?;
                let mut host = Host {
                    name: Some(portal.to_string()),
                    ..Default::default()
                };
                if let Some(i) = portal.rfind(':') {
                    if !portal[i..].contains(']') {
                        host.port = parse_port(Some(&portal[i + 1..]))?;
                        host.name = Some(portal[..i].to_string());
                    }
                }
                src.hosts.push(host);
                src.path = Some(format!("{target}/{lun}"));
                if j.str("user").is_some() || j.str("password").is_some() {
                    out.unrepresentable = true;
                }
                BackingTarget::Network(Box::new(src))
            }
        }
        "nbd" => {
            let (path, host, server) = (j.str("path"), j.str("host"), j.object("server"));
            if path.is_none() && host.is_none() && server.is_none() {
                return Err(invalid(
                    "missing host specification of NBD server in JSON backing volume definition",
                ));
            }
            let mut src = net(Protocol::Nbd);
            src.path = j.str("export").map(str::to_string);
            let h = if server.is_some() {
                socket_address(server)?
            } else if let Some(p) = path {
                Host {
                    transport: Transport::Unix,
                    socket: Some(p.to_string()),
                    ..Default::default()
                }
            } else {
                Host {
                    name: host.map(str::to_string),
                    port: parse_port(j.str("port"))?,
                    ..Default::default()
                }
            };
            src.hosts.push(h);
            BackingTarget::Network(Box::new(src))
        }
        "sheepdog" => {
            if let Some(f) = j.str("filename") {
                if !f.contains("://") {
                    return Err(invalid(
                        "missing sheepdog URI in JSON backing volume definition",
                    ));
                }
                BackingTarget::Network(Box::new(uri_of(f, Protocol::Sheepdog, out)?))
            } else {
                let vdi = j
                    .str("vdi")
                    .ok_or_else(|| invalid("missing sheepdog vdi name"))?;
                let mut src = net(Protocol::Sheepdog);
                src.path = Some(vdi.to_string());
                src.hosts.push(socket_address(j.object("server"))?);
                BackingTarget::Network(Box::new(src))
            }
        }
        "ssh" => {
            let (path, host, server) = (j.str("path"), j.str("host"), j.object("server"));
            let Some(path) = path.filter(|_| host.is_some() || server.is_some()) else {
                return Err(invalid(
                    "missing host/server or path of SSH JSON backing volume definition",
                ));
            };
            let mut src = net(Protocol::Ssh);
            src.path = Some(path.to_string());
            src.hosts.push(if server.is_some() {
                inet_address(server)?
            } else {
                Host {
                    name: host.map(str::to_string),
                    port: parse_port(j.str("port"))?,
                    ..Default::default()
                }
            });
            src.ssh_user = j.str("user").map(str::to_string);
            src.ssh_host_key_check_disabled = j.str("host_key_check") == Some("no");
            BackingTarget::Network(Box::new(src))
        }
        "rbd" => {
            if let Some(f) = j.str("filename") {
                BackingTarget::Network(Box::new(parse_rbd_colon(f)?))
            } else {
                let (Some(pool), Some(image)) = (j.str("pool"), j.str("image")) else {
                    return Err(invalid(
                        "missing pool or image name in ceph backing volume JSON specification",
                    ));
                };
                let mut src = net(Protocol::Rbd);
                src.volume = Some(pool.to_string());
                src.path = Some(image.to_string());
                src.snapshot = j.str("snapshot").map(str::to_string);
                src.config_file = j.str("conf").map(str::to_string);
                for s in j.array("server").unwrap_or(&[]) {
                    src.hosts.push(inet_address(Some(s))?);
                }
                BackingTarget::Network(Box::new(src))
            }
        }
        "raw" => {
            if !allow_format {
                return Err(invalid(format!(
                    "JSON backing volume definition '{text}' must not have nested format drivers"
                )));
            }
            if j.has("offset") || j.has("size") {
                let offset = j
                    .u64("offset")
                    .map_err(|_| invalid("malformed 'offset' property of 'raw' driver"))?;
                let size = j
                    .u64("size")
                    .map_err(|_| invalid("malformed 'size' property of 'raw' driver"))?;
                out.slice = Some(Slice {
                    offset: offset.unwrap_or(0),
                    size: size.unwrap_or(0),
                });
            }
            let Some(file) = j.object("file") else {
                return Err(invalid(format!(
                    "JSON backing volume definition '{text}' lacks 'file' object"
                )));
            };
            return json_driver(file, text, false, out);
        }
        "nfs" => {
            let server = j.object("server");
            if server.is_none() {
                return Err(invalid(
                    "missing 'server' attribute in JSON backing definition for NFS volume",
                ));
            }
            let (Some(uid), Some(gid)) = (j.i32("user"), j.i32("group")) else {
                return Err(invalid(
                    "missing 'user' or 'group' attribute in JSON backing definition for NFS volume",
                ));
            };
            let path = j.str("path").ok_or_else(|| {
                invalid("missing 'path' attribute in JSON backing definition for NFS volume")
            })?;
            let mut src = net(Protocol::Nfs);
            src.path = Some(path.to_string());
            src.nfs_ids = Some((format!("+{uid}"), format!("+{gid}")));
            src.hosts.push(inet_address(server)?);
            BackingTarget::Network(Box::new(src))
        }
        "vxhs" => {
            let (Some(id), Some(server)) = (j.str("vdisk-id"), j.object("server")) else {
                return Err(invalid(
                    "missing 'vdisk-id' or 'server' attribute in JSON backing definition for \
                     VxHS volume",
                ));
            };
            let mut src = net(Protocol::Vxhs);
            src.path = Some(id.to_string());
            src.hosts.push(inet_address(Some(server))?);
            BackingTarget::Network(Box::new(src))
        }
        "nvme" => {
            let device = j
                .str("device")
                .filter(|d| valid_pci_address(d))
                .ok_or_else(|| invalid("missing or malformed 'device' field of 'nvme' storage"))?;
            let namespace = match j.u64("namespace") {
                Ok(Some(n)) if n > 0 => n,
                _ => {
                    return Err(invalid(
                        "missing or malformed 'namespace' field of 'nvme' storage",
                    ))
                }
            };
            BackingTarget::Nvme {
                device: device.to_string(),
                namespace,
            }
        }
        other => {
            return Err(BackingError::JsonUnsupported(format!(
                "missing parser implementation for JSON backing volume driver '{other}'"
            )))
        }
    };
    out.target = target;
    Ok(())
}

/// A URL-driver definition (`"url"`, plus curl options).
fn json_url(
    j: &Value,
    text: &str,
    protocol: Protocol,
    out: &mut ParsedBacking,
) -> Result<NetworkSource> {
    let url = j
        .str("url")
        .ok_or_else(|| invalid("missing 'url' in JSON backing volume definition"))?;
    let mut ssl_verify = None;
    if matches!(protocol, Protocol::Https | Protocol::Ftps) && j.has("sslverify") {
        ssl_verify = Some(if j.str("sslverify") == Some("off") {
            false
        } else {
            j.bool("sslverify").ok_or_else(|| {
                invalid(format!(
                    "malformed 'sslverify' field in backing store definition '{text}'"
                ))
            })?
        });
    }
    let mut cookies = Vec::new();
    if matches!(protocol, Protocol::Http | Protocol::Https) && j.has("cookie") {
        let c = j.str("cookie").ok_or_else(|| {
            invalid(format!(
                "wrong format of 'cookie' field in backing store definition '{text}'"
            ))
        })?;
        for raw in c.split(';') {
            let trimmed = raw.trim_start();
            let (n, v) = trimmed.split_once('=').ok_or_else(|| {
                invalid(format!(
                    "malformed http cookie '{raw}' in backing store definition '{text}'"
                ))
            })?;
            cookies.push((n.to_string(), v.to_string()));
        }
    }
    let field = |k: &str| {
        j.u64(k).map_err(|_| {
            invalid(format!(
                "malformed '{k}' field in backing store definition '{text}'"
            ))
        })
    };
    let readahead = field("readahead")?;
    let timeout = field("timeout")?;
    let mut src = uri_of(url, protocol, out)?;
    src.ssl_verify = ssl_verify;
    src.cookies = cookies;
    src.readahead = readahead;
    src.timeout = timeout;
    Ok(src)
}

/// A URI that must be of `protocol`.
fn uri_of(u: &str, protocol: Protocol, out: &mut ParsedBacking) -> Result<NetworkSource> {
    let (src, unrep) = parse_uri(u)?;
    if src.protocol != protocol {
        return Err(invalid(format!(
            "expected protocol '{}' but got '{}' in URI JSON volume definition",
            protocol.as_str(),
            src.protocol.as_str()
        )));
    }
    out.unrepresentable |= unrep;
    Ok(src)
}

fn inet_address(j: Option<&Value>) -> Result<Host> {
    let j = j.ok_or_else(|| {
        invalid("missing remote server specification in JSON backing volume definition")
    })?;
    let host = j.str("host").ok_or_else(|| {
        invalid("missing hostname for tcp backing server in JSON backing volume definition")
    })?;
    Ok(Host {
        transport: Transport::Tcp,
        name: Some(host.to_string()),
        port: parse_port(j.str("port"))?,
        socket: None,
    })
}

fn socket_address(j: Option<&Value>) -> Result<Host> {
    let j = j.ok_or_else(|| {
        invalid("missing remote server specification in JSON backing volume definition")
    })?;
    let ty = j
        .str("type")
        .ok_or_else(|| invalid("missing socket address type in JSON backing volume definition"))?;
    match ty {
        "tcp" | "inet" => inet_address(Some(j)),
        "unix" => {
            let sock = j.str("path").or_else(|| j.str("socket")).ok_or_else(|| {
                invalid(
                    "missing socket path for udp backing server in JSON backing volume definition",
                )
            })?;
            Ok(Host {
                transport: Transport::Unix,
                socket: Some(sock.to_string()),
                ..Default::default()
            })
        }
        other => Err(BackingError::JsonUnsupported(format!(
            "backing store protocol '{other}' is not yet supported"
        ))),
    }
}

/// `dddd:bb:ss.f` in hex.
fn valid_pci_address(s: &str) -> bool {
    let hex = |p: &str, n: usize| {
        !p.is_empty() && p.len() <= n && p.bytes().all(|c| c.is_ascii_hexdigit())
    };
    let parts: Vec<&str> = s.split(':').collect();
    match parts.as_slice() {
        [d, b, sf] => match sf.split_once('.') {
            Some((sl, f)) => hex(d, 4) && hex(b, 2) && hex(sl, 2) && hex(f, 1),
            None => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests;
