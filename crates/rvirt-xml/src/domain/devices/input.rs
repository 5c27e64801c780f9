//! `<input>` (`virDomainInputDefParseXML`, `virDomainInputDefFormat`).

use super::super::buf::Buf;
use super::super::xml::{
    child, internal, not_modelled, prop, unsupported, xml_enum, xml_error, Node, Result, XmlEnum,
};
use super::{format_info, parse_info, AddressType, DeviceInfo, VirtioOptions};
use crate::domain::{Arch, FormatOpts, Os, OsType, VirtType};

xml_enum! {
    /// `virDomainInputType`.
    pub enum InputType {
        Mouse = "mouse", Tablet = "tablet", Keyboard = "keyboard", Passthrough = "passthrough",
        Evdev = "evdev",
    }
}

xml_enum! {
    /// `virDomainInputBus`.
    pub enum InputBus {
        Ps2 = "ps2", Usb = "usb", Xen = "xen", Parallels = "parallels", Virtio = "virtio",
        None = "none",
    }
}

xml_enum! {
    /// `virDomainInputModel`.
    pub enum InputModel {
        Default = "default", Virtio = "virtio", VirtioTransitional = "virtio-transitional",
        VirtioNonTransitional = "virtio-non-transitional",
    }
}

/// An `<input>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// `type=`.
    pub type_: InputType,
    /// `bus=` (derived from the guest when absent).
    pub bus: InputBus,
    /// `model=`.
    pub model: Option<InputModel>,
    /// `<source evdev=…>` (passthrough).
    pub evdev: Option<String>,
    /// `<driver>` virtio options.
    pub virtio: VirtioOptions,
    /// Address and alias.
    pub info: DeviceInfo,
}

pub(super) fn parse(n: Node, os: &Os, virt: VirtType) -> Result<Input> {
    let Some(t) = prop(&n, "type") else {
        return Err(internal("missing input device type"));
    };
    let type_ = InputType::parse(&t)
        .ok_or_else(|| unsupported(format!("unknown input device type '{t}'")))?;
    if type_ == InputType::Evdev {
        return Err(not_modelled("<input type='evdev'>"));
    }
    let model = match prop(&n, "model") {
        None => None,
        Some(m) => match InputModel::parse(&m) {
            Some(x) if x != InputModel::Default => Some(x),
            _ => return Err(unsupported(format!("unknown input model '{m}'"))),
        },
    };
    let is_x86 = matches!(os.arch, Arch::I686 | Arch::X86_64 | Arch::None);
    let is_s390 = matches!(os.arch, Arch::S390 | Arch::S390x);
    let bus = match prop(&n, "bus") {
        Some(b) => InputBus::parse(&b)
            .ok_or_else(|| unsupported(format!("unknown input bus type '{b}'")))?,
        None => match os.type_ {
            OsType::Hvm => {
                if matches!(type_, InputType::Mouse | InputType::Keyboard) && is_x86 {
                    InputBus::Ps2
                } else if is_s390 || type_ == InputType::Passthrough {
                    InputBus::Virtio
                } else {
                    InputBus::Usb
                }
            }
            OsType::Xen | OsType::XenPvh => InputBus::Xen,
            _ => {
                if matches!(virt, VirtType::Vz | VirtType::Parallels) {
                    InputBus::Parallels
                } else {
                    InputBus::Ps2
                }
            }
        },
    };
    let info = parse_info(n, false)?;
    if bus == InputBus::Usb && !matches!(info.address_type(), AddressType::None | AddressType::Usb)
    {
        return Err(xml_error("Invalid address for a USB device"));
    }
    let mut evdev = None;
    if let Some(s) = child(n, "source") {
        if type_ == InputType::Passthrough {
            evdev = prop(&s, "evdev");
            if evdev.is_none() {
                return Err(xml_error("Missing evdev path for input device"));
            }
        }
    }
    let virtio = match child(n, "driver") {
        Some(d) => VirtioOptions::parse(&d)?,
        None => VirtioOptions::default(),
    };
    Ok(Input {
        type_,
        bus,
        model,
        evdev,
        virtio,
        info,
    })
}

pub(super) fn format(b: &mut Buf, i: &Input, opts: FormatOpts) {
    if opts.migratable
        && i.type_ == InputType::Keyboard
        && matches!(i.bus, InputBus::Ps2 | InputBus::Xen)
    {
        return;
    }
    let mut attrs = Buf::new();
    let mut k = b.child();
    attrs.add(&format!(" type='{}'", i.type_.as_str()));
    if i.bus != InputBus::None {
        attrs.add(&format!(" bus='{}'", i.bus.as_str()));
    }
    if let Some(m) = i.model {
        attrs.add(&format!(" model='{}'", m.as_str()));
    }
    let mut da = Buf::new();
    i.virtio.format(&mut da);
    k.element("driver", da, Buf::new());
    let mut sa = Buf::new();
    sa.esc(" evdev='%s'", i.evdev.as_deref());
    k.element("source", sa, Buf::new());
    format_info(&mut k, &i.info, false);
    b.element("input", attrs, k);
}
