//! The storage pool document (`virStoragePoolDef`): parse with libvirt's per-type rules, and
//! format as `virStoragePoolDefFormat` does, including the sizes a driver fills in.

use super::{source_flags as sf, Perms, PoolType, NETFS_FORMATS};
use crate::conf::{
    self, child, children, err, prop, prop_int, prop_tristate_bool, sanitize_path, uuid_format,
    uuid_generate, uuid_parse, xpath_attr, xpath_text, Buf, Node, Tristate,
};
use crate::network::netdev::PciAddr;
use crate::writer::escape;
use crate::XmlError;
use rvirt_proto::error::{code, domain};

fn st_err(code: i32, detail: impl Into<String>) -> XmlError {
    err(code, domain::STORAGE, detail)
}

/// `<source><host>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceHost {
    /// Host name.
    pub name: String,
    /// Port (0 when not given).
    pub port: i32,
}

/// `<source><device>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceDevice {
    /// Device path.
    pub path: String,
    /// `part_separator`.
    pub part_separator: Tristate,
    /// Free extents (filled by backends; `(start, end)`).
    pub free_extents: Vec<(u64, u64)>,
}

/// Where a secret comes from (`virSecretLookupTypeDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretLookup {
    /// By UUID.
    Uuid([u8; 16]),
    /// By usage.
    Usage(String),
}

/// `<source><auth>` (`virStorageAuthDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthDef {
    /// `type`: `chap` or `ceph`.
    pub auth_type: String,
    /// User name.
    pub username: String,
    /// `<secret type>`.
    pub secret_type: Option<String>,
    /// The secret.
    pub secret: SecretLookup,
}

/// `<source><adapter>` (`virStorageAdapter`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adapter {
    /// `scsi_host` by name or by parent PCI address and unique id.
    ScsiHost {
        /// `name`.
        name: Option<String>,
        /// `<parentaddr unique_id><address/>`.
        parent: Option<(PciAddr, i32)>,
    },
    /// `fc_host`.
    FcHost {
        /// `parent`.
        parent: Option<String>,
        /// `parent_wwnn`.
        parent_wwnn: Option<String>,
        /// `parent_wwpn`.
        parent_wwpn: Option<String>,
        /// `parent_fabric_wwn`.
        parent_fabric_wwn: Option<String>,
        /// `managed`.
        managed: Tristate,
        /// `wwnn`.
        wwnn: Option<String>,
        /// `wwpn`.
        wwpn: Option<String>,
    },
}

/// `<source>` (`virStoragePoolSource`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PoolSource {
    /// Hosts.
    pub hosts: Vec<SourceHost>,
    /// Devices.
    pub devices: Vec<SourceDevice>,
    /// `<dir path>`.
    pub dir: Option<String>,
    /// `<adapter>`.
    pub adapter: Option<Adapter>,
    /// `<name>`.
    pub name: Option<String>,
    /// `<initiator><iqn name>`.
    pub initiator_iqn: Option<String>,
    /// `<format type>` as an index into the pool type's format enum.
    pub format: u32,
    /// `<auth>`.
    pub auth: Option<AuthDef>,
    /// `<protocol ver>`.
    pub protocol_ver: Option<String>,
    /// `<vendor name>`.
    pub vendor: Option<String>,
    /// `<product name>`.
    pub product: Option<String>,
}

/// A storage pool definition (`virStoragePoolDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolDef {
    /// Type.
    pub type_: PoolType,
    /// Name.
    pub name: String,
    /// UUID.
    pub uuid: [u8; 16],
    /// Capacity in bytes (driver-filled).
    pub capacity: u64,
    /// Allocation in bytes (driver-filled).
    pub allocation: u64,
    /// Available bytes (driver-filled).
    pub available: u64,
    /// `<features><cow state>`.
    pub cow: Tristate,
    /// `<source>`.
    pub source: PoolSource,
    /// `<target><path>` (absent for network pools).
    pub target_path: Option<String>,
    /// `<target><permissions>`.
    pub target_perms: Perms,
    /// `<refresh><volume allocation>`: `default` or `capacity`.
    pub refresh_allocation: Option<&'static str>,
    /// `<fs:mount_opts><fs:option name/>` of fs and netfs pools (the fs backend's XML
    /// namespace); `None` when there are none.
    pub mount_opts: Option<Vec<String>>,
}

/// The fs/netfs pool backends' XML namespace.
pub const FS_NAMESPACE: &str = "http://libvirt.org/schemas/storagepool/fs/1.0";

fn parse_mount_opts(root: Node) -> Result<Option<Vec<String>>, XmlError> {
    let in_ns = |n: &Node, name: &str| {
        n.is_element()
            && n.tag_name().name() == name
            && n.tag_name().namespace() == Some(FS_NAMESPACE)
    };
    let mut opts = Vec::new();
    for m in root.children().filter(|n| in_ns(n, "mount_opts")) {
        for o in m.children().filter(|n| in_ns(n, "option")) {
            opts.push(
                prop(Some(o), "name")
                    .ok_or_else(|| st_err(code::XML_ERROR, "no fs mount option name specified"))?,
            );
        }
    }
    Ok((!opts.is_empty()).then_some(opts))
}

fn parse_secret(node: Node) -> Result<SecretLookup, XmlError> {
    let uuid = prop(Some(node), "uuid");
    let usage = prop(Some(node), "usage");
    let xe = |m: String| err(code::XML_ERROR, domain::NONE, m);
    match (uuid, usage) {
        (None, None) => Err(xe("missing secret uuid or usage attribute".into())),
        (Some(_), Some(_)) => Err(xe("either secret uuid or usage expected".into())),
        (Some(u), None) => uuid_parse(&u)
            .map(SecretLookup::Uuid)
            .ok_or_else(|| xe(format!("invalid secret uuid '{u}'"))),
        (None, Some(u)) => Ok(SecretLookup::Usage(u)),
    }
}

/// `virSecretLookupFormatSecret`.
pub(crate) fn format_secret(w: &mut Buf, secret_type: Option<&str>, s: &SecretLookup) {
    let mut l = match secret_type {
        Some(t) => format!("<secret type='{t}'"),
        None => "<secret".to_string(),
    };
    match s {
        SecretLookup::Uuid(u) => l.push_str(&format!(" uuid='{}'/>", uuid_format(u))),
        SecretLookup::Usage(u) => l.push_str(&format!(" usage='{}'/>", escape(u))),
    }
    w.line(&l);
}

fn parse_auth(node: Node) -> Result<AuthDef, XmlError> {
    let username = xpath_attr(node, &[], "username")
        .ok_or_else(|| st_err(code::XML_ERROR, "missing username for auth"))?;
    let auth_type = match xpath_attr(node, &[], "type") {
        None => "none".to_string(),
        Some(t) if ["none", "chap", "ceph"].contains(&t.as_str()) => t,
        Some(t) => {
            return Err(st_err(
                code::CONFIG_UNSUPPORTED,
                format!("unknown auth type '{t}'"),
            ))
        }
    };
    let secret = child(node, "secret")
        .ok_or_else(|| st_err(code::XML_ERROR, "Missing <secret> element in auth"))?;
    let secret_type = prop(Some(secret), "type");
    let lookup = parse_secret(secret)?;
    Ok(AuthDef {
        auth_type,
        username,
        secret_type,
        secret: lookup,
    })
}

fn validate_wwn(w: &str) -> Result<(), XmlError> {
    let p = w.strip_prefix("0x").unwrap_or(w);
    if p.len() == 16 && p.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(err(
            code::INTERNAL_ERROR,
            domain::NONE,
            format!("Malformed wwn: {w}"),
        ))
    }
}

fn parse_adapter(node: Node) -> Result<Option<Adapter>, XmlError> {
    let t = conf::prop_enum(
        Some(node),
        "type",
        |s| match s {
            "default" => Some(0),
            "scsi_host" => Some(1),
            "fc_host" => Some(2),
            _ => None,
        },
        false,
        true,
    )?;
    let xe = |m: &str| st_err(code::XML_ERROR, m);
    match t {
        None => {
            if ["wwnn", "wwpn", "parent"]
                .iter()
                .any(|a| node.attribute(*a).is_some())
            {
                return Err(xe("Use of 'wwnn', 'wwpn', and 'parent' attributes requires use of the adapter 'type'"));
            }
            if child(node, "parentaddr").is_some() {
                return Err(xe(
                    "Use of 'parentaddr' element requires use of the adapter 'type'",
                ));
            }
            Ok(prop(Some(node), "name").map(|n| Adapter::ScsiHost {
                name: Some(n),
                parent: None,
            }))
        }
        Some(2) => Ok(Some(Adapter::FcHost {
            managed: prop_tristate_bool(Some(node), "managed")?,
            parent: prop(Some(node), "parent"),
            parent_wwnn: prop(Some(node), "parent_wwnn"),
            parent_wwpn: prop(Some(node), "parent_wwpn"),
            parent_fabric_wwn: prop(Some(node), "parent_fabric_wwn"),
            wwpn: prop(Some(node), "wwpn"),
            wwnn: prop(Some(node), "wwnn"),
        })),
        Some(_) => {
            let name = prop(Some(node), "name");
            let mut parent = None;
            if let Some(pa) = child(node, "parentaddr") {
                let addr = child(pa, "address")
                    .ok_or_else(|| xe("Missing scsi_host PCI address element"))?;
                let pci = PciAddr::parse(addr)?;
                let uid = xpath_attr(pa, &[], "unique_id")
                    .and_then(|u| conf::str_to_i32(&u, 10))
                    .filter(|u| *u >= 0)
                    .ok_or_else(|| xe("Missing or invalid scsi adapter 'unique_id' value"))?;
                parent = Some((pci, uid));
            }
            Ok(Some(Adapter::ScsiHost { name, parent }))
        }
    }
}

fn validate_adapter(a: Option<&Adapter>) -> Result<(), XmlError> {
    let xe = |m: String| st_err(code::XML_ERROR, m);
    match a {
        None => Err(xe("missing storage pool source adapter".into())),
        Some(Adapter::ScsiHost { name, parent }) => match (name, parent) {
            (None, None) => Err(xe(
                "Either 'name' or 'parent' must be specified for the 'scsi_host' adapter".into(),
            )),
            (Some(_), Some(_)) => Err(xe(
                "Both 'name' and 'parent' cannot be specified for the 'scsi_host' adapter".into(),
            )),
            _ => Ok(()),
        },
        Some(Adapter::FcHost {
            parent_wwnn,
            parent_wwpn,
            parent_fabric_wwn,
            wwnn,
            wwpn,
            ..
        }) => {
            let (Some(wwnn), Some(wwpn)) = (wwnn, wwpn) else {
                return Err(xe(
                    "'wwnn' and 'wwpn' must be specified for adapter type 'fchost'".into(),
                ));
            };
            validate_wwn(wwnn)?;
            validate_wwn(wwpn)?;
            match (parent_wwnn, parent_wwpn) {
                (Some(n), None) => {
                    return Err(xe(format!(
                        "when providing parent_wwnn='{n}', the parent_wwpn must also be provided"
                    )))
                }
                (None, Some(p)) => {
                    return Err(xe(format!(
                        "when providing parent_wwpn='{p}', the parent_wwnn must also be provided"
                    )))
                }
                _ => {}
            }
            for w in [parent_wwnn, parent_wwpn, parent_fabric_wwn]
                .into_iter()
                .flatten()
            {
                validate_wwn(w)?;
            }
            Ok(())
        }
    }
}

/// `virStoragePoolDefParseSource` for a `<source>` element.
pub fn parse_source(node: Node, type_: PoolType) -> Result<PoolSource, XmlError> {
    let mut s = PoolSource {
        name: xpath_text(node, &["name"]),
        ..Default::default()
    };
    if type_ == PoolType::Rbd && s.name.is_none() {
        return Err(st_err(
            code::XML_ERROR,
            "element 'name' is mandatory for RBD pool",
        ));
    }
    if let Some(fmts) = type_.pool_formats() {
        s.format = match xpath_attr(node, &["format"], "type") {
            None => fmts.default_index(),
            Some(f) => fmts.index_of(&f).ok_or_else(|| {
                st_err(
                    code::CONFIG_UNSUPPORTED,
                    format!("unknown pool format type {f}"),
                )
            })?,
        };
    }
    for h in children(node, "host") {
        let name = prop(Some(h), "name")
            .ok_or_else(|| st_err(code::XML_ERROR, "missing storage pool host name"))?;
        let port = prop_int(Some(h), "port", 10)?.unwrap_or(0);
        s.hosts.push(SourceHost { name, port });
    }
    s.initiator_iqn = xpath_attr(node, &["initiator", "iqn"], "name");
    for d in children(node, "device") {
        let path = prop(Some(d), "path")
            .ok_or_else(|| st_err(code::XML_ERROR, "missing storage pool source device path"))?;
        let part_separator = prop_tristate_bool(Some(d), "part_separator")?;
        s.devices.push(SourceDevice {
            path,
            part_separator,
            free_extents: Vec::new(),
        });
    }
    s.dir = xpath_attr(node, &["dir"], "path").map(|d| sanitize_path(&d));
    if s.dir.is_none() && type_ == PoolType::Gluster {
        s.dir = Some("/".into());
    }
    if let Some(a) = child(node, "adapter") {
        s.adapter = parse_adapter(a)?;
    }
    if let Some(a) = child(node, "auth") {
        let auth = parse_auth(a)?;
        if auth.auth_type == "none" {
            return Err(st_err(
                code::CONFIG_UNSUPPORTED,
                "storage pool missing auth type",
            ));
        }
        s.auth = Some(auth);
    }
    if let Some(v) = xpath_attr(node, &["protocol"], "ver") {
        if s.format != 1 && s.format != 0 {
            let name = NETFS_FORMATS
                .get(s.format as usize)
                .copied()
                .unwrap_or("(null)");
            return Err(st_err(
                code::CONFIG_UNSUPPORTED,
                format!("storage pool protocol ver unsupported for pool type '{name}'"),
            ));
        }
        if v.contains(',') {
            return Err(st_err(
                code::XML_DETAIL,
                format!("storage pool protocol ver '{v}' must not contain ','"),
            ));
        }
        s.protocol_ver = Some(v);
    }
    s.vendor = xpath_attr(node, &["vendor"], "name");
    s.product = xpath_attr(node, &["product"], "name");
    Ok(s)
}

impl PoolDef {
    /// `virStoragePoolDefParse(xml, NULL, flags)`; a missing UUID is generated.
    pub fn parse(xml: &str) -> Result<PoolDef, XmlError> {
        let doc = conf::parse_document(xml, "(storage_pool_definition)", "pool", domain::STORAGE)?;
        Self::parse_node(doc.root_element())
    }

    /// `virStoragePoolDefParseXML` on a `<pool>` element of a larger document.
    pub fn parse_node(root: Node) -> Result<PoolDef, XmlError> {
        let type_ = conf::prop_enum(
            Some(root),
            "type",
            |s| PoolType::from_name(s).map(|t| t.index() as u32),
            true,
            false,
        )?
        .map(|i| conf_pool_type(i as usize))
        .unwrap_or(PoolType::Dir);
        let flags = type_.source_flags();
        let source = match child(root, "source") {
            Some(s) => parse_source(s, type_)?,
            None => PoolSource {
                format: type_.pool_formats().map_or(0, |f| f.default_index()),
                ..Default::default()
            },
        };
        let mut def = PoolDef {
            type_,
            name: String::new(),
            uuid: [0; 16],
            capacity: 0,
            allocation: 0,
            available: 0,
            cow: Tristate::Absent,
            source,
            target_path: None,
            target_perms: Perms::default(),
            refresh_allocation: None,
            mount_opts: None,
        };
        let mut name = xpath_text(root, &["name"]);
        if name.is_none() && flags & sf::NAME != 0 {
            name = def.source.name.clone();
        }
        def.name =
            name.ok_or_else(|| st_err(code::XML_ERROR, "missing pool source name element"))?;
        if def.name.contains('/') {
            return Err(st_err(
                code::XML_ERROR,
                format!("name {} cannot contain '/'", def.name),
            ));
        }
        def.uuid = match xpath_text(root, &["uuid"]) {
            None => uuid_generate(),
            Some(u) => {
                uuid_parse(&u).ok_or_else(|| st_err(code::XML_ERROR, "malformed uuid element"))?
            }
        };
        let cow = prop_tristate_bool(conf::path(root, &["features", "cow"]), "state")?;
        if cow.is_set() {
            if type_ != PoolType::Fs && type_ != PoolType::Dir {
                return Err(st_err(
                    code::NO_SUPPORT,
                    "cow feature may only be used for 'fs' and 'dir' pools",
                ));
            }
            def.cow = cow;
        }
        if flags & sf::HOST != 0 && def.source.hosts.is_empty() {
            return Err(st_err(
                code::XML_ERROR,
                "missing storage pool source host name",
            ));
        }
        if flags & sf::DIR != 0 && def.source.dir.is_none() {
            return Err(st_err(code::XML_ERROR, "missing storage pool source path"));
        }
        if flags & sf::NAME != 0 && def.source.name.is_none() {
            def.source.name = Some(def.name.clone());
        }
        if flags & sf::ADAPTER != 0 {
            validate_adapter(def.source.adapter.as_ref())?;
        }
        if flags == sf::DEVICE && def.source.devices.is_empty() {
            return Err(st_err(
                code::XML_ERROR,
                "missing storage pool source device name",
            ));
        }
        if flags & sf::NETWORK == 0 {
            let target = match type_ {
                PoolType::Logical => {
                    format!("/dev/{}", def.source.name.as_deref().unwrap_or("(null)"))
                }
                PoolType::Zfs => format!(
                    "/dev/zvol/{}",
                    def.source.name.as_deref().unwrap_or("(null)")
                ),
                _ => xpath_text(root, &["target", "path"])
                    .ok_or_else(|| st_err(code::XML_ERROR, "missing storage pool target path"))?,
            };
            def.target_path = Some(sanitize_path(&target));
            def.target_perms = Perms::parse(root, &["target", "permissions"])?;
        }
        if type_ == PoolType::IscsiDirect && def.source.initiator_iqn.is_none() {
            return Err(st_err(code::CONFIG_UNSUPPORTED, "missing initiator IQN"));
        }
        if let Some(a) = xpath_attr(root, &["refresh", "volume"], "allocation") {
            def.refresh_allocation = Some(match a.as_str() {
                "default" => "default",
                "capacity" => "capacity",
                _ => {
                    return Err(st_err(
                        code::CONFIG_UNSUPPORTED,
                        format!("unknown storage pool volume refresh allocation type {a}"),
                    ))
                }
            });
        }
        if matches!(type_, PoolType::Fs | PoolType::Netfs) {
            def.mount_opts = parse_mount_opts(root)?;
        }
        Ok(def)
    }

    /// `virStoragePoolDefFormat`.
    pub fn format(&self) -> String {
        let mut w = Buf::new();
        if self.mount_opts.is_some() {
            w.open(&format!(
                "<pool type='{}' xmlns:fs='{FS_NAMESPACE}'>",
                self.type_.as_str()
            ));
        } else {
            w.open(&format!("<pool type='{}'>", self.type_.as_str()));
        }
        w.text("name", &self.name);
        w.line(&format!("<uuid>{}</uuid>", uuid_format(&self.uuid)));
        w.line(&format!(
            "<capacity unit='bytes'>{}</capacity>",
            self.capacity
        ));
        w.line(&format!(
            "<allocation unit='bytes'>{}</allocation>",
            self.allocation
        ));
        w.line(&format!(
            "<available unit='bytes'>{}</available>",
            self.available
        ));
        if self.cow.is_set() {
            w.open("<features>");
            w.line(&format!("<cow state='{}'/>", self.cow.as_bool_str()));
            w.close("features");
        }
        format_source(&mut w, self.type_, &self.source);
        if !matches!(
            self.type_,
            PoolType::Rbd | PoolType::Sheepdog | PoolType::Gluster | PoolType::IscsiDirect
        ) {
            w.open("<target>");
            if let Some(p) = &self.target_path {
                w.text("path", p);
            }
            self.target_perms.format(&mut w);
            w.close("target");
        }
        if let Some(a) = self.refresh_allocation {
            w.open("<refresh>");
            w.line(&format!("<volume allocation='{a}'/>"));
            w.close("refresh");
        }
        if let Some(opts) = &self.mount_opts {
            w.open("<fs:mount_opts>");
            for o in opts {
                w.line(&format!("<fs:option name='{}'/>", escape(o)));
            }
            w.close("fs:mount_opts");
        }
        w.close("pool");
        w.finish()
    }
}

fn conf_pool_type(i: usize) -> PoolType {
    super::POOL_TYPES[i].0
}

/// `virStoragePoolSourceFormat`: the parts the pool type uses, in libvirt's order.
pub fn format_source(w: &mut Buf, type_: PoolType, s: &PoolSource) {
    let flags = type_.source_flags();
    w.open("<source>");
    if flags & sf::HOST != 0 {
        for h in &s.hosts {
            let mut l = format!("<host name='{}'", escape(&h.name));
            if h.port != 0 {
                l.push_str(&format!(" port='{}'", h.port));
            }
            l.push_str("/>");
            w.line(&l);
        }
    }
    if flags & sf::DEVICE != 0 {
        for d in &s.devices {
            let mut l = format!("<device path='{}'", escape(&d.path));
            if d.part_separator.is_set() {
                l.push_str(&format!(
                    " part_separator='{}'",
                    d.part_separator.as_bool_str()
                ));
            }
            if d.free_extents.is_empty() {
                l.push_str("/>");
                w.line(&l);
            } else {
                l.push('>');
                w.open(&l);
                for (a, b) in &d.free_extents {
                    w.line(&format!("<freeExtent start='{a}' end='{b}'/>"));
                }
                w.close("device");
            }
        }
    }
    if flags & sf::DIR != 0 {
        if let Some(d) = &s.dir {
            w.line(&format!("<dir path='{}'/>", escape(d)));
        }
    }
    if flags & sf::ADAPTER != 0 {
        match &s.adapter {
            Some(Adapter::FcHost {
                parent,
                parent_wwnn,
                parent_wwpn,
                parent_fabric_wwn,
                managed,
                wwnn,
                wwpn,
            }) => {
                let mut l = String::from("<adapter type='fc_host'");
                for (k, v) in [
                    ("parent", parent),
                    ("parent_wwnn", parent_wwnn),
                    ("parent_wwpn", parent_wwpn),
                    ("parent_fabric_wwn", parent_fabric_wwn),
                ] {
                    if let Some(v) = v {
                        l.push_str(&format!(" {k}='{}'", escape(v)));
                    }
                }
                if managed.is_set() {
                    l.push_str(&format!(" managed='{}'", managed.as_bool_str()));
                }
                l.push_str(&format!(
                    " wwnn='{}' wwpn='{}'/>",
                    wwnn.as_deref().unwrap_or("(null)"),
                    wwpn.as_deref().unwrap_or("(null)")
                ));
                w.line(&l);
            }
            Some(Adapter::ScsiHost { name, parent }) => match (name, parent) {
                (Some(n), _) => w.line(&format!("<adapter type='scsi_host' name='{n}'/>")),
                (None, Some((pci, uid))) => {
                    w.open("<adapter type='scsi_host'>");
                    w.open(&format!("<parentaddr unique_id='{uid}'>"));
                    pci.format(w, false);
                    w.close("parentaddr");
                    w.close("adapter");
                }
                (None, None) => {}
            },
            None => {}
        }
    }
    if flags & sf::NAME != 0 {
        if let Some(n) = &s.name {
            w.text("name", n);
        }
    }
    if flags & sf::INITIATOR_IQN != 0 {
        if let Some(iqn) = &s.initiator_iqn {
            w.open("<initiator>");
            w.line(&format!("<iqn name='{}'/>", escape(iqn)));
            w.close("initiator");
        }
    }
    if let Some(f) = type_.pool_formats() {
        w.line(&format!(
            "<format type='{}'/>",
            f.name_of(s.format).unwrap_or("(null)")
        ));
    }
    if let Some(a) = &s.auth {
        if a.auth_type == "none" {
            w.open(&format!("<auth username='{}'>", escape(&a.username)));
        } else {
            w.open(&format!(
                "<auth type='{}' username='{}'>",
                a.auth_type,
                escape(&a.username)
            ));
        }
        format_secret(w, a.secret_type.as_deref(), &a.secret);
        w.close("auth");
    }
    if let Some(v) = &s.protocol_ver {
        w.line(&format!("<protocol ver='{}'/>", escape(v)));
    }
    if let Some(v) = &s.vendor {
        w.line(&format!("<vendor name='{}'/>", escape(v)));
    }
    if let Some(v) = &s.product {
        w.line(&format!("<product name='{}'/>", escape(v)));
    }
    w.close("source");
}
