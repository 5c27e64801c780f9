//! Domain XML → QEMU command line.
//!
//! [`build`] turns a parsed [`DomainDef`] plus the resolved backing chain of every disk
//! ([`resolve_disks`]) into the arguments `qemu-system-*` runs with. It sits between the driver's
//! start path (`driver.rs`) and process spawning (`process.rs`, which appends the QMP monitor
//! `-chardev socket,id=charmonitor,fd=N,server=on,wait=off -mon …` and `-pidfile`, because only it
//! knows the inherited descriptor).
//!
//! Spelling follows libvirt 9.0's `qemu_command.c` where it has one: `-blockdev`/`-device` as JSON
//! with libvirt's key order, `libvirt-N-storage`/`libvirt-N-format` node names (backing layers
//! numbered above their overlays and written first), device ids `virtio-disk0`, `net0`,
//! `serial0`, …, and PCI slots assigned in a fixed order. Where rvirt deliberately differs:
//! - every layer of every disk is named with its driver and linked by node name, and the bottom
//!   layer of a format that can have a backing file gets `"backing":null`, so QEMU never opens or
//!   probes a file the chain resolution did not approve;
//! - QEMU is not started with `-no-shutdown`: a guest power-off ends the process and the driver
//!   reports it from the `SHUTDOWN` event and the exit;
//! - `-m size=…k` keeps the configured KiB exactly instead of rounding to MiB;
//! - devices on q35 sit on `pcie.0` as integrated endpoints rather than behind root ports;
//! - ACPI off is `-machine …,acpi=off` (QEMU 10 has no `-no-acpi`).

use rvirt::error::{code, domain};
use rvirt_storage::chain::{self, Chain, ChainEnd, Source, XmlBacking, XmlLayer};
use rvirt_storage::format::Format;
use rvirt_xml::domain::devices::{
    Address, Chr, ChrSource, ChrSourceType, ChrTargetType, ControllerType, Disk, DiskBus,
    DiskDevice, DiskSource, GraphicsType, MemballoonModel, NetSource, RngBackend, RngModel,
    StorageType, VideoType,
};
use rvirt_xml::domain::{
    uuid_format, BootDev, ClockOffset, CpuFeaturePolicy, CpuMode, DomainDef, LifecycleAction,
    LoaderType, LockFailureAction, Placement, SeclabelType, Timer, TimerName, TimerTickpolicy,
    TimerTrack, VirtType,
};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Why a definition cannot be turned into a command line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgvError {
    /// A setting QEMU (or rvirt's QEMU driver) does not support.
    #[error("unsupported configuration: {0}")]
    Unsupported(String),
    /// The configuration is inconsistent.
    #[error("XML error: {0}")]
    Invalid(String),
    /// A disk's backing chain cannot be used (libvirt's exact error, from rvirt-storage).
    #[error("{message}")]
    Storage {
        /// `virErrorNumber`.
        code: i32,
        /// `virErrorDomain`.
        domain: i32,
        /// The message detail (without the code's prefix).
        message: String,
    },
}

impl From<ArgvError> for rvirt::Error {
    fn from(e: ArgvError) -> Self {
        match e {
            ArgvError::Unsupported(m) => {
                rvirt::Error::new(code::CONFIG_UNSUPPORTED, domain::QEMU, m)
            }
            ArgvError::Invalid(m) => rvirt::Error::new(code::XML_ERROR, domain::QEMU, m),
            ArgvError::Storage {
                code,
                domain,
                message,
            } => rvirt::Error::new(code, domain, message),
        }
    }
}

impl ArgvError {
    /// The message a libvirt client shows (code prefix included).
    pub fn message(&self) -> String {
        rvirt::Error::from(self.clone()).message
    }
}

fn unsupported(m: impl Into<String>) -> ArgvError {
    ArgvError::Unsupported(m.into())
}

/// The resolved chain of each disk, in `def.devices.disks` order (`None`: no medium).
pub type DiskChains = Vec<Option<Chain>>;

/// Resolves every disk's backing chain with the founding rule (rvirt-storage): an unrecorded
/// backing format over an image with a backing file of its own is refused with libvirt's error.
pub fn resolve_disks(def: &DomainDef) -> Result<DiskChains, ArgvError> {
    def.devices.disks.iter().map(resolve_disk).collect()
}

fn resolve_disk(d: &Disk) -> Result<Option<Chain>, ArgvError> {
    let src = &d.source;
    let Some(path) = src.path.as_deref() else {
        if d.device == DiskDevice::Cdrom || d.device == DiskDevice::Floppy {
            return Ok(None);
        }
        return Err(ArgvError::Invalid(format!(
            "disk '{}' has no source",
            d.target.as_deref().unwrap_or("")
        )));
    };
    match src.type_ {
        StorageType::File | StorageType::Block => {}
        t => {
            return Err(unsupported(format!(
                "disk source type '{}' is not supported by the rvirt QEMU driver",
                t.as_str()
            )))
        }
    }
    let top_format = match src.format {
        None => None,
        Some(f) => Some(storage_format(f.as_str())?),
    };
    let xml_backing = match &src.backing {
        None => None,
        Some(b) => Some(xml_backing(b.as_deref())?),
    };
    let opts = chain::Options {
        disk_target: d.target.clone(),
        ..Default::default()
    };
    chain::resolve_chain_with(Path::new(path), top_format, xml_backing.as_ref(), &opts)
        .map(Some)
        .map_err(|e| ArgvError::Storage {
            code: e.code(),
            domain: e.domain(),
            message: e.to_string(),
        })
}

fn storage_format(name: &str) -> Result<Format, ArgvError> {
    Format::from_name(name)
        .ok_or_else(|| unsupported(format!("unknown driver format value '{name}'")))
}

fn xml_backing(b: Option<&DiskSource>) -> Result<XmlBacking, ArgvError> {
    let Some(s) = b else {
        return Ok(XmlBacking::End);
    };
    let path = s
        .path
        .as_deref()
        .ok_or_else(|| ArgvError::Invalid("<backingStore> without <source>".into()))?;
    let format = s
        .format
        .map(|f| storage_format(f.as_str()))
        .transpose()?
        .ok_or_else(|| ArgvError::Invalid("missing backing store format".into()))?;
    let source = match s.type_ {
        StorageType::Block => Source::Block(PathBuf::from(path)),
        _ => Source::File(PathBuf::from(path)),
    };
    Ok(XmlBacking::Layer(Box::new(XmlLayer {
        source,
        format,
        backing: match &s.backing {
            None => None,
            Some(b) => Some(xml_backing(b.as_deref())?),
        },
    })))
}

/// What the command line needs beyond the definition.
#[derive(Debug, Clone)]
pub struct ArgvOptions {
    /// QEMU supports `-sandbox` (from the capability probe).
    pub sandbox: bool,
}

impl Default for ArgvOptions {
    fn default() -> Self {
        ArgvOptions { sandbox: true }
    }
}

/// The command line: the binary and its arguments (without the monitor and pid file ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// `qemu-system-*`.
    pub binary: PathBuf,
    /// Arguments.
    pub args: Vec<String>,
}

impl CommandLine {
    /// One option per line, shell-quoted, as libvirt's `.args` test files are written.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        out.push_str(&shell_quote(&self.binary.to_string_lossy()));
        let mut i = 0;
        while i < self.args.len() {
            out.push_str(" \\\n");
            out.push_str(&shell_quote(&self.args[i]));
            if i + 1 < self.args.len() && !self.args[i + 1].starts_with('-') {
                out.push(' ');
                out.push_str(&shell_quote(&self.args[i + 1]));
                i += 1;
            }
            i += 1;
        }
        out.push('\n');
        out
    }
}

fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=,.:/@%+".contains(&b));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A JSON object with libvirt's key order (serde_json's map would sort the keys).
#[derive(Default)]
struct Obj(Vec<(&'static str, String)>);

impl Obj {
    fn s(mut self, k: &'static str, v: &str) -> Self {
        self.0.push((k, serde_json::to_string(v).unwrap()));
        self
    }
    fn n(mut self, k: &'static str, v: i64) -> Self {
        self.0.push((k, v.to_string()));
        self
    }
    fn b(mut self, k: &'static str, v: bool) -> Self {
        self.0.push((k, v.to_string()));
        self
    }
    fn null(mut self, k: &'static str) -> Self {
        self.0.push((k, "null".into()));
        self
    }
    fn raw(mut self, k: &'static str, v: String) -> Self {
        self.0.push((k, v));
        self
    }
    fn text(&self) -> String {
        let mut o = String::from("{");
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let _ = write!(o, "\"{k}\":{v}");
        }
        o.push('}');
        o
    }
}

/// QEMU's option-list escaping: a comma in a value is doubled.
fn opt_escape(s: &str) -> String {
    s.replace(',', ",,")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Machine {
    Pc,
    Q35,
}

/// PCI slot allocation on the root bus (slot 1 of i440fx is PIIX; 0x1f of q35 is ICH9).
struct Pci {
    bus: &'static str,
    next: u32,
    used: Vec<u32>,
}

impl Pci {
    fn new(m: Machine, def: &DomainDef) -> Self {
        let mut used = vec![0];
        match m {
            Machine::Pc => used.push(1),
            Machine::Q35 => used.push(0x1f),
        }
        for info in all_infos(def) {
            if let Some(Address::Pci { slot, .. }) = info {
                used.push(*slot);
            }
        }
        Pci {
            bus: if m == Machine::Q35 { "pcie.0" } else { "pci.0" },
            next: 1,
            used,
        }
    }

    /// The address for a device: its configured one (root bus only) or the next free slot.
    fn place(&mut self, addr: &Option<Address>, what: &str) -> Result<(String, String), ArgvError> {
        match addr {
            Some(Address::Pci {
                domain,
                bus,
                slot,
                function,
                ..
            }) => {
                if *domain != 0 || *bus != 0 {
                    return Err(unsupported(format!(
                        "PCI address of {what} is on bus {bus}: only the root bus (0) is \
                         supported by the rvirt QEMU driver"
                    )));
                }
                let a = if *function == 0 {
                    format!("{slot:#x}")
                } else {
                    format!("{slot:#x}.{function:#x}")
                };
                Ok((self.bus.to_string(), a))
            }
            None => {
                while self.used.contains(&self.next) {
                    self.next += 1;
                }
                if self.next > 0x1f {
                    return Err(unsupported(format!("no free PCI slot for {what}")));
                }
                let s = self.next;
                self.used.push(s);
                Ok((self.bus.to_string(), format!("{s:#x}")))
            }
            Some(_) => Err(unsupported(format!(
                "{what} needs a PCI address, not the configured address type"
            ))),
        }
    }
}

fn all_infos(def: &DomainDef) -> Vec<&Option<Address>> {
    let d = &def.devices;
    let mut v: Vec<&Option<Address>> = Vec::new();
    v.extend(d.disks.iter().map(|x| &x.info.address));
    v.extend(d.controllers.iter().map(|x| &x.info.address));
    v.extend(d.nets.iter().map(|x| &x.info.address));
    v.extend(d.videos.iter().map(|x| &x.info.address));
    v.extend(d.rngs.iter().map(|x| &x.info.address));
    if let Some(m) = &d.memballoon {
        v.push(&m.info.address);
    }
    v
}

fn machine_kind(def: &DomainDef) -> Result<Machine, ArgvError> {
    let m = def.os.machine.as_deref().unwrap_or("pc");
    if m == "q35" || m.starts_with("pc-q35") {
        Ok(Machine::Q35)
    } else if m == "pc" || m.starts_with("pc-i440fx") || m.starts_with("pc-") {
        Ok(Machine::Pc)
    } else {
        Err(unsupported(format!(
            "machine type '{m}' is not supported by the rvirt QEMU driver (use pc or q35)"
        )))
    }
}

/// `virDiskNameToIndex`: `vda` → 0, `sdb` → 1, `hdaa` → 26.
pub fn disk_index(name: &str) -> Option<u32> {
    let letters = ["fd", "hd", "vd", "sd", "xvd", "ubd"]
        .iter()
        .find_map(|p| name.strip_prefix(p))?;
    if letters.is_empty() || !letters.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    let mut idx: u32 = 0;
    for (i, b) in letters.bytes().enumerate() {
        let v = (b - b'a') as u32;
        idx = if i == 0 { v } else { (idx + 1) * 26 + v };
    }
    Some(idx)
}

/// Builds the command line for `def` with the disks' resolved `chains`.
pub fn build(
    def: &DomainDef,
    chains: &[Option<Chain>],
    opts: &ArgvOptions,
) -> Result<CommandLine, ArgvError> {
    let mut a: Vec<String> = Vec::new();
    let push = |a: &mut Vec<String>, k: &str, v: String| {
        a.push(k.to_string());
        a.push(v);
    };
    refuse_untranslated(def)?;
    let machine = machine_kind(def)?;
    let accel = match def.virt_type {
        VirtType::Kvm => "kvm",
        VirtType::Qemu => "tcg",
        t => {
            return Err(unsupported(format!(
                "domain type '{}' is not supported by the QEMU driver",
                t.as_str()
            )))
        }
    };
    let binary = PathBuf::from(
        def.devices
            .emulator
            .clone()
            .unwrap_or_else(|| "/usr/bin/qemu-system-x86_64".into()),
    );

    push(
        &mut a,
        "-name",
        format!("guest={},debug-threads=on", opt_escape(&def.name)),
    );
    a.push("-S".into());

    // Firmware: SeaBIOS is QEMU's default; a pflash loader (OVMF) is given as blockdev nodes.
    let mut machine_extra = String::new();
    if let Some(l) = &def.os.loader {
        if let Some(path) = &l.path {
            match l.type_.unwrap_or(LoaderType::Rom) {
                LoaderType::Pflash => {
                    let ro = l.readonly.unwrap_or(false);
                    pflash(&mut a, 0, path, ro);
                    machine_extra.push_str(",pflash0=libvirt-pflash0-format");
                    if let Some(nv) = &l.nvram {
                        pflash(&mut a, 1, &nv.path, false);
                        machine_extra.push_str(",pflash1=libvirt-pflash1-format");
                    }
                }
                LoaderType::Rom | LoaderType::None => {}
            }
        }
    }

    let mname = def.os.machine.clone().unwrap_or_else(|| "pc".into());
    let mut mopt = format!("{},usb=off", opt_escape(&mname));
    if let Some(v) = def.features.vmport {
        let _ = write!(mopt, ",vmport={}", on_off(v));
    }
    match def.features.smm {
        Some(v) => {
            let _ = write!(mopt, ",smm={}", on_off(v));
        }
        None if def.os.loader.as_ref().and_then(|l| l.secure) == Some(true) => {
            mopt.push_str(",smm=on")
        }
        None => {}
    }
    mopt.push_str(",dump-guest-core=off");
    mopt.push_str(&machine_extra);
    if !def.features.acpi {
        mopt.push_str(",acpi=off");
    }
    if let Some(p) = timer(def, TimerName::Hpet).and_then(|t| t.present) {
        let _ = write!(mopt, ",hpet={}", on_off(p));
    }
    push(&mut a, "-machine", mopt);
    push(&mut a, "-accel", accel.into());
    push(&mut a, "-cpu", cpu_arg(def)?);
    if let Some(l) = &def.os.loader {
        if let (Some(p), Some(LoaderType::Rom) | None) = (&l.path, l.type_) {
            push(&mut a, "-bios", p.clone());
        }
    }

    let mem = &def.memory;
    let mut m = format!("size={}k", mem.total);
    if mem.max_memory > 0 {
        let _ = write!(m, ",slots={},maxmem={}k", mem.slots, mem.max_memory);
    }
    push(&mut a, "-m", m);
    push(&mut a, "-overcommit", "mem-lock=off".into());
    push(&mut a, "-smp", smp_arg(def));
    push(&mut a, "-uuid", uuid_format(&def.uuid));
    if def.devices.graphics.is_empty() {
        push(&mut a, "-display", "none".into());
    }
    a.push("-no-user-config".into());
    a.push("-nodefaults".into());
    let mut rtc = match def.clock.offset {
        ClockOffset::Utc => "base=utc".to_string(),
        ClockOffset::Localtime => "base=localtime".to_string(),
        o => {
            return Err(unsupported(format!(
                "clock offset '{}' is not supported by the rvirt QEMU driver",
                o.as_str()
            )))
        }
    };
    if let Some(t) = timer(def, TimerName::Rtc) {
        match t.track {
            None | Some(TimerTrack::None) => {}
            Some(TimerTrack::Guest) => rtc.push_str(",clock=vm"),
            Some(TimerTrack::Wall) => rtc.push_str(",clock=host"),
            Some(TimerTrack::Realtime) => rtc.push_str(",clock=rt"),
            Some(TimerTrack::Boot) => {
                return Err(unsupported("unsupported rtc timer track 'boot'"))
            }
        }
        match t.tickpolicy {
            None | Some(TimerTickpolicy::None | TimerTickpolicy::Delay) => {}
            Some(TimerTickpolicy::Catchup) => rtc.push_str(",driftfix=slew"),
            Some(p) => {
                return Err(unsupported(format!(
                    "unsupported rtc timer tickpolicy '{}'",
                    p.as_str()
                )))
            }
        }
    }
    push(&mut a, "-rtc", rtc);
    if let Some(t) = timer(def, TimerName::Pit) {
        // The in-kernel PIT exists only with KVM; under TCG QEMU's own PIT delays missed ticks.
        let policy = match t.tickpolicy {
            None | Some(TimerTickpolicy::None | TimerTickpolicy::Delay) => Some("delay"),
            Some(TimerTickpolicy::Discard) => Some("discard"),
            Some(TimerTickpolicy::Catchup) => None,
            Some(TimerTickpolicy::Merge) => {
                return Err(unsupported("unsupported pit tickpolicy 'merge'"))
            }
        };
        if let (Some(p), VirtType::Kvm) = (policy, def.virt_type) {
            push(&mut a, "-global", format!("kvm-pit.lost_tick_policy={p}"));
        }
    }
    // Power management: libvirt falls back to PIIX4_PM even on q35 when ICH9-LPC lacks the
    // property; QEMU 8+ has it, so q35 uses ICH9-LPC as libvirt does there.
    let pm_object = match machine {
        Machine::Pc => "PIIX4_PM",
        Machine::Q35 => "ICH9-LPC",
    };
    if let Some(on) = def.pm.suspend_to_mem {
        push(
            &mut a,
            "-global",
            format!("{pm_object}.disable_s3={}", u8::from(!on)),
        );
    }
    if let Some(on) = def.pm.suspend_to_disk {
        push(
            &mut a,
            "-global",
            format!("{pm_object}.disable_s4={}", u8::from(!on)),
        );
    }
    if def.on_reboot == LifecycleAction::Destroy {
        a.push("-no-reboot".into());
    }
    let mut boot = String::new();
    if let Some(menu) = def.os.bootmenu {
        let _ = write!(boot, "menu={},", if menu { "on" } else { "off" });
    }
    boot.push_str("strict=on");
    push(&mut a, "-boot", boot);
    if let Some(k) = &def.os.kernel {
        push(&mut a, "-kernel", k.clone());
    }
    if let Some(i) = &def.os.initrd {
        push(&mut a, "-initrd", i.clone());
    }
    if let Some(c) = &def.os.cmdline {
        push(&mut a, "-append", c.clone());
    }

    // Boot order: per-device <boot order>, otherwise <os><boot dev> on the first device of each kind.
    let boot_index = boot_indexes(def);

    let mut pci = Pci::new(machine, def);
    // The primary video card takes the first slot, as libvirt reserves slot 2 of i440fx for it.
    let mut video_addrs = Vec::new();
    for (i, v) in def.devices.videos.iter().enumerate() {
        if v.type_ == VideoType::None {
            video_addrs.push(None);
            continue;
        }
        if i == 0 {
            video_addrs.push(Some(pci.place(&v.info.address, "video")?));
        } else {
            video_addrs.push(None);
        }
    }

    // Controllers.
    let mut have_usb = false;
    for c in &def.devices.controllers {
        let idx = c.index.unwrap_or(0);
        match c.type_ {
            ControllerType::Usb => {
                let model = c.model.as_deref();
                if model == Some("none") {
                    continue;
                }
                have_usb = true;
                let model = model.unwrap_or(match machine {
                    Machine::Pc => "piix3-uhci",
                    Machine::Q35 => "qemu-xhci",
                });
                let (driver, addr) = match (model, machine) {
                    ("piix3-uhci", Machine::Pc) if c.info.address.is_none() => (
                        "piix3-usb-uhci",
                        ("pci.0".to_string(), "0x1.0x2".to_string()),
                    ),
                    ("piix3-uhci", _) => ("piix3-usb-uhci", pci.place(&c.info.address, "usb")?),
                    ("qemu-xhci", _) => ("qemu-xhci", pci.place(&c.info.address, "usb")?),
                    ("nec-xhci", _) => ("nec-usb-xhci", pci.place(&c.info.address, "usb")?),
                    (m, _) => {
                        return Err(unsupported(format!(
                            "USB controller model '{m}' is not supported by the rvirt QEMU driver"
                        )))
                    }
                };
                let o = Obj::default().s("driver", driver).s("id", "usb");
                push(
                    &mut a,
                    "-device",
                    o.s("bus", &addr.0).s("addr", &addr.1).text(),
                );
            }
            ControllerType::Scsi => {
                let model = c.model.as_deref().unwrap_or("virtio-scsi");
                if model != "virtio-scsi" {
                    return Err(unsupported(format!(
                        "SCSI controller model '{model}' is not supported by the rvirt QEMU \
                         driver (use virtio-scsi)"
                    )));
                }
                let (bus, addr) = pci.place(&c.info.address, "scsi controller")?;
                let o = Obj::default()
                    .s("driver", "virtio-scsi-pci")
                    .s("id", &format!("scsi{idx}"))
                    .s("bus", &bus)
                    .s("addr", &addr);
                push(&mut a, "-device", o.text());
            }
            ControllerType::Sata => {
                if machine == Machine::Q35 && idx == 0 {
                    continue; // q35's built-in AHCI (ide.N buses)
                }
                let (bus, addr) = pci.place(&c.info.address, "sata controller")?;
                let o = Obj::default()
                    .s("driver", "ahci")
                    .s("id", &format!("sata{idx}"))
                    .s("bus", &bus)
                    .s("addr", &addr);
                push(&mut a, "-device", o.text());
            }
            ControllerType::Ide => {
                if machine == Machine::Q35 {
                    return Err(unsupported(
                        "IDE controllers are unsupported for this QEMU binary or machine type",
                    ));
                }
            }
            ControllerType::VirtioSerial => {
                let (bus, addr) = pci.place(&c.info.address, "virtio-serial controller")?;
                let o = Obj::default()
                    .s("driver", "virtio-serial-pci")
                    .s("id", &format!("virtio-serial{idx}"))
                    .s("bus", &bus)
                    .s("addr", &addr);
                push(&mut a, "-device", o.text());
            }
            ControllerType::Pci | ControllerType::Fdc => {}
            t => {
                return Err(unsupported(format!(
                    "controller type '{}' is not supported by the rvirt QEMU driver",
                    t.as_str()
                )))
            }
        }
    }
    let has_ctrl = |t: ControllerType, idx: u32| {
        def.devices
            .controllers
            .iter()
            .any(|c| c.type_ == t && c.index.unwrap_or(0) == idx as i32)
    };

    // Disks: node indexes count from the last disk's bottom layer... as libvirt: the last disk's
    // top is libvirt-1, each backing layer one above its overlay.
    if chains.len() != def.devices.disks.len() {
        return Err(ArgvError::Invalid(
            "internal: one resolved chain per disk is needed".into(),
        ));
    }
    let mut first_index = vec![0usize; chains.len()];
    let mut n = 0;
    for (i, c) in chains.iter().enumerate().rev() {
        first_index[i] = n + 1;
        n += c.as_ref().map_or(0, |c| c.layers.len());
    }
    for (i, (disk, chain)) in def.devices.disks.iter().zip(chains).enumerate() {
        let target = disk.target.clone().unwrap_or_default();
        let format_node = match chain {
            Some(c) => Some(blockdevs(&mut a, disk, c, first_index[i])?),
            None => None,
        };
        let dev = disk_device(
            disk,
            &target,
            format_node.as_deref(),
            machine,
            &mut pci,
            boot_index.disks[i],
            have_usb,
            &has_ctrl,
        )?;
        push(&mut a, "-device", dev);
    }

    // Network interfaces.
    for (i, net) in def.devices.nets.iter().enumerate() {
        let id = format!("hostnet{i}");
        let backend = match &net.source {
            NetSource::User { dev: None } => Obj::default().s("type", "user").s("id", &id),
            NetSource::User { dev: Some(_) } => {
                return Err(unsupported(
                    "the passt backend of user networking is not supported by the rvirt QEMU \
                     driver",
                ))
            }
            NetSource::Ethernet => {
                let Some(ifname) = &net.ifname else {
                    return Err(unsupported(
                        "interface type 'ethernet' needs a pre-created tap device named in \
                         <target dev=…/>",
                    ));
                };
                Obj::default()
                    .s("type", "tap")
                    .s("ifname", ifname)
                    .s("script", "no")
                    .s("downscript", "no")
                    .s("id", &id)
            }
            other => {
                let t = match other {
                    NetSource::Network { .. } => "network",
                    NetSource::Bridge { .. } => "bridge",
                    NetSource::Direct { .. } => "direct",
                    _ => "this",
                };
                return Err(unsupported(format!(
                    "interface type '{t}' is not supported by the rvirt QEMU driver yet (use \
                     'user' or 'ethernet')"
                )));
            }
        };
        push(&mut a, "-netdev", backend.text());
        let model = net.model.as_deref().unwrap_or("rtl8139");
        let driver = match model {
            "virtio" => "virtio-net-pci",
            "e1000" => "e1000",
            "e1000e" => "e1000e",
            "rtl8139" => "rtl8139",
            m => {
                return Err(unsupported(format!(
                    "interface model '{m}' is not supported by the rvirt QEMU driver"
                )))
            }
        };
        let (bus, addr) = pci.place(&net.info.address, "interface")?;
        let mut o = Obj::default()
            .s("driver", driver)
            .s("netdev", &id)
            .s("id", &format!("net{i}"))
            .s("mac", &net.mac.to_string())
            .s("bus", &bus)
            .s("addr", &addr);
        if let Some(b) = boot_index.nets[i] {
            o = o.n("bootindex", b as i64);
        }
        push(&mut a, "-device", o.text());
    }

    // Serial ports and consoles.
    for (i, s) in def.devices.serials.iter().enumerate() {
        let id = format!("charserial{i}");
        push(&mut a, "-chardev", chardev(&id, &s.source)?);
        let port = s.port.unwrap_or(i as i64);
        let driver = match s.target_type {
            ChrTargetType::None | ChrTargetType::IsaSerial => "isa-serial",
            ChrTargetType::PciSerial => "pci-serial",
            t => {
                return Err(unsupported(format!(
                    "serial target type {t:?} is not supported by the rvirt QEMU driver"
                )))
            }
        };
        let mut o = Obj::default()
            .s("driver", driver)
            .s("chardev", &id)
            .s("id", &format!("serial{i}"));
        if driver == "isa-serial" {
            o = o.n("index", port);
        } else {
            let (bus, addr) = pci.place(&s.info.address, "serial port")?;
            o = o.s("bus", &bus).s("addr", &addr);
        }
        push(&mut a, "-device", o.text());
    }
    for (i, c) in def.devices.consoles.iter().enumerate() {
        console(&mut a, i, c, def)?;
    }

    // Inputs beyond the built-in PS/2 ones.
    for (i, inp) in def.devices.inputs.iter().enumerate() {
        use rvirt_xml::domain::devices::{InputBus, InputType};
        let driver = match (inp.type_, inp.bus) {
            (_, InputBus::Ps2) => continue,
            (InputType::Tablet, InputBus::Usb) => "usb-tablet",
            (InputType::Mouse, InputBus::Usb) => "usb-mouse",
            (InputType::Keyboard, InputBus::Usb) => "usb-kbd",
            (t, b) => {
                return Err(unsupported(format!(
                    "input device {}/{} is not supported by the rvirt QEMU driver",
                    t.as_str(),
                    b.as_str()
                )))
            }
        };
        if !have_usb {
            return Err(unsupported(format!(
                "USB input device '{driver}' needs a USB controller"
            )));
        }
        let o = Obj::default()
            .s("driver", driver)
            .s("id", &format!("input{i}"))
            .s("bus", "usb.0")
            .s("port", &(i + 1).to_string());
        push(&mut a, "-device", o.text());
    }

    // Graphics: VNC on loopback unless an address is configured.
    for g in &def.devices.graphics {
        if g.type_ != GraphicsType::Vnc {
            return Err(unsupported(format!(
                "graphics type '{}' is not supported by the rvirt QEMU driver (use vnc)",
                g.type_.as_str()
            )));
        }
        let listen = g
            .listens
            .first()
            .and_then(|l| l.address.clone())
            .unwrap_or_else(|| "127.0.0.1".into());
        let host = if listen.contains(':') {
            format!("[{listen}]")
        } else {
            listen
        };
        let v = if g.autoport || g.port < 5900 {
            format!("{host}:0,to=99")
        } else {
            format!("{host}:{}", g.port - 5900)
        };
        push(&mut a, "-vnc", v);
    }
    for (i, v) in def.devices.videos.iter().enumerate() {
        let driver = match (v.type_, i == 0) {
            (VideoType::None, _) => continue,
            (VideoType::Vga | VideoType::Default, true) => "VGA",
            (VideoType::Cirrus, true) => "cirrus-vga",
            (VideoType::Virtio, true) => "virtio-vga",
            (VideoType::Virtio, false) => "virtio-gpu-pci",
            (VideoType::Bochs, _) => "bochs-display",
            (VideoType::Qxl, true) => "qxl-vga",
            (t, _) => {
                return Err(unsupported(format!(
                    "video type '{}' is not supported by the rvirt QEMU driver",
                    t.as_str()
                )))
            }
        };
        let (bus, addr) = match video_addrs.get(i).cloned().flatten() {
            Some(x) => x,
            None => pci.place(&v.info.address, "video")?,
        };
        let o = Obj::default()
            .s("driver", driver)
            .s("id", &format!("video{i}"))
            .s("bus", &bus)
            .s("addr", &addr);
        push(&mut a, "-device", o.text());
    }

    if let Some(b) = &def.devices.memballoon {
        match b.model {
            MemballoonModel::None => {}
            MemballoonModel::Virtio => {
                let (bus, addr) = pci.place(&b.info.address, "memballoon")?;
                let mut o = Obj::default()
                    .s("driver", "virtio-balloon-pci")
                    .s("id", "balloon0")
                    .s("bus", &bus)
                    .s("addr", &addr);
                if let Some(d) = b.autodeflate {
                    o = o.b("deflate-on-oom", d);
                }
                if let Some(f) = b.free_page_reporting {
                    o = o.b("free-page-reporting", f);
                }
                push(&mut a, "-device", o.text());
            }
            m => {
                return Err(unsupported(format!(
                    "memballoon model '{}' is not supported by the rvirt QEMU driver",
                    m.as_str()
                )))
            }
        }
    }

    for (i, r) in def.devices.rngs.iter().enumerate() {
        let obj = format!("objrng{i}");
        let backend = match &r.backend {
            RngBackend::Random(f) => Obj::default()
                .s("qom-type", "rng-random")
                .s("id", &obj)
                .s("filename", f.as_deref().unwrap_or("/dev/random")),
            RngBackend::Builtin => Obj::default().s("qom-type", "rng-builtin").s("id", &obj),
            RngBackend::Egd(_) => {
                return Err(unsupported(
                    "rng backend 'egd' is not supported by the rvirt QEMU driver",
                ))
            }
        };
        push(&mut a, "-object", backend.text());
        let driver = match r.model {
            RngModel::Virtio => "virtio-rng-pci",
            RngModel::VirtioTransitional => "virtio-rng-pci-transitional",
            RngModel::VirtioNonTransitional => "virtio-rng-pci-non-transitional",
        };
        let (bus, addr) = pci.place(&r.info.address, "rng")?;
        let mut o = Obj::default()
            .s("driver", driver)
            .s("rng", &obj)
            .s("id", &format!("rng{i}"));
        if r.rate > 0 {
            o = o
                .n("max-bytes", r.rate as i64)
                .n("period", if r.period > 0 { r.period } else { 1000 } as i64);
        }
        push(&mut a, "-device", o.s("bus", &bus).s("addr", &addr).text());
    }

    if opts.sandbox {
        push(
            &mut a,
            "-sandbox",
            "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny".into(),
        );
    }
    push(&mut a, "-msg", "timestamp=on".into());
    Ok(CommandLine { binary, args: a })
}

fn on_off(v: bool) -> &'static str {
    if v {
        "on"
    } else {
        "off"
    }
}

/// The domain's `<clock><timer name=…>`, if configured.
fn timer(def: &DomainDef, name: TimerName) -> Option<&Timer> {
    def.clock.timers.iter().find(|t| t.name == name)
}

/// Refuses every part of the definition the XML model accepts but this builder does not turn
/// into QEMU arguments (or the driver does not otherwise apply), naming it: starting a guest
/// that silently lacks configured hardware or tuning would be worse than not starting it.
fn refuse_untranslated(def: &DomainDef) -> Result<(), ArgvError> {
    let no = |what: &str| {
        Err(unsupported(format!(
            "{what} is not supported by the rvirt QEMU driver yet; remove it from the domain XML"
        )))
    };
    let d = &def.devices;
    let lists: [(&str, bool); 18] = [
        ("<lease>", d.leases.is_empty()),
        ("<filesystem>", d.filesystems.is_empty()),
        ("<smartcard>", d.smartcards.is_empty()),
        ("<parallel>", d.parallels.is_empty()),
        ("<channel>", d.channels.is_empty()),
        ("<tpm>", d.tpms.is_empty()),
        ("<sound>", d.sounds.is_empty()),
        ("<hostdev>", d.hostdevs.is_empty()),
        ("<redirdev>", d.redirdevs.is_empty()),
        ("<redirfilter>", d.redirfilter.is_none()),
        ("<hub>", d.hubs.is_empty()),
        ("<watchdog>", d.watchdog.is_none()),
        ("<nvram> device", d.nvram.is_none()),
        ("<panic>", d.panics.is_empty()),
        ("<shmem>", d.shmems.is_empty()),
        ("<memory> device", d.memories.is_empty()),
        ("<iommu>", d.iommu.is_none()),
        ("<vsock>", d.vsock.is_none()),
    ];
    if let Some((what, _)) = lists.iter().find(|(_, empty)| !empty) {
        return no(what);
    }
    let tuning: [(&str, bool); 16] = [
        (
            "guest NUMA topology (<cpu><numa>)",
            def.numa.cells.is_empty(),
        ),
        (
            "<numatune>",
            def.numatune.is_none() && def.memnodes.is_empty(),
        ),
        ("<blkiotune>", def.blkiotune == Default::default()),
        ("<memtune>", def.memtune == Default::default()),
        ("<memoryBacking>", def.memory_backing == Default::default()),
        ("<iothreads>", def.iothreads == Default::default()),
        ("<cputune>", def.cputune == Default::default()),
        ("<resource>", def.resource.is_none()),
        ("<perf>", def.perf.is_empty()),
        ("<idmap>", def.idmap == Default::default()),
        (
            "<sysinfo>",
            def.sysinfo.is_empty() && def.os.smbios.is_none(),
        ),
        ("<bootloader>", def.bootloader.is_none()),
        ("<launchSecurity>", def.launch_security.is_none()),
        ("<keywrap>", def.keywrap.is_none()),
        ("<genid>", def.genid.is_none()),
        ("<vcpu cpuset=…> or placement='auto'", {
            def.vcpus.cpuset.is_none() && def.vcpus.placement == Placement::Static
        }),
    ];
    if let Some((what, _)) = tuning.iter().find(|(_, default)| !default) {
        return no(what);
    }
    if def.seclabels.iter().any(|l| l.type_ != SeclabelType::None) {
        return no("a <seclabel> other than type='none' (rvirt has no security driver)");
    }
    let f = &def.features;
    let features: [(&str, bool); 21] = [
        ("<apic eoi=…>", !matches!(f.apic, Some(Some(_)))),
        ("<hap>", f.hap.is_none()),
        ("<viridian>", !f.viridian),
        ("<privnet>", !f.privnet),
        ("<pvspinlock>", f.pvspinlock.is_none()),
        ("<pmu>", f.pmu.is_none()),
        ("<gic>", f.gic.is_none()),
        ("<ioapic>", f.ioapic.is_none()),
        ("<vmcoreinfo>", f.vmcoreinfo.is_none()),
        ("<htm>", f.htm.is_none()),
        ("<nested-hv>", f.nested_hv.is_none()),
        ("<msrs>", f.msrs.is_none()),
        ("<ccf-assist>", f.ccf_assist.is_none()),
        ("<cfpc>", f.cfpc.is_none()),
        ("<sbbc>", f.sbbc.is_none()),
        ("<ibs>", f.ibs.is_none()),
        ("<hyperv>", f.hyperv.is_none()),
        ("<kvm> features", f.kvm.is_none()),
        (
            "<xen> features",
            f.xen.is_none() && f.capabilities.is_none(),
        ),
        ("<smm><tseg>", f.tseg.is_none()),
        (
            "<hpt> or <tcg>",
            f.hpt.is_none() && f.tcg_tb_cache.is_none(),
        ),
    ];
    if let Some((what, _)) = features.iter().find(|(_, absent)| !absent) {
        return no(&format!("the feature {what}"));
    }
    if let Some(cpu) = &def.cpu {
        if cpu.cache.is_some() || cpu.maxphysaddr.is_some() || cpu.vendor_id.is_some() {
            return no("<cpu><cache>, <maxphysaddr> or <model vendor_id=…>");
        }
    }
    if let Some(t) = def
        .clock
        .timers
        .iter()
        .find(|t| !matches!(t.name, TimerName::Rtc | TimerName::Pit | TimerName::Hpet))
    {
        return no(&format!("the <timer name='{}'>", t.name.as_str()));
    }
    if def.on_poweroff != LifecycleAction::Destroy {
        return no(&format!(
            "<on_poweroff>{}</on_poweroff>",
            def.on_poweroff.as_str()
        ));
    }
    if !matches!(
        def.on_reboot,
        LifecycleAction::Restart | LifecycleAction::Destroy
    ) {
        return no(&format!(
            "<on_reboot>{}</on_reboot>",
            def.on_reboot.as_str()
        ));
    }
    if def.on_lockfailure != LockFailureAction::Default {
        return no("<on_lockfailure>");
    }
    if def.os.dtb.is_some() || def.os.slic_table.is_some() || def.os.bios.useserial.is_some() {
        return no("<dtb>, <acpi><table> or <bios useserial=…>");
    }
    Ok(())
}

fn pflash(a: &mut Vec<String>, unit: u32, path: &str, ro: bool) {
    let st = format!("libvirt-pflash{unit}-storage");
    let fm = format!("libvirt-pflash{unit}-format");
    a.push("-blockdev".into());
    a.push(
        Obj::default()
            .s("driver", "file")
            .s("filename", path)
            .s("node-name", &st)
            .b("auto-read-only", true)
            .s("discard", "unmap")
            .text(),
    );
    a.push("-blockdev".into());
    a.push(
        Obj::default()
            .s("node-name", &fm)
            .b("read-only", ro)
            .s("driver", "raw")
            .s("file", &st)
            .text(),
    );
}

fn cpu_arg(def: &DomainDef) -> Result<String, ArgvError> {
    let Some(cpu) = &def.cpu else {
        return Ok("qemu64".into());
    };
    let kvm = def.virt_type == VirtType::Kvm;
    let mut s = match cpu.mode {
        CpuMode::HostPassthrough | CpuMode::HostModel if kvm => "host".to_string(),
        CpuMode::HostPassthrough | CpuMode::HostModel => {
            return Err(unsupported(format!(
                "CPU mode '{}' for x86_64 qemu domain on x86_64 host is not supported by \
                 hypervisor",
                cpu.mode.as_str()
            )))
        }
        CpuMode::Maximum => "max".to_string(),
        CpuMode::Custom => match &cpu.model {
            Some(m) => m.clone(),
            None => "qemu64".to_string(),
        },
    };
    for f in &cpu.features {
        match f.policy {
            CpuFeaturePolicy::Force | CpuFeaturePolicy::Require => {
                let _ = write!(s, ",{}=on", f.name);
            }
            CpuFeaturePolicy::Disable | CpuFeaturePolicy::Forbid => {
                let _ = write!(s, ",{}=off", f.name);
            }
            CpuFeaturePolicy::Optional => {}
        }
    }
    Ok(s)
}

fn smp_arg(def: &DomainDef) -> String {
    let v = &def.vcpus;
    let (sockets, dies, cores, threads) = def
        .cpu
        .as_ref()
        .and_then(|c| c.topology)
        .unwrap_or((v.max, 1, 1, 1));
    let mut s = v.current.to_string();
    if v.current != v.max {
        let _ = write!(s, ",maxcpus={}", v.max);
    }
    let _ = write!(s, ",sockets={sockets}");
    if dies > 1 {
        let _ = write!(s, ",dies={dies}");
    }
    let _ = write!(s, ",cores={cores},threads={threads}");
    s
}

struct BootIndexes {
    disks: Vec<Option<u32>>,
    nets: Vec<Option<u32>>,
}

fn boot_indexes(def: &DomainDef) -> BootIndexes {
    let d = &def.devices;
    let mut b = BootIndexes {
        disks: d.disks.iter().map(|x| x.info.boot_order).collect(),
        nets: d.nets.iter().map(|x| x.info.boot_order).collect(),
    };
    let per_device = b.disks.iter().chain(&b.nets).any(|x| x.is_some());
    if per_device || def.os.kernel.is_some() {
        return b;
    }
    for (n, dev) in def.os.boot_devs.iter().enumerate() {
        let n = Some(n as u32 + 1);
        match dev {
            BootDev::Hd => {
                if let Some(i) = d.disks.iter().position(|x| x.device == DiskDevice::Disk) {
                    b.disks[i] = n;
                }
            }
            BootDev::Cdrom => {
                if let Some(i) = d.disks.iter().position(|x| x.device == DiskDevice::Cdrom) {
                    b.disks[i] = n;
                }
            }
            BootDev::Network => {
                if !b.nets.is_empty() {
                    b.nets[0] = n;
                }
            }
            BootDev::Fd => {}
        }
    }
    b
}

/// The cache settings of a blockdev node (`cache.direct`, `cache.no-flush`) and the device's
/// `write-cache`, as libvirt's `qemuDomainDiskCachemodeFlags`.
fn cache_flags(d: &Disk) -> Option<(bool, bool, bool)> {
    // The cache enum is not exported by rvirt-xml; its libvirt names are.
    Some(match d.driver.cache?.as_str() {
        "none" => (true, true, false),
        "writethrough" => (false, false, false),
        "writeback" => (true, false, false),
        "directsync" => (false, true, false),
        "unsafe" => (true, false, true),
        _ => return None,
    })
}

/// Writes the storage and format nodes of every layer, bottom first; returns the top format node.
fn blockdevs(
    a: &mut Vec<String>,
    disk: &Disk,
    chain: &Chain,
    first: usize,
) -> Result<String, ArgvError> {
    let n = chain.layers.len();
    let cache = cache_flags(disk);
    for (depth, layer) in chain.layers.iter().enumerate().rev() {
        let idx = first + depth;
        let st = format!("libvirt-{idx}-storage");
        let fm = format!("libvirt-{idx}-format");
        let (driver, path) = match &layer.source {
            Source::File(p) => ("file", p),
            Source::Block(p) if disk.device == DiskDevice::Cdrom => ("host_cdrom", p),
            Source::Block(p) => ("host_device", p),
            other => {
                return Err(unsupported(format!(
                    "disk source '{}' is not supported by the rvirt QEMU driver",
                    other.display()
                )))
            }
        };
        let mut s = Obj::default()
            .s("driver", driver)
            .s("filename", &path.to_string_lossy())
            .s("node-name", &st)
            .b("auto-read-only", true)
            .s("discard", "unmap");
        if let Some((direct, noflush, _)) = cache.map(|(_, d, n)| (d, n, ())) {
            s = s.raw(
                "cache",
                Obj::default()
                    .b("direct", direct)
                    .b("no-flush", noflush)
                    .text(),
            );
        }
        a.push("-blockdev".into());
        a.push(s.text());
        let fmt = match layer.format {
            Format::Raw | Format::Iso => "raw",
            Format::Qcow2 => "qcow2",
            Format::Qcow => "qcow",
            Format::Qed => "qed",
            Format::Vmdk => "vmdk",
            Format::Vdi => "vdi",
            Format::Vpc | Format::Vhd => "vpc",
            Format::Bochs => "bochs",
            Format::Cloop => "cloop",
            Format::Dmg => "dmg",
            f => {
                return Err(unsupported(format!(
                    "storage format '{}' of '{}' is not supported by QEMU",
                    f.as_str(),
                    layer.source.display()
                )))
            }
        };
        let ro = depth > 0 || disk.readonly;
        let mut f = Obj::default()
            .s("node-name", &fm)
            .b("read-only", ro)
            .s("driver", fmt);
        if let Some((direct, noflush, _)) = cache.map(|(_, d, n)| (d, n, ())) {
            f = f.raw(
                "cache",
                Obj::default()
                    .b("direct", direct)
                    .b("no-flush", noflush)
                    .text(),
            );
        }
        f = f.s("file", &st);
        if depth + 1 < n {
            f = f.s("backing", &format!("libvirt-{}-format", idx + 1));
        } else if layer.format.supports_backing() {
            if chain.end != ChainEnd::Complete {
                return Err(unsupported(format!(
                    "the backing chain of '{}' cannot be followed to its end",
                    chain.layers[0].source.display()
                )));
            }
            f = f.null("backing");
        }
        a.push("-blockdev".into());
        a.push(f.text());
    }
    Ok(format!("libvirt-{first}-format"))
}

#[allow(clippy::too_many_arguments)]
fn disk_device(
    disk: &Disk,
    target: &str,
    drive: Option<&str>,
    machine: Machine,
    pci: &mut Pci,
    boot: Option<u32>,
    have_usb: bool,
    has_ctrl: &dyn Fn(ControllerType, u32) -> bool,
) -> Result<String, ArgvError> {
    let idx = disk_index(target)
        .ok_or_else(|| ArgvError::Invalid(format!("Unknown disk name '{target}'")))?;
    let (ctrl, bus, unit) = match disk.info.address {
        Some(Address::Drive {
            controller,
            bus,
            unit,
            target,
        }) => (controller, bus, (target, unit)),
        _ => (0, 0, (0, idx)),
    };
    let cd = disk.device == DiskDevice::Cdrom;
    let mut o = Obj::default();
    match disk.bus {
        DiskBus::Virtio => {
            if cd {
                return Err(unsupported(
                    "disk device 'cdrom' is not supported on bus 'virtio'",
                ));
            }
            let (b, addr) = pci.place(&disk.info.address, "virtio disk")?;
            o = o
                .s("driver", "virtio-blk-pci")
                .s("bus", &b)
                .s("addr", &addr);
            if let Some(d) = drive {
                o = o.s("drive", d);
            }
            o = o.s("id", &format!("virtio-disk{idx}"));
        }
        DiskBus::Scsi => {
            if !has_ctrl(ControllerType::Scsi, ctrl) {
                return Err(ArgvError::Invalid(format!(
                    "disk '{target}' is on SCSI controller {ctrl}, which is not defined (add \
                     <controller type='scsi' index='{ctrl}' model='virtio-scsi'/>)"
                )));
            }
            let id = format!("scsi{ctrl}-{bus}-{}-{}", unit.0, unit.1);
            o = o
                .s("driver", if cd { "scsi-cd" } else { "scsi-hd" })
                .s("bus", &format!("scsi{ctrl}.0"))
                .n("channel", bus as i64)
                .n("scsi-id", unit.0 as i64)
                .n("lun", unit.1 as i64)
                .s("device_id", &format!("drive-{id}"));
            if let Some(d) = drive {
                o = o.s("drive", d);
            }
            o = o.s("id", &id);
        }
        DiskBus::Sata => {
            let busname = if machine == Machine::Q35 && ctrl == 0 {
                format!("ide.{}", unit.1)
            } else {
                if !has_ctrl(ControllerType::Sata, ctrl) {
                    return Err(ArgvError::Invalid(format!(
                        "disk '{target}' is on SATA controller {ctrl}, which is not defined \
                         (add <controller type='sata' index='{ctrl}'/>)"
                    )));
                }
                format!("sata{ctrl}.{}", unit.1)
            };
            o = o
                .s("driver", if cd { "ide-cd" } else { "ide-hd" })
                .s("bus", &busname);
            if let Some(d) = drive {
                o = o.s("drive", d);
            }
            o = o.s("id", &format!("sata{ctrl}-{bus}-{}", unit.1));
        }
        DiskBus::Ide => {
            if machine == Machine::Q35 {
                return Err(unsupported(
                    "IDE controllers are unsupported for this QEMU binary or machine type",
                ));
            }
            if ctrl != 0 || bus > 1 || unit.1 > 1 {
                return Err(unsupported(format!(
                    "disk '{target}': the built-in IDE controller has buses 0-1 and units 0-1"
                )));
            }
            o = o
                .s("driver", if cd { "ide-cd" } else { "ide-hd" })
                .s("bus", &format!("ide.{bus}"))
                .n("unit", unit.1 as i64);
            if let Some(d) = drive {
                o = o.s("drive", d);
            }
            o = o.s("id", &format!("ide{ctrl}-{bus}-{}", unit.1));
        }
        DiskBus::Usb => {
            if !have_usb {
                return Err(unsupported(format!(
                    "disk '{target}' is on the USB bus, which needs a USB controller"
                )));
            }
            o = o.s("driver", "usb-storage").s("bus", "usb.0");
            if let Some(d) = drive {
                o = o.s("drive", d);
            }
            o = o.s("id", &format!("usb-disk{idx}"));
        }
        b => {
            return Err(unsupported(format!(
                "disk bus '{}' is not supported by the rvirt QEMU driver",
                b.as_str()
            )))
        }
    }
    if let Some(s) = &disk.serial {
        o = o.s("serial", s);
    }
    if let Some((wc, _, _)) = cache_flags(disk) {
        o = o.s("write-cache", if wc { "on" } else { "off" });
    }
    if let Some(b) = boot {
        o = o.n("bootindex", b as i64);
    }
    Ok(o.text())
}

/// `-chardev` for a character device's host side.
pub fn chardev(id: &str, s: &ChrSource) -> Result<String, ArgvError> {
    let path = |what: &str| {
        s.path.as_deref().map(opt_escape).ok_or_else(|| {
            ArgvError::Invalid(format!(
                "Missing source path attribute for char device ({what})"
            ))
        })
    };
    let mut o = match s.type_ {
        ChrSourceType::Null => format!("null,id={id}"),
        ChrSourceType::Pty => format!("pty,id={id}"),
        ChrSourceType::File => {
            let mut o = format!("file,id={id},path={}", path("file")?);
            if let Some(ap) = s.append {
                let _ = write!(o, ",append={}", if ap { "on" } else { "off" });
            }
            o
        }
        ChrSourceType::Unix => {
            let mut o = format!("socket,id={id},path={}", path("unix")?);
            if s.listen {
                o.push_str(",server=on,wait=off");
            }
            o
        }
        ChrSourceType::Tcp => {
            let host = s.host.as_deref().unwrap_or("127.0.0.1");
            let port = s.service.as_deref().ok_or_else(|| {
                ArgvError::Invalid("Missing source service attribute for char device".into())
            })?;
            let mut o = format!("socket,id={id},host={host},port={port}");
            if s.listen {
                o.push_str(",server=on,wait=off");
            }
            o
        }
        t => {
            return Err(unsupported(format!(
                "character device source type '{}' is not supported by the rvirt QEMU driver",
                t.as_str()
            )))
        }
    };
    if let Some(l) = &s.logfile {
        let _ = write!(o, ",logfile={}", opt_escape(l));
        if let Some(ap) = s.logappend {
            let _ = write!(o, ",logappend={}", if ap { "on" } else { "off" });
        }
    }
    Ok(o)
}

fn console(a: &mut Vec<String>, i: usize, c: &Chr, def: &DomainDef) -> Result<(), ArgvError> {
    match c.target_type {
        // The first console aliasing serial0 is that port, already written.
        ChrTargetType::Serial | ChrTargetType::None if !def.devices.serials.is_empty() => Ok(()),
        ChrTargetType::Virtio => {
            if !def
                .devices
                .controllers
                .iter()
                .any(|c| c.type_ == ControllerType::VirtioSerial)
            {
                return Err(ArgvError::Invalid(
                    "a virtio console needs <controller type='virtio-serial'/>".into(),
                ));
            }
            let id = format!("charconsole{i}");
            a.push("-chardev".into());
            a.push(chardev(&id, &c.source)?);
            a.push("-device".into());
            a.push(
                Obj::default()
                    .s("driver", "virtconsole")
                    .s("chardev", &id)
                    .s("id", &format!("console{i}"))
                    .text(),
            );
            Ok(())
        }
        t => Err(unsupported(format!(
            "console target type {t:?} is not supported by the rvirt QEMU driver"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_names() {
        assert_eq!(disk_index("vda"), Some(0));
        assert_eq!(disk_index("sdb"), Some(1));
        assert_eq!(disk_index("hdz"), Some(25));
        assert_eq!(disk_index("vdaa"), Some(26));
        assert_eq!(disk_index("vd"), None);
        assert_eq!(disk_index("nvme0"), None);
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("-m"), "-m");
        assert_eq!(shell_quote("{\"a\":1}"), "'{\"a\":1}'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(opt_escape("a,b"), "a,,b");
    }
}
