//! The storage volume document (`virStorageVolDef`), read in the context of its pool (whose type
//! decides which target formats are allowed) and formatted as `virStorageVolDefFormat` does.

use super::pool::{format_secret, SecretLookup};
use super::{scale_integer, FormatEnum, Perms, PoolType};
use crate::conf::{
    self, child, children, err, path, prop, str_to_u32_wrap, str_to_u64_pos, uuid_parse,
    xpath_attr, xpath_text, Buf, Node,
};
use crate::XmlError;
use rvirt_proto::error::{code, domain};

fn st_err(code: i32, detail: impl Into<String>) -> XmlError {
    err(code, domain::STORAGE, detail)
}

const VOL_TYPES: [&str; 6] = ["file", "block", "dir", "network", "netdir", "ploop"];
const ENC_FORMATS: [&str; 4] = ["default", "qcow", "luks", "luks2"];
const FEATURES: [&str; 2] = ["lazy_refcounts", "extended_l2"];

/// `<encryption>` (`virStorageEncryption`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encryption {
    /// `format` index: default, qcow, luks, luks2.
    pub format: u32,
    /// `engine`: 1 qemu, 2 librbd, 0 not given.
    pub engine: u32,
    /// `<secret type='passphrase'>` elements.
    pub secrets: Vec<SecretLookup>,
    /// LUKS `<cipher name size mode hash>`.
    pub cipher: Option<(String, u32, Option<String>, Option<String>)>,
    /// LUKS `<ivgen name hash>`.
    pub ivgen: Option<(String, Option<String>)>,
}

fn parse_encryption(node: Node) -> Result<Encryption, XmlError> {
    let fmt = xpath_attr(node, &[], "format")
        .ok_or_else(|| st_err(code::XML_ERROR, "unknown volume encryption format"))?;
    let format = ENC_FORMATS.iter().position(|f| *f == fmt).ok_or_else(|| {
        st_err(
            code::CONFIG_UNSUPPORTED,
            format!("unknown volume encryption format type {fmt}"),
        )
    })? as u32;
    let engine = conf::prop_enum(
        Some(node),
        "engine",
        |s| {
            ["default", "qemu", "librbd"]
                .iter()
                .position(|e| *e == s)
                .map(|i| i as u32)
        },
        false,
        true,
    )?
    .unwrap_or(0);
    let mut secrets = Vec::new();
    for s in children(node, "secret") {
        let t = xpath_attr(s, &[], "type")
            .ok_or_else(|| st_err(code::XML_ERROR, "unknown volume encryption secret type"))?;
        if t != "passphrase" {
            return Err(st_err(
                code::CONFIG_UNSUPPORTED,
                format!("unknown volume encryption secret type {t}"),
            ));
        }
        let uuid = prop(Some(s), "uuid");
        let usage = prop(Some(s), "usage");
        let xe = |m: String| err(code::XML_ERROR, domain::NONE, m);
        secrets.push(match (uuid, usage) {
            (None, None) => return Err(xe("missing secret uuid or usage attribute".into())),
            (Some(_), Some(_)) => return Err(xe("either secret uuid or usage expected".into())),
            (Some(u), None) => SecretLookup::Uuid(
                uuid_parse(&u).ok_or_else(|| xe(format!("invalid secret uuid '{u}'")))?,
            ),
            (None, Some(u)) => SecretLookup::Usage(u),
        });
    }
    let mut enc = Encryption {
        format,
        engine,
        secrets,
        cipher: None,
        ivgen: None,
    };
    if format == 2 {
        if let Some(c) = child(node, "cipher") {
            let name = prop(Some(c), "name")
                .ok_or_else(|| st_err(code::XML_ERROR, "cipher info missing 'name' attribute"))?;
            let size = conf::prop_uint(Some(c), "size", 10, true, false)?.unwrap_or(0);
            enc.cipher = Some((name, size, prop(Some(c), "mode"), prop(Some(c), "hash")));
        }
        if let Some(iv) = child(node, "ivgen") {
            if enc.cipher.is_none() {
                return Err(st_err(
                    code::XML_ERROR,
                    "ivgen element found, but cipher is missing",
                ));
            }
            let name = prop(Some(iv), "name")
                .ok_or_else(|| st_err(code::XML_ERROR, "missing ivgen info name string"))?;
            enc.ivgen = Some((name, prop(Some(iv), "hash")));
        }
    }
    Ok(enc)
}

fn format_encryption(w: &mut Buf, e: &Encryption) {
    let fmt = ENC_FORMATS[e.format as usize];
    if e.engine == 0 {
        w.open(&format!("<encryption format='{fmt}'>"));
    } else {
        let engine = ["default", "qemu", "librbd"][e.engine as usize];
        w.open(&format!("<encryption format='{fmt}' engine='{engine}'>"));
    }
    for s in &e.secrets {
        format_secret(w, Some("passphrase"), s);
    }
    if e.format == 2 {
        if let Some((name, size, mode, hash)) = &e.cipher {
            let mut l = format!(
                "<cipher name='{}' size='{size}'",
                crate::writer::escape(name)
            );
            if let Some(m) = mode {
                l.push_str(&format!(" mode='{}'", crate::writer::escape(m)));
            }
            if let Some(h) = hash {
                l.push_str(&format!(" hash='{}'", crate::writer::escape(h)));
            }
            l.push_str("/>");
            w.line(&l);
            if let Some((name, hash)) = &e.ivgen {
                let mut l = format!("<ivgen name='{}'", crate::writer::escape(name));
                if let Some(h) = hash {
                    l.push_str(&format!(" hash='{}'", crate::writer::escape(h)));
                }
                l.push_str("/>");
                w.line(&l);
            }
        }
    }
    w.close("encryption");
}

/// A file time as `struct timespec`: seconds and nanoseconds.
pub type Timespec = (i64, i64);

/// `<timestamps>` (`virStorageTimestamps`): output only, filled by a backend from `stat`. A
/// time whose nanoseconds are negative is left out, as libvirt does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timestamps {
    /// Last access.
    pub atime: Timespec,
    /// Last modification.
    pub mtime: Timespec,
    /// Last status change.
    pub ctime: Timespec,
    /// Birth (libvirt on Linux always reports 0).
    pub btime: Timespec,
}

/// `<target>` or `<backingStore>` of a volume (the parts of `virStorageSource` a volume uses).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VolTarget {
    /// Path.
    pub path: Option<String>,
    /// Format index into the pool type's volume format enum.
    pub format: u32,
    /// Permissions.
    pub perms: Perms,
    /// Encryption.
    pub encryption: Option<Encryption>,
    /// `<compat>`.
    pub compat: Option<String>,
    /// `<nocow/>`.
    pub nocow: bool,
    /// `<clusterSize>` in bytes (0 when not given).
    pub cluster_size: u64,
    /// `<features>`: `None` when absent, else which features are set.
    pub features: Option<[bool; 2]>,
    /// `<timestamps>` (never parsed; a driver fills them).
    pub timestamps: Option<Timestamps>,
}

/// A storage volume definition (`virStorageVolDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolDef {
    /// Name.
    pub name: String,
    /// Key (drivers fill it).
    pub key: Option<String>,
    /// `type` attribute index (file, block, dir, network, netdir, ploop).
    pub type_: u32,
    /// Capacity in bytes.
    pub capacity: u64,
    /// Allocation in bytes (capacity when not given).
    pub allocation: u64,
    /// Whether `<allocation>` was given.
    pub has_allocation: bool,
    /// Physical size shown on output when a driver knows it (0 otherwise).
    pub physical: u64,
    /// `<target>`.
    pub target: VolTarget,
    /// `<backingStore>`.
    pub backing: Option<VolTarget>,
    /// Source extents `(device path, start, end)` (filled by backends).
    pub extents: Vec<(String, u64, u64)>,
}

fn storage_size(unit: Option<&str>, val: &str) -> Result<u64, XmlError> {
    let v = str_to_u64_pos(val, 10)
        .ok_or_else(|| st_err(code::XML_ERROR, "malformed capacity element"))?;
    scale_integer(v, unit, 1, i64::MAX as u64)
}

fn parse_format(opts: Option<FormatEnum>, node: Node, steps: &[&str]) -> Result<u32, XmlError> {
    let Some(f) = opts else { return Ok(0) };
    match xpath_attr(node, steps, "type") {
        None => Ok(f.default_index()),
        Some(s) => f.index_of(&s).ok_or_else(|| {
            st_err(
                code::CONFIG_UNSUPPORTED,
                format!("unknown volume format type {s}"),
            )
        }),
    }
}

/// `virStorageVolDefParse` flags (`VIR_VOL_XML_PARSE_*`).
pub mod parse_flags {
    /// `<capacity>` may be omitted (creating a volume from another one).
    pub const NO_CAPACITY: u32 = 1 << 0;
    /// `<capacity>` may be omitted when a `<backingStore>` is given.
    pub const OPT_CAPACITY: u32 = 1 << 1;
}

impl VolDef {
    /// `virStorageVolDefParse(pool, xml, NULL, 0)` for a pool of type `pool_type`.
    pub fn parse(pool_type: PoolType, xml: &str) -> Result<VolDef, XmlError> {
        Self::parse_with_flags(pool_type, xml, 0)
    }

    /// `virStorageVolDefParse(pool, xml, NULL, flags)` with [`parse_flags`].
    pub fn parse_with_flags(
        pool_type: PoolType,
        xml: &str,
        flags: u32,
    ) -> Result<VolDef, XmlError> {
        let doc = conf::parse_document(
            xml,
            "(storage_volume_definition)",
            "volume",
            domain::STORAGE,
        )?;
        Self::parse_node_with_flags(pool_type, doc.root_element(), flags)
    }

    /// `virStorageVolDefParseXML(pool, ctxt, 0)` on a `<volume>` element.
    pub fn parse_node(pool_type: PoolType, root: Node) -> Result<VolDef, XmlError> {
        Self::parse_node_with_flags(pool_type, root, 0)
    }

    /// `virStorageVolDefParseXML(pool, ctxt, flags)` on a `<volume>` element.
    pub fn parse_node_with_flags(
        pool_type: PoolType,
        root: Node,
        flags: u32,
    ) -> Result<VolDef, XmlError> {
        let opts = pool_type.vol_formats();
        let name = xpath_text(root, &["name"])
            .ok_or_else(|| st_err(code::XML_ERROR, "missing volume name element"))?;
        let key = xpath_text(root, &["key"]);
        let type_ = match xpath_attr(root, &[], "type") {
            None => 0,
            Some(t) => VOL_TYPES.iter().position(|v| *v == t).ok_or_else(|| {
                st_err(
                    code::CONFIG_UNSUPPORTED,
                    format!("unknown volume type '{t}'"),
                )
            })? as u32,
        };
        let mut backing = None;
        if let Some(bpath) = xpath_text(root, &["backingStore", "path"]) {
            let format = parse_format(opts, root, &["backingStore", "format"])?;
            let perms = Perms::parse(root, &["backingStore", "permissions"])?;
            backing = Some(VolTarget {
                path: Some(bpath),
                format,
                perms,
                ..Default::default()
            });
        }
        let capacity = match xpath_text(root, &["capacity"]) {
            Some(c) => storage_size(xpath_attr(root, &["capacity"], "unit").as_deref(), &c)?,
            None if flags & parse_flags::NO_CAPACITY != 0 => 0,
            None if flags & parse_flags::OPT_CAPACITY != 0 && backing.is_some() => 0,
            None => return Err(st_err(code::XML_ERROR, "missing capacity element")),
        };
        let (allocation, has_allocation) = match xpath_text(root, &["allocation"]) {
            Some(a) => (
                storage_size(xpath_attr(root, &["allocation"], "unit").as_deref(), &a)?,
                true,
            ),
            None => (capacity, false),
        };
        let mut target = VolTarget {
            path: xpath_text(root, &["target", "path"]),
            format: parse_format(opts, root, &["target", "format"])?,
            perms: Perms::parse(root, &["target", "permissions"])?,
            ..Default::default()
        };
        if let Some(e) = path(root, &["target", "encryption"]) {
            target.encryption = Some(parse_encryption(e)?);
        }
        target.compat = xpath_text(root, &["target", "compat"]);
        if let Some(c) = &target.compat {
            let ok = c.split_once('.').is_some_and(|(a, b)| {
                str_to_u32_wrap(a, 10).is_some() && str_to_u32_wrap(b, 10).is_some()
            });
            if !ok {
                return Err(st_err(
                    code::XML_ERROR,
                    "forbidden characters in 'compat' attribute",
                ));
            }
        }
        target.nocow = path(root, &["target", "nocow"]).is_some();
        if let Some(cs) = xpath_text(root, &["target", "clusterSize"]) {
            let v = str_to_u64_pos(&cs, 10).ok_or_else(|| {
                err(
                    code::XML_ERROR,
                    domain::XML,
                    format!("Invalid value '{cs}' for element or attribute './target/clusterSize'"),
                )
            })?;
            let unit = xpath_attr(root, &["target", "clusterSize"], "unit");
            target.cluster_size = scale_integer(v, unit.as_deref(), 1, u64::MAX)?;
        }
        if let Some(f) = path(root, &["target", "features"]) {
            if target.compat.is_none() {
                target.compat = Some("1.1".into());
            }
            let mut set = [false; 2];
            for n in f.children().filter(|c| c.is_element()) {
                let name = n.tag_name().name();
                let i = FEATURES.iter().position(|x| *x == name).ok_or_else(|| {
                    st_err(
                        code::CONFIG_UNSUPPORTED,
                        format!("unsupported feature {name}"),
                    )
                })?;
                set[i] = true;
            }
            target.features = Some(set);
        }
        Ok(VolDef {
            name,
            key,
            type_,
            capacity,
            allocation,
            has_allocation,
            physical: 0,
            target,
            backing,
            extents: Vec::new(),
        })
    }

    /// `virStorageVolDefFormat(pool, def)` for a pool of type `pool_type`.
    pub fn format(&self, pool_type: PoolType) -> String {
        let opts = pool_type.vol_formats();
        let mut w = Buf::new();
        w.open(&format!(
            "<volume type='{}'>",
            VOL_TYPES
                .get(self.type_ as usize)
                .copied()
                .unwrap_or("(null)")
        ));
        w.text("name", &self.name);
        if let Some(k) = &self.key {
            w.text("key", k);
        }
        // virXMLFormatElement drops an element with neither attributes nor children.
        if !self.extents.is_empty() {
            w.open("<source>");
            let mut current: Option<&str> = None;
            for (dev, start, end) in &self.extents {
                if current != Some(dev.as_str()) {
                    if current.is_some() {
                        w.line("</device>");
                    }
                    w.line(&format!("<device path='{}'>", crate::writer::escape(dev)));
                }
                w.indent();
                w.line(&format!("<extent start='{start}' end='{end}'/>"));
                w.dedent();
                current = Some(dev);
            }
            w.line("</device>");
            w.close("source");
        }
        w.line(&format!(
            "<capacity unit='bytes'>{}</capacity>",
            self.capacity
        ));
        w.line(&format!(
            "<allocation unit='bytes'>{}</allocation>",
            self.allocation
        ));
        if self.physical != 0 {
            w.line(&format!(
                "<physical unit='bytes'>{}</physical>",
                self.physical
            ));
        }
        format_target(&mut w, opts, &self.target, "target");
        if let Some(b) = &self.backing {
            format_target(&mut w, opts, b, "backingStore");
        }
        w.close("volume");
        w.finish()
    }
}

fn format_target(w: &mut Buf, opts: Option<FormatEnum>, t: &VolTarget, elem: &str) {
    w.open(&format!("<{elem}>"));
    if let Some(p) = &t.path {
        w.text("path", p);
    }
    if let Some(f) = opts {
        w.line(&format!(
            "<format type='{}'/>",
            f.name_of(t.format).unwrap_or("(null)")
        ));
    }
    t.perms.format(w);
    if let Some(ts) = &t.timestamps {
        w.open("<timestamps>");
        for (name, (sec, nsec)) in [
            ("atime", ts.atime),
            ("mtime", ts.mtime),
            ("ctime", ts.ctime),
            ("btime", ts.btime),
        ] {
            if nsec < 0 {
                continue;
            }
            if nsec != 0 {
                w.line(&format!("<{name}>{sec}.{nsec:09}</{name}>"));
            } else {
                w.line(&format!("<{name}>{sec}</{name}>"));
            }
        }
        w.close("timestamps");
    }
    if let Some(e) = &t.encryption {
        format_encryption(w, e);
    }
    if let Some(c) = &t.compat {
        w.text("compat", c);
    }
    if t.cluster_size > 0 {
        w.line(&format!(
            "<clusterSize unit='B'>{}</clusterSize>",
            t.cluster_size
        ));
    }
    if let Some(f) = &t.features {
        if f.iter().any(|x| *x) {
            w.open("<features>");
            for (i, set) in f.iter().enumerate() {
                if *set {
                    w.line(&format!("<{}/>", FEATURES[i]));
                }
            }
            w.close("features");
        } else {
            w.line("<features/>");
        }
    }
    w.close(elem);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_is_optional_only_where_the_flags_allow() {
        let no_cap = "<volume><name>v</name></volume>";
        let e = VolDef::parse(PoolType::Dir, no_cap).unwrap_err();
        assert_eq!(e.message(), "XML error: missing capacity element");
        let v = VolDef::parse_with_flags(PoolType::Dir, no_cap, parse_flags::NO_CAPACITY).unwrap();
        assert_eq!((v.capacity, v.allocation), (0, 0));
        assert!(
            VolDef::parse_with_flags(PoolType::Dir, no_cap, parse_flags::OPT_CAPACITY).is_err()
        );
        let backed = "<volume><name>v</name><backingStore><path>/b</path></backingStore></volume>";
        let v = VolDef::parse_with_flags(PoolType::Dir, backed, parse_flags::OPT_CAPACITY).unwrap();
        assert_eq!(v.capacity, 0);
        // libvirt's default backing format in a dir pool is raw.
        assert_eq!(v.backing.unwrap().format, 1);
    }

    #[test]
    fn timestamps_are_formatted_like_libvirt() {
        let mut v = VolDef::parse(
            PoolType::Dir,
            "<volume><name>v</name><capacity>1</capacity></volume>",
        )
        .unwrap();
        v.target.path = Some("/p/v".into());
        v.target.timestamps = Some(Timestamps {
            atime: (1795281928, 632383346),
            mtime: (1795281928, 5),
            ctime: (7, -1),
            btime: (0, 0),
        });
        let x = v.format(PoolType::Dir);
        assert!(
            x.contains(
                "    <timestamps>\n      <atime>1795281928.632383346</atime>\n      \
                 <mtime>1795281928.000000005</mtime>\n      <btime>0</btime>\n    \
                 </timestamps>\n"
            ),
            "{x}"
        );
    }
}
