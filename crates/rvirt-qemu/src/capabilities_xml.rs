//! The `capabilities` and `domcapabilities` XML documents, built from the host facts
//! ([`crate::host`]) and the probed QEMU capabilities ([`crate::caps`]) as rvirt-xml's typed
//! models ([`Capabilities`], [`DomainCaps`]), whose formatters reproduce libvirt 9.0's layout.
//! [`domain_caps`] gives the model itself, for a driver that wants to inspect it.
//!
//! Known differences from libvirt (kept deliberately; see the crate's tests for what matches):
//! - host `<cpu>` has no `<model>`, `<feature>` list or `<counter>`: those come from libvirt's
//!   CPU map, which we do not ship; vendor, signature, microcode, topology, physical address
//!   bits and page sizes are reported;
//! - `<power_management/>` is always empty (libvirt asks pm-utils/systemd);
//! - the host UUID without SMBIOS comes from /etc/machine-id (libvirt invents a random one at
//!   each start);
//! - `domcapabilities`: `host-model` is reported unsupported (needs the CPU map), custom CPU
//!   models list every model QEMU has (libvirt lists only those in its map) with vendors from a
//!   name table, and firmware autoselection knows only whether descriptors exist.

use crate::caps::{CapsError, QemuCaps};
use crate::host::{parse_cpu_list, HostInfo};
use rvirt_xml::capabilities::{
    CacheBank, Capabilities, CellCpu, Guest, GuestDomain, GuestFeature, Host, HostCpuDef, Machine,
    MaxPhysAddrMode, Migration, NumaCell, SecModel,
};
use rvirt_xml::conf::{uuid_parse, Tristate};
use rvirt_xml::domcaps::*;
use std::sync::Arc;

/// Word size of a libvirt architecture.
fn wordsize(arch: &str) -> u32 {
    match arch {
        "i686" | "armv6l" | "armv7l" | "armv7b" | "ppc" | "ppcle" | "riscv32" | "mips"
        | "mipsel" | "sparc" | "s390" | "m68k" | "sh4" | "sh4eb" | "microblaze"
        | "microblazeel" | "or32" | "xtensa" | "xtensaeb" | "cris" | "lm32" | "parisc"
        | "unicore32" => 32,
        _ => 64,
    }
}

/// libvirt's `virArch` order, which is the order of `<guest>` sections.
fn arch_rank(arch: &str) -> usize {
    const ORDER: &[&str] = &[
        "alpha",
        "armv6l",
        "armv7l",
        "armv7b",
        "aarch64",
        "cris",
        "i686",
        "ia64",
        "lm32",
        "m68k",
        "microblaze",
        "microblazeel",
        "mips",
        "mipsel",
        "mips64",
        "mips64el",
        "or32",
        "parisc",
        "parisc64",
        "ppc",
        "ppcle",
        "ppc64",
        "ppc64le",
        "ppcemb",
        "riscv32",
        "riscv64",
        "s390",
        "s390x",
        "sh4",
        "sh4eb",
        "sparc",
        "sparc64",
        "unicore32",
        "x86_64",
        "xtensa",
        "xtensaeb",
    ];
    ORDER.iter().position(|a| *a == arch).unwrap_or(ORDER.len())
}

/// Whether KVM guests can be offered for this binary on this host.
pub(crate) fn kvm_offered(caps: &QemuCaps) -> bool {
    let host = crate::host::host_arch();
    let compatible = caps.arch == host || (host == "x86_64" && caps.arch == "i686");
    compatible
        && std::path::Path::new("/dev/kvm").exists()
        && (caps.kvm_present || caps.accelerators.iter().any(|a| a == "kvm"))
}

/// The `capabilities` document for `host` and the probed binaries (one `<guest>` per binary),
/// built as rvirt-xml's [`Capabilities`] model.
pub fn capabilities(host: &HostInfo, guests: &[Arc<QemuCaps>]) -> String {
    // SAFETY: getuid/getgid cannot fail and touch no memory.
    let label = unsafe { format!("+{}:+{}", libc::getuid(), libc::getgid()) };
    let page_kib = |p: u64| u32::try_from(p).unwrap_or(u32::MAX);
    let cells = host
        .cells
        .iter()
        .map(|c| NumaCell {
            id: c.id,
            memory_kib: c.memory_kib,
            pages: c.pages.iter().map(|(s, n)| (page_kib(*s), *n)).collect(),
            distances: c.distances.clone(),
            caches: Vec::new(),
            cpus: c
                .cpus
                .iter()
                .map(|cpu| CellCpu {
                    id: cpu.id,
                    socket_id: cpu.socket_id as i32,
                    die_id: cpu.die_id as i32,
                    core_id: cpu.core_id as i32,
                    siblings: Some(parse_cpu_list(&cpu.siblings)),
                })
                .collect(),
        })
        .collect();
    let mut sorted: Vec<&Arc<QemuCaps>> = guests.iter().collect();
    sorted.sort_by_key(|g| arch_rank(&g.arch));
    let caps = Capabilities {
        host: Host {
            uuid: uuid_parse(&host.uuid),
            arch: Some(host.arch.clone()),
            features: Vec::new(),
            cpu: HostCpuDef {
                vendor: host.vendor.clone(),
                microcode: host.microcode,
                signature: host.signature,
                topology: Some(host.topology),
                maxphysaddr: host.phys_bits.map(|b| (MaxPhysAddrMode::Emulate, Some(b))),
                ..Default::default()
            },
            page_sizes: host.page_sizes.iter().map(|p| page_kib(*p)).collect(),
            power_management: Vec::new(),
            iommu: Some(host.iommu),
            migration: Some(Migration {
                live: true,
                uri_transports: vec!["tcp".into(), "rdma".into()],
            }),
            netprefix: None,
            numa: Some(cells),
            caches: host
                .caches
                .iter()
                .map(|b| CacheBank {
                    id: b.id,
                    level: b.level,
                    type_: b.kind.clone(),
                    size_bytes: b.size_bytes,
                    cpus: parse_cpu_list(&b.cpus),
                    controls: Vec::new(),
                })
                .collect(),
            secmodels: vec![
                SecModel {
                    model: "none".into(),
                    doi: "0".into(),
                    base_labels: Vec::new(),
                },
                SecModel {
                    model: "dac".into(),
                    doi: "0".into(),
                    base_labels: vec![("kvm".into(), label.clone()), ("qemu".into(), label)],
                },
            ],
            ..Default::default()
        },
        guests: sorted.into_iter().map(|g| guest(g)).collect(),
        pool_types: Vec::new(),
    };
    caps.format()
}

/// The `<guest>` of one binary: its machines and the domain types and features it offers.
fn guest(g: &QemuCaps) -> Guest {
    let machines = machine_entries(g)
        .into_iter()
        .map(|(name, canonical, m)| Machine {
            name: name.to_string(),
            canonical: canonical.map(str::to_string),
            max_cpus: i32::try_from(m.cpu_max).unwrap_or(i32::MAX),
            deprecated: m.deprecated,
        })
        .collect();
    let domain = |t: &str| GuestDomain {
        type_: t.into(),
        emulator: None,
        loader: None,
        machines: Vec::new(),
    };
    let mut domains = vec![domain("qemu")];
    if kvm_offered(g) {
        domains.push(domain("kvm"));
    }
    let feature = |name: &str, default_on: Option<bool>, toggle: Option<bool>| GuestFeature {
        name: name.into(),
        default_on,
        toggle,
    };
    let mut features = Vec::new();
    if g.arch == "i686" {
        features.push(feature("pae", None, None));
        features.push(feature("nonpae", None, None));
    }
    if matches!(g.arch.as_str(), "i686" | "x86_64") {
        features.push(feature("acpi", Some(true), Some(true)));
        features.push(feature("apic", Some(true), Some(false)));
    }
    features.push(feature("cpuselection", None, None));
    features.push(feature("deviceboot", None, None));
    features.push(feature("disksnapshot", Some(true), Some(false)));
    Guest {
        os_type: "hvm".into(),
        arch: g.arch.clone(),
        wordsize: wordsize(&g.arch),
        emulator: Some(g.binary.to_string_lossy().into_owned()),
        loader: None,
        machines,
        domains,
        features,
    }
}

/// libvirt's machine list: the preferred default first, each aliased machine as its canonical
/// name followed by the alias (with `canonical=`). Returns (name, canonical, machine).
fn machine_entries(caps: &QemuCaps) -> Vec<(&str, Option<&str>, &crate::caps::Machine)> {
    let mut order: Vec<&crate::caps::Machine> = caps.machines.iter().collect();
    if let Some(def) = caps.default_machine() {
        if let Some(i) = order.iter().position(|m| m.name == def.name) {
            let m = order.remove(i);
            order.insert(0, m);
        }
    }
    let mut out = Vec::new();
    for m in order {
        match &m.alias {
            Some(a) => {
                out.push((m.name.as_str(), None, m));
                out.push((a.as_str(), Some(m.name.as_str()), m));
            }
            None => out.push((m.name.as_str(), None, m)),
        }
    }
    out
}

/// A CPU model's vendor, by name (libvirt takes it from its CPU map).
fn cpu_vendor(model: &str) -> &'static str {
    const INTEL: &[&str] = &[
        "Broadwell",
        "Cascadelake",
        "ClearwaterForest",
        "Conroe",
        "Cooperlake",
        "core2duo",
        "coreduo",
        "Denverton",
        "GraniteRapids",
        "Haswell",
        "Icelake",
        "IvyBridge",
        "KnightsMill",
        "n270",
        "Nehalem",
        "Penryn",
        "SandyBridge",
        "SapphireRapids",
        "SierraForest",
        "Skylake",
        "Snowridge",
        "Westmere",
    ];
    const AMD: &[&str] = &["athlon", "EPYC", "Opteron", "phenom"];
    if INTEL.iter().any(|p| model.starts_with(p)) {
        "Intel"
    } else if AMD.iter().any(|p| model.starts_with(p)) {
        "AMD"
    } else if model.starts_with("Dhyana") {
        "Hygon"
    } else if model.starts_with("YongFeng") {
        "Zhaoxin"
    } else {
        "unknown"
    }
}

/// `Skylake-Client-v4`: QEMU's versioned model names, which libvirt does not list.
fn is_versioned(model: &str) -> bool {
    match model.rsplit_once("-v") {
        Some((_, v)) => v.parse::<u32>().is_ok(),
        None => false,
    }
}

/// Whether any firmware descriptor (QEMU's firmware.json interop files) describes UEFI.
fn uefi_firmware_installed() -> bool {
    ["/etc/qemu/firmware", "/usr/share/qemu/firmware"]
        .iter()
        .any(|d| {
            std::fs::read_dir(d)
                .map(|rd| {
                    rd.flatten().any(|e| {
                        std::fs::read_to_string(e.path())
                            .map(|t| t.contains("\"uefi\""))
                            .unwrap_or(false)
                    })
                })
                .unwrap_or(false)
        })
}

/// The TPM versions swtpm can emulate (`virTPMSwtpmSetupCapsGet`): the `tpm-1.2` / `tpm-2.0`
/// features in `swtpm_setup --print-capabilities`.
fn swtpm_versions() -> Vec<TpmVersion> {
    let Some(setup) = crate::caps::find_in_path("swtpm_setup") else {
        return Vec::new();
    };
    let out = std::process::Command::new(setup)
        .arg("--print-capabilities")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => tpm_versions_of(&String::from_utf8_lossy(&o.stdout)),
        _ => Vec::new(),
    }
}

/// The TPM versions a `--print-capabilities` answer lists.
fn tpm_versions_of(json: &str) -> Vec<TpmVersion> {
    let features: Vec<String> = serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| {
            v.get("features")?.as_array().map(|a| {
                a.iter()
                    .filter_map(|f| f.as_str().map(str::to_string))
                    .collect()
            })
        })
        .unwrap_or_default();
    [("tpm-1.2", TpmVersion::V1_2), ("tpm-2.0", TpmVersion::V2_0)]
        .into_iter()
        .filter(|(f, _)| features.iter().any(|x| x == f))
        .map(|(_, v)| v)
        .collect()
}

/// `qemuDomainMachineHasBuiltinIDE`: i440FX PCs and a few non-x86 boards (not `isapc`).
fn machine_has_ide(machine: &str, x86: bool) -> bool {
    let i440fx = x86
        && (machine == "pc"
            || ["pc-0.", "pc-1.", "pc-i440fx-", "rhel"]
                .iter()
                .any(|p| machine.starts_with(p)));
    i440fx || matches!(machine, "malta" | "sun4u" | "g3beige")
}

/// `virHostCPUGetKVMMaxVCPUs`: KVM's `KVM_CAP_MAX_VCPUS`, else its recommended
/// `KVM_CAP_NR_VCPUS`, else 4. `None` when /dev/kvm cannot be opened.
fn kvm_max_vcpus() -> Option<u32> {
    use std::os::fd::AsRawFd;
    const KVM_CHECK_EXTENSION: u64 = 0xAE03;
    const KVM_CAP_NR_VCPUS: i32 = 9;
    const KVM_CAP_MAX_VCPUS: i32 = 66;
    let kvm = std::fs::File::open("/dev/kvm").ok()?;
    for cap in [KVM_CAP_MAX_VCPUS, KVM_CAP_NR_VCPUS] {
        // SAFETY: KVM_CHECK_EXTENSION takes an integer argument and writes no memory; the
        // descriptor is open for the duration of the call.
        let n = unsafe { libc::ioctl(kvm.as_raw_fd(), KVM_CHECK_EXTENSION as _, cap) };
        if n > 0 {
            return Some(n as u32);
        }
    }
    Some(4)
}

/// `Support::Yes` or `Support::No`.
fn support<T>(yes: bool, t: T) -> Support<T> {
    if yes {
        Support::Yes(t)
    } else {
        Support::No
    }
}

/// The `domcapabilities` document for one binary, domain type (`qemu` or `kvm`) and machine
/// (libvirt's default when `None`), built as rvirt-xml's [`DomainCaps`] model.
pub fn domcapabilities(
    caps: &QemuCaps,
    virt_type: &str,
    machine: Option<&str>,
) -> Result<String, CapsError> {
    Ok(domain_caps(caps, virt_type, machine)?.format())
}

/// The domain capabilities model for one binary, domain type and machine (see
/// [`domcapabilities`]).
pub fn domain_caps(
    caps: &QemuCaps,
    virt_type: &str,
    machine: Option<&str>,
) -> Result<DomainCaps, CapsError> {
    let vt = match virt_type {
        "qemu" => VirtType::Qemu,
        "kvm" => VirtType::Kvm,
        _ => {
            return Err(CapsError::Unsupported(format!(
                "virttype '{virt_type}' is not supported by the QEMU driver; use 'qemu' or 'kvm'"
            )))
        }
    };
    if vt == VirtType::Kvm && !kvm_offered(caps) {
        return Err(CapsError::Unsupported(format!(
            "KVM is not available for emulator '{}' on this host; use virttype 'qemu'",
            caps.binary.display()
        )));
    }
    let m = match machine {
        Some(name) => caps.machine(name).ok_or_else(|| {
            CapsError::Unsupported(format!(
                "the machine '{name}' is not supported by emulator '{}'",
                caps.binary.display()
            ))
        })?,
        None => caps.default_machine().ok_or_else(|| {
            CapsError::Unsupported(format!(
                "emulator '{}' has no machine types",
                caps.binary.display()
            ))
        })?,
    };
    let arch = Arch::from_name(&caps.arch).ok_or_else(|| CapsError::Invalid {
        binary: caps.binary.clone(),
        detail: format!("its architecture '{}' is unknown to libvirt", caps.arch),
    })?;
    let x86 = matches!(caps.arch.as_str(), "i686" | "x86_64");
    let has = |t: &str| caps.has_type(t);
    let tristate = |b: bool| if b { Tristate::Yes } else { Tristate::No };
    // Collects the values whose condition holds, in the order given.
    fn pick<T: Copy>(candidates: &[(T, bool)]) -> Vec<T> {
        candidates
            .iter()
            .filter(|(_, ok)| *ok)
            .map(|(v, _)| *v)
            .collect()
    }

    let mut dc = DomainCaps::new(&caps.binary.to_string_lossy(), vt, Some(&m.name), arch);
    dc.max_vcpus = m.cpu_max;
    if vt == VirtType::Kvm {
        // libvirt caps a KVM guest at what the host's KVM allows. (libvirt fails the call when
        // /dev/kvm cannot be opened; kvm_offered() has checked that it exists.)
        if let Some(host_max) = kvm_max_vcpus() {
            dc.max_vcpus = dc.max_vcpus.min(host_max);
        }
    }
    dc.iothreads = tristate(has("iothread"));

    let uefi = uefi_firmware_installed();
    // Secure boot needs SMM, which only q35 offers on x86.
    let smm = x86 && m.name.contains("q35");
    dc.os = Support::Yes(Os {
        firmware: report(&pick(&[(Firmware::Efi, uefi)])),
        loader: Support::Yes(Loader {
            values: Vec::new(),
            type_: report(&[LoaderType::Rom, LoaderType::Pflash]),
            readonly: report(&[TristateBool::Yes, TristateBool::No]),
            secure: report(&pick(&[
                (TristateBool::Yes, smm && uefi),
                (TristateBool::No, true),
            ])),
        }),
    });

    let migratable = || MigratableMode {
        migratable: report(&[TristateSwitch::On, TristateSwitch::Off]),
    };
    let mut models: Vec<&crate::caps::CpuModel> = caps
        .cpu_models(virt_type)
        .iter()
        .filter(|c| !matches!(c.name.as_str(), "max" | "host" | "base"))
        .filter(|c| !is_versioned(&c.name))
        .collect();
    // libvirt lists them in reverse name order.
    models.sort_by(|a, b| b.name.cmp(&a.name));
    dc.cpu = Cpu {
        host_passthrough: (vt == VirtType::Kvm).then(migratable),
        maximum: Some(migratable()),
        host_model: None,
        custom: models
            .into_iter()
            .map(|c| CustomCpuModel {
                name: c.name.clone(),
                usable: if c.usable() {
                    CpuUsable::Yes
                } else {
                    CpuUsable::No
                },
                deprecated: c.deprecated,
                vendor: Some(cpu_vendor(&c.name))
                    .filter(|v| *v != "unknown")
                    .map(str::to_string),
            })
            .collect(),
    };

    dc.memory_backing = Support::Yes(MemoryBacking {
        source_type: report(&pick(&[
            (MemorySource::File, has("memory-backend-file")),
            (MemorySource::Anonymous, has("memory-backend-ram")),
            (MemorySource::Memfd, has("memory-backend-memfd")),
        ])),
    });

    let floppy = x86 && has("isa-fdc");
    let transitional = |t: bool| {
        pick(&[
            (DiskModel::Virtio, true),
            (DiskModel::VirtioTransitional, t),
            (DiskModel::VirtioNonTransitional, t),
        ])
    };
    dc.devices.disk = Support::Yes(Disk {
        disk_device: report(&pick(&[
            (DiskDevice::Disk, true),
            (DiskDevice::Cdrom, true),
            (DiskDevice::Floppy, floppy),
            (DiskDevice::Lun, true),
        ])),
        bus: report(&pick(&[
            (DiskBus::Ide, machine_has_ide(&m.name, x86)),
            (DiskBus::Fdc, floppy),
            (DiskBus::Scsi, true),
            (DiskBus::Virtio, true),
            (DiskBus::Usb, has("usb-storage")),
            (DiskBus::Sata, has("ich9-ahci")),
        ])),
        model: report(&transitional(has("virtio-blk-pci-transitional"))),
    });
    let display = |d: &str| caps.display_types.iter().any(|x| x == d);
    dc.devices.graphics = Support::Yes(Graphics {
        type_: report(&pick(&[
            (GraphicsType::Sdl, display("sdl")),
            (GraphicsType::Vnc, caps.has_command("query-vnc")),
            (GraphicsType::Spice, caps.spice),
            (GraphicsType::EglHeadless, display("egl-headless")),
            (GraphicsType::Dbus, display("dbus")),
        ])),
    });
    dc.devices.video = Support::Yes(Video {
        model_type: report(&pick(&[
            (VideoType::Vga, has("VGA")),
            (VideoType::Cirrus, has("cirrus-vga")),
            (VideoType::Vmvga, has("vmware-svga")),
            (VideoType::Qxl, has("qxl-vga")),
            (
                VideoType::Virtio,
                has("virtio-vga") || has("virtio-gpu-pci"),
            ),
            (VideoType::None, true),
            (VideoType::Bochs, has("bochs-display")),
            (VideoType::Ramfb, has("ramfb")),
        ])),
    });
    let vfio = std::path::Path::new("/dev/vfio/vfio").exists() && has("vfio-pci");
    dc.devices.hostdev = Support::Yes(Hostdev {
        mode: report(&[HostdevMode::Subsystem]),
        startup_policy: report(&[
            StartupPolicy::Default,
            StartupPolicy::Mandatory,
            StartupPolicy::Requisite,
            StartupPolicy::Optional,
        ]),
        subsys_type: report(&pick(&[
            (HostdevSubsysType::Usb, has("usb-host")),
            (HostdevSubsysType::Pci, has("vfio-pci")),
            (HostdevSubsysType::Scsi, has("scsi-generic")),
        ])),
        caps_type: report(&[]),
        pci_backend: report(&pick(&[
            (PciBackend::Default, vfio),
            (PciBackend::Vfio, vfio),
        ])),
    });
    let rng_t = has("virtio-rng-pci-transitional");
    dc.devices.rng = Support::Yes(Rng {
        model: report(&pick(&[
            (RngModel::Virtio, true),
            (RngModel::VirtioTransitional, rng_t),
            (RngModel::VirtioNonTransitional, rng_t),
        ])),
        backend_model: report(&pick(&[
            (RngBackendModel::Random, has("rng-random")),
            (RngBackendModel::Egd, has("rng-egd")),
            (RngBackendModel::Builtin, has("rng-builtin")),
        ])),
    });
    dc.devices.filesystem = Support::Yes(Filesystem {
        driver_type: report(&pick(&[
            (FsDriver::Path, true),
            (FsDriver::Handle, has("virtio-9p-pci")),
            (FsDriver::Virtiofs, has("vhost-user-fs-pci")),
        ])),
    });
    // virQEMUCapsFillDomainDeviceTPMCaps: the emulator backends and versions need swtpm, and
    // without any frontend model the TPM is unsupported.
    let tpm_models = pick(&[
        (TpmModel::Tis, has("tpm-tis")),
        (TpmModel::Crb, has("tpm-crb")),
        (TpmModel::Spapr, has("tpm-spapr")),
        (TpmModel::SpaprProxy, has("spapr-tpm-proxy")),
    ]);
    let swtpm = crate::caps::find_in_path("swtpm").is_some();
    let emulator = swtpm && has("tpm-emulator");
    let versions = if swtpm { swtpm_versions() } else { Vec::new() };
    dc.devices.tpm = support(
        !tpm_models.is_empty(),
        Tpm {
            model: report(&tpm_models),
            backend_model: report(&pick(&[
                (TpmBackendType::Passthrough, has("tpm-passthrough")),
                (TpmBackendType::Emulator, emulator),
                (TpmBackendType::External, emulator),
            ])),
            backend_version: (!versions.is_empty()).then(|| CapsEnum::of(&versions)),
        },
    );
    dc.devices.redirdev = support(
        has("usb-redir"),
        Redirdev {
            bus: report(&[RedirdevBus::Usb]),
        },
    );
    dc.devices.channel = Support::Yes(Channel {
        type_: report(&pick(&[
            (ChrType::Pty, true),
            (ChrType::Unix, true),
            (ChrType::Spicevmc, caps.spice),
        ])),
    });

    let f = &mut dc.features;
    f.gic = Support::No;
    f.vmcoreinfo = tristate(has("vmcoreinfo"));
    f.genid = tristate(has("vmgenid"));
    f.backing_store_input = tristate(caps.blockdev);
    f.backup = tristate(caps.has_command("blockdev-backup"));
    if x86 {
        f.hyperv = Support::Yes(Hyperv {
            features: report(&[HypervFeature::Spinlocks, HypervFeature::VendorId]),
        });
    }
    Ok(dc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::{CpuModel, Machine};
    use std::collections::BTreeSet;

    fn caps() -> QemuCaps {
        let m = |name: &str, alias: Option<&str>, cpu_max: u32, deprecated: bool| Machine {
            name: name.into(),
            alias: alias.map(Into::into),
            is_default: alias == Some("pc"),
            cpu_max,
            deprecated,
            default_cpu_type: None,
            default_ram_id: None,
            hotpluggable_cpus: true,
            numa_mem_supported: false,
            acpi: Some(true),
        };
        let cpu = |name: &str, usable: bool, alias_of: Option<&str>| CpuModel {
            name: name.into(),
            unavailable_features: if usable { vec![] } else { vec!["avx".into()] },
            typename: format!("{name}-x86_64-cpu"),
            is_static: false,
            migration_safe: true,
            deprecated: false,
            alias_of: alias_of.map(Into::into),
        };
        QemuCaps {
            binary: "/usr/bin/qemu-system-x86_64".into(),
            version: (10, 0, 2),
            package: String::new(),
            arch: "x86_64".into(),
            kvm_present: false,
            kvm_enabled: false,
            accelerators: vec!["tcg".into()],
            machines: vec![
                m("pc-q35-5.2", None, 288, true),
                m("pc-q35-10.0", Some("q35"), 4096, false),
                m("pc-i440fx-10.0", Some("pc"), 255, false),
            ],
            cpu_models_tcg: vec![
                cpu("max", true, None),
                cpu("Skylake-Client-v1", false, None),
                cpu("Skylake-Client", false, Some("Skylake-Client-v1")),
                cpu("qemu64", true, Some("qemu64-v1")),
                cpu("486", true, Some("486-v1")),
            ],
            cpu_models_kvm: vec![],
            types: ["iothread", "isa-fdc", "ich9-ahci"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            devices: BTreeSet::new(),
            commands: BTreeSet::new(),
            sandbox: true,
            blockdev: true,
            spice: false,
            display_types: vec!["none".into(), "vnc".into()],
            probe_ms: 0,
        }
    }

    #[test]
    fn machines_default_first_and_aliases_after_their_machine() {
        let c = caps();
        let entries: Vec<(&str, Option<&str>)> = machine_entries(&c)
            .iter()
            .map(|(n, c, _)| (*n, *c))
            .collect();
        assert_eq!(
            entries,
            vec![
                ("pc-i440fx-10.0", None),
                ("pc", Some("pc-i440fx-10.0")),
                ("pc-q35-5.2", None),
                ("pc-q35-10.0", None),
                ("q35", Some("pc-q35-10.0")),
            ]
        );
    }

    #[test]
    fn domcapabilities_models_and_errors() {
        let c = caps();
        let x = domcapabilities(&c, "qemu", None).unwrap();
        assert!(x.contains(
            "  <machine>pc-i440fx-10.0</machine>\n  <arch>x86_64</arch>\n  <vcpu max='255'/>"
        ));
        // Versioned names and max/host/base are left out; reverse name order; vendors by name.
        let models: Vec<&str> = x
            .lines()
            .filter(|l| l.contains("<model usable="))
            .map(str::trim)
            .collect();
        assert_eq!(
            models,
            vec![
                "<model usable='yes' vendor='unknown'>qemu64</model>",
                "<model usable='no' vendor='Intel'>Skylake-Client</model>",
                "<model usable='yes' vendor='unknown'>486</model>",
            ]
        );
        let q35 = domcapabilities(&c, "qemu", Some("q35")).unwrap();
        assert!(q35.contains("<machine>pc-q35-10.0</machine>"));
        assert!(!q35.contains("<value>ide</value>") && x.contains("<value>ide</value>"));
        let e = domcapabilities(&c, "qemu", Some("virt")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the machine 'virt' is not supported by emulator '/usr/bin/qemu-system-x86_64'"
        );
        let e = domcapabilities(&c, "xen", None).unwrap_err();
        let v: rvirt::Error = e.into();
        assert_eq!(v.code, rvirt::error::code::INVALID_ARG);
    }

    #[test]
    fn unsupported_devices_print_as_libvirt_does() {
        // Without any TPM frontend or usb-redir, libvirt prints the bare supported='no' form.
        let x = domcapabilities(&caps(), "qemu", None).unwrap();
        assert!(x.contains("    <tpm supported='no'/>\n    <redirdev supported='no'/>\n"));
        let dc = domain_caps(&caps(), "qemu", None).unwrap();
        assert_eq!(DomainCaps::parse(&x).unwrap(), dc);
    }

    #[test]
    fn builtin_ide_follows_libvirts_machine_list() {
        for (m, x86, ide) in [
            ("pc", true, true),
            ("pc-i440fx-10.0", true, true),
            ("pc-1.3", true, true),
            ("isapc", true, false),
            ("pc-q35-10.0", true, false),
            ("pc-i440fx-10.0", false, false),
            ("malta", false, true),
            ("virt", false, false),
        ] {
            assert_eq!(machine_has_ide(m, x86), ide, "{m}");
        }
    }

    #[test]
    fn swtpm_capabilities_name_the_tpm_versions() {
        let json = r#"{ "type": "swtpm_setup", "features": [ "tpm-1.2", "tpm-2.0", "cmdarg-keyfile-fd" ] }"#;
        assert_eq!(
            tpm_versions_of(json),
            vec![TpmVersion::V1_2, TpmVersion::V2_0]
        );
        assert_eq!(
            tpm_versions_of(r#"{"features": ["tpm-2.0"]}"#),
            vec![TpmVersion::V2_0]
        );
        assert!(tpm_versions_of("not json").is_empty());
    }
}
