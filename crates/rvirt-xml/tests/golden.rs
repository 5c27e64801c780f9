//! Golden tests: each `tests/data/<kind>/<case>.in.xml` is parsed and formatted the way
//! libvirt's test driver does on define + dumpxml, and compared byte for byte with
//! `<case>.out.xml`, or, for documents libvirt refuses, with `<case>.err` ("CODE DOMAIN
//! MESSAGE"). The expected files come from Debian's libvirtd 9.0 (`tests/data/generate.sh`).
//! Every expected output must also be a fixed point of parse + format.

use rvirt_xml::network::NetworkDef;
use rvirt_xml::storage::{PoolDef, PoolType, VolDef};
use rvirt_xml::XmlError;
use std::path::PathBuf;

fn data(kind: &str, case: &str, ext: &str) -> Option<String> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(kind)
        .join(format!("{case}.{ext}"));
    std::fs::read_to_string(p).ok()
}

/// What libvirt's test driver fills in when it defines a pool: 100 GiB, nothing allocated.
fn as_test_driver_pool(mut p: PoolDef) -> PoolDef {
    p.capacity = 100 << 30;
    p.allocation = 0;
    p.available = 100 << 30;
    p
}

/// The pool a volume case is created in (see generate.py): its type and target path.
fn vol_pool(case: &str) -> (PoolType, &'static str) {
    match case.split('-').next() {
        Some("logical") => (PoolType::Logical, "/dev/goldvg"),
        Some("disk") => (PoolType::Disk, "/dev"),
        _ => (PoolType::Dir, "/default-pool"),
    }
}

/// What libvirt's test driver does with a new volume: key and path under the pool's target.
fn as_test_driver_vol(mut v: VolDef, pool_path: &str) -> VolDef {
    let path = format!("{pool_path}/{}", v.name);
    v.target.path = Some(path.clone());
    v.key = Some(path);
    v
}

fn render(kind: &str, case: &str, xml: &str) -> Result<String, XmlError> {
    match kind {
        "network" => NetworkDef::parse(xml).map(|d| d.format(false)),
        "pool" => PoolDef::parse(xml).map(|d| as_test_driver_pool(d).format()),
        _ => {
            let (t, path) = vol_pool(case);
            VolDef::parse(t, xml).map(|v| as_test_driver_vol(v, path).format(t))
        }
    }
}

fn check(kind: &str, case: &str) {
    let input = data(kind, case, "in.xml").expect("input file");
    let got = render(kind, case, &input);
    match (data(kind, case, "out.xml"), data(kind, case, "err")) {
        (Some(want), None) => {
            let got = got.unwrap_or_else(|e| panic!("{kind}/{case}: {}", e.message()));
            assert_eq!(got, want, "{kind}/{case}");
            let again = render(kind, case, &got).expect("expected output parses");
            assert_eq!(
                again, want,
                "{kind}/{case}: formatting is not a fixed point"
            );
        }
        (None, Some(want)) => {
            let e = got.expect_err(&format!("{kind}/{case} must be refused"));
            assert_eq!(
                format!("{} {} {}\n", e.code(), e.domain(), e.message()),
                want,
                "{kind}/{case}"
            );
        }
        _ => panic!("{kind}/{case}: need exactly one of .out.xml and .err"),
    }
}

macro_rules! golden {
    ($kind:literal: $($name:ident = $case:literal),* $(,)?) => {
        $( #[test] fn $name() { check($kind, $case); } )*
    };
}

mod network {
    use super::check;
    golden! { "network":
        isolated_minimal = "isolated-minimal",
        nat_default_forward = "nat-default-forward",
        nat_ports_address = "nat-ports-address",
        route_ipv6 = "route-ipv6",
        bridge_host = "bridge-host",
        bridge_interfaces = "bridge-interfaces",
        open_mtu_domain = "open-mtu-domain",
        dns_records = "dns-records",
        dns_disabled = "dns-disabled",
        portgroups = "portgroups",
        hostdev_pci = "hostdev-pci",
        passthrough_pf = "passthrough-pf",
        vlan_bandwidth_port = "vlan-bandwidth-port",
        metadata = "metadata",
        metadata_inherited_ns = "metadata-inherited-ns",
        ipv4_compat_addresses = "ipv4-compat-addresses",
        err_nat_without_ip = "err-nat-without-ip",
        err_range_outside = "err-range-outside",
        err_bridge_stp = "err-bridge-stp",
        err_malformed = "err-malformed",
        err_bad_prefix = "err-bad-prefix",
    }
}

mod pool {
    use super::check;
    golden! { "pool":
        dir_minimal = "dir-minimal",
        dir_permissions = "dir-permissions",
        fs_xfs = "fs-xfs",
        fs_default_format_mountopts = "fs-default-format-mountopts",
        netfs_nfs = "netfs-nfs",
        netfs_cifs = "netfs-cifs",
        logical_vg = "logical-vg",
        logical_name_from_source = "logical-name-from-source",
        disk_gpt = "disk-gpt",
        iscsi_initiator = "iscsi-initiator",
        rbd_ceph = "rbd-ceph",
        scsi_adapter = "scsi-adapter",
        err_missing_target = "err-missing-target",
        err_netfs_no_host = "err-netfs-no-host",
        err_bad_mode = "err-bad-mode",
        err_unknown_type = "err-unknown-type",
    }
}

mod vol {
    use super::check;
    golden! { "vol":
        dir_raw = "dir-raw",
        dir_qcow2_backing = "dir-qcow2-backing",
        dir_luks = "dir-luks",
        dir_features_empty = "dir-features-empty",
        dir_iso = "dir-iso",
        logical_lv = "logical-lv",
        disk_partition = "disk-partition",
        err_no_capacity = "err-no-capacity",
        err_bad_unit = "err-bad-unit",
        err_bad_format = "err-bad-format",
    }
}

/// Every case on disk is listed above (a new pair must get its test line).
#[test]
fn every_case_is_listed() {
    let listed = include_str!("golden.rs");
    for kind in ["network", "pool", "vol"] {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(kind);
        for e in std::fs::read_dir(dir).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            if let Some(case) = name.strip_suffix(".in.xml") {
                assert!(
                    listed.contains(&format!("\"{case}\"")),
                    "{kind}/{case} has no test line"
                );
            }
        }
    }
}
