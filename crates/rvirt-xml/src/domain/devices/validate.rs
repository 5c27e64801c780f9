//! Per-device checks of `virDomainDeviceDefValidate` (`domain_validate.c`) for the devices rvirt
//! models, run in libvirt's device order: disks, interfaces, videos, controllers, character
//! devices, inputs, graphics.

use super::super::xml::{internal, report, unsupported, xml_error, Result};
use super::chr::{Chr, ChrDeviceType, ChrSourceType, ChrTargetType};
use super::controller::{Controller, ControllerType};
use super::graphics::{Graphics, GraphicsType, ListenType};
use super::input::{Input, InputBus, InputModel, InputType};
use super::misc::{Iommu, IommuModel, VsockModel};
use super::net::{Net, NetType};
use super::video::{Video, VideoBackend, VideoType};
use super::{disk, AddressType, DeviceInfo};
use crate::domain::{DomainDef, OsType, VirtType};
use rvirt_proto::error::{code, domain};

pub(crate) fn run(def: &DomainDef) -> Result<()> {
    let d = &def.devices;
    for x in &d.disks {
        info(&x.info)?;
        disk::validate(x, &def.seclabels)?;
    }
    for x in &d.nets {
        info(&x.info)?;
        net(x)?;
    }
    for x in &d.sounds {
        info(&x.info)?;
        ensure_audio(def, x.audio_id)?;
    }
    // libvirt's hostdev list starts with the interfaces' host devices (sharing their info).
    for x in &d.nets {
        if let Some(h) = x.hostdev() {
            let mut h = h.clone();
            h.info = x.info.clone();
            super::hostdev::validate(&h)?;
        }
    }
    for x in &d.hostdevs {
        super::hostdev::validate(x)?;
    }
    for x in &d.videos {
        info(&x.info)?;
        video(x, d.videos.len())?;
    }
    for x in &d.controllers {
        info(&x.info)?;
        controller(x)?;
    }
    for x in &d.smartcards {
        info(&x.info)?;
        super::smartcard::validate(x)?;
        if let super::SmartcardSource::Passthrough(src) = &x.source {
            chr_source(src, None, &def.seclabels)?;
        }
    }
    for x in d
        .serials
        .iter()
        .chain(&d.parallels)
        .chain(&d.channels)
        .chain(&d.consoles)
    {
        info(&x.info)?;
        chr(x, &def.seclabels)?;
    }
    for x in &d.inputs {
        info(&x.info)?;
        input(x, def)?;
    }
    for x in &d.filesystems {
        info(&x.info)?;
        super::filesystem::validate(x)?;
    }
    if let Some(w) = &d.watchdog {
        info(&w.info)?;
    }
    if let Some(m) = &d.memballoon {
        info(&m.info)?;
    }
    for r in &d.rngs {
        info(&r.info)?;
        if let super::RngBackend::Egd(src) = &r.backend {
            chr_source(src, None, &def.seclabels)?;
        }
    }
    if let Some(n) = &d.nvram {
        info(n)?;
    }
    for x in &d.hubs {
        info(&x.info)?;
    }
    for x in &d.shmems {
        info(&x.info)?;
        super::shmem::validate(x)?;
    }
    for x in &d.tpms {
        info(&x.info)?;
        super::tpm::validate(x)?;
    }
    for x in &d.panics {
        info(&x.info)?;
    }
    let ppc64 = matches!(
        def.os.arch,
        crate::domain::Arch::Ppc64 | crate::domain::Arch::Ppc64le
    );
    for x in &d.memories {
        info(&x.info)?;
        super::memory::validate(x, def.numa.cells.len(), ppc64)?;
    }
    for x in &d.redirdevs {
        info(&x.info)?;
        let has_usb = d
            .controllers
            .iter()
            .any(|c| c.type_ == ControllerType::Usb && c.model.as_deref() != Some("none"));
        if !has_usb {
            return Err(unsupported(
                "cannot add redirected USB device: USB is disabled for this domain",
            ));
        }
        chr_source(&x.source, None, &def.seclabels)?;
    }
    if let Some(i) = &d.iommu {
        info(&i.info)?;
        iommu(i)?;
    }
    if let Some(v) = &d.vsock {
        info(&v.info)?;
        if v.guest_cid > 0 && v.guest_cid <= 2 {
            return Err(unsupported("guest CIDs must be >= 3"));
        }
        if !matches!(
            v.model,
            Some(
                VsockModel::Virtio
                    | VsockModel::VirtioTransitional
                    | VsockModel::VirtioNonTransitional
            )
        ) {
            v.virtio.check_absent()?;
        }
    }
    for (i, a) in d.audios.iter().enumerate() {
        if d.audios
            .iter()
            .enumerate()
            .any(|(j, b)| j != i && b.id == a.id)
        {
            return Err(xml_error(format!(
                "audio ID {} is used multiple times",
                a.id
            )));
        }
    }
    for g in &d.graphics {
        graphics(def, g)?;
    }
    Ok(())
}

/// `virDomainDeviceInfoValidate`.
fn info(i: &DeviceInfo) -> Result<()> {
    if i.address_type() == AddressType::Unassigned {
        return Err(unsupported(
            "address of type 'unassigned' is supported only for hostdevs",
        ));
    }
    Ok(())
}

fn chr(c: &Chr, vm: &[crate::domain::Seclabel]) -> Result<()> {
    chr_source(&c.source, Some(c), vm)
}

fn channel_name(ch: &Option<String>) -> Result<()> {
    match ch {
        None => Err(unsupported(
            "Missing source channel attribute for char device",
        )),
        Some(ch)
            if !ch
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)) =>
        {
            Err(report(
                code::INVALID_ARG,
                domain::DOMAIN,
                "Invalid character in source channel for char device",
            ))
        }
        _ => Ok(()),
    }
}

/// `virDomainChrSourceDefValidate`.
pub(super) fn chr_source(
    s: &super::ChrSource,
    c: Option<&Chr>,
    vm: &[crate::domain::Seclabel],
) -> Result<()> {
    let missing_path = || internal("Missing source path attribute for char device");
    let reconnect_bind = || internal("chardev reconnect is possible only for connect mode");
    match s.type_ {
        ChrSourceType::File | ChrSourceType::Dev | ChrSourceType::Pipe if s.path.is_none() => {
            return Err(missing_path())
        }
        ChrSourceType::Nmdm if s.nmdm.0.is_some() != s.nmdm.1.is_some() => {
            return Err(internal(
                "Should define both master and slave path attributes for nmdm device",
            ))
        }
        ChrSourceType::Tcp => {
            if s.host.is_none() {
                return Err(internal("Missing source host attribute for char device"));
            }
            if s.service.is_none() {
                return Err(internal("Missing source service attribute for char device"));
            }
            if s.listen && s.reconnect.enabled.is_some() {
                return Err(reconnect_bind());
            }
        }
        ChrSourceType::Udp if s.service.is_none() => {
            return Err(internal("Missing source service attribute for char device"))
        }
        ChrSourceType::Unix => {
            let auto = c.is_some_and(|c| {
                c.device == ChrDeviceType::Channel
                    && matches!(c.target_type, ChrTargetType::Xen | ChrTargetType::Virtio)
            });
            if s.path.is_none() && !auto {
                return Err(missing_path());
            }
            if s.listen && s.reconnect.enabled.is_some() {
                return Err(reconnect_bind());
            }
        }
        ChrSourceType::Spiceport | ChrSourceType::Dbus => channel_name(&s.channel)?,
        _ => {}
    }
    crate::domain::seclabel::validate_device(&s.seclabels, vm)
}

/// `virDomainNetDefValidate` (the parts that apply to the modelled types).
fn net(n: &Net) -> Result<()> {
    let t = n.type_();
    if (!n.host_ip.ips.is_empty() || !n.host_ip.routes.is_empty()) && t != NetType::Ethernet {
        return Err(unsupported(format!(
            "Invalid attempt to set network interface host-side IP route and/or address info on interface of type '{}'. This is only supported on interfaces of type 'ethernet'",
            t.as_str()
        )));
    }
    if n.managed_tap == Some(false) && t != NetType::Ethernet {
        return Err(unsupported(format!(
            "unmanaged target dev is not supported on interfaces of type '{}'",
            t.as_str()
        )));
    }
    if let Some((ty, persistent)) = &n.teaming {
        if *ty == super::hostdev::TeamingType::Transient {
            if persistent.is_none() {
                return Err(unsupported(
                    "teaming persistent attribute must be set if teaming type is 'transient'",
                ));
            }
        } else if persistent.is_some() {
            return Err(unsupported(format!(
                "teaming persistent attribute not allowed if teaming type is '{}'",
                ty.as_str()
            )));
        }
    }
    if n.isolated_port == Some(true) {
        if !matches!(t, NetType::Network | NetType::Bridge) {
            return Err(unsupported(format!(
                "interface {} - <port isolated='yes'/> is not supported for network interfaces with type='{}'",
                n.mac,
                t.as_str()
            )));
        }
        if let Some(v) = &n.virtualport {
            if v.type_ != crate::network::netdev::VPortType::None {
                let name = match v.type_ {
                    crate::network::netdev::VPortType::Qbg => "802.1Qbg",
                    crate::network::netdev::VPortType::Qbh => "802.1Qbh",
                    crate::network::netdev::VPortType::OpenVSwitch => "openvswitch",
                    crate::network::netdev::VPortType::Midonet => "midonet",
                    crate::network::netdev::VPortType::None => "none",
                };
                return Err(unsupported(format!(
                    "interface {} - <port isolated='yes'/> is not supported for network interfaces with virtualport type='{name}'",
                    n.mac
                )));
            }
        }
    }
    let virtio = matches!(
        n.model.as_deref(),
        Some("virtio" | "virtio-transitional" | "virtio-non-transitional")
    );
    if !virtio {
        n.driver.virtio.check_absent()?;
    }
    if let super::NetSource::Vhostuser {
        server, reconnect, ..
    } = &n.source
    {
        if !virtio {
            return Err(internal(
                "Wrong or no <model> 'type' attribute specified with <interface type='vhostuser'/>. vhostuser requires the virtio-net* frontend",
            ));
        }
        if *server && reconnect.enabled == Some(true) {
            return Err(unsupported(
                "'reconnect' attribute unsupported 'server' mode for <interface type='vhostuser'>",
            ));
        }
    }
    Ok(())
}

/// `virDomainVideoDefValidate`.
fn video(v: &Video, count: usize) -> Result<()> {
    if v.type_ == VideoType::Default {
        return Err(internal("missing video model and cannot determine default"));
    }
    if v.type_ == VideoType::None && count > 1 {
        return Err(unsupported(
            "a 'none' video type must be the only video device defined for the domain",
        ));
    }
    match v.backend {
        Some(VideoBackend::Vhostuser) => {
            if v.type_ != VideoType::Virtio {
                return Err(unsupported(
                    "'vhostuser' driver is only supported with 'virtio' device",
                ));
            }
        }
        _ => {
            if v.accel.as_ref().is_some_and(|a| a.rendernode.is_some()) {
                return Err(unsupported(
                    "unsupported rendernode accel attribute without 'vhostuser'",
                ));
            }
        }
    }
    if let Some((x, y)) = v.resolution {
        if x == 0 || y == 0 {
            return Err(unsupported(
                "video resolution values must be greater than 0",
            ));
        }
    }
    if v.type_ != VideoType::Qxl {
        for (val, what) in [(v.ram, "ram"), (v.vram64, "vram64"), (v.vgamem, "vgamem")] {
            if val != 0 {
                return Err(unsupported(format!(
                    "{what} attribute only supported for video type qxl"
                )));
            }
        }
    }
    if v.type_ == VideoType::Ramfb && v.info.address.is_some() {
        return Err(unsupported("address not supported for video type ramfb"));
    }
    if v.type_ != VideoType::Virtio {
        v.virtio.check_absent()?;
    }
    Ok(())
}

/// `virDomainControllerDefValidate`.
fn controller(c: &Controller) -> Result<()> {
    if c.type_ != ControllerType::Pci {
        return Ok(());
    }
    let idx = c.index.unwrap_or(0);
    let p = &c.pci;
    if matches!(c.model.as_deref(), Some("pci-root" | "pcie-root")) && c.info.address.is_some() {
        return Err(unsupported(
            "pci-root and pcie-root controllers should not have an address",
        ));
    }
    if idx > 255 {
        return Err(unsupported(format!(
            "PCI controller index {idx} too high, maximum is 255"
        )));
    }
    if let Some(t) = p.target_index {
        if !(0..=30).contains(&t) {
            return Err(unsupported(format!(
                "PCI controller target index '{t}' out of range - must be 0-30"
            )));
        }
        if (idx == 0) != (t == 0) {
            return Err(unsupported(
                "Only the PCI controller with index 0 can have target index 0, and vice versa",
            ));
        }
    }
    let range = |v: Option<i32>, lo: i32, hi: i32, what: &str| -> Result<()> {
        match v {
            Some(x) if !(lo..=hi).contains(&x) => Err(unsupported(format!(
                "PCI controller {what} '{x}' out of range - must be {lo}-{hi}"
            ))),
            _ => Ok(()),
        }
    };
    range(p.chassis_nr, 1, 255, "chassisNr")?;
    range(p.chassis, 0, 255, "chassis")?;
    range(p.port, 0, 255, "port")?;
    range(p.bus_nr, 1, 254, "busNr")?;
    if p.numa_node.is_some() && idx == 0 {
        return Err(unsupported(
            "The PCI controller with index=0 can't be associated with a NUMA node",
        ));
    }
    Ok(())
}

/// `virDomainInputDefValidate`.
fn input(i: &Input, def: &DomainDef) -> Result<()> {
    let bus = i.bus.as_str();
    match def.os.type_ {
        OsType::Hvm => {
            if i.bus == InputBus::Ps2 && !matches!(i.type_, InputType::Mouse | InputType::Keyboard)
            {
                return Err(internal(format!(
                    "ps2 bus does not support {} input device",
                    i.type_.as_str()
                )));
            }
            if i.bus == InputBus::Xen {
                return Err(internal(format!("unsupported input bus {bus}")));
            }
        }
        OsType::Xen | OsType::XenPvh => {
            if i.bus != InputBus::Xen {
                return Err(internal(format!("unsupported input bus {bus}")));
            }
            if !matches!(i.type_, InputType::Mouse | InputType::Keyboard) {
                return Err(internal(format!(
                    "xen bus does not support {} input device",
                    i.type_.as_str()
                )));
            }
        }
        _ => {
            if matches!(def.virt_type, VirtType::Vz | VirtType::Parallels) {
                if i.bus != InputBus::Parallels {
                    return Err(internal(format!(
                        "parallels containers don't support input bus {bus}"
                    )));
                }
                if !matches!(i.type_, InputType::Mouse | InputType::Keyboard) {
                    return Err(internal(format!(
                        "parallels bus does not support {} input device",
                        i.type_.as_str()
                    )));
                }
            } else {
                return Err(internal(
                    "Input devices are not supported by this virtualization driver.",
                ));
            }
        }
    }
    match i.type_ {
        InputType::Mouse | InputType::Tablet | InputType::Keyboard if i.evdev.is_some() => {
            return Err(unsupported(
                "setting source evdev path only supported for passthrough input devices",
            ))
        }
        InputType::Passthrough if i.bus != InputBus::Virtio => {
            return Err(unsupported(
                "only bus 'virtio' is supported for 'passthrough' input devices",
            ))
        }
        _ => {}
    }
    if let Some(m) = i.model {
        if m != InputModel::Default && i.bus != InputBus::Virtio {
            return Err(unsupported(format!(
                "only bus 'virtio' is supported for input model '{}'",
                m.as_str()
            )));
        }
    }
    Ok(())
}

/// `virDomainGraphicsDefValidate`.
fn graphics(def: &DomainDef, g: &Graphics) -> Result<()> {
    if matches!(
        g.type_,
        GraphicsType::Vnc | GraphicsType::Spice | GraphicsType::Rdp
    ) && g
        .listens
        .iter()
        .any(|l| l.type_ == ListenType::Network && l.network.is_none())
    {
        return Err(xml_error(
            "'network' attribute is required for listen type 'network'",
        ));
    }
    if g.type_ == GraphicsType::Vnc {
        ensure_audio(def, g.audio_id)?;
    } else if g.type_ == GraphicsType::Dbus && g.p2p && g.dbus_address.is_some() {
        return Err(xml_error("D-Bus p2p with an address is not supported"));
    }
    Ok(())
}

/// `virDomainEnsureAudioID`.
fn ensure_audio(def: &DomainDef, id: u32) -> Result<()> {
    if id == 0 || def.devices.audios.iter().any(|a| a.id == id) {
        return Ok(());
    }
    Err(xml_error(format!("no audio device with ID {id}")))
}

/// `virDomainIOMMUDefValidate`.
fn iommu(i: &Iommu) -> Result<()> {
    let m = i.model.as_str();
    if matches!(i.model, IommuModel::Smmuv3 | IommuModel::Virtio)
        && (i.intremap.is_some()
            || i.caching_mode.is_some()
            || i.eim.is_some()
            || i.iotlb.is_some()
            || i.aw_bits != 0)
    {
        return Err(xml_error(format!(
            "iommu model '{m}' doesn't support additional attributes"
        )));
    }
    if matches!(i.model, IommuModel::Smmuv3 | IommuModel::Intel) && i.info.address.is_some() {
        return Err(xml_error(format!("iommu model '{m}' can't have address")));
    }
    Ok(())
}
