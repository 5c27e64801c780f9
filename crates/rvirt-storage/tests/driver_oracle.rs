//! Differential test: the storage driver against Debian's libvirtd 9.0 (started by
//! scripts/ref-libvirtd.sh) on the same directory of images.
//!
//! Both daemons run a `dir` pool (same name and UUID) on one directory of `qemu-img`-made
//! images; every volume's `vol-dumpxml` must be byte-identical, the pool's XML too apart from
//! the file system's free space (which other processes change between the two reads). Then
//! each daemon creates the same volumes in its own pool directory, and the XML of the new
//! volumes must match once the directory name and the file times are set aside.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use rvirt::Driver;

const UUID: &str = "0a5e1f6c-3d1b-4c8e-9a43-0c7d1e2f3a4b";

fn build_images(d: &Path) {
    create(d, "raw", "base.raw", None, Some("1M"));
    create(d, "qcow2", "base.qcow2", None, Some("3M"));
    create_with_options(d, "qcow2", None, "compat=0.10", "v2.qcow2", "2M");
    create_with_options(
        d,
        "qcow2",
        None,
        "lazy_refcounts=on,extended_l2=on",
        "feat.qcow2",
        "1M",
    );
    create(d, "qcow2", "rel.qcow2", Some(("base.raw", "raw")), None);
    create(
        d,
        "qcow2",
        "abs.qcow2",
        Some((&abs(&d.join("rel.qcow2")), "qcow2")),
        None,
    );
    create(
        d,
        "qcow2",
        "unrec.qcow2",
        Some(("rel.qcow2", "qcow2")),
        None,
    );
    unrecord_backing_format(&d.join("unrec.qcow2"));
    create(
        d,
        "qcow2",
        "missing.qcow2",
        Some(("gone.qcow2", "qcow2")),
        None,
    );
    create(
        d,
        "qcow2",
        "nbd.qcow2",
        Some(("nbd://example.org:6000/blah", "raw")),
        None,
    );
    create(d, "qcow2", "evil.img", Some(("/etc/hostname", "raw")), None);
    create(d, "qed", "raw.qed", Some(("base.raw", "raw")), None);
    create(d, "vmdk", "base.vmdk", None, Some("1M"));
    create(d, "vmdk", "top.vmdk", Some(("base.vmdk", "vmdk")), None);
    create(d, "vpc", "a.vpc", None, Some("10M"));
    create(d, "vdi", "a.vdi", None, Some("4M"));
    create_with_options(
        d,
        "luks",
        Some("secret,id=s,data=abc"),
        "key-secret=s",
        "a.luks",
        "4M",
    );
    let mut iso = vec![0u8; 64 * 1024];
    iso[32769..32774].copy_from_slice(b"CD001");
    std::fs::write(d.join("a.iso"), iso).unwrap();
    std::fs::create_dir(d.join("subdir")).unwrap();
    std::os::unix::fs::symlink("base.raw", d.join("link.raw")).unwrap();
    std::os::unix::fs::symlink("nowhere", d.join("dangling")).unwrap();
}

fn pool_xml(name: &str, dir: &Path) -> String {
    format!(
        "<pool type='dir'><name>{name}</name><uuid>{UUID}</uuid><target><path>{}</path></target></pool>",
        dir.display()
    )
}

/// The pool XML without the three size lines (free space moves between reads).
fn without_sizes(x: &str) -> String {
    x.trim_end()
        .lines()
        .filter(|l| {
            !(l.contains("<capacity") || l.contains("<allocation") || l.contains("<available"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A volume's XML with its pool directory renamed and its file times left out.
fn normalized(x: &str, dir: &Path) -> String {
    outside_timestamps(x.trim_end())
        .iter()
        .map(|l| l.replace(&dir.display().to_string(), "DIR"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn volumes_and_pools_match_libvirtd_byte_for_byte() {
    let images = TempDir::new("oracle-images");
    build_images(&images.0);
    let daemon = RefDaemon::start();
    let xmlfile = images
        .0
        .parent()
        .unwrap()
        .join(format!("oracle-pool-{}.xml", std::process::id()));
    std::fs::write(&xmlfile, pool_xml("oracle", &images.0)).unwrap();
    daemon.ok(&["pool-create", &abs(&xmlfile)]);
    let mut theirs_names = vol_list_names(&daemon.ok(&["vol-list", "oracle"]));
    theirs_names.sort();
    // Reading the headers moves the files' access times once; read them all first.
    for n in &theirs_names {
        let _ = daemon.virsh(&["vol-dumpxml", "--pool", "oracle", n]);
    }

    let state = TempDir::new("oracle-state");
    let d = driver(&state.0, false);
    let p = d
        .pool_create_xml(&pool_xml("oracle", &images.0), 0)
        .await
        .unwrap();
    let ours_names = names(d.pool_list_all_volumes(&p, 0).await.unwrap());
    assert_eq!(ours_names, theirs_names, "the same files are volumes");

    daemon.ok(&["pool-refresh", "oracle"]);
    let mut diffs = Vec::new();
    for n in &theirs_names {
        let v = d.vol_lookup_by_name(&p, n).await.unwrap();
        let ours = d.vol_get_xml_desc(&v, 0).await;
        let theirs = daemon.virsh(&["vol-dumpxml", "--pool", "oracle", n]);
        match (ours, theirs) {
            (Ok(o), Ok(t)) if o == t.trim_end_matches('\n').to_string() + "\n" => {}
            (Ok(o), Ok(t)) => diffs.push(format!("{n}:\n--- libvirt\n{t}--- rvirt\n{o}")),
            (o, t) => diffs.push(format!("{n}: libvirt {t:?}, rvirt {o:?}")),
        }
        let info = d.vol_get_info(&v).await.unwrap();
        let virsh_info = daemon.ok(&["vol-info", "--pool", "oracle", "--bytes", n]);
        let ours_info = format!(
            "Name:           {n}\nType:           {}\nCapacity:       {} bytes\nAllocation:     {} bytes\n\n",
            ["file", "block", "dir", "network", "netdir", "ploop"][info.type_ as usize],
            info.capacity,
            info.allocation
        );
        if virsh_info != ours_info {
            diffs.push(format!("{n} info:\n{virsh_info}{ours_info}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "differences from libvirtd:\n{}",
        diffs.join("\n")
    );

    let theirs_pool = daemon.ok(&["pool-dumpxml", "oracle"]);
    let ours_pool = d.pool_get_xml_desc(&p, 0).await.unwrap();
    assert_eq!(without_sizes(&ours_pool), without_sizes(&theirs_pool));
    let info = d.pool_get_info(&p).await.unwrap();
    let theirs_cap: u64 = daemon
        .ok(&["pool-info", "--bytes", "oracle"])
        .lines()
        .find_map(|l| l.strip_prefix("Capacity:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(info.capacity, theirs_cap, "same file system, same capacity");

    // New volumes made by each daemon in its own directory describe themselves the same way.
    let lv = TempDir::new("oracle-lv");
    let rv = TempDir::new("oracle-rv");
    std::fs::write(
        &xmlfile,
        pool_xml("made", &lv.0).replace(UUID, "0a5e1f6c-3d1b-4c8e-9a43-0c7d1e2f3a4c"),
    )
    .unwrap();
    daemon.ok(&["pool-create", &abs(&xmlfile)]);
    let q = d
        .pool_create_xml(
            &pool_xml("made", &rv.0).replace(UUID, "0a5e1f6c-3d1b-4c8e-9a43-0c7d1e2f3a4c"),
            0,
        )
        .await
        .unwrap();
    let specs: [(&str, &str); 4] = [
        ("r.img", "<volume><name>r.img</name><capacity>2097152</capacity><allocation>65536</allocation></volume>"),
        ("q.qcow2", "<volume><name>q.qcow2</name><capacity>4194304</capacity><target><format type='qcow2'/></target></volume>"),
        ("o.qcow2", "<volume><name>o.qcow2</name><capacity>0</capacity><target><format type='qcow2'/></target><backingStore><path>DIR/q.qcow2</path><format type='qcow2'/></backingStore></volume>"),
        ("l.qcow2", "<volume><name>l.qcow2</name><capacity>1048576</capacity><target><format type='qcow2'/><compat>1.1</compat><clusterSize unit='KiB'>128</clusterSize><features><lazy_refcounts/></features></target></volume>"),
    ];
    let mut diffs = Vec::new();
    for (name, xml) in specs {
        let vf = lv.0.join(format!("{name}.xml"));
        std::fs::write(&vf, xml.replace("DIR", &abs(&lv.0))).unwrap();
        daemon.ok(&["vol-create", "made", &abs(&vf)]);
        let v = d
            .vol_create_xml(&q, &xml.replace("DIR", &abs(&rv.0)), 0)
            .await
            .unwrap();
        let theirs = normalized(&daemon.ok(&["vol-dumpxml", "--pool", "made", name]), &lv.0);
        let ours = normalized(&d.vol_get_xml_desc(&v, 0).await.unwrap(), &rv.0);
        if theirs != ours {
            diffs.push(format!("{name}:\n--- libvirt\n{theirs}\n--- rvirt\n{ours}"));
        }
        std::fs::remove_file(&vf).unwrap();
    }
    assert!(
        diffs.is_empty(),
        "differences from libvirtd:\n{}",
        diffs.join("\n")
    );
    let _ = std::fs::remove_file(&xmlfile);
}

/// An ext4 file system on a 64 MiB loop device over `image`, detached on drop.
fn ext4_loop(image: &Path) -> Option<Loop> {
    let lo = Loop::attach(image, 64 << 20).ok()?;
    let mk = Command::new("mkfs")
        .args(["-t", "ext4", "-F", "-q", &lo.dev])
        .status()
        .ok()?;
    mk.success().then_some(lo)
}

/// An `fs` pool on the same device in both daemons (libvirtd mounts in its own mount
/// namespace): the pool XML and the volumes (ext4's `lost+found` directory among them) match.
#[tokio::test(flavor = "multi_thread")]
async fn fs_pool_matches_libvirtd() {
    if !is_root() {
        eprintln!("fs pools need root; skipping");
        return;
    }
    let t = TempDir::new("oracle-fs");
    let Some(dev) = ext4_loop(&t.path("disk.img")) else {
        eprintln!("no loop device; skipping");
        return;
    };
    let xml = |target: &Path| {
        format!(
            "<pool type='fs'><name>fsp</name><uuid>{UUID}</uuid><source><device path='{}'/>\
             <format type='ext4'/></source><target><path>{}</path></target></pool>",
            dev.dev,
            target.display()
        )
    };
    let daemon = RefDaemon::start();
    let xmlfile = t.path("pool.xml");
    std::fs::write(&xmlfile, xml(&t.path("lmnt"))).unwrap();
    std::fs::create_dir(t.path("lmnt")).unwrap();
    daemon.ok(&["pool-create", &abs(&xmlfile)]);
    let theirs = daemon.ok(&["pool-dumpxml", "fsp"]);
    let theirs_vols = daemon.ok(&["vol-list", "fsp"]);
    let theirs_lf = daemon.ok(&["vol-dumpxml", "--pool", "fsp", "lost+found"]);
    daemon.ok(&["pool-destroy", "fsp"]);

    let state = TempDir::new("oracle-fs-state");
    let d = driver(&state.0, false);
    let target = t.path("rmnt");
    std::fs::create_dir(&target).unwrap();
    let p = d.pool_create_xml(&xml(&target), 0).await.unwrap();
    let ours = d.pool_get_xml_desc(&p, 0).await.unwrap();
    let lf = d.vol_lookup_by_name(&p, "lost+found").await.unwrap();
    let ours_lf = d.vol_get_xml_desc(&lf, 0).await.unwrap();
    let names = names(d.pool_list_all_volumes(&p, 0).await.unwrap());
    d.pool_destroy(&p).await.unwrap();
    let norm = |x: &str, dir: &str| {
        without_sizes(x)
            .replace(dir, "MNT")
            .lines()
            .filter(|l| !l.contains("time>"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (l, r) = (abs(&t.path("lmnt")), abs(&target));
    assert_eq!(norm(&ours, &r), norm(&theirs, &l));
    assert_eq!(norm(&ours_lf, &r), norm(&theirs_lf, &l));
    assert_eq!(names, ["lost+found"]);
    assert!(theirs_vols.contains("lost+found"));
}
