//! `<controller>` (`virDomainControllerDefParseXML`, `virDomainControllerDefFormat`), their
//! ordering (`virDomainControllerInsertPreAlloced`), index assignment
//! (`virDomainAssignControllerIndexes`) and the implicit controllers libvirt adds for disks
//! and channels (`virDomainDefAddImplicitControllers`).

use super::super::buf::Buf;
use super::super::xml::{
    child, children, prop, prop_enum, prop_int, prop_on_off, prop_uint, report, select,
    unsupported, xml_enum, xml_error, Node, Result,
};
use super::disk::DiskBus;
use super::{format_info, parse_info, Address, DeviceInfo, Devices, VirtioOptions};
use crate::domain::FormatOpts;
use rvirt_proto::error::{code, domain};

xml_enum! {
    /// `virDomainControllerType`.
    pub enum ControllerType {
        Ide = "ide", Fdc = "fdc", Scsi = "scsi", Sata = "sata", VirtioSerial = "virtio-serial",
        Ccid = "ccid", Usb = "usb", Pci = "pci", Xenbus = "xenbus", Isa = "isa",
    }
}

xml_enum! {
    /// `virDomainControllerPCIModelName`.
    pub enum PciModelName {
        None = "none", PciBridge = "pci-bridge", I82801b11Bridge = "i82801b11-bridge",
        Ioh3420 = "ioh3420", X3130Upstream = "x3130-upstream",
        Xio3130Downstream = "xio3130-downstream", Pxb = "pxb", PxbPcie = "pxb-pcie",
        PcieRootPort = "pcie-root-port", SpaprPciHostBridge = "spapr-pci-host-bridge",
        PciePciBridge = "pcie-pci-bridge",
    }
}

const SCSI_MODELS: &[&str] = &[
    "auto",
    "buslogic",
    "lsilogic",
    "lsisas1068",
    "vmpvscsi",
    "ibmvscsi",
    "virtio-scsi",
    "lsisas1078",
    "virtio-transitional",
    "virtio-non-transitional",
    "ncr53c90",
    "dc390",
    "am53c974",
];
const USB_MODELS: &[&str] = &[
    "piix3-uhci",
    "piix4-uhci",
    "ehci",
    "ich9-ehci1",
    "ich9-uhci1",
    "ich9-uhci2",
    "ich9-uhci3",
    "vt82c686b-uhci",
    "pci-ohci",
    "nec-xhci",
    "qusb1",
    "qusb2",
    "qemu-xhci",
    "none",
];
const PCI_MODELS: &[&str] = &[
    "pci-root",
    "pcie-root",
    "pci-bridge",
    "dmi-to-pci-bridge",
    "pcie-to-pci-bridge",
    "pcie-root-port",
    "pcie-switch-upstream-port",
    "pcie-switch-downstream-port",
    "pci-expander-bus",
    "pcie-expander-bus",
];
const IDE_MODELS: &[&str] = &["piix3", "piix4", "ich6"];
const VIRTIO_SERIAL_MODELS: &[&str] = &["virtio", "virtio-transitional", "virtio-non-transitional"];

fn models_for(t: ControllerType) -> &'static [&'static str] {
    match t {
        ControllerType::Scsi => SCSI_MODELS,
        ControllerType::Usb => USB_MODELS,
        ControllerType::Pci => PCI_MODELS,
        ControllerType::Ide => IDE_MODELS,
        ControllerType::VirtioSerial => VIRTIO_SERIAL_MODELS,
        _ => &[],
    }
}

/// PCI controller options (`<model name>`, `<target …>`, `<pcihole64>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PciOpts {
    /// `<model name=…>`.
    pub model_name: Option<PciModelName>,
    /// `<target chassisNr>`.
    pub chassis_nr: Option<i32>,
    /// `<target chassis>`.
    pub chassis: Option<i32>,
    /// `<target port>`.
    pub port: Option<i32>,
    /// `<target busNr>`.
    pub bus_nr: Option<i32>,
    /// `<target index>`.
    pub target_index: Option<i32>,
    /// `<target hotplug>`.
    pub hotplug: Option<bool>,
    /// `<target><node>`.
    pub numa_node: Option<i32>,
    /// `<pcihole64>` in KiB.
    pub pcihole64: Option<u64>,
}

/// A `<controller>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controller {
    /// `type=` (`ide` when absent).
    pub type_: ControllerType,
    /// `index=` (assigned when absent).
    pub index: Option<i32>,
    /// `model=`.
    pub model: Option<String>,
    /// `ports=` (usb, virtio-serial).
    pub ports: Option<i32>,
    /// `vectors=` (virtio-serial).
    pub vectors: Option<i32>,
    /// `<driver queues>` (0: unset).
    pub queues: u32,
    /// `<driver cmd_per_lun>`.
    pub cmd_per_lun: u32,
    /// `<driver max_sectors>`.
    pub max_sectors: u32,
    /// `<driver ioeventfd>`.
    pub ioeventfd: Option<bool>,
    /// `<driver iothread>`.
    pub iothread: u32,
    /// Virtio options of `<driver>`.
    pub virtio: VirtioOptions,
    /// PCI options.
    pub pci: PciOpts,
    /// `maxGrantFrames=` (xenbus).
    pub max_grant_frames: Option<i32>,
    /// `maxEventChannels=` (xenbus).
    pub max_event_channels: Option<i32>,
    /// Address, alias, USB master.
    pub info: DeviceInfo,
}

impl Controller {
    /// A controller libvirt adds on its own (`virDomainDefAddController`).
    pub fn implicit(type_: ControllerType, index: i32) -> Self {
        Self {
            type_,
            index: Some(index),
            model: None,
            ports: None,
            vectors: None,
            queues: 0,
            cmd_per_lun: 0,
            max_sectors: 0,
            ioeventfd: None,
            iothread: 0,
            virtio: VirtioOptions::default(),
            pci: PciOpts::default(),
            max_grant_frames: None,
            max_event_channels: None,
            info: DeviceInfo::default(),
        }
    }

    fn is_usb2(&self) -> bool {
        self.type_ == ControllerType::Usb
            && matches!(
                self.model.as_deref(),
                Some("ich9-ehci1" | "ich9-uhci1" | "ich9-uhci2" | "ich9-uhci3")
            )
    }
}

fn parse(n: Node) -> Result<Controller> {
    let type_ = prop_enum(&n, "type", false)?.unwrap_or(ControllerType::Ide);
    let model = match prop(&n, "model") {
        None => None,
        Some(m) => {
            if !models_for(type_).contains(&m.as_str()) {
                return Err(unsupported(format!("Unknown model type '{m}'")));
            }
            Some(m)
        }
    };
    let index = prop_int(&n, "index", 10, true, false)?;
    let mut c = Controller::implicit(type_, 0);
    c.index = index;
    c.model = model;
    if let Some(d) = child(n, "driver") {
        c.queues = prop_uint(&d, "queues", 10, false)?.unwrap_or(0);
        c.cmd_per_lun = prop_uint(&d, "cmd_per_lun", 10, false)?.unwrap_or(0);
        c.max_sectors = prop_uint(&d, "max_sectors", 10, false)?.unwrap_or(0);
        c.ioeventfd = prop_on_off(&d, "ioeventfd")?;
        c.iothread = prop_uint(&d, "iothread", 10, false)?.unwrap_or(0);
        c.virtio = VirtioOptions::parse(&d)?;
    }
    let models: Vec<_> = children(n, "model").collect();
    if models.len() > 1 {
        return Err(xml_error(
            "Multiple <model> elements in controller definition not allowed",
        ));
    }
    if let (Some(m), ControllerType::Pci) = (models.first(), type_) {
        c.pci.model_name = prop_enum(m, "name", false)?;
    }
    let targets: Vec<_> = children(n, "target").collect();
    if targets.len() > 1 {
        return Err(xml_error(
            "Multiple <target> elements in controller definition not allowed",
        ));
    }
    if let (Some(t), ControllerType::Pci) = (targets.first(), type_) {
        c.pci.chassis_nr = prop_int(t, "chassisNr", 0, true, false)?;
        c.pci.chassis = prop_int(t, "chassis", 0, true, false)?;
        c.pci.port = prop_int(t, "port", 0, true, false)?;
        c.pci.bus_nr = prop_int(t, "busNr", 0, true, false)?;
        c.pci.hotplug = prop_on_off(t, "hotplug")?;
        c.pci.target_index = prop_int(t, "index", 0, true, false)?;
    }
    let numa = match super::super::xml::xstring(n, "target/node") {
        None => None,
        Some(s) => match super::super::xml::str_to_i(&s, 10) {
            Some(v) if v >= 0 => Some(v),
            _ => return Err(xml_error("invalid NUMA node in target")),
        },
    };
    if !(type_ == ControllerType::Usb && c.model.as_deref() == Some("none")) {
        c.info = parse_info(n, false)?;
    }
    let ports = prop_int(&n, "ports", 10, true, false)?;
    match type_ {
        ControllerType::VirtioSerial => {
            c.vectors = prop_int(&n, "vectors", 10, true, false)?;
            c.ports = ports;
        }
        ControllerType::Usb => {
            let master = match c.model.as_deref() {
                Some("ich9-uhci1") => Some(0),
                Some("ich9-uhci2") => Some(2),
                Some("ich9-uhci3") => Some(4),
                _ => None,
            };
            if master.is_some() && c.info.master_startport.is_none() {
                c.info.master_startport = master;
            }
            c.ports = ports;
        }
        ControllerType::Pci => {
            if matches!(c.model.as_deref(), Some("pci-root" | "pcie-root")) {
                let v = super::super::xml::xstring(n, "pcihole64");
                let u = super::super::xml::xattr(n, "pcihole64", "unit");
                if let Some(bytes) = super::super::xml::parse_scaled(
                    v,
                    u,
                    "./pcihole64",
                    1024,
                    1024u64.saturating_mul(u64::MAX),
                    false,
                )? {
                    c.pci.pcihole64 = Some(bytes.div_ceil(1024));
                }
            }
            c.pci.numa_node = numa;
        }
        ControllerType::Xenbus => {
            c.max_grant_frames = prop_int(&n, "maxGrantFrames", 10, true, false)?;
            c.max_event_channels = prop_int(&n, "maxEventChannels", 10, true, false)?;
        }
        _ => {}
    }
    Ok(c)
}

/// `virDomainDefControllersParse` with `virDomainControllerInsertPreAlloced`.
pub(super) fn parse_all(root: Node, out: &mut Vec<Controller>) -> Result<()> {
    let (mut usb_other, mut usb_none, mut usb_master) = (false, false, false);
    for n in select(root, "devices/controller") {
        let c = parse(n)?;
        if c.type_ == ControllerType::Usb {
            let is_none = c.model.as_deref() == Some("none");
            if usb_none || (is_none && usb_other) {
                return Err(report(
                    code::XML_DETAIL,
                    domain::DOMAIN,
                    "Can't add another USB controller: USB is disabled for this domain",
                ));
            }
            if is_none {
                usb_none = true;
            } else {
                usb_other = true;
            }
            if c.info.master_startport.is_none() {
                usb_master = true;
            }
        }
        insert(out, c);
    }
    if usb_other && !usb_master {
        return Err(report(
            code::XML_DETAIL,
            domain::DOMAIN,
            "No master USB controller specified",
        ));
    }
    Ok(())
}

/// `virDomainControllerInsertPreAlloced`.
fn insert(list: &mut Vec<Controller>, c: Controller) {
    let mut insert_at: Option<usize> = None;
    for i in (0..list.len()).rev() {
        let cur = &list[i];
        if cur.type_ != c.type_ {
            continue;
        }
        let Some(idx) = c.index else {
            insert_at = Some(i + 1);
            break;
        };
        let cur_idx = cur.index.unwrap_or(-1);
        // Before a later index, or (a master) before a companion with the same index.
        let companion = c.info.master_startport.is_none() && cur.info.master_startport.is_some();
        if cur_idx > idx || (companion && cur_idx == idx) {
            insert_at = Some(i);
        } else if insert_at.is_none() {
            insert_at = Some(i + 1);
        }
    }
    match insert_at {
        Some(i) => list.insert(i, c),
        None => list.push(c),
    }
}

fn find_unused_index(list: &[Controller], t: ControllerType) -> i32 {
    let mut idx = 0;
    while list.iter().any(|c| c.type_ == t && c.index == Some(idx)) {
        idx += 1;
    }
    idx
}

/// `virDomainAssignControllerIndexes`.
pub(crate) fn assign_indexes(list: &mut [Controller]) {
    for outer in 0..list.len() {
        if list[outer].index.is_some() {
            continue;
        }
        let mut prev: Option<usize> = None;
        if outer > 0 && list[outer].is_usb2() {
            let p = (0..outer)
                .rev()
                .find(|&i| list[i].type_ == ControllerType::Usb);
            if let Some(p) = p {
                if list[p].is_usb2() {
                    prev = Some(p);
                }
            }
            if let Some(p) = prev {
                let pidx = list[p].index;
                let model = list[outer].model.clone();
                if list
                    .iter()
                    .any(|c| c.type_ == ControllerType::Usb && c.index == pidx && c.model == model)
                {
                    prev = None;
                }
            }
            if let Some(p) = prev {
                list[outer].index = list[p].index;
            }
        }
        if prev.is_none() {
            let t = list[outer].type_;
            list[outer].index = Some(find_unused_index(list, t));
        }
    }
}

fn maybe_add(list: &mut Vec<Controller>, t: ControllerType, idx: i32) {
    if list.iter().any(|c| c.type_ == t && c.index == Some(idx)) {
        return;
    }
    list.push(Controller::implicit(t, idx));
}

/// `virDomainDefAddImplicitControllers`: drive controllers for disk addresses, a
/// virtio-serial controller for virtio channels and consoles.
pub(crate) fn add_implicit(d: &mut Devices) {
    for (ct, bus) in [
        (ControllerType::Scsi, DiskBus::Scsi),
        (ControllerType::Fdc, DiskBus::Fdc),
        (ControllerType::Ide, DiskBus::Ide),
        (ControllerType::Sata, DiskBus::Sata),
    ] {
        let max = d
            .disks
            .iter()
            .filter(|k| k.bus == bus)
            .filter_map(|k| match k.info.address {
                Some(Address::Drive { controller, .. }) => Some(controller as i64),
                _ => None,
            })
            .max();
        if let Some(max) = max {
            for i in 0..=max {
                maybe_add(&mut d.controllers, ct, i as i32);
            }
        }
    }
    let vs = d
        .channels
        .iter()
        .filter(|c| c.target_type == super::ChrTargetType::Virtio)
        .chain(
            d.consoles
                .iter()
                .filter(|c| c.target_type == super::ChrTargetType::Virtio),
        )
        .map(|c| match c.info.address {
            Some(Address::VirtioSerial { controller, .. }) => controller as i32,
            _ => 0,
        })
        .collect::<Vec<_>>();
    for idx in vs {
        maybe_add(&mut d.controllers, ControllerType::VirtioSerial, idx);
    }
    // virDomainDefMaybeAddSmartcardController: unaddressed cards take the next CCID slot.
    for i in 0..d.smartcards.len() {
        let idx = match d.smartcards[i].info.address {
            Some(Address::Ccid { controller, .. }) => controller as i32,
            None => {
                let max = d
                    .smartcards
                    .iter()
                    .filter_map(|s| match s.info.address {
                        Some(Address::Ccid {
                            controller: 0,
                            slot,
                        }) => Some(slot as i64),
                        _ => None,
                    })
                    .max()
                    .unwrap_or(-1);
                d.smartcards[i].info.address = Some(Address::Ccid {
                    controller: 0,
                    slot: (max + 1) as u32,
                });
                0
            }
            _ => 0,
        };
        maybe_add(&mut d.controllers, ControllerType::Ccid, idx);
    }
    super::maybe_add_hostdev_scsi_controllers(d);
}

/// `virDomainDefRejectDuplicateControllers` and the iothread check of
/// `virDomainControllerDefPostParse`.
pub(crate) fn validate(list: &[Controller]) -> Result<()> {
    for (i, c) in list.iter().enumerate() {
        if c.iothread != 0
            && !matches!(
                c.model.as_deref(),
                Some("virtio-scsi" | "virtio-transitional" | "virtio-non-transitional")
            )
        {
            return Err(xml_error(
                "'iothread' attribute only supported for virtio scsi controllers",
            ));
        }
        if c.type_ == ControllerType::Usb {
            continue;
        }
        if list[..i]
            .iter()
            .any(|o| o.type_ == c.type_ && o.index == c.index)
        {
            return Err(xml_error(format!(
                "Multiple '{}' controllers with index '{}'",
                c.type_.as_str(),
                c.index.unwrap_or(-1)
            )));
        }
    }
    Ok(())
}

pub(super) fn format(b: &mut Buf, c: &Controller, _opts: FormatOpts) {
    let mut attrs = Buf::new();
    let mut k = b.child();
    attrs.add(&format!(
        " type='{}' index='{}'",
        c.type_.as_str(),
        c.index.unwrap_or(-1)
    ));
    attrs.esc(" model='%s'", c.model.as_deref());
    match c.type_ {
        ControllerType::VirtioSerial => {
            if let Some(p) = c.ports {
                attrs.add(&format!(" ports='{p}'"));
            }
            if let Some(v) = c.vectors {
                attrs.add(&format!(" vectors='{v}'"));
            }
        }
        ControllerType::Usb => {
            if let Some(p) = c.ports {
                attrs.add(&format!(" ports='{p}'"));
            }
        }
        ControllerType::Xenbus => {
            if let Some(v) = c.max_grant_frames {
                attrs.add(&format!(" maxGrantFrames='{v}'"));
            }
            if let Some(v) = c.max_event_channels {
                attrs.add(&format!(" maxEventChannels='{v}'"));
            }
        }
        ControllerType::Pci => {
            if let Some(m) = c.pci.model_name.filter(|m| *m != PciModelName::None) {
                k.add(&format!("<model name='{}'/>\n", m.as_str()));
            }
            let mut ta = Buf::new();
            let p = &c.pci;
            if let Some(v) = p.chassis_nr {
                ta.add(&format!(" chassisNr='{v}'"));
            }
            if let Some(v) = p.chassis {
                ta.add(&format!(" chassis='{v}'"));
            }
            if let Some(v) = p.port {
                ta.add(&format!(" port='0x{v:x}'"));
            }
            if let Some(v) = p.bus_nr {
                ta.add(&format!(" busNr='{v}'"));
            }
            if let Some(v) = p.target_index {
                ta.add(&format!(" index='{v}'"));
            }
            if let Some(v) = p.hotplug {
                ta.add(&format!(" hotplug='{}'", super::super::xml::on_off(v)));
            }
            let mut tk = k.child();
            if let Some(nn) = p.numa_node {
                tk.add(&format!("<node>{nn}</node>\n"));
            }
            k.element("target", ta, tk);
        }
        _ => {}
    }
    let mut da = Buf::new();
    if c.queues != 0 {
        da.add(&format!(" queues='{}'", c.queues));
    }
    if c.cmd_per_lun != 0 {
        da.add(&format!(" cmd_per_lun='{}'", c.cmd_per_lun));
    }
    if c.max_sectors != 0 {
        da.add(&format!(" max_sectors='{}'", c.max_sectors));
    }
    if let Some(v) = c.ioeventfd {
        da.add(&format!(" ioeventfd='{}'", super::super::xml::on_off(v)));
    }
    if c.iothread != 0 {
        da.add(&format!(" iothread='{}'", c.iothread));
    }
    c.virtio.format(&mut da);
    k.element("driver", da, Buf::new());
    format_info(&mut k, &c.info, false);
    if let (ControllerType::Pci, Some(h)) = (c.type_, c.pci.pcihole64) {
        k.add(&format!("<pcihole64 unit='KiB'>{h}</pcihole64>\n"));
    }
    b.element("controller", attrs, k);
}
