//! The `capabilities` and `domcapabilities` XML documents, in libvirt 9.0's layout, built from
//! the host facts ([`crate::host`]) and the probed QEMU capabilities ([`crate::caps`]).
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
use crate::host::{scaled_size, HostInfo};
use rvirt_xml::writer::XmlWriter;
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
fn kvm_offered(caps: &QemuCaps) -> bool {
    let host = crate::host::host_arch();
    let compatible = caps.arch == host || (host == "x86_64" && caps.arch == "i686");
    compatible
        && std::path::Path::new("/dev/kvm").exists()
        && (caps.kvm_present || caps.accelerators.iter().any(|a| a == "kvm"))
}

/// The `capabilities` document for `host` and the probed binaries (one `<guest>` per binary).
pub fn capabilities(host: &HostInfo, guests: &[Arc<QemuCaps>]) -> String {
    // The body is indented inside <capabilities>, which libvirt follows with a blank line.
    let mut w = XmlWriter::with_indent(2);
    w.open("host", &[]);
    w.text("uuid", &[], &host.uuid);
    w.open("cpu", &[]);
    w.text("arch", &[], &host.arch);
    if let Some(v) = &host.vendor {
        w.text("vendor", &[], v);
    }
    if let Some(m) = host.microcode {
        w.empty("microcode", &[("version", &m.to_string())]);
    }
    if let Some((f, m, s)) = host.signature {
        w.empty(
            "signature",
            &[
                ("family", &f.to_string()),
                ("model", &m.to_string()),
                ("stepping", &s.to_string()),
            ],
        );
    }
    let (s, d, c, t) = host.topology;
    w.empty(
        "topology",
        &[
            ("sockets", &s.to_string()),
            ("dies", &d.to_string()),
            ("cores", &c.to_string()),
            ("threads", &t.to_string()),
        ],
    );
    if let Some(bits) = host.phys_bits {
        w.empty(
            "maxphysaddr",
            &[("mode", "emulate"), ("bits", &bits.to_string())],
        );
    }
    for p in &host.page_sizes {
        w.empty("pages", &[("unit", "KiB"), ("size", &p.to_string())]);
    }
    w.close("cpu");
    w.empty("power_management", &[]);
    w.empty(
        "iommu",
        &[("support", if host.iommu { "yes" } else { "no" })],
    );
    w.open("migration_features", &[]);
    w.empty("live", &[]);
    w.open("uri_transports", &[]);
    w.text("uri_transport", &[], "tcp");
    w.text("uri_transport", &[], "rdma");
    w.close("uri_transports");
    w.close("migration_features");
    w.open("topology", &[]);
    w.open("cells", &[("num", &host.cells.len().to_string())]);
    for cell in &host.cells {
        w.open("cell", &[("id", &cell.id.to_string())]);
        w.text("memory", &[("unit", "KiB")], &cell.memory_kib.to_string());
        for (size, n) in &cell.pages {
            w.text(
                "pages",
                &[("unit", "KiB"), ("size", &size.to_string())],
                &n.to_string(),
            );
        }
        if !cell.distances.is_empty() {
            w.open("distances", &[]);
            for (id, v) in &cell.distances {
                w.empty(
                    "sibling",
                    &[("id", &id.to_string()), ("value", &v.to_string())],
                );
            }
            w.close("distances");
        }
        w.open("cpus", &[("num", &cell.cpus.len().to_string())]);
        for cpu in &cell.cpus {
            w.empty(
                "cpu",
                &[
                    ("id", &cpu.id.to_string()),
                    ("socket_id", &cpu.socket_id.to_string()),
                    ("die_id", &cpu.die_id.to_string()),
                    ("core_id", &cpu.core_id.to_string()),
                    ("siblings", &cpu.siblings),
                ],
            );
        }
        w.close("cpus");
        w.close("cell");
    }
    w.close("cells");
    w.close("topology");
    if !host.caches.is_empty() {
        w.open("cache", &[]);
        for b in &host.caches {
            let (size, unit) = scaled_size(b.size_bytes);
            w.empty(
                "bank",
                &[
                    ("id", &b.id.to_string()),
                    ("level", &b.level.to_string()),
                    ("type", &b.kind),
                    ("size", &size.to_string()),
                    ("unit", unit),
                    ("cpus", &b.cpus),
                ],
            );
        }
        w.close("cache");
    }
    w.open("secmodel", &[]);
    w.text("model", &[], "none");
    w.text("doi", &[], "0");
    w.close("secmodel");
    // SAFETY: getuid/getgid cannot fail and touch no memory.
    let label = unsafe { format!("+{}:+{}", libc::getuid(), libc::getgid()) };
    w.open("secmodel", &[]);
    w.text("model", &[], "dac");
    w.text("doi", &[], "0");
    w.text("baselabel", &[("type", "kvm")], &label);
    w.text("baselabel", &[("type", "qemu")], &label);
    w.close("secmodel");
    w.close("host");
    w.raw("\n");

    let mut sorted: Vec<&Arc<QemuCaps>> = guests.iter().collect();
    sorted.sort_by_key(|g| arch_rank(&g.arch));
    for g in sorted {
        w.open("guest", &[]);
        w.text("os_type", &[], "hvm");
        w.open("arch", &[("name", &g.arch)]);
        w.text("wordsize", &[], &wordsize(&g.arch).to_string());
        w.text("emulator", &[], &g.binary.to_string_lossy());
        for (name, canonical, m) in machine_entries(g) {
            let max = m.cpu_max.to_string();
            let mut attrs: Vec<(&str, &str)> = Vec::new();
            if let Some(c) = canonical {
                attrs.push(("canonical", c));
            }
            if m.cpu_max > 0 {
                attrs.push(("maxCpus", &max));
            }
            if m.deprecated {
                attrs.push(("deprecated", "yes"));
            }
            w.text("machine", &attrs, name);
        }
        w.empty("domain", &[("type", "qemu")]);
        if kvm_offered(g) {
            w.empty("domain", &[("type", "kvm")]);
        }
        w.close("arch");
        w.open("features", &[]);
        if g.arch == "i686" {
            w.empty("pae", &[]);
            w.empty("nonpae", &[]);
        }
        if matches!(g.arch.as_str(), "i686" | "x86_64") {
            w.empty("acpi", &[("default", "on"), ("toggle", "yes")]);
            w.empty("apic", &[("default", "on"), ("toggle", "no")]);
        }
        w.empty("cpuselection", &[]);
        w.empty("deviceboot", &[]);
        w.empty("disksnapshot", &[("default", "on"), ("toggle", "no")]);
        w.close("features");
        w.close("guest");
        w.raw("\n");
    }
    format!("<capabilities>\n\n{}</capabilities>\n", w.finish())
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

fn enum_values(w: &mut XmlWriter, name: &str, values: &[&str]) {
    if values.is_empty() {
        w.empty("enum", &[("name", name)]);
        return;
    }
    w.open("enum", &[("name", name)]);
    for v in values {
        w.text("value", &[], v);
    }
    w.close("enum");
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

fn machine_has_ide(machine: &str) -> bool {
    machine.contains("i440fx") || machine == "pc" || machine.starts_with("isapc")
}

/// The `domcapabilities` document for one binary, domain type (`qemu` or `kvm`) and machine
/// (libvirt's default when `None`).
pub fn domcapabilities(
    caps: &QemuCaps,
    virt_type: &str,
    machine: Option<&str>,
) -> Result<String, CapsError> {
    if virt_type != "qemu" && virt_type != "kvm" {
        return Err(CapsError::Unsupported(format!(
            "virttype '{virt_type}' is not supported by the QEMU driver; use 'qemu' or 'kvm'"
        )));
    }
    if virt_type == "kvm" && !kvm_offered(caps) {
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
    let x86 = matches!(caps.arch.as_str(), "i686" | "x86_64");
    let has = |t: &str| caps.has_type(t);
    let yes_no = |b: bool| if b { "yes" } else { "no" };

    let mut w = XmlWriter::new();
    w.open("domainCapabilities", &[]);
    w.text("path", &[], &caps.binary.to_string_lossy());
    w.text("domain", &[], virt_type);
    w.text("machine", &[], &m.name);
    w.text("arch", &[], &caps.arch);
    w.empty("vcpu", &[("max", &m.cpu_max.to_string())]);
    w.empty("iothreads", &[("supported", yes_no(has("iothread")))]);

    w.open("os", &[("supported", "yes")]);
    let uefi = uefi_firmware_installed();
    enum_values(&mut w, "firmware", if uefi { &["efi"] } else { &[] });
    w.open("loader", &[("supported", "yes")]);
    enum_values(&mut w, "type", &["rom", "pflash"]);
    enum_values(&mut w, "readonly", &["yes", "no"]);
    // Secure boot needs SMM, which only q35 offers on x86.
    let smm = x86 && m.name.contains("q35");
    enum_values(
        &mut w,
        "secure",
        if smm && uefi { &["yes", "no"] } else { &["no"] },
    );
    w.close("loader");
    w.close("os");

    w.open("cpu", &[]);
    if virt_type == "kvm" {
        w.open(
            "mode",
            &[("name", "host-passthrough"), ("supported", "yes")],
        );
        enum_values(&mut w, "hostPassthroughMigratable", &["on", "off"]);
        w.close("mode");
    } else {
        w.empty("mode", &[("name", "host-passthrough"), ("supported", "no")]);
    }
    w.open("mode", &[("name", "maximum"), ("supported", "yes")]);
    enum_values(&mut w, "maximumMigratable", &["on", "off"]);
    w.close("mode");
    w.empty("mode", &[("name", "host-model"), ("supported", "no")]);
    let mut models: Vec<&crate::caps::CpuModel> = caps
        .cpu_models(virt_type)
        .iter()
        .filter(|c| !matches!(c.name.as_str(), "max" | "host" | "base"))
        .filter(|c| !is_versioned(&c.name))
        .collect();
    // libvirt lists them in reverse name order.
    models.sort_by(|a, b| b.name.cmp(&a.name));
    w.open("mode", &[("name", "custom"), ("supported", "yes")]);
    for c in models {
        let mut attrs = vec![
            ("usable", yes_no(c.usable())),
            ("vendor", cpu_vendor(&c.name)),
        ];
        if c.deprecated {
            attrs.insert(1, ("deprecated", "yes"));
        }
        w.text("model", &attrs, &c.name);
    }
    w.close("mode");
    w.close("cpu");

    w.open("memoryBacking", &[("supported", "yes")]);
    let mut sources = Vec::new();
    if has("memory-backend-file") {
        sources.push("file");
    }
    if has("memory-backend-ram") {
        sources.push("anonymous");
    }
    if has("memory-backend-memfd") {
        sources.push("memfd");
    }
    enum_values(&mut w, "sourceType", &sources);
    w.close("memoryBacking");

    w.open("devices", &[]);
    // disk
    w.open("disk", &[("supported", "yes")]);
    let floppy = x86 && has("isa-fdc");
    let mut dev = vec!["disk", "cdrom"];
    if floppy {
        dev.push("floppy");
    }
    dev.push("lun");
    enum_values(&mut w, "diskDevice", &dev);
    let mut bus = Vec::new();
    if machine_has_ide(&m.name) {
        bus.push("ide");
    }
    if floppy {
        bus.push("fdc");
    }
    bus.push("scsi");
    bus.push("virtio");
    if has("usb-storage") {
        bus.push("usb");
    }
    if has("ich9-ahci") {
        bus.push("sata");
    }
    enum_values(&mut w, "bus", &bus);
    let transitional = has("virtio-blk-pci-transitional");
    enum_values(
        &mut w,
        "model",
        if transitional {
            &["virtio", "virtio-transitional", "virtio-non-transitional"]
        } else {
            &["virtio"]
        },
    );
    w.close("disk");
    // graphics
    w.open("graphics", &[("supported", "yes")]);
    let mut gfx = Vec::new();
    for (t, ok) in [
        ("sdl", caps.display_types.iter().any(|d| d == "sdl")),
        ("vnc", caps.has_command("query-vnc")),
        ("spice", caps.spice),
        (
            "egl-headless",
            caps.display_types.iter().any(|d| d == "egl-headless"),
        ),
        ("dbus", caps.display_types.iter().any(|d| d == "dbus")),
    ] {
        if ok {
            gfx.push(t);
        }
    }
    enum_values(&mut w, "type", &gfx);
    w.close("graphics");
    // video
    w.open("video", &[("supported", "yes")]);
    let mut video = Vec::new();
    for (t, ok) in [
        ("vga", has("VGA")),
        ("cirrus", has("cirrus-vga")),
        ("vmvga", has("vmware-svga")),
        ("qxl", has("qxl-vga")),
        ("virtio", has("virtio-vga") || has("virtio-gpu-pci")),
        ("none", true),
        ("bochs", has("bochs-display")),
        ("ramfb", has("ramfb")),
    ] {
        if ok {
            video.push(t);
        }
    }
    enum_values(&mut w, "modelType", &video);
    w.close("video");
    // hostdev
    w.open("hostdev", &[("supported", "yes")]);
    enum_values(&mut w, "mode", &["subsystem"]);
    enum_values(
        &mut w,
        "startupPolicy",
        &["default", "mandatory", "requisite", "optional"],
    );
    let mut subsys = Vec::new();
    if has("usb-host") {
        subsys.push("usb");
    }
    if has("vfio-pci") {
        subsys.push("pci");
    }
    if has("scsi-generic") {
        subsys.push("scsi");
    }
    enum_values(&mut w, "subsysType", &subsys);
    enum_values(&mut w, "capsType", &[]);
    let vfio = std::path::Path::new("/dev/vfio/vfio").exists() && has("vfio-pci");
    enum_values(
        &mut w,
        "pciBackend",
        if vfio { &["default", "vfio"] } else { &[] },
    );
    w.close("hostdev");
    // rng
    w.open("rng", &[("supported", "yes")]);
    let rng_t = has("virtio-rng-pci-transitional");
    enum_values(
        &mut w,
        "model",
        if rng_t {
            &["virtio", "virtio-transitional", "virtio-non-transitional"]
        } else {
            &["virtio"]
        },
    );
    let mut backends = Vec::new();
    for (t, ty) in [
        ("random", "rng-random"),
        ("egd", "rng-egd"),
        ("builtin", "rng-builtin"),
    ] {
        if has(ty) {
            backends.push(t);
        }
    }
    enum_values(&mut w, "backendModel", &backends);
    w.close("rng");
    // filesystem
    w.open("filesystem", &[("supported", "yes")]);
    let mut fs = vec!["path"];
    if has("virtio-9p-pci") {
        fs.push("handle");
    }
    if has("vhost-user-fs-pci") {
        fs.push("virtiofs");
    }
    enum_values(&mut w, "driverType", &fs);
    w.close("filesystem");
    // tpm
    let tpm_models: Vec<&str> = [
        ("tpm-tis", "tpm-tis"),
        ("tpm-crb", "tpm-crb"),
        ("tpm-spapr", "tpm-spapr"),
    ]
    .iter()
    .filter(|(_, ty)| has(ty))
    .map(|(n, _)| *n)
    .collect();
    w.open("tpm", &[("supported", yes_no(!tpm_models.is_empty()))]);
    enum_values(&mut w, "model", &tpm_models);
    let mut tpm_back = Vec::new();
    if has("tpm-passthrough") {
        tpm_back.push("passthrough");
    }
    if has("tpm-emulator") && crate::caps::find_in_path("swtpm").is_some() {
        tpm_back.push("emulator");
    }
    enum_values(&mut w, "backendModel", &tpm_back);
    w.close("tpm");
    // redirdev
    w.open("redirdev", &[("supported", yes_no(has("usb-redir")))]);
    enum_values(&mut w, "bus", &["usb"]);
    w.close("redirdev");
    // channel
    w.open("channel", &[("supported", "yes")]);
    let mut chan = vec!["pty", "unix"];
    if caps.spice {
        chan.push("spicevmc");
    }
    enum_values(&mut w, "type", &chan);
    w.close("channel");
    w.close("devices");

    w.open("features", &[]);
    w.empty("gic", &[("supported", "no")]);
    w.empty("vmcoreinfo", &[("supported", yes_no(has("vmcoreinfo")))]);
    w.empty("genid", &[("supported", yes_no(has("vmgenid")))]);
    w.empty("backingStoreInput", &[("supported", yes_no(caps.blockdev))]);
    w.empty(
        "backup",
        &[("supported", yes_no(caps.has_command("blockdev-backup")))],
    );
    w.empty("sev", &[("supported", "no")]);
    w.empty("sgx", &[("supported", "no")]);
    if x86 {
        w.open("hyperv", &[("supported", "yes")]);
        enum_values(&mut w, "features", &["spinlocks", "vendor_id"]);
        w.close("hyperv");
    }
    w.close("features");
    w.close("domainCapabilities");
    Ok(w.finish())
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
}
