//! `<video>` (`virDomainVideoDefParseXML`, `virDomainVideoDefFormat`) and its defaults: the
//! test driver's model choice (`testDomainDevicesDefPostParse`) and video RAM
//! (`virDomainVideoDefPostParse`).

use super::super::buf::Buf;
use super::super::xml::{
    first, internal, prop, prop_enum, prop_yes_no, str_to_uip, unsupported, xattr, xml_enum,
    xml_error, yes_no, Node, Result, XmlEnum,
};
use super::{format_info, parse_info, DeviceInfo, VirtioOptions};
use crate::domain::{Arch, DomainDef, FormatOpts, OsType, VirtType};

xml_enum! {
    /// `virDomainVideoType`.
    pub enum VideoType {
        Default = "default", Vga = "vga", Cirrus = "cirrus", Vmvga = "vmvga", Xen = "xen",
        Vbox = "vbox", Qxl = "qxl", Parallels = "parallels", Virtio = "virtio", Gop = "gop",
        None = "none", Bochs = "bochs", Ramfb = "ramfb",
    }
}

xml_enum! {
    /// `virDomainVideoVGAConf`.
    pub enum VgaConf { Io = "io", On = "on", Off = "off" }
}

xml_enum! {
    /// `virDomainVideoBackendType`.
    pub enum VideoBackend { Default = "default", Qemu = "qemu", Vhostuser = "vhostuser" }
}

/// `<model><acceleration>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoAccel {
    /// `accel3d=`.
    pub accel3d: Option<bool>,
    /// `accel2d=`.
    pub accel2d: Option<bool>,
    /// `rendernode=`.
    pub rendernode: Option<String>,
}

/// A `<video>` device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Video {
    /// `<model type=…>`.
    pub type_: VideoType,
    /// `ram=` KiB (0: unset).
    pub ram: u32,
    /// `vram=` KiB.
    pub vram: u32,
    /// `vram64=` KiB.
    pub vram64: u32,
    /// `vgamem=` KiB.
    pub vgamem: u32,
    /// `heads=` (default 1).
    pub heads: u32,
    /// `primary='yes'`.
    pub primary: bool,
    /// `<acceleration>`.
    pub accel: Option<VideoAccel>,
    /// `<resolution x y>`.
    pub resolution: Option<(u32, u32)>,
    /// `<driver vgaconf=…>`.
    pub vgaconf: Option<VgaConf>,
    /// `<driver name=…>`.
    pub backend: Option<VideoBackend>,
    /// `<driver>` virtio options.
    pub virtio: VirtioOptions,
    /// Address and alias.
    pub info: DeviceInfo,
}

impl Video {
    /// A video device libvirt adds for graphics without one (`virDomainDefAddImplicitVideo`).
    pub(crate) fn implicit() -> Self {
        Self {
            type_: VideoType::Default,
            ram: 0,
            vram: 0,
            vram64: 0,
            vgamem: 0,
            heads: 1,
            primary: false,
            accel: None,
            resolution: None,
            vgaconf: None,
            backend: None,
            virtio: VirtioOptions::default(),
            info: DeviceInfo::default(),
        }
    }
}

fn kib(n: Node, attr: &str) -> Result<u32> {
    match xattr(n, "model", attr) {
        None => Ok(0),
        Some(v) => {
            str_to_uip(&v, 10).ok_or_else(|| xml_error(format!("cannot parse video {attr} '{v}'")))
        }
    }
}

pub(super) fn parse(n: Node) -> Result<Video> {
    let mut v = Video::implicit();
    if let Some(p) = xattr(n, "model", "primary") {
        // virStringParseYesNo: anything else leaves the default.
        if p == "yes" {
            v.primary = true;
        }
    }
    if let Some(a) = first(n, "model/acceleration") {
        let rendernode = prop(&a, "rendernode");
        let accel3d = prop_yes_no(&a, "accel3d")?;
        let accel2d = prop_yes_no(&a, "accel2d")?;
        if rendernode.is_none() && accel3d.is_none() && accel2d.is_none() {
            return Err(unsupported("missing values for acceleration"));
        }
        v.accel = Some(VideoAccel {
            accel3d,
            accel2d,
            rendernode,
        });
    }
    if let Some(r) = first(n, "model/resolution") {
        v.resolution = Some((
            super::super::xml::prop_uint_required(&r, "x", 10, false)?,
            super::super::xml::prop_uint_required(&r, "y", 10, false)?,
        ));
    }
    if let Some(d) = super::super::xml::child(n, "driver") {
        v.backend = prop_enum(&d, "name", true)?;
        v.virtio = VirtioOptions::parse(&d)?;
        v.vgaconf = prop_enum(&d, "vgaconf", false)?;
    }
    if let Some(t) = xattr(n, "model", "type") {
        v.type_ = VideoType::parse(&t)
            .ok_or_else(|| unsupported(format!("unknown video model '{t}'")))?;
    }
    v.ram = kib(n, "ram")?;
    v.vram = kib(n, "vram")?;
    v.vram64 = kib(n, "vram64")?;
    v.vgamem = kib(n, "vgamem")?;
    if let Some(h) = xattr(n, "model", "heads") {
        v.heads = str_to_uip(&h, 10)
            .ok_or_else(|| internal(format!("cannot parse video heads '{h}'")))?;
    }
    v.info = parse_info(n, false)?;
    Ok(v)
}

fn default_ram(def: &DomainDef, t: VideoType) -> u32 {
    match t {
        VideoType::Vga | VideoType::Cirrus | VideoType::Vmvga => match def.virt_type {
            VirtType::Vbox => 8 * 1024,
            VirtType::Vmware => 4 * 1024,
            _ => 16 * 1024,
        },
        VideoType::Bochs => 16 * 1024,
        VideoType::Xen => 4 * 1024,
        VideoType::Qxl => 64 * 1024,
        _ => 0,
    }
}

fn round_up_pow2(v: u32) -> u32 {
    if v == 0 {
        0
    } else {
        v.checked_next_power_of_two().unwrap_or(0)
    }
}

/// The test driver's device callback and `virDomainVideoDefPostParse`.
pub(crate) fn post_parse(v: &mut Video, def: &DomainDef) {
    if v.type_ == VideoType::Default {
        v.type_ = if matches!(def.os.type_, OsType::Xen | OsType::Linux) {
            VideoType::Xen
        } else if matches!(def.os.arch, Arch::Ppc64 | Arch::Ppc64le) {
            VideoType::Vga
        } else {
            VideoType::Cirrus
        };
    }
    if v.ram == 0 && v.type_ == VideoType::Qxl {
        v.ram = default_ram(def, v.type_);
    }
    if v.vram == 0 {
        v.vram = default_ram(def, v.type_);
    }
    v.ram = round_up_pow2(v.ram);
    v.vram = round_up_pow2(v.vram);
}

pub(super) fn format(b: &mut Buf, v: &Video, _opts: FormatOpts) {
    b.add("<video>\n");
    b.adjust(2);
    let mut da = Buf::new();
    v.virtio.format(&mut da);
    let backend = v.backend.filter(|x| *x != VideoBackend::Default);
    if !da.is_empty() || v.vgaconf.is_some_and(|c| c != VgaConf::Io) || backend.is_some() {
        b.add("<driver");
        b.append(da);
        if let Some(c) = v.vgaconf.filter(|c| *c != VgaConf::Io) {
            b.add(&format!(" vgaconf='{}'", c.as_str()));
        }
        if let Some(be) = backend {
            b.add(&format!(" name='{}'", be.as_str()));
        }
        b.add("/>\n");
    }
    b.add(&format!("<model type='{}'", v.type_.as_str()));
    if v.ram != 0 {
        b.add(&format!(" ram='{}'", v.ram));
    }
    if v.vram != 0 {
        b.add(&format!(" vram='{}'", v.vram));
    }
    if v.vram64 != 0 {
        b.add(&format!(" vram64='{}'", v.vram64));
    }
    if v.vgamem != 0 {
        b.add(&format!(" vgamem='{}'", v.vgamem));
    }
    if v.heads != 0 {
        b.add(&format!(" heads='{}'", v.heads));
    }
    if v.primary {
        b.add(" primary='yes'");
    }
    if v.accel.is_some() || v.resolution.is_some() {
        b.add(">\n");
        b.adjust(2);
        if let Some(a) = &v.accel {
            b.add("<acceleration");
            if let Some(x) = a.accel3d {
                b.add(&format!(" accel3d='{}'", yes_no(x)));
            }
            if let Some(x) = a.accel2d {
                b.add(&format!(" accel2d='{}'", yes_no(x)));
            }
            b.esc(" rendernode='%s'", a.rendernode.as_deref());
            b.add("/>\n");
        }
        if let Some((x, y)) = v.resolution {
            b.add("<resolution");
            if x != 0 && y != 0 {
                b.add(&format!(" x='{x}' y='{y}'"));
            }
            b.add("/>\n");
        }
        b.adjust(-2);
        b.add("</model>\n");
    } else {
        b.add("/>\n");
    }
    format_info(b, &v.info, false);
    b.adjust(-2);
    b.add("</video>\n");
}
