//! `<filesystem>`: host directories, images and RAM disks shared with the guest (9p, virtiofs,
//! container mounts) — `virDomainFSDefParseXML`, `virDomainFSDefFormat`,
//! `virDomainFSDefPostParse` and `virDomainFSDefValidate`.

use super::super::buf::Buf;
use super::super::xml::{
    bare, first, parse_scaled, prop, prop_enum, prop_on_off, prop_uint, report, scale_integer,
    str_to_i, str_to_ull, unsupported, xattr, xml_enum, xml_error, Node, Result, XmlEnum,
};
use super::storage_source::StorageFormat;
use super::{format_info, parse_info, DeviceInfo, VirtioOptions};
use rvirt_proto::error::{code, domain};

xml_enum! {
    /// `virDomainFSType`.
    pub enum FsType {
        Mount = "mount", Block = "block", File = "file", Template = "template", Ram = "ram",
        Bind = "bind", Volume = "volume",
    }
}

xml_enum! {
    /// `virDomainFSDriverType`.
    pub enum FsDriver {
        Default = "default", Path = "path", Handle = "handle", Loop = "loop", Nbd = "nbd",
        Ploop = "ploop", Virtiofs = "virtiofs",
    }
}

xml_enum! {
    /// `virDomainFSAccessMode`.
    pub enum FsAccessMode { Default = "", Passthrough = "passthrough", Mapped = "mapped", Squash = "squash" }
}

xml_enum! {
    /// `virDomainFSWrpolicy`.
    pub enum FsWrpolicy { Default = "default", Immediate = "immediate" }
}

xml_enum! {
    /// `virDomainFSModel`.
    pub enum FsModel {
        Default = "default", Virtio = "virtio", VirtioTransitional = "virtio-transitional",
        VirtioNonTransitional = "virtio-non-transitional",
    }
}

xml_enum! {
    /// `virDomainFSMultidevs`.
    pub enum FsMultidevs { Default = "default", Remap = "remap", Forbid = "forbid", Warn = "warn" }
}

xml_enum! {
    /// `virDomainFSCacheMode`.
    pub enum FsCacheMode { Default = "default", None = "none", Always = "always" }
}

xml_enum! {
    /// `virDomainFSSandboxMode`.
    pub enum FsSandboxMode { Default = "default", Namespace = "namespace", Chroot = "chroot" }
}

/// A `<filesystem>` (`virDomainFSDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filesystem {
    /// `type=`.
    pub type_: FsType,
    /// `accessmode=`.
    pub accessmode: FsAccessMode,
    /// `fmode=`.
    pub fmode: u32,
    /// `dmode=`.
    pub dmode: u32,
    /// `model=`.
    pub model: Option<FsModel>,
    /// `multidevs=`.
    pub multidevs: FsMultidevs,
    /// `<space_hard_limit>` in bytes.
    pub space_hard_limit: u64,
    /// `<space_soft_limit>` in bytes.
    pub space_soft_limit: u64,
    /// The source path (dir, file, dev or template name).
    pub source: Option<String>,
    /// `<source socket>`.
    pub socket: Option<String>,
    /// `<source pool volume>`.
    pub volume: Option<(Option<String>, Option<String>)>,
    /// RAM size in bytes.
    pub usage: u64,
    /// `<target dir>`.
    pub target: Option<String>,
    /// `<readonly/>`.
    pub readonly: bool,
    /// `<driver type>`.
    pub fsdriver: FsDriver,
    /// `<driver wrpolicy>`.
    pub wrpolicy: FsWrpolicy,
    /// `<driver format>`.
    pub format: Option<StorageFormat>,
    /// `<driver queue>` (virtiofs).
    pub queue_size: u64,
    /// Virtio options of `<driver>`.
    pub virtio: VirtioOptions,
    /// `<binary path>`.
    pub binary: Option<String>,
    /// `<binary xattr>`.
    pub xattr: Option<bool>,
    /// `<binary><lock posix>`.
    pub posix_lock: Option<bool>,
    /// `<binary><lock flock>`.
    pub flock: Option<bool>,
    /// `<binary><cache mode>`.
    pub cache: Option<FsCacheMode>,
    /// `<binary><sandbox mode>`.
    pub sandbox: Option<FsSandboxMode>,
    /// `<binary><thread_pool size>` (-1: unset).
    pub thread_pool_size: i32,
    /// Address, alias, boot order.
    pub info: DeviceInfo,
}

/// `virDomainFSDefParseXML`.
pub(super) fn parse(n: Node) -> Result<Filesystem> {
    let type_ = prop_enum(&n, "type", false)?.unwrap_or(FsType::Mount);
    let accessmode = prop_enum(&n, "accessmode", false)?.unwrap_or(FsAccessMode::Default);
    let fmode = prop_uint(&n, "fmode", 8, false)?.unwrap_or(0);
    if fmode > 0o777 {
        return Err(xml_error(format!("invalid fmode: '0{fmode:o}'")));
    }
    let dmode = prop_uint(&n, "dmode", 8, false)?.unwrap_or(0);
    if dmode > 0o777 {
        return Err(xml_error(format!("invalid dmode: '0{dmode:o}'")));
    }
    let model = prop_enum(&n, "model", true)?;
    let multidevs = prop_enum(&n, "multidevs", false)?.unwrap_or(FsMultidevs::Default);
    let limit = |name: &str| -> Result<u64> {
        Ok(parse_scaled(
            super::super::xml::xstring(n, name),
            xattr(n, name, "unit"),
            &format!("./{name}[1]"),
            1,
            u64::MAX,
            false,
        )?
        .unwrap_or(0))
    };
    let space_hard_limit = limit("space_hard_limit")?;
    let space_soft_limit = limit("space_soft_limit")?;
    let (mut source, mut socket, mut usage_s, mut units, mut volume) =
        (None, None, None, None, None);
    if let Some(s) = first(n, "source") {
        socket = prop(&s, "socket");
        match type_ {
            FsType::Mount | FsType::Bind => source = prop(&s, "dir"),
            FsType::File => source = prop(&s, "file"),
            FsType::Block => source = prop(&s, "dev"),
            FsType::Template => source = prop(&s, "name"),
            FsType::Ram => {
                usage_s = prop(&s, "usage");
                units = prop(&s, "units");
            }
            FsType::Volume => {
                let (p, v) = (prop(&s, "pool"), prop(&s, "volume"));
                match (&p, &v) {
                    (None, None) => {}
                    (Some(_), Some(_)) => {
                        if let Some(m) = prop(&s, "mode") {
                            if super::storage_source::PoolMode::parse(&m)
                                .filter(|x| x.index() > 0)
                                .is_none()
                            {
                                return Err(unsupported(format!(
                                    "unknown source mode '{m}' for volume type disk"
                                )));
                            }
                        }
                    }
                    _ => {
                        return Err(xml_error(
                            "'pool' and 'volume' must be specified together for 'pool' type source",
                        ))
                    }
                }
                volume = Some((p, v));
            }
        }
    }
    let target = xattr(n, "target", "dir");
    let readonly = first(n, "readonly").is_some();
    let mut fs = Filesystem {
        type_,
        accessmode,
        fmode,
        dmode,
        model,
        multidevs,
        space_hard_limit,
        space_soft_limit,
        source: None,
        socket: None,
        volume,
        usage: 0,
        target: None,
        readonly,
        fsdriver: FsDriver::Default,
        wrpolicy: FsWrpolicy::Default,
        format: None,
        queue_size: 0,
        virtio: VirtioOptions::default(),
        binary: None,
        xattr: None,
        posix_lock: None,
        flock: None,
        cache: None,
        sandbox: None,
        thread_pool_size: -1,
        info: DeviceInfo::default(),
    };
    if let Some(d) = first(n, "driver") {
        fs.fsdriver = prop_enum(&d, "type", false)?.unwrap_or(FsDriver::Default);
        fs.wrpolicy = prop_enum(&d, "wrpolicy", false)?.unwrap_or(FsWrpolicy::Default);
        if let Some(f) = prop(&d, "format") {
            fs.format = Some(
                StorageFormat::parse(&f)
                    .filter(|x| x.index() > 0)
                    .ok_or_else(|| unsupported(format!("unknown driver format value '{f}'")))?,
            );
        }
        fs.virtio = VirtioOptions::parse(&d)?;
    }
    if fs.fsdriver == FsDriver::Virtiofs {
        if let Some(q) = xattr(n, "driver", "queue") {
            fs.queue_size = str_to_ull(&q, 10)
                .ok_or_else(|| xml_error(format!("cannot parse queue size '{q}' for virtiofs")))?;
        }
        if let Some(t) = xattr(n, "binary/thread_pool", "size") {
            fs.thread_pool_size = str_to_i(&t, 10).ok_or_else(|| {
                xml_error(format!("cannot parse thread pool size '{t}' for virtiofs"))
            })?;
        }
        fs.binary = xattr(n, "binary", "path").map(|p| crate::conf::sanitize_path(&p));
        if let Some(b) = first(n, "binary") {
            fs.xattr = prop_on_off(&b, "xattr")?;
        }
        if let Some(l) = first(n, "binary/lock") {
            fs.posix_lock = prop_on_off(&l, "posix")?;
            fs.flock = prop_on_off(&l, "flock")?;
        }
        if let Some(c) = first(n, "binary/cache") {
            fs.cache = prop_enum(&c, "mode", true)?;
        }
        if let Some(s) = first(n, "binary/sandbox") {
            fs.sandbox = prop_enum(&s, "mode", true)?;
        }
    }
    if source.is_none() && type_ != FsType::Ram && type_ != FsType::Volume && socket.is_none() {
        return Err(match &target {
            Some(t) => report(code::NO_SOURCE, domain::DOMAIN, t.clone()),
            None => bare(code::NO_SOURCE, domain::DOMAIN),
        });
    }
    if type_ == FsType::Ram {
        let Some(u) = usage_s else {
            return Err(xml_error("missing 'usage' attribute for RAM filesystem"));
        };
        let v = str_to_ull(&u, 10)
            .ok_or_else(|| xml_error(format!("cannot parse usage '{u}' for RAM filesystem")))?;
        fs.usage = scale_integer(v, units.as_deref(), 1024, u64::MAX)?;
    }
    fs.source = source.take();
    fs.socket = socket.take();
    fs.target = target;
    fs.info = parse_info(n, true)?;
    Ok(fs)
}

/// `virDomainFSDefPostParse`.
pub(crate) fn post_parse(fs: &mut Filesystem) {
    if fs.accessmode == FsAccessMode::Default && fs.socket.is_none() {
        fs.accessmode = FsAccessMode::Passthrough;
    }
}

/// `virDomainFSDefValidate`.
pub(crate) fn validate(fs: &Filesystem) -> Result<()> {
    if fs.target.is_none() {
        return Err(match fs.source.as_ref().or(fs.socket.as_ref()) {
            Some(s) => report(code::NO_TARGET, domain::DOMAIN, s.clone()),
            None => bare(code::NO_TARGET, domain::DOMAIN),
        });
    }
    if fs.info.boot_order.is_some() && fs.fsdriver != FsDriver::Virtiofs {
        return Err(unsupported("boot order is only supported for virtiofs"));
    }
    Ok(())
}

/// `virDomainFSDefFormat`.
pub(super) fn format(b: &mut Buf, fs: &Filesystem) {
    b.add(&format!("<filesystem type='{}'", fs.type_.as_str()));
    if fs.accessmode != FsAccessMode::Default {
        b.add(&format!(" accessmode='{}'", fs.accessmode.as_str()));
    }
    if let Some(m) = fs.model.filter(|m| *m != FsModel::Default) {
        b.add(&format!(" model='{}'", m.as_str()));
    }
    if fs.multidevs != FsMultidevs::Default {
        b.add(&format!(" multidevs='{}'", fs.multidevs.as_str()));
    }
    if fs.fmode != 0 {
        b.add(&format!(" fmode='{:04o}'", fs.fmode));
    }
    if fs.dmode != 0 {
        b.add(&format!(" dmode='{:04o}'", fs.dmode));
    }
    b.add(">\n");
    b.adjust(2);
    let mut da = Buf::new();
    let mut ba = Buf::new();
    let mut bk = b.child();
    if fs.fsdriver != FsDriver::Default {
        da.add(&format!(" type='{}'", fs.fsdriver.as_str()));
        if let Some(f) = fs.format {
            da.add(&format!(" format='{}'", f.as_str()));
        }
        if fs.wrpolicy != FsWrpolicy::Default {
            da.add(&format!(" wrpolicy='{}'", fs.wrpolicy.as_str()));
        }
        if fs.queue_size != 0 {
            da.add(&format!(" queue='{}'", fs.queue_size));
        }
    }
    if fs.fsdriver == FsDriver::Virtiofs {
        ba.esc(" path='%s'", fs.binary.as_deref());
        if let Some(x) = fs.xattr {
            ba.add(&format!(" xattr='{}'", super::super::xml::on_off(x)));
        }
        if let Some(c) = fs.cache.filter(|c| *c != FsCacheMode::Default) {
            bk.add(&format!("<cache mode='{}'/>\n", c.as_str()));
        }
        if let Some(s) = fs.sandbox.filter(|s| *s != FsSandboxMode::Default) {
            bk.add(&format!("<sandbox mode='{}'/>\n", s.as_str()));
        }
        let mut la = Buf::new();
        if let Some(p) = fs.posix_lock {
            la.add(&format!(" posix='{}'", super::super::xml::on_off(p)));
        }
        if let Some(f) = fs.flock {
            la.add(&format!(" flock='{}'", super::super::xml::on_off(f)));
        }
        bk.element("lock", la, Buf::new());
        if fs.thread_pool_size >= 0 {
            bk.add(&format!("<thread_pool size='{}'/>\n", fs.thread_pool_size));
        }
    }
    fs.virtio.format(&mut da);
    b.element("driver", da, b.child());
    b.element("binary", ba, bk);
    match fs.type_ {
        FsType::Mount | FsType::Bind => match &fs.socket {
            None => b.esc("<source dir='%s'/>\n", fs.source.as_deref()),
            Some(s) => b.esc("<source socket='%s'/>\n", Some(s)),
        },
        FsType::Block => b.esc("<source dev='%s'/>\n", fs.source.as_deref()),
        FsType::File => b.esc("<source file='%s'/>\n", fs.source.as_deref()),
        FsType::Template => b.esc("<source name='%s'/>\n", fs.source.as_deref()),
        FsType::Ram => b.add(&format!(
            "<source usage='{}' units='KiB'/>\n",
            (fs.usage / 1024) as i64
        )),
        FsType::Volume => {
            b.add("<source");
            if let Some((p, v)) = &fs.volume {
                b.esc(" pool='%s'", p.as_deref());
                b.esc(" volume='%s'", v.as_deref());
            }
            b.add("/>\n");
        }
    }
    b.esc("<target dir='%s'/>\n", fs.target.as_deref());
    if fs.readonly {
        b.add("<readonly/>\n");
    }
    format_info(b, &fs.info, true);
    if fs.space_hard_limit != 0 {
        b.add(&format!(
            "<space_hard_limit unit='bytes'>{}</space_hard_limit>\n",
            fs.space_hard_limit
        ));
    }
    if fs.space_soft_limit != 0 {
        b.add(&format!(
            "<space_soft_limit unit='bytes'>{}</space_soft_limit>\n",
            fs.space_soft_limit
        ));
    }
    b.adjust(-2);
    b.add("</filesystem>\n");
}
