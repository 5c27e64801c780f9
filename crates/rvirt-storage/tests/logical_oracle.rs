//! Differential test: `logical` pools in the storage driver against Debian's libvirtd 9.0
//! (scripts/ref-libvirtd.sh), each on its own loop device of the same size with its own volume
//! group. The same scenario runs on both — start before build, build, build again, start,
//! pool XML and info, volume creation (plain, sparse, without capacity), refresh, stop, delete,
//! undefine — and every answer (success or the error text) must be the same once the group
//! name and device path are written the same way. Where the kernel has device-mapper, the
//! volumes made must describe themselves identically too (keys and times set aside).
//!
//! Needs root, lvm2 and two free loop devices; skips with a message otherwise. All groups and
//! devices made here are removed again, also when the test fails.

mod common;

use common::*;
use rvirt::Driver;

const UUID: &str = "5c2f9b4e-8a17-4d3c-b6e0-2f1a9d7c4e38";

/// One side's names, to write both sides' answers the same way.
struct Side {
    vg: String,
    dev: String,
}

impl Side {
    fn mask(&self, s: &str) -> String {
        s.replace(&self.vg, "VG").replace(&self.dev, "DEV")
    }
}

/// What virsh printed for a failed call: the libvirt error after the "Failed to …" line.
fn virsh_error(e: &str) -> String {
    let mut lines = e.lines();
    let first = lines.next().unwrap_or("");
    let rest: Vec<&str> = if first.starts_with("error: Failed") {
        lines.collect()
    } else {
        std::iter::once(first).chain(lines).collect()
    };
    rest.join("\n")
        .trim_start_matches("error: ")
        .trim_end()
        .to_string()
}

/// Both answers of one step, as "ok" or the error text.
fn answer<T>(r: &Result<T, rvirt::Error>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.message.trim_end().to_string(),
    }
}

/// A volume's XML without its key and file times (each daemon's LVM makes its own UUIDs).
fn vol_normalized(x: &str) -> String {
    outside_timestamps(x.trim_end())
        .into_iter()
        .filter(|l| !l.contains("<key>"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Compares one step's answers, libvirtd's as virsh printed it.
fn step(
    diffs: &mut Vec<String>,
    (theirs, ours): (&Side, &Side),
    what: &str,
    t: Result<String, String>,
    o: String,
) {
    let t = match t {
        Ok(_) => "ok".to_string(),
        Err(e) => virsh_error(&e),
    };
    let (t, o) = (theirs.mask(&t), ours.mask(&o));
    eprintln!("{what}: {o}");
    if t != o {
        diffs.push(format!("{what}:\n  libvirt: {t}\n  rvirt:   {o}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn logical_pools_answer_like_libvirtd() {
    let Some(mut ldev) = LoopDevice::new("oracle-l", 64) else {
        return;
    };
    let Some(mut rdev) = LoopDevice::new("oracle-r", 64) else {
        return;
    };
    let theirs = Side {
        vg: ldev.vg_name("ol"),
        dev: ldev.path.clone(),
    };
    let ours = Side {
        vg: rdev.vg_name("or"),
        dev: rdev.path.clone(),
    };
    let daemon = RefDaemon::start();
    let state = TempDir::new("logical-oracle");
    let d = driver(&state.0, false);

    let xml = |s: &Side| {
        format!(
            "<pool type='logical'><name>lo</name><uuid>{UUID}</uuid><source>\
             <device path='{}'/><name>{}</name></source></pool>",
            s.dev, s.vg
        )
    };
    let xmlfile = state.path("pool.xml");
    std::fs::write(&xmlfile, xml(&theirs)).unwrap();
    let mut diffs = Vec::new();

    step(
        &mut diffs,
        (&theirs, &ours),
        "define",
        daemon.virsh(&["pool-define", &abs(&xmlfile)]),
        answer(&d.pool_define_xml(&xml(&ours), 0).await),
    );
    let p = d.pool_lookup_by_name("lo").await.unwrap();
    step(
        &mut diffs,
        (&theirs, &ours),
        "start before build",
        daemon.virsh(&["pool-start", "lo"]),
        answer(&d.pool_create(&p, 0).await),
    );
    step(
        &mut diffs,
        (&theirs, &ours),
        "build",
        daemon.virsh(&["pool-build", "lo"]),
        answer(&d.pool_build(&p, 0).await),
    );
    step(
        &mut diffs,
        (&theirs, &ours),
        "build again",
        daemon.virsh(&["pool-build", "lo"]),
        answer(&d.pool_build(&p, 0).await),
    );
    step(
        &mut diffs,
        (&theirs, &ours),
        "build --no-overwrite",
        daemon.virsh(&["pool-build", "lo", "--no-overwrite"]),
        answer(
            &d.pool_build(&p, rvirt_storage::pool::BUILD_NO_OVERWRITE)
                .await,
        ),
    );
    step(
        &mut diffs,
        (&theirs, &ours),
        "start",
        daemon.virsh(&["pool-start", "lo"]),
        answer(&d.pool_create(&p, 0).await),
    );
    step(
        &mut diffs,
        (&theirs, &ours),
        "start again",
        daemon.virsh(&["pool-start", "lo"]),
        answer(&d.pool_create(&p, 0).await),
    );

    let t = daemon.ok(&["pool-dumpxml", "lo"]);
    let o = d.pool_get_xml_desc(&p, 0).await.unwrap();
    assert_eq!(
        ours.mask(&o),
        theirs.mask(t.trim_end_matches('\n')) + "\n",
        "pool-dumpxml"
    );
    let t = daemon.ok(&["pool-dumpxml", "--inactive", "lo"]);
    let o = d.pool_get_xml_desc(&p, 1).await.unwrap();
    assert_eq!(
        ours.mask(&o),
        theirs.mask(t.trim_end_matches('\n')) + "\n",
        "pool-dumpxml --inactive"
    );

    let vols: [(&str, &str); 4] = [
        (
            "no capacity",
            "<volume><name>v0</name><capacity>0</capacity></volume>",
        ),
        (
            "plain",
            "<volume><name>v1</name><capacity unit='M'>8</capacity></volume>",
        ),
        (
            "sparse",
            "<volume><name>v2</name><capacity unit='M'>16</capacity>\
             <allocation unit='K'>1000</allocation></volume>",
        ),
        (
            "qcow encryption",
            "<volume><name>v3</name><capacity unit='M'>4</capacity><target>\
             <encryption format='qcow'/></target></volume>",
        ),
    ];
    let volfile = state.path("vol.xml");
    for (what, vx) in vols {
        std::fs::write(&volfile, vx).unwrap();
        step(
            &mut diffs,
            (&theirs, &ours),
            &format!("vol-create {what}"),
            daemon.virsh(&["vol-create", "lo", &abs(&volfile)]),
            answer(&d.vol_create_xml(&p, vx, 0).await),
        );
    }
    // Where the volumes could be made, they must look the same.
    let names = names(d.pool_list_all_volumes(&p, 0).await.unwrap());
    for n in &names {
        let v = d.vol_lookup_by_name(&p, n).await.unwrap();
        let o = vol_normalized(&ours.mask(&d.vol_get_xml_desc(&v, 0).await.unwrap()));
        let t = vol_normalized(&theirs.mask(&daemon.ok(&["vol-dumpxml", "--pool", "lo", n])));
        if o != t {
            diffs.push(format!(
                "vol-dumpxml {n}:\n--- libvirt\n{t}\n--- rvirt\n{o}"
            ));
        }
    }
    step(
        &mut diffs,
        (&theirs, &ours),
        "refresh",
        daemon.virsh(&["pool-refresh", "lo"]),
        answer(&d.pool_refresh(&p, 0).await),
    );
    let theirs_names = vol_list_names(&daemon.ok(&["vol-list", "lo"]));
    assert_eq!(theirs_names, names, "the same volumes");
    let t = daemon.ok(&["pool-info", "--bytes", "lo"]);
    let info = d.pool_get_info(&p).await.unwrap();
    for (field, v) in [
        ("Capacity:", info.capacity),
        ("Allocation:", info.allocation),
        ("Available:", info.available),
    ] {
        let theirs_v: u64 = t
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next())
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(v, theirs_v, "pool-info {field}");
    }
    for n in &names {
        let v = d.vol_lookup_by_name(&p, n).await.unwrap();
        step(
            &mut diffs,
            (&theirs, &ours),
            &format!("vol-delete {n}"),
            daemon.virsh(&["vol-delete", "--pool", "lo", n]),
            answer(&d.vol_delete(&v, 0).await),
        );
    }
    step(
        &mut diffs,
        (&theirs, &ours),
        "delete while running",
        daemon.virsh(&["pool-delete", "lo"]),
        answer(&d.pool_delete(&p, 0).await),
    );
    step(
        &mut diffs,
        (&theirs, &ours),
        "destroy",
        daemon.virsh(&["pool-destroy", "lo"]),
        answer(&d.pool_destroy(&p).await),
    );
    step(
        &mut diffs,
        (&theirs, &ours),
        "delete",
        daemon.virsh(&["pool-delete", "lo"]),
        answer(&d.pool_delete(&p, 0).await),
    );
    step(
        &mut diffs,
        (&theirs, &ours),
        "start after delete",
        daemon.virsh(&["pool-start", "lo"]),
        answer(&d.pool_create(&p, 0).await),
    );
    step(
        &mut diffs,
        (&theirs, &ours),
        "undefine",
        daemon.virsh(&["pool-undefine", "lo"]),
        answer(&d.pool_undefine(&p).await),
    );
    assert!(
        diffs.is_empty(),
        "differences from libvirtd:\n{}",
        diffs.join("\n")
    );
}
