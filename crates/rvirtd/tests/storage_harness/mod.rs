//! Harness for the end-to-end storage tests (storage_virsh, storage_streams_virsh,
//! storage_logical_virsh): the real `rvirtd` in session mode on a temporary home directory,
//! driven by client programs (Debian's `virsh`, our `rvsh`), with its log read back for the
//! streams' byte counters. The host fixtures — temporary directories, virsh, Debian's libvirtd
//! as the reference, loop devices with LVM — are rvirt-storage's (its tests/common/fixtures.rs,
//! compiled in here), so the driver's tests and these set up and clean up the host alike.
//! Every daemon started here is stopped when its handle drops, also when a test panics.
#![allow(dead_code)]

#[path = "../../../rvirt-storage/tests/common/fixtures.rs"]
mod fixtures;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use fixtures::*;

/// A session rvirtd whose runtime and configuration directories (`XDG_RUNTIME_DIR`,
/// `XDG_CONFIG_HOME`) and `HOME` are under `home`; it logs to `home/rvirtd.log`, appending, so
/// a daemon started again on the same home keeps the earlier lines.
pub struct Rvirtd {
    home: PathBuf,
    child: Option<Child>,
}

impl Rvirtd {
    pub fn start(home: &Path) -> Rvirtd {
        Self::spawn(home, None)
    }

    /// Started with `-f home/rvirtd.conf` holding `conf`.
    pub fn start_with_config(home: &Path, conf: &str) -> Rvirtd {
        Self::spawn(home, Some(conf))
    }

    fn spawn(home: &Path, conf: Option<&str>) -> Rvirtd {
        for d in ["run", "config"] {
            std::fs::create_dir_all(home.join(d)).unwrap();
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(home.join("rvirtd.log"))
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rvirtd"));
        cmd.arg("--session");
        if let Some(conf) = conf {
            let path = home.join("rvirtd.conf");
            std::fs::write(&path, conf).unwrap();
            cmd.arg("-f").arg(path);
        }
        let child = cmd
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
            child: Some(child),
        };
        let t = Instant::now();
        while !d.socket().exists() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "rvirtd did not start: {}",
                d.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    pub fn socket(&self) -> PathBuf {
        self.home.join("run/rvirt/rvirt-sock")
    }

    pub fn uri(&self) -> String {
        format!("qemu+unix:///session?socket={}", self.socket().display())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.join("rvirtd.log")).unwrap_or_default()
    }

    /// Runs `prog -c URI args…` against this daemon; its stdout, or its stderr as the error.
    pub fn run(&self, prog: &Path, args: &[&str]) -> Result<String, String> {
        client(prog, &self.uri(), args)
    }

    /// [`Rvirtd::run`], which must succeed; the panic shows the daemon's log.
    pub fn run_ok(&self, prog: &Path, args: &[&str]) -> String {
        self.run(prog, args).unwrap_or_else(|e| {
            panic!(
                "rvirtd: {} {args:?}: {e}\n--- rvirtd log ---\n{}",
                prog.display(),
                self.log()
            )
        })
    }

    /// Debian's virsh against this daemon.
    pub fn virsh(&self, args: &[&str]) -> Result<String, String> {
        self.run(Path::new("virsh"), args)
    }

    /// Debian's virsh against this daemon, which must succeed.
    pub fn ok(&self, args: &[&str]) -> String {
        self.run_ok(Path::new("virsh"), args)
    }

    /// The stream lines of the daemon's log (it logs them with `log_filters = "1:stream"`):
    /// (sent data, sent holes, received data, received holes) of every stream that ended,
    /// oldest first.
    pub fn stream_counters(&self) -> Vec<(u64, u64, u64, u64)> {
        self.log()
            .lines()
            .filter(|l| l.contains("stream") && l.contains("ended: sent"))
            .map(|l| {
                let nums: Vec<u64> = l
                    .split("ended:")
                    .nth(1)
                    .unwrap()
                    .split(|c: char| !c.is_ascii_digit())
                    .filter(|w| !w.is_empty())
                    .map(|w| w.parse().unwrap())
                    .collect();
                assert_eq!(nums.len(), 4, "unexpected stream log line: {l}");
                (nums[0], nums[1], nums[2], nums[3])
            })
            .collect()
    }

    /// Waits until the log holds `n` stream lines (a stream's task logs after its last frame).
    pub fn wait_streams(&self, n: usize) -> Vec<(u64, u64, u64, u64)> {
        let t = Instant::now();
        loop {
            let c = self.stream_counters();
            if c.len() >= n || t.elapsed() > Duration::from_secs(10) {
                assert_eq!(c.len(), n, "stream log lines:\n{}", self.log());
                return c;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the daemon: SIGTERM, then SIGKILL after 10 s.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill with a pid this test spawned.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(10) {
                if c.try_wait().unwrap().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Rvirtd {
    fn drop(&mut self) {
        self.stop();
    }
}
