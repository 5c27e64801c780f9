//! What `virDomainGetXMLDesc`'s `VIR_DOMAIN_XML_MIGRATABLE` and `VIR_DOMAIN_XML_UPDATE_CPU`
//! flags do to a QEMU domain definition before it is formatted (libvirt's
//! `qemuDomainDefFormatBufInternal`).
//!
//! Migratable XML drops what older libvirt added implicitly and would add again on the
//! destination: the sole default USB controller of an i440fx machine and the sole `pci-root`
//! controller (the formatter itself leaves out the implicit PS/2 keyboard and auto-generated
//! graphics listens). Updating the CPU leaves host-passthrough, maximum and exact custom CPUs
//! without optional features as they are, as libvirt does; a host-model CPU, a custom CPU with
//! `match='minimum'` or with optional features would need libvirt's x86 CPU model map to
//! resolve, which rvirt does not have, so those are refused with a clear error rather than
//! answered with an unexpanded CPU.

use rvirt::error::{code, domain};
use rvirt::Error;
use rvirt_xml::domain::devices::ControllerType;
use rvirt_xml::domain::{CpuFeaturePolicy, CpuMatch, CpuMode, DomainDef};

/// `virDomainDeviceAliasIsUserAlias`.
fn user_alias(alias: &Option<String>) -> bool {
    alias.as_deref().is_some_and(|a| a.starts_with("ua-"))
}

/// i440fx machine types (`pc`, `pc-i440fx-*`, `pc-1.x`, …), as `qemuDomainIsI440FX`.
fn is_i440fx(def: &DomainDef) -> bool {
    let m = def.os.machine.as_deref().unwrap_or("pc");
    m == "pc" || m.starts_with("pc-0.") || m.starts_with("pc-1.") || m.starts_with("pc-i440")
}

/// Removes, for migratable XML, the default USB controller of an i440fx machine and the default
/// `pci-root`, each only when it is the only controller of its type.
pub fn make_migratable(def: &mut DomainDef) {
    let only = |def: &DomainDef, t: ControllerType| {
        let mut it = def
            .devices
            .controllers
            .iter()
            .enumerate()
            .filter(|(_, c)| c.type_ == t);
        match (it.next(), it.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    };
    let usb = only(def, ControllerType::Usb).filter(|&i| {
        let c = &def.devices.controllers[i];
        is_i440fx(def)
            && c.index.unwrap_or(0) == 0
            && matches!(c.model.as_deref(), None | Some("piix3-uhci"))
            && !user_alias(&c.info.alias)
    });
    let pci = only(def, ControllerType::Pci).filter(|&i| {
        let c = &def.devices.controllers[i];
        c.index.unwrap_or(0) == 0
            && c.model.as_deref() == Some("pci-root")
            && !user_alias(&c.info.alias)
            && c.pci.pcihole64.is_none()
    });
    let mut i = 0;
    def.devices.controllers.retain(|_| {
        let keep = Some(i) != usb && Some(i) != pci;
        i += 1;
        keep
    });
}

/// Applies `VIR_DOMAIN_XML_UPDATE_CPU` to `def`'s guest CPU.
pub fn update_cpu(def: &mut DomainDef) -> Result<(), Error> {
    let Some(cpu) = &def.cpu else {
        return Ok(());
    };
    let relative = match cpu.mode {
        CpuMode::HostPassthrough | CpuMode::Maximum => return Ok(()),
        CpuMode::HostModel => true,
        CpuMode::Custom => {
            cpu.model.is_some()
                && (cpu.match_ == CpuMatch::Minimum
                    || cpu
                        .features
                        .iter()
                        .any(|f| f.policy == CpuFeaturePolicy::Optional))
        }
    };
    if relative {
        return Err(Error::new(
            code::OPERATION_UNSUPPORTED,
            domain::CPU,
            format!(
                "updating a '{}' guest CPU{} against the host CPU is not supported by rvirt yet \
                 (it has no x86 CPU model map); use dumpxml without --update-cpu",
                cpu.mode.as_str(),
                if cpu.mode == CpuMode::Custom {
                    " with match='minimum' or optional features"
                } else {
                    ""
                }
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(xml_devices: &str, machine: &str, cpu: &str) -> DomainDef {
        rvirt_xml::domain::parse(&format!(
            "<domain type='qemu'><name>m</name><memory>65536</memory>\
             <os><type arch='x86_64' machine='{machine}'>hvm</type></os>{cpu}\
             <devices>{xml_devices}</devices></domain>"
        ))
        .unwrap()
    }

    fn controllers(d: &DomainDef) -> Vec<(String, Option<String>)> {
        d.devices
            .controllers
            .iter()
            .map(|c| (c.type_.as_str().to_string(), c.model.clone()))
            .collect()
    }

    #[test]
    fn default_usb_and_pci_root_are_dropped() {
        let mut d = def(
            "<controller type='usb' index='0'/><controller type='pci' index='0' model='pci-root'/>\
             <controller type='virtio-serial' index='0'/>",
            "pc-i440fx-8.2",
            "",
        );
        make_migratable(&mut d);
        assert_eq!(controllers(&d), [("virtio-serial".into(), None)]);
    }

    #[test]
    fn non_default_controllers_stay() {
        // q35's USB controller, a user alias, a non-default model, two USB controllers.
        for (devs, machine) in [
            ("<controller type='usb' index='0'/>", "q35"),
            (
                "<controller type='usb' index='0'><alias name='ua-usb'/></controller>",
                "pc",
            ),
            ("<controller type='usb' index='0' model='qemu-xhci'/>", "pc"),
            (
                "<controller type='usb' index='0'/><controller type='usb' index='1'/>",
                "pc",
            ),
        ] {
            let mut d = def(devs, machine, "");
            let before = controllers(&d);
            make_migratable(&mut d);
            assert_eq!(controllers(&d), before, "{devs} on {machine}");
        }
    }

    #[test]
    fn update_cpu_keeps_what_needs_no_cpu_map_and_refuses_the_rest() {
        for cpu in [
            "",
            "<cpu mode='host-passthrough'/>",
            "<cpu mode='maximum'/>",
            "<cpu mode='custom' match='exact'><model>qemu64</model>\
             <feature policy='require' name='sse4.2'/></cpu>",
        ] {
            let mut d = def("", "pc", cpu);
            let before = d.cpu.clone();
            update_cpu(&mut d).unwrap();
            assert_eq!(d.cpu, before, "{cpu}");
        }
        for cpu in [
            "<cpu mode='host-model'/>",
            "<cpu mode='custom' match='minimum'><model>qemu64</model></cpu>",
            "<cpu mode='custom' match='exact'><model>qemu64</model>\
             <feature policy='optional' name='sse4.2'/></cpu>",
        ] {
            let mut d = def("", "pc", cpu);
            let e = update_cpu(&mut d).unwrap_err();
            assert_eq!(e.code, code::OPERATION_UNSUPPORTED, "{cpu}");
            assert!(e.message.contains("--update-cpu"), "{}", e.message);
        }
    }
}
