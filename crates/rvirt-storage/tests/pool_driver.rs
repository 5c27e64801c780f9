//! The storage driver on real files: `dir` and `fs` pools in temporary directories, volumes
//! made by the real `qemu-img`, driven through the `rvirt::Driver` trait exactly as the daemon
//! drives it. Covers the pool lifecycle and its files on disk (configuration, autostart link,
//! state), volumes (raw and qcow2 with a backing file, clone, resize, wipe, delete), lookups,
//! events, persistence across a driver restart, and the rule that a backing format that is not
//! recorded is never guessed where `qemu-img` would act on the guess.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use rvirt::types::*;
use rvirt::Driver;
use rvirt_storage::driver::{pool_event, Config};
use rvirt_storage::pool::state::Dirs;
use rvirt_storage::StorageDriver;

fn dir_pool_xml(name: &str, path: &Path) -> String {
    format!(
        "<pool type='dir'><name>{name}</name><target><path>{}</path></target></pool>",
        path.display()
    )
}

fn vol_xml(name: &str, cap: &str, format: &str, backing: Option<(&str, &str)>) -> String {
    let mut x = format!(
        "<volume><name>{name}</name><capacity>{cap}</capacity>\
         <target><format type='{format}'/></target>"
    );
    if let Some((p, f)) = backing {
        x.push_str(&format!(
            "<backingStore><path>{p}</path><format type='{f}'/></backingStore>"
        ));
    }
    x.push_str("</volume>");
    x
}

fn img_info(path: &Path, fmt: &str) -> serde_json::Value {
    let out = Command::new("qemu-img")
        .args(["info", "--output=json", "-f", fmt])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn dir_pool_lifecycle_and_volumes() {
    let base = TempDir::new("drv-life");
    let target = base.path("pools/p1");
    let d = driver(&base.0, false);
    let mut rx = d.subscribe().unwrap();

    let p = d
        .pool_define_xml(&dir_pool_xml("p1", &target), 0)
        .await
        .unwrap();
    let cfg = base.path("cfg/p1.xml");
    assert!(std::fs::read_to_string(&cfg)
        .unwrap()
        .contains("virsh pool-edit p1"));
    assert_eq!(std::fs::metadata(&cfg).unwrap().mode() & 0o777, 0o600);
    assert!(d.pool_is_persistent(&p).await.unwrap());
    assert!(!d.pool_is_active(&p).await.unwrap());
    let e = d.pool_create(&p, 0).await.unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "cannot open directory '{}': No such file or directory",
            target.display()
        )
    );
    d.pool_build(&p, 0).await.unwrap();
    assert_eq!(std::fs::metadata(&target).unwrap().mode() & 0o777, 0o711);
    d.pool_create(&p, 0).await.unwrap();
    assert!(base.path("run/p1.xml").exists());
    let e = d.pool_create(&p, 0).await.unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            rvirt::error::code::OPERATION_INVALID,
            "Requested operation is not valid: storage pool 'p1' is already active"
        )
    );
    let info = d.pool_get_info(&p).await.unwrap();
    assert_eq!(info.state, pool_state::RUNNING);
    assert!(info.capacity > 0 && info.capacity == info.allocation + info.available);

    // raw: a sparse file of the capacity, allocated up to the allocation.
    let raw = d
        .vol_create_xml(
            &p,
            "<volume><name>a.raw</name><capacity unit='M'>8</capacity>\
             <allocation unit='M'>1</allocation></volume>",
            0,
        )
        .await
        .unwrap();
    let raw_path = target.join("a.raw");
    assert_eq!(raw.key, raw_path.display().to_string());
    let m = std::fs::metadata(&raw_path).unwrap();
    assert_eq!((m.len(), m.mode() & 0o777), (8 << 20, 0o600));
    assert!(m.blocks() * 512 >= 1 << 20 && m.blocks() * 512 < 8 << 20);
    let vi = d.vol_get_info(&raw).await.unwrap();
    assert_eq!((vi.type_, vi.capacity), (vol_type::FILE, 8 << 20));
    let e = d
        .vol_create_xml(
            &p,
            "<volume><name>a.raw</name><capacity>1</capacity></volume>",
            0,
        )
        .await
        .unwrap_err();
    assert_eq!(e.message, "storage volume 'a.raw' exists already");

    // qcow2 over the raw volume: the backing format is recorded in the image.
    let top = d
        .vol_create_xml(
            &p,
            &vol_xml("top.qcow2", "16777216", "qcow2", Some((&raw.key, "raw"))),
            0,
        )
        .await
        .unwrap();
    let j = img_info(&target.join("top.qcow2"), "qcow2");
    assert_eq!(j["backing-filename"], raw.key.as_str());
    assert_eq!(j["backing-filename-format"], "raw");
    assert_eq!(j["virtual-size"], 16 << 20);
    assert_eq!(j["format-specific"]["data"]["compat"], "0.10");
    let x = d.vol_get_xml_desc(&top, 0).await.unwrap();
    assert!(x.contains("<format type='qcow2'/>"), "{x}");
    assert!(
        x.contains(&format!(
            "  <backingStore>\n    <path>{}</path>\n    <format type='raw'/>\n",
            raw.key
        )),
        "{x}"
    );
    assert!(x.contains("<timestamps>"), "{x}");

    // Lookups by path (sanitized) and key.
    let messy = format!("{}//top.qcow2", target.display());
    assert_eq!(
        d.vol_lookup_by_path(&messy).await.unwrap().name,
        "top.qcow2"
    );
    assert_eq!(d.vol_lookup_by_key(&raw.key).await.unwrap().name, "a.raw");
    let e = d.vol_lookup_by_key("/nope").await.unwrap_err();
    assert_eq!(
        e.message,
        "Storage volume not found: no storage vol with matching key /nope"
    );
    assert_eq!(d.vol_get_path(&top).await.unwrap(), top.key);
    assert_eq!(d.pool_lookup_by_volume(&top).await.unwrap().name, "p1");

    // Clones: raw to raw is a copy, qcow2 to qcow2 goes through qemu-img convert.
    std::fs::write(&raw_path, b"hello raw world").unwrap();
    let src_xml = d.vol_get_xml_desc(&raw, 0).await.unwrap();
    let clone = d
        .vol_create_xml_from(
            &p,
            &src_xml.replace("<name>a.raw</name>", "<name>b.raw</name>"),
            &raw,
            0,
        )
        .await
        .unwrap();
    let copied = std::fs::read(target.join("b.raw")).unwrap();
    assert_eq!(&copied[..15], b"hello raw world");
    // libvirt quirk kept: the clone is allocated to the source's allocation (a 4 KiB block),
    // which fallocate extends the 15-byte file to.
    assert_eq!(copied.len(), 4096);
    assert!(copied[15..].iter().all(|b| *b == 0));
    let top_xml = d.vol_get_xml_desc(&top, 0).await.unwrap();
    let c2 = d
        .vol_create_xml_from(
            &p,
            &top_xml.replace("<name>top.qcow2</name>", "<name>c.qcow2</name>"),
            &top,
            0,
        )
        .await
        .unwrap();
    let j = img_info(&target.join("c.qcow2"), "qcow2");
    assert_eq!(j["virtual-size"], 16 << 20);
    assert!(
        j.get("backing-filename").is_none(),
        "a converted clone stands alone: {j}"
    );
    let e = d
        .vol_create_xml_from(&p, &src_xml, &raw, 0)
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "internal error: storage volume name 'a.raw' already in use."
    );

    // Resize: raw by truncation, qcow2 through qemu-img (told the format).
    d.vol_resize(&clone, 1 << 20, 0).await.unwrap();
    assert_eq!(
        std::fs::metadata(target.join("b.raw")).unwrap().len(),
        1 << 20
    );
    let e = d.vol_resize(&clone, 4096, 0).await.unwrap_err();
    assert_eq!(
        e.message,
        "invalid argument: Can't shrink capacity below current capacity unless shrink flag explicitly specified"
    );
    d.vol_resize(&c2, 32 << 20, 0).await.unwrap();
    assert_eq!(
        img_info(&target.join("c.qcow2"), "qcow2")["virtual-size"],
        32 << 20
    );
    assert_eq!(d.vol_get_info(&c2).await.unwrap().capacity, 32 << 20);
    let e = d.vol_resize(&c2, 1 << 30, 1).await.unwrap_err();
    assert_eq!(
        e.message,
        "Operation not supported: preallocate is only supported for raw type volume"
    );

    // Wipe (zero): the data is gone and the volume is described again.
    d.vol_wipe(&clone, 0).await.unwrap();
    let wiped = std::fs::read(target.join("b.raw")).unwrap();
    assert!(wiped.iter().all(|b| *b == 0) && wiped.len() == 1 << 20);
    let e = d.vol_wipe_pattern(&clone, 9, 0).await.unwrap_err();
    assert_eq!(
        e.message,
        "argument unsupported: 'trim' algorithm not supported"
    );
    let e = d.vol_wipe_pattern(&clone, 10, 0).await.unwrap_err();
    assert_eq!(
        e.message,
        "invalid argument: wiping algorithm 10 not supported"
    );

    // A file appearing behind the driver's back shows up after a refresh.
    std::fs::write(target.join("outside.iso"), vec![0u8; 40000]).unwrap();
    assert_eq!(
        names(d.pool_list_all_volumes(&p, 0).await.unwrap()),
        ["a.raw", "b.raw", "c.qcow2", "top.qcow2"]
    );
    d.pool_refresh(&p, 0).await.unwrap();
    assert_eq!(d.pool_num_of_volumes(&p).await.unwrap(), 5);

    // Delete, destroy, delete the pool, undefine.
    for v in [&clone, &c2, &top, &raw] {
        d.vol_delete(v, 0).await.unwrap();
    }
    let e = d.vol_get_info(&raw).await.unwrap_err();
    assert_eq!(
        e.message,
        "Storage volume not found: no storage vol with matching name 'a.raw'"
    );
    std::fs::remove_file(target.join("outside.iso")).unwrap();
    let e = d.pool_undefine(&p).await.unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: storage pool 'p1' is still active"
    );
    d.pool_destroy(&p).await.unwrap();
    assert!(!base.path("run/p1.xml").exists());
    let e = d.pool_num_of_volumes(&p).await.unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: storage pool 'p1' is not active"
    );
    d.pool_delete(&p, 0).await.unwrap();
    assert!(!target.exists());
    d.pool_undefine(&p).await.unwrap();
    assert!(!cfg.exists());
    let e = d.pool_lookup_by_name("p1").await.unwrap_err();
    assert_eq!(
        e.message,
        "Storage pool not found: no storage pool with matching name 'p1'"
    );
    use pool_event::*;
    assert_eq!(
        events(&mut rx),
        [DEFINED, CREATED, STARTED, -1, STOPPED, DELETED, UNDEFINED]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn definitions_conflicts_and_transient_pools() {
    let base = TempDir::new("drv-conf");
    let d = driver(&base.0, false);
    let t1 = base.path("t1");
    std::fs::create_dir(&t1).unwrap();
    let p = d
        .pool_define_xml(&dir_pool_xml("one", &t1), 0)
        .await
        .unwrap();
    let e = d
        .pool_define_xml(&dir_pool_xml("two", &t1), 0)
        .await
        .unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            rvirt::error::code::OPERATION_FAILED,
            "operation failed: Storage source conflict with pool: 'one'"
        )
    );
    let e = d
        .pool_define_xml(
            "<pool type='disk'><name>dk</name><source><device path='/dev/x'/></source>\
             <target><path>/dev</path></target></pool>",
            0,
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "internal error: missing backend for pool type 4 (disk)"
    );
    let e = d.pool_set_autostart(&p, true).await;
    assert!(e.is_ok());
    assert!(d.pool_get_autostart(&p).await.unwrap());
    assert!(base.path("cfg/autostart/one.xml").exists());
    d.pool_set_autostart(&p, false).await.unwrap();
    assert!(!base.path("cfg/autostart/one.xml").exists());

    // A transient pool lives only while it runs.
    let t2 = base.path("t2");
    let tp = d
        .pool_create_xml(&dir_pool_xml("tr", &t2), 1)
        .await
        .unwrap();
    assert!(t2.is_dir(), "CREATE_WITH_BUILD made the directory");
    assert!(!d.pool_is_persistent(&tp).await.unwrap());
    let e = d.pool_set_autostart(&tp, true).await.unwrap_err();
    assert_eq!(e.message, "internal error: pool has no config file");
    use list_pools::*;
    let listed = |f| {
        let d = d.clone();
        async move {
            let mut v: Vec<String> = d
                .list_all_pools(f)
                .await
                .unwrap()
                .into_iter()
                .map(|p| p.name)
                .collect();
            v.sort();
            v
        }
    };
    assert_eq!(listed(TRANSIENT).await, ["tr"]);
    assert_eq!(listed(PERSISTENT | INACTIVE).await, ["one"]);
    assert_eq!(listed(DIR).await, ["one", "tr"]);
    assert_eq!(listed(1 << 7).await, Vec::<String>::new());
    d.pool_destroy(&tp).await.unwrap();
    assert!(d.pool_lookup_by_uuid(&tp.uuid).await.is_err());

    // Redefining a running pool keeps the change pending until it stops.
    d.pool_create(&p, 0).await.unwrap();
    let redef = dir_pool_xml("one", &t1).replace(
        "<name>one</name>",
        &format!("<name>one</name><uuid>{}</uuid>", uuid_to_string(&p.uuid)),
    );
    let redef = redef.replace(
        "</target>",
        "<permissions><mode>0700</mode></permissions></target>",
    );
    d.pool_define_xml(&redef, 0).await.unwrap();
    let live = d.pool_get_xml_desc(&p, 0).await.unwrap();
    let inactive = d.pool_get_xml_desc(&p, 1).await.unwrap();
    assert!(
        live.contains("<mode>0755</mode>") || live.contains("<mode>07"),
        "{live}"
    );
    assert!(inactive.contains("<mode>0700</mode>"), "{inactive}");
    assert!(
        inactive.contains("<capacity unit='bytes'>0</capacity>"),
        "{inactive}"
    );
    d.pool_destroy(&p).await.unwrap();
    assert_eq!(d.pool_get_xml_desc(&p, 0).await.unwrap(), inactive);
}

#[tokio::test(flavor = "multi_thread")]
async fn running_pools_and_autostart_survive_a_restart() {
    let base = TempDir::new("drv-restart");
    let (a, b) = (base.path("a"), base.path("b"));
    {
        let d = driver(&base.0, true);
        let pa = d.pool_define_xml(&dir_pool_xml("a", &a), 0).await.unwrap();
        d.pool_build(&pa, 0).await.unwrap();
        d.pool_create(&pa, 0).await.unwrap();
        d.vol_create_xml(&pa, &vol_xml("v.qcow2", "1048576", "qcow2", None), 0)
            .await
            .unwrap();
        let pb = d.pool_define_xml(&dir_pool_xml("b", &b), 0).await.unwrap();
        d.pool_build(&pb, 0).await.unwrap();
        d.pool_set_autostart(&pb, true).await.unwrap();
        // A second driver on the same directories is refused while this one runs.
        let e = StorageDriver::open(
            Config {
                dirs: Dirs::new(base.path("cfg"), base.path("run")),
                autostart: false,
            },
            None,
        )
        .err()
        .unwrap();
        assert!(
            e.message.contains("Failed to acquire pid file"),
            "{}",
            e.message
        );
    }
    // The first start of this "boot" already autostarted; simulate a reboot for the second.
    std::fs::remove_file(base.path("run/autostarted")).unwrap();
    let d = driver(&base.0, true);
    assert!(d.take_warnings().is_empty());
    let pa = d.pool_lookup_by_name("a").await.unwrap();
    assert!(
        d.pool_is_active(&pa).await.unwrap(),
        "a was running and comes back running"
    );
    let v = d.vol_lookup_by_name(&pa, "v.qcow2").await.unwrap();
    assert!(d
        .vol_get_xml_desc(&v, 0)
        .await
        .unwrap()
        .contains("<format type='qcow2'/>"));
    // (b's directory exists, so libvirt's rule already finds it running; the fs pool test
    // shows autostart itself.)
    let pb = d.pool_lookup_by_name("b").await.unwrap();
    assert!(d.pool_is_active(&pb).await.unwrap());
    assert!(d.pool_get_autostart(&pb).await.unwrap());
    drop(d);
    // A pool whose directory vanished while the daemon was down comes back inactive.
    std::fs::remove_dir_all(&a).unwrap();
    let d = driver(&base.0, true);
    let pa = d.pool_lookup_by_name("a").await.unwrap();
    assert!(!d.pool_is_active(&pa).await.unwrap());
    assert!(!base.path("run/a.xml").exists() || !d.pool_is_active(&pa).await.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn unrecorded_backing_formats_are_never_guessed_for_qemu_img() {
    let base = TempDir::new("drv-probe");
    let t = base.path("pool");
    std::fs::create_dir(&t).unwrap();
    // base.qcow2 ← mid.qcow2 (format recorded) ← unrec.qcow2 (format NOT recorded)
    create(&t, "qcow2", "base.qcow2", None, Some("1M"));
    create(
        &t,
        "qcow2",
        "mid.qcow2",
        Some(("base.qcow2", "qcow2")),
        None,
    );
    create(
        &t,
        "qcow2",
        "unrec.qcow2",
        Some(("mid.qcow2", "qcow2")),
        None,
    );
    unrecord_backing_format(&t.join("unrec.qcow2"));
    // leaf.qcow2's unrecorded backing has no backing of its own: probing it is safe.
    create(
        &t,
        "qcow2",
        "leaf.qcow2",
        Some(("base.qcow2", "qcow2")),
        None,
    );
    unrecord_backing_format(&t.join("leaf.qcow2"));
    // A raw volume whose content is a qcow2 header pointing at /etc/shadow.
    create(&t, "qcow2", "evil.img", Some(("/etc/shadow", "raw")), None);

    let d = driver(&base.0, false);
    let p = d
        .pool_create_xml(&dir_pool_xml("probe", &t), 0)
        .await
        .unwrap();
    let vol = |n: &str| {
        let d = d.clone();
        let p = p.clone();
        let n = n.to_string();
        async move { d.vol_lookup_by_name(&p, &n).await.unwrap() }
    };
    // The pool shows the probed backing format, as libvirt's pool does.
    let x = d
        .vol_get_xml_desc(&vol("unrec.qcow2").await, 0)
        .await
        .unwrap();
    assert!(
        x.contains(&format!(
            "<backingStore>\n    <path>{}</path>\n    <format type='qcow2'/>",
            t.join("mid.qcow2").display()
        )),
        "{x}"
    );
    // But nothing that makes qemu-img open the chain is allowed to guess it.
    let want = format!(
        "Requested operation is not valid: format of backing image 'mid.qcow2' of image '{}' \
         was not specified in the image metadata (See \
         https://libvirt.org/kbase/backing_chains.html for troubleshooting)",
        t.join("unrec.qcow2").display()
    );
    let unrec = vol("unrec.qcow2").await;
    let e = d
        .vol_create_xml_from(&p, &vol_xml("copy", "0", "qcow2", None), &unrec, 0)
        .await
        .unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (rvirt::error::code::OPERATION_INVALID, want.as_str())
    );
    assert!(!t.join("copy").exists());
    let e = d.vol_resize(&unrec, 4 << 20, 0).await.unwrap_err();
    assert_eq!(e.message, want);
    let e = d
        .vol_create_xml(
            &p,
            &vol_xml("over", "0", "qcow2", Some((&unrec.key, "qcow2"))),
            0,
        )
        .await
        .unwrap_err();
    assert_eq!(e.message, want);
    // Probing a backing that has no backing of its own is safe: cloning works.
    let leaf = vol("leaf.qcow2").await;
    d.vol_create_xml_from(&p, &vol_xml("leafcopy", "0", "qcow2", None), &leaf, 0)
        .await
        .unwrap();
    // The "evil" image is shown as what its header claims, backing /etc/shadow named as raw;
    // nothing reads /etc/shadow's content as an image.
    let x = d.vol_get_xml_desc(&vol("evil.img").await, 0).await.unwrap();
    assert!(
        x.contains("<path>/etc/shadow</path>\n    <format type='raw'/>"),
        "{x}"
    );
}

/// Unmounts a target left mounted by a failing test (before the loop device goes).
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        if mounted_on(&self.0) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
}

fn mounted_on(target: &Path) -> bool {
    let t = std::fs::canonicalize(target).unwrap_or_else(|_| target.to_path_buf());
    std::fs::read_to_string("/proc/self/mounts")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(1) == Some(&*t.display().to_string()))
}

#[tokio::test(flavor = "multi_thread")]
async fn fs_pool_on_a_loop_device() {
    if !is_root() {
        eprintln!("fs pools need root (mount, losetup); skipping");
        return;
    }
    let base = TempDir::new("drv-fs");
    let Ok(lo) = Loop::attach(&base.path("disk.img"), 64 << 20) else {
        eprintln!("no loop device available; skipping");
        return;
    };
    let target: PathBuf = base.path("mnt");
    let _unmount = Unmount(target.clone());
    let xml = format!(
        "<pool type='fs'><name>fsp</name><source><device path='{}'/><format type='ext4'/>\
         </source><target><path>{}</path></target></pool>",
        lo.dev,
        target.display()
    );
    let d = driver(&base.0, false);
    let p = d.pool_define_xml(&xml, 0).await.unwrap();
    // Without a file system, mounting fails; building without overwrite flags only makes the
    // directory (libvirt never formats unless asked).
    d.pool_build(&p, 0).await.unwrap();
    assert!(target.is_dir());
    assert!(d.pool_create(&p, 0).await.is_err());
    d.pool_build(&p, rvirt_storage::pool::BUILD_NO_OVERWRITE)
        .await
        .unwrap();
    let e = d
        .pool_build(&p, rvirt_storage::pool::BUILD_NO_OVERWRITE)
        .await
        .unwrap_err();
    assert_eq!(
        (e.code, e.message.clone()),
        (
            rvirt::error::code::STORAGE_POOL_BUILT,
            format!(
                "Storage pool already built: Device '{}' already formatted using 'ext4'",
                lo.dev
            )
        )
    );
    d.pool_create(&p, 0).await.unwrap();
    assert!(mounted_on(&target));
    let info = d.pool_get_info(&p).await.unwrap();
    assert!(
        info.capacity > 40 << 20 && info.capacity < 64 << 20,
        "{info:?}"
    );
    let v = d
        .vol_create_xml(&p, &vol_xml("disk.qcow2", "10485760", "qcow2", None), 0)
        .await
        .unwrap();
    assert!(target.join("disk.qcow2").exists());
    let x = d.pool_get_xml_desc(&p, 0).await.unwrap();
    assert!(
        x.contains(&format!(
            "<source>\n    <device path='{}'/>\n    <format type='ext4'/>\n  </source>",
            lo.dev
        )),
        "{x}"
    );
    d.pool_destroy(&p).await.unwrap();
    assert!(!mounted_on(&target));
    assert!(
        !target.join("disk.qcow2").exists(),
        "the volume lives on the unmounted fs"
    );
    // Restarting the driver while mounted: the pool is found running.
    d.pool_create(&p, 0).await.unwrap();
    drop(d);
    let d = driver(&base.0, false);
    let p = d.pool_lookup_by_name("fsp").await.unwrap();
    assert!(d.pool_is_active(&p).await.unwrap());
    assert_eq!(
        d.vol_lookup_by_name(&p, "disk.qcow2").await.unwrap().key,
        v.key
    );
    // Autostart: an unmounted fs pool is mounted when the driver starts for the first time
    // in a boot (no "autostarted" marker in the state directory), and only then.
    d.pool_set_autostart(&p, true).await.unwrap();
    d.pool_destroy(&p).await.unwrap();
    assert!(!mounted_on(&target));
    drop(d);
    let d = driver(&base.0, true);
    let p = d.pool_lookup_by_name("fsp").await.unwrap();
    assert!(d.pool_is_active(&p).await.unwrap());
    assert!(mounted_on(&target));
    d.pool_destroy(&p).await.unwrap();
    drop(d);
    let d = driver(&base.0, true);
    let p = d.pool_lookup_by_name("fsp").await.unwrap();
    assert!(
        !d.pool_is_active(&p).await.unwrap(),
        "autostart runs once per boot"
    );
    drop(d);
    std::fs::remove_file(base.path("run/autostarted")).unwrap();
    let d = driver(&base.0, true);
    let p = d.pool_lookup_by_name("fsp").await.unwrap();
    assert!(d.pool_is_active(&p).await.unwrap());
    d.pool_destroy(&p).await.unwrap();
    assert!(!mounted_on(&target));
    d.pool_undefine(&p).await.unwrap();
    assert!(!base.path("cfg/autostart/fsp.xml").exists());
}
