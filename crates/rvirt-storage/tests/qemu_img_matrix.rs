//! Chain resolution on images made by the real qemu-img at test time. Each case states what
//! libvirt 9.0 decides (from `virStorageSourceGetMetadataRecurse` and the expectations in its
//! `tests/virstoragetestdata/out/`), and asserts the same accept/reject, chain shape and text.

mod common;

use std::os::unix::fs::symlink;

use common::*;
use rvirt_storage::chain::{resolve_chain_with, Options, XmlBacking, XmlLayer};
use rvirt_storage::inspect::EncryptionFormat;
use rvirt_storage::{
    inspect_file, resolve_chain, AccessIds, ChainEnd, Error, Format, FormatOrigin, Source,
};

fn opts() -> Options {
    Options {
        ids: AccessIds { uid: 107, gid: 108 },
        ..Options::default()
    }
}

fn shape(c: &rvirt_storage::Chain) -> Vec<(String, Format, FormatOrigin)> {
    c.layers
        .iter()
        .map(|l| (l.source.display(), l.format, l.origin))
        .collect()
}

#[test]
fn qcow2_qcow2_raw_recorded() {
    let d = TempDir::new("rec");
    create(&d.0, "raw", "base.raw", None, Some("1M"));
    create(
        &d.0,
        "qcow2",
        "mid.qcow2",
        Some(("base.raw", "raw")),
        Some("2M"),
    );
    create(
        &d.0,
        "qcow2",
        &abs(&d.path("top.qcow2")),
        Some((&abs(&d.path("mid.qcow2")), "qcow2")),
        None,
    );
    let c = resolve_chain(&d.path("top.qcow2"), Some(Format::Qcow2), None).unwrap();
    assert_eq!(
        shape(&c),
        vec![
            (
                abs(&d.path("top.qcow2")),
                Format::Qcow2,
                FormatOrigin::Config
            ),
            (
                abs(&d.path("mid.qcow2")),
                Format::Qcow2,
                FormatOrigin::Recorded
            ),
            (
                abs(&d.path("base.raw")),
                Format::Raw,
                FormatOrigin::Recorded
            ),
        ]
    );
    assert_eq!(c.end, ChainEnd::Complete);
    assert_eq!(c.layers[1].capacity(), Some(2 << 20));
    assert_eq!(c.layers[1].rel_path, None, "absolute name");
    assert_eq!(c.layers[2].rel_path.as_deref(), Some("base.raw"));
    assert_eq!(c.layers[2].capacity(), None, "raw has no header capacity");
    assert_eq!(c.layers[2].file_size, Some(1 << 20));
}

#[test]
fn unrecorded_backing_with_its_own_backing_is_refused() {
    // libvirt: qcow2-qcow2_qcow2-auto_qcow2-auto → EXP_FAIL.
    let d = TempDir::new("unrec");
    create(&d.0, "qcow2", "base.qcow2", None, Some("1M"));
    create(
        &d.0,
        "qcow2",
        "mid.qcow2",
        Some(("base.qcow2", "qcow2")),
        None,
    );
    create(
        &d.0,
        "qcow2",
        "top.qcow2",
        Some(("mid.qcow2", "qcow2")),
        None,
    );
    unrecord_backing_format(&d.path("top.qcow2"));
    let e = resolve_chain(&d.path("top.qcow2"), Some(Format::Qcow2), None).unwrap_err();
    assert_eq!(e.code(), rvirt_proto::error::code::OPERATION_INVALID);
    assert_eq!(
        e.to_string(),
        format!(
            "format of backing image 'mid.qcow2' of image '{}' was not specified in the image \
             metadata (See https://libvirt.org/kbase/backing_chains.html for troubleshooting)",
            abs(&d.path("top.qcow2"))
        )
    );
    // One level down: top(recorded) → mid(unrecorded, has backing) names mid as the overlay.
    create(
        &d.0,
        "qcow2",
        "top2.qcow2",
        Some(("top.qcow2", "qcow2")),
        None,
    );
    let e = resolve_chain(&d.path("top2.qcow2"), Some(Format::Qcow2), None).unwrap_err();
    assert!(
        matches!(&e, Error::BackingFormatUnrecorded { backing, image }
        if backing == "mid.qcow2" && *image == abs(&d.path("top.qcow2"))),
        "{e}"
    );
}

#[test]
fn unrecorded_backing_without_backing_is_probed() {
    // libvirt: qcow2-qcow2_qcow2-auto and qcow2-qcow2_qcow2-qcow2_raw-auto → EXP_PASS.
    let d = TempDir::new("probe");
    create(&d.0, "qcow2", "base.qcow2", None, Some("3M"));
    create(
        &d.0,
        "qcow2",
        "top.qcow2",
        Some(("base.qcow2", "qcow2")),
        None,
    );
    unrecord_backing_format(&d.path("top.qcow2"));
    let c = resolve_chain(&d.path("top.qcow2"), Some(Format::Qcow2), None).unwrap();
    assert_eq!(c.layers.len(), 2);
    assert_eq!(
        (c.layers[1].format, c.layers[1].origin),
        (Format::Qcow2, FormatOrigin::Probed)
    );
    assert_eq!(c.layers[1].capacity(), Some(3 << 20));

    create(&d.0, "raw", "base.raw", None, Some("1M"));
    create(&d.0, "qcow2", "mid.qcow2", Some(("base.raw", "raw")), None);
    unrecord_backing_format(&d.path("mid.qcow2"));
    create(
        &d.0,
        "qcow2",
        "top3.qcow2",
        Some(("mid.qcow2", "qcow2")),
        None,
    );
    let c = resolve_chain(&d.path("top3.qcow2"), Some(Format::Qcow2), None).unwrap();
    let origins: Vec<_> = c.layers.iter().map(|l| (l.format, l.origin)).collect();
    assert_eq!(
        origins,
        vec![
            (Format::Qcow2, FormatOrigin::Config),
            (Format::Qcow2, FormatOrigin::Recorded),
            (Format::Raw, FormatOrigin::Probed)
        ]
    );
}

#[test]
fn raw_disk_with_a_qcow2_header_never_opens_its_backing() {
    // The founding attack: a guest writes a qcow2 header naming /etc/shadow into its raw disk.
    let d = TempDir::new("shadow");
    create(
        &d.0,
        "qcow2",
        "evil.img",
        Some(("/etc/shadow", "raw")),
        None,
    );
    create(
        &d.0,
        "qcow2",
        "evil2.img",
        Some((&abs(&d.path("not-there")), "raw")),
        None,
    );
    for evil in ["evil.img", "evil2.img"] {
        // As the top image without a configured format: raw, one layer, header not even read.
        let c = resolve_chain(&d.path(evil), None, None).unwrap();
        assert_eq!(c.layers.len(), 1);
        assert_eq!(
            (c.layers[0].format, c.layers[0].origin),
            (Format::Raw, FormatOrigin::Default)
        );
        assert!(c.layers[0].info.is_none());
        // A nonexistent target would be reported as "Cannot access backing file" had it been
        // touched; a success with one layer shows it was not.
    }
    // As a recorded-raw backing: read as raw, its header's backing is not seen.
    create(&d.0, "qcow2", "top.qcow2", Some(("evil2.img", "raw")), None);
    let c = resolve_chain(&d.path("top.qcow2"), Some(Format::Qcow2), None).unwrap();
    assert_eq!(c.layers.len(), 2);
    assert_eq!(c.layers[1].format, Format::Raw);
    assert!(c.layers[1].info.as_ref().unwrap().backing.is_none());
    // As an unrecorded backing: probed as qcow2 with a backing → refused, shadow never opened.
    create(&d.0, "qcow2", "top2.qcow2", Some(("evil.img", "raw")), None);
    unrecord_backing_format(&d.path("top2.qcow2"));
    let e = resolve_chain(&d.path("top2.qcow2"), Some(Format::Qcow2), None).unwrap_err();
    assert!(matches!(e, Error::BackingFormatUnrecorded { .. }), "{e}");
}

#[test]
fn unknown_recorded_format_string_is_treated_as_unrecorded() {
    let d = TempDir::new("badfmt");
    create(&d.0, "qcow2", "base.qcow2", None, Some("1M"));
    create(
        &d.0,
        "qcow2",
        "top.qcow2",
        Some(("base.qcow2", "qcow2")),
        None,
    );
    set_backing_format_string(&d.path("top.qcow2"), "qcowx");
    let info = inspect_file(&d.path("top.qcow2"), None).unwrap();
    assert_eq!(
        info.backing.as_ref().unwrap().format,
        rvirt_storage::BackingFormat::Invalid("qcowx".into())
    );
    assert_eq!(
        info.features, None,
        "libvirt stops before the features on an invalid backing"
    );
    let c = resolve_chain(&d.path("top.qcow2"), Some(Format::Qcow2), None).unwrap();
    assert_eq!(c.layers[1].origin, FormatOrigin::Probed);
    create(&d.0, "raw", "b.raw", None, Some("1M"));
    create(&d.0, "qcow2", "mid.qcow2", Some(("b.raw", "raw")), None);
    create(
        &d.0,
        "qcow2",
        "top2.qcow2",
        Some(("mid.qcow2", "qcow2")),
        None,
    );
    set_backing_format_string(&d.path("top2.qcow2"), "qcowx");
    assert!(matches!(
        resolve_chain(&d.path("top2.qcow2"), Some(Format::Qcow2), None),
        Err(Error::BackingFormatUnrecorded { .. })
    ));
}

#[test]
fn qed_no_probe_flag() {
    let d = TempDir::new("qed");
    create(&d.0, "raw", "base.raw", None, Some("1M"));
    create(&d.0, "qed", "raw.qed", Some(("base.raw", "raw")), None);
    let c = resolve_chain(&d.path("raw.qed"), Some(Format::Qed), None).unwrap();
    assert_eq!(
        (c.layers[1].format, c.layers[1].origin),
        (Format::Raw, FormatOrigin::Recorded)
    );
    // libvirt: qed-auto_raw — the same image as top with no format is raw, one layer.
    let c = resolve_chain(&d.path("raw.qed"), None, None).unwrap();
    assert_eq!(c.layers.len(), 1);

    // Without the flag (backing not raw) libvirt probes (AUTO_SAFE) and, unlike for unrecorded
    // formats, continues through a probed image that has its own backing.
    create(&d.0, "qcow2", "mid.qcow2", Some(("base.raw", "raw")), None);
    create(&d.0, "qed", "q.qed", Some(("mid.qcow2", "qcow2")), None);
    let info = inspect_file(&d.path("q.qed"), None).unwrap();
    assert_eq!(
        info.backing.unwrap().format,
        rvirt_storage::BackingFormat::AutoSafe
    );
    let c = resolve_chain(&d.path("q.qed"), Some(Format::Qed), None).unwrap();
    let origins: Vec<_> = c.layers.iter().map(|l| (l.format, l.origin)).collect();
    assert_eq!(
        origins,
        vec![
            (Format::Qed, FormatOrigin::Config),
            (Format::Qcow2, FormatOrigin::Probed),
            (Format::Raw, FormatOrigin::Recorded)
        ]
    );
}

#[test]
fn vmdk_parent_is_unrecorded() {
    let d = TempDir::new("vmdk");
    create(&d.0, "vmdk", "base.vmdk", None, Some("1M"));
    create(&d.0, "vmdk", "top.vmdk", Some(("base.vmdk", "vmdk")), None);
    let info = inspect_file(&d.path("top.vmdk"), None).unwrap();
    assert_eq!(info.format, Format::Vmdk);
    assert_eq!(info.capacity, Some(1 << 20));
    assert_eq!(info.backing.as_ref().unwrap().name, "base.vmdk");
    let c = resolve_chain(&d.path("top.vmdk"), Some(Format::Vmdk), None).unwrap();
    assert_eq!(
        (c.layers[1].format, c.layers[1].origin),
        (Format::Vmdk, FormatOrigin::Probed)
    );
    create(&d.0, "vmdk", "top2.vmdk", Some(("top.vmdk", "vmdk")), None);
    let e = resolve_chain(&d.path("top2.vmdk"), Some(Format::Vmdk), None).unwrap_err();
    assert!(matches!(e, Error::BackingFormatUnrecorded { .. }), "{e}");

    // A flat VMDK's descriptor names its extent file; probing never calls it vmdk.
    create_with_options(
        &d.0,
        "vmdk",
        None,
        "subformat=monolithicFlat",
        "flat.vmdk",
        "2M",
    );
    let info = inspect_file(&d.path("flat.vmdk"), Some(Format::Vmdk)).unwrap();
    assert_eq!(info.capacity, Some(2 << 20));
    assert_eq!(info.extents[0].file.as_deref(), Some("flat-flat.vmdk"));
    assert_eq!(
        inspect_file(&d.path("flat.vmdk"), None).unwrap().format,
        Format::Raw
    );
}

#[test]
fn other_formats() {
    let d = TempDir::new("other");
    create(&d.0, "vpc", "a.vpc", None, Some("10M"));
    create(&d.0, "vdi", "a.vdi", None, Some("4M"));
    let vpc = inspect_file(&d.path("a.vpc"), None).unwrap();
    assert_eq!(vpc.format, Format::Vpc);
    assert!(
        vpc.capacity.unwrap() >= 10 << 20,
        "vpc rounds up to its geometry"
    );
    let vdi = inspect_file(&d.path("a.vdi"), None).unwrap();
    assert_eq!((vdi.format, vdi.capacity), (Format::Vdi, Some(4 << 20)));
    // Top images of formats without backing files are not read.
    let c = resolve_chain(&d.path("a.vpc"), Some(Format::Vpc), None).unwrap();
    assert_eq!(c.layers.len(), 1);
    assert!(c.layers[0].info.is_none());
    // As recorded and as probed backings.
    create(&d.0, "qcow2", "top.qcow2", Some(("a.vdi", "vdi")), None);
    let c = resolve_chain(&d.path("top.qcow2"), Some(Format::Qcow2), None).unwrap();
    assert_eq!(
        (c.layers[1].format, c.layers[1].capacity()),
        (Format::Vdi, Some(4 << 20))
    );
    create(&d.0, "qcow2", "top2.qcow2", Some(("a.vpc", "vpc")), None);
    unrecord_backing_format(&d.path("top2.qcow2"));
    let c = resolve_chain(&d.path("top2.qcow2"), Some(Format::Qcow2), None).unwrap();
    assert_eq!(
        (c.layers[1].format, c.layers[1].origin),
        (Format::Vpc, FormatOrigin::Probed)
    );
    // A probed ISO backing is given to QEMU as raw.
    let mut iso = vec![0u8; 64 * 1024];
    iso[32769..32774].copy_from_slice(b"CD001");
    std::fs::write(d.path("a.iso"), iso).unwrap();
    create(&d.0, "qcow2", "top3.qcow2", Some(("a.iso", "raw")), None);
    unrecord_backing_format(&d.path("top3.qcow2"));
    let c = resolve_chain(&d.path("top3.qcow2"), Some(Format::Qcow2), None).unwrap();
    assert_eq!(
        (c.layers[1].format, c.layers[1].origin),
        (Format::Raw, FormatOrigin::Probed)
    );
    assert_eq!(c.layers[1].info.as_ref().unwrap().format, Format::Iso);
}

#[test]
fn luks_volume_is_raw_with_encryption() {
    let d = TempDir::new("luks");
    create_with_options(
        &d.0,
        "luks",
        Some("secret,id=sec0,data=abc123"),
        "key-secret=sec0",
        "a.luks",
        "4M",
    );
    let info = inspect_file(&d.path("a.luks"), None).unwrap();
    assert_eq!(info.format, Format::Raw);
    let enc = info.encryption.unwrap();
    assert_eq!(enc.format, EncryptionFormat::Luks);
    assert!(enc.payload_offset.unwrap() > 0);
    create_with_options(
        &d.0,
        "qcow2",
        Some("secret,id=sec0,data=abc123"),
        "encrypt.format=luks,encrypt.key-secret=sec0",
        "e.qcow2",
        "4M",
    );
    let info = inspect_file(&d.path("e.qcow2"), None).unwrap();
    assert_eq!(info.encryption.unwrap().format, EncryptionFormat::Luks);
}

#[test]
fn symlinked_overlays_resolve_against_the_link_directory() {
    // libvirt: qcow2-symlinks — sub/link2 → ../top.qcow2 whose backing "../sub/link1" is taken
    // relative to sub/ (the link's directory), giving "sub/../sub/link1".
    let d = TempDir::new("sym");
    std::fs::create_dir(d.path("sub")).unwrap();
    create(&d.0, "raw", "raw", None, Some("1M"));
    create(&d.0, "qcow2", "mid.qcow2", Some(("../raw", "raw")), None);
    create(
        &d.0,
        "qcow2",
        "top.qcow2",
        Some(("../sub/link1", "qcow2")),
        None,
    );
    symlink("../mid.qcow2", d.path("sub/link1")).unwrap();
    symlink("../top.qcow2", d.path("sub/link2")).unwrap();
    let c = resolve_chain(&d.path("sub/link2"), Some(Format::Qcow2), None).unwrap();
    let paths: Vec<_> = c.layers.iter().map(|l| l.source.display()).collect();
    assert_eq!(
        paths,
        vec![
            abs(&d.path("sub/link2")),
            abs(&d.path("sub/../sub/link1")),
            abs(&d.path("sub/../sub/../raw")),
        ]
    );
    assert_eq!(c.layers[2].rel_path.as_deref(), Some("../raw"));
}

#[test]
fn loops_end_at_the_depth_limit() {
    let d = TempDir::new("loop");
    // qemu-img refuses to name the image itself; create under another name and rename.
    create(
        &d.0,
        "qcow2",
        "x.qcow2",
        Some(("self.qcow2", "qcow2")),
        None,
    );
    std::fs::rename(d.path("x.qcow2"), d.path("self.qcow2")).unwrap();
    let e = resolve_chain(&d.path("self.qcow2"), Some(Format::Qcow2), None).unwrap_err();
    assert_eq!(
        e.message(),
        format!(
            "internal error: backing store for {} is self-referential or too deeply nested",
            abs(&d.path("self.qcow2"))
        )
    );
    create(&d.0, "qcow2", "a.qcow2", Some(("b.qcow2", "qcow2")), None);
    create(&d.0, "qcow2", "b.qcow2", Some(("a.qcow2", "qcow2")), None);
    // Depth 201 is reached on an odd step: the start image.
    let e = resolve_chain(&d.path("b.qcow2"), Some(Format::Qcow2), None).unwrap_err();
    assert!(
        matches!(&e, Error::TooDeep { path } if *path == abs(&d.path("b.qcow2"))),
        "{e}"
    );
}

#[test]
fn missing_files_are_named() {
    let d = TempDir::new("missing");
    create(
        &d.0,
        "qcow2",
        "top.qcow2",
        Some(("gone.qcow2", "qcow2")),
        None,
    );
    let e =
        resolve_chain_with(&d.path("top.qcow2"), Some(Format::Qcow2), None, &opts()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "Cannot access backing file '{}' of storage file '{}' (as uid:107, gid:108): No such file or directory",
            abs(&d.path("gone.qcow2")),
            abs(&d.path("top.qcow2"))
        )
    );
    let e =
        resolve_chain_with(&d.path("nope.qcow2"), Some(Format::Qcow2), None, &opts()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "Cannot access storage file '{}' (as uid:107, gid:108): No such file or directory",
            abs(&d.path("nope.qcow2"))
        )
    );
    let e = resolve_chain_with(&d.path("nope.raw"), None, None, &opts()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "Cannot access storage file '{}': No such file or directory",
            abs(&d.path("nope.raw"))
        )
    );
    assert_eq!(e.code(), rvirt_proto::error::code::SYSTEM_ERROR);
}

#[test]
fn depth_200_is_accepted_and_201_refused() {
    // libvirt starts at depth 1 and fails when depth > 200: 200 layers pass, 201 do not.
    let d = TempDir::new("deep");
    create(&d.0, "raw", "l0", None, Some("64K"));
    let mut prev = ("l0".to_string(), "raw");
    for i in 1..=200 {
        let name = format!("l{i}");
        create(&d.0, "qcow2", &name, Some((&prev.0, prev.1)), None);
        prev = (name, "qcow2");
    }
    let c = resolve_chain(&d.path("l199"), Some(Format::Qcow2), None).unwrap();
    assert_eq!(c.layers.len(), 200);
    let e = resolve_chain(&d.path("l200"), Some(Format::Qcow2), None).unwrap_err();
    assert!(
        matches!(&e, Error::TooDeep { path } if *path == abs(&d.path("l0"))),
        "{e}"
    );
}

#[test]
fn external_data_file_is_reported_not_followed() {
    let d = TempDir::new("data");
    // The data file itself looks like a qcow2 pointing at a missing file: never inspected.
    create(
        &d.0,
        "qcow2",
        "data.raw",
        Some((&abs(&d.path("not-there")), "qcow2")),
        None,
    );
    create_with_options(
        &d.0,
        "qcow2",
        None,
        "data_file=data.raw,data_file_raw=on",
        "img.qcow2",
        "1M",
    );
    let info = inspect_file(&d.path("img.qcow2"), None).unwrap();
    let df = info.data_file.clone().unwrap();
    assert_eq!((df.name.as_deref(), df.raw), (Some("data.raw"), true));
    let c = resolve_chain(&d.path("img.qcow2"), Some(Format::Qcow2), None).unwrap();
    assert_eq!(c.layers.len(), 1);
    assert_eq!(c.layers[0].data_file.as_deref(), Some("data.raw"));
    // A probed image with a data file is refused like one with a backing file.
    create(
        &d.0,
        "qcow2",
        "top.qcow2",
        Some(("img.qcow2", "qcow2")),
        None,
    );
    unrecord_backing_format(&d.path("top.qcow2"));
    let e = resolve_chain(&d.path("top.qcow2"), Some(Format::Qcow2), None).unwrap_err();
    assert!(matches!(e, Error::BackingFormatUnrecorded { .. }), "{e}");
}

#[test]
fn network_and_json_backings() {
    // libvirt: qcow2-qcow2_nbd-raw — recorded format: the chain stops at the network layer.
    let d = TempDir::new("net");
    create(
        &d.0,
        "qcow2",
        "nbd.qcow2",
        Some(("nbd+tcp://example.org:6000/blah", "raw")),
        None,
    );
    let c = resolve_chain(&d.path("nbd.qcow2"), Some(Format::Qcow2), None).unwrap();
    assert_eq!(c.end, ChainEnd::Untraversable);
    let Source::Network(n) = &c.layers[1].source else {
        panic!("{:?}", c.layers[1].source)
    };
    assert_eq!(
        (
            n.path.as_deref(),
            n.hosts[0].name.as_deref(),
            n.hosts[0].port
        ),
        (Some("blah"), Some("example.org"), 6000)
    );
    assert_eq!(c.layers[1].format, Format::Raw);
    unrecord_backing_format(&d.path("nbd.qcow2"));
    assert!(matches!(
        resolve_chain(&d.path("nbd.qcow2"), Some(Format::Qcow2), None),
        Err(Error::BackingFormatUnrecorded { .. })
    ));
    // Inline credentials: libvirt leaves the backing out.
    create(
        &d.0,
        "qcow2",
        "cred.qcow2",
        Some(("http://u:p@example.org/x", "raw")),
        None,
    );
    let c = resolve_chain(&d.path("cred.qcow2"), Some(Format::Qcow2), None).unwrap();
    assert_eq!((c.layers.len(), c.end), (1, ChainEnd::Unrepresentable));
    // json: with a file driver is a local file and is followed.
    create(&d.0, "raw", "base.raw", None, Some("1M"));
    let j = format!(
        r#"json:{{"driver":"file","filename":"{}"}}"#,
        abs(&d.path("base.raw"))
    );
    create(&d.0, "qcow2", "json.qcow2", Some((&j, "raw")), None);
    let c = resolve_chain(&d.path("json.qcow2"), Some(Format::Qcow2), None).unwrap();
    assert_eq!(c.layers[1].source, Source::File(d.path("base.raw")));
}

#[test]
fn xml_backing_chain_is_trusted() {
    let d = TempDir::new("xml");
    create(&d.0, "raw", "base.raw", None, Some("1M"));
    create(&d.0, "qcow2", "mid.qcow2", Some(("base.raw", "raw")), None);
    create(
        &d.0,
        "qcow2",
        "top.qcow2",
        Some(("mid.qcow2", "qcow2")),
        None,
    );
    unrecord_backing_format(&d.path("top.qcow2"));
    unrecord_backing_format(&d.path("mid.qcow2"));
    // The XML gives mid's format and ends the chain: nothing is read or probed.
    let xml = XmlBacking::Layer(Box::new(XmlLayer {
        source: Source::File(d.path("mid.qcow2")),
        format: Format::Qcow2,
        backing: Some(XmlBacking::End),
    }));
    let c = resolve_chain(&d.path("top.qcow2"), Some(Format::Qcow2), Some(&xml)).unwrap();
    assert_eq!(c.layers.len(), 2);
    assert_eq!(c.layers[1].origin, FormatOrigin::Xml);
    // Without the terminator, detection continues from mid with the XML's format; mid's own
    // backing is unrecorded and raw with no backing, so it is probed.
    let xml = XmlBacking::Layer(Box::new(XmlLayer {
        source: Source::File(d.path("mid.qcow2")),
        format: Format::Qcow2,
        backing: None,
    }));
    let c = resolve_chain(&d.path("top.qcow2"), Some(Format::Qcow2), Some(&xml)).unwrap();
    let origins: Vec<_> = c.layers.iter().map(|l| l.origin).collect();
    assert_eq!(
        origins,
        vec![
            FormatOrigin::Config,
            FormatOrigin::Xml,
            FormatOrigin::Probed
        ]
    );
}
