//! End to end: Debian's real `virsh` against the real `rvirtd` (session mode, on temporary
//! directories) and against Debian's libvirtd 9.0 (scripts/ref-libvirtd.sh), each managing a
//! `logical` pool on its own loop device. The same virsh session runs against both; every
//! output and error must match once the volume group, the device and the pool UUID are written
//! the same way.
//!
//! LVM can only make logical volumes where the kernel has device-mapper; without it, volume
//! creation fails on both daemons with LVM's own message, and the session checks that. With it,
//! volumes are created, described, uploaded, downloaded, cloned, wiped and deleted as well.
//!
//! Needs root, lvm2 and two free loop devices; skips with a message otherwise. The volume groups
//! and loop devices made here are removed again, also when the test fails.

mod storage_harness;

use storage_harness::*;

/// One daemon's side of the session: its loop device and the volume group it builds there.
struct Side {
    uri: String,
    dev: String,
    vg: String,
    files: TempDir,
}

impl Side {
    /// virsh's output or error with this side's names (group, device, pool UUID, files)
    /// replaced, and file times and volume keys (LVM's own UUIDs) left out.
    fn run(&self, args: &[&str]) -> Result<String, String> {
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                a.replace("@DEV", &self.dev)
                    .replace("@VG", &self.vg)
                    .replace("@FILES", &self.files.0.display().to_string())
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let norm = |x: &str| {
            outside_timestamps(x)
                .into_iter()
                .filter(|l| {
                    !l.contains("<uuid>") && !l.starts_with("UUID:") && !l.contains("<key>")
                })
                .map(|l| {
                    l.replace(&self.vg, "VG")
                        .replace(&self.dev, "DEV")
                        .replace(&self.files.0.display().to_string(), "FILES")
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        match virsh(&self.uri, &args) {
            Ok(x) => Ok(norm(&x)),
            Err(e) => Err(norm(&e)),
        }
    }
}

#[test]
fn virsh_logical_pool_session_matches_libvirtd() {
    if let Some(why) = missing_tool(&["libvirtd", "virsh"]) {
        eprintln!("skipping the logical pool virsh test: {why}");
        return;
    }
    let Some(mut lpv) = LoopDevice::new("virsh-l", 64) else {
        return;
    };
    let Some(mut rpv) = LoopDevice::new("virsh-r", 64) else {
        return;
    };
    let home = TempDir::new("home");
    let rvirtd = Rvirtd::start(&home.0);
    let reference = RefDaemon::start();
    let theirs = Side {
        uri: reference.uri(),
        dev: lpv.path.clone(),
        vg: lpv.vg_name("l"),
        files: TempDir::new("lfiles"),
    };
    let ours = Side {
        uri: rvirtd.uri(),
        dev: rpv.path.clone(),
        vg: rpv.vg_name("r"),
        files: TempDir::new("rfiles"),
    };
    let data: Vec<u8> = (0..(1u32 << 20)).map(|i| (i * 7 % 253) as u8).collect();
    for s in [&theirs, &ours] {
        std::fs::write(s.files.path("data"), &data).unwrap();
    }
    let dm = device_mapper_available();

    let mut session: Vec<Vec<&str>> = vec![
        vec![
            "pool-define-as",
            "lo",
            "logical",
            "--source-dev",
            "@DEV",
            "--source-name",
            "@VG",
        ],
        vec!["pool-start", "lo"],
        vec!["pool-build", "lo"],
        vec!["pool-build", "lo"],
        vec!["pool-start", "lo"],
        vec!["pool-info", "lo"],
        vec!["pool-info", "--bytes", "lo"],
        vec!["pool-dumpxml", "lo"],
        vec!["pool-list", "--all", "--type", "logical"],
        vec!["vol-create-as", "lo", "v0", "0"],
        vec!["vol-create-as", "lo", "v1", "8M"],
        vec!["vol-create-as", "lo", "v2", "16M", "--allocation", "1M"],
        vec!["vol-list", "lo"],
    ];
    if dm {
        session.extend([
            vec!["vol-dumpxml", "--pool", "lo", "v1"],
            vec!["vol-info", "--pool", "lo", "v1"],
            vec!["vol-upload", "--pool", "lo", "v1", "@FILES/data"],
            vec!["vol-clone", "--pool", "lo", "v1", "c1"],
            vec!["vol-download", "--pool", "lo", "c1", "@FILES/back"],
            vec!["vol-resize", "--pool", "lo", "c1", "16M"],
            vec!["vol-wipe", "--pool", "lo", "c1"],
            vec!["vol-wipe", "--pool", "lo", "v2"],
            vec!["vol-dumpxml", "--pool", "lo", "v2"],
            vec!["pool-refresh", "lo"],
            vec!["vol-list", "lo"],
            vec!["vol-delete", "--pool", "lo", "c1"],
            vec!["vol-delete", "--pool", "lo", "v2"],
            vec!["vol-delete", "--pool", "lo", "v1"],
        ]);
    } else {
        eprintln!("no device-mapper in this kernel: LVM cannot make volumes on either daemon");
    }
    session.extend([
        vec!["pool-refresh", "lo"],
        vec!["pool-delete", "lo"],
        vec!["pool-destroy", "lo"],
        vec!["pool-delete", "lo"],
        vec!["pool-start", "lo"],
        vec!["pool-undefine", "lo"],
        vec!["pool-list", "--all"],
    ]);
    let mut diffs = Vec::new();
    for cmd in &session {
        let (t, o) = (theirs.run(cmd), ours.run(cmd));
        eprintln!("virsh {}: {o:?}", cmd.join(" "));
        if t != o {
            diffs.push(format!(
                "virsh {}:\n  libvirtd: {t:?}\n  rvirtd:   {o:?}",
                cmd.join(" ")
            ));
        }
    }
    if dm {
        for s in [&theirs, &ours] {
            let back = std::fs::read(s.files.path("back")).unwrap();
            assert_eq!(&back[..data.len()], &data[..], "the clone holds the upload");
        }
    }
    assert!(
        diffs.is_empty(),
        "differences from libvirtd:\n{}",
        diffs.join("\n")
    );
    // Nothing of either pool is left in LVM.
    for s in [&theirs, &ours] {
        assert!(!lvm(&["vgs", &s.vg]).status.success());
    }
}
