//! End to end through Debian's `virsh` and `python3-libvirt` against the real `rvirtd` binary
//! serving `qemu:///session`: define → start → marker in the serial log → shutdown (reason
//! shutdown) → start → destroy → undefine, suspend/resume, dominfo, lifecycle events received by
//! python3-libvirt, and `kill -9` of rvirtd with two guests running followed by a restart that
//! finds them running and can still shut them down, leaving nothing behind.
//!
//! Also: `--timeout` waiting for running guests, `dumpxml --migratable/--update-cpu`, and bridge
//! interfaces in a private network namespace. The daemon is this package's binary
//! (`RVIRTD_BIN` names another); the guest helpers are rvirt-qemu's test module.

#[path = "../../rvirt-qemu/tests/common/mod.rs"]
mod common;
mod qemu_harness;

use common::*;
use qemu_harness::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BOOT_TIMEOUT: Duration = Duration::from_secs(240);
const MARKER: &str = "RVIRT-GUEST-READY";

fn domain_xml(name: &str, dir: &Path, guest: &TestGuest) -> String {
    let disk = dir.join(format!("{name}.img"));
    raw_disk(&disk, 16);
    format!(
        "<domain type='qemu'><name>{name}</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{}</kernel><initrd>{}</initrd>
  <cmdline>{}</cmdline></os><features><acpi/></features>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{}'/>
      <target dev='vda' bus='virtio'/><serial>disk0</serial></disk>
    <interface type='user'><model type='virtio'/></interface>
    <serial type='file'><source path='{}'/><target port='0'/></serial>
  </devices></domain>",
        guest.kernel.display(),
        guest.initrd.display(),
        guest.cmdline,
        disk.display(),
        dir.join(format!("{name}.serial")).display()
    )
}

fn wait_state(d: &Rvirtd, name: &str, want: &str) {
    let t0 = Instant::now();
    loop {
        let s = d.virsh(&["domstate", "--reason", name]);
        if s.trim() == want {
            return;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "{name}: {s}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

const EVENTS_PY: &str = r#"
import libvirt, sys, time
libvirt.virEventRegisterDefaultImpl()
c = libvirt.open(sys.argv[1])
out = open(sys.argv[2], "w", buffering=1)
def cb(conn, dom, event, detail, opaque):
    out.write("%s %d %d\n" % (dom.name(), event, detail))
c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, cb, None)
out.write("ready\n")
end = time.time() + float(sys.argv[3])
while time.time() < end:
    libvirt.virEventRunDefaultImpl()
"#;

#[test]
fn virsh_lifecycle_events_and_daemon_kill() {
    let Some(_) = qemu_or_skip("virsh_lifecycle_events_and_daemon_kill") else {
        return;
    };
    let guest = test_guest();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut d = Rvirtd::start(dir);
    let xml = dir.join("life.xml");
    std::fs::write(&xml, domain_xml("life", dir, &guest)).unwrap();

    let events = dir.join("events.txt");
    let mut py = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(EVENTS_PY)
        .arg(d.uri())
        .arg(&events)
        .arg("200")
        .spawn()
        .unwrap();
    wait_for_line(&events, "ready", Duration::from_secs(10));

    d.virsh(&["define", xml.to_str().unwrap()]);
    d.virsh(&["start", "life"]);
    let serial = dir.join("life.serial");
    wait_for_line(&serial, MARKER, BOOT_TIMEOUT);
    let info = d.virsh(&["dominfo", "life"]);
    assert!(info.contains("State:          running"), "{info}");
    assert!(info.contains("Max memory:     262144 KiB"), "{info}");
    assert!(info.contains("CPU(s):         1"), "{info}");
    assert!(info.contains("CPU time:"), "{info}");
    d.virsh(&["suspend", "life"]);
    wait_state(&d, "life", "paused (user)");
    d.virsh(&["resume", "life"]);
    wait_state(&d, "life", "running (unpaused)");
    d.virsh(&["shutdown", "life"]);
    wait_state(&d, "life", "shut off (shutdown)");
    d.virsh(&["start", "life"]);
    wait_for_line(&serial, MARKER, BOOT_TIMEOUT);
    d.virsh(&["destroy", "life"]);
    wait_state(&d, "life", "shut off (destroyed)");
    d.virsh(&["undefine", "life"]);
    wait_for_line(&events, "life 1 0", Duration::from_secs(10));
    let _ = py.kill();
    let _ = py.wait();
    let got: Vec<String> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect();
    assert_eq!(
        got,
        [
            "life 0 0", // defined added
            "life 2 0", // started booted
            "life 3 0", // suspended paused
            "life 4 0", // resumed unpaused
            "life 6 1", // shutdown (guest)
            "life 5 0", // stopped shutdown
            "life 2 0", // started booted
            "life 5 1", // stopped destroyed
            "life 1 0", // undefined removed
        ]
    );

    // kill -9 of rvirtd with two guests running; a new rvirtd finds both running.
    for n in ["ka", "kb"] {
        let x = dir.join(format!("{n}.xml"));
        std::fs::write(&x, domain_xml(n, dir, &guest)).unwrap();
        d.virsh(&["define", x.to_str().unwrap()]);
        d.virsh(&["start", n]);
    }
    for n in ["ka", "kb"] {
        wait_for_line(&dir.join(format!("{n}.serial")), MARKER, BOOT_TIMEOUT);
    }
    d.kill9();
    let d = Rvirtd::start(dir);
    let t = Instant::now();
    let list = d.virsh(&["list", "--name", "--state-running"]);
    eprintln!("virsh list after restart: {:?}", t.elapsed());
    let mut names: Vec<&str> = list.lines().filter(|l| !l.is_empty()).collect();
    names.sort();
    assert_eq!(names, ["ka", "kb"]);
    for n in ["ka", "kb"] {
        d.virsh(&["shutdown", n]);
    }
    for n in ["ka", "kb"] {
        wait_state(&d, n, "shut off (shutdown)");
        d.virsh(&["undefine", n]);
    }
    let home = dir.join("home");
    let left: Vec<_> = walk(&home)
        .into_iter()
        .filter(|p| {
            let s = p.to_string_lossy();
            // Logs and the capability cache stay, as libvirt's; so does the storage driver's own
            // state while the daemon runs (its lock and once-per-boot autostart marker, like
            // /run/libvirt/storage). Nothing of the guests may remain.
            !s.contains("/.cache/rvirt/qemu/") && !s.contains("/rvirt/storage/run/")
        })
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let ps = Command::new("pgrep")
        .args(["-f", "guest=k[ab],"])
        .output()
        .unwrap();
    assert!(
        ps.stdout.is_empty(),
        "QEMU left running: {}",
        String::from_utf8_lossy(&ps.stdout)
    );
}

/// Every non-directory entry under `dir`.
/// `--timeout` stops an idle session daemon only while no guest runs, as libvirtd's QEMU driver
/// inhibits the shutdown for each active domain: with a guest running (and no client connected
/// between virsh invocations) the daemon outlives its timeout several times over; once the guest
/// is destroyed it exits after the timeout, and the guest is gone.
#[test]
fn timeout_waits_for_running_guests() {
    if qemu_or_skip("timeout_waits_for_running_guests").is_none() {
        return;
    }
    let guest = test_guest();
    let tmp = tempfile::tempdir().unwrap();
    let mut d = Rvirtd::start_with(tmp.path(), &["--timeout", "2"]);
    let xml = tmp.path().join("t1.xml");
    std::fs::write(&xml, domain_xml("t1", tmp.path(), &guest)).unwrap();
    d.virsh(&["define", xml.to_str().unwrap()]);
    d.virsh(&["start", "t1"]);
    std::thread::sleep(Duration::from_secs(8));
    if d.child.as_mut().unwrap().try_wait().unwrap().is_some() {
        // End the guest the daemon left behind before failing.
        d.kill_guests();
        panic!("rvirtd exited on --timeout while a guest was running");
    }
    wait_for_line(&tmp.path().join("t1.serial"), MARKER, BOOT_TIMEOUT);
    d.virsh(&["destroy", "t1"]);
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = d.child.as_mut().unwrap().try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "rvirtd still running 30 s after its last guest stopped (--timeout 2)"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "rvirtd exit status {status}");
    d.child = None;
}

/// `dumpxml --migratable` leaves out the default USB controller and pci-root the way libvirt's
/// QEMU driver does; `--update-cpu` leaves an exact custom CPU alone and refuses a host-model CPU
/// (which would need libvirt's x86 CPU map) with an error instead of an unexpanded answer.
#[test]
fn dumpxml_migratable_and_update_cpu() {
    if qemu_or_skip("dumpxml_migratable_and_update_cpu").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = Rvirtd::start(tmp.path());
    let xml = |name: &str, cpu: &str| {
        format!(
            "<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory>\
             <os><type arch='x86_64' machine='pc'>hvm</type></os>{cpu}<devices>\
             <controller type='usb' index='0'/><controller type='pci' index='0' model='pci-root'/>\
             </devices></domain>"
        )
    };
    let f = tmp.path().join("m.xml");
    std::fs::write(
        &f,
        xml(
            "m1",
            "<cpu mode='custom' match='exact'><model>qemu64</model></cpu>",
        ),
    )
    .unwrap();
    d.virsh(&["define", f.to_str().unwrap()]);
    let plain = d.virsh(&["dumpxml", "m1"]);
    assert!(
        plain.contains("<controller type='usb' index='0'"),
        "{plain}"
    );
    assert!(plain.contains("model='pci-root'"), "{plain}");
    let mig = d.virsh(&["dumpxml", "--migratable", "m1"]);
    assert!(!mig.contains("<controller"), "{mig}");
    assert_eq!(d.virsh(&["dumpxml", "--update-cpu", "m1"]), plain);
    std::fs::write(&f, xml("m2", "<cpu mode='host-model'/>")).unwrap();
    d.virsh(&["define", f.to_str().unwrap()]);
    let out = Command::new("virsh")
        .arg("-c")
        .arg(d.uri())
        .args(["dumpxml", "--update-cpu", "m2"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("error: Operation not supported: updating a 'host-model' guest CPU"),
        "{err}"
    );
    d.virsh(&["undefine", "m1"]);
    d.virsh(&["undefine", "m2"]);
}

/// `virsh domcapabilities` through the QEMU driver: defaults (the binary for the host's
/// architecture, KVM when offered, the default machine), explicit choices, and libvirt's errors
/// for unknown virt types, architectures and machines.
#[test]
fn domcapabilities_defaults_and_errors() {
    if qemu_or_skip("domcapabilities_defaults_and_errors").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = Rvirtd::start(tmp.path());
    let out = d.virsh(&["domcapabilities", "--virttype", "qemu", "--machine", "q35"]);
    assert!(out.starts_with("<domainCapabilities>\n"), "{out}");
    assert!(out.contains("  <domain>qemu</domain>\n"), "{out}");
    assert!(out.contains("  <machine>pc-q35-"), "{out}");
    assert!(out.contains("  <arch>x86_64</arch>\n"), "{out}");
    let dflt = d.virsh(&["domcapabilities"]);
    assert!(dflt.contains("<machine>pc-i440fx-"), "{dflt}");
    for (args, want) in [
        (
            &["domcapabilities", "--virttype", "bogus"][..],
            "error: invalid argument: unknown virttype: bogus",
        ),
        (
            &["domcapabilities", "--arch", "bogus"][..],
            "error: invalid argument: unknown architecture: bogus",
        ),
        (
            &[
                "domcapabilities",
                "--virttype",
                "qemu",
                "--machine",
                "nosuch",
            ][..],
            "error: invalid argument: the machine 'nosuch' is not supported by emulator",
        ),
    ] {
        let (rc, _, err) = Rvirtd::run(d.virsh_cmd(args));
        assert_eq!(rc, 1, "{args:?}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

/// `<interface type='bridge'>` on a system-style daemon (root): inside rvirtd's own network
/// namespace a bridge is made; starting the guest creates a `vnet0` tap with libvirt's
/// host-side MAC (`fe:` + the guest's), attached to the bridge and up, handed to QEMU as a
/// descriptor; the live XML names it; the guest boots; destroy leaves no tap behind; a missing
/// bridge refuses to start with libvirt's text.
#[test]
fn bridge_interface_gets_a_tap_in_the_bridge() {
    if qemu_or_skip("bridge_interface_gets_a_tap_in_the_bridge").is_none() {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: tap devices need root");
        return;
    }
    let guest = test_guest();
    let tmp = tempfile::tempdir().unwrap();
    let d = Rvirtd::start_in_netns(tmp.path());
    let pid = d.child.as_ref().unwrap().id().to_string();
    let ip = |args: &[&str]| {
        let o = Command::new("nsenter")
            .args(["-t", &pid, "-n", "ip"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    ip(&["link", "add", "br0", "type", "bridge"]);
    ip(&["link", "set", "br0", "up"]);
    let xml = domain_xml("br1", tmp.path(), &guest).replace(
        "<interface type='user'><model type='virtio'/></interface>",
        "<interface type='bridge'><mac address='52:54:00:12:34:56'/><source bridge='br0'/>\
         <model type='virtio'/></interface>",
    );
    assert!(xml.contains("bridge='br0'"));
    let f = tmp.path().join("br1.xml");
    std::fs::write(&f, &xml).unwrap();
    d.virsh(&["define", f.to_str().unwrap()]);
    d.virsh(&["start", "br1"]);
    let ports = ip(&["-o", "link", "show", "master", "br0"]);
    assert!(ports.contains("vnet0"), "{ports}");
    assert!(ports.contains("fe:54:00:12:34:56"), "{ports}");
    let live = d.virsh(&["dumpxml", "br1"]);
    assert!(live.contains("<target dev='vnet0'/>"), "{live}");
    wait_for_line(&tmp.path().join("br1.serial"), MARKER, BOOT_TIMEOUT);
    d.virsh(&["destroy", "br1"]);
    let t0 = Instant::now();
    while ip(&["-o", "link", "show"]).contains("vnet0") {
        assert!(t0.elapsed() < Duration::from_secs(10), "tap left behind");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A bridge that does not exist: libvirt's error, nothing left running.
    d.virsh(&["undefine", "br1"]);
    std::fs::write(&f, xml.replace("bridge='br0'", "bridge='nosuchbr'")).unwrap();
    d.virsh(&["define", f.to_str().unwrap()]);
    let out = Command::new("virsh")
        .arg("-c")
        .arg(d.uri())
        .args(["start", "br1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("Unable to add bridge nosuchbr port vnet0: No such device"),
        "{err}"
    );
    assert!(d.virsh(&["domstate", "br1"]).contains("shut off"));
    assert!(!ip(&["-o", "link", "show"]).contains("vnet0"));
    d.virsh(&["undefine", "br1"]);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
