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

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "rvirtd-lvm-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn virsh(uri: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("virsh")
        .arg("-c")
        .arg(uri)
        .args(args)
        .output()
        .expect("virsh must be installed (Debian package libvirt-clients)");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

fn lvm(args: &[&str]) -> std::process::Output {
    Command::new(args[0])
        .args(&args[1..])
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Why this test cannot run here, if it cannot.
fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    for tool in ["pvcreate", "lvs", "losetup", "libvirtd", "virsh"] {
        let found = ["/sbin", "/usr/sbin", "/bin", "/usr/bin"]
            .iter()
            .any(|d| Path::new(d).join(tool).exists());
        if !found {
            return Some(format!(
                "'{tool}' is not installed (scripts/install-deps.sh)"
            ));
        }
    }
    None
}

/// A loop device on a sparse file with the volume group a daemon will build on it; on drop the
/// group (if any), the PV label and the device are removed. Nothing else is touched.
struct LoopPv {
    dev: String,
    vg: String,
    _dir: TempDir,
}

impl LoopPv {
    fn new(tag: &str) -> Option<LoopPv> {
        let dir = TempDir::new(tag);
        let file = dir.path("pv.img");
        std::fs::File::create(&file)
            .and_then(|f| f.set_len(64 << 20))
            .unwrap();
        let out = Command::new("losetup")
            .args(["-f", "--show"])
            .arg(&file)
            .output()
            .unwrap();
        if !out.status.success() {
            eprintln!(
                "skipping: no free loop device: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        Some(LoopPv {
            dev: String::from_utf8(out.stdout).unwrap().trim().to_string(),
            vg: format!("rvirtd{tag}{}", std::process::id()),
            _dir: dir,
        })
    }
}

impl Drop for LoopPv {
    fn drop(&mut self) {
        if lvm(&["vgs", &self.vg]).status.success() {
            let _ = lvm(&["vgchange", "-aln", &self.vg]);
            let _ = lvm(&["vgremove", "-f", &self.vg]);
        }
        let _ = lvm(&["pvremove", "-ff", "-y", &self.dev]);
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
    }
}

/// A session rvirtd whose runtime and configuration directories are under `home`.
struct Rvirtd {
    home: PathBuf,
    child: Child,
}

impl Rvirtd {
    fn start(home: &Path) -> Rvirtd {
        for d in ["run", "config"] {
            std::fs::create_dir_all(home.join(d)).unwrap();
        }
        let log = std::fs::File::create(home.join("rvirtd.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_rvirtd"))
            .arg("--session")
            .env("XDG_RUNTIME_DIR", home.join("run"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("HOME", home)
            .env_remove("LIBVIRT_DEFAULT_URI")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn rvirtd");
        let d = Rvirtd {
            home: home.to_path_buf(),
            child,
        };
        let t = Instant::now();
        while !d.socket().exists() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "rvirtd did not start: {}",
                std::fs::read_to_string(home.join("rvirtd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }
    fn socket(&self) -> PathBuf {
        self.home.join("run/rvirt/rvirt-sock")
    }
    fn uri(&self) -> String {
        format!("qemu+unix:///session?socket={}", self.socket().display())
    }
}

impl Drop for Rvirtd {
    fn drop(&mut self) {
        // SAFETY: kill with the pid this test spawned.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if self.child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Debian's libvirtd, isolated by scripts/ref-libvirtd.sh.
struct RefDaemon(TempDir);

impl RefDaemon {
    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ref-libvirtd.sh")
    }
    fn start() -> RefDaemon {
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
    fn uri(&self) -> String {
        format!(
            "qemu+unix:///system?socket={}/libvirt-sock",
            self.0 .0.display()
        )
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

/// One daemon's side of the session.
struct Side<'a> {
    uri: String,
    pv: &'a LoopPv,
    files: TempDir,
}

impl Side<'_> {
    /// virsh's output or error with this side's names (group, device, pool UUID, files)
    /// replaced, and file times and volume keys (LVM's own UUIDs) left out.
    fn run(&self, args: &[&str]) -> Result<String, String> {
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                a.replace("@DEV", &self.pv.dev)
                    .replace("@VG", &self.pv.vg)
                    .replace("@FILES", &self.files.0.display().to_string())
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let norm = |x: &str| {
            let mut lines = Vec::new();
            let mut in_ts = false;
            for l in x.lines() {
                in_ts |= l.contains("<timestamps>");
                let skip = in_ts || l.contains("<uuid>") || l.starts_with("UUID:");
                if !skip && !l.contains("<key>") {
                    lines.push(
                        l.replace(&self.pv.vg, "VG")
                            .replace(&self.pv.dev, "DEV")
                            .replace(&self.files.0.display().to_string(), "FILES"),
                    );
                }
                in_ts &= !l.contains("</timestamps>");
            }
            lines.join("\n")
        };
        match virsh(&self.uri, &args) {
            Ok(x) => Ok(norm(&x)),
            Err(e) => Err(norm(&e)),
        }
    }
}

#[test]
fn virsh_logical_pool_session_matches_libvirtd() {
    if let Some(why) = skip_reason() {
        eprintln!("skipping the logical pool virsh test: {why}");
        return;
    }
    let Some(lpv) = LoopPv::new("l") else { return };
    let Some(rpv) = LoopPv::new("r") else { return };
    let home = TempDir::new("home");
    let rvirtd = Rvirtd::start(&home.0);
    let reference = RefDaemon::start();
    let theirs = Side {
        uri: reference.uri(),
        pv: &lpv,
        files: TempDir::new("lfiles"),
    };
    let ours = Side {
        uri: rvirtd.uri(),
        pv: &rpv,
        files: TempDir::new("rfiles"),
    };
    let data: Vec<u8> = (0..(1u32 << 20)).map(|i| (i * 7 % 253) as u8).collect();
    for s in [&theirs, &ours] {
        std::fs::write(s.files.path("data"), &data).unwrap();
    }
    let dm = std::fs::read_to_string("/proc/misc").is_ok_and(|m| m.contains("device-mapper"));

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
    for pv in [&lpv, &rpv] {
        assert!(!lvm(&["vgs", &pv.vg]).status.success());
    }
}
