//! `<disk>` (`virDomainDiskDefParseXML`, `virDomainDiskDefFormat`), its default bus and drive
//! address (`virDomainDiskDefPostParse`, `virDomainDiskDefAssignAddress`) and its checks
//! (`virDomainDiskDefValidate`). The storage source itself lives in `storage_source`.

use super::super::buf::Buf;
use super::super::seclabel::{self, Seclabel};
use super::super::xml::{
    bare, child, first, internal, prop, prop_enum, prop_on_off, prop_uint, prop_yes_no, report,
    unsupported, xattr, xml_enum, xml_error, xpath_ull, xstring, Node, Result,
};
use super::storage_source::{self as ss, SecretUsage};
pub use super::storage_source::{DiskSource, NetProtocol, StorageFormat, StorageType};
use super::{format_info, parse_info, Address, AddressType, DeviceInfo, VirtioOptions};
use crate::domain::FormatOpts;
use rvirt_proto::error::{code, domain};

xml_enum! {
    /// `virDomainDiskDevice`.
    pub enum DiskDevice { Disk = "disk", Cdrom = "cdrom", Floppy = "floppy", Lun = "lun" }
}

xml_enum! {
    /// `virDomainDiskBus`.
    pub enum DiskBus {
        None = "none", Ide = "ide", Fdc = "fdc", Scsi = "scsi", Virtio = "virtio", Xen = "xen",
        Usb = "usb", Uml = "uml", Sata = "sata", Sd = "sd",
    }
}

xml_enum! {
    /// `virDomainDiskCache`.
    pub enum DiskCache {
        Default = "default", None = "none", Writethrough = "writethrough",
        Writeback = "writeback", Directsync = "directsync", Unsafe = "unsafe",
    }
}

xml_enum! {
    /// `virDomainDiskErrorPolicy`.
    pub enum ErrorPolicy {
        Default = "default", Stop = "stop", Report = "report", Ignore = "ignore",
        Enospace = "enospace",
    }
}

xml_enum! {
    /// `virDomainDiskIo`.
    pub enum DiskIo { Default = "default", Native = "native", Threads = "threads", IoUring = "io_uring" }
}

xml_enum! {
    /// `virDomainDiskDiscard`.
    pub enum DiskDiscard { Default = "default", Unmap = "unmap", Ignore = "ignore" }
}

xml_enum! {
    /// `virDomainDiskDetectZeroes`.
    pub enum DetectZeroes { Default = "default", Off = "off", On = "on", Unmap = "unmap" }
}

xml_enum! {
    /// `virDomainDiskModel`.
    pub enum DiskModel {
        Default = "default", Virtio = "virtio", VirtioTransitional = "virtio-transitional",
        VirtioNonTransitional = "virtio-non-transitional",
    }
}

xml_enum! {
    /// `virDomainStartupPolicy`.
    pub enum StartupPolicy {
        Default = "default", Mandatory = "mandatory", Requisite = "requisite",
        Optional = "optional",
    }
}

xml_enum! {
    /// `virDomainDiskTray`.
    pub enum Tray { Closed = "closed", Open = "open" }
}

xml_enum! {
    /// `virDomainSnapshotLocation`.
    pub enum SnapshotLocation {
        Default = "default", No = "no", Internal = "internal", External = "external",
        Manual = "manual",
    }
}

xml_enum! {
    /// `virDomainDeviceSGIO`.
    pub enum Sgio { Default = "default", Filtered = "filtered", Unfiltered = "unfiltered" }
}

xml_enum! {
    /// `virDomainDiskGeometryTrans`.
    pub enum GeometryTrans { Default = "default", None = "none", Auto = "auto", Lba = "lba" }
}

/// `<driver>` of a disk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiskDriver {
    /// `name=`.
    pub name: Option<String>,
    /// `cache=`.
    pub cache: Option<DiskCache>,
    /// `error_policy=`.
    pub error_policy: Option<ErrorPolicy>,
    /// `rerror_policy=`.
    pub rerror_policy: Option<ErrorPolicy>,
    /// `io=`.
    pub io: Option<DiskIo>,
    /// `ioeventfd=`.
    pub ioeventfd: Option<bool>,
    /// `event_idx=`.
    pub event_idx: Option<bool>,
    /// `copy_on_read=`.
    pub copy_on_read: Option<bool>,
    /// `discard=`.
    pub discard: Option<DiskDiscard>,
    /// `iothread=` (0: unset).
    pub iothread: u32,
    /// `detect_zeroes=`.
    pub detect_zeroes: Option<DetectZeroes>,
    /// `queues=` (0: unset).
    pub queues: u32,
    /// `queue_size=` (0: unset).
    pub queue_size: u32,
    /// Virtio options.
    pub virtio: VirtioOptions,
}

/// `<iotune>` (`virDomainBlockIoTuneInfo`): limits by field name, in libvirt's order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IoTune {
    /// The numeric limits, indexed like [`IOTUNE_FIELDS`] (0: unset).
    pub values: [u64; 19],
    /// `<group_name>`.
    pub group_name: Option<String>,
}

/// The numeric `<iotune>` fields, in parse order.
pub const IOTUNE_FIELDS: [&str; 19] = [
    "total_bytes_sec",
    "read_bytes_sec",
    "write_bytes_sec",
    "total_iops_sec",
    "read_iops_sec",
    "write_iops_sec",
    "total_bytes_sec_max",
    "read_bytes_sec_max",
    "write_bytes_sec_max",
    "total_iops_sec_max",
    "read_iops_sec_max",
    "write_iops_sec_max",
    "size_iops_sec",
    "total_bytes_sec_max_length",
    "read_bytes_sec_max_length",
    "write_bytes_sec_max_length",
    "total_iops_sec_max_length",
    "read_iops_sec_max_length",
    "write_iops_sec_max_length",
];

impl IoTune {
    /// `virDomainBlockIoTuneInfoHasAny`.
    pub fn has_any(&self) -> bool {
        self.values.iter().any(|v| *v != 0)
    }
}

/// A `<disk>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// `device=`.
    pub device: DiskDevice,
    /// Where the data lives.
    pub source: DiskSource,
    /// `<source startupPolicy=…>`.
    pub startup_policy: Option<StartupPolicy>,
    /// `model=`.
    pub model: Option<DiskModel>,
    /// `snapshot=`.
    pub snapshot: Option<SnapshotLocation>,
    /// `rawio=`.
    pub rawio: Option<bool>,
    /// `sgio=`.
    pub sgio: Option<Sgio>,
    /// `<driver>`.
    pub driver: DiskDriver,
    /// `<target dev=…>`.
    pub target: Option<String>,
    /// `<target bus=…>` (derived from the target name when absent).
    pub bus: DiskBus,
    /// `<target tray=…>`.
    pub tray: Tray,
    /// `<target removable=…>`.
    pub removable: Option<bool>,
    /// `<target rotation_rate=…>` (0: unset).
    pub rotation_rate: u32,
    /// `<geometry cyls heads secs trans>`.
    pub geometry: (u32, u32, u32, GeometryTrans),
    /// `<blockio logical_block_size physical_block_size>` (0: unset).
    pub blockio: (u32, u32),
    /// `<readonly/>`.
    pub readonly: bool,
    /// `<shareable/>`.
    pub shareable: bool,
    /// `<transient shareBacking=…/>`: `Some(share)` when present.
    pub transient: Option<Option<bool>>,
    /// `<serial>`.
    pub serial: Option<String>,
    /// `<wwn>`.
    pub wwn: Option<String>,
    /// `<vendor>`.
    pub vendor: Option<String>,
    /// `<product>`.
    pub product: Option<String>,
    /// `<backenddomain name=…>`.
    pub backend_domain: Option<String>,
    /// `<iotune>`.
    pub iotune: IoTune,
    /// `<auth>` was a child of `<disk>` (not of `<source>`).
    pub auth_in_disk: bool,
    /// `<encryption>` was a child of `<disk>`.
    pub encryption_in_disk: bool,
    /// Address, alias, boot order.
    pub info: DeviceInfo,
}

fn parse_backing(n: Node) -> Result<Option<Option<Box<DiskSource>>>> {
    let Some(bs) = child(n, "backingStore") else {
        return Ok(None);
    };
    let Some(t) = prop(&bs, "type") else {
        return Ok(Some(None));
    };
    let Some(fmt) = xattr(bs, "format", "type") else {
        return Err(xml_error("missing disk backing store format"));
    };
    let Some(src) = child(bs, "source") else {
        return Err(xml_error("missing disk backing store source"));
    };
    let mut b = ss::parse_base(&t, &fmt)?;
    b.metadata_cache_max = metadata_cache(bs, "format/metadata_cache/max_size")?;
    ss::parse_source(src, &mut b)?;
    b.backing = parse_backing(bs)?;
    Ok(Some(Some(Box::new(b))))
}

fn metadata_cache(n: Node, path: &str) -> Result<Option<u64>> {
    super::super::xml::parse_scaled(
        xstring(n, path),
        xattr(n, path, "unit"),
        &format!("./{path}"),
        1,
        u64::MAX,
        false,
    )
}

pub(super) fn parse(n: Node) -> Result<Disk> {
    let mut source = ss::parse_disk_source(n)?;
    let readonly = first(n, "readonly").is_some();
    let shareable = first(n, "shareable").is_some();
    source.backing = parse_backing(n)?;
    let device = prop_enum(&n, "device", false)?.unwrap_or(DiskDevice::Disk);
    let model = prop_enum(&n, "model", false)?;
    let snapshot = prop_enum(&n, "snapshot", true)?;
    let rawio = prop_yes_no(&n, "rawio")?;
    let sgio = prop_enum(&n, "sgio", true)?;
    let startup_policy = match first(n, "source") {
        Some(s) => prop_enum(&s, "startupPolicy", true)?,
        None => None,
    };
    let (mut target, mut bus, mut tray, mut removable, mut rotation_rate) =
        (None, DiskBus::None, Tray::Closed, None, 0);
    if let Some(t) = child(n, "target") {
        target = prop(&t, "dev");
        bus = prop_enum(&t, "bus", true)?.unwrap_or(DiskBus::None);
        tray = prop_enum(&t, "tray", false)?.unwrap_or(Tray::Closed);
        removable = prop_on_off(&t, "removable")?;
        rotation_rate = prop_uint(&t, "rotation_rate", 10, false)?.unwrap_or(0);
    }
    let mut geometry = (0, 0, 0, GeometryTrans::Default);
    if let Some(g) = child(n, "geometry") {
        geometry = (
            prop_uint(&g, "cyls", 10, false)?.unwrap_or(0),
            prop_uint(&g, "heads", 10, false)?.unwrap_or(0),
            prop_uint(&g, "secs", 10, false)?.unwrap_or(0),
            prop_enum(&g, "trans", true)?.unwrap_or(GeometryTrans::Default),
        );
    }
    let mut blockio = (0, 0);
    if let Some(b) = child(n, "blockio") {
        blockio = (
            prop_uint(&b, "logical_block_size", 10, false)?.unwrap_or(0),
            prop_uint(&b, "physical_block_size", 10, false)?.unwrap_or(0),
        );
    }
    let mut driver = DiskDriver::default();
    if let Some(d) = child(n, "driver") {
        driver.virtio = VirtioOptions::parse(&d)?;
        driver.name = prop(&d, "name");
        driver.cache = prop_enum(&d, "cache", false)?;
        driver.error_policy = prop_enum(&d, "error_policy", true)?;
        driver.rerror_policy = prop_enum(&d, "rerror_policy", true)?;
        if driver.rerror_policy == Some(ErrorPolicy::Enospace) {
            return Err(unsupported("Invalid disk read error policy: 'enospace'"));
        }
        driver.io = prop_enum(&d, "io", true)?;
        driver.ioeventfd = prop_on_off(&d, "ioeventfd")?;
        driver.event_idx = prop_on_off(&d, "event_idx")?;
        driver.copy_on_read = prop_on_off(&d, "copy_on_read")?;
        driver.discard = prop_enum(&d, "discard", true)?;
        driver.iothread = prop_uint(&d, "iothread", 10, true)?.unwrap_or(0);
        driver.detect_zeroes = prop_enum(&d, "detect_zeroes", true)?;
        driver.queues = prop_uint(&d, "queues", 10, false)?.unwrap_or(0);
        driver.queue_size = prop_uint(&d, "queue_size", 10, false)?.unwrap_or(0);
        if let Some(t) = prop(&d, "type") {
            source.format = Some(if t == "aio" {
                // Xen back-compat.
                StorageFormat::Raw
            } else {
                match <StorageFormat as super::super::xml::XmlEnum>::parse(&t) {
                    Some(f) if f != StorageFormat::None => f,
                    _ => return Err(unsupported(format!("unknown driver format value '{t}'"))),
                }
            });
        }
        source.metadata_cache_max = metadata_cache(d, "metadata_cache/max_size")?;
    }
    let auth_in_disk = first(n, "auth").is_some();
    let encryption_in_disk = first(n, "encryption").is_some();
    let transient = match child(n, "transient") {
        Some(t) => Some(prop_yes_no(&t, "shareBacking")?),
        None => None,
    };
    let mut iotune = IoTune::default();
    let has_iotune = child(n, "iotune").is_some();
    for (i, f) in IOTUNE_FIELDS.iter().enumerate().filter(|_| has_iotune) {
        match xpath_ull(n, &format!("iotune/{f}"), None) {
            Ok(v) => iotune.values[i] = v.unwrap_or(0),
            Err(()) => {
                return Err(xml_error(format!(
                    "disk iotune field '{f}' must be an integer"
                )))
            }
        }
    }
    iotune.group_name = has_iotune
        .then(|| xstring(n, "iotune/group_name"))
        .flatten();
    Ok(Disk {
        device,
        source,
        startup_policy,
        model,
        snapshot,
        rawio,
        sgio,
        driver,
        target,
        bus,
        tray,
        removable,
        rotation_rate,
        geometry,
        blockio,
        readonly,
        shareable,
        transient,
        serial: xstring(n, "serial"),
        wwn: xstring(n, "wwn"),
        vendor: xstring(n, "vendor"),
        product: xstring(n, "product"),
        backend_domain: xattr(n, "backenddomain", "name"),
        iotune,
        auth_in_disk,
        encryption_in_disk,
        info: parse_info(n, true)?,
    })
}

/// `virDiskNameToIndex`: `sda` is 0, `hdz` 25, `vdaa` 26; `None` for other names.
pub(crate) fn disk_name_to_index(name: &str) -> Option<u32> {
    let rest = ["fd", "hd", "vd", "sd", "xvd", "ubd"]
        .iter()
        .find_map(|p| name.strip_prefix(p))?;
    let n_letters = rest.bytes().take_while(u8::is_ascii_lowercase).count();
    if n_letters == 0 {
        return None;
    }
    let (letters, digits) = rest.split_at(n_letters);
    if !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut idx: u64 = 0;
    for (i, c) in letters.bytes().enumerate() {
        idx = (idx + if i < 1 { 0 } else { 1 }) * 26 + (c - b'a') as u64;
        if idx > i32::MAX as u64 {
            return None;
        }
    }
    Some(idx as u32)
}

/// What `virDomainDiskInsert` compares of a disk: its bus and, when it has a target, the
/// target's index (-1 for a name that has none).
#[derive(Debug, Clone, Copy)]
pub(super) struct InsertKey {
    bus: DiskBus,
    target: Option<i64>,
}

impl InsertKey {
    pub(super) fn of(disk: &Disk) -> InsertKey {
        InsertKey {
            bus: disk.bus,
            target: disk
                .target
                .as_deref()
                .map(|t| disk_name_to_index(t).map_or(-1, i64::from)),
        }
    }
}

/// `virDomainDiskInsert`: keeps disks of one bus ordered by target index. `keys` holds
/// [`InsertKey::of`] for each disk already in `disks` and is kept in step, so that each
/// comparison is two integers rather than two name parses.
pub(super) fn insert(disks: &mut Vec<Disk>, keys: &mut Vec<InsertKey>, disk: Disk) {
    let new = InsertKey::of(&disk);
    let mut insert_at: Option<usize> = None;
    for (i, cur) in keys.iter().enumerate().rev() {
        if cur.bus != new.bus {
            continue;
        }
        let later = matches!((cur.target, new.target), (Some(c), Some(n)) if c > n);
        if later {
            insert_at = Some(i);
        } else if insert_at.is_none() {
            insert_at = Some(i + 1);
        }
    }
    match insert_at {
        Some(i) => {
            disks.insert(i, disk);
            keys.insert(i, new);
        }
        None => {
            disks.push(disk);
            keys.push(new);
        }
    }
}

/// `virDomainDiskDefPostParse`; `scsi_hostdevs` are the drive addresses SCSI host devices
/// already have (`controller, bus, target, unit`).
pub(crate) fn post_parse(disk: &mut Disk, scsi_hostdevs: &[(u32, u32, u32, u32)]) -> Result<()> {
    if let Some(t) = &disk.target {
        if let Some(s) = t.strip_prefix("ioemu:") {
            disk.target = Some(s.to_string());
        }
    }
    if disk.device == DiskDevice::Cdrom {
        disk.readonly = true;
    }
    if disk.bus == DiskBus::None {
        disk.bus = if disk.device == DiskDevice::Floppy {
            DiskBus::Fdc
        } else {
            match disk.target.as_deref() {
                Some(t) if t.starts_with("hd") => DiskBus::Ide,
                Some(t) if t.starts_with("sd") => DiskBus::Scsi,
                Some(t) if t.starts_with("vd") => DiskBus::Virtio,
                Some(t) if t.starts_with("xvd") => DiskBus::Xen,
                Some(t) if t.starts_with("ubd") => DiskBus::Uml,
                _ => DiskBus::Ide,
            }
        };
    }
    if disk.snapshot.is_none() && disk.readonly {
        disk.snapshot = Some(SnapshotLocation::No);
    }
    let src = &mut disk.source;
    if src.type_ == StorageType::Network && src.net.protocol == Some(NetProtocol::Iscsi) {
        if let Some(p) = &src.path {
            if !p.contains('/') {
                src.path = Some(format!("{p}/0"));
            }
        }
    }
    if let Some((_, managed @ None, _)) = &mut src.nvme {
        *managed = Some(true);
    }
    if src.type_ == StorageType::Vhostuser && disk.snapshot.is_none() {
        disk.snapshot = Some(SnapshotLocation::No);
    }
    if disk.info.address.is_none() {
        if let Some(t) = disk.target.clone() {
            assign_address(disk, &t, scsi_hostdevs)?;
        }
    }
    Ok(())
}

/// The test driver's `virDomainDeviceDefPostParseCheckFeatures` for disks: it cannot pass file
/// descriptors.
pub(crate) fn check_features(disk: &Disk) -> Result<()> {
    if disk.source.fdgroup.is_some() {
        return Err(unsupported(format!(
            "driver does not support FD passing for disk '{}'",
            disk.target.as_deref().unwrap_or("(null)")
        )));
    }
    Ok(())
}

/// `virDomainDiskExpandGroupIoTune` for disk `i`: a disk naming an I/O group without limits
/// takes the group's limits from the first disk that has them.
pub(crate) fn expand_group_iotune(disks: &mut [Disk], i: usize) {
    let Some(g) = disks[i].iotune.group_name.as_deref() else {
        return;
    };
    if disks[i].iotune.has_any() {
        return;
    }
    if let Some(src) = disks
        .iter()
        .find(|d| d.iotune.group_name.as_deref() == Some(g) && d.iotune.has_any())
    {
        disks[i].iotune = src.iotune.clone();
    }
}

/// `virDomainDiskDefAssignAddress` (the test driver uses a narrow SCSI bus: 7 units).
fn assign_address(
    disk: &mut Disk,
    target: &str,
    scsi_hostdevs: &[(u32, u32, u32, u32)],
) -> Result<()> {
    let Some(idx) = disk_name_to_index(target) else {
        return Err(xml_error(format!(
            "Unknown disk name '{target}' and no address specified"
        )));
    };
    let drive = |controller, bus, unit| Address::Drive {
        controller,
        bus,
        target: 0,
        unit,
    };
    disk.info.address = match disk.bus {
        DiskBus::Scsi => {
            let (controller, unit) = (idx / 7, idx % 7);
            if scsi_hostdevs.contains(&(controller, 0, 0, unit)) {
                return Err(unsupported(format!(
                    "using disk target name '{target}' conflicts with SCSI host device address controller='{controller}' bus='0' target='0' unit='{unit}"
                )));
            }
            Some(drive(controller, 0, unit))
        }
        DiskBus::Ide => Some(drive(idx / 4, (idx % 4) / 2, idx % 2)),
        DiskBus::Sata => Some(drive(idx / 6, 0, idx % 6)),
        DiskBus::Fdc => Some(drive(idx / 2, 0, idx % 2)),
        _ => None,
    };
    Ok(())
}

fn validate_source_chain(src: &DiskSource) -> Result<()> {
    let mut next = Some(src);
    while let Some(s) = next {
        if s.type_ == StorageType::Network {
            if let Some(a) = &s.auth {
                let proto = s.net.protocol.unwrap_or(NetProtocol::None);
                if matches!(
                    proto,
                    NetProtocol::Nbd
                        | NetProtocol::Sheepdog
                        | NetProtocol::Gluster
                        | NetProtocol::Tftp
                        | NetProtocol::Vxhs
                        | NetProtocol::Nfs
                ) {
                    return Err(unsupported(format!(
                        "authentication is not supported for protocol '{}'",
                        proto.as_str()
                    )));
                }
                let Some(usage) = ss::secret_usage(a) else {
                    return Err(unsupported(format!(
                        "unknown secret type '{}'",
                        a.secret_type.as_deref().unwrap_or("<null>")
                    )));
                };
                if (proto == NetProtocol::Iscsi && usage != SecretUsage::Iscsi)
                    || (proto == NetProtocol::Rbd && usage != SecretUsage::Ceph)
                {
                    return Err(unsupported(format!(
                        "invalid secret type '{}'",
                        usage.as_str()
                    )));
                }
            }
        }
        if let Some(e) = &s.encryption {
            if e.format == ss::EncryptionFormat::Luks && e.cipher.is_some() {
                return Err(unsupported(
                    "supplying <cipher> for domain disk definition is unnecessary",
                ));
            }
        }
        next = match &s.backing {
            Some(Some(b)) => Some(b),
            _ => None,
        };
    }
    Ok(())
}

fn vhostuser_validate(d: &Disk) -> Result<()> {
    let u = |s: &str| Err(unsupported(s));
    if d.bus != DiskBus::Virtio {
        return u("vhostuser disk supports only virtio bus");
    }
    if d.snapshot != Some(SnapshotLocation::No) {
        return u("only snapshot=no is supported with vhostuser disk");
    }
    let dr = &d.driver;
    if dr.cache.is_some_and(|c| c != DiskCache::Default) {
        return u("cache is not supported with vhostuser disk");
    }
    if dr.error_policy.is_some() || dr.rerror_policy.is_some() {
        return u("error_policy is not supported with vhostuser disk");
    }
    if dr.io.is_some() {
        return u("io is not supported with vhostuser disk");
    }
    if dr.ioeventfd.is_some() {
        return u("ioeventfd is not supported with vhostuser disk");
    }
    if dr.copy_on_read.is_some() {
        return u("copy_on_read is not supported with vhostuser disk");
    }
    if dr.discard.is_some() {
        return u("discard is not supported with vhostuser disk");
    }
    if dr.iothread != 0 {
        return u("iothread is not supported with vhostuser disk");
    }
    if dr.detect_zeroes.is_some() {
        return u("detect_zeroes is not supported with vhostuser disk");
    }
    if d.source.metadata_cache_max.is_some_and(|m| m > 0) {
        return u("metadata_cache is not supported with vhostuser disk");
    }
    if d.iotune.group_name.is_some() || d.iotune.has_any() {
        return u("iotune is not supported with vhostuser disk");
    }
    if d.source.backing.is_some() {
        return u("backingStore is not supported with vhostuser disk");
    }
    if d.source.encryption.is_some() {
        return u("encryption is not supported with vhostuser disk");
    }
    if d.readonly {
        return u("readonly is not supported with vhostuser disk");
    }
    if d.shareable {
        return u("shareable is not supported with vhostuser disk");
    }
    if d.transient.is_some() {
        return u("transient is not supported with vhostuser disk");
    }
    if d.serial.is_some() {
        return u("serial is not supported with vhostuser disk");
    }
    if d.wwn.is_some() {
        return u("wwn is not supported with vhostuser disk");
    }
    if d.vendor.is_some() {
        return u("vendor is not supported with vhostuser disk");
    }
    if d.product.is_some() {
        return u("product is not supported with vhostuser disk");
    }
    if d.source.auth.is_some() {
        return u("auth is not supported with vhostuser disk");
    }
    let (c, h, s, t) = d.geometry;
    if c > 0 || h > 0 || s > 0 || t != GeometryTrans::Default {
        return u("geometry is not supported with vhostuser disk");
    }
    if d.blockio.0 > 0 || d.blockio.1 > 0 {
        return u("blockio is not supported with vhostuser disk");
    }
    Ok(())
}

/// Whether the source has nothing to read (`virStorageSourceIsEmpty`).
fn source_is_empty(s: &DiskSource) -> bool {
    (matches!(
        s.type_,
        StorageType::File | StorageType::Block | StorageType::Dir
    ) && s.path.is_none())
        || s.type_ == StorageType::None
        || (s.type_ == StorageType::Network
            && s.net.protocol.unwrap_or(NetProtocol::None) == NetProtocol::None)
}

/// `virDomainDiskDefValidate`.
pub(crate) fn validate(disk: &Disk, vm_seclabels: &[Seclabel]) -> Result<()> {
    let Some(dst) = disk.target.as_deref() else {
        return Err(match (&disk.source.pool, &disk.source.path) {
            (Some((p, v, _)), _) => report(
                code::NO_TARGET,
                domain::DOMAIN,
                format!("pool = '{p}', volume = '{v}'"),
            ),
            (None, Some(p)) => report(code::NO_TARGET, domain::DOMAIN, p.clone()),
            (None, None) => bare(code::NO_TARGET, domain::DOMAIN),
        });
    };
    validate_source_chain(&disk.source)?;
    if disk.sgio == Some(Sgio::Unfiltered) {
        return Err(unsupported("unfiltered sgio is no longer supported"));
    }
    let src = &disk.source;
    if disk.device == DiskDevice::Lun {
        if src.type_ == StorageType::Network {
            let p = src.net.protocol.unwrap_or(NetProtocol::None);
            if p != NetProtocol::Iscsi {
                return Err(unsupported(format!(
                    "disk device='lun' is not supported for protocol='{}'",
                    p.as_str()
                )));
            }
        } else if src.type_ != StorageType::Block && src.type_ != StorageType::Volume {
            return Err(unsupported(
                "disk device='lun' is only valid for block type disk source",
            ));
        }
        if !matches!(src.format, None | Some(StorageFormat::Raw)) {
            return Err(unsupported("disk device 'lun' must use 'raw' format"));
        }
        if src.slice.is_some() {
            return Err(unsupported(
                "disk device 'lun' doesn't support storage slice",
            ));
        }
        if src
            .encryption
            .as_ref()
            .is_some_and(|e| e.format != ss::EncryptionFormat::Default)
        {
            return Err(unsupported("disk device 'lun' doesn't support encryption"));
        }
    } else {
        if src.pr.is_some() {
            return Err(unsupported("<reservations/> allowed only for lun devices"));
        }
        if disk.rawio.is_some() {
            return Err(unsupported("rawio can be used only with device='lun'"));
        }
        if disk.sgio.is_some() {
            return Err(unsupported("sgio can be used only with device='lun'"));
        }
    }
    let v = &disk.iotune.values;
    for (t, r, w, what) in [
        (0, 1, 2, "bytes_sec"),
        (3, 4, 5, "iops_sec"),
        (6, 7, 8, "bytes_sec_max"),
        (9, 10, 11, "iops_sec_max"),
    ] {
        if v[t] != 0 && (v[r] != 0 || v[w] != 0) {
            return Err(xml_error(format!(
                "total and read/write {what} cannot be set at the same time"
            )));
        }
    }
    let at = disk.info.address_type();
    let compatible = at == AddressType::None
        || match disk.bus {
            DiskBus::Ide | DiskBus::Fdc | DiskBus::Scsi | DiskBus::Sata => at == AddressType::Drive,
            _ => true,
        };
    if !compatible {
        return Err(unsupported(format!(
            "Invalid address type '{}' for the disk '{dst}' with the bus type '{}'",
            at.as_str(),
            disk.bus.as_str()
        )));
    }
    if disk.bus != DiskBus::Virtio {
        if matches!(
            disk.model,
            Some(
                DiskModel::Virtio
                    | DiskModel::VirtioTransitional
                    | DiskModel::VirtioNonTransitional
            )
        ) {
            return Err(unsupported(format!(
                "disk model '{}' not supported for bus '{}'",
                disk.model.map(|m| m.as_str()).unwrap_or(""),
                disk.bus.as_str()
            )));
        }
        if disk.driver.queues != 0 {
            return Err(unsupported(
                "queues attribute in disk driver element is only supported by virtio-blk",
            ));
        }
        if disk.driver.event_idx.is_some() {
            return Err(unsupported(
                "disk event_idx mode supported only for virtio bus",
            ));
        }
        if disk.driver.ioeventfd.is_some() {
            return Err(unsupported(
                "disk ioeventfd mode supported only for virtio bus",
            ));
        }
        disk.driver.virtio.check_absent()?;
    }
    if let Some((0, _, _)) = src.nvme {
        return Err(unsupported("NVMe namespace can't be zero"));
    }
    if src.type_ == StorageType::Vhostuser {
        vhostuser_validate(disk)?;
    }
    let mut next = Some(src);
    while let Some(s) = next {
        seclabel::validate_device(&s.seclabels, vm_seclabels)?;
        next = match &s.backing {
            Some(Some(b)) => Some(b),
            _ => None,
        };
    }
    if disk.tray != Tray::Closed && !matches!(disk.device, DiskDevice::Floppy | DiskDevice::Cdrom) {
        return Err(unsupported("tray is only valid for cdrom and floppy"));
    }
    for (v, what, len) in [(&disk.vendor, "vendor", 8), (&disk.product, "product", 16)] {
        if let Some(v) = v {
            if !v.bytes().all(|c| (0x20..0x7f).contains(&c)) {
                return Err(xml_error(format!("disk {what} is not printable string")));
            }
            if v.len() > len {
                return Err(unsupported(format!(
                    "disk {what} is more than {len} characters"
                )));
            }
        }
    }
    if disk.device == DiskDevice::Floppy && disk.bus != DiskBus::Fdc {
        return Err(internal(format!(
            "Invalid bus type '{}' for floppy disk",
            disk.bus.as_str()
        )));
    }
    if disk.device != DiskDevice::Floppy && disk.bus == DiskBus::Fdc {
        return Err(internal(format!(
            "Invalid bus type '{}' for disk",
            disk.bus.as_str()
        )));
    }
    if disk.removable.is_some() && disk.bus != DiskBus::Usb {
        return Err(xml_error("removable is only valid for usb disks"));
    }
    if let Some(p) = disk.startup_policy.filter(|p| *p != StartupPolicy::Default) {
        if !matches!(
            src.type_,
            StorageType::Volume | StorageType::File | StorageType::Block | StorageType::Dir
        ) {
            return Err(xml_error(format!(
                "disk startupPolicy '{}' is not allowed for disk of '{}' type",
                p.as_str(),
                src.type_.as_str()
            )));
        }
        if disk.device != DiskDevice::Cdrom
            && disk.device != DiskDevice::Floppy
            && p == StartupPolicy::Requisite
        {
            return Err(xml_error(
                "disk startupPolicy 'requisite' is allowed only for cdrom or floppy",
            ));
        }
    }
    if let Some(w) = &disk.wwn {
        let hex = w.strip_prefix("0x").unwrap_or(w);
        if hex.len() != 16 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(report(
                code::INTERNAL_ERROR,
                domain::NONE,
                format!("Malformed wwn: {w}"),
            ));
        }
    }
    if matches!(disk.device, DiskDevice::Disk | DiskDevice::Lun)
        && !["hd", "sd", "vd", "xvd", "ubd"]
            .iter()
            .any(|p| dst.starts_with(p))
    {
        return Err(internal(format!("Invalid harddisk device name: {dst}")));
    }
    if disk.device == DiskDevice::Floppy && !dst.starts_with("fd") {
        return Err(internal(format!("Invalid floppy device name: {dst}")));
    }
    if source_is_empty(src) && disk.device == DiskDevice::Disk {
        return Err(report(code::NO_SOURCE, domain::DOMAIN, dst));
    }
    Ok(())
}

fn format_metadata_cache(b: &mut Buf, max: Option<u64>) {
    if let Some(m) = max.filter(|m| *m > 0) {
        let mut k = b.child();
        k.add(&format!("<max_size unit='bytes'>{m}</max_size>\n"));
        b.element("metadata_cache", Buf::new(), k);
    }
}

fn format_backing(b: &mut Buf, s: &DiskSource) {
    let Some(bs) = &s.backing else {
        return;
    };
    let Some(bs) = bs else {
        b.add("<backingStore/>\n");
        return;
    };
    let mut attrs = Buf::new();
    attrs.add(&format!(" type='{}'", bs.type_.as_str()));
    let mut kids = b.child();
    let mut fattrs = Buf::new();
    fattrs.add(&format!(
        " type='{}'",
        bs.format.unwrap_or(StorageFormat::Raw).as_str()
    ));
    let mut fkids = kids.child();
    format_metadata_cache(&mut fkids, bs.metadata_cache_max);
    kids.element("format", fattrs, fkids);
    ss::format_source(&mut kids, bs, "source", None, false, false);
    format_backing(&mut kids, bs);
    b.element("backingStore", attrs, kids);
}

/// `virDomainDiskDefFormatIotune`.
fn format_iotune(b: &mut Buf, t: &IoTune) {
    let mut k = b.child();
    for (i, f) in IOTUNE_FIELDS.iter().enumerate().take(12) {
        if t.values[i] != 0 {
            k.add(&format!("<{f}>{}</{f}>\n", t.values[i]));
        }
    }
    if t.values[12] != 0 {
        k.add(&format!(
            "<size_iops_sec>{}</size_iops_sec>\n",
            t.values[12]
        ));
    }
    k.esc("<group_name>%s</group_name>\n", t.group_name.as_deref());
    for (i, f) in IOTUNE_FIELDS.iter().enumerate().skip(13) {
        if t.values[i] != 0 {
            k.add(&format!("<{f}>{}</{f}>\n", t.values[i]));
        }
    }
    b.element("iotune", Buf::new(), k);
}

pub(super) fn format(b: &mut Buf, d: &Disk, _opts: FormatOpts) {
    let mut attrs = Buf::new();
    let mut k = b.child();
    attrs.add(&format!(
        " type='{}' device='{}'",
        d.source.type_.as_str(),
        d.device.as_str()
    ));
    if let Some(m) = d.model.filter(|m| *m != DiskModel::Default) {
        attrs.add(&format!(" model='{}'", m.as_str()));
    }
    if let Some(r) = d.rawio {
        attrs.add(&format!(" rawio='{}'", super::super::xml::yes_no(r)));
    }
    if let Some(s) = d.sgio {
        attrs.add(&format!(" sgio='{}'", s.as_str()));
    }
    if let Some(s) = d.snapshot {
        if s != SnapshotLocation::Default && !(s == SnapshotLocation::No && d.readonly) {
            attrs.add(&format!(" snapshot='{}'", s.as_str()));
        }
    }

    // <driver>
    let dr = &d.driver;
    let mut da = Buf::new();
    da.esc(" name='%s'", dr.name.as_deref());
    if let Some(f) = d.source.format.filter(|f| *f != StorageFormat::None) {
        da.add(&format!(" type='{}'", f.as_str()));
    }
    let e = |da: &mut Buf, name: &str, v: Option<&str>| {
        if let Some(v) = v {
            da.add(&format!(" {name}='{v}'"));
        }
    };
    e(
        &mut da,
        "cache",
        dr.cache
            .filter(|c| *c != DiskCache::Default)
            .map(|c| c.as_str()),
    );
    e(&mut da, "error_policy", dr.error_policy.map(|c| c.as_str()));
    e(
        &mut da,
        "rerror_policy",
        dr.rerror_policy.map(|c| c.as_str()),
    );
    e(&mut da, "io", dr.io.map(|c| c.as_str()));
    e(
        &mut da,
        "ioeventfd",
        dr.ioeventfd.map(super::super::xml::on_off),
    );
    e(
        &mut da,
        "event_idx",
        dr.event_idx.map(super::super::xml::on_off),
    );
    e(
        &mut da,
        "copy_on_read",
        dr.copy_on_read.map(super::super::xml::on_off),
    );
    e(&mut da, "discard", dr.discard.map(|c| c.as_str()));
    if dr.iothread != 0 {
        da.add(&format!(" iothread='{}'", dr.iothread));
    }
    e(
        &mut da,
        "detect_zeroes",
        dr.detect_zeroes.map(|c| c.as_str()),
    );
    if dr.queues != 0 {
        da.add(&format!(" queues='{}'", dr.queues));
    }
    if dr.queue_size != 0 {
        da.add(&format!(" queue_size='{}'", dr.queue_size));
    }
    dr.virtio.format(&mut da);
    let mut dk = k.child();
    format_metadata_cache(&mut dk, d.source.metadata_cache_max);
    k.element("driver", da, dk);

    if d.auth_in_disk {
        if let Some(a) = &d.source.auth {
            ss::format_auth(&mut k, a);
        }
    }
    ss::format_source(
        &mut k,
        &d.source,
        "source",
        d.startup_policy
            .filter(|p| *p != StartupPolicy::Default)
            .map(|p| p.as_str()),
        d.auth_in_disk,
        d.encryption_in_disk,
    );
    format_backing(&mut k, &d.source);
    k.esc("<backenddomain name='%s'/>\n", d.backend_domain.as_deref());
    let (cyls, heads, secs, trans) = d.geometry;
    if cyls > 0 && heads > 0 && secs > 0 {
        k.add(&format!(
            "<geometry cyls='{cyls}' heads='{heads}' secs='{secs}'"
        ));
        if trans != GeometryTrans::Default {
            k.add(&format!(" trans='{}'", trans.as_str()));
        }
        k.add("/>\n");
    }
    let (logical, physical) = d.blockio;
    if logical > 0 || physical > 0 {
        k.add("<blockio");
        if logical > 0 {
            k.add(&format!(" logical_block_size='{logical}'"));
        }
        if physical > 0 {
            k.add(&format!(" physical_block_size='{physical}'"));
        }
        k.add("/>\n");
    }
    // libvirt writes the target name unescaped.
    k.add(&format!(
        "<target dev='{}' bus='{}'",
        d.target.as_deref().unwrap_or("(null)"),
        d.bus.as_str()
    ));
    if matches!(d.device, DiskDevice::Floppy | DiskDevice::Cdrom) && d.tray != Tray::Closed {
        k.add(&format!(" tray='{}'", d.tray.as_str()));
    }
    if d.bus == DiskBus::Usb {
        if let Some(r) = d.removable {
            k.add(&format!(" removable='{}'", super::super::xml::on_off(r)));
        }
    }
    if d.rotation_rate != 0 {
        k.add(&format!(" rotation_rate='{}'", d.rotation_rate));
    }
    k.add("/>\n");
    format_iotune(&mut k, &d.iotune);
    if d.readonly {
        k.add("<readonly/>\n");
    }
    if d.shareable {
        k.add("<shareable/>\n");
    }
    if let Some(share) = d.transient {
        k.add("<transient");
        if share == Some(true) {
            k.add(" shareBacking='yes'");
        }
        k.add("/>\n");
    }
    k.esc("<serial>%s</serial>\n", d.serial.as_deref());
    k.esc("<wwn>%s</wwn>\n", d.wwn.as_deref());
    k.esc("<vendor>%s</vendor>\n", d.vendor.as_deref());
    k.esc("<product>%s</product>\n", d.product.as_deref());
    if d.encryption_in_disk {
        if let Some(e) = &d.source.encryption {
            ss::format_encryption(&mut k, e);
        }
    }
    format_info(&mut k, &d.info, true);
    b.element("disk", attrs, k);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_names() {
        assert_eq!(disk_name_to_index("sda"), Some(0));
        assert_eq!(disk_name_to_index("hdz"), Some(25));
        assert_eq!(disk_name_to_index("vdaa"), Some(26));
        assert_eq!(disk_name_to_index("vdb1"), Some(1));
        assert_eq!(disk_name_to_index("xyz"), None);
        assert_eq!(disk_name_to_index("sd"), None);
    }
}
