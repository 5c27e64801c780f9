//! Defaults and checks applied after reading (`virDomainDefPostParse`,
//! `virDomainDefPostParseCommon`, the test driver's device callback, and the parts of
//! `virDomainDefValidate` that concern what rvirt models), in libvirt's order.

use super::devices::{self, Address, ChrDef, ChrDeviceType, ChrTargetType, VideoDef, VideoType};
use super::xml::{unsupported, xml_error, Result};
use super::{clock, BootDev, CpuCheck, CpuMode, DomainDef, LifecycleAction, LoaderType, OsType};
use rvirt_proto::error::{code, domain};

pub(super) fn run(def: &mut DomainDef) -> Result<()> {
    devices::assign_indexes(&mut def.devices.controllers);
    isa_serial_ports(def)?;

    // Per-device post-parse, in virDomainDeviceInfoIterate's order.
    for i in 0..def.devices.disks.len() {
        let scsi_hostdevs: Vec<_> = def
            .devices
            .hostdevs
            .iter()
            .filter_map(|h| h.drive_address())
            .collect();
        devices::disk_post_parse(&mut def.devices.disks[i], &scsi_hostdevs)?;
        devices::expand_group_iotune(&mut def.devices.disks, i);
        devices::disk_check_features(&def.devices.disks[i])?;
    }
    for i in 0..def.devices.hostdevs.len() {
        let d = &def.devices;
        let disk_drives: Vec<_> = d
            .disks
            .iter()
            .filter(|k| k.bus == devices::DiskBus::Scsi)
            .filter_map(|k| match k.info.address {
                Some(Address::Drive {
                    controller,
                    bus,
                    target,
                    unit,
                }) => Some((controller, bus, target, unit)),
                _ => None,
            })
            .collect();
        let used: Vec<_> = d
            .hostdevs
            .iter()
            .filter_map(|h| h.drive_address())
            .collect();
        let controllers = d.controllers.clone();
        let reserved = move |c: u32, u: u32| devices::scsi_unit_reserved(&controllers, c, u);
        devices::hostdev_post_parse(&mut def.devices.hostdevs[i], &disk_drives, &used, &reserved)?;
    }
    for i in 0..def.devices.videos.len() {
        let mut v = def.devices.videos[i].clone();
        devices::video_post_parse(&mut v, def);
        def.devices.videos[i] = v;
    }
    for r in &mut def.devices.rngs {
        if let devices::RngBackend::Random(f @ None) = &mut r.backend {
            *f = Some("/dev/random".into());
        }
    }
    for list in [
        &mut def.devices.serials,
        &mut def.devices.parallels,
        &mut def.devices.channels,
        &mut def.devices.consoles,
    ] {
        for i in 0..list.len() {
            devices::chr_post_parse(list, i);
        }
    }

    for f in &mut def.devices.filesystems {
        devices::fs_post_parse(f);
    }
    let ppc64 = matches!(def.os.arch, super::Arch::Ppc64 | super::Arch::Ppc64le);
    for m in &mut def.devices.memories {
        devices::memory_post_parse(m, ppc64);
    }

    // virDomainDefPostParseCommon.
    if def.os.type_ == OsType::Exe && def.os.init.is_none() {
        return Err(xml_error("init binary must be specified"));
    }
    super::cpu::post_parse_vcpus(&mut def.vcpus)?;
    post_parse_memory(def)?;
    // virDomainDefPostParseOs
    if let Some(f) = &mut def.os.firmware_features {
        if f[0] == Some(true) {
            if f[1] == Some(false) {
                return Err(super::xml::report(
                    code::XML_DETAIL,
                    domain::DOMAIN,
                    "firmware feature 'enrolled-keys' cannot be enabled when firmware feature 'secure-boot' is disabled",
                ));
            }
            f[1] = Some(true);
        }
    }
    if let Some(l) = &mut def.os.loader {
        if l.path.is_some() && l.type_.is_none() {
            l.type_ = Some(LoaderType::Rom);
        }
    }
    super::tune::post_parse_hugepages(&mut def.memory_backing, def.numa.cells.len());
    devices::validate_controllers(&def.devices.controllers)?;
    let panics = &def.devices.panics;
    for (i, p) in panics.iter().enumerate() {
        if panics[..i].iter().any(|q| q.model == p.model) {
            return Err(xml_error(format!(
                "Multiple panic devices with model '{}'",
                p.model.as_str()
            )));
        }
    }
    if def.os.type_ == OsType::Hvm {
        boot_order(def)?;
    }
    clock::post_parse(&def.clock)?;
    console_compat(def)?;
    devices::add_implicit_controllers(&mut def.devices);
    if !def.devices.graphics.is_empty() && def.devices.videos.is_empty() {
        def.devices.videos.push(VideoDef::implicit());
    }
    if let Some(first) = def.devices.videos.first().cloned() {
        if first.type_ == VideoType::None {
            let mut v = VideoDef::implicit();
            v.type_ = VideoType::None;
            v.heads = 0;
            v.info.alias = first.info.alias;
            def.devices.videos[0] = v;
        } else {
            let mut v = first;
            v.primary = true;
            devices::video_post_parse(&mut v, def);
            def.devices.videos[0] = v;
        }
    }
    if !def.devices.serials.is_empty() {
        devices::chr_post_parse(&mut def.devices.serials, 0);
    }
    for g in &mut def.devices.graphics {
        devices::graphics_post_parse(g);
    }
    if let Some(c) = &def.cpu {
        if c.mode == CpuMode::Custom && c.model.is_none() && c.check != CpuCheck::Default {
            return Err(unsupported(
                "check attribute specified for CPU with no model",
            ));
        }
    }

    // virDomainDefPostParseCheckFeatures: the test driver does not allow '/' in names.
    if def.name.contains('/') {
        return Err(xml_error(format!("name {} cannot contain '/'", def.name)));
    }

    validate(def)
}

/// `virDomainChrIsaSerialDefPostParse`.
fn isa_serial_ports(def: &mut DomainDef) -> Result<()> {
    let mut used = [false; 4];
    let mut count = 0;
    for s in &def.devices.serials {
        if s.target_type != ChrTargetType::IsaSerial {
            continue;
        }
        count += 1;
        if count > 4 || s.port.is_some_and(|p| p >= 4) {
            return Err(super::xml::internal(
                "Maximum supported number of ISA serial ports is '4'",
            ));
        }
        if let Some(p) = s.port {
            if p >= 0 {
                if used[p as usize] {
                    return Err(super::xml::internal(format!(
                        "target port '{p}' already allocated"
                    )));
                }
                used[p as usize] = true;
            }
        }
    }
    for s in &mut def.devices.serials {
        if s.target_type != ChrTargetType::IsaSerial || s.port.is_some() {
            continue;
        }
        if let Some(j) = used.iter().position(|u| !u) {
            s.port = Some(j as i64);
            used[j] = true;
        }
    }
    Ok(())
}

/// `virDomainDefPostParseMemory`.
fn post_parse_memory(def: &mut DomainDef) -> Result<()> {
    let numa_memory = if def.memory.total == 0 {
        def.numa.memory()
    } else {
        0
    };
    let hotplug: u64 = def.devices.memories.iter().map(|x| x.size).sum();
    let m = &mut def.memory;
    if numa_memory != 0 {
        m.total = numa_memory + hotplug;
    } else if hotplug > m.total {
        return Err(xml_error(
            "Total size of memory devices exceeds the total memory size",
        ));
    }
    if m.total - hotplug == 0 {
        return Err(xml_error(
            "Memory size must be specified via <memory> or in the <numa> configuration",
        ));
    }
    if m.current > m.total || m.current == 0 {
        m.current = m.total;
    }
    if (m.max_memory != 0 || m.slots != 0) && !(m.max_memory != 0 && m.slots != 0) {
        return Err(xml_error(
            "both maximum memory size and memory slot count must be specified",
        ));
    }
    if m.max_memory != 0 && m.max_memory < m.total {
        return Err(xml_error(
            "maximum memory size must be equal or greater than the actual memory size",
        ));
    }
    Ok(())
}

/// `virDomainDefOSValidate` (the test driver supports firmware autoselection).
fn validate_os(def: &DomainDef) -> Result<()> {
    let detail = |s: &str| super::xml::report(code::XML_DETAIL, domain::DOMAIN, s);
    let os = &def.os;
    let loader = os.loader.as_ref();
    if let Some(fw) = os.firmware {
        let Some(l) = loader else { return Ok(()) };
        if l.readonly.is_some() {
            return Err(detail(
                "loader attribute 'readonly' cannot be specified when firmware autoselection is enabled",
            ));
        }
        if l.type_.is_some_and(|t| t != LoaderType::None) {
            return Err(detail(
                "loader attribute 'type' cannot be specified when firmware autoselection is enabled",
            ));
        }
        if l.path.is_some() {
            return Err(detail(
                "loader path cannot be specified when firmware autoselection is enabled",
            ));
        }
        if l.nvram_template.is_some() {
            return Err(detail(
                "nvram attribute 'template' cannot be specified when firmware autoselection is enabled",
            ));
        }
        if l.secure == Some(false) {
            return Err(detail(
                "loader attribute 'secure' cannot be specified when firmware autoselection is enabled",
            ));
        }
        if l.nvram.is_some() && fw != super::os::Firmware::Efi {
            return Err(super::xml::report(
                code::XML_DETAIL,
                domain::DOMAIN,
                format!("firmware type '{}' does not support nvram", fw.as_str()),
            ));
        }
    } else {
        if os.firmware_features.is_some() {
            return Err(detail(
                "cannot use feature-based firmware autoselection when firmware autoselection is disabled",
            ));
        }
        let Some(l) = loader else { return Ok(()) };
        if l.path.is_none() {
            return Err(detail(
                "no loader path specified and firmware auto selection disabled",
            ));
        }
    }
    let l = loader.expect("loader checked above");
    if l.stateless == Some(true) {
        if l.nvram_template.is_some() {
            return Err(detail(
                "NVRAM template is not permitted when loader is stateless",
            ));
        }
        if l.nvram.is_some() {
            return Err(detail("NVRAM is not permitted when loader is stateless"));
        }
    } else if l.stateless == Some(false) {
        match os.firmware {
            None | Some(super::os::Firmware::None) => {
                if l.type_ != Some(LoaderType::Pflash) {
                    return Err(detail("Only pflash loader type permits NVRAM"));
                }
            }
            Some(super::os::Firmware::Efi) => {}
            Some(_) => return Err(detail("Only EFI firmware permits NVRAM")),
        }
    }
    Ok(())
}

/// `virDomainDefBootOrderPostParse`.
fn boot_order(def: &mut DomainDef) -> Result<()> {
    let mut seen: Vec<u32> = Vec::new();
    let orders = def
        .devices
        .disks
        .iter()
        .map(|d| d.info.boot_order)
        .chain(def.devices.nets.iter().map(|n| n.info.boot_order))
        .chain(def.devices.hostdevs.iter().map(|n| n.info.boot_order))
        .chain(def.devices.filesystems.iter().map(|n| n.info.boot_order))
        .chain(def.devices.redirdevs.iter().map(|n| n.info.boot_order));
    for o in orders.flatten() {
        if seen.contains(&o) {
            return Err(unsupported(format!(
                "boot order '{o}' used for more than one device"
            )));
        }
        seen.push(o);
    }
    if !def.os.boot_devs.is_empty() && !seen.is_empty() {
        return Err(unsupported(
            "per-device boot elements cannot be used together with os/boot elements",
        ));
    }
    if def.os.boot_devs.is_empty() && seen.is_empty() {
        def.os.boot_devs.push(BootDev::Hd);
    }
    Ok(())
}

/// `virDomainDefAddConsoleCompat`: the first console of an HVM guest stands for the first
/// serial port.
fn console_compat(def: &mut DomainDef) -> Result<()> {
    let d = &mut def.devices;
    if d.consoles
        .iter()
        .skip(1)
        .any(|c| c.target_type == ChrTargetType::Serial)
    {
        return Err(unsupported("Only the first console can be a serial port"));
    }
    let hvm = def.os.type_ == OsType::Hvm;
    if hvm
        && !d.consoles.is_empty()
        && matches!(
            d.consoles[0].target_type,
            ChrTargetType::Serial | ChrTargetType::None
        )
    {
        if d.serials.is_empty() {
            let mut s = d.consoles[0].clone();
            s.device = ChrDeviceType::Serial;
            s.target_type = ChrTargetType::None;
            s.port = Some(0);
            d.serials.push(s);
            d.consoles[0] = ChrDef::console_stub();
        } else if d.serials[0].source != d.consoles[0].source {
            d.consoles[0] = ChrDef::console_stub();
        }
    } else if hvm
        && !d.serials.is_empty()
        && matches!(
            d.serials[0].target_type,
            ChrTargetType::IsaSerial
                | ChrTargetType::SpaprVioSerial
                | ChrTargetType::SystemSerial
                | ChrTargetType::SclpSerial
                | ChrTargetType::None
        )
    {
        d.consoles.insert(0, ChrDef::console_stub());
    }
    Ok(())
}

/// The parts of `virDomainDefValidate` for what rvirt models: the devices first, then the
/// definition as a whole (`virDomainDefValidateInternal`).
fn validate(def: &DomainDef) -> Result<()> {
    devices::validate_devices(def)?;
    super::tune::validate_resource(def.resource.as_ref())?;
    let d = &def.devices;
    // libvirt compares every pair and reports the first disk (in order) whose target repeats,
    // with the first later disk sharing it: the same pair, found in one pass.
    let mut seen: std::collections::HashMap<&str, (usize, Option<usize>)> =
        std::collections::HashMap::new();
    for (j, disk) in d.disks.iter().enumerate() {
        if let Some(t) = disk.target.as_deref() {
            seen.entry(t)
                .and_modify(|(_, second)| {
                    second.get_or_insert(j);
                })
                .or_insert((j, None));
        }
    }
    if let Some((i, j)) = seen
        .values()
        .filter_map(|&(i, second)| second.map(|j| (i, j)))
        .min()
    {
        let (a, b) = (&d.disks[i], &d.disks[j]);
        return Err(xml_error(format!(
            "target '{}' duplicated for disk sources '{}' and '{}'",
            a.target.as_deref().unwrap_or(""),
            a.source.path.as_deref().unwrap_or("<null>"),
            b.source.path.as_deref().unwrap_or("<null>")
        )));
    }
    // virDomainDefHostdevValidate
    let mut ramfb = false;
    // Interface hostdevs sit in libvirt's hostdev list too, ahead of the
    // `<hostdev>` elements (interfaces are parsed first).
    let all: Vec<&devices::Hostdev> = d
        .nets
        .iter()
        .filter_map(|n| n.hostdev())
        .chain(d.hostdevs.iter())
        .collect();
    for (i, h) in all.iter().enumerate() {
        if all[i + 1..].iter().any(|o| devices::same_hostdev(h, o)) {
            return Err(xml_error(
                "Hostdev already exists in the domain configuration",
            ));
        }
        if let devices::HostdevSource::Mdev {
            ramfb: Some(true), ..
        } = h.source
        {
            if ramfb {
                return Err(unsupported("Only one vgpu device can have 'ramfb' enabled"));
            }
            ramfb = true;
        }
    }
    for (i, a) in d.disks.iter().enumerate() {
        let Some(Address::Drive {
            controller,
            bus,
            target,
            unit,
        }) = a.info.address
        else {
            continue;
        };
        for b in &d.disks[i + 1..] {
            if b.bus == a.bus && b.info.address == a.info.address {
                return Err(unsupported(format!(
                    "Found duplicate drive address for disk with target name '{}' controller='{controller}' bus='{bus}' target='{target}' unit='{unit}'",
                    a.target.as_deref().unwrap_or("")
                )));
            }
        }
    }
    for (i, h) in d.hostdevs.iter().enumerate() {
        let Some((controller, bus, target, unit)) = h.drive_address() else {
            continue;
        };
        // libvirt prints bus and controller the other way round.
        if d.hostdevs[i + 1..]
            .iter()
            .any(|o| o.is_scsi() && o.info.address == h.info.address)
        {
            return Err(unsupported(format!(
                "SCSI host address controller='{bus}' bus='{controller}' target='{target}' unit='{unit}' in use by another SCSI host device"
            )));
        }
        if d.disks
            .iter()
            .any(|k| k.bus == devices::DiskBus::Scsi && k.info.address == h.info.address)
        {
            return Err(unsupported(format!(
                "SCSI host address controller='{bus}' bus='{controller}' target='{target}' unit='{unit}' in use by another SCSI disk"
            )));
        }
    }
    if let Some(c) = &def.cpu {
        if let Some((s, di, co, t)) = c.topology {
            let total = s as u64 * di as u64 * co as u64 * t as u64;
            if total > u32::MAX as u64 {
                return Err(unsupported(format!(
                    "cpu topology results in more than {} cpus",
                    u32::MAX
                )));
            }
        }
    }
    let mut aliases: Vec<&str> = Vec::new();
    let infos = d
        .disks
        .iter()
        .map(|x| &x.info)
        .chain(d.nets.iter().map(|x| &x.info))
        .chain(d.hostdevs.iter().map(|x| &x.info))
        .chain(d.videos.iter().map(|x| &x.info))
        .chain(d.filesystems.iter().map(|x| &x.info))
        .chain(d.memories.iter().map(|x| &x.info))
        .chain(d.smartcards.iter().map(|x| &x.info))
        .chain(d.redirdevs.iter().map(|x| &x.info))
        .chain(d.tpms.iter().map(|x| &x.info))
        .chain(d.shmems.iter().map(|x| &x.info))
        .chain(d.controllers.iter().map(|x| &x.info))
        .chain(d.serials.iter().map(|x| &x.info))
        .chain(d.parallels.iter().map(|x| &x.info))
        .chain(d.channels.iter().map(|x| &x.info))
        .chain(d.consoles.iter().map(|x| &x.info))
        .chain(d.inputs.iter().map(|x| &x.info))
        .chain(d.memballoon.iter().map(|x| &x.info));
    for info in infos {
        if let Some(a) = &info.alias {
            if aliases.contains(&a.as_str()) {
                return Err(unsupported(format!("non unique alias detected: {a}")));
            }
            aliases.push(a);
        }
    }
    if let Some(i) = &d.iommu {
        if i.intremap == Some(true) && def.features.ioapic != Some(super::IoApic::Qemu) {
            return Err(unsupported(
                "IOMMU interrupt remapping requires split I/O APIC (ioapic driver='qemu')",
            ));
        }
        if i.eim == Some(true) && i.intremap != Some(true) {
            return Err(unsupported(
                "IOMMU eim requires interrupt remapping to be enabled",
            ));
        }
    }
    for (name, action) in [("poweroff", def.on_poweroff), ("reboot", def.on_reboot)] {
        if matches!(
            action,
            LifecycleAction::CoredumpDestroy | LifecycleAction::CoredumpRestart
        ) {
            return Err(unsupported(format!(
                "Lifecycle event '{name}' doesn't support '{}' action",
                action.as_str()
            )));
        }
    }
    super::tune::validate_hugepages(&def.memory_backing, def.numa.cells.len())?;
    validate_os(def)?;
    super::tune::validate_cputune(&def.cputune)?;
    if def.os.bootmenu_timeout.is_some_and(|t| t > 65535) {
        return Err(unsupported(
            "invalid value for boot menu timeout, must be in range [0,65535]",
        ));
    }
    if def
        .os
        .bios
        .reboot_timeout
        .is_some_and(|t| !(-1..=65535).contains(&t))
    {
        return Err(unsupported(
            "invalid value for rebootTimeout, must be in range [-1,65535]",
        ));
    }
    if d.videos.first().is_some_and(|v| v.primary) && d.videos.iter().skip(1).any(|v| v.primary) {
        return Err(unsupported("Only one primary video device is supported"));
    }
    super::tune::validate_blkiotune(&def.blkiotune)?;
    super::tune::validate_idmap(&def.idmap)?;
    super::numa::validate(&def.numa)?;
    let mut fs_targets: Vec<&str> = Vec::new();
    for f in d
        .filesystems
        .iter()
        .filter(|f| f.fsdriver == devices::FsDriver::Virtiofs)
    {
        let t = f.target.as_deref().unwrap_or("");
        if fs_targets.contains(&t) {
            return Err(unsupported(format!(
                "filesystem target '{t}' specified twice"
            )));
        }
        fs_targets.push(t);
    }
    super::tune::validate_iothreads(&def.iothreads)
}
