//! Capability probing against the real QEMU binary: what the probe finds, the cache's
//! invalidation rules (cold probe, memory, disk after a "restart", binary changed), and the
//! `capabilities` / `domcapabilities` XML compared with Debian's libvirtd for the same binary.

mod common;

use common::*;
use rvirt_qemu::capabilities_xml::{capabilities, domcapabilities};
use rvirt_qemu::caps::{CapsCache, CapsSource};
use rvirt_qemu::host::HostInfo;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_and_cache() {
    let Some(qemu) = qemu_or_skip("probe_and_cache") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A private copy of the binary, so the test can change its mtime.
    let bin = dir.path().join("qemu-system-x86_64");
    // Copied by cp, not std::fs::copy: a write descriptor open in this process while another
    // test thread forks would make exec of the copy fail with ETXTBSY.
    let st = std::process::Command::new("cp")
        .arg(&qemu)
        .arg(&bin)
        .status()
        .unwrap();
    assert!(st.success());
    let cache_dir = dir.path().join("cache");

    let cache = CapsCache::new(&cache_dir);
    let t0 = Instant::now();
    let (caps, src) = cache.get_with_source(&bin).await.unwrap();
    let cold = t0.elapsed();
    assert_eq!(src, CapsSource::Probe);
    assert_eq!(caps.arch, "x86_64");
    assert!(caps.version.0 >= 7, "{:?}", caps.version);
    assert!(caps
        .machines
        .iter()
        .any(|m| m.alias.as_deref() == Some("q35")));
    assert!(caps.machines.iter().all(|m| m.name != "none"));
    assert_eq!(caps.default_machine().unwrap().alias.as_deref(), Some("pc"));
    assert!(caps
        .cpu_models_tcg
        .iter()
        .any(|c| c.name == "qemu64" && c.usable()));
    assert!(caps.devices.contains("virtio-blk-pci"));
    assert!(caps.devices.contains("virtio-net-pci"));
    assert!(
        !caps.devices.contains("tcg-accel"),
        "devices are device types only"
    );
    assert!(caps.accelerators.iter().any(|a| a == "tcg"));
    assert!(caps.has_command("blockdev-add") && caps.blockdev);
    assert!(caps.has_command("query-status"));
    assert!(caps.sandbox, "Debian builds QEMU with seccomp");
    assert!(caps.display_types.iter().any(|d| d == "none"));
    assert_eq!(caps.kvm_present, rvirt_qemu::caps::kvm_device_usable());
    // No probe leftovers in the cache directory: just the cache file.
    let names: Vec<_> = std::fs::read_dir(&cache_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].ends_with(".json"));

    let t1 = Instant::now();
    let (again, src) = cache.get_with_source(&bin).await.unwrap();
    assert_eq!(src, CapsSource::Memory);
    assert!(Arc::ptr_eq(&caps, &again));
    let mem = t1.elapsed();

    // A restarted daemon: new cache object, same directory → read from disk, no probe.
    let restarted = CapsCache::new(&cache_dir);
    let t2 = Instant::now();
    let (from_disk, src) = restarted.get_with_source(&bin).await.unwrap();
    let disk = t2.elapsed();
    assert_eq!(src, CapsSource::Disk);
    assert_eq!(*from_disk, *caps);
    eprintln!(
        "capability probe of {}: cold {cold:?} (QEMU-side {} ms), memory {mem:?}, cache file {disk:?}",
        qemu.display(),
        caps.probe_ms
    );
    assert!(disk < cold);

    // The binary changes (mtime/ctime move): the cache file is stale and the binary is probed.
    // (touch, not a write descriptor here, for the ETXTBSY reason above.)
    let st = std::process::Command::new("touch")
        .args(["-d", "+5 seconds"])
        .arg(&bin)
        .status()
        .unwrap();
    assert!(st.success());
    let (_, src) = restarted.get_with_source(&bin).await.unwrap();
    assert_eq!(src, CapsSource::Probe);

    // A corrupt cache file is ignored, not an error.
    let file = restarted.file_for(&bin);
    std::fs::write(&file, b"{not json").unwrap();
    let (_, src) = CapsCache::new(&cache_dir)
        .get_with_source(&bin)
        .await
        .unwrap();
    assert_eq!(src, CapsSource::Probe);
}

#[tokio::test]
async fn probe_failure_names_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("qemu-system-fake");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'qemu-system-fake: unsupported' >&2\nexit 1\n",
    )
    .unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&fake).unwrap().permissions(),
        0o755,
    );
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let e = CapsCache::new(dir.path().join("cache"))
        .get(&fake)
        .await
        .unwrap_err();
    let v: rvirt::Error = e.into();
    assert_eq!(v.code, rvirt::error::code::INTERNAL_ERROR);
    assert_eq!(v.domain, rvirt::error::domain::QEMU);
    assert_eq!(
        v.message,
        format!(
            "internal error: Failed to probe capabilities for {}: process exited while connecting to monitor: qemu-system-fake: unsupported",
            fake.display()
        )
    );
}

/// Runs Debian's libvirtd (scripts/ref-libvirtd.sh) for the differential XML test; `None` when
/// it cannot run here (not root, not installed), which the test reports.
struct RefLibvirtd {
    dir: PathBuf,
}

impl RefLibvirtd {
    fn start(dir: &Path) -> Option<RefLibvirtd> {
        let script = repo_root().join("scripts/ref-libvirtd.sh");
        let ok = std::process::Command::new(&script)
            .arg("start")
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then(|| RefLibvirtd {
            dir: dir.to_path_buf(),
        })
    }

    fn virsh(&self, args: &[&str]) -> String {
        let uri = format!(
            "qemu+unix:///system?socket={}/libvirt-sock",
            self.dir.display()
        );
        let out = std::process::Command::new("virsh")
            .arg("-c")
            .arg(&uri)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "virsh {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // virsh prints the document followed by newlines of its own.
        let s = String::from_utf8(out.stdout).unwrap();
        format!("{}\n", s.trim_end())
    }
}

impl Drop for RefLibvirtd {
    fn drop(&mut self) {
        let _ = std::process::Command::new(repo_root().join("scripts/ref-libvirtd.sh"))
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

/// The lines of `doc` between the first line equal to `from` and the next line equal to `to`.
fn section<'a>(doc: &'a str, from: &str, to: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut inside = false;
    for l in doc.lines() {
        if l == from {
            inside = true;
        }
        if inside {
            out.push(l);
            if l == to {
                break;
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_matches_debian_libvirtd() {
    let Some(qemu) = qemu_or_skip("xml_matches_debian_libvirtd") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some(reference) = RefLibvirtd::start(&dir.path().join("ref")) else {
        eprintln!("SKIP xml_matches_debian_libvirtd: the reference libvirtd cannot run here (needs root and scripts/install-deps.sh)");
        return;
    };
    let cache = CapsCache::new(dir.path().join("cache"));
    let caps = cache.get(&qemu).await.unwrap();
    let mut guests = vec![caps.clone()];
    let i386 = qemu.with_file_name("qemu-system-i386");
    if i386.exists() {
        guests.push(cache.get(&i386).await.unwrap());
    }
    let ours = capabilities(&HostInfo::probe(), &guests);
    let theirs = reference.virsh(&["capabilities"]);
    std::fs::write(dir.path().join("ours.xml"), &ours).unwrap();
    if let Some(d) = std::env::var_os("RVIRT_TEST_KEEP_XML") {
        std::fs::write(Path::new(&d).join("ours-caps.xml"), &ours).unwrap();
        std::fs::write(Path::new(&d).join("theirs-caps.xml"), &theirs).unwrap();
        let o = domcapabilities(&caps, "qemu", None).unwrap();
        std::fs::write(Path::new(&d).join("ours-domcaps.xml"), o).unwrap();
        let t = reference.virsh(&["domcapabilities", "--virttype", "qemu"]);
        std::fs::write(Path::new(&d).join("theirs-domcaps.xml"), t).unwrap();
    }

    // Every <guest> section is identical: machines (order, aliases, maxCpus, deprecation),
    // domain types and features.
    let guest = |doc: &str, arch: &str| -> Vec<String> {
        let start = format!("    <arch name='{arch}'>");
        let lines: Vec<&str> = doc.lines().collect();
        let i = lines
            .iter()
            .position(|l| *l == start)
            .expect("guest arch present");
        let mut out = vec![lines[i - 2].to_string(), lines[i - 1].to_string()];
        for l in &lines[i..] {
            out.push(l.to_string());
            if *l == "  </guest>" {
                break;
            }
        }
        out
    };
    for g in &guests {
        assert_eq!(
            guest(&ours, &g.arch),
            guest(&theirs, &g.arch),
            "guest section for {}",
            g.arch
        );
    }
    // Host parts we reproduce exactly. Cell memory is read at two moments and may move with
    // memory hotplug on a VM host, so it is compared within 1%.
    let stable = |lines: Vec<&str>| -> Vec<String> {
        lines
            .into_iter()
            .filter(|l| !l.contains("<memory unit=") && !l.contains("<pages unit='KiB' size='4'>"))
            .map(str::to_string)
            .collect()
    };
    for (from, to) in [
        ("    <topology>", "    </topology>"),
        ("    <cache>", "    </cache>"),
        ("    <migration_features>", "    </migration_features>"),
        ("    <power_management/>", "    <power_management/>"),
    ] {
        assert_eq!(
            stable(section(&ours, from, to)),
            stable(section(&theirs, from, to)),
            "host section {from}"
        );
    }
    let memory = |doc: &str| -> u64 {
        let l = doc
            .lines()
            .find(|l| l.contains("<memory unit='KiB'>"))
            .expect("cell memory");
        l.trim()
            .trim_start_matches("<memory unit='KiB'>")
            .trim_end_matches("</memory>")
            .parse()
            .unwrap()
    };
    let (a, b) = (memory(&ours), memory(&theirs));
    assert!(
        a.abs_diff(b) * 100 <= b,
        "cell memory {a} KiB vs libvirt's {b} KiB"
    );
    let secmodels = |doc: &str| {
        doc.lines()
            .skip_while(|l| *l != "    <secmodel>")
            .take_while(|l| *l != "  </host>")
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(secmodels(&ours), secmodels(&theirs));
    for tag in [
        "<arch>",
        "<vendor>",
        "<microcode",
        "<signature",
        "<topology sockets",
        "<maxphysaddr",
        "<pages unit='KiB' size=",
    ] {
        let pick = |doc: &str| {
            section(doc, "    <cpu>", "    </cpu>")
                .into_iter()
                .filter(|l| l.trim_start().starts_with(tag))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(pick(&ours), pick(&theirs), "host cpu {tag}");
    }
    assert!(ours.starts_with("<capabilities>\n\n  <host>\n    <uuid>"));
    assert!(ours.ends_with("  </guest>\n\n</capabilities>\n"));

    // domcapabilities: identical apart from the CPU section (host-model and the model list
    // come from libvirt's CPU map).
    let ours_d = domcapabilities(&caps, "qemu", None).unwrap();
    let theirs_d = reference.virsh(&["domcapabilities", "--virttype", "qemu"]);
    std::fs::write(dir.path().join("ours-domcaps.xml"), &ours_d).unwrap();
    let without_cpu = |doc: &str| {
        let mut out = Vec::new();
        let mut skip = false;
        for l in doc.lines() {
            if l == "  <cpu>" {
                skip = true;
            }
            if !skip {
                out.push(l.to_string());
            }
            if l == "  </cpu>" {
                skip = false;
            }
        }
        out
    };
    assert_eq!(without_cpu(&ours_d), without_cpu(&theirs_d));
    // In the CPU section: the same modes' support, and every model libvirt lists is listed by us
    // with the same usability and vendor.
    let models = |doc: &str| -> Vec<String> {
        doc.lines()
            .filter(|l| l.trim_start().starts_with("<model usable="))
            .map(str::to_string)
            .collect()
    };
    let ours_m = models(&ours_d);
    for m in models(&theirs_d) {
        assert!(
            ours_m.contains(&m),
            "libvirt lists {m}, we do not; ours: {ours_m:#?}"
        );
    }
    for mode in [
        "host-passthrough' supported='no'",
        "maximum' supported='yes'",
    ] {
        assert!(ours_d.contains(mode) && theirs_d.contains(mode), "{mode}");
    }
    for machine in ["q35", "pc-q35-10.0", "pc"] {
        let o = domcapabilities(&caps, "qemu", Some(machine)).unwrap();
        let t = reference.virsh(&[
            "domcapabilities",
            "--virttype",
            "qemu",
            "--machine",
            machine,
        ]);
        assert_eq!(
            without_cpu(&o),
            without_cpu(&t),
            "domcapabilities for {machine}"
        );
    }
}
