//! Host fixtures for the storage tests of two crates: temporary directories, Debian's `virsh`
//! and its libvirtd 9.0 as the reference (scripts/ref-libvirtd.sh), loop devices (plain, and
//! with LVM on them), and the parts of virsh's output the comparisons set aside.
//!
//! rvirt-storage's tests use it as `common::fixtures`; rvirtd's end-to-end storage tests compile
//! the same file into their harness (crates/rvirtd/tests/storage_harness) with `#[path]`, so both
//! crates set up and clean up the host the same way. It may use only what both crates depend on
//! (std and libc). Everything made here is removed on drop, also when a test panics.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Makes `$TMPDIR/<crate>-<tag>-<pid>-<n>`, empty.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "{}-{tag}-{}-{}",
            env!("CARGO_PKG_NAME"),
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the client `prog` (`virsh`, `rvsh`) as `prog -c URI args…`: its stdout, or its stderr
/// (trimmed) as the error.
pub fn client(prog: &Path, uri: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(prog)
        .arg("-c")
        .arg(uri)
        .args(args)
        .env_remove("LIBVIRT_DEFAULT_URI")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{} must be runnable (virsh: Debian package libvirt-clients): {e}",
                prog.display()
            )
        });
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Debian's `virsh -c URI args…`.
pub fn virsh(uri: &str, args: &[&str]) -> Result<String, String> {
    client(Path::new("virsh"), uri, args)
}

/// Debian's libvirtd 9.0, isolated by scripts/ref-libvirtd.sh in a temporary socket directory,
/// stopped on drop.
pub struct RefDaemon(TempDir);

impl RefDaemon {
    fn script() -> PathBuf {
        // Both crates sit at crates/<name>.
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ref-libvirtd.sh")
    }
    pub fn start() -> RefDaemon {
        let dir = TempDir::new("libvirtd");
        let out = Command::new(Self::script())
            .arg("start")
            .arg(&dir.0)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the reference libvirtd (scripts/ref-libvirtd.sh) must start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        RefDaemon(dir)
    }
    pub fn uri(&self) -> String {
        format!(
            "qemu+unix:///system?socket={}/libvirt-sock",
            self.0 .0.display()
        )
    }
    /// virsh against this daemon: its output, or its error text.
    pub fn virsh(&self, args: &[&str]) -> Result<String, String> {
        virsh(&self.uri(), args)
    }
    /// virsh against this daemon, which must succeed.
    pub fn ok(&self, args: &[&str]) -> String {
        self.virsh(args)
            .unwrap_or_else(|e| panic!("libvirtd: virsh {args:?}: {e}"))
    }
}

impl Drop for RefDaemon {
    fn drop(&mut self) {
        let _ = Command::new(Self::script())
            .arg("stop")
            .arg(&self.0 .0)
            .status();
    }
}

/// The volume names of a `virsh vol-list` table, in its order.
pub fn vol_list_names(table: &str) -> Vec<String> {
    table
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// The lines of an XML text outside its `<timestamps>` elements (file times, which differ
/// between two daemons' files and between reads).
pub fn outside_timestamps(x: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut in_ts = false;
    for l in x.lines() {
        in_ts |= l.contains("<timestamps>");
        if !in_ts {
            lines.push(l);
        }
        in_ts &= !l.contains("</timestamps>");
    }
    lines
}

/// Whether the test runs as root (loop devices, mounts and LVM need it).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The first of `tools` not installed in the usual directories, as a reason to skip.
pub fn missing_tool(tools: &[&str]) -> Option<String> {
    tools.iter().find_map(|tool| {
        let found = ["/sbin", "/usr/sbin", "/bin", "/usr/bin"]
            .iter()
            .any(|d| Path::new(d).join(tool).exists());
        (!found).then(|| format!("'{tool}' is not installed (scripts/install-deps.sh installs it)"))
    })
}

/// A loop device over an image file of a given size, detached on drop.
pub struct Loop {
    /// `/dev/loopN`.
    pub dev: String,
}

impl Loop {
    /// Makes `image` (sparse, `size` bytes) and attaches it to a free loop device; the error is
    /// losetup's.
    pub fn attach(image: &Path, size: u64) -> Result<Loop, String> {
        std::fs::File::create(image)
            .and_then(|f| f.set_len(size))
            .unwrap();
        let out = Command::new("losetup")
            .args(["-f", "--show"])
            .arg(image)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Loop {
            dev: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        })
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
    }
}

/// Why the LVM tests cannot run here, if they cannot: they need root, LVM's tools (Debian
/// package lvm2, which scripts/install-deps.sh installs) and loop devices.
pub fn lvm_skip_reason() -> Option<String> {
    if !is_root() {
        return Some("not root".into());
    }
    if let Some(why) = missing_tool(&["pvcreate", "vgcreate", "lvs", "losetup"]) {
        return Some(why);
    }
    if !Path::new("/dev/loop-control").exists() {
        return Some("no loop device support (/dev/loop-control)".into());
    }
    None
}

/// Whether the kernel has device-mapper, without which LVM cannot activate (or even create)
/// logical volumes: the volume half of the LVM tests needs it.
pub fn device_mapper_available() -> bool {
    // Not /dev/mapper/control: libdevmapper makes that node itself, even without the driver.
    std::fs::read_to_string("/proc/misc").is_ok_and(|m| m.contains("device-mapper"))
}

/// Runs an LVM tool for the tests' own setup and cleanup (never on anything the test did not
/// make), without LVM's warnings about inherited descriptors.
pub fn lvm(args: &[&str]) -> std::process::Output {
    Command::new(args[0])
        .args(&args[1..])
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// A loop device on a sparse file, for one LVM test, and the volume group names the test may
/// create on it. Dropping it — also when the test panics — removes those volume groups (with
/// their logical volumes), wipes the device's physical-volume label, detaches the device and
/// removes the file. Nothing else on the host is touched.
pub struct LoopDevice {
    /// `/dev/loopN`.
    pub path: String,
    /// Volume group names (unique per test run) to remove on drop.
    pub vgs: Vec<String>,
    // Dropped in this order after `drop` below: the device is detached, then its file goes.
    lo: Loop,
    dir: TempDir,
}

impl LoopDevice {
    /// A `size_mib` MiB loop device; `None` (with the reason printed) when the LVM tests
    /// cannot run here.
    pub fn new(tag: &str, size_mib: u64) -> Option<LoopDevice> {
        if let Some(why) = lvm_skip_reason() {
            eprintln!("skipping the LVM test {tag}: {why}");
            return None;
        }
        let dir = TempDir::new(&format!("loop-{tag}"));
        let lo = match Loop::attach(&dir.path("pv.img"), size_mib << 20) {
            Ok(lo) => lo,
            Err(e) => {
                eprintln!("skipping the LVM test {tag}: no free loop device: {e}");
                return None;
            }
        };
        Some(LoopDevice {
            path: lo.dev.clone(),
            vgs: Vec::new(),
            lo,
            dir,
        })
    }

    /// A volume group name no other test (or run) uses, removed again on drop.
    pub fn vg_name(&mut self, tag: &str) -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "rvirt{tag}{}x{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        self.vgs.push(name.clone());
        name
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        for vg in &self.vgs {
            let shown = lvm(&["vgs", "--noheadings", "-o", "vg_name", vg]);
            if shown.status.success() {
                let _ = lvm(&["vgchange", "-aln", vg]);
                let _ = lvm(&["vgremove", "-f", vg]);
            }
        }
        let _ = lvm(&["pvremove", "-ff", "-y", &self.path]);
    }
}
