//! `<devices>`: the device list and the parts every device shares (`virDomainDeviceInfo`:
//! address, alias, boot order, ACPI index).
//!
//! Devices are read in libvirt's order (disks, controllers, interfaces, character devices,
//! inputs, graphics, videos, memballoon, …) and written in `virDomainDefFormatInternal`'s order,
//! which differs from the input order; each kind lives in its own file.

mod audio;
mod chr;
mod controller;
mod disk;
mod filesystem;
mod graphics;
mod hostdev;
mod input;
mod memballoon;
mod memory;
mod misc;
mod net;
mod redirdev;
mod shmem;
mod smartcard;
mod storage_source;
mod tpm;
mod validate;
mod video;

pub use audio::{Audio, AudioFormat, AudioIo, AudioType, SdlDriver};
pub use chr::{Chr, ChrDeviceType, ChrSource, ChrSourceType, ChrTargetType};
pub use controller::{Controller, ControllerType};
pub use disk::{Disk, DiskBus, DiskDevice, DiskSource, IoTune, StorageType};
pub use filesystem::{Filesystem, FsDriver, FsType};
pub use graphics::{Graphics, GraphicsListen, GraphicsType};
pub use hostdev::{Hostdev, HostdevSource};
pub use input::{Input, InputBus, InputType};
pub use memballoon::{Memballoon, MemballoonModel};
pub use memory::{MemoryDevice, MemoryModel};
pub use misc::{
    Hub, Iommu, IommuModel, Lease, Panic, PanicModel, Rng, RngBackend, RngModel, Sound, SoundCodec,
    SoundModel, Vsock, VsockModel, Watchdog, WatchdogAction, WatchdogModel,
};
pub use net::{Mac, Net, NetSource, NetType};
pub use redirdev::{Redirdev, UsbRule};
pub use shmem::{Shmem, ShmemModel, ShmemRole};
pub use smartcard::{Smartcard, SmartcardSource};
pub use storage_source::{Auth, Encryption, NetHost, NetProtocol, SecretLookup, StorageFormat};
pub use tpm::{Tpm, TpmBackend, TpmBackendType, TpmModel};
pub use video::{Video, VideoType};

use super::buf::Buf;
use super::xml::{
    child, first, internal, not_modelled, prop, prop_on_off, prop_uint, prop_uint_required, select,
    unsupported, xattr, xml_enum, xml_error, Node, Result, XmlEnum,
};
use super::{DomainDef, FormatOpts, Os, VirtType};

xml_enum! {
    /// `virDomainDeviceAddressType`.
    pub enum AddressType {
        None = "none", Pci = "pci", Drive = "drive", VirtioSerial = "virtio-serial",
        Ccid = "ccid", Usb = "usb", SpaprVio = "spapr-vio", VirtioS390 = "virtio-s390",
        Ccw = "ccw", VirtioMmio = "virtio-mmio", Isa = "isa", Dimm = "dimm",
        Unassigned = "unassigned",
    }
}

/// A device address (`<address type=…>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `type='pci'`: `None` components when the address was given empty.
    Pci {
        /// PCI domain.
        domain: u32,
        /// Bus.
        bus: u32,
        /// Slot.
        slot: u32,
        /// Function.
        function: u32,
        /// `multifunction=`.
        multifunction: Option<bool>,
        /// `<zpci uid fid>` (s390).
        zpci: Option<(Option<u32>, Option<u32>)>,
    },
    /// `type='drive'`.
    Drive {
        /// Controller index.
        controller: u32,
        /// Bus.
        bus: u32,
        /// Target.
        target: u32,
        /// Unit.
        unit: u32,
    },
    /// `type='virtio-serial'`.
    VirtioSerial {
        /// Controller index.
        controller: u32,
        /// Bus.
        bus: u32,
        /// Port.
        port: u32,
    },
    /// `type='ccid'`.
    Ccid {
        /// Controller index.
        controller: u32,
        /// Slot.
        slot: u32,
    },
    /// `type='usb'`: bus and a dotted port path of up to four hops (0: unset).
    Usb {
        /// Bus.
        bus: u32,
        /// Port path (`1.2.3` is `[1, 2, 3, 0]`).
        port: [u32; 4],
    },
    /// `type='spapr-vio'`: `reg=` when given.
    SpaprVio {
        /// `reg=`.
        reg: Option<u64>,
    },
    /// `type='ccw'` (all zero: not yet assigned).
    Ccw {
        /// Channel subsystem id.
        cssid: u32,
        /// Subchannel set id.
        ssid: u32,
        /// Device number.
        devno: u32,
    },
    /// `type='virtio-mmio'`.
    VirtioMmio,
    /// `type='isa'`.
    Isa {
        /// I/O base (0: unset).
        iobase: u32,
        /// IRQ (0: unset).
        irq: u32,
    },
    /// `type='dimm'`.
    Dimm {
        /// `slot=`.
        slot: u32,
        /// `base=` (0: unset).
        base: u64,
    },
    /// `type='unassigned'`.
    Unassigned,
}

/// `<rom enabled bar file>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rom {
    /// `enabled=`.
    pub enabled: Option<bool>,
    /// `bar=`.
    pub bar: Option<bool>,
    /// `file=`.
    pub file: Option<String>,
}

/// What every device carries (`virDomainDeviceInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceInfo {
    /// `<alias name=…>` (only user aliases, `ua-…`, survive an inactive parse).
    pub alias: Option<String>,
    /// `<boot order=…>` (disks, interfaces, hostdevs, redirdevs).
    pub boot_order: Option<u32>,
    /// `<boot loadparm=…>`.
    pub loadparm: Option<String>,
    /// `<acpi index=…>`.
    pub acpi_index: Option<u32>,
    /// `<master startport=…>` (USB companion controllers).
    pub master_startport: Option<u32>,
    /// `<rom>` (interfaces and host devices).
    pub rom: Rom,
    /// `<address>`.
    pub address: Option<Address>,
}

impl DeviceInfo {
    /// The address type, `none` when unset.
    pub fn address_type(&self) -> AddressType {
        match &self.address {
            None => AddressType::None,
            Some(Address::Pci { .. }) => AddressType::Pci,
            Some(Address::Drive { .. }) => AddressType::Drive,
            Some(Address::VirtioSerial { .. }) => AddressType::VirtioSerial,
            Some(Address::Ccid { .. }) => AddressType::Ccid,
            Some(Address::Usb { .. }) => AddressType::Usb,
            Some(Address::SpaprVio { .. }) => AddressType::SpaprVio,
            Some(Address::Ccw { .. }) => AddressType::Ccw,
            Some(Address::Dimm { .. }) => AddressType::Dimm,
            Some(Address::VirtioMmio) => AddressType::VirtioMmio,
            Some(Address::Isa { .. }) => AddressType::Isa,
            Some(Address::Unassigned) => AddressType::Unassigned,
        }
    }
}

/// `<devices>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Devices {
    /// `<emulator>`.
    pub emulator: Option<String>,
    /// `<disk>`s, in libvirt's bus/target order.
    pub disks: Vec<Disk>,
    /// `<controller>`s, grouped by type and sorted by index.
    pub controllers: Vec<Controller>,
    /// `<lease>`s.
    pub leases: Vec<Lease>,
    /// `<filesystem>`s.
    pub filesystems: Vec<Filesystem>,
    /// `<interface>`s.
    pub nets: Vec<Net>,
    /// `<smartcard>`s.
    pub smartcards: Vec<Smartcard>,
    /// `<serial>`s.
    pub serials: Vec<Chr>,
    /// `<parallel>`s.
    pub parallels: Vec<Chr>,
    /// `<console>`s (the first may alias the first serial port).
    pub consoles: Vec<Chr>,
    /// `<channel>`s.
    pub channels: Vec<Chr>,
    /// `<input>`s.
    pub inputs: Vec<Input>,
    /// `<tpm>`s.
    pub tpms: Vec<Tpm>,
    /// `<graphics>`.
    pub graphics: Vec<Graphics>,
    /// `<sound>`s.
    pub sounds: Vec<Sound>,
    /// `<audio>` backends.
    pub audios: Vec<Audio>,
    /// `<video>`s (the primary first).
    pub videos: Vec<Video>,
    /// `<hostdev>`s.
    pub hostdevs: Vec<Hostdev>,
    /// `<redirdev>`s.
    pub redirdevs: Vec<Redirdev>,
    /// `<redirfilter>` rules (`None`: no element).
    pub redirfilter: Option<Vec<UsbRule>>,
    /// `<hub>`s.
    pub hubs: Vec<Hub>,
    /// `<watchdog>`.
    pub watchdog: Option<Watchdog>,
    /// `<memballoon>`.
    pub memballoon: Option<Memballoon>,
    /// `<rng>`s.
    pub rngs: Vec<Rng>,
    /// `<devices><nvram>` (its address).
    pub nvram: Option<DeviceInfo>,
    /// `<panic>`s.
    pub panics: Vec<Panic>,
    /// `<shmem>`s.
    pub shmems: Vec<Shmem>,
    /// `<memory>` devices.
    pub memories: Vec<MemoryDevice>,
    /// `<iommu>`.
    pub iommu: Option<Iommu>,
    /// `<vsock>`.
    pub vsock: Option<Vsock>,
}

pub(super) fn parse(root: Node, os: &Os, virt: VirtType) -> Result<Devices> {
    let mut d = Devices {
        emulator: super::xml::xstring(root, "devices/emulator"),
        ..Default::default()
    };
    let disk_nodes = select(root, "devices/disk");
    d.disks.reserve_exact(disk_nodes.len());
    let mut keys = Vec::with_capacity(disk_nodes.len());
    for n in disk_nodes {
        let disk = disk::parse(n)?;
        disk::insert(&mut d.disks, &mut keys, disk);
    }
    controller::parse_all(root, &mut d.controllers)?;
    let usb_none = d
        .controllers
        .iter()
        .any(|c| c.type_ == ControllerType::Usb && c.model.as_deref() == Some("none"));
    for n in select(root, "devices/lease") {
        d.leases.push(misc::parse_lease(n)?);
    }
    for n in select(root, "devices/filesystem") {
        d.filesystems.push(filesystem::parse(n)?);
    }
    for n in select(root, "devices/interface") {
        d.nets.push(net::parse(n)?);
    }
    for n in select(root, "devices/smartcard") {
        d.smartcards.push(smartcard::parse(n)?);
    }
    // Parallel ports get their port number at parse time, after the earlier ones.
    for n in select(root, "devices/parallel") {
        let mut c = chr::parse(n)?;
        if c.port.is_none() {
            let max = d.parallels.iter().filter_map(|p| p.port).max();
            c.port = Some(max.map_or(0, |m| m + 1));
        }
        d.parallels.push(c);
    }
    for n in select(root, "devices/serial") {
        d.serials.push(chr::parse(n)?);
    }
    for (i, n) in select(root, "devices/console").into_iter().enumerate() {
        let mut c = chr::parse(n)?;
        c.port = Some(i as i64);
        d.consoles.push(c);
    }
    for n in select(root, "devices/channel") {
        d.channels.push(chr::parse(n)?);
    }
    for n in select(root, "devices/input") {
        let i = input::parse(n, os, virt)?;
        if i.bus == InputBus::Usb && usb_none {
            return Err(unsupported(
                "Can't add USB input device. USB bus is disabled",
            ));
        }
        d.inputs.push(i);
    }
    for n in select(root, "devices/graphics") {
        d.graphics.push(graphics::parse(n)?);
    }
    for n in select(root, "devices/sound") {
        d.sounds.push(misc::parse_sound(n)?);
    }
    for n in select(root, "devices/audio") {
        d.audios.push(audio::parse(n)?);
    }
    for n in select(root, "devices/video") {
        let v = video::parse(n)?;
        if v.primary {
            d.videos.insert(0, v);
        } else {
            d.videos.push(v);
        }
    }
    for n in select(root, "devices/hostdev") {
        let h = hostdev::parse(n)?;
        if matches!(h.source, HostdevSource::Usb { .. }) && usb_none {
            return Err(unsupported(
                "Can't add host USB device: USB is disabled in this host",
            ));
        }
        d.hostdevs.push(h);
        maybe_add_hostdev_scsi_controllers(&mut d);
    }
    let watchdogs = select(root, "devices/watchdog");
    if watchdogs.len() > 1 {
        return Err(internal("only a single watchdog device is supported"));
    }
    if let Some(n) = watchdogs.first() {
        d.watchdog = Some(misc::parse_watchdog(*n)?);
    }
    let balloons = select(root, "devices/memballoon");
    if balloons.len() > 1 {
        return Err(internal("only a single memory balloon device is supported"));
    }
    if let Some(n) = balloons.first() {
        d.memballoon = Some(memballoon::parse(*n)?);
    }
    for n in select(root, "devices/rng") {
        d.rngs.push(misc::parse_rng(n)?);
    }
    let tpms = select(root, "devices/tpm");
    if tpms.len() > 2 {
        return Err(xml_error(
            "a maximum of two TPM devices is supported, one of them being a TPM Proxy device",
        ));
    }
    for n in tpms {
        d.tpms.push(tpm::parse(n)?);
    }
    let nvrams = select(root, "devices/nvram");
    if nvrams.len() > 1 {
        return Err(internal("only a single nvram device is supported"));
    }
    if let Some(n) = nvrams.first() {
        d.nvram = Some(parse_info(*n, false)?);
    }
    for n in select(root, "devices/hub") {
        let h = misc::parse_hub(n)?;
        if usb_none {
            return Err(unsupported(
                "Can't add USB hub: USB is disabled for this domain",
            ));
        }
        d.hubs.push(h);
    }
    for n in select(root, "devices/redirdev") {
        d.redirdevs.push(redirdev::parse(n)?);
    }
    let filters = select(root, "devices/redirfilter");
    if filters.len() > 1 {
        return Err(internal(
            "only one set of redirection filter rule is supported",
        ));
    }
    if let Some(n) = filters.first() {
        d.redirfilter = Some(redirdev::parse_filter(*n)?);
    }
    for n in select(root, "devices/panic") {
        d.panics.push(misc::parse_panic(n)?);
    }
    for n in select(root, "devices/shmem") {
        d.shmems.push(shmem::parse(n)?);
    }
    for n in select(root, "devices/memory") {
        d.memories.push(memory::parse(n)?);
    }
    let iommus = select(root, "devices/iommu");
    if iommus.len() > 1 {
        return Err(xml_error("only a single IOMMU device is supported"));
    }
    if let Some(n) = iommus.first() {
        d.iommu = Some(misc::parse_iommu(*n)?);
    }
    let vsocks = select(root, "devices/vsock");
    if vsocks.len() > 1 {
        return Err(xml_error("only a single vsock device is supported"));
    }
    if let Some(n) = vsocks.first() {
        d.vsock = Some(misc::parse_vsock(*n)?);
    }
    Ok(d)
}

pub(super) use chr::{post_parse as chr_post_parse, Chr as ChrDef};
pub(super) use controller::{
    add_implicit as add_implicit_controllers, assign_indexes, validate as validate_controllers,
};
pub(super) use disk::{
    check_features as disk_check_features, expand_group_iotune, post_parse as disk_post_parse,
};
pub(super) use filesystem::post_parse as fs_post_parse;
pub(super) use graphics::post_parse as graphics_post_parse;
pub(super) use hostdev::{post_parse as hostdev_post_parse, same_device as same_hostdev};
pub(super) use memory::post_parse as memory_post_parse;
pub(super) use validate::run as validate_devices;

/// `virDomainStorageSourceParse` for a source whose type is set (the NVRAM image).
pub(super) fn parse_storage_source(n: Node, s: &mut DiskSource) -> Result<()> {
    storage_source::parse_source(n, s)
}

/// `virDomainDiskSourceFormat` without startup policy.
pub(super) fn format_storage_source(b: &mut Buf, s: &DiskSource, element: &str) {
    storage_source::format_source(b, s, element, None, false, false);
}

/// `virDomainDefMaybeAddHostdevSCSIcontroller`: SCSI controllers up to the highest one a SCSI
/// host device names, with the model of that controller.
pub(super) fn maybe_add_hostdev_scsi_controllers(d: &mut Devices) {
    let mut max: i64 = -1;
    let mut model: Option<String> = None;
    for h in d.hostdevs.iter().filter(|h| h.is_scsi()) {
        let c = match h.info.address {
            Some(Address::Drive { controller, .. }) => controller as i64,
            _ => 0,
        };
        if c > max {
            max = c;
            if let Some(cont) = d
                .controllers
                .iter()
                .find(|x| x.type_ == ControllerType::Scsi && x.index == Some(c as i32))
            {
                if cont.model.is_some() {
                    model = cont.model.clone();
                }
            }
        }
    }
    for i in 0..=max {
        let i = i as i32;
        if !d
            .controllers
            .iter()
            .any(|x| x.type_ == ControllerType::Scsi && x.index == Some(i))
        {
            let mut c = Controller::implicit(ControllerType::Scsi, i);
            c.model = model.clone();
            d.controllers.push(c);
        }
    }
}

/// Whether SCSI `unit` of controller `index` cannot take a device
/// (`virDomainSCSIDriveAddressIsUsed`'s per-model limits).
pub(crate) fn scsi_unit_reserved(controllers: &[Controller], index: u32, unit: u32) -> bool {
    let Some(c) = controllers
        .iter()
        .find(|x| x.type_ == ControllerType::Scsi && x.index == Some(index as i32))
    else {
        return false;
    };
    let (max, reserved): (i64, i64) = match c.model.as_deref() {
        Some("virtio-scsi" | "virtio-transitional" | "virtio-non-transitional") => (16383, -1),
        Some("ibmvscsi") => (31, 7),
        Some("lsisas1068") => (1, -1),
        Some("lsisas1078") => (255, -1),
        Some("lsilogic" | "vmpvscsi" | "buslogic") => (-1, 7),
        Some("ncr53c90" | "dc390" | "am53c974") => (6, -1),
        _ => (-1, -1),
    };
    (max != -1 && unit as i64 > max) || (reserved != -1 && unit as i64 == reserved)
}
pub(super) use video::{post_parse as video_post_parse, Video as VideoDef};

/// The `<devices>` element.
pub(super) fn format(b: &mut Buf, def: &DomainDef, opts: FormatOpts) {
    let d = &def.devices;
    b.add("<devices>\n");
    b.adjust(2);
    b.esc("<emulator>%s</emulator>\n", d.emulator.as_deref());
    for disk in &d.disks {
        disk::format(b, disk, opts);
    }
    for c in &d.controllers {
        controller::format(b, c, opts);
    }
    for l in &d.leases {
        misc::format_lease(b, l);
    }
    for f in &d.filesystems {
        filesystem::format(b, f);
    }
    for n in &d.nets {
        net::format(b, n, opts);
    }
    for s in &d.smartcards {
        smartcard::format(b, s, opts);
    }
    for c in &d.serials {
        chr::format(b, c, opts);
    }
    for c in &d.parallels {
        chr::format(b, c, opts);
    }
    for (i, c) in d.consoles.iter().enumerate() {
        // Back-compat: an HVM guest's serial-type console is written from its serial port.
        if def.os.type_ == super::OsType::Hvm
            && matches!(c.target_type, ChrTargetType::Serial | ChrTargetType::None)
            && i < d.serials.len()
        {
            let mut alias = d.serials[i].clone();
            alias.device = ChrDeviceType::Console;
            alias.target_type = ChrTargetType::Serial;
            chr::format(b, &alias, opts);
        } else {
            chr::format(b, c, opts);
        }
    }
    for c in &d.channels {
        chr::format(b, c, opts);
    }
    for i in &d.inputs {
        input::format(b, i, opts);
    }
    for t in &d.tpms {
        tpm::format(b, t);
    }
    for g in &d.graphics {
        graphics::format(b, g, opts);
    }
    for s in &d.sounds {
        misc::format_sound(b, s);
    }
    for a in &d.audios {
        audio::format(b, a);
    }
    for v in &d.videos {
        video::format(b, v, opts);
    }
    for h in &d.hostdevs {
        hostdev::format(b, h, opts);
    }
    for r in &d.redirdevs {
        redirdev::format(b, r, opts);
    }
    if let Some(f) = &d.redirfilter {
        redirdev::format_filter(b, f);
    }
    for h in &d.hubs {
        misc::format_hub(b, h);
    }
    if let Some(w) = &d.watchdog {
        misc::format_watchdog(b, w);
    }
    if let Some(m) = &d.memballoon {
        memballoon::format(b, m, opts);
    }
    for r in &d.rngs {
        misc::format_rng(b, r, opts);
    }
    if let Some(n) = &d.nvram {
        misc::format_nvram(b, n);
    }
    for p in &d.panics {
        misc::format_panic(b, p);
    }
    for s in &d.shmems {
        shmem::format(b, s);
    }
    for m in &d.memories {
        memory::format(b, m);
    }
    if let Some(i) = &d.iommu {
        misc::format_iommu(b, i);
    }
    if let Some(v) = &d.vsock {
        misc::format_vsock(b, v);
    }
    b.adjust(-2);
    b.add("</devices>\n");
}

// ---- device info ------------------------------------------------------------------------

/// Whether an alias given in the XML survives an inactive parse (a valid user alias).
fn keep_alias(a: &str) -> bool {
    a.starts_with("ua-")
        && a.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// `virDomainDeviceInfoParseXML`. `allow_boot` for devices that take `<boot order>`.
pub(crate) fn parse_info(n: Node, allow_boot: bool) -> Result<DeviceInfo> {
    parse_info_ext(n, allow_boot, false)
}

/// `virDomainDeviceInfoParseXML` with `VIR_DOMAIN_DEF_PARSE_ALLOW_ROM` when `allow_rom`.
pub(crate) fn parse_info_ext(n: Node, allow_boot: bool, allow_rom: bool) -> Result<DeviceInfo> {
    let mut info = DeviceInfo::default();
    if let Some(a) = xattr(n, "alias", "name") {
        if keep_alias(&a) {
            info.alias = Some(a);
        }
    }
    if let Some(m) = child(n, "master") {
        info.master_startport = Some(prop_uint(&m, "startport", 10, false)?.unwrap_or(0));
    }
    if allow_boot {
        if let Some(bt) = child(n, "boot") {
            info.boot_order = Some(prop_uint_required(&bt, "order", 10, true)?);
            if let Some(lp) = prop(&bt, "loadparm") {
                let up = lp.to_ascii_uppercase();
                if up.is_empty() || up.len() > 8 {
                    return Err(internal(format!(
                        "loadparm value '{up}' must be between 1 and 8 characters"
                    )));
                }
                if !up
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b' ')
                {
                    return Err(internal(format!(
                        "invalid loadparm value '{up}', expecting chars in set of [a-zA-Z0-9.] and blank spaces"
                    )));
                }
                info.loadparm = Some(up);
            }
        }
    }
    if allow_rom {
        if let Some(r) = first(n, "rom") {
            info.rom = Rom {
                enabled: super::xml::prop_yes_no(&r, "enabled")?,
                bar: prop_on_off(&r, "bar")?,
                file: prop(&r, "file"),
            };
            if info.rom.enabled == Some(false)
                && (info.rom.bar.is_some() || info.rom.file.is_some())
            {
                return Err(unsupported(
                    "ROM tuning is not supported when ROM is disabled",
                ));
            }
        }
    }
    if let Some(a) = child(n, "acpi") {
        info.acpi_index = prop_uint(&a, "index", 10, true)?;
    }
    if let Some(a) = first(n, "address") {
        info.address = parse_address(&a)?;
    }
    Ok(info)
}

fn parse_address(a: &Node) -> Result<Option<Address>> {
    let Some(t) = prop(a, "type") else {
        return Err(internal("No type specified for device address"));
    };
    let at = match AddressType::parse(&t) {
        Some(x) if x != AddressType::None => x,
        _ => return Err(unsupported(format!("unknown address type '{t}'"))),
    };
    let u = |name: &str, base: u32| -> Result<u32> {
        Ok(prop_uint(a, name, base, false)?.unwrap_or(0))
    };
    Ok(Some(match at {
        AddressType::Pci => {
            let (domain, bus, slot, function) = (
                u("domain", 0)?,
                u("bus", 0)?,
                u("slot", 0)?,
                u("function", 0)?,
            );
            let multifunction = prop_on_off(a, "multifunction")?;
            let empty = domain == 0 && bus == 0 && slot == 0;
            if !empty {
                check_pci_addr(domain, bus, slot, function)?;
            }
            let zpci = match a.children().find(|c| is_zpci(c)) {
                None => None,
                Some(z) => {
                    let uid = prop_uint(&z, "uid", 0, false)?;
                    let fid = prop_uint(&z, "fid", 0, false)?;
                    (uid.is_some() || fid.is_some()).then_some((uid, fid))
                }
            };
            Address::Pci {
                domain,
                bus,
                slot,
                function,
                multifunction,
                zpci,
            }
        }
        AddressType::Drive => Address::Drive {
            controller: u("controller", 10)?,
            bus: u("bus", 10)?,
            target: u("target", 10)?,
            unit: u("unit", 10)?,
        },
        AddressType::VirtioSerial => Address::VirtioSerial {
            controller: u("controller", 10)?,
            bus: u("bus", 10)?,
            port: u("port", 10)?,
        },
        AddressType::Ccid => Address::Ccid {
            controller: u("controller", 10)?,
            slot: u("slot", 10)?,
        },
        AddressType::Usb => {
            let port = match prop(a, "port") {
                None => [0; 4],
                Some(p) => parse_usb_port(&p).ok_or_else(|| {
                    device_error("Cannot parse <address> 'port' attribute".into())
                })?,
            };
            Address::Usb {
                bus: u("bus", 10)?,
                port,
            }
        }
        AddressType::VirtioMmio => Address::VirtioMmio,
        AddressType::SpaprVio => Address::SpaprVio {
            reg: super::xml::prop_ull(a, "reg", 16, false)?,
        },
        AddressType::Ccw => {
            let (cssid, ssid, devno) = (u("cssid", 0)?, u("ssid", 0)?, u("devno", 0)?);
            if cssid > 254 || ssid > 3 || devno > 65535 {
                return Err(device_error(format!(
                    "Invalid specification for virtio ccw address: cssid='0x{cssid:x}' ssid='0x{ssid:x}' devno='0x{devno:04x}'"
                )));
            }
            // libvirt counts the attributes given, not their values.
            let given = ["cssid", "ssid", "devno"]
                .iter()
                .filter(|n| a.attribute(**n).is_some())
                .count();
            if given != 0 && given != 3 {
                return Err(device_error(
                    "Invalid partial specification for virtio ccw address".into(),
                ));
            }
            Address::Ccw { cssid, ssid, devno }
        }
        AddressType::Dimm => Address::Dimm {
            slot: super::xml::prop_uint_required(a, "slot", 10, false)?,
            base: super::xml::prop_ull(a, "base", 16, false)?.unwrap_or(0),
        },
        AddressType::Isa => Address::Isa {
            iobase: u("iobase", 16)?,
            irq: u("irq", 16)?,
        },
        AddressType::VirtioS390 => {
            return Err(xml_error("virtio-s390 bus doesn't have an address"))
        }
        AddressType::Unassigned => Address::Unassigned,
        other => return Err(not_modelled(format!("<address type='{}'>", other.as_str()))),
    }))
}

/// libvirt finds `<zpci>` by local name among the element children (any namespace).
fn is_zpci(n: &Node) -> bool {
    n.is_element() && n.tag_name().name() == "zpci"
}

/// `virDomainDeviceUSBAddressParsePort`: up to four dot-separated numbers.
fn parse_usb_port(p: &str) -> Option<[u32; 4]> {
    let mut out = [0u32; 4];
    let mut rest = p;
    for slot in out.iter_mut() {
        let digits_end = rest
            .trim_start_matches([' ', '\t', '\n', '\r', '+'])
            .find(|c: char| !c.is_ascii_digit())
            .map(|i| i + (rest.len() - rest.trim_start_matches([' ', '\t', '\n', '\r', '+']).len()))
            .unwrap_or(rest.len());
        *slot = super::xml::str_to_uip(&rest[..digits_end], 10)?;
        rest = &rest[digits_end..];
        if rest.is_empty() {
            return Some(out);
        }
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    None
}

/// `VIR_ERR_INTERNAL_ERROR` raised by `device_conf.c` (domain `VIR_FROM_DEVICE`).
fn device_error(detail: String) -> crate::XmlError {
    super::xml::report(
        rvirt_proto::error::code::INTERNAL_ERROR,
        rvirt_proto::error::domain::DEVICE,
        detail,
    )
}

/// `virPCIDeviceAddressIsValid` with reporting, for a non-empty address.
pub(crate) fn check_pci_addr(_domain: u32, bus: u32, slot: u32, function: u32) -> Result<()> {
    if bus > 0xff {
        return Err(pci_error(format!(
            "Invalid PCI address bus='0x{bus:x}', must be <= 0xFF"
        )));
    }
    if slot > 0x1f {
        return Err(pci_error(format!(
            "Invalid PCI address slot='0x{slot:x}', must be <= 0x1F"
        )));
    }
    if function > 7 {
        return Err(pci_error(format!(
            "Invalid PCI address function=0x{function:x}, must be <= 7"
        )));
    }
    Ok(())
}

fn pci_error(detail: String) -> crate::XmlError {
    super::xml::report(
        rvirt_proto::error::code::XML_ERROR,
        rvirt_proto::error::domain::NONE,
        detail,
    )
}

/// `virDomainDeviceInfoFormat`.
pub(crate) fn format_info(b: &mut Buf, info: &DeviceInfo, allow_boot: bool) {
    if allow_boot {
        if let Some(o) = info.boot_order {
            b.add(&format!("<boot order='{o}'"));
            if let Some(lp) = &info.loadparm {
                b.add(&format!(" loadparm='{lp}'"));
            }
            b.add("/>\n");
        }
    }
    if let Some(a) = &info.alias {
        b.add(&format!("<alias name='{a}'/>\n"));
    }
    if let Some(s) = info.master_startport {
        b.add(&format!("<master startport='{s}'/>\n"));
    }
    let rom = &info.rom;
    if rom.enabled.is_some() || rom.bar.is_some() || rom.file.is_some() {
        b.add("<rom");
        if let Some(e) = rom.enabled {
            b.add(&format!(" enabled='{}'", super::xml::yes_no(e)));
        }
        if let Some(bar) = rom.bar {
            b.add(&format!(" bar='{}'", super::xml::on_off(bar)));
        }
        b.esc(" file='%s'", rom.file.as_deref());
        b.add("/>\n");
    }
    if let Some(i) = info.acpi_index {
        b.add(&format!("<acpi index='{i}'/>\n"));
    }
    let Some(addr) = &info.address else {
        return;
    };
    let mut attrs = Buf::new();
    let mut kids = b.child();
    attrs.add(&format!(" type='{}'", info.address_type().as_str()));
    match addr {
        Address::Pci {
            domain,
            bus,
            slot,
            function,
            multifunction,
            zpci,
        } => {
            if let Some((uid, fid)) = zpci {
                kids.add(&format!(
                    "<zpci uid='0x{:04x}' fid='0x{:08x}'/>\n",
                    uid.unwrap_or(0),
                    fid.unwrap_or(0)
                ));
            }
            if *domain != 0 || *bus != 0 || *slot != 0 {
                attrs.add(&format!(
                    " domain='0x{domain:04x}' bus='0x{bus:02x}' slot='0x{slot:02x}' function='0x{function}'"
                ));
            }
            if let Some(m) = multifunction {
                attrs.add(&format!(" multifunction='{}'", super::xml::on_off(*m)));
            }
        }
        Address::Drive {
            controller,
            bus,
            target,
            unit,
        } => attrs.add(&format!(
            " controller='{controller}' bus='{bus}' target='{target}' unit='{unit}'"
        )),
        Address::VirtioSerial {
            controller,
            bus,
            port,
        } => attrs.add(&format!(
            " controller='{controller}' bus='{bus}' port='{port}'"
        )),
        Address::Ccid { controller, slot } => {
            attrs.add(&format!(" controller='{controller}' slot='{slot}'"))
        }
        Address::Usb { bus, port } => {
            attrs.add(&format!(" bus='{bus}'"));
            if port[0] != 0 {
                let hops: Vec<String> = port
                    .iter()
                    .take_while(|p| **p != 0)
                    .map(|p| p.to_string())
                    .collect();
                attrs.add(&format!(" port='{}'", hops.join(".")));
            }
        }
        Address::VirtioMmio | Address::Unassigned => {}
        Address::SpaprVio { reg } => {
            if let Some(r) = reg {
                attrs.add(&format!(" reg='0x{r:08x}'"));
            }
        }
        Address::Ccw { cssid, ssid, devno } => attrs.add(&format!(
            " cssid='0x{cssid:x}' ssid='0x{ssid:x}' devno='0x{devno:04x}'"
        )),
        Address::Dimm { slot, base } => {
            attrs.add(&format!(" slot='{slot}'"));
            if *base != 0 {
                attrs.add(&format!(" base='0x{base:x}'"));
            }
        }
        Address::Isa { iobase, irq } => {
            if *iobase > 0 {
                attrs.add(&format!(" iobase='0x{iobase:x}'"));
            }
            if *irq > 0 {
                attrs.add(&format!(" irq='0x{irq:x}'"));
            }
        }
    }
    b.element("address", attrs, kids);
}

/// Re-indents text formatted by the network/storage half (`conf::Buf`, indentation 0) into
/// `b` at its current depth.
pub(crate) fn embed(b: &mut Buf, text: &str) {
    for line in text.lines() {
        b.add(line);
        b.add("\n");
    }
}

/// `<driver>` virtio options shared by many devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VirtioOptions {
    /// `iommu=`.
    pub iommu: Option<bool>,
    /// `ats=`.
    pub ats: Option<bool>,
    /// `packed=`.
    pub packed: Option<bool>,
    /// `page_per_vq=`.
    pub page_per_vq: Option<bool>,
}

impl VirtioOptions {
    pub(crate) fn parse(n: &Node) -> Result<Self> {
        Ok(Self {
            iommu: prop_on_off(n, "iommu")?,
            ats: prop_on_off(n, "ats")?,
            packed: prop_on_off(n, "packed")?,
            page_per_vq: prop_on_off(n, "page_per_vq")?,
        })
    }

    pub(crate) fn format(&self, attrs: &mut Buf) {
        for (name, v) in [
            ("iommu", self.iommu),
            ("ats", self.ats),
            ("packed", self.packed),
            ("page_per_vq", self.page_per_vq),
        ] {
            if let Some(v) = v {
                attrs.add(&format!(" {name}='{}'", super::xml::on_off(v)));
            }
        }
    }

    /// `virDomainCheckVirtioOptionsAreAbsent`.
    pub(crate) fn check_absent(&self) -> Result<()> {
        for (v, what) in [
            (
                self.iommu,
                "iommu driver option is only supported for virtio devices",
            ),
            (
                self.ats,
                "ats driver option is only supported for virtio devices",
            ),
            (
                self.packed,
                "packed driver option is only supported for virtio devices",
            ),
            (
                self.page_per_vq,
                "page_per_vq option is only supported for virtio devices",
            ),
        ] {
            if v.is_some() {
                return Err(unsupported(what));
            }
        }
        Ok(())
    }
}
