//! The real-QEMU test harness shared by this crate's integration tests: finds the QEMU binary
//! (tests skip, saying so, only when it is absent), builds the test guest on first use with
//! scripts/build-test-guest.sh, writes the hand-made argv that boots it, and waits for lines in
//! a serial log. Processes are always cleaned up, also on panic (see [`KillOnDrop`]).
#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The QEMU binary to test with: `$RVIRT_TEST_QEMU` or `qemu-system-x86_64` on PATH.
pub fn qemu_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RVIRT_TEST_QEMU") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("qemu-system-x86_64"))
            .find(|p| p.is_file())
    })
}

/// Returns the QEMU binary, or prints why the test is skipped and returns `None`.
pub fn qemu_or_skip(test: &str) -> Option<PathBuf> {
    let q = qemu_binary();
    if q.is_none() {
        eprintln!(
            "SKIP {test}: qemu-system-x86_64 is not installed (scripts/install-qemu.sh installs it)"
        );
    }
    q
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The built test guest.
#[derive(Debug, Clone)]
pub struct TestGuest {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub cmdline: String,
    pub marker: String,
}

/// The test guest, built (or found up to date) by scripts/build-test-guest.sh in
/// `$RVIRT_TEST_GUEST_DIR` or target/test-guest, once per test process; concurrent test
/// processes are serialized by a lock file.
pub fn test_guest() -> TestGuest {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let root = repo_root();
        let dir = std::env::var_os("RVIRT_TEST_GUEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/test-guest"));
        std::fs::create_dir_all(&dir).unwrap();
        let lock = std::fs::File::create(dir.join(".build-lock")).unwrap();
        // SAFETY: flock on a descriptor we own; blocks until the lock is ours.
        let r = unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
        assert_eq!(r, 0, "cannot lock {}", dir.display());
        let st = std::process::Command::new(root.join("scripts/build-test-guest.sh"))
            .arg(&dir)
            .status()
            .expect("run scripts/build-test-guest.sh");
        assert!(
            st.success(),
            "scripts/build-test-guest.sh {} failed: {st}",
            dir.display()
        );
        dir
    });
    let env_file = dir.join("guest.env");
    let text = std::fs::read_to_string(&env_file).unwrap();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim_matches('\'').to_string())
            .unwrap_or_else(|| panic!("{} has no {k}", env_file.display()))
    };
    TestGuest {
        kernel: get("KERNEL").into(),
        initrd: get("INITRD").into(),
        cmdline: get("CMDLINE"),
        marker: get("MARKER"),
    }
}

/// A sparse raw disk image of `mib` MiB.
pub fn raw_disk(path: &Path, mib: u64) {
    let f = std::fs::File::create(path).unwrap();
    f.set_len(mib << 20).unwrap();
}

/// The hand-written argv (no XML involved yet) that boots the test guest under TCG with one
/// virtio disk (serial `disk0`), a user-mode NIC and the serial console in `serial_log`.
pub fn guest_args(guest: &TestGuest, name: &str, disk: &Path, serial_log: &Path) -> Vec<OsString> {
    let s = |x: &str| OsString::from(x);
    vec![
        s("-name"),
        s(&format!("guest={name}")),
        s("-machine"),
        s("q35,accel=tcg"),
        s("-m"),
        s("256"),
        s("-smp"),
        s("1"),
        s("-no-user-config"),
        s("-nodefaults"),
        s("-nographic"),
        s("-chardev"),
        s(&format!("file,id=serial0,path={}", serial_log.display())),
        s("-serial"),
        s("chardev:serial0"),
        s("-kernel"),
        guest.kernel.clone().into(),
        s("-initrd"),
        guest.initrd.clone().into(),
        s("-append"),
        s(&guest.cmdline),
        s("-blockdev"),
        s(&format!(
            "{{\"driver\":\"file\",\"filename\":\"{}\",\"node-name\":\"file0\"}}",
            disk.display()
        )),
        s("-blockdev"),
        s("{\"driver\":\"raw\",\"file\":\"file0\",\"node-name\":\"disk0\"}"),
        s("-device"),
        s("virtio-blk-pci,drive=disk0,serial=disk0,id=virtio-disk0"),
        s("-netdev"),
        s("user,id=net0"),
        s("-device"),
        s("virtio-net-pci,netdev=net0,id=net0,romfile="),
    ]
}

/// Waits until `needle` appears in the file at `path`; returns the time it took.
pub fn wait_for_line(path: &Path, needle: &str, timeout: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if text.contains(needle) {
                return t0.elapsed();
            }
        }
        if t0.elapsed() > timeout {
            panic!(
                "'{needle}' did not appear in {} within {timeout:?}; it holds:\n{}",
                path.display(),
                std::fs::read_to_string(path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Async form of [`wait_for_line`].
pub async fn wait_for_line_async(path: &Path, needle: &str, timeout: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        if let Ok(text) = tokio::fs::read_to_string(path).await {
            if text.contains(needle) {
                return t0.elapsed();
            }
        }
        if t0.elapsed() > timeout {
            panic!(
                "'{needle}' did not appear in {} within {timeout:?}; it holds:\n{}",
                path.display(),
                std::fs::read_to_string(path).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Field 22 of /proc/PID/stat, or `None` if the process is gone or a zombie.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = after.split_whitespace().collect();
    if matches!(f.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    f.get(19)?.parse().ok()
}

/// SIGKILLs a process on drop if it is still the one recorded (pid + start time): the harness's
/// guarantee that no QEMU outlives a failed test.
pub struct KillOnDrop {
    pub pid: i32,
    pub start_time: u64,
}

impl KillOnDrop {
    pub fn new(pid: i32) -> Self {
        KillOnDrop {
            pid,
            start_time: start_time(pid).unwrap_or(0),
        }
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if start_time(self.pid) == Some(self.start_time) {
            // SAFETY: kill with a pid we verified is still our process an instant ago.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
    }
}

/// Makes a qcow2 image's backing format unrecorded, as images written by qemu-img before 6.1
/// can be: its backing-format header extension (magic 0xE2792ACA) gets an unknown magic, which
/// QEMU and libvirt both skip.
pub fn unrecord_backing_format(path: &Path) {
    let mut b = std::fs::read(path).unwrap();
    let be32 = |b: &[u8], o: usize| u32::from_be_bytes(b[o..o + 4].try_into().unwrap());
    let mut off = if be32(&b, 4) == 2 {
        72
    } else {
        be32(&b, 100) as usize
    };
    loop {
        let (magic, len) = (be32(&b, off), be32(&b, off + 4) as usize);
        assert_ne!(magic, 0, "{} records no backing format", path.display());
        if magic == 0xE279_2ACA {
            b[off..off + 4].copy_from_slice(&0x7276_7172u32.to_be_bytes());
            break;
        }
        off += 8 + len.div_ceil(8) * 8;
    }
    std::fs::write(path, b).unwrap();
}

/// Runs `qemu-img` in `dir`, panicking with its output on failure.
pub fn qemu_img(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("qemu-img")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run qemu-img");
    assert!(
        out.status.success(),
        "qemu-img {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether qemu-img is installed.
pub fn have_qemu_img() -> bool {
    std::process::Command::new("qemu-img")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}
