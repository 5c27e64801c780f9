//! Harness for end-to-end tests: locate the built binaries, start daemons on temporary sockets
//! (rvirtd, and Debian's libvirtd as the reference), run client programs, and stop everything we
//! started by PID, even when a test panics.

pub mod corpus;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// Path of a workspace binary built in the same profile as the running test.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} not built: run `cargo build --workspace` before the e2e tests",
        p.display()
    );
    p
}

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// A fresh temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates `/tmp/rvirt-e2e-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "rvirt-e2e-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn wait_for_socket(path: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{what} did not create {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Which daemon serves a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaemonKind {
    /// Debian's libvirtd 9.0.
    Libvirtd,
    /// Our rvirtd.
    Rvirtd,
}

/// A running daemon listening on `<dir>/libvirt-sock` and `<dir>/libvirt-sock-ro`.
pub struct Daemon {
    /// Which daemon.
    pub kind: DaemonKind,
    /// Socket directory.
    pub dir: TempDir,
    child: Option<Child>,
}

impl Daemon {
    /// Starts a daemon of `kind` on a fresh socket directory.
    pub fn start(kind: DaemonKind) -> Self {
        let dir = TempDir::new(match kind {
            DaemonKind::Libvirtd => "libvirtd",
            DaemonKind::Rvirtd => "rvirtd",
        });
        match kind {
            DaemonKind::Libvirtd => {
                let out = Command::new(repo_root().join("scripts/ref-libvirtd.sh"))
                    .arg("start")
                    .arg(&dir.0)
                    .output()
                    .expect("run ref-libvirtd.sh");
                assert!(
                    out.status.success(),
                    "reference libvirtd failed to start: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                Self {
                    kind,
                    dir,
                    child: None,
                }
            }
            DaemonKind::Rvirtd => {
                let conf = dir.0.join("rvirtd.conf");
                std::fs::write(
                    &conf,
                    format!(
                        "unix_sock_dir = \"{}\"\nlisten_libvirt_paths = 1\nunix_sock_rw_perms = \"0777\"\n",
                        dir.0.display()
                    ),
                )
                .expect("write rvirtd.conf");
                let child = Command::new(bin("rvirtd"))
                    .arg("--config")
                    .arg(&conf)
                    .arg("--pid-file")
                    .arg(dir.0.join("rvirtd.pid"))
                    .stdout(Stdio::null())
                    .stderr(std::fs::File::create(dir.0.join("rvirtd.log")).expect("log"))
                    .spawn()
                    .expect("spawn rvirtd");
                let d = Self {
                    kind,
                    dir,
                    child: Some(child),
                };
                wait_for_socket(&d.sock(), "rvirtd");
                d
            }
        }
    }

    /// The read-write socket.
    pub fn sock(&self) -> PathBuf {
        self.dir.0.join("libvirt-sock")
    }

    /// The read-only socket.
    pub fn sock_ro(&self) -> PathBuf {
        self.dir.0.join("libvirt-sock-ro")
    }

    /// `test+unix:///default?socket=…` for this daemon (read-write or read-only socket).
    pub fn test_uri(&self, read_only: bool) -> String {
        let s = if read_only {
            self.sock_ro()
        } else {
            self.sock()
        };
        format!("test+unix:///default?socket={}", s.display())
    }

    /// The daemon's process id.
    pub fn pid(&self) -> i32 {
        match &self.child {
            Some(c) => c.id() as i32,
            None => std::fs::read_to_string(self.dir.0.join("pid"))
                .expect("libvirtd pid file")
                .trim()
                .parse()
                .expect("pid"),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        match self.child.take() {
            Some(mut c) => {
                // SAFETY: kill(2) on the PID of a child we spawned and have not reaped.
                unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
                let deadline = Instant::now() + Duration::from_secs(5);
                while Instant::now() < deadline {
                    if let Ok(Some(_)) = c.try_wait() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = c.kill();
                let _ = c.wait();
            }
            None => {
                let _ = Command::new(repo_root().join("scripts/ref-libvirtd.sh"))
                    .arg("stop")
                    .arg(&self.dir.0)
                    .status();
            }
        }
    }
}

/// A background process (e.g. a `virsh event --loop` that holds a connection open), killed on drop.
pub struct Background {
    child: Option<Child>,
    out: PathBuf,
}

impl Background {
    /// Spawns `program args`, capturing stdout to a file in `dir`.
    pub fn spawn(program: &Path, args: &[String], dir: &Path, name: &str) -> Self {
        let out = dir.join(format!("{name}.out"));
        let child = Command::new(program)
            .args(args)
            .stdout(std::fs::File::create(&out).expect("bg out"))
            .stderr(std::fs::File::create(dir.join(format!("{name}.err"))).expect("bg err"))
            .spawn()
            .expect("spawn background process");
        Self {
            child: Some(child),
            out,
        }
    }

    /// Stops the process (SIGINT, as a user's Ctrl-C) and returns what it printed.
    pub fn stop(mut self) -> String {
        self.end();
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn end(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on the PID of a child we spawned and have not reaped.
            unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.end();
    }
}

/// Runs a command to completion.
pub fn run(program: &Path, args: &[String]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()))
}

/// Splits a scenario line into words: whitespace-separated, with '…' or "…" quoting.
pub fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_scenario_words() {
        assert_eq!(
            split_words("-c $URI event --domain 'a b' \"c\""),
            vec!["-c", "$URI", "event", "--domain", "a b", "c"]
        );
    }
}
