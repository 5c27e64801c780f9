//! Round-trip property: for randomly generated valid network, pool and volume documents, what
//! we format parses back to the same definition and formats to the same bytes (libvirt's
//! dumpxml output is always accepted by its define). The generator is a seeded xorshift, so a
//! failure names its seed and reproduces.

use rvirt_xml::network::NetworkDef;
use rvirt_xml::storage::{PoolDef, PoolType, VolDef};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
    fn word(&mut self, special: bool) -> String {
        let plain = "abcdefghijklmnopqrstuvwxyz0123456789";
        let extra = "&<>\"' -_.";
        let len = 1 + self.below(10) as usize;
        (0..len)
            .map(|i| {
                let set = if special && i > 0 && self.chance(20) {
                    extra
                } else {
                    plain
                };
                set.as_bytes()[self.below(set.len() as u64) as usize] as char
            })
            .collect()
    }
    fn uuid(&mut self) -> String {
        let h: String = (0..32)
            .map(|_| char::from_digit(self.below(16) as u32, 16).unwrap())
            .collect();
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn random_network(r: &mut Rng) -> String {
    let mut x = String::from("<network");
    if r.chance(20) {
        x.push_str(" ipv6='yes'");
    }
    if r.chance(20) {
        x.push_str(&format!(
            " trustGuestRxFilters='{}'",
            r.pick(&["yes", "no"])
        ));
    }
    x.push('>');
    x.push_str(&format!("<name>{}</name>", esc(&r.word(true))));
    x.push_str(&format!("<uuid>{}</uuid>", r.uuid()));
    let mode = r.pick(&["", "nat", "route", "open", "bridge", "private", "vepa"]);
    let l3 = matches!(mode, "" | "nat" | "route" | "open");
    let needs_ip = matches!(mode, "nat" | "route" | "open");
    if !mode.is_empty() {
        let mut f = format!("<forward mode='{mode}'");
        if mode == "nat" && r.chance(50) {
            f.push_str(&format!(
                "><nat><port start='{}' end='65000'/></nat></forward>",
                1024 + r.below(1000)
            ));
        } else if matches!(mode, "bridge" | "private" | "vepa") && r.chance(50) {
            f.push_str("><interface dev='eth0'/><interface dev='eth1'/></forward>");
        } else {
            f.push_str("/>");
        }
        x.push_str(&f);
    }
    if l3 {
        let mut b = String::from("<bridge");
        if r.chance(70) {
            b.push_str(&format!(" name='br{}'", r.below(100)));
        }
        if r.chance(50) {
            b.push_str(&format!(
                " stp='{}' delay='{}'",
                r.pick(&["on", "off"]),
                r.below(5)
            ));
        }
        b.push_str("/>");
        x.push_str(&b);
        if r.chance(30) {
            x.push_str(&format!("<mtu size='{}'/>", 1280 + r.below(8000)));
        }
    } else if mode == "bridge" && !x.contains("<interface") {
        x.push_str("<bridge name='br0'/>");
    }
    if r.chance(40) {
        x.push_str(&format!(
            "<mac address='52:54:00:{:02x}:{:02x}:{:02x}'/>",
            r.below(256),
            r.below(256),
            r.below(256)
        ));
    }
    if r.chance(30) {
        x.push_str(&format!("<domain name='{}'/>", r.word(false)));
    }
    if l3 && r.chance(40) {
        x.push_str("<dns>");
        x.push_str(&format!(
            "<txt name='{}' value='{}'/>",
            r.word(false),
            esc(&r.word(true))
        ));
        x.push_str("<forwarder addr='8.8.4.4'/>");
        x.push_str(&format!(
            "<host ip='10.9.8.{}'><hostname>{}</hostname></host>",
            r.below(250),
            esc(&r.word(true))
        ));
        x.push_str("</dns>");
    }
    if r.chance(20) {
        x.push_str(&format!("<vlan><tag id='{}'/></vlan>", r.below(4096)));
    }
    if l3 && (needs_ip || r.chance(60)) {
        let a = r.below(200) as u8 + 10;
        let b = r.below(250) as u8;
        x.push_str(&format!("<ip address='10.{a}.{b}.1' prefix='24'>"));
        if r.chance(70) {
            x.push_str(&format!(
                "<dhcp><range start='10.{a}.{b}.{}' end='10.{a}.{b}.254'/>",
                2 + r.below(100)
            ));
            if r.chance(50) {
                x.push_str(&format!(
                    "<host mac='52:54:00:00:00:{:02x}' name='h{}' ip='10.{a}.{b}.{}'/>",
                    r.below(256),
                    r.below(10),
                    r.below(250) + 1
                ));
            }
            x.push_str("</dhcp>");
        }
        x.push_str("</ip>");
        if r.chance(40) {
            x.push_str(&format!(
                "<route address='192.168.{}.0' prefix='24' gateway='10.{a}.{b}.9'/>",
                r.below(256)
            ));
        }
        if r.chance(40) {
            x.push_str("<ip family='ipv6' address='fd00:1:2::1' prefix='64'/>");
        }
    }
    if r.chance(30) {
        x.push_str(&format!(
            "<portgroup name='pg{}'{}><bandwidth><inbound average='{}'/></bandwidth></portgroup>",
            r.below(10),
            if r.chance(50) { " default='yes'" } else { "" },
            1 + r.below(10000)
        ));
    }
    x.push_str("</network>");
    x
}

fn random_pool(r: &mut Rng) -> (String, PoolType) {
    let t = r.pick(&["dir", "fs", "netfs", "logical", "disk"]);
    let mut x = format!("<pool type='{t}'><name>{}</name>", esc(&r.word(true)));
    x.push_str(&format!("<uuid>{}</uuid>", r.uuid()));
    match t {
        "fs" => x.push_str(&format!(
            "<source><device path='/dev/vd{}'/><format type='{}'/></source>",
            r.below(9),
            r.pick(&["auto", "ext4", "xfs"])
        )),
        "netfs" => x.push_str(&format!(
            "<source><host name='{}'/><dir path='/e/{}'/><format type='{}'/></source>",
            r.word(false),
            r.word(false),
            r.pick(&["auto", "nfs", "cifs"])
        )),
        "logical" => x.push_str(&format!(
            "<source><device path='/dev/sd{}'/><name>vg{}</name></source>",
            r.below(9),
            r.below(9)
        )),
        "disk" => x.push_str(&format!(
            "<source><device path='/dev/sd{}'/><format type='{}'/></source>",
            r.below(9),
            r.pick(&["dos", "gpt"])
        )),
        _ => {}
    }
    x.push_str(&format!("<target><path>/p/{}</path>", esc(&r.word(true))));
    if r.chance(50) {
        x.push_str(&format!(
            "<permissions><mode>0{:o}</mode><owner>{}</owner><label>{}</label></permissions>",
            r.below(0o777),
            r.below(70000),
            esc(&r.word(true))
        ));
    }
    x.push_str("</target></pool>");
    let pt = PoolType::from_name(t).unwrap();
    (x, pt)
}

fn random_vol(r: &mut Rng, pt: PoolType) -> String {
    let mut x = format!("<volume><name>{}</name>", esc(&r.word(true)));
    x.push_str(&format!(
        "<capacity unit='{}'>{}</capacity>",
        r.pick(&["b", "KiB", "M", "G", "kB"]),
        r.below(1000)
    ));
    if r.chance(50) {
        x.push_str(&format!("<allocation>{}</allocation>", r.below(1 << 20)));
    }
    x.push_str("<target>");
    match pt {
        PoolType::Disk => x.push_str("<format type='linux'/>"),
        PoolType::Logical => {}
        _ => x.push_str(&format!(
            "<format type='{}'/>",
            r.pick(&["raw", "qcow2", "vmdk", "iso"])
        )),
    }
    if r.chance(40) {
        x.push_str("<permissions><mode>0600</mode><group>36</group></permissions>");
    }
    if r.chance(30) {
        x.push_str("<compat>1.1</compat><features><lazy_refcounts/></features>");
    }
    x.push_str("</target>");
    if r.chance(30) {
        x.push_str("<backingStore><path>/b/base</path></backingStore>");
    }
    x.push_str("</volume>");
    x
}

#[test]
fn networks_round_trip() {
    for seed in 1..=400u64 {
        let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let doc = random_network(&mut r);
        let def = NetworkDef::parse(&doc)
            .unwrap_or_else(|e| panic!("seed {seed}: {doc}\n{}", e.message()));
        let out = def.format(false);
        let back = NetworkDef::parse(&out)
            .unwrap_or_else(|e| panic!("seed {seed}: {out}\n{}", e.message()));
        assert_eq!(back, def, "seed {seed}: {out}");
        assert_eq!(back.format(false), out, "seed {seed}");
    }
}

#[test]
fn pools_and_volumes_round_trip() {
    for seed in 1..=400u64 {
        let mut r = Rng(seed.wrapping_mul(0xd1b5_4a32_d192_ed03) | 1);
        let (doc, pt) = random_pool(&mut r);
        let def =
            PoolDef::parse(&doc).unwrap_or_else(|e| panic!("seed {seed}: {doc}\n{}", e.message()));
        let out = def.format();
        let back = PoolDef::parse(&out).unwrap();
        assert_eq!(back, def, "seed {seed}: {out}");
        assert_eq!(back.format(), out, "seed {seed}");

        let vdoc = random_vol(&mut r, pt);
        let v = VolDef::parse(pt, &vdoc)
            .unwrap_or_else(|e| panic!("seed {seed}: {vdoc}\n{}", e.message()));
        let vout = v.format(pt);
        let vback = VolDef::parse(pt, &vout)
            .unwrap_or_else(|e| panic!("seed {seed}: {vout}\n{}", e.message()));
        // Output states sizes in bytes and always lists the allocation.
        let mut expect = v.clone();
        expect.has_allocation = true;
        assert_eq!(vback, expect, "seed {seed}: {vout}");
        assert_eq!(vback.format(pt), vout, "seed {seed}");
    }
}
