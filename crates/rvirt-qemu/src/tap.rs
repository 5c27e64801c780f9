//! Tap devices for `<interface type='bridge'>`, made the way libvirt's
//! `virNetDevTapCreateInBridgePort` makes them: a non-persistent tap named from the `vnet%d`
//! template (or the configured `<target dev>`), its MAC the guest's with the first byte set to
//! `0xFE` (so the bridge never takes the guest's address as its own), its MTU the bridge's,
//! attached to the bridge and brought up. QEMU gets the open descriptor (`-netdev tap,fd=N`);
//! the kernel removes the device, and with it the bridge port, when the last descriptor closes,
//! so a guest that exits, crashes or is killed leaves no interface behind.
//!
//! Needs `CAP_NET_ADMIN` (a system daemon); errors carry libvirt's texts.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Why a tap device could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TapError {
    /// `/dev/net/tun` could not be opened or the device not created.
    #[error("Unable to create tap device {name}: {reason}")]
    Create {
        /// The requested name or template.
        name: String,
        /// strerror text.
        reason: String,
    },
    /// A setting of the new device failed.
    #[error("Cannot {what} of '{ifname}': {reason}")]
    Configure {
        /// What was being done ("set interface MAC", "set interface MTU", "set interface flags").
        what: &'static str,
        /// The device.
        ifname: String,
        /// strerror text.
        reason: String,
    },
    /// The bridge refused the port (missing bridge, not a bridge, …).
    #[error("Unable to add bridge {bridge} port {ifname}: {reason}")]
    AddPort {
        /// The bridge.
        bridge: String,
        /// The tap.
        ifname: String,
        /// strerror text.
        reason: String,
    },
    /// A name that cannot be an interface name.
    #[error("invalid interface name '{0}': use at most 15 characters, no '/' or spaces")]
    BadName(String),
}

impl From<TapError> for rvirt::Error {
    fn from(e: TapError) -> Self {
        use rvirt::error::{code, domain};
        let code = match e {
            TapError::BadName(_) => code::CONFIG_UNSUPPORTED,
            _ => code::SYSTEM_ERROR,
        };
        rvirt::Error::new(code, domain::NONE, e.to_string())
    }
}

/// A tap device attached to a bridge; the device lives as long as this descriptor (and the
/// copy QEMU inherits).
#[derive(Debug)]
pub struct Tap {
    /// The device's name as the kernel chose it (`vnet0`, …).
    pub name: String,
    /// The open `/dev/net/tun` queue.
    pub fd: OwnedFd,
}

const IFNAMSIZ: usize = 16;
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
const SIOCBRADDIF: libc::c_ulong = 0x89a2;

/// `struct ifreq` with the union members we use.
#[repr(C)]
#[derive(Clone, Copy)]
struct IfReq {
    name: [u8; IFNAMSIZ],
    data: IfReqData,
}

#[repr(C)]
#[derive(Clone, Copy)]
union IfReqData {
    flags: libc::c_short,
    ifindex: libc::c_int,
    mtu: libc::c_int,
    hwaddr: libc::sockaddr,
    _pad: [u8; 24],
}

impl IfReq {
    fn new(name: &str) -> Result<IfReq, TapError> {
        if name.is_empty()
            || name.len() >= IFNAMSIZ
            || name
                .bytes()
                .any(|b| b == b'/' || b.is_ascii_whitespace() || b == 0)
        {
            return Err(TapError::BadName(name.to_string()));
        }
        let mut r = IfReq {
            name: [0; IFNAMSIZ],
            data: IfReqData { _pad: [0; 24] },
        };
        r.name[..name.len()].copy_from_slice(name.as_bytes());
        Ok(r)
    }

    fn name(&self) -> String {
        let end = self.name.iter().position(|&b| b == 0).unwrap_or(IFNAMSIZ);
        String::from_utf8_lossy(&self.name[..end]).into_owned()
    }
}

fn errno_text() -> String {
    let e = std::io::Error::last_os_error();
    let n = e.raw_os_error().unwrap_or(0);
    // SAFETY: strerror returns a pointer to a static or thread-local NUL-terminated string.
    unsafe { CStr::from_ptr(libc::strerror(n)) }
        .to_string_lossy()
        .into_owned()
}

/// A datagram socket for interface ioctls.
fn ctl_socket() -> Result<OwnedFd, String> {
    // SAFETY: socket() has no memory preconditions; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(errno_text());
    }
    // SAFETY: fd is a freshly created descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Runs one interface ioctl on `req`.
fn ifreq_ioctl(sock: &OwnedFd, op: libc::c_ulong, req: &mut IfReq) -> Result<(), String> {
    // SAFETY: req points to a properly sized, initialised struct ifreq for these requests.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), op as _, req as *mut IfReq) };
    if r < 0 {
        Err(errno_text())
    } else {
        Ok(())
    }
}

/// The MAC libvirt gives the host side of a guest's tap: the guest's with `0xFE` first.
pub fn host_side_mac(guest: [u8; 6]) -> [u8; 6] {
    let mut m = guest;
    m[0] = 0xfe;
    m
}

/// Creates a tap (`name`: a fixed name or a `%d` template such as `vnet%d`), gives it the
/// host-side MAC of `guest_mac` and the bridge's MTU, attaches it to `bridge` and brings it up.
/// `vnet_hdr` asks for virtio-net headers (libvirt does for virtio models).
pub fn create_in_bridge(
    name: &str,
    bridge: &str,
    guest_mac: [u8; 6],
    vnet_hdr: bool,
) -> Result<Tap, TapError> {
    let mut req = IfReq::new(name)?;
    let create_err = |reason: String| TapError::Create {
        name: name.to_string(),
        reason,
    };
    let path = c"/dev/net/tun";
    // SAFETY: a valid NUL-terminated path; the result is checked.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(create_err(errno_text()));
    }
    // SAFETY: fd is a freshly opened descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    req.data.flags = IFF_TAP | IFF_NO_PI | if vnet_hdr { IFF_VNET_HDR } else { 0 };
    ifreq_ioctl(&fd, TUNSETIFF, &mut req).map_err(create_err)?;
    let ifname = req.name();
    let sock = ctl_socket().map_err(create_err)?;
    let configure = |what: &'static str| {
        let ifname = ifname.clone();
        move |reason: String| TapError::Configure {
            what,
            ifname,
            reason,
        }
    };

    let mut r = IfReq::new(&ifname)?;
    let mac = host_side_mac(guest_mac);
    // SAFETY: writing the sockaddr member of the union we then pass to SIOCSIFHWADDR.
    unsafe {
        r.data.hwaddr.sa_family = libc::ARPHRD_ETHER;
        for (i, b) in mac.iter().enumerate() {
            r.data.hwaddr.sa_data[i] = *b as libc::c_char;
        }
    }
    ifreq_ioctl(&sock, libc::SIOCSIFHWADDR, &mut r).map_err(configure("set interface MAC"))?;

    // The bridge's MTU, so that the port does not lower it; a missing bridge is reported by
    // the attach below with libvirt's text.
    let mut b = IfReq::new(bridge)?;
    if ifreq_ioctl(&sock, libc::SIOCGIFMTU, &mut b).is_ok() {
        let mut r = IfReq::new(&ifname)?;
        // SAFETY: mtu is the member SIOCGIFMTU filled in and SIOCSIFMTU reads.
        r.data.mtu = unsafe { b.data.mtu };
        ifreq_ioctl(&sock, libc::SIOCSIFMTU, &mut r).map_err(configure("set interface MTU"))?;
    }

    let cname =
        std::ffi::CString::new(ifname.clone()).map_err(|_| TapError::BadName(ifname.clone()))?;
    // SAFETY: a valid NUL-terminated interface name.
    let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    let mut b = IfReq::new(bridge)?;
    b.data.ifindex = index as libc::c_int;
    ifreq_ioctl(&sock, SIOCBRADDIF, &mut b).map_err(|reason| TapError::AddPort {
        bridge: bridge.to_string(),
        ifname: ifname.clone(),
        reason,
    })?;

    let mut r = IfReq::new(&ifname)?;
    ifreq_ioctl(&sock, libc::SIOCGIFFLAGS, &mut r).map_err(configure("get interface flags"))?;
    // SAFETY: flags is the member SIOCGIFFLAGS filled in.
    unsafe { r.data.flags |= libc::IFF_UP as libc::c_short };
    ifreq_ioctl(&sock, libc::SIOCSIFFLAGS, &mut r).map_err(configure("set interface flags"))?;
    Ok(Tap { name: ifname, fd })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn host_side_mac_sets_fe() {
        assert_eq!(
            host_side_mac([0x52, 0x54, 0, 1, 2, 3]),
            [0xfe, 0x54, 0, 1, 2, 3]
        );
    }

    #[test]
    fn bad_names_are_refused() {
        for n in ["", "a/b", "has space", "sixteen-chars-xx"] {
            assert!(matches!(IfReq::new(n), Err(TapError::BadName(_))), "{n}");
        }
    }

    fn ip(args: &[&str]) -> String {
        let o = Command::new("ip").args(args).output().unwrap();
        assert!(
            o.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// In a private network namespace (a thread's own, so the host's interfaces are never
    /// touched): a tap joins a bridge with the host-side MAC and the bridge's MTU, is up, and
    /// disappears when its descriptor closes; a missing bridge gives libvirt's error.
    #[test]
    fn tap_joins_bridge_in_private_namespace() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root for a network namespace");
            return;
        }
        std::thread::spawn(|| {
            // SAFETY: unshare(CLONE_NEWNET) affects only this thread, which is ours alone.
            let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "{}", errno_text());
            ip(&["link", "add", "br0", "type", "bridge"]);
            ip(&["link", "set", "br0", "mtu", "1400"]);
            let tap =
                create_in_bridge("vnet%d", "br0", [0x52, 0x54, 0, 0xaa, 0xbb, 0xcc], true).unwrap();
            assert_eq!(tap.name, "vnet0");
            let link = ip(&["-o", "link", "show", "vnet0"]);
            assert!(link.contains("master br0"), "{link}");
            assert!(link.contains("mtu 1400"), "{link}");
            assert!(link.contains("fe:54:00:aa:bb:cc"), "{link}");
            assert!(link.contains(",UP"), "{link}");
            drop(tap);
            let after = ip(&["-o", "link", "show"]);
            assert!(!after.contains("vnet0"), "{after}");
            let e = create_in_bridge("vnet%d", "nosuchbr", [0x52, 0x54, 0, 0, 0, 1], false)
                .unwrap_err();
            assert_eq!(
                e.to_string(),
                "Unable to add bridge nosuchbr port vnet0: No such device"
            );
        })
        .join()
        .unwrap();
    }
}
