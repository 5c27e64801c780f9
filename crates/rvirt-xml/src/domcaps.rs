//! Domain capabilities (`virConnectGetDomainCapabilities`, `virsh domcapabilities`): the typed
//! model of libvirt's `virDomainCaps` — what one emulator binary, machine type and
//! virtualization type can do — and its formatting, byte for byte as libvirt 9.0's
//! `virDomainCapsFormat` (`src/conf/domain_capabilities.c`). Drivers build the model and
//! format it; [`DomainCaps::parse`] (in `domcaps_parse.rs`) reads a document back, so that a
//! client can inspect what a daemon reported and so that the model can be checked against
//! libvirt's own output (`tests/domaincapsdata`).
//!
//! libvirt only ever writes this document, so the reading rules are ours, taken from the
//! schema (`domaincaps.rng`) and the model: every `<enum>` value must be one of libvirt's
//! strings for that enum (values are kept as libvirt keeps them, as a set printed in libvirt's
//! enum order); an element saying `supported='no'` has no content; unknown elements are
//! ignored, as libvirt's XPath-based parsers ignore them.
//!
//! Where libvirt prints a free-form string without escaping it (`<machine>`, CPU model names
//! and vendors, SEV's `<cpu0Id>`), we escape it, so that the output is always well-formed XML;
//! the bytes differ from libvirt's only for strings containing `<>&'"` or line breaks inside
//! attribute values.

use crate::conf::{Buf, Tristate};
use crate::domain::xml::{xml_enum, XmlEnum};

pub use crate::domain::devices::{
    DiskBus, DiskDevice, FsDriver, GraphicsType, RngModel, TpmBackendType, TpmModel, VideoType,
};
pub use crate::domain::VirtType;
pub use crate::domain::{Arch, CpuFallback, CpuFeature, CpuFeaturePolicy, GicVersion, LoaderType};

xml_enum! {
    /// `virDomainOsDefFirmware`.
    pub enum Firmware { None = "none", Bios = "bios", Efi = "efi" }
}

xml_enum! {
    /// `virTristateBool`, as listed by the loader's `readonly` and `secure` enums.
    pub enum TristateBool { Default = "default", Yes = "yes", No = "no" }
}

xml_enum! {
    /// `virTristateSwitch`, as listed by the CPU modes' `…Migratable` enums.
    pub enum TristateSwitch { Default = "default", On = "on", Off = "off" }
}

xml_enum! {
    /// `virDomainMemorySource`.
    pub enum MemorySource { None = "none", File = "file", Anonymous = "anonymous", Memfd = "memfd" }
}

xml_enum! {
    /// `virDomainDiskModel`.
    pub enum DiskModel {
        Default = "default", Virtio = "virtio", VirtioTransitional = "virtio-transitional",
        VirtioNonTransitional = "virtio-non-transitional",
    }
}

xml_enum! {
    /// `virDomainHostdevMode`.
    pub enum HostdevMode { Subsystem = "subsystem", Capabilities = "capabilities" }
}

xml_enum! {
    /// `virDomainStartupPolicy`.
    pub enum StartupPolicy {
        Default = "default", Mandatory = "mandatory", Requisite = "requisite", Optional = "optional",
    }
}

xml_enum! {
    /// `virDomainHostdevSubsysType`.
    pub enum HostdevSubsysType {
        Usb = "usb", Pci = "pci", Scsi = "scsi", ScsiHost = "scsi_host", Mdev = "mdev",
    }
}

xml_enum! {
    /// `virDomainHostdevCapsType`.
    pub enum HostdevCapsType { Storage = "storage", Misc = "misc", Net = "net" }
}

xml_enum! {
    /// `virDomainHostdevSubsysPCIBackendType`.
    pub enum PciBackend { Default = "default", Kvm = "kvm", Vfio = "vfio", Xen = "xen" }
}

xml_enum! {
    /// `virDomainRNGBackend`.
    pub enum RngBackendModel { Random = "random", Egd = "egd", Builtin = "builtin" }
}

xml_enum! {
    /// `virDomainTPMVersion`.
    pub enum TpmVersion { Default = "default", V1_2 = "1.2", V2_0 = "2.0" }
}

xml_enum! {
    /// `virDomainRedirdevBus`.
    pub enum RedirdevBus { Usb = "usb" }
}

xml_enum! {
    /// `virDomainChrType`.
    pub enum ChrType {
        Null = "null", Vc = "vc", Pty = "pty", Dev = "dev", File = "file", Pipe = "pipe",
        Stdio = "stdio", Udp = "udp", Tcp = "tcp", Unix = "unix", Spicevmc = "spicevmc",
        Spiceport = "spiceport", Nmdm = "nmdm", QemuVdagent = "qemu-vdagent", Dbus = "dbus",
    }
}

xml_enum! {
    /// `virDomainHyperv`: the Hyper-V enlightenments.
    pub enum HypervFeature {
        Relaxed = "relaxed", Vapic = "vapic", Spinlocks = "spinlocks", Vpindex = "vpindex",
        Runtime = "runtime", Synic = "synic", Stimer = "stimer", Reset = "reset",
        VendorId = "vendor_id", Frequencies = "frequencies", Reenlightenment = "reenlightenment",
        Tlbflush = "tlbflush", Ipi = "ipi", Evmcs = "evmcs", Avic = "avic",
    }
}

xml_enum! {
    /// `virDomainCapsCPUUsable`: whether a custom CPU model runs on this host.
    pub enum CpuUsable { Unknown = "unknown", Yes = "yes", No = "no" }
}

/// A value of one of libvirt's enums (`VIR_ENUM_IMPL`): its XML spelling and its number in
/// libvirt's list, which is the order `<enum>` values are printed in.
pub trait EnumValue: Sized + Copy {
    /// The value spelled `name`, if libvirt's list has it.
    fn from_name(name: &str) -> Option<Self>;
    /// The XML spelling.
    fn name(self) -> &'static str;
    /// The position in libvirt's list.
    fn number(self) -> usize;
}

macro_rules! enum_values {
    ($($t:ty),+ $(,)?) => {
        $(impl EnumValue for $t {
            fn from_name(name: &str) -> Option<Self> {
                <$t as XmlEnum>::parse(name)
            }
            fn name(self) -> &'static str {
                self.as_str()
            }
            fn number(self) -> usize {
                XmlEnum::index(self)
            }
        })+
    };
}

enum_values!(
    Arch,
    VirtType,
    CpuUsable,
    CpuFallback,
    CpuFeaturePolicy,
    Firmware,
    LoaderType,
    TristateBool,
    TristateSwitch,
    MemorySource,
    DiskDevice,
    DiskBus,
    DiskModel,
    GraphicsType,
    VideoType,
    HostdevMode,
    StartupPolicy,
    HostdevSubsysType,
    HostdevCapsType,
    PciBackend,
    RngModel,
    RngBackendModel,
    FsDriver,
    TpmModel,
    TpmBackendType,
    TpmVersion,
    RedirdevBus,
    ChrType,
    GicVersion,
    HypervFeature,
);

/// `virDomainCapsEnum` when reported: the values an `<enum name=…>` lists. libvirt keeps them
/// as a bit set, so the order given here does not matter and duplicates collapse: they are
/// always printed once each, in libvirt's enum order. A field of type `Option<CapsEnum<_>>`
/// is `None` when the enum is not reported at all, and `Some` with no values for an empty
/// `<enum name='…'/>` ("reported, nothing supported").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapsEnum<T> {
    /// The values.
    pub values: Vec<T>,
}

impl<T> Default for CapsEnum<T> {
    fn default() -> Self {
        Self { values: Vec::new() }
    }
}

impl<T: Copy + PartialEq> CapsEnum<T> {
    /// An enum listing `values`.
    pub fn of(values: &[T]) -> Self {
        Self {
            values: values.to_vec(),
        }
    }

    /// Whether `value` is listed.
    pub fn contains(&self, value: T) -> bool {
        self.values.contains(&value)
    }
}

/// `Some(CapsEnum::of(values))`: the usual way a driver reports an enum.
pub fn report<T: Copy + PartialEq>(values: &[T]) -> Option<CapsEnum<T>> {
    Some(CapsEnum::of(values))
}

/// An element with a `supported=` attribute (`virTristateBool supported` and libvirt's
/// `FORMAT_PROLOGUE`): not printed, `supported='no'` and nothing else, or supported with its
/// details.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Support<T> {
    /// Not reported (`VIR_TRISTATE_BOOL_ABSENT`): the element is left out.
    #[default]
    Absent,
    /// `supported='no'`.
    No,
    /// `supported='yes'` and what is supported.
    Yes(T),
}

impl<T> Support<T> {
    /// The details when supported.
    pub fn supported(&self) -> Option<&T> {
        match self {
            Self::Yes(t) => Some(t),
            _ => None,
        }
    }
}

/// `<os><loader>` (`virDomainCapsLoader`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loader {
    /// Firmware image paths (`<value>`), in the driver's order.
    pub values: Vec<String>,
    /// `<enum name='type'>`.
    pub type_: Option<CapsEnum<LoaderType>>,
    /// `<enum name='readonly'>`.
    pub readonly: Option<CapsEnum<TristateBool>>,
    /// `<enum name='secure'>`.
    pub secure: Option<CapsEnum<TristateBool>>,
}

/// `<os>` (`virDomainCapsOS`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Os {
    /// `<enum name='firmware'>`: firmware autoselection.
    pub firmware: Option<CapsEnum<Firmware>>,
    /// `<loader>`.
    pub loader: Support<Loader>,
}

/// A supported `host-passthrough` or `maximum` CPU mode.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MigratableMode {
    /// `<enum name='hostPassthroughMigratable'>` / `<enum name='maximumMigratable'>`.
    pub migratable: Option<CapsEnum<TristateSwitch>>,
}

/// The CPU a `host-model` guest CPU expands to (`virCPUDef` of the guest type, as
/// `virCPUDefFormatBuf` prints it inside `<mode name='host-model'>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostModelCpu {
    /// `<model>`.
    pub model: Option<String>,
    /// `<model fallback=…>`.
    pub fallback: CpuFallback,
    /// `<model vendor_id=…>`.
    pub vendor_id: Option<String>,
    /// `<vendor>`.
    pub vendor: Option<String>,
    /// `<feature policy=… name=…>`, in order.
    pub features: Vec<CpuFeature>,
}

impl Default for HostModelCpu {
    fn default() -> Self {
        Self {
            model: None,
            fallback: CpuFallback::Allow,
            vendor_id: None,
            vendor: None,
            features: Vec::new(),
        }
    }
}

/// A CPU model of the `custom` mode (`virDomainCapsCPUModel`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomCpuModel {
    /// Model name.
    pub name: String,
    /// `usable=`.
    pub usable: CpuUsable,
    /// `deprecated='yes'`.
    pub deprecated: bool,
    /// `vendor=` (`None` prints `unknown`).
    pub vendor: Option<String>,
}

/// `<cpu>` (`virDomainCapsCPU`): the four guest CPU modes, always printed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cpu {
    /// `host-passthrough` (`None`: `supported='no'`).
    pub host_passthrough: Option<MigratableMode>,
    /// `maximum` (`None`: `supported='no'`).
    pub maximum: Option<MigratableMode>,
    /// `host-model` (`None`: `supported='no'`).
    pub host_model: Option<HostModelCpu>,
    /// `custom`: the named models (none: `supported='no'`).
    pub custom: Vec<CustomCpuModel>,
}

/// `<memoryBacking>` (`virDomainCapsMemoryBacking`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemoryBacking {
    /// `<enum name='sourceType'>`.
    pub source_type: Option<CapsEnum<MemorySource>>,
}

/// `<disk>` (`virDomainCapsDeviceDisk`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disk {
    /// `<enum name='diskDevice'>`.
    pub disk_device: Option<CapsEnum<DiskDevice>>,
    /// `<enum name='bus'>`.
    pub bus: Option<CapsEnum<DiskBus>>,
    /// `<enum name='model'>`.
    pub model: Option<CapsEnum<DiskModel>>,
}

/// `<graphics>` (`virDomainCapsDeviceGraphics`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Graphics {
    /// `<enum name='type'>`.
    pub type_: Option<CapsEnum<GraphicsType>>,
}

/// `<video>` (`virDomainCapsDeviceVideo`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Video {
    /// `<enum name='modelType'>`.
    pub model_type: Option<CapsEnum<VideoType>>,
}

/// `<hostdev>` (`virDomainCapsDeviceHostdev`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hostdev {
    /// `<enum name='mode'>`.
    pub mode: Option<CapsEnum<HostdevMode>>,
    /// `<enum name='startupPolicy'>`.
    pub startup_policy: Option<CapsEnum<StartupPolicy>>,
    /// `<enum name='subsysType'>`.
    pub subsys_type: Option<CapsEnum<HostdevSubsysType>>,
    /// `<enum name='capsType'>`.
    pub caps_type: Option<CapsEnum<HostdevCapsType>>,
    /// `<enum name='pciBackend'>`.
    pub pci_backend: Option<CapsEnum<PciBackend>>,
}

/// `<rng>` (`virDomainCapsDeviceRNG`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rng {
    /// `<enum name='model'>`.
    pub model: Option<CapsEnum<RngModel>>,
    /// `<enum name='backendModel'>`.
    pub backend_model: Option<CapsEnum<RngBackendModel>>,
}

/// `<filesystem>` (`virDomainCapsDeviceFilesystem`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filesystem {
    /// `<enum name='driverType'>`.
    pub driver_type: Option<CapsEnum<FsDriver>>,
}

/// `<tpm>` (`virDomainCapsDeviceTPM`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tpm {
    /// `<enum name='model'>`.
    pub model: Option<CapsEnum<TpmModel>>,
    /// `<enum name='backendModel'>`.
    pub backend_model: Option<CapsEnum<TpmBackendType>>,
    /// `<enum name='backendVersion'>`.
    pub backend_version: Option<CapsEnum<TpmVersion>>,
}

/// `<redirdev>` (`virDomainCapsDeviceRedirdev`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Redirdev {
    /// `<enum name='bus'>`.
    pub bus: Option<CapsEnum<RedirdevBus>>,
}

/// `<channel>` (`virDomainCapsDeviceChannel`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Channel {
    /// `<enum name='type'>`.
    pub type_: Option<CapsEnum<ChrType>>,
}

/// `<devices>`: always printed, each device only when reported.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Devices {
    /// `<disk>`.
    pub disk: Support<Disk>,
    /// `<graphics>`.
    pub graphics: Support<Graphics>,
    /// `<video>`.
    pub video: Support<Video>,
    /// `<hostdev>`.
    pub hostdev: Support<Hostdev>,
    /// `<rng>`.
    pub rng: Support<Rng>,
    /// `<filesystem>`.
    pub filesystem: Support<Filesystem>,
    /// `<tpm>`.
    pub tpm: Support<Tpm>,
    /// `<redirdev>`.
    pub redirdev: Support<Redirdev>,
    /// `<channel>`.
    pub channel: Support<Channel>,
}

/// `<gic>` (`virDomainCapsFeatureGIC`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Gic {
    /// `<enum name='version'>`.
    pub version: Option<CapsEnum<GicVersion>>,
}

/// `<hyperv>` (`virDomainCapsFeatureHyperv`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hyperv {
    /// `<enum name='features'>`.
    pub features: Option<CapsEnum<HypervFeature>>,
}

/// `<sev supported='yes'>` (`virSEVCapability`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sev {
    /// `<cbitpos>`.
    pub cbitpos: u32,
    /// `<reducedPhysBits>`.
    pub reduced_phys_bits: u32,
    /// `<maxGuests>`.
    pub max_guests: u32,
    /// `<maxESGuests>`.
    pub max_es_guests: u32,
    /// `<cpu0Id>`.
    pub cpu0_id: Option<String>,
}

/// One EPC section of `<sgx>` (`virSGXSection`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SgxSection {
    /// `node=`.
    pub node: u32,
    /// `size=` in KiB.
    pub size_kib: u64,
}

/// `<sgx supported='yes'>` (`virSGXCapability`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sgx {
    /// `<flc>`.
    pub flc: bool,
    /// `<sgx1>`.
    pub sgx1: bool,
    /// `<sgx2>`.
    pub sgx2: bool,
    /// `<section_size unit='KiB'>`.
    pub section_size_kib: u64,
    /// `<sections>` (printed only when there are any).
    pub sections: Vec<SgxSection>,
}

/// `<features>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Features {
    /// `<gic>`.
    pub gic: Support<Gic>,
    /// `<vmcoreinfo supported=…>`.
    pub vmcoreinfo: Tristate,
    /// `<genid supported=…>`.
    pub genid: Tristate,
    /// `<backingStoreInput supported=…>`.
    pub backing_store_input: Tristate,
    /// `<backup supported=…>`.
    pub backup: Tristate,
    /// `<s390-pv supported=…>`.
    pub s390_pv: Tristate,
    /// `<sev>` (`None`: `supported='no'`, always printed).
    pub sev: Option<Sev>,
    /// `<sgx>` (`None`: `supported='no'`, always printed).
    pub sgx: Option<Sgx>,
    /// `<hyperv>`.
    pub hyperv: Support<Hyperv>,
}

/// The domain capabilities document (`virDomainCaps`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainCaps {
    /// `<path>`: the emulator binary.
    pub path: String,
    /// `<domain>`: the virtualization type.
    pub virt_type: VirtType,
    /// `<machine>`: the machine type.
    pub machine: Option<String>,
    /// `<arch>`: the guest architecture.
    pub arch: Arch,
    /// `<vcpu max=…>` (0 leaves it out).
    pub max_vcpus: u32,
    /// `<iothreads supported=…>`.
    pub iothreads: Tristate,
    /// `<os>`.
    pub os: Support<Os>,
    /// `<cpu>`.
    pub cpu: Cpu,
    /// `<memoryBacking>`.
    pub memory_backing: Support<MemoryBacking>,
    /// `<devices>`.
    pub devices: Devices,
    /// `<features>`.
    pub features: Features,
}

impl DomainCaps {
    /// `virDomainCapsNew`: nothing reported yet apart from the identity.
    pub fn new(path: &str, virt_type: VirtType, machine: Option<&str>, arch: Arch) -> Self {
        Self {
            path: path.to_string(),
            virt_type,
            machine: machine.map(str::to_string),
            arch,
            max_vcpus: 0,
            iothreads: Tristate::Absent,
            os: Support::Absent,
            cpu: Cpu::default(),
            memory_backing: Support::Absent,
            devices: Devices::default(),
            features: Features::default(),
        }
    }

    /// `virDomainCapsFormat`.
    pub fn format(&self) -> String {
        let mut b = Buf::new();
        b.open("<domainCapabilities>");
        b.line(&format!("<path>{}</path>", esc_text(&self.path)));
        b.line(&format!("<domain>{}</domain>", self.virt_type.as_str()));
        if let Some(m) = &self.machine {
            b.line(&format!("<machine>{}</machine>", esc_text(m)));
        }
        b.line(&format!("<arch>{}</arch>", self.arch.as_str()));
        if self.max_vcpus != 0 {
            b.line(&format!("<vcpu max='{}'/>", self.max_vcpus));
        }
        simple(&mut b, "iothreads", self.iothreads);
        supported(&mut b, "os", &self.os, |b, os| {
            caps_enum(b, "firmware", &os.firmware);
            supported(b, "loader", &os.loader, |b, l| {
                for v in &l.values {
                    b.line(&format!("<value>{}</value>", esc_text(v)));
                }
                caps_enum(b, "type", &l.type_);
                caps_enum(b, "readonly", &l.readonly);
                caps_enum(b, "secure", &l.secure);
            });
        });
        format_cpu(&mut b, &self.cpu);
        supported(&mut b, "memoryBacking", &self.memory_backing, |b, m| {
            caps_enum(b, "sourceType", &m.source_type);
        });
        let d = &self.devices;
        b.open("<devices>");
        supported(&mut b, "disk", &d.disk, |b, x| {
            caps_enum(b, "diskDevice", &x.disk_device);
            caps_enum(b, "bus", &x.bus);
            caps_enum(b, "model", &x.model);
        });
        supported(&mut b, "graphics", &d.graphics, |b, x| {
            caps_enum(b, "type", &x.type_);
        });
        supported(&mut b, "video", &d.video, |b, x| {
            caps_enum(b, "modelType", &x.model_type);
        });
        supported(&mut b, "hostdev", &d.hostdev, |b, x| {
            caps_enum(b, "mode", &x.mode);
            caps_enum(b, "startupPolicy", &x.startup_policy);
            caps_enum(b, "subsysType", &x.subsys_type);
            caps_enum(b, "capsType", &x.caps_type);
            caps_enum(b, "pciBackend", &x.pci_backend);
        });
        supported(&mut b, "rng", &d.rng, |b, x| {
            caps_enum(b, "model", &x.model);
            caps_enum(b, "backendModel", &x.backend_model);
        });
        supported(&mut b, "filesystem", &d.filesystem, |b, x| {
            caps_enum(b, "driverType", &x.driver_type);
        });
        supported(&mut b, "tpm", &d.tpm, |b, x| {
            caps_enum(b, "model", &x.model);
            caps_enum(b, "backendModel", &x.backend_model);
            caps_enum(b, "backendVersion", &x.backend_version);
        });
        supported(&mut b, "redirdev", &d.redirdev, |b, x| {
            caps_enum(b, "bus", &x.bus);
        });
        supported(&mut b, "channel", &d.channel, |b, x| {
            caps_enum(b, "type", &x.type_);
        });
        b.close("devices");
        format_features(&mut b, &self.features);
        b.close("domainCapabilities");
        b.finish()
    }
}

/// Text content as `virBufferEscapeString` writes it, plus `\r` as a character reference
/// (a literal one would read back as `\n`).
pub(crate) fn esc_text(s: &str) -> String {
    crate::writer::escape(s).replace('\r', "&#13;")
}

/// An attribute value as `virBufferEscapeString` writes it, plus tab and line breaks as
/// character references (literal ones would read back as spaces).
pub(crate) fn esc_attr(s: &str) -> String {
    crate::writer::escape(s)
        .replace('\t', "&#9;")
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
}

/// `virDomainCapsFeatureFormatSimple`.
fn simple(b: &mut Buf, name: &str, t: Tristate) {
    if t.is_set() {
        b.line(&format!("<{name} supported='{}'/>", t.as_bool_str()));
    }
}

/// `FORMAT_PROLOGUE` … `FORMAT_EPILOGUE` around an element's content.
fn supported<T>(b: &mut Buf, name: &str, s: &Support<T>, body: impl FnOnce(&mut Buf, &T)) {
    match s {
        Support::Absent => {}
        Support::No => b.line(&format!("<{name} supported='no'/>")),
        Support::Yes(t) => {
            b.open(&format!("<{name} supported='yes'>"));
            body(b, t);
            b.close(name);
        }
    }
}

/// `virDomainCapsEnumFormat`: each set value once, in libvirt's enum order.
fn caps_enum<T: EnumValue>(b: &mut Buf, name: &str, e: &Option<CapsEnum<T>>) {
    let Some(e) = e else { return };
    let mut v: Vec<T> = e.values.clone();
    v.sort_by_key(|x| x.number());
    v.dedup_by_key(|x| x.number());
    if v.is_empty() {
        b.line(&format!("<enum name='{name}'/>"));
        return;
    }
    b.open(&format!("<enum name='{name}'>"));
    for x in v {
        b.line(&format!("<value>{}</value>", x.name()));
    }
    b.close("enum");
}

/// `virDomainCapsCPUFormat`.
fn format_cpu(b: &mut Buf, c: &Cpu) {
    b.open("<cpu>");
    for (mode, m, enum_name) in [
        (
            "host-passthrough",
            &c.host_passthrough,
            "hostPassthroughMigratable",
        ),
        ("maximum", &c.maximum, "maximumMigratable"),
    ] {
        match m {
            Some(MigratableMode {
                migratable: Some(e),
            }) => {
                b.open(&format!("<mode name='{mode}' supported='yes'>"));
                caps_enum(b, enum_name, &Some(e.clone()));
                b.close("mode");
            }
            Some(_) => b.line(&format!("<mode name='{mode}' supported='yes'/>")),
            None => b.line(&format!("<mode name='{mode}' supported='no'/>")),
        }
    }
    match &c.host_model {
        Some(h) => {
            b.open("<mode name='host-model' supported='yes'>");
            format_host_model(b, h);
            b.close("mode");
        }
        None => b.line("<mode name='host-model' supported='no'/>"),
    }
    if c.custom.is_empty() {
        b.line("<mode name='custom' supported='no'/>");
    } else {
        b.open("<mode name='custom' supported='yes'>");
        for m in &c.custom {
            let mut l = format!("<model usable='{}'", m.usable.as_str());
            if m.deprecated {
                l.push_str(" deprecated='yes'");
            }
            l.push_str(&format!(
                " vendor='{}'>{}</model>",
                esc_attr(m.vendor.as_deref().unwrap_or("unknown")),
                esc_text(&m.name)
            ));
            b.line(&l);
        }
        b.close("mode");
    }
    b.close("cpu");
}

/// `virCPUDefFormatBuf` for the guest-type CPU definition of the host model.
fn format_host_model(b: &mut Buf, h: &HostModelCpu) {
    if h.model.is_some() || h.vendor_id.is_some() {
        let mut l = String::from("<model");
        if h.model.is_some() {
            l.push_str(&format!(" fallback='{}'", h.fallback.as_str()));
        }
        if let Some(v) = &h.vendor_id {
            l.push_str(&format!(" vendor_id='{}'", esc_attr(v)));
        }
        match &h.model {
            Some(m) => l.push_str(&format!(">{}</model>", esc_text(m))),
            None => l.push_str("/>"),
        }
        b.line(&l);
    }
    if let Some(v) = &h.vendor {
        b.line(&format!("<vendor>{}</vendor>", esc_text(v)));
    }
    for f in &h.features {
        b.line(&format!(
            "<feature policy='{}' name='{}'/>",
            f.policy.as_str(),
            esc_attr(&f.name)
        ));
    }
}

/// `virDomainCapsFormatFeatures`: `<features>` is left out only when empty, which it never is
/// because `<sev>` and `<sgx>` are always printed.
fn format_features(b: &mut Buf, f: &Features) {
    b.open("<features>");
    supported(b, "gic", &f.gic, |b, g| caps_enum(b, "version", &g.version));
    simple(b, "vmcoreinfo", f.vmcoreinfo);
    simple(b, "genid", f.genid);
    simple(b, "backingStoreInput", f.backing_store_input);
    simple(b, "backup", f.backup);
    simple(b, "s390-pv", f.s390_pv);
    match &f.sev {
        None => b.line("<sev supported='no'/>"),
        Some(s) => {
            b.open("<sev supported='yes'>");
            b.line(&format!("<cbitpos>{}</cbitpos>", s.cbitpos));
            b.line(&format!(
                "<reducedPhysBits>{}</reducedPhysBits>",
                s.reduced_phys_bits
            ));
            b.line(&format!("<maxGuests>{}</maxGuests>", s.max_guests));
            b.line(&format!("<maxESGuests>{}</maxESGuests>", s.max_es_guests));
            if let Some(id) = &s.cpu0_id {
                b.line(&format!("<cpu0Id>{}</cpu0Id>", esc_text(id)));
            }
            b.close("sev");
        }
    }
    match &f.sgx {
        None => b.line("<sgx supported='no'/>"),
        Some(s) => {
            let yn = |v: bool| if v { "yes" } else { "no" };
            b.open("<sgx supported='yes'>");
            b.line(&format!("<flc>{}</flc>", yn(s.flc)));
            b.line(&format!("<sgx1>{}</sgx1>", yn(s.sgx1)));
            b.line(&format!("<sgx2>{}</sgx2>", yn(s.sgx2)));
            b.line(&format!(
                "<section_size unit='KiB'>{}</section_size>",
                s.section_size_kib
            ));
            if !s.sections.is_empty() {
                b.open("<sections>");
                for sec in &s.sections {
                    b.line(&format!(
                        "<section node='{}' size='{}' unit='KiB'/>",
                        sec.node, sec.size_kib
                    ));
                }
                b.close("sections");
            }
            b.close("sgx");
        }
    }
    supported(b, "hyperv", &f.hyperv, |b, h| {
        caps_enum(b, "features", &h.features)
    });
    b.close("features");
}
