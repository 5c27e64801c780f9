//! The storage driver's `logical` pools on real LVM: a volume group built on a loop device (on
//! a sparse file), driven through the `rvirt::Driver` trait exactly as the daemon drives it —
//! define, build, start, refresh, volumes, stop, delete, undefine, with events and the files on
//! disk, and a driver restart that finds the running pool again.
//!
//! Logical volumes need the kernel's device-mapper. Where it is missing (some VMs), LVM cannot
//! create any, and the test checks that volume creation fails the way libvirt's does (the
//! `lvcreate` failure) and leaves nothing behind; where it is present, the volume lifecycle runs
//! (create, upload and download, clone, sparse and snapshot volumes, wipe, resize refusal,
//! delete). Needs root and lvm2; skips with a message otherwise. Every volume group and loop
//! device made here is removed again, also when the test fails.

mod common;

use common::*;
use rvirt::error::code;
use rvirt::types::*;
use rvirt::Driver;
use rvirt_storage::driver::pool_event;
use rvirt_storage::StorageDriver;

/// The volume group a PV belongs to, per `pvs` ("" when none; `None` when not a PV).
fn pv_group(dev: &str) -> Option<String> {
    let out = lvm(&["pvs", "--noheadings", "-o", "vg_name", dev]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

async fn upload(d: &StorageDriver, v: &VolRef, data: &[u8]) {
    let mut sink = d.vol_upload(v, 0, 0, 0).await.unwrap();
    for c in data.chunks(65536) {
        sink.send(rvirt::stream::Chunk::Data(c.to_vec()))
            .await
            .unwrap();
    }
    sink.finish().await.unwrap();
}

async fn download(d: &StorageDriver, v: &VolRef, len: u64) -> Vec<u8> {
    let mut src = d.vol_download(v, 0, len, 0).await.unwrap();
    let mut got = Vec::new();
    while let Some(c) = src.recv().await.unwrap() {
        match c {
            rvirt::stream::Chunk::Data(b) => got.extend(b),
            rvirt::stream::Chunk::Hole(n) => got.extend(vec![0; n as usize]),
        }
    }
    src.complete(Ok(()));
    got
}

#[tokio::test(flavor = "multi_thread")]
async fn logical_pool_lifecycle_on_a_loop_device() {
    let Some(mut dev) = LoopDevice::new("drv", 64) else {
        return;
    };
    let vg = dev.vg_name("drv");
    let base = TempDir::new("logical-drv");
    let d = driver(&base.0, false);
    let mut rx = d.subscribe().unwrap();
    let xml = format!(
        "<pool type='logical'><name>lp</name><source><device path='{}'/><name>{vg}</name>\
         </source><target><path>/dev/{vg}</path></target></pool>",
        dev.path
    );
    let p = d.pool_define_xml(&xml, 0).await.unwrap();
    assert_eq!(events(&mut rx), [pool_event::DEFINED]);

    // Not built: the group is not there.
    let e = d.pool_create(&p, 0).await.unwrap_err();
    assert_eq!(
        (e.code, e.message.clone()),
        (
            code::CONFIG_UNSUPPORTED,
            format!("unsupported configuration: cannot find logical volume group name '{vg}'")
        )
    );

    d.pool_build(&p, 0).await.unwrap();
    assert_eq!(events(&mut rx), [pool_event::CREATED]);
    assert_eq!(pv_group(&dev.path).as_deref(), Some(vg.as_str()));
    // A second build finds the label and wants --overwrite.
    let e = d.pool_build(&p, 0).await.unwrap_err();
    assert_eq!(
        (e.code, e.message.clone()),
        (
            code::STORAGE_POOL_BUILT,
            format!(
                "Storage pool already built: Device '{}' already formatted using 'LVM2_member'",
                dev.path
            )
        )
    );

    d.pool_create(&p, 0).await.unwrap();
    assert_eq!(events(&mut rx), [pool_event::STARTED]);
    let info = d.pool_get_info(&p).await.unwrap();
    // 64 MiB less LVM's metadata area: 60 MiB of 4 MiB extents.
    assert_eq!(
        (info.state, info.capacity, info.allocation, info.available),
        (pool_state::RUNNING, 60 << 20, 0, 60 << 20)
    );
    let x = d.pool_get_xml_desc(&p, 0).await.unwrap();
    assert!(
        x.contains(&format!(
            "  <source>\n    <device path='{}'/>\n    <name>{vg}</name>\n    \
             <format type='lvm2'/>\n  </source>\n  <target>\n    <path>/dev/{vg}</path>\n  \
             </target>\n",
            dev.path
        )),
        "{x}"
    );
    assert!(d.pool_list_all_volumes(&p, 0).await.unwrap().is_empty());

    // A logical volume needs a capacity: there is no later step to give it one.
    let e = d
        .vol_create_xml(
            &p,
            "<volume><name>v0</name><capacity>0</capacity></volume>",
            0,
        )
        .await
        .unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            code::NO_SUPPORT,
            "this function is not supported by the connection driver: volume capacity \
             required for this storage pool"
        )
    );

    if device_mapper_available() {
        volumes(&d, &p, &vg).await;
    } else {
        eprintln!("no device-mapper in this kernel: LVM cannot make volumes; checking the failure");
        let e = d
            .vol_create_xml(
                &p,
                "<volume><name>v1</name><capacity unit='M'>8</capacity></volume>",
                0,
            )
            .await
            .unwrap_err();
        let lvcreate = rvirt_storage::pool::logical::tool_path("lvcreate").unwrap();
        assert_eq!(e.code, code::INTERNAL_ERROR);
        assert!(
            e.message.starts_with(&format!(
                "internal error: Child process ({} --name v1 -L 8192K {vg} --yes) unexpected \
                 exit status ",
                lvcreate.display()
            )),
            "{}",
            e.message
        );
        assert!(e.message.contains("device-mapper"), "{}", e.message);
        assert!(
            !e.message.contains("leaked on"),
            "LVM warned about descriptors: {}",
            e.message
        );
        assert!(d.pool_list_all_volumes(&p, 0).await.unwrap().is_empty());
        assert_eq!(d.pool_get_info(&p).await.unwrap().allocation, 0);
    }

    d.pool_refresh(&p, 0).await.unwrap();
    assert_eq!(events(&mut rx), [-1]);

    // A driver started again checks the pool as libvirt does: running if its group (with the
    // pool's device) is there *and* /dev/VG exists, which LVM makes only while a volume is
    // active — so a pool without volumes comes back stopped, as under libvirtd.
    drop(rx);
    drop(d);
    let d = driver(&base.0, false);
    assert!(d.take_warnings().is_empty());
    let p = d.pool_lookup_by_name("lp").await.unwrap();
    let dev_dir = std::path::Path::new("/dev").join(&vg);
    assert_eq!(d.pool_is_active(&p).await.unwrap(), dev_dir.exists());
    let mut rx = d.subscribe().unwrap();
    if !dev_dir.exists() {
        d.pool_create(&p, 0).await.unwrap();
        assert_eq!(events(&mut rx), [pool_event::STARTED]);
    }

    let e = d.pool_delete(&p, 0).await.unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: storage pool 'lp' is still active"
    );
    d.pool_destroy(&p).await.unwrap();
    d.pool_delete(&p, 0).await.unwrap();
    assert_eq!(events(&mut rx), [pool_event::STOPPED, pool_event::DELETED]);
    assert_eq!(pv_group(&dev.path), None, "the device is no PV any more");
    let out = lvm(&["vgs", &vg]);
    assert!(!out.status.success(), "the group is gone");
    // A deleted pool's device is free again: a no-overwrite build is allowed.
    d.pool_build(&p, rvirt_storage::pool::BUILD_NO_OVERWRITE)
        .await
        .unwrap();
    d.pool_delete(&p, 0).await.unwrap();
    d.pool_undefine(&p).await.unwrap();
    assert_eq!(
        events(&mut rx),
        [
            pool_event::CREATED,
            pool_event::DELETED,
            pool_event::UNDEFINED
        ]
    );
    assert!(!base.path("cfg/lp.xml").exists());
}

/// The volume half, on a kernel with device-mapper.
async fn volumes(d: &StorageDriver, p: &PoolRef, vg: &str) {
    let v1 = d
        .vol_create_xml(
            p,
            "<volume><name>v1</name><capacity unit='M'>8</capacity></volume>",
            0,
        )
        .await
        .unwrap();
    assert_eq!(v1.name, "v1");
    assert_eq!(v1.key.len(), 38, "an LV UUID: {}", v1.key);
    assert_eq!(d.vol_get_path(&v1).await.unwrap(), format!("/dev/{vg}/v1"));
    let info = d.vol_get_info(&v1).await.unwrap();
    assert_eq!(
        (info.type_, info.capacity, info.allocation),
        (1, 8 << 20, 8 << 20)
    );
    assert_eq!(d.pool_get_info(p).await.unwrap().allocation, 8 << 20);
    let x = d.vol_get_xml_desc(&v1, 0).await.unwrap();
    assert!(
        x.starts_with("<volume type='block'>\n  <name>v1</name>\n"),
        "{x}"
    );
    assert!(
        !x.contains("<format"),
        "logical volumes show no format: {x}"
    );

    let e = d
        .vol_create_xml(
            p,
            "<volume><name>v1</name><capacity unit='M'>8</capacity></volume>",
            0,
        )
        .await
        .unwrap_err();
    assert_eq!(e.message, "storage volume 'v1' exists already");

    let data: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
    upload(d, &v1, &data).await;
    assert_eq!(download(d, &v1, data.len() as u64).await, data);

    let c = d
        .vol_create_xml_from(
            p,
            "<volume><name>c1</name><capacity unit='M'>8</capacity></volume>",
            &v1,
            0,
        )
        .await
        .unwrap();
    assert_eq!(download(d, &c, data.len() as u64).await, data);

    let e = d.vol_resize(&c, 16 << 20, 0).await.unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            code::NO_SUPPORT,
            "this function is not supported by the connection driver: storage pool does not \
             support changing of volume capacity"
        )
    );
    d.vol_wipe(&c, 0).await.unwrap();
    assert_eq!(download(d, &c, 4096).await, vec![0; 4096]);

    // A snapshot of v1 shows it as its backing store.
    let s = d
        .vol_create_xml(
            p,
            &format!(
                "<volume><name>s1</name><capacity unit='M'>8</capacity>\
                 <allocation unit='M'>4</allocation>\
                 <backingStore><path>/dev/{vg}/v1</path></backingStore></volume>"
            ),
            0,
        )
        .await
        .unwrap();
    let x = d.vol_get_xml_desc(&s, 0).await.unwrap();
    assert!(
        x.contains(&format!("<backingStore>\n    <path>/dev/{vg}/v1</path>")),
        "{x}"
    );
    // A sparse volume cannot be wiped.
    let sp = d
        .vol_create_xml(
            p,
            "<volume><name>sp</name><capacity unit='M'>16</capacity>\
             <allocation unit='M'>4</allocation></volume>",
            0,
        )
        .await
        .unwrap();
    let e = d.vol_wipe(&sp, 0).await.unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "this function is not supported by the connection driver: logical volume \
             '/dev/{vg}/sp' is sparse, volume wipe not supported"
        )
    );
    d.pool_refresh(p, 0).await.unwrap();
    assert_eq!(
        names(d.pool_list_all_volumes(p, 0).await.unwrap()),
        ["c1", "s1", "sp", "v1"]
    );
    for v in ["s1", "sp", "c1", "v1"] {
        let r = d.vol_lookup_by_name(p, v).await.unwrap();
        d.vol_delete(&r, 0).await.unwrap();
    }
    assert!(d.pool_list_all_volumes(p, 0).await.unwrap().is_empty());
    assert_eq!(d.pool_get_info(p).await.unwrap().allocation, 0);
}

/// Logical volumes are block devices: upload and download (sparse too) on a loop device, whose
/// size is fixed and whose `st_size` is 0. Holes sent over old data must read back as zeroes.
#[test]
fn transfers_on_a_block_device() {
    use rvirt::stream::{channel, Chunk};
    use rvirt_storage::pool::transfer;
    let Some(dev) = LoopDevice::new("xfer", 4) else {
        return;
    };
    std::fs::write(&dev.path, vec![0x5au8; 4 << 20]).unwrap();
    let chunks = vec![
        Chunk::Data(vec![1u8; 100_000]),
        Chunk::Hole(1 << 20),
        Chunk::Data(vec![2u8; 5000]),
        Chunk::Hole(1 << 20),
    ];
    let (mut tx, rx) = channel(4);
    let p = dev.path.clone();
    let writer = std::thread::spawn(move || transfer::upload(&p, 4096, 0, true, rx));
    for c in chunks {
        tx.blocking_send(c).unwrap();
    }
    tx.blocking_finish().unwrap();
    assert_eq!(writer.join().unwrap().unwrap(), 105_000);
    let b = std::fs::read(&dev.path).unwrap();
    assert_eq!(b.len(), 4 << 20, "a device keeps its size");
    let mut want = vec![0x5au8; 4 << 20];
    want[4096..104_096].fill(1);
    want[104_096..104_096 + (1 << 20)].fill(0);
    let d2 = 104_096 + (1 << 20);
    want[d2..d2 + 5000].fill(2);
    want[d2 + 5000..d2 + 5000 + (1 << 20)].fill(0);
    assert!(b == want, "the device holds the upload, holes as zeroes");

    // Download of the whole device, non-sparse: every byte.
    let (tx, mut rx) = channel(4);
    let p = dev.path.clone();
    let reader = std::thread::spawn(move || transfer::download(&p, 0, 0, false, tx));
    let mut got = Vec::new();
    while let Some(c) = rx.blocking_recv().unwrap() {
        match c {
            Chunk::Data(d) => got.extend(d),
            Chunk::Hole(n) => got.extend(vec![0u8; n as usize]),
        }
    }
    rx.complete(Ok(()));
    assert_eq!(reader.join().unwrap().unwrap(), 4 << 20);
    assert!(got == want);
}
