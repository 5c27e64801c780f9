//! Shared helpers for the integration tests: temporary directories, the real `qemu-img`, and
//! header edits that reproduce images written by older tools.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "rvirt-storage-{tag}-{}-{}",
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

/// Runs the real qemu-img; the tests need it (scripts/install-deps.sh installs it).
pub fn qemu_img(dir: &Path, args: &[&str]) {
    let out = Command::new("qemu-img")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("qemu-img must be installed (Debian package qemu-utils)");
    assert!(
        out.status.success(),
        "qemu-img {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `qemu-img create -f FMT [-F BFMT -b BACKING] NAME [SIZE]` in `dir`, with -u so the backing
/// need not exist.
pub fn create(
    dir: &Path,
    fmt: &str,
    name: &str,
    backing: Option<(&str, &str)>,
    size: Option<&str>,
) {
    let mut args = vec!["create", "-q", "-f", fmt];
    if let Some((b, bf)) = backing {
        args.extend(["-u", "-F", bf, "-b", b]);
    }
    args.push(name);
    if let Some(s) = size {
        args.push(s);
    } else if backing.is_some() {
        args.push("1M");
    }
    qemu_img(dir, &args);
}

fn be32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes(b[o..o + 4].try_into().unwrap())
}

/// Offsets of the qcow2 header extension with `magic`.
fn find_extension(b: &[u8], magic: u32) -> Option<(usize, usize)> {
    let version = be32(b, 4);
    let mut off = if version == 2 {
        72
    } else {
        be32(b, 100) as usize
    };
    while off + 8 <= b.len() {
        let (m, len) = (be32(b, off), be32(b, off + 4) as usize);
        if m == 0 {
            return None;
        }
        if m == magic {
            return Some((off, len));
        }
        off += 8 + len.div_ceil(8) * 8;
    }
    None
}

/// Makes a qcow2's backing format unrecorded, as qemu-img before 6.1 could leave it: renames the
/// 0xE2792ACA extension to an unknown type (QEMU and libvirt both skip unknown extensions).
pub fn unrecord_backing_format(path: &Path) {
    let mut b = std::fs::read(path).unwrap();
    let (off, _) = find_extension(&b, 0xE279_2ACA).expect("backing format extension present");
    b[off..off + 4].copy_from_slice(&0x7276_6972u32.to_be_bytes());
    std::fs::write(path, b).unwrap();
}

/// Overwrites the recorded backing format string (same length).
pub fn set_backing_format_string(path: &Path, s: &str) {
    let mut b = std::fs::read(path).unwrap();
    let (off, len) = find_extension(&b, 0xE279_2ACA).expect("backing format extension present");
    assert_eq!(len, s.len());
    b[off + 8..off + 8 + len].copy_from_slice(s.as_bytes());
    std::fs::write(path, b).unwrap();
}

pub fn abs(p: &Path) -> String {
    p.display().to_string()
}

/// Debian's libvirtd 9.0 started by scripts/ref-libvirtd.sh in a temporary socket directory,
/// stopped on drop.
pub struct RefDaemon(TempDir);

impl RefDaemon {
    pub fn start() -> RefDaemon {
        let dir = TempDir::new("libvirtd");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ref-libvirtd.sh");
        let out = Command::new(&script)
            .arg("start")
            .arg(&dir.0)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the reference libvirtd (scripts/ref-libvirtd.sh) must start for this test: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        RefDaemon(dir)
    }
    pub fn try_virsh(&self, args: &[&str]) -> Result<String, String> {
        let uri = format!(
            "qemu+unix:///system?socket={}/libvirt-sock",
            self.0 .0.display()
        );
        let out = Command::new("virsh")
            .arg("-c")
            .arg(&uri)
            .args(args)
            .output()
            .unwrap();
        if out.status.success() {
            Ok(String::from_utf8(out.stdout).unwrap())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }
    pub fn virsh(&self, args: &[&str]) -> String {
        self.try_virsh(args)
            .unwrap_or_else(|e| panic!("virsh {args:?}: {e}"))
    }
}

impl Drop for RefDaemon {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ref-libvirtd.sh");
        let _ = Command::new(script).arg("stop").arg(&self.0 .0).status();
    }
}

/// Why the LVM tests cannot run here, if they cannot: they need root, LVM's tools (Debian
/// package lvm2, which scripts/install-deps.sh installs) and a free loop device.
pub fn lvm_skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    for tool in ["pvcreate", "vgcreate", "lvs", "losetup"] {
        let found = ["/sbin", "/usr/sbin", "/bin", "/usr/bin"]
            .iter()
            .any(|d| Path::new(d).join(tool).exists());
        if !found {
            return Some(format!("'{tool}' is not installed (Debian package lvm2)"));
        }
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
    dir: TempDir,
    /// Volume group names (unique per test run) to remove on drop.
    pub vgs: Vec<String>,
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
        let file = dir.path("pv.img");
        std::fs::File::create(&file)
            .and_then(|f| f.set_len(size_mib << 20))
            .unwrap();
        let out = Command::new("losetup")
            .args(["-f", "--show"])
            .arg(&file)
            .output()
            .unwrap();
        if !out.status.success() {
            eprintln!(
                "skipping the LVM test {tag}: no free loop device: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        let path = String::from_utf8(out.stdout).unwrap().trim().to_string();
        Some(LoopDevice {
            path,
            dir,
            vgs: Vec::new(),
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
        let _ = Command::new("losetup").args(["-d", &self.path]).status();
        let _ = &self.dir;
    }
}
