//! rvirtd serving `qemu:///session` for the QEMU end-to-end tests (`qemu_virsh.rs`,
//! `qemu_console.rs`): a private socket directory, home and XDG directories per daemon, and on
//! drop the daemon killed and every QEMU it started too (found by their pid files and checked
//! against their command lines), so a failing test leaves nothing running.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The rvirtd binary cargo built for these tests, or the one `RVIRTD_BIN` names.
pub fn rvirtd_bin() -> PathBuf {
    std::env::var_os("RVIRTD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_rvirtd").into())
}

/// The rvsh binary of the same target directory (`cargo build -p rvsh`; the test command builds
/// the workspace first), or the one `RVSH_BIN` names.
pub fn rvsh_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("RVSH_BIN") {
        return p.into();
    }
    let p = Path::new(env!("CARGO_BIN_EXE_rvirtd")).with_file_name("rvsh");
    assert!(
        p.exists(),
        "{} missing: run cargo build -p rvsh",
        p.display()
    );
    p
}

/// One rvirtd session daemon.
pub struct Rvirtd {
    pub dir: PathBuf,
    pub child: Option<Child>,
}

impl Rvirtd {
    /// Starts rvirtd on `dir` (sockets, home, log `dir/rvirtd.log`).
    pub fn start(dir: &Path) -> Rvirtd {
        Self::spawn(dir, &[], false)
    }

    /// Starts rvirtd with extra options (e.g. `--timeout`).
    pub fn start_with(dir: &Path, extra: &[&str]) -> Rvirtd {
        Self::spawn(dir, extra, false)
    }

    /// rvirtd in a network namespace of its own (`unshare -n`, which execs it under the same
    /// pid), so that guests' tap devices and bridges never touch the host's interfaces.
    pub fn start_in_netns(dir: &Path) -> Rvirtd {
        Self::spawn(dir, &[], true)
    }

    fn spawn(dir: &Path, extra: &[&str], netns: bool) -> Rvirtd {
        let home = dir.join("home");
        std::fs::create_dir_all(home.join("run")).unwrap();
        let conf = dir.join("rvirtd.conf");
        std::fs::write(
            &conf,
            format!(
                "unix_sock_dir = \"{}\"\nunix_sock_rw_perms = \"0700\"\n",
                dir.display()
            ),
        )
        .unwrap();
        // A restart after kill9 appends to the same log.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("rvirtd.log"))
            .unwrap();
        let mut cmd = if netns {
            let mut c = Command::new("unshare");
            c.args(["-n", "--"]).arg(rvirtd_bin());
            c
        } else {
            Command::new(rvirtd_bin())
        };
        let child = cmd
            .args(extra)
            .args(["--session", "-f"])
            .arg(&conf)
            .arg("-p")
            .arg(dir.join("rvirtd.pid"))
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_RUNTIME_DIR", home.join("run"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let t0 = Instant::now();
        while !dir.join("rvirt-admin-sock").exists() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "rvirtd did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Rvirtd {
            dir: dir.to_path_buf(),
            child: Some(child),
        }
    }

    pub fn uri(&self) -> String {
        format!(
            "qemu+unix:///session?socket={}",
            self.dir.join("rvirt-sock").display()
        )
    }

    /// Debian's virsh on this daemon, in the C locale.
    pub fn virsh_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("virsh");
        c.env("LC_ALL", "C").arg("-c").arg(self.uri()).args(args);
        c
    }

    /// rvsh on this daemon, in the C locale.
    pub fn rvsh_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(rvsh_bin());
        c.env("LC_ALL", "C").arg("-c").arg(self.uri()).args(args);
        c
    }

    /// Runs a client without a terminal: (exit status, stdout, stderr).
    pub fn run(mut cmd: Command) -> (i32, String, String) {
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// virsh ARGS, which must succeed; its stdout.
    pub fn virsh(&self, args: &[&str]) -> String {
        let (rc, out, err) = Self::run(self.virsh_cmd(args));
        assert_eq!(rc, 0, "virsh {args:?}: {err}");
        out
    }

    /// `kill -9` of the daemon; its sockets are removed so a new start waits for fresh ones.
    pub fn kill9(&mut self) {
        let mut c = self.child.take().unwrap();
        c.kill().unwrap();
        c.wait().unwrap();
        for s in ["rvirt-sock", "rvirt-sock-ro", "rvirt-admin-sock"] {
            let _ = std::fs::remove_file(self.dir.join(s));
        }
    }

    /// Kills every QEMU this daemon's directories record (pid file named in its command line).
    pub fn kill_guests(&self) {
        let run = self.dir.join("home/run/rvirt/qemu");
        for e in std::fs::read_dir(&run).into_iter().flatten().flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "pid") {
                let pid: i32 = std::fs::read_to_string(&p)
                    .ok()
                    .and_then(|t| t.trim().parse().ok())
                    .unwrap_or(0);
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                if pid > 0 && String::from_utf8_lossy(&cmdline).contains(&*p.to_string_lossy()) {
                    drop(crate::common::KillOnDrop::new(pid));
                }
            }
        }
    }
}

impl Drop for Rvirtd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.kill_guests();
    }
}
