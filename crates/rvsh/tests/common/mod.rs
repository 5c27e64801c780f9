//! Shared harness of rvsh's integration tests: a reference libvirtd (Debian's, via
//! `scripts/ref-libvirtd.sh`) on a socket directory of our choosing, stopped on drop; client
//! commands with a clean environment; scenario word splitting.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn ref_script() -> PathBuf {
    crate_dir().join("../../scripts/ref-libvirtd.sh")
}

/// A reference libvirtd on `dir`, stopped on drop.
pub struct RefDaemon {
    pub dir: PathBuf,
}

impl RefDaemon {
    pub fn start(dir: &Path) -> Self {
        let out = Command::new(ref_script())
            .arg("start")
            .arg(dir)
            .output()
            .expect("run scripts/ref-libvirtd.sh");
        assert!(
            out.status.success(),
            "reference libvirtd did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let d = Self {
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !d.dir.join("libvirt-sock").exists() {
            assert!(Instant::now() < deadline, "libvirtd socket did not appear");
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    pub fn uri(&self, ro: bool) -> String {
        let s = if ro {
            "libvirt-sock-ro"
        } else {
            "libvirt-sock"
        };
        format!("test+unix:///default?socket={}", self.dir.join(s).display())
    }
}

impl Drop for RefDaemon {
    fn drop(&mut self) {
        let _ = Command::new(ref_script())
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

/// A background client stopped with SIGINT (as by Ctrl-C), its stdout collected.
pub struct Holder {
    pub child: Option<std::process::Child>,
    pub out: PathBuf,
}

impl Holder {
    pub fn stop(mut self) -> String {
        self.end();
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn end(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on the PID of a child we spawned and have not yet reaped.
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

impl Drop for Holder {
    fn drop(&mut self) {
        self.end();
    }
}

/// Splits a scenario line: blanks separate words, `'…'` quotes literally, `"…"` quotes with
/// backslash escapes, and outside single quotes `\n` is a newline and `\X` is X.
pub fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut single = false;
    let mut double = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if single {
            if c == '\'' {
                single = false;
            } else {
                cur.push(c);
            }
            continue;
        }
        match c {
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('n') => cur.push('\n'),
                    Some(x) => cur.push(x),
                    None => cur.push('\\'),
                }
            }
            '"' => {
                double = !double;
                in_word = true;
            }
            '\'' if !double => {
                single = true;
                in_word = true;
            }
            c if c.is_whitespace() && !double => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
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

pub fn client_command(client: &Path, home: &Path) -> Command {
    let mut c = Command::new(client);
    c.env_remove("LIBVIRT_DEFAULT_URI")
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .env("LC_ALL", "C")
        .env("HOME", home)
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_CONFIG_HOME", home.join("config"));
    c
}

pub fn require(cond: bool, what: &str) {
    assert!(
        cond,
        "{what} is required for the differential test: run scripts/install-deps.sh as root"
    );
}

/// Checks that Debian's virsh and libvirtd are installed and we are root.
pub fn require_reference() {
    require(Path::new("/usr/bin/virsh").exists(), "Debian's virsh");
    require(
        Command::new("sh")
            .args(["-c", "command -v libvirtd"])
            .output()
            .is_ok_and(|o| o.status.success()),
        "Debian's libvirtd",
    );
    // SAFETY: geteuid has no preconditions.
    require(
        unsafe { libc::geteuid() } == 0,
        "root (private mounts for libvirtd)",
    );
}

/// A fresh directory for daemon sockets, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "rvsh-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
