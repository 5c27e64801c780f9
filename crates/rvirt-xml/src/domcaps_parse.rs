//! Reading a domain capabilities document back into [`DomainCaps`]. libvirt has no parser for
//! this document (it only formats it), so the rules follow its schema (`domaincaps.rng`) and
//! what the model can hold: see the module documentation of [`crate::domcaps`]. Errors are
//! `VIR_ERR_XML_ERROR` in `VIR_FROM_CAPABILITIES` naming the element, attribute and value;
//! syntax errors and attribute errors are reported as libvirt's XML layer reports them.

use crate::conf::{
    child, children, err, parse_document, prop_tristate_bool, prop_uint, str_to_u32_pos,
    str_to_u64_pos, text_content, xpath_text, Node, Tristate,
};
use crate::domain::xml::XmlEnum;
use crate::domcaps::*;
use crate::XmlError;
use rvirt_proto::error::{code, domain};

type Result<T> = std::result::Result<T, XmlError>;

/// The document name libvirt would give it in syntax errors.
const DOCNAME: &str = "(domain_capabilities)";

fn invalid(detail: impl Into<String>) -> XmlError {
    err(code::XML_ERROR, domain::CAPABILITIES, detail)
}

impl DomainCaps {
    /// Reads a `<domainCapabilities>` document, such as `virsh domcapabilities` prints.
    pub fn parse(xml: &str) -> Result<DomainCaps> {
        let doc = parse_document(xml, DOCNAME, "domainCapabilities", domain::CAPABILITIES)?;
        let root = doc.root_element();
        let path = xpath_text(root, &["path"]).ok_or_else(|| {
            invalid("missing <path> (the emulator binary) in domain capabilities")
        })?;
        let dom = xpath_text(root, &["domain"]).ok_or_else(|| {
            invalid("missing <domain> (the virtualization type) in domain capabilities")
        })?;
        let virt_type = VirtType::parse(&dom)
            .ok_or_else(|| invalid(format!("unknown virtualization type '{dom}' in <domain>")))?;
        let machine = xpath_text(root, &["machine"]);
        let arch_s = xpath_text(root, &["arch"])
            .ok_or_else(|| invalid("missing <arch> in domain capabilities"))?;
        let arch = Arch::parse(&arch_s)
            .ok_or_else(|| invalid(format!("unknown architecture '{arch_s}' in <arch>")))?;
        let max_vcpus = match child(root, "vcpu") {
            None => 0,
            Some(v) => prop_uint(Some(v), "max", 10, true, false)?.unwrap_or(0),
        };
        let iothreads = simple(root, "iothreads")?;
        let os = support(root, "os", |n| {
            check_enums(n, "os", &["firmware"])?;
            Ok(Os {
                firmware: get_enum(n, "os", "firmware")?,
                loader: support(n, "loader", |l| {
                    check_enums(l, "loader", &["type", "readonly", "secure"])?;
                    Ok(Loader {
                        values: children(l, "value").map(text_content).collect(),
                        type_: get_enum(l, "loader", "type")?,
                        readonly: get_enum(l, "loader", "readonly")?,
                        secure: get_enum(l, "loader", "secure")?,
                    })
                })?,
            })
        })?;
        let cpu = match child(root, "cpu") {
            Some(c) => parse_cpu(c)?,
            None => Cpu::default(),
        };
        let memory_backing = support(root, "memoryBacking", |n| {
            check_enums(n, "memoryBacking", &["sourceType"])?;
            Ok(MemoryBacking {
                source_type: get_enum(n, "memoryBacking", "sourceType")?,
            })
        })?;
        let devices = match child(root, "devices") {
            Some(d) => parse_devices(d)?,
            None => Devices::default(),
        };
        let features = match child(root, "features") {
            Some(f) => parse_features(f)?,
            None => Features::default(),
        };
        Ok(DomainCaps {
            path,
            virt_type,
            machine,
            arch,
            max_vcpus,
            iothreads,
            os,
            cpu,
            memory_backing,
            devices,
            features,
        })
    }
}

/// The required `supported=` attribute: `yes` or `no`.
fn supported_attr(n: Node) -> Result<bool> {
    match prop_tristate_bool(Some(n), "supported")? {
        Tristate::Yes => Ok(true),
        Tristate::No => Ok(false),
        Tristate::Absent => Err(err(
            code::XML_ERROR,
            domain::XML,
            format!(
                "Missing required attribute 'supported' in element '{}'",
                n.tag_name().name()
            ),
        )),
    }
}

/// A `<name supported=…/>` feature flag.
fn simple(parent: Node, name: &str) -> Result<Tristate> {
    match child(parent, name) {
        None => Ok(Tristate::Absent),
        Some(n) => Ok(if supported_attr(n)? {
            Tristate::Yes
        } else {
            Tristate::No
        }),
    }
}

/// An element with `supported=`, its content read by `body` when supported.
fn support<T>(
    parent: Node,
    name: &str,
    body: impl FnOnce(Node) -> Result<T>,
) -> Result<Support<T>> {
    let Some(n) = child(parent, name) else {
        return Ok(Support::Absent);
    };
    if supported_attr(n)? {
        return Ok(Support::Yes(body(n)?));
    }
    no_content(n, &format!("<{name} supported='no'>"))?;
    Ok(Support::No)
}

/// An unsupported element lists nothing: libvirt would never print content there, and the
/// model has no place for it.
fn no_content(n: Node, what: &str) -> Result<()> {
    match n.children().find(|c| c.is_element()) {
        None => Ok(()),
        Some(c) => Err(invalid(format!(
            "{what} must be empty, found <{}>",
            c.tag_name().name()
        ))),
    }
}

/// Every `<enum>` of element `elem` has a name, one of `allowed`, and appears once.
fn check_enums(n: Node, elem: &str, allowed: &[&str]) -> Result<()> {
    let mut seen: Vec<&str> = Vec::new();
    for e in children(n, "enum") {
        let Some(name) = e.attribute("name") else {
            return Err(err(
                code::XML_ERROR,
                domain::XML,
                "Missing required attribute 'name' in element 'enum'",
            ));
        };
        if !allowed.contains(&name) {
            return Err(invalid(format!(
                "unknown enum '{name}' in <{elem}>; expected {}",
                allowed
                    .iter()
                    .map(|a| format!("'{a}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if seen.contains(&name) {
            return Err(invalid(format!("enum '{name}' appears twice in <{elem}>")));
        }
        seen.push(name);
    }
    Ok(())
}

/// The values of `<enum name='name'>` of element `elem`, `None` when it is not there.
fn get_enum<T: EnumValue>(n: Node, elem: &str, name: &str) -> Result<Option<CapsEnum<T>>> {
    let Some(e) = children(n, "enum").find(|e| e.attribute("name") == Some(name)) else {
        return Ok(None);
    };
    let mut values: Vec<T> = Vec::new();
    for v in children(e, "value") {
        let s = text_content(v);
        let t = T::from_name(&s)
            .ok_or_else(|| invalid(format!("unknown value '{s}' in enum '{name}' of <{elem}>")))?;
        if !values.iter().any(|x| x.number() == t.number()) {
            values.push(t);
        }
    }
    values.sort_by_key(|x| x.number());
    Ok(Some(CapsEnum { values }))
}

fn parse_cpu(c: Node) -> Result<Cpu> {
    let mut cpu = Cpu::default();
    let mut seen: Vec<String> = Vec::new();
    for m in children(c, "mode") {
        let Some(name) = m.attribute("name") else {
            return Err(err(
                code::XML_ERROR,
                domain::XML,
                "Missing required attribute 'name' in element 'mode'",
            ));
        };
        if seen.iter().any(|s| s == name) {
            return Err(invalid(format!("CPU mode '{name}' appears twice in <cpu>")));
        }
        seen.push(name.to_string());
        let yes = supported_attr(m)?;
        if !yes {
            no_content(m, &format!("<mode name='{name}' supported='no'>"))?;
        }
        let what = format!("mode name='{name}'");
        match name {
            "host-passthrough" | "maximum" => {
                let enum_name = if name == "maximum" {
                    "maximumMigratable"
                } else {
                    "hostPassthroughMigratable"
                };
                let mode = if yes {
                    check_enums(m, &what, &[enum_name])?;
                    Some(MigratableMode {
                        migratable: get_enum(m, &what, enum_name)?,
                    })
                } else {
                    None
                };
                if name == "maximum" {
                    cpu.maximum = mode;
                } else {
                    cpu.host_passthrough = mode;
                }
            }
            "host-model" => {
                cpu.host_model = if yes {
                    Some(parse_host_model(m)?)
                } else {
                    None
                };
            }
            "custom" => {
                if yes {
                    cpu.custom = parse_custom(m)?;
                }
            }
            other => {
                return Err(invalid(format!(
                    "unknown CPU mode '{other}' in <cpu>; expected 'host-passthrough', \
                     'maximum', 'host-model' or 'custom'"
                )))
            }
        }
    }
    Ok(cpu)
}

/// `virCPUDefParseXML`'s reading of `<model>`, `<vendor>` and `<feature>`, the parts a
/// host-model CPU has.
fn parse_host_model(m: Node) -> Result<HostModelCpu> {
    for unmodelled in ["topology", "cache", "maxphysaddr"] {
        if child(m, unmodelled).is_some() {
            return Err(err(
                code::CONFIG_UNSUPPORTED,
                domain::CAPABILITIES,
                format!(
                    "<{unmodelled}> in the host-model CPU of domain capabilities is not \
                     supported by rvirt yet"
                ),
            ));
        }
    }
    let mut h = HostModelCpu::default();
    if let Some(model) = child(m, "model") {
        let name = text_content(model);
        h.model = (!name.is_empty()).then_some(name);
        if let Some(f) = model.attribute("fallback") {
            h.fallback = CpuFallback::parse(f).ok_or_else(|| {
                err(
                    code::CONFIG_UNSUPPORTED,
                    domain::CPU,
                    "Invalid fallback attribute",
                )
            })?;
        }
        if let Some(v) = model.attribute("vendor_id") {
            if v.len() != 12 {
                return Err(err(
                    code::XML_ERROR,
                    domain::CPU,
                    "vendor_id must be exactly 12 characters long",
                ));
            }
            h.vendor_id = Some(v.to_string());
        }
    }
    h.vendor = xpath_text(m, &["vendor"]);
    if h.vendor.is_some() && h.model.is_none() {
        return Err(err(
            code::XML_ERROR,
            domain::CPU,
            "CPU vendor specified without CPU model",
        ));
    }
    for f in children(m, "feature") {
        let policy = match f.attribute("policy") {
            None => CpuFeaturePolicy::Require,
            Some(p) => CpuFeaturePolicy::parse(p).ok_or_else(|| {
                err(
                    code::XML_ERROR,
                    domain::CPU,
                    format!("Invalid CPU feature policy '{p}'"),
                )
            })?,
        };
        let name = f
            .attribute("name")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| err(code::XML_ERROR, domain::CPU, "Invalid CPU feature name"))?;
        if h.features.iter().any(|x| x.name == name) {
            return Err(err(
                code::XML_ERROR,
                domain::CPU,
                format!("CPU feature '{name}' specified more than once"),
            ));
        }
        h.features.push(CpuFeature {
            name: name.to_string(),
            policy,
        });
    }
    Ok(h)
}

fn parse_custom(m: Node) -> Result<Vec<CustomCpuModel>> {
    let mut out = Vec::new();
    for model in children(m, "model") {
        let usable = match model.attribute("usable") {
            None => {
                return Err(err(
                    code::XML_ERROR,
                    domain::XML,
                    "Missing required attribute 'usable' in element 'model'",
                ))
            }
            Some(u) => CpuUsable::parse(u).ok_or_else(|| {
                err(
                    code::XML_ERROR,
                    domain::XML,
                    format!("Invalid value for attribute 'usable' in element 'model': '{u}'."),
                )
            })?,
        };
        let deprecated = prop_tristate_bool(Some(model), "deprecated")? == Tristate::Yes;
        let vendor = match model.attribute("vendor") {
            None => {
                return Err(err(
                    code::XML_ERROR,
                    domain::XML,
                    "Missing required attribute 'vendor' in element 'model'",
                ))
            }
            Some("unknown") => None,
            Some(v) => Some(v.to_string()),
        };
        let name = text_content(model);
        if name.is_empty() {
            return Err(invalid("a CPU model of <mode name='custom'> has no name"));
        }
        out.push(CustomCpuModel {
            name,
            usable,
            deprecated,
            vendor,
        });
    }
    Ok(out)
}

fn parse_devices(d: Node) -> Result<Devices> {
    Ok(Devices {
        disk: support(d, "disk", |n| {
            check_enums(n, "disk", &["diskDevice", "bus", "model"])?;
            Ok(Disk {
                disk_device: get_enum(n, "disk", "diskDevice")?,
                bus: get_enum(n, "disk", "bus")?,
                model: get_enum(n, "disk", "model")?,
            })
        })?,
        graphics: support(d, "graphics", |n| {
            check_enums(n, "graphics", &["type"])?;
            Ok(Graphics {
                type_: get_enum(n, "graphics", "type")?,
            })
        })?,
        video: support(d, "video", |n| {
            check_enums(n, "video", &["modelType"])?;
            Ok(Video {
                model_type: get_enum(n, "video", "modelType")?,
            })
        })?,
        hostdev: support(d, "hostdev", |n| {
            check_enums(
                n,
                "hostdev",
                &[
                    "mode",
                    "startupPolicy",
                    "subsysType",
                    "capsType",
                    "pciBackend",
                ],
            )?;
            Ok(Hostdev {
                mode: get_enum(n, "hostdev", "mode")?,
                startup_policy: get_enum(n, "hostdev", "startupPolicy")?,
                subsys_type: get_enum(n, "hostdev", "subsysType")?,
                caps_type: get_enum(n, "hostdev", "capsType")?,
                pci_backend: get_enum(n, "hostdev", "pciBackend")?,
            })
        })?,
        rng: support(d, "rng", |n| {
            check_enums(n, "rng", &["model", "backendModel"])?;
            Ok(Rng {
                model: get_enum(n, "rng", "model")?,
                backend_model: get_enum(n, "rng", "backendModel")?,
            })
        })?,
        filesystem: support(d, "filesystem", |n| {
            check_enums(n, "filesystem", &["driverType"])?;
            Ok(Filesystem {
                driver_type: get_enum(n, "filesystem", "driverType")?,
            })
        })?,
        tpm: support(d, "tpm", |n| {
            check_enums(n, "tpm", &["model", "backendModel", "backendVersion"])?;
            Ok(Tpm {
                model: get_enum(n, "tpm", "model")?,
                backend_model: get_enum(n, "tpm", "backendModel")?,
                backend_version: get_enum(n, "tpm", "backendVersion")?,
            })
        })?,
        redirdev: support(d, "redirdev", |n| {
            check_enums(n, "redirdev", &["bus"])?;
            Ok(Redirdev {
                bus: get_enum(n, "redirdev", "bus")?,
            })
        })?,
        channel: support(d, "channel", |n| {
            check_enums(n, "channel", &["type"])?;
            Ok(Channel {
                type_: get_enum(n, "channel", "type")?,
            })
        })?,
    })
}

fn parse_features(f: Node) -> Result<Features> {
    Ok(Features {
        gic: support(f, "gic", |n| {
            check_enums(n, "gic", &["version"])?;
            Ok(Gic {
                version: get_enum(n, "gic", "version")?,
            })
        })?,
        vmcoreinfo: simple(f, "vmcoreinfo")?,
        genid: simple(f, "genid")?,
        backing_store_input: simple(f, "backingStoreInput")?,
        backup: simple(f, "backup")?,
        s390_pv: simple(f, "s390-pv")?,
        sev: support(f, "sev", parse_sev)?.supported().cloned(),
        sgx: support(f, "sgx", parse_sgx)?.supported().cloned(),
        hyperv: support(f, "hyperv", |n| {
            check_enums(n, "hyperv", &["features"])?;
            Ok(Hyperv {
                features: get_enum(n, "hyperv", "features")?,
            })
        })?,
    })
}

/// The text of the required child `name` of `<parent>`.
fn required_text(n: Node, parent: &str, name: &str) -> Result<String> {
    child(n, name)
        .map(text_content)
        .ok_or_else(|| invalid(format!("missing <{name}> in <{parent} supported='yes'>")))
}

fn number<T>(s: &str, what: &str, conv: impl Fn(&str, u32) -> Option<T>) -> Result<T> {
    conv(s, 10).ok_or_else(|| {
        invalid(format!(
            "invalid value '{s}' of {what}: expected a non-negative integer"
        ))
    })
}

fn parse_sev(n: Node) -> Result<Sev> {
    let u = |name: &str| -> Result<u32> {
        let t = required_text(n, "sev", name)?;
        number(&t, &format!("<{name}> in <sev>"), str_to_u32_pos)
    };
    Ok(Sev {
        cbitpos: u("cbitpos")?,
        reduced_phys_bits: u("reducedPhysBits")?,
        max_guests: u("maxGuests")?,
        max_es_guests: u("maxESGuests")?,
        cpu0_id: xpath_text(n, &["cpu0Id"]),
    })
}

/// A `unit=` that must be KiB (the only unit libvirt prints here); absent means KiB.
fn kib_unit(n: Node, what: &str) -> Result<()> {
    match n.attribute("unit") {
        None | Some("KiB") => Ok(()),
        Some(u) => Err(invalid(format!(
            "unsupported unit '{u}' of {what}: expected 'KiB'"
        ))),
    }
}

fn parse_sgx(n: Node) -> Result<Sgx> {
    let yes_no = |name: &str| -> Result<bool> {
        match required_text(n, "sgx", name)?.as_str() {
            "yes" => Ok(true),
            "no" => Ok(false),
            v => Err(invalid(format!(
                "invalid value '{v}' of <{name}> in <sgx>: expected 'yes' or 'no'"
            ))),
        }
    };
    let (flc, sgx1, sgx2) = (yes_no("flc")?, yes_no("sgx1")?, yes_no("sgx2")?);
    let size_node = child(n, "section_size")
        .ok_or_else(|| invalid("missing <section_size> in <sgx supported='yes'>"))?;
    kib_unit(size_node, "<section_size>")?;
    let section_size_kib = number(
        &text_content(size_node),
        "<section_size> in <sgx>",
        str_to_u64_pos,
    )?;
    let mut sections = Vec::new();
    if let Some(secs) = child(n, "sections") {
        for s in children(secs, "section") {
            kib_unit(s, "<section>")?;
            let node = prop_uint(Some(s), "node", 10, true, false)?.unwrap_or(0);
            let size = s.attribute("size").ok_or_else(|| {
                err(
                    code::XML_ERROR,
                    domain::XML,
                    "Missing required attribute 'size' in element 'section'",
                )
            })?;
            let size_kib = number(size, "attribute 'size' of <section>", str_to_u64_pos)?;
            sections.push(SgxSection { node, size_kib });
        }
    }
    Ok(Sgx {
        flc,
        sgx1,
        sgx2,
        section_size_kib,
        sections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "<domainCapabilities>
  <path>/bin/emulatorbin</path>
  <domain>kvm</domain>
  <machine>my-machine-type</machine>
  <arch>x86_64</arch>
  <cpu>
    <mode name='host-passthrough' supported='no'/>
    <mode name='maximum' supported='no'/>
    <mode name='host-model' supported='no'/>
    <mode name='custom' supported='no'/>
  </cpu>
  <devices>
  </devices>
  <features>
    <sev supported='no'/>
    <sgx supported='no'/>
  </features>
</domainCapabilities>
";

    #[test]
    fn new_formats_like_libvirts_empty_caps() {
        let c = DomainCaps::new(
            "/bin/emulatorbin",
            VirtType::Kvm,
            Some("my-machine-type"),
            Arch::X86_64,
        );
        assert_eq!(c.format(), MINIMAL);
        assert_eq!(DomainCaps::parse(MINIMAL).unwrap(), c);
    }

    #[test]
    fn enums_print_in_libvirt_order_once() {
        let mut c = DomainCaps::new("/e", VirtType::Qemu, None, Arch::Aarch64);
        c.devices.disk = Support::Yes(Disk {
            bus: report(&[DiskBus::Sata, DiskBus::Ide, DiskBus::Sata]),
            model: Some(CapsEnum::default()),
            ..Default::default()
        });
        let x = c.format();
        assert!(x.contains(
            "    <disk supported='yes'>\n      <enum name='bus'>\n        <value>ide</value>\n        <value>sata</value>\n      </enum>\n      <enum name='model'/>\n    </disk>\n"
        ));
        let back = DomainCaps::parse(&x).unwrap();
        assert_eq!(back.format(), x);
    }

    #[test]
    fn errors_name_the_element() {
        let bad_value = MINIMAL.replace(
            "<devices>\n",
            "<devices>\n<disk supported='yes'><enum name='bus'><value>floppy</value></enum></disk>",
        );
        let e = DomainCaps::parse(&bad_value).unwrap_err();
        assert_eq!(e.code(), code::XML_ERROR);
        assert_eq!(e.domain(), domain::CAPABILITIES);
        assert_eq!(
            e.message(),
            "XML error: unknown value 'floppy' in enum 'bus' of <disk>"
        );
        let bad_enum = MINIMAL.replace(
            "<devices>\n",
            "<devices>\n<rng supported='yes'><enum name='type'/></rng>",
        );
        assert_eq!(
            DomainCaps::parse(&bad_enum).unwrap_err().message(),
            "XML error: unknown enum 'type' in <rng>; expected 'model', 'backendModel'"
        );
        let no_with_content = MINIMAL.replace(
            "<devices>\n",
            "<devices>\n<video supported='no'><enum name='modelType'/></video>",
        );
        assert_eq!(
            DomainCaps::parse(&no_with_content).unwrap_err().message(),
            "XML error: <video supported='no'> must be empty, found <enum>"
        );
        let missing = MINIMAL.replace(
            "<mode name='maximum' supported='no'/>",
            "<mode name='maximum'/>",
        );
        let e = DomainCaps::parse(&missing).unwrap_err();
        assert_eq!(e.domain(), domain::XML);
        assert_eq!(
            e.message(),
            "XML error: Missing required attribute 'supported' in element 'mode'"
        );
        let arch = MINIMAL.replace("x86_64", "pdp11");
        assert_eq!(
            DomainCaps::parse(&arch).unwrap_err().message(),
            "XML error: unknown architecture 'pdp11' in <arch>"
        );
        let root = DomainCaps::parse("<capabilities/>").unwrap_err();
        assert_eq!(
            root.message(),
            "XML error: expecting root element of 'domainCapabilities', not 'capabilities'"
        );
        let sev = MINIMAL.replace(
            "<sev supported='no'/>",
            "<sev supported='yes'><cbitpos>47</cbitpos></sev>",
        );
        assert_eq!(
            DomainCaps::parse(&sev).unwrap_err().message(),
            "XML error: missing <reducedPhysBits> in <sev supported='yes'>"
        );
    }

    #[test]
    fn strings_are_escaped_and_read_back() {
        let mut c = DomainCaps::new("/a&b", VirtType::Kvm, Some("m<1>"), Arch::X86_64);
        c.cpu.custom.push(CustomCpuModel {
            name: "we'ird\r".into(),
            usable: CpuUsable::Unknown,
            deprecated: true,
            vendor: Some("V\n\"x\"".into()),
        });
        c.cpu.host_model = Some(HostModelCpu {
            model: Some("EPYC".into()),
            fallback: CpuFallback::Forbid,
            vendor: Some("AMD".into()),
            features: vec![CpuFeature {
                name: "x2apic".into(),
                policy: CpuFeaturePolicy::Disable,
            }],
            ..Default::default()
        });
        let x = c.format();
        assert!(x.contains("<path>/a&amp;b</path>"));
        assert!(x.contains(
            "<model usable='unknown' deprecated='yes' vendor='V&#10;&quot;x&quot;'>we&apos;ird&#13;</model>"
        ));
        assert!(x.contains(
            "    <mode name='host-model' supported='yes'>\n      <model fallback='forbid'>EPYC</model>\n      <vendor>AMD</vendor>\n      <feature policy='disable' name='x2apic'/>\n    </mode>\n"
        ));
        assert_eq!(DomainCaps::parse(&x).unwrap(), c);
    }
}
