//! IP addresses as libvirt's `virSocketAddr` handles them: parsed like glibc's numeric
//! `getaddrinfo` (so `1.2.3` and `0x7f.1` are IPv4 addresses), printed like `getnameinfo`
//! (`::1.2.3.4` keeps its dotted tail), plus the prefix, mask and range checks that network
//! definitions rely on, with libvirt's error texts.

use crate::conf::err;
use crate::XmlError;
use rvirt_proto::error::{code, domain};
use std::fmt::Write as _;

/// An IPv4 or IPv6 address (`virSocketAddr` with family `AF_INET`/`AF_INET6`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SockAddr {
    /// IPv4, network byte order.
    V4([u8; 4]),
    /// IPv6, with the zone suffix (`%eth0`) it was written with, if any.
    V6([u8; 16], Option<String>),
}

/// Which families a parse accepts (`AF_UNSPEC`, `AF_INET`, `AF_INET6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Either.
    Any,
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
}

/// glibc's `inet_aton`, whole-string: one to four parts in C notation (`0x` hex, leading `0`
/// octal), the last part filling the remaining bytes.
fn inet_aton_exact(s: &str) -> Option<[u8; 4]> {
    let mut parts: Vec<u64> = Vec::new();
    let mut rest = s;
    loop {
        let first = rest.as_bytes().first()?;
        if !first.is_ascii_digit() {
            return None;
        }
        let b = rest.as_bytes();
        let (base, mut i) = if b[0] == b'0'
            && b.len() > 2
            && (b[1] == b'x' || b[1] == b'X')
            && b[2].is_ascii_hexdigit()
        {
            (16, 2)
        } else if b[0] == b'0' {
            (8, 0)
        } else {
            (10, 0)
        };
        let start = i;
        let mut val: u64 = 0;
        while i < b.len() {
            let Some(d) = (b[i] as char).to_digit(base) else {
                break;
            };
            val = val.checked_mul(base as u64)?.checked_add(d as u64)?;
            i += 1;
        }
        if i == start && base != 8 {
            return None;
        }
        if val > 0xffff_ffff {
            return None;
        }
        rest = &rest[i..];
        if let Some(r) = rest.strip_prefix('.') {
            if parts.len() > 2 || val > 0xff {
                return None;
            }
            parts.push(val);
            rest = r;
        } else {
            if !rest.is_empty() {
                return None;
            }
            let v = match parts.len() {
                0 => val,
                1 if val <= 0xff_ffff => (parts[0] << 24) | val,
                2 if val <= 0xffff => (parts[0] << 24) | (parts[1] << 16) | val,
                3 if val <= 0xff => (parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | val,
                _ => return None,
            };
            return Some((v as u32).to_be_bytes());
        }
    }
}

impl SockAddr {
    /// `virSocketAddrParse(addr, text, family)`: reports libvirt's `VIR_ERR_SYSTEM_ERROR` with
    /// glibc's `gai_strerror` text when the text is not a numeric address of that family.
    pub fn parse(text: &str, family: Family) -> Result<SockAddr, XmlError> {
        let v4 = inet_aton_exact(text);
        let v6 = if text.contains(':') {
            let (addr, zone) = match text.split_once('%') {
                Some((a, z)) => (a, Some(z.to_string())),
                None => (text, None),
            };
            addr.parse::<std::net::Ipv6Addr>()
                .ok()
                .filter(|_| !zone.as_deref().is_some_and(str::is_empty))
                .map(|a| (a.octets(), zone))
        } else {
            None
        };
        let reason = match (family, v4, v6) {
            (Family::Any | Family::V4, Some(a), _) => return Ok(SockAddr::V4(a)),
            (Family::Any | Family::V6, _, Some((a, z))) => return Ok(SockAddr::V6(a, z)),
            (_, None, None) => "Name or service not known",
            _ => "Address family for hostname not supported",
        };
        Err(err(
            code::SYSTEM_ERROR,
            domain::NONE,
            format!("Cannot parse socket address '{text}': {reason}"),
        ))
    }

    /// Whether this is an IPv4 address.
    pub fn is_v4(&self) -> bool {
        matches!(self, SockAddr::V4(_))
    }

    /// Whether this is an IPv6 address.
    pub fn is_v6(&self) -> bool {
        matches!(self, SockAddr::V6(..))
    }

    /// The address bytes (4 or 16).
    pub fn bytes(&self) -> &[u8] {
        match self {
            SockAddr::V4(b) => b,
            SockAddr::V6(b, _) => b,
        }
    }

    /// `virSocketAddrFormat`: numeric host as `getnameinfo` prints it.
    pub fn format(&self) -> String {
        match self {
            SockAddr::V4(b) => format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]),
            SockAddr::V6(b, zone) => {
                let mut s = inet_ntop6(b);
                if let Some(z) = zone {
                    s.push('%');
                    s.push_str(z);
                }
                s
            }
        }
    }

    /// The unspecified address (`0.0.0.0` / `::`).
    pub fn is_wildcard(&self) -> bool {
        self.bytes().iter().all(|&b| b == 0)
    }

    /// The netmask of `prefix` bits in this address's family (`virSocketAddrPrefixToNetmask`).
    pub fn netmask_of(&self, prefix: u32) -> Option<SockAddr> {
        let len = self.bytes().len();
        if prefix as usize > len * 8 {
            return None;
        }
        let mut m = vec![0u8; len];
        for (i, byte) in m.iter_mut().enumerate() {
            let bits = (prefix as i64 - (i as i64) * 8).clamp(0, 8) as u32;
            *byte = if bits == 0 {
                0
            } else {
                (0xffu16 << (8 - bits)) as u8
            };
        }
        Some(match self {
            SockAddr::V4(_) => SockAddr::V4([m[0], m[1], m[2], m[3]]),
            SockAddr::V6(..) => {
                let mut a = [0u8; 16];
                a.copy_from_slice(&m);
                SockAddr::V6(a, None)
            }
        })
    }

    /// This address with `mask` applied (`virSocketAddrMask`); `None` across families.
    pub fn masked(&self, mask: &SockAddr) -> Option<SockAddr> {
        match (self, mask) {
            (SockAddr::V4(a), SockAddr::V4(m)) => Some(SockAddr::V4([
                a[0] & m[0],
                a[1] & m[1],
                a[2] & m[2],
                a[3] & m[3],
            ])),
            (SockAddr::V6(a, _), SockAddr::V6(m, _)) => {
                let mut o = [0u8; 16];
                for i in 0..16 {
                    o[i] = a[i] & m[i];
                }
                Some(SockAddr::V6(o, None))
            }
            _ => None,
        }
    }

    /// Same address bytes and family (`virSocketAddrEqual`, ports being zero here).
    pub fn same_addr(&self, other: &SockAddr) -> bool {
        self.bytes() == other.bytes() && self.is_v4() == other.is_v4()
    }

    /// Number of leading one bits of a netmask, `None` if the ones are not contiguous
    /// (`virSocketAddrGetNumNetmaskBits`).
    pub fn netmask_bits(&self) -> Option<u32> {
        let b = self.bytes();
        let mut c = 0;
        let mut seen_zero = false;
        for byte in b {
            for bit in (0..8).rev() {
                if byte & (1 << bit) != 0 {
                    if seen_zero {
                        return None;
                    }
                    c += 1;
                } else {
                    seen_zero = true;
                }
            }
        }
        Some(c)
    }
}

/// glibc's `inet_ntop` for IPv6: the longest run (at least two) of zero groups becomes `::`,
/// and an IPv4-compatible or IPv4-mapped address keeps a dotted-quad tail.
fn inet_ntop6(b: &[u8; 16]) -> String {
    let words: Vec<u16> = (0..8)
        .map(|i| u16::from_be_bytes([b[2 * i], b[2 * i + 1]]))
        .collect();
    let (mut best_base, mut best_len) = (None::<usize>, 0usize);
    let mut cur: Option<(usize, usize)> = None;
    for (i, &w) in words.iter().enumerate() {
        if w == 0 {
            cur = Some(match cur {
                Some((base, len)) => (base, len + 1),
                None => (i, 1),
            });
        } else if let Some((base, len)) = cur.take() {
            if best_base.is_none() || len > best_len {
                best_base = Some(base);
                best_len = len;
            }
        }
    }
    if let Some((base, len)) = cur {
        if best_base.is_none() || len > best_len {
            best_base = Some(base);
            best_len = len;
        }
    }
    if best_len < 2 {
        best_base = None;
    }
    let mut s = String::new();
    let mut i = 0;
    while i < 8 {
        if let Some(bb) = best_base {
            if i >= bb && i < bb + best_len {
                if i == bb {
                    s.push(':');
                }
                i += 1;
                continue;
            }
        }
        if i != 0 {
            s.push(':');
        }
        if i == 6
            && best_base == Some(0)
            && (best_len == 6 || (best_len == 5 && words[5] == 0xffff))
        {
            let _ = write!(s, "{}.{}.{}.{}", b[12], b[13], b[14], b[15]);
            return s;
        }
        let _ = write!(s, "{:x}", words[i]);
        i += 1;
    }
    if let Some(bb) = best_base {
        if bb + best_len == 8 {
            s.push(':');
        }
    }
    s
}

/// `virSocketAddrGetIPPrefix`: an explicit prefix wins, then the netmask's bits, then the
/// classful default for IPv4 (64 for IPv6). `-1` when it cannot be determined.
pub fn ip_prefix(address: Option<&SockAddr>, netmask: Option<&SockAddr>, prefix: u32) -> i64 {
    if prefix > 0 {
        return prefix as i64;
    }
    if let Some(m) = netmask {
        return m.netmask_bits().map(|b| b as i64).unwrap_or(-1);
    }
    match address {
        Some(SockAddr::V4(b)) => {
            if b.iter().all(|&x| x == 0) {
                0
            } else if b[0] & 0x80 == 0 {
                8
            } else if b[0] & 0xc0 == 0x80 {
                16
            } else if b[0] & 0xe0 == 0xc0 {
                24
            } else {
                -1
            }
        }
        Some(a @ SockAddr::V6(..)) => {
            if a.is_wildcard() {
                0
            } else {
                64
            }
        }
        None => 0,
    }
}

fn internal(detail: String) -> XmlError {
    err(code::INTERNAL_ERROR, domain::NONE, detail)
}

/// `virSocketAddrGetRange(start, end, network, prefix)`: checks a DHCP or NAT range and returns
/// its size, with libvirt's `VIR_ERR_INTERNAL_ERROR` texts.
pub fn range_size(
    start: &SockAddr,
    end: &SockAddr,
    network: Option<(&SockAddr, i64)>,
) -> Result<u64, XmlError> {
    let (s, e) = (start.format(), end.format());
    if start.is_v4() != end.is_v4() {
        return Err(internal(format!(
            "mismatch of address family in range {s} - {e}"
        )));
    }
    if let Some((net, prefix)) = network {
        let n = net.format();
        if start.is_v4() != net.is_v4() {
            return Err(internal(format!(
                "mismatch of address family in range {s} - {e} for network {n}"
            )));
        }
        let mask = (prefix >= 0)
            .then(|| net.netmask_of(prefix as u32))
            .flatten()
            .ok_or_else(|| {
                internal(format!(
                    "bad prefix {prefix} for network {n} when  checking range {s} - {e}"
                ))
            })?;
        let netaddr = net.masked(&mask).unwrap_or_else(|| net.clone());
        let inside = |a: &SockAddr| a.masked(&mask).is_some_and(|m| m.same_addr(&netaddr));
        if !inside(start) || !inside(end) {
            return Err(internal(format!(
                "range {s} - {e} is not entirely within network {n}/{prefix}"
            )));
        }
        if let (SockAddr::V4(nb), SockAddr::V4(mb)) = (net, &mask) {
            let broadcast = SockAddr::V4([
                nb[0] | !mb[0],
                nb[1] | !mb[1],
                nb[2] | !mb[2],
                nb[3] | !mb[3],
            ]);
            if start.same_addr(&netaddr) {
                return Err(internal(format!(
                    "start of range {s} - {e} in network {n}/{prefix} is the network address"
                )));
            }
            if end.same_addr(&broadcast) {
                return Err(internal(format!(
                    "end of range {s} - {e} in network {n}/{prefix} is the broadcast address"
                )));
            }
        }
    }
    match (start, end) {
        (SockAddr::V4(a), SockAddr::V4(b)) => {
            if a[0] != b[0] || a[1] != b[1] {
                return Err(internal(format!("range {s} - {e} is too large (> 65535)")));
            }
            let r = (b[2] as i64 - a[2] as i64) * 256 + (b[3] as i64 - a[3] as i64);
            if r < 0 {
                return Err(internal(format!("range {s} - {e} is reversed ")));
            }
            Ok(r as u64 + 1)
        }
        (SockAddr::V6(a, _), SockAddr::V6(b, _)) => {
            if a[..14] != b[..14] {
                return Err(internal(format!("range {s} - {e} is too large (> 65535)")));
            }
            let (x, y) = (
                u16::from_be_bytes([a[14], a[15]]) as i64,
                u16::from_be_bytes([b[14], b[15]]) as i64,
            );
            if y - x < 0 {
                return Err(internal(format!("range {s} - {e} start larger than end")));
            }
            Ok((y - x) as u64 + 1)
        }
        _ => unreachable!("families checked above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        SockAddr::parse(s, Family::Any).unwrap().format()
    }

    #[test]
    fn parses_like_glibc() {
        assert_eq!(p("1.2.3"), "1.2.0.3");
        assert_eq!(p("0x7f.1"), "127.0.0.1");
        assert_eq!(p("010.0.0.1"), "8.0.0.1");
        assert_eq!(p("4294967295"), "255.255.255.255");
        assert_eq!(p("2001:db8:0:0::1"), "2001:db8::1");
        assert_eq!(p("::1.2.3.4"), "::1.2.3.4");
        assert_eq!(p("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
        assert_eq!(p("::1"), "::1");
        assert_eq!(p("::"), "::");
        assert_eq!(p("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
        assert_eq!(p("1:0:2:0:3:0:4:0"), "1:0:2:0:3:0:4:0");
        assert_eq!(p("fe80::1%lo"), "fe80::1%lo");
        for bad in [
            "1.2.3.4 ",
            " 1.2.3.4",
            "4294967296",
            "",
            "1.2.3.256",
            "1.2.3.4.5",
            "0x",
            "08",
            "1::2::3",
        ] {
            let e = SockAddr::parse(bad, Family::Any).unwrap_err();
            assert_eq!(
                e.message(),
                format!("Cannot parse socket address '{bad}': Name or service not known")
            );
        }
        let e = SockAddr::parse("::1", Family::V4).unwrap_err();
        assert!(e
            .message()
            .ends_with("Address family for hostname not supported"));
    }

    #[test]
    fn prefixes_and_ranges() {
        let net = SockAddr::parse("192.168.122.1", Family::Any).unwrap();
        let mask = SockAddr::parse("255.255.255.0", Family::Any).unwrap();
        assert_eq!(ip_prefix(Some(&net), Some(&mask), 0), 24);
        assert_eq!(ip_prefix(Some(&net), None, 0), 24);
        let a = |s| SockAddr::parse(s, Family::Any).unwrap();
        assert_eq!(
            range_size(&a("192.168.122.2"), &a("192.168.122.254"), Some((&net, 24))).unwrap(),
            253
        );
        assert_eq!(
            range_size(&a("1.2.4.4"), &a("1.2.3.5"), Some((&a("1.2.3.4"), 24)))
                .unwrap_err()
                .message(),
            "internal error: range 1.2.4.4 - 1.2.3.5 is not entirely within network 1.2.3.4/24"
        );
        assert!(range_size(&a("192.168.122.0"), &a("192.168.122.5"), Some((&net, 24))).is_err());
        assert!(range_size(&a("192.168.122.9"), &a("192.168.122.5"), None).is_err());
    }
}
