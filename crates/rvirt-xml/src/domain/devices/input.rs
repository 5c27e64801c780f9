//! `<input>` (`virDomainInputDefParseXML`, `virDomainInputDefFormat`).

use super::super::buf::Buf;
use super::super::xml::{
    child, internal, on_off, prop, prop_enum, prop_on_off, unsupported, xml_enum, xml_error, Node,
    Result, XmlEnum,
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

xml_enum! {
    /// `virDomainInputSourceGrab`.
    pub enum InputGrab { Default = "default", All = "all" }
}

xml_enum! {
    /// `virDomainInputSourceGrabToggle`.
    pub enum InputGrabToggle {
        Default = "default", CtrlCtrl = "ctrl-ctrl", AltAlt = "alt-alt",
        ShiftShift = "shift-shift", MetaMeta = "meta-meta", ScrollLock = "scrolllock",
        CtrlScrollLock = "ctrl-scrolllock",
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
    /// `<source evdev=…>` (passthrough) or `<source dev=…>` (evdev), sanitized.
    pub evdev: Option<String>,
    /// evdev `<source grab=…>`.
    pub grab: Option<InputGrab>,
    /// evdev `<source grabToggle=…>`.
    pub grab_toggle: Option<InputGrabToggle>,
    /// evdev `<source repeat=…>`.
    pub repeat: Option<bool>,
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
                } else if type_ == InputType::Evdev {
                    InputBus::None
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
    let (mut evdev, mut grab, mut grab_toggle, mut repeat) = (None, None, None, None);
    if let Some(s) = child(n, "source") {
        evdev = match type_ {
            InputType::Passthrough => prop(&s, "evdev"),
            InputType::Evdev => prop(&s, "dev"),
            _ => None,
        }
        .map(|p| crate::conf::sanitize_path(&p));
        if matches!(type_, InputType::Passthrough | InputType::Evdev) && evdev.is_none() {
            return Err(xml_error("Missing evdev path for input device"));
        }
        if type_ == InputType::Evdev {
            grab = prop_enum(&s, "grab", true)?;
            grab_toggle = prop_enum(&s, "grabToggle", true)?;
            repeat = prop_on_off(&s, "repeat")?;
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
        grab,
        grab_toggle,
        repeat,
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
    if i.type_ == InputType::Evdev {
        sa.esc(" dev='%s'", i.evdev.as_deref());
    } else {
        sa.esc(" evdev='%s'", i.evdev.as_deref());
    }
    if let Some(g) = i.grab {
        sa.add(&format!(" grab='{}'", g.as_str()));
    }
    if let Some(g) = i.grab_toggle {
        sa.add(&format!(" grabToggle='{}'", g.as_str()));
    }
    if let Some(r) = i.repeat {
        sa.add(&format!(" repeat='{}'", on_off(r)));
    }
    k.element("source", sa, Buf::new());
    format_info(&mut k, &i.info, false);
    b.element("input", attrs, k);
}
