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
