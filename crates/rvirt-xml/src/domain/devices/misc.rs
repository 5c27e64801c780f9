//! Small devices: `<watchdog>`, `<panic>`, `<hub>` and `<sound>` (their `virDomain*DefParseXML`
//! and `virDomain*DefFormat`).

use super::super::buf::Buf;
use super::super::xml::{
    children, internal, prop, prop_uint_required, unsupported, xml_enum, xml_error, Node, Result,
    XmlEnum,
};
use super::{format_info, parse_info, DeviceInfo};

xml_enum! {
    /// `virDomainWatchdogModel`.
    pub enum WatchdogModel { I6300esb = "i6300esb", Ib700 = "ib700", Diag288 = "diag288" }
}

xml_enum! {
    /// `virDomainWatchdogAction`.
    pub enum WatchdogAction {
        Reset = "reset", Shutdown = "shutdown", Poweroff = "poweroff", Pause = "pause",
        Dump = "dump", None = "none", InjectNmi = "inject-nmi",
    }
}

xml_enum! {
    /// `virDomainPanicModel`.
    pub enum PanicModel {
        Default = "default", Isa = "isa", Pseries = "pseries", Hyperv = "hyperv", S390 = "s390",
    }
}

xml_enum! {
    /// `virDomainSoundModel`.
    pub enum SoundModel {
        Sb16 = "sb16", Es1370 = "es1370", Pcspk = "pcspk", Ac97 = "ac97", Ich6 = "ich6",
        Ich9 = "ich9", Usb = "usb", Ich7 = "ich7",
    }
}

xml_enum! {
    /// `virDomainSoundCodecType`.
    pub enum SoundCodec { Duplex = "duplex", Micro = "micro", Output = "output" }
}

/// The `<watchdog>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watchdog {
    /// `model=`.
    pub model: WatchdogModel,
    /// `action=` (default reset).
    pub action: WatchdogAction,
    /// Address and alias.
    pub info: DeviceInfo,
}

/// A `<panic>` device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panic {
    /// `model=`.
    pub model: PanicModel,
    /// Address and alias.
    pub info: DeviceInfo,
}

/// A `<hub>` (USB only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hub {
    /// Address and alias.
    pub info: DeviceInfo,
}

/// A `<sound>` device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sound {
    /// `model=`.
    pub model: SoundModel,
    /// `<codec type=…>`s (ich6 and ich9 only).
    pub codecs: Vec<SoundCodec>,
    /// `<audio id=…>` (0: none).
    pub audio_id: u32,
    /// Address and alias.
    pub info: DeviceInfo,
}

pub(super) fn parse_watchdog(n: Node) -> Result<Watchdog> {
    let Some(m) = prop(&n, "model") else {
        return Err(internal("watchdog must contain model name"));
    };
    let model = WatchdogModel::parse(&m)
        .ok_or_else(|| unsupported(format!("unknown watchdog model '{m}'")))?;
    let action = match prop(&n, "action") {
        None => WatchdogAction::Reset,
        Some(a) => WatchdogAction::parse(&a)
            .ok_or_else(|| unsupported(format!("unknown watchdog action '{a}'")))?,
    };
    Ok(Watchdog {
        model,
        action,
        info: parse_info(n, false)?,
    })
}

pub(super) fn format_watchdog(b: &mut Buf, w: &Watchdog) {
    let mut attrs = Buf::new();
    attrs.add(&format!(
        " model='{}' action='{}'",
        w.model.as_str(),
        w.action.as_str()
    ));
    let mut k = b.child();
    format_info(&mut k, &w.info, false);
    b.element("watchdog", attrs, k);
}

pub(super) fn parse_panic(n: Node) -> Result<Panic> {
    let info = parse_info(n, false)?;
    let model = match prop(&n, "model") {
        None => PanicModel::Default,
        Some(m) => PanicModel::parse(&m)
            .ok_or_else(|| unsupported(format!("unknown panic model '{m}'")))?,
    };
    Ok(Panic { model, info })
}

pub(super) fn format_panic(b: &mut Buf, p: &Panic) {
    let mut attrs = Buf::new();
    if p.model != PanicModel::Default {
        attrs.add(&format!(" model='{}'", p.model.as_str()));
    }
    let mut k = b.child();
    format_info(&mut k, &p.info, false);
    b.element("panic", attrs, k);
}

pub(super) fn parse_hub(n: Node) -> Result<Hub> {
    let Some(t) = prop(&n, "type") else {
        return Err(internal("missing hub device type"));
    };
    if t != "usb" {
        return Err(unsupported(format!("unknown hub device type '{t}'")));
    }
    Ok(Hub {
        info: parse_info(n, false)?,
    })
}

pub(super) fn format_hub(b: &mut Buf, h: &Hub) {
    let mut k = b.child();
    format_info(&mut k, &h.info, false);
    let mut attrs = Buf::new();
    attrs.add(" type='usb'");
    b.element("hub", attrs, k);
}

pub(super) fn parse_sound(n: Node) -> Result<Sound> {
    let model: SoundModel = super::super::xml::prop_enum_required(&n, "model", false)?;
    let mut codecs = Vec::new();
    if matches!(model, SoundModel::Ich6 | SoundModel::Ich9) {
        for c in children(n, "codec") {
            let t = prop(&c, "type").unwrap_or_else(|| "(null)".into());
            codecs.push(
                SoundCodec::parse(&t)
                    .ok_or_else(|| unsupported(format!("unknown codec type '{t}'")))?,
            );
        }
    }
    let audio_id = match super::super::xml::child(n, "audio") {
        Some(a) => prop_uint_required(&a, "id", 10, true)?,
        None => 0,
    };
    Ok(Sound {
        model,
        codecs,
        audio_id,
        info: parse_info(n, false)?,
    })
}

pub(super) fn format_sound(b: &mut Buf, s: &Sound) {
    let mut k = b.child();
    for c in &s.codecs {
        k.add(&format!("<codec type='{}'/>\n", c.as_str()));
    }
    if s.audio_id > 0 {
        k.add(&format!("<audio id='{}'/>\n", s.audio_id));
    }
    format_info(&mut k, &s.info, false);
    let mut attrs = Buf::new();
    attrs.add(&format!(" model='{}'", s.model.as_str()));
    b.element("sound", attrs, k);
}

xml_enum! {
    /// `virDomainIOMMUModel`.
    pub enum IommuModel { Intel = "intel", Smmuv3 = "smmuv3", Virtio = "virtio" }
}

xml_enum! {
    /// `virDomainVsockModel`.
    pub enum VsockModel {
        Default = "default", Virtio = "virtio", VirtioTransitional = "virtio-transitional",
        VirtioNonTransitional = "virtio-non-transitional",
    }
}

/// The `<iommu>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iommu {
    /// `model=`.
    pub model: IommuModel,
    /// `<driver intremap caching_mode eim iotlb>`.
    pub intremap: Option<bool>,
    /// `caching_mode=`.
    pub caching_mode: Option<bool>,
    /// `eim=`.
    pub eim: Option<bool>,
    /// `iotlb=`.
    pub iotlb: Option<bool>,
    /// `aw_bits=` (0: unset).
    pub aw_bits: u32,
    /// Address and alias.
    pub info: DeviceInfo,
}

/// The `<vsock>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vsock {
    /// `model=`.
    pub model: Option<VsockModel>,
    /// `<cid address=…>` (0: unset).
    pub guest_cid: u32,
    /// `<cid auto=…>` (derived from the address when absent).
    pub auto_cid: Option<bool>,
    /// `<driver>` virtio options.
    pub virtio: super::VirtioOptions,
    /// Address and alias.
    pub info: DeviceInfo,
}

pub(super) fn parse_iommu(n: Node) -> Result<Iommu> {
    let model: IommuModel = super::super::xml::prop_enum_required(&n, "model", false)?;
    let mut i = Iommu {
        model,
        intremap: None,
        caching_mode: None,
        eim: None,
        iotlb: None,
        aw_bits: 0,
        info: DeviceInfo::default(),
    };
    if let Some(d) = super::super::xml::child(n, "driver") {
        use super::super::xml::prop_on_off;
        i.intremap = prop_on_off(&d, "intremap")?;
        i.caching_mode = prop_on_off(&d, "caching_mode")?;
        i.iotlb = prop_on_off(&d, "iotlb")?;
        i.eim = prop_on_off(&d, "eim")?;
        i.aw_bits = super::super::xml::prop_uint(&d, "aw_bits", 10, false)?.unwrap_or(0);
    }
    i.info = parse_info(n, false)?;
    Ok(i)
}

pub(super) fn format_iommu(b: &mut Buf, i: &Iommu) {
    use super::super::xml::on_off;
    let mut k = b.child();
    let mut da = Buf::new();
    for (name, v) in [
        ("intremap", i.intremap),
        ("caching_mode", i.caching_mode),
        ("eim", i.eim),
        ("iotlb", i.iotlb),
    ] {
        if let Some(v) = v {
            da.add(&format!(" {name}='{}'", on_off(v)));
        }
    }
    if i.aw_bits > 0 {
        da.add(&format!(" aw_bits='{}'", i.aw_bits));
    }
    k.element("driver", da, Buf::new());
    format_info(&mut k, &i.info, false);
    let mut attrs = Buf::new();
    attrs.add(&format!(" model='{}'", i.model.as_str()));
    b.element("iommu", attrs, k);
}

pub(super) fn parse_vsock(n: Node) -> Result<Vsock> {
    let model = super::super::xml::prop_enum(&n, "model", false)?;
    let (mut guest_cid, mut auto_cid) = (0, None);
    if let Some(c) = super::super::xml::child(n, "cid") {
        guest_cid = super::super::xml::prop_uint(&c, "address", 10, true)?.unwrap_or(0);
        auto_cid = super::super::xml::prop_yes_no(&c, "auto")?;
    }
    let info = parse_info(n, false)?;
    let virtio = match super::super::xml::child(n, "driver") {
        Some(d) => super::VirtioOptions::parse(&d)?,
        None => super::VirtioOptions::default(),
    };
    // virDomainVsockDefPostParse.
    let auto_cid = Some(auto_cid.unwrap_or(guest_cid == 0));
    Ok(Vsock {
        model,
        guest_cid,
        auto_cid,
        virtio,
        info,
    })
}

pub(super) fn format_vsock(b: &mut Buf, v: &Vsock) {
    let mut attrs = Buf::new();
    if let Some(m) = v.model.filter(|m| *m != VsockModel::Default) {
        attrs.add(&format!(" model='{}'", m.as_str()));
    }
    let mut k = b.child();
    let mut ca = Buf::new();
    if let Some(a) = v.auto_cid {
        ca.add(&format!(" auto='{}'", super::super::xml::yes_no(a)));
    }
    if v.guest_cid != 0 {
        ca.add(&format!(" address='{}'", v.guest_cid));
    }
    k.element("cid", ca, Buf::new());
    format_info(&mut k, &v.info, false);
    let mut da = Buf::new();
    v.virtio.format(&mut da);
    k.element("driver", da, Buf::new());
    b.element("vsock", attrs, k);
}

xml_enum! {
    /// `virDomainRNGModel`.
    pub enum RngModel {
        Virtio = "virtio", VirtioTransitional = "virtio-transitional",
        VirtioNonTransitional = "virtio-non-transitional",
    }
}

/// Where an `<rng>` device gets its entropy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum RngBackend {
    /// `model='random'`: a host device (default `/dev/random`).
    Random(Option<String>),
    /// `model='egd'`: an EGD daemon reached through a character device.
    Egd(super::ChrSource),
    /// `model='builtin'`.
    Builtin,
}

/// An `<rng>` device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    /// `model=`.
    pub model: RngModel,
    /// `<rate bytes>` (0: unset).
    pub rate: u32,
    /// `<rate period>` (0: unset).
    pub period: u32,
    /// `<backend>`.
    pub backend: RngBackend,
    /// `<driver>` virtio options.
    pub virtio: super::VirtioOptions,
    /// Address and alias.
    pub info: DeviceInfo,
}

pub(super) fn parse_rng(n: Node) -> Result<Rng> {
    use super::super::xml::{xml_error, xpath_uint};
    let Some(m) = prop(&n, "model") else {
        return Err(xml_error("missing RNG device model"));
    };
    let model =
        RngModel::parse(&m).ok_or_else(|| unsupported(format!("unknown RNG model '{m}'")))?;
    let rate = xpath_uint(n, "rate", Some("bytes"))
        .map_err(|()| xml_error("invalid RNG rate bytes value"))?
        .unwrap_or(0);
    let period = if rate > 0 {
        xpath_uint(n, "rate", Some("period"))
            .map_err(|()| xml_error("invalid RNG rate period value"))?
            .unwrap_or(0)
    } else {
        0
    };
    let backends: Vec<Node> = children(n, "backend").collect();
    if backends.len() != 1 {
        return Err(xml_error("only one RNG backend is supported"));
    }
    let be = backends[0];
    let Some(bm) = prop(&be, "model") else {
        return Err(xml_error("missing RNG device backend model"));
    };
    let backend = match bm.as_str() {
        "random" => RngBackend::Random(super::super::xml::xstring(n, "backend")),
        "egd" => {
            let Some(t) = prop(&be, "type") else {
                return Err(xml_error("missing EGD backend type"));
            };
            let st = super::ChrSourceType::parse(&t)
                .ok_or_else(|| unsupported(format!("unknown backend type '{t}' for egd")))?;
            let mut src = super::ChrSource::new(st);
            super::chr::parse_source(be, &mut src, false)?;
            RngBackend::Egd(src)
        }
        "builtin" => RngBackend::Builtin,
        other => return Err(unsupported(format!("unknown RNG backend model '{other}'"))),
    };
    let info = parse_info(n, false)?;
    let virtio = match super::super::xml::child(n, "driver") {
        Some(d) => super::VirtioOptions::parse(&d)?,
        None => super::VirtioOptions::default(),
    };
    Ok(Rng {
        model,
        rate,
        period,
        backend,
        virtio,
        info,
    })
}

pub(super) fn format_rng(b: &mut Buf, r: &Rng, opts: crate::domain::FormatOpts) {
    b.add(&format!("<rng model='{}'>\n", r.model.as_str()));
    b.adjust(2);
    if r.rate != 0 {
        b.add(&format!("<rate bytes='{}'", r.rate));
        if r.period != 0 {
            b.add(&format!(" period='{}'", r.period));
        }
        b.add("/>\n");
    }
    match &r.backend {
        RngBackend::Random(f) => {
            b.add("<backend model='random'");
            b.esc(">%s</backend>\n", f.as_deref());
        }
        RngBackend::Egd(src) => {
            b.add(&format!(
                "<backend model='egd' type='{}'>\n",
                src.type_.as_str()
            ));
            b.adjust(2);
            super::chr::format_source(b, src, opts);
            b.adjust(-2);
            b.add("</backend>\n");
        }
        RngBackend::Builtin => b.add("<backend model='builtin'/>\n"),
    }
    let mut da = Buf::new();
    r.virtio.format(&mut da);
    b.element("driver", da, Buf::new());
    format_info(b, &r.info, false);
    b.adjust(-2);
    b.add("</rng>\n");
}

/// A `<lease>` (`virDomainLeaseDef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// `<lockspace>`.
    pub lockspace: String,
    /// `<key>`.
    pub key: String,
    /// `<target path>`.
    pub path: String,
    /// `<target offset>`.
    pub offset: u64,
}

/// `virDomainLeaseDefParseXML`.
pub(super) fn parse_lease(n: Node) -> Result<Lease> {
    let Some(key) = super::super::xml::xstring(n, "key") else {
        return Err(xml_error("Missing 'key' element for lease"));
    };
    let Some(lockspace) = super::super::xml::xstring(n, "lockspace") else {
        return Err(super::super::xml::unknown_cause());
    };
    let Some(t) = super::super::xml::first(n, "target") else {
        return Err(xml_error("Missing 'target' element for lease"));
    };
    let Some(path) = super::super::xml::prop(&t, "path") else {
        return Err(xml_error(
            "Missing 'path' attribute to 'target' element for lease",
        ));
    };
    let offset = super::super::xml::prop_ull(&t, "offset", 10, false)?.unwrap_or(0);
    Ok(Lease {
        lockspace,
        key,
        path,
        offset,
    })
}

/// `virDomainLeaseDefFormat`.
pub(super) fn format_lease(b: &mut Buf, l: &Lease) {
    b.add("<lease>\n");
    b.adjust(2);
    b.esc("<lockspace>%s</lockspace>\n", Some(&l.lockspace));
    b.esc("<key>%s</key>\n", Some(&l.key));
    b.esc("<target path='%s'", Some(&l.path));
    if l.offset != 0 {
        b.add(&format!(" offset='{}'", l.offset));
    }
    b.add("/>\n");
    b.adjust(-2);
    b.add("</lease>\n");
}

/// `virDomainNVRAMDefFormat`: the `<devices><nvram>` element (an address only).
pub(super) fn format_nvram(b: &mut Buf, info: &DeviceInfo) {
    b.add("<nvram>\n");
    b.adjust(2);
    format_info(b, info, false);
    b.adjust(-2);
    b.add("</nvram>\n");
}
