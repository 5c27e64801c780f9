//! `virsh console` and `rvsh console` against the real `rvirtd` serving `qemu:///session`, with
//! the test guest under TCG: both clients run on a pseudo-terminal of their own (they refuse to
//! run without one), as a user's shell would run them.
//!
//! One guest, one scenario: refusals on a shut-off domain and without a terminal; live XML with
//! the pty; the boot marker read through `virsh console` (and in the serial log file); a second
//! session refused with libvirt's text; `--force` taking the console over, the first client
//! ending with libvirtd's "stream had I/O failure"; keystrokes reaching the guest's shell; `^]`
//! leaving with the guest still running and the terminal restored; the guest's shutdown ending
//! a session cleanly; `rvsh start --console`; and after `kill -9` of rvirtd, a new daemon that
//! still knows the pty.
//! Expected texts are Debian libvirtd 9.0's, observed with the same guest and clients.
//!
//! Needs the rvirtd and rvsh binaries built in the same target directory (`cargo build -p
//! rvirtd -p rvsh`); `RVIRTD_BIN` and `RVSH_BIN` name others.

mod common;

use common::*;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BOOT_TIMEOUT: Duration = Duration::from_secs(240);
const STEP: Duration = Duration::from_secs(30);
const MARKER: &str = "RVIRT-GUEST-READY";
const BANNER: &str = "Escape character is ^] (Ctrl + ])";

/// A binary next to this test's target directory, or the one `var` names.
fn sibling_bin(name: &str, var: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var) {
        return p.into();
    }
    let exe = std::env::current_exe().unwrap();
    let p = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        p.exists(),
        "{} missing: run cargo build -p {name}",
        p.display()
    );
    p
}

/// rvirtd on a private socket directory and home; on drop it is killed and so is every QEMU it
/// started (found by their pid files, checked against their command lines).
struct Rvirtd {
    dir: PathBuf,
    child: Option<Child>,
}

impl Rvirtd {
    fn start(dir: &Path) -> Rvirtd {
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
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("rvirtd.log"))
            .unwrap();
        let child = Command::new(sibling_bin("rvirtd", "RVIRTD_BIN"))
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

    fn uri(&self) -> String {
        format!(
            "qemu+unix:///session?socket={}",
            self.dir.join("rvirt-sock").display()
        )
    }

    fn virsh_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("virsh");
        c.env("LC_ALL", "C").arg("-c").arg(self.uri()).args(args);
        c
    }

    fn rvsh_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(sibling_bin("rvsh", "RVSH_BIN"));
        c.env("LC_ALL", "C").arg("-c").arg(self.uri()).args(args);
        c
    }

    /// Runs virsh without a terminal: (exit status, stdout, stderr).
    fn run(mut cmd: Command) -> (i32, String, String) {
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn virsh(&self, args: &[&str]) -> String {
        let (rc, out, err) = Self::run(self.virsh_cmd(args));
        assert_eq!(rc, 0, "virsh {args:?}: {err}");
        out
    }

    fn kill9(&mut self) {
        let mut c = self.child.take().unwrap();
        c.kill().unwrap();
        c.wait().unwrap();
        for s in ["rvirt-sock", "rvirt-sock-ro", "rvirt-admin-sock"] {
            let _ = std::fs::remove_file(self.dir.join(s));
        }
    }
}

impl Drop for Rvirtd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
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
                    drop(KillOnDrop::new(pid));
                }
            }
        }
    }
}

/// A program running on a pseudo-terminal of its own (its controlling terminal), with
/// everything it writes collected.
struct Term {
    master: File,
    out: Arc<Mutex<Vec<u8>>>,
    child: Child,
    reader: Option<std::thread::JoinHandle<()>>,
    what: String,
}

impl Term {
    fn spawn(mut cmd: Command) -> Term {
        let what = format!("{cmd:?}");
        let (mut m, mut s) = (0, 0);
        // SAFETY: openpty writes two new descriptors; name, termios and size are optional.
        let r = unsafe {
            libc::openpty(
                &mut m,
                &mut s,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: openpty just returned both descriptors; each gets one owner.
        let (master, slave) = unsafe { (File::from_raw_fd(m), File::from_raw_fd(s)) };
        cmd.stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave);
        // SAFETY: between fork and exec the child only calls setsid and ioctl, which are
        // async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        // The parent's copies of the slave are gone with `cmd`: once the child exits, reading
        // the master fails and the reader stops.
        drop(cmd);
        let out = Arc::new(Mutex::new(Vec::new()));
        let mut rd = master.try_clone().unwrap();
        let sink = out.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = rd.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Term {
            master,
            out,
            child,
            reader: Some(reader),
            what,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    /// Waits until the output contains `needle`; returns all output so far.
    fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        let t0 = Instant::now();
        loop {
            let t = self.text();
            if t.contains(needle) {
                return t;
            }
            assert!(
                t0.elapsed() < timeout,
                "'{needle}' did not appear on the terminal of {} within {timeout:?}; it shows:\n{t}",
                self.what
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
    }

    /// Waits for the program to exit: (exit status, everything it wrote).
    fn exit(mut self, timeout: Duration) -> (i32, String) {
        let t0 = Instant::now();
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            assert!(
                t0.elapsed() < timeout,
                "{} still running after {timeout:?}; it shows:\n{}",
                self.what,
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        (status.code().unwrap_or(-1), self.text())
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
    <serial type='pty'><log file='{}'/><target port='0'/></serial>
    <console type='pty'/>
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
        let s = d.virsh(&["domstate", name]);
        if s.trim() == want {
            return;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "{name}: {s}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The pty path in live XML, checked to appear as libvirtd writes it.
fn live_pty(d: &Rvirtd, name: &str) -> String {
    let xml = d.virsh(&["dumpxml", name]);
    let path = xml
        .split("<source path='")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap_or_else(|| panic!("no source path in live XML:\n{xml}"))
        .to_string();
    assert!(path.starts_with("/dev/pts/"), "{xml}");
    assert!(
        xml.contains(&format!(
            "    <serial type='pty'>\n      <source path='{path}'/>\n"
        )),
        "{xml}"
    );
    assert!(
        xml.contains(&format!(
            "    <console type='pty' tty='{path}'>\n      <source path='{path}'/>\n"
        )),
        "{xml}"
    );
    assert!(xml.contains("<alias name='serial0'/>"), "{xml}");
    let inactive = d.virsh(&["dumpxml", "--inactive", name]);
    assert!(!inactive.contains("/dev/pts/"), "{inactive}");
    path
}

#[test]
fn console_through_virsh_and_rvsh() {
    let Some(_) = qemu_or_skip("console_through_virsh_and_rvsh") else {
        return;
    };
    let guest = test_guest();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut d = Rvirtd::start(dir);
    let xml = dir.join("con.xml");
    std::fs::write(&xml, domain_xml("con", dir, &guest)).unwrap();
    d.virsh(&["define", xml.to_str().unwrap()]);

    // Shut off: virsh's own check comes first (no terminal needed); the API says libvirt's words.
    for cmd in [
        d.virsh_cmd(&["console", "con"]),
        d.rvsh_cmd(&["console", "con"]),
    ] {
        let (rc, _, err) = Rvirtd::run(cmd);
        assert_eq!(rc, 1, "{err}");
        assert!(err.contains("error: The domain is not running\n"), "{err}");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let uri = d.uri();
    let api = |dev: Option<&'static str>, flags: u32| {
        rt.block_on(async {
            let c = rvirt::Connect::open(Some(&uri)).await.unwrap();
            let dom = c.domain_lookup_by_name("con").await.unwrap();
            let r = dom.open_console(dev, flags).await.map(|_| ());
            let _ = c.close().await;
            r.map_err(|e| (e.code, e.domain, e.message))
        })
    };
    assert_eq!(
        api(None, 0),
        Err((
            55,
            20,
            "Requested operation is not valid: domain is not running".into()
        ))
    );
    assert_eq!(
        api(None, 4),
        Err((
            8,
            10,
            "unsupported flags (0x4) in function qemuDomainOpenConsole".into()
        ))
    );

    // Start paused so nothing the guest prints can precede the console.
    d.virsh(&["start", "--paused", "con"]);
    let pty = live_pty(&d, "con");
    assert_eq!(
        api(Some("nope"), 0),
        Err((
            1,
            10,
            "internal error: cannot find character device nope".into()
        ))
    );
    // Without a terminal neither client starts a session.
    for cmd in [
        d.virsh_cmd(&["console", "con"]),
        d.rvsh_cmd(&["console", "con"]),
    ] {
        let (rc, out, err) = Rvirtd::run(cmd);
        assert_eq!(rc, 1, "{err}");
        assert!(
            err.contains("error: Cannot run interactive console without a controlling TTY\n"),
            "{err}"
        );
        assert!(!out.contains("Connected"), "{out}");
    }

    // Debian's virsh reads the boot marker through the console (and the log file has it).
    let mut first = Term::spawn(d.virsh_cmd(&["console", "con"]));
    let shown = first.wait_for(BANNER, STEP);
    assert!(shown.contains("Connected to domain 'con'\r\n"), "{shown}");
    // A second session is refused, with libvirt's text, after virsh's banner.
    let (rc, shown) = Term::spawn(d.rvsh_cmd(&["console", "con"])).exit(STEP);
    assert_eq!(rc, 1, "{shown}");
    assert!(
        shown.contains(&format!(
            "Connected to domain 'con'\r\n{BANNER}\r\n\
             error: operation failed: Active console session exists for this domain\r\n"
        )),
        "{shown}"
    );
    let (rc, shown) = Term::spawn(d.virsh_cmd(&["console", "con"])).exit(STEP);
    assert_eq!(rc, 1, "{shown}");
    assert!(
        shown.contains("error: operation failed: Active console session exists for this domain"),
        "{shown}"
    );
    d.virsh(&["resume", "con"]);
    first.wait_for(MARKER, BOOT_TIMEOUT);
    wait_for_line(&dir.join("con.serial"), MARKER, STEP);
    // Keystrokes reach the guest's shell.
    first.wait_for("/ # ", STEP);
    first.send(b"echo virsh-$((6*7))\r");
    first.wait_for("virsh-42", STEP);

    // rvsh --force takes over: virsh's session ends as libvirtd ends it. rvsh runs inside a
    // shell that records the terminal settings before and after.
    let rvsh = sibling_bin("rvsh", "RVSH_BIN");
    let mut sh = Command::new("sh");
    sh.env("LC_ALL", "C").arg("-c").arg(format!(
        "stty -g; '{}' -c '{}' console --force con; echo rc=$?; stty -g",
        rvsh.display(),
        d.uri()
    ));
    let mut second = Term::spawn(sh);
    second.wait_for(BANNER, STEP);
    let (rc, shown) = first.exit(STEP);
    assert_eq!(rc, 1, "{shown}");
    assert!(
        shown.contains("error: stream had I/O failure\r\n"),
        "{shown}"
    );
    second.send(b"\recho rvsh-$((6*7))\r");
    second.wait_for("rvsh-42", STEP);
    // ^] leaves; the guest keeps running and the terminal is as it was.
    second.send(b"\x1d");
    let (rc, shown) = second.exit(STEP);
    assert_eq!(rc, 0, "{shown}");
    assert!(shown.contains("rc=0"), "{shown}");
    let settings: Vec<&str> = shown
        .lines()
        .map(str::trim)
        .filter(|l| l.split(':').count() > 30)
        .collect();
    assert_eq!(settings.len(), 2, "{shown}");
    assert_eq!(settings[0], settings[1], "terminal not restored");
    assert_eq!(d.virsh(&["domstate", "con"]).trim(), "running");

    // The guest shutting down ends a session cleanly: virsh exits 0 and says nothing more.
    let third = Term::spawn(d.virsh_cmd(&["console", "con"]));
    third.wait_for(BANNER, STEP);
    d.virsh(&["shutdown", "con"]);
    let (rc, shown) = third.exit(Duration::from_secs(120));
    assert_eq!(rc, 0, "{shown}");
    assert!(shown.contains("RVIRT-GUEST-POWEROFF"), "{shown}");
    assert!(!shown.contains("error"), "{shown}");
    wait_state(&d, "con", "shut off");
    // The session's UUCP lock file goes with it.
    let lock = PathBuf::from(format!("/var/lock/LCK..{}", pty[4..].replace('/', "_")));
    let t0 = Instant::now();
    while lock.exists() {
        assert!(t0.elapsed() < STEP, "{} left behind", lock.display());
        std::thread::sleep(Duration::from_millis(50));
    }

    // A restarted rvirtd (kill -9) knows the pty from the status file: live XML and console.
    // (`rvsh start --console` attaches right after the start, as virsh's does.)
    let mut boot = Term::spawn(d.rvsh_cmd(&["start", "--paused", "--console", "con"]));
    boot.wait_for(BANNER, STEP);
    d.virsh(&["resume", "con"]);
    let shown = boot.wait_for(MARKER, BOOT_TIMEOUT);
    assert!(
        shown.contains(&format!(
            "Domain 'con' started\r\nConnected to domain 'con'\r\n{BANNER}\r\n"
        )),
        "{shown}"
    );
    boot.send(b"\x1d");
    let (rc, shown) = boot.exit(STEP);
    assert_eq!(rc, 0, "{shown}");
    wait_for_line(&dir.join("con.serial"), "/ # ", BOOT_TIMEOUT);
    let pty = live_pty(&d, "con");
    d.kill9();
    let d = Rvirtd::start(dir);
    assert_eq!(live_pty(&d, "con"), pty);
    let mut fourth = Term::spawn(d.rvsh_cmd(&["console", "con"]));
    fourth.wait_for(BANNER, STEP);
    fourth.send(b"\recho again-$((6*7))\r");
    fourth.wait_for("again-42", STEP);
    // Destroying the guest ends the session cleanly too.
    d.virsh(&["destroy", "con"]);
    let (rc, shown) = fourth.exit(STEP);
    assert_eq!(rc, 0, "{shown}");
    assert!(!shown.contains("error"), "{shown}");
    d.virsh(&["undefine", "con"]);
}
